"""What one policy evaluation is asked: the API call (``Request``, its fields checked), every
policy that applies (``PolicySet``), and the request context as the evaluation reads it
(``request_context``: case-insensitive keys, value tuples, and the global keys AWS adds to
every request). Pure data; ``evaluate`` decides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..errors import PolicyDocumentError
from .matching import PrincipalId, parse_principal
from .policy import Policy, PolicyKind
from .variables import Scalar

ContextValue = Scalar | Sequence[Scalar]


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
