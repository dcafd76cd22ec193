"""Cached ECR tokens, keyed by (identity fingerprint, partition, region, registry account).

``open_cache(name)`` picks a backend: ``file`` (default), ``keyring`` or ``none``. Only the file
backend is imported on the hot path.

*Hot* (docs/CONTRIBUTING-hot-path.md).
"""

from __future__ import annotations

import os

from .base import CacheEntry, CacheKey, TokenCache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..config import Config

__all__ = ["CacheEntry", "CacheKey", "TokenCache", "for_config", "open_cache"]


BACKENDS = ("file", "keyring", "none")


def for_config(config: Config) -> TokenCache:
    """The cache the user chose: ``ECRPY_CACHE``, else ``[cache] backend``, in the cache dir."""
    from .. import paths

    chosen = os.environ.get("ECRPY_CACHE", "").strip()
    if chosen and chosen.lower() not in BACKENDS:
        from ..errors import ConfigError

        raise ConfigError(
            f"ECRPY_CACHE={chosen} is not a cache backend",
            hint="set it to " + ", ".join(BACKENDS) + " (or unset it to use the config's)",
        )
    return open_cache(chosen.lower() or config.cache_backend, paths.cache_dir())


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
