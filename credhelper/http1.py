"""One HTTP/1.1 request and its answer over a new connection, for ``fast_token``'s signed calls.

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
"""

from __future__ import annotations

import socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Sequence
    from typing import BinaryIO

_MAX_LINE = 65536
_MAX_HEADERS = 100


class ProtocolError(Exception):
    """The server's answer is not well-formed HTTP/1.x or ended early."""


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


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
) -> Response:
    """Send ``method path`` with ``headers`` (which must include ``Host``) and ``body`` to
    ``host:port`` (through ``proxy``'s CONNECT tunnel if given; TLS when ``context``)."""
    target = proxy or (host, port)
    sock = socket.create_connection(target, timeout=connect_timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if proxy is not None:
            _tunnel(sock, host, port)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=host)
        sock.settimeout(read_timeout)
        head = [f"{method} {path} HTTP/1.1"]
        head += [f"{name}: {value}" for name, value in headers]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        with sock.makefile("rb") as stream:
            return _read_response(stream, method)
    finally:
        sock.close()


def _tunnel(sock: socket.socket, host: str, port: int) -> None:
    """``CONNECT host:port`` as ``http.client`` sends it; any answer but 200 is an OSError."""
    target = f"[{host}]" if ":" in host else host
    sock.sendall(f"CONNECT {target}:{port} HTTP/1.0\r\n\r\n".encode("ascii"))
    # Byte by byte: nothing after the proxy's blank line may be read ahead (TLS follows).
    status, reason = _status_line(_unbuffered_line(sock))
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


def _status_line(line: bytes) -> tuple[int, str]:
    if not line:
        raise ConnectionResetError("Remote end closed connection without response")
    try:
        version, status, *reason = line.decode("latin-1").rstrip("\r\n").split(None, 2)
        code = int(status)
    except ValueError:
        raise ProtocolError(f"bad status line {line[:80]!r}") from None
    if not version.startswith("HTTP/") or not 100 <= code <= 999 or len(status) != 3:
        raise ProtocolError(f"bad status line {line[:80]!r}")
    return code, reason[0] if reason else ""


def _read_response(stream: BinaryIO, method: str) -> Response:
    while True:
        status, _reason = _status_line(stream.readline(_MAX_LINE + 1))
        headers = _read_headers(stream)
        if status != 100:
            break  # a 100 Continue is followed by the real answer
    fields = {name.lower(): value for name, value in headers}
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Response(status, headers, b"")
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return Response(status, headers, _read_chunked(stream))
    length = fields.get("content-length")
    if length is None:
        return Response(status, headers, stream.read())  # until the server closes
    try:
        size = int(length)
    except ValueError:
        raise ProtocolError(f"bad Content-Length {length!r}") from None
    body = stream.read(size) if size > 0 else b""
    if len(body) < size:
        raise ProtocolError(f"answer cut short: {len(body)} of {size} bytes")
    return Response(status, headers, body)


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
