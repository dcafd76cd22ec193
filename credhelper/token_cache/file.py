"""The default backend: one JSON file per entry, 0600, in a 0700 folder, replaced atomically.

On the hot path: reading an entry is one ``open`` + ``fstat`` + ``json.loads``. Files that are
corrupt, owned by someone else or readable by others are ignored (and logged), so the next
``put`` rewrites them; a cache folder others can write to is refused altogether (as ssh refuses
such a ``~/.ssh``) and the helper then works without caching.
"""

from __future__ import annotations

import os
import stat
import sys

from .. import _json
from ..fsutil import InsecureDirectoryError, atomic_write_private, check_private_dir
from .base import CacheEntry, CacheKey, TokenCache

_POSIX = sys.platform != "win32"
_SUFFIX = ".json"
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
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            return None
        except OSError as exc:
            _log(f"ignoring unreadable cache file {path}: {exc.strerror or exc}")
            return None
        try:
            if _POSIX:
                st = os.fstat(fd)
                if st.st_uid != os.getuid() or st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                    _log(f"ignoring cache file {path}: not private to this user")
                    return None
            data = os.read(fd, _MAX_ENTRY + 1)
        except OSError as exc:
            _log(f"ignoring unreadable cache file {path}: {exc.strerror or exc}")
            return None
        finally:
            os.close(fd)
        try:
            if len(data) > _MAX_ENTRY:
                raise ValueError("too large")
            return CacheEntry.from_json(_json.loads(data))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            _log(f"ignoring corrupt cache file {path}: {exc}")
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
        return True

    def entries(self, fingerprint: str | None = None) -> list[tuple[CacheKey, CacheEntry]]:
        if not self._usable_dirs(create=False):
            return []
        found: list[tuple[CacheKey, CacheEntry]] = []
        try:
            names = sorted(os.listdir(self.tokens_dir))
        except OSError:
            return []
        for name in names:
            if not name.endswith(_SUFFIX) or name.startswith("."):
                continue
            fp, sep, registry_key = name[: -len(_SUFFIX)].partition("-")
            if not sep or (fingerprint is not None and fp != fingerprint):
                continue
            entry = self._read(os.path.join(self.tokens_dir, name))
            if entry is not None:
                found.append((CacheKey(fp, registry_key), entry))
        return found

    def clear(self) -> int:
        removed = 0
        try:
            names = os.listdir(self.tokens_dir)
        except OSError:
            return 0
        for name in names:
            if name.endswith(_SUFFIX):
                try:
                    os.unlink(os.path.join(self.tokens_dir, name))
                    removed += 1
                except OSError:
                    pass
        return removed

    def lock_path(self, key: CacheKey) -> str | None:
        if not self._usable_dirs(create=True):
            return None
        return os.path.join(self.tokens_dir, key.name + ".lock")


_warned: set[str] = set()


def _log(message: str) -> None:
    from .. import logs

    logs.warning("%s", message)


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        _log(message)
