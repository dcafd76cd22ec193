"""The log redacts secrets: known ones and anything shaped like one."""

from __future__ import annotations

from pathlib import Path

import pytest

from credhelper import logs


def test_remembered_secret_is_masked() -> None:
    logs.remember_secret("abcd1234efgh")
    assert "abcd1234efgh" not in logs.redact("token was abcd1234efgh!")


@pytest.mark.parametrize(
    "text",
    [
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        'password: "hunter2hunter2"',
        "Authorization: Basic QVdTOnNlY3JldHNlY3JldA==",
        "X-Amz-Security-Token=FwoGZXIvYXdzEJr//////////wEaDOnlyASample",
        "blob " + "QUJD" * 40,
    ],
)
def test_secret_shapes_are_masked(text: str) -> None:
    out = logs.redact(text)
    assert "***" in out
    for fragment in (
        "wJalrXUtnFEMI",
        "hunter2hunter2",
        "QVdTOnNlY3JldHNlY3JldA",
        "FwoGZXIvYXdz",
        "QUJDQUJD",
    ):
        assert fragment not in out


def _lines(folder: Path) -> list[str]:
    return (folder / "ecrpy.log").read_text().splitlines()


def test_direct_line_is_what_the_handler_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """logs.info before logging is set up writes the line itself (no logging import on a cold
    get): the same text, redaction and file mode as the rotating handler's."""
    import logging
    import re

    monkeypatch.delenv("ECRPY_LOG_LEVEL", raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-value-1234")
    msg, args = "fetched a token for %s (%s)", ("h.example", "env-secret-value-1234")
    written = {}
    for way in ("direct", "logging"):
        folder = tmp_path / way
        monkeypatch.setenv("ECRPY_LOG_DIR", str(folder))
        monkeypatch.setattr(logs, "_LOGGER", None)
        if way == "direct":
            logs.info(msg, *args)
            assert logs._LOGGER is None  # logging was not set up
        else:
            logger = logs.get_logger()
            logger.info(msg, *args)
            for handler in list(logger.handlers):
                handler.close()
                logger.removeHandler(handler)
            logging.getLogger("ecrpy").handlers.clear()
        (line,) = _lines(folder)
        assert (folder / "ecrpy.log").stat().st_mode & 0o777 == 0o600
        stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ "
        assert re.match(stamp + "INFO ", line), line
        written[way] = re.sub(stamp, "", line)
    assert written["direct"] == written["logging"] == "INFO fetched a token for h.example (***)"
    monkeypatch.setattr(logs, "_LOGGER", None)


def test_a_full_log_rotates_through_logging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECRPY_LOG_LEVEL", raising=False)
    monkeypatch.setenv("ECRPY_LOG_DIR", str(tmp_path))
    monkeypatch.setattr(logs, "_LOGGER", None)
    (tmp_path / "ecrpy.log").write_text("x" * (logs._MAX_BYTES - 10) + "\n")
    (tmp_path / "ecrpy.log").chmod(0o600)
    tmp_path.chmod(0o700)
    assert logs._append("INFO", "a line longer than ten bytes", ()) is False
    monkeypatch.setenv("ECRPY_LOG_LEVEL", "DEBUG")
    (tmp_path / "ecrpy.log").write_text("")
    assert logs._append("INFO", "short", ()) is False  # a level set: logging decides
