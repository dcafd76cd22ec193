"""Cold gets through the trimmed botocore models send moto the same requests and give the same
answers as through botocore's stock loader (``AWS_DATA_PATH`` set: user models may exist, so
ecrpy keeps the stock loader), for an assumed-role profile and for web identity."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support import (
    MOTO_ECR_PASSWORD,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    ecr_host,
    run_helper,
)
from tests.support.aws_server import AwsServer, _drain

pytestmark = pytest.mark.e2e
HOST = ecr_host()
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
# Differ on every request whichever loader: the clock, the signature over it, a random id.
VOLATILE = {"HTTP_X_AMZ_DATE", "HTTP_AMZ_SDK_INVOCATION_ID"}


class Recorder:
    """WSGI wrapper in front of moto that keeps what each AWS request looked like."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = _drain(environ).decode()
        # botocore names an assumed-role profile's session after the clock
        body = re.sub(r"botocore-session-\d+", "botocore-session-N", body)
        headers = {
            k: v for k, v in environ.items() if k.startswith("HTTP_") and k not in VOLATILE
        }
        # botocore lists the feature ids of the user agent (m/a,b,c) from a set
        agent = headers.get("HTTP_USER_AGENT", "")
        headers["HTTP_USER_AGENT"] = re.sub(
            r" m/(\S+)", lambda m: " m/" + ",".join(sorted(m[1].split(","))), agent
        )
        # moto hands out new temporary keys for every AssumeRole*: their presence is compared
        if "HTTP_X_AMZ_SECURITY_TOKEN" in headers:
            headers["HTTP_X_AMZ_SECURITY_TOKEN"] = "<session token>"
        auth = headers.pop("HTTP_AUTHORIZATION", "")
        scope = auth.partition(", Signature=")[0].split("/")  # Credential=KEY/DATE/region/...
        headers["auth"] = "/".join(scope[2:])  # region, service, signed headers
        self.seen.append(
            {
                "method": environ["REQUEST_METHOD"],
                "path": environ.get("PATH_INFO"),
                "query": environ.get("QUERY_STRING"),
                "content_type": environ.get("CONTENT_TYPE"),
                "headers": headers,
                "body": body,
            }
        )
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


@pytest.fixture
def recorder(aws: AwsServer) -> Iterator[Recorder]:
    rec = Recorder(aws.middleware.app)
    aws.middleware.app = rec
    try:
        yield rec
    finally:
        aws.middleware.app = rec.app


@pytest.fixture
def role_arn(aws: AwsServer) -> str:
    iam = boto3.client(
        "iam",
        endpoint_url=aws.url,
        region_name="us-east-1",
        aws_access_key_id=TEST_ACCESS_KEY_ID,
        aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
    )
    name = f"trim-{os.urandom(4).hex()}"
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def cold_get(
    env: dict[str, str], aws: AwsServer, recorder: Recorder
) -> tuple[bytes, dict[str, int], list[dict[str, Any]]]:
    """One get with empty caches (ecrpy's and the AWS CLI's role cache): answer, calls,
    requests."""
    shutil.rmtree(env["ECRPY_CACHE_DIR"], ignore_errors=True)
    shutil.rmtree(Path(env["HOME"]) / ".aws" / "cli", ignore_errors=True)
    aws.reset_counts()
    recorder.seen.clear()
    proc = run_helper(env, "get", HOST)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, aws.counts(), list(recorder.seen)


def compare_loaders(
    env: dict[str, str], aws: AwsServer, recorder: Recorder, tmp_path: Path
) -> tuple[bytes, dict[str, int]]:
    trimmed = cold_get(env, aws, recorder)
    empty = tmp_path / "no-models"
    empty.mkdir()
    stock = cold_get(dict(env, AWS_DATA_PATH=str(empty)), aws, recorder)
    assert trimmed[:2] == stock[:2]
    assert len(trimmed[2]) == len(stock[2])
    for ours, theirs in zip(trimmed[2], stock[2], strict=True):
        assert ours == theirs, _header_diff(ours, theirs)
    assert json.loads(trimmed[0])["Secret"] == MOTO_ECR_PASSWORD
    return trimmed[0], trimmed[1]


def test_assumed_role_profile_cold_get_is_the_same_with_trimmed_models(
    aws: AwsServer, recorder: Recorder, helper_env: dict[str, str], role_arn: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    env = {k: v for k, v in helper_env.items() if not k.startswith("AWS_SECRET")}
    env.pop("AWS_ACCESS_KEY_ID")
    env["AWS_PROFILE"] = "deploy"
    Path(env["AWS_CONFIG_FILE"]).write_text(
        f"[profile src]\nregion = us-east-1\n\n"
        f"[profile deploy]\nrole_arn = {role_arn}\nsource_profile = src\n"
    )
    Path(env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        f"[src]\naws_access_key_id = {TEST_ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n"
    )
    _, calls = compare_loaders(env, aws, recorder, tmp_path)
    assert calls == {"AssumeRole": 1, "GetAuthorizationToken": 1}


def test_web_identity_cold_get_is_the_same_with_trimmed_models(
    aws: AwsServer, recorder: Recorder, helper_env: dict[str, str], role_arn: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    token = tmp_path / "web-token"
    token.write_text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0cmltIn0.")
    env = {k: v for k, v in helper_env.items() if k not in ("AWS_ACCESS_KEY_ID",
                                                           "AWS_SECRET_ACCESS_KEY")}  # fmt: skip
    env.update(
        AWS_ROLE_ARN=role_arn, AWS_WEB_IDENTITY_TOKEN_FILE=str(token),
        AWS_ROLE_SESSION_NAME="trimmed-models",
    )  # fmt: skip
    _, calls = compare_loaders(env, aws, recorder, tmp_path)
    assert calls == {"AssumeRoleWithWebIdentity": 1, "GetAuthorizationToken": 1}


def _header_diff(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    a, b = ours["headers"], theirs["headers"]
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
