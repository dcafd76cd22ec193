"""One HTTP/1.1 request and its answer, for ``fast_token``'s signed calls.

``http.client`` costs ~11 ms of CPU to import (it parses headers with the ``email`` package),
a fifth of a cold ``get``. This module does only what a signed AWS JSON call needs: a
connection to the endpoint or a ``CONNECT`` tunnel through a proxy, TLS with the caller's
context, the whole request in one write (no Nagle/delayed-ACK stall between headers and body),
and the answer's status, headers and body (``Content-Length``, chunked, or until the server
closes). It fails the way ``http.client`` fails, so callers map errors as before:
``OSError`` for the connection (``ConnectionResetError`` when the server closes before a
status line, ``OSError("Tunnel connection failed: ...")`` when the proxy refuses), ``TimeoutError``
for timeouts, ``ssl.SSLError`` for TLS, and :class:`ProtocolError` (not an ``OSError``, like
``http.client.HTTPException``) for an answer that is not HTTP or is cut short.
``tests/test_http1.py`` holds it to ``http.client`` against the same servers.

With ``reuse=True`` a connection whose answer leaves it usable (HTTP/1.1, no ``Connection:
close``, a delimited body) is kept for the next request to the same endpoint, as urllib3's
pool kept them for botocore: a pre-flight's ~20 calls then pay the TCP and TLS set-up (two
round trips, ~1-2 ms of handshake CPU) once per concurrent call, not once per call. A kept
connection the server has closed meanwhile is noticed before use (readable at rest) or at
once (no status line), and the request goes out once more on a new connection.
``preconnect`` opens connections ahead for calls that must first wait for another answer.
"""

from __future__ import annotations

import _thread
import socket
from time import monotonic as _monotonic

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Sequence
    from typing import BinaryIO

_MAX_LINE = 65536
_MAX_HEADERS = 100
_MAX_IDLE = 10  # kept connections per endpoint: botocore's max_pool_connections default
# Older kept connections are not used: a pre-flight's calls are milliseconds apart, while a
# connection idle through a long push may have been dropped by a NAT or proxy without a FIN
# (a request on it would wait out the read timeout before its retry).
_MAX_IDLE_SECONDS = 15.0

# (host, port, proxy, TLS context) -> idle connections, most recently used last
_IDLE: dict[tuple[object, ...], list[_Connection]] = {}
_IDLE_LOCK = _thread.allocate_lock()  # not threading: its import is a cold get's cost


class ProtocolError(Exception):
    """The server's answer is not well-formed HTTP/1.x or ended early."""


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


class _Connection:
    __slots__ = ("idle_since", "sock", "stream")

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.stream = sock, sock.makefile("rb")
        self.idle_since = 0.0

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


class _Stale(Exception):
    """A kept connection the server had already closed: nothing was answered on it."""


def request(
    method: str,
    host: str,
    port: int,
    path: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    *,
    context: ssl.SSLContext | None,
    proxy: tuple[str, int] | None = None,
    connect_timeout: float,
    read_timeout: float,
    reuse: bool = False,
) -> Response:
    """Send ``method path`` with ``headers`` (which must include ``Host``) and ``body`` to
    ``host:port`` (through ``proxy``'s CONNECT tunnel if given; TLS when ``context``); with
    ``reuse``, on a kept connection to that endpoint when there is one (see the module doc)."""
    head = [f"{method} {path} HTTP/1.1"]
    head += [f"{name}: {value}" for name, value in headers]
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    key = (host, port, proxy, context) if reuse else None
    if key is not None:
        kept = _take_idle(key)
        if kept is not None:
            try:
                return _exchange(kept, data, method, read_timeout, key, reused=True)
            except _Stale:
                pass  # closed by the server while idle: once more, on a new connection
    conn = _open(host, port, context, proxy, connect_timeout)
    return _exchange(conn, data, method, read_timeout, key, reused=False)


def _open(
    host: str,
    port: int,
    context: ssl.SSLContext | None,
    proxy: tuple[str, int] | None,
    connect_timeout: float,
) -> _Connection:
    sock = socket.create_connection(proxy or (host, port), timeout=connect_timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if proxy is not None:
            _tunnel(sock, host, port)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
    return _Connection(sock)


def preconnect(
    host: str,
    port: int,
    *,
    context: ssl.SSLContext | None,
    proxy: tuple[str, int] | None = None,
    connect_timeout: float,
    count: int,
) -> None:
    """Open up to ``count`` connections to the endpoint in background threads and keep them
    for ``request(..., reuse=True)``: calls that must wait for an earlier answer need not
    also wait for their TCP and TLS set-up. A failure is dropped (the call that would have
    used the connection meets, and reports, the same one)."""
    import threading

    key = (host, port, proxy, context)
    with _IDLE_LOCK:
        count = min(count, _MAX_IDLE - len(_IDLE.get(key, ())))

    def open_one() -> None:
        try:
            conn = _open(host, port, context, proxy, connect_timeout)
        except Exception:  # see the docstring
            return
        _put_idle(key, conn)

    for _ in range(count):
        threading.Thread(target=open_one, name="ecrpy-preconnect", daemon=True).start()


def _exchange(
    conn: _Connection,
    data: bytes,
    method: str,
    read_timeout: float,
    key: tuple[object, ...] | None,
    reused: bool,
) -> Response:
    """Send ``data`` on ``conn`` and read the answer; keep ``conn`` for ``key`` if it may be
    used again, else close it. On a ``reused`` connection, a send that fails or an answer
    that never starts is ``_Stale``."""
    try:
        conn.sock.settimeout(read_timeout)
        try:
            conn.sock.sendall(data)
            first = conn.stream.readline(_MAX_LINE + 1)
        except OSError as exc:  # a reset, a broken pipe, TLS's EOF without close_notify
            if reused and not isinstance(exc, TimeoutError):
                raise _Stale from None
            raise
        if not first and reused:
            raise _Stale
        response, keep = _read_response(conn.stream, method, first)
    except BaseException:
        conn.close()
        raise
    if key is not None and keep:
        _put_idle(key, conn)
    else:
        conn.close()
    return response


def _take_idle(key: tuple[object, ...]) -> _Connection | None:
    """The most recently kept connection for ``key`` that the server has not closed."""
    while True:
        with _IDLE_LOCK:
            kept = _IDLE.get(key)
            conn = kept.pop() if kept else None
        if conn is None:
            return None
        if _monotonic() - conn.idle_since <= _MAX_IDLE_SECONDS and _alive_at_rest(conn.sock):
            return conn
        conn.close()  # too old, or closed by the server, or with bytes nobody asked for


def _alive_at_rest(sock: socket.socket) -> bool:
    """True unless the server closed the idle connection (a FIN, TLS's close_notify) or
    sent something unasked. TLS 1.3 session tickets, which a server sends after the handshake
    (so a connection opened ahead has them unread), do not count."""
    import select

    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # closed under us
        return False
    if not readable:
        return True
    sock.setblocking(False)  # _exchange sets its timeout again
    try:
        sock.recv(1)  # b"": the server closed it; a byte: one nobody asked for
    except BlockingIOError:
        return True
    except OSError as exc:
        # ssl.SSLWantReadError (not a BlockingIOError): only TLS's own messages were there
        return type(exc).__name__ == "SSLWantReadError"
    return False


def _put_idle(key: tuple[object, ...], conn: _Connection) -> None:
    conn.idle_since = _monotonic()
    with _IDLE_LOCK:
        kept = _IDLE.setdefault(key, [])
        if len(kept) < _MAX_IDLE:
            kept.append(conn)
            return
    conn.close()


def close_idle() -> None:
    """Close every kept connection (tests; a process simply exits with them)."""
    with _IDLE_LOCK:
        kept = [conn for conns in _IDLE.values() for conn in conns]
        _IDLE.clear()
    for conn in kept:
        conn.close()


def _tunnel(sock: socket.socket, host: str, port: int) -> None:
    """``CONNECT host:port`` as ``http.client`` sends it; any answer but 200 is an OSError."""
    target = f"[{host}]" if ":" in host else host
    sock.sendall(f"CONNECT {target}:{port} HTTP/1.0\r\n\r\n".encode("ascii"))
    # Byte by byte: nothing after the proxy's blank line may be read ahead (TLS follows).
    _version, status, reason = _status_line(_unbuffered_line(sock))
    while _unbuffered_line(sock) not in (b"\r\n", b"\n", b""):
        pass
    if status != 200:
        raise OSError(f"Tunnel connection failed: {status} {reason}")


def _unbuffered_line(sock: socket.socket) -> bytes:
    line = bytearray()
    while len(line) <= _MAX_LINE:
        byte = sock.recv(1)
        if not byte:
            break
        line += byte
        if byte == b"\n":
            break
    return bytes(line)


def _status_line(line: bytes) -> tuple[str, int, str]:
    if not line:
        raise ConnectionResetError("Remote end closed connection without response")
    try:
        version, status, *reason = line.decode("latin-1").rstrip("\r\n").split(None, 2)
        code = int(status)
    except ValueError:
        raise ProtocolError(f"bad status line {line[:80]!r}") from None
    if not version.startswith("HTTP/") or not 100 <= code <= 999 or len(status) != 3:
        raise ProtocolError(f"bad status line {line[:80]!r}")
    return version, code, reason[0] if reason else ""


def _read_response(stream: BinaryIO, method: str, first: bytes) -> tuple[Response, bool]:
    """The answer whose status line is ``first``, and whether the connection may carry
    another request (HTTP/1.1, no ``Connection: close``, the body's end known)."""
    line = first
    while True:
        version, status, _reason = _status_line(line)
        headers = _read_headers(stream)
        if status != 100:
            break  # a 100 Continue is followed by the real answer
        line = stream.readline(_MAX_LINE + 1)
    fields = {name.lower(): value for name, value in headers}
    keep = version == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Response(status, headers, b""), keep
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return Response(status, headers, _read_chunked(stream)), keep
    length = fields.get("content-length")
    if length is None:
        return Response(status, headers, stream.read()), False  # until the server closes
    try:
        size = int(length)
    except ValueError:
        raise ProtocolError(f"bad Content-Length {length!r}") from None
    body = stream.read(size) if size > 0 else b""
    if len(body) < size:
        raise ProtocolError(f"answer cut short: {len(body)} of {size} bytes")
    return Response(status, headers, body), keep


def _read_headers(stream: BinaryIO) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    while True:
        line = stream.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise ProtocolError("header line too long")
        if line in (b"\r\n", b"\n", b""):
            return headers
        if line[:1] in (b" ", b"\t") and headers:  # an obsolete folded continuation
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.decode('latin-1').strip()}")
            continue
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {line[:80]!r}")
        headers.append((name.strip(), value.strip()))
        if len(headers) > _MAX_HEADERS:
            raise ProtocolError("too many headers")


def _read_chunked(stream: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    while True:
        line = stream.readline(_MAX_LINE + 1)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {line[:80]!r}") from None
        if size == 0:
            _read_headers(stream)  # trailers
            return b"".join(chunks)
        chunk = stream.read(size)
        if len(chunk) < size:
            raise ProtocolError("answer cut short in a chunk")
        chunks.append(chunk)
        stream.readline(_MAX_LINE + 1)  # the CRLF after the chunk
