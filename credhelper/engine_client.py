"""The two docker engine calls ``ecrpy push``/``pull`` make, over the least code that does them.

A push or pull needs: the API version (``GET /version``, as the docker SDK's ``version="auto"``),
an image inspect (``GET /v{api}/images/{ref}/json``: its size, or "no such image") and the
transfer itself (``POST /v{api}/images/{name}/push?tag=`` or ``/images/create?fromImage=&tag=``
with the token in ``X-Registry-Auth``), whose JSON progress stream ``engine.iter_json`` reads.

Over a unix socket — dockerd's default and most contexts — ``SocketClient`` does this with
``http.client``. Importing the docker SDK (requests, urllib3, the SDK's models) only to send
these three requests cost ~200 ms of ``ecrpy push --no-check``'s start (measured with
``python -X importtime``, docs/benchmarks.md). Every other endpoint (``tcp://`` with or without
TLS, ``ssh://``, ``npipe://``, a context with TLS material) goes through ``SdkClient``, the SDK,
which implements them. The two are held to each other by tests/e2e/test_engine_client.py: the
same requests (method, path, query, ``X-Registry-Auth``, body) and the same answers from a real
dockerd.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from .engine import (
    ENGINE_TIMEOUT,
    EngineError,
    EngineNotFoundError,
    docker_endpoint,
    short_error,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import http.client
    from collections.abc import Iterator, Mapping
    from typing import Any, Protocol

    from .engine import Endpoint

    class EngineClient(Protocol):
        """What ``transfer`` needs from the engine."""

        def image_size(self, reference: str) -> int | None:
            """The image's size in bytes; None when the engine has no such image."""

        def open_stream(
            self, operation: str, name: str, tag: str, auth: dict[str, str] | None
        ) -> Stream:
            """Start a push of ``name:tag`` or a pull of ``name`` at ``tag`` (a tag or digest);
            raise ``EngineNotFoundError`` on 404, ``EngineError`` on another refusal."""

    class Stream(Protocol):
        def chunks(self) -> Iterator[bytes]:
            """The raw response body as it arrives (``EngineError`` if the connection drops)."""

        def close(self) -> None:
            """Close the connection: the engine cancels a push or pull still running."""


DEFAULT_SOCKET = "/var/run/docker.sock"  # the SDK's and the CLI's default on Linux and macOS
UNIX = "unix://"
CHUNK = 65536


def encode_auth(auth: dict[str, str]) -> bytes:
    """``X-Registry-Auth`` exactly as ``docker.auth.encode_header`` writes it."""
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(auth).encode("ascii"))


def transfer_request(operation: str, name: str, tag: str) -> tuple[str, dict[str, str]]:
    """(unversioned path, query parameters) of a push or pull."""
    if operation == "push":
        return f"/images/{quote(name, safe='/:')}/push", {"tag": tag}
    return "/images/create", {"fromImage": name, "tag": tag}


def connect(env: Mapping[str, str] | None = None) -> EngineClient:
    """The engine client for ``docker_endpoint``: ``SocketClient`` for a unix socket (the
    default socket included, on POSIX), else ``SdkClient``. Raises ``EngineError`` when the
    engine does not answer, ``ConfigError`` for a docker context that does not exist."""
    env = os.environ if env is None else env
    ep = docker_endpoint(env)
    path = socket_path(ep)
    if path is None:
        return SdkClient(ep, env)
    return SocketClient(path, ep)


def socket_path(ep: Endpoint) -> str | None:
    """The unix socket path of an endpoint, or None when the SDK must handle it."""
    if ep.host is None:
        return DEFAULT_SOCKET if os.name == "posix" else None
    if ep.host.startswith(UNIX) and ep.tls_dir is None and len(ep.host) > len(UNIX):
        return ep.host[len(UNIX) :]
    return None


def unreachable(ep: Endpoint, why: str) -> EngineError:
    where = ep.host or f"the default socket ({UNIX}{DEFAULT_SOCKET})"
    ctx = f" (context {ep.context!r})" if ep.context else ""
    return EngineError(
        f"cannot reach the docker engine at {where}{ctx}: {' '.join(why.split())[:300]}",
        hint="start dockerd, or point DOCKER_HOST / docker context at a running engine",
    )


def api_message(status: int, body: bytes) -> str:
    """The engine's error message (``{"message": ...}``), one line."""
    import json

    try:
        doc = json.loads(body)
        message = doc.get("message") if isinstance(doc, dict) else None
    except ValueError:
        message = None
    text = str(message or body.decode("utf-8", "replace") or f"HTTP {status}")
    return " ".join(text.split())[:500]


# -- unix socket, http.client --------------------------------------------------------------------
def _unix_connection(path: str) -> http.client.HTTPConnection:
    import http.client
    import socket

    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(path)
            except BaseException:
                sock.close()
                raise
            self.sock = sock

    # "localhost": the Host header the SDK sends over its unix adapter.
    return UnixConnection("localhost", timeout=ENGINE_TIMEOUT)


class SocketClient:
    """The engine over a unix socket with ``http.client``; see the module doc."""

    def __init__(self, path: str, ep: Endpoint) -> None:
        self.path = path
        self.ep = ep
        status, body = self._get("/version", unreachable_on_error=True)
        version = None
        if status == 200:
            import json

            try:
                doc = json.loads(body)
                version = doc.get("ApiVersion") if isinstance(doc, dict) else None
            except ValueError:
                version = None
        if not isinstance(version, str) or not version:
            raise unreachable(ep, f"GET /version answered {status}: {api_message(status, body)}")
        self.api_version = version

    def _get(self, path: str, unreachable_on_error: bool = False) -> tuple[int, bytes]:
        import http.client

        conn = _unix_connection(self.path)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            if unreachable_on_error:
                raise unreachable(self.ep, str(exc) or type(exc).__name__) from None
            raise EngineError(f"docker engine: {exc or type(exc).__name__}") from None
        finally:
            conn.close()

    def image_size(self, reference: str) -> int | None:
        status, body = self._get(f"/v{self.api_version}/images/{quote(reference, safe='/:')}/json")
        if status == 404:
            return None
        if status >= 400:
            raise EngineError(f"docker engine: {api_message(status, body)}")
        import json

        try:
            info = json.loads(body)
        except ValueError:
            return None
        size = info.get("Size") if isinstance(info, dict) else None
        return size if isinstance(size, int) else None

    def open_stream(
        self, operation: str, name: str, tag: str, auth: dict[str, str] | None
    ) -> SocketStream:
        import http.client
        from urllib.parse import urlencode

        path, params = transfer_request(operation, name, tag)
        headers = {"X-Registry-Auth": encode_auth(auth).decode("ascii")} if auth else {}
        conn = _unix_connection(self.path)
        try:
            # Content-Length 0, as requests sends for a POST without a body.
            conn.request(
                "POST", f"/v{self.api_version}{path}?{urlencode(params)}", b"", headers
            )
            resp = conn.getresponse()
            if resp.status >= 400:
                kind = EngineNotFoundError if resp.status == 404 else EngineError
                raise kind(f"{operation} failed: {api_message(resp.status, resp.read())}")
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise unreachable(self.ep, str(exc) or type(exc).__name__) from None
        except BaseException:
            conn.close()
            raise
        return SocketStream(operation, conn, resp)


class SocketStream:
    def __init__(
        self, operation: str, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse
    ) -> None:
        self.operation, self.conn, self.resp = operation, conn, resp

    def chunks(self) -> Iterator[bytes]:
        import http.client

        try:
            while chunk := self.resp.read1(CHUNK):
                yield chunk
        except (OSError, http.client.HTTPException) as exc:
            raise EngineError(
                f"{self.operation} failed: lost the connection to the docker engine "
                f"({exc or type(exc).__name__})"
            ) from None

    def close(self) -> None:
        self.resp.close()
        self.conn.close()


# -- everything else, the docker SDK -----------------------------------------------------------
class SdkClient:
    """The engine through the docker SDK (TCP, TLS, ssh, named pipes)."""

    def __init__(self, ep: Endpoint, env: Mapping[str, str]) -> None:
        self.api = sdk_api_client(ep, env)

    def image_size(self, reference: str) -> int | None:
        from docker.errors import APIError, ImageNotFound

        try:
            info = self.api.inspect_image(reference)
        except ImageNotFound:
            return None
        except APIError as exc:
            raise EngineError(f"docker engine: {short_error(exc)}") from None
        size = info.get("Size") if isinstance(info, dict) else None
        return size if isinstance(size, int) else None

    def open_stream(
        self, operation: str, name: str, tag: str, auth: dict[str, str] | None
    ) -> SdkStream:
        import requests

        path, params = transfer_request(operation, name, tag)
        headers = {"X-Registry-Auth": encode_auth(auth).decode("ascii")} if auth else {}
        url = f"{self.api.base_url}/v{self.api.api_version}{path}"
        try:
            response = self.api.post(
                url, params=params, headers=headers, stream=True, timeout=ENGINE_TIMEOUT
            )
        except requests.RequestException as exc:
            raise EngineError(
                f"{operation} failed: lost the connection to the docker engine "
                f"({short_error(exc)})"
            ) from None
        if response.status_code >= 400:
            response.close()
            kind = EngineNotFoundError if response.status_code == 404 else EngineError
            raise kind(f"{operation} failed: {api_message(response.status_code, response.content)}")
        return SdkStream(operation, response)


class SdkStream:
    def __init__(self, operation: str, response: Any) -> None:
        self.operation, self.response = operation, response

    def chunks(self) -> Iterator[bytes]:
        import requests

        try:
            yield from self.response.iter_content(chunk_size=None)
        except requests.RequestException as exc:
            raise EngineError(
                f"{self.operation} failed: lost the connection to the docker engine "
                f"({short_error(exc)})"
            ) from None

    def close(self) -> None:
        self.response.close()


def sdk_api_client(ep: Endpoint, env: Mapping[str, str], timeout: int = ENGINE_TIMEOUT) -> Any:
    """A ``docker.APIClient`` for the endpoint (raises ``EngineError`` if the engine does not
    answer within ``timeout`` seconds)."""
    import docker
    from docker.errors import DockerException

    try:
        if ep.host is None or ep.source == "DOCKER_HOST":
            # from_env also honours DOCKER_TLS_VERIFY / DOCKER_CERT_PATH with DOCKER_HOST.
            return docker.from_env(environment=dict(env), timeout=timeout).api
        tls: Any = False
        if ep.tls_dir is not None:
            from docker.tls import TLSConfig

            def part(name: str) -> str | None:
                path = os.path.join(ep.tls_dir or "", name)
                return path if os.path.exists(path) else None

            cert, key, ca = part("cert.pem"), part("key.pem"), part("ca.pem")
            tls = TLSConfig(
                client_cert=(cert, key) if cert and key else None,
                ca_cert=ca,
                verify=(ca or True) if not ep.skip_tls_verify else False,
            )
        return docker.APIClient(base_url=ep.host, tls=tls, timeout=timeout, version="auto")
    except DockerException as exc:
        raise unreachable(ep, short_error(exc)) from None
