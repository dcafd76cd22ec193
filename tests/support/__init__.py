"""Helpers shared by the test suite and scripts: running the installed console scripts in an
isolated environment, and facts about the moto world the fixtures build.

Only the standard library is imported here, because ``python -m tests.support.aws_server``
(used by scripts) imports this package first.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

# moto's default account; every ECR token it issues is base64("AWS:<account>-auth-token").
MOTO_ACCOUNT = "123456789012"
moto_account = MOTO_ACCOUNT
MOTO_REGION = "us-east-1"
# The registry password that matches moto's token for MOTO_ACCOUNT.
MOTO_ECR_USER = "AWS"
MOTO_ECR_PASSWORD = f"{MOTO_ACCOUNT}-auth-token"

# AWS's documented example keys: obviously fake, and moto accepts any key while IAM auth is off.
TEST_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
TEST_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# What the aws fixtures make GetAuthorizationToken promise (real ECR: 12 hours).
DEFAULT_TOKEN_TTL = 12 * 3600.0

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

HELPER = "docker-credential-ecrpy"
CLI = "ecrpy"


def _resolve(name: str, env: Mapping[str, str]) -> str:
    exe = shutil.which(name, path=env.get("PATH", SYSTEM_PATH))
    if exe is None:
        raise FileNotFoundError(
            f"{name} not on PATH={env.get('PATH')!r}; is ecrpy installed in the venv "
            "(pip install -e '.[test]')?"
        )
    return exe


def _as_bytes(data: str | bytes | None) -> bytes | None:
    if data is None:
        return None
    return data.encode("utf-8") if isinstance(data, str) else data


def run_helper(
    env: Mapping[str, str],
    action: str,
    stdin: str | bytes = b"",
    timeout: float = 30,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``docker-credential-ecrpy ACTION`` the way docker does: ``stdin`` piped in (no
    trailing newline added), stdout and stderr captured as bytes, never raising on exit code."""
    return subprocess.run(
        [_resolve(HELPER, env), action],
        input=_as_bytes(stdin),
        capture_output=True,
        env=dict(env),
        timeout=timeout,
        check=False,
    )


def run_ecrpy(
    env: Mapping[str, str],
    *args: str,
    stdin: str | bytes | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``ecrpy ARGS...``; stdin is /dev/null unless given."""
    return subprocess.run(
        [_resolve(CLI, env), *args],
        input=_as_bytes(stdin),
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=dict(env),
        timeout=timeout,
        check=False,
    )


def write_config(env: Mapping[str, str], toml_text: str) -> Path:
    """Write ``toml_text`` to the env's ``ECRPY_CONFIG`` (creating its folder)."""
    path = Path(env["ECRPY_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(toml_text, encoding="utf-8")
    return path


def ecr_host(account: str = MOTO_ACCOUNT, region: str = MOTO_REGION) -> str:
    """The real ECR registry host name for ``account`` in ``region``."""
    return f"{account}.dkr.ecr.{region}.amazonaws.com"
