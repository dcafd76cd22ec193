"""Credentials for non-ECR registries, kept in the OS keyring (ecrpy as ``credsStore``).

The keyring holds the secret; a non-secret index (``<state dir>/credentials-index.json``: host,
server URL as given, username) makes ``list`` possible — keyrings cannot enumerate — and lets
``get`` answer "not found" for unknown hosts without importing keyring (~70 ms).

*Hot* for ``list`` and for ``get`` of an unknown host: the index read
(docs/CONTRIBUTING-hot-path.md).
"""

from __future__ import annotations

import errno
import os

from . import _json, paths
from .errors import EcrpyError, KeyringUnavailableError, NotFoundError, environment_error
from .fsutil import atomic_write_private, ensure_private_dir, read_regular

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SERVICE = "docker-credential-ecrpy"
_MAX_INDEX = 1024 * 1024  # hosts and usernames only: a real index is a few kB


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
    """``{host: {"server_url": ..., "username": ...}}``; empty when missing or unusable.

    A damaged index (truncated, binary, huge, wrongly typed, not a regular file) reads as no
    index: logged, and rewritten by the next ``store``. Entries of the wrong shape are dropped.
    """
    path = index_path()
    try:
        data = _json.loads(read_regular(path, _MAX_INDEX, follow_symlinks=True))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # ENOTDIR/EACCES (unusable HOME), FIFO, damage
        _log("ignoring credentials index %s (it will be rewritten): %s", path, exc)
        return {}
    if not isinstance(data, dict):
        _log("ignoring credentials index %s (it will be rewritten): not an object", path)
        return {}
    index = {
        h: v
        for h, v in data.items()
        if isinstance(v, dict)
        and isinstance(v.get("server_url"), str)
        and isinstance(v.get("username"), str)
    }
    if len(index) != len(data):
        _log(
            "ignoring %d malformed entries of credentials index %s (rewritten by the next store)",
            len(data) - len(index),
            path,
        )
    return index


def _log(message: str, *args: object) -> None:
    from . import logs

    logs.warning(message, *args)


def _save_index(index: dict[str, dict[str, str]]) -> None:
    atomic_write_private(index_path(), _json.dumps(dict(sorted(index.items()))).encode())


def _check_state_dir() -> None:
    """Refuse early, before a secret reaches the keyring, if the index cannot be written.

    The index is what ``erase`` and ``list`` find a host by: a secret stored without it
    would be an orphan nobody can reach through ecrpy.
    """
    folder = os.path.dirname(index_path())
    try:
        ensure_private_dir(folder)
        if not os.access(folder, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), folder)
    except OSError as exc:
        raise _state_error(exc) from None


def _state_error(exc: OSError) -> EcrpyError:
    return environment_error(
        f"store credentials: the state folder {os.path.dirname(index_path())} is unusable",
        exc,
        alternative="set ECRPY_STATE_DIR to a writable private folder",
    )


def store(host: str, server_url: str, username: str, secret: str) -> None:
    """Save ``username``/``secret`` for ``host`` (normalised) in the keyring.

    The state folder is checked first, and if the index still cannot be written after the
    secret went into the keyring, the secret is taken out again: never an orphan secret.
    """
    _check_state_dir()
    kr = backend()
    kr.set_password(SERVICE, host, _json.dumps({"Username": username, "Secret": secret}))
    index = load_index()
    index[host] = {"server_url": server_url, "username": username}
    try:
        _save_index(index)
    except OSError as exc:
        try:
            kr.delete_password(SERVICE, host)
        except Exception as undo:  # keyring backends raise their own types
            _log("could not take back the secret for %s: %s", host, type(undo).__name__)
        raise _state_error(exc) from None


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
