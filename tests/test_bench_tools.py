"""scripts/latency_proxy.py: it forwards AWS requests to moto unchanged and adds the latency asked
for, both as a plain endpoint (AWS_ENDPOINT_URL) and as a TLS-terminating HTTPS proxy (for
clients such as AWS's Go helper that only honour HTTPS_PROXY + a CA bundle)."""

from __future__ import annotations

import base64
import http.client
import importlib.util
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.support import (
    MOTO_ACCOUNT,
    MOTO_ECR_PASSWORD,
    MOTO_REGION,
    SYSTEM_PATH,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    ecr_host,
)
from tests.support.aws_server import AwsServer

REPO = Path(__file__).resolve().parent.parent
LATENCY_MS = 150
GAT = "GetAuthorizationToken"


def _load_proxy_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "latency_proxy", REPO / "scripts" / "latency_proxy.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["latency_proxy"] = module
    spec.loader.exec_module(module)
    return module


latency_proxy = _load_proxy_module()


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-ca")


@pytest.fixture
def plain_proxy(aws: AwsServer) -> Iterator[Any]:
    server = latency_proxy.serve(aws.url, LATENCY_MS, tls=False, ca_dir=None)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tls_proxy(aws: AwsServer, ca_dir: Path) -> Iterator[Any]:
    server = latency_proxy.serve(aws.url, LATENCY_MS, tls=True, ca_dir=str(ca_dir))
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _ecr(**kwargs: Any) -> Any:
    return boto3.client(
        "ecr",
        region_name=MOTO_REGION,
        aws_access_key_id=TEST_ACCESS_KEY_ID,
        aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
        **kwargs,
    )


def _timed_token(client: Any) -> tuple[float, str]:
    t0 = time.perf_counter()
    data = client.get_authorization_token(registryIds=[MOTO_ACCOUNT])["authorizationData"][0]
    elapsed = time.perf_counter() - t0
    return elapsed, base64.b64decode(data["authorizationToken"]).decode()


def test_plain_mode_forwards_and_adds_latency(aws: AwsServer, plain_proxy: Any) -> None:
    direct = _ecr(endpoint_url=aws.url)
    _timed_token(direct)  # warm the client's connection pool and botocore's caches
    direct_s, direct_token = _timed_token(direct)

    client = _ecr(endpoint_url=plain_proxy.url)
    proxied_s, token = _timed_token(client)
    assert token == direct_token == f"AWS:{MOTO_ECR_PASSWORD}"
    assert proxied_s >= LATENCY_MS / 1000
    assert proxied_s - direct_s >= 0.8 * LATENCY_MS / 1000
    assert aws.calls(GAT) == 3  # every request reached moto exactly once
    # A request with a body that moto must see intact (the repository name).
    client.create_repository(repositoryName="bench/proxy-check")
    names = [r["repositoryName"] for r in direct.describe_repositories()["repositories"]]
    assert "bench/proxy-check" in names
    client.delete_repository(repositoryName="bench/proxy-check")
    # Control paths pass through without the added latency.
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", plain_proxy.server_address[1])) as sock:
        sock.sendall(b"GET /__ecrpy/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = sock.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 200") and b"GetAuthorizationToken" in reply
    assert time.perf_counter() - t0 < LATENCY_MS / 1000


def test_tls_mode_terminates_connect_for_amazonaws(
    aws: AwsServer, tls_proxy: Any, ca_dir: Path
) -> None:
    ca = str(ca_dir / "ca.pem")
    client = _ecr(verify=ca, config=Config(proxies={"https": tls_proxy.url}))
    elapsed, token = _timed_token(client)
    assert token == f"AWS:{MOTO_ECR_PASSWORD}"
    assert elapsed >= LATENCY_MS / 1000
    assert aws.calls(GAT) == 1
    with socket.create_connection(("127.0.0.1", tls_proxy.server_address[1])) as sock:
        sock.sendall(b"GET /__proxy/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = sock.makefile("rb").read()
    stats = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert stats["connect"] >= 1 and stats["requests"] >= 1


def test_connection_rtts_charge_a_new_connection_its_set_up(
    aws: AwsServer, ca_dir: Path
) -> None:
    """``connection_rtts``: a new tunnel waits twice the latency (TCP + TLS to the far end) before
    its first answer, a kept one only the request's round trip; a plain connection one
    latency more on its first request. Without it only requests wait (the default)."""
    latency = LATENCY_MS / 1000
    tls = latency_proxy.serve(aws.url, LATENCY_MS, tls=True, ca_dir=str(ca_dir),
                              connection_rtts=True)  # fmt: skip
    plain = latency_proxy.serve(aws.url, LATENCY_MS, tls=False, ca_dir=None,
                                connection_rtts=True)  # fmt: skip
    try:
        client = _ecr(verify=str(ca_dir / "ca.pem"), config=Config(proxies={"https": tls.url}))
        first, _ = _timed_token(client)
        again, _ = _timed_token(client)  # botocore keeps the tunnel
        assert tls.counts["connect"] == 1
        assert first >= 3 * latency and again < 2 * latency and first - again >= 1.5 * latency
        client = _ecr(endpoint_url=plain.url)
        first, _ = _timed_token(client)
        again, _ = _timed_token(client)
        assert first >= 2 * latency and again < 2 * latency
    finally:
        for server in (tls, plain):
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize(
    "target", [b"example.com:443", b"127.0.0.1:22", b"api.ecr.amazonaws.com:80"]
)
def test_tls_mode_refuses_other_destinations(tls_proxy: Any, target: bytes) -> None:
    with socket.create_connection(("127.0.0.1", tls_proxy.server_address[1]), timeout=5) as sock:
        sock.sendall(b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target + b"\r\n\r\n")
        status = sock.makefile("rb").readline()
    assert status.startswith(b"HTTP/1.1 403")


def _go_helper() -> str:
    go = shutil.which("docker-credential-ecr-login")
    if go is None:
        message = "docker-credential-ecr-login not installed (scripts/bench installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return go


def _go_env(proxy_url: str, ca_dir: Path, tmp_path: Path) -> dict[str, str]:
    ca = str(ca_dir / "ca.pem")
    return {
        "HOME": str(tmp_path),
        "PATH": SYSTEM_PATH,
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": MOTO_REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ECR_CACHE_DIR": str(tmp_path / "ecr-cache"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "HTTPS_PROXY": proxy_url,
        "AWS_CA_BUNDLE": ca,
        "SSL_CERT_FILE": ca,
    }


def test_tls_mode_serves_aws_go_helper(
    aws: AwsServer, tls_proxy: Any, ca_dir: Path, tmp_path: Path
) -> None:
    go = _go_helper()
    env = _go_env(tls_proxy.url, ca_dir, tmp_path)
    proc = subprocess.run(
        [go, "get"], input=ecr_host().encode(), capture_output=True, env=env, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Secret"] == MOTO_ECR_PASSWORD
    assert aws.calls(GAT) == 1


@pytest.mark.parametrize("nodelay", [True, False])
def test_tls_mode_does_not_hold_the_answer_back(
    aws: AwsServer, ca_dir: Path, monkeypatch: pytest.MonkeyPatch, nodelay: bool
) -> None:
    """A benchmark must not handicap the peer. Without TCP_NODELAY the proxy's answer to AWS's
    Go helper sat behind a TLS session ticket until the helper's delayed ACK (~40 ms, on most
    cold gets). Checked on the sockets themselves rather than by timing: the one the proxy
    accepts from the client and the one it opens to the upstream both have TCP_NODELAY set.
    ``--nagle`` (``nodelay=False``, for measurements only) leaves the client's at the OS
    default (http.client sets it on the upstream leg itself, whatever the proxy asks)."""
    seen: dict[str, list[int]] = {"client": [], "upstream": []}
    upstream_port = int(aws.url.rsplit(":", 1)[1].split("/")[0])
    request = http.client.HTTPConnection.request

    def recording_request(conn: http.client.HTTPConnection, *args: Any, **kwargs: Any) -> None:
        if conn.port == upstream_port and conn.sock is not None:  # the proxy's upstream leg
            seen["upstream"].append(_nodelay(conn.sock))
        request(conn, *args, **kwargs)

    monkeypatch.setattr(http.client.HTTPConnection, "request", recording_request)
    server = latency_proxy.serve(aws.url, 0, tls=True, ca_dir=str(ca_dir), nodelay=nodelay)
    accept = server.get_request

    def recording_accept() -> tuple[socket.socket, Any]:
        sock, address = accept()
        seen["client"].append(_nodelay(sock))
        return sock, address

    server.get_request = recording_accept
    try:
        context = ssl.create_default_context(cafile=str(ca_dir / "ca.pem"))
        host = f"api.ecr.{MOTO_REGION}.amazonaws.com"
        conn = http.client.HTTPSConnection("127.0.0.1", server.server_address[1], context=context)
        conn.set_tunnel(host, 443)
        conn.request("GET", "/", headers={"Host": host})
        conn.getresponse().read()
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
    assert seen["client"] and seen["upstream"], seen  # the proxy answered through both
    assert all(seen["upstream"]), seen
    assert all(v if nodelay else not v for v in seen["client"]), seen


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


# -- scripts/bench_common.py: the paired runner ------------------------------------------------
def _load_bench_common() -> ModuleType:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import bench_common
    finally:
        sys.path.remove(str(REPO / "scripts"))
    return bench_common


def test_peak_rss_is_the_commands_own_not_the_benchmarks(tmp_path: Path) -> None:
    """Linux keeps the RSS high-water mark across exec: a child forked from this big process
    would report this process's size. The runner must report the command's own."""
    if not os.path.exists("/usr/bin/time"):
        pytest.skip("/usr/bin/time not installed (Debian package time; scripts/bench installs it)")
    bc = _load_bench_common()
    ballast = bytearray(200 * 2**20)  # make this process far bigger than the commands
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])
    world = bc.World(tmp_path, "rss")
    small = bc.Cmd("pass", [sys.executable, "-c", "pass"], world, stdin=False, expect=None)
    big = bc.Cmd("80 MiB", [sys.executable, "-c", "b = bytearray(80 * 2**20); b[::4096] = "
                 "b'x' * len(b[::4096])"], world, stdin=False, expect=None)  # fmt: skip
    _, _, small_kb = bc.run_once(small, tmp_path / "out")
    _, _, big_kb = bc.run_once(big, tmp_path / "out")
    assert small_kb < 60 * 1024 < 80 * 1024 <= big_kb, (small_kb, big_kb)
    del ballast


def test_paired_runs_interleave_alternately_and_check_every_answer(tmp_path: Path) -> None:
    if not os.path.exists("/usr/bin/time"):
        pytest.skip("/usr/bin/time not installed")
    bc = _load_bench_common()
    world = bc.World(tmp_path, "pairs")
    order = tmp_path / "order"

    def cmd(name: str, expect: str | None = None) -> Any:
        return bc.Cmd(name, ["sh", "-c", f"echo {name} >> {order}; echo ok-{name}"], world,
                      stdin=False, expect=expect)  # fmt: skip

    rows = bc.paired("t", [cmd("A", "ok-A"), cmd("B", "ok-B")], runs=3, warmup=1, tmp=tmp_path)
    assert order.read_text().split() == ["A", "B", "B", "A", "A", "B", "B", "A"]
    assert [len(r.walls) for r in rows] == [3, 3] and all(r.rss_kb for r in rows)
    with pytest.raises(bc.InfraError, match="B: exit 0"):
        bc.paired("t", [cmd("A"), cmd("B", "never printed")], runs=1, warmup=0, tmp=tmp_path)


def test_rows_show_waiting_apart_from_cpu(tmp_path: Path) -> None:
    """wait = wall - CPU per run: a command that sleeps 0.2 s waits ~0.2 s and uses little CPU;
    one that spins for 0.2 s waits little (on a machine that is not overloaded)."""
    if not os.path.exists("/usr/bin/time"):
        pytest.skip("/usr/bin/time not installed")
    bc = _load_bench_common()
    world = bc.World(tmp_path, "wait")
    code = {"sleep": "import time; time.sleep(0.2)",
            "spin": "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.2: pass"}  # fmt: skip
    rows = bc.paired("t", [bc.Cmd(n, [sys.executable, "-c", c], world, stdin=False, expect=None)
                           for n, c in code.items()], runs=3, warmup=0, tmp=tmp_path)  # fmt: skip
    sleep, spin = rows
    assert sleep.wait >= 0.18 and sleep.cpu < 0.1
    assert spin.cpu >= 0.19 and spin.wait < sleep.wait
    assert len(sleep.preempted) == 3
    table = "\n".join(bc.rows_table(rows))
    assert "| wait | preempted |" in table


def test_many_parallel_connections_are_accepted_at_once(tls_proxy: Any) -> None:
    """A listen backlog of 5 (socketserver's default) dropped the SYNs of a client opening ~15
    connections at once; each waited ~1 s for the retransmission."""
    import socket
    import threading
    import time

    port = tls_proxy.server_address[1]
    times: list[float] = []

    def connect() -> None:
        t = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /__proxy/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            s.recv(100)
        times.append(time.perf_counter() - t)

    threads = [threading.Thread(target=connect) for _ in range(40)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(times) == 40 and max(times) < 0.9, sorted(times)[-3:]
