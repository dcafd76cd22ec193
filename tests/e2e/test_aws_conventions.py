"""The user's AWS settings win over ecrpy's defaults, through the installed console scripts:
AWS_REGION, FIPS / dual-stack endpoints, retry mode and attempts (env and shared config)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support import MOTO_ACCOUNT, ecr_host, run_ecrpy, run_helper
from tests.support.aws_server import AwsServer
from tests.support.net import RecordingProxy

pytestmark = pytest.mark.e2e
HOST = ecr_host()
GAT = "GetAuthorizationToken"


def _without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


# -- AWS_REGION --------------------------------------------------------------------------------


def test_whoami_reads_aws_region(aws: AwsServer, helper_env: dict[str, str]) -> None:
    env = dict(_without(helper_env, "AWS_DEFAULT_REGION"), AWS_REGION="us-east-1")
    proc = run_ecrpy(env, "whoami")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr
    assert f"identity:       arn:aws:sts::{MOTO_ACCOUNT}:" in out
    assert "us-east-1 (AWS_REGION)" in out
    # readable lines: no dict or list reprs
    assert "{" not in out and "[" not in out and "None" not in out, out


def test_whoami_without_any_region_says_so(aws: AwsServer, helper_env: dict[str, str]) -> None:
    proc = run_ecrpy(_without(helper_env, "AWS_DEFAULT_REGION"), "whoami")
    err = proc.stderr.decode()
    assert proc.returncode == 1
    assert err.startswith("ecrpy: no AWS region configured; set AWS_REGION"), err
    assert "NoRegionError" not in err and len(err.strip().splitlines()) == 1


def test_configure_prefers_aws_region_over_aws_default_region(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    env = dict(helper_env, AWS_REGION="eu-west-1", AWS_DEFAULT_REGION="us-east-1")
    proc = run_ecrpy(env, "configure")
    assert proc.returncode == 0, proc.stderr
    config = json.loads(Path(env["DOCKER_CONFIG"], "config.json").read_text())
    assert config["credHelpers"] == {ecr_host(region="eu-west-1"): "ecrpy"}


def test_whoami_names_env_keys_overriding_aws_profile(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    Path(helper_env["AWS_CONFIG_FILE"]).write_text("[profile dev]\nregion = us-east-1\n")
    proc = run_ecrpy(dict(helper_env, AWS_PROFILE="dev"), "whoami")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr
    assert "AWS_ACCESS_KEY_ID in the environment overrides AWS_PROFILE=dev" in out
    proc = run_ecrpy(dict(helper_env, AWS_PROFILE="dev"), "doctor", "--offline")
    assert "WARN identity source: AWS_ACCESS_KEY_ID in the environment overrides" in (
        proc.stdout.decode()
    )


# -- retries -----------------------------------------------------------------------------------


def test_default_retries_recover_from_one_server_error(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    aws.set_fault(GAT, "500", count=1)
    proc = run_helper(helper_env, "get", HOST)
    assert proc.returncode == 0, proc.stderr
    assert aws.calls(GAT) == 2


@pytest.mark.parametrize("where", ["env", "profile"])
def test_user_max_attempts_wins(aws: AwsServer, helper_env: dict[str, str], where: str) -> None:
    env = dict(helper_env)
    if where == "env":
        env["AWS_MAX_ATTEMPTS"] = "1"
    else:
        Path(env["AWS_CONFIG_FILE"]).write_text("[default]\nmax_attempts = 1\n")
    aws.set_fault(GAT, "500", count=1)
    proc = run_helper(env, "get", HOST)
    assert proc.returncode == 1
    assert b"ECR answered with a server error" in proc.stderr, proc.stderr
    assert aws.calls(GAT) == 1  # no retry: the user asked for one attempt


def test_user_max_attempts_above_ecrpy_default(aws: AwsServer, helper_env: dict[str, str]) -> None:
    """Three failures exhaust ecrpy's default of three attempts, not the user's five."""
    aws.set_fault(GAT, "500", count=3)
    proc = run_helper(dict(helper_env, AWS_MAX_ATTEMPTS="5", AWS_RETRY_MODE="standard"), "get", HOST)
    assert proc.returncode == 0, proc.stderr
    assert aws.calls(GAT) == 4


# -- FIPS and dual-stack: which endpoint botocore picks, seen by a recording proxy ------------


@pytest.fixture
def proxy() -> object:
    with RecordingProxy() as p:
        yield p


def _through_proxy(env: dict[str, str], proxy: RecordingProxy, **extra: str) -> dict[str, str]:
    out = _without(env, "AWS_ENDPOINT_URL", "NO_PROXY", "no_proxy")
    out.update(HTTPS_PROXY=proxy.url, AWS_REGION="us-east-1", **extra)
    return out


def test_fips_env_sends_ecr_and_sts_to_fips_endpoints(
    helper_env: dict[str, str], proxy: RecordingProxy
) -> None:
    env = _through_proxy(helper_env, proxy, AWS_USE_FIPS_ENDPOINT="true")
    proc = run_helper(env, "get", HOST)
    assert proc.returncode == 1
    assert set(proxy.targets) == {"api.ecr-fips.us-east-1.amazonaws.com:443"}
    err = proc.stderr.decode()
    assert f"the proxy {proxy.url} refused to connect to ECR" in err, err
    proxy.targets.clear()
    proc = run_ecrpy(env, "whoami")
    assert set(proxy.targets) == {"sts-fips.us-east-1.amazonaws.com:443"}
    assert b"refused to connect to STS" in proc.stderr, proc.stderr
    assert b"ECR token" not in proc.stderr


def test_without_fips_the_standard_endpoints_are_used(
    helper_env: dict[str, str], proxy: RecordingProxy
) -> None:
    run_helper(_through_proxy(helper_env, proxy), "get", HOST)
    assert set(proxy.targets) == {"api.ecr.us-east-1.amazonaws.com:443"}


def test_fips_and_dualstack_from_the_shared_config(
    helper_env: dict[str, str], proxy: RecordingProxy
) -> None:
    Path(helper_env["AWS_CONFIG_FILE"]).write_text(
        "[default]\nuse_fips_endpoint = true\nuse_dualstack_endpoint = true\n"
    )
    run_helper(_through_proxy(helper_env, proxy), "get", HOST)
    assert set(proxy.targets) == {"ecr-fips.us-east-1.api.aws:443"}, proxy.targets


def test_dualstack_env(helper_env: dict[str, str], proxy: RecordingProxy) -> None:
    env = _through_proxy(helper_env, proxy, AWS_USE_DUALSTACK_ENDPOINT="true")
    run_helper(env, "get", HOST)
    assert set(proxy.targets) == {"ecr.us-east-1.api.aws:443"}, proxy.targets


def test_fips_registry_host_uses_fips_without_any_setting(
    helper_env: dict[str, str], proxy: RecordingProxy
) -> None:
    host = f"{MOTO_ACCOUNT}.dkr.ecr-fips.us-east-1.amazonaws.com"
    run_helper(_through_proxy(helper_env, proxy), "get", host)
    assert set(proxy.targets) == {"api.ecr-fips.us-east-1.amazonaws.com:443"}


def test_get_bounded_even_with_many_attempts(aws: AwsServer, helper_env: dict[str, str]) -> None:
    """AWS_MAX_ATTEMPTS=20 against a server that always hangs still answers within 10 s."""
    import time

    aws.set_fault(GAT, "hang")
    start = time.monotonic()
    proc = run_helper(dict(helper_env, AWS_MAX_ATTEMPTS="20"), "get", HOST)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1 and elapsed < 10, (elapsed, proc.stderr)
    assert 2 <= aws.calls(GAT) <= 3, aws.calls(GAT)
    assert os.environ.get("AWS_MAX_ATTEMPTS") is None  # the outer env is untouched


@pytest.mark.parametrize(
    "host",
    [
        f"{MOTO_ACCOUNT}.dkr.ecr.cn-north-1.on.amazonwebservices.com.cn",
        f"{MOTO_ACCOUNT}.dkr-ecr.us-west-2.on.aws",
        f"{MOTO_ACCOUNT}.dkr-ecr-fips.us-gov-west-1.on.aws",
    ],
)
def test_helper_serves_go_helper_host_forms(
    aws: AwsServer, helper_env: dict[str, str], host: str
) -> None:
    proc = run_helper(helper_env, "get", host)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["ServerURL"] == host and answer["Username"] == "AWS"
    region = next(label for label in host.split(".") if label[-1:].isdigit() and "-" in label)
    assert [r["region"] for r in aws.token_requests()] == [region]
