"""A loopback proxy in front of moto that adds latency to every AWS request.

Two ways in, served on the same port:

* **plain**: point a client's ``AWS_ENDPOINT_URL`` at ``http://127.0.0.1:PORT``; every request
  waits ``--latency-ms`` and is forwarded to ``--upstream`` (moto) as is.
* **TLS** (``--tls``): for clients that cannot be pointed at another endpoint (AWS's Go helper
  ignores ``AWS_ENDPOINT_URL``). Set ``HTTPS_PROXY=http://127.0.0.1:PORT`` and
  ``AWS_CA_BUNDLE``/``SSL_CERT_FILE`` to the throwaway CA this proxy writes (``ca.pem`` in
  ``--ca-dir``). The proxy answers ``CONNECT host:443`` for ``*.amazonaws.com`` only, terminates
  TLS with a certificate for that host signed by the CA, and forwards each request inside the
  tunnel as plain HTTP to moto, keeping the ``Host`` header (moto dispatches on it).

Its listen backlog is 128 (socketserver's default of 5 made parallel clients' connections
wait ~1 s for a SYN retransmission). Every socket the proxy opens or accepts has ``TCP_NODELAY``
set. Without it a client such as AWS's
Go helper waited ~40 ms per cold request: after the TLS 1.3 handshake the server writes two
session tickets as separate small segments, Nagle's algorithm holds the second one and the
response behind the unacknowledged first, and the client delays its ACK (Linux: ~40 ms) because
it has already sent its request and has nothing to piggyback the ACK on. ``--nagle`` restores the
old behaviour, only to reproduce that measurement (see docs/benchmarks.md).

``--connection-rtts`` (off by default) also charges every *new* connection the round trips a real
far endpoint would: for a CONNECT tunnel, ``2 * latency`` before the proxy's 200 (the TCP
handshake and TLS 1.3's one round trip to the endpoint); for a plain connection, ``1 *
latency`` before its first request is forwarded (TCP). With 0, only requests wait, so a client
that opens a new connection per call looks no slower than one that keeps them (ecrpy's
pre-flight before http1 kept connections; see docs/benchmarks.md).

Nothing ever leaves 127.0.0.1: the only outbound connections go to ``--upstream``, which must
be a loopback URL. Requests to moto's and aws_server's control paths (``/moto-api/``,
``/__ecrpy/``) are forwarded without delay. ``GET /__proxy/stats`` (plain, not forwarded)
returns counters: requests forwarded, CONNECTs accepted/refused, TLS handshakes.

Run: ``python scripts/latency_proxy.py --upstream http://127.0.0.1:N --latency-ms 50 [--tls
--ca-dir DIR]``; it prints ``ready http://127.0.0.1:PORT`` (and ``ca PATH`` with ``--tls``).
Only the standard library is needed, except ``cryptography`` to make the CA in TLS mode.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

ALLOWED_SUFFIX = ".amazonaws.com"
UNDELAYED_PREFIXES = ("/moto-api/", "/__ecrpy/")
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


# -- throwaway CA -------------------------------------------------------------------------------
class CertificateAuthority:
    """An EC P-256 CA created on first use in ``directory``; issues leaf certificates per host.

    ``ca.pem`` is what clients trust. Leaf contexts are cached per host name.
    """

    def __init__(self, directory: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._x509, self._hashes, self._ser, self._ec = x509, hashes, serialization, ec
        self._name_oid = NameOID
        self.directory = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.cert_path = os.path.join(directory, "ca.pem")
        key_path = os.path.join(directory, "ca-key.pem")
        if os.path.exists(self.cert_path) and os.path.exists(key_path):
            with open(key_path, "rb") as f:
                self._key = serialization.load_pem_private_key(f.read(), password=None)
            with open(self.cert_path, "rb") as f:
                self._cert = x509.load_pem_x509_certificate(f.read())
        else:
            self._key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ecrpy bench throwaway CA")])
            now = datetime.datetime.now(datetime.timezone.utc)
            ski = x509.SubjectKeyIdentifier.from_public_key(self._key.public_key())
            self._cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(self._key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=7))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(ski, critical=False)
                .sign(self._key, hashes.SHA256())
            )
            _write_private(
                key_path,
                self._key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
            _write_private(self.cert_path, self._cert.public_bytes(serialization.Encoding.PEM))
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context_for(self, host: str) -> ssl.SSLContext:
        """A server-side TLS context presenting a certificate for ``host``."""
        with self._lock:
            ctx = self._contexts.get(host)
            if ctx is None:
                ctx = self._make_context(host)
                self._contexts[host] = ctx
            return ctx

    def _make_context(self, host: str) -> ssl.SSLContext:
        x509, hashes, ser, ec = self._x509, self._hashes, self._ser, self._ec
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_ski = self._cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(self._name_oid.COMMON_NAME, host)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        leaf_dir = os.path.join(self.directory, "leaf")
        os.makedirs(leaf_dir, mode=0o700, exist_ok=True)
        pem = os.path.join(leaf_dir, f"{host}.pem")
        _write_private(
            pem,
            key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
            + cert.public_bytes(ser.Encoding.PEM),
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pem)
        return ctx


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


# -- the proxy ----------------------------------------------------------------------------------
class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a client opening more connections at once
    # (ecrpy's pre-flight sends ~15 calls in parallel) had SYNs dropped and retried after 1 s.
    request_queue_size = 128

    def __init__(
        self,
        upstream: str,
        latency: float,
        ca: CertificateAuthority | None = None,
        port: int = 0,
        nodelay: bool = True,
        connection_rtts: bool = False,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, not {upstream!r}")
        if not ipaddress.ip_address(socket.gethostbyname(parts.hostname)).is_loopback:
            raise ValueError(f"upstream {upstream!r} is not on loopback")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.latency = latency
        self.connection_rtts = connection_rtts
        self.ca = ca
        self.nodelay = nodelay
        self.counts: Counter[str] = Counter()
        self.counts_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), ProxyHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    def count(self, what: str) -> None:
        with self.counts_lock:
            self.counts[what] += 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ProxyServer
    tunnel_host: str | None = None
    connection_paid = False  # the new connection's round trips were charged (connection_rtts)

    def log_message(self, format: str, *args: object) -> None:
        pass

    # CONNECT host:443 -> TLS with a leaf for host, then serve HTTP requests inside the tunnel.
    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        host = host.strip("[]").lower()
        if self.server.ca is None or not host.endswith(ALLOWED_SUFFIX) or port != "443":
            self.server.count("connect_refused")
            self._reply(403, b"CONNECT allowed only to *.amazonaws.com:443 in --tls mode\n")
            self.close_connection = True
            return
        if self.server.connection_rtts and self.server.latency:
            time.sleep(2 * self.server.latency)  # TCP and TLS 1.3 set-up with the far end
            self.connection_paid = True
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = self.server.ca.context_for(host).wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.server.count("tls_failed")
            self.close_connection = True
            return
        self.server.count("connect")
        self.connection = tls
        self.rfile = tls.makefile("rb")
        self.wfile = tls.makefile("wb")
        self.tunnel_host = host
        self.close_connection = False

    def do_GET(self) -> None:
        if self.tunnel_host is None and self.path == "/__proxy/stats":
            with self.server.counts_lock:
                body = json.dumps(dict(self.server.counts), sort_keys=True).encode()
            self._reply(200, body, "application/json")
            return
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def do_PUT(self) -> None:
        self._forward()

    def do_DELETE(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def do_PATCH(self) -> None:
        self._forward()

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self) -> None:
        path = self.path
        host_header = self.headers.get("Host")
        if path.startswith(("http://", "https://")):  # absolute form: a plain-HTTP proxy request
            parts = urlsplit(path)
            host = (parts.hostname or "").lower()
            if not host.endswith(ALLOWED_SUFFIX):
                self.server.count("refused")
                self._reply(403, b"only *.amazonaws.com is proxied\n")
                return
            host_header = parts.netloc
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
        length = self.headers.get("Content-Length")
        if length is not None:
            body = self.rfile.read(int(length))
        elif self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = _read_chunked(self.rfile)
        else:
            body = b""
        if not path.startswith(UNDELAYED_PREFIXES):
            self.server.count("requests")
            delay = self.server.latency
            if self.server.connection_rtts and not self.connection_paid:
                delay += self.server.latency  # a plain connection's TCP handshake
                self.connection_paid = True
            if delay:
                time.sleep(delay)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        if host_header:
            headers["Host"] = host_header
        conn = http.client.HTTPConnection(
            self.server.upstream_host, self.server.upstream_port, timeout=120
        )
        try:
            conn.connect()
            if self.server.nodelay:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.request(self.command, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            self.server.count("upstream_failed")
            self._reply(502, f"upstream failed: {exc}\n".encode())
            return
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for key, value in resp.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _read_chunked(rfile: object) -> bytes:
    chunks = []
    readline = rfile.readline  # type: ignore[attr-defined]
    read = rfile.read  # type: ignore[attr-defined]
    while True:
        size = int(readline().split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while readline().strip():
                pass
            return b"".join(chunks)
        chunks.append(read(size))
        readline()


def serve(
    upstream: str,
    latency_ms: float,
    tls: bool,
    ca_dir: str | None,
    port: int = 0,
    nodelay: bool = True,
    connection_rtts: bool = False,
) -> ProxyServer:
    """Start a proxy in a daemon thread (for tests and scripts that embed it)."""
    ca = CertificateAuthority(ca_dir) if tls and ca_dir else None
    if tls and ca is None:
        raise ValueError("--tls needs --ca-dir")
    server = ProxyServer(upstream, latency_ms / 1000.0, ca, port, nodelay, connection_rtts)
    threading.Thread(target=server.serve_forever, name="latency-proxy", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", action="store_true", help="answer CONNECT for *.amazonaws.com")
    parser.add_argument("--ca-dir", help="where the throwaway CA lives (created if missing)")
    parser.add_argument(
        "--nagle",
        action="store_true",
        help="leave TCP_NODELAY off (reproduces the ~40 ms handicap; for measurements only)",
    )
    parser.add_argument(
        "--connection-rtts",
        action="store_true",
        help="charge each new connection its set-up round trips (2 for a tunnel, 1 plain)",
    )
    args = parser.parse_args(argv)
    try:
        server = serve(args.upstream, args.latency_ms, args.tls, args.ca_dir, args.port,
                       not args.nagle, args.connection_rtts)  # fmt: skip
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if server.ca is not None:
        print(f"ca {server.ca.cert_path}", flush=True)
    print(f"ready {server.url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
