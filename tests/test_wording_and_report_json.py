"""The small shared pieces of issue 12's output convention: plurals, "up to date", and the JSON
document / error document helpers every --json goes through."""

from __future__ import annotations

import json

import pytest

from credhelper.errors import RefusedError, UsageError
from credhelper.report_json import document, error_document, utc_iso
from credhelper.wording import layer_breakdown, nothing_moved, plural, transfer_verb


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [(0, "layer", "0 layers"), (1, "layer", "1 layer"), (2, "layer", "2 layers"),
     (1, "registry", "1 registry"), (3, "registry", "3 registries"),
     (2, "cached token", "2 cached tokens")],
)
def test_plural(count: int, noun: str, expected: str) -> None:
    assert plural(count, noun) == expected


def test_plural_form_given() -> None:
    assert plural(2, "index", "indexes") == "2 indexes"


@pytest.mark.parametrize(
    ("operation", "counts", "verb", "words"),
    [
        ("push", {"total": 1, "pushed": 1, "mounted": 0, "skipped": 0}, "pushed",
         "1 layer: 1 pushed"),
        ("push", {"total": 3, "pushed": 1, "mounted": 0, "skipped": 2}, "pushed",
         "3 layers: 1 pushed, 2 already there"),
        ("push", {"total": 2, "pushed": 0, "mounted": 0, "skipped": 2}, "up to date",
         "2 layers, all already there"),
        ("push", {"total": 2, "pushed": 0, "mounted": 2, "skipped": 0}, "pushed",
         "2 layers: 2 mounted"),
        ("pull", {"total": 1, "downloaded": 0, "already_present": 1}, "up to date",
         "1 layer, already present"),
        ("pull", {"total": 2, "downloaded": 2, "already_present": 0}, "pulled",
         "2 layers: 2 downloaded"),
        ("pull", {"total": 0, "downloaded": 0, "already_present": 0}, "up to date", "0 layers"),
    ],
)
def test_transfer_words(operation: str, counts: dict[str, int], verb: str, words: str) -> None:
    assert transfer_verb(operation, counts) == verb
    assert nothing_moved(operation, counts) is (verb == "up to date")
    assert layer_breakdown(operation, counts) == words


def test_document_puts_schema_first_and_checks_its_form() -> None:
    doc = json.loads(document("ecrpy.thing/2", b=1, a="x"))
    assert list(doc) == ["schema", "b", "a"] and doc["schema"] == "ecrpy.thing/2"
    for bad in ("thing/1", "ecrpy.thing", "ecrpy.thing/x"):
        with pytest.raises(ValueError):
            document(bad)


def test_utc_iso() -> None:
    assert utc_iso(0) == "1970-01-01T00:00:00Z"
    assert utc_iso(1764000000.9) == "2025-11-24T16:00:00Z"


def test_error_document_from_an_ecrpy_error() -> None:
    doc = json.loads(error_document(RefusedError("refused  by\nthe check", hint="fix it"),
                                    command="push"))
    assert doc == {"schema": "ecrpy.error/1", "error": "refused by the check", "hint": "fix it",
                   "exit_code": 3, "command": "push"}
    doc = json.loads(error_document(UsageError("bad"), exit_code=5))
    assert doc["exit_code"] == 5 and doc["hint"] is None


def test_error_document_of_a_bug_never_shows_its_text() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    text = error_document(KeyError(secret), hint="details in /x/ecrpy.log")
    assert secret not in text
    doc = json.loads(text)
    assert doc["error"] == "internal error (KeyError)" and doc["exit_code"] == 1
    assert doc["hint"] == "details in /x/ecrpy.log"
