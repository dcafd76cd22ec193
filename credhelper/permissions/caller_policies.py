"""Who the caller is and the IAM policies that apply to it, read with its own credentials.

* ``sts:GetCallerIdentity``: the caller ARN (:func:`parse_caller`). An assumed-role session
  ``arn:P:sts::ACCT:assumed-role/ROLE/SESSION`` maps to its role, whose path and permissions
  boundary ``iam:GetRole`` tells.
* IAM user: ``GetUser`` (boundary), inline and attached managed policies, its groups
  (``ListGroupsForUser``) and each group's inline and attached policies.
* IAM role: ``GetRole`` (path, boundary), inline and attached managed policies.
* Managed policies and boundaries: the document of the policy's default version.

The questions go through :class:`~.iam_reader.IamReader`; what it cannot read becomes a
:class:`~.findings.Gap`. Session policies and SCPs cannot be read back by the caller at all
and are always gaps (``affects`` ``session``/``scp``).

Each read is scheduler work (:mod:`.scheduler`) returning the reads its answer made possible,
so the critical path is the longest chain (``ListAttachedUserPolicies`` → ``GetPolicy`` →
``GetPolicyVersion``), not the number of calls. The job named :data:`IDENTITY_KNOWN` runs the
``on_identity`` hooks once the identity is final (for a role: after ``GetRole``).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, Literal, Protocol

from .findings import Affects, FoundPolicy, Identity
from .iam_reader import IamReader, PrincipalKind, Unreadable
from .scheduler import Job, Task

IDENTITY_KNOWN = "identity"
_GET_ROLE = "iam:GetRole"

IdentityHook = Callable[[Identity], "Iterable[Task] | None"]


class Findings(Protocol):
    """Where reads land (``gather.Gathered``); ``gap``/``add_policy`` are thread-safe."""

    identity: Identity

    def gap(self, call: str, subject: str, affects: Affects, reason: str) -> None: ...

    def add_policy(self, policy: FoundPolicy) -> None: ...


def parse_caller(arn: str) -> Identity:
    """Identity from a caller ARN (no I/O). Assumed-role sessions map to the role ARN without
    its path (``role_path_known`` False) until ``iam:GetRole`` tells the path."""
    ident = Identity(caller_arn=arn)
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return ident
    partition, service, account, resource = parts[1], parts[2], parts[4], parts[5]
    ident.account = account or None
    if service == "iam" and resource == "root":
        ident.kind, ident.principal_arn = "root", arn
    elif service == "iam" and resource.startswith("user/"):
        ident.kind = "user"
        ident.name = resource.rsplit("/", 1)[-1]
        ident.principal_arn = arn
    elif service == "sts" and resource.startswith("assumed-role/"):
        pieces = resource.split("/")
        if len(pieces) >= 3:
            ident.kind = "role"
            ident.name = pieces[1]
            ident.principal_arn = f"arn:{partition}:iam::{account}:role/{pieces[1]}"
    elif service == "iam" and resource.startswith("role/"):
        ident.kind = "role"
        ident.name = resource.rsplit("/", 1)[-1]
        ident.principal_arn = arn
        ident.role_path_known = True
    elif service == "sts" and resource.startswith("federated-user/"):
        ident.kind = "federated-user"
        ident.name = resource.split("/", 1)[1]
    return ident


class CallerPolicies:
    """The identity-side reads of one check. ``reader`` is called when a read runs: the IAM
    client may be created while ``GetCallerIdentity`` is still on the network."""

    def __init__(
        self,
        *,
        sts: Any,
        reader: Callable[[], IamReader],
        findings: Findings,
        use_iam: bool,
        read_policies: bool,
        on_identity: Sequence[IdentityHook],
    ) -> None:
        self._sts = sts
        self._reader = reader
        self._findings = findings
        self._use_iam = use_iam
        self._read_policies = read_policies
        self._on_identity = on_identity
        self._managed_reads = itertools.count()  # unique job names; read under the lock
        self._lock = threading.Lock()

    def jobs(self) -> list[Job]:
        return [Job("sts:GetCallerIdentity", self._caller)]

    def _caller(self) -> list[Task]:
        resp = self._sts.get_caller_identity()  # failures are credential errors: propagate
        ident = parse_caller(str(resp["Arn"]))
        ident.account = ident.account or str(resp.get("Account") or "") or None
        self._findings.identity = ident
        self._never_readable(ident)
        work: list[Task] = []
        identity_needs: tuple[str, ...] = ()
        if not self._use_iam:
            if ident.kind in ("user", "role") and self._read_policies:
                self._findings.gap("iam:*", "identity policies", "identity", "IAM not queried")
        elif ident.kind == "user" and ident.name and self._read_policies:
            work += self._user_work(ident.name)
        elif ident.kind == "role" and ident.name:
            work += self._role_work(ident.name)
            identity_needs = (_GET_ROLE,)  # the role's path is part of its identity
        # First in the list, so only its needs hold it back (no accident of order).
        return [Job(IDENTITY_KNOWN, self._announce, needs=identity_needs), *work]

    def _never_readable(self, ident: Identity) -> None:
        gap = self._findings.gap
        if ident.kind == "role":
            gap(
                "(none)",
                "the session policy of the assumed-role session",
                "session",
                "session policies cannot be read back by the caller",
            )
        if ident.kind == "federated-user":
            gap(
                "(none)",
                "the policies of the IAM user that federated and the session policy",
                "identity",
                "not readable from a federated session",
            )
        gap(
            "organizations:DescribePolicy",
            "service and resource control policies (SCPs, RCPs) of the account's organization",
            "scp",
            "SCPs and RCPs are not readable from a member account; not attempted",
        )

    def _announce(self) -> list[Task]:
        ident = self._findings.identity
        work: list[Task] = []
        for hook in self._on_identity:
            work += list(hook(ident) or ())
        return work

    # -- principals ------------------------------------------------------------------------

    def _user_work(self, user: str) -> list[Task]:
        return [
            partial(self._user, user),
            *self._policies_of("user", user),
            partial(self._groups, user),
        ]

    def _role_work(self, role: str) -> list[Task]:
        work: list[Task] = [Job(_GET_ROLE, partial(self._role, role))]
        if self._read_policies:
            work += self._policies_of("role", role)
        return work

    def _policies_of(self, kind: PrincipalKind, name: str) -> list[Task]:
        return [partial(self._inline_policies, kind, name), partial(self._attached, kind, name)]

    def _user(self, user: str) -> list[Task]:
        try:
            info = self._reader().user(user)
        except Unreadable as exc:
            self._gap(exc, f"the permissions boundary of user {user}", "boundary")
            return []
        return self._boundary(info.boundary_arn, f"user {user}")

    def _role(self, role: str) -> list[Task]:
        try:
            info = self._reader().role(role)
        except Unreadable as exc:
            self._gap(exc, f"the path and permissions boundary of role {role}", "boundary")
            return []
        if info.arn:
            ident = self._findings.identity
            ident.principal_arn = info.arn
            ident.role_path_known = True
        return self._boundary(info.boundary_arn, f"role {role}") if self._read_policies else []

    def _boundary(self, arn: str | None, who: str) -> list[Task]:
        if not arn:
            return []
        return self._managed(arn, f"permissions boundary of {who}", "permissions_boundary")

    def _groups(self, user: str) -> list[Task]:
        try:
            groups = self._reader().groups_for_user(user)
        except Unreadable as exc:
            self._gap(exc, f"the groups of user {user} and their policies", "identity")
            return []
        return [work for group in groups for work in self._policies_of("group", group)]

    # -- policies --------------------------------------------------------------------------

    def _inline_policies(self, kind: PrincipalKind, name: str) -> list[Task]:
        try:
            names = self._reader().inline_policy_names(kind, name)
        except Unreadable as exc:
            self._gap(exc, f"the inline policies of {kind} {name}", "identity")
            return []
        return [partial(self._inline_policy, kind, name, policy) for policy in names]

    def _inline_policy(self, kind: PrincipalKind, name: str, policy: str) -> None:
        try:
            doc = self._reader().inline_policy(kind, name, policy)
        except Unreadable as exc:
            self._gap(exc, f"inline policy {policy} of {kind} {name}", "identity")
            return
        policy_name = f"{kind} {name} inline policy {policy}"
        self._findings.add_policy(FoundPolicy(policy_name, "identity", doc))

    def _attached(self, kind: PrincipalKind, name: str) -> list[Task]:
        who = f"{kind} {name}"
        try:
            arns = self._reader().attached_policy_arns(kind, name)
        except Unreadable as exc:
            self._gap(exc, f"the managed policies attached to {who}", "identity")
            return []
        what = f"managed policy attached to {who}"
        return [work for arn in arns for work in self._managed(arn, what, "identity")]

    def _managed(
        self, arn: str, what: str, kind: Literal["identity", "permissions_boundary"]
    ) -> list[Task]:
        with self._lock:
            key = f"{arn} #{next(self._managed_reads)}"
        return list(_ManagedPolicyRead(self._reader, self._findings, arn, what, kind, key).jobs())

    def _gap(self, exc: Unreadable, subject: str, affects: Affects) -> None:
        self._findings.gap(exc.call, subject, affects, exc.reason)


class _ManagedPolicyRead:
    """A managed policy's document in effect: ``GetPolicy`` says which version is the
    default, ``GetPolicyVersion`` reads it. To save a round trip, version ``v1`` (the default
    of every policy never updated) is read alongside and used only when ``GetPolicy``
    confirms it is the default; otherwise the default version is read. Nothing is guessed."""

    def __init__(
        self,
        reader: Callable[[], IamReader],
        findings: Findings,
        arn: str,
        what: str,
        kind: Literal["identity", "permissions_boundary"],
        key: str,
    ) -> None:
        self._reader = reader
        self._findings = findings
        self._arn = arn
        self._what = what
        self._kind = kind
        self._key = key
        # Written by one job each, read by ``_settle`` (which runs after both finished).
        self._default: str | Unreadable | None = None
        self._v1: dict[str, Any] | Unreadable | None = None

    def jobs(self) -> tuple[Job, Job, Job]:
        default, v1 = f"{self._key} GetPolicy", f"{self._key} GetPolicyVersion v1"
        return (
            Job(default, self._read_default),
            Job(v1, self._read_v1),
            Job(f"{self._key} default version", self._settle, needs=(default, v1)),
        )

    def _read_default(self) -> None:
        try:
            self._default = self._reader().default_version_id(self._arn)
        except Unreadable as exc:
            self._default = exc

    def _read_v1(self) -> None:
        try:
            self._v1 = self._reader().policy_version(self._arn, "v1")
        except Unreadable as exc:
            self._v1 = exc

    def _settle(self) -> list[Task]:
        default = self._default
        if isinstance(default, Unreadable) or default is None:
            self._record(default)
            return []
        if default == "v1":
            self._record(self._v1)
            return []
        return [partial(self._read_version, default)]

    def _read_version(self, version: str) -> None:
        try:
            doc: dict[str, Any] | Unreadable = self._reader().policy_version(self._arn, version)
        except Unreadable as exc:
            doc = exc
        self._record(doc)

    def _record(self, answer: dict[str, Any] | Unreadable | None) -> None:
        if isinstance(answer, dict):
            self._findings.add_policy(FoundPolicy(self._arn, self._kind, answer))
            return
        failure = answer or Unreadable("iam:GetPolicy", "no answer")
        affects: Affects = "boundary" if self._kind == "permissions_boundary" else "identity"
        self._findings.gap(failure.call, f"{self._what} ({self._arn})", affects, failure.reason)
