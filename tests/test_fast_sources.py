"""Container-endpoint and ``credential_process`` credentials without botocore
(``credhelper.fast_sources``, reached through ``fast_token.fetch``), held to botocore 1.44.8:

* the container endpoint to ``ContainerProvider`` + ``utils.ContainerMetadataFetcher`` (the
  URL, the ``Authorization`` token from the file or the variable, 3 attempts, the JSON);
* ``credential_process`` to ``ProcessProvider`` (``shlex.split``, exit status, Version 1 JSON);
* both to ``RefreshableCredentials``' first use (advisory refresh under 15 minutes, mandatory
  under 10, "still expired" after a refresh).

Every case runs ``tokens.fetch`` twice -- once as it is (the fast path, which must really be
taken: a spy on ``fast_sources`` and on ``aws_session.botocore_session``) and once with
``fast_token.fetch`` answering None (botocore's path) -- and both must give the same token or
the same ``EcrpyError`` (class, message, hint), the same credentials expiry, and the fast path
no more requests/process runs than botocore's. Cases the module leaves to botocore must return
None before touching the endpoint (or, when it has to read an answer first, end in botocore's
answer). A cold ``get`` with either identity imports no botocore, and the secrets it receives
are masked in the log.

The waits between attempts are recorded instead of slept, on both paths: ``time.sleep`` for
``fast_sources``, the ``sleep`` default argument of ``ContainerMetadataFetcher`` (bound at
import, so patching ``time.sleep`` would not reach it) for botocore. 169.254.170.2 (ECS's
relative URI) is reached by redirecting each path's connection to a local endpoint. Odd HTTP
answers that ``credhelper.http1`` reads differently from urllib3/http.client are kept as
strict xfails (``RAW_DIFFERENCES``): fixing http1 turns them into failures to remove.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from credhelper import aws_session, fast_role, fast_sources, fast_token, logs, signed_call, tokens
from tests.support import MOTO_ECR_PASSWORD, TEST_ACCESS_KEY_ID, ecr_host, fast_paths
from tests.support.aws_server import AwsServer
from tests.support.net import _Server, unused_port

GAT = "GetAuthorizationToken"
HOST = ecr_host()
POD_TOKEN = "pod-identity-token.eyJzdWIiOiJjaSJ9.sig"


# -- harness: environment, the two paths, outcomes ------------------------------------------


@pytest.fixture
def env(helper_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """helper_env applied to this process (both paths read os.environ), without static keys:
    the identity comes from the container endpoint or the profile's credential_process."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "ECRPY_")) or key.lower().endswith("_proxy"):
            monkeypatch.delenv(key)
    for key, value in helper_env.items():
        if key not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(key, value)
    monkeypatch.setattr(signed_call, "_ssl_context", None)
    yield helper_env


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between endpoint attempts, recorded instead of slept, on both paths."""
    from botocore.utils import ContainerMetadataFetcher

    waited: list[float] = []
    init = ContainerMetadataFetcher.__init__
    assert init.__defaults__ == (None, time.sleep)  # bound at import: patch the default
    monkeypatch.setattr(init, "__defaults__", (None, waited.append))
    monkeypatch.setattr(time, "sleep", waited.append)
    return waited




@dataclass
class Result:
    outcome: tuple[Any, ...]
    creds_expire_at: float | None
    count: int  # endpoint requests or process runs


def _outcome() -> tuple[tuple[Any, ...], float | None]:
    expiry: list[float | None] = [None]

    def fetch() -> Any:
        entry = tokens.fetch(fast_paths.registry())
        expiry[0] = entry.creds_expire_at
        return entry

    return fast_paths.outcome(fetch), expiry[0]


def _spy_fast_sources(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each fast_sources call did: "keys", "raised <class>" or "deferred"."""
    seen: list[str] = []
    for name in ("container", "process"):
        real = getattr(fast_sources, name)

        def spy(*args: Any, _real: Any = real, _name: str = name) -> Any:
            try:
                found = _real(*args)
            except fast_role.Defer:
                seen.append(f"{_name} deferred")
                raise
            except Exception as exc:
                seen.append(f"{_name} raised {type(exc).__name__}")
                raise
            seen.append(f"{_name} keys")
            return found

        monkeypatch.setattr(fast_sources, name, spy)
    return seen


def _spy_botocore(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    used: list[str] = []
    real = aws_session.botocore_session

    def spy(*args: Any, **kwargs: Any) -> Any:
        used.append("botocore_session")
        return real(*args, **kwargs)

    monkeypatch.setattr(aws_session, "botocore_session", spy)
    return used


def _both_paths(
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    count: Callable[[], int],
    reset: Callable[[], None],
    fast_expected: bool = True,
) -> tuple[Result, Result]:
    """(fast, botocore) results of ``tokens.fetch``; with ``fast_expected`` the first run must
    have been answered by ``fast_sources.<source>`` alone (keys or its error, no botocore)."""
    results = []
    for fast in (True, False):
        reset()
        with monkeypatch.context() as m:
            if fast:
                seen, used = _spy_fast_sources(m), _spy_botocore(m)
            else:
                fast_paths.botocore_only(m)
            outcome, expires = _outcome()
        results.append(Result(outcome, expires, count()))
        if fast and fast_expected:
            assert seen and seen[0].startswith(source) and "deferred" not in seen[0], seen
            assert used == [], "the fast path fell back to botocore"
    return results[0], results[1]


def _assert_alike(fast: Result, slow: Result, spent_before_deferring: int = 0) -> None:
    """The same outcome and credentials expiry; no more requests/runs than botocore's path
    (plus what the fast path spent on an answer it then left to botocore)."""
    assert fast.outcome == slow.outcome
    if fast.creds_expire_at is None or slow.creds_expire_at is None:
        assert fast.creds_expire_at is slow.creds_expire_at is None
    else:
        assert abs(fast.creds_expire_at - slow.creds_expire_at) < 5
    assert fast.count <= slow.count + spent_before_deferring


def _check_expected(result: Result, expect: str, expires_in: float | None) -> None:
    """``expect``: "token", or words of the EcrpyError message; ``expires_in`` minutes."""
    if expect == "token":
        assert result.outcome[0] == "token" and result.outcome[2] == MOTO_ECR_PASSWORD
        if expires_in is None:
            assert result.creds_expire_at is None
        else:
            assert result.creds_expire_at is not None
            # 120 s: a stamp without seconds drops up to 59.99 s, and the run itself takes time
            # (CI once measured 60.1 s with a 60 s bound).
            assert abs(result.creds_expire_at - (time.time() + expires_in * 60)) < 120
    else:
        assert result.outcome[0] == "error", result.outcome
        assert expect in result.outcome[2], result.outcome


def _stamp(minutes: float, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return when.strftime(fmt)


# -- a configurable container credentials endpoint -------------------------------------------

# What the endpoint does with one request: (status, body), or one of these.
CLOSE = "close the connection without an answer"
HANG = "never answer"
Answer = Callable[[], Any]
DROP = object()  # keys(Field=DROP): leave the field out


def keys(minutes: float = 60, **fields: Any) -> Answer:
    """200 with keys expiring ``minutes`` from the moment of the request."""

    def answer() -> tuple[int, bytes]:
        doc: dict[str, Any] = {
            "AccessKeyId": TEST_ACCESS_KEY_ID,
            "SecretAccessKey": "container-secret-key",
            "Token": "container-session-token",
            "AccountId": "123456789012",
            "Expiration": _stamp(minutes),
        }
        doc.update(fields)
        return 200, json.dumps({k: v for k, v in doc.items() if v is not DROP}).encode()

    return answer


def status(code: int, body: bytes = b'{"message": "no"}') -> Answer:
    return lambda: (code, body)


def special(what: str) -> Answer:
    return lambda: what


class CredentialsEndpoint(_Server):
    """GET → ``answers[i]`` for the i-th request (the last one repeats, or with ``cycle`` the
    list starts again); 401 when a token is expected and the ``Authorization`` header is not
    it. Records every request."""

    def __init__(
        self, answers: list[Answer], token: str | None = POD_TOKEN, cycle: bool = False
    ) -> None:
        self.answers = answers
        self.requests: list[dict[str, str | None]] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                auth = self.headers.get("Authorization")
                outer.requests.append(
                    {"path": self.path, "authorization": auth, "accept": self.headers.get("Accept")}
                )
                count = len(outer.requests)
                if cycle:
                    index = (count - 1) % len(outer.answers)
                else:
                    index = min(count, len(outer.answers)) - 1
                result = outer.answers[index]()
                if result == HANG:
                    outer.release.wait(30)
                    return
                if result == CLOSE:
                    self.close_connection = True
                    return
                code, body = result
                if token is not None and auth != token:
                    code, body = 401, b'{"message": "bad service account token"}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._serve()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/credentials"

    def stop(self) -> None:
        self.release.set()
        super().stop()


def _container_identity(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, auth: str = "file"
) -> None:
    """The environment of a pod/task: FULL_URI and the token as ``auth`` says."""
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url)
    token_file = tmp_path / "pod-token"
    if auth == "file":
        token_file.write_text(POD_TOKEN)
    elif auth == "wrong":
        token_file.write_text("someone-elses-token")
    elif auth == "newline":
        token_file.write_text(POD_TOKEN + "\n")
    elif auth == "variable":
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", POD_TOKEN)
        return
    elif auth == "file over variable":
        token_file.write_text(POD_TOKEN)
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "the-variable-loses")
    elif auth == "non-latin-1":
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "t\u20acken")
        return
    else:
        assert auth == "missing file"
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))


# -- 1. container endpoint: both paths answer alike ------------------------------------------


@dataclass
class ContainerCase:
    answers: list[Answer]
    expect: str  # "token" or words of the error message
    requests: int  # what the fast path must send
    auth: str = "file"
    expires_in: float | None = 60  # minutes left on the keys the token was fetched with
    refused: bool = False  # nothing listens at the URL


CONTAINER_CASES = {
    "good answer": ContainerCase([keys()], "token", 1),
    "401 for a wrong token": ContainerCase([keys()], "refused: HTTP 401", 3, auth="wrong"),
    "500 every time": ContainerCase([status(500)], "refused: HTTP 500", 3),
    "500 once, then good": ContainerCase([status(500), keys()], "token", 2),
    "connection closed twice, then good": ContainerCase(
        [special(CLOSE), special(CLOSE), keys()], "token", 3
    ),
    "connection closed every time": ContainerCase([special(CLOSE)], "no usable answer", 3),
    "body not JSON": ContainerCase([status(200, b"<html>ok</html>")], "no usable answer", 3),
    "body not UTF-8": ContainerCase([status(200, b'{"a": "\xff"}')], "(UnicodeDecodeError)", 1),
    "JSON with NaN (json.loads takes it)": ContainerCase(
        [lambda: (200, keys()()[1][:-1] + b', "Score": NaN}')], "token", 1
    ),
    "JSON list": ContainerCase([status(200, b"[1, 2]")], "(TypeError)", 1),
    "JSON without AccessKeyId": ContainerCase([keys(AccessKeyId=DROP)], "(KeyError)", 1),
    "JSON without Token": ContainerCase([keys(Token=DROP)], "(KeyError)", 1),
    "JSON without Expiration": ContainerCase([keys(Expiration=DROP)], "(KeyError)", 1),
    "token file ends in a newline": ContainerCase([keys()], "(ValueError)", 0, auth="newline"),
    "token file missing": ContainerCase([keys()], "(FileNotFoundError)", 0, auth="missing file"),
    "token in AWS_CONTAINER_AUTHORIZATION_TOKEN": ContainerCase(
        [keys()], "token", 1, auth="variable"
    ),
    "token file wins over the variable": ContainerCase(
        [keys()], "token", 1, auth="file over variable"
    ),
    "connection refused": ContainerCase([keys()], "no usable answer", 0, refused=True),
    "already expired on every answer": ContainerCase([keys(-5)], "have expired", 2),
    "12 min left, then fresh keys (advisory refresh)": ContainerCase(
        [keys(12), keys(60)], "token", 2
    ),
    "12 min left, refresh fails (advisory: first keys kept)": ContainerCase(
        [keys(12), status(500)], "token", 4, expires_in=12
    ),
    "5 min left, refresh fails (mandatory: fatal)": ContainerCase(
        [keys(5), status(500)], "refused: HTTP 500", 4
    ),
    "5 min left, refreshed keys still expired": ContainerCase(
        [keys(5), keys(-1)], "have expired", 2
    ),
    "12 min left, refresh answers without Expiration (advisory: kept)": ContainerCase(
        [keys(12), keys(Expiration=DROP)], "token", 2, expires_in=12
    ),
}


@pytest.mark.parametrize("case", list(CONTAINER_CASES.values()), ids=list(CONTAINER_CASES))
def test_container_endpoint_answers_as_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sleeps: list[float],
    case: ContainerCase,
) -> None:
    with CredentialsEndpoint(case.answers) as endpoint:
        url = f"http://127.0.0.1:{unused_port()}/v1/credentials" if case.refused else endpoint.url
        _container_identity(monkeypatch, tmp_path, url, case.auth)

        def reset() -> None:
            endpoint.requests.clear()
            sleeps.clear()
            aws.reset_counts()

        fast, slow = _both_paths(monkeypatch, "container", lambda: len(endpoint.requests), reset)
        seen_auth = {r["authorization"] for r in endpoint.requests}  # botocore's run
    _assert_alike(fast, slow)
    _check_expected(fast, case.expect, case.expires_in)
    assert fast.count == case.requests
    if case.auth in ("file", "variable", "file over variable") and not case.refused:
        # botocore's run sent the token as read; the fast run's was checked by the endpoint
        # (any other value gets 401, and the cases above expect a token)
        assert seen_auth == {POD_TOKEN}
    if fast.outcome[0] == "token":
        assert aws.calls(GAT) == 1  # botocore's run; each path asks ECR once


def test_container_waits_between_attempts_as_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sleeps: list[float],
) -> None:
    """1 s between attempts on both paths (botocore also waits after its last attempt)."""
    with CredentialsEndpoint([status(503)]) as endpoint:
        _container_identity(monkeypatch, tmp_path, endpoint.url)
        waits = []
        for fast in (True, False):
            sleeps.clear()
            with monkeypatch.context() as m:
                if not fast:
                    fast_paths.botocore_only(m)
                _outcome()
            waits.append(list(sleeps))
    assert waits[0] == [1.0, 1.0]
    assert waits[1][:2] == [1, 1] and set(waits[1]) == {1}


def test_container_read_timeout_answers_as_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sleeps: list[float],
) -> None:
    """An endpoint that never answers: both give up after 3 timed-out attempts, alike. The
    2 s timeout is cut to 0.3 s on both paths (botocore reads it when the fetcher is made)."""
    from botocore.utils import ContainerMetadataFetcher

    assert fast_sources._TIMEOUT == ContainerMetadataFetcher.TIMEOUT_SECONDS
    monkeypatch.setattr(fast_sources, "_TIMEOUT", 0.3)
    monkeypatch.setattr(ContainerMetadataFetcher, "TIMEOUT_SECONDS", 0.3)
    with CredentialsEndpoint([special(HANG)]) as endpoint:
        _container_identity(monkeypatch, tmp_path, endpoint.url)
        fast, slow = _both_paths(
            monkeypatch, "container", lambda: len(endpoint.requests), endpoint.requests.clear
        )
    _assert_alike(fast, slow)
    _check_expected(fast, "no usable answer", None)
    assert fast.count == slow.count == 3


PLAIN_PATHS = ["/v1/credentials", "", "/v1/c?id=1&x=y", "/v1/c#fragment", "/a//b/../c", "/c?",
               "/v1/~a!$&(*)+,=:@b?c=d&e=?"]  # fmt: skip


@pytest.mark.parametrize("path", PLAIN_PATHS)
def test_container_request_target_is_botocores(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    path: str,
) -> None:
    """The endpoint sees the same request target from both paths (urllib3 leaves these
    characters alone; the fragment is never sent, an empty path is "/")."""
    with CredentialsEndpoint([keys()]) as endpoint:
        _container_identity(monkeypatch, tmp_path, f"http://127.0.0.1:{endpoint.port}{path}")
        runs: list[list[dict[str, str | None]]] = []

        def reset() -> None:
            runs.append(list(endpoint.requests))
            endpoint.requests.clear()

        fast, slow = _both_paths(monkeypatch, "container", lambda: len(endpoint.requests), reset)
        runs.append(list(endpoint.requests))
    _assert_alike(fast, slow)
    _check_expected(fast, "token", 60)
    assert runs[1] == runs[2] and len(runs[1]) == 1  # path, Authorization and Accept
    assert runs[1][0]["accept"] == "application/json"


@pytest.mark.parametrize(
    "relative", ["/v2/credentials/6d1e4b1a-2f0c-4c8e-9a7b-0123456789ab", "/v2/creds?id=a&b=c"]
)
@pytest.mark.parametrize("with_full_uri", [False, True])
def test_relative_uri_goes_to_the_ecs_host_as_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    relative: str,
    with_full_uri: bool,
) -> None:
    """AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS): both paths ask http://169.254.170.2 +
    the relative URI, even when a FULL_URI is set too. 169.254.170.2 is not reachable here:
    each path's connection is redirected to a local endpoint after recording where it went."""
    import botocore.httpsession

    from credhelper import http1

    asked: list[str] = []
    with CredentialsEndpoint([keys()], token=None) as endpoint:
        real_request, real_send = http1.request, botocore.httpsession.URLLib3Session.send

        def fast_request(method: str, host: str, port: int, target: str, headers: Any,
                         *args: Any, **kwargs: Any) -> Any:  # fmt: skip
            if host == "169.254.170.2":
                asked.append(f"http://{host}{'' if port == 80 else f':{port}'}{target}")
                assert ("Host", "169.254.170.2") in headers
                host, port = "127.0.0.1", endpoint.port
            return real_request(method, host, port, target, headers, *args, **kwargs)

        def botocore_send(self: Any, request: Any) -> Any:
            if request.url.startswith("http://169.254.170.2"):
                asked.append(request.url)
                request.url = request.url.replace("169.254.170.2", f"127.0.0.1:{endpoint.port}")
            return real_send(self, request)

        monkeypatch.setattr(http1, "request", fast_request)
        monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", botocore_send)
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", relative)
        if with_full_uri:
            monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url)
        fast, slow = _both_paths(
            monkeypatch, "container", lambda: len(endpoint.requests), endpoint.requests.clear
        )
    _assert_alike(fast, slow)
    _check_expected(fast, "token", 60)
    assert asked == [f"http://169.254.170.2{relative}"] * 2


def test_container_endpoint_is_asked_without_a_proxy(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sleeps: list[float],
) -> None:
    """botocore's ContainerMetadataFetcher uses no proxy, whatever HTTP_PROXY says; nor does
    the fast path (the ECR endpoint, 127.0.0.1, is in NO_PROXY; the container's is not)."""
    from tests.support.net import RecordingProxy

    with CredentialsEndpoint([keys()]) as endpoint, RecordingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        _container_identity(monkeypatch, tmp_path, f"http://localhost:{endpoint.port}/creds")
        fast, slow = _both_paths(
            monkeypatch, "container", lambda: len(endpoint.requests), endpoint.requests.clear
        )
    _assert_alike(fast, slow)
    _check_expected(fast, "token", 60)
    assert fast.count == 1 and proxy.targets == []


def test_container_constants_are_botocores() -> None:
    """The windows, hosts and retry numbers fast_sources copies, read from botocore itself."""
    from botocore import credentials
    from botocore.utils import ContainerMetadataFetcher

    # private names, absent from botocore's type stubs
    advisory = credentials._DEFAULT_ADVISORY_REFRESH_TIMEOUT  # type: ignore[attr-defined]
    mandatory = credentials._DEFAULT_MANDATORY_REFRESH_TIMEOUT  # type: ignore[attr-defined]
    hosts = ContainerMetadataFetcher._ALLOWED_HOSTS  # type: ignore[attr-defined]
    assert (fast_sources.ADVISORY_REFRESH, fast_sources.MANDATORY_REFRESH) == (advisory, mandatory)
    assert list(fast_sources._ALLOWED_HOSTS) == hosts
    assert fast_sources._ECS_HOST == ContainerMetadataFetcher.IP_ADDRESS
    assert fast_sources._ATTEMPTS == ContainerMetadataFetcher.RETRY_ATTEMPTS
    assert fast_sources._SLEEP == ContainerMetadataFetcher.SLEEP_TIME


# -- 1. container endpoint: HTTP as urllib3 reads it ----------------------------------------


class RawEndpoint:
    """Answers every connection with fixed bytes (``@BODY@``/``@LEN@``/``@HEXLEN@``: a good
    credentials document, its length in decimal and hex), to see how each HTTP client reads
    answers that are odd but seen in the wild."""

    def __init__(self, raw: bytes) -> None:
        import socket

        self.raw, self.connections = raw, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.connections += 1
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                body = keys()()[1]
                conn.sendall(
                    self.raw.replace(b"@BODY@", body)
                    .replace(b"@LEN@", str(len(body)).encode())
                    .replace(b"@HEXLEN@", f"{len(body):x}".encode())
                )

    def __enter__(self) -> RawEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def _differs(reason: str) -> Any:
    return pytest.mark.xfail(strict=True, reason=f"known difference (credhelper.http1): {reason}")


RAW_ANSWERS = {
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n@HEXLEN@\r\n@BODY@\r\n0\r\n\r\n",
    "HTTP/1.0, body until close": b"HTTP/1.0 200 OK\r\n\r\n@BODY@",
    "HTTP/1.1, no length, close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n@BODY@",
    "bare LF line ends": b"HTTP/1.1 200 OK\nContent-Length: @LEN@\n\n@BODY@",
    "status without reason": b"HTTP/1.1 200\r\nContent-Length: @LEN@\r\n\r\n@BODY@",
    "204 without body": b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
    "not HTTP": b"HELLO\r\n\r\n",
}
RAW_DIFFERENCES = {
    "Content-Length longer than the body": pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n@BODY@",
        marks=_differs("urllib3 takes the short body, http1 retries and fails"),
    ),
    "header line without a colon": pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: @LEN@\r\nbroken\r\n\r\n@BODY@",
        marks=_differs("http.client skips it, http1 refuses the answer"),
    ),
    "HTTP/2 status line": pytest.param(
        b"HTTP/2 200 OK\r\nContent-Length: @LEN@\r\n\r\n@BODY@",
        marks=_differs("http.client refuses the version, http1 takes the answer"),
    ),
}


@pytest.mark.parametrize(
    "raw",
    [*RAW_ANSWERS.values(), *RAW_DIFFERENCES.values()],
    ids=[*RAW_ANSWERS, *RAW_DIFFERENCES],
)
def test_odd_http_answers_read_as_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sleeps: list[float],
    raw: bytes,
) -> None:
    with RawEndpoint(raw) as endpoint:
        _container_identity(monkeypatch, tmp_path, f"http://127.0.0.1:{endpoint.port}/creds")

        def reset() -> None:
            endpoint.connections = 0

        fast, slow = _both_paths(monkeypatch, "container", lambda: endpoint.connections, reset)
    _assert_alike(fast, slow)


# -- 1. credential_process: both paths answer alike ------------------------------------------

PROCESS_SCRIPT = """\
import datetime, json, pathlib, sys
here = pathlib.Path(__file__).parent
with open(here / "runs.log", "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
run = len((here / "runs.log").read_text().splitlines())
plan = json.loads((here / "plan.json").read_text())
steps = plan["steps"]
step = steps[(run - 1) % len(steps) if plan["cycle"] else min(run, len(steps)) - 1]
out = step.get("stdout", "")
if "minutes" in step:
    when = datetime.datetime.now(datetime.timezone.utc)
    when += datetime.timedelta(minutes=step["minutes"])
    out = out.replace("@EXPIRES@", when.strftime(step.get("format", "%Y-%m-%dT%H:%M:%SZ")))
sys.stdout.write(out)
sys.stderr.write(step.get("stderr", ""))
sys.exit(step.get("code", 0))
"""


def good_json(minutes: float | None = 60, token: bool = True, **fields: Any) -> dict[str, Any]:
    """A plan step printing Version 1 keys (``minutes`` None: no Expiration)."""
    doc: dict[str, Any] = {
        "Version": 1,
        "AccessKeyId": TEST_ACCESS_KEY_ID,
        "SecretAccessKey": "process-secret-key",
    }
    if token:
        doc["SessionToken"] = "process-session-token"
    if minutes is not None:
        doc["Expiration"] = "@EXPIRES@"
    doc.update(fields)
    step: dict[str, Any] = {"stdout": json.dumps({k: v for k, v in doc.items() if v is not DROP})}
    if minutes is not None:
        step["minutes"] = minutes
    return step


def failing(code: int = 1, stderr: str = "token expired: log in again") -> dict[str, Any]:
    return {"code": code, "stderr": stderr}


class CredentialProcess:
    """A Python script in a folder whose name has spaces: the i-th run follows plan[i] (the
    last step repeats, or with ``cycle`` the plan starts again) and logs its arguments to
    ``runs.log``."""

    def __init__(self, folder: Path, plan: list[dict[str, Any]], cycle: bool = False) -> None:
        self.folder = folder / "credential process"
        self.folder.mkdir()
        self.script = self.folder / "creds.py"
        self.script.write_text(PROCESS_SCRIPT)
        (self.folder / "plan.json").write_text(json.dumps({"steps": plan, "cycle": cycle}))
        self.log = self.folder / "runs.log"

    def command(self, *args: str) -> str:
        quoted = " ".join(f'"{a}"' for a in args)
        return f'"{sys.executable}" "{self.script}" {quoted}'.rstrip()

    def runs(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def reset(self) -> None:
        self.log.unlink(missing_ok=True)


def _process_identity(env: dict[str, str], command: str, extra: str = "") -> None:
    Path(env["AWS_CONFIG_FILE"]).write_text(f"[default]\ncredential_process = {command}\n{extra}")


@dataclass
class ProcessCase:
    plan: list[dict[str, Any]]
    expect: str  # "token" or words of the error message
    runs: int  # how often the fast path runs the process
    expires_in: float | None = 60
    args: tuple[str, ...] = ()
    command: str | None = None  # instead of the script
    settings: str = ""  # more lines of the profile


CUSTOM_PROCESS_FAILED = "the credential_process of the default AWS identity failed"
PROCESS_CASES = {
    "keys with SessionToken and Expiration": ProcessCase([good_json()], "token", 1),
    "keys without SessionToken or Expiration": ProcessCase(
        [good_json(None, token=False)], "token", 1, expires_in=None
    ),
    "Expiration with a numeric offset": ProcessCase(
        [{**good_json(), "format": "%Y-%m-%dT%H:%M:%S+00:00"}], "token", 1
    ),
    "exit 1 with stderr": ProcessCase([failing()], CUSTOM_PROCESS_FAILED, 1),
    "Version 2": ProcessCase([good_json(Version=2)], CUSTOM_PROCESS_FAILED, 1),
    "Version missing": ProcessCase([good_json(Version=DROP)], CUSTOM_PROCESS_FAILED, 1),
    "Version as a string": ProcessCase([good_json(Version="1")], CUSTOM_PROCESS_FAILED, 1),
    "SecretAccessKey missing": ProcessCase(
        [good_json(SecretAccessKey=DROP)], CUSTOM_PROCESS_FAILED, 1
    ),
    "stdout not JSON": ProcessCase([{"stdout": "AKIA... secret"}], "(JSONDecodeError)", 1),
    "stdout a JSON list": ProcessCase([{"stdout": "[1]"}], "(AttributeError)", 1),
    "stdout JSON with NaN (json.loads takes it)": ProcessCase(
        [{**good_json(), "stdout": good_json()["stdout"][:-1] + ', "Score": NaN}'}], "token", 1
    ),
    "command does not exist": ProcessCase(
        [], "(FileNotFoundError)", 0, command="/nonexistent/credential-helper --json"
    ),
    "empty command": ProcessCase([], "(IndexError)", 0, command=" "),
    "unbalanced quote in the command": ProcessCase(
        [], "(ValueError)", 0, command='/bin/echo "unclosed'
    ),
    "quoted argument with spaces": ProcessCase(
        [good_json()], "token", 1, args=("two words", "it's")
    ),
    "account id in the profile": ProcessCase(
        [good_json()], "token", 1, settings="aws_account_id = 123456789012\n"
    ),
    "already expired on every run": ProcessCase([good_json(-5)], "have expired", 2),
    "12 min left, then fresh keys (advisory refresh)": ProcessCase(
        [good_json(12), good_json(60)], "token", 2
    ),
    "12 min left, refresh fails (advisory: first keys kept)": ProcessCase(
        [good_json(12), failing()], "token", 2, expires_in=12
    ),
    "5 min left, refresh fails (mandatory: fatal)": ProcessCase(
        [good_json(5), failing()], CUSTOM_PROCESS_FAILED, 2
    ),
    "5 min left, refreshed keys still expired": ProcessCase(
        [good_json(5), good_json(-1)], "have expired", 2
    ),
}


@pytest.mark.parametrize("case", list(PROCESS_CASES.values()), ids=list(PROCESS_CASES))
def test_credential_process_answers_as_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    case: ProcessCase,
) -> None:
    proc = CredentialProcess(tmp_path, case.plan)
    _process_identity(env, case.command or proc.command(*case.args), case.settings)

    def reset() -> None:
        proc.reset()
        aws.reset_counts()

    fast, slow = _both_paths(monkeypatch, "process", lambda: len(proc.runs()), reset)
    _assert_alike(fast, slow)
    _check_expected(fast, case.expect, case.expires_in)
    assert fast.count == case.runs
    if case.runs:
        assert proc.runs()[0] == list(case.args)  # botocore's run: each argument whole
    if fast.outcome[0] == "token":
        assert aws.calls(GAT) == 1


def test_quoted_arguments_reach_the_process_whole(
    aws: AwsServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The fast path's own run: the script path with spaces and each quoted argument arrive
    as one argv entry each (shlex, not str.split)."""
    proc = CredentialProcess(tmp_path, [good_json()])
    _process_identity(env, proc.command("two words", "") + " plain 'single quoted'")
    assert fast_token.fetch(fast_paths.registry()) is not None
    assert proc.runs() == [["two words", "", "plain", "single quoted"]]


# -- 2. what fast_sources leaves to botocore -------------------------------------------------


def _no_network(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Record (and refuse) any connection or name lookup."""
    import socket

    tried: list[tuple[Any, ...]] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        tried.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return tried


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{port}/v1/credentials",
        "http://example.invalid/creds",
        "http://10.0.0.1:{port}/creds",
        "http://user:pw@127.0.0.1:{port}/creds",
        "http://127.0.0.1:99999/creds",
        # what urllib3 would send %-encoded (or, for ";params", cut off): a different target
        "http://127.0.0.1:{port}/v1/cred entials",
        "http://127.0.0.1:{port}/v1/cr\u00e9d",
        "http://127.0.0.1:{port}/v1/a;b",
        "http://127.0.0.1:{port}/v1/a%2fb",
        "http://127.0.0.1:{port}/v1/c?q=a%zz",
        'http://127.0.0.1:{port}/v1/"c"',
    ],
)
def test_container_urls_left_to_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    url: str,
) -> None:
    """HTTPS, hosts botocore refuses, credentials in the URL, a bad port, a path urllib3
    would rewrite: None, before any connection (not even a DNS lookup) and before reading
    the token file."""
    with CredentialsEndpoint([keys()]) as endpoint:
        _container_identity(monkeypatch, tmp_path, url.format(port=endpoint.port), "missing file")
        tried = _no_network(monkeypatch)
        assert fast_token.fetch(fast_paths.registry()) is None
        assert tried == [] and endpoint.requests == []
    assert aws.calls(GAT) == 0


@pytest.mark.parametrize(
    "settings",
    ["ca_bundle = /nowhere.pem\n", "endpoint_url = http://127.0.0.1:1\n", "max_attempts = 7\n"],
)
@pytest.mark.parametrize("identity", ["container", "process"])
def test_profile_settings_left_to_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: str,
    identity: str,
) -> None:
    with CredentialsEndpoint([keys()]) as endpoint:
        proc = CredentialProcess(tmp_path, [good_json()])
        if identity == "container":
            _container_identity(monkeypatch, tmp_path, endpoint.url)
            Path(env["AWS_CONFIG_FILE"]).write_text(f"[default]\n{settings}")
        else:
            _process_identity(env, proc.command(), settings)
        assert fast_token.fetch(fast_paths.registry()) is None
        assert endpoint.requests == [] and proc.runs() == []
    assert aws.calls(GAT) == 0


def test_non_latin_1_token_left_to_botocore(
    aws: AwsServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A token that is no legal header value for http.client (not Latin-1): botocore's
    urllib3 fails its own way, so the fast path must not send (or fail) first."""
    with CredentialsEndpoint([keys()], token=None) as endpoint:
        _container_identity(monkeypatch, tmp_path, endpoint.url, "non-latin-1")
        assert fast_token.fetch(fast_paths.registry()) is None
        assert endpoint.requests == []
        fast, slow = _both_paths(
            monkeypatch, "container", lambda: len(endpoint.requests),
            endpoint.requests.clear, fast_expected=False,
        )  # fmt: skip
    _assert_alike(fast, slow)
    assert slow.outcome[2] == "the AWS call failed (HTTPClientError)"  # not the token's words


# Expiration texts fast_role.expiry does not read: botocore (dateutil) decides.
UNREAD_STAMPS = {
    "space for T (dateutil reads it)": ("%Y-%m-%d %H:%M:%SZ", "token"),
    "no seconds (dateutil reads it)": ("%Y-%m-%dT%H:%MZ", "token"),
    "no time zone (botocore fails: naive minus aware)": ("%Y-%m-%dT%H:%M:%S", "(TypeError)"),
}


@pytest.mark.parametrize(("fmt", "expect"), list(UNREAD_STAMPS.values()), ids=list(UNREAD_STAMPS))
@pytest.mark.parametrize("identity", ["container", "process"])
def test_unread_expiration_left_to_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sleeps: list[float],
    fmt: str,
    expect: str,
    identity: str,
) -> None:
    """The fast path has to read the answer to see it: one request (or run) and None; then
    tokens.fetch ends exactly as botocore's path does (the process runs again under it)."""
    # One stamp for every answer: a stamp without seconds, written per answer, would differ
    # by a minute between the two paths' runs whenever a minute ends between them.
    expires = _stamp(60, fmt)

    def answer() -> tuple[int, bytes]:
        return keys(Expiration=expires)()

    with CredentialsEndpoint([answer]) as endpoint:
        proc = CredentialProcess(tmp_path, [good_json(None, Expiration=expires)])
        count: Callable[[], int]
        reset: Callable[[], None]
        if identity == "container":
            _container_identity(monkeypatch, tmp_path, endpoint.url)
            count, reset = (lambda: len(endpoint.requests)), endpoint.requests.clear
        else:
            _process_identity(env, proc.command())
            count, reset = (lambda: len(proc.runs())), proc.reset
        reset()
        assert fast_token.fetch(fast_paths.registry()) is None
        assert count() == 1
        fast, slow = _both_paths(monkeypatch, identity, count, reset, fast_expected=False)
    _assert_alike(fast, slow, spent_before_deferring=1)
    _check_expected(fast, expect, 60 if expect == "token" else None)


@pytest.mark.parametrize("identity", ["container", "process"])
def test_refresh_without_expiration_left_to_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sleeps: list[float],
    identity: str,
) -> None:
    """Keys with 12 minutes left, then keys without an expiry (a process leaving out
    Expiration, an endpoint sending null): botocore's refresh fails on them outside its
    advisory guard (dateutil's parse(None): TypeError) -- the fast path must not use them."""
    # Each identity answers the same way to every session: botocore's run after the fast
    # path's deferral sees what the fast path saw.
    with CredentialsEndpoint([keys(12), keys(Expiration=None)], cycle=True) as endpoint:
        proc = CredentialProcess(tmp_path, [good_json(12), good_json(None)], cycle=True)
        count: Callable[[], int]
        reset: Callable[[], None]
        if identity == "container":
            _container_identity(monkeypatch, tmp_path, endpoint.url)
            count, reset = (lambda: len(endpoint.requests)), endpoint.requests.clear
        else:
            _process_identity(env, proc.command())
            count, reset = (lambda: len(proc.runs())), proc.reset
        fast, slow = _both_paths(monkeypatch, identity, count, reset, fast_expected=False)
    _assert_alike(fast, slow, spent_before_deferring=2)
    assert slow.outcome[0] == "error" and "(TypeError)" in slow.outcome[2]


# -- 3. a cold get imports no botocore -------------------------------------------------------

SCRIPT = (
    "import sys; sys.argv = ['docker-credential-ecrpy', 'get'];"
    "from credhelper.protocol import main; main()"
)


@pytest.mark.parametrize("identity", ["container", "process"])
def test_cold_get_imports_no_botocore(
    aws: AwsServer, helper_env: dict[str, str], tmp_path: Path, identity: str
) -> None:
    """credhelper.protocol.main in a plain interpreter with a pod identity or a
    credential_process profile: the token, one endpoint request or process run, and no
    botocore/boto3/urllib3 module imported."""
    env = dict(helper_env, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    with CredentialsEndpoint([keys()]) as endpoint:
        proc = CredentialProcess(tmp_path, [good_json()])
        if identity == "container":
            token_file = tmp_path / "pod-token"
            token_file.write_text(POD_TOKEN)
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = endpoint.url
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = str(token_file)
        else:
            _process_identity(env, proc.command())
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", SCRIPT],
            input=HOST.encode(),
            capture_output=True,
            env=env,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert MOTO_ECR_PASSWORD.encode() in run.stdout
        imported = {
            line.split("|")[-1].strip() for line in run.stderr.decode().splitlines() if "|" in line
        }
        assert "credhelper.fast_sources" in imported  # the measurement saw this path
        heavy = {m for m in imported if m.split(".")[0] in ("botocore", "boto3", "urllib3")}
        assert heavy == set()
        assert len(endpoint.requests if identity == "container" else proc.runs()) == 1
    assert aws.calls(GAT) == 1


# -- 4. the secrets received are masked in the log -------------------------------------------


@pytest.mark.parametrize("identity", ["container", "process"])
def test_received_secrets_are_redacted(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    identity: str,
) -> None:
    # Fresh values no pattern of logs.redact would catch on its own (no key name, short).
    secret, session = f"sk{os.urandom(6).hex()}", f"st{os.urandom(6).hex()}"
    text = f"sent {secret} and {session} along"
    assert logs.redact(text) == text
    with CredentialsEndpoint([keys(SecretAccessKey=secret, Token=session)]) as endpoint:
        if identity == "container":
            _container_identity(monkeypatch, tmp_path, endpoint.url)
        else:
            step = good_json(SecretAccessKey=secret, SessionToken=session)
            _process_identity(env, CredentialProcess(tmp_path, [step]).command())
        seen = _spy_fast_sources(monkeypatch)
        assert fast_token.fetch(fast_paths.registry()) is not None
    assert seen == [f"{identity} keys"]
    assert logs.redact(text) == "sent *** and *** along"


# -- the harness itself ----------------------------------------------------------------------


def test_endpoint_harness_checks_the_token_and_repeats_the_last_answer(tmp_path: Path) -> None:
    """The test endpoint answers 401 to a wrong token and repeats its last answer, so the
    cases above really test what they say."""
    import urllib.request

    with CredentialsEndpoint([status(500), keys()]) as endpoint:
        codes = []
        for auth in (POD_TOKEN, POD_TOKEN, "wrong", POD_TOKEN):
            request = urllib.request.Request(endpoint.url, headers={"Authorization": auth})
            try:
                with urllib.request.urlopen(request, timeout=5) as resp:
                    codes.append(resp.status)
            except urllib.error.HTTPError as exc:
                codes.append(exc.code)
    assert codes == [500, 200, 401, 200]


# -- the calls after the token request share one fetch per identity ---------------------------


@pytest.mark.parametrize("source", ["container", "process"])
def test_the_pre_flights_calls_share_one_fetch(
    aws: AwsServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    source: str,
) -> None:  # fmt: skip
    """ecr_call (from many threads at once) and caller_identity with a container or process
    identity: one endpoint request or process run for all of them, as botocore's one session;
    keys with less than 15 minutes left are fetched again for the next call."""
    from concurrent.futures import ThreadPoolExecutor

    registry = fast_paths.registry()
    endpoint = CredentialsEndpoint([keys(60), keys(10), keys(60)])
    process = CredentialProcess(tmp_path, [good_json(60), good_json(10), good_json(60)])
    try:
        if source == "container":
            _container_identity(monkeypatch, tmp_path, endpoint.url)
        else:
            _process_identity(env, process.command())

        def fetches() -> int:
            return len(endpoint.requests) if source == "container" else len(process.runs())

        def call(_: int) -> object:
            return fast_token.ecr_call(registry, "DescribeRepositories", {})

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(call, range(12)))
        assert all(isinstance(a, dict) and "repositories" in a for a in answers)
        assert fast_token.caller_identity("us-east-1") is not None
        assert fetches() == 1
        assert aws.calls("DescribeRepositories") == 12
        fast_token._SHARED.clear()  # a new process: 10 minutes left -> refreshed at once
        assert fast_token.ecr_call(registry, "DescribeRepositories", {}) is not None
        assert fetches() == 3
        assert fast_token.ecr_call(registry, "DescribeRepositories", {}) is not None
        assert fetches() == 3  # the refreshed keys (an hour left) are shared
    finally:
        endpoint.stop()
