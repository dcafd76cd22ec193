"""A doctor check's result (``Check``), its statuses and what the report makes of a list of
them. Owns nothing else; every check group imports it, so it imports no check.

Statuses: FAIL means docker or the helper will not work as configured; WARN means something a
user should know that does not break the configured use; SKIP means not checked (``--offline``).
"""

from __future__ import annotations

from collections.abc import Iterable

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
NETWORK_TIMEOUT = 5.0  # seconds for one engine or registry probe


class Check:
    """One line of the report."""

    __slots__ = ("detail", "fix", "name", "status")

    def __init__(self, status: str, name: str, detail: str, fix: str | None = None) -> None:
        self.status, self.name, self.detail, self.fix = status, name, detail, fix

    def as_dict(self) -> dict[str, str | None]:
        return {"status": self.status, "name": self.name, "detail": self.detail, "fix": self.fix}


def failed(checks: Iterable[Check]) -> bool:
    """True when any check FAILed (WARN and SKIP do not count)."""
    return any(c.status == FAIL for c in checks)


def unique_fixes(checks: Iterable[Check]) -> list[str]:
    """Each distinct fix once, in the order the checks name them."""
    seen: dict[str, None] = {}
    for check in checks:
        if check.fix:
            seen.setdefault(check.fix, None)
    return list(seen)
