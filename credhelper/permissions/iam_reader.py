"""Typed, read-only questions to IAM, one method per question.

* Every list follows ``Marker``/``IsTruncated`` to the last page: IAM pages at 100 items (and
  may return fewer "even when there are more results available", per every IAM List* API
  page), so a policy on page two counts as much as one on page one. A plain loop rather than
  botocore's paginators, which load a JSON model on first use.
* A managed policy's document is its *default* version's: ``GetPolicy`` names it
  (``DefaultVersionId``), ``GetPolicyVersion`` returns it. Other versions are not in effect.
* Documents come URL-encoded (RFC 3986) JSON; botocore usually decodes them already, and
  leaves the string when it cannot: :func:`decode_document` tries both before giving up.
* A call that does not answer (denied, throttled, a network error, a document that is not
  JSON) raises :class:`Unreadable` naming the call and the reason; the caller records it as a
  gap with what the answer would have told. Nothing is guessed.

The client is botocore's IAM client or ``fast_iam.FastIam`` (static keys: the same answers
and errors without botocore; both thread-safe); calls go through the explicit method names
below, one table row per principal kind.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal

from .call_errors import describe_error

PrincipalKind = Literal["user", "group", "role"]


class Unreadable(Exception):
    """``call`` (``iam:GetUserPolicy``) gave no usable answer; ``reason`` says why."""

    def __init__(self, call: str, reason: str) -> None:
        super().__init__(f"{call}: {reason}")
        self.call = call
        self.reason = reason


@dataclass(frozen=True)
class PrincipalInfo:
    """From ``GetUser``/``GetRole``: the ARN (with its path) and the boundary, if any."""

    arn: str | None
    boundary_arn: str | None


@dataclass(frozen=True)
class _Call:
    action: str  # the IAM API name, as gaps report it
    method: str  # botocore's client method for it


@dataclass(frozen=True)
class _KindCalls:
    name_param: str
    inline_names: _Call
    inline_policy: _Call
    attached: _Call


_CALLS: dict[PrincipalKind, _KindCalls] = {
    "user": _KindCalls(
        "UserName",
        _Call("ListUserPolicies", "list_user_policies"),
        _Call("GetUserPolicy", "get_user_policy"),
        _Call("ListAttachedUserPolicies", "list_attached_user_policies"),
    ),
    "group": _KindCalls(
        "GroupName",
        _Call("ListGroupPolicies", "list_group_policies"),
        _Call("GetGroupPolicy", "get_group_policy"),
        _Call("ListAttachedGroupPolicies", "list_attached_group_policies"),
    ),
    "role": _KindCalls(
        "RoleName",
        _Call("ListRolePolicies", "list_role_policies"),
        _Call("GetRolePolicy", "get_role_policy"),
        _Call("ListAttachedRolePolicies", "list_attached_role_policies"),
    ),
}
_GET_USER = _Call("GetUser", "get_user")
_GET_ROLE = _Call("GetRole", "get_role")
_GROUPS_FOR_USER = _Call("ListGroupsForUser", "list_groups_for_user")
_GET_POLICY = _Call("GetPolicy", "get_policy")
_GET_POLICY_VERSION = _Call("GetPolicyVersion", "get_policy_version")


def decode_document(raw: object) -> dict[str, Any] | None:
    """A policy document as a dict: as botocore decoded it, plain JSON, or URL-encoded JSON
    (tried in that order: unquoting plain JSON would corrupt a ``%`` inside a value)."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        return None
    for text in (raw, urllib.parse.unquote(raw)):
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        return doc if isinstance(doc, dict) else None
    return None


class IamReader:
    """Read-only IAM questions for one client; each raises :class:`Unreadable` on failure."""

    def __init__(self, iam: Any) -> None:
        self._iam = iam

    def user(self, user: str) -> PrincipalInfo:
        """``GetUser``: the user's ARN and permissions boundary."""
        return _principal(self._call(_GET_USER, UserName=user).get("User") or {})

    def role(self, role: str) -> PrincipalInfo:
        """``GetRole``: the role's ARN (with its path) and permissions boundary."""
        return _principal(self._call(_GET_ROLE, RoleName=role).get("Role") or {})

    def groups_for_user(self, user: str) -> list[str]:
        """``ListGroupsForUser``, every page: the group names."""
        groups = self._every_page(_GROUPS_FOR_USER, "Groups", UserName=user)
        return [str(g["GroupName"]) for g in groups]

    def inline_policy_names(self, kind: PrincipalKind, name: str) -> list[str]:
        """``List{User,Group,Role}Policies``, every page."""
        calls = _CALLS[kind]
        names = self._every_page(calls.inline_names, "PolicyNames", **{calls.name_param: name})
        return [str(n) for n in names]

    def inline_policy(self, kind: PrincipalKind, name: str, policy_name: str) -> dict[str, Any]:
        """``Get{User,Group,Role}Policy``: the inline policy's document."""
        calls = _CALLS[kind]
        params = {calls.name_param: name, "PolicyName": policy_name}
        resp = self._call(calls.inline_policy, **params)
        return _document(calls.inline_policy, resp.get("PolicyDocument"))

    def attached_policy_arns(self, kind: PrincipalKind, name: str) -> list[str]:
        """``ListAttached{User,Group,Role}Policies``, every page: the managed policies' ARNs."""
        calls = _CALLS[kind]
        attached = self._every_page(calls.attached, "AttachedPolicies", **{calls.name_param: name})
        return [str(p["PolicyArn"]) for p in attached]

    def default_version_id(self, policy_arn: str) -> str:
        """``GetPolicy``: which version of the managed policy is in effect."""
        policy = self._call(_GET_POLICY, PolicyArn=policy_arn).get("Policy") or {}
        version = policy.get("DefaultVersionId")
        if not version:
            raise Unreadable(_action(_GET_POLICY), "no DefaultVersionId in the answer")
        return str(version)

    def policy_version(self, policy_arn: str, version_id: str) -> dict[str, Any]:
        """``GetPolicyVersion``: the document of that version."""
        resp = self._call(_GET_POLICY_VERSION, PolicyArn=policy_arn, VersionId=version_id)
        return _document(_GET_POLICY_VERSION, (resp.get("PolicyVersion") or {}).get("Document"))

    def _call(self, call: _Call, **params: Any) -> dict[str, Any]:
        try:
            resp = getattr(self._iam, call.method)(**params)
        except Exception as exc:
            # Imported here: the verdict imports this module without needing botocore.
            import botocore.exceptions as be

            if not isinstance(exc, (be.BotoCoreError, be.ClientError)):
                raise  # a bug, not an unreadable answer
            raise Unreadable(_action(call), describe_error(exc)) from None
        return resp if isinstance(resp, dict) else {}

    def _every_page(self, call: _Call, key: str, **params: Any) -> list[Any]:
        items: list[Any] = []
        seen: set[str] = set()
        while True:
            resp = self._call(call, **params)
            items += resp.get(key) or []
            if not resp.get("IsTruncated"):
                return items
            marker = resp.get("Marker")
            if not marker or marker in seen:
                # The rest exists but cannot be asked for: an incomplete list is a gap.
                raise Unreadable(_action(call), "truncated answer without a new Marker")
            seen.add(str(marker))
            params["Marker"] = marker


def _action(call: _Call) -> str:
    return f"iam:{call.action}"


def _principal(entity: dict[str, Any]) -> PrincipalInfo:
    boundary = (entity.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    arn = entity.get("Arn")
    return PrincipalInfo(str(arn) if arn else None, str(boundary) if boundary else None)


def _document(call: _Call, raw: object) -> dict[str, Any]:
    doc = decode_document(raw)
    if doc is None:
        raise Unreadable(_action(call), "document is not JSON")
    return doc
