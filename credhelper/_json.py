"""JSON on the helper's hot path without ``import json``.

Importing ``json`` costs ~2.6 ms here because ``json.decoder``/``json.scanner``/``json.encoder``
compile regular expressions at import; the C accelerator ``_json`` underneath needs none of
that. ``loads`` drives the C scanner directly (strict JSON: no NaN/Infinity), ``dumps`` writes the
few shapes the hot path emits with the same escaping ``json.dumps`` uses. Anything else (and any
interpreter without ``_json``) falls back to the ``json`` module.

The one documented error is ``ValueError``. The C scanner builds its error (a
``json.JSONDecodeError``) from ``json.decoder`` *only if that module is already imported*;
otherwise it returns NULL without an exception, which Python reports as ``SystemError``. So a
failed scan is re-run through ``json`` (imported only then: the success path stays free of
it) to get the real message, and nesting too deep to decode is a ``ValueError`` as well.

*Hot* (docs/CONTRIBUTING-hot-path.md).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_quote: Any
_make_scanner: Any
try:
    from _json import encode_basestring_ascii as _quote
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - not CPython
    _quote = None
    _make_scanner = None

_WS = " \t\n\r"
_scanner: Any = None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _Context:
    """The attributes the C scanner reads from a JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_reject_constant)
    memo: dict[str, str] = {}


def loads(text: str | bytes) -> Any:
    """Parse one JSON document; ``ValueError`` for anything that is not exactly one."""
    global _scanner
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    if _make_scanner is None:  # pragma: no cover
        import json

        return json.loads(text)
    if _scanner is None:
        _scanner = _make_scanner(_Context())
    body = text.strip(_WS)
    try:
        value, end = _scanner(body, 0)
    except StopIteration:
        raise ValueError("not a JSON document") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except SystemError:  # a scan error without json.decoder imported (see the module doc)
        raise _explain(body) from None
    if end != len(body):
        raise ValueError("extra data after the JSON document")
    return value


def _explain(body: str) -> ValueError:
    """The error ``json`` reports for ``body`` (which our scanner could not parse)."""
    import json

    try:
        json.JSONDecoder(parse_constant=_reject_constant).decode(body)
    except RecursionError:
        return ValueError("JSON nested too deeply")
    except ValueError as exc:
        return exc
    return ValueError("not a JSON document")  # pragma: no cover - json accepted what C refused


def dumps(value: object) -> str:
    """``json.dumps(value)`` for str/int/float/bool/None and lists/dicts of them.

    Uses the default separators (``", "`` and ``": "``) and ASCII escaping, so the output is
    byte-for-byte what ``json.dumps`` would print.
    """
    return _encode(value, ", ", ": ")


def dumps_compact(value: object) -> str:
    """``json.dumps(value, separators=(",", ":"))`` for the same shapes."""
    return _encode(value, ",", ":")


def _encode(value: object, item_sep: str, key_sep: str) -> str:
    if _quote is None:  # pragma: no cover
        import json

        return json.dumps(value, separators=(item_sep, key_sep))
    if isinstance(value, str):
        quoted: str = _quote(value)
        return quoted
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("NaN and infinities are not valid JSON")
        return float.__repr__(value)
    if isinstance(value, (list, tuple)):
        return "[" + item_sep.join(_encode(v, item_sep, key_sep) for v in value) + "]"
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError("JSON object keys must be strings here")
            parts.append(_quote(k) + key_sep + _encode(v, item_sep, key_sep))
        return "{" + item_sep.join(parts) + "}"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
