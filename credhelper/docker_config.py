"""Safe edits of docker's ``config.json``: atomic, every other key kept, a backup beside it.

The file holds a user's other registries' auths and settings, so an edit must never lose it:
we lock, re-read, change only ``credHelpers``/``credsStore``, keep the previous content as
``config.json.bak`` (same permissions), and replace the file in one rename.
"""

from __future__ import annotations

import json
import os
import shutil

from . import paths
from .errors import ConfigError
from .fsutil import atomic_write
from .lock import FileLock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HELPER_NAME = "ecrpy"


def config_path(directory: str | None = None) -> str:
    """``$DOCKER_CONFIG/config.json`` (or ``~/.docker/config.json``)."""
    return os.path.join(directory or paths.docker_config_dir(), "config.json")


def read(path: str) -> dict[str, Any]:
    """The parsed file; ``{}`` when missing; ``ConfigError`` when it is not a JSON object."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})",
            hint="fix or move the file; ecrpy will not overwrite it",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


class Change:
    """What an edit did (for the command's report)."""

    def __init__(self, path: str, added: list[str], unchanged: list[str], backup: str | None):
        self.path = path
        self.added = added
        self.unchanged = unchanged
        self.backup = backup


def configure(
    hosts: list[str], default: bool = False, directory: str | None = None, dry_run: bool = False
) -> Change:
    """Point ``hosts`` (and, with ``default``, every registry) at ``docker-credential-ecrpy``."""
    path = config_path(directory)
    folder = os.path.dirname(path)
    if not dry_run:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    with FileLock(path + ".lock", timeout=10) if not dry_run else _nolock():
        data = read(path)
        helpers = data.get("credHelpers", {})
        if not isinstance(helpers, dict):
            raise ConfigError(f"{path}: credHelpers must be a JSON object")
        added, unchanged = [], []
        for host in hosts:
            if helpers.get(host) == HELPER_NAME:
                unchanged.append(host)
            else:
                helpers[host] = HELPER_NAME
                added.append(host)
        if hosts:
            data["credHelpers"] = helpers
        if default:
            if data.get("credsStore") == HELPER_NAME:
                unchanged.append("credsStore")
            else:
                data["credsStore"] = HELPER_NAME
                added.append("credsStore")
        backup = None
        if added and not dry_run:
            backup = _write(path, data)
        return Change(path, added, unchanged, backup)


def _write(path: str, data: dict[str, Any]) -> str | None:
    mode = 0o600
    backup = None
    if os.path.exists(path):
        mode = os.stat(path).st_mode & 0o777
        backup = path + ".bak"
        shutil.copy2(path, backup + ".tmp")
        os.replace(backup + ".tmp", backup)
    atomic_write(path, (json.dumps(data, indent="\t") + "\n").encode(), mode)
    return backup


class _nolock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
