"""The token service: a servable ECR token for (identity, registry), whoever asks.

* ``lookup``  — the cache step: which identity, which cache entry. No network, no lock, no
  thread: this is the helper's hot path (docs/CONTRIBUTING-hot-path.md).
* ``refresh`` — the miss: single-flight lock -> re-check -> ``tokens.fetch`` -> ``put``. A
  failing or hanging refresh falls back to the cached token while it is still valid; a token
  is never handed out past its expiry (not even a fresh one that arrived already expired).
* ``token_for`` — both, for callers that need not arm anything in between (``ecrpy push``).

What the service knows travels in values: ``lookup`` returns a ``Lookup`` (its ``fallback``
is the stale-but-valid token a caller's own watchdog may serve), ``refresh`` takes it and an
optional ``deadline``. There is no module-level mutable state, so the helper process (a
deadline and a watchdog of its own, in ``protocol``) and a long ``ecrpy push`` (no deadline:
a transfer may take an hour) share this code without one's limits leaking into the other.
"""

from __future__ import annotations

import time

from .errors import EcrpyError, TokenError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .config import Config
    from .registry import Registry
    from .token_cache import CacheEntry, CacheKey, TokenCache

# Without a deadline, how long to wait for another process's refresh before fetching anyway.
# A helper holding the lock gives up by its own 9 s deadline; botocore's retries end sooner.
LOCK_WAIT_WITHOUT_DEADLINE = 30.0


class DeadlinePassedError(TokenError):
    """The refresh did not finish by the caller's deadline (and no valid token was cached)."""


class Lookup:
    """What the cache step found: enough to refresh without looking anything up twice."""

    __slots__ = ("cache", "entry", "key", "min_remaining", "profile", "registry", "role_arn")

    def __init__(
        self,
        registry: Registry,
        cache: TokenCache,
        key: CacheKey,
        entry: CacheEntry | None,
        profile: str | None,
        role_arn: str | None,
        min_remaining: int,
    ) -> None:
        self.registry = registry
        self.cache = cache
        self.key = key
        self.entry = entry
        self.profile = profile
        self.role_arn = role_arn
        self.min_remaining = min_remaining

    @property
    def servable(self) -> CacheEntry | None:
        """The cached entry if it may be served as is (no refresh due)."""
        entry = self.entry
        if entry is not None and entry.servable(min_remaining=self.min_remaining):
            return entry
        return None

    @property
    def fallback(self) -> CacheEntry | None:
        """The cached entry if it is due for refresh but has not expired yet."""
        entry = self.entry
        return entry if entry is not None and entry.unexpired() else None


def lookup(
    registry: Registry, config: Config, before_read: Callable[[TokenCache], None] | None = None
) -> Lookup:
    """The cache step for ``registry`` with the identity ``config`` assigns to it;
    ``before_read(cache)`` runs just before the cache is read (the helper's watchdog)."""
    from . import identity
    from .token_cache import CacheKey, for_config

    profile, role_arn = config.identity_for(registry.host)
    cache = for_config(config)
    key = CacheKey(identity.fingerprint(profile, role_arn), registry.key)
    if before_read is not None:
        before_read(cache)
    return Lookup(registry, cache, key, cache.get(key), profile, role_arn, config.min_remaining)


def token_for(registry: Registry, config: Config, deadline: float | None = None) -> CacheEntry:
    """A servable token: from the cache, else refreshed (see ``refresh``)."""
    found = lookup(registry, config)
    entry = found.servable
    return entry if entry is not None else refresh(found, deadline)


def refresh(found: Lookup, deadline: float | None = None) -> CacheEntry:
    """Fetch a new token once (single-flight across processes), cache it and return it.

    ``deadline`` is a ``time.monotonic()`` instant: by then this returns the still-valid cached
    token or raises ``DeadlinePassedError``, whatever AWS or the lock is doing. ``None`` means no
    deadline: the fetch runs in the calling thread, bounded only by botocore's own timeouts.
    Raises ``EcrpyError`` when there is no token it may serve.
    """
    from . import logs
    from .lock import FileLock, LockTimeoutError

    cache, key, registry = found.cache, found.key, found.registry
    lock_path = cache.lock_path(key)
    wait = LOCK_WAIT_WITHOUT_DEADLINE if deadline is None else _remaining(deadline)
    lock = FileLock(lock_path, timeout=wait) if lock_path else None
    try:
        if lock is not None:
            lock.acquire()
    except (LockTimeoutError, OSError) as exc:
        lock = None
        logs.warning("cache lock unavailable (%s); going on without it", exc)
    try:
        # Another process may have refreshed it while we waited for the lock.
        current = cache.get(key)
        if current is not None and current.servable(min_remaining=found.min_remaining):
            return current
        fallback = _newer_valid(found.fallback, current)
        if deadline is not None and _remaining(deadline) <= 0:
            return _fall_back(fallback, registry, "no time left to refresh", _timed_out(registry))
        try:
            entry = _fetch(found, deadline)
        except EcrpyError as exc:
            return _fall_back(fallback, registry, f"refresh failed ({exc.one_line()})", exc)
        if not entry.unexpired():
            logs.warning("the token for %s arrived already expired (clock skew?); not cached",
                         registry.host)
            return _fall_back(fallback, registry, "the new token had expired",
                              _already_expired(registry))
        cache.put(key, entry)
        logs.info("fetched a token for %s", registry.host)
        return entry
    finally:
        if lock is not None:
            lock.release()


def _fetch(found: Lookup, deadline: float | None) -> CacheEntry:
    """``tokens.fetch``; with a deadline, in a worker thread that is abandoned at the deadline
    (a daemon: the helper process exits right after answering)."""
    from . import tokens

    if deadline is None:
        return tokens.fetch(found.registry, profile=found.profile, role_arn=found.role_arn)
    import threading

    outcome: list[CacheEntry | BaseException] = []

    def work() -> None:
        try:
            outcome.append(
                tokens.fetch(found.registry, profile=found.profile, role_arn=found.role_arn)
            )
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(exc)

    worker = threading.Thread(target=work, name="ecrpy-token-fetch", daemon=True)
    worker.start()
    worker.join(_remaining(deadline))
    if not outcome:
        raise _timed_out(found.registry)
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _fall_back(
    fallback: CacheEntry | None, registry: Registry, why: str, error: EcrpyError
) -> CacheEntry:
    """The still-valid cached token instead of ``error``; checked now, never past its expiry."""
    from . import logs

    if fallback is not None and fallback.unexpired():
        logs.warning("%s; serving the still-valid cached token for %s", why, registry.host)
        return fallback
    raise error


def _newer_valid(a: CacheEntry | None, b: CacheEntry | None) -> CacheEntry | None:
    valid = [e for e in (a, b) if e is not None and e.unexpired()]
    return max(valid, key=lambda e: e.valid_until) if valid else None


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _timed_out(registry: Registry) -> DeadlinePassedError:
    return DeadlinePassedError(
        f"timed out waiting for AWS to issue a token for {registry.host}",
        hint="check the network and proxy settings",
    )


def _already_expired(registry: Registry) -> TokenError:
    return TokenError(
        f"the token ECR issued for {registry.host} had already expired when it arrived: "
        "this machine's clock and AWS's disagree (clock skew) or a proxy altered the answer",
        hint="check this machine's clock (e.g. timedatectl or w32tm) and any proxy to AWS",
    )
