"""The typed result of a pre-flight check (``CheckResult``) and its ``--json`` document.

The document's shape is ``ecrpy.check/1``, described in docs/check-json-schema.md."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..ecr_repository import RepositoryFacts
    from ..permissions.actions import ImageRef
    from ..permissions.fix import Fix
    from ..permissions.gather import Gap, Gathered
    from ..permissions.verdict import ActionVerdict
    from ..registry import Registry

SCHEMA = "ecrpy.check/1"
METHODS = ("auto", "probe", "simulate", "evaluate")
Verdict = Literal["allowed", "denied", "refused", "undetermined", "repository_missing"]
# ``refused``: permissions are fine but ECR would refuse the operation itself (an existing tag
# in an IMMUTABLE repository; a pull of a tag that does not exist), as ``ecrpy push/pull``
# refuse it (exit 3). ``repository_missing``: not a permission question at all.
EXIT_CODES: dict[str, int] = {
    "allowed": 0,
    "denied": 3,
    "refused": 3,
    "undetermined": 4,
    "repository_missing": 5,
}


@dataclass
class CheckResult:
    """Everything a pre-flight found.

    ``problems``: why the operation would fail other than by a permission (missing repository,
    tag taken, tag missing); ``notes``: what was and was not checked, for the reader;
    ``suggestion``: one line for a missing repository (``--create-repo`` or the repository
    creation template that would create it)."""

    image: ImageRef
    registry: Registry
    operation: str
    method: str
    repository_arn: str
    gathered: Gathered
    actions: list[ActionVerdict]
    verdict: Verdict
    problems: list[str] = field(default_factory=list)
    fix: Fix | None = None
    pull_through_prefix: str | None = None
    identity_type: str = "unknown"
    elapsed: float = 0.0
    notes: list[str] = field(default_factory=list)
    suggestion: str | None = None
    nearest_tags: list[str] | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def gaps(self) -> list[Gap]:
        return list(self.gathered.gaps)

    def as_dict(self) -> dict[str, Any]:
        ident = self.gathered.identity
        facts = self.gathered.repository
        reg = self.registry
        return {
            "schema": SCHEMA,
            "image": str(self.image),
            "registry": {
                "host": reg.host,
                "account_id": reg.account_id,
                "region": reg.region,
                "partition": reg.partition,
                "public": reg.public,
                # GetRegistryPolicy, read for a pull under a pull-through cache prefix only
                "policy": self.gathered.registry_policy_state,
            },
            "repository": {
                "name": self.image.repository,
                "arn": self.repository_arn,
                "exists": facts.exists,
                "tag_mutability": facts.tag_mutability,
                "tag_exists": facts.tag_exists,
                "policy": facts.policy_state,
                "pull_through_prefix": self.pull_through_prefix,
                "encryption": _encryption(facts),
                "lifecycle": {
                    "policy": facts.lifecycle_policy,
                    "warnings": list(facts.lifecycle_warnings or []),
                },
            },
            "reference": {"tag": self.image.tag, "digest": self.image.digest},
            "operation": self.operation,
            "method": self.method,
            "identity": {
                "caller_arn": ident.caller_arn,
                "principal_arn": ident.principal_arn,
                "account": ident.account,
                "type": self.identity_type,
            },
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "problems": list(self.problems),
            "suggestion": self.suggestion,
            "nearest_tags": self.nearest_tags,
            "notes": list(self.notes),
            "actions": [a.as_dict() for a in self.actions],
            "gaps": [g.as_dict() for g in self.gathered.gaps],
            "fix": self.fix.as_dict() if self.fix is not None else None,
            "elapsed_seconds": round(self.elapsed, 3),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def render(self) -> str:
        from .render import render

        return render(self)


def _encryption(facts: RepositoryFacts) -> dict[str, Any] | None:
    """The repository's encryption; ``key`` where the key could be described."""
    if facts.encryption_type is None:
        return None
    return {
        "type": facts.encryption_type,
        "kms_key": facts.kms_key,
        "key": facts.key.as_dict() if facts.key is not None else None,
    }
