"""``ecrpy check pull`` of an image under a pull-through cache prefix, as a real process against
moto with IAM enforcement behind the ECR-faithful front (tests/support/ecr_front.py serves the
pull-through cache rule APIs moto lacks, and stores registry policies moto refuses).

What the ECR User Guide ("IAM permissions required to sync an upstream registry with an Amazon
ECR private registry") says a pull through a cache needs, on top of the pull actions:
``ecr:BatchImportUpstreamImage`` to import the image, and ``ecr:CreateRepository`` "if the
repository storing the cached images doesn't already exist"; both may also be granted by the
private registry policy. A tag the cache already holds is served from the repository.

moto evaluates identity policies only; BatchImportUpstreamImage and CreateRepository are never
probed (they import and create), so they are decided by the local evaluation of the policies the
caller can read — here the user's own and the registry policy.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_check import (
    HOST,
    PULL,
    World,
    as_user,
    by_action,
    check,
    doc,
    enforce,
)
from tests.e2e.test_check import (
    validate as validate_check,
)
from tests.support import (
    MOTO_ACCOUNT,
    MOTO_REGION,
    run_ecrpy,
)
from tests.support.aws_server import AwsServer

pytestmark = pytest.mark.e2e
IMPORT = "ecr:BatchImportUpstreamImage"
CREATE = "ecr:CreateRepository"
# What the check reads besides the probes: the rules, the registry policy, the repository.
READS = [
    "ecr:DescribePullThroughCacheRules",
    "ecr:GetRegistryPolicy",
    "ecr:DescribeRepositories",
]


@pytest.fixture
def world(aws: AwsServer) -> World:
    return World(aws)


def cache_rule(world: World, prefix: str, fillers: int = 0) -> None:
    """Create ``fillers`` unrelated rules, then the rule for ``prefix`` (before ``enforce``)."""
    for i in range(fillers):
        world.ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix=f"fill{i}-{world.uid}", upstreamRegistryUrl="quay.io"
        )
    world.ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix=prefix,
        upstreamRegistryUrl="public.ecr.aws",
        upstreamRegistry="ecr-public",
    )


def registry_policy(world: World, principal: str, actions: list[str], prefix: str) -> None:
    """The registry policy statement the ECR console's "Pull through cache policy" generates."""
    world.ecr.put_registry_policy(
        policyText=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "PullThroughCache",
                        "Effect": "Allow",
                        "Principal": {"AWS": principal},
                        "Action": actions,
                        "Resource": f"arn:aws:ecr:{MOTO_REGION}:{MOTO_ACCOUNT}:repository/"
                        f"{prefix}/*",
                    }
                ],
            }
        )
    )


@pytest.fixture
def no_registry_policy(world: World) -> Any:
    """Registry policies are per account (shared by every test): none before and after."""

    def drop() -> None:
        try:
            world.ecr.delete_registry_policy()
        except ClientError:
            pass

    drop()
    yield
    drop()


def validate(d: dict[str, Any]) -> None:
    validate_check(d)
    assert d["operation"] == "pull"


def image(prefix: str, tag: str = "3") -> str:
    return f"{HOST}/{prefix}/library/alpine:{tag}"


# -- the first pull: the repository does not exist yet ------------------------------------------


def test_first_pull_with_import_and_create_is_allowed(
    aws: AwsServer, world: World, helper_env: dict[str, str], no_registry_policy: None
) -> None:
    prefix = f"hub-{world.uid}"
    # more rules than one DescribePullThroughCacheRules page holds (100): the rule is found
    # only by reading every page
    cache_rule(world, prefix, fillers=100)
    user = world.user("ptc", inline={"ecr": doc([*PULL, IMPORT, CREATE, *READS])})
    env = as_user(helper_env, user)
    enforce(aws)

    code, d, _ = check(env, "pull", image(prefix))
    validate(d)
    assert (code, d["verdict"]) == (0, "allowed"), d
    assert d["repository"]["exists"] is False
    assert d["repository"]["pull_through_prefix"] == prefix
    assert d["registry"]["policy"] == "none"
    assert d["problems"] == [] and d["suggestion"] is None
    acts = by_action(d)
    assert list(acts) == [*PULL, IMPORT, CREATE]
    for extra in (IMPORT, CREATE):
        a = acts[extra]
        assert a["verdict"] == "allowed" and a["decided_by"] == "evaluation", a
        assert a["evidence"]["probe"]["result"] == "not_run"
        arn = f"arn:aws:ecr:{MOTO_REGION}:{MOTO_ACCOUNT}:repository/{prefix}/library/alpine"
        assert a["resource"] == arn
    # the pull actions are decided by AWS itself: the authorized probes met no repository
    assert {a: acts[a]["decided_by"] for a in PULL} == dict.fromkeys(PULL, "probe")
    assert any(n.startswith(f"first pull through cache prefix '{prefix}'") for n in d["notes"])
    assert aws.calls("DescribePullThroughCacheRules") == 2  # two pages
    assert aws.calls("GetRegistryPolicy") == 1
    assert aws.calls("CreateRepository") == aws.calls("BatchImportUpstreamImage") == 0

    text = run_ecrpy(env, "check", "pull", image(prefix))
    assert text.returncode == 0
    out = text.stdout.decode()
    assert f"cache:      pull-through prefix {prefix}, registry policy none" in out
    assert "repository: " + f"{prefix}/library/alpine (does not exist)" in out
    rows = [line.split()[:2] for line in out.splitlines() if line.startswith("ecr:")]
    assert [IMPORT, "allowed*"] in rows and [CREATE, "allowed*"] in rows
    assert "verdict: ALLOWED" in out


def test_first_pull_without_create_repository_is_denied_naming_it(
    aws: AwsServer, world: World, helper_env: dict[str, str], no_registry_policy: None
) -> None:
    prefix = f"hub-{world.uid}"
    cache_rule(world, prefix)
    user = world.user("ptc", inline={"ecr": doc([*PULL, IMPORT, *READS])})
    env = as_user(helper_env, user)
    enforce(aws)

    code, d, _ = check(env, "pull", image(prefix))
    validate(d)
    assert (code, d["verdict"]) == (3, "denied")
    acts = by_action(d)
    assert [a for a, v in acts.items() if v["verdict"] == "denied"] == [CREATE]
    assert acts[IMPORT]["verdict"] == "allowed"
    assert "no identity-based" in acts[CREATE]["reasons"][0]
    assert d["fix"]["identity_statement"]["Statement"][0]["Action"] == [CREATE]
    assert d["fix"]["repository_statement"] is None

    text = run_ecrpy(env, "check", "pull", image(prefix))
    assert text.returncode == 3
    out = text.stdout.decode()
    assert f"{CREATE}: denied: evaluation: implicit deny" in out
    assert "verdict: DENIED" in out and f'"{CREATE}"' in out


def test_the_registry_policy_grants_what_the_identity_policy_lacks(
    aws: AwsServer, world: World, helper_env: dict[str, str], no_registry_policy: None
) -> None:
    """ECR User Guide: BatchImportUpstreamImage and CreateRepository "can be granted by ...
    the private registry permissions policy"."""
    prefix = f"hub-{world.uid}"
    cache_rule(world, prefix)
    user = world.user("ptc", inline={"ecr": doc([*PULL, *READS])})
    registry_policy(world, user["arn"], [IMPORT, CREATE], prefix)
    env = as_user(helper_env, user)
    enforce(aws)

    code, d, _ = check(env, "pull", image(prefix))
    validate(d)
    assert (code, d["verdict"]) == (0, "allowed"), d
    assert d["registry"]["policy"] == "present"
    acts = by_action(d)
    for extra in (IMPORT, CREATE):
        assert acts[extra]["verdict"] == "allowed"
        assert "registry policy" in acts[extra]["evidence"]["evaluation"]["detail"]
    assert any("registry policy was read and evaluated" in n for n in d["notes"])

    # The same registry policy for another prefix grants nothing here.
    aws.disable_iam_auth()
    registry_policy(world, user["arn"], [IMPORT, CREATE], f"other-{world.uid}")
    enforce(aws)
    code, d, _ = check(env, "pull", image(prefix))
    assert (code, d["verdict"]) == (3, "denied")
    assert [a["action"] for a in d["actions"] if a["verdict"] == "denied"] == [IMPORT, CREATE]


def test_an_unreadable_registry_policy_is_a_gap_and_leaves_it_undetermined(
    aws: AwsServer, world: World, helper_env: dict[str, str], no_registry_policy: None
) -> None:
    prefix = f"hub-{world.uid}"
    cache_rule(world, prefix)
    user = world.user("ptc", inline={"ecr": doc([*PULL, IMPORT, READS[0], READS[2]])})
    env = as_user(helper_env, user)
    enforce(aws)

    code, d, _ = check(env, "pull", image(prefix))
    validate(d)
    assert (code, d["verdict"]) == (4, "undetermined"), d
    assert d["registry"]["policy"] == "unreadable"
    gap = next(g for g in d["gaps"] if g["call"] == "ecr:GetRegistryPolicy")
    assert gap["affects"] == "registry"
    acts = by_action(d)
    # CreateRepository: no identity policy allows it, the registry policy might;
    # BatchImportUpstreamImage: the identity policy allows it, the registry policy might deny
    for extra, words in ((CREATE, "might"), (IMPORT, "could deny it")):
        evaluation = acts[extra]["evidence"]["evaluation"]
        assert acts[extra]["verdict"] == "undetermined"
        assert evaluation["result"] == "inconclusive"
        assert "unreadable registry policy" in evaluation["detail"], evaluation
        assert words in evaluation["detail"]
    # the registry gap touches no other action's verdict
    assert all(acts[a]["verdict"] == "allowed" for a in PULL)
    out = run_ecrpy(env, "check", "pull", image(prefix)).stdout.decode()
    assert "could not read:" in out and "ecr:GetRegistryPolicy" in out


# -- no rule, and later pulls ------------------------------------------------------------------


def test_without_a_rule_for_the_prefix_the_repository_is_missing(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    prefix = f"hub-{world.uid}"
    cache_rule(world, f"other-{world.uid}")
    user = world.user("ptc", inline={"ecr": doc([*PULL, IMPORT, CREATE, *READS])})
    env = as_user(helper_env, user)
    enforce(aws)

    code, d, _ = check(env, "pull", image(prefix))
    validate(d)
    assert (code, d["verdict"]) == (5, "repository_missing")
    assert d["repository"]["pull_through_prefix"] is None
    assert d["problems"] == [
        f"repository {prefix}/library/alpine does not exist in {MOTO_ACCOUNT}/{MOTO_REGION}"
    ]
    assert "pull-through cache rule" in d["suggestion"]
    assert list(by_action(d)) == PULL
    assert aws.calls("GetRegistryPolicy") == 0  # no cache pull: the registry policy is moot
    out = run_ecrpy(env, "check", "pull", image(prefix)).stdout.decode()
    assert "verdict: REPOSITORY MISSING" in out and "cache:" not in out


def test_rules_that_cannot_be_read_are_said_in_the_suggestion(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    prefix = f"hub-{world.uid}"
    cache_rule(world, prefix)
    user = world.user("ptc", inline={"ecr": doc([*PULL, "ecr:DescribeRepositories"])})
    env = as_user(helper_env, user)
    enforce(aws)
    code, d, _ = check(env, "pull", image(prefix))
    validate(d)
    assert (code, d["verdict"]) == (5, "repository_missing")
    assert d["suggestion"].endswith("(the pull-through cache rules could not be read)")
    assert any(g["call"] == "ecr:DescribePullThroughCacheRules" for g in d["gaps"])


def test_a_later_pull_of_a_cached_tag_needs_only_the_pull_actions(
    aws: AwsServer, world: World, helper_env: dict[str, str], no_registry_policy: None
) -> None:
    prefix = f"hub-{world.uid}"
    cache_rule(world, prefix)
    repo = f"{prefix}/library/alpine"
    world.ecr.create_repository(repositoryName=repo)
    world.tag(repo, "3")
    # no import, no create; the repository policy is readable (none: nothing else grants)
    user = world.user("ptc", inline={"ecr": doc([*PULL, *READS, "ecr:GetRepositoryPolicy"])})
    env = as_user(helper_env, user)
    enforce(aws)

    code, d, _ = check(env, "pull", image(prefix))
    validate(d)
    assert (code, d["verdict"]) == (0, "allowed"), d
    assert d["repository"]["exists"] is True
    assert d["repository"]["pull_through_prefix"] == prefix
    assert list(by_action(d)) == PULL
    assert any("already cached" in n for n in d["notes"])

    # A tag the cache does not hold yet is imported, not refused: BatchImportUpstreamImage
    # (denied here) is listed, CreateRepository is not.
    code, d, _ = check(env, "pull", image(prefix, "3.20"))
    validate(d)
    assert (code, d["verdict"]) == (3, "denied")
    assert d["problems"] == [] and d["nearest_tags"] is None
    assert list(by_action(d)) == [*PULL, IMPORT]
    assert by_action(d)[IMPORT]["verdict"] == "denied"
    assert any("not cached yet" in n for n in d["notes"])
    out = run_ecrpy(env, "check", "pull", image(prefix, "3.20")).stdout.decode()
    assert f"{IMPORT}: denied" in out and "verdict: DENIED" in out


# -- the front: ECR's pull-through cache rule API ----------------------------------------------


def test_the_front_serves_the_rule_api_as_ecr_documents(aws: AwsServer, world: World) -> None:
    ecr = world.ecr
    prefixes = [f"p{i}-{world.uid}" for i in range(5)]
    for p in prefixes:
        made = ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix=p, upstreamRegistryUrl="public.ecr.aws"
        )
        assert made["ecrRepositoryPrefix"] == p and made["registryId"] == MOTO_ACCOUNT
        assert made["upstreamRegistryUrl"] == "public.ecr.aws" and "createdAt" in made
    with pytest.raises(ClientError) as err:
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix=prefixes[0], upstreamRegistryUrl="quay.io"
        )
    assert err.value.response["Error"]["Code"] == "PullThroughCacheRuleAlreadyExistsException"
    with pytest.raises(ClientError) as err:
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="Bad", upstreamRegistryUrl="q.io")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"

    page = ecr.describe_pull_through_cache_rules(maxResults=2)
    assert [r["ecrRepositoryPrefix"] for r in page["pullThroughCacheRules"]] == prefixes[:2]
    pages = ecr.get_paginator("describe_pull_through_cache_rules").paginate(
        PaginationConfig={"PageSize": 2}
    )
    seen = [r["ecrRepositoryPrefix"] for pg in pages for r in pg["pullThroughCacheRules"]]
    assert seen == prefixes

    only = ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=[prefixes[3]])
    assert [r["ecrRepositoryPrefix"] for r in only["pullThroughCacheRules"]] == [prefixes[3]]
    assert "nextToken" not in only
    with pytest.raises(ClientError) as err:
        ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=[f"none-{world.uid}"])
    assert err.value.response["Error"]["Code"] == "PullThroughCacheRuleNotFoundException"

    gone = ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=prefixes[1])
    assert gone["ecrRepositoryPrefix"] == prefixes[1]
    with pytest.raises(ClientError) as err:
        ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=prefixes[1])
    assert err.value.response["Error"]["Code"] == "PullThroughCacheRuleNotFoundException"
    left = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert [r["ecrRepositoryPrefix"] for r in left] == [p for p in prefixes if p != prefixes[1]]


def test_the_front_lets_iam_decide_the_rule_api(aws: AwsServer, world: World) -> None:
    world.ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix=f"hub-{world.uid}", upstreamRegistryUrl="public.ecr.aws"
    )
    allowed = world.user("reader", inline={"ecr": doc(["ecr:DescribePullThroughCacheRules"])})
    denied = world.user("nobody", inline={"ecr": doc(["ecr:DescribeRepositories"])})
    enforce(aws)

    def client(user: dict[str, str]) -> Any:
        return boto3.client(
            "ecr",
            endpoint_url=aws.url,
            region_name=MOTO_REGION,
            aws_access_key_id=user["key"],
            aws_secret_access_key=user["secret"],
        )

    rules = client(allowed).describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert [r["ecrRepositoryPrefix"] for r in rules] == [f"hub-{world.uid}"]
    for call in (
        lambda c: c.describe_pull_through_cache_rules(),
        lambda c: c.create_pull_through_cache_rule(
            ecrRepositoryPrefix=f"x-{world.uid}", upstreamRegistryUrl="quay.io"
        ),
        lambda c: c.delete_pull_through_cache_rule(ecrRepositoryPrefix=f"hub-{world.uid}"),
    ):
        with pytest.raises(ClientError) as err:
            call(client(denied))
        assert "AccessDenied" in str(err.value)
    # the denied delete changed nothing
    assert len(client(allowed).describe_pull_through_cache_rules()["pullThroughCacheRules"]) == 1
