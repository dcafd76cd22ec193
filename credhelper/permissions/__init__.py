"""A pure model of AWS IAM policy evaluation, used by ``ecrpy check`` and ``ecrpy policy``.

The public entry points live in :mod:`credhelper.permissions.evaluate` (``Request``,
``PolicySet``, ``evaluate``) and :mod:`credhelper.permissions.policy` (``parse_policy``).
Nothing is imported here: the credential helper's hot path never loads this package.
"""
