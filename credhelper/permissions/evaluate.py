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

Rooms: ``evaluation_input`` (``Request``, ``PolicySet``, the request context),
``statement_match`` (does a statement apply, and how it names the principal), ``decision``
(``Decision``, ``Reason``); this module is the decision flow above, steps 1 to 5.
"""

from __future__ import annotations

from .decision import Decision, DecisionName, Reason
from .evaluation_input import ContextValue, PolicySet, Request, request_context
from .matching import Strength, parse_principal
from .policy import Policy, Statement
from .rcp import rcps_cover
from .statement_match import StatementMatcher
from .variables import Context

__all__ = [
    "ContextValue",
    "Decision",
    "DecisionName",
    "PolicySet",
    "Reason",
    "Request",
    "evaluate",
    "request_context",
]


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


class _Evaluation:
    def __init__(self, request: Request, policy_set: PolicySet) -> None:
        self.request = request
        self.policies = policy_set
        self.who = parse_principal(request.principal)
        self.ctx: Context = request_context(request, self.who)
        self.what = f"{request.action} on {request.resource}"
        self.matcher = StatementMatcher(
            request.action,
            request.resource,
            self.who,
            self.ctx,
            boundary_attached=policy_set.permissions_boundary is not None,
        )

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

    def hits(self, policy: Policy | None, effect: str) -> list[tuple[Statement, Strength]]:
        return self.matcher.hits(policy, effect)

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
