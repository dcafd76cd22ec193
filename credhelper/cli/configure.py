"""``ecrpy configure [REGISTRY…] [--default [--force]] [--remove]``: point docker at
docker-credential-ecrpy, or take it back."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from typing import Any

from .. import registry as registry_mod
from ..errors import UsageError

SCHEMA = "ecrpy.configure/1"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``configure`` command."""
    p = sub.add_parser(
        "configure",
        help="add (or --remove) ecrpy's credHelpers/credsStore entries in docker's config.json",
        description="Add `credHelpers` entries for ECR registries (or configured aliases) to "
        "$DOCKER_CONFIG/config.json, or make ecrpy the default `credsStore` with --default "
        "(never replacing another credsStore without --force). --remove undoes it: only entries "
        "whose value is ecrpy are removed, and a credsStore that --force replaced is put back. "
        "Idempotent and atomic; every other key is kept and "
        "the old file saved as config.json.bak.",
    )
    p.add_argument(
        "registries",
        nargs="*",
        metavar="REGISTRY",
        help="ECR host or alias (default: your account's registry in your AWS region; "
        "with --remove: every ecrpy entry)",
    )
    p.add_argument("--default", action="store_true", help="set (or --remove) credsStore=ecrpy")
    p.add_argument(
        "--force",
        action="store_true",
        help="with --default: replace another credsStore (desktop, osxkeychain, pass...)",
    )
    p.add_argument("--remove", action="store_true", help="remove ecrpy's entries instead")
    p.add_argument("--docker-config", metavar="DIR", help="docker config dir (default: ~/.docker)")
    p.add_argument("--dry-run", action="store_true", help="show what would change")
    p.add_argument("--json", action="store_true", help=f"one JSON document (schema {SCHEMA})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Edit docker's config.json and report what changed."""
    from ..report_json import document
    from .output import emit

    # Failures go to cli.main's boundary, which prints ecrpy.error/1 under --json.
    if args.force and (args.remove or not args.default):
        raise UsageError("--force only applies to configure --default (without --remove)")
    report = _remove(args) if args.remove else _add(args)
    if args.json:
        emit([document(SCHEMA, **report.doc())])
    else:
        emit(report.lines)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


class _Report:
    """What configure did, as lines and as the JSON document."""

    def __init__(self, action: str, change: Any, dry_run: bool) -> None:
        self.action, self.change, self.dry_run = action, change, dry_run
        self.lines: list[str] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []

    def doc(self) -> dict[str, Any]:
        c = self.change
        from ..report_json import utc_iso

        return {
            "generated_at": utc_iso(time.time()),
            "action": self.action,
            "dry_run": self.dry_run,
            "docker_config": c.path,
            "changed": c.added if self.action == "add" else c.removed,
            "unchanged": c.unchanged,
            "replaced": c.replaced,
            "left_alone": c.kept,
            "restored": c.restored,
            "backup": c.backup,
            "notes": self.notes,
            "warnings": self.warnings,
        }


def _add(args: argparse.Namespace) -> _Report:
    from .. import config as config_mod
    from .. import diagnostics, docker_config, paths

    config = config_mod.load()
    hosts: list[str] = []
    names = list(args.registries)
    notes = []
    if not names and not args.default:
        names = [_own_registry()]
        notes.append(f"no registry named: using your own account's, {names[0]}")
    for name in names:
        host = registry_mod.normalize(name)
        if host is None or registry_mod.resolve(host, config) is None:
            raise UsageError(
                f"{name!r} is neither an ECR registry nor an alias in {paths.config_file()}",
                hint='add [registries."HOST"] account_id/region to the ecrpy config for an alias',
            )
        _check_region(name, registry_mod.resolve(host, config))
        hosts.append(host)
    if args.default:
        _require_keyring(diagnostics)
    change = docker_config.configure(
        hosts, args.default, args.docker_config, args.dry_run, force=args.force
    )
    report = _Report("add", change, args.dry_run)
    report.notes = notes
    report.warnings += change.warnings
    if args.json:
        for note in notes:
            print(note, file=sys.stderr)
    else:
        report.lines += notes
    verb = "would add" if args.dry_run else "added"
    for item in change.added:
        was = change.replaced.get(item)
        if was is not None:
            report.lines.append(
                f"{'would replace' if args.dry_run else 'replaced'}: {item} {was} -> ecrpy"
            )
        else:
            report.lines.append(f"{verb}: {item} -> ecrpy")
    for item in change.unchanged:
        report.lines.append(f"already set: {item} -> ecrpy")
    _tail(report, change)
    if shutil.which("docker-credential-ecrpy") is None:
        report.warnings.append(
            "docker-credential-ecrpy is not on PATH; docker will not find it "
            "(install with pipx, or add the venv's bin folder to PATH)"
        )
    return report


def _require_keyring(diagnostics: Any) -> None:
    """credsStore=ecrpy keeps non-ECR logins in the OS keyring: refuse without a working one."""
    from ..errors import KeyringUnavailableError

    try:
        diagnostics.keyring_backend()
    except KeyringUnavailableError as exc:
        raise KeyringUnavailableError(
            f"cannot make ecrpy docker's credsStore: {exc.message}",
            hint=f"{exc.hint} (for ECR only: ecrpy configure REGISTRY)",
        ) from None


def _remove(args: argparse.Namespace) -> _Report:
    from .. import docker_config

    change = docker_config.remove(
        list(args.registries), args.default, args.docker_config, args.dry_run
    )
    report = _Report("remove", change, args.dry_run)
    report.warnings += change.warnings
    verb = "would remove" if args.dry_run else "removed"
    for item in change.removed:
        was = change.restored.get(item)
        if was is not None:
            restore = "would restore" if args.dry_run else "restored"
            report.lines.append(f"{restore}: {item} -> {was}")
        else:
            report.lines.append(f"{verb}: {item} -> ecrpy")
    for item, why in change.kept.items():
        report.lines.append(f"left alone: {item} ({why})")
    if not change.removed:
        report.lines.append("nothing to remove: no ecrpy entries")
    _tail(report, change)
    return report


def _tail(report: _Report, change: Any) -> None:
    if change.backup:
        report.lines.append(f"backup: {change.backup}")
    report.lines.append(f"docker config: {change.path}")


def _check_region(name: str, reg: registry_mod.Registry | None) -> None:
    """A well-formed but unknown region (``us-eats-1``) is a typo, not a registry: say so."""
    if reg is None or reg.public or reg.alias:
        return
    import botocore.session

    known = botocore.session.get_session().get_available_regions("ecr", reg.partition)
    if not known or reg.region in known:
        return
    import difflib

    close = difflib.get_close_matches(reg.region, known, n=1)
    guess = f"; did you mean {close[0]}?" if close else ""
    raise UsageError(
        f"{name!r} names region {reg.region!r}, where ECR does not exist{guess}",
        hint="fix the host name; if the region is brand new, upgrade ecrpy and botocore",
    )


def _own_registry() -> str:
    """The caller's own private registry: account from sts:GetCallerIdentity, region from the
    AWS config (AWS_REGION / AWS_DEFAULT_REGION / the profile's region)."""
    from .. import registry as registry_mod
    from ..sts_caller import caller

    me = caller(require_region=True)
    return registry_mod.host_for(me.account, str(me.region))
