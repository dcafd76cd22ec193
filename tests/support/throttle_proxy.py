"""A loopback TCP proxy that throttles: a slow link between a client and a server on 127.0.0.1.

``ThrottledProxy(("127.0.0.1", port), up=1_000_000, down=4_000_000)`` listens on
``proxy.host`` and forwards every connection to the target, at most ``up`` bytes/s from
clients to the target and ``down`` bytes/s back (each shared by all connections, so parallel
layer uploads do not multiply the rate). It only delays bytes, never alters them.

Bounded, and it stops by itself: at most ``max_connections`` connections at a time (more are
closed on accept), every thread is a daemon that polls a stop event, and ``lifetime`` seconds
after start the proxy closes everything (``stop()`` or leaving the ``with`` block does the same
sooner). Counters (``forwarded``) let a test prove the traffic really went through it.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

CHUNK = 16 * 1024  # small enough that the pacing is smooth at ~1 MB/s
POLL = 0.2  # how often blocked threads look at the stop event


class _Pace:
    """A shared rate limit: each caller reserves its bytes' slot on one timeline."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self, size: int, stop: threading.Event) -> None:
        if not self.rate:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + size / self.rate
            delay = self._next - now
        stop.wait(delay)


class ThrottledProxy:
    def __init__(
        self,
        target: tuple[str, int],
        up: float | None,
        down: float | None = None,
        lifetime: float = 300.0,
        max_connections: int = 64,
    ) -> None:
        self.target = target
        self._pace = {"up": _Pace(up), "down": _Pace(down)}
        self.forwarded = {"up": 0, "down": 0}
        self.max_connections = max_connections
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(POLL)
        self.port: int = int(self._listener.getsockname()[1])
        self.host = f"127.0.0.1:{self.port}"
        self._deadline = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._accept, name="throttle-accept", daemon=True)
        self._thread.start()

    # -- public ---------------------------------------------------------------------------------

    def set_rates(self, up: float | None = None, down: float | None = None) -> None:
        """Change the limits (None: unlimited) for bytes not yet forwarded."""
        self._pace["up"].rate = up
        self._pace["down"].rate = down

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in [self._listener, *sockets]:
            try:
                sock.close()
            except OSError:
                pass
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> ThrottledProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- inside ---------------------------------------------------------------------------------

    def _accept(self) -> None:
        try:
            while not self._stop.is_set():
                if time.monotonic() >= self._deadline:
                    break  # the bound: a forgotten proxy does not outlive its test
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                self._connect(client)
        finally:
            if not self._stop.is_set():
                self.stop()

    def _connect(self, client: socket.socket) -> None:
        with self._lock:
            crowded = len(self._sockets) >= 2 * self.max_connections
        try:
            if crowded:
                raise OSError("too many connections")
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.settimeout(POLL)
        with self._lock:
            self._sockets.update((client, upstream))
        pair = _Pair(client, upstream)
        for src, dst, direction in ((client, upstream, "up"), (upstream, client, "down")):
            threading.Thread(
                target=self._pump, args=(src, dst, direction, pair), daemon=True,
                name=f"throttle-{direction}",
            ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str, pair: _Pair) -> None:
        pace = self._pace[direction]
        try:
            while not self._stop.is_set():
                try:
                    data = src.recv(CHUNK)
                except TimeoutError:
                    continue
                if not data:
                    dst.shutdown(socket.SHUT_WR)  # pass the half-close on
                    break
                pace.wait(len(data), self._stop)
                if self._stop.is_set():
                    break
                _send_all(dst, data, self._stop)
                with self._lock:
                    self.forwarded[direction] += len(data)
        except OSError:
            pair.close()  # a reset on either side ends the connection, as on a real link
        if pair.done():
            with self._lock:
                self._sockets.difference_update((pair.client, pair.upstream))
            pair.close()


def _send_all(sock: socket.socket, data: bytes, stop: threading.Event) -> None:
    """``sendall`` that waits out a slow reader (the socket's short timeout is for polling)."""
    view = memoryview(data)
    while view:
        try:
            sent = sock.send(view)
        except TimeoutError:
            if stop.is_set():
                raise OSError("proxy stopped") from None
            continue
        view = view[sent:]


class _Pair:
    """The two sockets of one proxied connection, closed when both directions are done."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self._lock = threading.Lock()
        self._open = 2

    def done(self) -> bool:
        with self._lock:
            self._open -= 1
            return self._open == 0

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            try:
                sock.close()
            except OSError:
                pass
