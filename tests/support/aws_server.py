"""moto's AWS server on loopback, wrapped so tests can observe and steer it.

moto alone is too perfect for a credential helper's tests: every ECR token it issues expired in
2015, it never fails, never throttles and answers instantly. The WSGI middleware here sits in
front of moto's app and

* counts requests per operation (so a test can prove a cache hit made no AWS call),
* rewrites ``GetAuthorizationToken``'s ``expiresAt`` to *now + token_ttl* (a negative ttl gives a
  token that arrives already expired, as a skewed clock or a bad proxy would),
* injects latency and faults (500, throttling, malformed JSON, hangs, access denied),
* optionally (``set_identity_tokens(True)``) issues identity-specific tokens that name the
  caller's access key id and the region, so a test can tell whose token a client was served
  (``identity_token()`` gives the expected password), and logs every token request
  (``token_requests()``),
* holds image scans ``IN_PROGRESS`` (``hold_scans(seconds)``; moto completes every scan at
  once): ``DescribeImageScanFindings`` answers as a running scan for that long after its first
  held answer, or forever (``None``) until ``release_scans()``,
* serves ``/__ecrpy/stats`` and ``/__ecrpy/control`` so scripts in other processes can do the same.

Run ``python -m tests.support.aws_server --port N --token-ttl S`` for a foreground server that
prints ``ready http://127.0.0.1:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import io
import json
import signal
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from tests.support import (
    DEFAULT_TOKEN_TTL,
    MOTO_REGION,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
)
from tests.support.ecr_front import EcrFront

FAULT_KINDS = ("500", "throttle", "malformed", "hang", "accessdenied", "limit", "unsupported")
CONTROL_PREFIX = "/__ecrpy/"
# "hang" must outlast any sane client timeout; it is cut short by clear_faults()/stop().
HANG_SECONDS = 60.0
GAT = "GetAuthorizationToken"
SCAN_FINDINGS = "DescribeImageScanFindings"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Headers = list[tuple[str, str]]


class _Fault:
    __slots__ = ("kind", "remaining")

    def __init__(self, kind: str, remaining: int | None) -> None:
        self.kind = kind
        self.remaining = remaining  # None: fail forever

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.remaining}


def _validate_kind(kind: str) -> str:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
    return kind


class EcrpyMiddleware:
    """The observable/steerable layer in front of moto's WSGI app. All state is under one lock
    because the werkzeug server handles each request in its own thread."""

    def __init__(self, app: WsgiApp, token_ttl: float | None = DEFAULT_TOKEN_TTL) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._latency: dict[str, float] = {}
        self._faults: dict[str, _Fault] = {}
        self._token_ttl = token_ttl
        self._identity_tokens = False
        self._token_log: list[dict[str, Any]] = []
        # hold_scans: active?, for how long (None: forever), until when (set on first use)
        self._scan_hold = False
        self._scan_hold_seconds: float | None = None
        self._scan_hold_until: float | None = None
        # Set to wake every hanging request at once (clear_faults, stop); replaced afterwards so
        # later hangs hang again.
        self._release = threading.Event()
        # AWS requests being served now, and the most at once since the last reset_counts: a
        # client that sends calls in parallel shows a peak above 1 (no clock involved).
        self._in_flight = 0
        self._peak_in_flight = 0

    # -- state, usable in-process -------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def calls(self, op: str) -> int:
        with self._lock:
            return self._counts.get(op, 0)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._token_log.clear()
            self._peak_in_flight = self._in_flight

    def peak_in_flight(self) -> int:
        """The most AWS requests served at once since the last ``reset_counts``."""
        with self._lock:
            return self._peak_in_flight

    def token_requests(self) -> list[dict[str, Any]]:
        """Every GetAuthorizationToken request since the last ``reset_counts``, in arrival
        order: ``{"time", "access_key_id", "region", "registry_ids", "fault"}``."""
        with self._lock:
            return [dict(r) for r in self._token_log]

    @property
    def identity_tokens(self) -> bool:
        with self._lock:
            return self._identity_tokens

    def set_identity_tokens(self, enabled: bool) -> None:
        """Opt in to tokens whose password is ``identity_token(account, region, key id)``
        (off by default: moto's own deterministic ``<account>-auth-token``)."""
        with self._lock:
            self._identity_tokens = bool(enabled)

    @property
    def token_ttl(self) -> float | None:
        with self._lock:
            return self._token_ttl

    def set_token_ttl(self, seconds: float | None) -> None:
        with self._lock:
            self._token_ttl = None if seconds is None else float(seconds)

    def set_latency(self, op: str, seconds: float | None) -> None:
        with self._lock:
            if seconds is None or seconds <= 0:
                self._latency.pop(op, None)
            else:
                self._latency[op] = float(seconds)

    def clear_latency(self) -> None:
        with self._lock:
            self._latency.clear()

    def set_fault(self, op: str, kind: str | None, count: int | None = None) -> None:
        with self._lock:
            if kind is None:
                self._faults.pop(op, None)
            else:
                self._faults[op] = _Fault(_validate_kind(kind), count)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            release, self._release = self._release, threading.Event()
        release.set()

    def release_hangs(self) -> None:
        with self._lock:
            release, self._release = self._release, threading.Event()
        release.set()

    def hold_scans(self, seconds: float | None) -> None:
        """Answer DescribeImageScanFindings as ``IN_PROGRESS`` for ``seconds`` from the first
        held answer on (``None``: until ``release_scans``). A ScanNotFoundException or error
        from moto is passed on unchanged, so a scan must still exist (or be started)."""
        with self._lock:
            self._scan_hold = True
            self._scan_hold_seconds = None if seconds is None else float(seconds)
            self._scan_hold_until = None

    def release_scans(self) -> None:
        with self._lock:
            self._scan_hold = False

    def _scan_held(self) -> bool:
        with self._lock:
            if not self._scan_hold:
                return False
            if self._scan_hold_seconds is None:
                return True
            now = time.monotonic()
            if self._scan_hold_until is None:
                self._scan_hold_until = now + self._scan_hold_seconds
            return now < self._scan_hold_until

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "counts": dict(self._counts),
                "token_ttl": self._token_ttl,
                "identity_tokens": self._identity_tokens,
                "latency": dict(self._latency),
                "faults": {op: f.as_json() for op, f in self._faults.items()},
                "scan_hold": (
                    ("forever" if self._scan_hold_seconds is None else self._scan_hold_seconds)
                    if self._scan_hold
                    else None
                ),
            }

    def apply_control(self, body: dict[str, Any]) -> None:
        """The ``POST /__ecrpy/control`` document. Absent keys leave things alone; a key with a
        null value clears (``"token_ttl": null`` keeps moto's 2015 expiry)."""
        if body.get("reset_counts"):
            self.reset_counts()
        if body.get("clear_faults"):
            self.clear_faults()
        if body.get("clear_latency"):
            self.clear_latency()
        if "token_ttl" in body:
            ttl = body["token_ttl"]
            self.set_token_ttl(None if ttl is None else float(ttl))
        if "identity_tokens" in body:
            self.set_identity_tokens(bool(body["identity_tokens"]))
        if "scan_hold" in body:  # seconds, "forever", or null to release
            hold = body["scan_hold"]
            if hold is None:
                self.release_scans()
            else:
                self.hold_scans(None if hold == "forever" else float(hold))
        for op, seconds in (body.get("latency") or {}).items():
            self.set_latency(str(op), None if seconds is None else float(seconds))
        for op, spec in (body.get("faults") or {}).items():
            if spec is None:
                self.set_fault(str(op), None)
            elif isinstance(spec, str):
                self.set_fault(str(op), spec)
            else:
                count = spec.get("count")
                self.set_fault(str(op), spec["kind"], None if count is None else int(count))

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response)
        if path.startswith("/moto-api/"):
            return self.app(environ, start_response)

        op, query_protocol = _operation(environ)
        if op is None:
            return self.app(environ, start_response)
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
        try:
            return self._serve(environ, start_response, op, query_protocol)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _serve(
        self, environ: Environ, start_response: StartResponse, op: str, query_protocol: bool
    ) -> Iterable[bytes]:
        caller = _caller(environ) if op == GAT else None
        with self._lock:
            self._counts[op] += 1
            latency = self._latency.get(op, 0.0)
            release = self._release
            fault = self._faults.get(op)
            kind: str | None = None
            if fault is not None:
                kind = fault.kind
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[op]
            ttl = self._token_ttl
            identity = self._identity_tokens
            if caller is not None:
                self._token_log.append({"time": time.time(), **caller, "fault": kind})

        if latency:
            release.wait(latency)
        if kind == "hang":
            release.wait(HANG_SECONDS)
        elif kind is not None:
            _drain(environ)
            status, headers, body = _fault_response(kind, query_protocol)
            start_response(status, headers)
            return [body]

        if op == GAT and (ttl is not None or identity):
            who = caller if identity else None
            return self._rewrite_expiry(environ, start_response, ttl, who)
        if op == SCAN_FINDINGS and self._scan_hold:
            return self._hold_scan(environ, start_response)
        return self.app(environ, start_response)

    def _hold_scan(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """moto's answer, turned into a running scan's while the hold lasts."""
        status, headers, body = _call_buffered(self.app, environ)
        if status.startswith("200") and self._scan_held():
            try:
                doc = json.loads(body)
                doc["imageScanStatus"] = {"status": "IN_PROGRESS",
                                          "description": "held by tests.support.aws_server"}
                doc.pop("imageScanFindings", None)
                body = json.dumps(doc).encode()
            except ValueError:
                pass
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

    def _rewrite_expiry(
        self,
        environ: Environ,
        start_response: StartResponse,
        ttl: float | None,
        caller: dict[str, Any] | None = None,
    ) -> Iterable[bytes]:
        status, headers, body = _call_buffered(self.app, environ)
        if status.startswith("200"):
            try:
                doc = json.loads(body)
                expires = None if ttl is None else round(time.time() + ttl, 3)
                for item in doc.get("authorizationData", []):
                    if caller is not None:
                        _personalise(item, caller)
                    if expires is None:
                        continue
                    # Keep moto's wire type (botocore accepts epoch numbers and ISO strings).
                    if isinstance(item.get("expiresAt"), str):
                        item["expiresAt"] = time.strftime(
                            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)
                        )
                    else:
                        item["expiresAt"] = expires
                body = json.dumps(doc).encode()
            except ValueError:
                pass  # not JSON: hand it on untouched, the client will complain as it should
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

    def _control(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path == "/__ecrpy/stats" and method == "GET":
                return _json_response(start_response, "200 OK", self.counts())
            if path == "/__ecrpy/state" and method == "GET":
                return _json_response(start_response, "200 OK", self.state())
            if path == "/__ecrpy/control" and method == "POST":
                raw = _drain(environ)
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("control body must be a JSON object")
                self.apply_control(body)
                return _json_response(start_response, "200 OK", self.state())
        except (ValueError, KeyError, TypeError) as exc:
            return _json_response(start_response, "400 Bad Request", {"error": str(exc)})
        return _json_response(start_response, "404 Not Found", {"error": f"no {method} {path}"})


def identity_token(account: str, region: str, access_key_id: str) -> str:
    """The password an identity-token server issues to ``access_key_id`` for the registry of
    ``account`` in ``region`` (the client sees ``base64("AWS:" + this)``)."""
    return f"{account}-auth-token.{region}.{access_key_id}"


def _caller(environ: Environ) -> dict[str, Any]:
    """Who signed a request (SigV4 credential scope) and which registries it asks for."""
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    key_id, region = "", ""
    marker = "Credential="
    if marker in auth:
        scope = auth.split(marker, 1)[1].split(",", 1)[0].strip().split("/")
        key_id = scope[0]
        region = scope[2] if len(scope) > 2 else ""
    registry_ids: list[str] = []
    try:
        doc = json.loads(_drain(environ) or b"{}")
        if isinstance(doc, dict) and isinstance(doc.get("registryIds"), list):
            registry_ids = [str(r) for r in doc["registryIds"]]
    except ValueError:
        pass
    return {"access_key_id": key_id, "region": region, "registry_ids": registry_ids}


def _personalise(item: dict[str, Any], caller: dict[str, Any]) -> None:
    """Rewrite one authorizationData item's token to ``identity_token(...)`` for ``caller``."""
    try:
        raw = base64.b64decode(item["authorizationToken"]).decode()
    except (KeyError, TypeError, ValueError, binascii.Error, UnicodeDecodeError):
        return
    account = raw.partition(":")[2].split("-", 1)[0]
    password = identity_token(account, caller["region"], caller["access_key_id"])
    item["authorizationToken"] = base64.b64encode(f"AWS:{password}".encode()).decode()


def _drain(environ: Environ) -> bytes:
    """Read the whole request body and put it back, so moto can still read it."""
    cached = environ.get("ecrpy.body")
    if isinstance(cached, bytes):
        return cached
    stream = environ.get("wsgi.input")
    data = b""
    if stream is not None:
        length = environ.get("CONTENT_LENGTH") or ""
        if length.isdigit():
            data = stream.read(int(length))
        elif environ.get("wsgi.input_terminated"):
            data = stream.read()
    environ["wsgi.input"] = io.BytesIO(data)
    if not (environ.get("CONTENT_LENGTH") or "").isdigit() and data:
        environ["CONTENT_LENGTH"] = str(len(data))
    environ["ecrpy.body"] = data
    return data


def _operation(environ: Environ) -> tuple[str | None, bool]:
    """(operation name, whether the request uses the query/XML protocol)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        # "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
        return target.rsplit(".", 1)[-1], False
    path = environ.get("PATH_INFO", "")
    if "/operation/" in path:
        # Smithy RPCv2 (CBOR) puts the operation in the path: /service/S/operation/Op
        return path.rsplit("/operation/", 1)[-1].strip("/") or None, False
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0], True
    if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in (
        environ.get("CONTENT_TYPE") or ""
    ):
        form = parse_qs(_drain(environ).decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0], True
    return None, False


def _fault_response(kind: str, query_protocol: bool) -> tuple[str, Headers, bytes]:
    if kind == "malformed":
        # Looks like the start of a real answer, then stops: a truncated body.
        body = b'{"authorizationData": [{"authorizationToken": "QVdT'
        return "200 OK", _headers("application/x-amz-json-1.1", body), body
    code, message, status = {
        "500": ("ServerException", "injected internal error", "500 Internal Server Error"),
        "throttle": ("ThrottlingException", "Rate exceeded", "400 Bad Request"),
        "accessdenied": (
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/test is not authorized to perform this "
            "operation (injected by tests.support.aws_server)",
            "400 Bad Request",
        ),
        # StartImageScan's documented refusals (ECR API reference, StartImageScan: Errors),
        # which moto never gives while DescribeImageScanFindings says ScanNotFoundException:
        # its quota error (moto's own text) and the model's text for an unscannable image.
        "limit": (
            "LimitExceededException",
            "The scan quota per image has been exceeded. Wait and try again.",
            "400 Bad Request",
        ),
        "unsupported": (
            "UnsupportedImageTypeException",
            "The image is of a type that cannot be scanned.",
            "400 Bad Request",
        ),
    }[kind]
    if query_protocol:
        # STS and IAM speak XML; their names for the same errors differ from ECR's.
        xml_code = {"ThrottlingException": "Throttling", "AccessDeniedException": "AccessDenied"}
        xml_status = "403 Forbidden" if kind == "accessdenied" else status
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{xml_code.get(code, 'InternalFailure')}</Code>"
            f"<Message>{message}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        ).encode()
        return xml_status, _headers("text/xml", body), body
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, _headers("application/x-amz-json-1.1", body), body


def _headers(content_type: str, body: bytes) -> Headers:
    return [("Content-Type", content_type), ("Content-Length", str(len(body)))]


def _json_response(start_response: StartResponse, status: str, doc: Any) -> list[bytes]:
    body = json.dumps(doc, sort_keys=True).encode()
    start_response(status, _headers("application/json", body))
    return [body]


def _call_buffered(app: WsgiApp, environ: Environ) -> tuple[str, Headers, bytes]:
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def capture(status: str, headers: Headers, exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"], captured["headers"] = status, list(headers)
        return chunks.append

    result = app(environ, capture)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return captured["status"], captured["headers"], b"".join(chunks)


class _QuietHandler(MotoRequestHandler):
    """moto's handler without the per-request access log, which would drown test output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class AwsServer:
    """moto + :class:`EcrpyMiddleware` on 127.0.0.1, serving from a daemon thread.

    moto's backends live in this process, so everything served here shares one moto state.
    """

    def __init__(
        self,
        port: int = 0,
        token_ttl: float | None = DEFAULT_TOKEN_TTL,
        host: str = "127.0.0.1",
        quiet: bool = True,
    ) -> None:
        # moto <- EcrFront (ECR-faithful answers, injected policy-type denials) <- middleware
        self.ecr_front = EcrFront(DomainDispatcherApplication(create_backend_app))
        self.middleware = EcrpyMiddleware(self.ecr_front, token_ttl=token_ttl)
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            self.middleware,
            threaded=True,
            request_handler=_QuietHandler if quiet else MotoRequestHandler,
        )
        self.host = host
        self.port: int = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"aws-server-{self.port}", daemon=True
        )
        self._thread.start()
        self._stopped = False

    # -- observation / steering (delegates, so tests need not know about the middleware) ------

    def client(
        self,
        service: str,
        key_id: str = TEST_ACCESS_KEY_ID,
        secret: str = TEST_SECRET_ACCESS_KEY,
        region: str = MOTO_REGION,
    ) -> Any:
        """A boto3 client of ``service`` against this server (the test account's admin keys
        unless others are given): for a test's own set-up and assertions."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )

    def calls(self, op: str) -> int:
        return self.middleware.calls(op)

    def counts(self) -> dict[str, int]:
        return self.middleware.counts()

    def reset_counts(self) -> None:
        self.middleware.reset_counts()

    def peak_in_flight(self) -> int:
        return self.middleware.peak_in_flight()

    def set_token_ttl(self, seconds: float | None) -> None:
        self.middleware.set_token_ttl(seconds)

    def set_identity_tokens(self, enabled: bool) -> None:
        self.middleware.set_identity_tokens(enabled)

    def token_requests(self) -> list[dict[str, Any]]:
        return self.middleware.token_requests()

    def set_latency(self, op: str, seconds: float | None) -> None:
        self.middleware.set_latency(op, seconds)

    def clear_latency(self) -> None:
        self.middleware.clear_latency()

    def set_fault(self, op: str, kind: str, count: int | None = None) -> None:
        self.middleware.set_fault(op, kind, count)

    def clear_faults(self) -> None:
        self.middleware.clear_faults()

    def hold_scans(self, seconds: float | None) -> None:
        self.middleware.hold_scans(seconds)

    def release_scans(self) -> None:
        self.middleware.release_scans()

    def set_scan_findings(self, results: list[dict[str, Any]], region: str) -> None:
        """moto's configurable DescribeImageScanFindings answers (moto-api
        ``static/ecr/scan-finding-results``): each result is the whole answer for the
        repository (and image, when it names one) it names, served from the image's next
        DescribeImageScanFindings on."""
        body = json.dumps({"results": results, "region": region}).encode()
        self._moto_api("static/ecr/scan-finding-results", body, "application/json")

    # -- moto's own controls ------------------------------------------------------------------

    def _moto_api(self, path: str, body: bytes = b"", content_type: str = "text/plain") -> Any:
        req = urllib.request.Request(
            f"{self.url}/moto-api/{path}",
            data=body,
            method="POST",
            headers={"Content-Type": content_type},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def reset_moto(self) -> None:
        """Forget every resource moto holds (repositories, IAM users, ...)."""
        self._moto_api("reset")

    def enable_iam_auth(self, free_requests: int = 0) -> None:
        """Make moto enforce IAM policies after ``free_requests`` more requests.

        The body must go as text/plain: with a form content type (urllib's default) moto reads
        an empty body and answers 500.
        """
        self._moto_api("reset-auth", str(free_requests).encode())

    def disable_iam_auth(self) -> None:
        # moto's own "no auth" state is an infinite free-request allowance
        # (moto.core.authorization.set_initial_no_auth_action_count does the same in-process).
        self._moto_api("reset-auth", b"inf")

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.middleware.release_hangs()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> AwsServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def control(url: str, **body: Any) -> dict[str, Any]:
    """POST a control document to a server in another process (for scripts)."""
    req = urllib.request.Request(
        f"{url}/__ecrpy/control",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        result: dict[str, Any] = json.loads(resp.read())
    return result


def stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/__ecrpy/stats", timeout=10) as resp:
        result: dict[str, int] = json.loads(resp.read())
    return result


def _parse_ttl(text: str) -> float | None:
    return None if text.lower() in ("none", "null", "") else float(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.aws_server",
        description="moto on 127.0.0.1 with fresh ECR tokens, counters and fault injection.",
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--token-ttl",
        type=_parse_ttl,
        default=DEFAULT_TOKEN_TTL,
        help="seconds until issued ECR tokens expire; 'none' keeps moto's 2015 expiry",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server = AwsServer(port=args.port, token_ttl=args.token_ttl, quiet=not args.verbose)
    try:
        print(f"ready {server.url}", flush=True)
        # wait() with a timeout so signal handlers get to run promptly on every Python.
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
