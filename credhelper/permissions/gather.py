"""Read, with the caller's own credentials, everything that decides its ECR permissions.

What is read (every call is read-only):

* ``sts:GetCallerIdentity``: the caller ARN. An assumed-role session
  ``arn:P:sts::ACCT:assumed-role/ROLE/SESSION`` is mapped to its role through ``iam:GetRole``
  (which also gives the role's path and permissions boundary).
* IAM user: ``GetUser`` (permissions boundary), inline policies (``ListUserPolicies`` +
  ``GetUserPolicy``), attached managed policies (``ListAttachedUserPolicies`` + ``GetPolicy``
  + ``GetPolicyVersion`` of the default version), groups (``ListGroupsForUser``) and each
  group's inline and attached policies the same way.
* IAM role: ``GetRole``, ``ListRolePolicies``/``GetRolePolicy``,
  ``ListAttachedRolePolicies`` + managed policy documents, and the boundary document.
* The repository: ``DescribeRepositories`` (exists? ``imageTagMutability``),
  ``GetRepositoryPolicy`` (``RepositoryPolicyNotFoundException`` means none),
  ``ListTagsForResource``, ``DescribeImages`` for the tag (immutable repositories), and
  ``DescribePullThroughCacheRules`` (prefixes).

Whatever cannot be read is recorded as a :class:`Gap` naming the call and what it would have
told, never guessed. Session policies and SCPs cannot be read by the caller at all and are
always gaps (``affects`` ``session``/``scp``).

Calls run on a thread pool: :func:`run_tasks` is a tiny scheduler where each task returns the
follow-up tasks its answer made possible (``ListAttachedUserPolicies`` → one ``GetPolicy`` +
``GetPolicyVersion`` chain per policy), so the critical path is the longest chain, not the
number of calls. boto3 clients are thread-safe; they are created up front by the caller.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any, Literal

from ..ecr_repository import RepositoryFacts

Affects = Literal["identity", "boundary", "resource", "session", "scp", "repository", "info"]
# A task returns the tasks that became possible once it finished (or None).
Task = Callable[[], "Iterable[Task] | None"]


@dataclass(frozen=True)
class Gap:
    """Something that decides permissions but could not be read.

    ``call``: the API call that failed or cannot exist (``iam:GetUserPolicy``,
    ``organizations`` for SCPs); ``subject``: what it would have told; ``affects``: which part
    of the evaluation is incomplete; ``reason``: the error code or why it cannot be read.
    """

    call: str
    subject: str
    affects: Affects
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {
            "call": self.call,
            "subject": self.subject,
            "affects": self.affects,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class FoundPolicy:
    """A policy document read from AWS, with the name a decision will cite."""

    name: str
    kind: Literal["identity", "permissions_boundary", "resource"]
    document: dict[str, Any]


@dataclass
class Identity:
    """Who calls. ``kind``: user, role (an assumed-role session), root, federated-user,
    unknown. ``principal_arn``: the IAM user or role ARN (with path when known)."""

    caller_arn: str | None = None
    account: str | None = None
    kind: str = "unknown"
    name: str | None = None
    principal_arn: str | None = None
    role_path_known: bool = False


@dataclass
class Gathered:
    """Everything read, plus the gaps. Mutated by the gather tasks under ``lock``."""

    identity: Identity = field(default_factory=Identity)
    repository: RepositoryFacts = field(default_factory=RepositoryFacts)
    identity_policies: list[FoundPolicy] = field(default_factory=list)
    boundary: FoundPolicy | None = None
    gaps: list[Gap] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def gap(self, call: str, subject: str, affects: Affects, reason: str) -> None:
        with self.lock:
            self.gaps.append(Gap(call, subject, affects, reason))

    def add_policy(self, policy: FoundPolicy) -> None:
        with self.lock:
            if policy.kind == "permissions_boundary":
                self.boundary = policy
            else:
                self.identity_policies.append(policy)

    @property
    def resource_policy(self) -> dict[str, Any] | None:
        text = self.repository.policy_text
        if not text:
            return None
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None


def run_tasks(
    executor: Executor,
    tasks: Iterable[Task],
    stages: Iterable[Callable[[], Iterable[Task] | None]] = (),
) -> None:
    """Run ``tasks`` and every follow-up task they return until none is left.

    ``stages`` run in order on the calling thread once the tasks before them are in flight,
    and return more tasks (e.g. create a client while the first calls wait on the network,
    then start the calls that need it). Follow-ups are submitted from the calling thread
    only, after every stage ran. Exceptions propagate (the first one, once everything
    started has finished)."""
    pending: set[Future[Iterable[Task] | None]] = {executor.submit(t) for t in tasks}
    first_error: BaseException | None = None
    try:
        for stage in stages:
            pending |= {executor.submit(t) for t in stage() or ()}
    except BaseException:
        wait(pending)
        raise
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for fut in done:
            try:
                follow = fut.result()
            except BaseException as exc:
                first_error = first_error or exc
                continue
            for task in follow or ():
                pending.add(executor.submit(task))
    if first_error is not None:
        raise first_error


def error_code(exc: BaseException) -> str:
    """botocore's error code, or the exception's class name."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def describe_error(exc: BaseException) -> str:
    """A short, secret-free reason for a gap: ``AccessDenied``, ``500``, ``timeout``..."""
    from ..tokens import is_access_denied

    if is_access_denied(exc):  # type: ignore[arg-type]
        return "AccessDenied"
    code = error_code(exc)
    return code


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


def _document(raw: object) -> dict[str, Any] | None:
    """IAM returns policy documents URL-encoded in the query protocol; boto3 usually decodes
    them to a dict already."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        text = raw
        if text.lstrip().startswith("%7B") or "%22" in text:
            text = urllib.parse.unquote(text)
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None
    return None


class Gatherer:
    """Builds the gather tasks for one check. ``iam``/``ecr``/``sts`` are boto3 clients;
    ``registry_id`` the repository's account; ``reference`` the tag or digest checked."""

    def __init__(
        self,
        *,
        sts: Any,
        iam: Any | None,
        ecr: Any | None,
        repository: str,
        registry_id: str | None,
        repository_arn: str,
        reference: tuple[str | None, str | None] = ("latest", None),
        read_policies: bool = True,
        check_tag: bool = False,
        result: Gathered | None = None,
        use_iam: bool | None = None,
        ecr_no_retry: Any | None = None,
    ) -> None:
        self.sts: Any = sts
        self.iam: Any = iam
        self.ecr: Any = ecr
        # For optional facts (pull-through rules): a failure is a gap, not worth a back-off.
        self.ecr_no_retry: Any = ecr_no_retry or ecr
        # Whether IAM is queried; ``iam`` may be set later (before follow-ups run).
        self.use_iam = iam is not None if use_iam is None else use_iam
        self.repository = repository
        self.registry_id = registry_id
        self.repository_arn = repository_arn
        self.tag, self.digest = reference
        self.read_policies = read_policies
        self.check_tag = check_tag
        self.out = result or Gathered()
        # Called (once, from a worker) when the caller identity is known; lets the check add
        # tasks that depend on it (simulation) without waiting in a worker.
        self.on_identity: list[Callable[[Identity], Iterable[Task] | None]] = []

    # -- ECR: registry-side facts --------------------------------------------------------------

    def _repo_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"repositoryName": self.repository}
        if self.registry_id:
            kw["registryId"] = self.registry_id
        return kw

    def repository_tasks(self) -> list[Task]:
        """DescribeRepositories, GetRepositoryPolicy, ListTagsForResource,
        DescribePullThroughCacheRules."""
        if self.ecr is None:
            return []
        return [
            self._describe_repository,
            self._repository_policy,
            self._repository_tags,
            self._pull_through_rules,
        ]

    def _describe_repository(self) -> list[Task] | None:
        facts = self.out.repository
        kw = {"repositoryNames": [self.repository]}
        if self.registry_id:
            kw["registryId"] = self.registry_id  # type: ignore[assignment]
        try:
            repos = self.ecr.describe_repositories(**kw)["repositories"]
        except Exception as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                facts.exists = False
                return None
            self.out.gap(
                "ecr:DescribeRepositories",
                f"whether repository {self.repository} exists and its tag mutability",
                "repository",
                describe_error(exc),
            )
            return None
        facts.exists = bool(repos)
        if repos:
            facts.describe(repos[0])
            if self.check_tag and self.tag and facts.tag_immutable(self.tag) is not False:
                return [self._tag_exists]
        return None

    def _tag_exists(self) -> None:
        facts = self.out.repository
        try:
            resp = self.ecr.batch_get_image(
                **self._repo_kwargs(),
                imageIds=[{"imageTag": self.tag}],
                acceptedMediaTypes=[
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.oci.image.index.v1+json",
                ],
            )
            facts.tag_exists = bool(resp.get("images"))
            return
        except Exception as exc:
            first = describe_error(exc)
        try:  # BatchGetImage may be denied where DescribeImages is allowed
            self.ecr.describe_images(**self._repo_kwargs(), imageIds=[{"imageTag": self.tag}])
            facts.tag_exists = True
        except Exception as exc:
            if error_code(exc) == "ImageNotFoundException":
                facts.tag_exists = False
            else:
                self.out.gap(
                    "ecr:BatchGetImage/ecr:DescribeImages",
                    f"whether tag {self.tag} already exists in the IMMUTABLE repository",
                    "repository",
                    f"{first}/{describe_error(exc)}",
                )

    def _repository_policy(self) -> None:
        facts = self.out.repository
        try:
            resp = self.ecr.get_repository_policy(**self._repo_kwargs())
        except Exception as exc:
            code = error_code(exc)
            if code == "RepositoryPolicyNotFoundException":
                facts.policy_state = "none"
            elif code == "RepositoryNotFoundException":
                facts.policy_state = "none"
            else:
                facts.policy_state = "unreadable"
                self.out.gap(
                    "ecr:GetRepositoryPolicy",
                    f"the repository policy of {self.repository}",
                    "resource",
                    describe_error(exc),
                )
            return
        facts.policy_text = str(resp.get("policyText") or "")
        facts.policy_state = "present" if facts.policy_text else "none"

    def _repository_tags(self) -> None:
        try:
            resp = self.ecr.list_tags_for_resource(resourceArn=self.repository_arn)
        except Exception as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                self.out.repository.tags = {}
                return
            self.out.gap(
                "ecr:ListTagsForResource",
                "repository tags (for aws:ResourceTag conditions)",
                "info",
                describe_error(exc),
            )
            return
        self.out.repository.tags = {
            str(t.get("Key")): str(t.get("Value")) for t in resp.get("tags", [])
        }

    def _pull_through_rules(self) -> None:
        kw = {"registryId": self.registry_id} if self.registry_id else {}
        try:
            rules = self.ecr_no_retry.describe_pull_through_cache_rules(**kw)
        except Exception as exc:
            self.out.gap(
                "ecr:DescribePullThroughCacheRules",
                "pull-through cache prefixes (whether BatchImportUpstreamImage is needed)",
                "info",
                describe_error(exc),
            )
            return
        self.out.repository.pull_through_prefixes = [
            str(r.get("ecrRepositoryPrefix")) for r in rules.get("pullThroughCacheRules", [])
        ]

    # -- identity ------------------------------------------------------------------------------

    def identity_tasks(self) -> list[Task]:
        return [self._caller]

    def _caller(self) -> list[Task]:
        resp = self.sts.get_caller_identity()  # failures are credential errors: propagate
        ident = parse_caller(str(resp["Arn"]))
        ident.account = ident.account or str(resp.get("Account") or "") or None
        self.out.identity = ident
        tasks: list[Task] = []
        if ident.kind == "role":
            self.out.gap(
                "(none)",
                "the session policy of the assumed-role session",
                "session",
                "session policies cannot be read back by the caller",
            )
        if ident.kind == "federated-user":
            self.out.gap(
                "(none)",
                "the policies of the IAM user that federated and the session policy",
                "identity",
                "not readable from a federated session",
            )
        self.out.gap(
            "organizations:DescribePolicy",
            "service control policies of the account's organization",
            "scp",
            "SCPs are not readable from a member account; not attempted",
        )
        if self.use_iam:
            if ident.kind == "user" and self.read_policies:
                tasks += self._user_tasks(ident)
            elif ident.kind == "role":
                tasks += self._role_tasks(ident)
        elif ident.kind in ("user", "role") and self.read_policies:
            self.out.gap("iam:*", "identity policies", "identity", "IAM not queried")
        if not (ident.kind == "role" and self.use_iam):
            tasks += self._identity_known(ident)
        return tasks

    def _identity_known(self, ident: Identity) -> list[Task]:
        out: list[Task] = []
        for hook in self.on_identity:
            out += list(hook(ident) or ())
        return out

    def _user_tasks(self, ident: Identity) -> list[Task]:
        user = ident.name
        who = f"user {user}"

        def get_user() -> list[Task] | None:
            try:
                resp = self.iam.get_user(UserName=user)["User"]
            except Exception as exc:
                self.out.gap(
                    "iam:GetUser",
                    f"the permissions boundary of {who}",
                    "boundary",
                    describe_error(exc),
                )
                return None
            boundary = (resp.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
            if boundary:
                return [
                    self._managed(
                        boundary, f"permissions boundary of {who}", "permissions_boundary"
                    )
                ]
            return None

        return [
            get_user,
            self._inline_list("user", user, who),
            self._attached_list("user", user, who),
            self._groups(user),
        ]

    def _role_tasks(self, ident: Identity) -> list[Task]:
        role = ident.name
        who = f"role {role}"

        def get_role() -> list[Task]:
            follow: list[Task] = []
            try:
                resp = self.iam.get_role(RoleName=role)["Role"]
            except Exception as exc:
                self.out.gap(
                    "iam:GetRole",
                    f"the path and permissions boundary of {who}",
                    "boundary",
                    describe_error(exc),
                )
            else:
                if resp.get("Arn"):
                    ident.principal_arn = str(resp["Arn"])
                    ident.role_path_known = True
                boundary = (resp.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
                if boundary and self.read_policies:
                    follow.append(
                        self._managed(
                            boundary, f"permissions boundary of {who}", "permissions_boundary"
                        )
                    )
            return follow + self._identity_known(ident)

        tasks: list[Task] = [get_role]
        if self.read_policies:
            tasks += [self._inline_list("role", role, who), self._attached_list("role", role, who)]
        return tasks

    def _groups(self, user: str | None) -> Task:
        def run() -> list[Task]:
            try:
                groups = [
                    str(g["GroupName"])
                    for g in _pages(self.iam.list_groups_for_user, "Groups", UserName=user)
                ]
            except Exception as exc:
                self.out.gap(
                    "iam:ListGroupsForUser",
                    f"the groups of user {user} and their policies",
                    "identity",
                    describe_error(exc),
                )
                return []
            out: list[Task] = []
            for g in groups:
                out += [
                    self._inline_list("group", g, f"group {g}"),
                    self._attached_list("group", g, f"group {g}"),
                ]
            return out

        return run

    def _inline_list(self, kind: str, name: str | None, who: str) -> Task:
        cap = kind.capitalize()
        list_op = f"list_{kind}_policies"
        get_op = f"get_{kind}_policy"

        def run() -> list[Task]:
            try:
                names = [
                    str(n)
                    for n in _pages(
                        getattr(self.iam, list_op), "PolicyNames", **{f"{cap}Name": name}
                    )
                ]
            except Exception as exc:
                self.out.gap(
                    f"iam:List{cap}Policies",
                    f"the inline policies of {who}",
                    "identity",
                    describe_error(exc),
                )
                return []

            def fetch(policy_name: str) -> Task:
                def go() -> None:
                    try:
                        resp = getattr(self.iam, get_op)(
                            **{f"{cap}Name": name, "PolicyName": policy_name}
                        )
                    except Exception as exc:
                        self.out.gap(
                            f"iam:Get{cap}Policy",
                            f"inline policy {policy_name} of {who}",
                            "identity",
                            describe_error(exc),
                        )
                        return
                    doc = _document(resp.get("PolicyDocument"))
                    if doc is None:
                        self.out.gap(
                            f"iam:Get{cap}Policy",
                            f"inline policy {policy_name} of {who}",
                            "identity",
                            "document is not JSON",
                        )
                        return
                    self.out.add_policy(
                        FoundPolicy(f"{who} inline policy {policy_name}", "identity", doc)
                    )

                return go

            return [fetch(n) for n in names]

        return run

    def _attached_list(self, kind: str, name: str | None, who: str) -> Task:
        cap = kind.capitalize()

        def run() -> list[Task]:
            try:
                arns = [
                    str(p["PolicyArn"])
                    for p in _pages(
                        getattr(self.iam, f"list_attached_{kind}_policies"),
                        "AttachedPolicies",
                        **{f"{cap}Name": name},
                    )
                ]
            except Exception as exc:
                self.out.gap(
                    f"iam:ListAttached{cap}Policies",
                    f"the managed policies attached to {who}",
                    "identity",
                    describe_error(exc),
                )
                return []
            return [self._managed(a, f"managed policy attached to {who}", "identity") for a in arns]

        return run

    def _managed(
        self, arn: str, what: str, kind: Literal["identity", "permissions_boundary"]
    ) -> Task:
        """GetPolicy (default version id) and GetPolicyVersion. To save a round trip,
        version ``v1`` (the default of every policy never updated) is fetched at the same
        time and used only when GetPolicy confirms it is the default; otherwise the real
        default version is fetched. Nothing is guessed."""
        affects: Affects = "boundary" if kind == "permissions_boundary" else "identity"
        state: dict[str, Any] = {}
        lock = threading.Lock()

        def record(version_resp: Any) -> None:
            doc = _document(version_resp["PolicyVersion"].get("Document"))
            if doc is None:
                self.out.gap(
                    "iam:GetPolicyVersion", f"{what} ({arn})", affects, "document is not JSON"
                )
                return
            self.out.add_policy(FoundPolicy(arn, kind, doc))

        def failed(exc: BaseException, call: str) -> None:
            self.out.gap(call, f"{what} ({arn})", affects, describe_error(exc))

        def fetch(version: str) -> None:
            try:
                resp = self.iam.get_policy_version(PolicyArn=arn, VersionId=version)
            except Exception as exc:
                failed(exc, "iam:GetPolicyVersion")
                return
            record(resp)

        def settle() -> list[Task]:
            # Called under ``lock`` once both answers are in.
            default = state["default"]
            if isinstance(default, BaseException):
                failed(default, "iam:GetPolicy")
                return []
            v1 = state["v1"]
            if default == "v1" and not isinstance(v1, BaseException):
                record(v1)
                return []
            if default == "v1":
                failed(v1, "iam:GetPolicyVersion")
                return []
            return [lambda: fetch(default)]

        def arrive(key: str, value: Any) -> list[Task]:
            with lock:
                state[key] = value
                if len(state) < 2:
                    return []
                return settle()

        def get_policy() -> list[Task]:
            try:
                value: Any = self.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            except Exception as exc:
                value = exc
            return arrive("default", value)

        def get_v1() -> list[Task]:
            try:
                value: Any = self.iam.get_policy_version(PolicyArn=arn, VersionId="v1")
            except Exception as exc:
                value = exc
            return arrive("v1", value)

        def run() -> list[Task]:
            return [get_policy, get_v1]

        return run


def _pages(method: Callable[..., Any], key: str, **kwargs: Any) -> list[Any]:
    """Every item of an IAM list call, following ``Marker`` (no paginator models to load)."""
    items: list[Any] = []
    while True:
        resp = method(**kwargs)
        items += resp.get(key, [])
        if not resp.get("IsTruncated") or not resp.get("Marker"):
            return items
        kwargs["Marker"] = resp["Marker"]
