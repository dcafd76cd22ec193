"""Differential test: the evaluator against a deliberately simple reference evaluator.

The reference below is written independently of ``credhelper.permissions``: it knows only a
small, fixed universe (a handful of principals, one repository, a few action and resource
strings) and follows AWS's documented flow literally, step by step, as the IAM User Guide
page "How AWS enforcement code logic evaluates requests to allow or deny access" and
"Cross-account policy evaluation logic" describe it. Hypothesis generates small combinations
of identity, resource, boundary, session, SCP, RCP and VPC endpoint policies over that universe; the
evaluator must never answer "allowed" where the reference denies, and must agree exactly.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credhelper.cli.policy import parse_simulation
from credhelper.permissions.evaluate import evaluate

A = "111122223333"
B = "444455556666"
REPO = f"arn:aws:ecr:us-east-1:{A}:repository/app"
OTHER_REPO = f"arn:aws:ecr:us-east-1:{A}:repository/other"
ROLE = f"arn:aws:iam::{A}:role/ci"

# The callers: ARN -> (kind, account).
CALLERS = {
    f"arn:aws:iam::{A}:user/alice": ("user", A),
    f"arn:aws:sts::{A}:assumed-role/ci/build": ("session", A),
    f"arn:aws:sts::{A}:federated-user/carol": ("federated", A),
    f"arn:aws:iam::{A}:root": ("root", A),
    f"arn:aws:iam::{B}:user/bob": ("user", B),
    f"arn:aws:sts::{B}:assumed-role/ci/build": ("session", B),
}
ACTIONS = ["ecr:BatchGetImage", "ecr:PutImage"]
ACTION_PATTERNS = ["*", "ecr:*", "ecr:PutImage", "ecr:BatchGetImage", "s3:*", "ecr:Batch*"]
RESOURCE_PATTERNS = ["*", REPO, OTHER_REPO, "arn:aws:ecr:*", f"arn:aws:ecr:us-east-1:{A}:*"]
PRINCIPAL_VALUES = [
    A,
    f"arn:aws:iam::{A}:root",
    f"arn:aws:iam::{A}:user/alice",
    ROLE,
    f"arn:aws:sts::{A}:assumed-role/ci/build",
    f"arn:aws:sts::{A}:federated-user/carol",
    B,
    f"arn:aws:iam::{B}:user/bob",
    f"arn:aws:iam::{B}:role/ci",
]


# --- the reference --------------------------------------------------------------------------


def ref_action(pattern: str, action: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return action.startswith(pattern[:-1])
    return pattern == action


def ref_resource(pattern: str) -> bool:
    # Resource element: "*" is everything; a "*" ending a segment expands beyond colons.
    return pattern in ("*", REPO, "arn:aws:ecr:*", f"arn:aws:ecr:us-east-1:{A}:*")


def how_named(value: str, caller: str) -> str | None:
    """How a Principal entry names the caller: "self", "role", "account" or None."""
    kind, account = CALLERS[caller]
    if value == "*":
        return "self"
    if value in (account, f"arn:aws:iam::{account}:root"):
        return "self" if kind == "root" else "account"
    if value == caller:
        return "self"
    if kind == "session" and value == f"arn:aws:iam::{account}:role/ci":
        return "role"
    return None


def ref_listed(values: list[str], caller: str) -> bool:
    """NotPrincipal: excluded only when the account, the role (for a session) and the caller
    itself are all listed."""
    kind, account = CALLERS[caller]
    need = {caller, f"arn:aws:iam::{account}:root"}
    if kind == "session":
        need.add(f"arn:aws:iam::{account}:role/ci")
    have = set(values) | ({f"arn:aws:iam::{v}:root" for v in values if v.isdigit()})
    return need <= have


def ref_statement(stmt: dict[str, Any], caller: str, action: str, boundary: bool) -> str | None:
    """Whether a statement applies: None, or how the principal was named ("self" if none)."""
    if "Action" in stmt:
        if not any(ref_action(p, action) for p in stmt["Action"]):
            return None
    elif any(ref_action(p, action) for p in stmt["NotAction"]):
        return None
    if "Resource" in stmt:
        if not any(ref_resource(p) for p in stmt["Resource"]):
            return None
    elif "NotResource" in stmt and any(ref_resource(p) for p in stmt["NotResource"]):
        return None
    if "Principal" in stmt:
        principal = stmt["Principal"]
        if principal == "*":
            return "self"
        names = [how_named(v, caller) for v in principal["AWS"]]
        for strength in ("self", "role", "account"):
            if strength in names:
                return strength
        return None
    if "NotPrincipal" in stmt:
        if stmt["Effect"] == "Allow":
            return None  # "Using it with "Effect":"Allow" is not supported."
        if boundary and CALLERS[caller][0] != "root":
            return "self"  # always denies a principal with a permissions boundary
        return None if ref_listed(stmt["NotPrincipal"]["AWS"], caller) else "self"
    return "self"


def reference(doc: dict[str, Any]) -> str:
    caller, action = doc["principal"], doc["action"]
    kind, account = CALLERS[caller]
    has_boundary = doc.get("permissions_boundary") is not None

    def statements(policy: dict[str, Any] | None) -> list[dict[str, Any]]:
        return [] if policy is None else policy["Statement"]

    def allows(policy: dict[str, Any] | None) -> set[str]:
        return {
            named
            for s in statements(policy)
            if s["Effect"] == "Allow"
            and (named := ref_statement(s, caller, action, has_boundary)) is not None
        }

    every = [
        *doc.get("identity_policies", []),
        doc.get("resource_policy"),
        doc.get("permissions_boundary"),
        doc.get("session_policy"),
        *[p for level in doc.get("scps", []) for p in level],
        *[p for level in doc.get("rcps", []) for p in level],
    ]
    # A VPC endpoint policy applies only to requests that came through the endpoint.
    through_endpoint = "aws:SourceVpce" in doc.get("context", {})
    vpce = doc.get("vpce_policy") if through_endpoint else None
    every.append(vpce)
    # 1. Deny evaluation.
    for policy in every:
        for s in statements(policy):
            if s["Effect"] == "Deny" and ref_statement(s, caller, action, has_boundary):
                return "explicitly_denied"
    # 2. RCPs (ECR supports them), 3. SCPs: an Allow at every level.
    for level in [*doc.get("rcps", []), *doc.get("scps", [])]:
        if not any(allows(p) for p in level):
            return "implicitly_denied"
    if vpce is not None and not allows(vpce):
        return "implicitly_denied"
    # The caller's own side: identity policies, then boundary, then session policy.
    if kind == "root":
        own = True
    else:
        own = any(allows(p) for p in doc.get("identity_policies", []))
        own = own and (not has_boundary or bool(allows(doc["permissions_boundary"])))
        session = doc.get("session_policy")
        if session is not None:
            own = own and bool(allows(session))
        elif kind == "federated":
            own = False
    resource = allows(doc.get("resource_policy"))
    if account != A:  # cross-account: both sides must allow
        return "allowed" if own and resource else "implicitly_denied"
    # 4. Same account: a resource policy naming the caller itself grants outright; naming
    # its role grants within boundary and session policy; naming the account delegates.
    if "self" in resource:
        return "allowed"
    limits_ok = (not has_boundary or bool(allows(doc["permissions_boundary"]))) and (
        doc.get("session_policy") is None or bool(allows(doc["session_policy"]))
    )
    if "role" in resource and limits_ok:
        return "allowed"
    return "allowed" if own else "implicitly_denied"


# --- the generator --------------------------------------------------------------------------

# Mostly Allow: with as many Deny as Allow statements most draws end in an explicit deny and
# the interesting grant paths are rarely reached.
EFFECT = st.sampled_from(["Allow", "Allow", "Allow", "Allow", "Deny"])
ACTION_LIST = st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=2, unique=True)
RESOURCE_LIST = st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2, unique=True)


@st.composite
def statement(draw: st.DrawFn, *, principal: bool, rcp: bool = False) -> dict[str, Any]:
    effect = draw(EFFECT)
    out: dict[str, Any] = {"Effect": effect}
    action_key = "Action" if rcp or draw(st.integers(0, 3)) else "NotAction"
    out[action_key] = draw(ACTION_LIST)
    resource_key = "Resource" if rcp or draw(st.integers(0, 3)) else "NotResource"
    out[resource_key] = draw(RESOURCE_LIST)
    if rcp:
        out["Principal"] = "*"
    elif principal:
        form = draw(st.integers(0, 5))
        values = draw(st.lists(st.sampled_from(PRINCIPAL_VALUES), min_size=1, max_size=2))
        if form == 0:
            out["Principal"] = "*"
        elif form == 1:
            out["NotPrincipal"] = {"AWS": values}
        else:
            out["Principal"] = {"AWS": values}
    return out


def policy(*, principal: bool = False, rcp: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    return st.lists(statement(principal=principal, rcp=rcp), min_size=1, max_size=2).map(
        lambda stmts: {"Version": "2012-10-17", "Statement": stmts}
    )


def optional(strategy: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


# The organization policies AWS attaches by default, so that most draws get past the SCP and
# RCP levels and reach the grant logic.
FULL_SCP = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
FULL_RCP = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
}


@st.composite
def simulation(draw: st.DrawFn) -> dict[str, Any]:
    scp = st.one_of(st.just(FULL_SCP), policy())
    rcp = st.one_of(st.just(FULL_RCP), policy(rcp=True))
    doc: dict[str, Any] = {
        "principal": draw(st.sampled_from(sorted(CALLERS))),
        "action": draw(st.sampled_from(ACTIONS)),
        "resource": REPO,
        "identity_policies": draw(st.lists(policy(), max_size=2)),
        "resource_policy": draw(
            st.one_of(st.none(), policy(principal=True), policy(principal=True))
        ),
        "permissions_boundary": draw(optional(policy())),
        "session_policy": draw(optional(policy())),
        "scps": draw(st.lists(st.lists(scp, min_size=1, max_size=2), max_size=2)),
        "rcps": draw(st.lists(st.lists(rcp, min_size=1, max_size=2), max_size=1)),
        "vpce_policy": draw(optional(policy(principal=True))),
        "context": {"aws:SourceVpce": "vpce-0abc"} if draw(st.booleans()) else {},
    }
    kind = CALLERS[doc["principal"]][0]
    if kind not in ("session", "federated"):
        doc["session_policy"] = None  # only sessions can carry a session policy
    if kind == "root":
        doc["identity_policies"] = []  # nothing can be attached to the root user
        doc["permissions_boundary"] = None
    return doc


@settings(
    max_examples=700,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(simulation())
def test_evaluator_agrees_with_the_reference(doc: dict[str, Any]) -> None:
    request, policies = parse_simulation(doc)
    got = evaluate(request, policies).decision
    want = reference(doc)
    if want != "allowed":
        assert got != "allowed", "a false 'allowed'"
    assert got == want


def test_reference_knows_the_documented_families() -> None:
    """The reference itself is checked on the rules issue 10 found wrong."""
    alice = f"arn:aws:iam::{A}:user/alice"
    account_grant = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": [A]}, "Action": ["ecr:*"]}],
    }
    base = {"principal": alice, "action": "ecr:PutImage", "resource": REPO}
    assert reference({**base, "resource_policy": account_grant}) == "implicitly_denied"
    fed = {**base, "principal": f"arn:aws:sts::{A}:federated-user/carol"}
    allow_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}],
    }
    assert reference({**fed, "identity_policies": [allow_all]}) == "implicitly_denied"
    assert reference({**base, "principal": f"arn:aws:iam::{A}:root"}) == "allowed"
