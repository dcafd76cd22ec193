"""Does one policy statement apply to one request? AWS's matching of a statement's elements
(IAM JSON policy elements reference): ``Action``/``NotAction``, ``Resource``/``NotResource``
(with policy variables), ``Principal``/``NotPrincipal`` in resource-based policies, and every
``Condition`` clause. For a resource-based policy it also says *how* the principal was named
(``Strength``: the caller itself, its role, or its account), which the decision flow in
``evaluate`` needs for same-account grants."""

from __future__ import annotations

from .conditions import evaluate_clause
from .matching import (
    PrincipalId,
    Strength,
    glob_match,
    match_aws_principal,
    names_exactly,
    resource_match,
)
from .policy import Policy, PrincipalSpec, Statement
from .variables import Context, render_pattern


def _service_named(spec: PrincipalSpec, who: PrincipalId) -> bool:
    return who.kind == "service" and any(s.lower() == who.name.lower() for s in spec.service)


class StatementMatcher:
    """Matches statements against one request: ``action`` and ``resource`` of the call, the
    parsed caller ``who``, the normalised context ``ctx``, and whether the caller has a
    permissions boundary (which changes what a ``Deny`` with ``NotPrincipal`` does)."""

    def __init__(
        self, action: str, resource: str, who: PrincipalId, ctx: Context, boundary_attached: bool
    ) -> None:
        self.action = action
        self.resource = resource
        self.who = who
        self.ctx = ctx
        self.boundary_attached = boundary_attached

    def _principal_strength(self, spec: PrincipalSpec, who: PrincipalId) -> Strength | None:
        if spec.everyone:
            return "direct"
        best: Strength | None = None
        for value in spec.aws:
            strength = match_aws_principal(value, who)
            if strength == "direct":
                return strength
            if strength == "role" or best is None:
                best = strength or best
        if _service_named(spec, who):
            return "direct"
        return best

    def _principal_applies(self, stmt: Statement) -> Strength | None:
        spec = stmt.principal
        if spec is None:
            return "direct"  # not a resource policy: the caller is implicitly the principal
        if not stmt.not_principal:
            return self._principal_strength(spec, self.who)
        # IAM reference, NotPrincipal: "NotPrincipal must be used with "Effect":"Deny". Using
        # it with "Effect":"Allow" is not supported." Such an Allow grants nothing here.
        if stmt.effect == "Allow":
            return None
        # Permissions boundaries: "The NotPrincipal element with a Deny effect will always
        # deny any IAM principal that has a permissions boundary policy attached, regardless
        # of the values specified in the NotPrincipal element."
        if self.boundary_attached and self.who.kind != "service":
            return "direct"
        # NotPrincipal: AWS may check the account, then the role, then the session or user; a
        # Deny still applies unless every identity in that chain is listed.
        listed = [
            any(names_exactly(v, link) for v in spec.aws) or _service_named(spec, link)
            for link in self.who.chain()
        ]
        return None if spec.everyone or all(listed) else "direct"

    def _resource_matches(self, stmt: Statement) -> bool:
        if stmt.resources is None:
            return True  # a resource policy without Resource covers its own resource
        hit = False
        for template in stmt.resources:
            pattern = render_pattern(template, self.ctx, wildcards=True)
            if pattern is not None and resource_match(pattern, self.resource):
                hit = True
                break
        return hit != stmt.not_resource

    def matches(self, stmt: Statement) -> Strength | None:
        """Whether ``stmt`` applies to the request; for resource policies, how the principal
        was named."""
        action_hit = any(glob_match(p, self.action, ignore_case=True) for p in stmt.actions)
        if action_hit == stmt.not_action or not self._resource_matches(stmt):
            return None
        strength = self._principal_applies(stmt)
        if strength is None:
            return None
        if not all(evaluate_clause(c, self.ctx) for c in stmt.conditions):
            return None
        return strength

    def hits(self, policy: Policy | None, effect: str) -> list[tuple[Statement, Strength]]:
        if policy is None:
            return []
        out = []
        for stmt in policy.statements:
            if stmt.effect == effect:
                strength = self.matches(stmt)
                if strength is not None:
                    out.append((stmt, strength))
        return out
