"""What reading the caller's own permissions finds: policies, who the caller is, and gaps.

A leaf: the IAM side (``caller_policies``), the repository side (``gather``), the verdict and
the check all speak these types; none of them is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# ``registry``: the private registry policy, which only the pull-through cache's
# BatchImportUpstreamImage and CreateRepository verdicts take into account.
Affects = Literal[
    "identity", "boundary", "resource", "session", "scp", "repository", "registry", "info"
]


@dataclass(frozen=True)
class Gap:
    """Something that decides permissions but could not be read.

    ``call``: the API call that failed or cannot exist (``iam:GetUserPolicy``,
    ``organizations`` for SCPs); ``subject``: what it would have told; ``affects``: which part
    of the evaluation is incomplete; ``reason``: the error code or why it cannot be read.
    """

    call: str
    subject: str
    affects: Affects
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {
            "call": self.call,
            "subject": self.subject,
            "affects": self.affects,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class FoundPolicy:
    """A policy document read from AWS, with the name a decision will cite."""

    name: str
    kind: Literal["identity", "permissions_boundary", "resource"]
    document: dict[str, Any]


@dataclass
class Identity:
    """Who calls. ``kind``: user, role (an assumed-role session), root, federated-user,
    unknown. ``principal_arn``: the IAM user or role ARN (with path when known)."""

    caller_arn: str | None = None
    account: str | None = None
    kind: str = "unknown"
    name: str | None = None
    principal_arn: str | None = None
    role_path_known: bool = False
