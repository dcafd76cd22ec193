"""An IAM client for the pre-flight whose reads (``IAM_OPERATIONS``) and simulator paginator go
through ``fast_token.iam_call`` wherever it may make the call (static keys: no botocore import
and no IAM model, ~170 ms less), with botocore's answers and errors; every other method, and
every call where it may not, goes to botocore's client, made on first use by ``make_sdk``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

# botocore method -> IAM operation: what ``permissions.iam_reader`` and ``simulate`` call.
IAM_OPERATIONS: dict[str, str] = {
    "get_user": "GetUser",
    "get_role": "GetRole",
    "list_groups_for_user": "ListGroupsForUser",
    "list_user_policies": "ListUserPolicies",
    "get_user_policy": "GetUserPolicy",
    "list_attached_user_policies": "ListAttachedUserPolicies",
    "list_group_policies": "ListGroupPolicies",
    "get_group_policy": "GetGroupPolicy",
    "list_attached_group_policies": "ListAttachedGroupPolicies",
    "list_role_policies": "ListRolePolicies",
    "get_role_policy": "GetRolePolicy",
    "list_attached_role_policies": "ListAttachedRolePolicies",
    "get_policy": "GetPolicy",
    "get_policy_version": "GetPolicyVersion",
    "simulate_principal_policy": "SimulatePrincipalPolicy",
}
# Paginators this client runs itself (botocore's paginators-1.json: Marker in and out, more
# while IsTruncated).
PAGINATED = frozenset({"simulate_principal_policy"})


class FastIam:
    """IAM through ``fast_token.iam_call`` where it may make the call, else botocore's client.
    ``attempts``: in all, as botocore's ``total_max_attempts`` (default: its standard 3)."""

    def __init__(
        self,
        region: str,
        profile: str | None,
        role_arn: str | None,
        make_sdk: Callable[[], Any],
        fips: bool = False,
        dualstack: bool = False,
        attempts: int | None = None,
    ) -> None:
        self.region, self.profile, self.role_arn = region, profile, role_arn
        self.fips, self.dualstack, self.attempts = fips, dualstack, attempts
        self._make_sdk = make_sdk
        self._sdk: Any = None

    def sdk(self) -> Any:
        if self._sdk is None:
            self._sdk = self._make_sdk()
        return self._sdk

    def fast(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The answer through fast_token, or None when botocore must make the call."""
        if self._sdk is not None:
            return None
        from . import fast_token

        return fast_token.iam_call(
            self.region, IAM_OPERATIONS[method], params, self.profile, self.role_arn,
            fips=self.fips, dualstack=self.dualstack, attempts=self.attempts,
        )  # fmt: skip

    def _call(self, method: str, params: dict[str, Any]) -> Any:
        resp = self.fast(method, params)
        if resp is not None:
            return resp
        return getattr(self.sdk(), method)(**params)

    def get_paginator(self, method: str) -> Any:
        if method in PAGINATED:
            return _Paginator(self, method)
        return self.sdk().get_paginator(method)

    def __getattr__(self, name: str) -> Any:
        if name in IAM_OPERATIONS:
            return lambda **kwargs: self._call(name, kwargs)
        return getattr(self.sdk(), name)


class _Paginator:
    """botocore's ``Paginator.paginate`` for a Marker/IsTruncated operation: pages until one
    is not truncated or names no Marker; the same Marker twice is botocore's
    ``PaginationError``."""

    def __init__(self, client: FastIam, method: str) -> None:
        self.client, self.method = client, method

    def paginate(self, **params: Any) -> Iterator[dict[str, Any]]:
        first = self.client.fast(self.method, dict(params))
        if first is None:
            yield from self.client.sdk().get_paginator(self.method).paginate(**params)
            return
        page: dict[str, Any] | None = first
        previous = None
        while page is not None:
            yield page
            marker = page.get("Marker")
            if not page.get("IsTruncated") or not marker:
                return
            if marker == previous:
                from botocore.exceptions import PaginationError

                raise PaginationError(message=f"The same next token was received twice: {marker}")
            previous = marker
            page = self.client._call(self.method, {**params, "Marker": marker})
