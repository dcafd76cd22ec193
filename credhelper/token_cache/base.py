"""The token-cache interface and its two value types.

Owns: ``CacheKey`` (which identity asked for which registry), ``CacheEntry`` (a token and the
times that decide whether it may be served) and the ``TokenCache`` interface every backend
implements. *Hot* (docs/CONTRIBUTING-hot-path.md).
"""

from __future__ import annotations

import time

from .._value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FORMAT_VERSION = 1


class CacheKey(Value):
    """Which identity asked for which registry's token."""

    __slots__ = ("fingerprint", "registry_key")

    def __init__(self, fingerprint: str, registry_key: str) -> None:
        self.fingerprint = fingerprint
        self.registry_key = registry_key

    @property
    def name(self) -> str:
        """A file-name-safe identifier of the key."""
        return f"{self.fingerprint}-{self.registry_key}"

    def __repr__(self) -> str:
        return f"CacheKey({self.fingerprint[:12]}…, {self.registry_key})"


class CacheEntry:
    """One token with the facts needed to decide whether it may still be served."""

    __slots__ = (
        "caller_arn",
        "creds_expire_at",
        "expires_at",
        "proxy_endpoint",
        "registry",
        "requested_at",
        "token",
        "username",
    )

    def __init__(
        self,
        registry: str,
        username: str,
        token: str,
        requested_at: float,
        expires_at: float,
        creds_expire_at: float | None = None,
        caller_arn: str | None = None,
        proxy_endpoint: str | None = None,
    ) -> None:
        self.registry = registry
        self.username = username
        self.token = token
        self.requested_at = requested_at
        self.expires_at = expires_at
        self.creds_expire_at = creds_expire_at
        self.caller_arn = caller_arn
        self.proxy_endpoint = proxy_endpoint

    def __repr__(self) -> str:  # never the token
        return (
            f"CacheEntry(registry={self.registry!r}, username={self.username!r}, "
            f"expires_at={self.expires_at!r}, caller_arn={self.caller_arn!r})"
        )

    @property
    def valid_until(self) -> float:
        """The earlier of the token's expiry and the expiry of the credentials behind it."""
        if self.creds_expire_at is not None and self.creds_expire_at < self.expires_at:
            return self.creds_expire_at
        return self.expires_at

    def servable(self, now: float | None = None, min_remaining: int = 0) -> bool:
        """True while at least half the lifetime (or ``min_remaining`` s, if set) remains."""
        now = time.time() if now is None else now
        until = self.valid_until
        if now >= until:
            return False
        needed = min_remaining if min_remaining > 0 else (until - self.requested_at) / 2
        return until - now >= needed

    def unexpired(self, now: float | None = None) -> bool:
        """True until the token (or its credentials) expire."""
        return (time.time() if now is None else now) < self.valid_until

    def to_json(self) -> dict[str, Any]:
        """The serialised form (contains the token: only for private storage)."""
        return {
            "v": FORMAT_VERSION,
            "registry": self.registry,
            "username": self.username,
            "token": self.token,
            "requested_at": self.requested_at,
            "expires_at": self.expires_at,
            "creds_expire_at": self.creds_expire_at,
            "caller_arn": self.caller_arn,
            "proxy_endpoint": self.proxy_endpoint,
        }

    @classmethod
    def from_json(cls, data: object) -> CacheEntry:
        """Parse ``to_json``'s output; ``ValueError`` for anything else."""
        if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
            raise ValueError("not a cache entry of this version")
        try:
            entry = cls(
                registry=_req(data, "registry", str),
                username=_req(data, "username", str),
                token=_req(data, "token", str),
                requested_at=float(_req(data, "requested_at", (int, float))),
                expires_at=float(_req(data, "expires_at", (int, float))),
                creds_expire_at=_opt_float(data.get("creds_expire_at")),
                caller_arn=_opt_str(data.get("caller_arn")),
                proxy_endpoint=_opt_str(data.get("proxy_endpoint")),
            )
        except (TypeError, KeyError) as exc:
            raise ValueError(f"malformed cache entry: {exc}") from None
        if not entry.token:
            raise ValueError("empty token")
        return entry


def _req(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{key} has the wrong type")
    return value


def _opt_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError("expected a number")


def _opt_str(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError("expected a string")


class TokenCache:
    """The interface every backend implements (see tests/token_cache for the contract)."""

    name = "abstract"
    # A lookup may wait on something outside ecrpy (an OS keyring that prompts or hangs): the
    # helper arms its watchdog before reading such a cache, never before reading a file.
    may_block = False

    def get(self, key: CacheKey) -> CacheEntry | None:
        """The entry for ``key`` or None; never raises for a bad or missing entry."""
        raise NotImplementedError

    def put(self, key: CacheKey, entry: CacheEntry) -> None:
        """Store ``entry`` (atomically replacing any previous one)."""
        raise NotImplementedError

    def delete(self, key: CacheKey) -> bool:
        """Remove ``key``; True when something was removed."""
        raise NotImplementedError

    def entries(self, fingerprint: str | None = None) -> list[tuple[CacheKey, CacheEntry]]:
        """Every readable entry, optionally only those of one identity."""
        raise NotImplementedError

    def keys(self, fingerprint: str | None = None) -> list[CacheKey]:
        """Every stored key, *damaged or unreadable entries included* (what ``entries``
        skips), optionally only one identity's: what ``erase`` and ``cache clear`` remove."""
        return [key for key, _ in self.entries(fingerprint)]

    def clear(self) -> int:
        """Remove every entry, damaged ones too; return how many were removed."""
        removed = 0
        for key in self.keys():
            removed += self.delete(key)
        return removed

    def lock_path(self, key: CacheKey) -> str | None:
        """A file to lock for single-flight refreshes of ``key`` (None: no locking)."""
        return None
