"""The default backend: one JSON file per entry, 0600, in a 0700 folder, replaced atomically.

On the hot path: reading an entry is one ``open`` + ``fstat`` + ``json.loads``. Files that are
damaged (truncated, binary, huge, wrongly typed), not regular files (a FIFO or device is
refused without blocking, a symlink is not followed), owned by someone else or readable by
others are ignored (and logged), so the next ``put`` rewrites them; a cache folder others
can write to is refused altogether (as ssh refuses such a ``~/.ssh``) and the helper then
works without caching.

*Hot* (docs/CONTRIBUTING-hot-path.md).
"""

from __future__ import annotations

import os
import stat
import sys

from .. import _json
from ..fsutil import (
    InsecureDirectoryError,
    atomic_write_private,
    check_private_dir,
    open_regular,
    read_limited,
)
from .base import CacheEntry, CacheKey, TokenCache

_POSIX = sys.platform != "win32"
_SUFFIX = ".json"
_LOCK_SUFFIX = ".lock"
_MAX_ENTRY = 256 * 1024  # a real entry is ~3 kB; anything far larger is not ours


class FileTokenCache(TokenCache):
    """Token files under ``<directory>/tokens``."""

    name = "file"

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.tokens_dir = os.path.join(directory, "tokens")

    # -- helpers -------------------------------------------------------------------------
    def _path(self, key: CacheKey) -> str:
        return os.path.join(self.tokens_dir, key.name + _SUFFIX)

    def _usable_dirs(self, create: bool) -> bool:
        """True when both folders exist (or were created) and are private."""
        try:
            for folder in (self.directory, self.tokens_dir):
                if create:
                    os.makedirs(folder, mode=0o700, exist_ok=True)
                check_private_dir(folder)
        except FileNotFoundError:
            return False
        except InsecureDirectoryError as exc:
            _warn_once(f"token cache disabled: {exc}")
            return False
        except OSError as exc:
            _warn_once(f"token cache unavailable: {exc.strerror or exc}")
            return False
        return True

    def _read(self, path: str) -> CacheEntry | None:
        """The entry at ``path``; None (logged) for anything but a sound private file."""
        try:
            fd, st = open_regular(path)
        except FileNotFoundError:
            return None
        except OSError as exc:  # a symlink (ELOOP), FIFO, device, directory, EACCES...
            _log(f"ignoring cache file {path}: {exc.strerror or exc}")
            return None
        try:
            if _POSIX and (
                st.st_uid != os.getuid() or st.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
            ):
                _log(f"ignoring cache file {path}: not private to this user")
                return None
            data = read_limited(fd, _MAX_ENTRY)
        except OSError as exc:
            _log(f"ignoring unreadable cache file {path}: {exc.strerror or exc}")
            return None
        finally:
            os.close(fd)
        try:
            if len(data) > _MAX_ENTRY:
                raise ValueError(f"larger than {_MAX_ENTRY} bytes")
            return CacheEntry.from_json(_json.loads(data))
        except ValueError as exc:  # the only error _json and from_json raise
            _log(f"ignoring damaged cache file {path} (it will be rewritten): {exc}")
            return None

    # -- interface -----------------------------------------------------------------------
    def get(self, key: CacheKey) -> CacheEntry | None:
        if not self._usable_dirs(create=False):
            return None
        return self._read(self._path(key))

    def put(self, key: CacheKey, entry: CacheEntry) -> None:
        if not self._usable_dirs(create=True):
            return
        try:
            atomic_write_private(self._path(key), _json.dumps(entry.to_json()).encode())
        except OSError as exc:
            _warn_once(f"could not write the token cache: {exc.strerror or exc}")
        self._sweep_temporaries()

    def _sweep_temporaries(self, older_than: float = 60.0) -> None:
        """Remove temporary files left by writers that were killed mid-write.

        They are never read as entries (their names start with a dot and end in .tmp); this
        only keeps the folder from filling up. Young ones may belong to a live writer.
        """
        import time

        cutoff = time.time() - older_than
        try:
            names = os.listdir(self.tokens_dir)
        except OSError:
            return
        for name in names:
            if name.startswith(".") and name.endswith(".tmp"):
                path = os.path.join(self.tokens_dir, name)
                try:
                    if os.lstat(path).st_mtime < cutoff:
                        os.unlink(path)
                except OSError:
                    pass

    def delete(self, key: CacheKey) -> bool:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            return False
        except OSError as exc:  # e.g. a directory planted in place of the entry
            _log(f"could not remove cache file {self._path(key)}: {exc.strerror or exc}")
            return False
        return True

    def keys(self, fingerprint: str | None = None) -> list[CacheKey]:
        """Keys by file name alone: a damaged, foreign or unreadable entry is listed too (so
        it can be removed), in an insecure folder as well (names only; nothing is read)."""
        try:
            names = sorted(os.listdir(self.tokens_dir))
        except OSError:
            return []
        found = []
        for name in names:
            if not name.endswith(_SUFFIX) or name.startswith("."):
                continue
            fp, sep, registry_key = name[: -len(_SUFFIX)].partition("-")
            if sep and (fingerprint is None or fp == fingerprint):
                found.append(CacheKey(fp, registry_key))
        return found

    def entries(self, fingerprint: str | None = None) -> list[tuple[CacheKey, CacheEntry]]:
        if not self._usable_dirs(create=False):
            return []
        found: list[tuple[CacheKey, CacheEntry]] = []
        for key in self.keys(fingerprint):
            entry = self._read(self._path(key))
            if entry is not None:
                found.append((key, entry))
        return found

    def clear(self) -> int:
        """Remove every entry (the count) and the lock files beside them.

        Removing a lock file a live refresh holds is harmless: that refresh keeps its lock on
        the unlinked file, and the worst case is one more GetAuthorizationToken call.
        """
        removed = 0
        try:
            names = os.listdir(self.tokens_dir)
        except OSError:
            return 0
        for name in names:
            if name.startswith(".") or not name.endswith((_SUFFIX, _LOCK_SUFFIX)):
                continue  # temporaries belong to live writers or to put()'s sweep
            try:
                os.unlink(os.path.join(self.tokens_dir, name))
            except OSError:
                continue
            removed += name.endswith(_SUFFIX)
        return removed

    def lock_path(self, key: CacheKey) -> str | None:
        if not self._usable_dirs(create=True):
            return None
        return os.path.join(self.tokens_dir, key.name + _LOCK_SUFFIX)


_warned: set[str] = set()


def _log(message: str) -> None:
    from .. import logs

    logs.warning("%s", message)


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        _log(message)
