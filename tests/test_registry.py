"""Which server URLs are ECR registries, and which merely look like one."""

from __future__ import annotations

import copy
import pickle
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credhelper.config import Config, RegistrySettings
from credhelper.registry import Registry, normalize, parse, partition_for_region, resolve

ACCT = "123456789012"

# ---------------------------------------------------------------------------------------------
# normalize
# ---------------------------------------------------------------------------------------------

NORMALIZED = [
    ("example.com", "example.com"),
    ("  example.com\n", "example.com"),
    ("EXAMPLE.COM", "example.com"),
    ("https://example.com", "example.com"),
    ("HTTPS://Example.Com/", "example.com"),
    ("http://example.com", "example.com"),
    ("example.com/", "example.com"),
    ("example.com/v2/", "example.com"),
    ("https://example.com/v2/", "example.com"),
    ("example.com/team/app", "example.com"),
    ("example.com:443", "example.com"),
    ("https://example.com:443/v2/", "example.com"),
    ("http://example.com:443", "example.com"),  # no scheme in the result: :443 always goes
    ("example.com:0443", "example.com"),
    ("example.com:5000", "example.com:5000"),
    ("http://localhost:5000/v2/", "localhost:5000"),
    ("127.0.0.1:5001", "127.0.0.1:5001"),
    ("example.com:1", "example.com:1"),
    ("example.com:65535", "example.com:65535"),
    ("[::1]:5000", "[::1]:5000"),
    ("a-b.c-d.example", "a-b.c-d.example"),
    ("registry", "registry"),
    (
        f"https://{ACCT}.dkr.ecr.us-east-1.amazonaws.com/v2/",
        f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com",
    ),
    ("x" * 63 + ".example", "x" * 63 + ".example"),
]

NOT_NORMALIZABLE = [
    "",
    "   ",
    "https://",
    "/v2/",
    "exa mple.com",
    "example.com extra",
    "user@example.com",
    "https://user:pass@example.com",
    "example.com:0",
    "example.com:65536",
    "example.com:99999",
    "example.com:",
    "example.com:-1",
    "example.com:44a",
    "example..com",
    ".example.com",
    "example.com.",
    "-example.com",
    "example-.com",
    "exa_mple.com",
    "example.com?x=1",
    "example.com#frag",
    "ftp://example.com",
    "unix:///var/run/docker.sock",
    "x" * 64 + ".example",  # label over 63
    ".".join(["abcdefghi"] * 26),  # 259 characters
    "exämple.com",
    "\u212aelvin.example",  # KELVIN SIGN lower()s to ASCII "k": must not sneak through
    "example.com\x00",
    "https:/example.com",
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZED)
def test_normalize_accepts_what_clients_send(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", NOT_NORMALIZABLE)
def test_normalize_rejects_garbage(raw: str) -> None:
    assert normalize(raw) is None


def test_normalize_rejects_over_long_input() -> None:
    assert normalize("a" * 100_000) is None


# ---------------------------------------------------------------------------------------------
# parse: accepted hosts
# ---------------------------------------------------------------------------------------------

# host, partition, region, fips, dualstack
PRIVATE = [
    (f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com", "aws", "us-east-1", False, False),
    (f"{ACCT}.dkr.ecr.us-west-2.amazonaws.com", "aws", "us-west-2", False, False),
    (f"{ACCT}.dkr.ecr.eu-central-2.amazonaws.com", "aws", "eu-central-2", False, False),
    (f"{ACCT}.dkr.ecr.ap-southeast-5.amazonaws.com", "aws", "ap-southeast-5", False, False),
    (f"{ACCT}.dkr.ecr.sa-east-1.amazonaws.com", "aws", "sa-east-1", False, False),
    (f"{ACCT}.dkr.ecr.ca-west-1.amazonaws.com", "aws", "ca-west-1", False, False),
    (f"{ACCT}.dkr.ecr.me-central-1.amazonaws.com", "aws", "me-central-1", False, False),
    (f"{ACCT}.dkr.ecr.af-south-1.amazonaws.com", "aws", "af-south-1", False, False),
    (f"{ACCT}.dkr.ecr.il-central-1.amazonaws.com", "aws", "il-central-1", False, False),
    (f"{ACCT}.dkr.ecr.mx-central-1.amazonaws.com", "aws", "mx-central-1", False, False),
    (f"{ACCT}.dkr.ecr-fips.us-east-1.amazonaws.com", "aws", "us-east-1", True, False),
    (f"{ACCT}.dkr.ecr-fips.us-west-1.amazonaws.com", "aws", "us-west-1", True, False),
    (f"{ACCT}.dkr-ecr.us-east-1.on.aws", "aws", "us-east-1", False, True),
    (f"{ACCT}.dkr-ecr.eu-west-1.on.aws", "aws", "eu-west-1", False, True),
    (f"{ACCT}.dkr-ecr-fips.us-east-2.on.aws", "aws", "us-east-2", True, True),
    (f"{ACCT}.dkr.ecr.us-gov-west-1.amazonaws.com", "aws-us-gov", "us-gov-west-1", False, False),
    (f"{ACCT}.dkr.ecr.us-gov-east-1.amazonaws.com", "aws-us-gov", "us-gov-east-1", False, False),
    (
        f"{ACCT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
        "aws-us-gov",
        "us-gov-west-1",
        True,
        False,
    ),
    (f"{ACCT}.dkr-ecr.us-gov-east-1.on.aws", "aws-us-gov", "us-gov-east-1", False, True),
    (f"{ACCT}.dkr-ecr-fips.us-gov-west-1.on.aws", "aws-us-gov", "us-gov-west-1", True, True),
    (f"{ACCT}.dkr.ecr.cn-north-1.amazonaws.com.cn", "aws-cn", "cn-north-1", False, False),
    (f"{ACCT}.dkr.ecr.cn-northwest-1.amazonaws.com.cn", "aws-cn", "cn-northwest-1", False, False),
    (
        f"{ACCT}.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
        "aws-cn",
        "cn-north-1",
        False,
        True,
    ),
    (f"{ACCT}.dkr.ecr.eusc-de-east-1.amazonaws.eu", "aws-eusc", "eusc-de-east-1", False, False),
    (f"{ACCT}.dkr.ecr.us-iso-east-1.c2s.ic.gov", "aws-iso", "us-iso-east-1", False, False),
    (f"{ACCT}.dkr.ecr.us-iso-west-1.c2s.ic.gov", "aws-iso", "us-iso-west-1", False, False),
    (f"{ACCT}.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", "aws-iso-b", "us-isob-east-1", False, False),
    (f"{ACCT}.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", "aws-iso-e", "eu-isoe-west-1", False, False),
    (
        f"{ACCT}.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
        "aws-iso-f",
        "us-isof-south-1",
        False,
        False,
    ),
    (f"{ACCT}.dkr.ecr.us-isof-east-1.csp.hci.ic.gov", "aws-iso-f", "us-isof-east-1", False, False),
]


# Every form AWS's Go helper accepts (its ecrPattern: `dkr[\.\-]ecr(\-fips)?` on any of its
# domains, including its own test cases), with the flags ecrpy derives: dual-stack follows
# the domain, FIPS the service label.
GO_HELPER_FORMS = [
    (f"{ACCT}.dkr.ecr.cn-north-1.on.amazonwebservices.com.cn", "aws-cn", "cn-north-1", False, True),
    (f"{ACCT}.dkr-ecr.cn-north-1.amazonaws.com.cn", "aws-cn", "cn-north-1", False, False),
    (f"{ACCT}.dkr-ecr-fips.cn-north-1.on.amazonwebservices.com.cn", "aws-cn", "cn-north-1", True, True),
    (f"{ACCT}.dkr.ecr.us-east-1.on.aws", "aws", "us-east-1", False, True),
    (f"{ACCT}.dkr.ecr-fips.us-east-1.on.aws", "aws", "us-east-1", True, True),
    (f"{ACCT}.dkr-ecr.us-west-2.amazonaws.com", "aws", "us-west-2", False, False),
    (f"{ACCT}.dkr-ecr-fips.us-east-1.amazonaws.com", "aws", "us-east-1", True, False),
    (f"{ACCT}.dkr-ecr.us-west-2.on.aws", "aws", "us-west-2", False, True),
    (f"{ACCT}.dkr-ecr-fips.us-west-2.on.aws", "aws", "us-west-2", True, True),
    (f"{ACCT}.dkr.ecr-fips.us-gov-west-1.on.aws", "aws-us-gov", "us-gov-west-1", True, True),
    (f"{ACCT}.dkr-ecr.us-gov-east-1.amazonaws.com", "aws-us-gov", "us-gov-east-1", False, False),
    (f"{ACCT}.dkr-ecr.eusc-de-east-1.amazonaws.eu", "aws-eusc", "eusc-de-east-1", False, False),
    (f"{ACCT}.dkr-ecr.us-iso-east-1.c2s.ic.gov", "aws-iso", "us-iso-east-1", False, False),
    (f"{ACCT}.dkr.ecr-fips.us-isob-east-1.sc2s.sgov.gov", "aws-iso-b", "us-isob-east-1", True, False),
    (f"{ACCT}.dkr-ecr.eu-isoe-west-1.cloud.adc-e.uk", "aws-iso-e", "eu-isoe-west-1", False, False),
    (f"{ACCT}.dkr-ecr.us-isof-east-1.csp.hci.ic.gov", "aws-iso-f", "us-isof-east-1", False, False),
    (f"https://{ACCT}.DKR-ECR.US-WEST-2.ON.AWS/v2/", "aws", "us-west-2", False, True),
]


@pytest.mark.parametrize(("host", "partition", "region", "fips", "dualstack"), GO_HELPER_FORMS)
def test_parse_accepts_every_go_helper_form(
    host: str, partition: str, region: str, fips: bool, dualstack: bool
) -> None:
    reg = parse(host)
    assert reg is not None, host
    assert (reg.account_id, reg.partition, reg.region) == (ACCT, partition, region)
    assert (reg.fips, reg.dualstack, reg.public) == (fips, dualstack, False)
    # one token per account and region, whatever the spelling
    assert reg.key == f"{partition}_{region}_{ACCT}"


@pytest.mark.parametrize(("host", "partition", "region", "fips", "dualstack"), PRIVATE)
def test_parse_recognises_private_ecr(
    host: str, partition: str, region: str, fips: bool, dualstack: bool
) -> None:
    reg = parse(host)
    assert reg == Registry(host, ACCT, region, partition, fips=fips, dualstack=dualstack)
    assert reg is not None
    assert (reg.public, reg.alias) == (False, False)
    assert reg.key == f"{partition}_{region}_{ACCT}"
    assert reg.api_region == region


@pytest.mark.parametrize(
    "decorated",
    [
        "https://{h}",
        "https://{h}/",
        "https://{h}/v2/",
        "{h}:443",
        "https://{h}:443/v2/",
        "  {h}  ",
        "{h}/team/app",
        "HTTPS://{H}/V2/",
    ],
)
def test_parse_accepts_decorated_forms(decorated: str) -> None:
    host = f"{ACCT}.dkr.ecr.eu-west-1.amazonaws.com"
    reg = parse(decorated.format(h=host, H=host.upper()))
    assert reg is not None
    assert reg.host == host
    assert (reg.account_id, reg.region, reg.partition) == (ACCT, "eu-west-1", "aws")


@pytest.mark.parametrize("host", ["public.ecr.aws", "ecr-public.aws.com"])
@pytest.mark.parametrize("form", ["{h}", "https://{h}/", "https://{h}/v2/", "{h}:443"])
def test_parse_recognises_ecr_public(host: str, form: str) -> None:
    reg = parse(form.format(h=host))
    assert reg == Registry(host, None, "us-east-1", "aws", public=True)
    assert reg is not None
    assert reg.key == "aws_us-east-1_public"
    assert reg.api_region == "us-east-1"


# ---------------------------------------------------------------------------------------------
# parse: rejected hosts
# ---------------------------------------------------------------------------------------------

REJECTED = [
    # look-alikes
    f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com.evil.example",
    f"{ACCT}.dkr.ecr.us-east-1.evil-amazonaws.com",
    f"{ACCT}.dkr.ecr.us-east-1.amazonaws.co",
    f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com.cn.evil.example",
    f"evil.{ACCT}.dkr.ecr.us-east-1.amazonaws.com",
    f"{ACCT}.dkr.ecr.us-east-1.xamazonaws.com",
    f"{ACCT}.dkr.ecr.us-east-1.on.aws.evil.example",
    f"{ACCT}.dkr.ecrx.us-east-1.amazonaws.com",
    f"{ACCT}.dkr.ecr.us-east-1.amazonaws",
    f"{ACCT}.ecr.us-east-1.amazonaws.com",
    f"{ACCT}.api.ecr.us-east-1.amazonaws.com",
    "api.ecr.us-east-1.amazonaws.com",
    "evil-amazonaws.com",
    "amazonaws.com",
    "public.ecr.aws.evil.example",
    "evil.public.ecr.aws",
    "public.ecr.aws:5000",
    "xpublic.ecr.aws",
    # account ids
    f"{ACCT[:-1]}.dkr.ecr.us-east-1.amazonaws.com",
    f"{ACCT}3.dkr.ecr.us-east-1.amazonaws.com",
    "12345678901a.dkr.ecr.us-east-1.amazonaws.com",
    ".dkr.ecr.us-east-1.amazonaws.com",
    # empty labels / bad shapes
    f"{ACCT}..dkr.ecr.us-east-1.amazonaws.com",
    f"{ACCT}.dkr..ecr.us-east-1.amazonaws.com",
    f"{ACCT}.dkr.ecr..amazonaws.com",
    f"{ACCT}.dkr.ecr.us-east-1..amazonaws.com",
    f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com.",
    # regions
    f"{ACCT}.dkr.ecr.useast1.amazonaws.com",
    f"{ACCT}.dkr.ecr.us-east.amazonaws.com",
    f"{ACCT}.dkr.ecr.us-east-01.amazonaws.com",
    f"{ACCT}.dkr.ecr.us-east-100.amazonaws.com",
    f"{ACCT}.dkr.ecr.us-east-1a.amazonaws.com",
    f"{ACCT}.dkr.ecr.xx-east-1.amazonaws.com",
    f"{ACCT}.dkr.ecr.us-1.amazonaws.com",
    f"{ACCT}.dkr.ecr.-east-1.amazonaws.com",
    # partition vs domain
    f"{ACCT}.dkr.ecr.cn-north-1.amazonaws.com",
    f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com.cn",
    f"{ACCT}.dkr-ecr.us-east-1.on.amazonwebservices.com.cn",
    f"{ACCT}.dkr-ecr.cn-north-1.on.aws",
    f"{ACCT}.dkr.ecr.us-east-1.c2s.ic.gov",
    f"{ACCT}.dkr.ecr.us-isob-east-1.c2s.ic.gov",
    f"{ACCT}.dkr.ecr.us-iso-east-1.sc2s.sgov.gov",
    f"{ACCT}.dkr.ecr.us-iso-east-1.amazonaws.com",
    f"{ACCT}.dkr.ecr.eu-isoe-west-1.amazonaws.com",
    f"{ACCT}.dkr.ecr.eu-west-1.cloud.adc-e.uk",
    f"{ACCT}.dkr.ecr.us-isof-south-1.c2s.ic.gov",
    f"{ACCT}.dkr.ecr.eu-central-1.amazonaws.eu",
    f"{ACCT}.dkr.ecr.eusc-de-east-1.amazonaws.com",
    f"{ACCT}.dkr.ecr.eusc-fr-east-1.amazonaws.eu",
    f"{ACCT}.dkr.ecr.us-gov-west-1.amazonaws.com.cn",
    # not a registry domain: api.aws is the dual-stack *API* domain (ecr.REGION.api.aws), and
    # the Go helper rejects these too
    f"{ACCT}.dkr.ecr.us-east-1.api.aws",
    f"{ACCT}.dkr-ecr.us-east-1.api.aws",
    f"{ACCT}.dkr.ecr.cn-north-1.on.aws.com.cn",
    f"{ACCT}.dkr_ecr.us-east-1.amazonaws.com",
    f"{ACCT}.dkr.ecr-FIPS.us-east-1.on.aws:444",
    f"{ACCT}.dkr.ecr.fips.us-east-1.amazonaws.com",
    f"{ACCT}.dkr-ecr-fips-fips.us-east-1.on.aws",
    f"{ACCT}.dkr.ecr.us-west-2.amazonaws.com.fake.example.com",
    f"{ACCT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com.fake.example.com",
    f"{ACCT}.dkr.ecr.cn-north-1.amazonaws.com.cn.fake.example.com.cn",
    ".dkr.ecr.us-east-1.amazonaws.com",
    # ports other than 443, userinfo, garbage
    f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com:5000",
    f"https://{ACCT}.dkr.ecr.us-east-1.amazonaws.com:8443/v2/",
    f"user@{ACCT}.dkr.ecr.us-east-1.amazonaws.com",
    f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com:0",
    "",
    "localhost:5000",
    "docker.io",
    "ghcr.io",
]


@pytest.mark.parametrize("host", REJECTED)
def test_parse_rejects(host: str) -> None:
    assert parse(host) is None


def test_private_table_covers_every_domain_partition_spelling_and_geo_the_parser_knows() -> None:
    """A domain, partition, service spelling or region prefix added to registry.py without a
    row in PRIVATE fails here (the rows are what test_parse_recognises_private_ecr checks)."""
    from credhelper import registry

    hosts = [row[0] for row in PRIVATE]
    domains = {d for d in registry._DOMAINS if any(h.endswith("." + d) for h in hosts)}
    assert domains == set(registry._DOMAINS)
    assert {row[1] for row in PRIVATE} == {"aws", *registry._PARTITION_PREFIX}
    spellings = {s for s, _ in registry._SERVICES if any(f".{s}" in h for h in hosts)}
    assert spellings == {s for s, _ in registry._SERVICES}
    geos = {row[2].split("-")[0] for row in PRIVATE if row[1] == "aws"}
    assert registry._AWS_GEOS <= geos


# ---------------------------------------------------------------------------------------------
# Registry behaves like a frozen dataclass
# ---------------------------------------------------------------------------------------------


def test_registry_is_immutable() -> None:
    reg = parse(f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com")
    assert reg is not None
    with pytest.raises(AttributeError):
        reg.region = "eu-west-1"
    with pytest.raises(AttributeError):
        del reg.host
    with pytest.raises(AttributeError):
        reg.extra = 1
    assert reg.region == "us-east-1"


def test_registry_value_semantics() -> None:
    a = parse(f"https://{ACCT}.dkr.ecr.us-east-1.amazonaws.com/v2/")
    b = parse(f"{ACCT}.DKR.ECR.US-EAST-1.AMAZONAWS.COM")
    c = parse(f"{ACCT}.dkr.ecr.us-east-2.amazonaws.com")
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert len({a, b, c}) == 2
    assert a != "not a registry"
    assert copy.deepcopy(a) == a
    assert pickle.loads(pickle.dumps(a)) == a
    assert repr(a) == (
        f"Registry(host='{ACCT}.dkr.ecr.us-east-1.amazonaws.com', account_id='{ACCT}', "
        "region='us-east-1', partition='aws', fips=False, dualstack=False, public=False, "
        "alias=False)"
    )


def test_fips_and_dualstack_share_the_key_of_their_account() -> None:
    hosts = [
        f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com",
        f"{ACCT}.dkr.ecr-fips.us-east-1.amazonaws.com",
        f"{ACCT}.dkr-ecr.us-east-1.on.aws",
        f"{ACCT}.dkr-ecr-fips.us-east-1.on.aws",
    ]
    keys = {r.key for r in map(parse, hosts) if r is not None}
    assert keys == {f"aws_us-east-1_{ACCT}"}


def test_key_is_a_safe_file_name_part() -> None:
    for host, *_ in PRIVATE:
        reg = parse(host)
        assert reg is not None
        assert set(reg.key) <= set(string.ascii_lowercase + string.digits + "-_")


# ---------------------------------------------------------------------------------------------
# partitions and aliases
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-west-3", "aws"),
        ("us-gov-west-1", "aws-us-gov"),
        ("cn-northwest-1", "aws-cn"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        ("eu-isoe-west-1", "aws-iso-e"),
        ("us-isof-south-1", "aws-iso-f"),
        ("eusc-de-east-1", "aws-eusc"),
    ],
)
def test_partition_for_region(region: str, partition: str) -> None:
    assert partition_for_region(region) == partition


def _config(**hosts: RegistrySettings) -> Config:
    return Config(registries={s.host: s for s in hosts.values()})


def test_resolve_alias_from_config() -> None:
    cfg = _config(a=RegistrySettings("127.0.0.1:5001", account_id=ACCT, region="us-gov-east-1"))
    reg = resolve("http://127.0.0.1:5001/v2/", cfg)
    assert reg == Registry("127.0.0.1:5001", ACCT, "us-gov-east-1", "aws-us-gov", alias=True)
    assert reg is not None and reg.key == f"aws-us-gov_us-gov-east-1_{ACCT}"


def test_resolve_alias_written_with_port_443() -> None:
    cfg = _config(a=RegistrySettings("mirror.example:443", account_id=ACCT, region="eu-west-1"))
    reg = resolve("https://mirror.example/v2/", cfg)
    assert reg is not None and reg.alias and reg.region == "eu-west-1"


def test_resolve_settings_without_alias_fall_back_to_parse() -> None:
    host = f"{ACCT}.dkr.ecr.eu-west-1.amazonaws.com"
    cfg = _config(a=RegistrySettings(host, profile="prod"))
    assert resolve(f"https://{host}/", cfg) == parse(host)
    assert resolve("localhost:5000", cfg) is None
    assert resolve("not a host", cfg) is None


def test_resolve_alias_overrides_a_real_ecr_host() -> None:
    host = f"{ACCT}.dkr.ecr.eu-west-1.amazonaws.com"
    cfg = _config(a=RegistrySettings(host, account_id="210987654321", region="eu-west-2"))
    reg = resolve(host, cfg)
    assert reg is not None and reg.alias and reg.account_id == "210987654321"


def test_resolve_with_empty_config() -> None:
    assert resolve("public.ecr.aws", Config()) == parse("public.ecr.aws")


# ---------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------

_ALPHABET = string.ascii_letters + string.digits + ".-:/@_[] \t\n" + "é\u212a\x00"
_PARTITION_REGIONS = [
    ("us-east-1", "amazonaws.com", "on.aws"),
    ("us-gov-west-1", "amazonaws.com", "on.aws"),
    ("cn-north-1", "amazonaws.com.cn", "on.amazonwebservices.com.cn"),
    ("eusc-de-east-1", "amazonaws.eu", None),
    ("us-iso-east-1", "c2s.ic.gov", None),
    ("us-isob-east-1", "sc2s.sgov.gov", None),
    ("eu-isoe-west-1", "cloud.adc-e.uk", None),
    ("us-isof-south-1", "csp.hci.ic.gov", None),
]


@st.composite
def ecr_hosts(draw: st.DrawFn) -> tuple[str, str, str, bool, bool]:
    account = draw(st.from_regex(r"\A[0-9]{12}\Z"))
    region, domain, dual_domain = draw(st.sampled_from(_PARTITION_REGIONS))
    dualstack = dual_domain is not None and draw(st.booleans())
    fips = draw(st.booleans())
    service = ("dkr-ecr" if dualstack else "dkr.ecr") + ("-fips" if fips else "")
    host = f"{account}.{service}.{region}.{dual_domain if dualstack else domain}"
    return host, account, region, fips, dualstack


@settings(max_examples=300)
@given(st.text(alphabet=_ALPHABET, max_size=80) | st.text(max_size=80))
def test_parse_never_raises_and_accepted_hosts_round_trip(text: str) -> None:
    norm = normalize(text)
    reg = parse(text)
    if norm is not None:
        assert normalize(norm) == norm
    if reg is not None:
        assert norm == reg.host
        assert normalize(reg.host) == reg.host
        assert parse(reg.host) == reg


@settings(max_examples=300)
@given(
    st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9.-]{0,40}(:[0-9]{1,5})?\Z"),
    st.sampled_from(["", "https://", "http://", "HTTPS://"]),
    st.sampled_from(["", "/", "/v2/", "/a/b"]),
)
def test_normalize_is_idempotent_on_decorated_hosts(host: str, scheme: str, path: str) -> None:
    norm = normalize(f"{scheme}{host}{path}")
    if norm is not None:
        assert normalize(norm) == norm
        assert norm == norm.lower()
        assert not norm.endswith(":443")


@settings(max_examples=200)
@given(ecr_hosts(), st.sampled_from(["{h}", "https://{h}/v2/", "{H}:443", " http://{h}/x "]))
def test_every_generated_ecr_host_parses(case: tuple[str, str, str, bool, bool], form: str) -> None:
    host, account, region, fips, dualstack = case
    reg = parse(form.format(h=host, H=host.upper()))
    assert reg is not None
    assert (reg.host, reg.account_id, reg.region) == (host, account, region)
    assert (reg.fips, reg.dualstack, reg.public, reg.alias) == (fips, dualstack, False, False)
    assert reg.partition == partition_for_region(region)
    assert parse(f"{host}.evil.example") is None
    assert parse(f"{host}:444") is None


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us-east-1", "123456789012.dkr.ecr.us-east-1.amazonaws.com"),
        ("us-gov-west-1", "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com"),
        ("cn-north-1", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"),
        ("us-iso-east-1", "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov"),
        ("eusc-de-east-1", "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu"),
    ],
)
def test_host_for_round_trips(region: str, host: str) -> None:
    from credhelper.registry import host_for

    assert host_for("123456789012", region) == host
    parsed = parse(host)
    assert parsed is not None and parsed.region == region and parsed.account_id == "123456789012"
