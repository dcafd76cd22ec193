"""Fetch ECR authorization tokens; turn every AWS failure into one line with the fix.

Private registries call ``ecr:GetAuthorizationToken`` in the registry's own region (FIPS and
dual-stack endpoints follow the host name); ECR Public calls ``ecr-public`` in us-east-1.
Waits are bounded: short connect/read timeouts and botocore's *standard* retry mode (which
retries throttling, 5xx and connection errors with jittered back-off, as AWS advises).
"""

from __future__ import annotations

import base64
import binascii
import time

from . import identity
from .errors import CredentialsError, EcrpyError, TokenError
from .logs import remember_secret
from .token_cache.base import CacheEntry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .registry import Registry

CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0
MAX_ATTEMPTS = 3
MAX_LIFETIME = 12 * 3600.0  # ECR documents 12 h; a longer expiresAt is a clock or proxy error


def client_config(registry: Registry | None = None) -> Any:
    """botocore Config with bounded waits and the host's FIPS/dual-stack choice."""
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        # total_max_attempts counts the first try (max_attempts would mean retries on top)
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        use_fips_endpoint=bool(registry and registry.fips),
        use_dualstack_endpoint=bool(registry and registry.dualstack),
        user_agent_extra="ecrpy",
    )


def fetch(
    registry: Registry, profile: str | None = None, role_arn: str | None = None
) -> CacheEntry:
    """A fresh token for ``registry`` from the identity (``profile``/``role_arn`` or default)."""
    from . import fast_token  # static keys: one signed request, no botocore import

    entry = fast_token.fetch(registry, profile, role_arn)
    if entry is not None:
        return entry
    try:
        session = identity.botocore_session(
            profile=profile, role_arn=role_arn, region=registry.api_region
        )
        _remember_credentials(session)
        requested_at = time.time()
        client: Any
        if registry.public:
            client = session.create_client(
                "ecr-public", region_name="us-east-1", config=client_config(registry)
            )
            resp = client.get_authorization_token()
            data = _authorization_data(resp, registry)
        else:
            client = session.create_client(
                "ecr", region_name=registry.region, config=client_config(registry)
            )
            resp = client.get_authorization_token(registryIds=[str(registry.account_id)])
            data = _authorization_data(resp, registry)
        creds_expire_at = identity.credentials_expiry(session)
        if creds_expire_at is None and profile is None and role_arn is None:
            # env keys exported by `aws configure export-credentials` carry their expiry here
            creds_expire_at = identity.credentials_expiry_from_env()
    except EcrpyError:
        raise
    except Exception as exc:  # botocore's tree is wide; one place maps it
        raise translate(exc, registry, profile) from None
    server_now = _lifetime_start(resp, requested_at)
    return _entry(registry, data, requested_at, creds_expire_at, server_now)


def _remember_credentials(session: Any) -> None:
    """Let the log's redaction mask the resolved secret key and session token."""
    creds = session.get_credentials()
    if creds is not None:
        frozen = creds.get_frozen_credentials()
        remember_secret(frozen.secret_key)
        remember_secret(frozen.token)


def _lifetime_start(resp: Any, requested_at: float) -> float:
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


def _authorization_data(resp: Any, registry: Registry) -> Any:
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


def _entry(
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


def error_details(exc: Exception) -> tuple[str, str]:
    """(code, message) of a ClientError ("" for anything else); moto's XML 403 bodies, which
    carry the real code and message inside, are unwrapped."""
    response = getattr(exc, "response", None) or {}
    err = response.get("Error", {}) if isinstance(response, dict) else {}
    code, message = str(err.get("Code", "")), str(err.get("Message", ""))
    if code == "403" and "<Code>" in message:
        inner = message.split("<Code>", 1)[1].split("</Code>", 1)[0].strip()
        if inner:
            text = ""
            if "<Message>" in message:
                text = message.split("<Message>", 1)[1].split("</Message>", 1)[0]
            return inner, text.strip()
    return code, message


def is_access_denied(exc: Exception) -> bool:
    """Real ECR's JSON ``AccessDeniedException`` or moto's XML 403 ``AccessDenied``."""
    code, message = error_details(exc)
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
        return True
    return code == "403" and "AccessDenied" in message


def translate(exc: Exception, registry: Registry | None, profile: str | None) -> EcrpyError:
    """One ``EcrpyError`` (message + fix) for any AWS failure (``registry`` None: not ECR)."""
    import botocore.exceptions as be

    from . import logs

    where = registry.host if registry else "AWS"
    logs.error("call for %s failed: %s: %s", where, type(exc).__name__, exc)
    who = f"profile '{profile}'" if profile else "the default AWS identity"
    login = f"aws sso login --profile {profile}" if profile else "aws sso login"
    if isinstance(exc, (be.SSOTokenLoadError, be.UnauthorizedSSOTokenError)) or (
        type(exc).__name__ in ("TokenRetrievalError", "SSOError")
    ):
        return CredentialsError(f"SSO session for {who} has expired", hint=f"run: {login}")
    if isinstance(exc, RuntimeError) and "expired" in str(exc):
        # botocore's bare error for credentials still expired after a refresh
        # (AWS_CREDENTIAL_EXPIRATION in the past, a stale credential_process answer)
        return CredentialsError(
            f"the AWS credentials of {who} have expired",
            hint=f"refresh them ({login}, or re-export the session and AWS_CREDENTIAL_EXPIRATION)",
        )
    if isinstance(exc, be.NoCredentialsError):
        return CredentialsError(
            "no AWS credentials found",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run: aws configure / aws sso login",
        )
    if isinstance(exc, be.ProfileNotFound):
        return CredentialsError(
            f"AWS profile {exc.kwargs.get('profile')!r} not found",
            hint="check AWS_PROFILE and ~/.aws/config, or the profile in ecrpy's config",
        )
    if isinstance(exc, be.CredentialRetrievalError):
        return CredentialsError(
            f"could not get credentials for {who}: {exc.kwargs.get('provider', 'provider')} failed",
            hint="run the credential_process/sso command by hand to see why",
        )
    if isinstance(exc, (be.ConnectTimeoutError, be.EndpointConnectionError, be.ReadTimeoutError)):
        return TokenError(
            f"cannot reach the AWS endpoint for {registry.region if registry else 'the call'}",
            hint="check the network, proxy (HTTPS_PROXY) and AWS_ENDPOINT_URL settings",
        )
    from botocore.parsers import ResponseParserError

    if isinstance(exc, ResponseParserError):
        return TokenError(
            "ECR sent a response that could not be parsed",
            hint="retry; if it persists, check any proxy between you and AWS",
        )
    if isinstance(exc, be.ClientError):
        code, _ = error_details(exc)
        if is_access_denied(exc):
            if registry is None:
                return TokenError(f"{who} was denied by AWS ({code})")
            if registry.public:
                return TokenError(
                    f"{who} is not allowed to call ecr-public:GetAuthorizationToken",
                    hint="grant ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken "
                    "on resource *",
                )
            return TokenError(
                f"{who} is not allowed to call ecr:GetAuthorizationToken",
                hint="grant ecr:GetAuthorizationToken on resource * to the identity",
            )
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return CredentialsError(
                f"the AWS credentials of {who} have expired",
                hint=f"refresh them (e.g. {login}, or re-export the session)",
            )
        if code in (
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "SignatureDoesNotMatch",
            "InvalidSignatureException",
        ):
            return CredentialsError(
                f"AWS rejected the credentials of {who} ({code})",
                hint="check the access key and secret, or your system clock",
            )
        if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
            return TokenError("ECR throttled the token request", hint="retry in a few seconds")
        if code.startswith("5") or code in ("ServerException", "InternalFailure"):
            return TokenError(f"ECR answered with a server error ({code})", hint="retry later")
        return TokenError(f"ECR refused the token request ({code or 'unknown error'})")
    if isinstance(exc, be.BotoCoreError):
        return TokenError(f"could not get an ECR token: {type(exc).__name__}")
    return TokenError(f"could not get an ECR token: {type(exc).__name__}")
