"""Which AWS identity the helper acts as: a cheap fingerprint and a description.

Owns: ``fingerprint`` (the token cache's identity key), ``describe`` (the source in words for
``ecrpy whoami``/``doctor``) and the expiry exported in ``AWS_CREDENTIAL_EXPIRATION``.
Which source applies is ``credential_chain``'s; building a botocore session on a cache miss
is ``aws_session``'s (``botocore_session`` and friends stay importable from here for older
callers, importing it lazily). *Hot*: ``fingerprint`` runs on every ``get`` (no boto3, no
network; docs/CONTRIBUTING-hot-path.md).

What goes into the hash: key ids and *hashes* of secrets and session tokens (a rotated secret
or a new session is a new identity), role ARNs with external id and MFA serial (but not the
session name: one role across sessions is one identity), web identity token *paths*, SSO
start URL/account/role, process commands, container URIs, and the endpoint overrides (a test
server's tokens must never be served for the real registry). Profile names are left out:
two profiles with the same source are the same identity.
"""

from __future__ import annotations

import os

from . import _json
from ._sha import sha256_hex
from .credential_chain import Chain, Source

TYPE_CHECKING = False  # typing costs ~6 ms to import; mypy treats this name as True
if TYPE_CHECKING:
    from collections.abc import Mapping

    import boto3
    from botocore.session import Session as CoreSession

__all__ = [
    "botocore_session",
    "credentials_expiry",
    "credentials_expiry_from_env",
    "describe",
    "fingerprint",
    "session",
]

_VERSION = "ecrpy-identity/1"  # bump when the hashed material changes meaning
_ENDPOINT_VARS = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECR",
    "AWS_ENDPOINT_URL_ECR_PUBLIC",
    "AWS_ENDPOINT_URL_STS",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)
# Sources that do not come from the profile, described without "profile NAME:".
_PROFILELESS = frozenset(
    {"environment keys", "container", "instance metadata", "ec2 credential file", "boto config"}
)


def _endpoints(chain: Chain, name: str) -> list[object]:
    """Endpoint overrides in effect: tokens from a test server must stay apart."""
    profile = chain.files.profiles().get(name, {})
    services = profile.get("services")
    return [
        *(chain.env.get(var) for var in _ENDPOINT_VARS),
        profile.get("endpoint_url"),
        profile.get("ignore_configured_endpoint_urls"),
        chain.files.services(services) if services else None,
    ]


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _resolve(
    profile: str | None, role_arn: str | None, env: Mapping[str, str] | None
) -> tuple[Chain, str, Source, list[object]]:
    chain = Chain(_environ(env))
    name, source = chain.resolve(profile)
    if role_arn:
        source = Source(
            "assume-role",
            "assume role",
            f"assume role {role_arn} (per-registry) via {source.text}",
            ["role-override", role_arn, source.material],
            {**source.fields, "role_arn": role_arn},
        )
    return chain, name, source, _endpoints(chain, name)


def fingerprint(
    profile: str | None = None,
    role_arn: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Hex SHA-256 naming the AWS identity the credential chain would resolve.

    ``profile`` and ``role_arn`` are a registry's overrides from ecrpy's config; ``env``
    defaults to ``os.environ``. Raises ``CredentialsError`` for a missing profile, a
    ``source_profile`` loop or settings botocore would refuse.
    """
    _chain, _name, source, endpoints = _resolve(profile, role_arn, env)
    return _digest(source, endpoints)


def _digest(source: Source, endpoints: list[object]) -> str:
    # JSON keeps the nesting unambiguous: no field can run into the next.
    doc = [_VERSION, source.material, endpoints]
    return sha256_hex(_json.dumps_compact(doc).encode())


def describe(
    profile: str | None = None,
    role_arn: str | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Which source the chain would use, in words, for ``ecrpy whoami``/``doctor``.

    Access key ids are masked and secrets never appear.
    """
    chain, name, source, endpoints = _resolve(profile, role_arn, env)
    environ = chain.env
    out = {
        "profile": name,
        "source": source.kind,
        "chain": source.text if source.kind in _PROFILELESS else f"profile {name}: {source.text}",
        "fingerprint": _digest(source, endpoints),
        "config_file": chain.files.display(chain.files.config_path, environ),
        "credentials_file": chain.files.display(chain.files.credentials_path, environ),
    }
    out.update(source.fields)
    named = environ.get("AWS_DEFAULT_PROFILE") or environ.get("AWS_PROFILE")
    if source.kind == "environment keys" and not profile and named:
        var = "AWS_DEFAULT_PROFILE" if environ.get("AWS_DEFAULT_PROFILE") else "AWS_PROFILE"
        out["overrides"] = (
            f"AWS_ACCESS_KEY_ID in the environment overrides {var}={named} "
            "(unset AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to use the profile)"
        )
    region = _region_with_origin(chain, name)
    if region:
        out["region"] = region
    overrides = [f"{v}={environ[v]}" for v in _ENDPOINT_VARS if environ.get(v)]
    if endpoints[len(_ENDPOINT_VARS)]:
        overrides.append(f"endpoint_url={endpoints[len(_ENDPOINT_VARS)]}")
    if overrides:
        out["endpoint"] = ", ".join(overrides)
    return out


def _region_with_origin(chain: Chain, name: str) -> str | None:
    """The default region and where it comes from, in the AWS CLI v2 order."""
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if chain.env.get(var):
            return f"{chain.env[var]} ({var})"
    region = chain.files.profiles().get(name, {}).get("region")
    return f"{region} (profile {name})" if region else None


def _parse_iso8601(text: str) -> float | None:
    from datetime import datetime, timezone

    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"  # Python 3.10's fromisoformat does not accept "Z"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # AWS writes UTC
    return moment.timestamp()


def credentials_expiry_from_env(env: Mapping[str, str] | None = None) -> float | None:
    """Epoch seconds of ``AWS_CREDENTIAL_EXPIRATION`` (ISO 8601), when set and valid."""
    text = _environ(env).get("AWS_CREDENTIAL_EXPIRATION", "")
    return _parse_iso8601(text) if text.strip() else None


# --------------------------------------------------------------------------------------------
# boto3 sessions (cache misses only)
# --------------------------------------------------------------------------------------------


# -- sessions: moved to aws_session (cold); these names stay for their callers ---------------


def botocore_session(
    profile: str | None = None, role_arn: str | None = None, region: str | None = None
) -> CoreSession:
    """``aws_session.botocore_session``."""
    from . import aws_session

    return aws_session.botocore_session(profile, role_arn, region)


def session(
    profile: str | None = None, role_arn: str | None = None, region: str | None = None
) -> boto3.Session:
    """``aws_session.session``."""
    from . import aws_session

    return aws_session.session(profile, role_arn, region)


def credentials_expiry(session: boto3.Session | CoreSession) -> float | None:
    """``aws_session.credentials_expiry``."""
    from . import aws_session

    return aws_session.credentials_expiry(session)
