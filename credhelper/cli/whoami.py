"""``ecrpy whoami [REGISTRY]``: which AWS identity ecrpy uses, and for which registry how."""

from __future__ import annotations

import argparse
from typing import Any

SCHEMA = "ecrpy.whoami/1"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``whoami`` command."""
    p = sub.add_parser(
        "whoami",
        help="the AWS identity (and cached token) ecrpy would use",
        description="Resolve the AWS identity the helper uses (for REGISTRY: with its profile or "
        "role from ecrpy's config), call sts:GetCallerIdentity and show the cached token.",
    )
    p.add_argument("registry", nargs="?", help="ECR host or alias (applies its profile/role)")
    p.add_argument("--json", action="store_true", help=f"print the {SCHEMA} JSON document")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the identity, call sts:GetCallerIdentity, show the cached token's expiry."""

    from .. import config as config_mod
    from .. import identity, logs
    from .. import registry as registry_mod
    from ..report_json import utc_iso
    from ..token_cache import CacheKey, for_config

    config = config_mod.load()
    profile = role_arn = None
    reg = None
    info: dict[str, Any] = {}
    if args.registry:
        reg = registry_mod.require(args.registry, config)
        profile, role_arn = config.identity_for(reg.host)
        info["registry"] = reg.host
        info["alias"] = reg.alias
        info["account_id"] = reg.account_id
        info["region"] = reg.region
        info["partition"] = reg.partition
    source = identity.describe(profile, role_arn)
    info["source"] = source
    fingerprint = identity.fingerprint(profile, role_arn)
    info["fingerprint"] = fingerprint[:12]
    logs.debug("whoami: %s credentials, profile %s, fingerprint %s", source.get("chain"),
               source.get("profile"), fingerprint[:12])
    info["caller_arn"] = caller_arn(profile, role_arn, reg.api_region if reg else None)
    if reg is not None:
        cache = for_config(config)
        entry = cache.get(CacheKey(fingerprint, reg.key))
        logs.debug("whoami: %s cache, entry for %s: %s", cache.name, reg.key,
                   "found" if entry else "none")
        info["cached_token_expires_at"] = utc_iso(entry.valid_until) if entry else None
    if args.json:
        from ..report_json import document

        print(document(SCHEMA, **info))
    else:
        for label, value in readable_lines(info):
            print(f"{label + ':':<15} {value}")
    return 0


def readable_lines(info: dict[str, Any]) -> list[tuple[str, str]]:
    """``whoami``'s answer as (label, text) pairs: words, never Python reprs."""
    source: dict[str, str] = info["source"]
    lines = [("identity", str(info["caller_arn"])), ("credentials", source["chain"])]
    if source.get("access_key_id"):
        lines.append(("access key", source["access_key_id"]))
    lines.append(("profile", source["profile"]))
    if source.get("overrides"):
        lines.append(("note", source["overrides"]))
    if source.get("region"):
        lines.append(("region", source["region"]))
    if source.get("endpoint"):
        lines.append(("endpoint", source["endpoint"]))
    if "registry" in info:
        kind = "alias of " if info["alias"] else ""
        where = f"account {info['account_id']}, {info['region']} ({info['partition']})"
        lines.append(("registry", f"{info['registry']}: {kind}{where}"))
        expires = info.get("cached_token_expires_at")
        lines.append(("cached token", f"valid until {expires}" if expires else "none"))
    lines.append(("fingerprint", str(info["fingerprint"])))
    return lines


def caller_arn(profile: str | None, role_arn: str | None, region: str | None) -> str:
    """sts:GetCallerIdentity's ARN for the identity, within ecrpy's bounded waits."""
    from ..sts_caller import caller

    return caller(profile, role_arn, region).arn
