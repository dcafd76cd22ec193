"""``ecrpy configure [REGISTRY…] [--default]``: point docker at docker-credential-ecrpy."""

from __future__ import annotations

import argparse
import shutil
import time
from typing import Any

from .. import registry as registry_mod
from ..errors import UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``configure`` command."""
    p = sub.add_parser(
        "configure",
        help="add credHelpers (or credsStore) entries for ecrpy to docker's config.json",
        description="Add `credHelpers` entries for ECR registries (or configured aliases) to "
        "$DOCKER_CONFIG/config.json, or make ecrpy the default `credsStore` with --default. "
        "Idempotent and atomic; every other key is kept and the old file saved as config.json.bak.",
    )
    p.add_argument(
        "registries",
        nargs="*",
        metavar="REGISTRY",
        help="ECR host or alias (default: your account's registry in your AWS region)",
    )
    p.add_argument("--default", action="store_true", help="set credsStore to ecrpy")
    p.add_argument("--docker-config", metavar="DIR", help="docker config dir (default: ~/.docker)")
    p.add_argument("--dry-run", action="store_true", help="show what would change")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Edit docker's config.json and report what changed."""
    from .. import config as config_mod
    from .. import docker_config, paths

    config = config_mod.load()
    hosts: list[str] = []
    names = list(args.registries)
    if not names and not args.default:
        names = [_own_registry()]
        print(f"no registry named: using your own account's, {names[0]}")
    for name in names:
        host = registry_mod.normalize(name)
        if host is None or registry_mod.resolve(host, config) is None:
            raise UsageError(
                f"{name!r} is neither an ECR registry nor an alias in "
                f"{paths.config_file()}",
                hint='add [registries."HOST"] account_id/region to the ecrpy config for an alias',
            )
        _check_region(name, registry_mod.resolve(host, config))
        hosts.append(host)
    change = docker_config.configure(hosts, args.default, args.docker_config, args.dry_run)
    verb = "would add" if args.dry_run else "added"
    for item in change.added:
        print(f"{verb}: {item} -> ecrpy")
    for item in change.unchanged:
        print(f"already set: {item} -> ecrpy")
    if change.backup:
        print(f"backup: {change.backup}")
    print(f"docker config: {change.path}")
    if shutil.which("docker-credential-ecrpy") is None:
        import sys

        print(
            "warning: docker-credential-ecrpy is not on PATH; docker will not find it "
            "(install with pipx, or add the venv's bin folder to PATH)",
            file=sys.stderr,
        )
    return 0


def _check_region(name: str, reg: registry_mod.Registry | None) -> None:
    """A well-formed but unknown region (``us-eats-1``) is a typo, not a registry: say so."""
    if reg is None or reg.public or reg.alias:
        return
    import botocore.session

    known = botocore.session.get_session().get_available_regions("ecr", reg.partition)
    if not known or reg.region in known:
        return
    import difflib

    close = difflib.get_close_matches(reg.region, known, n=1)
    guess = f"; did you mean {close[0]}?" if close else ""
    raise UsageError(
        f"{name!r} names region {reg.region!r}, where ECR does not exist{guess}",
        hint="fix the host name; if the region is brand new, upgrade ecrpy and botocore",
    )


def _own_registry() -> str:
    """The caller's own private registry: account from sts:GetCallerIdentity, region from the
    AWS config (AWS_REGION / AWS_DEFAULT_REGION / the profile's region)."""
    from .. import identity, tokens
    from .. import registry as registry_mod
    from ..errors import EcrpyError

    try:
        session = identity.botocore_session()  # AWS_REGION, AWS_DEFAULT_REGION, profile
        region = session.get_config_variable("region")
        if not region:
            raise UsageError(
                "no AWS region configured, so no registry to pick",
                hint="name the registry, or set AWS_REGION / the profile's region",
            )
        sts: Any = session.create_client("sts", region_name=region, config=tokens.client_config())
        deadline = time.monotonic() + tokens.DEADLINE
        account = str(tokens.bound_retries(sts, deadline).get_caller_identity()["Account"])
    except EcrpyError:
        raise
    except Exception as exc:  # botocore's errors: one line with the fix
        raise tokens.translate(exc, None, None, service="STS") from None
    return registry_mod.host_for(account, str(region))
