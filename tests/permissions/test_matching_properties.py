"""Property tests: wildcard, ArnLike and Resource matching against regex reference matchers."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from credhelper.permissions.matching import (
    arn_match,
    compile_glob,
    glob_match,
    literal,
    resource_match,
)

PATTERN_CHARS = "ab*?:"
TEXT_CHARS = "ab:"


def reference_glob(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """``*``/``?`` globbing by translation to a regular expression."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, text, flags) is not None


def reference_arn(pattern: str, value: str) -> bool:
    """IAM ARN matching as one regex: in the first five fields a wildcard cannot match ':'."""
    if pattern.count(":") < 5:
        return ":" not in pattern and reference_glob(pattern, value)
    out = []
    colons = 0
    for c in pattern:
        in_resource = colons >= 5
        if c == "*":
            out.append(".*" if in_resource else "[^:]*")
        elif c == "?":
            out.append("." if in_resource else "[^:]")
        else:
            if c == ":":
                colons += 1
            out.append(re.escape(c))
    return re.fullmatch("".join(out), value, re.DOTALL) is not None


@given(st.text(PATTERN_CHARS, max_size=12), st.text(TEXT_CHARS, max_size=12))
def test_glob_matches_reference(pattern: str, text: str) -> None:
    assert glob_match(compile_glob(pattern), text) == reference_glob(pattern, text)


@given(st.text("aAbB*?", max_size=10), st.text("aAbB", max_size=10))
def test_glob_ignore_case_matches_reference(pattern: str, text: str) -> None:
    got = glob_match(compile_glob(pattern), text, ignore_case=True)
    assert got == reference_glob(pattern, text, ignore_case=True)


@given(st.text("ab*?", max_size=10))
def test_literal_pattern_matches_only_itself(text: str) -> None:
    assert glob_match(literal(text), text)
    assert not glob_match(literal(text), text + "a")
    if "*" in text or "?" in text:
        # A literal star or question mark is not a wildcard.
        assert not glob_match(literal(text), text.replace("*", "a").replace("?", "b"))


@given(st.text("ab", max_size=10))
def test_text_without_wildcards_matches_exactly_itself(text: str) -> None:
    assert glob_match(compile_glob(text), text)
    assert glob_match(compile_glob("*"), text)
    assert not glob_match(compile_glob(text + "?"), text)


FIELD = st.text("ab*?", max_size=4)
VALUE_FIELD = st.text("ab", max_size=4)


@given(st.lists(FIELD, min_size=6, max_size=8), st.lists(VALUE_FIELD, min_size=4, max_size=8))
def test_arn_match_matches_reference(pattern_fields: list[str], value_fields: list[str]) -> None:
    pattern = ":".join(pattern_fields)
    value = ":".join(value_fields)
    assert arn_match(compile_glob(pattern), value) == reference_arn(pattern, value)


@given(st.text(PATTERN_CHARS, max_size=16), st.text(TEXT_CHARS, max_size=16))
def test_arn_match_matches_reference_on_any_text(pattern: str, value: str) -> None:
    assert arn_match(compile_glob(pattern), value) == reference_arn(pattern, value)


@given(st.lists(VALUE_FIELD, min_size=6, max_size=6), st.integers(0, 4))
def test_star_in_one_arn_field_never_spans_fields(fields: list[str], which: int) -> None:
    pattern_fields = list(fields)
    pattern_fields[which] = "*"
    value_fields = list(fields)
    value_fields[which] = "x:y"  # an extra colon: the star would have to swallow it
    assert arn_match(compile_glob(":".join(pattern_fields)), ":".join(fields))
    assert not arn_match(compile_glob(":".join(pattern_fields)), ":".join(value_fields))
    # In the resource part a star may span colons.
    tail = [*fields[:5], "*"]
    assert arn_match(compile_glob(":".join(tail)), ":".join([*fields[:5], "x:y:z"]))


def reference_resource(pattern: str, value: str) -> bool:
    """The Resource element as one regex (IAM reference, Resource): wildcards stay within a
    colon-separated segment, except a ``*`` that is the segment's last character, which "can
    expand to match beyond the colon boundaries"; in the resource part (after the fifth
    colon) wildcards match anything."""
    out = []
    colons = 0
    for i, c in enumerate(pattern):
        in_resource = colons >= 5
        ends_segment = i + 1 == len(pattern) or pattern[i + 1] == ":"
        if c == "*":
            out.append(".*" if in_resource or ends_segment else "[^:]*")
        elif c == "?":
            out.append("." if in_resource else "[^:]")
        else:
            if c == ":":
                colons += 1
            out.append(re.escape(c))
    return re.fullmatch("".join(out), value, re.DOTALL) is not None


@given(st.text(PATTERN_CHARS, max_size=16), st.text(TEXT_CHARS, max_size=16))
def test_resource_match_matches_reference(pattern: str, value: str) -> None:
    assert resource_match(compile_glob(pattern), value) == reference_resource(pattern, value)


@given(st.lists(FIELD, min_size=3, max_size=7), st.lists(VALUE_FIELD, min_size=3, max_size=8))
def test_resource_match_matches_reference_on_arn_shapes(
    pattern_fields: list[str], value_fields: list[str]
) -> None:
    pattern = ":".join(pattern_fields)
    value = ":".join(value_fields)
    assert resource_match(compile_glob(pattern), value) == reference_resource(pattern, value)


@given(st.lists(VALUE_FIELD, min_size=6, max_size=6), st.integers(1, 4))
def test_resource_star_ending_a_segment_spans_colons(fields: list[str], which: int) -> None:
    # "arn:aws:ecr:*" covers every ECR resource; "arn:aws:ecr:u*1:..." stays in its segment.
    value = ":".join(fields)
    assert resource_match(compile_glob(":".join([*fields[:which], "*"])), value)
    inner = [*fields[:which], "a*b", *fields[which + 1 :]]
    spanning = [*fields[:which], "a:x:b", *fields[which + 1 :]]
    assert not resource_match(compile_glob(":".join(inner)), ":".join(spanning))
