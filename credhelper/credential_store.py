"""Credentials for non-ECR registries, kept in the OS keyring (ecrpy as ``credsStore``).

The keyring holds the secret; a non-secret index (``<state dir>/credentials-index.json``: host,
server URL as given, username) makes ``list`` possible — keyrings cannot enumerate — and lets
``get`` answer "not found" for unknown hosts without importing keyring (~70 ms).
"""

from __future__ import annotations

import os

from . import _json, paths
from .errors import KeyringUnavailableError, NotFoundError
from .fsutil import atomic_write_private

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SERVICE = "docker-credential-ecrpy"


def backend() -> Any:
    """The usable keyring backend, or ``KeyringUnavailableError`` with the fix."""
    import keyring
    import keyring.backends.fail

    kr = keyring.get_keyring()
    if isinstance(kr, keyring.backends.fail.Keyring) or getattr(kr, "priority", 1) <= 0:
        raise KeyringUnavailableError(
            "no usable OS keyring backend",
            hint="unlock or install a keyring (macOS Keychain, Windows Credential Manager, "
            "Secret Service/KWallet) or set PYTHON_KEYRING_BACKEND; ECR registries need none",
        )
    return kr


def index_path() -> str:
    """Where the non-secret index lives."""
    return os.path.join(paths.state_dir(), "credentials-index.json")


def load_index() -> dict[str, dict[str, str]]:
    """``{host: {"server_url": ..., "username": ...}}``; empty when missing or unreadable."""
    try:
        with open(index_path(), encoding="utf-8") as f:
            data = _json.loads(f.read())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        h: v
        for h, v in data.items()
        if isinstance(v, dict)
        and isinstance(v.get("server_url"), str)
        and isinstance(v.get("username"), str)
    }


def _save_index(index: dict[str, dict[str, str]]) -> None:
    atomic_write_private(index_path(), _json.dumps(dict(sorted(index.items()))).encode())


def store(host: str, server_url: str, username: str, secret: str) -> None:
    """Save ``username``/``secret`` for ``host`` (normalised) in the keyring."""
    kr = backend()
    kr.set_password(SERVICE, host, _json.dumps({"Username": username, "Secret": secret}))
    index = load_index()
    index[host] = {"server_url": server_url, "username": username}
    _save_index(index)


def get(host: str) -> tuple[str, str]:
    """``(username, secret)`` for ``host``; ``NotFoundError`` if none is stored."""
    if host not in load_index():
        raise NotFoundError("credentials not found in native keychain")
    raw = backend().get_password(SERVICE, host)
    if not raw:
        raise NotFoundError("credentials not found in native keychain")
    try:
        data = _json.loads(raw)
        username, secret = data["Username"], data["Secret"]
    except (ValueError, KeyError, TypeError):
        raise NotFoundError("credentials not found in native keychain") from None
    if not isinstance(username, str) or not isinstance(secret, str):
        raise NotFoundError("credentials not found in native keychain")
    return username, secret


def erase(host: str) -> bool:
    """Delete ``host``'s credentials; True when something was removed."""
    index = load_index()
    known = index.pop(host, None) is not None
    if known:
        _save_index(index)
    try:
        import keyring.errors

        backend().delete_password(SERVICE, host)
    except keyring.errors.PasswordDeleteError:
        return known
    return True


def listing() -> dict[str, str]:
    """``{server_url: username}`` for every stored host (from the index; no keyring call)."""
    return {v["server_url"]: v["username"] for v in load_index().values()}
