"""Where botocore would send an ECR, ECR Public or STS call, and through which proxy, worked out
without botocore or urllib for ``fast_token``: the endpoint (``Endpoint``: host, region,
signing service, target), ``AWS_ENDPOINT_URL*`` and the registry host's FIPS/dual-stack form,
and the ``*_proxy``/``NO_PROXY`` reading of ``urllib.request``. Every function answers None
(or False for a proxy) where botocore would do something this module does not: the caller
then leaves the call to botocore. Cold static-key path: no import beyond the standard
library's ``urllib.parse``, and that only for a configured URL or proxy.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from .registry import Registry

# (partition regex test, DNS suffix, dual-stack DNS suffix), as botocore's partitions.json.
_PARTITIONS = (
    ("cn-", "amazonaws.com.cn", "api.amazonwebservices.com.cn"),
    ("us-gov-", "amazonaws.com", "api.aws"),
    ("", "amazonaws.com", "api.aws"),
)
_AWS_PREFIXES = ("us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx")
OPERATION = "GetAuthorizationToken"
CALLER_IDENTITY = "GetCallerIdentity"


class Endpoint:
    """Where the request goes and how it is signed. ``target``: the JSON protocol's
    ``X-Amz-Target``; for the query protocol (STS, IAM), the operation name, and ``version``
    the API version the form names."""

    __slots__ = ("host", "port", "protocol", "region", "scheme", "service", "target", "version")

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int | None,
        region: str,
        service: str,
        target: str,
        protocol: str = "json",
        version: str = "2011-06-15",
    ) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.region, self.service, self.target = region, service, target
        self.protocol, self.version = protocol, version

    @property
    def url(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}/"


def _truthy(value: str | None) -> bool:
    return (value or "").lower() == "true"


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


# IAM is global: one endpoint per partition, signed for the partition's home region
# (botocore's IAM endpoint rule set: aws-global, aws-cn-global, aws-us-gov-global).
_IAM_HOMES = {
    "amazonaws.com": ("iam.amazonaws.com", "us-east-1"),
    "amazonaws.com.cn": ("iam.cn-north-1.amazonaws.com.cn", "cn-north-1"),
    "us-gov": ("iam.us-gov.amazonaws.com", "us-gov-west-1"),
}
IAM_VERSION = "2010-05-08"


def iam_endpoint(
    region: str, env: Mapping[str, str], operation: str, fips: bool = False, dualstack: bool = False
) -> Endpoint | None:
    """IAM's endpoint as botocore resolves it for a client made in ``region`` (or the
    configured ``AWS_ENDPOINT_URL_IAM``/``AWS_ENDPOINT_URL``, signed for ``region``); None where
    we would diverge (FIPS, dual-stack, a partition we do not know)."""
    if fips or dualstack:
        return None
    configured = _configured_url(env, "AWS_ENDPOINT_URL_IAM")
    if configured is not None:
        found = _parse_endpoint_url(configured)
        if found is None:
            return None
        scheme, host, port = found
        return Endpoint(scheme, host, port, region, "iam", operation, "query", IAM_VERSION)
    suffixes = _partition(region)
    if suffixes is None:
        return None
    home = _IAM_HOMES["us-gov" if region.startswith("us-gov-") else suffixes[0]]
    return Endpoint("https", home[0], None, home[1], "iam", operation, "query", IAM_VERSION)


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


def proxy_for(where: Endpoint, env: Mapping[str, str]) -> tuple[str, int] | bool | None:
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
