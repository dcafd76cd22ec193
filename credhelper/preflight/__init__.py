"""The permission pre-flight: will a push/pull of IMAGE be allowed, denied or undetermined,
and why.

Sources, per required action (see ``permissions.actions``): side-effect-free **probes**
(``permissions.probe``), AWS's **simulator** (``permissions.simulate``) and a **local
evaluation** of the policies the caller can read (``permissions.gather`` +
``permissions.evaluate``), combined by ``permissions.verdict``. The repository is checked too.

Rooms: ``orchestrate`` (run_check: what runs when), ``request`` (what was asked, the superset
of actions), ``decide`` (from evidence to verdict), ``repository_outcome`` (missing, refused,
create-on-push, pull-through), ``registry_policy`` (the registry policy in a cache pull),
``local_evaluation`` (the evaluator as evidence), ``result`` (the typed ``CheckResult`` and its
``--json`` document), ``render`` (the human report). ``ecrpy check`` (``cli/check.py``) and
``ecrpy push/pull`` (``transfer``) use it::

    from credhelper.preflight import run_check
    result = run_check("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0", "push")
    result.verdict, result.exit_code, result.to_json(), result.render()
"""

from __future__ import annotations

from .orchestrate import run_check
from .result import EXIT_CODES, METHODS, SCHEMA, CheckResult

__all__ = ["EXIT_CODES", "METHODS", "SCHEMA", "CheckResult", "run_check"]
