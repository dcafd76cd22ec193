"""``backend = "none"``: never stores anything (every ``get`` asks ECR)."""

from __future__ import annotations

from .base import CacheEntry, CacheKey, TokenCache


class NullTokenCache(TokenCache):
    """A cache that forgets everything."""

    name = "none"

    def get(self, key: CacheKey) -> CacheEntry | None:
        return None

    def put(self, key: CacheKey, entry: CacheEntry) -> None:
        return None

    def delete(self, key: CacheKey) -> bool:
        return False

    def entries(self, fingerprint: str | None = None) -> list[tuple[CacheKey, CacheEntry]]:
        return []

    def keys(self, fingerprint: str | None = None) -> list[CacheKey]:
        return []
