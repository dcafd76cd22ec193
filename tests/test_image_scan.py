"""The scan's pure rules: severities, thresholds, counts, registry filter matching."""

from __future__ import annotations

import io

import pytest

from credhelper.scan_findings import (
    SEVERITIES,
    ScanReport,
    at_or_above,
    filter_matches,
    format_counts,
    parse_severity,
    severity_counts,
)


def counts(**kw: int) -> dict[str, int]:
    return severity_counts(kw)


@pytest.mark.parametrize("text", ["high", "HIGH", " High ", "informational", "Undefined"])
def test_severity_names_are_case_insensitive(text: str) -> None:
    assert parse_severity(text) == text.strip().upper()


@pytest.mark.parametrize("text", ["", "SEVERE", "HIGHEST", "UNTRIAGED", "4"])
def test_unknown_severity_names_the_valid_ones(text: str) -> None:
    with pytest.raises(ValueError, match="CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED"):
        parse_severity(text)


def test_counts_have_every_severity_and_fold_unknown_ones_into_undefined() -> None:
    assert severity_counts(None) == dict.fromkeys(SEVERITIES, 0)
    got = severity_counts({"HIGH": 2, "medium": 1, "UNTRIAGED": 3, "UNDEFINED": 1,
                           "LOW": "x", "CRITICAL": -4})
    assert got == {"CRITICAL": 0, "HIGH": 2, "MEDIUM": 1, "LOW": 0, "INFORMATIONAL": 0,
                   "UNDEFINED": 4}


@pytest.mark.parametrize(
    ("found", "threshold", "expected"),
    [
        ({"MEDIUM": 3}, "HIGH", 0),  # below
        ({"HIGH": 1}, "HIGH", 1),  # at
        ({"CRITICAL": 2}, "HIGH", 2),  # above
        ({"CRITICAL": 1, "HIGH": 2, "MEDIUM": 4, "LOW": 8}, "MEDIUM", 7),
        ({"INFORMATIONAL": 1}, "LOW", 0),
        ({"INFORMATIONAL": 1}, "INFORMATIONAL", 1),
        ({"UNDEFINED": 5}, "INFORMATIONAL", 0),  # UNDEFINED ranks lowest...
        ({"UNDEFINED": 5, "LOW": 1}, "UNDEFINED", 6),  # ...so it means "any finding"
        ({}, "UNDEFINED", 0),
        ({"LOW": 9}, "CRITICAL", 0),
    ],
)
def test_findings_at_or_above_the_threshold(
    found: dict[str, int], threshold: str, expected: int
) -> None:
    assert at_or_above(counts(**found), threshold) == expected


def test_report_breaches_needs_counts_and_a_threshold() -> None:
    done = ScanReport(digest="sha256:x", status="COMPLETE", counts=counts(HIGH=1))
    assert done.breaches("HIGH") == 1
    assert done.breaches("CRITICAL") == 0
    assert done.breaches(None) is None
    failed = ScanReport(digest="sha256:x", status="FAILED", problem="ended FAILED")
    assert failed.breaches("LOW") is None


def test_report_document_and_summary() -> None:
    report = ScanReport(digest="sha256:x", status="COMPLETE", scan_type="BASIC",
                        counts=counts(CRITICAL=1, LOW=2), waited_seconds=1.23456)
    doc = report.as_dict("HIGH")
    assert doc["severity_counts"] == {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "LOW": 2,
                                      "INFORMATIONAL": 0, "UNDEFINED": 0}
    assert (doc["total"], doc["fail_on"], doc["at_or_above_fail_on"]) == (3, "HIGH", 1)
    assert doc["waited_seconds"] == 1.235 and doc["problem"] is None
    assert report.summary() == ("scan (basic) COMPLETE: 3 findings: CRITICAL 1, HIGH 0, "
                                "MEDIUM 0, LOW 2, INFORMATIONAL 0, UNDEFINED 0")
    none = ScanReport(digest="sha256:x", status="TIMED_OUT", problem="p").as_dict(None)
    assert none["severity_counts"] is None and none["total"] is None
    assert none["at_or_above_fail_on"] is None


def test_format_counts_is_most_severe_first() -> None:
    assert format_counts(counts(HIGH=2)).startswith("CRITICAL 0, HIGH 2, MEDIUM 0")


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    # the table of ECR's user guide, "Filters to choose which repositories are scanned"
    [
        ("prod", "prod", True), ("prod", "repo-prod", True), ("prod", "prodrepo", True),
        ("*prod", "prod", True), ("*prod", "repo-prod", True), ("*prod", "prod-repo", False),
        ("*prod", "prodrepo", False),
        ("prod*", "prod", True), ("prod*", "repo-prod", False), ("prod*", "prod-repo", True),
        ("prod*", "prodrepo", True),
        ("*prod*", "repo-prod-repo", True), ("*prod*", "prodrepo", True),
        ("prod*repo", "prod", False), ("prod*repo", "prod-repo", True),
        ("prod*repo", "repo-prod-repo", False), ("prod*repo", "prodrepo", True),
        ("*", "anything", True), ("a*a", "a", False),
    ],
)
def test_registry_filter_wildcards(pattern: str, name: str, matches: bool) -> None:
    assert filter_matches(pattern, name) is matches


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_line_per_change_in_logs_and_one_live_line_on_a_terminal() -> None:
    from credhelper.transfer import ScanProgress

    polls = [("SCAN_NOT_FOUND", 0.0), ("IN_PROGRESS", 1.0), ("IN_PROGRESS", 3.2),
             ("IN_PROGRESS", 8.0), ("COMPLETE", 13.0)]
    log = io.StringIO()
    shown = ScanProgress(log)
    for state, elapsed in polls:
        shown.state(state, elapsed)
    shown.close()
    assert log.getvalue().splitlines() == [
        "scan: no scan yet (0s)", "scan: IN_PROGRESS (1s)", "scan: COMPLETE (13s)"]

    term = _Terminal()
    shown = ScanProgress(term)
    shown.state("IN_PROGRESS", 1.0)
    shown.state("IN_PROGRESS", 3.2)
    shown.note("a note")
    shown.state("COMPLETE", 5.0)
    shown.close()
    text = term.getvalue()
    # rewritten in place (carriage return + erase to end of line), every poll shown
    assert text == ("\rscan: IN_PROGRESS (1s)\x1b[K\rscan: IN_PROGRESS (3s)\x1b[K\n"
                    "scan: a note\n\rscan: COMPLETE (5s)\x1b[K\n")

    quiet = _Terminal()
    shown = ScanProgress(quiet, quiet=True)
    shown.state("IN_PROGRESS", 1.0)
    shown.note("a note")
    shown.close()
    assert quiet.getvalue() == ""
