"""Policy variables (``${aws:username}``, ``${key, 'default'}``, ``${*}``) in policy strings.

A policy string is compiled once into a ``Template``; rendering it against a request context
yields a pattern (see :mod:`.matching`) or ``None`` when a variable cannot be resolved, in
which case the value simply does not match (AWS's documented behaviour).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .matching import Item, Pattern, Wild, compile_glob

Scalar = str | bool | int | float
# Request context after normalisation: lower-case key -> its values (one for a single-valued
# key). Keys with no values are left out so "empty" and "missing" behave alike.
Context = Mapping[str, tuple[Scalar, ...]]

# Variables only exist in policies of this version; in 2008-10-17 ``${...}`` is plain text.
VARIABLES_VERSION = "2012-10-17"

_ESCAPES = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True)
class Text:
    """Raw policy text: ``*`` and ``?`` in it are wildcards where the operator allows them."""

    text: str


@dataclass(frozen=True)
class Chars:
    """Literal characters from an escape such as ``${*}``: never wildcards."""

    text: str


@dataclass(frozen=True)
class Var:
    """A ``${key}`` or ``${key, 'default'}`` reference (key kept lower-case)."""

    key: str
    default: str | None


Part = Text | Chars | Var
Template = tuple[Part, ...]


def scalar_text(value: Scalar) -> str:
    """A context or policy scalar as the string IAM compares (JSON spelling for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_template(text: str, *, variables: bool = True) -> Template:
    """Compile policy text; raises ``ValueError`` on a malformed ``${...}``."""
    if not variables or "${" not in text:
        return (Text(text),)
    parts: list[Part] = []
    pos = 0
    while True:
        start = text.find("${", pos)
        if start < 0:
            break
        if start > pos:
            parts.append(Text(text[pos:start]))
        end = text.find("}", start)
        if end < 0:
            raise ValueError(f"unterminated policy variable in {text!r}")
        parts.append(_parse_var(text[start + 2 : end], text))
        pos = end + 1
    if pos < len(text):
        parts.append(Text(text[pos:]))
    return tuple(parts)


def _parse_var(body: str, whole: str) -> Part:
    if body in _ESCAPES:
        return Chars(_ESCAPES[body])
    name, comma, rest = body.partition(",")
    name = name.strip()
    if not name or any(c in name for c in "${'"):
        raise ValueError(f"malformed policy variable '${{{body}}}' in {whole!r}")
    if not comma:
        return Var(name.lower(), None)
    rest = rest.strip()
    if len(rest) < 2 or rest[0] != "'" or rest[-1] != "'" or "'" in rest[1:-1]:
        raise ValueError(f"policy variable default must be 'quoted' in {whole!r}")
    return Var(name.lower(), rest[1:-1])


def _resolve(var: Var, ctx: Context) -> str | None:
    values = ctx.get(var.key)
    if values is None:
        return var.default
    # A multivalued key cannot stand in for one string.
    return scalar_text(values[0]) if len(values) == 1 else None


def render_pattern(template: Template, ctx: Context, *, wildcards: bool) -> Pattern | None:
    """Substitute variables. With ``wildcards`` raw ``*``/``?`` become wildcards; substituted
    values and escapes are always literal. ``None`` when a variable is unresolved."""
    items: list[Item] = []
    for part in template:
        if isinstance(part, Text):
            items.extend(compile_glob(part.text) if wildcards else part.text)
        elif isinstance(part, Chars):
            items.extend(part.text)
        else:
            value = _resolve(part, ctx)
            if value is None:
                return None
            items.extend(value)
    return tuple(items)


def render_text(template: Template, ctx: Context) -> str | None:
    """Substitute variables for an exact comparison. ``None`` when one is unresolved."""
    pattern = render_pattern(template, ctx, wildcards=False)
    if pattern is None:
        return None
    return "".join(i.value if isinstance(i, Wild) else i for i in pattern)


def template_colons(template: Template) -> int:
    """How many ARN field separators the raw text has (colons inside ``${...}`` excluded)."""
    return sum(p.text.count(":") for p in template if isinstance(p, Text))
