"""Identity isolation: whatever selects the AWS identity (AWS_PROFILE, env keys, a session
token, web identity, a per-registry profile in ecrpy's config), a token fetched for one
identity is never served to another. The server runs in identity-token mode, so every password
names the access key id that fetched it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.reliability.conftest import (
    ALICE,
    BOB,
    GAT,
    HOSTS,
    REGISTRIES,
    SecretSink,
    helper,
    helper_path,
    scaled,
)
from tests.support import write_config
from tests.support.aws_server import AwsServer, identity_token

DEV = ("AKIADEVDEVDEVEXAMPLE", "devSecretKeyDEVdevSECRETdevEXAMPLEKEY012")
PROD = ("AKIAPRODPRODEXAMPLE1", "prodSecretKeyPRODprodSECRETprodEXAMPLE01")


def _secret(run: Any) -> str:
    assert run.returncode == 0, (run.stdout, run.stderr)
    return str(json.loads(run.stdout)["Secret"])


def _expected(host_index: int, key_id: str) -> str:
    account, region = REGISTRIES[host_index]
    return identity_token(account, region, key_id)


def _profiles(env: dict[str, str]) -> dict[str, str]:
    Path(env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        f"[dev]\naws_access_key_id = {DEV[0]}\naws_secret_access_key = {DEV[1]}\n\n"
        f"[prod]\naws_access_key_id = {PROD[0]}\naws_secret_access_key = {PROD[1]}\n"
    )
    Path(env["AWS_CONFIG_FILE"]).write_text("[profile dev]\n\n[profile prod]\n")
    return {k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}


@pytest.fixture
def sink(secret_sink: SecretSink) -> SecretSink:
    for key_id in (ALICE.key_id, BOB.key_id, DEV[0], PROD[0]):
        for h in range(len(HOSTS)):
            secret_sink.token(_expected(h, key_id))
    secret_sink.secret(DEV[1])
    secret_sink.secret(PROD[1])
    return secret_sink


def test_switching_aws_profile(
    ident_aws: AwsServer, renv: dict[str, str], sink: SecretSink
) -> None:
    base = _profiles(renv)
    switches = scaled(40, 8)
    for n in range(switches):
        name, key = (("dev", DEV[0]), ("prod", PROD[0]))[n % 2]
        host = n % 2  # two registries
        assert _secret(helper(dict(base, AWS_PROFILE=name), "get", HOSTS[host])) == _expected(
            host, key
        )
    assert ident_aws.calls(GAT) == 2  # one per (profile, registry); then cache hits
    # env keys beat AWS_PROFILE in botocore's chain; the cache must agree with botocore
    both = ALICE.env(dict(base, AWS_PROFILE="dev"))
    assert _secret(helper(both, "get", HOSTS[0])) == _expected(0, ALICE.key_id)
    assert _secret(helper(dict(base, AWS_PROFILE="dev"), "get", HOSTS[0])) == _expected(0, DEV[0])


def test_env_keys_and_session_tokens(
    ident_aws: AwsServer, renv: dict[str, str], sink: SecretSink
) -> None:
    a = ALICE.env(renv)
    b = BOB.env(renv)
    b_other_session = dict(b, AWS_SESSION_TOKEN=(BOB.session_token or "") + "2")
    sink.secret(b_other_session["AWS_SESSION_TOKEN"])
    assert _secret(helper(a, "get", HOSTS[0])) == _expected(0, ALICE.key_id)
    assert _secret(helper(b, "get", HOSTS[0])) == _expected(0, BOB.key_id)
    assert ident_aws.calls(GAT) == 2
    # the same key id with another session token is another session: fetched anew
    assert _secret(helper(b_other_session, "get", HOSTS[0])) == _expected(0, BOB.key_id)
    assert ident_aws.calls(GAT) == 3
    # and neither replaces the other's entry
    assert _secret(helper(a, "get", HOSTS[0])) == _expected(0, ALICE.key_id)
    assert _secret(helper(b, "get", HOSTS[0])) == _expected(0, BOB.key_id)
    assert ident_aws.calls(GAT) == 3
    names = {
        p.name.split("-")[0] for p in (Path(renv["ECRPY_CACHE_DIR"]) / "tokens").glob("*.json")
    }
    assert len(names) == 3  # three identity fingerprints


def _role(aws: AwsServer, name: str) -> str:
    iam = boto3.client(
        "iam",
        endpoint_url=aws.url,
        region_name="us-east-1",
        aws_access_key_id=ALICE.key_id,
        aws_secret_access_key=ALICE.secret,
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/example"},
                "Action": "sts:AssumeRoleWithWebIdentity",
            }
        ],
    }
    try:
        return str(
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
                "Arn"
            ]
        )
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])


def test_web_identity_roles(
    ident_aws: AwsServer, renv: dict[str, str], sink: SecretSink, tmp_path: Path
) -> None:
    aws = ident_aws
    token_file = tmp_path / "web-identity-token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZWxpYWJpbGl0eSJ9.c2lnbmF0dXJl")
    sink.secret(token_file.read_text())
    base = {k: v for k, v in renv.items() if not k.startswith("AWS_ACCESS_KEY_ID")}
    base.pop("AWS_SECRET_ACCESS_KEY", None)
    envs = {}
    for name in ("ecrpy-reliability-a", "ecrpy-reliability-b"):
        envs[name] = dict(
            base, AWS_ROLE_ARN=_role(aws, name), AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file)
        )
    served: dict[str, str] = {}
    for name, env in envs.items():
        aws.reset_counts()
        served[name] = _secret(helper(env, "get", HOSTS[0]))
        requests = aws.token_requests()
        assert len(requests) == 1
        key_id = requests[0]["access_key_id"]
        assert key_id not in (ALICE.key_id, BOB.key_id)  # the role's session, not static keys
        assert served[name] == _expected(0, key_id)
        sink.token(served[name])
    assert served["ecrpy-reliability-a"] != served["ecrpy-reliability-b"]
    aws.reset_counts()
    for name, env in envs.items():  # back and forth: each role gets its own cached token
        assert _secret(helper(env, "get", HOSTS[0])) == served[name]
    assert aws.calls(GAT) == 0
    # static env keys set as well win over web identity (botocore's order): not the role token
    with_keys = ALICE.env(envs["ecrpy-reliability-a"])
    assert _secret(helper(with_keys, "get", HOSTS[0])) == _expected(0, ALICE.key_id)


def test_per_registry_profile(ident_aws: AwsServer, renv: dict[str, str], sink: SecretSink) -> None:
    base = ALICE.env(_profiles(renv))
    write_config(base, f'[registries."{HOSTS[1]}"]\nprofile = "prod"\n')
    assert _secret(helper(base, "get", HOSTS[0])) == _expected(0, ALICE.key_id)
    assert _secret(helper(base, "get", HOSTS[1])) == _expected(1, PROD[0])
    # the mapping removed: the host's token now comes from the default identity, never the
    # cached prod one
    write_config(base, "")
    assert _secret(helper(base, "get", HOSTS[1])) == _expected(1, ALICE.key_id)
    # and mapped to another profile
    write_config(base, f'[registries."{HOSTS[1]}"]\nprofile = "dev"\n')
    assert _secret(helper(base, "get", HOSTS[1])) == _expected(1, DEV[0])
    write_config(base, f'[registries."{HOSTS[1]}"]\nprofile = "prod"\n')
    assert _secret(helper(base, "get", HOSTS[1])) == _expected(1, PROD[0])
    assert ident_aws.calls(GAT) == 4


@pytest.mark.soak
def test_concurrent_mixed_identities(
    ident_aws: AwsServer, renv: dict[str, str], sink: SecretSink
) -> None:
    """Many processes at once, five ways of choosing an identity, one shared cache."""
    base = _profiles(renv)
    choices = [
        (ALICE.env(base), ALICE.key_id),
        (BOB.env(base), BOB.key_id),
        (dict(base, AWS_PROFILE="dev"), DEV[0]),
        (dict(base, AWS_PROFILE="prod"), PROD[0]),
        (ALICE.env(dict(base, AWS_PROFILE="prod")), ALICE.key_id),
    ]
    exe = helper_path(renv)
    rounds = scaled(10, 3)
    wrong = []
    for _ in range(rounds):
        jobs = []
        for i in range(40):
            env, key_id = choices[i % len(choices)]
            host = i % len(HOSTS)
            proc = subprocess.Popen(
                [exe, "get"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
            jobs.append((proc, host, key_id))
        for proc, host, key_id in jobs:
            out, err = proc.communicate(HOSTS[host].encode(), timeout=60)
            sink.text("mixed identities stderr", err)
            if proc.returncode != 0 or json.loads(out)["Secret"] != _expected(host, key_id):
                wrong.append((host, key_id, out[:120], err[:200]))
    assert wrong == []
    # 4 distinct identities (the fifth is ALICE again) x 4 registries
    assert ident_aws.calls(GAT) == 16
    print(f"[identity] {rounds} rounds x 40 processes, 5 identity selectors: 0 wrong tokens")
