"""Cached ECR tokens, keyed by (identity fingerprint, partition, region, registry account).

``open_cache(name)`` picks a backend: ``file`` (default), ``keyring`` or ``none``. Only the file
backend is imported on the hot path.
"""

from __future__ import annotations

from .base import CacheEntry, CacheKey, TokenCache

__all__ = ["CacheEntry", "CacheKey", "TokenCache", "open_cache"]


def open_cache(backend: str, directory: str) -> TokenCache:
    """The cache backend named ``backend`` rooted at ``directory`` (unknown names: ``none``)."""
    if backend == "file":
        from .file import FileTokenCache

        return FileTokenCache(directory)
    if backend == "keyring":
        from .keyring import KeyringTokenCache

        return KeyringTokenCache(directory)
    from .null import NullTokenCache

    return NullTokenCache()
