"""The smallest policy change that would turn a denial into an allow.

* Implicitly denied actions, same account: one least-privilege identity statement shaped like
  AWS's managed ECR policies — ``{"Effect": "Allow", "Action": [only the denied actions],
  "Resource": "<repository ARN>"}`` — plus a separate statement for
  ``ecr:GetAuthorizationToken`` on ``*`` when that is denied (it has no resource ARN).
* Cross-account (caller account ≠ registry account): the same identity statement in the
  caller's account *and* the repository-policy statement the registry owner must add,
  ``{"Effect": "Allow", "Principal": {"AWS": "<caller role/user ARN>"}, "Action": [...]}``
  (naming ``arn:<partition>:iam::<caller account>:root`` instead delegates to the caller
  account's admins).
* Explicitly denied actions: no Allow can help; the fix names each Deny statement to remove
  or narrow.

* Denials whose AccessDenied message named a policy type other than identity-based (an SCP, an
  RCP, a VPC endpoint policy, the permissions boundary, a session policy, the repository policy;
  see ``permissions.denial``): no identity statement can lift them, so none is suggested; a note
  says who can change the deciding policy ("an SCP denies this: ask your organization's
  administrators").

Undetermined actions are not added (ecrpy does not know they are missing); they are listed in
``notes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .denial import FIX_BY_TYPE
from .verdict import ActionVerdict

VERSION = "2012-10-17"


@dataclass
class Fix:
    """``identity_statement``: a policy document to attach to the caller's user/role (None when
    nothing to add); ``repository_statement``: one statement for the repository policy (None
    when not needed); ``remove_deny``: explicit Deny statements to remove or narrow."""

    identity_statement: dict[str, Any] | None = None
    repository_statement: dict[str, Any] | None = None
    remove_deny: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.identity_statement or self.repository_statement or self.remove_deny)

    def as_dict(self) -> dict[str, object]:
        return {
            "identity_statement": self.identity_statement,
            "repository_statement": self.repository_statement,
            "remove_deny": list(self.remove_deny),
            "notes": list(self.notes),
        }


def _sid(text: str) -> str:
    return "".join(ch for ch in text.title() if ch.isalnum())


def suggest(
    verdicts: Sequence[ActionVerdict],
    *,
    operation: str,
    caller_account: str | None,
    registry_account: str | None,
    principal_arn: str | None,
    partition: str = "aws",
) -> Fix:
    """The fix for the denied actions in ``verdicts`` (module doc)."""
    fix = Fix()
    denied = [v for v in verdicts if v.verdict == "denied"]
    elsewhere: dict[str, list[str]] = {}
    for v in denied:
        if v.denied_by not in (None, "identity"):
            elsewhere.setdefault(str(v.denied_by), []).append(v.action)
    for kind, names in elsewhere.items():
        fix.notes.append(f"{', '.join(names)}: {FIX_BY_TYPE[kind]}")
    denied = [v for v in denied if v.denied_by in (None, "identity")]
    explicit = [v for v in denied if v.explicit_deny]
    implicit = [v for v in denied if not v.explicit_deny]
    for v in explicit:
        named = v.deny_statements or [{"policy": "(not named)", "statement": None, "sid": None}]
        for s in named:
            entry = {"action": v.action, **s}
            if entry not in fix.remove_deny:
                fix.remove_deny.append(entry)
    token_actions = [v.action for v in implicit if v.resource == "*"]
    by_resource: dict[str, list[str]] = {}
    for v in implicit:
        if v.resource != "*":
            by_resource.setdefault(v.resource, []).append(v.action)
    statements: list[dict[str, Any]] = []
    for resource, actions in by_resource.items():
        statements.append(
            {
                "Sid": f"Ecrpy{_sid(operation)}",
                "Effect": "Allow",
                "Action": actions,
                "Resource": resource,
            }
        )
    if token_actions:
        statements.append(
            {
                "Sid": "EcrpyRegistryLogin",
                "Effect": "Allow",
                "Action": token_actions,
                "Resource": "*",
            }
        )
    if statements:
        fix.identity_statement = {"Version": VERSION, "Statement": statements}
    cross = bool(caller_account and registry_account and caller_account != registry_account)
    if cross and by_resource:
        who = principal_arn or f"arn:{partition}:iam::{caller_account}:root"
        actions = [a for acts in by_resource.values() for a in acts]
        fix.repository_statement = {
            "Sid": f"EcrpyCrossAccount{_sid(operation)}",
            "Effect": "Allow",
            "Principal": {"AWS": who},
            "Action": actions,
        }
        fix.notes.append(
            f"cross-account: the owner of account {registry_account} must add "
            "repository_statement to the repository policy, and account "
            f"{caller_account} must allow the same actions in identity_statement "
            f"(or name arn:{partition}:iam::{caller_account}:root to delegate to that account)"
        )
    undetermined = [v.action for v in verdicts if v.verdict == "undetermined"]
    if undetermined and not fix.empty:
        fix.notes.append(
            "not included because their status is undetermined: " + ", ".join(undetermined)
        )
    if explicit:
        fix.notes.append(
            "an explicit Deny overrides every Allow: remove or narrow the named statement(s)"
        )
    return fix
