"""``ecrpy check`` and the repository options ECR users meet on every push (issue #14): the
repository's KMS key (state and ECR's grants), its lifecycle policy, and ECR's name rule.

Real processes against moto's server (with tests/support/ecr_front.py creating ECR's grants
on a KMS-encrypted repository as ECR does)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.test_check import (
    HOST,
    POWER_USER,
    World,
    as_user,
    check,
    doc,
    enforce,
    validate,
)
from tests.support import run_ecrpy
from tests.support.aws_server import AwsServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def world(aws: AwsServer) -> World:
    return World(aws)

KMS_READ = ["kms:DescribeKey", "kms:ListGrants"]


def kms_client(aws: AwsServer) -> Any:
    return aws.client("kms")


def encrypted_repo(world: World, key: str) -> str:
    name = world.name("enc")
    world.ecr.create_repository(
        repositoryName=name, encryptionConfiguration={"encryptionType": "KMS", "kmsKey": key}
    )
    return name


def pusher(world: World, extra: list[str]) -> dict[str, str]:
    return world.user("kms", managed=[world.policy("pu-kms", doc(POWER_USER + extra))])


def test_healthy_key_is_shown_with_its_state_and_ecr_grants(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    kms = kms_client(aws)
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/{world.name('k')}", TargetKeyId=key["KeyId"])
    repo = encrypted_repo(world, key["Arn"])
    env = as_user(helper_env, pusher(world, KMS_READ))
    enforce(aws)
    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    validate(d)
    assert (code, d["verdict"]) == (0, "allowed"), d
    enc = d["repository"]["encryption"]
    assert (enc["type"], enc["kms_key"]) == ("KMS", key["Arn"])
    assert enc["key"]["state"] == "Enabled" and enc["key"]["ecr_grants"] == 2
    text = run_ecrpy(env, "check", "push", f"{HOST}/{repo}:v1").stdout.decode()
    assert f"encryption: KMS with {key['Arn']} (Enabled, 2 ECR grant(s))" in text


@pytest.mark.parametrize("damage", ["disable", "schedule_deletion", "revoke_grants"])
def test_a_key_that_cannot_work_denies_push_and_pull_with_the_cause(
    aws: AwsServer, world: World, helper_env: dict[str, str], damage: str
) -> None:
    kms = kms_client(aws)
    key = kms.create_key()["KeyMetadata"]
    repo = encrypted_repo(world, key["KeyId"])
    if damage == "disable":
        kms.disable_key(KeyId=key["KeyId"])
        cause = "is Disabled: every push and pull fails; ask the key's owner to enable it"
    elif damage == "schedule_deletion":
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
        cause = "is PendingDeletion (deletion on "
    else:
        for grant in kms.list_grants(KeyId=key["KeyId"])["Grants"]:
            kms.revoke_grant(KeyId=key["KeyId"], GrantId=grant["GrantId"])
        cause = "has no grant for ECR"
    env = as_user(helper_env, pusher(world, KMS_READ))
    enforce(aws)
    for op in ("push", "pull"):
        code, d, _ = check(env, op, f"{HOST}/{repo}:v1")
        validate(d)
        assert (code, d["verdict"]) == (3, "denied"), d
        assert any(cause in p and key["Arn"] in p for p in d["problems"]), d["problems"]


def test_an_unreadable_key_is_a_gap_not_a_guess(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    kms = kms_client(aws)
    key = kms.create_key()["KeyMetadata"]
    repo = encrypted_repo(world, key["Arn"])
    kms.disable_key(KeyId=key["KeyId"])  # unknowable to this caller: must not be guessed
    env = as_user(helper_env, pusher(world, []))
    enforce(aws)
    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    validate(d)
    assert (code, d["verdict"]) == (0, "allowed"), d
    enc = d["repository"]["encryption"]
    assert enc["key"]["state"] is None and enc["key"]["ecr_grants"] is None
    gap = next(g for g in d["gaps"] if g["call"] == "kms:DescribeKey")
    assert key["Arn"] in gap["subject"] and gap["reason"] == "AccessDenied"
    assert aws.calls("ListGrants") == 0


def test_aes256_repository_makes_no_kms_call(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    repo = world.repo()
    env = as_user(helper_env, pusher(world, KMS_READ))
    enforce(aws)
    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    assert code == 0 and d["repository"]["encryption"] == {
        "type": "AES256",
        "kms_key": None,
        "key": None,
    }
    assert aws.calls("DescribeKey") == 0


def test_lifecycle_rule_that_the_push_exceeds_is_a_warning_not_a_block(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    repo = world.repo()
    world.tag(repo, "v0")
    world.tag(repo, "v00")
    world.tag(repo, "other")
    rules = {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": ["v"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 2,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["tmp-*"],
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            },
        ]
    }
    world.ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=json.dumps(rules))
    env = as_user(helper_env, pusher(world, []))
    enforce(aws)
    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    validate(d)
    assert code == 0 and d["verdict"] == "allowed"
    life = d["repository"]["lifecycle"]
    assert life["policy"] == "present"
    assert life["warnings"] == [
        "lifecycle rule 1 keeps the 2 newest of images tagged 'v*': after this push there "
        "are 3, so the 1 oldest will be expired"
    ]
    code, d, _ = check(env, "push", f"{HOST}/{repo}:tmp-7")
    assert code == 0
    assert d["repository"]["lifecycle"]["warnings"] == [
        "lifecycle rule 2 expires images tagged 'tmp-*' 1 day(s) after their push: tmp-7 "
        "will be expired within a day"
    ]
    code, d, _ = check(env, "push", f"{HOST}/{repo}:release")  # no rule selects it
    assert code == 0 and d["repository"]["lifecycle"]["warnings"] == []
    text = run_ecrpy(env, "check", "push", f"{HOST}/{repo}:v1").stdout.decode()
    assert "warning: lifecycle rule 1 keeps the 2 newest" in text


def test_no_lifecycle_policy_is_reported(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    repo = world.repo()
    env = as_user(helper_env, pusher(world, []))
    enforce(aws)
    _, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    assert d["repository"]["lifecycle"] == {"policy": "none", "warnings": []}


@pytest.mark.parametrize(
    "name",
    ["a", "App", "app//x", "-app", "app-", "app..x", "x" * 257, "a/" + "b" * 255],
)
def test_invalid_repository_names_are_usage_errors_before_any_aws_call(
    aws: AwsServer, helper_env: dict[str, str], name: str
) -> None:
    aws.reset_counts()
    for args in (("check", "push"), ("push", "--create-repo"), ("pull",)):
        proc = run_ecrpy(helper_env, *args, f"{HOST}/{name}:v1")
        err = proc.stderr.decode().strip()
        assert proc.returncode == 2, (args, name, err)
        assert len(err.splitlines()) <= 2 and "Traceback" not in err
        assert "ECR repository names" in err, err
    assert aws.counts() == {}
