"""ecrpy's one JSON-output convention (docs/json-output.md), for every command's ``--json``.

* Every document is one JSON object whose first key is ``schema``: ``"ecrpy.<name>/<major>"``
  (e.g. ``ecrpy.whoami/1``). The major number changes only when a key is removed, renamed or
  changes meaning; new keys may appear at any time.
* Instants are ISO-8601 UTC strings with a ``Z`` suffix and whole seconds
  (``2026-11-24T09:30:00Z``); durations are numbers of seconds whose key says so
  (``remaining_seconds``, ``elapsed_seconds``).
* A failure prints ``ecrpy.error/1`` on stdout (the one-line cause still goes to stderr) and the
  process exits with the same ``exit_code`` the document names.

Not on the helper's hot path: ``json`` is imported at module level.
"""

from __future__ import annotations

import json
import time
from typing import Any

ERROR_SCHEMA = "ecrpy.error/1"


def utc_iso(epoch: float) -> str:
    """``epoch`` (seconds since 1970, UTC) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def document(schema: str, **fields: Any) -> str:
    """One JSON document: ``{"schema": schema, **fields}``, indented for people reading it.

    ``schema`` must look like ``ecrpy.NAME/N`` so that every producer follows the convention.
    """
    name, _, major = schema.partition("/")
    if not name.startswith("ecrpy.") or not major.isdigit():
        raise ValueError(f"schema {schema!r} is not of the form ecrpy.NAME/N")
    return json.dumps({"schema": schema, **fields}, indent=2)


def error_document(
    exc: BaseException, exit_code: int | None = None, hint: str | None = None, **context: Any
) -> str:
    """``ecrpy.error/1`` for a failure: the same words as the stderr line, never a secret.

    ``exc`` is an ``EcrpyError`` (message + hint + exit code) or anything else, which is shown
    only by its class name (its text may quote a secret). ``exit_code`` and ``hint`` override
    the exception's; ``context`` adds keys such as ``command``.
    """
    from .errors import EcrpyError

    if isinstance(exc, EcrpyError):
        message, own_hint, code = exc.message, exc.hint, exc.exit_code
    else:
        message, own_hint, code = f"internal error ({type(exc).__name__})", None, 1
    shown = hint if hint is not None else own_hint
    return document(
        ERROR_SCHEMA,
        error=" ".join(message.split()),
        hint=None if shown is None else " ".join(shown.split()),
        exit_code=code if exit_code is None else exit_code,
        **context,
    )
