"""Hostile environments: read-only or missing home, unwritable or insecure cache folders, no
keyring backend, no docker config. The helper still answers correctly (without caching where
it must) and, where a log can be written, says why.

These machines run the suite as root, which ignores mode bits; ``UNPRIVILEGED`` drops the
capabilities that let root do so (uid 0 then obeys permissions like any user), and
``unshare -m`` gives a truly read-only mount where one is wanted.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from credhelper.token_cache.base import CacheEntry
from tests.reliability.conftest import (
    GAT,
    HOSTS,
    NOT_FOUND,
    UNPRIVILEGED,
    helper,
    helper_path,
    log_text,
)
from tests.support import MOTO_ECR_PASSWORD, run_ecrpy, write_config
from tests.support.aws_server import AwsServer

HOST = HOSTS[0]

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv (a non-root user cannot chown to nobody or mount)",
)


def _ok(run: object) -> None:
    from tests.reliability.conftest import Timed

    assert isinstance(run, Timed)
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert json.loads(run.stdout)["Secret"] == MOTO_ECR_PASSWORD
    assert b"Traceback" not in run.stderr


def _home_only(env: dict[str, str], home: Path) -> dict[str, str]:
    """``env`` with every folder derived from ``home`` (no XDG/ECRPY/DOCKER overrides)."""
    out = {k: v for k, v in env.items() if not k.startswith(("XDG_", "ECRPY_", "DOCKER_CONFIG"))}
    out["HOME"] = str(home)
    return out


@needs_root
def test_read_only_home(aws: AwsServer, renv: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "ro-home"
    home.mkdir()
    home.chmod(0o500)
    env = _home_only(renv, home)
    for _ in range(2):
        _ok(helper(env, "get", HOST, prefix=UNPRIVILEGED))
    assert aws.calls(GAT) == 2  # nothing could be cached
    assert list(home.iterdir()) == []
    # with a writable log folder the reason is written down
    logs = tmp_path / "logs"
    env_log = dict(env, ECRPY_LOG_DIR=str(logs))
    _ok(helper(env_log, "get", HOST, prefix=UNPRIVILEGED))
    text = log_text(env_log)
    assert "token cache" in text and "Permission denied" in text, text


@needs_root
def test_read_only_filesystem(aws: AwsServer, renv: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "rofs-home"
    (home / ".cache").mkdir(parents=True)
    env = _home_only(renv, home)
    env["ECRPY_LOG_DIR"] = str(tmp_path / "logs")
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    prefix = ("unshare", "-m", "sh", "-c", script, "sh", str(home))
    for _ in range(2):
        _ok(helper(env, "get", HOST, prefix=prefix))
    assert aws.calls(GAT) == 2
    assert "Read-only file system" in log_text(env)


def test_no_home_variable(aws: AwsServer, renv: dict[str, str]) -> None:
    env = {k: v for k, v in renv.items() if k != "HOME"}
    _ok(helper(env, "get", HOST))
    _ok(helper(env, "get", HOST))
    assert aws.calls(GAT) == 1  # the ECRPY_*/XDG_* folders still work without HOME
    listed = helper(env, "list")
    assert listed.returncode == 0 and json.loads(listed.stdout) == {HOST: "AWS"}


@needs_root
def test_unwritable_cache_dir(aws: AwsServer, renv: dict[str, str], tmp_path: Path) -> None:
    cache = Path(renv["ECRPY_CACHE_DIR"])
    cache.mkdir(mode=0o500)
    for _ in range(2):
        _ok(helper(renv, "get", HOST, prefix=UNPRIVILEGED))
    assert aws.calls(GAT) == 2
    assert "Permission denied" in log_text(renv)
    # a cache path below a regular file: not even root can create it
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    env = dict(renv, ECRPY_CACHE_DIR=str(blocked / "cache"))
    _ok(helper(env, "get", HOST))
    assert aws.calls(GAT) == 3
    assert "Not a directory" in log_text(env)


def _plant(cache: Path, mode: int) -> None:
    """A world-writable cache folder with a planted entry someone else could have written."""
    tokens = cache / "tokens"
    tokens.mkdir(parents=True)
    entry = CacheEntry(HOST, "AWS", "planted-by-another-user", 0.0, 4e9)
    for fp in ("0" * 64,):
        (tokens / f"{fp}-aws_us-east-1_123456789012.json").write_text(json.dumps(entry.to_json()))
    cache.chmod(mode)


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722])
def test_group_or_world_writable_cache_dir_is_refused(
    aws: AwsServer, renv: dict[str, str], mode: int
) -> None:
    cache = Path(renv["ECRPY_CACHE_DIR"])
    _plant(cache, mode)
    for _ in range(2):
        _ok(helper(renv, "get", HOST))
    assert aws.calls(GAT) == 2  # refused: no caching
    assert not any(
        p.name.startswith(tuple("123456789abcdef")) for p in (cache / "tokens").iterdir()
    )
    assert "token cache disabled" in log_text(renv)
    assert "writable by group or others" in log_text(renv)


@needs_root
def test_cache_dir_owned_by_someone_else_is_refused(aws: AwsServer, renv: dict[str, str]) -> None:
    cache = Path(renv["ECRPY_CACHE_DIR"])
    _plant(cache, 0o700)
    os.chown(cache, 65534, 65534)  # nobody
    for _ in range(2):
        _ok(helper(renv, "get", HOST))
    assert aws.calls(GAT) == 2
    assert "token cache disabled" in log_text(renv)
    assert "owned by uid 65534" in log_text(renv)


@needs_root
def test_cache_files_owned_by_someone_else_are_ignored(
    aws: AwsServer, renv: dict[str, str]
) -> None:
    _ok(helper(renv, "get", HOST))
    tokens = Path(renv["ECRPY_CACHE_DIR"]) / "tokens"
    (entry,) = tokens.glob("*.json")
    data = json.loads(entry.read_text())
    data["token"] = "forged"
    entry.write_text(json.dumps(data))
    os.chown(entry, 65534, 65534)
    _ok(helper(renv, "get", HOST))  # not "forged"
    assert aws.calls(GAT) == 2
    assert "not private to this user" in log_text(renv)


def test_missing_keyring_backend(aws: AwsServer, renv: dict[str, str]) -> None:
    env = dict(renv, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    # the default file cache needs no keyring at all
    _ok(helper(env, "get", HOST))
    _ok(helper(env, "get", HOST))
    assert aws.calls(GAT) == 1
    # a keyring cache without a keyring: still answers, without caching, and says why
    write_config(env, '[cache]\nbackend = "keyring"\n')
    _ok(helper(env, "get", HOST))
    _ok(helper(env, "get", HOST))
    assert aws.calls(GAT) == 3
    assert "keyring" in log_text(env).lower()
    # non-ECR hosts: not found / empty list / erase of nothing, never a traceback
    miss = helper(env, "get", "registry.example.test")
    assert miss.returncode == 1 and miss.stdout.strip() == NOT_FOUND
    listed = helper(env, "list")
    assert listed.returncode == 0 and isinstance(json.loads(listed.stdout), dict)
    assert helper(env, "erase", "registry.example.test").returncode == 0


def test_no_docker_config(aws: AwsServer, renv: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "no-such-docker-config"
    env = dict(renv, DOCKER_CONFIG=str(missing))
    _ok(helper(env, "get", HOST))
    assert not missing.exists()  # get never creates docker's folder
    proc = run_ecrpy(env, "configure", HOST)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((missing / "config.json").read_text())
    assert data == {"credHelpers": {HOST: "ecrpy"}}
    assert (missing / "config.json").stat().st_mode & 0o077 == 0


def test_helper_not_on_path_still_answers(aws: AwsServer, renv: dict[str, str]) -> None:
    """docker runs helpers by absolute lookup on PATH; a PATH without the venv is the
    caller's problem, but the helper itself must not depend on PATH for anything."""
    env = dict(renv, PATH="/nonexistent")
    run = helper(dict(renv), "get", HOST)
    _ok(run)
    import subprocess

    proc = subprocess.run(
        [helper_path(renv), "get"], input=HOST.encode(), capture_output=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
