"""``sts:GetCallerIdentity`` for an identity, within ecrpy's bounded waits.

One place for the call ``whoami``, ``doctor`` and ``configure`` (your own registry) make: the
session comes from ``aws_session`` (the default chain, or a per-registry profile/role), the
client from ``tokens.client_config`` (the user's retry settings, ecrpy's time bound) and every
failure becomes one line naming STS (``aws_errors.translated``).
"""

from __future__ import annotations

import time

from .errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Caller:
    """Who the credentials belong to, and the region the session resolved."""

    __slots__ = ("account", "arn", "region")

    def __init__(self, arn: str, account: str, region: str | None) -> None:
        self.arn = arn
        self.account = account
        self.region = region


def caller(
    profile: str | None = None,
    role_arn: str | None = None,
    region: str | None = None,
    require_region: bool = False,
) -> Caller:
    """GetCallerIdentity for the identity; ``require_region``: refuse (UsageError) when neither
    ``region`` nor the AWS config (AWS_REGION, AWS_DEFAULT_REGION, the profile) names one."""
    from . import aws_errors, aws_session, tokens

    with aws_errors.translated(None, profile, service="STS"):
        session = aws_session.botocore_session(profile=profile, role_arn=role_arn, region=region)
        resolved = region or session.get_config_variable("region")
        if require_region and not resolved:
            raise UsageError(
                "no AWS region configured, so no registry to pick",
                hint="name the registry, or set AWS_REGION / the profile's region",
            )
        sts: Any = session.create_client(
            "sts", region_name=resolved or None, config=tokens.client_config()
        )
        deadline = time.monotonic() + tokens.DEADLINE
        answer = tokens.bound_retries(sts, deadline).get_caller_identity()
        return Caller(str(answer["Arn"]), str(answer["Account"]), resolved or None)
