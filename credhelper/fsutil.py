"""Private, atomic file writes: 0600 files in 0700 folders, replaced in one step.

A reader sees the old file or the new one, never a torn one, even when the writer is killed
mid-write (SIGKILL): the data goes to a temporary file in the same folder first, is flushed to
disk, then renamed over the target.
"""

from __future__ import annotations

import os
import stat
import sys

_WINDOWS = sys.platform == "win32"


class InsecureDirectoryError(OSError):
    """A folder is writable by others or owned by someone else, so ecrpy will not use it."""


def check_private_dir(path: str) -> None:
    """Refuse a folder another user could write to or that another user owns (as ssh does)."""
    if _WINDOWS:
        return  # ACLs, not mode bits, protect a Windows profile folder.
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise InsecureDirectoryError(f"{path} is not a directory")
    if st.st_uid != os.getuid():
        raise InsecureDirectoryError(f"{path} is owned by uid {st.st_uid}, not by you")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InsecureDirectoryError(f"{path} is writable by group or others")


def ensure_private_dir(path: str) -> None:
    """Create ``path`` (and parents) as 0700 if missing, then check it is private."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except FileExistsError:
        pass
    check_private_dir(path)


def atomic_write_private(path: str, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically, 0600, in a private (0700, own) folder."""
    ensure_private_dir(os.path.dirname(os.path.abspath(path)))
    atomic_write(path, data, mode)


def atomic_write(path: str, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode`` (folder must exist)."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{id(data):x}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if not _WINDOWS:
            os.chmod(tmp, mode)  # the umask may have narrowed or (never) widened it
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
