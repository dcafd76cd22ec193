"""Every kind of AWS identity through the real helper process, against moto's STS and ECR."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import boto3
import pytest

from tests.support import (
    MOTO_ECR_PASSWORD,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    ecr_host,
    run_helper,
)
from tests.support.aws_server import AwsServer

pytestmark = pytest.mark.e2e
HOST = ecr_host()
GAT = "GetAuthorizationToken"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"],
            }
        ],
    }
)


@pytest.fixture
def role_arn(aws: AwsServer) -> str:
    iam = boto3.client(
        "iam",
        endpoint_url=aws.url,
        region_name="us-east-1",
        aws_access_key_id=TEST_ACCESS_KEY_ID,
        aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
    )
    name = f"deploy-{os.urandom(4).hex()}"
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def without_keys(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}


def write_aws_files(env: dict[str, str], config: str, credentials: str = "") -> None:
    Path(env["AWS_CONFIG_FILE"]).write_text(config)
    Path(env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(credentials)


def secret(env: dict[str, str]) -> str:
    proc = run_helper(env, "get", HOST)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return str(json.loads(proc.stdout)["Secret"])


def test_assumed_role_profile_reuses_cli_cache_across_token_misses(
    aws: AwsServer, helper_env: dict[str, str], role_arn: str
) -> None:
    env = dict(without_keys(helper_env), AWS_PROFILE="deploy")
    write_aws_files(
        env,
        f"[profile src]\nregion = us-east-1\n\n[profile deploy]\nrole_arn = {role_arn}\nsource_profile = src\n",
        f"[src]\naws_access_key_id = {TEST_ACCESS_KEY_ID}\naws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n",
    )
    assert secret(env) == MOTO_ECR_PASSWORD
    assert (aws.calls("AssumeRole"), aws.calls(GAT)) == (1, 1)
    assert secret(env) == MOTO_ECR_PASSWORD
    assert (aws.calls("AssumeRole"), aws.calls(GAT)) == (1, 1)  # token cache hit
    cli_cache = Path(env["HOME"]) / ".aws" / "cli" / "cache"
    assert len(list(cli_cache.glob("*.json"))) == 1  # the AWS CLI's own cache format and place
    shutil.rmtree(env["ECRPY_CACHE_DIR"])
    assert secret(env) == MOTO_ECR_PASSWORD
    assert (aws.calls("AssumeRole"), aws.calls(GAT)) == (
        1,
        2,
    )  # role session reused from the CLI cache


def test_web_identity_from_env(
    aws: AwsServer, helper_env: dict[str, str], role_arn: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "oidc-token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm9yZy9hcHAifQ.c2lnbmF0dXJl")
    env = dict(
        without_keys(helper_env),
        AWS_ROLE_ARN=role_arn,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
        AWS_ROLE_SESSION_NAME="gha-run-1",
    )
    assert secret(env) == MOTO_ECR_PASSWORD
    assert aws.calls("AssumeRoleWithWebIdentity") == 1
    # a new CI run (new session name) of the same role shares the cached token
    env["AWS_ROLE_SESSION_NAME"] = "gha-run-2"
    assert secret(env) == MOTO_ECR_PASSWORD
    assert aws.calls(GAT) == 1


def test_credential_process_profile(
    aws: AwsServer, helper_env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "creds.py"
    creds = {"Version": 1, "AccessKeyId": TEST_ACCESS_KEY_ID, "SecretAccessKey": TEST_SECRET_ACCESS_KEY}
    script.write_text(f"print({json.dumps(json.dumps(creds))})\n")
    env = dict(without_keys(helper_env), AWS_PROFILE="proc")
    write_aws_files(env, f"[profile proc]\ncredential_process = {sys.executable} {script}\n")
    assert secret(env) == MOTO_ECR_PASSWORD
    assert aws.calls(GAT) == 1


def test_failing_credential_process_is_one_line(aws: AwsServer, helper_env: dict[str, str]) -> None:
    env = dict(without_keys(helper_env), AWS_PROFILE="proc")
    write_aws_files(env, "[profile proc]\ncredential_process = /bin/false\n")
    proc = run_helper(env, "get", HOST)
    assert (
        proc.returncode == 1 and proc.stdout.strip() == b"credentials not found in native keychain"
    )
    err = proc.stderr.decode().strip()
    assert err.startswith("ecrpy: ") and "\n" not in err and "Traceback" not in err


def test_mfa_profile_without_session_never_prompts(
    aws: AwsServer, helper_env: dict[str, str], role_arn: str
) -> None:
    env = dict(without_keys(helper_env), AWS_PROFILE="mfa")
    write_aws_files(
        env,
        f"[profile src]\n\n[profile mfa]\nrole_arn = {role_arn}\nsource_profile = src\n"
        "mfa_serial = arn:aws:iam::123456789012:mfa/dev\n",
        f"[src]\naws_access_key_id = {TEST_ACCESS_KEY_ID}\naws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n",
    )
    proc = run_helper(env, "get", HOST, timeout=15)
    assert proc.returncode == 1
    assert "MFA" in proc.stderr.decode()
    assert aws.calls("AssumeRole") == 0


def test_profile_switch_never_serves_the_other_identity(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    base = without_keys(helper_env)
    write_aws_files(
        base,
        "[profile a]\n\n[profile b]\n",
        f"[a]\naws_access_key_id = {TEST_ACCESS_KEY_ID}\naws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n"
        f"[b]\naws_access_key_id = AKIAI44QH8DHBEXAMPLE\naws_secret_access_key = je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY\n",
    )
    a, b = dict(base, AWS_PROFILE="a"), dict(base, AWS_PROFILE="b")
    secret(a)
    secret(b)
    assert aws.calls(GAT) == 2
    secret(a)
    secret(b)
    assert aws.calls(GAT) == 2
    entries = os.listdir(os.path.join(base["ECRPY_CACHE_DIR"], "tokens"))
    assert len({e.split("-")[0] for e in entries if e.endswith(".json")}) == 2


def test_per_registry_profile_from_ecrpy_config(aws: AwsServer, helper_env: dict[str, str]) -> None:
    from tests.support import write_config

    write_aws_files(
        helper_env,
        "[profile other]\n",
        "[other]\naws_access_key_id = AKIAI44QH8DHBEXAMPLE\naws_secret_access_key = x/y\n",
    )
    secret(helper_env)  # env keys
    write_config(helper_env, f'[registries."{HOST}"]\nprofile = "other"\n')
    secret(helper_env)  # now the per-registry profile: a different identity, a new token
    assert aws.calls(GAT) == 2


@pytest.mark.parametrize("path", ["fast", "botocore"])
@pytest.mark.parametrize(
    "damage", ["truncated", "binary", "empty", "huge", "fifo", "symlink to nowhere"]
)
def test_a_damaged_aws_cli_cache_entry_is_assumed_anew_not_fatal(
    aws: AwsServer, helper_env: dict[str, str], role_arn: str, path: str, damage: str
) -> None:
    """A truncated, binary, empty or huge (16 MiB) ~/.aws/cli/cache entry (a killed AWS CLI, a
    full disk) would make botocore's own cache raise KeyError on every get; a FIFO planted there
    must not block; a dangling symlink is no entry. Both of ecrpy's paths treat each as absent:
    one AssumeRole, a token, and a good entry written back. ``AWS_MAX_ATTEMPTS`` (a setting only
    botocore implements) sends the second case through botocore."""
    env = dict(without_keys(helper_env), AWS_PROFILE="deploy")
    if path == "botocore":
        env["AWS_MAX_ATTEMPTS"] = "3"
    write_aws_files(
        env,
        f"[profile src]\nregion = us-east-1\n\n[profile deploy]\nrole_arn = {role_arn}\nsource_profile = src\n",
        f"[src]\naws_access_key_id = {TEST_ACCESS_KEY_ID}\naws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n",
    )
    assert secret(env) == MOTO_ECR_PASSWORD
    (entry,) = (Path(env["HOME"]) / ".aws" / "cli" / "cache").glob("*.json")
    contents = {"truncated": b'{"Credentials": {"AccessKeyId": "AS', "binary": b"\x00\xff binary",
                "empty": b"", "huge": b"[" * (16 << 20)}  # fmt: skip
    entry.unlink()
    if damage == "fifo":
        os.mkfifo(entry)
    elif damage == "symlink to nowhere":
        entry.symlink_to(entry.parent / "gone.json")
    else:
        entry.write_bytes(contents[damage])
    shutil.rmtree(env["ECRPY_CACHE_DIR"])
    aws.reset_counts()
    proc = run_helper(env, "get", HOST)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert json.loads(proc.stdout)["Secret"] == MOTO_ECR_PASSWORD
    assert (aws.calls("AssumeRole"), aws.calls(GAT)) == (1, 1)
    if damage != "symlink to nowhere":  # os.replace puts a file in its place
        assert entry.is_file() and not entry.is_symlink()
    assert json.loads(entry.read_text())["Credentials"]["SessionToken"]
