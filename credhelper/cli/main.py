"""Entry point of ``ecrpy``: the argparse tree, dispatch, and the one error boundary.

Start-up cost matters (``ecrpy --help`` within 2.5x a bare ``python -c pass``), so the top-level
parser is built from ``COMMANDS``, a static table of names and one-line summaries: a command's
module (which may import boto3, docker, rich...) is imported only when that command runs or its
own ``--help`` is asked for. Each module exposes ``register(subparsers)``, which adds its
parser(s) and sets ``func`` to a ``run(args) -> int``.

Conventions every command gets from here: ``--debug`` (log at debug level to stderr, secrets
redacted), a description, command-line errors that show the sub-command's usage and exit 2,
"did you mean" for misspelt sub-commands, and for ``--json`` a JSON error document on stdout
(``credhelper.report_json``) with the same exit code as the one-line error on stderr. A bad
*value* found by the command itself (a host that is not ECR) is a ``UsageError``: exit 2 too,
but one line with the cause and the fix, as every other error, without the usage block.
"""

from __future__ import annotations

import sys

from .. import __version__
from ..errors import EcrpyError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator, Sequence
    from typing import Any, NoReturn

# name, module under credhelper.cli, one-line summary (shown by ``ecrpy --help``; the module's
# own parser repeats it, which tests/test_cli_conventions.py checks). Order is --help's order.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    (
        "configure",
        "configure",
        "add (or --remove) ecrpy's credHelpers/credsStore entries in docker's config.json",
    ),
    ("whoami", "whoami", "the AWS identity (and cached token) ecrpy would use"),
    ("doctor", "doctor", "check docker config, PATH, engine, identity, cache and registries"),
    ("cache", "cache", "list or clear cached ECR tokens"),
    (
        "check",
        "check",
        "will a push/pull of IMAGE be allowed? (exit 0 allowed, 3 denied/refused, "
        "4 undetermined, 5 repository missing)",
    ),
    ("push", "transfer", "docker push to ECR with in-process auth and a permission pre-flight"),
    ("pull", "transfer", "docker pull from ECR with in-process auth and a permission pre-flight"),
    ("policy", "policy", "work with IAM policies offline"),
    ("completion", "completion", "print a shell completion script (bash, zsh or fish)"),
    ("version", "", "print ecrpy's version"),
)
COMMAND_NAMES = tuple(name for name, _, _ in COMMANDS)

# What ecrpy reads from the environment (tests/test_cli_conventions.py checks this list against
# the ECRPY_* names in the source).
OWN_ENV = (
    ("ECRPY_CONFIG", "the config file"),
    ("ECRPY_CACHE_DIR", "the token cache folder"),
    ("ECRPY_CACHE", "cache backend: file | keyring | none"),
    ("ECRPY_STATE_DIR", "folder of the non-secret credentials index"),
    ("ECRPY_LOG_DIR", "the log folder"),
    ("ECRPY_LOG_LEVEL", "log file level: DEBUG | INFO | WARNING | ERROR (default INFO)"),
)
AWS_ENV = (
    "AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID "
    "AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE "
    "AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_SESSION_NAME "
    "AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
    "AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) "
    "AWS_CA_BUNDLE AWS_ENDPOINT_URL(_ECR|_ECR_PUBLIC|_STS|_IAM) "
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS "
    "AWS_USE_FIPS_ENDPOINT AWS_USE_DUALSTACK_ENDPOINT AWS_STS_REGIONAL_ENDPOINTS "
    "AWS_MAX_ATTEMPTS AWS_RETRY_MODE "
    "AWS_EC2_METADATA_DISABLED HTTPS_PROXY NO_PROXY"
)


class _Run:
    """What the error paths of this invocation need to know (set once by ``main``)."""

    json = False  # --json was given: failures also print an ecrpy.error/1 document
    command: str | None = None
    image: str | None = None  # push/pull/check: the IMAGE, for the error document


_RUN = _Run()


_PARSER_CLASS: type[argparse.ArgumentParser] | None = None


def _parser_class() -> type[argparse.ArgumentParser]:
    """ecrpy's ArgumentParser, defined on first use: ``ecrpy --version`` never imports
    argparse (~6 ms, with re and gettext)."""
    global _PARSER_CLASS
    if _PARSER_CLASS is not None:
        return _PARSER_CLASS
    import argparse

    class Parser(argparse.ArgumentParser):
        """argparse with ecrpy's usage errors: the failing (sub-)command's usage, a "did you mean"
        for a misspelt choice, exit 2, and the JSON error document under --json."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("formatter_class", _formatter)  # sub-parsers too: no shutil import
            super().__init__(*args, **kwargs)

        def error(self, message: str) -> NoReturn:
            message += _did_you_mean(self, message)
            self.print_usage(sys.stderr)
            if _RUN.json:
                from ..report_json import error_document

                print(error_document(UsageError(message), command=_RUN.command))
            self.exit(2, f"{self.prog}: error: {message}\n")

    _PARSER_CLASS = Parser
    return Parser


def _did_you_mean(parser: argparse.ArgumentParser, message: str) -> str:
    """ "; did you mean 'cache'?" when ``message`` is argparse's invalid-choice error and a
    choice of ``parser`` is close to what was typed."""
    marker = "invalid choice: "
    if marker not in message:
        return ""
    import ast
    import difflib

    rest = message.split(marker, 1)[1]
    quote = rest[:1]
    end = rest.find(quote, 1) if quote in ("'", '"') else -1
    try:
        typed = str(ast.literal_eval(rest[: end + 1])) if end > 0 else ""
    except (ValueError, SyntaxError):
        return ""
    choices = [str(c) for action in parser._actions if action.choices for c in action.choices]
    close = difflib.get_close_matches(typed, choices, n=2, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"


def _epilog() -> str:
    """The end of ``ecrpy --help``: where ecrpy keeps its files, and what it reads from the
    environment."""
    import os

    from .. import paths

    log = os.path.join(paths.log_dir(), "ecrpy.log")
    lines = [
        "files:",
        f"  config  {paths.config_file()}",
        f"  cache   {paths.cache_dir()}",
        f"  log     {log}",
        "",
        "environment:",
        *(f"  {name:<16} {what}" for name, what in OWN_ENV),
        "  AWS settings, honoured as the AWS CLI does:",
    ]
    line = "   "
    for name in AWS_ENV.split():
        if len(line) + len(name) > 78:
            lines.append(line)
            line = "   "
        line += " " + name
    lines.append(line)
    lines += [
        "",
        "ecrpy COMMAND --help shows a command's options; docs: "
        "https://github.com/ecrpy/ecrpy#readme",
    ]
    return "\n".join(lines)


def _width() -> int:
    """The terminal's width as argparse computes it, without ``shutil`` (which imports bz2,
    lzma and zlib: ~2 ms of ``ecrpy --help``'s budget)."""
    import os

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            columns = os.get_terminal_size(sys.stdout.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 80
    return max(columns - 2, 40)


def _formatter(prog: str) -> argparse.HelpFormatter:
    import argparse

    return argparse.HelpFormatter(prog, width=_width())


def _raw_epilog_formatter(prog: str) -> argparse.HelpFormatter:
    import argparse

    return argparse.RawDescriptionHelpFormatter(prog, width=_width())


def _add_common(parser: argparse.ArgumentParser) -> None:
    """--debug on a (sub-)command; SUPPRESS so a sub-parser's default never overwrites an
    earlier ``ecrpy --debug``."""
    import argparse

    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log at debug level to stderr (secrets redacted)",
    )


def build_parser(load: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``ecrpy`` parser. Commands named in ``load`` (all when ``None``) get their real
    parsers, which imports their modules; the others are names and summaries only."""
    parser = _parser_class()(
        prog="ecrpy",
        description="Amazon ECR credentials for docker, and a permission pre-flight for push/pull.",
        epilog=_epilog(),
        formatter_class=_raw_epilog_formatter,
    )
    parser.add_argument("--version", action="version", version=f"ecrpy {__version__}")
    _add_common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = set(COMMAND_NAMES if load is None else load)
    load_modules = {module for name, module, _ in COMMANDS if name in wanted and module}
    for name, module_name, summary in COMMANDS:
        if name in sub.choices:
            continue  # e.g. pull, added with push by the same module
        if module_name in load_modules:
            import importlib

            importlib.import_module(f"{__package__}.{module_name}").register(sub)
        elif name == "version":
            p = sub.add_parser(name, help=summary, description="Print ecrpy's version.")
            p.add_argument(
                "--json", action="store_true", help="print the ecrpy.version/1 JSON document"
            )
            p.set_defaults(func=_run_version)
        else:
            sub.add_parser(name, help=summary, description=summary[:1].upper() + summary[1:])
    for child in _parsers(parser):
        if child is parser:
            continue
        _add_common(child)
        if not child.description:  # every command explains itself in its own --help
            child.description = _summary_of(parser, child)
    return parser


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every sub-parser below it, each once."""
    import argparse

    yield parser
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if id(child) not in seen:
                    seen.add(id(child))
                    yield from _parsers(child)


def _summary_of(root: argparse.ArgumentParser, child: argparse.ArgumentParser) -> str:
    import argparse

    for parent in _parsers(root):
        for action in parent._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if action.choices.get(choice.dest) is child and choice.help:
                        return choice.help[:1].upper() + choice.help[1:] + "."
    return child.prog + "."


def _selected_parser(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The deepest (sub-)parser ``args`` went through, e.g. ``ecrpy cache clear``'s."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(args, action.dest, None) if action.dest != argparse.SUPPRESS else None
            if name in action.choices:
                return _selected_parser(action.choices[name], args)
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: the first word that is not an option (``ecrpy`` itself takes
    no option with a value)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def _run_version(args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        from ..report_json import document

        print(document("ecrpy.version/1", version=__version__, python=sys.version.split()[0]))
    else:
        print(f"ecrpy {__version__}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ecrpy``; return the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["version"]):  # the fast path: no argparse, no paths
        print(f"ecrpy {__version__}")
        return 0
    command = _command_word(argv)
    _RUN.json = "--json" in argv
    _RUN.command = command if command in COMMAND_NAMES else None
    parser = build_parser([command] if command in COMMAND_NAMES else [])
    args, extra = parser.parse_known_args(argv)
    if extra:  # argparse would blame the top-level parser; show the sub-command's usage
        _selected_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "debug", False):
        from .. import logs

        logs.debug_to_stderr()
        logs.debug("ecrpy %s, python %s: %s", __version__, sys.version.split()[0], argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    _RUN.json = bool(getattr(args, "json", False))
    image = getattr(args, "image", None)
    _RUN.image = image if isinstance(image, str) else None
    try:
        code: int = args.func(args)
        return code
    except EcrpyError as exc:  # UsageError too: a bad value is one line with the fix, exit 2
        return _fail(exc, exc.one_line(), exc.exit_code)
        return _fail(exc, exc.one_line(), exc.exit_code)
    except KeyboardInterrupt:
        return _fail(EcrpyError("interrupted"), "interrupted", 130)
    except BrokenPipeError:
        return 1
    except OSError as exc:  # the environment (read-only, full, locked, permissions), not a bug
        from .. import logs
        from ..errors import environment_error

        problem = environment_error(f"complete {args.command}", exc)
        logs.warning("%s", problem.one_line())
        return _fail(problem, problem.one_line(), 1)
    except Exception as exc:  # the one boundary: a bug is a line and a log entry, not a traceback
        from .. import logs

        logs.error("internal error in %s: %s", args.command, type(exc).__name__, exc_info=True)
        where = f"details in {logs.log_path()}"
        return _fail(exc, f"internal error ({type(exc).__name__}); {where}", 1, hint=where)


def _fail(
    exc: BaseException,
    line: str,
    code: int,
    hint: str | None = None,
) -> int:
    """Report a failure: the JSON document on stdout under --json, the line on stderr."""
    if _RUN.json:
        from ..report_json import error_document

        context = {"command": _RUN.command}
        if _RUN.image is not None:
            context["image"] = _RUN.image
        try:
            print(error_document(exc, exit_code=code, hint=hint, **context))
        except BrokenPipeError:
            pass
    print(f"ecrpy: {line}", file=sys.stderr)
    return code


def entry() -> None:
    """Console-script wrapper."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
