"""The ``credsStore`` that ``configure --default --force`` replaced, for ``--remove`` to restore.

A user who lets ecrpy take over ``"credsStore": "desktop"`` still has their Docker Hub logins in
Docker Desktop's store. Removing ecrpy must point docker at that store again: deleting the key
would leave docker with no store, and those logins would look lost. ``config.json.bak`` only
holds the file before the *latest* edit, so the value is kept here: one JSON object in the
state folder (``{real path of config.json: {"credsStore": ..., "replaced_at": ...}}``), 0600 in
a 0700 folder, written atomically. A damaged or unreadable file reads as no record (logged):
``--remove`` then deletes the key as before, and the backup is the way back.
"""

from __future__ import annotations

import os

from . import _json, paths
from .fsutil import atomic_write_private, check_private_dir, read_regular

_MAX_SIZE = 1024 * 1024  # one small entry per docker config folder


def record_path() -> str:
    return os.path.join(paths.state_dir(), "replaced-creds-store.json")


def _key(config_json: str) -> str:
    # A symlinked config.json is edited at its target: one record, whichever name was used.
    return os.path.realpath(config_json)


def _load() -> dict[str, dict[str, str]]:
    path = record_path()
    try:
        if not os.path.lexists(path):
            return {}
        # The record decides what docker's credsStore becomes: not from a folder others
        # could write to (InsecureDirectoryError is an OSError).
        check_private_dir(os.path.dirname(path))
        data = _json.loads(read_regular(path, _MAX_SIZE, follow_symlinks=True))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, RecursionError) as exc:  # damage, a FIFO, an unusable folder
        _log("ignoring %s (damaged or unreadable): %s", path, exc)
        return {}
    if not isinstance(data, dict):
        _log("ignoring %s: not a JSON object", path)
        return {}
    return {
        k: v
        for k, v in data.items()
        if isinstance(v, dict) and isinstance(v.get("credsStore"), str) and v["credsStore"]
    }


def recall(config_json: str) -> tuple[str, str] | None:
    """(the replaced ``credsStore``, when it was replaced) for this config.json, or None."""
    entry = _load().get(_key(config_json))
    if entry is None:
        return None
    when = entry.get("replaced_at")
    return entry["credsStore"], when if isinstance(when, str) else "an unknown time"


def remember(config_json: str, store: str, when: str) -> None:
    """Keep ``store`` (replaced at ``when``) for this config.json. ``OSError`` when the state
    folder is unusable: the caller reports it (the value is still in the backup)."""
    records = _load()
    records[_key(config_json)] = {"credsStore": store, "replaced_at": when}
    _save(records)


def forget(config_json: str) -> None:
    """Drop this config.json's record (none: nothing written). ``OSError`` as ``remember``."""
    records = _load()
    if records.pop(_key(config_json), None) is None:
        return
    if records:
        _save(records)
    else:
        os.unlink(record_path())


def _save(records: dict[str, dict[str, str]]) -> None:
    atomic_write_private(record_path(), _json.dumps(dict(sorted(records.items()))).encode())


def _log(message: str, *args: object) -> None:
    from . import logs

    logs.warning(message, *args)
