"""The human report of a pre-flight: header, table (action | verdict | evidence), problems,
fix, and what could not be read."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..ecr_repository import RepositoryFacts
    from ..permissions.fix import Fix
    from .result import CheckResult

_SHORT = {
    "allowed": "allow",
    "denied": "deny",
    "inconclusive": "?",
    "unavailable": "n/a",
    "not_run": "-",
}
_SOURCES = (("probe", "probe"), ("sim", "simulation"), ("eval", "evaluation"))
# Printed under every table: the columns are terse, a first-time reader should not guess.
LEGEND = (
    "(probe: a call ECR answered without changing anything; sim: IAM's policy simulator; "
    "eval: ecrpy's evaluation of the policies it could read -- allow | deny | ? inconclusive | "
    "n/a unavailable | - not run; ! explicit deny)"
)


def render(result: CheckResult) -> str:
    ident = result.gathered.identity
    facts = result.gathered.repository
    lines = [f"{result.operation} {result.image}"]
    lines.append(f"identity:   {ident.caller_arn or result.identity_type}")
    repo = "exists" if facts.exists else "does not exist" if facts.exists is False else "unknown"
    if facts.tag_mutability:
        repo += f", tags {facts.tag_mutability}"
    if facts.tag_exists is not None:
        repo += f", tag {'exists' if facts.tag_exists else 'new'}"
    lines.append(f"repository: {result.image.repository} ({repo})")
    if facts.encryption_type is not None:
        lines.append(f"encryption: {_encryption(facts)}")
    if result.pull_through_prefix is not None:
        cache = f"pull-through prefix {result.pull_through_prefix}"
        if result.gathered.registry_policy_state != "unknown":
            cache += f", registry policy {result.gathered.registry_policy_state}"
        lines.append(f"cache:      {cache}")
    if facts.lifecycle_policy != "unknown":
        lines.append(f"lifecycle:  policy {facts.lifecycle_policy}")
    lines.append("")
    lines += _table(result)
    for p in result.problems:
        lines.append(f"problem: {p}")
    lines += [f"warning: {w}" for w in facts.lifecycle_warnings or []]
    if result.nearest_tags:
        lines.append("nearest tags: " + ", ".join(result.nearest_tags))
    if result.suggestion:
        lines.append(f"suggestion: {result.suggestion}")
    lines += [f"note: {n}" for n in result.notes]
    lines.append(f"verdict: {result.verdict.upper().replace('_', ' ')}")
    if result.fix is not None:
        lines += _fix(result.fix)
    hard = [g for g in result.gathered.gaps if g.affects not in ("scp", "session", "info")]
    if hard:
        lines.append("")
        lines.append("could not read:")
        lines += [f"  {g.call}: {g.subject} ({g.reason})" for g in hard]
    return "\n".join(lines)


def _table(result: CheckResult) -> list[str]:
    if not result.actions:
        # Never an empty table under a verdict: say that no permission was checked.
        return ["no AWS permission checked (see the notes below)", ""]
    rows = [("ACTION", "VERDICT", "EVIDENCE")]
    for a in result.actions:
        verdict = a.verdict + ("*" if a.assumptions else "")
        ev = "  ".join(
            f"{name}={_SHORT[a.evidence[src].result]}" + ("!" if a.evidence[src].explicit else "")
            for name, src in _SOURCES
        )
        rows.append((a.action, verdict, ev))
    width0 = max(len(r[0]) for r in rows)
    width1 = max(len(r[1]) for r in rows)
    lines = [f"{r[0]:<{width0}}  {r[1]:<{width1}}  {r[2]}" for r in rows]
    lines.append(LEGEND)
    assumptions = sorted({x for a in result.actions for x in a.assumptions})
    if assumptions:
        lines.append("* allowed assuming " + " and ".join(assumptions))
    lines.append("")
    for a in result.actions:
        if a.verdict != "allowed" or a.disagreements:
            lines.append(f"{a.action}: {a.verdict}: " + "; ".join(a.reasons))
            lines += [f"  disagreement: {d}" for d in a.disagreements]
    return lines


def _fix(fix: Fix) -> list[str]:
    lines: list[str] = []
    if not fix.empty:
        lines += ["", "fix:"]
        if fix.identity_statement:
            lines.append("  add to the identity's policies:")
            text = json.dumps(fix.identity_statement, indent=2)
            lines += ["    " + x for x in text.splitlines()]
        if fix.repository_statement:
            lines.append("  add to the repository policy (registry owner):")
            text = json.dumps(fix.repository_statement, indent=2)
            lines += ["    " + x for x in text.splitlines()]
        for d in fix.remove_deny:
            sid = f" (Sid {d['sid']})" if d.get("sid") else ""
            stmt = f" statement {d['statement']}" if d.get("statement") is not None else ""
            lines.append(
                f"  remove or narrow the Deny of {d['action']} in {d['policy']}{stmt}{sid}"
            )
    lines += [f"  note: {n}" for n in fix.notes]
    return lines


def _encryption(facts: RepositoryFacts) -> str:
    text = str(facts.encryption_type)
    if not facts.kms_encrypted:
        return text
    key = facts.key
    text += f" with {key.arn or key.key if key else facts.kms_key or 'the AWS managed key'}"
    if key is None:
        return text
    known = []
    if key.state is not None:
        known.append(key.state)
    if key.ecr_grants is not None:
        known.append(f"{key.ecr_grants} ECR grant(s)")
    return text + (f" ({', '.join(known)})" if known else " (key not readable)")
