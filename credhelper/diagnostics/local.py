"""Doctor checks of ecrpy's own setup on this machine: its config file, the identity each
configured registry resolves to, the default identity and region, the cache folder, the log
and the OS keyring. Offline; each returns ``Check`` lines and never raises."""

from __future__ import annotations

import os
from typing import Any

from ..errors import EcrpyError, KeyringUnavailableError
from .check import FAIL, OK, WARN, Check

_PROBE_USER = "ecrpy-doctor-probe"  # read, never written: asking proves the keyring answers


# -- keyring -------------------------------------------------------------------------------------


def keyring_backend() -> str:
    """The name of a keyring backend that answers; ``KeyringUnavailableError`` otherwise.

    ``fail``/``null`` backends are refused by ``credential_store.backend``; a backend that
    exists but errors when asked (a locked or broken store) is refused here, by reading an
    entry nobody writes.
    """
    from .. import credential_store

    try:
        kr = credential_store.backend()
    except KeyringUnavailableError as exc:
        import keyring

        chosen = keyring.get_keyring()
        name = f"{type(chosen).__module__}.{type(chosen).__name__}"
        raise KeyringUnavailableError(f"{exc.message} ({name})", hint=exc.hint) from None
    name = f"{type(kr).__module__}.{type(kr).__name__}"
    try:
        kr.get_password(credential_store.SERVICE, _PROBE_USER)
    except Exception as exc:  # backends raise their own types; their text is not shown
        raise KeyringUnavailableError(
            f"the OS keyring ({name}) does not answer ({type(exc).__name__})",
            hint="unlock the keyring, or set PYTHON_KEYRING_BACKEND to a working backend",
        ) from None
    return name


def keyring_check() -> tuple[Check, KeyringUnavailableError | None]:
    try:
        name = keyring_backend()
    except KeyringUnavailableError as exc:
        note = " (needed only for non-ECR registries, with credsStore=ecrpy)"
        return Check(WARN, "keyring", exc.message + note, exc.hint), exc
    return Check(OK, "keyring", name), None


# -- ecrpy's config and per-registry identities ----------------------------------------------------


def ecrpy_config_checks() -> tuple[list[Check], Any]:
    from .. import config as config_mod
    from .. import paths

    checks: list[Check] = []
    named = os.environ.get("ECRPY_CONFIG")
    if named and not os.path.exists(named):
        checks.append(
            Check(
                WARN,
                "ecrpy config",
                f"ECRPY_CONFIG={named} does not exist, so ecrpy runs with its defaults "
                "(no aliases, no per-registry profiles)",
                "create that file, or fix or unset ECRPY_CONFIG",
            )
        )
        return checks, config_mod.Config()
    try:
        config = config_mod.load()
    except EcrpyError as exc:
        checks.append(Check(FAIL, "ecrpy config", exc.message, exc.hint))
        return checks, config_mod.Config()
    source = config.source or f"none at {paths.config_file()} (defaults)"
    checks.append(Check(OK, "ecrpy config", source))
    return checks, config


def registry_identities(config: Any) -> list[Check]:
    """Each registry with its own ``profile``/``role_arn`` resolves to an identity."""
    from .. import identity, paths

    checks = []
    for host, settings in sorted(config.registries.items()):
        if not settings.profile and not settings.role_arn:
            continue
        try:
            chain = identity.describe(settings.profile, settings.role_arn)["chain"]
        except EcrpyError as exc:
            where = config.source or paths.config_file()
            fix = exc.hint or "fix the AWS config"
            checks.append(
                Check(
                    FAIL,
                    f"identity for {host}",
                    exc.message,
                    f'{fix} (or change [registries."{host}"] in {where})',
                )
            )
            continue
        checks.append(Check(OK, f"identity for {host}", chain))
    return checks


def identity_checks() -> list[Check]:
    from .. import identity

    try:
        described = identity.describe()
    except EcrpyError as exc:
        return [Check(FAIL, "identity source", exc.message, exc.hint)]
    checks = [Check(OK, "identity source", described["chain"])]
    if described.get("overrides"):
        note, _, fix = described["overrides"].partition(" (")
        checks.append(Check(WARN, "identity source", note, fix.rstrip(")")))
    region = described.get("region")
    if region:
        checks.append(Check(OK, "region", region))
    else:
        checks.append(
            Check(
                WARN,
                "region",
                "no default AWS region (only registries that name one will work)",
                "set AWS_REGION, or region in the AWS profile",
            )
        )
    return checks


# -- local files ---------------------------------------------------------------------------------


def cache_dir_check() -> Check:
    from .. import paths
    from ..fsutil import InsecureDirectoryError, check_private_dir

    folder = paths.cache_dir()
    if not os.path.exists(folder):
        return Check(OK, "cache dir", f"{folder} (created on first use)")
    try:
        check_private_dir(folder)
    except InsecureDirectoryError as exc:
        return Check(
            FAIL,
            "cache dir",
            f"{exc}: caching is disabled",
            f"chmod 700 {folder} (and make sure you own it)",
        )
    except OSError as exc:
        return Check(FAIL, "cache dir", f"{folder}: {exc.strerror or type(exc).__name__}")
    from ..token_cache.file import FileTokenCache
    from ..wording import plural

    tokens = FileTokenCache(folder)
    unreadable = len(tokens.keys()) - len(tokens.entries())
    if unreadable > 0:
        return Check(
            WARN,
            "cache dir",
            f"{folder} (private); ignoring {plural(unreadable, 'token entry', 'token entries')}"
            " that could not be read (damaged or not private; details in the log)",
            "ecrpy cache clear",
        )
    return Check(OK, "cache dir", f"{folder} (private)")


def log_check() -> Check:
    from .. import logs

    path = logs.log_path()
    folder = os.path.dirname(path)
    if os.path.isdir(folder) and not os.access(folder, os.W_OK):
        return Check(WARN, "log", f"{folder} is not writable; nothing will be logged")
    return Check(OK, "log", path)
