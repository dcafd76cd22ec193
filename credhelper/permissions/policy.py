"""Parse and validate IAM policy documents into typed, pre-compiled objects.

``parse_policy`` rejects anything IAM would reject or that could not mean what its author
wanted (unknown operator, missing Effect, a value of the wrong type ...): a bad document must
never turn into a silent allow. Every error is a ``PolicyDocumentError`` naming the place,
e.g. ``identity_policies[0].Statement[2].Condition: unknown operator 'StringEqualz'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..errors import PolicyDocumentError
from .conditions import Clause, compile_value, parse_operator
from .matching import Pattern, compile_glob
from .variables import VARIABLES_VERSION, Scalar, Template, parse_template, template_colons

Effect = Literal["Allow", "Deny"]
PolicyKind = Literal[
    "identity", "resource", "permissions_boundary", "session", "scp", "rcp", "vpce"
]
# Kinds whose statements name a Principal: resource-based policies, RCPs (Organizations, RCP
# syntax: "Principal" is required and must be "*") and VPC endpoint policies.
PRINCIPAL_KINDS = ("resource", "rcp", "vpce")

VERSIONS = ("2012-10-17", "2008-10-17")
_POLICY_KEYS = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_AWS_PRINCIPAL = re.compile(r"^(\d{12}|arn:[^:]+:(iam|sts)::\d{12}:.+|A[A-Z0-9]{15,127})$")
_ACTION = re.compile(r"^[A-Za-z0-9*?-]+:[A-Za-z0-9*?]*$")


@dataclass(frozen=True)
class PrincipalSpec:
    """A ``Principal``/``NotPrincipal`` element. ``everyone`` is the bare string ``"*"``."""

    everyone: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statement:
    """One statement, with actions, resources and conditions compiled for matching."""

    index: int
    sid: str | None
    effect: Effect
    actions: tuple[Pattern, ...]
    not_action: bool
    # None: no Resource element (allowed only in a resource policy: the attached resource).
    resources: tuple[Template, ...] | None
    not_resource: bool
    principal: PrincipalSpec | None
    not_principal: bool
    conditions: tuple[Clause, ...]


@dataclass(frozen=True)
class Policy:
    """A validated policy document. ``name`` is what decisions cite (e.g. its IAM name)."""

    name: str
    kind: PolicyKind
    version: str | None  # None: no Version element (variables are then plain text)
    statements: tuple[Statement, ...]


def parse_policy(
    doc: object, where: str, *, kind: PolicyKind = "identity", name: str | None = None
) -> Policy:
    """Validate ``doc`` (a decoded JSON policy) and compile it.

    ``where`` prefixes error messages (``identity_policies[0]``); ``kind`` selects the rules
    for Principal/Resource (a resource policy needs a Principal and may omit Resource; the
    other kinds must not name a Principal and need a Resource); ``name`` defaults to
    ``where``. Raises ``PolicyDocumentError``.
    """
    if not isinstance(doc, dict):
        raise PolicyDocumentError(f"{where}: a policy must be a JSON object")
    _no_unknown_keys(doc, _POLICY_KEYS, where)
    # IAM reference, Version element: a policy without Version is accepted, and "if you do
    # not include a Version element, the value defaults to 2008-10-17" -- so variables such
    # as ${aws:username} are then literal text.
    version = doc.get("Version")
    if version is not None and version not in VERSIONS:
        raise PolicyDocumentError(f"{where}.Version: must be one of {', '.join(VERSIONS)}")
    assert version is None or isinstance(version, str)
    if "Id" in doc and not isinstance(doc["Id"], str):
        raise PolicyDocumentError(f"{where}.Id: must be a string")
    raw = doc.get("Statement")
    if isinstance(raw, dict):
        items: list[tuple[str, object]] = [(f"{where}.Statement", raw)]
    elif isinstance(raw, list) and raw:
        items = [(f"{where}.Statement[{i}]", s) for i, s in enumerate(raw)]
    else:
        raise PolicyDocumentError(
            f"{where}.Statement: must be an object or a non-empty list of objects"
        )
    variables = version == VARIABLES_VERSION
    statements = tuple(
        _parse_statement(s, i, place, kind, variables) for i, (place, s) in enumerate(items)
    )
    return Policy(name or where, kind, version, statements)


def _no_unknown_keys(obj: Mapping[str, object], allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise PolicyDocumentError(f"{where}: unknown element {unknown[0]!r}")


def _one_of(obj: Mapping[str, object], a: str, b: str, where: str, required: bool) -> str | None:
    if a in obj and b in obj:
        raise PolicyDocumentError(f"{where}: use either {a} or {b}, not both")
    if a in obj:
        return a
    if b in obj:
        return b
    if required:
        raise PolicyDocumentError(f"{where}: needs {a} or {b}")
    return None


def _strings(value: object, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise PolicyDocumentError(f"{where}: must be a string or a non-empty list of strings")
    return [v for v in items if isinstance(v, str)]


def _parse_statement(
    obj: object, index: int, where: str, kind: PolicyKind, variables: bool
) -> Statement:
    if not isinstance(obj, dict):
        raise PolicyDocumentError(f"{where}: a statement must be a JSON object")
    _no_unknown_keys(obj, _STATEMENT_KEYS, where)
    sid = obj.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyDocumentError(f"{where}.Sid: must be a string")
    effect = obj.get("Effect")
    if effect != "Allow" and effect != "Deny":
        raise PolicyDocumentError(f'{where}.Effect: must be "Allow" or "Deny"')

    action_key = _one_of(obj, "Action", "NotAction", where, required=True)
    assert action_key is not None
    actions = []
    for text in _strings(obj[action_key], f"{where}.{action_key}"):
        if text != "*" and not _ACTION.match(text):
            raise PolicyDocumentError(
                f"{where}.{action_key}: {text!r} is not '*' or 'service:Action'"
            )
        actions.append(compile_glob(text))

    names_principal = kind in PRINCIPAL_KINDS
    principal_key = _one_of(obj, "Principal", "NotPrincipal", where, required=names_principal)
    if principal_key and not names_principal:
        raise PolicyDocumentError(f"{where}.{principal_key}: not allowed in a {kind} policy")
    principal = (
        _parse_principal(obj[principal_key], f"{where}.{principal_key}") if principal_key else None
    )
    if kind == "rcp" and (principal_key != "Principal" or principal != PrincipalSpec(True)):
        raise PolicyDocumentError(f'{where}.Principal: an RCP statement needs "Principal": "*"')

    # Only a resource policy may leave Resource out (it then covers its own resource).
    resource_key = _one_of(obj, "Resource", "NotResource", where, required=kind != "resource")
    resources = None
    if resource_key:
        resources = tuple(
            _parse_resource(text, f"{where}.{resource_key}", variables)
            for text in _strings(obj[resource_key], f"{where}.{resource_key}")
        )

    conditions = _parse_conditions(obj.get("Condition"), f"{where}.Condition", variables)
    return Statement(
        index=index,
        sid=sid,
        effect=effect,
        actions=tuple(actions),
        not_action=action_key == "NotAction",
        resources=resources,
        not_resource=resource_key == "NotResource",
        principal=principal,
        not_principal=principal_key == "NotPrincipal",
        conditions=conditions,
    )


def _parse_resource(text: str, where: str, variables: bool) -> Template:
    try:
        template = parse_template(text, variables=variables)
    except ValueError as exc:
        raise PolicyDocumentError(f"{where}: {exc}") from None
    # IAM: "Resource must be in ARN format or '*'". A shorter ARN is meaningful only when it
    # has a "*" ending a segment, which "can expand to match beyond the colon boundaries".
    spans = text.endswith("*") or "*:" in text
    is_arn = text.startswith("arn:") and (template_colons(template) >= 5 or spans)
    if text != "*" and not is_arn:
        raise PolicyDocumentError(f"{where}: {text!r} must be an ARN or '*'")
    return template


def _parse_principal(value: object, where: str) -> PrincipalSpec:
    if value == "*":
        return PrincipalSpec(everyone=True)
    if not isinstance(value, dict) or not value:
        raise PolicyDocumentError(f'{where}: must be "*" or an object such as {{"AWS": ...}}')
    _no_unknown_keys(value, set(_PRINCIPAL_TYPES), where)
    lists = {k: tuple(_strings(value[k], f"{where}.{k}")) for k in value}
    for arn in lists.get("AWS", ()):
        # IAM forbids partial wildcards in principals ("arn:aws:iam::*:root" is invalid).
        if arn != "*" and ("*" in arn or "?" in arn):
            raise PolicyDocumentError(f"{where}.AWS: wildcards are not allowed in {arn!r}")
        # Unique ids (AROA..., AIDA...) appear where a named role or user was deleted; they are
        # valid but never match a principal given by ARN.
        if arn != "*" and not _AWS_PRINCIPAL.match(arn):
            raise PolicyDocumentError(f"{where}.AWS: {arn!r} is not an account id or IAM ARN")
    return PrincipalSpec(
        aws=lists.get("AWS", ()),
        service=lists.get("Service", ()),
        federated=lists.get("Federated", ()),
        canonical_user=lists.get("CanonicalUser", ()),
    )


def _scalars(value: object, where: str) -> list[Scalar]:
    items = value if isinstance(value, list) else [value]
    out: list[Scalar] = []
    for item in items:
        if not isinstance(item, (str, bool, int, float)):
            raise PolicyDocumentError(f"{where}: values must be strings, numbers or booleans")
        out.append(item)
    if not out:
        raise PolicyDocumentError(f"{where}: needs at least one value")
    return out


def _parse_conditions(block: object, where: str, variables: bool) -> tuple[Clause, ...]:
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise PolicyDocumentError(f"{where}: must be an object of operator -> {{key: value}}")
    clauses: list[Clause] = []
    for op_text, tests in block.items():
        try:
            operator = parse_operator(op_text)
        except ValueError as exc:
            raise PolicyDocumentError(f"{where}: {exc}") from None
        if not isinstance(tests, dict) or not tests:
            raise PolicyDocumentError(f"{where}.{op_text}: must be a non-empty object")
        for key, value in tests.items():
            place = f"{where}.{op_text}.{key}"
            if not key:
                raise PolicyDocumentError(f"{where}.{op_text}: empty condition key")
            raw = _scalars(value, place)
            try:
                compiled = tuple(compile_value(operator.spec, v, variables=variables) for v in raw)
            except ValueError as exc:
                raise PolicyDocumentError(f"{place}: {exc}") from None
            clauses.append(Clause(operator, key.lower(), key, compiled, tuple(raw)))
    return tuple(clauses)
