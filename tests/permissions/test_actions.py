"""Required actions per operation and the IMAGE parser: pure, no AWS."""

from __future__ import annotations

import pytest

from credhelper.errors import UsageError
from credhelper.permissions.actions import (
    ImageRef,
    parse_image,
    pull_through_prefix,
    repository_arn,
    required_actions,
)
from credhelper.registry import parse

HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
REG = parse(HOST)
assert REG is not None
ARN = "arn:aws:ecr:us-east-1:123456789012:repository/team/app"


def names(actions: list) -> list[str]:  # type: ignore[type-arg]
    return [a.action for a in actions]


def test_pull_actions_and_resources() -> None:
    acts = required_actions("pull", REG, "team/app")
    assert names(acts) == [
        "ecr:GetAuthorizationToken",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchCheckLayerAvailability",
    ]
    assert acts[0].resource == "*"
    assert {a.resource for a in acts[1:]} == {ARN}


def test_push_actions() -> None:
    acts = required_actions("push", REG, "team/app")
    assert names(acts) == [
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
    ]


def test_create_repository_only_when_missing_or_unknown() -> None:
    assert "ecr:CreateRepository" in names(
        required_actions("push", REG, "app", create_repo=True, repository_exists=False)
    )
    assert "ecr:CreateRepository" in names(
        required_actions("push", REG, "app", create_repo=True, repository_exists=None)
    )
    assert "ecr:CreateRepository" not in names(
        required_actions("push", REG, "app", create_repo=True, repository_exists=True)
    )
    assert "ecr:CreateRepository" not in names(
        required_actions("push", REG, "app", create_repo=False, repository_exists=False)
    )


@pytest.mark.parametrize(
    ("host", "arn_prefix"),
    [
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "arn:aws-cn:ecr:cn-north-1:"),
        ("123456789012.dkr.ecr.us-gov-west-1.amazonaws.com", "arn:aws-us-gov:ecr:us-gov-west-1:"),
        ("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "arn:aws:ecr:us-east-1:"),
        ("123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", "arn:aws-iso:ecr:us-iso-east-1:"),
    ],
)
def test_partition_comes_from_the_registry(host: str, arn_prefix: str) -> None:
    reg = parse(host)
    assert reg is not None
    acts = required_actions("pull", reg, "app")
    assert acts[1].resource == f"{arn_prefix}123456789012:repository/app"
    assert repository_arn(reg, "app").startswith(arn_prefix)


def test_ecr_public() -> None:
    reg = parse("public.ecr.aws")
    assert reg is not None
    assert required_actions("pull", reg, "alias/app") == []  # anonymous
    acts = required_actions("push", reg, "app", account="111122223333")
    assert names(acts) == [
        "ecr-public:GetAuthorizationToken",
        "sts:GetServiceBearerToken",
        "ecr-public:BatchCheckLayerAvailability",
        "ecr-public:InitiateLayerUpload",
        "ecr-public:UploadLayerPart",
        "ecr-public:CompleteLayerUpload",
        "ecr-public:PutImage",
    ]
    assert acts[0].resource == "*"
    assert acts[2].resource == "arn:aws:ecr-public::111122223333:repository/app"


def test_pull_through_cache() -> None:
    assert pull_through_prefix("docker-hub/library/nginx", ["docker-hub", "quay"]) == "docker-hub"
    assert pull_through_prefix("docker-hubx/nginx", ["docker-hub"]) is None
    assert pull_through_prefix("a/b/c", ["a", "a/b/"]) == "a/b"  # longest wins
    assert pull_through_prefix("app", []) is None
    acts = required_actions(
        "pull", REG, "docker-hub/library/nginx", pull_through="docker-hub", repository_exists=False
    )
    assert names(acts)[-2:] == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    acts = required_actions(
        "pull", REG, "docker-hub/library/nginx", pull_through="docker-hub", repository_exists=True
    )
    assert names(acts)[-1] == "ecr:BatchImportUpstreamImage"


def test_unknown_operation() -> None:
    with pytest.raises(UsageError):
        required_actions("delete", REG, "app")


# -- IMAGE parsing ------------------------------------------------------------------------------

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{HOST}/app", ImageRef(HOST, "app", "latest", None)),
        (f"{HOST}/team/app:1.0", ImageRef(HOST, "team/app", "1.0", None)),
        (f"{HOST}/app@{DIGEST}", ImageRef(HOST, "app", None, DIGEST)),
        (f"{HOST}/app:v2@{DIGEST}", ImageRef(HOST, "app", "v2", DIGEST)),
        ("127.0.0.1:5001/app:x", ImageRef("127.0.0.1:5001", "app", "x", None)),
        ("localhost/a__b/c-d.e:T_1", ImageRef("localhost", "a__b/c-d.e", "T_1", None)),
        (f"{HOST.upper()}/app", ImageRef(HOST, "app", "latest", None)),
    ],
)
def test_parse_image(text: str, expected: ImageRef) -> None:
    ref = parse_image(text)
    assert ref == expected
    assert ref.reference == (expected.digest or expected.tag)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("app:latest", "no registry host"),
        ("library/app", "no registry host"),
        (f"https://{HOST}/app", "URL scheme"),
        (f"{HOST}/", "no repository"),
        (f"{HOST}/App", "not a valid repository"),
        (f"{HOST}/app:-bad", "not a valid tag"),
        (f"{HOST}/app:" + "x" * 129, "not a valid tag"),
        (f"{HOST}/app@sha256:abc", "not a digest"),
        (f"{HOST}/app@sha256:" + "AB" * 32, "64 lower-case"),
        (f"{HOST}/" + "a" * 257, "are 2-256 characters"),
        (f"{HOST}/a", "are 2-256 characters"),
    ],
)
def test_parse_image_errors(text: str, needle: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_image(text)
    assert needle in err.value.one_line()
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("exists", "cached", "extra"),
    [
        # ECR User Guide, pull-through-cache-iam: CreateRepository "is required if the
        # repository storing the cached images doesn't already exist"
        (False, None, ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]),
        (None, None, ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]),
        # BatchImportUpstreamImage: "retrieve the external image and import it" — only when
        # the cache does not hold the tag (or whether it does is unknown)
        (True, False, ["ecr:BatchImportUpstreamImage"]),
        (True, None, ["ecr:BatchImportUpstreamImage"]),
        (True, True, []),
    ],
)
def test_pull_through_extras_follow_what_the_cache_holds(
    exists: bool | None, cached: bool | None, extra: list[str]
) -> None:
    acts = required_actions(
        "pull",
        REG,
        "hub/library/alpine",
        pull_through="hub",
        repository_exists=exists,
        image_cached=cached,
    )
    assert names(acts) == [
        "ecr:GetAuthorizationToken",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchCheckLayerAvailability",
        *extra,
    ]


def test_a_root_rule_covers_every_repository_no_other_rule_does() -> None:
    # ECR User Guide, pull-through-cache-private-wildcards: cache namespace ROOT maps
    # my-app/image1 -> my-app/image1
    assert pull_through_prefix("my-app/image1", ["ROOT"]) == "ROOT"
    assert pull_through_prefix("app", ["ROOT"]) == "ROOT"
    assert pull_through_prefix("team/app", ["ROOT", "team"]) == "team"
    assert pull_through_prefix("team/app", ["team", "ROOT"]) == "team"
    assert pull_through_prefix("ROOT/app", []) is None
