"""``ecrpy doctor`` through the installed console script, against real parts: a private dockerd,
Debian's docker-registry behind an ecrpy alias, moto, real keyring backends and copies of the
helper on PATH. Exit 0 only when nothing FAILs; each fix once; readable lines; a closed pipe
ends the output quietly."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import MOTO_ACCOUNT, SYSTEM_PATH, ecr_host, run_ecrpy, write_config
from tests.support.aws_server import AwsServer
from tests.support.dockerd import Dockerd
from tests.support.registry_server import RegistryServer, free_port

pytestmark = pytest.mark.e2e
HOST = ecr_host()
FAIL_KEYRING = "keyring.backends.fail.Keyring"
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# What a Python repr or a traceback would leave in a line meant for people.
REPR = re.compile(r"Error\(|\bNone\b|\{'|<[a-z_.]+ object|Traceback|\\n")


def _doctor(env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    proc = run_ecrpy(env, "doctor", *args)
    assert proc.stderr == b"", proc.stderr
    lines = proc.stdout.decode().splitlines()
    for line in lines:
        assert not REPR.search(line), line
        assert line.startswith(("OK   ", "WARN ", "FAIL ", "SKIP ", "     fix: ")), line
    return proc.returncode, lines


def _line(lines: list[str], start: str) -> str:
    found = [i for i, line in enumerate(lines) if line.startswith(start)]
    assert len(found) == 1, (start, lines)
    return lines[found[0]]


def _fix_after(lines: list[str], start: str) -> str:
    i = lines.index(_line(lines, start))
    assert lines[i + 1].startswith("     fix: "), lines
    return lines[i + 1][len("     fix: ") :]


def _alias(env: dict[str, str], *hosts: str) -> None:
    write_config(
        env,
        "".join(
            f'[registries."{h}"]\naccount_id = "{MOTO_ACCOUNT}"\nregion = "us-east-1"\n'
            for h in hosts
        ),
    )


# -- the docker engine -----------------------------------------------------------------------


def test_engine_reachable_shows_its_version(helper_env: dict[str, str], dockerd: Dockerd) -> None:
    import docker

    client = docker.DockerClient(base_url=dockerd.base_url)
    try:
        version = client.version()
    finally:
        client.close()
    code, lines = _doctor(dict(helper_env, **dockerd.env()), "--offline")
    line = _line(lines, "OK   docker engine: ")
    assert f"{version['Version']} (API {version['ApiVersion']}, " in line, line
    assert f"at {dockerd.base_url} (DOCKER_HOST)" in line, line
    assert code == 0, lines


def test_dead_engine_socket_is_a_warning_with_the_cause(
    helper_env: dict[str, str], tmp_path: Path
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ecrpy-dead-", dir="/tmp"))
    try:
        missing = folder / "missing.sock"
        code, lines = _doctor(dict(helper_env, DOCKER_HOST=f"unix://{missing}"), "--offline")
        line = _line(lines, "WARN docker engine: ")
        assert line.endswith(f"cannot reach unix://{missing} (DOCKER_HOST): no such socket"), line
        assert "start Docker" in _fix_after(lines, "WARN docker engine: ")
        assert code == 0, lines  # WARN alone does not fail
        # a socket file nobody listens on
        stale = folder / "stale.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(stale))
        sock.close()
        code, lines = _doctor(dict(helper_env, DOCKER_HOST=f"unix://{stale}"), "--offline")
        assert _line(lines, "WARN docker engine: ").endswith(
            "connection refused (nothing listens there)"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- the helper on PATH ------------------------------------------------------------------------


def _stale_copy(folder: Path, version: str = "0.0.1") -> Path:
    folder.mkdir()
    stale = folder / "docker-credential-ecrpy"
    stale.write_text(f'#!/bin/sh\necho "docker-credential-ecrpy (ecrpy) {version}"\n')
    stale.chmod(0o755)
    return stale


def test_helper_on_path_is_this_installation(helper_env: dict[str, str], venv_bin: str) -> None:
    code, lines = _doctor(helper_env, "--offline")
    ours = os.path.join(venv_bin, "docker-credential-ecrpy")
    assert _line(lines, "OK   PATH: ").startswith(f"OK   PATH: {ours} (ecrpy "), lines
    assert code == 0


def test_a_stale_copy_earlier_on_path_fails_with_the_fix(
    helper_env: dict[str, str], tmp_path: Path, venv_bin: str
) -> None:
    stale = _stale_copy(tmp_path / "old-bin")
    env = dict(helper_env, PATH=f"{stale.parent}{os.pathsep}{helper_env['PATH']}")
    code, lines = _doctor(env, "--offline")
    line = _line(lines, "FAIL PATH: ")
    assert (
        f"docker-credential-ecrpy on PATH is {stale} (ecrpy 0.0.1), not this installation's" in line
    )
    assert "which comes later" in line, line
    fix = _fix_after(lines, "FAIL PATH: ")
    assert fix == f"remove the stale copy {stale}, or put {venv_bin} before {stale.parent} in PATH"
    assert code == 1


def test_only_another_copy_on_path_fails(helper_env: dict[str, str], tmp_path: Path) -> None:
    stale = _stale_copy(tmp_path / "old-bin", version="9.9.9")
    env = dict(helper_env, PATH=f"{stale.parent}{os.pathsep}{SYSTEM_PATH}")
    ecrpy = shutil.which("ecrpy", path=helper_env["PATH"])
    assert ecrpy is not None
    proc = subprocess.run(
        [ecrpy, "doctor", "--offline"], capture_output=True, env=env, check=False, timeout=60
    )
    out = proc.stdout.decode()
    assert f"FAIL PATH: docker-credential-ecrpy on PATH is {stale} (ecrpy 9.9.9), not this " in out
    assert proc.returncode == 1
    # and none at all
    env = dict(helper_env, PATH=SYSTEM_PATH)
    proc = subprocess.run(
        [ecrpy, "doctor", "--offline"], capture_output=True, env=env, check=False, timeout=60
    )
    out = proc.stdout.decode()
    assert "FAIL PATH: docker-credential-ecrpy is not on PATH, so docker cannot run it" in out
    assert f"fix: add {os.path.dirname(ecrpy)} to PATH" in out
    assert proc.returncode == 1


def test_a_pipx_style_link_to_this_installation_is_fine(
    helper_env: dict[str, str], tmp_path: Path, venv_bin: str
) -> None:
    links = tmp_path / "local-bin"
    links.mkdir()
    ours = os.path.join(venv_bin, "docker-credential-ecrpy")
    (links / "docker-credential-ecrpy").symlink_to(ours)
    env = dict(helper_env, PATH=f"{links}{os.pathsep}{helper_env['PATH']}")
    code, lines = _doctor(env, "--offline")
    line = _line(lines, "OK   PATH: ")
    assert line.startswith(f"OK   PATH: {links}/docker-credential-ecrpy -> {ours} (ecrpy "), line
    assert code == 0


# -- registries --------------------------------------------------------------------------------


def test_each_configured_registry_v2_reachability(
    aws: AwsServer, helper_env: dict[str, str], registry_server: RegistryServer
) -> None:
    dead, dead2 = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    _alias(helper_env, registry_server.host, dead, dead2)
    proc = run_ecrpy(helper_env, "configure", registry_server.host, dead, dead2)
    assert proc.returncode == 0, proc.stderr
    code, lines = _doctor(helper_env)
    ok = _line(lines, f"OK   registry {registry_server.host}: ")
    assert f"http://{registry_server.host}/v2/ answered HTTP 401 (asks for credentials)" in ok
    for host in (dead, dead2):
        line = _line(lines, f"FAIL registry {host}: ")
        assert line.endswith(
            f"cannot reach {host}/v2/ over https and http: connection refused (nothing listens "
            "there)"
        ), line
    # the same fix for both, printed once
    fixes = [line for line in lines if line.startswith("     fix: ")]
    assert len(fixes) == len(set(fixes)), lines
    assert _fix_after(lines, f"FAIL registry {dead}: ").startswith("check the host name and port")
    assert not lines[lines.index(_line(lines, f"FAIL registry {dead2}: ")) + 1].startswith(
        "     fix"
    )
    assert _line(lines, f"OK   token {registry_server.host}: ").endswith("valid 12.0 h")
    assert _line(lines, "OK   caller: ").endswith(f"{MOTO_ACCOUNT}:user/moto")
    assert code == 1

    doc = json.loads(run_ecrpy(helper_env, "doctor", "--json").stdout)
    assert doc["schema"] == "ecrpy.doctor/1" and UTC.match(doc["generated_at"]), doc
    assert doc["ok"] is False and doc["offline"] is False
    statuses = {c["name"]: c["status"] for c in doc["checks"]}
    assert statuses[f"registry {registry_server.host}"] == "OK"
    assert statuses[f"registry {dead}"] == statuses[f"registry {dead2}"] == "FAIL"
    assert len(doc["fixes"]) == len(set(doc["fixes"]))


def test_offline_skips_network_checks(aws: AwsServer, helper_env: dict[str, str]) -> None:
    dead = f"127.0.0.1:{free_port()}"
    _alias(helper_env, dead)
    assert run_ecrpy(helper_env, "configure", dead).returncode == 0
    code, lines = _doctor(helper_env, "--offline")
    assert not [line for line in lines if line.startswith(("OK   registry", "FAIL registry"))]
    assert _line(lines, "SKIP network: ")
    assert aws.calls("GetAuthorizationToken") == 0 and aws.calls("GetCallerIdentity") == 0
    assert code == 0


# -- credsStore and the keyring ----------------------------------------------------------------


def test_creds_store_ecrpy_without_a_keyring_fails(helper_env: dict[str, str]) -> None:
    assert run_ecrpy(helper_env, "configure", "--default").returncode == 0
    code, lines = _doctor(helper_env, "--offline")
    assert code == 0 and not [line for line in lines if "credsStore:" in line], lines
    code, lines = _doctor(dict(helper_env, PYTHON_KEYRING_BACKEND=FAIL_KEYRING), "--offline")
    line = _line(lines, "FAIL credsStore: ")
    assert f"credsStore=ecrpy, but no usable OS keyring backend ({FAIL_KEYRING})" in line, line
    assert _line(lines, "WARN keyring: ")
    # the keyring's fix is the same under both lines: printed once
    fix = _fix_after(lines, "FAIL credsStore: ")
    assert "PYTHON_KEYRING_BACKEND" in fix and lines.count(f"     fix: {fix}") == 1
    assert code == 1


# -- ecrpy's config ----------------------------------------------------------------------------


def test_ecrpy_config_pointing_at_a_missing_file_warns(helper_env: dict[str, str]) -> None:
    assert not os.path.exists(helper_env["ECRPY_CONFIG"])
    code, lines = _doctor(helper_env, "--offline")
    line = _line(lines, "WARN ecrpy config: ")
    assert line.endswith(
        f"ECRPY_CONFIG={helper_env['ECRPY_CONFIG']} does not exist, so ecrpy "
        "runs with its defaults (no aliases, no per-registry profiles)"
    )
    assert code == 0
    write_config(helper_env, "")
    code, lines = _doctor(helper_env, "--offline")
    assert _line(lines, "OK   ecrpy config: ") == f"OK   ecrpy config: {helper_env['ECRPY_CONFIG']}"


def test_damaged_token_entries_are_a_warning_with_the_fix(helper_env: dict[str, str]) -> None:
    """They are harmless (ignored, rewritten by the next fetch) but never go away by
    themselves for a registry no longer used: doctor counts them and names the fix."""
    tokens = Path(helper_env["ECRPY_CACHE_DIR"]) / "tokens"
    tokens.mkdir(parents=True, mode=0o700)
    os.chmod(helper_env["ECRPY_CACHE_DIR"], 0o700)
    (tokens / ("a" * 64 + "-aws_us-east-1_123456789012.json")).write_bytes(b'{"v": 1, "tok')
    os.chmod(tokens / ("a" * 64 + "-aws_us-east-1_123456789012.json"), 0o600)
    code, lines = _doctor(helper_env, "--offline")
    line = _line(lines, "WARN cache dir: ")
    assert "ignoring 1 token entry that could not be read (damaged or not private;" in line
    assert _fix_after(lines, "WARN cache dir: ") == "ecrpy cache clear"
    assert code == 0  # a warning, not a failure
    assert run_ecrpy(helper_env, "cache", "clear").returncode == 0
    code, lines = _doctor(helper_env, "--offline")
    assert _line(lines, "OK   cache dir: ").endswith("(private)") and code == 0


def test_per_registry_profile_that_does_not_exist_fails(helper_env: dict[str, str]) -> None:
    other = ecr_host(region="eu-west-1")
    Path(helper_env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        "[dev]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n"
    )
    write_config(
        helper_env,
        f'[registries."{HOST}"]\nprofile = "nope"\n[registries."{other}"]\nprofile = "dev"\n',
    )
    code, lines = _doctor(helper_env, "--offline")
    line = _line(lines, f"FAIL identity for {HOST}: ")
    assert "profile 'nope' not found in ~/.aws/config" in line, line
    fix = _fix_after(lines, f"FAIL identity for {HOST}: ")
    assert "aws configure --profile nope" in fix and helper_env["ECRPY_CONFIG"] in fix, fix
    assert _line(lines, f"OK   identity for {other}: ").startswith(
        f"OK   identity for {other}: profile dev"
    )
    assert code == 1


# -- output plumbing ---------------------------------------------------------------------------


def test_a_closed_pipe_ends_the_output_quietly(helper_env: dict[str, str]) -> None:
    ecrpy = shutil.which("ecrpy", path=helper_env["PATH"])
    assert ecrpy is not None
    # The reader is gone before doctor writes its first byte: the write gets EPIPE.
    proc = subprocess.Popen(
        [ecrpy, "doctor", "--offline"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=helper_env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert err == b"", err
    # and the shell form from the issue
    shell = subprocess.run(
        ["sh", "-c", f"'{ecrpy}' doctor --offline | head -1"],
        capture_output=True,
        env=helper_env,
        check=False,
        timeout=60,
    )
    assert shell.stderr == b"" and len(shell.stdout.decode().splitlines()) == 1


def test_remote_engine_is_skipped_offline_and_checked_online(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    remote = f"tcp://127.0.0.1:{free_port()}"
    env = dict(helper_env, DOCKER_HOST=remote)
    _code, lines = _doctor(env, "--offline")
    assert _line(lines, "SKIP docker engine: ") == (
        f"SKIP docker engine: {remote} (DOCKER_HOST): not checked (--offline)"
    )
    _code, lines = _doctor(env)
    assert _line(lines, "WARN docker engine: ").endswith(
        f"cannot reach {remote} (DOCKER_HOST): connection refused (nothing listens there)"
    )
