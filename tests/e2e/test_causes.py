"""Causes, not class names: each network or setup failure is one line that names the cause, the
fix and the log, and says which service failed (ECR's token call or STS), through the installed
console scripts. No internet: `.invalid` names never resolve (RFC 6761), servers are loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import ecr_host, run_ecrpy, run_helper
from tests.support.aws_server import AwsServer
from tests.support.net import RecordingProxy, SelfSignedTLSServer, unused_port

pytestmark = pytest.mark.e2e
HOST = ecr_host()
NOT_FOUND = b"credentials not found in native keychain"


def _line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("ecrpy: ") and "Traceback" not in lines[0]
    return lines[0]


def _get_fails(env: dict[str, str]) -> str:
    proc = run_helper(env, "get", HOST)
    assert proc.returncode == 1 and NOT_FOUND in proc.stdout, (proc.stdout, proc.stderr)
    return _line(proc.stderr)


def _whoami_fails(env: dict[str, str]) -> str:
    proc = run_ecrpy(env, "whoami")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    line = _line(proc.stderr)
    assert "ECR token" not in line, line  # STS's failure is not ECR's
    return line


def _log_named(line: str, env: dict[str, str]) -> None:
    log = str(Path(env["ECRPY_LOG_DIR"]) / "ecrpy.log")
    assert f"details in {log}" in line, line


def test_missing_ca_bundle(helper_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "x" / "ca.pem"
    env = dict(helper_env, AWS_CA_BUNDLE=str(missing))
    expected = f"ecrpy: AWS_CA_BUNDLE={missing} does not exist; point it at a PEM file"
    assert _get_fails(env).startswith(expected)
    assert _whoami_fails(env).startswith(expected)


def test_missing_ca_bundle_in_profile(helper_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    Path(helper_env["AWS_CONFIG_FILE"]).write_text(f"[default]\nca_bundle = {missing}\n")
    line = _get_fails(helper_env)
    assert f"ca_bundle = {missing} (profile 'default') does not exist" in line, line


def test_untrusted_certificate(helper_env: dict[str, str], tmp_path: Path) -> None:
    with SelfSignedTLSServer(tmp_path) as tls:
        env = dict(helper_env, AWS_ENDPOINT_URL=tls.url)
        line = _get_fails(env)
        assert f"the TLS certificate of ECR (127.0.0.1:{tls.port}) is not trusted" in line, line
        assert "set AWS_CA_BUNDLE to its CA certificate" in line
        _log_named(line, env)
        line = _whoami_fails(env)
        assert f"the TLS certificate of STS (127.0.0.1:{tls.port}) is not trusted" in line, line
        # ...and trusting that CA is the fix: the call then reaches the server
        env["AWS_CA_BUNDLE"] = str(tls.cert)
        line = _get_fails(env)
        assert "not trusted" not in line and "server error" in line, line


def test_proxy_unreachable(helper_env: dict[str, str]) -> None:
    proxy = f"http://127.0.0.1:{unused_port()}"
    env = {k: v for k, v in helper_env.items() if k != "AWS_ENDPOINT_URL"}
    env.update(HTTPS_PROXY=proxy, AWS_REGION="us-east-1")
    line = _get_fails(env)
    assert f"cannot connect to the proxy {proxy} (for ECR)" in line, line
    assert "check HTTPS_PROXY" in line
    _log_named(line, env)
    assert f"cannot connect to the proxy {proxy} (for STS)" in _whoami_fails(env)


def test_proxy_refusing_the_tunnel(helper_env: dict[str, str]) -> None:
    with RecordingProxy() as proxy:
        env = {k: v for k, v in helper_env.items() if k != "AWS_ENDPOINT_URL"}
        env.update(HTTPS_PROXY=proxy.url, AWS_REGION="us-east-1")
        line = _get_fails(env)
    assert f"the proxy {proxy.url} refused to connect to ECR" in line, line
    assert "NO_PROXY" in line


def test_dns_failure(helper_env: dict[str, str]) -> None:
    env = dict(helper_env, AWS_ENDPOINT_URL="https://aws.ecrpy-test.invalid")
    line = _get_fails(env)
    assert "cannot resolve aws.ecrpy-test.invalid: DNS lookup failed (calling ECR)" in line, line
    _log_named(line, env)
    line = _whoami_fails(env)
    assert "cannot resolve aws.ecrpy-test.invalid: DNS lookup failed (calling STS)" in line, line


def test_connection_refused(helper_env: dict[str, str]) -> None:
    port = unused_port()
    env = dict(helper_env, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
    line = _get_fails(env)
    assert f"127.0.0.1:{port} refused the connection (calling ECR)" in line, line
    assert f"127.0.0.1:{port} refused the connection (calling STS)" in _whoami_fails(env)


def test_timeout_names_the_wait(aws: AwsServer, helper_env: dict[str, str]) -> None:
    aws.set_fault("GetCallerIdentity", "hang")
    line = _whoami_fails(helper_env)
    assert "STS (127.0.0.1:" in line and "did not answer within 3 s" in line, line


def test_unknown_ecrpy_cache_is_an_error(aws: AwsServer, helper_env: dict[str, str]) -> None:
    env = dict(helper_env, ECRPY_CACHE="flie")
    line = _get_fails(env)
    assert line.startswith("ecrpy: ECRPY_CACHE=flie is not a cache backend; set it to file,")
    proc = run_ecrpy(env, "cache", "list")
    assert proc.returncode != 0 and b"ECRPY_CACHE=flie is not a cache backend" in proc.stderr
    # the known values still work, in any case
    assert run_helper(dict(helper_env, ECRPY_CACHE="None"), "get", HOST).returncode == 0


def test_configure_rejects_a_typo_in_the_region(helper_env: dict[str, str]) -> None:
    typo = "123456789012.dkr.ecr.us-eats-1.amazonaws.com"
    proc = run_ecrpy(helper_env, "configure", typo)
    assert proc.returncode == 2
    line = _line(proc.stderr)
    assert "names region 'us-eats-1', where ECR does not exist; did you mean us-east-1?" in line
    assert not Path(helper_env["DOCKER_CONFIG"], "config.json").exists()
    proc = run_ecrpy(helper_env, "configure", ecr_host(region="eu-south-2"))
    assert proc.returncode == 0, proc.stderr
    config = json.loads(Path(helper_env["DOCKER_CONFIG"], "config.json").read_text())
    assert list(config["credHelpers"]) == [ecr_host(region="eu-south-2")]
