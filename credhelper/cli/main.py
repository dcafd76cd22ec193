"""Entry point of ``ecrpy``: builds the argparse tree and turns errors into exit codes.

Each command lives in its own module exposing ``register(subparsers)``, which adds its parser
and sets ``func`` to a ``run(args) -> int``. Command modules import heavy libraries (boto3,
docker, rich) inside ``run`` so ``ecrpy --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import EcrpyError

# Order is the order shown in --help.
COMMAND_MODULES = (
    "configure",
    "whoami",
    "doctor",
    "cache",
    "check",
    "policy",
    "transfer",
)


def build_parser() -> argparse.ArgumentParser:
    """The full ``ecrpy`` parser with every command that is installed."""
    parser = argparse.ArgumentParser(
        prog="ecrpy",
        description="Amazon ECR credentials for docker, and a permission pre-flight for push/pull.",
    )
    parser.add_argument("--version", action="version", version=f"ecrpy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue  # a command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ecrpy``; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.func(args)
        return code
    except EcrpyError as exc:
        print(f"ecrpy: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ecrpy: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except OSError as exc:  # the environment (read-only, full, locked, permissions), not a bug
        from .. import logs
        from ..errors import environment_error

        message = environment_error(f"complete {args.command}", exc).one_line()
        logs.warning("%s", message)
        print(f"ecrpy: {message}", file=sys.stderr)
        return 1
    except Exception as exc:  # the one boundary: a bug is a line and a log entry, not a traceback
        from .. import logs

        logs.error("internal error in %s: %s", args.command, type(exc).__name__, exc_info=True)
        print(
            f"ecrpy: internal error ({type(exc).__name__}); details in {logs.log_path()}",
            file=sys.stderr,
        )
        return 1


def entry() -> None:
    """Console-script wrapper."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
