"""Ask AWS's own policy simulator (``iam:SimulatePrincipalPolicy``) about the required actions.

One call per distinct resource (``*`` for ``GetAuthorizationToken``, the repository ARN for
the rest) with:

* ``PolicySourceArn``: the IAM user, or the *role* ARN (with path) for an assumed-role
  session — the simulator does not accept session ARNs;
* ``ActionNames``/``ResourceArns``;
* ``ResourcePolicy`` (the repository policy JSON) and ``ResourceOwner``
  (``arn:<partition>:iam::<registry account>:root``). AWS requires a ``CallerArn`` with a
  resource policy when the source is not an IAM user, and accepts only IAM *user* ARNs there;
  so for a role the repository policy is left out and the result is marked
  ``resource_policy_included = False`` (an implicit deny is then not conclusive: the
  repository policy might grant);
* ``CallerArn``: the IAM user's own ARN for users;
* ``ContextEntries``: ``aws:RequestedRegion`` and ``aws:ResourceTag/<key>`` for each tag the
  repository carries, when known.

Results keep ``EvalDecision`` (``allowed``/``explicitDeny``/``implicitDeny``), the matched
statements (``SourcePolicyId``, type, position), ``MissingContextValues``, and the
Organizations and permissions-boundary details. A denied or failing call (moto does not
implement the operation and answers 500) makes the simulation *unavailable*, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .actions import RequiredAction
from .gather import describe_error


@dataclass(frozen=True)
class MatchedStatement:
    """A statement the simulator matched: ``source_policy_id`` is the policy's name (or
    ``PolicyInputList.N``/``RepositoryPolicy``), ``line`` its start line when given."""

    source_policy_id: str
    source_policy_type: str | None
    line: int | None

    def as_dict(self) -> dict[str, object]:
        return {
            "source_policy_id": self.source_policy_id,
            "source_policy_type": self.source_policy_type,
            "line": self.line,
        }


@dataclass(frozen=True)
class SimResult:
    """The simulator's answer for one action on one resource."""

    action: str
    resource: str
    decision: str  # allowed | explicitDeny | implicitDeny
    matched: tuple[MatchedStatement, ...] = ()
    missing_context: tuple[str, ...] = ()
    allowed_by_organizations: bool | None = None
    allowed_by_boundary: bool | None = None
    resource_policy_included: bool = True


@dataclass
class Simulation:
    """All answers, or why there are none (``available`` False, ``reason``)."""

    available: bool
    reason: str | None = None
    results: dict[tuple[str, str], SimResult] = field(default_factory=dict)

    def get(self, action: str, resource: str) -> SimResult | None:
        return self.results.get((action, resource))


def context_entries(
    region: str | None, resource_tags: Mapping[str, str] | None
) -> list[dict[str, Any]]:
    """ContextEntries for the values ecrpy knows."""
    out: list[dict[str, Any]] = []
    if region:
        out.append(
            {
                "ContextKeyName": "aws:RequestedRegion",
                "ContextKeyValues": [region],
                "ContextKeyType": "string",
            }
        )
    for key, value in sorted((resource_tags or {}).items()):
        out.append(
            {
                "ContextKeyName": f"aws:ResourceTag/{key}",
                "ContextKeyValues": [value],
                "ContextKeyType": "string",
            }
        )
    return out


def _parse_result(item: Mapping[str, Any], included: bool) -> SimResult:
    matched = tuple(
        MatchedStatement(
            str(m.get("SourcePolicyId", "")),
            m.get("SourcePolicyType"),
            (m.get("StartPosition") or {}).get("Line"),
        )
        for m in item.get("MatchedStatements") or []
    )
    org = item.get("OrganizationsDecisionDetail")
    boundary = item.get("PermissionsBoundaryDecisionDetail")
    return SimResult(
        action=str(item.get("EvalActionName", "")),
        resource=str(item.get("EvalResourceName", "*")),
        decision=str(item.get("EvalDecision", "")),
        matched=matched,
        missing_context=tuple(str(v) for v in item.get("MissingContextValues") or []),
        allowed_by_organizations=None if org is None else bool(org.get("AllowedByOrganizations")),
        allowed_by_boundary=None
        if boundary is None
        else bool(boundary.get("AllowedByPermissionsBoundary")),
        resource_policy_included=included,
    )


def simulate(
    iam: Any,
    *,
    principal_arn: str,
    principal_kind: str,
    actions: Sequence[RequiredAction],
    resource_policy: str | None = None,
    resource_account: str | None = None,
    partition: str = "aws",
    region: str | None = None,
    resource_tags: Mapping[str, str] | None = None,
) -> Simulation:
    """Run the simulator for ``actions``; never raises for AWS errors (see module doc)."""
    by_resource: dict[str, list[str]] = {}
    for req in actions:
        names = by_resource.setdefault(req.resource, [])
        if req.action not in names:
            names.append(req.action)
    sim = Simulation(available=True)
    for resource, names in by_resource.items():
        kwargs: dict[str, Any] = {
            "PolicySourceArn": principal_arn,
            "ActionNames": names,
            "ResourceArns": [resource],
        }
        included = True
        is_repo = resource != "*"
        if is_repo and resource_account:
            kwargs["ResourceOwner"] = f"arn:{partition}:iam::{resource_account}:root"
        if principal_kind == "user":
            kwargs["CallerArn"] = principal_arn
        if is_repo and resource_policy:
            if principal_kind == "user":
                kwargs["ResourcePolicy"] = resource_policy
            else:
                included = False
        entries = context_entries(region, resource_tags if is_repo else None)
        if entries:
            kwargs["ContextEntries"] = entries
        try:
            pages = iam.get_paginator("simulate_principal_policy").paginate(**kwargs)
            for page in pages:
                for item in page.get("EvaluationResults") or []:
                    res = _parse_result(item, included)
                    sim.results[(res.action, resource)] = res
        except Exception as exc:
            reason = describe_error(exc)
            if type(exc).__name__ == "ResponseParserError" or reason.startswith("5"):
                reason = f"{reason} (the endpoint failed or does not implement it)"
            return Simulation(available=False, reason=f"iam:SimulatePrincipalPolicy: {reason}")
    return sim
