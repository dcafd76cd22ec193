"""Shared pieces of the reliability suite: scale, identities, a steerable TCP proxy, a runner
that keeps every helper's stderr, and the session-wide collector the secrets scan reads.

Scale: ``ECRPY_SOAK_SCALE`` is the fraction of the full-scale counts to run (``1`` = full scale,
the figures in docs/reliability.md; default ``0.2``, which keeps the whole suite well under six
minutes on two cores). Every count goes through :func:`scaled`, which also enforces a floor so
that even a tiny scale still exercises each scenario.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    MOTO_ECR_PASSWORD,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    ecr_host,
)
from tests.support.aws_server import AwsServer

SCALE = float(os.environ.get("ECRPY_SOAK_SCALE", "0.2") or "0.2")
GAT = "GetAuthorizationToken"
NOT_FOUND = b"credentials not found in native keychain"
DEADLINE_LIMIT = 10.0  # the protocol's promise: an answer within 10 s, whatever AWS does
HELPER_EXE = "docker-credential-ecrpy"
# Root ignores mode bits; without these capabilities uid 0 obeys them like any other user
# (the venv's interpreter lives under /root, so switching to an unprivileged uid is not an
# option on these machines).
UNPRIVILEGED = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--")

# Four real ECR hosts (moto issues a token for any registry id in any region).
REGISTRIES = (
    ("123456789012", "us-east-1"),
    ("210987654321", "eu-west-1"),
    ("111122223333", "ap-southeast-2"),
    ("444455556666", "us-west-2"),
)
HOSTS = tuple(ecr_host(account, region) for account, region in REGISTRIES)


class Identity:
    """Static keys for one AWS identity (moto accepts any key while IAM auth is off)."""

    def __init__(self, key_id: str, secret: str, session_token: str | None = None) -> None:
        self.key_id = key_id
        self.secret = secret
        self.session_token = session_token

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        env = dict(base)
        env["AWS_ACCESS_KEY_ID"] = self.key_id
        env["AWS_SECRET_ACCESS_KEY"] = self.secret
        env.pop("AWS_SESSION_TOKEN", None)
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


ALICE = Identity(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY)
BOB = Identity(
    "AKIAI44QH8DHBEXAMPLE",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "FwoGZXIvYXdzEXAMPLESESSIONTOKENbobBOBbob0123456789abcdefEXAMPLE",
)
IDENTITIES = (ALICE, BOB)


def scaled(full: int, minimum: int) -> int:
    """``full`` x ECRPY_SOAK_SCALE, never below ``minimum``."""
    return max(minimum, round(full * SCALE))


def password_of(stdout: bytes) -> str:
    return str(json.loads(stdout)["Secret"])


def helper_path(env: Mapping[str, str]) -> str:
    for folder in env["PATH"].split(os.pathsep):
        candidate = os.path.join(folder, HELPER_EXE)
        if os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(HELPER_EXE)


# -- the collector the secrets scan reads -----------------------------------------------------


class SecretSink:
    """What the suite produced that must never hold a secret: stderr of every helper run,
    error lines on stdout, exception texts, and folders (logs, cache index/snapshot, state)."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, bytes]] = []
        self.dirs: list[tuple[str, Path]] = []
        self.secrets: set[str] = {
            TEST_SECRET_ACCESS_KEY,
            MOTO_ECR_PASSWORD,
            *(i.secret for i in IDENTITIES),
            *(i.session_token for i in IDENTITIES if i.session_token),
        }
        self._lock = threading.Lock()

    def secret(self, value: str) -> None:
        with self._lock:
            self.secrets.add(value)

    def token(self, password: str) -> None:
        """An ECR password: it and its base64 ``AWS:password`` form are secrets."""
        with self._lock:
            self.secrets.add(password)
            self.secrets.add(base64.b64encode(f"AWS:{password}".encode()).decode())

    def text(self, label: str, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        if data:
            with self._lock:
                self.texts.append((label, data))

    def proc(self, label: str, proc: subprocess.CompletedProcess[bytes]) -> None:
        """stderr always; stdout only when it is not a credentials answer (which holds the
        token by design)."""
        self.text(f"{label} stderr", proc.stderr or b"")
        if proc.returncode != 0:
            self.text(f"{label} stdout", proc.stdout or b"")

    def env(self, env: Mapping[str, str]) -> None:
        """Watch the folders an isolated environment writes to."""
        for var in ("ECRPY_LOG_DIR", "ECRPY_CACHE_DIR", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            if env.get(var):
                with self._lock:
                    self.dirs.append((var, Path(env[var])))


_SINK = SecretSink()


@pytest.fixture(scope="session")
def secret_sink() -> SecretSink:
    return _SINK


# -- running the helper -----------------------------------------------------------------------


class Timed:
    """A finished helper run with its wall time."""

    def __init__(self, proc: subprocess.CompletedProcess[bytes], elapsed: float) -> None:
        self.proc = proc
        self.elapsed = elapsed
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr


def helper(
    env: Mapping[str, str],
    action: str,
    stdin: bytes | str = b"",
    timeout: float = 60,
    prefix: tuple[str, ...] = (),
    label: str = "helper",
) -> Timed:
    """Run the helper like docker does, time it, and hand stderr to the secrets collector."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    start = time.monotonic()
    proc = subprocess.run(
        [*prefix, helper_path(env), action],
        input=data,
        capture_output=True,
        env=dict(env),
        timeout=timeout,
        check=False,
    )
    elapsed = time.monotonic() - start
    _SINK.proc(f"{label} {action}", proc)
    _SINK.env(env)
    return Timed(proc, elapsed)


def log_text(env: Mapping[str, str]) -> str:
    folder = Path(env["ECRPY_LOG_DIR"])
    if not folder.is_dir():
        return ""
    return "\n".join(p.read_text("utf-8", "replace") for p in sorted(folder.glob("ecrpy.log*")))


def one_line(stderr: bytes) -> str:
    """The single stderr line a failed ECR get must print (asserts there is exactly one)."""
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    assert lines[0].startswith("ecrpy: ")
    return lines[0]


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def ident_aws(aws: AwsServer) -> Iterator[AwsServer]:
    """The ``aws`` fixture with identity-specific tokens switched on (and off afterwards)."""
    aws.set_identity_tokens(True)
    try:
        yield aws
    finally:
        aws.set_identity_tokens(False)


@pytest.fixture
def renv(helper_env: dict[str, str], secret_sink: SecretSink) -> dict[str, str]:
    """``helper_env``, registered with the secrets collector."""
    secret_sink.env(helper_env)
    return helper_env


# -- a TCP proxy in front of moto that can refuse or black-hole connections -------------------


class SwitchProxy:
    """127.0.0.1:PORT forwarding to moto, switchable at run time to

    * ``forward`` — a plain byte pipe to the target;
    * ``refuse`` — nothing listens on the port any more (connection refused);
    * ``blackhole`` — connections are accepted (by the kernel backlog) and never answered.

    The port stays the same in every mode, so an identity (whose fingerprint includes
    AWS_ENDPOINT_URL) keeps its cache entries across the switch.
    """

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.mode = "forward"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._listen()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="switch-proxy")
        self._thread.start()

    def _listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)
        sock.settimeout(0.05)
        self._listener = sock

    def set_mode(self, mode: str) -> None:
        assert mode in ("forward", "refuse", "blackhole")
        with self._lock:
            self.mode = mode
            if mode == "refuse" and self._listener is not None:
                self._listener.close()
                self._listener = None
            elif mode != "refuse" and self._listener is None:
                self._listen()

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                listener, mode = self._listener, self.mode
            if listener is None or mode == "blackhole":
                # black hole: leave connections in the backlog, unanswered
                time.sleep(0.05)
                continue
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                if self.mode == "blackhole":  # switched while accept() waited: never answer it
                    self._held.append(conn)
                    continue
            threading.Thread(target=self._pipe, args=(conn,), daemon=True).start()

    def _pipe(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            conn.close()
            return
        sel = selectors.DefaultSelector()
        conn.setblocking(False)
        upstream.setblocking(False)
        sel.register(conn, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, conn)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    src: Any = key.fileobj
                    dst: socket.socket = key.data
                    try:
                        data = src.recv(65536)
                    except BlockingIOError:
                        continue
                    if not data:
                        return
                    dst.setblocking(True)
                    dst.sendall(data)
                    dst.setblocking(False)
        except OSError:
            return
        finally:
            sel.close()
            conn.close()
            upstream.close()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        self._thread.join(timeout=5)


@pytest.fixture
def proxy(aws: AwsServer) -> Iterator[SwitchProxy]:
    p = SwitchProxy(aws.port)
    try:
        yield p
    finally:
        p.stop()


def closed_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port
