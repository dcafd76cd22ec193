"""IAM condition operators: parsing a ``Condition`` block and evaluating it against a context.

Semantics follow the IAM reference ("Condition operators", "Single-valued vs. multivalued
context keys"):

* several values for one key are OR-ed; several keys, and several operators, are AND-ed;
* a key missing from the context makes the condition false, except that a negated operator
  (``StringNotEquals``, ``ArnNotLike``, ``NotIpAddress`` ...) is then true, ``...IfExists`` is
  then true, and ``Null`` tests exactly for presence;
* ``ForAllValues:`` is true when the key is missing or empty, ``ForAnyValue:`` is then false.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Literal

from .matching import arn_match, glob_match
from .variables import (
    Context,
    Scalar,
    Template,
    parse_template,
    render_pattern,
    render_text,
    scalar_text,
)

Family = Literal["string", "numeric", "date", "bool", "binary", "ip", "arn", "null"]
SetOp = Literal["", "ForAllValues", "ForAnyValue"]


@dataclass(frozen=True)
class OperatorSpec:
    """What a base operator name means: its family, comparison and whether it is negated."""

    name: str
    family: Family
    compare: str  # eq, eq_ci, like, lt, le, gt, ge, in (IP), null
    negated: bool = False


def _specs() -> dict[str, OperatorSpec]:
    table: list[OperatorSpec] = [
        OperatorSpec("StringEquals", "string", "eq"),
        OperatorSpec("StringNotEquals", "string", "eq", True),
        OperatorSpec("StringEqualsIgnoreCase", "string", "eq_ci"),
        OperatorSpec("StringNotEqualsIgnoreCase", "string", "eq_ci", True),
        OperatorSpec("StringLike", "string", "like"),
        OperatorSpec("StringNotLike", "string", "like", True),
        OperatorSpec("Bool", "bool", "eq"),
        OperatorSpec("BinaryEquals", "binary", "eq"),
        OperatorSpec("IpAddress", "ip", "in"),
        OperatorSpec("NotIpAddress", "ip", "in", True),
        # ArnEquals accepts wildcards just like ArnLike (IAM reference).
        OperatorSpec("ArnEquals", "arn", "like"),
        OperatorSpec("ArnLike", "arn", "like"),
        OperatorSpec("ArnNotEquals", "arn", "like", True),
        OperatorSpec("ArnNotLike", "arn", "like", True),
        OperatorSpec("Null", "null", "null"),
    ]
    for prefix, family in (("Numeric", "numeric"), ("Date", "date")):
        fam: Family = "numeric" if family == "numeric" else "date"
        table += [
            OperatorSpec(f"{prefix}Equals", fam, "eq"),
            OperatorSpec(f"{prefix}NotEquals", fam, "eq", True),
            OperatorSpec(f"{prefix}LessThan", fam, "lt"),
            OperatorSpec(f"{prefix}LessThanEquals", fam, "le"),
            OperatorSpec(f"{prefix}GreaterThan", fam, "gt"),
            OperatorSpec(f"{prefix}GreaterThanEquals", fam, "ge"),
        ]
    # Looked up case-insensitively: the operator name's case carries no meaning.
    return {s.name.lower(): s for s in table}


SPECS = _specs()

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# A policy value compiled for its family.
Compiled = Template | Decimal | datetime | bool | bytes | Network


@dataclass(frozen=True)
class Operator:
    """A full operator as written, e.g. ``ForAnyValue:StringLikeIfExists``."""

    text: str
    spec: OperatorSpec
    set_op: SetOp
    if_exists: bool


@dataclass(frozen=True)
class Clause:
    """One ``operator -> key -> values`` test of a Condition block."""

    operator: Operator
    key: str  # lower-case; keys are case-insensitive
    key_text: str
    values: tuple[Compiled, ...]
    raw_values: tuple[Scalar, ...]


def parse_operator(text: str) -> Operator:
    """Parse an operator name; raises ``ValueError`` naming it when unknown."""
    set_op: SetOp = ""
    base = text
    prefix, sep, rest = text.partition(":")
    if sep:
        if prefix.lower() == "forallvalues":
            set_op = "ForAllValues"
        elif prefix.lower() == "foranyvalue":
            set_op = "ForAnyValue"
        else:
            raise ValueError(f"unknown operator {text!r}")
        base = rest
    if_exists = False
    spec = SPECS.get(base.lower())
    if spec is None and base.lower().endswith("ifexists"):
        spec = SPECS.get(base.lower()[: -len("ifexists")])
        if_exists = True
    if spec is None:
        raise ValueError(f"unknown operator {text!r}")
    if spec.family == "null" and (if_exists or set_op):
        raise ValueError(f"unknown operator {text!r} (Null takes no IfExists or set prefix)")
    return Operator(text, spec, set_op, if_exists)


# --- value parsing (shared by policy values and context values) -------------------------------


def to_decimal(value: Scalar) -> Decimal | None:
    """A number from a JSON number or numeric string; booleans are not numbers."""
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def to_datetime(value: Scalar) -> datetime | None:
    """A date from ISO 8601 text or epoch seconds (number or digit string), UTC if unzoned."""
    if isinstance(value, bool):
        return None
    number = to_decimal(value)
    if number is not None:
        try:
            return datetime.fromtimestamp(float(number), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    # Python 3.10's fromisoformat does not accept a trailing Z.
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def to_bool(value: Scalar) -> bool | None:
    """``true``/``false`` (any case) or a JSON boolean."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text == "true" else False if text == "false" else None


def to_bytes(value: Scalar) -> bytes | None:
    """Bytes from base64 text."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def to_network(value: Scalar) -> Network | None:
    """A CIDR block (a bare address is a /32 or /128)."""
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


_PARSERS: Mapping[Family, Callable[[Scalar], Compiled | None]] = {
    "numeric": to_decimal,
    "date": to_datetime,
    "bool": to_bool,
    "null": to_bool,
    "binary": to_bytes,
    "ip": to_network,
}


def compile_value(spec: OperatorSpec, value: Scalar, *, variables: bool) -> Compiled:
    """Compile one policy value for ``spec``; raises ``ValueError`` when it cannot mean
    anything for the operator (a typo that would otherwise silently never match)."""
    if spec.family in ("string", "arn"):
        return parse_template(scalar_text(value), variables=variables)
    parsed = _PARSERS[spec.family](value)
    if parsed is None:
        raise ValueError(f"{value!r} is not a valid value for {spec.name}")
    return parsed


# --- evaluation -------------------------------------------------------------------------------


def _ordered(compare: str, left: Decimal | datetime, right: Decimal | datetime) -> bool:
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        sign = (left > right) - (left < right)
    elif isinstance(left, datetime) and isinstance(right, datetime):
        sign = (left > right) - (left < right)
    else:
        return False
    return {"eq": sign == 0, "lt": sign < 0, "le": sign <= 0, "gt": sign > 0, "ge": sign >= 0}[
        compare
    ]


def _value_matches(spec: OperatorSpec, actual: Scalar, wanted: Compiled, ctx: Context) -> bool:
    """The positive (un-negated) comparison of one context value with one policy value."""
    family = spec.family
    if family == "string" or family == "arn":
        assert isinstance(wanted, tuple)
        text = scalar_text(actual)
        if spec.compare == "like" or family == "arn":
            pattern = render_pattern(wanted, ctx, wildcards=True)
            if pattern is None:
                return False
            return arn_match(pattern, text) if family == "arn" else glob_match(pattern, text)
        rendered = render_text(wanted, ctx)
        if rendered is None:
            return False
        if spec.compare == "eq_ci":
            return rendered.casefold() == text.casefold()
        return rendered == text
    if family == "numeric" or family == "date":
        have = to_decimal(actual) if family == "numeric" else to_datetime(actual)
        assert isinstance(wanted, (Decimal, datetime))
        return have is not None and _ordered(spec.compare, have, wanted)
    if family == "bool":
        return to_bool(actual) is wanted
    if family == "binary":
        return to_bytes(actual) == wanted
    if family == "ip":
        assert isinstance(wanted, (ipaddress.IPv4Network, ipaddress.IPv6Network))
        try:
            address = ipaddress.ip_address(scalar_text(actual).strip())
        except ValueError:
            return False
        return address in wanted
    return False


def evaluate_clause(clause: Clause, ctx: Context) -> bool:
    """Whether one clause holds for the request context."""
    op = clause.operator
    spec = op.spec
    present = ctx.get(clause.key)
    if spec.family == "null":
        # Null: true means "the key is absent"; several values are OR-ed like any other.
        return any(bool(v) is (present is None) for v in clause.values)
    if present is None:
        if op.if_exists or op.set_op == "ForAllValues":
            return True
        if op.set_op == "ForAnyValue":
            return False
        return spec.negated

    def one(actual: Scalar) -> bool:
        hit = any(_value_matches(spec, actual, wanted, ctx) for wanted in clause.values)
        return hit != spec.negated

    if op.set_op == "ForAllValues":
        return all(one(v) for v in present)
    if op.set_op == "ForAnyValue":
        return any(one(v) for v in present)
    # A plain operator on a multivalued key: positive operators need one value to match,
    # negated ones need none to match.
    if spec.negated:
        return all(one(v) for v in present)
    return any(one(v) for v in present)
