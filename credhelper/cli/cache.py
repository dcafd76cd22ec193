"""``ecrpy cache list|clear``: what tokens are cached, and forgetting them."""

from __future__ import annotations

import argparse
import time

LIST_SCHEMA = "ecrpy.cache-list/1"
CLEAR_SCHEMA = "ecrpy.cache-clear/1"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``cache`` command."""
    p = sub.add_parser(
        "cache",
        help="list or clear cached ECR tokens",
        description="Inspect or drop the ECR tokens the helper has cached (never shown: the "
        "tokens themselves). Tokens are cached per identity fingerprint and registry.",
    )
    csub = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    lp = csub.add_parser(
        "list",
        help="cached tokens (never the token itself)",
        description="List the cached tokens of every identity: registry, identity fingerprint, "
        "time left and whether the helper would serve it. * marks the active identity's.",
    )
    lp.add_argument("--json", action="store_true", help=f"print the {LIST_SCHEMA} JSON document")
    lp.set_defaults(func=run_list)
    cp = csub.add_parser(
        "clear",
        help="remove cached tokens",
        description="Remove every cached token (and lock), or with REGISTRY that registry's "
        "tokens for every identity. The next docker call fetches a fresh one.",
    )
    cp.add_argument("registry", nargs="?", help="only this registry's tokens")
    cp.add_argument(
        "--json", action="store_true", help=f"print the {CLEAR_SCHEMA} JSON document"
    )
    cp.set_defaults(func=run_clear)


def _cache() -> object:

    from .. import config as config_mod
    from ..token_cache import for_config

    return for_config(config_mod.load())


def run_list(args: argparse.Namespace) -> int:
    """Print the cached entries with their expiry, marking the active identity's."""
    from .. import identity, logs
    from ..report_json import utc_iso
    from ..token_cache import TokenCache

    cache = _cache()
    assert isinstance(cache, TokenCache)
    try:
        active = identity.fingerprint()
    except Exception as exc:  # no identity resolves: nothing is marked active
        logs.debug("cache list: no active identity (%s)", type(exc).__name__)
        active = ""
    logs.debug("cache list: %s cache, active identity %s", cache.name, active[:12] or "none")
    now = time.time()
    rows = []
    for key, entry in cache.entries():
        rows.append(
            {
                "registry": entry.registry,
                "identity": key.fingerprint[:12],
                "active_identity": key.fingerprint == active,
                "caller_arn": entry.caller_arn,
                "expires_at": utc_iso(entry.valid_until),
                "remaining_seconds": max(0, int(entry.valid_until - now)),
                "servable": entry.servable(now),
            }
        )
    # Entries the helper ignores (damaged, not private, in an insecure folder): said, so a
    # user who sees no token where one was written knows why and how to get rid of them.
    unreadable = max(0, len(cache.keys()) - len(rows))
    if args.json:
        from ..report_json import document

        print(document(LIST_SCHEMA, backend=cache.name, generated_at=utc_iso(now), entries=rows,
                       unreadable=unreadable))  # fmt: skip
        return 0
    if unreadable:
        from ..wording import plural

        print(f"ignored: {plural(unreadable, 'cache entry', 'cache entries')} that could not be "
              "read (damaged, not private, or in a folder others can write; details in the "
              "log); `ecrpy cache clear` removes them")  # fmt: skip
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
    from ..wording import plural

    cache = _cache()
    assert isinstance(cache, TokenCache)
    host = None
    if args.registry is None:
        removed = cache.clear()
    else:
        reg = registry_mod.require(args.registry, config_mod.load())
        host = reg.host
        # keys(), not entries(): a damaged entry is removed too
        removed = sum(cache.delete(k) for k in cache.keys() if k.registry_key == reg.key)
    if args.json:
        from ..report_json import document

        print(document(CLEAR_SCHEMA, backend=cache.name, registry=host, removed=removed))
    else:
        print(f"removed {plural(removed, 'cached token')}" + (f" for {host}" if host else ""))
    return 0
