"""Which ECR registry a docker server URL names: account, region, partition, endpoint flavour.

Docker hands a credential helper whatever the user typed or stored (``https://HOST/v2/``,
``HOST:443``, ``HOST/repo``...), so ``normalize`` first reduces it to ``host[:port]``; ``parse``
then recognises only hosts that really are ECR, in every AWS partition, and rejects
look-alikes: answering for ``123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example`` would
hand an AWS token to someone else. ``resolve`` adds ecrpy's aliases (any host mapped to an
account and region in the config) on top.

*Hot*: it imports no ``re`` and no ``dataclasses`` (docs/CONTRIBUTING-hot-path.md), hence
plain string checks instead of regular expressions and ``Registry`` on ``_value.Value``.
"""

from __future__ import annotations

# Importing ``re`` and compiling patterns would cost milliseconds on every `get`; plain string
# checks below do the same job for a fraction of that.
from ._value import Value

TYPE_CHECKING = False  # typing costs ~6 ms at import; mypy and ruff treat this name as True
if TYPE_CHECKING:
    from .config import Config

__all__ = ["Registry", "normalize", "parse", "partition_for_region", "resolve"]

PUBLIC_REGION = "us-east-1"  # ECR Public's API lives only here
PUBLIC_HOSTS = frozenset({"public.ecr.aws", "ecr-public.aws.com"})

# Region prefix -> partition. "us-isob-" and "us-isof-" do not start with "us-iso-" (the
# trailing "-" separates them); every other region is in "aws".
_REGION_PARTITIONS = (
    ("us-gov-", "aws-us-gov"),
    ("us-iso-", "aws-iso"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("eu-isoe-", "aws-iso-e"),
    ("eusc-", "aws-eusc"),
    ("cn-", "aws-cn"),
)
_PARTITION_PREFIX = {
    "aws-us-gov": "us-gov",
    "aws-cn": "cn",
    "aws-eusc": "eusc-de",
    "aws-iso": "us-iso",
    "aws-iso-b": "us-isob",
    "aws-iso-e": "eu-isoe",
    "aws-iso-f": "us-isof",
}
# The commercial partition's region prefixes (botocore partitions.json regionRegex).
_AWS_GEOS = frozenset({"us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"})

# DNS suffix -> (dual-stack?, partitions that use it). aws and aws-us-gov share the commercial
# suffixes; which one applies is decided by the region.
_DOMAINS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "amazonaws.com": (False, ("aws", "aws-us-gov")),
    "on.aws": (True, ("aws", "aws-us-gov")),
    "amazonaws.com.cn": (False, ("aws-cn",)),
    "on.amazonwebservices.com.cn": (True, ("aws-cn",)),
    "amazonaws.eu": (False, ("aws-eusc",)),
    "c2s.ic.gov": (False, ("aws-iso",)),
    "sc2s.sgov.gov": (False, ("aws-iso-b",)),
    "cloud.adc-e.uk": (False, ("aws-iso-e",)),
    "csp.hci.ic.gov": (False, ("aws-iso-f",)),
}
# ACCOUNT.<service>.REGION.DOMAIN. AWS documents dkr.ecr[-fips] on the IPv4 domains and
# dkr-ecr[-fips] on the dual-stack ones, but AWS's own helper (docker-credential-ecr-login,
# `dkr[\.\-]ecr(\-fips)?` on every domain) accepts either spelling on any domain, and so
# does ecrpy: a host that works with the Go helper must work here. The domain decides dual-stack.
_SERVICES = (
    ("dkr.ecr.", False),
    ("dkr.ecr-fips.", True),
    ("dkr-ecr.", False),
    ("dkr-ecr-fips.", True),
)

_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_LABEL_CHARS = _LETTERS | _DIGITS | {"-"}
_IPV6_CHARS = frozenset("0123456789abcdef:.")
_MAX_HOST = 255
_MAX_INPUT = 4096  # bound the work spent on garbage; real URLs are far shorter
_FIELDS = ("host", "account_id", "region", "partition", "fips", "dualstack", "public", "alias")


class Registry(Value):
    """An ECR registry; immutable, compared and hashed by value like a frozen dataclass."""

    __slots__ = _FIELDS

    host: str
    account_id: str | None
    region: str
    partition: str
    fips: bool
    dualstack: bool
    public: bool
    alias: bool

    def __init__(
        self,
        host: str,
        account_id: str | None,
        region: str,
        partition: str,
        fips: bool = False,
        dualstack: bool = False,
        public: bool = False,
        alias: bool = False,
    ) -> None:
        values = (host, account_id, region, partition, fips, dualstack, public, alias)
        for name, value in zip(_FIELDS, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: Registry is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: Registry is immutable")

    def __reduce__(self) -> tuple[type[Registry], tuple[object, ...]]:
        # The default slot-state pickling would go through the refusing __setattr__.
        return (Registry, self._values())

    @property
    def key(self) -> str:
        """Partition, region and account (or "public"): safe in a file name, one per token.

        FIPS and dual-stack hosts of the same account share the key because ECR issues one
        authorization token per account and region, valid on every endpoint flavour.
        """
        return f"{self.partition}_{self.region}_{self.account_id or 'public'}"

    @property
    def api_region(self) -> str:
        """The region to call GetAuthorizationToken in."""
        return PUBLIC_REGION if self.public else self.region


def _valid_name(host: str) -> bool:
    """Docker's domain grammar (distribution/reference): dot-separated labels of letters,
    digits and inner hyphens, each 1-63 long (RFC 1035); or a bracketed IPv6 literal."""
    if host.startswith("["):
        inner = host[1:-1]
        return host.endswith("]") and bool(inner) and set(inner) <= _IPV6_CHARS
    for label in host.split("."):
        if not 0 < len(label) <= 63 or not set(label) <= _LABEL_CHARS:
            return False
        if label[0] == "-" or label[-1] == "-":
            return False
    return True


def normalize(server_url: str) -> str | None:
    """``host[:port]`` in lower case from what a docker client sends, or None for garbage.

    The scheme and any path are dropped. ``:443`` is dropped whatever the scheme: the result
    carries no scheme, so keeping it would make ``normalize`` not idempotent.
    """
    if not isinstance(server_url, str) or len(server_url) > _MAX_INPUT:
        return None
    # Non-ASCII is refused before lower(): some code points fold into ASCII (KELVIN SIGN -> "k").
    if not server_url.isascii():
        return None
    text = server_url.strip().lower()
    if text.startswith("https://"):
        text = text[8:]
    elif text.startswith("http://"):
        text = text[7:]
    authority = text.split("/", 1)[0]
    if not authority or len(authority) > _MAX_HOST:
        return None
    # Userinfo ("@"), other schemes ("ftp:" is left), queries and blanks all fail _valid_name.
    host, port = authority, ""
    colon = authority.rfind(":")
    if colon > authority.rfind("]"):
        host, port = authority[:colon], authority[colon + 1 :]
        if not 0 < len(port) <= 5 or not set(port) <= _DIGITS:
            return None
    if not _valid_name(host):
        return None
    if not port:
        return host
    number = int(port)
    if not 1 <= number <= 65535:
        return None
    return host if number == 443 else f"{host}:{number}"


def partition_for_region(region: str) -> str:
    """The AWS partition a region belongs to (``aws`` for anything not recognised)."""
    for prefix, partition in _REGION_PARTITIONS:
        if region.startswith(prefix):
            return partition
    return "aws"


def _valid_region(region: str, partition: str) -> bool:
    """PREFIX-word-N as botocore's partition regexes allow: letters only in the word, N a
    number without leading zero, PREFIX the partition's own (``eusc-de`` for aws-eusc)."""
    parts = region.split("-")
    if len(parts) < 3:
        return False
    *prefix, word, number = parts
    if not word or not set(word) <= _LETTERS:
        return False
    if not 0 < len(number) <= 2 or not set(number) <= _DIGITS or number[0] == "0":
        return False
    head = "-".join(prefix)
    if partition == "aws":
        return len(prefix) == 1 and head in _AWS_GEOS
    return _PARTITION_PREFIX.get(partition) == head


def parse(server_url: str) -> Registry | None:
    """The ECR registry ``server_url`` names, or None when it is not an ECR host."""
    host = normalize(server_url)
    if host is None:
        return None
    if host in PUBLIC_HOSTS:
        return Registry(host, None, PUBLIC_REGION, "aws", public=True)
    # A port left after normalize is not 443: real ECR serves only https on 443, and ":"
    # fails the domain lookup below.
    account, _, rest = host.partition(".")
    if len(account) != 12 or not set(account) <= _DIGITS:
        return None
    flavour = next((f for f in _SERVICES if rest.startswith(f[0])), None)
    if flavour is None:
        return None
    service, fips = flavour
    region, _, domain = rest[len(service) :].partition(".")
    entry = _DOMAINS.get(domain)
    if entry is None:
        return None
    dualstack = entry[0]
    partition = partition_for_region(region)
    if partition not in entry[1] or not _valid_region(region, partition):
        return None
    return Registry(host, account, region, partition, fips=fips, dualstack=dualstack)


def resolve(server_url: str, config: Config) -> Registry | None:
    """An alias from ecrpy's config when the host has one, else what ``parse`` finds."""
    host = normalize(server_url)
    if host is None:
        return None
    settings = config.for_host(host)
    if settings is None and ":" not in host.rsplit("]", 1)[-1]:
        # normalize drops :443, but a user may have written it in the config key.
        settings = config.for_host(f"{host}:443")
    if settings is not None and settings.is_alias:
        account, region = settings.account_id, settings.region
        assert account is not None and region is not None  # is_alias guarantees both
        return Registry(host, account, region, partition_for_region(region), alias=True)
    return parse(host)


def require(server_url: str, config: Config) -> Registry:
    """``resolve`` for commands: a ``UsageError`` with the fix when the host is not ECR."""
    registry = resolve(server_url, config)
    if registry is None:
        from .errors import UsageError

        raise UsageError(
            f"{server_url!r} is not an ECR registry or a configured alias",
            hint="use ACCOUNT.dkr.ecr.REGION.amazonaws.com or public.ecr.aws, or map the host "
            'to an account and region in ecrpy\'s config ([registries."HOST"] account_id, region)',
        )
    return registry


def host_for(account_id: str, region: str) -> str:
    """The private ECR registry host of ``account_id`` in ``region`` (IPv4, non-FIPS)."""
    partition = partition_for_region(region)
    for domain, (dualstack, partitions) in _DOMAINS.items():
        if not dualstack and partition in partitions:
            return f"{account_id}.dkr.ecr.{region}.{domain}"
    raise ValueError(f"no ECR domain known for region {region!r}")
