"""credential_chain picks the provider botocore's own resolver picks, for generated settings.

Each example writes a config file, a credentials file, maybe a boto config and an EC2-tools
credential file, and an environment; then botocore's ``CredentialResolver`` (from
``session.get_component('credential_provider')``) loads its providers in order, and the first
that answers (its ``METHOD``) must be ``credential_chain``'s choice. Offline: the container
endpoint and IMDS are a small server on 127.0.0.1 that answers as they do, the credential
process is a local script, and assume-role/web-identity/SSO credentials are deferred by
botocore (no STS or SSO call happens until they are used, and nothing uses them here).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credhelper import credential_chain
from credhelper.errors import CredentialsError

NAMES = ["default", "dev", "src"]
KEY, SECRET = "AKIAEXAMPLEEXAMPLE01", "secret/example/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
ROLE = "arn:aws:iam::123456789012:role/r"
CREDS = {
    "Code": "Success",
    "AccessKeyId": "ASIALOCALLOCALLOCAL1",
    "SecretAccessKey": "local-secret",
    "Token": "local-token",
    "Expiration": "2099-01-01T00:00:00Z",
}


class _Endpoints(BaseHTTPRequestHandler):
    """IMDSv2 (token, role name, role credentials) and a container credentials endpoint."""

    def do_PUT(self) -> None:  # IMDSv2 session token
        self._answer(b"imds-token")

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/latest/meta-data/iam/security-credentials":
            self._answer(b"role")
        else:  # the role's credentials, or the container endpoint's
            self._answer(json.dumps(CREDS).encode())

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def endpoints() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoints)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# -- generated settings ---------------------------------------------------------------------

_keys = st.sampled_from(["none", "both", "key-only"])
_profile = st.fixed_dictionaries(
    {
        "keys": _keys,
        "role": st.sampled_from(["none", "source_profile", "credential_source", "bare"]),
        "source_profile": st.sampled_from([*NAMES, "missing"]),
        "credential_source": st.sampled_from(
            ["Environment", "EcsContainer", "Ec2InstanceMetadata", "Bogus"]
        ),
        "web_identity": st.booleans(),
        "sso": st.sampled_from(["none", "complete", "partial"]),
        "process": st.booleans(),
    }
)
_settings = st.fixed_dictionaries(
    {
        "config": st.dictionaries(st.sampled_from(NAMES), _profile, max_size=3),
        "credentials": st.dictionaries(st.sampled_from(NAMES), _keys, max_size=3),
        "env_keys": _keys,
        "env_profile": st.sampled_from([None, *NAMES, "missing"]),
        "env_profile_var": st.sampled_from(["AWS_PROFILE", "AWS_DEFAULT_PROFILE"]),
        "explicit": st.sampled_from([None, *NAMES]),
        "env_web_identity": st.sampled_from(["none", "both", "token-only"]),
        "container": st.booleans(),
        "ec2_file": st.booleans(),
        "boto": st.sampled_from(["absent", "keys", "empty"]),
    }
)


def _key_lines(keys: str) -> list[str]:
    lines = [f"aws_access_key_id = {KEY}"] if keys in ("both", "key-only") else []
    return lines + ([f"aws_secret_access_key = {SECRET}"] if keys == "both" else [])


def _write(home: Path, s: dict[str, Any], endpoints: str) -> tuple[dict[str, str], str | None]:
    """The files and the environment for settings ``s``; returns (env, explicit profile)."""
    script = home / "process.sh"
    script.write_text("#!/bin/sh\necho '" + json.dumps({"Version": 1, **CREDS}) + "'\n")
    script.chmod(stat.S_IRWXU)
    token = home / "token.jwt"
    token.write_text("header.payload.signature")
    config: list[str] = []
    for name, p in s["config"].items():
        config.append("[default]" if name == "default" else f"[profile {name}]")
        config += _key_lines(p["keys"])
        if p["role"] != "none":
            config.append(f"role_arn = {ROLE}")
        if p["role"] == "source_profile":
            config.append(f"source_profile = {p['source_profile']}")
        if p["role"] == "credential_source":
            config.append(f"credential_source = {p['credential_source']}")
        if p["web_identity"]:
            config.append(f"web_identity_token_file = {token}")
        if p["sso"] != "none":
            config += ["sso_account_id = 123456789012", "sso_role_name = Dev"]
        if p["sso"] == "complete":
            config += ["sso_start_url = https://x.awsapps.com/start", "sso_region = us-east-1"]
        if p["process"]:
            config.append(f"credential_process = {script}")
    (home / "config").write_text("\n".join(config) + "\n")
    credentials: list[str] = []
    for name, keys in s["credentials"].items():
        credentials += [f"[{name}]", *_key_lines(keys)]
    (home / "credentials").write_text("\n".join(credentials) + "\n")
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoints + "/",
        "BOTO_CONFIG": str(home / "boto.cfg"),
    }
    if s["boto"] != "absent":
        lines = ["[Credentials]"]
        if s["boto"] == "keys":
            lines += _key_lines("both")
        (home / "boto.cfg").write_text("\n".join(lines) + "\n")
    if s["ec2_file"]:
        (home / "ec2.txt").write_text(f"AWSAccessKeyId={KEY}\nAWSSecretKey={SECRET}\n")
        env["AWS_CREDENTIAL_FILE"] = str(home / "ec2.txt")
    if s["env_keys"] in ("both", "key-only"):
        env["AWS_ACCESS_KEY_ID"] = KEY
    if s["env_keys"] == "both":
        env["AWS_SECRET_ACCESS_KEY"] = SECRET
    if s["env_profile"] is not None:
        env[s["env_profile_var"]] = s["env_profile"]
    if s["env_web_identity"] != "none":
        env["AWS_WEB_IDENTITY_TOKEN_FILE"] = str(token)
    if s["env_web_identity"] == "both":
        env["AWS_ROLE_ARN"] = ROLE
    if s["container"]:
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = endpoints + "/container"
    return env, s["explicit"]


# -- the two answers --------------------------------------------------------------------------


def _botocore_choice(env: dict[str, str], explicit: str | None) -> tuple[str, str]:
    """("ok", METHOD) of the first provider that answers, ("error", METHOD or "") if one
    raised first (or the session refused the settings), ("none", "") if none answered."""
    with mock.patch.dict(os.environ, env, clear=True):
        try:
            session = botocore.session.Session(profile=explicit)
            resolver = session.get_component("credential_provider")
        except Exception:
            return "error", ""
        for provider in resolver.providers:
            try:
                creds = provider.load()
            except Exception:
                return "error", str(provider.METHOD)
            if creds is not None:
                return "ok", str(provider.METHOD)
    return "none", ""


def _our_choice(env: dict[str, str], explicit: str | None) -> tuple[str, str]:
    try:
        _name, source = credential_chain.Chain(env).resolve(explicit)
    except CredentialsError:
        return "error", ""
    return "ok", source.method


def _agree(ours: tuple[str, str], theirs: tuple[str, str]) -> bool:
    if ours == theirs:
        return True
    if theirs[0] == "error":
        # Ours picks the link that fails in botocore (e.g. a login session without a cached
        # token): the same identity, and the miss path reports botocore's failure.
        return ours[0] == "error" or ours[1] == theirs[1]
    return False


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(s=_settings)
def test_the_chosen_source_is_botocores(endpoints: str, s: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env, explicit = _write(Path(tmp), s, endpoints)
        ours, theirs = _our_choice(env, explicit), _botocore_choice(env, explicit)
        assert _agree(ours, theirs), (ours, theirs, env, (Path(tmp) / "config").read_text())


@pytest.mark.parametrize(
    ("setting", "method"),
    [
        ({"env_keys": "both"}, "env"),
        ({"credentials": {"default": "both"}}, "shared-credentials-file"),
        ({"config": {"default": {"keys": "both"}}}, "config-file"),
        ({"config": {"default": {"role": "credential_source"}}}, "assume-role"),
        ({"env_web_identity": "both"}, "assume-role-with-web-identity"),
        ({"config": {"default": {"sso": "complete"}}}, "sso"),
        ({"config": {"default": {"process": True}}}, "custom-process"),
        ({"ec2_file": True}, "ec2-credentials-file"),
        ({"boto": "keys"}, "boto-config"),
        ({"container": True}, "container-role"),
        ({}, "iam-role"),
    ],
)
def test_every_offline_provider_is_reached(
    endpoints: str, tmp_path: Path, setting: dict[str, Any], method: str
) -> None:
    """The generator can reach every provider: each alone is chosen by both sides."""
    base = {
        "config": {},
        "credentials": {},
        "env_keys": "none",
        "env_profile": None,
        "env_profile_var": "AWS_PROFILE",
        "explicit": None,
        "env_web_identity": "none",
        "container": False,
        "ec2_file": False,
        "boto": "absent",
    }
    profile = {
        "keys": "none",
        "role": "none",
        "source_profile": "default",
        "credential_source": "Environment",
        "web_identity": False,
        "sso": "none",
        "process": False,
    }
    s = {**base, **setting}
    s["config"] = {k: {**profile, **v} for k, v in s["config"].items()}
    if method == "assume-role":
        s["config"]["default"]["credential_source"] = "EcsContainer"
        s["container"] = True
    env, explicit = _write(tmp_path, s, endpoints)
    assert _our_choice(env, explicit) == ("ok", method)
    assert _botocore_choice(env, explicit) == ("ok", method)


def test_order_is_botocores_provider_list(endpoints: str, tmp_path: Path) -> None:
    """ORDER names botocore's providers in botocore's order (login only where botocore has it)."""
    env, _ = _write(tmp_path, {**_empty(), "config": {}}, endpoints)
    with mock.patch.dict(os.environ, env, clear=True):
        resolver = botocore.session.Session().get_component("credential_provider")
        theirs = [p.METHOD for p in resolver.providers]
    assert [m for m, _ in credential_chain.ORDER] == theirs


def _empty() -> dict[str, Any]:
    return {
        "credentials": {},
        "env_keys": "none",
        "env_profile": None,
        "env_profile_var": "AWS_PROFILE",
        "explicit": None,
        "env_web_identity": "none",
        "container": False,
        "ec2_file": False,
        "boto": "absent",
    }
