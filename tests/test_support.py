"""The fixtures themselves: if these fail, every other test's evidence is suspect."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from tests.support import (
    MOTO_ACCOUNT,
    MOTO_ECR_PASSWORD,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    write_config,
)
from tests.support.aws_server import AwsServer, control, stats
from tests.support.dockerd import Dockerd, mounts_under
from tests.support.images import make_oci_layout, make_tiny_image_tar
from tests.support.registry_server import RegistryServer

GAT = "GetAuthorizationToken"


def client(server: AwsServer, service: str, **config: Any) -> Any:
    # No retries: a test about one injected fault must see that fault, not botocore's recovery.
    cfg = Config(retries={"mode": "standard", "total_max_attempts": 1}, **config)
    # Typed as Any: the stubs' per-service overloads need a literal service name.
    factory: Any = boto3.client
    return factory(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=TEST_ACCESS_KEY_ID,
        aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
        config=cfg,
    )


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# -- moto server ------------------------------------------------------------------------------


def test_token_expiry_rewritten_and_counted(aws: AwsServer) -> None:
    ecr = client(aws, "ecr")
    assert aws.calls(GAT) == 0
    data = ecr.get_authorization_token()["authorizationData"][0]
    remaining = (data["expiresAt"] - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert 12 * 3600 - 60 < remaining <= 12 * 3600
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    assert (user, password) == ("AWS", MOTO_ECR_PASSWORD)
    assert aws.calls(GAT) == 1
    ecr.get_authorization_token()
    assert aws.calls(GAT) == 2
    assert stats(aws.url)[GAT] == 2


def test_token_ttl_knobs(aws: AwsServer) -> None:
    ecr = client(aws, "ecr")
    aws.set_token_ttl(30)
    expires = ecr.get_authorization_token()["authorizationData"][0]["expiresAt"]
    assert 0 < (expires - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 30
    aws.set_token_ttl(None)
    expires = ecr.get_authorization_token()["authorizationData"][0]["expiresAt"]
    assert expires.year == 2015  # moto's own, already-expired value


def test_counts_query_protocol_and_reset(aws: AwsServer) -> None:
    sts = client(aws, "sts")
    assert sts.get_caller_identity()["Account"] == MOTO_ACCOUNT
    assert aws.calls("GetCallerIdentity") == 1
    aws.reset_counts()
    assert aws.counts() == {}


def test_fault_500_then_recovers(aws: AwsServer) -> None:
    ecr = client(aws, "ecr")
    aws.set_fault(GAT, "500", count=2)
    for _ in range(2):
        with pytest.raises(ClientError) as info:
            ecr.get_authorization_token()
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert ecr.get_authorization_token()["authorizationData"]
    assert aws.calls(GAT) == 3


def test_fault_throttle(aws: AwsServer) -> None:
    aws.set_fault(GAT, "throttle")
    with pytest.raises(ClientError) as info:
        client(aws, "ecr").get_authorization_token()
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_fault_accessdenied(aws: AwsServer) -> None:
    aws.set_fault(GAT, "accessdenied")
    with pytest.raises(ClientError) as info:
        client(aws, "ecr").get_authorization_token()
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"


def test_fault_malformed(aws: AwsServer) -> None:
    # botocore does not raise on an unparseable JSON body: it hands back {"message": body}
    # without authorizationData, which the product must treat as an error.
    aws.set_fault(GAT, "malformed")
    response = client(aws, "ecr").get_authorization_token()
    assert "authorizationData" not in response


def test_fault_hang_times_out(aws: AwsServer) -> None:
    aws.set_fault(GAT, "hang")
    ecr = client(aws, "ecr", read_timeout=0.5, connect_timeout=1)
    start = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        ecr.get_authorization_token()
    assert time.monotonic() - start < 5


def test_latency(aws: AwsServer) -> None:
    aws.set_latency(GAT, 0.3)
    start = time.monotonic()
    client(aws, "ecr").get_authorization_token()
    assert time.monotonic() - start >= 0.3


def test_control_endpoint(aws: AwsServer) -> None:
    state = control(
        aws.url,
        token_ttl=60,
        faults={GAT: {"kind": "throttle", "count": 1}},
        latency={"GetCallerIdentity": 0.01},
    )
    assert state["faults"][GAT] == {"kind": "throttle", "count": 1}
    ecr = client(aws, "ecr")
    with pytest.raises(ClientError):
        ecr.get_authorization_token()
    expires = ecr.get_authorization_token()["authorizationData"][0]["expiresAt"]
    # 60 s from the server's clock, sent in milliseconds (rounding may add up to 1 ms)
    assert (expires - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 60.001
    assert stats(aws.url)[GAT] == 2
    assert control(aws.url, reset_counts=True)["counts"] == {}
    with pytest.raises(urllib.error.HTTPError) as info:
        control(aws.url, faults={GAT: {"kind": "nonsense"}})
    assert info.value.code == 400


def test_iam_auth_on_and_off(aws: AwsServer) -> None:
    ecr = client(aws, "ecr")
    aws.enable_iam_auth()
    with pytest.raises(ClientError) as info:
        ecr.describe_repositories()
    # Unknown access key: moto answers XML 403, not ECR's JSON errors.
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    aws.disable_iam_auth()
    assert "repositories" in ecr.describe_repositories()


def test_reset_moto(aws: AwsServer) -> None:
    ecr = client(aws, "ecr")
    ecr.create_repository(repositoryName="ecrpy-support-reset")
    aws.reset_moto()
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert "ecrpy-support-reset" not in names


@pytest.mark.e2e
def test_aws_server_module_runs_in_foreground(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.aws_server", "--port", "0", "--token-ttl", "90"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("ready http://127.0.0.1:"), line
        url = line.split()[1]
        ecr = boto3.client(
            "ecr",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=TEST_ACCESS_KEY_ID,
            aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
        )
        expires = ecr.get_authorization_token()["authorizationData"][0]["expiresAt"]
        assert 0 < (expires - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 90
        assert stats(url) == {GAT: 1}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


# -- helper environment -----------------------------------------------------------------------


def test_helper_env_is_isolated(
    helper_env: dict[str, str], tmp_path: Path, aws_server: AwsServer, venv_bin: str
) -> None:
    for key in ("AWS_PROFILE", "DOCKER_HOST", "AWS_CA_BUNDLE", "HTTPS_PROXY", "ECRPY_CACHE"):
        assert key not in helper_env
    for key in ("HOME", "ECRPY_CACHE_DIR", "ECRPY_CONFIG", "DOCKER_CONFIG", "AWS_CONFIG_FILE"):
        assert helper_env[key].startswith(str(tmp_path))
    assert helper_env["AWS_ENDPOINT_URL"] == aws_server.url
    assert helper_env["PATH"].split(os.pathsep)[0] == venv_bin
    assert not Path(helper_env["ECRPY_CONFIG"]).exists()
    path = write_config(helper_env, 'cache = "file"\n')
    assert path.read_text() == 'cache = "file"\n'


# -- registry ---------------------------------------------------------------------------------


@pytest.mark.e2e
def test_registry_requires_auth(registry_server: RegistryServer) -> None:
    url = f"http://{registry_server.host}/v2/"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, timeout=5)
    assert info.value.code == 401
    bad = urllib.request.Request(url, headers=basic_auth("AWS", "wrong"))
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(bad, timeout=5)
    assert info.value.code == 401
    good = urllib.request.Request(url, headers=basic_auth("AWS", MOTO_ECR_PASSWORD))
    with urllib.request.urlopen(good, timeout=5) as resp:
        assert resp.status == 200


@pytest.mark.e2e
def test_registry_password_change_without_restart(tmp_path: Path) -> None:
    with RegistryServer(tmp_path / "reg", users={"AWS": "one"}) as reg:
        url = f"{reg.url}/v2/"
        reg.set_password("AWS", "two")
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=basic_auth("AWS", "two")), timeout=5
        ) as resp:
            assert resp.status == 200
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(
                urllib.request.Request(url, headers=basic_auth("AWS", "one")), timeout=5
            )


@pytest.mark.e2e
def test_skopeo_pushes_oci_layout(registry_server: RegistryServer, tmp_path: Path) -> None:
    if shutil.which("skopeo") is None:
        if os.environ.get("CI"):
            pytest.fail("skopeo missing")
        pytest.skip("skopeo missing")
    image = make_oci_layout(tmp_path / "oci", tag="v1", size_bytes=4096)
    before = registry_server.blob_count()
    dest = f"docker://{registry_server.host}/support/push:v1"
    creds = f"AWS:{MOTO_ECR_PASSWORD}"
    # Keep skopeo away from the outer docker config and auth files.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path)}
    push = subprocess.run(
        ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", creds, image.ref, dest],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert push.returncode == 0, push.stderr
    assert registry_server.blob_count() == before + 3  # layer, config, manifest
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", creds, dest],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert raw.returncode == 0, raw.stderr
    assert json.loads(raw.stdout)["layers"][0]["digest"] == image.layer_digest
    denied = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", "AWS:wrong", dest],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert denied.returncode != 0


# -- docker engine ----------------------------------------------------------------------------


@pytest.mark.e2e
def test_dockerd_ping_and_import(dockerd: Dockerd, tmp_path: Path) -> None:
    import docker

    engine = docker.DockerClient(base_url=dockerd.base_url)
    try:
        assert engine.ping()
        tar = make_tiny_image_tar(tmp_path / "rootfs.tar", size_bytes=2048)
        # The CLI, as users and docker-based tests drive it.
        imported = subprocess.run(
            ["docker", "import", str(tar), "support/tiny:v1"],
            capture_output=True,
            text=True,
            env={
                "PATH": os.environ["PATH"],
                "HOME": str(tmp_path),
                "DOCKER_CONFIG": str(tmp_path / "docker"),
                **dockerd.env(),
            },
            timeout=120,
        )
        assert imported.returncode == 0, imported.stderr
        assert "support/tiny:v1" in engine.images.get("support/tiny:v1").tags
        engine.images.remove("support/tiny:v1")
    finally:
        engine.close()


@pytest.mark.e2e
def test_dockerd_starts_and_stops_cleanly(tmp_path: Path) -> None:
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("dockerd missing or not root")
        pytest.skip("dockerd missing or not root")
    engine = Dockerd()
    root, pid = engine.root, engine.pid
    assert pid is not None
    engine.stop()  # raises if mounts were left behind
    assert mounts_under(root) == []
    assert not root.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
