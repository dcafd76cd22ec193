"""What one policy evaluation answers: ``Decision`` (allowed / implicitly denied / explicitly
denied) and the ``Reason`` lines that say which statement, or which missing allow, decided."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DecisionName = Literal["allowed", "implicitly_denied", "explicitly_denied"]


@dataclass(frozen=True)
class Reason:
    """Why a decision came out as it did. ``statement`` is the statement's index in its
    policy (None for a reason about a missing allow); ``effect`` is ``Allow``, ``Deny`` or
    ``ImplicitDeny``."""

    policy: str
    statement: int | None
    sid: str | None
    effect: str
    detail: str

    def as_dict(self) -> dict[str, object]:
        """The JSON shape printed by ``ecrpy policy simulate``."""
        return {
            "policy": self.policy,
            "statement": self.statement,
            "sid": self.sid,
            "effect": self.effect,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Decision:
    """The outcome: ``allowed``, ``implicitly_denied`` or ``explicitly_denied``."""

    decision: DecisionName
    reasons: list[Reason]

    @property
    def allowed(self) -> bool:
        """True only for ``allowed``."""
        return self.decision == "allowed"

    def as_dict(self) -> dict[str, object]:
        """The JSON shape printed by ``ecrpy policy simulate``."""
        return {"decision": self.decision, "reasons": [r.as_dict() for r in self.reasons]}
