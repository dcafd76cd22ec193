"""The hot path's JSON agrees with the json module on every value it may meet."""

from __future__ import annotations

import json

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
