"""credhelper.token_service in-process: a real file cache in a temp dir, moto's server behind
the fetch (faults and expiries steered through the middleware), and the real lock.

What the helper and ``ecrpy push`` see as processes is covered by tests/e2e; here each rule of
the service is pinned down on its own: hit, miss, refresh due, fallback on failure, fallback
at the deadline, never past ``expires_at``, and no thread at all without a deadline.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from credhelper import token_service
from credhelper.config import Config
from credhelper.errors import TokenError
from credhelper.lock import FileLock
from credhelper.registry import Registry, resolve
from credhelper.token_cache import CacheEntry
from credhelper.token_service import DeadlinePassedError, lookup, refresh, token_for
from tests.support import (
    MOTO_ECR_PASSWORD,
    MOTO_REGION,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    ecr_host,
)
from tests.support.aws_server import AwsServer

GAT = "GetAuthorizationToken"
HOST = ecr_host()
DUE = Config(min_remaining=86400)  # every cached token is due for refresh (and still valid)


@pytest.fixture
def cache_dir(aws: AwsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This process talks to moto with test keys and caches under tmp_path; nothing of the
    outer machine (~/.aws, AWS_PROFILE, ECRPY_*) leaks in."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "ECRPY_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", MOTO_REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    cache = tmp_path / "cache"
    monkeypatch.setenv("ECRPY_CACHE_DIR", str(cache))
    monkeypatch.setenv("ECRPY_CONFIG", str(tmp_path / "no-config.toml"))
    yield cache
    aws.clear_faults()  # wake an abandoned fetch thread still hanging on the server


def registry() -> Registry:
    reg = resolve(HOST, Config())
    assert reg is not None
    return reg


def cached_files(cache: Path) -> list[Path]:
    return sorted((cache / "tokens").glob("*.json")) if (cache / "tokens").is_dir() else []


def plant(valid_for: float, lifetime: float = 12 * 3600, token: str = "planted") -> CacheEntry:
    """Put an entry with ``valid_for`` seconds left (of ``lifetime``) in the cache."""
    now = time.time()
    entry = CacheEntry(HOST, "AWS", token, now + valid_for - lifetime, now + valid_for)
    found = lookup(registry(), Config())
    found.cache.put(found.key, entry)
    return entry


def test_miss_fetches_once_and_writes_the_file_cache(aws: AwsServer, cache_dir: Path) -> None:
    entry = token_for(registry(), Config())
    assert entry.token == MOTO_ECR_PASSWORD and entry.unexpired()
    assert aws.calls(GAT) == 1
    assert len(cached_files(cache_dir)) == 1


def test_hit_serves_the_cached_entry_without_a_call(aws: AwsServer, cache_dir: Path) -> None:
    plant(valid_for=11 * 3600, token="from-the-cache")
    found = lookup(registry(), Config())
    assert found.servable is not None and found.servable.token == "from-the-cache"
    assert token_for(registry(), Config(), deadline=time.monotonic() + 5).token == "from-the-cache"
    assert aws.calls(GAT) == 0


def test_refresh_due_fetches_and_replaces_the_entry(aws: AwsServer, cache_dir: Path) -> None:
    plant(valid_for=3600, token="old")
    found = lookup(registry(), DUE)
    assert found.servable is None and found.fallback is not None  # due, still valid
    assert token_for(registry(), DUE).token == MOTO_ECR_PASSWORD
    assert aws.calls(GAT) == 1
    again = lookup(registry(), Config())
    assert again.entry is not None and again.entry.token == MOTO_ECR_PASSWORD


@pytest.mark.parametrize("kind", ["500", "accessdenied", "malformed"])
def test_failed_refresh_falls_back_to_the_valid_entry(
    aws: AwsServer, cache_dir: Path, kind: str
) -> None:
    plant(valid_for=3600, token="still-valid")
    aws.set_fault(GAT, kind)
    assert token_for(registry(), DUE).token == "still-valid"
    assert aws.calls(GAT) >= 1
    assert lookup(registry(), Config()).entry.token == "still-valid"  # type: ignore[union-attr]


def test_failed_refresh_without_a_valid_entry_raises(aws: AwsServer, cache_dir: Path) -> None:
    plant(valid_for=-60, token="expired")
    aws.set_fault(GAT, "accessdenied")
    with pytest.raises(TokenError, match="ecr:GetAuthorizationToken"):
        token_for(registry(), DUE)


def test_hanging_refresh_falls_back_at_the_deadline(aws: AwsServer, cache_dir: Path) -> None:
    plant(valid_for=3600, token="still-valid")
    aws.set_fault(GAT, "hang")
    started = time.monotonic()
    entry = token_for(registry(), DUE, deadline=started + 1.0)
    elapsed = time.monotonic() - started
    assert entry.token == "still-valid"
    assert 0.9 <= elapsed < 2.5, elapsed
    assert aws.calls(GAT) == 1  # it did try


def test_hanging_refresh_without_a_valid_entry_times_out(aws: AwsServer, cache_dir: Path) -> None:
    aws.set_fault(GAT, "hang")
    started = time.monotonic()
    with pytest.raises(DeadlinePassedError, match="timed out"):
        token_for(registry(), Config(), deadline=started + 1.0)
    assert time.monotonic() - started < 2.5


def test_fallback_that_expires_during_the_refresh_is_not_served(
    aws: AwsServer, cache_dir: Path
) -> None:
    """Valid when looked up, expired by the time the hanging refresh gives up: not served."""
    plant(valid_for=0.6, token="about-to-expire")
    found = lookup(registry(), DUE)
    assert found.fallback is not None
    aws.set_fault(GAT, "hang")
    with pytest.raises(DeadlinePassedError):
        refresh(found, deadline=time.monotonic() + 1.2)


def test_held_lock_and_deadline_serve_the_valid_entry(aws: AwsServer, cache_dir: Path) -> None:
    """Another process refreshing (holding the lock) past our deadline: the valid entry."""
    plant(valid_for=3600, token="still-valid")
    found = lookup(registry(), DUE)
    lock_path = found.cache.lock_path(found.key)
    assert lock_path is not None
    with FileLock(lock_path, timeout=1):
        started = time.monotonic()
        assert refresh(found, deadline=started + 0.5).token == "still-valid"
        assert time.monotonic() - started < 2.0
    assert aws.calls(GAT) == 0


@pytest.mark.parametrize("ttl", [-3600.0, None], ids=["an-hour-ago", "moto-2015"])
def test_expired_on_arrival_serves_the_valid_entry(
    aws: AwsServer, cache_dir: Path, ttl: float | None
) -> None:
    plant(valid_for=3600, token="still-valid")
    aws.set_token_ttl(ttl)
    assert token_for(registry(), DUE).token == "still-valid"
    assert aws.calls(GAT) == 1
    assert lookup(registry(), Config()).entry.token == "still-valid"  # type: ignore[union-attr]


def test_expired_on_arrival_without_a_valid_entry_names_the_clock(
    aws: AwsServer, cache_dir: Path
) -> None:
    aws.set_token_ttl(-3600)
    with pytest.raises(TokenError) as caught:
        token_for(registry(), Config())
    line = caught.value.one_line()
    assert "already expired" in line and "clock skew" in line and "clock" in line.split(";")[1]
    assert cached_files(cache_dir) == []  # an expired token is never cached


class ThreadStarts:
    """Names of the threads this (the test's) thread starts while it is installed; the
    in-process moto server's request threads are started by its own thread and not counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.names: list[str] = []
        original = threading.Thread.start
        caller = threading.current_thread()

        def start(thread: threading.Thread) -> None:
            if threading.current_thread() is caller:
                self.names.append(thread.name)
            original(thread)

        monkeypatch.setattr(threading.Thread, "start", start)


def test_no_deadline_never_starts_a_thread(
    aws: AwsServer, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts = ThreadStarts(monkeypatch)
    assert token_for(registry(), Config(), deadline=None).token == MOTO_ECR_PASSWORD  # a miss
    plant(valid_for=3600, token="old")
    assert token_for(registry(), DUE, deadline=None).token == MOTO_ECR_PASSWORD  # due
    aws.set_fault(GAT, "500")
    assert token_for(registry(), DUE, deadline=None).token == MOTO_ECR_PASSWORD  # fallback
    assert aws.calls(GAT) >= 3
    assert starts.names == []
    # The counter does see the one worker a deadline needs:
    aws.clear_faults()
    plant(valid_for=3600, token="old")
    token_for(registry(), DUE, deadline=time.monotonic() + 5)
    assert starts.names == ["ecrpy-token-fetch"]


def test_the_service_keeps_no_module_state() -> None:
    """Everything travels in values: no module-level attribute is a mutable container or a
    token entry (the old ``protocol._STATE.fallback`` lived in such a place)."""
    for name, value in vars(token_service).items():
        if name.startswith("__"):
            continue
        assert not isinstance(value, (list, dict, set, CacheEntry)), name
