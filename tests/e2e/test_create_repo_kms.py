"""``ecrpy push --create-repo --kms-key KEY`` (issue #14): before CreateRepository the key is
resolved (ARN, id or alias), its state checked, and the caller's kms:DescribeKey,
kms:CreateGrant and kms:RetireGrant (what creating a KMS-encrypted repository needs, ECR User
Guide) confirmed with KMS's DryRun; a missing one is named and nothing is created or pushed.

Real processes: moto (IAM enforced; the test front answers DryRun as KMS does), the registry
and a private dockerd."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_transfer import POWER_USER, World, as_user, ecrpy, one_line_error, run_json
from tests.support import (
    MOTO_ACCOUNT,
    MOTO_REGION,
    write_config,
)
from tests.support.aws_server import AwsServer
from tests.support.dockerd import Dockerd
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def world(aws: AwsServer, registry_server: RegistryServer, dockerd: Dockerd) -> World:
    return World(aws, registry_server, dockerd)


@pytest.fixture
def env(
    helper_env: dict[str, str], registry_server: RegistryServer, dockerd: Dockerd
) -> dict[str, str]:
    """As in test_transfer: the private engine + the registry as an alias of moto's account."""
    write_config(
        helper_env,
        f'[registries."{registry_server.host}"]\n'
        f'account_id = "{MOTO_ACCOUNT}"\nregion = "{MOTO_REGION}"\n',
    )
    return {**helper_env, **dockerd.env()}


def grantees(key_id: str) -> list[str]:
    """The grantee of every grant on the key, read in-process (IAM enforcement is on)."""
    from moto.kms.models import kms_backends

    key = kms_backends[MOTO_ACCOUNT][MOTO_REGION].keys[key_id]
    return sorted(g.grantee_principal for g in key.grants.values())


def encryption(repo: str) -> Any:
    from moto.ecr.models import ecr_backends

    return ecr_backends[MOTO_ACCOUNT][MOTO_REGION].repositories[repo].encryption_configuration
CREATE = ["ecr:CreateRepository", "kms:DescribeKey"]


def kms_client(aws: AwsServer) -> Any:
    return aws.client("kms")


def test_create_repo_with_a_usable_key_by_alias(
    aws: AwsServer, world: World, env: dict[str, str], registry_server: RegistryServer
) -> None:
    kms = kms_client(aws)
    key = kms.create_key()["KeyMetadata"]
    alias = f"alias/{world.name('ecr')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    repo = world.name("kms-new")
    image = world.local_image(repo, "v1")
    user = world.user("kms-ok", [*POWER_USER, *CREATE, "kms:CreateGrant", "kms:RetireGrant"])
    aws.enable_iam_auth()
    doc, _ = run_json(as_user(env, user), "push", "--create-repo", "--kms-key", alias, image)
    assert doc["repository_created"] is True and doc["layers"]["pushed"] == 1
    assert encryption(repo) == {"encryptionType": "KMS", "kmsKey": alias}
    # The DryRun checks left no grant behind: only the two ECR created with the repository.
    assert grantees(key["KeyId"]) == [f"ecr.{MOTO_REGION}.amazonaws.com"] * 2


@pytest.mark.parametrize(
    ("extra", "missing"),
    [
        (["kms:RetireGrant"], "kms:CreateGrant denied"),
        (["kms:CreateGrant"], "kms:RetireGrant denied"),
        ([], "kms:CreateGrant, kms:RetireGrant denied"),
    ],
)
def test_create_repo_names_the_missing_kms_permission(
    aws: AwsServer,
    world: World,
    env: dict[str, str],
    registry_server: RegistryServer,
    extra: list[str],
    missing: str,
) -> None:
    kms = kms_client(aws)
    key = kms.create_key()["KeyMetadata"]
    repo = world.name("kms-denied")
    image = world.local_image(repo, "v1")
    user = world.user("kms-no", [*POWER_USER, *CREATE, *extra])
    aws.enable_iam_auth()
    blobs = registry_server.blob_count()
    code, _, err = ecrpy(as_user(env, user), "push", "--create-repo", "--kms-key", key["Arn"], image)
    line = one_line_error(err)
    assert code == 3, err
    assert missing in line and key["Arn"] in line
    assert aws.calls("CreateRepository") == 0
    assert registry_server.blob_count() == blobs
    assert grantees(key["KeyId"]) == []


@pytest.mark.parametrize("damage", ["disable", "schedule_deletion", "missing"])
def test_create_repo_refuses_a_key_that_cannot_work(
    aws: AwsServer, world: World, env: dict[str, str], damage: str
) -> None:
    kms = kms_client(aws)
    key = kms.create_key()["KeyMetadata"]
    name, expected = key["KeyId"], ""
    if damage == "disable":
        kms.disable_key(KeyId=key["KeyId"])
        expected = "is Disabled"
    elif damage == "schedule_deletion":
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
        expected = "is PendingDeletion"
    else:
        name, expected = "alias/no-such-key", "KMS key alias/no-such-key not found"
    repo = world.name("kms-bad")
    image = world.local_image(repo, "v1")
    user = world.user("kms-bad", [*POWER_USER, *CREATE, "kms:CreateGrant", "kms:RetireGrant"])
    aws.enable_iam_auth()
    code, _, err = ecrpy(as_user(env, user), "push", "--create-repo", "--kms-key", name, image)
    assert code == 3, err
    assert expected in one_line_error(err)
    assert aws.calls("CreateRepository") == 0
