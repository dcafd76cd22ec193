"""tests.support.throttle_proxy: bytes arrive intact, no faster than the limit, and the proxy
stops by itself at the end of its lifetime."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.throttle_proxy import ThrottledProxy


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    """A loopback server that sends back whatever it receives, until the client half-closes."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield ("127.0.0.1", int(server.getsockname()[1]))
    server.close()


def _round_trip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sender = threading.Thread(
            target=lambda: (sock.sendall(payload), sock.shutdown(socket.SHUT_WR)), daemon=True
        )
        sender.start()
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
        sender.join()
    return bytes(received)


def test_bytes_arrive_intact_at_the_limited_rate(echo: tuple[str, int]) -> None:
    payload = os.urandom(300_000)
    with ThrottledProxy(echo, up=200_000, down=None) as proxy:
        started = time.monotonic()
        assert _round_trip(proxy.port, payload) == payload
        elapsed = time.monotonic() - started
        assert proxy.forwarded == {"up": len(payload), "down": len(payload)}
    assert 1.3 <= elapsed < 5, elapsed  # 300 kB at 200 kB/s: 1.5 s (minus one chunk's burst)


def test_unthrottled_direction_is_fast(echo: tuple[str, int]) -> None:
    payload = os.urandom(300_000)
    with ThrottledProxy(echo, up=None, down=None) as proxy:
        started = time.monotonic()
        assert _round_trip(proxy.port, payload) == payload
        assert time.monotonic() - started < 1.0


def test_stops_by_itself_after_its_lifetime(echo: tuple[str, int]) -> None:
    proxy = ThrottledProxy(echo, up=1000, lifetime=0.3)
    time.sleep(1.0)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
    proxy.stop()  # idempotent
