"""What ``ecrpy check`` (or push/pull's pre-flight) was asked (``CheckRequest``) and the
superset of actions it might need, known before any repository fact (``superset``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..permissions.actions import ImageRef, RequiredAction
    from ..registry import Registry


@dataclass
class CheckRequest:
    """What was asked: ``repo`` is the repository's name in its ARN (ECR Public: without the
    alias)."""

    ref: ImageRef
    registry: Registry
    operation: str
    method: str
    create_repo: bool
    repo: str

    @property
    def probing(self) -> bool:
        return self.method in ("auto", "probe")

    @property
    def simulating(self) -> bool:
        return self.method in ("auto", "simulate")

    @property
    def evaluating(self) -> bool:
        return self.method in ("auto", "evaluate")


def superset(req: CheckRequest, account: str | None) -> list[RequiredAction]:
    """Every action that might be required, so probes and simulation start right away; the
    final list is cut down once the repository facts are known."""
    from ..permissions import actions as am

    reg = req.registry
    actions = am.required_actions(
        req.operation,
        reg,
        req.repo,
        create_repo=req.create_repo,
        repository_exists=None,
        pull_through="(any)" if not reg.public else None,
        account=account,
    )
    if req.operation == "push" and not req.create_repo and not reg.public:
        actions.append(
            am.RequiredAction(
                am.CREATE_REPOSITORY, actions[-1].resource, "create the missing repository"
            )
        )
    return actions
