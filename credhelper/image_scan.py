"""The vulnerability scan of a pushed image: start it where needed, wait for it (bounded), read
its severity counts and judge them against a threshold (``ecrpy push --scan [--fail-on]``).

What ECR documents (API reference: DescribeImageScanFindings, StartImageScan, ImageScanStatus,
ImageScanFindings, GetRegistryScanningConfiguration; user guide: image scanning, filters):

* ``DescribeImageScanFindings`` answers for both scan types. ``ScanNotFoundException`` means
  no scan of that image exists (yet). ``imageScanStatus.status`` is one of ``IN_PROGRESS``,
  ``PENDING`` (still running), ``COMPLETE`` (basic, or an enhanced scan on push), ``ACTIVE``
  (enhanced continuous scanning: findings are current), or a state without findings:
  ``FAILED``, ``UNSUPPORTED_IMAGE``, ``SCAN_ELIGIBILITY_EXPIRED``, ``FINDINGS_UNAVAILABLE``,
  ``LIMIT_EXCEEDED``, ``IMAGE_ARCHIVED``. ``imageScanFindings.findingSeverityCounts`` maps
  ``CRITICAL``/``HIGH``/``MEDIUM``/``LOW``/``INFORMATIONAL``/``UNDEFINED`` to counts (a
  severity without findings is simply absent).
* ``StartImageScan`` starts a *basic* scan; ECR allows one per image per 24 hours (a scan on
  push counts), else ``LimitExceededException``; ``UnsupportedImageTypeException`` for images
  it cannot scan.
* The registry's scan type is ``BASIC`` (the default) or ``ENHANCED`` (Amazon Inspector scans;
  the basic-scan calls do not apply). With ``BASIC``, a repository is scanned on push when its
  own ``imageScanningConfiguration.scanOnPush`` is on or a registry rule with
  ``scanFrequency: SCAN_ON_PUSH`` has a filter matching its name; otherwise only on request.

Domain only: progress goes to an ``on_state`` callback, the outcome is a :class:`ScanReport`.
This module owns the waiting and the ECR calls; the pure rules of the findings (severities,
counts, thresholds, filters, ``ScanReport``) are ``scan_findings``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .scan_findings import (
    SEVERITIES,
    ScanReport,
    at_or_above,
    filter_matches,
    format_counts,
    parse_severity,
    severity_counts,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "SEVERITIES",
    "ScanReport",
    "ScanWaiter",
    "at_or_above",
    "filter_matches",
    "format_counts",
    "parse_severity",
    "severity_counts",
    "state_words",
]

DEFAULT_TIMEOUT = 600.0
# ECR's own waiter (``aws ecr wait image-scan-complete``) polls every 5 s; ecrpy starts at 1 s
# so a quick scan is not waited on for a whole interval, and backs off to 5 s.
POLL_FIRST = 1.0
POLL_MAX = 5.0
# With scan on push configured, ECR starts the scan itself shortly after the push; until it
# shows up, DescribeImageScanFindings answers ScanNotFoundException. After this long without
# it, ecrpy starts the scan itself.
SCAN_ON_PUSH_GRACE = 60.0

RUNNING = frozenset({"IN_PROGRESS", "PENDING"})
DONE = frozenset({"COMPLETE", "ACTIVE"})
# ecrpy's own states (never ECR's): no scan could be had, for the reason in ``problem``.
TIMED_OUT = "TIMED_OUT"
NOT_STARTED = "NOT_STARTED"
UNREADABLE = "UNREADABLE"
# How a state reads in progress lines and messages (ECR's own names read as themselves).
STATE_WORDS = {"SCAN_NOT_FOUND": "no scan yet"}


def state_words(state: str) -> str:
    return STATE_WORDS.get(state, state)


StateCallback = Callable[[str, float], None]


class ScanWaiter:
    """Waits for the scan of one digest through a botocore ECR ``client``.

    ``on_state(state, elapsed_seconds)`` is called on every poll (the presenter decides what
    to show: each change, or a live status); ``on_note(text)`` with each fact worth a line
    (also kept in ``report.notes``). ``clock``/``sleep`` are the real ones unless a
    caller needs otherwise."""

    def __init__(
        self,
        client: Any,
        repository: str,
        registry_id: str | None,
        digest: str,
        timeout: float = DEFAULT_TIMEOUT,
        on_state: StateCallback | None = None,
        on_note: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.repository = repository
        self.digest = digest
        self.timeout = timeout
        self.on_state = on_state or (lambda state, elapsed: None)
        self.on_note = on_note or (lambda note: None)
        self.clock = clock
        self.sleep = sleep
        self.kw: dict[str, Any] = {"repositoryName": repository}
        if registry_id:
            self.kw["registryId"] = registry_id
        self.report = ScanReport(digest=digest, status=NOT_STARTED)

    # -- the whole wait -------------------------------------------------------------------

    def run(self) -> ScanReport:
        started = self.clock()
        report = self.report
        rules: list[dict[str, Any]] | None = None
        report.scan_type, rules = self._registry_scanning()
        if report.scan_type == "ENHANCED":
            self._note(
                "the registry uses enhanced scanning: findings come from Amazon Inspector "
                "and ecrpy starts no basic scan (ecr:StartImageScan is not used)"
            )
        scan_on_push: bool | None = None
        interval = POLL_FIRST
        while True:
            elapsed = self.clock() - started
            report.waited_seconds = elapsed
            state = self._poll()
            self.on_state(state, elapsed)
            if state in DONE or report.problem is not None:
                return report
            if state == "SCAN_NOT_FOUND" and report.scan_type != "ENHANCED":
                if scan_on_push is None:
                    scan_on_push = self._scan_on_push(rules)
                if not report.started_by_ecrpy and not (
                    scan_on_push and elapsed < SCAN_ON_PUSH_GRACE
                ):
                    state = self._start()
                    self.on_state(state, self.clock() - started)
                    if report.problem is not None:
                        return report
                    interval = POLL_FIRST
            remaining = self.timeout - (self.clock() - started)
            if remaining <= 0:
                report.waited_seconds = self.clock() - started
                return self._timed_out(state)
            self.sleep(min(interval, remaining))
            interval = min(POLL_MAX, interval * 2)

    def _note(self, text: str) -> None:
        self.report.notes.append(text)
        self.on_note(text)

    # -- the ECR calls --------------------------------------------------------------------

    def _poll(self) -> str:
        """One DescribeImageScanFindings; returns the state and fills the report."""
        from .aws_errors import is_access_denied

        report = self.report
        try:
            resp = self.client.describe_image_scan_findings(
                **self.kw, imageId={"imageDigest": self.digest}, maxResults=1
            )
        except Exception as exc:
            code = _code(exc)
            if code == "ScanNotFoundException":
                return "SCAN_NOT_FOUND"
            report.status = UNREADABLE
            if is_access_denied(exc):
                report.problem = (
                    f"not allowed to read the scan findings of {self.repository}@"
                    f"{self.digest} (ecr:DescribeImageScanFindings denied)"
                )
                report.hint = "grant ecr:DescribeImageScanFindings on the repository"
            elif code in ("ImageNotFoundException", "RepositoryNotFoundException"):
                report.problem = (
                    f"ECR does not have the pushed image {self.repository}@{self.digest} "
                    f"({code}), so there is no scan to wait for"
                )
            else:
                report.problem = _failure("DescribeImageScanFindings", exc)
            return report.status
        status_doc = resp.get("imageScanStatus") or {}
        status = str(status_doc.get("status") or "IN_PROGRESS")
        report.status = status
        report.description = _text(status_doc.get("description"))
        if status in RUNNING:
            return status
        if status in DONE:
            findings = resp.get("imageScanFindings") or {}
            report.counts = severity_counts(findings.get("findingSeverityCounts"))
            completed = findings.get("imageScanCompletedAt")
            report.completed_at = _iso(completed)
            return status
        detail = f": {report.description}" if report.description else ""
        report.problem = (
            f"the scan of {self.repository}@{self.digest} ended {status}{detail}; "
            "no findings to report"
        )
        if status == "UNSUPPORTED_IMAGE":
            report.hint = "ECR's basic scanning does not support this image's operating system"
        return status

    def _start(self) -> str:
        """StartImageScan (basic scanning, scan on push off or not showing up)."""
        from .aws_errors import is_access_denied

        report = self.report
        try:
            resp = self.client.start_image_scan(**self.kw, imageId={"imageDigest": self.digest})
        except Exception as exc:
            code = _code(exc)
            report.status = NOT_STARTED
            if is_access_denied(exc):
                report.problem = (
                    f"no scan of {self.repository}@{self.digest} exists and ecrpy may not "
                    "start one (ecr:StartImageScan denied)"
                )
                report.hint = "grant ecr:StartImageScan, or turn on scan on push for the repository"
            elif code == "LimitExceededException":
                report.problem = (
                    f"ECR refused to start a scan of {self.repository}@{self.digest} "
                    "(LimitExceededException): ECR allows one basic scan per image per 24 "
                    "hours (and 100,000 per account)"
                )
            elif code == "UnsupportedImageTypeException":
                report.status = "UNSUPPORTED_IMAGE"
                report.problem = (
                    f"ECR cannot scan {self.repository}@{self.digest} "
                    "(UnsupportedImageTypeException)"
                )
            else:
                report.problem = _failure("StartImageScan", exc)
            return report.status
        report.started_by_ecrpy = True
        self._note("no scan of the pushed image yet; started one (ecr:StartImageScan)")
        status = str((resp.get("imageScanStatus") or {}).get("status") or "IN_PROGRESS")
        report.status = status
        return status

    def _registry_scanning(self) -> tuple[str | None, list[dict[str, Any]] | None]:
        """(scan type, rules) of the registry; (None, None) when not readable."""
        try:
            resp = self.client.get_registry_scanning_configuration()
        except Exception:  # not allowed or not answered: basic-scan behaviour is tried
            self._note(
                "the registry's scanning configuration is not readable "
                "(ecr:GetRegistryScanningConfiguration); assuming basic scanning"
            )
            return None, None
        config = resp.get("scanningConfiguration") or {}
        scan_type = str(config.get("scanType") or "BASIC")
        rules = [r for r in config.get("rules") or [] if isinstance(r, dict)]
        return scan_type, rules

    def _scan_on_push(self, rules: list[dict[str, Any]] | None) -> bool | None:
        """Whether ECR scans this repository on push (None: could not tell)."""
        for rule in rules or []:
            if rule.get("scanFrequency") != "SCAN_ON_PUSH":
                continue
            for f in rule.get("repositoryFilters") or []:
                if isinstance(f, dict) and filter_matches(
                    str(f.get("filter", "")), self.repository
                ):
                    return True
        try:
            resp = self.client.describe_repositories(
                repositoryNames=[self.repository],
                **({"registryId": self.kw["registryId"]} if "registryId" in self.kw else {}),
            )
        except Exception:
            return None
        repos = resp.get("repositories") or [{}]
        return bool((repos[0].get("imageScanningConfiguration") or {}).get("scanOnPush"))

    def _waiting_for_push_scan(self, last_state: str) -> str:
        if last_state != "SCAN_NOT_FOUND" or self.report.started_by_ecrpy:
            return ""
        if self.report.scan_type == "ENHANCED":
            return "; Amazon Inspector has not reported on the image"
        return "; scan on push is configured, ECR has not started it"

    def _timed_out(self, last_state: str) -> ScanReport:
        report = self.report
        report.status = TIMED_OUT
        report.problem = (
            f"the scan of {self.repository}@{self.digest} did not finish within "
            f"{_seconds(self.timeout)} (last state: {state_words(last_state)}"
            f"{self._waiting_for_push_scan(last_state)})"
        )
        report.hint = (
            "raise --scan-timeout, or read it later: aws ecr describe-image-scan-findings "
            f"--repository-name {self.repository} --image-id imageDigest={self.digest}"
        )
        return report


def _code(exc: Exception) -> str:
    from .aws_errors import error_details

    return error_details(exc)[0]


def _failure(call: str, exc: Exception) -> str:
    from .aws_errors import error_details

    code, message = error_details(exc)
    if not code:
        return f"ECR {call} failed ({type(exc).__name__})"
    message = " ".join(message.split())[:200]
    return f"ECR {call} failed ({code}{': ' + message if message else ''})"


def _text(value: Any) -> str | None:
    return " ".join(str(value).split()) if value else None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    iso = getattr(value, "isoformat", None)
    return str(iso()) if callable(iso) else str(value)


def _seconds(value: float) -> str:
    return f"{value:g} s"
