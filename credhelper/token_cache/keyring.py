"""``backend = "keyring"``: tokens in the OS keyring, with a non-secret index of keys.

Keyrings cannot enumerate their items, so the names of stored keys live in an index file beside
the file cache (names only: fingerprints and registry keys, no token). Slower than the file
backend (importing keyring alone costs ~70 ms), for users whose policy forbids tokens on disk.
"""

from __future__ import annotations

import json
import os

from ..fsutil import atomic_write_private, read_regular
from .base import CacheEntry, CacheKey, TokenCache

SERVICE = "ecrpy-token-cache"


class KeyringTokenCache(TokenCache):
    """Entries as keyring passwords (service ``ecrpy-token-cache``, user = the key's name)."""

    name = "keyring"
    may_block = True

    def __init__(self, directory: str) -> None:
        self.index_path = os.path.join(directory, "keyring-index.json")

    def _index(self) -> list[str]:
        try:
            names = json.loads(read_regular(self.index_path, 1024 * 1024))
        except FileNotFoundError:
            return []
        except (OSError, ValueError, RecursionError) as exc:  # damaged: rewritten by put()
            from .. import logs

            logs.warning("ignoring keyring cache index %s: %s", self.index_path, exc)
            return []
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    def _write_index(self, names: list[str]) -> None:
        atomic_write_private(self.index_path, json.dumps(sorted(set(names))).encode())

    def get(self, key: CacheKey) -> CacheEntry | None:
        from ..credential_store import backend

        try:
            raw = backend().get_password(SERVICE, key.name)
            return CacheEntry.from_json(json.loads(raw)) if raw else None
        except Exception as exc:  # keyring backends raise their own types; never fatal here
            from .. import logs

            logs.warning("keyring token cache: %s", type(exc).__name__)
            return None

    def put(self, key: CacheKey, entry: CacheEntry) -> None:
        from ..credential_store import backend

        try:
            backend().set_password(SERVICE, key.name, json.dumps(entry.to_json()))
            self._write_index([*self._index(), key.name])
        except Exception as exc:
            from .. import logs

            logs.warning("keyring token cache: could not store: %s", type(exc).__name__)

    def delete(self, key: CacheKey) -> bool:
        from ..credential_store import backend

        names = self._index()
        try:
            backend().delete_password(SERVICE, key.name)
            removed = True
        except Exception:
            removed = False
        if key.name in names:
            names.remove(key.name)
            try:
                self._write_index(names)
            except OSError:
                pass
        return removed

    def keys(self, fingerprint: str | None = None) -> list[CacheKey]:
        found = []
        for name in self._index():
            fp, sep, registry_key = name.partition("-")
            if sep and (fingerprint is None or fp == fingerprint):
                found.append(CacheKey(fp, registry_key))
        return found

    def entries(self, fingerprint: str | None = None) -> list[tuple[CacheKey, CacheEntry]]:
        found = []
        for key in self.keys(fingerprint):
            entry = self.get(key)
            if entry is not None:
                found.append((key, entry))
        return found
