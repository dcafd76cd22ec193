"""The pre-flight with static keys makes its STS and ECR calls through fast_token (no botocore
session, no model loading): every check below gives the same ``--json`` document, exit code
and AWS calls as the botocore path (forced here with ``AWS_MAX_ATTEMPTS=3``, a setting only
botocore implements, at the value ecrpy uses anyway)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_check import (
    HOST,
    LEAST_PRIVILEGE_PUSH,
    READ_ONLY,
    World,
    as_user,
    check,
    doc,
    enforce,
)
from tests.support.aws_server import AwsServer

TIMING_KEYS = ("elapsed_seconds", "checked_at", "generated_at")


def _stable(document: dict[str, Any]) -> dict[str, Any]:
    """The document without timings; gaps as a set (they are listed as their calls end,
    and the fast path's calls end sooner)."""
    stable = {k: v for k, v in document.items() if k not in TIMING_KEYS}
    stable["gaps"] = sorted(stable.get("gaps", []), key=lambda g: sorted(g.items()))
    return stable


def _both(aws: AwsServer, env: dict[str, str], *args: str) -> list[tuple[Any, ...]]:
    out = []
    for botocore in (False, True):
        run_env = {**env, "AWS_MAX_ATTEMPTS": "3"} if botocore else env
        aws.reset_counts()
        code, document, _ = check(run_env, *args)
        out.append((code, _stable(document), dict(aws.counts())))
    return out


@pytest.fixture
def world(aws: AwsServer) -> World:
    return World(aws)


@pytest.mark.parametrize(
    "case",
    ["admin push", "admin pull of a missing tag", "read-only push", "least-privilege push",
     "missing repository", "immutable tag"],
)  # fmt: skip
def test_fast_and_botocore_preflights_agree(
    aws: AwsServer, world: World, helper_env: dict[str, str], case: str
) -> None:
    repo = world.repo(immutable=case == "immutable tag")
    world.tag(repo, "v1")
    env = as_user(helper_env, world.user("admin", inline={"all": doc(["*"])}))
    operation, tag = "push", "v1"
    if case == "read-only push":
        env = as_user(env, world.user("ro", managed=[world.policy("ro", doc(READ_ONLY))]))
    elif case == "least-privilege push":
        env = as_user(env, world.user("lp", inline={"push": doc(LEAST_PRIVILEGE_PUSH)}))
    elif case == "admin pull of a missing tag":
        operation, tag = "pull", "v2"
    elif case == "missing repository":
        repo = repo + "-missing"
    enforce(aws)
    fast, slow = _both(aws, env, operation, f"{HOST}/{repo}:{tag}")
    assert fast == slow
    assert fast[2], "the check made AWS calls"


SCRIPT = (
    "import sys; sys.argv = ['ecrpy', 'check', 'push', sys.argv[1]];"
    "from credhelper.cli.main import entry; entry()"
)


@pytest.mark.parametrize("iam_user", [False, True])
@pytest.mark.parametrize("fallback", [False, True])
def test_static_key_preflight_builds_no_botocore_session(
    aws: AwsServer, world: World, helper_env: dict[str, str], fallback: bool, iam_user: bool
) -> None:
    """A static-key check imports at most botocore.exceptions (probes' expected errors);
    a setting only botocore implements brings the whole of it back. An IAM user's check,
    which reads the user's policies and runs the simulator, too."""
    repo = world.repo()
    env = dict(helper_env, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    if iam_user:
        user = world.user("budget", inline={"push": doc(LEAST_PRIVILEGE_PUSH)})
        env = as_user(env, user)
        aws.reset_counts()
    if fallback:
        env["AWS_MAX_ATTEMPTS"] = "3"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", SCRIPT, f"{HOST}/{repo}:v1"],
        capture_output=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {
        line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines() if "|" in line
    }
    assert "credhelper.preflight.orchestrate" in imported  # the measurement saw the check
    assert ("botocore.session" in imported) is fallback
    assert ("botocore.client" in imported) is fallback
    if iam_user:  # the IAM reads and the simulator were made (on either path)
        assert aws.calls("GetUser") == 1 and aws.calls("GetUserPolicy") >= 1
        assert aws.calls("SimulatePrincipalPolicy") >= 1
