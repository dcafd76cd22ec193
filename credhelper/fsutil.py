"""Private, atomic file writes: 0600 files in 0700 folders, replaced in one step.

A reader sees the old file or the new one, never a torn one, even when the writer is killed
mid-write (SIGKILL): the data goes to a temporary file in the same folder first, is flushed to
disk, then renamed over the target.

*Hot*: the cache writes through it (docs/CONTRIBUTING-hot-path.md).
"""

from __future__ import annotations

import os
import stat
import sys

_WINDOWS = sys.platform == "win32"
# POSIX-only flags are 0 where the platform lacks them (Windows has no FIFOs or symlink races
# of this kind, and its os.open has no O_NONBLOCK/O_NOFOLLOW).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class InsecureDirectoryError(OSError):
    """A folder is writable by others or owned by someone else, so ecrpy will not use it."""


class NotRegularFileError(OSError):
    """A path ecrpy reads or locks is a FIFO, device, directory or socket, not a file."""


class FileTooLargeError(OSError):
    """A state file is far larger than ecrpy ever writes: not ours, or damaged."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(
    path: str, flags: int = os.O_RDONLY, mode: int = 0o600, follow_symlinks: bool = False
) -> tuple[int, os.stat_result]:
    """Open ``path`` and return ``(fd, fstat)``, refusing anything but a regular file.

    Opened with O_NONBLOCK, so a FIFO or device planted in place of a state file is refused
    at once instead of blocking the helper; without ``follow_symlinks`` also O_NOFOLLOW, so a
    symlink (ELOOP) is refused rather than followed to a file of someone else's choosing.
    The check is on the opened descriptor (fstat), so nothing can be swapped in between.
    """
    flags |= _NONBLOCK | _CLOEXEC | _BINARY | (0 if follow_symlinks else _NOFOLLOW)
    fd = os.open(path, flags, mode)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFileError(f"{path} is {_kind(st.st_mode)}, not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_limited(fd: int, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes from ``fd`` (one more than allowed reveals an oversized file)."""
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = os.read(fd, left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_regular(path: str, limit: int, follow_symlinks: bool = False) -> bytes:
    """The bytes of the regular file ``path`` (see ``open_regular``), at most ``limit``.

    ``FileNotFoundError`` when missing; ``NotRegularFileError``, ``FileTooLargeError`` or
    another ``OSError`` when it cannot be used.
    """
    fd, _ = open_regular(path, follow_symlinks=follow_symlinks)
    try:
        data = read_limited(fd, limit)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileTooLargeError(f"{path} is larger than {limit} bytes")
    return data


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


def atomic_write(
    path: str, data: bytes, mode: int = 0o600, owner: tuple[int, int] | None = None
) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode`` (folder must exist).

    ``owner`` (uid, gid) is given to the new file before it replaces the old one, so root
    editing a user's file leaves it the user's (POSIX only; ignored elsewhere).
    """
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
            if owner is not None and owner != (os.geteuid(), os.getegid()):
                os.chown(tmp, *owner)  # before chmod: chown may clear set-id bits
            os.chmod(tmp, mode)  # the umask may have narrowed or (never) widened it
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
