"""AWS IAM policy evaluation for one request: a pure function, no I/O.

Usage::

    from credhelper.permissions.evaluate import PolicySet, Request, evaluate
    from credhelper.permissions.policy import parse_policy

    decision = evaluate(
        Request("arn:aws:iam::111122223333:user/alice", "ecr:PutImage",
                "arn:aws:ecr:us-east-1:111122223333:repository/app"),
        PolicySet(identity_policies=[parse_policy(doc, "identity_policies[0]")]),
    )
    decision.decision  # "allowed" | "implicitly_denied" | "explicitly_denied"

The logic is AWS's documented "policy evaluation logic":

1. An explicit Deny in any applicable policy (identity, resource, boundary, session, SCP)
   ends evaluation: explicitly denied.
2. SCPs: when any level is given, every level (root first, down to the account) must allow.
3. Same account: an allow in an identity policy *or* the resource policy grants. Identity
   grants, and resource-policy grants that name the caller's role ARN or account, are limited
   by an implicit deny in the permissions boundary and session policy; a resource-policy
   grant naming the IAM user or role *session* ARN itself is not.
4. Cross-account: the identity side (identity policy within boundary and session policy) and
   the resource policy must both allow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..errors import PolicyDocumentError
from .conditions import evaluate_clause
from .matching import (
    PrincipalId,
    Strength,
    arn_match,
    glob_match,
    match_aws_principal,
    names_exactly,
    parse_principal,
)
from .policy import Policy, PolicyKind, PrincipalSpec, Statement
from .variables import Context, Scalar, render_pattern

ContextValue = Scalar | Sequence[Scalar]
DecisionName = Literal["allowed", "implicitly_denied", "explicitly_denied"]


@dataclass(frozen=True)
class Request:
    """One API call to evaluate.

    ``principal``: the caller's ARN (IAM user/role/root, STS assumed-role or federated-user
    session) or a service principal (``ecr.amazonaws.com``). ``resource``: an ARN or ``*``.
    ``context``: condition keys (case-insensitive) to a value or a list of values (a
    multivalued key; an empty list counts as missing);
    ``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:PrincipalType`` and (for IAM users)
    ``aws:username`` are derived from ``principal`` unless given. ``resource_account``
    overrides the account read from the resource ARN (needed for ARNs without one, such as
    S3's). Invalid fields raise ``PolicyDocumentError`` naming the field.
    """

    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    resource_account: str | None = None

    def __post_init__(self) -> None:
        try:
            parse_principal(self.principal)
        except ValueError as exc:
            raise PolicyDocumentError(f"principal: {exc}") from None
        service, colon, name = self.action.partition(":")
        if not (service and colon and name) or any(c in self.action for c in "*? "):
            raise PolicyDocumentError(f"action: {self.action!r} is not 'service:Action'")
        if not self.resource:
            raise PolicyDocumentError("resource: must be an ARN or '*'")
        if self.resource_account is not None and not (
            len(self.resource_account) == 12 and self.resource_account.isdigit()
        ):
            raise PolicyDocumentError("resource_account: must be a 12-digit account id")
        seen: set[str] = set()
        for key, value in self.context.items():
            if key.lower() in seen:
                raise PolicyDocumentError(
                    f"context: key {key!r} given twice (keys are case-insensitive)"
                )
            seen.add(key.lower())
            values = value if isinstance(value, (list, tuple)) else [value]
            if not all(isinstance(v, (str, bool, int, float)) for v in values):
                raise PolicyDocumentError(
                    f"context.{key}: must be a string, number, boolean or a list of them"
                )


@dataclass(frozen=True)
class PolicySet:
    """Every policy that applies to the request. Build each with ``parse_policy`` and the
    matching ``kind``. ``scps`` is a list of levels (root first), each a list of the SCPs
    attached at that level; an empty list means no SCPs apply (e.g. no Organizations)."""

    identity_policies: Sequence[Policy] = ()
    resource_policy: Policy | None = None
    permissions_boundary: Policy | None = None
    session_policy: Policy | None = None
    scps: Sequence[Sequence[Policy]] = ()

    def __post_init__(self) -> None:
        slots: list[tuple[PolicyKind, Sequence[Policy | None]]] = [
            ("identity", self.identity_policies),
            ("resource", [self.resource_policy]),
            ("permissions_boundary", [self.permissions_boundary]),
            ("session", [self.session_policy]),
            ("scp", [p for level in self.scps for p in level]),
        ]
        for kind, policies in slots:
            for policy in policies:
                if policy is not None and policy.kind != kind:
                    raise ValueError(f"{policy.name} was parsed as {policy.kind}, not {kind}")

    def all_policies(self) -> list[Policy]:
        """Every policy in the set, in evaluation-report order."""
        extra = [self.resource_policy, self.permissions_boundary, self.session_policy]
        scps = [p for level in self.scps for p in level]
        return [*self.identity_policies, *(p for p in extra if p is not None), *scps]


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


def request_context(request: Request, who: PrincipalId) -> dict[str, tuple[Scalar, ...]]:
    """The normalised context: lower-case keys, value tuples, derived principal keys added."""
    ctx: dict[str, tuple[Scalar, ...]] = {}
    for key, value in request.context.items():
        values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        if values:  # an empty list behaves like a missing key
            ctx[key.lower()] = values
    derived: dict[str, str] = {}
    if who.kind != "service":
        derived["aws:principalaccount"] = who.account
        derived["aws:principalarn"] = who.role_arn or who.arn
        derived["aws:principaltype"] = {
            "root": "Account",
            "user": "User",
            "role": "AssumedRole",
            "assumed-role": "AssumedRole",
            "federated-user": "FederatedUser",
        }[who.kind]
    if who.kind == "user":
        derived["aws:username"] = who.name
    for key, text in derived.items():
        ctx.setdefault(key, (text,))
    return ctx


def evaluate(request: Request, policy_set: PolicySet) -> Decision:
    """Decide ``request`` against ``policy_set`` with AWS's evaluation logic (see module doc)."""
    return _Evaluation(request, policy_set).run()


def _resource_account(request: Request) -> str | None:
    if request.resource_account:
        return request.resource_account
    parts = request.resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[4]:
        return parts[4]
    return None


def _service_named(spec: PrincipalSpec, who: PrincipalId) -> bool:
    return who.kind == "service" and any(s.lower() == who.name.lower() for s in spec.service)


class _Evaluation:
    def __init__(self, request: Request, policy_set: PolicySet) -> None:
        self.request = request
        self.policies = policy_set
        self.who = parse_principal(request.principal)
        self.ctx: Context = request_context(request, self.who)
        self.what = f"{request.action} on {request.resource}"

    # -- matching --

    def _principal_strength(self, spec: PrincipalSpec, who: PrincipalId) -> Strength | None:
        if spec.everyone:
            return "direct"
        best: Strength | None = None
        for value in spec.aws:
            strength = match_aws_principal(value, who)
            if strength == "direct":
                return strength
            best = best or strength
        if _service_named(spec, who):
            return "direct"
        return best

    def _principal_applies(self, stmt: Statement) -> Strength | None:
        spec = stmt.principal
        if spec is None:
            return "direct"  # not a resource policy: the caller is implicitly the principal
        if not stmt.not_principal:
            return self._principal_strength(spec, self.who)
        # NotPrincipal: AWS may check the account, then the role, then the session or user
        # (IAM reference, NotPrincipal). Read conservatively: a Deny still applies unless every
        # identity in that chain is listed; an Allow no longer applies once any of them is.
        listed = [
            any(names_exactly(v, link) for v in spec.aws) or _service_named(spec, link)
            for link in self.who.chain()
        ]
        if spec.everyone:
            excluded = True
        elif stmt.effect == "Deny":
            excluded = all(listed)
        else:
            excluded = any(listed)
        return None if excluded else "direct"

    def _resource_matches(self, stmt: Statement) -> bool:
        if stmt.resources is None:
            return True  # a resource policy without Resource covers its own resource
        hit = False
        for template in stmt.resources:
            pattern = render_pattern(template, self.ctx, wildcards=True)
            if pattern is not None and arn_match(pattern, self.request.resource):
                hit = True
                break
        return hit != stmt.not_resource

    def matches(self, stmt: Statement) -> Strength | None:
        """Whether ``stmt`` applies to the request; for resource policies, how the principal
        was named."""
        action_hit = any(glob_match(p, self.request.action, ignore_case=True) for p in stmt.actions)
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

    # -- reasons --

    def _matched(self, policy: Policy, stmt: Statement, note: str = "") -> Reason:
        detail = f"statement matched: {stmt.effect} {self.what}{note}"
        return Reason(policy.name, stmt.index, stmt.sid, stmt.effect, detail)

    def _allows(self, policy: Policy | None, note: str = "") -> list[Reason]:
        if policy is None:
            return []
        return [self._matched(policy, s, note) for s, _ in self.hits(policy, "Allow")]

    @staticmethod
    def _missing(policy: str, detail: str) -> Reason:
        return Reason(policy, None, None, "ImplicitDeny", detail)

    # -- the decision --

    def run(self) -> Decision:
        ps = self.policies
        denies = [
            self._matched(policy, stmt)
            for policy in ps.all_policies()
            for stmt, _ in self.hits(policy, "Deny")
        ]
        if denies:
            return Decision("explicitly_denied", denies)

        allowed: list[Reason] = []
        failed: list[Reason] = []
        for level, scps in enumerate(ps.scps):
            level_allows = [r for p in scps for r in self._allows(p)]
            allowed += level_allows
            if not level_allows:
                failed.append(
                    self._missing(
                        f"scps[{level}]",
                        f"no service control policy at level {level} allows {self.what}",
                    )
                )

        grant_reasons, grant_failures = self._grant()
        if failed or grant_failures:
            return Decision("implicitly_denied", failed + grant_failures)
        return Decision("allowed", allowed + grant_reasons)

    def _limits(self) -> tuple[list[Reason], list[Reason]]:
        """Allows and missing allows of the permissions boundary and session policy."""
        allows: list[Reason] = []
        missing: list[Reason] = []
        for policy, label in (
            (self.policies.permissions_boundary, "the permissions boundary"),
            (self.policies.session_policy, "the session policy"),
        ):
            if policy is None:
                continue
            found = self._allows(policy)
            allows += found
            if not found:
                missing.append(
                    self._missing(policy.name, f"no statement in {label} allows {self.what}")
                )
        return allows, missing

    def _grant(self) -> tuple[list[Reason], list[Reason]]:
        """(reasons for the grant, reasons it is missing): steps 3 and 4 of the module doc."""
        ps = self.policies
        identity = [r for p in ps.identity_policies for r in self._allows(p)]
        limit_allows, limit_missing = self._limits()
        resource = ps.resource_policy
        resource_hits = self.hits(resource, "Allow")
        if self.who.kind == "service":
            if resource is not None and resource_hits:
                return [self._matched(resource, s) for s, _ in resource_hits], []
            return [], [
                self._missing(
                    "resource_policy",
                    f"no resource policy statement allows {self.what} for service {self.who.name}",
                )
            ]

        owner = _resource_account(self.request)
        if owner is not None and owner != self.who.account:
            return self._cross_account(identity, limit_allows, limit_missing, owner)

        # Same account: either grant path suffices.
        if identity and not limit_missing:
            return identity + limit_allows, []
        assert resource is not None or not resource_hits
        direct = [s for s, strength in resource_hits if strength == "direct"]
        indirect = [s for s, strength in resource_hits if strength == "indirect"]
        if resource is not None and direct:
            note = " (names the principal itself; not limited by boundary or session policy)"
            return [self._matched(resource, s, note) for s in direct], []
        if resource is not None and indirect and not limit_missing:
            note = " (names the principal's role or account)"
            return [self._matched(resource, s, note) for s in indirect] + limit_allows, []
        if not identity and not resource_hits:
            return [], [
                self._missing(
                    "identity_policies",
                    f"no identity-based or resource-based policy allows {self.what}",
                )
            ]
        # An allow exists but the boundary or session policy does not cover it.
        limited = []
        if resource is not None:
            note = (
                " but it names the principal's role or account, so the permissions "
                "boundary and session policy limit it"
            )
            limited = [self._matched(resource, s, note) for s in indirect]
        return [], limited + limit_missing

    def _cross_account(
        self,
        identity: list[Reason],
        limit_allows: list[Reason],
        limit_missing: list[Reason],
        owner: str,
    ) -> tuple[list[Reason], list[Reason]]:
        resource = self.policies.resource_policy
        resource_allows = self._allows(resource, " (cross-account)")
        missing: list[Reason] = []
        if not identity:
            missing.append(
                self._missing(
                    "identity_policies",
                    f"cross-account request: no identity-based policy in "
                    f"account {self.who.account} allows {self.what}",
                )
            )
        missing += limit_missing
        if not resource_allows:
            missing.append(
                self._missing(
                    "resource_policy",
                    f"cross-account request: no resource policy in account "
                    f"{owner} allows {self.what} for {self.request.principal}",
                )
            )
        if missing:
            return [], missing
        return identity + limit_allows + resource_allows, []
