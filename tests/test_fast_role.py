"""Role sessions without botocore (credhelper.fast_role), held to botocore 1.44.8.

What is held to what:

* the AWS CLI cache key (``fast_role.cache_key`` of ``_Request.cache_args``) to
  ``AssumeRoleCredentialFetcher``/``AssumeRoleWithWebIdentityCredentialFetcher._cache_key``;
* the reading of an ``Expiration`` (``fast_role.expiry``) to botocore's
  (``credentials._parse_if_needed``, i.e. dateutil), and the text written to the cache
  (``fast_role._cache_text``) to what botocore reads back;
* the STS answer (``query_xml.parse_sts_result``, its STS tables) to botocore's STS model and
  ``QueryParser``, on moto's answers and on AWS's documented ones;
* ``tokens.fetch`` through fast_role to ``tokens.fetch`` through botocore: the same answers and
  errors, the same number of AssumeRole*/GetAuthorizationToken calls, the same credential
  expiry;
* the AWS CLI JSON cache to botocore's ``JSONFileCache`` use: each side reads the other's
  entries, the same 15-minute window, the same file names, entries botocore would read
  differently left to botocore;
* what fast_role leaves to botocore (MFA, chains, other sources, settings it does not
  implement), and the secrets it registers for redaction.
"""

from __future__ import annotations

import json
import os
import stat
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from credhelper import fast_role, fast_token, logs, query_xml, signed_call, tokens
from credhelper.errors import EcrpyError
from tests.support import (
    MOTO_ECR_PASSWORD,
    MOTO_REGION,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    ecr_host,
    fast_paths,
)
from tests.support.aws_server import AwsServer

GAT = "GetAuthorizationToken"
ASSUME = "AssumeRole"
WEB = "AssumeRoleWithWebIdentity"
HOST = ecr_host()
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"],
            }
        ],
    }
)
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm9yZy9hcHAifQ.c2lnbmF0dXJl"


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture
def env(helper_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """helper_env applied to this process (both paths read os.environ); retries without the
    back-off wait."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "ECRPY_")) or key.lower().endswith("_proxy"):
            monkeypatch.delenv(key)
    for key, value in helper_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(signed_call, "_ssl_context", None)
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    yield helper_env


@pytest.fixture
def role_arn(aws: AwsServer) -> str:
    iam = aws.client("iam")
    name = f"fast-role-{os.urandom(4).hex()}"
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])




def _cli_cache() -> Path:
    return Path(os.environ["HOME"]) / ".aws" / "cli" / "cache"


def _clear_cli_cache() -> None:
    for entry in _cli_cache().glob("*"):
        entry.unlink()


def _entries() -> list[Path]:
    return sorted(_cli_cache().glob("*.json"))


def _write_aws_files(config: str, credentials: str = "") -> None:
    Path(os.environ["AWS_CONFIG_FILE"]).write_text(config)
    Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).write_text(credentials)


def _without_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")


SOURCE_KEYS = (
    f"[src]\naws_access_key_id = {TEST_ACCESS_KEY_ID}\n"
    f"aws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n"
)
IDENTITIES = ["source-profile", "credential-source", "web-identity-env", "web-identity-profile"]


def _use_identity(
    kind: str,
    role_arn: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    role_settings: str = "",
) -> tuple[str | None, str]:
    """Configure this process for one role identity: (the profile to pass to tokens.fetch,
    the STS operation that identity makes). ``role_settings``: extra lines for the role's
    profile."""
    token_file = tmp_path / "oidc-token"
    token_file.write_text(JWT)
    if kind == "source-profile":
        _without_env_keys(monkeypatch)
        _write_aws_files(
            f"[profile src]\nregion = {MOTO_REGION}\n\n"
            f"[profile deploy]\nrole_arn = {role_arn}\nsource_profile = src\n{role_settings}",
            SOURCE_KEYS,
        )
        monkeypatch.setenv("AWS_PROFILE", "deploy")
        return None, ASSUME
    if kind == "credential-source":  # env keys as the source; the profile passed explicitly
        _write_aws_files(
            f"[profile envrole]\nrole_arn = {role_arn}\ncredential_source = Environment\n"
            f"{role_settings}"
        )
        return "envrole", ASSUME
    if kind == "web-identity-env":
        _without_env_keys(monkeypatch)
        _write_aws_files("")
        monkeypatch.setenv("AWS_ROLE_ARN", role_arn)
        monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
        return None, WEB
    assert kind == "web-identity-profile"
    _without_env_keys(monkeypatch)
    _write_aws_files(
        f"[profile oidc]\nrole_arn = {role_arn}\nweb_identity_token_file = {token_file}\n"
        f"role_session_name = ci-run\n{role_settings}"
    )
    monkeypatch.setenv("AWS_PROFILE", "oidc")
    return None, WEB


def _session(profile: str | None) -> tuple[tuple[str, str, str | None], float] | None:
    return fast_role.session(profile, os.environ, MOTO_REGION, time.monotonic() + 30)


def _sts_calls(aws: AwsServer) -> int:
    return aws.calls(ASSUME) + aws.calls(WEB)


# -- the cache key ----------------------------------------------------------------------------

_optional_text = st.none() | st.just("") | st.text()


def _no_client(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("computing a cache key makes no client")


def _botocore_key(fetcher: Any) -> str:
    """The key botocore's fetcher computed in its constructor (CachedCredentialFetcher)."""
    key: str = fetcher._cache_key
    return key


def _extra(
    session_name: str | None, external_id: str | None, duration: int | None
) -> dict[str, Any]:
    """The extra_args botocore's providers pass: only the settings the profile has."""
    extra: dict[str, Any] = {}
    if session_name is not None:
        extra["RoleSessionName"] = session_name
    if external_id is not None:
        extra["ExternalId"] = external_id
    if duration is not None:
        extra["DurationSeconds"] = duration
    return extra


@settings(max_examples=300, deadline=None)
@given(
    arn=st.text(),
    session_name=_optional_text,
    external_id=_optional_text,
    duration=st.none() | st.integers(),
)
@example(arn="arn:aws:iam::123456789012:role/x", session_name=None, external_id=None, duration=None)
@example(arn="arn:aws:iam::1:role/é", session_name="", external_id="ü", duration=3600)
def test_assume_role_cache_key_is_botocores(
    arn: str, session_name: str | None, external_id: str | None, duration: int | None
) -> None:
    from botocore.credentials import AssumeRoleCredentialFetcher

    extra = _extra(session_name, external_id, duration)
    ours = fast_role.cache_key(
        fast_role._Request(ASSUME, {"RoleArn": arn, **extra}, None, None).cache_args
    )
    theirs = _botocore_key(
        AssumeRoleCredentialFetcher(
            client_creator=_no_client, source_credentials=None, role_arn=arn, extra_args=extra
        )
    )
    assert ours == theirs


@settings(max_examples=200, deadline=None)
@given(arn=st.text(), session_name=_optional_text)
@example(arn="arn:aws:iam::123456789012:role/ci", session_name="")
def test_web_identity_cache_key_is_botocores(arn: str, session_name: str | None) -> None:
    from botocore.credentials import AssumeRoleWithWebIdentityCredentialFetcher

    extra = _extra(session_name, None, None)
    request = fast_role._Request(WEB, {"RoleArn": arn, **extra}, None, "token-file")
    theirs = _botocore_key(
        AssumeRoleWithWebIdentityCredentialFetcher(
            client_creator=_no_client,
            web_identity_token_loader=lambda: "t",
            role_arn=arn,
            extra_args=extra,
        )
    )
    assert fast_role.cache_key(request.cache_args) == theirs


def test_a_generated_session_name_is_sent_but_not_hashed() -> None:
    """botocore's generated name: ``botocore-session-<epoch>`` in the request, not in the key
    (so every run of the same role shares the cached session)."""
    before = int(time.time())
    request = fast_role._Request(ASSUME, {"RoleArn": "arn:aws:iam::1:role/r"}, None, None)
    name = request.args["RoleSessionName"]
    assert name.startswith("botocore-session-")
    assert before <= int(name.rsplit("-", 1)[1]) <= int(time.time())
    assert request.cache_args == {"RoleArn": "arn:aws:iam::1:role/r"}


# -- the Expiration, read as botocore reads it ----------------------------------------------------

_UTC_NAMES = ["Z", "UTC", "GMT", "+00:00", "+0000", "-00:00", "-0000"]


@st.composite
def _zones(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(_UTC_NAMES))
    sign = draw(st.sampled_from("+-"))
    hours, minutes = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    colon = draw(st.sampled_from(["", ":"]))
    return f"{sign}{hours:02d}{colon}{minutes:02d}"


def _stamp(when: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` with a four-digit year (strftime's %Y drops leading zeros)."""
    return f"{when.year:04d}-{when:%m-%dT%H:%M:%S}"


_expirations = st.builds(
    lambda when, fraction, zone: _stamp(when) + (f".{fraction}" if fraction else "") + zone,
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.none() | st.text(alphabet="0123456789", min_size=1, max_size=9),
    _zones(),
)


def _botocore_time(text: str) -> datetime:
    """botocore's reading of a cached or answered Expiration (``CachedCredentialFetcher``'s
    ``_is_expired``; dateutil underneath)."""
    from botocore import credentials

    parsed: datetime = credentials._parse_if_needed(text)  # type: ignore[attr-defined]
    return parsed


@settings(max_examples=500, deadline=None)
@given(_expirations)
@example("2026-11-30T10:00:00Z")  # AWS
@example("2026-11-30T10:00:00UTC")  # botocore's cache
@example("2026-11-30T10:00:00.448000Z")  # moto
@example("2026-11-30T10:00:00.1234567+05:30")
@example("2026-11-30T10:00:00-0800")
def test_expirations_are_read_as_botocore_reads_them(text: str) -> None:
    assert fast_role.expiry(text) == _botocore_time(text).timestamp()


# \u00b2 superscript two, \u0665 Arabic-Indic five, \uff10 fullwidth zero: isdigit(), not ASCII
_MUTATION_CHARS = "0123456789-:.+TZzUCGMt \t\u00b2\u0665\uff10/,"


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text: str = draw(_expirations)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(text)))
        what = draw(st.sampled_from(["replace", "insert", "delete", "cut"]))
        char = draw(st.sampled_from(_MUTATION_CHARS) | st.characters())
        if what == "replace" and where < len(text):
            text = text[:where] + char + text[where + 1 :]
        elif what == "insert":
            text = text[:where] + char + text[where:]
        elif what == "delete":
            text = text[:where] + text[where + 1 :]
        else:
            text = text[:where]
    return text


@settings(max_examples=1500, deadline=None)
@given(_mutated() | st.text(max_size=40))
@example("2026-11-30T10:00:00")  # no time zone: botocore cannot compare it with its aware now
@example("2026-11-30T10:00:00.Z")
@example("2026-11-30T10:00:00+0\u00b2:00")
@example("2026-11-30T10:00:00+24:00")
@example("2026-02-30T10:00:00Z")
@example("2026-11-30 10:00:00Z")
def test_an_expiration_is_read_only_when_botocore_agrees(text: str) -> None:
    """fast_role answers only where botocore's reading gives the same aware instant; anything
    else is ``Defer`` (botocore's path then reads, or fails on, the same text)."""
    try:
        ours = fast_role.expiry(text)
    except fast_role.Defer:
        return
    theirs = _botocore_time(text)  # raises (fails the test) where botocore cannot read it
    assert theirs.tzinfo is not None and theirs.utcoffset() is not None, text
    assert ours == theirs.timestamp(), text


def test_a_naive_expiration_is_left_to_botocore() -> None:
    text = "2026-11-30T10:00:00"
    with pytest.raises(fast_role.Defer):
        fast_role.expiry(text)
    assert _botocore_time(text).tzinfo is None  # botocore's _is_expired would fail on it
    for other in (None, 1767225600, "", "2026-11-30"):
        with pytest.raises(fast_role.Defer):
            fast_role.expiry(other)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0, max_value=253_402_300_799, allow_nan=False))
@example(1_767_225_600.999)
def test_the_cache_text_is_read_back_by_botocore(expires_at: float) -> None:
    text = fast_role._cache_text(expires_at)
    written_by_botocore = datetime.fromtimestamp(int(expires_at), timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S%Z"
    )
    assert text == written_by_botocore and text.endswith("UTC")
    assert _botocore_time(text).timestamp() == int(expires_at)
    assert fast_role.expiry(text) == int(expires_at)


# -- the STS answer, parsed as botocore parses it ------------------------------------------------


def _sts_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sts")


def _member_types(shape: Any, found: dict[str, str]) -> None:
    """Every member name under ``shape`` (at any depth) with its botocore type."""
    for name, member in shape.members.items():
        assert found.setdefault(name, member.type_name) == member.type_name, name  # one type
        if member.type_name == "structure":
            _member_types(member, found)
        elif member.type_name == "map":
            assert (member.key.type_name, member.value.type_name) == ("string", "string"), name
            assert not member.serialization.get("flattened"), name  # <entry><key/><value/>


def test_sts_tables_are_botocores_model() -> None:
    """query_xml's STS tables name exactly the structure, map and integer members of both
    outputs (at any depth); every other member is a string or a timestamp, which
    parse_sts_result keeps as text."""
    model = _sts_model()
    found: dict[str, str] = {}
    for operation in sorted(query_xml.STS_OPERATIONS):
        _member_types(model.operation_model(operation).output_shape, found)
    assert query_xml.STS_OPERATIONS == {ASSUME, WEB}
    assert {n for n, t in found.items() if t == "structure"} == query_xml.STS_STRUCTURES
    assert {n for n, t in found.items() if t == "map"} == query_xml.STS_MAPS
    assert {n for n, t in found.items() if t in ("integer", "long")} == query_xml.STS_INTEGERS
    others = {t for t in found.values() if t not in ("structure", "map", "integer", "long")}
    assert others <= {"string", "timestamp"}


def _compare_with_botocore(raw: bytes, operation: str) -> dict[str, Any]:
    """parse_sts_result and botocore's QueryParser on the same bytes: equal, with the
    Expiration compared as an instant. Returns ours."""
    from botocore.parsers import QueryParser

    output = _sts_model().operation_model(operation).output_shape
    theirs = QueryParser().parse({"body": raw, "headers": {}, "status_code": 200}, output)
    theirs.pop("ResponseMetadata", None)
    ours = query_xml.parse_sts_result(ET.fromstring(raw), operation)
    their_expiry = theirs["Credentials"].pop("Expiration")
    our_expiry = ours["Credentials"].pop("Expiration")
    assert fast_role.expiry(our_expiry) == their_expiry.timestamp()
    assert ours == theirs
    return ours


def _moto_answer(aws: AwsServer, operation: str, **params: Any) -> bytes:
    """moto's raw answer to one STS call made by botocore (captured as it is received)."""
    client = aws.client("sts")
    raw: list[bytes] = []

    def capture(response_dict: Any = None, **_: Any) -> None:
        if response_dict is not None:
            raw.append(response_dict["body"])

    client.meta.events.register(f"response-received.sts.{operation}", capture)
    method = {ASSUME: client.assume_role, WEB: client.assume_role_with_web_identity}[operation]
    method(**params)
    (body,) = raw
    return body


def test_moto_answers_parse_as_botocore_parses_them(aws: AwsServer, role_arn: str) -> None:
    assume = _moto_answer(
        aws, ASSUME, RoleArn=role_arn, RoleSessionName="s1", ExternalId="ext-1", DurationSeconds=900
    )
    ours = _compare_with_botocore(assume, ASSUME)
    assert set(ours["Credentials"]) == {"AccessKeyId", "SecretAccessKey", "SessionToken"}
    web = _moto_answer(aws, WEB, RoleArn=role_arn, RoleSessionName="s2", WebIdentityToken=JWT)
    ours = _compare_with_botocore(web, WEB)
    assert ours["AssumedRoleUser"]["Arn"].endswith("/s2")


# AWS's documented example answers (STS API reference), completed with the members botocore's
# model has and the examples predate (token size/utilization, the identity propagation context).
AWS_ASSUME_ROLE = b"""<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleResult>
<SourceIdentity>DevUser123</SourceIdentity>
  <AssumedRoleUser>
    <Arn>arn:aws:sts::123456789012:assumed-role/demo/John</Arn>
    <AssumedRoleId>ARO123EXAMPLE123:John</AssumedRoleId>
  </AssumedRoleUser>
  <Credentials>
    <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
    <SessionToken>
     AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW
     LWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGd
     QrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU
     9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz
     +scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==
    </SessionToken>
    <Expiration>2019-11-09T13:34:41Z</Expiration>
  </Credentials>
  <PackedPolicySize>6</PackedPolicySize>
  <SessionTokenUtilization>42</SessionTokenUtilization>
  <SessionTokenSize>1024</SessionTokenSize>
</AssumeRoleResult>
<ResponseMetadata>
<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ResponseMetadata>
</AssumeRoleResponse>
"""
AWS_WEB_IDENTITY = b"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>
    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2014-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <SourceIdentity>SourceIdentityValue</SourceIdentity>
    <Provider>www.amazon.com</Provider>
    <PackedPolicySize>0</PackedPolicySize>
    <SessionTokenUtilization>7</SessionTokenUtilization>
    <SessionTokenSize>512</SessionTokenSize>
    <TrustedIdentityPropagationContext>
      <OriginIdentity>
        <Subject>user-1234</Subject>
        <SubjectType>user</SubjectType>
        <Issuer>https://idp.example.com</Issuer>
        <FederatedProviderArn>arn:aws:iam::123456789012:oidc-provider/idp.example.com</FederatedProviderArn>
      </OriginIdentity>
      <TransactionContext>
        <IdentityProvider>
          <entry><key>department</key><value>engineering</value></entry>
          <entry><key>team</key><value>platform</value></entry>
        </IdentityProvider>
      </TransactionContext>
    </TrustedIdentityPropagationContext>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
"""


@pytest.mark.parametrize(("raw", "operation"), [(AWS_ASSUME_ROLE, ASSUME), (AWS_WEB_IDENTITY, WEB)])
def test_aws_answers_parse_as_botocore_parses_them(raw: bytes, operation: str) -> None:
    ours = _compare_with_botocore(raw, operation)
    output = _sts_model().operation_model(operation).output_shape
    assert set(ours) == set(output.members)  # the example exercises every member
    assert all(isinstance(ours[name], int) for name in query_xml.STS_INTEGERS)


def test_an_empty_member_parses_as_botocore_parses_it() -> None:
    raw = AWS_WEB_IDENTITY.replace(
        b"<SourceIdentity>SourceIdentityValue</SourceIdentity>", b"<SourceIdentity/>"
    )
    assert _compare_with_botocore(raw, WEB)["SourceIdentity"] == ""


# -- both paths answer alike ----------------------------------------------------------------------

# "malformed": an STS answer neither parser can read. Both paths say "AWS sent a response that
# could not be parsed" (aws_session.botocore_session translates botocore's ResponseParserError
# for the identity, not as the token request's).
FAULTS = [None, "500", "throttle", "accessdenied", "malformed"]


def _one_path(
    monkeypatch: pytest.MonkeyPatch, profile: str | None, fast: bool
) -> tuple[tuple[str, ...], float | None]:
    """tokens.fetch on one path: (outcome, the entry's creds_expire_at). On the fast path,
    fast_role must have made (or failed to make) the role session itself."""
    registry = fast_paths.registry()
    expiry: list[float | None] = []
    seen: list[object] = []
    real = fast_role.session_for  # what fast_token calls

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            found = real(*args, **kwargs)
        except EcrpyError as exc:
            seen.append(exc)
            raise
        seen.append(found)
        return found

    def fetch() -> Any:
        entry = tokens.fetch(registry, profile)
        expiry.append(entry.creds_expire_at)
        return entry

    with monkeypatch.context() as m:
        m.setattr(fast_role, "session_for", spy)
        if not fast:
            fast_paths.botocore_only(m)
        outcome = fast_paths.outcome(fetch)
    if fast:
        assert len(seen) == 1 and seen[0] is not None, seen  # not left to botocore
    else:
        assert seen == []
    return outcome, expiry[0] if expiry else None


def _both_paths(
    aws: AwsServer,
    monkeypatch: pytest.MonkeyPatch,
    profile: str | None,
    faults: dict[str, str],
) -> list[tuple[tuple[str, ...], dict[str, int], float | None]]:
    """tokens.fetch on the fast path, then through botocore, each with a cold AWS CLI cache
    and the same faults: (outcome, calls per operation, creds_expire_at) for each."""
    results = []
    for fast in (True, False):
        _clear_cli_cache()
        aws.reset_counts()
        for op, kind in faults.items():
            aws.set_fault(op, kind)
        outcome, expiry = _one_path(monkeypatch, profile, fast)
        calls = {op: aws.calls(op) for op in (ASSUME, WEB, GAT)}
        results.append((outcome, calls, expiry))
        aws.clear_faults()
    return results


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("identity", IDENTITIES)
def test_both_paths_answer_alike(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    identity: str,
    fault: str | None,
) -> None:
    profile, operation = _use_identity(identity, role_arn, monkeypatch, tmp_path)
    assert _session(profile) is not None  # the fast path applies to this identity
    faults = {operation: fault} if fault else {}
    (fast, fast_calls, fast_expiry), (slow, slow_calls, slow_expiry) = _both_paths(
        aws, monkeypatch, profile, faults
    )
    assert fast == slow
    assert fast_calls == slow_calls
    attempts = signed_call.MAX_ATTEMPTS if fault in ("500", "throttle") else 1
    if fault is None:
        assert fast[0] == "token" and fast[2] == MOTO_ECR_PASSWORD
        assert fast_calls == {ASSUME: 0, WEB: 0, operation: 1, GAT: 1}
        assert fast_expiry is not None and slow_expiry is not None
        assert abs(fast_expiry - slow_expiry) < 5
    else:
        assert fast[0] == "error"
        assert fast_calls == {ASSUME: 0, WEB: 0, operation: attempts, GAT: 0}


@pytest.mark.parametrize("fault", ["500", "accessdenied"])
def test_both_paths_fail_alike_after_the_role_session(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    fault: str,
) -> None:
    """GetAuthorizationToken failing with an assumed-role session: the same error, after one
    AssumeRole and the same number of token attempts."""
    profile, _op = _use_identity("source-profile", role_arn, monkeypatch, tmp_path)
    (fast, fast_calls, _), (slow, slow_calls, _) = _both_paths(
        aws, monkeypatch, profile, {GAT: fault}
    )
    assert fast == slow and fast[0] == "error"
    assert fast_calls == slow_calls
    attempts = signed_call.MAX_ATTEMPTS if fault == "500" else 1
    assert fast_calls == {ASSUME: 1, WEB: 0, GAT: attempts}


# -- the AWS CLI cache, shared with botocore -------------------------------------------------------


def _fetch_counting(
    aws: AwsServer, monkeypatch: pytest.MonkeyPatch, profile: str | None, fast: bool
) -> int:
    """One tokens.fetch (fast path or botocore's), which must succeed: its STS calls."""
    aws.reset_counts()
    outcome, _expiry = _one_path(monkeypatch, profile, fast)
    assert outcome[0] == "token" and outcome[2] == MOTO_ECR_PASSWORD, outcome
    return _sts_calls(aws)


@pytest.mark.parametrize(
    "first_fast", [True, False], ids=["ours-read-by-botocore", "botocores-read-by-us"]
)
@pytest.mark.parametrize("identity", IDENTITIES)
def test_each_path_reads_the_others_cached_session(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    identity: str,
    first_fast: bool,
) -> None:
    profile, _op = _use_identity(identity, role_arn, monkeypatch, tmp_path)
    assert _fetch_counting(aws, monkeypatch, profile, first_fast) == 1
    (entry,) = _entries()
    written = entry.read_bytes()
    aws.reset_counts()
    outcome, creds_expire_at = _one_path(monkeypatch, profile, not first_fast)
    assert outcome[:3] == ("token", "AWS", MOTO_ECR_PASSWORD)
    assert _sts_calls(aws) == 0
    assert entry.read_bytes() == written  # read, not rewritten
    # the session's expiry as the entry says (the same reading on both paths)
    assert creds_expire_at == fast_role.expiry(json.loads(written)["Credentials"]["Expiration"])


def _set_expiration(entry: Path, text: str) -> None:
    record = json.loads(entry.read_text())
    record["Credentials"]["Expiration"] = text
    entry.write_text(json.dumps(record))


def _utc_text(seconds_from_now: float) -> str:
    when = datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)
    return when.strftime("%Y-%m-%dT%H:%M:%S%Z")  # as botocore's cache writes it


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "botocore"])
def test_a_session_inside_the_15_minute_window_is_assumed_anew(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    fast: bool,
) -> None:
    profile, _op = _use_identity("source-profile", role_arn, monkeypatch, tmp_path)
    assert _fetch_counting(aws, monkeypatch, profile, not fast) == 1
    (entry,) = _entries()
    _set_expiration(entry, _utc_text(17 * 60))  # outside the window: still served
    assert _fetch_counting(aws, monkeypatch, profile, fast) == 0
    _set_expiration(entry, _utc_text(13 * 60))  # inside it: assumed anew and rewritten
    assert _fetch_counting(aws, monkeypatch, profile, fast) == 1
    expires = json.loads(entry.read_text())["Credentials"]["Expiration"]
    assert fast_role.expiry(expires) - time.time() > 30 * 60


def _both_paths_heal(
    aws: AwsServer, monkeypatch: pytest.MonkeyPatch, profile: str | None, damage: bytes
) -> None:
    """With ``damage`` in the cache entry, each path assumes the role anew, answers, and
    leaves a good entry (botocore's own JSONFileCache would raise KeyError from every get)."""
    for fast in (True, False):
        (entry,) = _entries()
        entry.write_bytes(damage)
        if fast:
            aws.reset_counts()
            assert _session(profile) is not None  # the fast path made the session itself
            assert _sts_calls(aws) == 1
            entry.write_bytes(damage)
        aws.reset_counts()
        with monkeypatch.context() as m:
            if not fast:
                fast_paths.botocore_only(m)
            outcome = fast_paths.outcome(lambda: tokens.fetch(fast_paths.registry(), profile))
        assert outcome[0] == "token", (fast, outcome)
        assert (_sts_calls(aws), aws.calls(GAT)) == (1, 1), fast
        assert fast_role.cached_session(json.loads(entry.read_text())) is not None, fast


@pytest.mark.parametrize(
    "content", [b'{"Credentials": {"AccessKeyId": "AS', b"\x00\xff\xfe binary", b""],
    ids=["truncated", "binary", "empty"],
)  # fmt: skip
def test_an_unreadable_cache_entry_is_absent_on_both_paths(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    content: bytes,
) -> None:
    profile, _op = _use_identity("source-profile", role_arn, monkeypatch, tmp_path)
    assert _fetch_counting(aws, monkeypatch, profile, True) == 1
    _both_paths_heal(aws, monkeypatch, profile, content)


def _valid_record() -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE",
            "SecretAccessKey": "secret-from-the-cache",
            "SessionToken": "token-from-the-cache",
            "Expiration": _utc_text(3600),
        }
    }


def _odd_records() -> list[Any]:
    naive = _valid_record()
    naive["Credentials"]["Expiration"] = naive["Credentials"]["Expiration"][:-3]
    numeric = _valid_record()
    numeric["Credentials"]["Expiration"] = time.time() + 3600
    no_token = _valid_record()
    del no_token["Credentials"]["SessionToken"]
    return [
        {"AssumedRoleUser": {}},
        {"Credentials": "x"},
        ["Credentials"],
        naive,
        numeric,
        no_token,
    ]


@pytest.mark.parametrize("index", range(len(_odd_records())))
def test_cache_entries_of_an_unusable_shape_are_absent_on_both_paths(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    index: int,
) -> None:
    """No Credentials, an Expiration without a time zone, no SessionToken...: botocore's own
    cache would fail on these; both paths assume anew and overwrite them. The control: the
    same entry, well formed, is served from the cache with no call."""
    profile, _op = _use_identity("source-profile", role_arn, monkeypatch, tmp_path)
    assert _fetch_counting(aws, monkeypatch, profile, True) == 1
    _both_paths_heal(aws, monkeypatch, profile, json.dumps(_odd_records()[index]).encode())
    (entry,) = _entries()
    entry.write_text(json.dumps(_valid_record()))
    aws.reset_counts()
    found = _session(profile)
    assert found is not None
    assert found[0] == ("ASIAEXAMPLE", "secret-from-the-cache", "token-from-the-cache")
    assert found[1] == pytest.approx(time.time() + 3600, abs=5)
    assert _sts_calls(aws) == 0


CACHE_FILE_CASES = [
    ("source-profile", ""),  # botocore's generated session name, left out of the key
    ("source-profile", "role_session_name = named-session\n"),
    ("source-profile", "external_id = ext-1\nduration_seconds = 1800\n"),
    ("source-profile", "duration_seconds = 1h\n"),  # botocore drops what int() refuses
    ("credential-source", ""),
    ("credential-source", "role_session_name = named-session\n"),
    ("web-identity-env", ""),  # generated name
    ("web-identity-profile", ""),  # the profile's role_session_name
]


@pytest.mark.parametrize(("identity", "role_settings"), CACHE_FILE_CASES)
def test_the_cache_file_is_botocores(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    identity: str,
    role_settings: str,
) -> None:
    """The same file name botocore uses for the same profile, private, and loaded by
    botocore's own JSONFileCache reader into what its fetcher expects."""
    from botocore.utils import JSONFileCache

    profile, _op = _use_identity(identity, role_arn, monkeypatch, tmp_path, role_settings)
    assert _fetch_counting(aws, monkeypatch, profile, False) == 1
    botocores = [p.name for p in _entries()]
    _clear_cli_cache()
    assert _fetch_counting(aws, monkeypatch, profile, True) == 1
    (entry,) = _entries()
    assert [entry.name] == botocores
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert not [p for p in _cli_cache().iterdir() if not p.name.endswith(".json")]  # no debris
    record = JSONFileCache(str(_cli_cache()))[entry.name[: -len(".json")]]
    creds = record["Credentials"]
    assert {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"} <= set(creds)
    assert creds["Expiration"].endswith("UTC")
    lifetime = 1800 if "duration_seconds = 1800" in role_settings else 3600
    assert _botocore_time(creds["Expiration"]).timestamp() == pytest.approx(
        time.time() + lifetime, abs=60
    )
    assert creds["AccountId"] == role_arn.split(":")[4]  # botocore's _add_account_id_to_response


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "botocore"])
def test_a_cache_that_cannot_be_written_costs_only_the_next_call(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    fast: bool,
) -> None:
    """No cache folder possible (a file in its place): still an answer on both paths (botocore's
    own cache would fail the get), and the next get assumes the role again."""
    profile, _op = _use_identity("source-profile", role_arn, monkeypatch, tmp_path)
    cli = _cli_cache().parent
    cli.parent.mkdir(parents=True, exist_ok=True)
    cli.write_text("not a folder")
    assert _fetch_counting(aws, monkeypatch, profile, fast) == 1
    assert _fetch_counting(aws, monkeypatch, profile, fast) == 1


# -- a registry's role_arn (ecrpy's config) over static keys ---------------------------------------


def _override_fetch(
    aws: AwsServer, monkeypatch: pytest.MonkeyPatch, role: str, profile: str | None, fast: bool
) -> tuple[tuple[str, ...], int, int, float | None]:
    """tokens.fetch with ``role_arn`` on one path: (outcome, AssumeRole calls, GAT calls,
    creds_expire_at); on the fast path fast_role.override_session must have been called."""
    aws.reset_counts()
    calls: list[object] = []
    expiry: list[float | None] = []
    with monkeypatch.context() as m:
        if fast:
            real = fast_role.override_session

            def spy(*args: Any, **kwargs: Any) -> Any:
                calls.append(args)
                return real(*args, **kwargs)

            m.setattr(fast_role, "override_session", spy)
        else:
            fast_paths.botocore_only(m)

        def fetch() -> Any:
            entry = tokens.fetch(fast_paths.registry(), profile, role)
            expiry.append(entry.creds_expire_at)
            return entry

        outcome = fast_paths.outcome(fetch)
    assert bool(calls) == fast
    return outcome, aws.calls(ASSUME), aws.calls(GAT), (expiry or [None])[0]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("source", ["env-keys", "credentials-file"])
def test_a_registry_role_over_static_keys_answers_as_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    source: str,
    fault: str | None,
) -> None:
    """aws_session's RoleOverride (AssumeRole over what the chain resolves, RoleSessionName
    ``ecrpy-<user>``) and fast_role.override_session: the same token or error, the same calls,
    the same credentials expiry; and each path reuses the session the other cached."""
    profile = None
    if source == "credentials-file":
        _without_env_keys(monkeypatch)
        _write_aws_files("[profile src]\nregion = us-east-1\n", SOURCE_KEYS)
        profile = "src"
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    results = []
    for fast in (True, False):
        _clear_cli_cache()
        if fault:
            aws.set_fault(ASSUME, fault)
        results.append(_override_fetch(aws, monkeypatch, role_arn, profile, fast))
        aws.clear_faults()
    (fast_outcome, *fast_calls, fast_expiry), (slow_outcome, *slow_calls, slow_expiry) = results
    assert fast_outcome == slow_outcome
    assert fast_calls == slow_calls
    if fault is None:
        assert fast_outcome[2] == MOTO_ECR_PASSWORD and fast_calls == [1, 1]
        assert fast_expiry is not None and slow_expiry is not None
        assert fast_expiry == pytest.approx(slow_expiry, abs=5)
        # the botocore run above left its session: the fast path reads it, and the reverse
        assert _override_fetch(aws, monkeypatch, role_arn, profile, True)[1] == 0
        _clear_cli_cache()
        assert _override_fetch(aws, monkeypatch, role_arn, profile, True)[1] == 1
        assert _override_fetch(aws, monkeypatch, role_arn, profile, False)[1] == 0
        (entry,) = _entries()
        assert entry.stat().st_mode & 0o777 == 0o600
    else:
        assert fast_outcome[0] == "error"


def test_a_registry_role_over_other_identities_is_botocores(
    aws: AwsServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, role_arn: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Over a role profile, web identity (or any source that is not static keys), a registry's
    role_arn stays botocore's."""
    profile, _op = _use_identity("web-identity-env", role_arn, monkeypatch, tmp_path)
    aws.reset_counts()
    assert fast_token.fetch(fast_paths.registry(), profile, role_arn) is None
    assert fast_token.ecr_call(fast_paths.registry(), "DescribeRepositories", {}, profile, role_arn) is None
    assert (_sts_calls(aws), aws.calls(GAT), aws.calls("DescribeRepositories")) == (0, 0, 0)


# -- the calls after the token request share one session per identity ------------------------------


@pytest.mark.parametrize("identity", [*IDENTITIES, "registry-role"])
def test_the_pre_flights_calls_share_one_session(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    identity: str,
) -> None:
    """ecr_call/caller_identity/iam_call with a role identity: one STS call for all of them
    (even from many threads at once), none when the AWS CLI cache already holds the session,
    and the calls made as the role (GetCallerIdentity names the assumed role)."""
    from concurrent.futures import ThreadPoolExecutor

    if identity == "registry-role":
        profile, override = None, role_arn  # env keys, then the registry's role
    else:
        profile, _op = _use_identity(identity, role_arn, monkeypatch, tmp_path)
        override = None
    registry = fast_paths.registry()
    aws.reset_counts()

    def calls(_: int) -> object:
        return fast_token.ecr_call(registry, "DescribeRepositories", {}, profile, override)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(calls, range(16)))
    assert all(isinstance(a, dict) and "repositories" in a for a in answers)
    me = fast_token.caller_identity(MOTO_REGION, profile, override)
    assert me is not None and ":assumed-role/" in me["Arn"]
    assert _sts_calls(aws) == 1
    assert aws.calls("DescribeRepositories") == 16
    # a new process (the shared keys forgotten) finds the session in the AWS CLI cache
    fast_token._SHARED.clear()
    aws.reset_counts()
    assert fast_token.iam_call(MOTO_REGION, "ListRoles", {}, profile, override) is not None
    assert _sts_calls(aws) == 0


def test_a_failed_session_is_shared_too(
    aws: AwsServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, role_arn: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    """An identity whose STS call fails fails every later call the same way, without asking
    STS again (botocore's path fails once, at its session)."""
    profile, _op = _use_identity("source-profile", role_arn, monkeypatch, tmp_path)
    aws.set_fault(ASSUME, "accessdenied")
    errors = []
    for _ in range(3):
        with pytest.raises(EcrpyError) as caught:
            fast_token.ecr_call(fast_paths.registry(), "DescribeRepositories", {}, profile)
        errors.append((caught.value.message, caught.value.hint))
    assert len(set(errors)) == 1 and "denied" in errors[0][0]
    assert aws.calls(ASSUME) == 1
    assert aws.calls("DescribeRepositories") == 0


# -- identities and settings left to botocore -------------------------------------------------------

LEFT_TO_BOTOCORE = {
    "mfa": ("[profile r]\nrole_arn = {arn}\nsource_profile = src\n"
            "mfa_serial = arn:aws:iam::123456789012:mfa/dev\n[profile src]\n", SOURCE_KEYS),
    "role-chain": ("[profile r]\nrole_arn = {arn}\nsource_profile = mid\n"
                   "[profile mid]\nrole_arn = {arn}\nsource_profile = src\n[profile src]\n",
                   SOURCE_KEYS),
    "credential-process-source": ("[profile r]\nrole_arn = {arn}\nsource_profile = src\n"
                                  "[profile src]\ncredential_process = /bin/false\n", ""),
    "ec2-metadata-source": ("[profile r]\nrole_arn = {arn}\n"
                            "credential_source = Ec2InstanceMetadata\n", ""),
    "role-endpoint-url": ("[profile r]\nrole_arn = {arn}\nsource_profile = src\n"
                          "endpoint_url = http://127.0.0.1:1\n[profile src]\n", SOURCE_KEYS),
    "sts-regional-endpoints": ("[profile r]\nrole_arn = {arn}\nsource_profile = src\n"
                               "sts_regional_endpoints = legacy\n[profile src]\n", SOURCE_KEYS),
    "source-profile-settings": ("[profile r]\nrole_arn = {arn}\nsource_profile = src\n"
                                "[profile src]\nendpoint_url = http://127.0.0.1:1\n", SOURCE_KEYS),
    "web-identity-retry-mode": ("[profile r]\nrole_arn = {arn}\nweb_identity_token_file = {token}\n"
                                "retry_mode = adaptive\n", ""),
}  # fmt: skip


def _assert_left_to_botocore(aws: AwsServer, profile: str | None) -> None:
    aws.reset_counts()
    assert _session(profile) is None
    assert fast_token.fetch(fast_paths.registry(), profile) is None
    assert (_sts_calls(aws), aws.calls(GAT)) == (0, 0)
    assert _entries() == []


@pytest.mark.parametrize("case", sorted(LEFT_TO_BOTOCORE))
def test_profiles_fast_role_does_not_implement_go_to_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    case: str,
) -> None:
    token_file = tmp_path / "oidc-token"
    token_file.write_text(JWT)
    config, credentials = LEFT_TO_BOTOCORE[case]
    _without_env_keys(monkeypatch)
    _write_aws_files(config.format(arn=role_arn, token=token_file), credentials)
    monkeypatch.setenv("AWS_PROFILE", "r")
    _assert_left_to_botocore(aws, None)


@pytest.mark.parametrize("identity", ["source-profile", "web-identity-env"])
def test_sts_regional_endpoints_in_the_environment_goes_to_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    identity: str,
) -> None:
    profile, _op = _use_identity(identity, role_arn, monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_STS_REGIONAL_ENDPOINTS", "regional")
    _assert_left_to_botocore(aws, profile)


@pytest.mark.parametrize("identity", ["web-identity-env", "web-identity-profile"])
def test_an_unreadable_token_file_goes_to_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
    identity: str,
) -> None:
    profile, _op = _use_identity(identity, role_arn, monkeypatch, tmp_path)
    (tmp_path / "oidc-token").unlink()
    _assert_left_to_botocore(aws, profile)


def test_static_keys_are_not_a_role_identity(aws: AwsServer, env: dict[str, str]) -> None:
    assert _session(None) is None
    assert _sts_calls(aws) == 0


# -- secrets ---------------------------------------------------------------------------------------


def test_role_session_secrets_are_redacted(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    role_arn: str,
    tmp_path: Path,
) -> None:
    """From STS and from the cache: the session's secret key and token are masked in logs
    (by what fast_role registered: the secret-shaped patterns are switched off here)."""
    profile, _op = _use_identity("source-profile", role_arn, monkeypatch, tmp_path)
    monkeypatch.setattr(logs, "_PATTERNS", ())
    for source in ("sts", "cache"):
        monkeypatch.setattr(logs, "_SECRETS", set())
        found = _session(profile)
        assert found is not None
        (key_id, secret, token), _expires = found
        assert _sts_calls(aws) == 1  # the first from STS, the second from the cache
        (entry,) = _entries()
        creds = json.loads(entry.read_text())["Credentials"]
        assert (creds["SecretAccessKey"], creds["SessionToken"]) == (secret, token)
        assert token is not None
        for value in (secret, token):
            line = logs.redact(f"{source}: answer {value} end")
            assert value not in line and "***" in line, source
        assert key_id in logs.redact(f"id {key_id}")  # a key id is no secret
