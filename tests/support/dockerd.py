"""A private Docker engine (dockerd + its own containerd) for end-to-end tests.

vfs storage and no networking keep it independent of the kernel's overlay/iptables support, so it
runs in containers and on CI runners alike (as root). Everything lives in one short directory
under /tmp: unix socket paths (ours and containerd's, several levels down the exec root) must
stay under ~100 characters, which pytest's tmp_path does not guarantee.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
# Longest root we accept from the caller; containerd's sockets sit ~45 chars below it.
MAX_ROOT_LEN = 50


def _ping(sock_path: str, timeout: float = 2.0) -> bool:
    """GET /_ping over the unix socket, without the docker SDK (not needed to start a daemon)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(sock_path)
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        return data.startswith(b"HTTP/1.1 200") and data.rstrip().endswith(b"OK")
    except OSError:
        return False


def mounts_under(root: str | os.PathLike[str]) -> list[str]:
    """Mount points at or below ``root`` (from /proc/self/mountinfo)."""
    prefix = os.path.realpath(root)
    found: list[str] = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4:
                    # mountinfo escapes spaces etc. as octal: \040
                    point = fields[4].encode().decode("unicode_escape")
                    if point == prefix or point.startswith(prefix + "/"):
                        found.append(point)
    except OSError:
        pass
    return found


class Dockerd:
    def __init__(
        self,
        tmpdir: str | os.PathLike[str] | None = None,
        binary: str = "dockerd",
        extra_args: list[str] | None = None,
    ) -> None:
        exe = shutil.which(binary)
        if exe is None:
            raise FileNotFoundError(f"{binary} not found (Debian package docker.io)")
        if tmpdir is not None and len(os.path.realpath(tmpdir)) <= MAX_ROOT_LEN:
            self.root = Path(os.path.realpath(tmpdir))
            self.root.mkdir(parents=True, exist_ok=True)
            self._owns_root = False
        else:
            self.root = Path(tempfile.mkdtemp(prefix="ecrpyd-", dir="/tmp"))
            self._owns_root = True
        self.sock = str(self.root / "docker.sock")
        self.base_url = f"unix://{self.sock}"
        self.pidfile = self.root / "dockerd.pid"
        self.log_path = self.root / "dockerd.log"
        # Own containerd namespaces: should dockerd find a system containerd and use it, our
        # images and containers still stay apart from everyone else's. (containerd accepts only
        # [A-Za-z0-9] runs joined by [._-], which mkdtemp names do not guarantee.)
        ns = f"ecrpy-{os.urandom(4).hex()}"
        args = [
            exe,
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.pidfile),
            "--host", self.base_url,
            "--containerd-namespace", ns,
            "--containerd-plugins-namespace", f"{ns}-plugins",
            *(extra_args or []),
        ]  # fmt: skip
        # Not a with-block: the child owns the file from here on.
        log = open(self.log_path, "ab")
        try:
            # A session of its own, so a SIGKILL fallback can take containerd down with it.
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop(check_mounts=False)
            raise

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.base_url}

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"dockerd exited with {self._proc.returncode}; log tail:\n{self.log_tail()}"
                )
            if os.path.exists(self.sock) and _ping(self.sock):
                return
            time.sleep(0.05)
        raise RuntimeError(f"dockerd not ready in {STARTUP_TIMEOUT}s; log:\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, check_mounts: bool = True) -> None:
        """SIGTERM, wait, SIGKILL the whole session as a fallback; then make sure nothing
        stays mounted under the root (raises RuntimeError if something does)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        if proc is not None:
            # dockerd's containerd normally exits with it; if it was orphaned, it is still in
            # the session we created, whose id is dockerd's pid.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        left = mounts_under(self.root)
        for point in sorted(left, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        still = mounts_under(self.root)
        if self._owns_root and not still:
            shutil.rmtree(self.root, ignore_errors=True)
        if check_mounts and left:
            raise RuntimeError(f"dockerd left mounts behind (unmounted lazily): {left}")

    def __enter__(self) -> Dockerd:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
