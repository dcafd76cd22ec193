"""Fixtures for ecrpy's tests: a steerable moto server, a real registry, a real Docker engine, and
an isolated environment for running the installed helper as docker would.

Session-scoped servers are shared by all tests; the function-scoped ``aws`` fixture puts the
shared moto server's knobs (faults, latency, token TTL, counters) back to defaults around each
test, but never moto's *state* (repositories, IAM users): call ``aws.reset_moto()`` for that.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support import (
    DEFAULT_TOKEN_TTL,
    MOTO_ACCOUNT,
    MOTO_ECR_PASSWORD,
    MOTO_ECR_USER,
    MOTO_REGION,
    SYSTEM_PATH,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
)
from tests.support.dockerd import Dockerd
from tests.support.registry_server import RegistryServer

if TYPE_CHECKING:
    # moto costs ~0.6 s to import: only sessions that use the AWS fixtures pay for it.
    from tests.support.aws_server import AwsServer

# Outer variables a subprocess may keep: needed by the OS or the interpreter, never by AWS,
# docker or ecrpy logic. Everything else (AWS_PROFILE, DOCKER_HOST, proxies, ECRPY_*) is dropped.
ENV_ALLOWLIST = ("TMPDIR", "SYSTEMROOT", "COVERAGE_PROCESS_START", "COVERAGE_RCFILE")


def _require_tool(name: str, package: str) -> str:
    """Path of ``name``; a missing tool skips locally but fails in CI, where scripts/test
    installs everything and a skip would hide a broken setup."""
    exe = shutil.which(name)
    if exe is None:
        message = f"{name} not installed (Debian package {package}; scripts/test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return exe


def _reset_knobs(server: AwsServer) -> None:
    server.set_identity_tokens(False)
    server.clear_faults()
    server.clear_latency()
    server.set_token_ttl(DEFAULT_TOKEN_TTL)
    server.reset_counts()
    server.ecr_front.clear()


@pytest.fixture(scope="session")
def moto_account() -> str:
    return MOTO_ACCOUNT


@pytest.fixture(scope="session")
def aws_server() -> Iterator[AwsServer]:
    """moto on 127.0.0.1 issuing ECR tokens valid for 12 h; shared by the whole session."""
    from tests.support.aws_server import AwsServer

    server = AwsServer(token_ttl=DEFAULT_TOKEN_TTL)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _aws_knobs_reset(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that reach the shared moto server only indirectly (``helper_env``) or through
    ``aws_server`` also start and end with default knobs. Looked up by name so tests that never
    touch AWS do not start (or even import) moto."""
    if "aws_server" not in request.fixturenames:
        yield
        return
    server: AwsServer = request.getfixturevalue("aws_server")
    _reset_knobs(server)
    try:
        yield
    finally:
        _reset_knobs(server)


@pytest.fixture
def aws(aws_server: AwsServer) -> Iterator[AwsServer]:
    """The session's moto server with zeroed counters, no faults or latency, 12 h tokens and IAM
    enforcement off; put back the same way afterwards (moto's resources are kept)."""
    _reset_knobs(aws_server)
    aws_server.disable_iam_auth()
    try:
        yield aws_server
    finally:
        _reset_knobs(aws_server)
        aws_server.disable_iam_auth()


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """docker-registry on 127.0.0.1 accepting user ``AWS`` with moto's ECR token password."""
    _require_tool("docker-registry", "docker-registry")
    _require_tool("htpasswd", "apache2-utils")
    server = RegistryServer(
        tmp_path_factory.mktemp("registry"), users={MOTO_ECR_USER: MOTO_ECR_PASSWORD}
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    """A private dockerd (vfs, no networking) on a unix socket under /tmp; needs root."""
    _require_tool("dockerd", "docker.io")
    if os.geteuid() != 0:
        message = "dockerd needs root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    engine = Dockerd()
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def venv_bin() -> str:
    """Where the venv's console scripts (docker-credential-ecrpy, ecrpy) are installed."""
    return os.path.dirname(sys.executable)


@pytest.fixture
def helper_env(tmp_path: Path, aws_server: AwsServer, venv_bin: str) -> dict[str, str]:
    """Environment for a subprocess that sees nothing of the outer machine: its own HOME, XDG
    folders, ecrpy folders, docker and AWS config, test keys and the local moto endpoint."""
    home = tmp_path / "home"
    dirs = {
        "HOME": home,
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_STATE_HOME": home / ".local" / "state",
        "DOCKER_CONFIG": home / ".docker",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    aws_dir = home / ".aws"
    aws_dir.mkdir()
    aws_config = aws_dir / "config"
    aws_credentials = aws_dir / "credentials"
    aws_config.touch()
    aws_credentials.touch()

    env = {k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ}
    env.update({k: str(v) for k, v in dirs.items()})
    env.update(
        {
            # ecrpy's own folders are left uncreated: the product must create them (privately).
            "ECRPY_CACHE_DIR": str(tmp_path / "ecrpy-cache"),
            "ECRPY_CONFIG": str(tmp_path / "ecrpy-config" / "config.toml"),
            "ECRPY_LOG_DIR": str(tmp_path / "ecrpy-logs"),
            "AWS_CONFIG_FILE": str(aws_config),
            "AWS_SHARED_CREDENTIALS_FILE": str(aws_credentials),
            "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": MOTO_REGION,
            "AWS_ENDPOINT_URL": aws_server.url,
            # Never wait on the EC2 metadata service (no such thing on 127.0.0.1 machines; a
            # lookup would cost a timeout on every credential-chain miss).
            "AWS_EC2_METADATA_DISABLED": "true",
            "PATH": f"{venv_bin}{os.pathsep}{SYSTEM_PATH}",
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "LANG": "C.UTF-8",
        }
    )
    return env


@pytest.fixture(autouse=True)
def _no_shared_temporary_keys() -> Iterator[None]:
    """fast_token shares temporary keys per identity for a process's lifetime (one STS call for
    a whole pre-flight): every test starts, and leaves, without any."""
    from credhelper import fast_token

    fast_token._SHARED.clear()
    yield
    fast_token._SHARED.clear()


@pytest.fixture(autouse=True)
def _no_kept_connections() -> Iterator[None]:
    """http1 keeps connections per endpoint for a process's lifetime: every test starts, and
    leaves, without any (a server of one test must not see another's connections)."""
    from credhelper import http1

    http1.close_idle()
    yield
    http1.close_idle()
