"""The hot path's JSON agrees with the json module on every value it may meet."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credhelper import _json

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_dumps_matches_json(value: object) -> None:
    assert _json.dumps(value) == json.dumps(value)
    assert _json.dumps_compact(value) == json.dumps(value, separators=(",", ":"))


@given(values)
def test_loads_round_trips(value: object) -> None:
    assert _json.loads(json.dumps(value)) == value
    assert _json.loads(json.dumps(value, indent=2).encode()) == value


@given(st.text())
def test_loads_accepts_what_json_accepts(text: str) -> None:
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            _json.loads(text)
        return
    if "NaN" in text or "Infinity" in text:
        return  # strict: we refuse the non-standard constants json accepts
    assert _json.loads(text) == expected


@pytest.mark.parametrize("bad", ["", "  ", "{", "[1,]", '{"a":1} x', "NaN", "[Infinity]", "\x00", "1 2"])
def test_loads_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        _json.loads(bad)


def test_loads_rejects_invalid_utf8() -> None:
    with pytest.raises(ValueError):
        _json.loads(b'"\xff"')


# -- damaged documents: only ValueError, whatever the bytes ------------------------------------
# The helper's hot path runs without ``json`` imported, and that is when the C scanner used to
# raise SystemError. ``json_not_imported`` recreates that state in this process (the test module
# itself imports json) by taking the json modules out of sys.modules around the call.

_JSON_MODULES = ("json", "json.decoder", "json.scanner", "json.encoder")


def _loads_without_json(data: str | bytes) -> object:
    saved = {name: sys.modules.pop(name) for name in _JSON_MODULES if name in sys.modules}
    try:
        return _json.loads(data)
    finally:
        for name in _JSON_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def _reject(name: str) -> object:
    raise ValueError(name)


def _reference(data: bytes) -> object:
    """What json.loads makes of ``data`` as UTF-8 (strict constants), or the exception type."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject)
    except (ValueError, RecursionError) as exc:
        return type(exc)


def _agrees_with_json(data: bytes) -> None:
    """Our loads returns what json.loads returns, or raises ValueError where json fails."""
    expected = _reference(data)
    forms: list[str | bytes] = [data]
    try:
        forms.append(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    for form in forms:
        try:
            got = _loads_without_json(form)
        except ValueError:
            assert isinstance(expected, type), f"json parsed {data[:60]!r}, we refused it"
            continue
        except BaseException as exc:  # the bug this guards: SystemError, RecursionError, ...
            pytest.fail(f"{type(exc).__name__} for {data[:60]!r}")
        assert not isinstance(expected, type), f"json refused {data[:60]!r}, we parsed it"
        assert got == expected


documents = values.flatmap(
    lambda v: st.sampled_from(
        [json.dumps(v), json.dumps(v, indent=2), json.dumps(v, separators=(",", ":"))]
    )
).map(lambda text: text.encode())


@given(documents, st.data())
def test_truncated_documents_raise_only_value_error(doc: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(doc)))
    _agrees_with_json(doc[:cut])


@given(documents, st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4))
def test_mutated_documents_raise_only_value_error(
    doc: bytes, edits: list[tuple[int, int]]
) -> None:
    buf = bytearray(doc)
    for pos, byte in edits:
        if buf:
            buf[pos % len(buf)] = byte
    _agrees_with_json(bytes(buf))


@given(
    documents,
    # well inside or well past the recursion limit (near it, json's own answer depends on
    # how deep the caller's stack already is)
    st.integers(1, 200) | st.integers(5_000, 200_000),
    st.sampled_from([("[", "]"), ('{"k":', "}"), ('{"a":[', "]}")]),
    st.booleans(),
)
def test_deeply_nested_documents_raise_only_value_error(
    doc: bytes, depth: int, brackets: tuple[str, str], truncate: bool
) -> None:
    opener, closer = brackets
    nested = opener.encode() * depth + doc + (b"" if truncate else closer.encode() * depth)
    _agrees_with_json(nested)


@pytest.mark.parametrize(
    "bad", ['{"a" 1}', '"abc', "[1 2]", '{"a":1,}', "tru", "[" * 100_000, '{"k":' * 50_000 + "1"]
)
def test_scan_errors_without_json_imported_are_value_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        _loads_without_json(bad)
