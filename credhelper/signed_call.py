"""One signed AWS call without botocore, for ``fast_token``: the request (JSON protocol for ECR,
query protocol for STS and IAM: ``query_xml``) signed by ``sigv4`` and sent by ``http1``,
botocore's *standard* retries (3 attempts; throttling, 5xx and connection errors; jittered
back-off) with its connect/read timeouts, the answer parsed as botocore's parsers read it,
and every failure turned into the exception botocore would have raised (``botocore_error``,
which imports botocore on that error path only). Owns the process's TLS client context
(``ssl_context``).
"""

from __future__ import annotations

import _thread
import os
import time

from . import aws_errors
from .aws_endpoint import CALLER_IDENTITY, OPERATION

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping
    from typing import Any

    from .aws_endpoint import Endpoint

_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
_TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
# botocore's standard mode; a user who sets AWS_MAX_ATTEMPTS/AWS_RETRY_MODE goes to botocore.
MAX_ATTEMPTS = 3

_ssl_context: ssl.SSLContext | None = None
_SSL_CONTEXT_LOCK = _thread.allocate_lock()  # not threading: its import is a cold get's cost


class Plan:
    """Everything one call needs: where, with which keys (None: unsigned, as botocore's
    ``UNSIGNED`` AssumeRoleWithWebIdentity), through which proxy; ``expires_at``: when
    temporary keys expire (None: static keys, or not known)."""

    __slots__ = ("expires_at", "keys", "proxy", "where")

    def __init__(
        self,
        where: Endpoint,
        keys: tuple[str, str, str | None] | None,
        proxy: tuple[str, int] | None,
        expires_at: float | None = None,
    ) -> None:
        self.where, self.keys, self.proxy = where, keys, proxy
        self.expires_at = expires_at


def ssl_context(env: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """One client context per process. ``AWS_CA_BUNDLE`` when set; otherwise the system's CA
    directory, whose certificates OpenSSL reads lazily (one hashed file per handshake) instead
    of parsing a whole bundle; the bundle file only where there is no such directory."""
    global _ssl_context
    if _ssl_context is not None:
        return _ssl_context
    with _SSL_CONTEXT_LOCK:  # a pre-flight's first ~15 calls ask at once: make one, not 15
        if _ssl_context is None:
            _ssl_context = _new_ssl_context(os.environ if env is None else env)
    return _ssl_context


def _new_ssl_context(env: Mapping[str, str]) -> ssl.SSLContext:
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
    bundle = env.get("AWS_CA_BUNDLE")
    if bundle:
        ctx.load_verify_locations(cafile=os.path.expanduser(bundle))
    else:
        # OpenSSL's own defaults, as SSL_CERT_FILE/SSL_CERT_DIR set them (both when both are
        # set), but without a file to parse whole when the system's CA directory serves.
        cafile = env.get("SSL_CERT_FILE")
        capath = env.get("SSL_CERT_DIR")
        if not cafile and not capath:
            capath = ssl.get_default_verify_paths().capath
        if cafile:
            ctx.load_verify_locations(cafile=cafile)
        if capath and os.path.isdir(capath):
            ctx.load_verify_locations(capath=capath)
        elif not cafile:
            ctx.load_default_certs()
    return ctx


class _Unparsable(Exception):
    """A success answer whose XML botocore's parser would refuse (``ResponseParserError``)."""


class _Failure(Exception):
    """An HTTP error answer, parsed as botocore's JSON parser does."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str]) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def call(
    plan: Plan,
    request: dict[str, Any],
    env: Mapping[str, str],
    deadline: float | None,
    attempts: int = MAX_ATTEMPTS,
) -> dict[str, Any]:
    from . import __version__, _json, sigv4

    if plan.where.protocol == "query":
        from .query_xml import serialize

        body = serialize(plan.where.target, plan.where.version, request)
    else:
        body = _json.dumps_compact(request).encode()
    attempt = 0
    while True:
        attempt += 1
        try:
            return _send(plan, body, env, __version__, sigv4, _json)
        except _Failure as failure:
            retry = (
                failure.code in _THROTTLING
                or failure.status == 429
                or failure.status in _TRANSIENT_STATUS
                or failure.code in _TRANSIENT_CODES
                # botocore.retries.special.RetryIDPCommunicationError: STS only
                or (failure.code == "IDPCommunicationError" and plan.where.service == "sts")
            )
            throttled = failure.code in _THROTTLING or failure.status == 429
            if not retry or attempt >= attempts or _too_late(deadline):
                raise
        except (OSError, _http_errors()):
            if attempt >= attempts or _too_late(deadline):
                raise
            throttled = False
        import random

        base = 1.0 if throttled else 0.05  # botocore standard mode's base scales
        time.sleep(random.random() * min(base * 2 ** (attempt - 1), 20.0))  # noqa: S311


def _too_late(deadline: float | None) -> bool:
    """True when a new attempt's read could not finish before the deadline (if any)."""
    return deadline is not None and deadline - time.monotonic() < aws_errors.READ_TIMEOUT


def _http_errors() -> type[Exception]:
    from .http1 import ProtocolError

    return ProtocolError


def _send(
    plan: Plan, body: bytes, env: Mapping[str, str], version: str, sigv4: Any, _json: Any
) -> dict[str, Any]:
    from . import http1

    where, proxy = plan.where, plan.proxy

    if where.protocol == "query":
        headers = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]
    else:
        headers = [
            ("X-Amz-Target", where.target),
            ("Content-Type", "application/x-amz-json-1.1"),
        ]
    headers += [
        ("User-Agent", f"ecrpy/{version} (no botocore)"),
        ("Content-Length", str(len(body))),
    ]
    if plan.keys is not None:
        key, secret, token = plan.keys
        timestamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        headers += sigv4.sign(
            method="POST",
            scheme=where.scheme,
            host=where.host,
            port=where.port,
            path="/",
            headers=headers,
            body=body,
            region=where.region,
            service=where.service,
            access_key=key,
            secret_key=secret,
            token=token,
            timestamp=timestamp,
        )
    https = where.scheme == "https"
    resp = http1.request(
        "POST",
        where.host,
        where.port or (443 if https else 80),
        "/",
        [("Host", sigv4.host_header(where.scheme, where.host, where.port)), *headers],
        body,
        context=ssl_context(env) if https else None,
        proxy=proxy,
        connect_timeout=aws_errors.CONNECT_TIMEOUT,
        read_timeout=aws_errors.READ_TIMEOUT,
        reuse=True,  # a pre-flight's calls share connections, as botocore's client did
    )
    raw, status = resp.body, resp.status
    got = {k.lower(): v for k, v in resp.headers}
    if where.protocol == "query":
        # GetCallerIdentity's three strings are read here; IAM's answers and STS's AssumeRole*
        # through query_xml's tables
        operation = None if where.target == CALLER_IDENTITY else where.target
        return _query_answer(raw, status, got, operation)
    parsed = _parse_json(raw, _json)
    if status >= 300:
        message = parsed.get("message", parsed.get("Message", ""))
        code = str(parsed.get("__type", str(status)))
        if ":" in code:
            code = code.split(":", 1)[0]
        if "#" in code:
            code = code.rsplit("#", 1)[1]
        raise _Failure(status, code, str(message), got)
    parsed["ResponseMetadata"] = {"HTTPStatusCode": status, "HTTPHeaders": got}
    return parsed


def _query_answer(
    raw: bytes, status: int, got: dict[str, str], operation: str | None = None
) -> dict[str, Any]:
    """GetCallerIdentity's XML as botocore's query parser reads it (its three strings), an
    IAM ``operation``'s as ``query_xml`` reads it, or the error (``Error/Code`` and
    ``Message``; an unreadable body: the status code)."""
    import xml.etree.ElementTree as ET  # an AWS answer (expat: no external entities)

    try:
        root = ET.fromstring(raw.decode("utf-8", "replace")) if raw else None  # noqa: S314 - botocore parses it with the same parser
    except ET.ParseError:
        root = None
    fields = {}
    for element in () if root is None else root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("UserId", "Account", "Arn", "Code", "Message") and tag not in fields:
            fields[tag] = element.text or ""
    if status >= 300 and operation is not None:
        # botocore's QueryParser: a 5xx with an empty or <html> body is "generic" (the status
        # and its reason phrase); any other body that is not XML is a ResponseParserError.
        stripped = raw.strip()
        if status >= 500 and (not stripped or stripped.startswith(b"<html>")):
            import http.client

            raise _Failure(status, str(status), http.client.responses.get(status, ""), got)
        if root is None:
            raise _Unparsable(raw[:200].decode("utf-8", "replace"))
    if status >= 300:
        code = fields.get("Code") or str(status)
        raise _Failure(status, code, fields.get("Message", ""), got)
    if root is None:
        raise _Unparsable(raw[:200].decode("utf-8", "replace"))
    metadata: dict[str, Any] = {"HTTPStatusCode": status, "HTTPHeaders": got}
    if operation is not None:
        from . import query_xml

        try:
            if operation in query_xml.STS_OPERATIONS:
                answer = query_xml.parse_sts_result(root, operation)
            else:
                answer = query_xml.parse_result(root, operation)
        except ValueError:  # an integer that is not one: botocore's parser fails too
            raise _Unparsable(raw[:200].decode("utf-8", "replace")) from None
        request_id = query_xml.request_id(root)
        if request_id is not None:
            metadata["RequestId"] = request_id
        answer["ResponseMetadata"] = metadata
        return answer
    answer = {k: fields[k] for k in ("UserId", "Account", "Arn") if k in fields}
    answer["ResponseMetadata"] = metadata
    return answer


def _parse_json(raw: bytes, _json: Any) -> dict[str, Any]:
    """botocore's reading of a JSON body: unparsable text becomes ``{"message": text}``."""
    if not raw:
        return {}
    text = raw.decode("utf-8", "replace")
    try:
        doc = _json.loads(text)
    except Exception:  # _json's C scanner raises SystemError, not ValueError, on some truncations
        return {"message": text}
    return doc if isinstance(doc, dict) else {}


def botocore_error(
    exc: Exception,
    where: Endpoint,
    proxy: tuple[str, int] | None = None,
    operation: str = OPERATION,
) -> Exception:
    """The exception botocore raises for the same failure (imported only on this error path)."""
    import ssl

    import botocore.exceptions as be

    if isinstance(exc, _Failure):
        response = {
            "Error": {"Code": exc.code, "Message": exc.message},
            "ResponseMetadata": {"HTTPStatusCode": exc.status, "HTTPHeaders": exc.headers},
        }
        return be.ClientError(response, operation)  # type: ignore[arg-type]
    if isinstance(exc, _Unparsable):
        from botocore.parsers import ResponseParserError

        return ResponseParserError(f"Unable to parse response, invalid XML received: {exc}")
    url = where.url
    if isinstance(exc, ssl.SSLError):
        return be.SSLError(endpoint_url=url, error=exc)
    if isinstance(exc, TimeoutError):
        return be.ReadTimeoutError(endpoint_url=url, error=exc)
    if proxy is not None and isinstance(exc, OSError):
        # Through a tunnel every connect-phase failure is the proxy's (it resolves and
        # connects to the endpoint itself), as botocore/urllib3 report it.
        return be.ProxyConnectionError(proxy_url=f"http://{proxy[0]}:{proxy[1]}", error=exc)
    if isinstance(exc, OSError):
        return be.EndpointConnectionError(endpoint_url=url, error=exc)
    return be.ConnectionClosedError(endpoint_url=url)
