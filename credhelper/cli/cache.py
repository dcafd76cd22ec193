"""``ecrpy cache list|clear``: what tokens are cached, and forgetting them."""

from __future__ import annotations

import argparse
import json
import time


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``cache`` command."""
    p = sub.add_parser("cache", help="list or clear cached ECR tokens")
    csub = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    lp = csub.add_parser("list", help="cached tokens (never the token itself)")
    lp.add_argument("--json", action="store_true", help="machine-readable output")
    lp.set_defaults(func=run_list)
    cp = csub.add_parser("clear", help="remove cached tokens")
    cp.add_argument("registry", nargs="?", help="only this registry's tokens")
    cp.set_defaults(func=run_clear)


def _cache() -> object:

    from .. import config as config_mod
    from ..token_cache import for_config

    return for_config(config_mod.load())


def run_list(args: argparse.Namespace) -> int:
    """Print the cached entries with their expiry, marking the active identity's."""
    from .. import identity
    from ..token_cache import TokenCache

    cache = _cache()
    assert isinstance(cache, TokenCache)
    try:
        active = identity.fingerprint()
    except Exception:
        active = ""
    now = time.time()
    rows = []
    for key, entry in cache.entries():
        rows.append(
            {
                "registry": entry.registry,
                "identity": key.fingerprint[:12],
                "active_identity": key.fingerprint == active,
                "caller_arn": entry.caller_arn,
                "expires_at": entry.valid_until,
                "remaining_seconds": max(0, int(entry.valid_until - now)),
                "servable": entry.servable(now),
            }
        )
    if args.json:
        print(json.dumps({"backend": cache.name, "entries": rows}, indent=2))
        return 0
    if not rows:
        print(f"no cached tokens ({cache.name} cache)")
        return 0
    for r in rows:
        mark = "*" if r["active_identity"] else " "
        rem = int(r["remaining_seconds"])  # type: ignore[call-overload]
        state = "valid" if r["servable"] else ("refresh due" if rem else "expired")
        left = f"{rem // 3600}h{rem % 3600 // 60:02d}m"
        print(f"{mark} {r['registry']:<55} {r['identity']}  {left}  {state}")
    print("(* = the active identity)")
    return 0


def run_clear(args: argparse.Namespace) -> int:
    """Delete cached tokens (all, or one registry's for every identity)."""
    from .. import config as config_mod
    from .. import registry as registry_mod
    from ..token_cache import TokenCache

    cache = _cache()
    assert isinstance(cache, TokenCache)
    if args.registry is None:
        print(f"removed {cache.clear()} cached token(s)")
        return 0
    reg = registry_mod.require(args.registry, config_mod.load())
    removed = sum(cache.delete(k) for k, _ in cache.entries() if k.registry_key == reg.key)
    print(f"removed {removed} cached token(s) for {reg.host}")
    return 0
