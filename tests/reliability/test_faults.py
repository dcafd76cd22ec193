"""AWS misbehaving: every fault answered within 10 s, with retries where AWS advises them,
one line on stderr, the protocol's not-found on stdout, and a still-valid cached token served
when the refresh fails.

Timings are printed (``-s``) and collected in docs/reliability.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    DEADLINE_LIMIT,
    GAT,
    HOSTS,
    NOT_FOUND,
    SwitchProxy,
    closed_port,
    helper,
    log_text,
    one_line,
)
from tests.support import MOTO_ECR_PASSWORD, write_config
from tests.support.aws_server import AwsServer

HOST = HOSTS[0]
def _record(name: str, elapsed: float) -> None:
    """Shown with ``-rP`` or ``-s``: the timing is reported where it is measured."""
    print(f"[faults] {name}: {elapsed:.2f}s")


def _assert_failed(name: str, run: object, expect: str) -> str:
    from tests.reliability.conftest import Timed

    assert isinstance(run, Timed)
    _record(name, run.elapsed)
    assert run.elapsed <= DEADLINE_LIMIT, f"{name}: answered after {run.elapsed:.1f}s"
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert run.stdout.strip() == NOT_FOUND, run.stdout
    line = one_line(run.stderr)
    assert expect in line, line
    return line


# -- unreachable endpoints ----------------------------------------------------------------------


def test_connection_refused(aws: AwsServer, renv: dict[str, str]) -> None:
    env = dict(renv, AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}")
    run = helper(env, "get", HOST)
    line = _assert_failed("connection refused", run, "refused the connection (calling ECR)")
    assert "could not get an ECR token" not in line and "Error" not in line, line


def test_blackholed_connection(aws: AwsServer, renv: dict[str, str], proxy: SwitchProxy) -> None:
    proxy.set_mode("blackhole")
    env = dict(renv, AWS_ENDPOINT_URL=proxy.url)
    run = helper(env, "get", HOST)
    line = _assert_failed("black hole", run, "ecrpy: ")
    assert "timed out" in line or "did not" in line or "cannot reach" in line, line


def test_server_hangs(aws: AwsServer, renv: dict[str, str]) -> None:
    aws.set_fault(GAT, "hang")
    run = helper(renv, "get", HOST)
    line = _assert_failed("hang", run, "ecrpy: ")
    assert "timed out" in line or "did not answer" in line or "cannot reach" in line, line


def test_a_hanging_keyring_token_cache_is_answered_in_time(
    aws: AwsServer, renv: dict[str, str]
) -> None:
    """``ECRPY_CACHE=keyring`` with a store that never answers (a locked Secret Service
    waiting on its unlock prompt): the watchdog covers the cache read as it covers a
    refresh, so docker hears not-found with one line within 10 s, not after a minute."""
    repo = Path(__file__).resolve().parents[2]
    env = dict(renv, ECRPY_CACHE="keyring", PYTHONPATH=str(repo),
               PYTHON_KEYRING_BACKEND="tests.support.broken_keyring.HangingKeyring")  # fmt: skip
    run = helper(env, "get", HOST, timeout=30)
    line = _assert_failed("hanging keyring cache", run, "timed out after 9s")
    assert "keyring" in line, line
    assert aws.calls(GAT) == 0  # it never got past the cache read


def test_slow_but_within_timeouts_succeeds(aws: AwsServer, renv: dict[str, str]) -> None:
    aws.set_latency(GAT, 1.5)
    run = helper(renv, "get", HOST)
    _record("slow 1.5 s", run.elapsed)
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert json.loads(run.stdout)["Secret"] == MOTO_ECR_PASSWORD
    assert aws.calls(GAT) == 1


def test_slower_than_the_read_timeout_fails_in_time(aws: AwsServer, renv: dict[str, str]) -> None:
    aws.set_latency(GAT, 5)
    run = helper(renv, "get", HOST)
    line = _assert_failed("slow 5 s", run, "ecrpy: ")
    assert "did not answer within 3 s" in line, line


# -- AWS errors: retried as AWS advises, then one line -------------------------------------------


@pytest.mark.parametrize("kind", ["500", "throttle"])
def test_transient_errors_are_retried_to_success(
    aws: AwsServer, renv: dict[str, str], kind: str
) -> None:
    aws.set_fault(GAT, kind, count=2)
    run = helper(renv, "get", HOST)
    _record(f"{kind} x2 then ok", run.elapsed)
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert json.loads(run.stdout)["Secret"] == MOTO_ECR_PASSWORD
    assert aws.calls(GAT) == 3  # two failures, then the success: within the retry budget
    assert run.elapsed <= DEADLINE_LIMIT


@pytest.mark.parametrize(
    ("kind", "expect", "calls"),
    [
        ("500", "server error", 3),
        ("throttle", "throttled", 3),
        ("malformed", "ECR sent a", None),
        ("accessdenied", "ecr:GetAuthorizationToken", 1),
    ],
)
def test_persistent_errors_give_one_line_and_not_found(
    aws: AwsServer, renv: dict[str, str], kind: str, expect: str, calls: int | None
) -> None:
    aws.set_fault(GAT, kind)
    run = helper(renv, "get", HOST)
    _assert_failed(f"{kind} forever", run, expect)
    if calls is not None:
        assert aws.calls(GAT) == calls
    else:
        assert 1 <= aws.calls(GAT) <= 3
    assert "Traceback" not in log_text(renv)


# -- odd expiry times ---------------------------------------------------------------------------


def test_expired_token_in_the_response_is_never_served(
    aws: AwsServer, renv: dict[str, str]
) -> None:
    """ECR's expiresAt already in the past (the client's clock is ahead of AWS's) and nothing
    cached: not-found with one line naming the skew, never cached, and the log says why."""
    aws.set_token_ttl(-3600)
    for _ in range(2):
        run = helper(renv, "get", HOST)
        _assert_failed("expired on arrival", run, "clock skew")
    assert aws.calls(GAT) == 2
    assert "already expired" in log_text(renv)


def test_clock_skew_slightly_behind_still_caches(aws: AwsServer, renv: dict[str, str]) -> None:
    """AWS's clock 11 h behind ours: a 12 h token looks like it has 1 h left — still cached
    and served (half-life rule) without a second call."""
    aws.set_token_ttl(3600)
    assert helper(renv, "get", HOST).returncode == 0
    assert helper(renv, "get", HOST).returncode == 0
    assert aws.calls(GAT) == 1


def test_clock_skew_far_future_expiry_is_capped(aws: AwsServer, renv: dict[str, str]) -> None:
    aws.set_token_ttl(30 * 86400)  # expiresAt 30 days out: no ECR token lives that long
    before = time.time()
    assert helper(renv, "get", HOST).returncode == 0
    import glob
    import os

    files = glob.glob(os.path.join(renv["ECRPY_CACHE_DIR"], "tokens", "*.json"))
    assert len(files) == 1
    entry = json.load(open(files[0]))
    assert entry["expires_at"] <= before + 12 * 3600 + 120


# -- a valid cached token survives a failing refresh --------------------------------------------

FAULTS: dict[str, Callable[[AwsServer, SwitchProxy], None]] = {
    "500": lambda a, p: a.set_fault(GAT, "500"),
    "throttle": lambda a, p: a.set_fault(GAT, "throttle"),
    "malformed": lambda a, p: a.set_fault(GAT, "malformed"),
    "accessdenied": lambda a, p: a.set_fault(GAT, "accessdenied"),
    "refused": lambda a, p: p.set_mode("refuse"),
    "blackhole": lambda a, p: p.set_mode("blackhole"),
    "hang": lambda a, p: a.set_fault(GAT, "hang"),
}
SLOW_FAULTS = {"blackhole", "hang"}


@pytest.mark.parametrize(
    "fault",
    list(FAULTS),
)
def test_cached_token_served_when_refresh_fails(
    aws: AwsServer, renv: dict[str, str], proxy: SwitchProxy, fault: str
) -> None:
    """Two helpers, the second 0.5 s after the first (so it also meets the first one's refresh
    lock): both must be served the still-valid cached token within 10 s."""
    env = dict(renv, AWS_ENDPOINT_URL=proxy.url)
    write_config(env, "[cache]\nmin_remaining = 86400\n")  # every get wants a refresh
    first = helper(env, "get", HOST)
    assert first.returncode == 0, (first.stdout, first.stderr)
    FAULTS[fault](aws, proxy)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(helper, env, "get", HOST)]
        time.sleep(0.5)
        runs.append(pool.submit(helper, env, "get", HOST))
        results = [r.result() for r in runs]
    for n, run in enumerate(results):
        _record(f"stale served on {fault} (helper {n + 1})", run.elapsed)
    for run in results:
        assert run.elapsed <= DEADLINE_LIMIT
        assert run.returncode == 0, (run.stdout, run.stderr)
        assert json.loads(run.stdout)["Secret"] == MOTO_ECR_PASSWORD
    assert "serving the still-valid cached token" in log_text(env)


def test_erase_and_list_with_a_hanging_keyring_token_cache_answer_in_time(
    aws: AwsServer, renv: dict[str, str]
) -> None:
    """docker logout HOST (and a client's ``list``) with ``ECRPY_CACHE=keyring`` and a store
    that never answers: the watchdog ends them with one line instead of hanging the client."""
    from credhelper import registry as registry_mod
    from credhelper.config import Config

    repo = Path(__file__).resolve().parents[2]
    env = dict(renv, ECRPY_CACHE="keyring", PYTHONPATH=str(repo),
               PYTHON_KEYRING_BACKEND="tests.support.broken_keyring.HangingKeyring")  # fmt: skip
    reg = registry_mod.resolve(HOST, Config())
    assert reg is not None
    cache_dir = Path(env["ECRPY_CACHE_DIR"])
    cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # an entry of the identity the helper will compute (list reads only the active ones)
    fingerprint = subprocess.run(
        [sys.executable, "-c", "from credhelper import identity; print(identity.fingerprint())"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    index = cache_dir / "keyring-index.json"
    index.write_text(json.dumps([f"{fingerprint}-{reg.key}"]))
    index.chmod(0o600)  # as ecrpy writes it (the suite-wide privacy scan reads this folder)
    for action, stdin in (("erase", HOST), ("list", "")):
        run = helper(env, action, stdin, timeout=30)
        _record(f"{action}, hanging keyring cache", run.elapsed)
        assert run.elapsed <= DEADLINE_LIMIT
        assert run.returncode == 1 and run.stdout.strip() == f"ecrpy: {action} timed out".encode()
        assert "timed out after 9s" in one_line(run.stderr)


def test_keyring_cache_still_serves_the_cached_token_when_refresh_hangs(
    aws: AwsServer, renv: dict[str, str]
) -> None:
    """With ``ECRPY_CACHE=keyring`` the watchdog is armed before the cache read (it may
    block), without a fallback yet: the still-valid token found there must still be what a
    hanging refresh ends with."""
    env = dict(renv, ECRPY_CACHE="keyring")
    write_config(env, "[cache]\nmin_remaining = 86400\n")  # every get wants a refresh
    first = helper(env, "get", HOST)
    assert first.returncode == 0, (first.stdout, first.stderr)
    aws.set_fault(GAT, "hang")
    run = helper(env, "get", HOST)
    _record("stale served from the keyring cache on hang", run.elapsed)
    assert run.elapsed <= DEADLINE_LIMIT
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert json.loads(run.stdout)["Secret"] == MOTO_ECR_PASSWORD
