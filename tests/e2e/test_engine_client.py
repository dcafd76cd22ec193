"""``engine_client.SocketClient`` (http.client over the unix socket) held to ``SdkClient`` (the
docker SDK, which it replaces on the common path): both run against the same private dockerd
through a recording unix-socket relay, and must send the same requests — method, path, query,
``X-Registry-Auth``, body — and read the same answers. Only transport headers may differ."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from credhelper.engine import Endpoint, EngineError, EngineNotFoundError, iter_json
from credhelper.engine_client import SdkClient, SocketClient, connect
from tests.support import MOTO_ECR_PASSWORD, MOTO_ECR_USER
from tests.support.dockerd import Dockerd
from tests.support.images import make_tiny_image_tar
from tests.support.registry_server import RegistryServer

# Headers that say how a client talks HTTP, not what it asks the engine.
TRANSPORT_HEADERS = {"user-agent", "accept", "accept-encoding", "connection"}


class Relay:
    """A unix socket that forwards every connection to dockerd's and keeps what clients sent."""

    def __init__(self, target: str, path: str) -> None:
        self.target, self.path = target, path
        self.sent: list[bytes] = []  # one entry per connection, client -> engine
        self._lock = threading.Lock()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            with self._lock:
                index = len(self.sent)
                self.sent.append(b"")
            threading.Thread(target=self._pump, args=(client, upstream, index), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, index: int | None) -> None:
        try:
            while data := src.recv(65536):
                if index is not None:
                    with self._lock:
                        self.sent[index] += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def requests(self) -> list[tuple[str, str, dict[str, str], bytes]]:
        """Every request sent so far: (method, target, headers (lower-case names), body)."""
        out = []
        with self._lock:
            streams = list(self.sent)
        for data in streams:
            while data:
                head, _, rest = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                out.append((method, target, headers, rest[:length]))
                data = rest[length:]
        return out

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def relay(dockerd: Dockerd) -> Iterator[Relay]:
    path = str(Path(dockerd.root) / f"relay-{uuid.uuid4().hex[:8]}.sock")
    r = Relay(dockerd.sock, path)
    try:
        yield r
    finally:
        r.close()
        Path(path).unlink(missing_ok=True)


def _client(kind: str, relay: Relay) -> Any:
    ep = Endpoint(f"unix://{relay.path}", "DOCKER_HOST")
    if kind == "socket":
        return SocketClient(relay.path, ep)
    return SdkClient(ep, {"DOCKER_HOST": ep.host or ""})


def _events(client: Any, operation: str, name: str, tag: str, auth: Any) -> list[Any]:
    stream = client.open_stream(operation, name, tag, auth)
    try:
        return list(iter_json(stream.chunks()))
    finally:
        stream.close()


def _what(request: tuple[str, str, dict[str, str], bytes]) -> tuple[Any, ...]:
    method, target, headers, body = request
    asked = {k: v for k, v in headers.items() if k not in TRANSPORT_HEADERS}
    return method, target, asked, body


def test_socket_client_sends_what_the_sdk_sends_and_reads_the_same(
    relay: Relay, dockerd: Dockerd, registry_server: RegistryServer, tmp_path: Path
) -> None:
    import docker

    name = f"{registry_server.host}/engine-{uuid.uuid4().hex[:8]}"
    tar = make_tiny_image_tar(tmp_path / "rootfs.tar", size_bytes=2048)
    engine = docker.DockerClient(base_url=dockerd.base_url)
    engine.api.import_image_from_data(tar.read_bytes(), repository=name, tag="v1")
    auth = {"username": MOTO_ECR_USER, "password": MOTO_ECR_PASSWORD,
            "serveraddress": registry_server.host}
    assert _events(SocketClient(dockerd.sock, Endpoint(dockerd.base_url, "DOCKER_HOST")),
                   "push", name, "v1", auth)  # the first upload; what follows is re-pushes

    seen: dict[str, list[Any]] = {}
    answers: dict[str, list[Any]] = {}
    api = _client("socket", relay).api_version
    relay.reset()
    for kind in ("socket", "sdk"):
        client = _client(kind, relay)
        answers[kind] = [
            client.image_size(f"{name}:v1"),
            client.image_size(f"{name}:absent"),
            _events(client, "push", name, "v1", auth),
            _events(client, "pull", name, "v1", auth),
            # a refusal by the registry arrives inside the stream, as an errorDetail
            _events(client, "push", name, "v1", {**auth, "password": "wrong"}),
        ]
        with pytest.raises(EngineNotFoundError):
            client.open_stream("pull", f"{registry_server.host}/absent", "v1", auth)
        seen[kind] = [_what(r) for r in relay.requests()]
        relay.reset()

    # The SDK reuses pooled connections, so the relay sees its requests grouped by connection.
    assert sorted(seen["socket"], key=repr) == sorted(seen["sdk"], key=repr)
    targets = [(m, t) for m, t, _, _ in seen["socket"]]
    assert targets[0] == ("GET", "/version")
    assert ("POST", f"/v{api}/images/create?fromImage={quote(name, safe='')}&tag=v1") in targets
    pushes = [r for r in seen["socket"] if r[1].endswith("/push?tag=v1")]
    assert len(pushes) == 2 and all("x-registry-auth" in r[2] for r in pushes)
    size, absent, push, pull, refused = answers["socket"]
    assert answers["socket"] == answers["sdk"]
    assert isinstance(size, int) and size > 0 and absent is None
    assert any("Layer already exists" == e.get("status") for e in push)
    assert any(str(e.get("status", "")).startswith("Status: Image is up to date") for e in pull)
    assert "unauthorized" in str(refused[-1].get("errorDetail"))


def test_a_missing_socket_is_named_with_the_fix(tmp_path: Path) -> None:
    gone = tmp_path / "nothing.sock"
    with pytest.raises(EngineError) as err:
        connect({"DOCKER_HOST": f"unix://{gone}", "HOME": str(tmp_path)})
    text = str(err.value)
    assert f"cannot reach the docker engine at unix://{gone}" in text
    assert "DOCKER_HOST" in (err.value.hint or "")


def test_unix_endpoints_use_the_socket_and_the_rest_the_sdk(tmp_path: Path) -> None:
    from credhelper.engine_client import DEFAULT_SOCKET, socket_path

    assert socket_path(Endpoint(None, "default")) == DEFAULT_SOCKET
    assert socket_path(Endpoint("unix:///run/d.sock", "DOCKER_HOST")) == "/run/d.sock"
    assert socket_path(Endpoint("tcp://127.0.0.1:2376", "DOCKER_HOST")) is None
    assert socket_path(Endpoint("ssh://me@host", "DOCKER_HOST")) is None
    assert socket_path(Endpoint("unix:///run/d.sock", "ctx", tls_dir=str(tmp_path))) is None
