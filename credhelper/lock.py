"""A cross-platform, per-key inter-process lock (flock on POSIX, msvcrt on Windows).

Why not the `filelock` package: importing it pulls in asyncio and typing (~60-70 ms measured
here), which alone would break the cold-`get` budget (within 10 % of a bare botocore call).
An OS advisory lock on an open file is all single-flight needs, and the OS releases it when a
holder dies (even by SIGKILL), so a crashed helper never wedges the others.
"""

from __future__ import annotations

import os
import sys
import time

from .fsutil import open_regular

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType


class LockTimeoutError(OSError):
    """The lock was not acquired within the timeout."""


class FileLock:
    """``with FileLock(path, timeout):`` holds an exclusive lock on ``path``."""

    def __init__(self, path: str, timeout: float = 30.0, poll: float = 0.02) -> None:
        self.path = path
        self.timeout = timeout
        self.poll = poll
        self._fd: int | None = None

    def acquire(self) -> None:
        """Block until the lock is held or the timeout passes."""
        # A lock file is ours to create; a symlink, FIFO or directory planted in its place
        # is refused (NotRegularFileError / ELOOP), never followed or blocked on.
        fd, _ = open_regular(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        while True:
            if _try_lock(fd):
                self._fd = fd
                return
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockTimeoutError(
                    f"timed out after {self.timeout:.0f}s waiting for {self.path}"
                )
            time.sleep(self.poll)

    def release(self) -> None:
        """Release the lock (the lock file stays: deleting it would race other waiters)."""
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
