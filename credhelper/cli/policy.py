"""``ecrpy policy simulate FILE|-``: evaluate one request against given IAM policies, offline.

Input (a JSON object; optional keys may be left out, unknown keys are an error)::

    {
      "principal": "arn:aws:sts::111122223333:assumed-role/ci/build-42",
      "action": "ecr:PutImage",
      "resource": "arn:aws:ecr:us-east-1:111122223333:repository/app",
      "context": {"aws:SourceIp": "203.0.113.7", "aws:TagKeys": ["team", "env"]},
      "identity_policies": [{...policy...}, {"name": "push-app", "document": {...}}],
      "resource_policy": {...} | null,
      "permissions_boundary": {...} | null,
      "session_policy": {...} | null,
      "scps": [[{...root SCP...}], [{...OU SCP...}], [{...account SCP...}]],
      "rcps": [[{...root RCP...}], [{...account RCP...}]],
      "vpce_policy": {...} | null,
      "resource_account": "111122223333"
    }

``rcps`` are the resource owner's resource control policies, by level like ``scps``;
``vpce_policy`` is the VPC endpoint policy, which applies only when ``context`` has
``aws:SourceVpce`` (the request came through that endpoint).

Output (``--json``, the default; ``schema`` is ``ecrpy.policy-simulate/1``)::

    {"schema": "ecrpy.policy-simulate/1",
     "decision": "allowed" | "implicitly_denied" | "explicitly_denied",
     "reasons": [{"policy": ..., "statement": 0 | null, "sid": ... | null,
                  "effect": "Allow" | "Deny" | "ImplicitDeny", "detail": ...}]}

``--explain`` prints the same as text. Exit status: 0 allowed, 3 denied (implicitly or
explicitly), 1 invalid input (one line on stderr naming the place; with an explicit ``--json``
also an ``ecrpy.error/1`` document on stdout).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from ..errors import PolicyDocumentError

if TYPE_CHECKING:
    from ..permissions.evaluate import Decision, PolicySet, Request
    from ..permissions.policy import Policy, PolicyKind

SCHEMA = "ecrpy.policy-simulate/1"
EXIT_ALLOWED = 0
EXIT_DENIED = 3

_REQUIRED = ("principal", "action", "resource")
_OPTIONAL = (
    "context",
    "identity_policies",
    "resource_policy",
    "permissions_boundary",
    "session_policy",
    "scps",
    "rcps",
    "vpce_policy",
    "resource_account",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``policy`` and its ``simulate`` sub-command."""
    parser = subparsers.add_parser(
        "policy", help="work with IAM policies offline", description="Work with IAM policies."
    )
    sub = parser.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)
    sim = sub.add_parser(
        "simulate",
        help="decide one request against given policies",
        description="Evaluate a request against identity, resource, boundary, session, "
        "SCP, RCP and VPC endpoint policies with AWS's evaluation logic. "
        "Exit 0 allowed, 3 denied, 1 bad input.",
    )
    sim.add_argument("file", metavar="FILE", help="simulation input as JSON, or - for stdin")
    fmt = sim.add_mutually_exclusive_group()
    fmt.add_argument(
        "--json", action="store_true", help=f"print the {SCHEMA} JSON document (the default)"
    )
    fmt.add_argument("--explain", action="store_true", help="print a human-readable account")
    sim.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read the input, evaluate it and print the decision."""
    from ..permissions.evaluate import evaluate

    data = _read_json(args.file)
    request, policy_set = parse_simulation(data)
    decision = evaluate(request, policy_set)
    if args.explain:
        print(explain(decision))
    else:
        from ..report_json import document

        print(document(SCHEMA, **decision.as_dict()))
    return EXIT_ALLOWED if decision.allowed else EXIT_DENIED


def _read_json(path: str) -> object:
    name = "stdin" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PolicyDocumentError(f"{name}: cannot read: {reason}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyDocumentError(
            f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def parse_simulation(data: object) -> tuple[Request, PolicySet]:
    """Validate a simulation input (the module docstring's shape) into a request and policies.

    Raises ``PolicyDocumentError`` naming the place of the first problem.
    """
    from ..permissions.evaluate import PolicySet, Request

    if not isinstance(data, dict):
        raise PolicyDocumentError("input: must be a JSON object")
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise PolicyDocumentError(f"input: unknown key {unknown[0]!r}")
    for key in _REQUIRED:
        if not isinstance(data.get(key), str):
            raise PolicyDocumentError(f"{key}: required, must be a string")
    context = _or_default(data.get("context"), {})
    if not isinstance(context, dict):
        raise PolicyDocumentError("context: must be an object of key -> value")
    account = data.get("resource_account")
    if account is not None and not isinstance(account, str):
        raise PolicyDocumentError("resource_account: must be a string")

    identity_raw = _or_default(data.get("identity_policies"), [])
    if not isinstance(identity_raw, list):
        raise PolicyDocumentError("identity_policies: must be a list")
    levels = {key: _levels(data, key) for key in ("scps", "rcps")}

    request = Request(data["principal"], data["action"], data["resource"], context, account)
    policy_set = PolicySet(
        identity_policies=[_identity(doc, i) for i, doc in enumerate(identity_raw)],
        resource_policy=_optional(data, "resource_policy", "resource"),
        permissions_boundary=_optional(data, "permissions_boundary", "permissions_boundary"),
        session_policy=_optional(data, "session_policy", "session"),
        scps=[
            [_parse(doc, f"scps[{lv}][{i}]", "scp") for i, doc in enumerate(level)]
            for lv, level in enumerate(levels["scps"])
        ],
        rcps=[
            [_parse(doc, f"rcps[{lv}][{i}]", "rcp") for i, doc in enumerate(level)]
            for lv, level in enumerate(levels["rcps"])
        ],
        vpce_policy=_optional(data, "vpce_policy", "vpce"),
    )
    return request, policy_set


def _levels(data: dict[str, object], key: str) -> list[list[object]]:
    raw = _or_default(data.get(key), [])
    if not isinstance(raw, list) or not all(isinstance(level, list) for level in raw):
        raise PolicyDocumentError(f"{key}: must be a list of levels, each a list of policies")
    return raw


def _or_default(value: object, default: object) -> object:
    # Only an absent or null key takes the default: a wrong-typed empty value is an error.
    return default if value is None else value


def _parse(doc: object, where: str, kind: PolicyKind, name: str | None = None) -> Policy:
    from ..permissions.policy import parse_policy

    return parse_policy(doc, where, kind=kind, name=name)


def _identity(doc: object, index: int) -> Policy:
    where = f"identity_policies[{index}]"
    if isinstance(doc, dict) and "document" in doc:
        extra = sorted(set(doc) - {"name", "document"})
        if extra:
            raise PolicyDocumentError(f"{where}: unknown key {extra[0]!r}")
        name = doc.get("name")
        if name is not None and not isinstance(name, str):
            raise PolicyDocumentError(f"{where}.name: must be a string")
        return _parse(doc["document"], f"{where}.document", "identity", name or where)
    return _parse(doc, where, "identity")


def _optional(data: dict[str, object], key: str, kind: PolicyKind) -> Policy | None:
    doc = data.get(key)
    return None if doc is None else _parse(doc, key, kind)


def explain(decision: Decision) -> str:
    """A human-readable account of ``decision``."""
    lines = [f"decision: {decision.decision.replace('_', ' ')}"]
    for reason in decision.reasons:
        where = reason.policy
        if reason.statement is not None:
            where += f" statement {reason.statement}"
        if reason.sid:
            where += f" ({reason.sid})"
        lines.append(f"  - {where}: {reason.effect}: {reason.detail}")
    return "\n".join(lines)
