"""``ecrpy doctor``: every piece the helper depends on, each OK / WARN / FAIL with the fix.

The checks themselves are ``credhelper.diagnostics``; this module parses the arguments and
prints the report (lines, or ``--json``).
"""

from __future__ import annotations

import argparse
import sys
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

    checks = diagnostics.run_all(offline=args.offline)
    code = 1 if diagnostics.failed(checks) else 0
    if args.json:
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "generated_at": _utc_now(),
            "ecrpy_version": __version__,
            "offline": bool(args.offline),
            "ok": code == 0,
            "checks": [c.as_dict() for c in checks],
            "fixes": diagnostics.unique_fixes(checks),
        }
        _emit([_json_text(doc)])
    else:
        _emit(_lines(checks))
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


# Local output helpers; cli-conv's shared --json/output module replaces them when merged.
def _utc_now() -> str:
    """ISO-8601 UTC, second precision, ``Z`` suffix."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _json_text(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, indent=2)


def _emit(lines: list[str]) -> None:
    """Print ``lines``; a reader that went away (``doctor | head -1``) ends the output quietly
    instead of raising BrokenPipeError (now or when the interpreter flushes at exit)."""
    import os

    try:
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
