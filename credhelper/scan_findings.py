"""The pure rules of an image scan's findings (``ecrpy push --scan --fail-on``): ECR's
severities and ecrpy's ranking of them, ``findingSeverityCounts`` with every severity present,
the ``--fail-on`` threshold, a registry scanning rule's repository filter, and the
``ScanReport`` the waiter (``image_scan``) fills. No I/O; ``image_scan`` re-exports it all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Most severe first. ECR does not rank UNDEFINED (no severity assigned by the vulnerability
# source); ecrpy ranks it lowest, so ``--fail-on UNDEFINED`` means "any finding at all".
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")


def parse_severity(text: str) -> str:
    """``--fail-on``'s value, case-insensitive; ``ValueError`` names the valid ones."""
    value = text.strip().upper()
    if value not in SEVERITIES:
        raise ValueError(
            f"unknown severity {text!r}; use one of {', '.join(SEVERITIES)} (case-insensitive)"
        )
    return value


def severity_counts(raw: Mapping[str, Any] | None) -> dict[str, int]:
    """ECR's ``findingSeverityCounts`` with every severity present (absent ones are 0).

    A key ECR does not document for this map (Amazon Inspector also knows ``UNTRIAGED``) is
    counted as ``UNDEFINED``: a finding without a usable severity is still a finding."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for key, value in (raw or {}).items():
        name = str(key).upper()
        try:
            number = max(0, int(value))
        except (TypeError, ValueError):
            continue
        counts[name if name in counts else "UNDEFINED"] += number
    return counts


def at_or_above(counts: Mapping[str, int], threshold: str) -> int:
    """How many findings are of ``threshold``'s severity or a more severe one."""
    rank = SEVERITIES.index(threshold)
    return sum(int(counts.get(s, 0)) for s in SEVERITIES[: rank + 1])


def format_counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{s} {int(counts.get(s, 0))}" for s in SEVERITIES)


def filter_matches(pattern: str, name: str) -> bool:
    """A registry scanning rule's repository filter (user guide, "Filters to choose which
    repositories are scanned"): without ``*`` it matches every name that *contains* it; with
    ``*`` the whole name must match, each ``*`` standing for zero or more characters."""
    if "*" not in pattern:
        return pattern in name
    parts = pattern.split("*")
    if not name.startswith(parts[0]):
        return False
    pos = len(parts[0])
    for middle in parts[1:-1]:
        found = name.find(middle, pos)
        if found < 0:
            return False
        pos = found + len(middle)
    last = parts[-1]
    return len(name) - pos >= len(last) and name.endswith(last)


@dataclass
class ScanReport:
    """The outcome. ``counts`` is set exactly when the scan finished with findings data
    (``COMPLETE``/``ACTIVE``); otherwise ``problem`` says in one line why there are none."""

    digest: str | None
    status: str
    scan_type: str | None = None
    counts: dict[str, int] | None = None
    description: str | None = None
    started_by_ecrpy: bool = False
    problem: str | None = None
    hint: str | None = None
    waited_seconds: float = 0.0
    completed_at: str | None = None
    notes: list[str] = field(default_factory=list)

    def breaches(self, threshold: str | None) -> int | None:
        """Findings at or above ``threshold`` (None: no threshold or no counts)."""
        if threshold is None or self.counts is None:
            return None
        return at_or_above(self.counts, threshold)

    def summary(self) -> str:
        """One human line: the counts, or why there are none."""
        kind = f" ({self.scan_type.lower()})" if self.scan_type else ""
        if self.counts is None:
            return f"scan{kind}: {self.status}: no findings to report"
        total = sum(self.counts.values())
        return f"scan{kind} {self.status}: {total} findings: {format_counts(self.counts)}"

    def as_dict(self, threshold: str | None) -> dict[str, Any]:
        """The ``scan`` object of the ``ecrpy.transfer/1`` document."""
        return {
            "status": self.status,
            "description": self.description,
            "scan_type": self.scan_type,
            "started_by_ecrpy": self.started_by_ecrpy,
            "severity_counts": dict(self.counts) if self.counts is not None else None,
            "total": sum(self.counts.values()) if self.counts is not None else None,
            "fail_on": threshold,
            "at_or_above_fail_on": self.breaches(threshold),
            "problem": self.problem,
            "completed_at": self.completed_at,
            "waited_seconds": round(self.waited_seconds, 3),
        }
