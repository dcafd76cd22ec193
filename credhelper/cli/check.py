"""``ecrpy check push|pull IMAGE``: allowed, denied, or undetermined — and why.

The work is ``credhelper.preflight`` (sources, verdict rules, the ``--json`` document
``ecrpy.check/1`` in docs/check-json-schema.md); this module is the command line only.

Exit status: 0 allowed, 3 denied or refused, 4 undetermined, 5 repository missing, 1 error,
2 usage.
"""

from __future__ import annotations

import argparse
import sys

from ..preflight.result import METHODS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``check`` command."""
    p = sub.add_parser(
        "check",
        help="will a push/pull of IMAGE be allowed? (exit 0 allowed, 3 denied/refused, "
        "4 undetermined, 5 repository missing)",
        description="Check before a docker push/pull whether the active AWS identity is "
        "allowed each required ECR action, from side-effect-free probes, IAM's simulator "
        "and a local evaluation of the readable policies. Exit 0 allowed, 3 denied or "
        "refused (immutable tag taken, tag missing), 4 undetermined, 5 repository missing, "
        "1 error, 2 usage.",
    )
    p.add_argument("operation", choices=("push", "pull"), help="the docker operation")
    p.add_argument("image", metavar="IMAGE", help="REGISTRY/REPOSITORY[:TAG|@DIGEST]")
    p.add_argument("--json", action="store_true", help="print the documented JSON document")
    p.add_argument(
        "--method",
        choices=METHODS,
        default="auto",
        help="which source(s) to use (default: auto = all)",
    )
    p.add_argument(
        "--create-repo",
        action="store_true",
        help="the push may create a missing repository (needs ecr:CreateRepository)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the result of ``run_check``; return its exit code."""
    from ..preflight import run_check
    from ..progress import StatusLine

    with StatusLine(sys.stderr, f"checking {args.operation} {args.image}"):
        result = run_check(
            args.image, args.operation, method=args.method, create_repo=args.create_repo
        )
    print(result.to_json() if args.json else result.render())
    return result.exit_code
