"""The log redacts secrets: known ones and anything shaped like one."""

from __future__ import annotations

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
