"""The local evaluation as one source of evidence: parse the policies ``gather`` found (an
unparsable one becomes a gap), build the request context (region, resource tags) and answer
each required action with ``permissions.evaluate`` -- with the registry policy as a second
resource-based policy where it applies (``registry_policy``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .registry_policy import REGISTRY_POLICY_ACTIONS, either_resource_policy, with_registry_policy

if TYPE_CHECKING:
    from ..permissions.actions import RequiredAction
    from ..permissions.gather import Gathered, Identity
    from ..permissions.verdict import Evidence
    from .request import CheckRequest

Evaluator = Callable[["RequiredAction"], "Evidence"]


def evaluator_for(req: CheckRequest, out: Gathered, ident: Identity) -> Evaluator:
    """A function RequiredAction -> Evidence from the local evaluator on ``out``."""
    from ..errors import PolicyDocumentError
    from ..permissions import verdict as vm
    from ..permissions.evaluate import PolicySet, Request, evaluate
    from ..permissions.policy import parse_policy

    reg = req.registry
    if ident.kind == "root" and (reg.account_id in (None, ident.account)):

        def root(_req: RequiredAction) -> Evidence:
            return vm.Evidence("allowed", "the account's root user", assumptions=(vm.ASSUME_SCP,))

        return root
    if ident.kind not in ("user", "role") or not ident.caller_arn:

        def none(_req: RequiredAction) -> Evidence:
            return vm.Evidence("unavailable", f"cannot evaluate a {ident.kind} principal")

        return none
    caller_arn = ident.caller_arn
    identity_policies = []
    for i, p in enumerate(out.identity_policies):
        try:
            identity_policies.append(
                parse_policy(p.document, f"identity_policies[{i}]", kind="identity", name=p.name)
            )
        except PolicyDocumentError as exc:
            out.gap("(parse)", p.name, "identity", f"not understood: {exc.message}")
    boundary = None
    if out.boundary is not None:
        try:
            boundary = parse_policy(
                out.boundary.document,
                "permissions_boundary",
                kind="permissions_boundary",
                name=out.boundary.name,
            )
        except PolicyDocumentError as exc:
            out.gap("(parse)", out.boundary.name, "boundary", f"not understood: {exc.message}")
    resource = None
    doc = out.resource_policy
    if doc is not None:
        try:
            resource = parse_policy(
                doc, "repository_policy", kind="resource", name="repository policy"
            )
        except PolicyDocumentError as exc:
            out.gap("(parse)", "repository policy", "resource", f"not understood: {exc.message}")
    elif out.repository.policy_state == "present":
        out.gap("(parse)", "repository policy", "resource", "not JSON")
    policy_set = PolicySet(
        identity_policies=identity_policies,
        resource_policy=resource,
        permissions_boundary=boundary,
    )
    with_registry = with_registry_policy(req, out, policy_set)
    context: dict[str, Any] = {"aws:RequestedRegion": reg.region}
    for key, value in (out.repository.tags or {}).items():
        context[f"aws:ResourceTag/{key}"] = value
    gaps = list(out.gaps)

    def run(r: RequiredAction) -> Evidence:
        ctx = context if r.resource != "*" else {"aws:RequestedRegion": reg.region}
        registry = req.operation == "pull" and r.action in REGISTRY_POLICY_ACTIONS
        try:
            request = Request(caller_arn, r.action, r.resource, ctx)
            decision = evaluate(request, policy_set)
            if registry and with_registry is not None:
                decision = either_resource_policy(decision, evaluate(request, with_registry))
        except PolicyDocumentError as exc:
            return vm.Evidence("unavailable", f"evaluation failed: {exc.message}")
        return vm.evaluation_evidence(decision, gaps, registry_policy_applies=registry)

    return run
