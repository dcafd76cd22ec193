"""The checks behind ``ecrpy doctor``: every piece ecrpy depends on, each OK / WARN / FAIL
(or SKIP with ``--offline``) with the fix.

A check never raises: whatever goes wrong becomes a line naming the cause in words (never a
Python repr, never an exception's text that could quote a secret). Statuses: FAIL means docker
or the helper will not work as configured; WARN means something a user should know that does
not break the configured use; SKIP means not checked (``--offline``).

Rooms: ``check`` (the ``Check`` line, statuses, ``failed``/``unique_fixes``), ``docker_setup``
(docker's config.json, the helper on PATH, the engine), ``local`` (ecrpy's config, identities,
cache folder, log, keyring), ``network`` (registries' ``/v2/``, the caller, tokens). This
module owns only the report order (``run_all``).
"""

from __future__ import annotations

from . import docker_setup, local, network
from .check import FAIL, OK, SKIP, WARN, Check, failed, unique_fixes
from .local import keyring_backend

__all__ = [
    "FAIL",
    "OK",
    "SKIP",
    "WARN",
    "Check",
    "failed",
    "keyring_backend",
    "run_all",
    "unique_fixes",
]


def run_all(offline: bool = False) -> list[Check]:
    """Every check, in report order."""
    keyring_line, keyring_problem = local.keyring_check()
    checks, hosts, store_is_ours = docker_setup.docker_config_checks(keyring_problem)
    checks.append(docker_setup.helper_on_path())
    checks.append(docker_setup.engine_check(offline))
    config_checks, config = local.ecrpy_config_checks()
    checks += config_checks
    checks += local.registry_identities(config)
    checks += local.identity_checks()
    checks.append(local.cache_dir_check())
    checks.append(local.log_check())
    checks.append(keyring_line)
    if store_is_ours:  # credsStore=ecrpy serves every alias too
        hosts += [
            h for h in sorted(config.registries) if h not in hosts and config.registries[h].is_alias
        ]
    if offline:
        checks.append(Check(SKIP, "network", "AWS and registry checks not run (--offline)"))
    else:
        checks += network.network_checks(hosts, config)
    return checks
