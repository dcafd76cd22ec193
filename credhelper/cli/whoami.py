"""``ecrpy whoami [REGISTRY]``: which AWS identity ecrpy uses, and for which registry how."""

from __future__ import annotations

import argparse
import json
import time


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``whoami`` command."""
    p = sub.add_parser("whoami", help="the AWS identity (and cached token) ecrpy would use")
    p.add_argument("registry", nargs="?", help="ECR host or alias (applies its profile/role)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the identity, call sts:GetCallerIdentity, show the cached token's expiry."""

    from .. import config as config_mod
    from .. import identity
    from .. import registry as registry_mod
    from ..token_cache import CacheKey, for_config

    config = config_mod.load()
    profile = role_arn = None
    reg = None
    info: dict[str, object] = {}
    if args.registry:
        reg = registry_mod.require(args.registry, config)
        settings = config.for_host(reg.host)
        if settings is not None:
            profile, role_arn = settings.profile, settings.role_arn
        info["registry"] = reg.host
        info["alias"] = reg.alias
        info["account_id"] = reg.account_id
        info["region"] = reg.region
        info["partition"] = reg.partition
    info["source"] = identity.describe(profile, role_arn)
    fingerprint = identity.fingerprint(profile, role_arn)
    info["fingerprint"] = fingerprint[:12]
    info["caller_arn"] = _caller_arn(profile, role_arn, reg.api_region if reg else None)
    if reg is not None:
        entry = for_config(config).get(CacheKey(fingerprint, reg.key))
        info["cached_token_expires_at"] = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry.valid_until)) if entry else None
        )
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key + ':':<26} {value if value is not None else '-'}")
    return 0


def _caller_arn(profile: str | None, role_arn: str | None, region: str | None) -> str:
    from .. import identity, tokens
    from ..errors import EcrpyError

    try:
        session = identity.session(profile=profile, role_arn=role_arn, region=region)
        sts = session.client("sts", config=tokens.client_config())
        return str(sts.get_caller_identity()["Arn"])
    except EcrpyError:
        raise
    except Exception as exc:
        raise tokens.translate(exc, None, profile) from None
