"""GetAuthorizationToken (and the few ECR calls a push needs) without botocore: one signed POST
over ``http1``.

A cold ``get`` through botocore spends ~250 ms importing and loading models before it sends one
small request. When the offline identity chain (``identity``) says the keys are static — env
keys, or keys in the shared credentials/config file of a profile without ``role_arn``, web
identity, SSO, ``credential_process`` — nothing needs resolving over the network, so this
module signs the request with ``sigv4`` and sends it itself. It also takes the temporary keys
of the other identities CI runners use, as botocore would resolve them (the token request its
own, the pre-flight's calls one shared resolution per identity and process):
an assumed-role profile or web identity (``fast_role``: its STS call and the AWS CLI cache), a
registry's ``role_arn`` from ecrpy's config over static keys (``fast_role`` too), a container
endpoint or a ``credential_process`` (``fast_sources``).

It does only what it can do exactly as botocore would, and answers ``None`` (use botocore)
for everything else: a setting it does not implement (the profile's ``endpoint_url``,
``services``, ``ca_bundle``, FIPS/dual-stack/retry settings from the environment or the
profile, ``AWS_CREDENTIAL_EXPIRATION``, a per-registry ``role_arn`` over keys that are not
static), a partition other than aws/aws-cn/aws-us-gov, an endpoint URL with a path, a proxy
with credentials. It honours
``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_ECR``/``AWS_ENDPOINT_URL_ECR_PUBLIC`` (unless
``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS``), the registry host's FIPS/dual-stack form,
``AWS_CA_BUNDLE``, ``HTTPS_PROXY``/``NO_PROXY`` (a CONNECT tunnel), and botocore's *standard*
retries (3 attempts; throttling, 5xx and connection errors; jittered back-off) with the same
connect/read timeouts. Errors become the botocore exception botocore would have raised, then
go through ``aws_errors.translate``, so both paths fail with the same words.

This module owns the decision (``static_keys``, ``_plan``: may this call skip botocore?) and
the four calls (``fetch``, ``ecr_call``, ``caller_identity``, ``iam_call``); ``aws_endpoint``
says where a call goes and through which proxy, ``signed_call`` sends it (signing, retries,
parsing, botocore-shaped errors). Their public names stay importable from here.
"""

from __future__ import annotations

import os
import threading
import time

from . import aws_errors, fast_role, fast_sources, token_answer
from .aws_endpoint import (
    CALLER_IDENTITY,
    OPERATION,
    Endpoint,
    bypasses_proxy,
    endpoint,
    environment_proxies,
    iam_endpoint,
    proxy_for,
    sts_endpoint,
)
from .credential_chain import Chain
from .errors import EcrpyError
from .fast_role import Keys
from .logs import remember_secret
from .signed_call import MAX_ATTEMPTS as _MAX_ATTEMPTS
from .signed_call import Plan, botocore_error, call, ssl_context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from .registry import Registry
    from .token_cache.base import CacheEntry

# The names callers and tests know as fast_token's (endpoints, proxies, the TLS context).
__all__ = [
    "CALLER_IDENTITY",
    "OPERATION",
    "Endpoint",
    "bypasses_proxy",
    "caller_identity",
    "ecr_call",
    "endpoint",
    "environment_proxies",
    "fetch",
    "http_date",
    "iam_call",
    "ssl_context",
    "static_keys",
    "sts_endpoint",
]

# Environment settings botocore would apply to this call that this module does not implement.
_FOREIGN_ENV = (
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)


def static_keys(profile: str | None, env: Mapping[str, str]) -> tuple[str, Keys] | None:
    """(profile name, (key id, secret, session token)) when the chain ends in static keys that
    this module may use, else None."""
    identity = _Identity(profile, env)
    return None if identity.static is None else (identity.name, identity.static)


class _Identity:
    """The chain's answer for ``profile``, read once per call: the profile in effect, its
    source, and the static keys this module may use (None when it ends elsewhere)."""

    __slots__ = ("chain", "name", "profile", "source", "static")

    def __init__(self, profile: str | None, env: Mapping[str, str]) -> None:
        self.profile = profile
        self.chain = Chain(env)
        self.name, self.source = self.chain.resolve(profile)
        self.static: Keys | None = None
        if not fast_role.inert(self.chain.files.profiles().get(self.name, {})):
            return
        if self.source.kind == "environment keys":
            token = env.get("AWS_SECURITY_TOKEN") or env.get("AWS_SESSION_TOKEN") or None
            self.static = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], token)
        elif self.source.kind == "static keys":
            self.static = fast_role.profile_keys(self.chain, self.name, self.source.method)


def _plan(
    registry: Registry | None,
    operation: str,
    profile: str | None,
    role_arn: str | None,
    env: Mapping[str, str],
    where: Endpoint | None = None,
    role_deadline: float | None = None,
) -> Plan | None:
    """How to make ``operation`` (on ``registry``'s ECR API, or at ``where``) without
    botocore, or None when botocore must make it. Keys: static ones, else the temporary keys
    ``_temporary_keys`` resolves as botocore would. ``role_deadline``: this is the token
    request, whose one STS call (if any) must end by then and whose keys are its own; other
    calls share one resolution per identity and process (``_shared_temporary_keys``)."""
    if not _usable_env(env):
        return None
    if where is None and registry is not None:
        where = endpoint(registry, env, operation)
    route = _route(where, env)
    if route is None:
        return None
    where, proxy = route
    expires_at = None
    identity = _Identity(profile, env)
    if identity.static is not None and not role_arn:
        keys = identity.static
    else:
        # Last: every check that sends us to botocore is done before this may call anyone.
        # STS is asked in the registry's API region (as tokens' session does), else the call's.
        region = registry.api_region if registry is not None else where.region
        if role_deadline is not None:
            temporary = _temporary_keys(registry, region, identity, role_arn, role_deadline)
        else:
            temporary = _shared_temporary_keys(registry, region, identity, role_arn)
        if temporary is None:
            return None
        keys, expires_at = temporary
    remember_secret(keys[1])
    remember_secret(keys[2])
    return Plan(where, keys, proxy, expires_at)


def _usable_env(env: Mapping[str, str]) -> bool:
    """No setting this module leaves to botocore (``_FOREIGN_ENV``, a missing CA bundle,
    which botocore's path names before any call)."""
    if any(var in env for var in _FOREIGN_ENV):
        return False
    bundle = env.get("AWS_CA_BUNDLE")
    return not (bundle and not os.path.isfile(bundle))


def _route(
    where: Endpoint | None, env: Mapping[str, str]
) -> tuple[Endpoint, tuple[str, int] | None] | None:
    """(endpoint, proxy to tunnel through) for a call this module may send to ``where`` (None:
    botocore's endpoint) in a ``_usable_env``; None when botocore must send it."""
    if where is None:
        return None
    proxy = proxy_for(where, env)
    return None if isinstance(proxy, bool) else (where, proxy)


# Temporary keys the calls after the token request share, per identity, for this process: one
# STS call, endpoint request or process run serves the whole pre-flight (as botocore's path
# shares one session); a failure or a deferral to botocore is remembered too. Refreshed
# inside botocore's 15-minute advisory window. Tests clear it (tests/conftest.py).
_SHARED: dict[str, tuple[Keys, float | None] | EcrpyError | None] = {}
_SHARED_LOCK = threading.Lock()


def _shared_temporary_keys(
    registry: Registry | None, region: str, identity: _Identity, role_arn: str | None
) -> tuple[Keys, float | None] | None:
    """``_temporary_keys`` once per identity and process, whichever thread asks first."""
    from . import _json

    key = _json.dumps(
        [identity.profile, role_arn, identity.name, identity.source.method,
         identity.source.material, fast_role.cli_cache_dir()]
    )  # fmt: skip
    with _SHARED_LOCK:
        if key in _SHARED:
            known = _SHARED[key]
            if isinstance(known, EcrpyError):
                raise known
            if known is None or known[1] is None:
                return known
            if known[1] - time.time() > fast_sources.ADVISORY_REFRESH:
                return known
        try:
            resolved = _temporary_keys(registry, region, identity, role_arn, None)
        except EcrpyError as exc:
            _SHARED[key] = exc
            raise
        _SHARED[key] = resolved
        return resolved


def _temporary_keys(
    registry: Registry | None,
    region: str,
    identity: _Identity,
    role_arn: str | None,
    deadline: float | None,
) -> tuple[Keys, float | None] | None:
    """Keys from a role session (``fast_role``: the profile's role, web identity, or a
    registry's ``role_arn`` over the identity's static keys), the container endpoint or a
    ``credential_process`` (``fast_sources``), as botocore would resolve them; None when
    botocore must. Failures raise the ``EcrpyError`` botocore's path raises."""
    chain, name, source, profile = identity.chain, identity.name, identity.source, identity.profile
    who = fast_role.named_profile(profile, name)
    if role_arn:
        if identity.static is None:
            return None  # a registry's role over temporary keys: botocore's
        return fast_role.override_session(
            identity.static, role_arn, who, chain.env, region, deadline
        )
    if source.method in ("assume-role", "assume-role-with-web-identity"):
        return fast_role.session_for(chain, name, source, profile, region, deadline)
    settings = chain.files.profiles().get(name, {})
    try:
        if source.method == "container-role" and fast_role.inert(settings):
            resolved = fast_sources.container(chain.env)
        elif source.method == "custom-process" and fast_role.inert(
            settings, ("credential_process", "aws_account_id")
        ):
            resolved = fast_sources.process(settings["credential_process"])
        else:
            return None
    except fast_role.Defer as why:
        from .logs import get_logger

        get_logger().debug("credentials left to botocore: %s", why)
        return None
    except Exception as exc:
        raise _source_error(exc, registry, profile, who) from None
    remember_secret(resolved[0][1])
    remember_secret(resolved[0][2])
    return resolved


def _source_error(
    exc: Exception, registry: Registry | None, profile: str | None, who: str | None
) -> EcrpyError:
    """A provider's failure, translated as ``aws_session.botocore_session`` and then
    ``tokens.fetch`` translate the same failure on botocore's path: botocore's own exceptions
    (and RuntimeError) for the identity, anything else as the token request's."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, (BotoCoreError, ClientError, RuntimeError)):
        return aws_errors.translate(exc, None, who)
    return aws_errors.translate(exc, registry, profile)


def fetch(
    registry: Registry,
    profile: str | None = None,
    role_arn: str | None = None,
    env: Mapping[str, str] | None = None,
) -> CacheEntry | None:
    """A fresh token, or None when this registry/identity/setting needs botocore."""
    env = os.environ if env is None else env
    # The same bound as tokens.bound_retries: no new attempt that could not finish in time.
    deadline = time.monotonic() + token_answer.DEADLINE
    plan = _plan(registry, OPERATION, profile, role_arn, env, role_deadline=deadline)
    if plan is None:
        return None
    request = {} if registry.public else {"registryIds": [str(registry.account_id)]}
    requested_at = time.time()
    try:
        resp = call(plan, request, env, deadline)
    except Exception as exc:  # mapped exactly as the botocore path maps its errors
        error = botocore_error(exc, plan.where, plan.proxy, OPERATION)
        raise aws_errors.translate(error, registry, profile) from None
    data = token_answer.authorization_data(resp, registry)
    server_now = http_date(resp["ResponseMetadata"]["HTTPHeaders"].get("date", ""))
    if server_now is None:  # not the one format HTTP/1.1 servers send: the general reading
        server_now = token_answer.lifetime_start(resp, requested_at)
    return token_answer.entry(registry, data, requested_at, plan.expires_at, server_now)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(value: str) -> float | None:
    """An IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``, RFC 9110 5.6.7: what servers send)
    as a POSIX time, without importing ``email.utils`` (~5 ms) as ``token_answer.lifetime_start``
    does; None for anything else (which that function then reads)."""
    parts = value.split()
    if len(parts) != 6 or parts[5] != "GMT" or parts[2] not in _MONTHS:
        return None
    day, year, clock = parts[1], parts[3], parts[4].split(":")
    if not (len(day) == 2 and len(year) == 4 and len(clock) == 3):
        return None
    try:
        d, y, (hh, mm, ss) = int(day), int(year), (int(c) for c in clock)
    except ValueError:
        return None
    m = _MONTHS.index(parts[2]) + 1
    if not (1 <= d <= 31 and hh <= 23 and mm <= 59 and ss <= 60):
        return None
    # Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return float(days * 86400 + hh * 3600 + mm * 60 + ss)


def ecr_call(
    registry: Registry,
    operation: str,
    request: Mapping[str, Any],
    profile: str | None = None,
    role_arn: str | None = None,
    env: Mapping[str, str] | None = None,
    attempts: int | None = None,
) -> dict[str, Any] | None:
    """One ECR (or ECR Public) JSON API call, signed here, under the same rules as ``fetch``:
    the parsed answer (JSON as sent: timestamps stay epoch numbers, not botocore's datetimes),
    or None when botocore must make the call. A failure raises the exception botocore's client
    would raise (``ClientError`` with the same code and message, ``EndpointConnectionError``,
    ...), so callers map both paths' errors with the same code. Retries as botocore's standard
    mode (``attempts`` in all, default 3), without ``fetch``'s deadline (a transfer has none)."""
    env = os.environ if env is None else env
    plan = _plan(registry, operation, profile, role_arn, env)
    if plan is None:
        return None
    try:
        return call(plan, dict(request), env, None, attempts or _MAX_ATTEMPTS)
    except Exception as exc:
        raise botocore_error(exc, plan.where, plan.proxy, operation) from None


def caller_identity(
    region: str,
    profile: str | None = None,
    role_arn: str | None = None,
    env: Mapping[str, str] | None = None,
    fips: bool = False,
) -> dict[str, Any] | None:
    """STS ``GetCallerIdentity`` (query protocol) under ``ecr_call``'s rules: ``UserId``,
    ``Account``, ``Arn`` and ``ResponseMetadata`` as botocore parses them, None when botocore
    must make the call; failures raise botocore's exceptions."""
    env = os.environ if env is None else env
    where = sts_endpoint(region, env, fips)
    if where is None:
        return None
    plan = _plan(None, CALLER_IDENTITY, profile, role_arn, env, where)
    if plan is None:
        return None
    try:
        return call(plan, {}, env, None, _MAX_ATTEMPTS)
    except Exception as exc:
        raise botocore_error(exc, plan.where, plan.proxy, CALLER_IDENTITY) from None


def iam_call(
    region: str,
    operation: str,
    params: Mapping[str, Any],
    profile: str | None = None,
    role_arn: str | None = None,
    env: Mapping[str, str] | None = None,
    fips: bool = False,
    dualstack: bool = False,
    attempts: int | None = None,
) -> dict[str, Any] | None:
    """One IAM query-protocol call for a client made in ``region``, under ``ecr_call``'s
    rules: the answer as botocore parses it (``query_xml``: timestamps stay strings), None
    when botocore must make the call; failures raise botocore's exceptions."""
    env = os.environ if env is None else env
    where = iam_endpoint(region, env, operation, fips, dualstack)
    if where is None:
        return None
    plan = _plan(None, operation, profile, role_arn, env, where)
    if plan is None:
        return None
    try:
        return call(plan, dict(params), env, None, attempts or _MAX_ATTEMPTS)
    except Exception as exc:
        raise botocore_error(exc, plan.where, plan.proxy, operation) from None


# Credential sources whose temporary keys this module resolves itself (``_temporary_keys``).
_OWN_SOURCES = ("assume-role", "assume-role-with-web-identity", "container-role", "custom-process")


def preconnect_iam(
    region: str,
    count: int,
    profile: str | None = None,
    role_arn: str | None = None,
    env: Mapping[str, str] | None = None,
    fips: bool = False,
    dualstack: bool = False,
) -> None:
    """Open ``count`` connections to IAM in the background for ``iam_call`` (http1 keeps
    them): the pre-flight's IAM reads wait for GetCallerIdentity's answer, but their TCP and
    TLS set-up (two round trips each) need not. Only where ``iam_call`` would make the calls
    as far as can be told without any (the endpoint, a proxy, the identity's source)."""
    from . import http1

    env = os.environ if env is None else env
    if not _usable_env(env):
        return
    route = _route(iam_endpoint(region, env, "GetUser", fips, dualstack), env)
    if route is None:
        return
    where, proxy = route
    identity = _Identity(profile, env)
    if identity.static is None and (role_arn or identity.source.method not in _OWN_SOURCES):
        return
    https = where.scheme == "https"
    http1.preconnect(
        where.host,
        where.port or (443 if https else 80),
        context=ssl_context(env) if https else None,
        proxy=proxy,
        connect_timeout=aws_errors.CONNECT_TIMEOUT,
        count=count,
    )
