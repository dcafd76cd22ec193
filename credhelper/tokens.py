"""Fetch ECR authorization tokens through botocore and turn the answer into a cache entry.

Owns: the GetAuthorizationToken call (private ECR and ECR Public), the per-client Config a
registry host asks for and the deadline on retries. Its botocore session loads only the
models this call and the credential providers need (``botocore_models``, via
``aws_session.botocore_session(trimmed_models=True)``). The answer is checked and turned into a
cache entry by ``token_answer`` (shared with ``fast_token``); failures are explained by
``aws_errors``.

Private registries call ``ecr:GetAuthorizationToken`` in the registry's own region; ECR Public
calls ``ecr-public`` in us-east-1. The user's AWS settings win over ecrpy's defaults: FIPS and
dual-stack endpoints come from ``AWS_USE_FIPS_ENDPOINT``/``use_fips_endpoint`` (and the
dual-stack equivalents) or from the host name, the retry mode and attempts from
``AWS_RETRY_MODE``/``AWS_MAX_ATTEMPTS`` or the profile (ecrpy's default: standard mode, 3
attempts). Waits stay bounded: short connect/read timeouts (``aws_session.client_defaults``) and a
total deadline after which no further attempt starts, whatever the retry settings allow.
"""

from __future__ import annotations

import time

from . import aws_errors, aws_session, identity, token_answer
from .logs import remember_secret

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .registry import Registry
    from .token_cache.base import CacheEntry

__all__ = ["fetch"]

CONNECT_TIMEOUT = aws_errors.CONNECT_TIMEOUT
READ_TIMEOUT = aws_errors.READ_TIMEOUT
DEADLINE = token_answer.DEADLINE
MAX_LIFETIME = token_answer.MAX_LIFETIME


def client_config(registry: Registry | None = None) -> Any:
    """The per-client Config on top of the session's defaults: only what the host name says
    (a FIPS or dual-stack registry host asks for that endpoint flavour). Everything else,
    including retries, is the user's or ``aws_session.client_defaults``."""
    from botocore.config import Config

    options: dict[str, Any] = {}
    if registry is not None and registry.fips:
        options["use_fips_endpoint"] = True
    if registry is not None and registry.dualstack:
        options["use_dualstack_endpoint"] = True
    return Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, **options)


def bound_retries(client: Any, deadline: float) -> Any:
    """Stop ``client`` from starting an attempt that could not finish before ``deadline``
    (a ``time.monotonic()`` value): the last failure is raised instead. The retry mode and
    attempt count stay the user's; only the wall clock is capped."""
    from botocore.exceptions import ClientError

    def stop_at_deadline(
        response: Any = None, caught_exception: Any = None, operation: Any = None, **_: Any
    ) -> None:
        if time.monotonic() + READ_TIMEOUT <= deadline:
            return None  # time for another answer: botocore's retry handler decides
        if caught_exception is not None:
            raise caught_exception
        if response is not None:
            http, parsed = response
            error_response: Any = parsed
            if http.status_code >= 400 and isinstance(parsed, dict) and "Error" in parsed:
                raise ClientError(error_response, getattr(operation, "name", "request"))
        return None

    client.meta.events.register_first("needs-retry", stop_at_deadline)
    return client


def fetch(
    registry: Registry, profile: str | None = None, role_arn: str | None = None
) -> CacheEntry:
    """A fresh token for ``registry`` from the identity (``profile``/``role_arn`` or default)."""
    from . import fast_token  # static keys: one signed request, no botocore import

    entry = fast_token.fetch(registry, profile, role_arn)
    if entry is not None:
        return entry
    with aws_errors.translated(registry, profile):
        session = aws_session.botocore_session(
            profile=profile, role_arn=role_arn, region=registry.api_region, trimmed_models=True
        )
        _remember_credentials(session)
        requested_at = time.time()
        deadline = time.monotonic() + DEADLINE
        client: Any
        if registry.public:
            client = session.create_client(
                "ecr-public", region_name="us-east-1", config=client_config(registry)
            )
            resp = bound_retries(client, deadline).get_authorization_token()
            data = token_answer.authorization_data(resp, registry)
        else:
            client = session.create_client(
                "ecr", region_name=registry.region, config=client_config(registry)
            )
            resp = bound_retries(client, deadline).get_authorization_token(
                registryIds=[str(registry.account_id)]
            )
            data = token_answer.authorization_data(resp, registry)
        creds_expire_at = aws_session.credentials_expiry(session)
        if creds_expire_at is None and profile is None and role_arn is None:
            # env keys exported by `aws configure export-credentials` carry their expiry here
            creds_expire_at = identity.credentials_expiry_from_env()
    server_now = token_answer.lifetime_start(resp, requested_at)
    return token_answer.entry(registry, data, requested_at, creds_expire_at, server_now)


def _remember_credentials(session: Any) -> None:
    """Let the log's redaction mask the resolved secret key and session token."""
    creds = session.get_credentials()
    if creds is not None:
        frozen = creds.get_frozen_credentials()
        remember_secret(frozen.secret_key)
        remember_secret(frozen.token)
