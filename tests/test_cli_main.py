"""The CLI's one error boundary: every failure is one line and an exit code."""

from __future__ import annotations

import argparse
import os

import pytest

from credhelper.cli import main as cli_main
from credhelper.errors import ConfigError


def _with_command(monkeypatch: pytest.MonkeyPatch, func: object) -> None:
    def build() -> argparse.ArgumentParser:
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
