"""The private registry policy in a pull through a cache: which actions it governs, how its
evaluation combines with the repository policy's, what the report says about it and how the
fix changes for it.

ECR User Guide, "IAM permissions required to sync an upstream registry with an Amazon ECR
private registry": ``ecr:BatchImportUpstreamImage`` "can be granted by using the private
registry permissions policy, an identity-based IAM policy, or by using the resource-based
repository permissions policy"; ``ecr:CreateRepository`` "by either an identity-based IAM
policy or the private registry permissions policy", and "if an IAM entity has more
permissions granted by an IAM policy than the registry permissions policy is granting, the
IAM policy takes precedence". So for those two actions the registry policy is one more
resource-based policy: the local evaluation runs once with the repository policy and once
with the registry policy, and an explicit deny in either denies, an allow in either allows
(:func:`either_resource_policy`; AWS's evaluation logic grants when any resource-based
statement does, and cross-account still needs the identity side in both runs). An unreadable
registry policy (another account's, or GetRegistryPolicy denied) leaves an implicit deny of
those two actions inconclusive, and the simulator, which cannot be given the registry policy,
cannot conclude an implicit deny of them while a registry policy exists or is unknown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..permissions.evaluate import Decision
    from ..permissions.gather import Gathered
    from ..permissions.verdict import ActionVerdict
    from .request import CheckRequest

REGISTRY_POLICY_ACTIONS = ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository")


def either_resource_policy(with_repository: Decision, with_registry: Decision) -> Decision:
    """One decision from two evaluations that differ only in the resource-based policy (the
    repository policy, the registry policy): an explicit deny in either denies; else an allow
    in either allows; else the implicit deny (module doc)."""
    for decision in (with_repository, with_registry):
        if decision.decision == "explicitly_denied":
            return decision
    for decision in (with_repository, with_registry):
        if decision.allowed:
            return decision
    return with_repository


def registry_policy_note(state: str, registry_account: str | None) -> str | None:
    """The registry policy's part in a pull-through pull (module doc)."""
    if state == "present":
        return (
            "the registry policy was read and evaluated with the repository policy for "
            "ecr:BatchImportUpstreamImage and ecr:CreateRepository"
        )
    if state == "none":
        return "the registry has no registry policy: only IAM and repository policies grant"
    if state == "unreadable":
        return (
            f"the registry policy of {registry_account or 'the registry'} could not be read: "
            "it may grant ecr:BatchImportUpstreamImage and ecr:CreateRepository (see gaps)"
        )
    return None


def registry_policy_fix(
    fix: Any,
    verdicts: list[ActionVerdict],
    registry: str | None,
    caller: str | None,
    repository_exists: bool | None,
) -> None:
    """Cross-account, the cache's CreateRepository is granted by the registry owner's registry
    policy, never by a repository policy; before the first pull there is no repository whose
    policy could grant BatchImportUpstreamImage either (module doc)."""
    denied = [
        v.action for v in verdicts if v.verdict == "denied" and v.action in REGISTRY_POLICY_ACTIONS
    ]
    if not denied or registry in (None, caller):
        return
    only_registry = {"ecr:CreateRepository"}
    if repository_exists is not True:
        only_registry.add("ecr:BatchImportUpstreamImage")
    stmt = fix.repository_statement
    if stmt is not None:
        stmt["Action"] = [a for a in stmt.get("Action", []) if a not in only_registry]
        if not stmt["Action"]:
            fix.repository_statement = None
    fix.notes.append(
        f"the registry owner ({registry}) grants {' and '.join(denied)} for the pull-through "
        "cache in the registry policy (aws ecr put-registry-policy), with a statement naming "
        "you as Principal and the cache repositories as Resource"
    )


def with_registry_policy(req: CheckRequest, out: Gathered, policy_set: Any) -> Any:
    """``policy_set`` with the registry policy as its resource-based policy, for a pull whose
    registry policy was read (None otherwise; an unparsable one is a ``registry`` gap)."""
    from dataclasses import replace

    from ..errors import PolicyDocumentError
    from ..permissions.policy import parse_policy

    doc = out.registry_policy
    if req.operation != "pull" or out.registry_policy_state != "present":
        return None
    if doc is None:
        out.gap("(parse)", "registry policy", "registry", "not JSON")
        return None
    try:
        policy = parse_policy(doc, "registry_policy", kind="resource", name="registry policy")
    except PolicyDocumentError as exc:
        out.gap("(parse)", "registry policy", "registry", f"not understood: {exc.message}")
        return None
    return replace(policy_set, resource_policy=policy)
