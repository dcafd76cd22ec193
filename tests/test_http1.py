"""credhelper.http1 against http.client: the same answers from the same servers, and the same
kind of failure (OSError for the connection, a non-OSError protocol error for a broken answer),
so fast_token maps its errors as it did with http.client."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from credhelper import http1
from tests.support.aws_server import AwsServer

TIMEOUTS = {"connect_timeout": 5.0, "read_timeout": 5.0}
BODY = b'{"registryIds": ["123456789012"]}'


class Canned:
    """A loopback server answering every connection with ``answer`` after reading the
    request (head and Content-Length body); records what it received."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.received: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        while len(rest) < int(line.split(b":")[1]):
                            rest += conn.recv(65536)
                self.received.append(head + b"\r\n\r\n" + rest)
                conn.sendall(self.answer)

    def close(self) -> None:
        self.sock.close()


def _ours(port: int, proxy: tuple[str, int] | None = None) -> tuple[Any, ...]:
    try:
        r = http1.request("POST", "127.0.0.1", port, "/", [("Host", f"127.0.0.1:{port}"),
                          ("Content-Length", str(len(BODY)))], BODY, context=None, proxy=proxy,
                          **TIMEOUTS)  # fmt: skip
    except http1.ProtocolError:
        return ("protocol error",)
    except OSError as exc:
        return ("OSError", _os_kind(exc), str(exc) if "Tunnel" in str(exc) else "")
    return (r.status, {k.lower(): v for k, v in r.headers}, r.body)


def _theirs(port: int, proxy: tuple[str, int] | None = None) -> tuple[Any, ...]:
    host, target = ("127.0.0.1", port) if proxy is None else proxy
    conn = http.client.HTTPConnection(host, target, timeout=5)
    if proxy is not None:
        conn.set_tunnel("127.0.0.1", port)
    try:
        conn.request("POST", "/", body=BODY, headers={"Content-Length": str(len(BODY))})
        r = conn.getresponse()
        body = r.read()
    except http.client.HTTPException as exc:
        if isinstance(exc, OSError):  # RemoteDisconnected is both
            return ("OSError", _os_kind(exc), "")
        return ("protocol error",)
    except OSError as exc:
        return ("OSError", _os_kind(exc), str(exc) if "Tunnel" in str(exc) else "")
    finally:
        conn.close()
    return (r.status, {k.lower(): v for k, v in r.getheaders()}, body)


def _os_kind(exc: OSError) -> str:
    return "reset" if isinstance(exc, ConnectionResetError) else type(exc).__name__


ANSWERS = {
    "content-length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n",
    "until close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it",
    "error status": b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}",
    "continue first": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "no content": b"HTTP/1.1 204 No Content\r\n\r\n",
    "folded header": b"HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    "cut short": b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly this",
    "bad status line": b"SSH-2.0-OpenSSH\r\n\r\n",
    "closed at once": b"",
    "bad chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
}


@pytest.fixture(params=sorted(ANSWERS))
def canned(request: pytest.FixtureRequest) -> Iterator[Canned]:
    server = Canned(ANSWERS[request.param])
    yield server
    server.close()


def test_answers_and_failures_are_http_clients(canned: Canned) -> None:
    ours, theirs = _ours(canned.port), _theirs(canned.port)
    if ours[0] != "protocol error" and isinstance(ours[1], dict):
        ours[1].pop("x-long", None), theirs[1].pop("x-long", None)  # folding: values differ
    assert ours == theirs


def test_request_goes_out_in_one_write() -> None:
    """Head and body in one segment: no Nagle wait between them (http.client sends two)."""
    server = Canned(ANSWERS["content-length"])
    try:
        _ours(server.port)
        (received,) = server.received
        head, _, body = received.partition(b"\r\n\r\n")
        assert body == BODY
        assert head.startswith(b"POST / HTTP/1.1\r\nHost: 127.0.0.1:")
    finally:
        server.close()


def test_a_refused_tunnel_fails_as_http_client_does() -> None:
    proxy = Canned(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    try:
        ours, theirs = (
            _ours(443, ("127.0.0.1", proxy.port)),
            _theirs(443, ("127.0.0.1", proxy.port)),
        )
        assert ours == theirs == ("OSError", "OSError", "Tunnel connection failed: 403 Forbidden")
        assert proxy.received[0].startswith(b"CONNECT 127.0.0.1:443 HTTP/1.0\r\n")
    finally:
        proxy.close()


def test_nothing_listening_is_a_connection_error() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    assert _ours(port) == _theirs(port) == ("OSError", "ConnectionRefusedError", "")


def test_a_server_that_never_answers_times_out() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    try:
        with pytest.raises(TimeoutError):
            http1.request("POST", "127.0.0.1", sock.getsockname()[1], "/", [("Host", "x")], b"",
                          context=None, connect_timeout=1.0, read_timeout=0.3)  # fmt: skip
    finally:
        sock.close()


def test_moto_through_the_tls_proxy_answers_alike(aws: AwsServer, tmp_path: Path) -> None:
    """A real AWS JSON call through the bench's TLS proxy (CONNECT, a private CA): the same
    status and body as http.client's, headers aside from the date."""
    import ssl

    from tests.test_bench_tools import latency_proxy

    proxy = latency_proxy.serve(aws.url, 0, tls=True, ca_dir=str(tmp_path / "ca"))
    host = "api.ecr.us-east-1.amazonaws.com"
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.pem"))
    headers = [("Host", host), ("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.Nope"),
               ("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", "2")]  # fmt: skip
    try:
        ours = http1.request("POST", host, 443, "/", headers, b"{}", context=ctx,
                             proxy=("127.0.0.1", proxy.server_address[1]), **TIMEOUTS)  # fmt: skip
        conn = http.client.HTTPSConnection("127.0.0.1", proxy.server_address[1], context=ctx)
        conn.set_tunnel(host, 443)
        conn.request("POST", "/", body=b"{}", headers=dict(headers[1:]))
        theirs = conn.getresponse()
        assert (ours.status, ours.body) == (theirs.status, theirs.read())
        conn.close()
        assert proxy.counts["connect"] == 2
    finally:
        proxy.shutdown()
        proxy.server_close()
