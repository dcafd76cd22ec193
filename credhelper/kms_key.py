"""What is known about the KMS key that encrypts an ECR repository, and whether it can work.

AWS, ECR User Guide, "Encryption at rest": a repository created with ``KMS`` (or ``KMS_DSSE``)
encryption is encrypted with the key through grants ECR creates on it when the repository is
made (DescribeKey, then two CreateGrant). Pushes (GenerateDataKey) and pulls (Decrypt) are made
by ECR under those grants, so callers need no ``kms:Decrypt``; but a key that is not
``Enabled`` (disabled, pending deletion...) or whose ECR grants were removed makes every push
and pull fail. Creating such a repository needs ``kms:CreateGrant``, ``kms:RetireGrant`` and
``kms:DescribeKey`` (ECR User Guide, repository creation templates, custom policy).

Reads are ``kms:DescribeKey`` and ``kms:ListGrants``; what cannot be read stays ``None``
(unknown), never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# KMS API reference, KeyMetadata.KeyState: only an Enabled key encrypts and decrypts.
WORKING_STATE = "Enabled"
# What each other state means for the repository, in the words the check uses.
_STATE_WORDS = {
    "Disabled": "ask the key's owner to enable it (kms:EnableKey)",
    "PendingDeletion": "ask the key's owner to cancel the deletion (kms:CancelKeyDeletion) "
    "and enable the key",
    "PendingReplicaDeletion": "ask the key's owner to cancel the replica's deletion",
    "PendingImport": "the key has no key material yet: its owner must import it",
    "Unavailable": "the key's custom key store is disconnected: its owner must reconnect it",
    "Creating": "the key is still being created; try again shortly",
    "Updating": "the key is being updated; try again shortly",
}
# The permissions creating a KMS-encrypted repository needs from the caller.
CREATE_PERMISSIONS = ("kms:DescribeKey", "kms:CreateGrant", "kms:RetireGrant")


@dataclass
class KeyFacts:
    """``key``: as the repository (or ``--kms-key``) names it; the rest ``None`` if unread."""

    key: str
    arn: str | None = None
    state: str | None = None
    manager: str | None = None  # AWS (the aws/ecr key) or CUSTOMER
    deletion_date: str | None = None
    ecr_grants: int | None = None  # grants for ECR on this key; None: not readable

    def problem(self, repository: str) -> str | None:
        """Why every push and pull of ``repository`` fails because of the key (None: no known
        reason)."""
        name = self.arn or self.key
        if self.state is not None and self.state != WORKING_STATE:
            when = f" (deletion on {self.deletion_date})" if self.deletion_date else ""
            advice = _STATE_WORDS.get(self.state, "ask the key's owner to enable it")
            return (
                f"the KMS key {name} of repository {repository} is {self.state}{when}: "
                f"every push and pull fails; {advice}"
            )
        if self.state == WORKING_STATE and self.ecr_grants == 0:
            return (
                f"the KMS key {name} of repository {repository} has no grant for ECR (removed?): "
                "every push and pull fails; ECR creates its grants only when a repository is "
                "created, so recreate the repository (or have the key's owner grant ECR again)"
            )
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "arn": self.arn,
            "state": self.state,
            "manager": self.manager,
            "deletion_date": self.deletion_date,
            "ecr_grants": self.ecr_grants,
        }


def describe(kms: Any, key: str) -> KeyFacts:
    """``kms:DescribeKey`` (raises the client's error when it fails)."""
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    deletion = meta.get("DeletionDate")
    return KeyFacts(
        key=key,
        arn=str(meta.get("Arn") or "") or None,
        state=str(meta.get("KeyState") or "") or None,
        manager=str(meta.get("KeyManager") or "") or None,
        deletion_date=deletion.date().isoformat() if hasattr(deletion, "date") else None,
    )


def count_ecr_grants(kms: Any, key: str, repository_arn: str) -> int:
    """``kms:ListGrants`` over every page: the grants ECR holds on ``key``.

    A grant is ECR's when its grantee or retiring principal is an ECR service principal
    (``ecr.REGION.amazonaws.com``) or its encryption-context constraint names the repository
    (the grantee is "the Amazon ECR repository", ECR User Guide, Encryption at rest)."""
    grants: list[dict[str, Any]] = []
    kw: dict[str, Any] = {"KeyId": key}
    while True:
        page = kms.list_grants(**kw)
        grants += [g for g in page.get("Grants") or [] if isinstance(g, dict)]
        marker = page.get("NextMarker")
        if not page.get("Truncated") or not marker:
            break
        kw["Marker"] = marker
    return sum(1 for g in grants if is_ecr_grant(g, repository_arn))


def is_ecr_grant(grant: dict[str, Any], repository_arn: str) -> bool:
    principals: Iterable[Any] = (
        grant.get("GranteePrincipal"),
        grant.get("RetiringPrincipal"),
        grant.get("GranteeServicePrincipal"),
        grant.get("RetiringServicePrincipal"),
    )
    for principal in principals:
        text = str(principal or "")
        if text.startswith("ecr.") and text.endswith((".amazonaws.com", ".amazonaws.com.cn")):
            return True
    constraints = grant.get("Constraints") or {}
    for context in constraints.values():
        if isinstance(context, dict) and repository_arn in (str(v) for v in context.values()):
            return True
    return False


def check_for_create(kms: Any, key: str, account: str | None) -> KeyFacts:
    """Before ``CreateRepository`` with ``key``: resolve it (ARN, id or alias) and check that
    it is Enabled and that the caller may do what ECR does with it on creation. Raises
    ``RefusedError`` naming the key's state or every missing permission; an answer that says
    neither yes nor no (throttling, a network error) is not a refusal: ECR decides then."""
    from .errors import RefusedError
    from .permissions.call_errors import describe_error, error_code

    missing: list[str] = []
    try:
        facts = describe(kms, key)
    except Exception as exc:
        if error_code(exc) == "NotFoundException":
            raise RefusedError(
                f"KMS key {key} not found in the repository's region",
                hint="the key must exist in the same region as the repository "
                "(give its ARN, id or alias/NAME)",
            ) from None
        if describe_error(exc) != "AccessDenied":
            return KeyFacts(key)
        facts, missing = KeyFacts(key), ["kms:DescribeKey"]
    problem = facts.problem("to be created")
    if problem is not None:
        raise RefusedError(problem.replace("every push and pull fails", "ECR cannot use it"))
    target = facts.arn or key
    for action, call in (("kms:CreateGrant", _dry_create_grant), ("kms:RetireGrant", _dry_retire)):
        try:
            call(kms, target, account)
        except Exception as exc:
            if describe_error(exc) == "AccessDenied":
                missing.append(action)
    if missing:
        raise RefusedError(
            f"not allowed to create a repository encrypted with KMS key {target}: "
            f"{', '.join(missing)} denied",
            hint="creating a KMS-encrypted repository needs "
            f"{', '.join(CREATE_PERMISSIONS)} on the key (ECR creates its grants then); "
            "ask for them, or push without --kms-key",
        )
    return facts


def _dry_create_grant(kms: Any, key: str, account: str | None) -> None:
    """CreateGrant with DryRun: KMS answers DryRunOperationException when it would succeed
    (KMS API reference, CreateGrant DryRun); nothing is created."""
    try:
        kms.create_grant(
            KeyId=key,
            GranteePrincipal=f"arn:aws:iam::{account or '000000000000'}:root",
            Operations=["Decrypt"],
            DryRun=True,
        )
    except Exception as exc:
        if _dry_run_ok(exc):
            return
        raise


def _dry_retire(kms: Any, key: str, account: str | None) -> None:
    """RetireGrant with DryRun (of a grant that does not exist: only the permission counts)."""
    del account
    try:
        kms.retire_grant(KeyId=key, GrantId="0" * 64, DryRun=True)
    except Exception as exc:
        if _dry_run_ok(exc):
            return
        raise


def _dry_run_ok(exc: Exception) -> bool:
    from .permissions.call_errors import error_code

    return error_code(exc) == "DryRunOperationException"
