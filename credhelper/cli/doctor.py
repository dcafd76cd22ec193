"""``ecrpy doctor``: every piece the helper depends on, each OK / WARN / FAIL with the fix."""

from __future__ import annotations

import argparse
import os
import shutil


class Check:
    """One line of the report."""

    def __init__(self, status: str, name: str, detail: str, fix: str | None = None) -> None:
        self.status, self.name, self.detail, self.fix = status, name, detail, fix

    def line(self) -> str:
        text = f"{self.status:<4} {self.name}: {self.detail}"
        return f"{text}\n     fix: {self.fix}" if self.fix else text


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``doctor`` command."""
    p = sub.add_parser("doctor", help="check docker config, PATH, identity, cache and endpoints")
    p.add_argument("--offline", action="store_true", help="skip checks that call AWS")
    p.set_defaults(func=run)


def _docker_config() -> tuple[list[Check], list[str]]:
    from .. import docker_config
    from ..errors import ConfigError

    path = docker_config.config_path()
    try:
        data = docker_config.read(path)
    except ConfigError as exc:
        return [Check("FAIL", "docker config", exc.message, exc.hint)], []
    helpers = data.get("credHelpers") or {}
    hosts = [h for h, v in helpers.items() if v == "ecrpy"] if isinstance(helpers, dict) else []
    store = data.get("credsStore") == "ecrpy"
    if not hosts and not store:
        return [
            Check(
                "WARN",
                "docker config",
                f"{path} does not use ecrpy",
                "run: ecrpy configure <registry> (or --default)",
            )
        ], []
    detail = f"{path}: credHelpers for {len(hosts)} registr{'y' if len(hosts) == 1 else 'ies'}"
    return [Check("OK", "docker config", detail + (", credsStore=ecrpy" if store else ""))], hosts


def _path() -> Check:
    found = shutil.which("docker-credential-ecrpy")
    if found is None:
        return Check(
            "FAIL",
            "PATH",
            "docker-credential-ecrpy is not on PATH",
            "install with pipx, or add the venv's bin folder to PATH",
        )
    return Check("OK", "PATH", found)


def _cache_dir() -> Check:
    from .. import paths
    from ..fsutil import InsecureDirectoryError, check_private_dir

    folder = paths.cache_dir()
    if not os.path.exists(folder):
        return Check("OK", "cache dir", f"{folder} (created on first use)")
    try:
        check_private_dir(folder)
    except InsecureDirectoryError as exc:
        return Check(
            "FAIL",
            "cache dir",
            f"{exc}: caching is disabled",
            f"chmod 700 {folder} (and make sure you own it)",
        )
    except OSError as exc:
        return Check("FAIL", "cache dir", f"{folder}: {exc.strerror or exc}")
    return Check("OK", "cache dir", f"{folder} (private)")


def _log() -> Check:
    from .. import logs

    path = logs.log_path()
    folder = os.path.dirname(path)
    if os.path.isdir(folder) and not os.access(folder, os.W_OK):
        return Check("WARN", "log", f"{folder} is not writable; nothing will be logged")
    return Check("OK", "log", path)


def _keyring() -> Check:
    from .. import credential_store
    from ..errors import KeyringUnavailableError

    try:
        kr = credential_store.backend()
    except KeyringUnavailableError as exc:
        return Check("WARN", "keyring", exc.message + " (only needed for non-ECR registries)")
    return Check("OK", "keyring", type(kr).__module__ + "." + type(kr).__name__)


def run(args: argparse.Namespace) -> int:
    """Print the checks; exit 1 when any failed."""
    from .. import config as config_mod
    from .. import identity
    from ..errors import EcrpyError

    checks: list[Check] = []
    docker_checks, hosts = _docker_config()
    checks += docker_checks
    checks.append(_path())
    try:
        config = config_mod.load()
        checks.append(Check("OK", "ecrpy config", config.source or "none (defaults)"))
    except EcrpyError as exc:
        checks.append(Check("FAIL", "ecrpy config", exc.message, exc.hint))
        config = config_mod.Config()
    try:
        described = identity.describe()
        checks.append(Check("OK", "identity source", described["chain"]))
        if described.get("overrides"):
            note, _, fix = described["overrides"].partition(" (")
            checks.append(Check("WARN", "identity source", note, fix.rstrip(")")))
        region = described.get("region")
        if region:
            checks.append(Check("OK", "region", region))
        else:
            checks.append(
                Check(
                    "WARN",
                    "region",
                    "no default AWS region (only registries that name one will work)",
                    "set AWS_REGION, or region in the AWS profile",
                )
            )
    except EcrpyError as exc:
        checks.append(Check("FAIL", "identity source", exc.message, exc.hint))
    checks.append(_cache_dir())
    checks.append(_log())
    checks.append(_keyring())
    if not args.offline:
        checks += _network_checks(hosts, config)
    for check in checks:
        print(check.line())
    return 1 if any(c.status == "FAIL" for c in checks) else 0


def _network_checks(hosts: list[str], config: object) -> list[Check]:
    from .. import registry as registry_mod
    from .. import tokens
    from ..cli.whoami import caller_arn
    from ..config import Config
    from ..errors import EcrpyError

    assert isinstance(config, Config)
    out = []
    try:
        out.append(Check("OK", "caller", caller_arn(None, None, None)))
    except EcrpyError as exc:
        out.append(Check("FAIL", "caller", exc.message, exc.hint))
    for host in hosts[:5]:
        reg = registry_mod.resolve(host, config)
        if reg is None:
            out.append(Check("WARN", host, "not an ECR registry or alias; ecrpy will not serve it"))
            continue
        settings = config.for_host(reg.host)
        try:
            entry = tokens.fetch(
                reg, settings.profile if settings else None, settings.role_arn if settings else None
            )
            hours = (entry.valid_until - entry.requested_at) / 3600
            out.append(Check("OK", host, f"token issued, valid {hours:.1f} h"))
        except EcrpyError as exc:
            out.append(Check("FAIL", host, exc.message, exc.hint))
    return out
