"""GetAuthorizationToken (and the few ECR calls a push needs) for static keys without botocore:
one signed POST over ``http1``.

A cold ``get`` through botocore spends ~250 ms importing and loading models before it sends one
small request. When the offline identity chain (``identity``) says the keys are static — env
keys, or keys in the shared credentials/config file of a profile without ``role_arn``, web
identity, SSO, ``credential_process`` — nothing needs resolving over the network, so this
module signs the request with ``sigv4`` and sends it itself.

It does only what it can do exactly as botocore would, and answers ``None`` (use botocore)
for everything else: a setting it does not implement (the profile's ``endpoint_url``,
``services``, ``ca_bundle``, FIPS/dual-stack/retry settings from the environment or the
profile, ``AWS_CREDENTIAL_EXPIRATION``, a per-registry ``role_arn``), a partition other than
aws/aws-cn/aws-us-gov, an endpoint URL with a path, a proxy with credentials. It honours
``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_ECR``/``AWS_ENDPOINT_URL_ECR_PUBLIC`` (unless
``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS``), the registry host's FIPS/dual-stack form,
``AWS_CA_BUNDLE``, ``HTTPS_PROXY``/``NO_PROXY`` (a CONNECT tunnel), and botocore's *standard*
retries (3 attempts; throttling, 5xx and connection errors; jittered back-off) with the same
connect/read timeouts. Errors become the botocore exception botocore would have raised, then
go through ``aws_errors.translate``, so both paths fail with the same words.
"""

from __future__ import annotations

import os
import time

from . import aws_errors, token_answer
from .credential_chain import Chain
from .logs import remember_secret

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping
    from typing import Any

    from .registry import Registry
    from .token_cache.base import CacheEntry

# Profile keys that do not change how botocore calls ECR; any other key sends us to botocore.
_INERT_PROFILE_KEYS = frozenset(
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
# Environment settings botocore would apply to this call that this module does not implement.
_FOREIGN_ENV = (
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)
# (partition regex test, DNS suffix, dual-stack DNS suffix), as botocore's partitions.json.
_PARTITIONS = (
    ("cn-", "amazonaws.com.cn", "api.amazonwebservices.com.cn"),
    ("us-gov-", "amazonaws.com", "api.aws"),
    ("", "amazonaws.com", "api.aws"),
)
_AWS_PREFIXES = ("us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx")
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
_MAX_ATTEMPTS = 3
OPERATION = "GetAuthorizationToken"
CALLER_IDENTITY = "GetCallerIdentity"

_ssl_context: ssl.SSLContext | None = None


class Endpoint:
    """Where the request goes and how it is signed. ``target``: the JSON protocol's
    ``X-Amz-Target``; for the query protocol (STS), the operation name."""

    __slots__ = ("host", "port", "protocol", "region", "scheme", "service", "target")

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int | None,
        region: str,
        service: str,
        target: str,
        protocol: str = "json",
    ) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.region, self.service, self.target = region, service, target
        self.protocol = protocol

    @property
    def url(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}/"


def _truthy(value: str | None) -> bool:
    return (value or "").lower() == "true"


def static_keys(
    profile: str | None, env: Mapping[str, str]
) -> tuple[str, tuple[str, str, str | None]] | None:
    """(profile name, (key id, secret, session token)) when the chain ends in static keys that
    this module may use, else None."""
    chain = Chain(env)
    name, source = chain.resolve(profile)
    if source.kind == "environment keys":
        token = env.get("AWS_SECURITY_TOKEN") or env.get("AWS_SESSION_TOKEN") or None
        keys = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], token)
    elif source.kind == "static keys":
        section = chain.files.credentials_sections().get(name)
        if not section or "aws_access_key_id" not in section:
            section = chain.files.config_profiles().get(name) or {}
        token = section.get("aws_security_token") or section.get("aws_session_token") or None
        keys = (section["aws_access_key_id"], section.get("aws_secret_access_key", ""), token)
    else:
        return None
    settings = chain.files.profiles().get(name, {})
    if any(key not in _INERT_PROFILE_KEYS and not key.startswith("cli_") for key in settings):
        return None
    return name, keys


def endpoint(
    registry: Registry, env: Mapping[str, str], operation: str = OPERATION
) -> Endpoint | None:
    """The endpoint botocore would call for ``operation`` on this registry's API, or None where
    we would diverge."""
    if registry.public:
        if registry.fips or registry.dualstack:
            return None
        region, service, env_name = "us-east-1", "ecr-public", "AWS_ENDPOINT_URL_ECR_PUBLIC"
        target = "SpencerFrontendService"
    else:
        region, service, env_name = registry.region, "ecr", "AWS_ENDPOINT_URL_ECR"
        target = "AmazonEC2ContainerRegistry_V20150921"
    target += "." + operation
    configured = _configured_url(env, env_name)
    if configured is not None:
        if registry.fips or registry.dualstack:
            return None  # botocore refuses FIPS/dual-stack with a custom endpoint
        found = _parse_endpoint_url(configured)
        if found is None:
            return None
        scheme, host, port = found
        return Endpoint(scheme, host, port, region, service, target)
    suffixes = _partition(region)
    if suffixes is None:
        return None
    dns, dualstack_dns = suffixes
    prefix = service + ("-fips" if registry.fips else "")
    if registry.dualstack:
        host = f"{prefix}.{region}.{dualstack_dns}"
    else:
        host = f"api.{prefix}.{region}.{dns}"
    return Endpoint("https", host, None, region, service, target)


def sts_endpoint(region: str, env: Mapping[str, str], fips: bool = False) -> Endpoint | None:
    """STS's regional endpoint as botocore resolves it for GetCallerIdentity (or the configured
    ``AWS_ENDPOINT_URL_STS``/``AWS_ENDPOINT_URL``); None where we would diverge (FIPS, the
    legacy global endpoint setting, a partition we do not know)."""
    if fips or "AWS_STS_REGIONAL_ENDPOINTS" in env:
        return None
    configured = _configured_url(env, "AWS_ENDPOINT_URL_STS")
    if configured is not None:
        found = _parse_endpoint_url(configured)
        if found is None:
            return None
        scheme, host, port = found
        return Endpoint(scheme, host, port, region, "sts", CALLER_IDENTITY, "query")
    suffixes = _partition(region)
    if suffixes is None:
        return None
    return Endpoint(
        "https", f"sts.{region}.{suffixes[0]}", None, region, "sts", CALLER_IDENTITY, "query"
    )


def _configured_url(env: Mapping[str, str], service_var: str) -> str | None:
    if _truthy(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")):
        return None
    for var in (service_var, "AWS_ENDPOINT_URL"):
        if var in env:
            return env[var]
    return None


def _parse_endpoint_url(configured: str) -> tuple[str, str, int | None] | None:
    if not configured:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(configured)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.username or parts.fragment:
        return None
    return parts.scheme, parts.hostname, port


def _partition(region: str) -> tuple[str, str] | None:
    parts = region.split("-")
    if len(parts) < 3 or not parts[-1].isdigit() or not all(p.isalnum() for p in parts):
        return None
    for prefix, dns, dualstack in _PARTITIONS:
        if region.startswith(prefix):
            if not prefix and (parts[0] not in _AWS_PREFIXES or len(parts) != 3):
                return None  # an iso partition or one we do not know: botocore decides
            if prefix == "us-gov-" and len(parts) != 4:
                return None
            if prefix == "cn-" and len(parts) != 3:
                return None
            return dns, dualstack
    return None


class _Plan:
    """Everything one signed call needs: where, with which keys, through which proxy."""

    __slots__ = ("keys", "proxy", "where")

    def __init__(
        self,
        where: Endpoint,
        keys: tuple[str, str, str | None],
        proxy: tuple[str, int] | None,
    ) -> None:
        self.where, self.keys, self.proxy = where, keys, proxy


def _plan(
    registry: Registry | None,
    operation: str,
    profile: str | None,
    role_arn: str | None,
    env: Mapping[str, str],
    where: Endpoint | None = None,
) -> _Plan | None:
    """How to make ``operation`` (on ``registry``'s ECR API, or at ``where``) without
    botocore, or None when botocore must make it."""
    if role_arn or any(var in env for var in _FOREIGN_ENV):
        return None
    bundle = env.get("AWS_CA_BUNDLE")
    if bundle and not os.path.isfile(bundle):
        return None  # botocore's path names the missing file before any call
    found = static_keys(profile, env)
    if found is None:
        return None
    if where is None and registry is not None:
        where = endpoint(registry, env, operation)
    if where is None:
        return None
    _name, keys = found
    remember_secret(keys[1])
    remember_secret(keys[2])
    proxy = _proxy_for(where, env)
    if isinstance(proxy, bool):
        return None
    return _Plan(where, keys, proxy)


def fetch(
    registry: Registry,
    profile: str | None = None,
    role_arn: str | None = None,
    env: Mapping[str, str] | None = None,
) -> CacheEntry | None:
    """A fresh token, or None when this registry/identity/setting needs botocore."""
    env = os.environ if env is None else env
    plan = _plan(registry, OPERATION, profile, role_arn, env)
    if plan is None:
        return None
    request = {} if registry.public else {"registryIds": [str(registry.account_id)]}
    requested_at = time.time()
    # The same bound as tokens.bound_retries: no new attempt that could not finish in time.
    deadline = time.monotonic() + token_answer.DEADLINE
    try:
        resp = _call(plan, request, env, deadline)
    except Exception as exc:  # mapped exactly as the botocore path maps its errors
        error = _botocore_error(exc, plan.where, plan.proxy, OPERATION)
        raise aws_errors.translate(error, registry, profile) from None
    data = token_answer.authorization_data(resp, registry)
    server_now = http_date(resp["ResponseMetadata"]["HTTPHeaders"].get("date", ""))
    if server_now is None:  # not the one format HTTP/1.1 servers send: the general reading
        server_now = token_answer.lifetime_start(resp, requested_at)
    return token_answer.entry(registry, data, requested_at, None, server_now)


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
        return _call(plan, dict(request), env, None, attempts or _MAX_ATTEMPTS)
    except Exception as exc:
        raise _botocore_error(exc, plan.where, plan.proxy, operation) from None


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
        return _call(plan, {}, env, None, _MAX_ATTEMPTS)
    except Exception as exc:
        raise _botocore_error(exc, plan.where, plan.proxy, CALLER_IDENTITY) from None


# -- transport ---------------------------------------------------------------------------------


def _proxy_for(where: Endpoint, env: Mapping[str, str]) -> tuple[str, int] | bool | None:
    """(host, port) of the proxy to tunnel through, None for none, False: use botocore."""
    if not any(k.lower().endswith("_proxy") for k in env):
        return None
    from urllib.parse import urlsplit

    proxies = environment_proxies(env)
    url = proxies.get(where.scheme)
    if not url:
        return None
    netloc = where.host if where.port is None else f"{where.host}:{where.port}"
    if bypasses_proxy(netloc, proxies):
        return None
    if where.scheme != "https":
        return False  # a forward proxy for plain HTTP: botocore's job
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.username is not None or parts.password is not None:
        return False
    return parts.hostname, port or 80


# urllib.request's reading of the environment (what botocore uses on every OS when a *_proxy
# variable is set), without importing urllib.request (~7 ms: tempfile, email, ...).
# tests/test_fast_token.py holds both functions to urllib.request's.
def environment_proxies(env: Mapping[str, str]) -> dict[str, str]:
    """``urllib.request.getproxies_environment()`` for ``env``: ``scheme_proxy`` variables,
    lower case winning over upper case, an empty lower-case one removing the scheme;
    ``HTTP_PROXY`` ignored in a CGI request (``REQUEST_METHOD`` set)."""
    proxies: dict[str, str] = {}
    for name, value in env.items():
        name = name.lower()
        if value and name[-6:] == "_proxy":
            proxies[name[:-6]] = value
    if "REQUEST_METHOD" in env:
        proxies.pop("http", None)
    for name, value in env.items():
        if name[-6:] == "_proxy":
            name = name.lower()
            if value:
                proxies[name[:-6]] = value
            else:
                proxies.pop(name[:-6], None)
    return proxies


def bypasses_proxy(host: str, proxies: Mapping[str, str]) -> bool:
    """``urllib.request.proxy_bypass_environment(host, proxies)``: ``NO_PROXY`` is ``*`` or
    a comma-separated list of host names and domain suffixes (leading dots ignored), matched
    against the host with and without its port."""
    no_proxy = proxies.get("no")
    if no_proxy is None:
        return False
    if no_proxy == "*":
        return True
    host = host.lower()
    hostonly = host
    head, sep, tail = host.rpartition(":")
    if sep and all(c in "0123456789" for c in tail):
        hostonly = head
    for name in no_proxy.split(","):
        name = name.strip()
        if name:
            name = name.lstrip(".").lower()
            if hostonly == name or host == name:
                return True
            name = "." + name
            if hostonly.endswith(name) or host.endswith(name):
                return True
    return False


def ssl_context(env: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """One client context per process. ``AWS_CA_BUNDLE`` when set; otherwise the system's CA
    directory, whose certificates OpenSSL reads lazily (one hashed file per handshake) instead
    of parsing a whole bundle; the bundle file only where there is no such directory."""
    global _ssl_context
    if _ssl_context is not None:
        return _ssl_context
    import ssl

    env = os.environ if env is None else env
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
    bundle = env.get("AWS_CA_BUNDLE")
    if bundle:
        ctx.load_verify_locations(cafile=os.path.expanduser(bundle))
    else:
        paths = ssl.get_default_verify_paths()
        capath = env.get("SSL_CERT_DIR") or paths.capath
        cafile = env.get("SSL_CERT_FILE")
        if cafile:
            ctx.load_verify_locations(cafile=cafile)
        elif capath and os.path.isdir(capath):
            ctx.load_verify_locations(capath=capath)
        else:
            ctx.load_default_certs()
    _ssl_context = ctx
    return ctx


class _Unparsable(Exception):
    """A success answer whose XML botocore's parser would refuse (``ResponseParserError``)."""


class _Failure(Exception):
    """An HTTP error answer, parsed as botocore's JSON parser does."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str]) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def _call(
    plan: _Plan,
    request: dict[str, Any],
    env: Mapping[str, str],
    deadline: float | None,
    attempts: int = _MAX_ATTEMPTS,
) -> dict[str, Any]:
    from . import __version__, _json, sigv4

    if plan.where.protocol == "query":
        body = f"Action={plan.where.target}&Version=2011-06-15".encode()
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
    plan: _Plan, body: bytes, env: Mapping[str, str], version: str, sigv4: Any, _json: Any
) -> dict[str, Any]:
    from . import http1

    where, proxy = plan.where, plan.proxy
    key, secret, token = plan.keys

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
    )
    raw, status = resp.body, resp.status
    got = {k.lower(): v for k, v in resp.headers}
    if where.protocol == "query":
        return _query_answer(raw, status, got)
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


def _query_answer(raw: bytes, status: int, got: dict[str, str]) -> dict[str, Any]:
    """GetCallerIdentity's XML as botocore's query parser reads it (its three strings), or
    its error (``Error/Code`` and ``Message``; an unreadable body: the status code)."""
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
    if status >= 300:
        code = fields.get("Code") or str(status)
        raise _Failure(status, code, fields.get("Message", ""), got)
    if root is None:
        raise _Unparsable(raw[:200].decode("utf-8", "replace"))
    answer: dict[str, Any] = {k: fields[k] for k in ("UserId", "Account", "Arn") if k in fields}
    answer["ResponseMetadata"] = {"HTTPStatusCode": status, "HTTPHeaders": got}
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


def _botocore_error(
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
