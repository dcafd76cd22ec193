"""The inter-process lock excludes other processes and dies with its holder."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from credhelper.lock import FileLock, LockTimeoutError

HOLD = """
import sys, time
from credhelper.lock import FileLock
with FileLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_excludes_another_process(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "x.lock")
    proc = subprocess.Popen([sys.executable, "-c", HOLD, path, "30"], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"held"
        with pytest.raises(LockTimeoutError):
            FileLock(path, timeout=0.3).acquire()
    finally:
        proc.kill()
        proc.wait()
    # SIGKILL released it: the OS drops the lock with the process.
    start = time.monotonic()
    with FileLock(path, timeout=5):
        assert time.monotonic() - start < 2


def test_reentry_after_release(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "y.lock")
    for _ in range(3):
        with FileLock(path, timeout=1):
            pass
    assert os.stat(path).st_mode & 0o777 == 0o600
