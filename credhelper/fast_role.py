"""Assumed-role and web-identity sessions without botocore, for ``fast_token``'s cold ``get``.

On an ephemeral CI runner the role session is as cold as the token, and botocore's path spends
~100 ms importing and loading models before its one STS call. For the two commonest role
identities -- a profile with ``role_arn`` over static keys (a ``source_profile`` with keys, or
``credential_source = Environment``) and web identity (``AWS_ROLE_ARN`` +
``AWS_WEB_IDENTITY_TOKEN_FILE``, or the profile's keys) -- this module does what botocore's
``AssumeRoleProvider`` / ``AssumeRoleWithWebIdentityProvider`` and ``CachedCredentialFetcher``
do, and nothing else:

* the same request: RoleArn; RoleSessionName (the user's, else ``botocore-session-<epoch>``);
  ExternalId and DurationSeconds from the profile; the web identity token as read from its
  file, sent unsigned; AssumeRole signed with the source keys; to the STS endpoint botocore
  picks for the registry's region (``aws_endpoint.sts_endpoint``), with its retries;
* the same AWS CLI JSON cache: ``~/.aws/cli/cache/<SHA-1 of the sorted arguments>.json``
  (``cache_key``), trusted only with more than botocore's 15-minute window left, written in
  botocore's format, so a session assumed here serves the AWS CLI and botocore, and theirs
  serve us.

Anything else answers None and botocore does it: chains of roles, MFA, a source that is not
static keys, a profile setting this module does not implement, a token file it cannot read,
an ``Expiration`` in a form it does not read (``Defer``). Failures raise what botocore's path
raises for the same failure (``signed_call.botocore_error``, then ``aws_errors.translate``).
Where botocore's cache would make damage fatal (an entry it cannot read or use raises on every
``get``; a cache it cannot write fails the ``get`` that assumed the role), both paths treat the
entry as absent and the write as optional: ``aws_session`` gives botocore a cache with these
rules (``cached_session``).
``tests/test_fast_role.py`` holds all of this to botocore.
"""

from __future__ import annotations

import os
import time

from . import _json, aws_errors
from ._sha import sha1_hex
from .aws_endpoint import Endpoint, proxy_for, sts_endpoint
from .credential_chain import Chain
from .logs import remember_secret
from .signed_call import Plan, botocore_error, call

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from typing import Any

    from .credential_chain import Source

Keys = tuple[str, str, str | None]  # key id, secret, session token

__all__ = [
    "CACHE_WINDOW",
    "INERT_PROFILE_KEYS",
    "STILL_EXPIRED",
    "Defer",
    "Keys",
    "cache_key",
    "cached_session",
    "cli_cache_dir",
    "expiry",
    "inert",
    "named_profile",
    "override_session",
    "profile_keys",
    "read_entry",
    "session",
    "session_for",
    "session_name",
]

# botocore's CachedCredentialFetcher.DEFAULT_EXPIRY_WINDOW_SECONDS: a cached session with less
# left than this is assumed anew.
CACHE_WINDOW = 15 * 60
# Profile keys that do not change how botocore makes these calls; any other key -> botocore.
INERT_PROFILE_KEYS = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_security_token",
        "region",
        "output",
        "s3",
        "s3api",
    }
)
_ROLE_KEYS = frozenset(
    {"role_arn", "source_profile", "credential_source", "role_session_name", "external_id",
     "duration_seconds"}
)  # fmt: skip
_WEB_IDENTITY_KEYS = frozenset({"role_arn", "web_identity_token_file", "role_session_name"})
# botocore's RuntimeError text when refreshed credentials are already expired
STILL_EXPIRED = "Credentials were refreshed, but the refreshed credentials are still expired."
_UTC_NAMES = ("Z", "UTC", "GMT", "+00:00", "+0000", "-00:00", "-0000")


class Defer(Exception):
    """botocore would do something here that this module does not: let botocore do it."""


def named_profile(profile: str | None, name: str) -> str | None:
    """The profile ecrpy's messages name: the one chosen, or the one in effect unless that is
    the implicit ``default`` ("profile 'default'" would mislead when none was chosen)."""
    return profile or (None if name == "default" else name)


def cli_cache_dir() -> str:
    """The AWS CLI's credential cache, shared so a role session is assumed once for both."""
    return os.path.join(os.path.expanduser("~"), ".aws", "cli", "cache")


def session_name() -> str:
    """``ecrpy-<user>``: a RoleSessionName CloudTrail readers can attribute."""
    import re

    user = os.environ.get("USER") or os.environ.get("LOGNAME") or os.environ.get("USERNAME")
    if not user:
        try:
            import getpass

            user = getpass.getuser()
        except (ImportError, KeyError, OSError):
            user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    # STS allows [\w+=,.@-] with \w meaning ASCII only.
    return ("ecrpy-" + re.sub(r"[^A-Za-z0-9_+=,.@-]", "-", user))[:64]


def inert(settings: Mapping[str, str], allowed: Collection[str] = ()) -> bool:
    """True when every key of a profile is one that leaves botocore's calls as ours."""
    return all(
        key in INERT_PROFILE_KEYS or key in allowed or key.startswith("cli_") for key in settings
    )


def profile_keys(chain: Chain, name: str, method: str) -> Keys:
    """The static keys of profile ``name`` where the chain found them (``method``: botocore's
    shared-credentials-file or config-file provider)."""
    if method == "shared-credentials-file":
        section = chain.files.credentials_sections().get(name) or {}
    else:
        section = chain.files.config_profiles().get(name) or {}
    token = section.get("aws_security_token") or section.get("aws_session_token") or None
    return section["aws_access_key_id"], section.get("aws_secret_access_key", ""), token


def cache_key(args: Mapping[str, object]) -> str:
    """botocore's ``BaseAssumeRoleCredentialFetcher._create_cache_key``: the SHA-1 of the
    request arguments as ``json.dumps(args, sort_keys=True)`` (a generated RoleSessionName
    left out by the caller). Hex digits need none of its file-name escaping."""
    return sha1_hex(_json.dumps(dict(sorted(args.items()))).encode("utf-8"))


def expiry(value: object) -> float:
    """A session's ``Expiration`` as a POSIX time: AWS's ``2026-11-30T10:00:00Z`` and the
    ``...UTC`` botocore writes to its cache, with or without fractions or a numeric offset.
    ``Defer`` for anything botocore's (dateutil's) reading might take differently."""
    from datetime import datetime, timedelta, timezone

    if not isinstance(value, str) or len(value) < 20:
        raise Defer("expiration")
    stamp, zone = value[:19], value[19:]
    micros = 0
    if zone.startswith("."):
        digits = len(zone) - len(zone[1:].lstrip("0123456789"))
        if digits == 1:
            raise Defer("expiration")
        micros = int(zone[1:digits][:6].ljust(6, "0"))  # dateutil's reading: 6 digits at most
        zone = zone[digits:]
    if zone in _UTC_NAMES:
        offset = 0
    elif (
        len(zone) in (5, 6) and zone.isascii() and zone[0] in "+-"
        and zone[1:3].isdigit() and zone[-2:].isdigit()
    ):  # fmt: skip
        if len(zone) == 6 and zone[3] != ":":
            raise Defer("expiration")
        offset = (int(zone[1:3]) * 60 + int(zone[-2:])) * (1 if zone[0] == "+" else -1)
    else:
        raise Defer("expiration")
    if stamp[4] + stamp[7] + stamp[10] + stamp[13] + stamp[16] != "--T::":
        raise Defer("expiration")
    fields = (stamp[0:4], stamp[5:7], stamp[8:10], stamp[11:13], stamp[14:16], stamp[17:19])
    if not all(f.isdigit() and f.isascii() for f in fields):
        raise Defer("expiration")
    year, month, day, hour, minute, second = (int(f) for f in fields)
    try:
        zone_info = timezone(timedelta(minutes=offset))
        when = datetime(year, month, day, hour, minute, second, micros, tzinfo=zone_info)
    except ValueError:
        raise Defer("expiration") from None
    return when.timestamp()


def _cache_text(expires_at: float) -> str:
    """How botocore's JSONFileCache writes a timestamp: ``%Y-%m-%dT%H:%M:%S%Z`` in UTC."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(expires_at), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S%Z")


class _Request:
    """One AssumeRole* call as botocore would make it, and how to cache its answer."""

    __slots__ = ("args", "cache_args", "operation", "source_keys", "token_file")

    def __init__(
        self,
        operation: str,
        args: dict[str, Any],
        source_keys: Keys | None,
        token_file: str | None,
    ) -> None:
        self.operation = operation
        self.source_keys, self.token_file = source_keys, token_file
        self.cache_args = dict(args)
        if not args.get("RoleSessionName"):  # botocore generates one, and hashes without it
            self.cache_args.pop("RoleSessionName", None)
            args["RoleSessionName"] = f"botocore-session-{int(time.time())}"
        self.args = args


def _role_request(chain: Chain, name: str, env: Mapping[str, str]) -> _Request:
    """AssumeRoleProvider._load_creds_via_assume_role for one hop over static keys."""
    profiles = chain.files.profiles()
    profile = profiles[name]
    if not inert(profile, _ROLE_KEYS):
        raise Defer("profile settings")  # mfa_serial, endpoint_url, sts_regional_endpoints...
    if "credential_source" in profile:
        if profile["credential_source"] != "Environment" or not env.get("AWS_ACCESS_KEY_ID"):
            raise Defer("credential source")
        token = env.get("AWS_SECURITY_TOKEN") or env.get("AWS_SESSION_TOKEN") or None
        keys = (env["AWS_ACCESS_KEY_ID"], env.get("AWS_SECRET_ACCESS_KEY", ""), token)
    else:
        source_name = profile["source_profile"]
        source = chain.source_profile(source_name, [name, source_name])
        if source.method not in ("shared-credentials-file", "config-file"):
            raise Defer("source is not static keys")  # a role chain, SSO, a process...
        if source_name != name and not inert(profiles[source_name]):
            raise Defer("source profile settings")
        keys = profile_keys(chain, source_name, source.method)
    args: dict[str, Any] = {"RoleArn": profile["role_arn"]}
    for key, arg in (("role_session_name", "RoleSessionName"), ("external_id", "ExternalId")):
        if key in profile:
            args[arg] = profile[key]
    if "duration_seconds" in profile:
        try:  # botocore drops a value int() refuses
            args["DurationSeconds"] = int(profile["duration_seconds"])
        except ValueError:
            pass
    return _Request("AssumeRole", args, keys, None)


def _web_identity_request(
    chain: Chain, name: str, env: Mapping[str, str], use_env: bool
) -> _Request:
    """AssumeRoleWithWebIdentityProvider: each setting from its variable (unless a profile was
    chosen explicitly), else from the profile."""
    profile = chain.files.profiles().get(name, {})
    if not inert(profile, _WEB_IDENTITY_KEYS):
        raise Defer("profile settings")

    def setting(key: str, var: str) -> str | None:
        return env[var] if use_env and var in env else profile.get(key)

    token_file = setting("web_identity_token_file", "AWS_WEB_IDENTITY_TOKEN_FILE")
    role_arn = setting("role_arn", "AWS_ROLE_ARN")
    if not token_file or not role_arn:
        raise Defer("incomplete")  # the chain has already named what is missing
    args: dict[str, Any] = {"RoleArn": role_arn}
    session_name = setting("role_session_name", "AWS_ROLE_SESSION_NAME")
    if session_name is not None:
        args["RoleSessionName"] = session_name
    return _Request("AssumeRoleWithWebIdentity", args, None, token_file)


def _request(chain: Chain, name: str, source: Source, explicit: str | None) -> _Request:
    if source.method == "assume-role":
        return _role_request(chain, name, chain.env)
    if source.method == "assume-role-with-web-identity":
        return _web_identity_request(chain, name, chain.env, explicit is None)
    raise Defer("not a role identity")


def cached_session(record: object) -> tuple[tuple[str, str, str], float] | None:
    """The keys and expiry of an AWS CLI cache entry (its JSON), or None for an entry that is
    damaged or of a shape botocore cannot use. Both paths treat such an entry as absent (the
    session is assumed anew and the file overwritten): botocore's own JSONFileCache would fail
    every ``get`` on it (an uncaught KeyError) until someone deleted the file, so
    ``aws_session`` reads the cache through this rule too."""
    creds = record.get("Credentials") if isinstance(record, dict) else None
    if not isinstance(creds, dict):
        return None
    try:
        expires_at = expiry(creds.get("Expiration"))
    except Defer:
        return None
    keys = tuple(creds.get(k) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken"))
    if not all(isinstance(k, str) for k in keys):
        return None
    return (keys[0], keys[1], keys[2]), expires_at  # type: ignore[return-value]


def read_entry(path: str) -> tuple[tuple[str, str, str], float] | None:
    """The keys and expiry of the cache entry at ``path``, None when there is none to use: no
    regular file (a FIFO would block), unreadable, not JSON (``_json`` also survives absurd
    nesting, where ``json`` raises RecursionError), or not ``cached_session``'s shape."""
    if not os.path.isfile(path):  # as JSONFileCache.__contains__
        return None
    try:
        with open(path, encoding="utf-8") as f:
            record = _json.loads(f.read())
    except (OSError, ValueError):
        return None
    return cached_session(record)


def _read_cache(path: str) -> tuple[tuple[str, str, str], float] | None:
    """A cached session with more than ``CACHE_WINDOW`` left, None for none."""
    found = read_entry(path)
    if found is None or found[1] - time.time() < CACHE_WINDOW:
        return None
    return found


def _write_cache(path: str, record: dict[str, Any]) -> None:
    """botocore's JSONFileCache write (atomic); a failure only costs the next run a call."""
    from . import fsutil
    from .logs import get_logger

    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fsutil.atomic_write(path, _json.dumps(record).encode(), 0o600)
    except OSError as exc:
        get_logger().debug("role session not cached (%s): %s", path, type(exc).__name__)


def _account(arn: object) -> str | None:
    """botocore's ``_add_account_id_to_response``: the account field of an ARN."""
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else None


def _fetch(
    request: _Request, where: Endpoint, proxy: tuple[str, int] | None, deadline: float | None,
    env: Mapping[str, str],
) -> dict[str, Any]:  # fmt: skip
    params = dict(request.args)
    if request.token_file is not None:
        try:  # botocore's FileWebIdentityTokenLoader: the whole file, as text
            with open(request.token_file) as f:
                params["WebIdentityToken"] = f.read()
        except (OSError, ValueError):
            raise Defer("token file") from None  # botocore names the problem its way
    return call(Plan(where, request.source_keys, proxy), params, env, deadline)


def session(
    profile: str | None, env: Mapping[str, str], region: str, deadline: float | None
) -> tuple[Keys, float] | None:
    """(keys, expiry) of the role session the chain names for ``profile``, from the AWS CLI
    cache or one STS call; None when botocore must resolve this identity. Failures raise the
    ``EcrpyError`` botocore's path raises."""
    chain = Chain(env)
    name, source = chain.resolve(profile)
    return session_for(chain, name, source, profile, region, deadline)


def session_for(
    chain: Chain,
    name: str,
    source: Source,
    profile: str | None,
    region: str,
    deadline: float | None,
) -> tuple[Keys, float] | None:
    """``session`` for a chain the caller has already resolved (``name``, ``source``)."""
    if source.method not in ("assume-role", "assume-role-with-web-identity"):
        return None
    try:
        request = _request(chain, name, source, profile or None)
    except Defer as why:
        _log_deferral(why)
        return None
    return _assume(request, named_profile(profile, name), chain.env, region, deadline)


def override_session(
    source_keys: Keys,
    role_arn: str,
    who: str | None,
    env: Mapping[str, str],
    region: str,
    deadline: float | None,
) -> tuple[Keys, float] | None:
    """A registry's ``role_arn`` (ecrpy's config) assumed over static ``source_keys`` as
    ``aws_session``'s override does it: RoleSessionName ``session_name()``, the same cache."""
    request = _Request("AssumeRole", {"RoleArn": role_arn, "RoleSessionName": session_name()},
                       source_keys, None)  # fmt: skip
    return _assume(request, who, env, region, deadline)


def _log_deferral(why: Defer) -> None:
    from .logs import get_logger

    get_logger().debug("role session left to botocore: %s", why)


def _assume(
    request: _Request, who: str | None, env: Mapping[str, str], region: str,
    deadline: float | None,
) -> tuple[Keys, float] | None:
    """``request``'s session from the AWS CLI cache, else from one STS call (and cached)."""
    sts = sts_endpoint(region, env)
    try:
        if sts is None:
            raise Defer("STS endpoint")
        where = Endpoint(sts.scheme, sts.host, sts.port, region, "sts", request.operation, "query")
        proxy = proxy_for(where, env)
        if isinstance(proxy, bool):
            raise Defer("proxy")
        if request.source_keys is not None:
            remember_secret(request.source_keys[1])
            remember_secret(request.source_keys[2])
        path = os.path.join(cli_cache_dir(), cache_key(request.cache_args) + ".json")
        cached = _read_cache(path)
        if cached is not None:
            remember_secret(cached[0][1])
            remember_secret(cached[0][2])
            return cached
        try:
            answer = _fetch(request, where, proxy, deadline, env)
        except Defer:
            raise
        except Exception as exc:  # mapped exactly as the botocore path maps its errors
            error = botocore_error(exc, where, proxy, request.operation)
            raise aws_errors.translate(error, None, who) from None
        return _session_from(answer, path, who)
    except Defer as why:
        _log_deferral(why)
        return None


def _session_from(
    answer: dict[str, Any], path: str, who: str | None
) -> tuple[Keys, float]:
    creds = answer.get("Credentials")
    fields = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
    if not isinstance(creds, dict) or not all(isinstance(creds.get(k), str) for k in fields):
        raise Defer("answer without credentials")  # botocore fails on it in its own way
    remember_secret(creds["SecretAccessKey"])
    remember_secret(creds["SessionToken"])
    expires_at = expiry(creds["Expiration"])
    record = dict(answer)
    record["Credentials"] = dict(creds, Expiration=_cache_text(expires_at))
    account = _account(answer.get("AssumedRoleUser", {}).get("Arn"))
    if account is not None:
        record["Credentials"]["AccountId"] = account
    _write_cache(path, record)
    if expires_at <= time.time():  # DeferredRefreshableCredentials' check after a refresh
        raise aws_errors.translate(RuntimeError(STILL_EXPIRED), None, who)
    keys = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    return keys, expires_at
