"""credhelper.http1's kept connections (``reuse=True``, what signed_call uses): a usable
connection carries the next request to the same endpoint; one that an answer ends (HTTP/1.0,
``Connection: close``, a body read until the server closes) is not kept; one the server closed
while idle is noticed before use or when no answer starts, and the request goes out once more
on a new connection; a new connection that fails is an error as before. Against raw loopback
servers that do exactly what each case needs."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from credhelper import http1

TIMEOUTS = {"connect_timeout": 5.0, "read_timeout": 5.0}

# What the server does with the n-th request on a connection (0-based): an answer to send
# (and keep the connection), or one of these.
CLOSE_AFTER = "answer, then close"
DROP = "close without an answer"
CUT = "close TCP under TLS without close_notify, no answer"
Plan = Callable[[int, bytes], "bytes | tuple[str, bytes] | str"]


def answer(body: bytes, version: str = "HTTP/1.1", extra: str = "", length: bool = True) -> bytes:
    head = f"{version} 200 OK\r\nContent-Type: text/plain\r\n{extra}"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def echo(n: int, request: bytes) -> bytes:
    """The request line back, so each caller can check it got its own answer."""
    return answer(request.split(b"\r\n", 1)[0])


class Server:
    """Serves each connection in its own thread (over TLS with ``tls``), request after
    request, as ``plan`` says; records (connection number, request line) for every request."""

    def __init__(
        self, plan: Plan = echo, delay: float = 0.0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.plan, self.delay, self.tls = plan, delay, tls
        self.requests: list[tuple[int, bytes]] = []
        self.connections = 0
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:
                conn.close()
                return
        with conn, conn.makefile("rb") as stream:
            n = 0
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = stream.readline()
                    if not line:
                        return
                    head += line
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        stream.read(int(line.split(b":")[1]))
                request_line = head.split(b"\r\n", 1)[0]
                with self.lock:
                    self.requests.append((number, request_line))
                if self.delay:
                    time.sleep(self.delay)
                step = self.plan(n, head)
                n += 1
                if step == DROP:
                    return
                if step == CUT:
                    os.close(conn.detach())
                    return
                if isinstance(step, tuple):
                    conn.sendall(step[1])
                    return
                assert isinstance(step, bytes)
                conn.sendall(step)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(plan: Plan = echo, delay: float = 0.0, tls: ssl.SSLContext | None = None) -> Server:
        servers.append(Server(plan, delay, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def get(
    server: Server, path: str = "/", reuse: bool = True, tls: ssl.SSLContext | None = None
) -> http1.Response:
    """POST ``path`` to ``server`` (with ``tls``, as ``localhost``, the name its certificate
    carries)."""
    host = "127.0.0.1" if tls is None else "localhost"
    return http1.request(
        "POST", host, server.port, path,
        [("Host", f"{host}:{server.port}"), ("Content-Length", "2")], b"{}",
        context=tls, reuse=reuse, **TIMEOUTS,
    )  # fmt: skip


def tls_contexts(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) TLS contexts: a leaf for localhost from the bench proxy's throwaway
    CA, and a client trusting only that CA."""
    from tests.test_bench_tools import latency_proxy

    ca = latency_proxy.CertificateAuthority(str(folder / "ca"))
    client = ssl.create_default_context(cafile=str(folder / "ca" / "ca.pem"))
    return ca.context_for("localhost"), client


def test_a_kept_connection_carries_the_next_requests(serve: Callable[..., Server]) -> None:
    server = serve()
    for i in range(3):
        assert get(server, f"/{i}").body == f"POST /{i} HTTP/1.1".encode()
    assert server.connections == 1 and len(server.requests) == 3
    # without reuse (the container endpoint's calls): one connection per request, as before
    other = serve()
    for i in range(3):
        get(other, f"/{i}", reuse=False)
    assert other.connections == 3


@pytest.mark.parametrize(
    "ending",
    [
        answer(b"ok", version="HTTP/1.0"),
        answer(b"ok", extra="Connection: close\r\n"),
        (CLOSE_AFTER, answer(b"ok", length=False)),  # the body ends when the server closes
    ],
    ids=["HTTP/1.0", "Connection: close", "body until close"],
)
def test_an_answer_that_ends_the_connection_is_not_kept(
    serve: Callable[..., Server], ending: bytes | tuple[str, bytes]
) -> None:
    server = serve(lambda n, head: ending)
    assert get(server).body == b"ok" and get(server).body == b"ok"
    assert server.connections == 2 and len(server.requests) == 2


def test_a_connection_the_server_closed_while_idle_is_not_used(
    serve: Callable[..., Server],
) -> None:
    """Keep-alive headers, then the server closes (an idle timeout): seen before the next
    request is sent, which goes out once, on a new connection."""
    server = serve(lambda n, head: (CLOSE_AFTER, echo(n, head)))
    get(server, "/1")
    time.sleep(0.2)  # the FIN arrives
    assert get(server, "/2").body == b"POST /2 HTTP/1.1"
    assert server.connections == 2
    assert [line for _, line in server.requests] == [b"POST /1 HTTP/1.1", b"POST /2 HTTP/1.1"]


def test_a_connection_idle_too_long_is_not_used(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a long push, a kept connection may be gone without a FIN (a NAT's idle timeout):
    one idle for more than _MAX_IDLE_SECONDS is closed, not tried."""
    server = serve()
    clock = [1000.0]
    monkeypatch.setattr(http1, "_monotonic", lambda: clock[0])
    get(server, "/1")
    clock[0] += http1._MAX_IDLE_SECONDS - 1
    get(server, "/2")
    assert server.connections == 1
    clock[0] += http1._MAX_IDLE_SECONDS + 1
    get(server, "/3")
    assert server.connections == 2 and len(server.requests) == 3


def test_a_kept_connection_that_gives_no_answer_is_retried_once_on_a_new_one(
    serve: Callable[..., Server],
) -> None:
    """The race a keep-alive client cannot see coming (the server closes just as the request
    arrives): no status line on a kept connection means a new connection, once."""
    server = serve(lambda n, head: echo(n, head) if n == 0 else DROP)
    get(server, "/1")
    assert get(server, "/2").body == b"POST /2 HTTP/1.1"
    assert server.connections == 2


def test_a_new_connection_that_gives_no_answer_is_an_error_as_before(
    serve: Callable[..., Server],
) -> None:
    server = serve(lambda n, head: DROP)
    with pytest.raises(ConnectionResetError, match="closed connection without response"):
        get(server)
    assert server.connections == 1  # not retried here: signed_call's retries decide


def test_a_broken_answer_is_an_error_and_its_connection_is_not_kept(
    serve: Callable[..., Server],
) -> None:
    cut = answer(b"short", extra="Content-Length: 99\r\n", length=False)
    server = serve(
        lambda n, head: (CLOSE_AFTER, cut) if head.startswith(b"POST /1 ") else echo(n, head)
    )
    with pytest.raises(http1.ProtocolError, match="cut short"):
        get(server, "/1")
    assert http1._IDLE == {} or all(not c for c in http1._IDLE.values())
    assert get(server, "/2").body == b"POST /2 HTTP/1.1"
    assert server.connections == 2


def test_concurrent_callers_each_get_a_connection_and_their_own_answer(
    serve: Callable[..., Server],
) -> None:
    server = serve(delay=0.02)
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            for i in range(5):
                path = f"/{w}/{i}"
                assert get(server, path).body == f"POST {path} HTTP/1.1".encode()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(server.requests) == 40
    assert server.connections <= 8  # never more than the callers at once; then kept
    kept = sum(len(c) for c in http1._IDLE.values())
    assert 1 <= kept <= http1._MAX_IDLE


def test_over_tls_a_kept_connection_cut_without_close_notify_is_retried(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    """TLS, as every AWS call: the second request on the kept connection meets a server that
    drops TCP without TLS's close_notify (a "ragged" EOF, which the ssl module reads as no
    answer rather than an error): still a stale connection, so once more on a new one."""
    server_tls, client_tls = tls_contexts(tmp_path)
    cut: list[bytes] = []

    def plan(n: int, head: bytes) -> bytes | str:
        if head.startswith(b"POST /2 ") and not cut:
            cut.append(head)
            return CUT
        return echo(n, head)

    server = serve(plan, tls=server_tls)
    for path in ("/1", "/2"):
        assert get(server, path, tls=client_tls).body == f"POST {path} HTTP/1.1".encode()
    assert server.connections == 2 and cut
    assert [n for n, _ in server.requests] == [1, 1, 2]


# -- opened ahead -------------------------------------------------------------------------------


def _kept(timeout: float = 5.0, want: int = 1) -> int:
    """Kept connections once ``want`` are there (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        kept = sum(len(c) for c in http1._IDLE.values())
        if kept >= want or time.monotonic() > deadline:
            return kept
        time.sleep(0.01)


def test_connections_opened_ahead_carry_the_requests(serve: Callable[..., Server]) -> None:
    server = serve()
    http1.preconnect("127.0.0.1", server.port, context=None, connect_timeout=5.0, count=3)
    assert _kept(want=3) == 3
    deadline = time.monotonic() + 5  # the server's accept thread may trail the client
    while server.connections < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.connections == 3 and server.requests == []
    for i in range(3):
        assert get(server, f"/{i}").body == f"POST /{i} HTTP/1.1".encode()
    assert server.connections == 3
    # never more kept than _MAX_IDLE, whatever is asked
    http1.preconnect("127.0.0.1", server.port, context=None, connect_timeout=5.0, count=50)
    assert _kept(want=http1._MAX_IDLE) == http1._MAX_IDLE
    time.sleep(0.2)
    assert _kept() == http1._MAX_IDLE


def test_opening_ahead_where_nothing_listens_is_silent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: refused
        http1.preconnect("127.0.0.1", port, context=None, connect_timeout=1.0, count=2)
        time.sleep(0.3)
    assert _kept(timeout=0) == 0


def test_a_tls_connection_opened_ahead_is_used_despite_its_session_tickets(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    """A TLS 1.3 server sends its session tickets after the handshake: on a connection opened
    ahead they wait unread, so the socket is readable at rest without being closed."""
    server_tls, client_tls = tls_contexts(tmp_path)
    server = serve(tls=server_tls)
    http1.preconnect("localhost", server.port, context=client_tls, connect_timeout=5.0, count=1)
    assert _kept() == 1
    time.sleep(0.2)  # the tickets arrive
    assert get(server, "/1", tls=client_tls).body == b"POST /1 HTTP/1.1"
    assert server.connections == 1
