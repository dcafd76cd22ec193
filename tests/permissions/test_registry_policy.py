"""The private registry policy in a pull through a cache (credhelper/preflight/decide.py).

ECR User Guide, "IAM permissions required to sync an upstream registry with an Amazon ECR
private registry": ``ecr:BatchImportUpstreamImage`` "can be granted by using the private
registry permissions policy, an identity-based IAM policy, or by using the resource-based
repository permissions policy"; ``ecr:CreateRepository`` "by either an identity-based IAM
policy or the private registry permissions policy"; "If an IAM entity has more permissions
granted by an IAM policy than the registry permissions policy is granting, the IAM policy takes
precedence". IAM User Guide, policy evaluation logic / cross-account policy evaluation logic:
an explicit deny in any policy denies; same account, an allow in an identity-based or a
resource-based policy allows; cross account, both the identity side and a resource-based
policy must allow.
"""

from __future__ import annotations

from typing import Any

import pytest

from credhelper.permissions.evaluate import PolicySet, Request, evaluate
from credhelper.permissions.findings import Gap
from credhelper.permissions.policy import parse_policy
from credhelper.permissions.verdict import evaluation_evidence
from credhelper.preflight.decide import either_resource_policy

OWNER = "111122223333"
OTHER = "444455556666"
ARN = f"arn:aws:ecr:us-east-1:{OWNER}:repository/hub/library/alpine"
IMPORT = "ecr:BatchImportUpstreamImage"
CREATE = "ecr:CreateRepository"


def caller(account: str) -> str:
    return f"arn:aws:iam::{account}:user/ci"


def identity(*actions: str, effect: str = "Allow") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, "Action": list(actions), "Resource": "*"}],
    }


def resource_policy(principal: str, *actions: str, effect: str = "Allow", res: str = ARN) -> Any:
    """A registry policy statement as the ECR console's "Pull through cache policy" makes it
    (a repository policy has the same shape without Resource)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": effect,
                "Principal": {"AWS": principal},
                "Action": list(actions),
                "Resource": res,
            }
        ],
    }


def decision(
    account: str,
    action: str,
    ident: dict[str, Any] | None,
    repository: dict[str, Any] | None,
    registry: dict[str, Any] | None,
) -> str:
    identities = [parse_policy(ident, "id", name="id")] if ident else []
    repo = parse_policy(repository, "repo", kind="resource") if repository else None
    base = PolicySet(identity_policies=identities, resource_policy=repo)
    request = Request(caller(account), action, ARN)
    first = evaluate(request, base)
    if registry is None:
        return first.decision
    reg = parse_policy(registry, "registry policy", kind="resource", name="registry policy")
    second = evaluate(request, PolicySet(identity_policies=identities, resource_policy=reg))
    return either_resource_policy(first, second).decision


ME = caller(OWNER)
THEM = caller(OTHER)
CASES = [
    # rule, caller account, action, identity, repository policy, registry policy, expected
    ("identity policy alone grants", OWNER, CREATE, identity(CREATE), None, None, "allowed"),
    ("nothing grants", OWNER, CREATE, None, None, None, "implicitly_denied"),
    (
        "same account: the registry policy grants CreateRepository",
        OWNER,
        CREATE,
        None,
        None,
        resource_policy(ME, CREATE),
        "allowed",
    ),
    (
        "same account: the registry policy grants BatchImportUpstreamImage",
        OWNER,
        IMPORT,
        None,
        None,
        resource_policy(ME, IMPORT),
        "allowed",
    ),
    (
        "same account: the repository policy grants BatchImportUpstreamImage",
        OWNER,
        IMPORT,
        None,
        resource_policy(ME, IMPORT),
        resource_policy(ME, CREATE),
        "allowed",
    ),
    (
        "a registry statement for other repositories grants nothing",
        OWNER,
        CREATE,
        None,
        None,
        resource_policy(ME, CREATE, res=f"arn:aws:ecr:us-east-1:{OWNER}:repository/quay/*"),
        "implicitly_denied",
    ),
    (
        "a registry statement for another principal grants nothing",
        OWNER,
        CREATE,
        None,
        None,
        resource_policy(caller(OWNER).replace("/ci", "/other"), CREATE),
        "implicitly_denied",
    ),
    (
        "the IAM policy takes precedence: it grants what the registry policy does not",
        OWNER,
        CREATE,
        identity(CREATE),
        None,
        resource_policy(ME, IMPORT),
        "allowed",
    ),
    (
        "an explicit deny in the registry policy denies what IAM allows",
        OWNER,
        CREATE,
        identity(CREATE),
        None,
        resource_policy(ME, CREATE, effect="Deny"),
        "explicitly_denied",
    ),
    (
        "an explicit deny in the repository policy denies what the registry policy allows",
        OWNER,
        IMPORT,
        None,
        resource_policy(ME, IMPORT, effect="Deny"),
        resource_policy(ME, IMPORT),
        "explicitly_denied",
    ),
    (
        "an explicit deny in the identity policy denies what the registry policy allows",
        OWNER,
        CREATE,
        identity(CREATE, effect="Deny"),
        None,
        resource_policy(ME, CREATE),
        "explicitly_denied",
    ),
    (
        "cross account: the registry policy alone is not enough",
        OTHER,
        CREATE,
        None,
        None,
        resource_policy(THEM, CREATE),
        "implicitly_denied",
    ),
    (
        "cross account: the identity policy alone is not enough",
        OTHER,
        CREATE,
        identity(CREATE),
        None,
        None,
        "implicitly_denied",
    ),
    (
        "cross account: identity policy and registry policy together allow",
        OTHER,
        CREATE,
        identity(CREATE),
        None,
        resource_policy(THEM, CREATE),
        "allowed",
    ),
    (
        "cross account: identity and repository policy allow BatchImportUpstreamImage",
        OTHER,
        IMPORT,
        identity(IMPORT),
        resource_policy(THEM, IMPORT),
        None,
        "allowed",
    ),
]


@pytest.mark.parametrize(
    ("rule", "account", "action", "ident", "repository", "registry", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_registry_policy_table(
    rule: str,
    account: str,
    action: str,
    ident: dict[str, Any] | None,
    repository: dict[str, Any] | None,
    registry: dict[str, Any] | None,
    expected: str,
) -> None:
    del rule
    assert decision(account, action, ident, repository, registry) == expected


REGISTRY_GAP = Gap("ecr:GetRegistryPolicy", "the registry policy", "registry", "AccessDenied")


def test_an_unread_registry_policy_counts_only_where_it_applies() -> None:
    allowed = evaluate(
        Request(ME, CREATE, ARN),
        PolicySet(identity_policies=[parse_policy(identity(CREATE), "id")]),
    )
    denied = evaluate(Request(ME, CREATE, ARN), PolicySet())
    # the cache's actions: it might grant (implicit deny) or deny (allow)
    ev = evaluation_evidence(denied, [REGISTRY_GAP], registry_policy_applies=True)
    assert ev.result == "inconclusive" and "unreadable registry policy might" in ev.detail
    ev = evaluation_evidence(allowed, [REGISTRY_GAP], registry_policy_applies=True)
    assert ev.result == "inconclusive" and "registry policy could deny it" in ev.detail
    # any other action: the gap is not about it
    assert evaluation_evidence(denied, [REGISTRY_GAP]).result == "denied"
    assert evaluation_evidence(allowed, [REGISTRY_GAP]).result == "allowed"
