"""The identity fingerprint (offline, cheap), its description, and boto3 sessions."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credhelper import aws_session
from credhelper.aws_files import _section_words, parse_ini
from credhelper.aws_session import credentials_expiry, session
from credhelper.errors import CredentialsError
from credhelper.identity import credentials_expiry_from_env, describe, fingerprint
from tests.support import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from tests.support.aws_server import AwsServer

ROOT = Path(__file__).resolve().parent.parent
ROLE = "arn:aws:iam::123456789012:role/dev"
OTHER_ROLE = "arn:aws:iam::123456789012:role/ops"
KEY_A, SECRET_A = "AKIAAAAAAAAAAAAAAAAA", "secret/a/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
KEY_B, SECRET_B = "AKIABBBBBBBBBBBBBBBB", "secret/b/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


class Aws:
    """A throw-away HOME with ~/.aws/config and ~/.aws/credentials, and the env naming it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dir = home / ".aws"
        self.dir.mkdir(parents=True)
        self.env: dict[str, str] = {"HOME": str(home)}

    def config(self, text: str) -> None:
        (self.dir / "config").write_text(textwrap.dedent(text), encoding="utf-8")

    def credentials(self, text: str) -> None:
        (self.dir / "credentials").write_text(textwrap.dedent(text), encoding="utf-8")

    def fp(self, profile: str | None = None, role_arn: str | None = None, **env: str) -> str:
        return fingerprint(profile, role_arn, {**self.env, **env})


@pytest.fixture
def aws_files(tmp_path: Path) -> Aws:
    return Aws(tmp_path / "home")


# ---------------------------------------------------------------------------------------------
# environment keys
# ---------------------------------------------------------------------------------------------


def test_env_keys_fingerprint_is_stable_hex(aws_files: Aws) -> None:
    env = {"AWS_ACCESS_KEY_ID": KEY_A, "AWS_SECRET_ACCESS_KEY": SECRET_A}
    first = aws_files.fp(**env)
    assert first == aws_files.fp(**env)
    assert len(first) == 64 and int(first, 16) >= 0
    assert first != aws_files.fp()  # nothing configured: IMDS
    assert first != aws_files.fp(AWS_ACCESS_KEY_ID=KEY_B, AWS_SECRET_ACCESS_KEY=SECRET_A)


def test_env_session_token_and_secret_changes_change_fingerprint(aws_files: Aws) -> None:
    base = {"AWS_ACCESS_KEY_ID": KEY_A, "AWS_SECRET_ACCESS_KEY": SECRET_A}
    plain = aws_files.fp(**base)
    t1 = aws_files.fp(**base, AWS_SESSION_TOKEN="token-1")
    t2 = aws_files.fp(**base, AWS_SESSION_TOKEN="token-2")
    rotated = aws_files.fp(AWS_ACCESS_KEY_ID=KEY_A, AWS_SECRET_ACCESS_KEY=SECRET_B)
    assert len({plain, t1, t2, rotated}) == 4
    # botocore reads the legacy AWS_SECURITY_TOKEN first; same token, same identity.
    assert aws_files.fp(**base, AWS_SECURITY_TOKEN="token-1") == t1


def test_env_key_without_secret_is_an_error(aws_files: Aws) -> None:
    with pytest.raises(CredentialsError, match="AWS_SECRET_ACCESS_KEY"):
        aws_files.fp(AWS_ACCESS_KEY_ID=KEY_A)


def test_same_keys_in_env_and_profile_are_one_identity(aws_files: Aws) -> None:
    aws_files.credentials(
        f"[default]\naws_access_key_id = {KEY_A}\naws_secret_access_key = {SECRET_A}\n"
    )
    from_profile = aws_files.fp()
    aws_files.credentials("")
    assert aws_files.fp(AWS_ACCESS_KEY_ID=KEY_A, AWS_SECRET_ACCESS_KEY=SECRET_A) == from_profile


# ---------------------------------------------------------------------------------------------
# profiles with static keys
# ---------------------------------------------------------------------------------------------


def _two_key_profiles(aws_files: Aws) -> None:
    aws_files.credentials(
        f"""
        [a]
        aws_access_key_id = {KEY_A}
        aws_secret_access_key = {SECRET_A}
        [b]
        aws_access_key_id = {KEY_B}
        aws_secret_access_key = {SECRET_B}
        [a-copy]
        aws_access_key_id = {KEY_A}
        aws_secret_access_key = {SECRET_A}
        """
    )


def test_aws_profile_switch_changes_fingerprint(aws_files: Aws) -> None:
    _two_key_profiles(aws_files)
    assert aws_files.fp(AWS_PROFILE="a") != aws_files.fp(AWS_PROFILE="b")
    assert aws_files.fp(AWS_PROFILE="a") == aws_files.fp("a")


def test_two_profiles_with_the_same_keys_share_a_fingerprint(aws_files: Aws) -> None:
    _two_key_profiles(aws_files)
    aws_files.config(
        f"""
        [profile in-config]
        aws_access_key_id = {KEY_A}
        aws_secret_access_key = {SECRET_A}
        """
    )
    assert aws_files.fp("a") == aws_files.fp("a-copy") == aws_files.fp("in-config")


def test_aws_default_profile_wins_over_aws_profile(aws_files: Aws) -> None:
    # botocore's 'profile' setting reads AWS_DEFAULT_PROFILE before AWS_PROFILE.
    _two_key_profiles(aws_files)
    assert aws_files.fp(AWS_DEFAULT_PROFILE="a", AWS_PROFILE="b") == aws_files.fp("a")


def test_credentials_file_overrides_config_file_per_key(aws_files: Aws) -> None:
    aws_files.config(f"[profile p]\nrole_arn = {ROLE}\nsource_profile = a\n")
    _two_key_profiles(aws_files)
    before = aws_files.fp("p")
    aws_files.credentials(
        (aws_files.dir / "credentials").read_text() + f"[p]\nrole_arn = {OTHER_ROLE}\n"
    )
    assert aws_files.fp("p") != before
    assert describe("p", env=aws_files.env)["role_arn"] == OTHER_ROLE


def test_profile_key_without_secret_is_an_error(aws_files: Aws) -> None:
    aws_files.credentials(f"[default]\naws_access_key_id = {KEY_A}\n")
    with pytest.raises(CredentialsError, match="aws_secret_access_key"):
        aws_files.fp()


# ---------------------------------------------------------------------------------------------
# precedence between environment and profiles
# ---------------------------------------------------------------------------------------------


def test_env_keys_take_precedence_over_aws_profile(aws_files: Aws) -> None:
    _two_key_profiles(aws_files)
    env_keys = {"AWS_ACCESS_KEY_ID": KEY_B, "AWS_SECRET_ACCESS_KEY": SECRET_B}
    assert aws_files.fp(AWS_PROFILE="a", **env_keys) == aws_files.fp(**env_keys)
    assert describe(env={**aws_files.env, "AWS_PROFILE": "a", **env_keys})["source"] == (
        "environment keys"
    )


def test_explicit_profile_beats_env_keys(aws_files: Aws) -> None:
    _two_key_profiles(aws_files)
    env_keys = {"AWS_ACCESS_KEY_ID": KEY_B, "AWS_SECRET_ACCESS_KEY": SECRET_B}
    assert aws_files.fp("a", **env_keys) == aws_files.fp("a")
    assert aws_files.fp("a", **env_keys) != aws_files.fp(**env_keys)


def test_missing_profile_is_an_error_even_with_env_keys(aws_files: Aws) -> None:
    aws_files.config("[profile present]\nregion = us-east-1\n")
    with pytest.raises(CredentialsError) as err:
        aws_files.fp("absent")
    assert err.value.message == "profile 'absent' not found in ~/.aws/config"
    assert err.value.hint and "absent" in err.value.hint
    with pytest.raises(CredentialsError, match="'gone' not found"):
        aws_files.fp(AWS_PROFILE="gone", AWS_ACCESS_KEY_ID=KEY_A, AWS_SECRET_ACCESS_KEY=SECRET_A)


def test_missing_default_profile_is_not_an_error(aws_files: Aws) -> None:
    assert describe(env=aws_files.env)["source"] == "instance metadata"


def test_files_named_by_env_vars(aws_files: Aws, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "creds").write_text(
        f"[x]\naws_access_key_id = {KEY_A}\naws_secret_access_key = {SECRET_A}\n"
    )
    (elsewhere / "cfg").write_text("[profile y]\nregion = eu-west-1\n")
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(elsewhere / "creds"), "AWS_CONFIG_FILE": "$D/cfg"}
    assert aws_files.fp("x", **env, D=str(elsewhere)) == aws_files.fp(
        AWS_ACCESS_KEY_ID=KEY_A, AWS_SECRET_ACCESS_KEY=SECRET_A
    )
    with pytest.raises(CredentialsError, match=r"not found in ~/\.aws/config"):
        aws_files.fp("y")  # without the env var the default file is read
    aws_files.fp("y", **env, D=str(elsewhere))


# ---------------------------------------------------------------------------------------------
# assume role
# ---------------------------------------------------------------------------------------------


def _role_profiles(aws_files: Aws, extra: str = "") -> None:
    _two_key_profiles(aws_files)
    aws_files.config(
        f"""
        [profile dev]
        role_arn = {ROLE}
        source_profile = a
        {extra}
        [profile dev-session-name]
        role_arn = {ROLE}
        source_profile = a
        role_session_name = someone-else
        duration_seconds = 900
        [profile dev-external]
        role_arn = {ROLE}
        source_profile = a
        external_id = xyz
        [profile dev-from-b]
        role_arn = {ROLE}
        source_profile = b
        [profile chained]
        role_arn = {OTHER_ROLE}
        source_profile = dev
        """
    )


def test_assumed_role_profile_is_stable_and_differs_from_its_source(aws_files: Aws) -> None:
    _role_profiles(aws_files)
    dev = aws_files.fp("dev")
    assert dev == aws_files.fp("dev")
    assert dev != aws_files.fp("a")
    assert dev != aws_files.fp("dev-from-b")  # same role, other source principal
    assert dev != aws_files.fp("dev-external")
    assert aws_files.fp("chained") not in {dev, aws_files.fp("a")}


def test_role_session_name_and_duration_do_not_change_identity(aws_files: Aws) -> None:
    _role_profiles(aws_files)
    assert aws_files.fp("dev-session-name") == aws_files.fp("dev")


def test_mfa_serial_is_part_of_the_identity(aws_files: Aws) -> None:
    _role_profiles(aws_files, extra="mfa_serial = arn:aws:iam::123456789012:mfa/me")
    mfa = aws_files.fp("dev")
    _role_profiles(aws_files)
    assert mfa != aws_files.fp("dev")


def test_role_with_credential_source(aws_files: Aws) -> None:
    aws_files.config(
        f"""
        [profile from-env]
        role_arn = {ROLE}
        credential_source = Environment
        [profile from-ec2]
        role_arn = {ROLE}
        credential_source = Ec2InstanceMetadata
        [profile from-ecs]
        role_arn = {ROLE}
        credential_source = EcsContainer
        [profile bogus]
        role_arn = {ROLE}
        credential_source = Somewhere
        [profile both]
        role_arn = {ROLE}
        credential_source = Environment
        source_profile = from-ec2
        [profile neither]
        role_arn = {ROLE}
        """
    )
    keys = {"AWS_ACCESS_KEY_ID": KEY_A, "AWS_SECRET_ACCESS_KEY": SECRET_A}
    container = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"}
    fps = {
        aws_files.fp("from-env", **keys),
        aws_files.fp("from-env", AWS_ACCESS_KEY_ID=KEY_B, AWS_SECRET_ACCESS_KEY=SECRET_B),
        aws_files.fp("from-ec2"),
        aws_files.fp("from-ecs", **container),
        aws_files.fp(**keys),
    }
    assert len(fps) == 5
    assert describe("from-ec2", env=aws_files.env)["chain"] == (
        f"profile from-ec2: assume role {ROLE} via credential_source Ec2InstanceMetadata "
        "(EC2 instance metadata (IMDS))"
    )
    with pytest.raises(CredentialsError, match="provides no credentials"):
        aws_files.fp("from-env")
    with pytest.raises(CredentialsError, match="provides no credentials"):
        aws_files.fp("from-ecs")
    with pytest.raises(CredentialsError, match="'Somewhere'"):
        aws_files.fp("bogus")
    with pytest.raises(CredentialsError, match="both"):
        aws_files.fp("both")
    with pytest.raises(CredentialsError, match="neither"):
        aws_files.fp("neither")


def test_source_profile_cycle_is_an_error(aws_files: Aws) -> None:
    aws_files.config(
        f"""
        [profile x]
        role_arn = {ROLE}
        source_profile = y
        [profile y]
        role_arn = {OTHER_ROLE}
        source_profile = z
        [profile z]
        role_arn = {OTHER_ROLE}
        source_profile = x
        [profile self]
        role_arn = {ROLE}
        source_profile = self
        [profile missing-source]
        role_arn = {ROLE}
        source_profile = nowhere
        """
    )
    with pytest.raises(CredentialsError, match="loop: x → y → z → x"):
        aws_files.fp("x")
    with pytest.raises(CredentialsError, match="loop"):
        aws_files.fp("self")  # naming itself is only allowed with its own static keys
    with pytest.raises(CredentialsError, match=r"'nowhere'.*does not exist"):
        aws_files.fp("missing-source")


def test_profile_may_source_its_own_static_keys(aws_files: Aws) -> None:
    aws_files.config(
        f"""
        [profile self]
        role_arn = {ROLE}
        source_profile = self
        aws_access_key_id = {KEY_A}
        aws_secret_access_key = {SECRET_A}
        """
    )
    _two_key_profiles(aws_files)
    aws_files.config(
        (aws_files.dir / "config").read_text() + f"[profile dev]\nrole_arn = {ROLE}\n"
        "source_profile = a\n"
    )
    assert aws_files.fp("self") == aws_files.fp("dev")


def test_source_profile_with_keys_is_not_followed_further(aws_files: Aws) -> None:
    # botocore: a source profile's static keys win over its own role_arn.
    aws_files.config(
        f"""
        [profile top]
        role_arn = {ROLE}
        source_profile = mid
        [profile mid]
        role_arn = {OTHER_ROLE}
        source_profile = elsewhere
        aws_access_key_id = {KEY_A}
        aws_secret_access_key = {SECRET_A}
        [profile plain]
        role_arn = {ROLE}
        source_profile = k
        [profile k]
        aws_access_key_id = {KEY_A}
        aws_secret_access_key = {SECRET_A}
        """
    )
    assert aws_files.fp("top") == aws_files.fp("plain")


def test_role_arn_override_wraps_the_base_identity(aws_files: Aws) -> None:
    _role_profiles(aws_files)
    base = aws_files.fp("a")
    wrapped = aws_files.fp("a", role_arn=ROLE)
    assert wrapped == aws_files.fp("a", role_arn=ROLE)
    assert wrapped not in {base, aws_files.fp("a", role_arn=OTHER_ROLE)}
    assert wrapped != aws_files.fp("b", role_arn=ROLE)
    info = describe("a", ROLE, env=aws_files.env)
    assert info["role_arn"] == ROLE and "(per-registry)" in info["chain"]


# ---------------------------------------------------------------------------------------------
# web identity, SSO, login, process, container, IMDS
# ---------------------------------------------------------------------------------------------


def test_web_identity_from_env_and_from_profile(aws_files: Aws) -> None:
    env = {"AWS_ROLE_ARN": ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token"}
    from_env = aws_files.fp(**env)
    assert from_env == aws_files.fp(**env, AWS_ROLE_SESSION_NAME="pod-1234")
    assert from_env != aws_files.fp(AWS_ROLE_ARN=OTHER_ROLE, AWS_WEB_IDENTITY_TOKEN_FILE="/t")
    aws_files.config(
        f"""
        [profile wi]
        role_arn = {ROLE}
        web_identity_token_file = /var/run/token
        [profile wi2]
        role_arn = {OTHER_ROLE}
        web_identity_token_file = /var/run/token
        """
    )
    assert aws_files.fp("wi") == from_env  # same role and token source: same identity
    assert aws_files.fp("wi2") != from_env
    # An explicit profile ignores web identity env vars, as botocore does.
    assert aws_files.fp("wi2", **env) == aws_files.fp("wi2")
    assert describe(env={**aws_files.env, **env})["source"] == "web identity"
    with pytest.raises(CredentialsError, match="no role ARN"):
        aws_files.fp(AWS_WEB_IDENTITY_TOKEN_FILE="/var/run/token")


def test_env_keys_beat_web_identity(aws_files: Aws) -> None:
    keys = {"AWS_ACCESS_KEY_ID": KEY_A, "AWS_SECRET_ACCESS_KEY": SECRET_A}
    wi = {"AWS_ROLE_ARN": ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}
    assert aws_files.fp(**keys, **wi) == aws_files.fp(**keys)


def test_sso_with_session_section_and_legacy_keys(aws_files: Aws) -> None:
    url = "https://corp.awsapps.com/start"
    aws_files.config(
        f"""
        [profile new]
        sso_session = corp
        sso_account_id = 111122223333
        sso_role_name = Admin
        [profile new-readonly]
        sso_session = corp
        sso_account_id = 111122223333
        sso_role_name = ReadOnly
        [profile legacy]
        sso_start_url = {url}
        sso_region = us-east-1
        sso_account_id = 111122223333
        sso_role_name = Admin
        [profile other-account]
        sso_session = corp
        sso_account_id = 444455556666
        sso_role_name = Admin
        [profile broken]
        sso_session = nope
        sso_account_id = 111122223333
        sso_role_name = Admin
        [profile incomplete]
        sso_account_id = 111122223333
        sso_role_name = Admin
        [sso-session corp]
        sso_start_url = {url}
        sso_region = us-east-1
        sso_registration_scopes = sso:account:access
        """
    )
    new = aws_files.fp("new")
    assert new == aws_files.fp("legacy")
    assert len({new, aws_files.fp("new-readonly"), aws_files.fp("other-account")}) == 3
    info = describe("new", env=aws_files.env)
    assert (info["source"], info["sso_start_url"], info["sso_role_name"]) == ("sso", url, "Admin")
    with pytest.raises(CredentialsError, match="sso-session nope"):
        aws_files.fp("broken")
    with pytest.raises(CredentialsError, match="sso_start_url, sso_region"):
        aws_files.fp("incomplete")


def test_credential_process_and_login(aws_files: Aws) -> None:
    aws_files.config(
        """
        [profile p1]
        credential_process = /usr/bin/get-creds --account 1
        [profile p1-again]
        credential_process = /usr/bin/get-creds --account 1
        [profile p2]
        credential_process = /usr/bin/get-creds --account 2
        [profile l1]
        login_session = arn:aws:iam::123456789012:user/me
        """
    )
    assert aws_files.fp("p1") == aws_files.fp("p1-again")
    assert aws_files.fp("p1") != aws_files.fp("p2")
    assert describe("p1", env=aws_files.env)["source"] == "credential process"
    assert describe("l1", env=aws_files.env)["source"] == "login"


def test_container_and_imds(aws_files: Aws) -> None:
    imds = aws_files.fp()
    disabled = aws_files.fp(AWS_EC2_METADATA_DISABLED="true")
    rel = aws_files.fp(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/v2/credentials/1")
    rel2 = aws_files.fp(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/v2/credentials/2")
    full = aws_files.fp(AWS_CONTAINER_CREDENTIALS_FULL_URI="http://169.254.170.23/v1/credentials")
    assert len({imds, disabled, rel, rel2, full}) == 5
    # doctor/whoami never name IMDS as the source when it is switched off
    assert "IMDS is off" in describe(env={**aws_files.env, "AWS_EC2_METADATA_DISABLED": "true"})[
        "chain"
    ]
    assert describe(env=aws_files.env)["chain"].endswith("EC2 instance metadata (IMDS)")
    # EKS Pod Identity: the token file's *content* rotates, its path is the identity marker.
    pod = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/var/run/secrets/pod-identity/token",
    }
    assert aws_files.fp(**pod) != full
    info = describe(env={**aws_files.env, **pod})
    assert info["source"] == "container"


def test_legacy_boto_config(aws_files: Aws, tmp_path: Path) -> None:
    boto = tmp_path / "boto.cfg"
    boto.write_text(f"[Credentials]\naws_access_key_id = {KEY_A}\naws_secret_access_key = x\n")
    assert aws_files.fp(BOTO_CONFIG=str(boto)) != aws_files.fp(BOTO_CONFIG=str(tmp_path / "no"))


# ---------------------------------------------------------------------------------------------
# endpoints, description, expiry
# ---------------------------------------------------------------------------------------------


def test_endpoint_overrides_change_fingerprint(aws_files: Aws) -> None:
    keys = {"AWS_ACCESS_KEY_ID": KEY_A, "AWS_SECRET_ACCESS_KEY": SECRET_A}
    real = aws_files.fp(**keys)
    local = aws_files.fp(**keys, AWS_ENDPOINT_URL="http://127.0.0.1:5000")
    local2 = aws_files.fp(**keys, AWS_ENDPOINT_URL="http://127.0.0.1:5001")
    ecr_only = aws_files.fp(**keys, AWS_ENDPOINT_URL_ECR="http://127.0.0.1:5000")
    assert len({real, local, local2, ecr_only}) == 4
    aws_files.config("[default]\nendpoint_url = http://127.0.0.1:5000\n")
    assert aws_files.fp(**keys) not in {real, local}
    assert (
        "endpoint_url=http://127.0.0.1:5000" in describe(env={**aws_files.env, **keys})["endpoint"]
    )


def test_describe_never_contains_secrets(aws_files: Aws) -> None:
    aws_files.credentials(
        f"[a]\naws_access_key_id = {KEY_A}\naws_secret_access_key = {SECRET_A}\n"
        "aws_session_token = SESSIONTOKENSESSIONTOKEN\n"
    )
    aws_files.config(f"[profile dev]\nrole_arn = {ROLE}\nsource_profile = a\n")
    env = {**aws_files.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "CONTAINERTOKEN"}
    for kwargs in ({"profile": "dev"}, {"profile": "a"}, {}):
        text = json.dumps(describe(env=env, **kwargs))
        for secret in (SECRET_A, "SESSIONTOKENSESSIONTOKEN", "CONTAINERTOKEN", KEY_A):
            assert secret not in text
    info = describe("a", env=env)
    assert info["access_key_id"] == "AKIA…AAAA"
    assert info["source"] == "static keys"
    assert info["chain"] == "profile a: static keys in ~/.aws/credentials with session token"
    assert info["fingerprint"] == fingerprint("a", env=env)
    assert describe("dev", env=env)["chain"] == (
        f"profile dev: assume role {ROLE} via profile a: static keys in ~/.aws/credentials"
        " with session token"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-02T03:04:05Z", 1893553445.0),
        ("2030-01-02T03:04:05+00:00", 1893553445.0),
        ("2030-01-02T05:04:05+02:00", 1893553445.0),
        ("2030-01-02T03:04:05.500Z", 1893553445.5),
        ("2030-01-02T03:04:05", 1893553445.0),  # naive: AWS means UTC
        ("tomorrow", None),
        ("", None),
        ("   ", None),
    ],
)
def test_credentials_expiry_from_env(text: str, expected: float | None) -> None:
    assert credentials_expiry_from_env({"AWS_CREDENTIAL_EXPIRATION": text}) == expected


def test_credentials_expiry_from_env_unset() -> None:
    assert credentials_expiry_from_env({}) is None


# ---------------------------------------------------------------------------------------------
# the INI reader agrees with configparser (which botocore uses)
# ---------------------------------------------------------------------------------------------


def _configparser(text: str) -> dict[str, dict[str, str]] | None:
    cp = configparser.RawConfigParser()
    try:
        cp.read_string(text)
    except configparser.Error:
        return None
    return {s: {o: cp.get(s, o) for o in cp.options(s)} for s in cp.sections()}


def _ours(text: str) -> dict[str, dict[str, str]] | None:
    try:
        return parse_ini(text)
    except CredentialsError:
        return None


_INI_LINES = st.sampled_from(
    [
        "[default]",
        "[profile a]",
        "[profile a] # c",
        "[DEFAULT]",
        "[]",
        "[x]]",
        "region = us-east-1",
        "Region: eu-west-1",
        "role_arn = arn:aws:iam::1:role/x",
        "s3 =",
        "  addressing_style = path",
        "    max_concurrent_requests = 10",
        "\tk = v",
        "url = https://a:1/b?c=d",
        "# comment",
        "  ; indented comment",
        "",
        "   ",
        "no delimiter",
        "= empty key",
        "key=",
        "key = value ; not a comment",
    ]
)


@settings(max_examples=400)
@given(st.lists(_INI_LINES, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_ini_reader_matches_configparser(lines: list[str], newline: str) -> None:
    text = newline.join(lines)
    assert _ours(text) == _configparser(text)


def test_ini_reader_examples() -> None:
    text = "[profile a]\ns3 =\n  addressing_style = path\n\n  x = 1\nregion: us-east-1\n"
    assert parse_ini(text) == {
        "profile a": {"s3": "\naddressing_style = path\n\nx = 1", "region": "us-east-1"}
    }
    with pytest.raises(CredentialsError, match="line 3: duplicate section"):
        parse_ini("[a]\nk=1\n[a]\n")
    with pytest.raises(CredentialsError, match="duplicate key 'k'"):
        parse_ini("[a]\nk=1\nK=2\n")


@settings(max_examples=500)
@given(st.text(alphabet="ab \t\"'\\#\n", max_size=12))
def test_section_words_match_shlex(name: str) -> None:
    import shlex

    try:
        expected: list[str] | None = shlex.split(name)
    except ValueError:
        expected = None
    assert _section_words(name) == expected


def test_quoted_profile_names(aws_files: Aws) -> None:
    aws_files.config(
        f"""
        [profile "with space"]
        aws_access_key_id = {KEY_A}
        aws_secret_access_key = {SECRET_A}
        [profile   spaced]
        aws_access_key_id = {KEY_A}
        aws_secret_access_key = {SECRET_A}
        """
    )
    assert aws_files.fp("with space") == aws_files.fp("spaced")


def test_unparseable_config_is_a_credentials_error(aws_files: Aws) -> None:
    aws_files.config("[default]\nthis is not ini\n")
    with pytest.raises(CredentialsError, match="cannot parse line"):
        aws_files.fp()


def test_files_are_reread_when_they_change(aws_files: Aws) -> None:
    _two_key_profiles(aws_files)
    first = aws_files.fp("a")
    aws_files.credentials(f"[a]\naws_access_key_id = {KEY_B}\naws_secret_access_key = {SECRET_B}\n")
    assert aws_files.fp("a") != first


# ---------------------------------------------------------------------------------------------
# import cost
# ---------------------------------------------------------------------------------------------


def test_fingerprint_imports_nothing_heavy(aws_files: Aws) -> None:
    _role_profiles(aws_files)
    aws_files.config(
        (aws_files.dir / "config").read_text()
        + '[profile "quoted name"]\nsso_session = s\nsso_account_id = 1\nsso_role_name = r\n'
        + "[sso-session s]\nsso_start_url = https://x\nsso_region = us-east-1\n"
    )
    code = textwrap.dedent(
        f"""
        import sys
        import credhelper.registry, credhelper.identity
        env = {aws_files.env!r}
        credhelper.registry.parse("https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/")
        credhelper.identity.fingerprint("dev", env=env)
        credhelper.identity.fingerprint("chained", "arn:aws:iam::1:role/x", env=env)
        heavy = ("boto3", "botocore", "configparser", "hashlib", "typing", "dataclasses",
                 "pathlib", "logging", "datetime", "shlex")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]", out.stderr


# ---------------------------------------------------------------------------------------------
# session() against moto
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def live(aws: AwsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A temp HOME whose profiles talk to the moto server; nothing reads the real ~/.aws."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    files = Aws(tmp_path / "home")
    monkeypatch.setenv("HOME", str(files.home))
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("USER", "tester")
    files.env = dict(os.environ)
    files.credentials(
        f"[base]\naws_access_key_id = {TEST_ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n"
    )
    import boto3

    iam = boto3.client(
        "iam",
        aws_access_key_id=TEST_ACCESS_KEY_ID,
        aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
        region_name="us-east-1",
    )
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    for role in ("ecrpy-dev", "ecrpy-override"):
        try:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
        except iam.exceptions.EntityAlreadyExistsException:
            pass
    yield files


def _role_arn(name: str) -> str:
    return f"arn:aws:iam::123456789012:role/{name}"


def _cache_files(home: Path) -> list[Path]:
    cache = home / ".aws" / "cli" / "cache"
    return sorted(cache.glob("*.json")) if cache.is_dir() else []


def test_session_assumes_the_profile_role_and_reuses_the_cli_cache(
    live: Aws, aws: AwsServer
) -> None:
    live.config(f"[profile dev]\nrole_arn = {_role_arn('ecrpy-dev')}\nsource_profile = base\n")
    sess = session("dev", region="us-east-1")
    arn = sess.client("sts").get_caller_identity()["Arn"]
    assert arn.startswith("arn:aws:sts::123456789012:assumed-role/ecrpy-dev/")
    assert aws.calls("AssumeRole") == 1
    cached = _cache_files(live.home)
    assert len(cached) == 1  # the AWS CLI's cache now holds the session
    creds = sess.get_credentials()
    assert creds is not None
    key = creds.get_frozen_credentials().access_key
    expiry = credentials_expiry(sess)
    assert expiry is not None and expiry > 0

    again = session("dev", region="us-east-1")
    again_creds = again.get_credentials()
    assert again_creds is not None
    assert again_creds.get_frozen_credentials().access_key == key
    assert aws.calls("AssumeRole") == 1  # served from the JSON file cache
    assert _cache_files(live.home) == cached


def test_session_role_override_on_top_of_a_profile(live: Aws, aws: AwsServer) -> None:
    sess = session("base", role_arn=_role_arn("ecrpy-override"), region="us-east-1")
    arn = sess.client("sts").get_caller_identity()["Arn"]
    assert arn == "arn:aws:sts::123456789012:assumed-role/ecrpy-override/ecrpy-tester"
    assert aws.calls("AssumeRole") == 1
    assert len(_cache_files(live.home)) == 1
    session("base", role_arn=_role_arn("ecrpy-override"), region="us-east-1")
    assert aws.calls("AssumeRole") == 1
    assert credentials_expiry(sess) is not None


def test_session_static_keys_have_no_expiry(live: Aws) -> None:
    sess = session("base", region="us-east-1")
    assert sess.client("sts").get_caller_identity()["Account"] == "123456789012"
    assert credentials_expiry(sess) is None


def test_session_mfa_profile_raises_without_prompting(
    live: Aws, aws: AwsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    live.config(
        f"[profile mfa]\nrole_arn = {_role_arn('ecrpy-dev')}\nsource_profile = base\n"
        "mfa_serial = arn:aws:iam::123456789012:mfa/me\n"
    )

    def no_input(*_args: object) -> str:
        raise AssertionError("prompted")

    monkeypatch.setattr("getpass.getpass", no_input)
    monkeypatch.setattr("builtins.input", no_input)
    with pytest.raises(CredentialsError) as err:
        session("mfa", region="us-east-1")
    assert err.value.message == "profile 'mfa' needs an MFA code and has no cached session"
    assert err.value.hint == (
        "run: aws sts get-caller-identity --profile mfa (or aws sso login) in a terminal first"
    )
    assert aws.calls("AssumeRole") == 0


def test_session_missing_profile_and_no_credentials(live: Aws) -> None:
    with pytest.raises(CredentialsError, match="profile 'nope' not found"):
        session("nope")
    with pytest.raises(CredentialsError, match="no AWS credentials"):
        session()  # no env keys, no default profile, IMDS disabled


def test_session_name_is_a_valid_role_session_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "Jane Doe/😀" + "x" * 80)
    name = aws_session.session_name()
    assert name.startswith("ecrpy-Jane-Doe-")
    assert 2 <= len(name) <= 64
    assert all(c.isalnum() or c in "_+=,.@-" for c in name)


def test_empty_profile_override_means_none(aws_files: Aws) -> None:
    keys = {"AWS_ACCESS_KEY_ID": KEY_A, "AWS_SECRET_ACCESS_KEY": SECRET_A}
    assert aws_files.fp("", **keys) == aws_files.fp(None, **keys)
    assert describe("", env={**aws_files.env, **keys})["chain"] == "environment keys"


def test_pod_identity_fingerprint_follows_the_service_account(
    aws_files: Aws, tmp_path: Path
) -> None:
    from tests.e2e.test_pod_identity import jwt

    token = tmp_path / "eks-pod-identity-token"
    pod = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token),
    }
    token.write_text(jwt("system:serviceaccount:a:builder", "1"))
    first = aws_files.fp(**pod)
    token.write_text(jwt("system:serviceaccount:a:builder", "2"))  # the agent rotated it
    assert aws_files.fp(**pod) == first
    token.write_text(jwt("system:serviceaccount:a:other", "1"))
    assert aws_files.fp(**pod) != first
    info = describe(env={**aws_files.env, **pod})
    assert info["service_account"] == "system:serviceaccount:a:other"
    assert info["chain"] == "EKS Pod Identity (system:serviceaccount:a:other)"
    token.write_text("not a jwt")  # botocore reports a bad token; the fingerprint still works
    assert len(aws_files.fp(**pod)) == 64
    token.unlink()
    assert len(aws_files.fp(**pod)) == 64
