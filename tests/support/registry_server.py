"""Debian's ``docker-registry`` (distribution 2.8) on loopback, with htpasswd auth.

Tests push and pull through it as if it were an ECR registry: the user is ``AWS`` and the
password is whatever moto's GetAuthorizationToken hands out (``<account>-auth-token``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

STARTUP_TIMEOUT = 15.0


def free_port() -> int:
    """A port that was free a moment ago (the registry binds it itself, so there is a small
    race, which start() covers by retrying)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RegistryServer:
    def __init__(
        self,
        tmpdir: str | os.PathLike[str],
        users: dict[str, str] | None = None,
        binary: str = "docker-registry",
    ) -> None:
        exe = shutil.which(binary)
        if exe is None:
            raise FileNotFoundError(f"{binary} not found (Debian package docker-registry)")
        self.root = Path(tmpdir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.storage_dir = self.root / "data"
        self.htpasswd_path = self.root / "htpasswd"
        self.config_path = self.root / "config.yml"
        self.log_path = self.root / "registry.log"
        self.storage_dir.mkdir(exist_ok=True)
        # The registry refuses to start without the htpasswd file, and "-c" must only be used
        # for the first user, so track who has a password.
        self._users: dict[str, str] = {}
        self.htpasswd_path.touch()
        for user, password in (users or {}).items():
            self.set_password(user, password)
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._start(exe)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def set_password(self, user: str, password: str) -> None:
        """(Re)write the htpasswd file with ``user``'s new password; the registry re-reads it
        on the next request, no restart needed."""
        self._users[user] = password
        tmp = self.htpasswd_path.with_suffix(".new")
        first = True
        for name, pw in self._users.items():
            # bcrypt: the registry accepts nothing else.
            subprocess.run(
                ["htpasswd", "-Bb" + ("c" if first else ""), str(tmp), name, pw],
                check=True,
                capture_output=True,
            )
            first = False
        os.replace(tmp, self.htpasswd_path)

    def _write_config(self) -> None:
        # JSON is YAML, and writing it this way needs no YAML library.
        import json

        config = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
            },
            # A fixed secret only silences the "No HTTP secret provided" warning in the log.
            "http": {"addr": self.host, "relativeurls": True, "secret": "ecrpy-tests"},
            "auth": {"htpasswd": {"realm": "basic-realm", "path": str(self.htpasswd_path)}},
        }
        self.config_path.write_text(json.dumps(config, indent=2))

    def _start(self, exe: str) -> None:
        last_error = ""
        for _attempt in range(3):
            self.port = free_port()
            self._write_config()
            # Not a with-block: the child owns the file from here on.
            log = open(self.log_path, "ab")
            try:
                self._proc = subprocess.Popen(
                    [exe, "serve", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            finally:
                log.close()
            if self._wait_ready():
                return
            last_error = self._tail()
            self._terminate()
        raise RuntimeError(f"docker-registry did not start; log tail:\n{last_error}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=1).close()
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def _tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def blob_count(self) -> int:
        """How many blobs (layers, configs, manifests) the registry stores."""
        blobs = self.storage_dir / "docker" / "registry" / "v2" / "blobs"
        if not blobs.is_dir():
            return 0
        return sum(1 for p in blobs.rglob("data") if p.is_file())

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def stop(self) -> None:
        self._terminate()

    def __enter__(self) -> RegistryServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
