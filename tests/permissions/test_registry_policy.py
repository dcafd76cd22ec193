"""The private registry policy in a pull through a cache (credhelper/preflight/registry_policy.py).

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
from credhelper.preflight.registry_policy import either_resource_policy

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


# -- through decide: the simulator's blind spot and the cross-account fix ----------------------


def _decide(caller_account: str, registry_state: str, sim_decision: str) -> Any:
    from credhelper.permissions.actions import parse_image
    from credhelper.permissions.findings import FoundPolicy, Identity
    from credhelper.permissions.gather import Gathered
    from credhelper.permissions.probe import ProbeResult
    from credhelper.permissions.simulate import SimResult, Simulation
    from credhelper.preflight.decide import CheckRequest, decide
    from credhelper.registry import parse

    host = f"{OWNER}.dkr.ecr.us-east-1.amazonaws.com"
    ref = parse_image(f"{host}/hub/library/alpine:3")
    req = CheckRequest(ref, parse(host), "pull", "auto", False, ref.repository)
    out = Gathered()
    out.identity = Identity(
        caller(caller_account), caller_account, "user", "ci", caller(caller_account)
    )
    out.repository.exists = False
    out.repository.policy_state = "none"
    out.repository.pull_through_prefixes = ["hub"]
    out.registry_policy_state = registry_state  # type: ignore[assignment]
    # the identity allows the pull and the import, not CreateRepository
    pulls = ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    out.identity_policies.append(
        FoundPolicy("id", "identity", identity(*pulls, "ecr:BatchCheckLayerAvailability", IMPORT))
    )
    if registry_state == "unreadable":
        out.gaps.append(REGISTRY_GAP)
    probes = {
        a: ProbeResult(a, "allowed", "authorized", a, repository_missing=a != pulls[0])
        for a in [*pulls, "ecr:BatchCheckLayerAvailability"]
    }
    sim = Simulation(True, results={(CREATE, ARN): SimResult(CREATE, ARN, sim_decision)})
    return decide(req, probes, sim, out.identity, out)


def test_the_simulator_cannot_conclude_an_implicit_deny_the_registry_policy_may_lift() -> None:
    result = _decide(OWNER, "unreadable", "implicitDeny")
    create = next(a for a in result.actions if a.action == CREATE)
    assert create.evidence["simulation"].result == "inconclusive"
    assert "registry policy (not simulated)" in create.evidence["simulation"].detail
    assert (create.verdict, result.verdict) == ("undetermined", "undetermined")
    # no registry policy: the simulator's implicit deny stands
    result = _decide(OWNER, "none", "implicitDeny")
    create = next(a for a in result.actions if a.action == CREATE)
    assert (create.verdict, create.decided_by, result.verdict) == ("denied", "simulation", "denied")


def test_cross_account_fix_points_at_the_registry_policy() -> None:
    result = _decide(OTHER, "none", "implicitDeny")
    assert result.verdict == "denied"
    assert result.fix is not None
    # cross account, no resource-based policy of the owner grants either
    assert [a.action for a in result.actions if a.verdict == "denied"] == [IMPORT, CREATE]
    # and no repository policy can: there is no repository before the first pull
    assert result.fix.repository_statement is None
    assert CREATE in result.fix.identity_statement["Statement"][0]["Action"]
    assert any("registry policy (aws ecr put-registry-policy)" in n for n in result.fix.notes)
