"""Small loopback servers for tests of what ecrpy does on the network, without the internet:

* :class:`RecordingProxy` — an HTTP proxy that records which host each CONNECT asks for and
  refuses it (403), so a test sees the endpoint botocore picked (FIPS, dual-stack) offline;
* :class:`SelfSignedTLSServer` — a TLS server with a throwaway self-signed certificate, so a
  client that verifies certificates fails the way an intercepting proxy makes it fail;
* :class:`ContainerCredentialsServer` — the EKS Pod Identity agent's protocol
  (``AWS_CONTAINER_CREDENTIALS_FULL_URI`` + ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE``): it checks
  the ``Authorization`` header against the token file and hands out the given keys.

Each one runs in a daemon thread on 127.0.0.1 and is a context manager that stops it.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any


class _Server:
    server: ThreadingHTTPServer

    def _serve(self) -> None:
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class RecordingProxy(_Server):
    """Records ``CONNECT host:port`` targets and answers 403 to each."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_CONNECT(self) -> None:
                outer.targets.append(self.path)
                self.send_error(403, "recording proxy: no tunnels")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._serve()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def self_signed_cert(folder: Path, name: str = "localhost") -> tuple[Path, Path]:
    """(cert.pem, key.pem) for a throwaway self-signed certificate for ``name``/127.0.0.1."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class SelfSignedTLSServer(_Server):
    """HTTPS on 127.0.0.1 with a self-signed certificate; answers 500 to anything that gets
    through (nothing should: clients must refuse the certificate)."""

    def __init__(self, folder: Path) -> None:
        self.cert, key = self_signed_cert(folder)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.send_error(500, "a client accepted an untrusted certificate")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self._serve()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


class ContainerCredentialsServer(_Server):
    """The Pod Identity agent: GET with ``Authorization: <token file content>`` → credentials."""

    def __init__(
        self, token_file: Path, access_key_id: str, secret_access_key: str, session_token: str
    ) -> None:
        self.requests: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                outer.requests.append({"path": self.path, "authorization": auth})
                if auth != token_file.read_text().strip():
                    self._answer(401, {"message": "bad service account token"})
                    return
                expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
                self._answer(
                    200,
                    {
                        "AccessKeyId": access_key_id,
                        "SecretAccessKey": secret_access_key,
                        "Token": session_token,
                        "AccountId": "123456789012",
                        "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    },
                )

            def _answer(self, status: int, body: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._serve()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/credentials"


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port
