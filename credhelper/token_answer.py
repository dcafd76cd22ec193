"""What a GetAuthorizationToken answer becomes: a cache entry, or a cause for refusing it.

Owns: the bounds of one token request (``DEADLINE``) and of a token's life (``MAX_LIFETIME``,
ECR's 12 h), the lifetime measured on the server's clock, and the checks on the answer
(missing or malformed tokens). Shared by the botocore path (``tokens``) and the static-key
path (``fast_token``) so both accept and refuse the same answers. Cold; no AWS library.
"""

from __future__ import annotations

import base64
import binascii

from .errors import TokenError
from .logs import remember_secret
from .token_cache.base import CacheEntry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .registry import Registry

# A token request gives up starting new attempts this long after it began, so `get` answers
# within the helper's 10 s bound (the watchdog in protocol.py answers at 9 s regardless).
DEADLINE = 8.0
MAX_LIFETIME = 12 * 3600.0  # ECR documents 12 h; a longer expiresAt is a clock or proxy error


def lifetime_start(resp: Any, requested_at: float) -> float:
    """The server's idea of "now" (its Date header), to measure the token's lifetime on its
    clock: a skewed clock on either side then cannot stretch or shrink a cached token."""
    try:
        date = resp["ResponseMetadata"]["HTTPHeaders"]["date"]
    except (KeyError, TypeError):
        return requested_at
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, IndexError):
        return requested_at


def authorization_data(resp: Any, registry: Registry) -> Any:
    """The one authorizationData item; botocore returns an empty body for unparsable JSON."""
    data = resp.get("authorizationData") if isinstance(resp, dict) else None
    if isinstance(data, list):
        data = data[0] if data else None
    if not isinstance(data, dict):
        raise TokenError(
            f"ECR sent a response without an authorization token for {registry.host}",
            hint="retry; if it persists, check any proxy between you and AWS",
        )
    return data


def entry(
    registry: Registry,
    data: Any,
    requested_at: float,
    creds_expire_at: float | None,
    server_now: float | None = None,
) -> CacheEntry:
    try:
        raw = base64.b64decode(data["authorizationToken"], validate=True).decode()
        username, sep, password = raw.partition(":")
        expires = data["expiresAt"]
        expires_at = expires.timestamp() if hasattr(expires, "timestamp") else float(expires)
    except (KeyError, TypeError, ValueError, binascii.Error, UnicodeDecodeError):
        raise TokenError(
            f"ECR returned a malformed authorization token for {registry.host}",
            hint="retry; if it persists, check any proxy between you and AWS",
        ) from None
    if not sep or not password:
        raise TokenError(f"ECR returned a malformed authorization token for {registry.host}")
    # The lifetime on the server's clock, applied to ours, and never more than ECR's 12 h.
    lifetime = min(expires_at - (requested_at if server_now is None else server_now), MAX_LIFETIME)
    expires_at = requested_at + lifetime
    remember_secret(password)
    remember_secret(data["authorizationToken"])
    return CacheEntry(
        registry=registry.host,
        username=username,
        token=password,
        requested_at=requested_at,
        expires_at=expires_at,
        creds_expire_at=creds_expire_at,
        proxy_endpoint=data.get("proxyEndpoint"),
    )
