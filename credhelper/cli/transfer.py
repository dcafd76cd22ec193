"""``ecrpy push IMAGE`` / ``ecrpy pull IMAGE``: docker push/pull with in-process ECR auth and
the permission pre-flight first (see ``credhelper.transfer`` for the steps and Ctrl-C).

Exit status: 0 done, 1 error (engine, AWS, credentials), 2 usage (bad IMAGE, not an ECR
registry), 3 refused before any transfer (pre-flight denied, missing repository, existing tag
in an IMMUTABLE repository, missing tag/digest on pull), 4 undetermined with ``--strict``,
6 pushed but ``--fail-on``'s threshold was reached by the scan's findings, 7 pushed but the scan
gave no findings (failed, unsupported, timed out, could not be started or read),
130 interrupted. ``--json`` prints one object at the end (docs/transfer-json-schema.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

# Not image_scan's DEFAULT_TIMEOUT (the same value, tests/test_cli_conventions.py): importing
# image_scan and its findings rules costs every push ~5 ms, and only --scan needs them.
from ..transfer_result import Options

if TYPE_CHECKING:
    from ..transfer import TransferResult


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE", help="REGISTRY/REPOSITORY[:TAG|@DIGEST] "
                   "(default tag: latest); REGISTRY is ECR or an alias in ecrpy's config")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="skip the permission pre-flight (ecrpy check)")
    p.add_argument("--strict", action="store_true",
                   help="stop (exit 4) when the pre-flight is undetermined")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress; print only the image reference with its digest")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object at the end (progress goes to stderr)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``push`` and ``pull`` commands."""
    push = sub.add_parser(
        "push",
        help="docker push to ECR with in-process auth and a permission pre-flight",
        description="Push IMAGE from the docker engine to ECR. The permission pre-flight "
        "runs first: denied stops before any byte is sent (exit 3). Exit 0 done, 1 error, "
        "2 usage, 3 refused, 4 undetermined with --strict, 6 pushed but the scan found "
        "findings at or above --fail-on, 7 pushed but the scan gave no findings, "
        "130 interrupted.",
    )
    _common(push)
    push.add_argument("--create-repo", action="store_true",
                      help="create the repository if it does not exist")
    push.add_argument("--immutable", action="store_true",
                      help="with --create-repo: make tags IMMUTABLE")
    push.add_argument("--scan-on-push", action="store_true",
                      help="with --create-repo: turn on scan on push")
    push.add_argument("--kms-key", metavar="KEY",
                      help="with --create-repo: encrypt with this KMS key (ARN, id or alias)")
    push.add_argument("--scan", action="store_true",
                      help="after the push, wait for the vulnerability scan of the pushed "
                      "digest (starting one if scan on push is off) and print its severity "
                      "counts; exit 7 when no findings could be had")
    push.add_argument("--scan-timeout", metavar="SECONDS", type=_seconds, default=None,
                      help="with --scan: how long to wait for the scan (default "
                      f"{_DEFAULT_SCAN_TIMEOUT:g}); a timeout exits 7")
    push.add_argument("--fail-on", metavar="SEVERITY", type=_severity,
                      help="implies --scan: exit 6 when there are findings of SEVERITY or "
                      "worse (CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED)")
    push.set_defaults(func=run, operation="push")

    pull = sub.add_parser(
        "pull",
        help="docker pull from ECR with in-process auth and a permission pre-flight",
        description="Pull IMAGE from ECR into the docker engine. The permission pre-flight "
        "runs first (exit 3 when denied); a missing tag lists the nearest tags. Exit 0 done, "
        "1 error, 2 usage, 3 refused, 4 undetermined with --strict, 130 interrupted.",
    )
    _common(pull)
    pull.set_defaults(func=run, operation="pull", create_repo=False, immutable=False,
                      scan_on_push=False, kms_key=None, scan=False, scan_timeout=None,
                      fail_on=None)


_DEFAULT_SCAN_TIMEOUT = Options.scan_timeout
EXIT_FINDINGS = 6
EXIT_NO_SCAN = 7


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _severity(text: str) -> str:
    from ..image_scan import parse_severity

    try:
        return parse_severity(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Run the transfer; print progress, then the summary or the JSON document."""
    from ..errors import UsageError
    from ..transfer import run as run_transfer

    if args.strict and not args.check:
        raise UsageError("--strict needs the pre-flight; drop --no-check or --strict")
    if not args.create_repo and (args.immutable or args.scan_on_push or args.kms_key):
        raise UsageError("--immutable, --scan-on-push and --kms-key only apply with "
                         "--create-repo")
    scan = bool(args.scan or args.fail_on)
    if args.scan_timeout is not None and not scan:
        raise UsageError("--scan-timeout only applies with --scan or --fail-on")
    opts = Options(
        operation=args.operation,
        image=args.image,
        check=args.check,
        strict=args.strict,
        create_repo=args.create_repo,
        immutable=args.immutable,
        scan_on_push=args.scan_on_push,
        kms_key=args.kms_key,
        quiet=args.quiet,
        json=args.json,
        scan=scan,
        scan_timeout=args.scan_timeout or _DEFAULT_SCAN_TIMEOUT,
        fail_on=args.fail_on,
    )

    def warn(message: str) -> None:
        print(f"ecrpy: warning: {' '.join(message.split())}", file=sys.stderr)

    progress = sys.stderr if args.json else sys.stdout
    # A failure under --json becomes ecrpy.error/1 on stdout at cli.main's boundary.
    result = run_transfer(opts, progress, warn)
    if args.json:
        print(result.to_json())
    elif args.quiet:
        ref = result.ref
        print(f"{ref.registry}/{ref.repository}@{result.digest}" if result.digest
              else str(ref))
    else:
        print(result.summary())
        if result.scan is not None:
            print(result.scan.summary())
    return _scan_exit(result)


def _scan_exit(result: TransferResult) -> int:
    """The exit status a finished push's scan decides (0 without --scan), with its one
    line on stderr."""
    scan = result.scan
    if scan is None:
        return 0
    where = f"{result.ref.registry}/{result.ref.repository}@{scan.digest}"
    if scan.problem is not None:
        text = scan.problem if not scan.hint else f"{scan.problem}; {scan.hint}"
        print(f"ecrpy: pushed, but no scan result: {' '.join(text.split())}", file=sys.stderr)
        return EXIT_NO_SCAN
    breaches = scan.breaches(result.fail_on)
    if breaches:
        assert scan.counts is not None
        print(f"ecrpy: {breaches} finding{'s' if breaches != 1 else ''} at or above "
              f"{result.fail_on} in {where} ({_counts(scan.counts)}) (--fail-on)",
              file=sys.stderr)
        return EXIT_FINDINGS
    return 0


def _counts(counts: dict[str, int]) -> str:
    from ..image_scan import format_counts

    return format_counts(counts)
