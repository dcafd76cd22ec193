"""EKS Pod Identity through the real helper: AWS_CONTAINER_CREDENTIALS_FULL_URI on 127.0.0.1 and
AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, against a local agent and moto's ECR."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.support import (
    MOTO_ECR_PASSWORD,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    ecr_host,
    run_ecrpy,
    run_helper,
)
from tests.support.aws_server import AwsServer
from tests.support.net import ContainerCredentialsServer

pytestmark = pytest.mark.e2e
HOST = ecr_host()
GAT = "GetAuthorizationToken"
SUBJECT = "system:serviceaccount:team:builder"


def jwt(subject: str, nonce: str) -> str:
    """A JWT-shaped service account token (unsigned: only the agent checks it, by equality)."""

    def part(doc: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return ".".join(
        [part({"alg": "RS256"}), part({"sub": subject, "jti": nonce, "aud": "pods.eks"}), "sig"]
    )


@pytest.fixture
def pod(tmp_path: Path, helper_env: dict[str, str]) -> object:
    token_file = tmp_path / "eks-pod-identity-token"
    token_file.write_text(jwt(SUBJECT, "first"))
    with ContainerCredentialsServer(
        token_file, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, "pod-session-token"
    ) as agent:
        env = {
            k: v
            for k, v in helper_env.items()
            if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        }
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = agent.url
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = str(token_file)
        yield agent, env, token_file


def test_pod_identity_gets_a_token_and_caches_it(aws: AwsServer, pod: tuple) -> None:
    agent, env, token_file = pod
    proc = run_helper(env, "get", HOST)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Secret"] == MOTO_ECR_PASSWORD
    assert agent.requests == [
        {"path": "/v1/credentials", "authorization": token_file.read_text()}
    ]
    assert aws.calls(GAT) == 1
    # The agent rotates the token file: same service account, so the cache still serves.
    token_file.write_text(jwt(SUBJECT, "rotated"))
    proc = run_helper(env, "get", HOST)
    assert proc.returncode == 0 and aws.calls(GAT) == 1 and len(agent.requests) == 1
    # Another service account (a shared cache dir): never the first one's token.
    token_file.write_text(jwt("system:serviceaccount:team:other", "x"))
    proc = run_helper(env, "get", HOST)
    assert proc.returncode == 0 and aws.calls(GAT) == 2 and len(agent.requests) == 2


def test_whoami_names_the_service_account(aws: AwsServer, pod: tuple) -> None:
    _agent, env, _token = pod
    proc = run_ecrpy(env, "whoami")
    assert proc.returncode == 0, proc.stderr
    assert f"credentials:    EKS Pod Identity ({SUBJECT})" in proc.stdout.decode()


def test_rejected_service_account_token_is_one_line(aws: AwsServer, pod: tuple) -> None:
    agent, env, token_file = pod
    wrong = token_file.parent / "wrong-token"
    wrong.write_text(jwt(SUBJECT, "stolen"))
    env = dict(env, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(wrong))
    proc = run_helper(env, "get", HOST)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and aws.calls(GAT) == 0
    assert len(err.strip().splitlines()) == 1 and err.startswith("ecrpy: "), err
    assert "Traceback" not in err and wrong.read_text() not in err
    assert f"the container credentials endpoint {agent.url} refused" in err, err
    assert "401" in err and "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" in err, err
    assert agent.requests and agent.requests[0]["authorization"] == wrong.read_text()
