"""--json and --debug through the installed console scripts against moto (issue 12): every
document has its schema and ISO-8601 UTC instants, a failure is ecrpy.error/1 on stdout with the
process's exit code, and --debug never shows a token or a secret on stderr."""

from __future__ import annotations

import base64
import json
import re

import pytest

from tests.support import (
    MOTO_ACCOUNT,
    MOTO_ECR_PASSWORD,
    TEST_SECRET_ACCESS_KEY,
    ecr_host,
    run_ecrpy,
    run_helper,
)
from tests.support.aws_server import AwsServer

pytestmark = pytest.mark.e2e
HOST = ecr_host()
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SECRETS = (
    MOTO_ECR_PASSWORD,
    base64.b64encode(f"AWS:{MOTO_ECR_PASSWORD}".encode()).decode(),
    TEST_SECRET_ACCESS_KEY,
)


def _get(env: dict[str, str]) -> None:
    proc = run_helper(env, "get", HOST)
    assert proc.returncode == 0, proc.stderr


def test_whoami_json(aws: AwsServer, helper_env: dict[str, str]) -> None:
    _get(helper_env)
    proc = run_ecrpy(helper_env, "whoami", HOST, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert next(iter(doc)) == "schema" and doc["schema"] == "ecrpy.whoami/1"
    assert doc["caller_arn"].startswith("arn:aws:") and f":{MOTO_ACCOUNT}:" in doc["caller_arn"]
    assert ISO_Z.match(doc["cached_token_expires_at"])


def test_cache_list_and_clear_json(aws: AwsServer, helper_env: dict[str, str]) -> None:
    _get(helper_env)
    doc = json.loads(run_ecrpy(helper_env, "cache", "list", "--json").stdout)
    assert doc["schema"] == "ecrpy.cache-list/1" and doc["backend"] == "file"
    (entry,) = doc["entries"]
    assert entry["registry"] == HOST and ISO_Z.match(entry["expires_at"])
    assert ISO_Z.match(doc["generated_at"]) and doc["generated_at"] < entry["expires_at"]
    assert 11 * 3600 < entry["remaining_seconds"] <= 12 * 3600
    proc = run_ecrpy(helper_env, "cache", "clear", HOST, "--json")
    doc = json.loads(proc.stdout)
    assert doc == {"schema": "ecrpy.cache-clear/1", "backend": "file", "registry": HOST,
                   "removed": 1}
    _get(helper_env)
    assert run_ecrpy(helper_env, "cache", "clear").stdout == b"removed 1 cached token\n"


def test_whoami_failure_is_an_error_document(aws: AwsServer, helper_env: dict[str, str]) -> None:
    env = dict(helper_env, AWS_CA_BUNDLE="/nonexistent/ca.pem")
    proc = run_ecrpy(env, "whoami", "--json")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "ecrpy.error/1" and doc["exit_code"] == 1
    assert doc["command"] == "whoami" and "AWS_CA_BUNDLE" in doc["error"]
    line = proc.stderr.decode().strip()
    assert line.startswith("ecrpy: ") and doc["error"] in line
    assert run_ecrpy(env, "whoami").stdout == b""  # without --json: stderr only


def test_check_json_failure_is_an_error_document(aws: AwsServer, helper_env: dict[str, str]
                                                  ) -> None:
    env = dict(helper_env, AWS_CA_BUNDLE="/nonexistent/ca.pem")
    proc = run_ecrpy(env, "check", "pull", f"{HOST}/app:1", "--json")
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "ecrpy.error/1" and doc["exit_code"] == proc.returncode != 0
    assert (doc["command"], doc["image"]) == ("check", f"{HOST}/app:1")


@pytest.mark.parametrize(
    "args",
    [
        ("--debug", "whoami", HOST),
        ("whoami", HOST, "--json", "--debug"),
        ("--debug", "cache", "list", "--json"),
        ("cache", "list", "--debug"),
    ],
)
def test_debug_shows_debug_lines_and_never_a_secret(
    aws: AwsServer, helper_env: dict[str, str], args: tuple[str, ...]
) -> None:
    _get(helper_env)  # a token in the cache: the commands read it
    proc = run_ecrpy(helper_env, *args)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "ecrpy: DEBUG " in err
    for secret in SECRETS:
        assert secret not in err and secret not in proc.stdout.decode()


def test_debug_with_a_token_refresh_never_shows_the_token(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    """A whoami whose process fetched a token itself: ecrpy's refresh logs pass through the
    same redaction on stderr as in the file."""
    proc = run_ecrpy(helper_env, "--debug", "whoami", HOST)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    for secret in SECRETS:
        assert secret not in err
