"""AWS Signature Version 4 for one request, byte for byte as botocore's ``SigV4Auth`` signs it.

Used by the static-key cold path (``fast_token``), which must not import botocore. Only what
that path sends is supported: a path of unreserved characters (no dot segments, nothing to
escape) and no query string; anything else raises ``ValueError`` rather than sign differently.
``tests/test_sigv4.py`` holds it to botocore with random headers, bodies, regions, services,
session tokens and times.
"""

from __future__ import annotations

import hashlib
import hmac

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

ALGORITHM = "AWS4-HMAC-SHA256"
# botocore.auth.SIGNED_HEADERS_BLACKLIST: headers a proxy or client may change on the way.
UNSIGNED_HEADERS = frozenset(
    {
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
_PATH_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~/")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_header(scheme: str, host: str, port: int | None) -> str:
    """The ``Host`` value botocore signs: lower case, the port only when not the default."""
    host = host.lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return host


def _check_path(path: str) -> None:
    if not path.startswith("/") or not set(path) <= _PATH_CHARS:
        raise ValueError(f"sigv4: unsupported path {path!r}")
    if any(part in (".", "..") for part in path.split("/")) or "//" in path:
        raise ValueError(f"sigv4: path {path!r} would need normalizing")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def sign(
    *,
    method: str,
    scheme: str,
    host: str,
    port: int | None,
    path: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    region: str,
    service: str,
    access_key: str,
    secret_key: str,
    token: str | None,
    timestamp: str,
) -> list[tuple[str, str]]:
    """The headers to add to the request: ``X-Amz-Date``, ``X-Amz-Security-Token`` (with a
    session token) and ``Authorization``. ``timestamp`` is ``YYYYMMDDTHHMMSSZ`` in UTC.

    ``headers`` must not already hold ``Authorization``, ``X-Amz-Date``, ``Date`` or
    ``X-Amz-Security-Token`` (botocore would replace them; we refuse instead).
    """
    _check_path(path)
    for name, _ in headers:
        if name.lower() in ("authorization", "x-amz-date", "date", "x-amz-security-token"):
            raise ValueError(f"sigv4: header {name} is set by the signer")
    added = [("X-Amz-Date", timestamp)]
    if token:
        added.append(("X-Amz-Security-Token", token))
    signed: dict[str, list[str]] = {}
    for name, value in [*headers, *added]:
        lname = name.lower()
        if lname not in UNSIGNED_HEADERS:
            signed.setdefault(lname, []).append(value)
    if "host" not in signed:
        signed["host"] = [host_header(scheme, host, port)]
    names = sorted(signed)
    canonical_headers = "".join(
        f"{n}:{','.join(' '.join(v.split()) for v in signed[n])}\n" for n in names
    )
    signed_names = ";".join(names)
    canonical_request = "\n".join(
        [
            method.upper(),
            path,
            "",  # no query string
            canonical_headers,
            signed_names,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{timestamp[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), timestamp[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    added.append(
        (
            "Authorization",
            f"{ALGORITHM} Credential={access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}",
        )
    )
    return added
