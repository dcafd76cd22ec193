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

The logic is AWS's documented policy evaluation logic (IAM User Guide, "Policy evaluation
logic", "How AWS enforcement code logic evaluates requests", "Cross-account policy evaluation
logic"; Organizations User Guide, SCPs and RCPs; the Principal/NotPrincipal elements):

1. An explicit Deny in any policy that applies (identity, resource, boundary, session, SCP,
   RCP, VPC endpoint policy) ends evaluation: explicitly denied. A ``Deny`` with
   ``NotPrincipal`` always applies to a caller with a permissions boundary.
2. RCPs (for the services RCPs support, ECR among them; never for service-linked roles) and
   SCPs (never for service principals or service-linked roles): every level given must allow.
   A VPC endpoint policy, when the request came through the endpoint (``aws:SourceVpce`` in
   the context), must allow too.
3. The caller's own side: the account root user has full access; anyone else needs an
   identity-policy allow, within the permissions boundary and the session policy. A
   federated-user session (GetFederationToken) without a session policy has no permissions.
4. Same account: the caller's own side, *or* a resource-policy allow that names the caller
   itself (IAM user, session ARN or ``*``: not limited by boundary or session policy), *or*
   one that names the caller's role (limited by boundary and session policy). A
   resource-policy allow naming the *account* delegates to the account: it grants nothing
   on its own.
5. Cross-account: the caller's own side and a resource-policy allow naming the caller (in
   any form, the account included) must both hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

from ..errors import PolicyDocumentError
from .conditions import evaluate_clause
from .matching import (
    PrincipalId,
    Strength,
    glob_match,
    match_aws_principal,
    names_exactly,
    parse_principal,
    resource_match,
)
from .policy import Policy, PolicyKind, PrincipalSpec, Statement
from .rcp import rcps_cover
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
    attached at that level; an empty list means no SCPs apply (e.g. no Organizations).
    ``rcps`` likewise, for the resource owner's account. ``vpce_policy`` is the policy of the
    VPC endpoint the request came through; it applies only when the context has
    ``aws:SourceVpce``."""

    identity_policies: Sequence[Policy] = ()
    resource_policy: Policy | None = None
    permissions_boundary: Policy | None = None
    session_policy: Policy | None = None
    scps: Sequence[Sequence[Policy]] = ()
    rcps: Sequence[Sequence[Policy]] = ()
    vpce_policy: Policy | None = None

    def __post_init__(self) -> None:
        slots: list[tuple[PolicyKind, Sequence[Policy | None]]] = [
            ("identity", self.identity_policies),
            ("resource", [self.resource_policy]),
            ("permissions_boundary", [self.permissions_boundary]),
            ("session", [self.session_policy]),
            ("scp", [p for level in self.scps for p in level]),
            ("rcp", [p for level in self.rcps for p in level]),
            ("vpce", [self.vpce_policy]),
        ]
        for kind, policies in slots:
            for policy in policies:
                if policy is not None and policy.kind != kind:
                    raise ValueError(f"{policy.name} was parsed as {policy.kind}, not {kind}")

    def all_policies(self) -> list[Policy]:
        """Every policy in the set, in evaluation-report order."""
        extra = [self.resource_policy, self.permissions_boundary, self.session_policy]
        scps = [p for level in self.scps for p in level]
        rcps = [p for level in self.rcps for p in level]
        vpce = [self.vpce_policy] if self.vpce_policy is not None else []
        return [*self.identity_policies, *(p for p in extra if p is not None), *scps, *rcps, *vpce]


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
    derived: dict[str, Scalar] = {}
    # Global condition keys AWS puts in every request: the time of the request, and whether
    # the caller is an AWS service principal. Left out, a Deny conditioned on them would
    # silently not apply.
    now = _now()
    derived["aws:currenttime"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    derived["aws:epochtime"] = int(now.timestamp())
    derived["aws:principalisawsservice"] = who.kind == "service"
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
    for key, value in derived.items():
        ctx.setdefault(key, (value,))
    return ctx


def _now() -> datetime:
    return datetime.now(timezone.utc)


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

    # -- which policy types apply --

    @property
    def scps_apply(self) -> bool:
        # Organizations, SCPs: they "don't affect users or roles in the management account"
        # (the caller decides by giving them or not), never service-linked roles, and they
        # restrict principals of the account, not AWS service principals.
        return self.who.kind != "service" and not self.who.service_linked

    @property
    def rcps_apply(self) -> bool:
        return rcps_cover(self.request.action) and not self.who.service_linked

    @property
    def vpce_applies(self) -> bool:
        return self.policies.vpce_policy is not None and "aws:sourcevpce" in self.ctx

    def applicable(self) -> list[Policy]:
        ps = self.policies
        out = [*ps.identity_policies]
        out += [p for p in (ps.resource_policy, ps.permissions_boundary, ps.session_policy) if p]
        if self.scps_apply:
            out += [p for level in ps.scps for p in level]
        if self.rcps_apply:
            out += [p for level in ps.rcps for p in level]
        if self.vpce_applies and ps.vpce_policy is not None:
            out.append(ps.vpce_policy)
        return out

    # -- matching --

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
        if self.policies.permissions_boundary is not None and self.who.kind != "service":
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
            if pattern is not None and resource_match(pattern, self.request.resource):
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
        denies = [
            self._matched(policy, stmt)
            for policy in self.applicable()
            for stmt, _ in self.hits(policy, "Deny")
        ]
        if denies:
            return Decision("explicitly_denied", denies)

        allowed: list[Reason] = []
        failed: list[Reason] = []
        ps = self.policies
        for label, kind, levels, applies in (
            ("rcps", "resource control policy", ps.rcps, self.rcps_apply),
            ("scps", "service control policy", ps.scps, self.scps_apply),
        ):
            if not applies:
                continue
            for level, policies in enumerate(levels):
                level_allows = [r for p in policies for r in self._allows(p)]
                allowed += level_allows
                if not level_allows:
                    failed.append(
                        self._missing(
                            f"{label}[{level}]", f"no {kind} at level {level} allows {self.what}"
                        )
                    )
        if self.vpce_applies and ps.vpce_policy is not None:
            found = self._allows(ps.vpce_policy)
            allowed += found
            if not found:
                failed.append(
                    self._missing(
                        ps.vpce_policy.name,
                        f"the VPC endpoint policy does not allow {self.what}",
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
        if self.who.kind == "federated-user" and self.policies.session_policy is None:
            # STS GetFederationToken: "if you do not pass any session policies, then the
            # resulting federated user session has no permissions" (except what a resource
            # policy grants to the session itself).
            missing.append(
                self._missing(
                    "session_policy",
                    "a federated-user session without a session policy has no permissions "
                    "of its own",
                )
            )
        return allows, missing

    def _own_side(self) -> tuple[list[Reason], list[Reason]]:
        """The caller's own permissions: identity allow within boundary and session policy."""
        limit_allows, limit_missing = self._limits()
        if self.who.kind == "root":
            # "By default, all requests are implicitly denied with the exception of the AWS
            # account root user, which has full access."
            root = Reason(
                "root", None, None, "Allow", "the account root user has full access of its own"
            )
            return [root, *limit_allows], limit_missing
        identity = [r for p in self.policies.identity_policies for r in self._allows(p)]
        missing = list(limit_missing)
        if not identity:
            missing.insert(
                0,
                self._missing("identity_policies", f"no identity-based policy allows {self.what}"),
            )
        return identity + limit_allows, missing

    def _grant(self) -> tuple[list[Reason], list[Reason]]:
        """(reasons for the grant, reasons it is missing): steps 3 to 5 of the module doc."""
        ps = self.policies
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

        own, own_missing = self._own_side()
        owner = _resource_account(self.request)
        if owner is not None and owner != self.who.account:
            return self._cross_account(own, own_missing, owner)

        if not own_missing:
            return own, []
        assert resource is not None or not resource_hits
        by = {strength: [s for s, k in resource_hits if k == strength] for strength in STRENGTHS}
        if resource is not None and by["direct"]:
            note = " (names the caller itself; not limited by boundary or session policy)"
            return [self._matched(resource, s, note) for s in by["direct"]], []
        limit_allows, limit_missing = self._limits()
        if resource is not None and by["role"] and not limit_missing:
            note = " (names the caller's role)"
            return [self._matched(resource, s, note) for s in by["role"]] + limit_allows, []
        notes: list[Reason] = []
        if resource is not None and by["role"]:
            note = (
                " but it names the caller's role, so the permissions boundary and session "
                "policy limit it"
            )
            notes += [self._matched(resource, s, note) for s in by["role"]]
        if resource is not None and by["account"]:
            note = (
                " but it names the caller's account, which delegates to the account: an "
                "identity-based policy must allow"
            )
            notes += [self._matched(resource, s, note) for s in by["account"]]
        if not resource_hits and own_missing and own_missing[0].policy == "identity_policies":
            own_missing = [
                self._missing(
                    "identity_policies",
                    f"no identity-based or resource-based policy allows {self.what}",
                ),
                *own_missing[1:],
            ]
        return [], notes + own_missing

    def _cross_account(
        self, own: list[Reason], own_missing: list[Reason], owner: str
    ) -> tuple[list[Reason], list[Reason]]:
        resource = self.policies.resource_policy
        resource_allows = self._allows(resource, " (cross-account)")
        missing = [
            Reason(
                r.policy,
                r.statement,
                r.sid,
                r.effect,
                f"cross-account request: {r.detail} (account {self.who.account})",
            )
            for r in own_missing
        ]
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
        return own + resource_allows, []


STRENGTHS: tuple[Strength, ...] = ("direct", "role", "account")
