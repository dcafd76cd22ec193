"""``ecrpy doctor``: every piece the helper depends on, each OK / WARN / FAIL with the fix.

The checks themselves are ``credhelper.diagnostics``; this module parses the arguments and
prints the report (lines, or ``--json``).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

SCHEMA = "ecrpy.doctor/1"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``doctor`` command."""
    p = sub.add_parser(
        "doctor",
        help="check docker config, PATH, engine, identity, cache and registries",
        description="Check every piece ecrpy depends on: docker's config.json, the "
        "docker-credential-ecrpy docker will run, the docker engine, ecrpy's config and "
        "per-registry identities, the AWS identity, cache, log and keyring, and (unless "
        "--offline) each configured registry's /v2/ and an ECR token. Each line is OK, WARN, "
        "FAIL or SKIP; each fix is printed once. Exit 0 unless something FAILs.",
    )
    p.add_argument(
        "--offline", action="store_true", help="skip checks that use the network (AWS, registries)"
    )
    p.add_argument("--json", action="store_true", help=f"one JSON document (schema {SCHEMA})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the checks, print them; 1 when any FAILed."""
    from .. import __version__, diagnostics
    from ..report_json import document, utc_iso
    from .output import emit

    checks = diagnostics.run_all(offline=args.offline)
    code = 1 if diagnostics.failed(checks) else 0
    if args.json:
        doc: dict[str, Any] = {
            "generated_at": utc_iso(time.time()),
            "ecrpy_version": __version__,
            "offline": bool(args.offline),
            "ok": code == 0,
            "checks": [c.as_dict() for c in checks],
            "fixes": diagnostics.unique_fixes(checks),
        }
        emit([document(SCHEMA, **doc)])
    else:
        emit(_lines(checks))
    return code


def _lines(checks: list[Any]) -> list[str]:
    """The report: one line per check, its fix under it, each fix only the first time."""
    out: list[str] = []
    shown: set[str] = set()
    for check in checks:
        out.append(f"{check.status:<4} {check.name}: {check.detail}")
        if check.fix and check.fix not in shown:
            shown.add(check.fix)
            out.append(f"     fix: {check.fix}")
    return out
