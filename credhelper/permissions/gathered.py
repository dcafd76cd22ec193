"""What one check read, in one record: the caller (``Identity``), the repository facts, the
caller's identity policies and boundary, the registry policy, and every ``Gap``. The gather
reads (``caller_policies``, ``repository_reads``) write it from several threads under its
``lock``; the verdict reads it when they are done."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from ..ecr_repository import RepositoryFacts
from .findings import Affects, FoundPolicy, Gap, Identity


@dataclass
class Gathered:
    """Everything read, plus the gaps. Mutated by the gather tasks under ``lock``."""

    identity: Identity = field(default_factory=Identity)
    repository: RepositoryFacts = field(default_factory=RepositoryFacts)
    identity_policies: list[FoundPolicy] = field(default_factory=list)
    boundary: FoundPolicy | None = None
    gaps: list[Gap] = field(default_factory=list)
    # GetRegistryPolicy (read only for a pull under a pull-through cache prefix): present,
    # none, unreadable; unknown when not read.
    registry_policy_state: Literal["present", "none", "unreadable", "unknown"] = "unknown"
    registry_policy_text: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def gap(self, call: str, subject: str, affects: Affects, reason: str) -> None:
        with self.lock:
            self.gaps.append(Gap(call, subject, affects, reason))

    def add_policy(self, policy: FoundPolicy) -> None:
        with self.lock:
            if policy.kind == "permissions_boundary":
                self.boundary = policy
            else:
                self.identity_policies.append(policy)

    @property
    def resource_policy(self) -> dict[str, Any] | None:
        return _policy_document(self.repository.policy_text)

    @property
    def registry_policy(self) -> dict[str, Any] | None:
        return _policy_document(self.registry_policy_text)


def _policy_document(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
