"""The CLI's one error boundary: every failure is one line and an exit code."""

from __future__ import annotations

import argparse
import os

import pytest

from credhelper.cli import main as cli_main
from credhelper.errors import ConfigError


def _with_command(monkeypatch: pytest.MonkeyPatch, func: object) -> None:
    def build(load: object = None) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="ecrpy")
        sub = parser.add_subparsers(dest="command")
        sub.add_parser("boom").set_defaults(func=func)
        return parser

    monkeypatch.setattr(cli_main, "build_parser", build)


def test_ecrpy_error_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise ConfigError("bad thing", hint="do this")

    _with_command(monkeypatch, fail)
    assert cli_main.main(["boom"]) == 1
    assert capsys.readouterr().err == "ecrpy: bad thing; do this\n"


def test_bug_is_one_line_and_logged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: os.PathLike[str]
) -> None:
    import logging

    from credhelper import logs

    monkeypatch.setenv("ECRPY_LOG_DIR", str(tmp_path))
    monkeypatch.setattr(logs, "_LOGGER", None)  # a fresh logger writing to tmp_path
    ecrpy_logger = logging.getLogger("ecrpy")
    monkeypatch.setattr(ecrpy_logger, "handlers", [])

    def bug(args: argparse.Namespace) -> int:
        raise KeyError("oops")

    _with_command(monkeypatch, bug)
    assert cli_main.main(["boom"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ecrpy: internal error (KeyError)") and "Traceback" not in err
    for handler in ecrpy_logger.handlers:
        handler.flush()
    assert "Traceback" in open(os.path.join(tmp_path, "ecrpy.log")).read()
    for handler in ecrpy_logger.handlers:
        handler.close()


def test_no_command_is_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main([]) == 2


@pytest.mark.parametrize(
    ("errno_name", "fragment"),
    [
        ("ENOSPC", "No space left on device; the disk is full"),
        ("EROFS", "Read-only file system; the file system is read-only"),
        ("EACCES", "Permission denied; check the owner and permissions"),
    ],
)
def test_environment_problem_is_cause_and_fix_not_internal_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: os.PathLike[str],
    errno_name: str,
    fragment: str,
) -> None:
    import errno

    monkeypatch.setenv("ECRPY_LOG_DIR", str(tmp_path))
    code = getattr(errno, errno_name)

    def full(args: argparse.Namespace) -> int:
        raise OSError(code, os.strerror(code), "/home/u/.docker/.config.json.1.tmp")

    _with_command(monkeypatch, full)
    assert cli_main.main(["boom"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ecrpy: cannot complete boom"), err
    assert fragment in err and "internal error" not in err, err
    assert "/home/u/.docker/.config.json.1.tmp" in err


def test_helper_internal_error_has_one_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    """protocol prints "ecrpy: " + hint, so the hint itself must not start with "ecrpy"."""
    import errno

    from credhelper import protocol

    monkeypatch.setenv("ECRPY_LOG_DIR", str(tmp_path))

    def bug() -> object:
        raise KeyError("oops")

    def full() -> object:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(protocol, "action_list", bug)
    out = protocol.run("list")
    assert out.code == 1 and out.stdout.startswith("internal error (KeyError)"), out.stdout
    monkeypatch.setattr(protocol, "action_get", lambda *args, **kwargs: bug())
    monkeypatch.setattr(protocol, "_read_stdin", lambda: "h")
    out = protocol.run("get")
    assert out.hint is not None and out.hint.startswith("internal error (KeyError)")
    monkeypatch.setattr(protocol, "action_list", full)
    out = protocol.run("list")
    assert out.code == 1 and "internal error" not in out.stdout
    assert "No space left on device; the disk is full" in out.stdout
