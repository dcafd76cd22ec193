"""``docker-credential-ecrpy``: the docker credential-helper protocol.

    get      stdin: server URL          stdout: {"ServerURL", "Username", "Secret"}
    store    stdin: {"ServerURL", "Username", "Secret"}
    erase    stdin: server URL
    list     stdout: {server URL: username}
    version

Errors go to stdout with exit 1, as docker's clients read them; "not found" is the exact string
they recognise. For an ECR host whose token cannot be fetched, stdout still says "not found"
(so docker falls back to anonymous access and a build that lists many registries goes on) and
stderr gets one line with the cause and the fix, which docker shows to the user.

The cache hit is the hot path: it imports only the modules named in
docs/CONTRIBUTING-hot-path.md and touches no network.
"""

from __future__ import annotations

import os
import sys
import time

from . import __version__, _json
from .errors import EcrpyError, NotFoundError, UsageError

NOT_FOUND = "credentials not found in native keychain"
MAX_STDIN = 64 * 1024  # a server URL or a credential JSON; more is not a client talking
DEADLINE = 9.0  # seconds from start: a dead endpoint must not hang docker (answer by 10 s)
USAGE = "Usage: docker-credential-ecrpy <get|store|erase|list|version>"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .config import Config
    from .registry import Registry
    from .token_cache.base import CacheEntry


class _Output:
    """What the process prints and returns; written once at the end."""

    __slots__ = ("code", "hint", "stdout")

    def __init__(self, stdout: str, code: int = 0, hint: str | None = None) -> None:
        self.stdout = stdout
        self.code = code
        self.hint = hint


def _read_stdin() -> str:
    data = sys.stdin.buffer.read(MAX_STDIN + 1)
    if len(data) > MAX_STDIN:
        raise UsageError("input too large")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("input is not valid UTF-8") from None


# -- get -------------------------------------------------------------------------------------
def _identity_for(config: Config, host: str) -> tuple[str | None, str | None]:
    settings = config.for_host(host)
    if settings is None:
        return None, None
    return settings.profile, settings.role_arn


def token_for(registry: Registry, config: Config) -> CacheEntry:
    """A servable token: from the cache, else fetched once (single-flight) and cached."""
    from . import identity
    from .token_cache import CacheKey, for_config

    profile, role_arn = _identity_for(config, registry.host)
    cache = for_config(config)
    key = CacheKey(identity.fingerprint(profile, role_arn), registry.key)
    entry = cache.get(key)
    if entry is not None and entry.servable(min_remaining=config.min_remaining):
        return entry
    if entry is not None and entry.unexpired():
        # Due for refresh but still valid: what the watchdog serves if the refresh hangs.
        _STATE.fallback = entry
    return _refresh(registry, cache, key, profile, role_arn, config.min_remaining)


def _refresh(
    registry: Registry,
    cache: object,
    key: object,
    profile: str | None,
    role_arn: str | None,
    min_remaining: int,
) -> CacheEntry:
    from . import logs, tokens
    from .lock import FileLock, LockTimeoutError
    from .token_cache import CacheKey, TokenCache

    assert isinstance(cache, TokenCache) and isinstance(key, CacheKey)
    arm_watchdog("get")
    lock_path = cache.lock_path(key)
    lock = FileLock(lock_path, timeout=DEADLINE) if lock_path else None
    try:
        if lock is not None:
            lock.acquire()
    except (LockTimeoutError, OSError) as exc:
        logs.warning("cache lock unavailable (%s); fetching without it", exc)
        lock = None
    try:
        # Another process may have refreshed it while we waited for the lock.
        stale = cache.get(key)
        if stale is not None and stale.servable(min_remaining=min_remaining):
            return stale
        try:
            entry = tokens.fetch(registry, profile=profile, role_arn=role_arn)
        except EcrpyError as exc:
            if stale is not None and stale.unexpired():
                logs.warning("refresh failed (%s); serving the still-valid cached token", exc)
                return stale
            raise
        if entry.unexpired():
            cache.put(key, entry)
        else:
            logs.warning("token for %s arrived already expired (clock skew?); not cached",
                         registry.host)
        logs.info("fetched a token for %s", registry.host)
        return entry
    finally:
        if lock is not None:
            lock.release()


def _credentials_json(server_url: str, username: str, secret: str) -> str:
    return _json.dumps({"ServerURL": server_url, "Username": username, "Secret": secret})


def action_get(text: str) -> _Output:
    """Serve the credentials for the server URL in ``text``."""
    from . import config as config_mod
    from . import registry as registry_mod

    server_url = text.strip()
    _STATE.server_url = server_url
    host = registry_mod.normalize(server_url)
    if host is None:
        return _Output(NOT_FOUND, 1)
    config = config_mod.load()
    registry = registry_mod.resolve(server_url, config)
    if registry is None:
        return _stored_credentials(host, server_url)
    try:
        entry = token_for(registry, config)
    except EcrpyError as exc:
        return _Output(NOT_FOUND, 1, hint=exc.one_line())
    return _Output(_credentials_json(server_url, entry.username, entry.token))


def _stored_credentials(host: str, server_url: str) -> _Output:
    from . import credential_store

    try:
        if host in credential_store.load_index():
            arm_watchdog("get")
        username, secret = credential_store.get(host)
    except NotFoundError:
        return _Output(NOT_FOUND, 1)
    except EcrpyError as exc:
        return _Output(NOT_FOUND, 1, hint=exc.one_line())
    return _Output(_credentials_json(server_url, username, secret))


# -- store / erase / list ---------------------------------------------------------------------
def _parse_credentials(text: str) -> tuple[str, str, str]:
    try:
        data = _json.loads(text)
    except (ValueError, RecursionError):
        raise UsageError("store expects a JSON object with ServerURL, Username, Secret") from None
    if not isinstance(data, dict):
        raise UsageError("store expects a JSON object with ServerURL, Username, Secret")
    values = [data.get(k) for k in ("ServerURL", "Username", "Secret")]
    if not all(isinstance(v, str) for v in values) or not values[0]:
        raise UsageError("store expects ServerURL, Username and Secret as strings")
    server_url, username, secret = (str(v) for v in values)
    return server_url.strip(), username, secret


def action_store(text: str) -> _Output:
    """Keep credentials for a non-ECR host; accept (and ignore) them for ECR hosts."""
    from . import config as config_mod
    from . import credential_store
    from . import registry as registry_mod

    server_url, username, secret = _parse_credentials(text)
    host = registry_mod.normalize(server_url)
    if host is None:
        raise UsageError("ServerURL is not a registry address")
    if registry_mod.resolve(server_url, config_mod.load()) is not None:
        return _Output("")  # ECR tokens come from IAM: `docker login` must not fail
    arm_watchdog("store")
    credential_store.store(host, server_url, username, secret)
    return _Output("")


def action_erase(text: str) -> _Output:
    """Forget credentials for a host (ECR: drop its cached tokens for every identity)."""
    from . import config as config_mod
    from . import credential_store
    from . import registry as registry_mod
    from .token_cache import for_config

    server_url = text.strip()
    host = registry_mod.normalize(server_url)
    if host is None:
        return _Output(NOT_FOUND, 1)
    config = config_mod.load()
    registry = registry_mod.resolve(server_url, config)
    if registry is not None:
        cache = for_config(config)
        for key, _ in cache.entries():
            if key.registry_key == registry.key:
                cache.delete(key)
        return _Output("")
    if host in credential_store.load_index():
        arm_watchdog("erase")
        credential_store.erase(host)
    return _Output("")  # erasing what is not there is done, not an error


def action_list() -> _Output:
    """Unexpired cached ECR tokens of the active identities and every stored host."""
    from . import config as config_mod
    from . import credential_store, identity
    from .token_cache import for_config

    config = config_mod.load()
    cache = for_config(config)
    result: dict[str, str] = {}
    fingerprints: set[str] = set()
    for profile, role_arn in {(None, None)} | {
        (s.profile, s.role_arn) for s in config.registries.values()
    }:
        try:
            fingerprints.add(identity.fingerprint(profile, role_arn))
        except EcrpyError:
            continue
    for fp in fingerprints:
        for _, entry in cache.entries(fp):
            if entry.unexpired():
                result[entry.registry] = entry.username
    result.update(credential_store.listing())
    return _Output(_json.dumps(result))


# -- dispatch ---------------------------------------------------------------------------------
def run(action: str) -> _Output:
    """Run one protocol action; every failure becomes an ``_Output``."""
    try:
        if action == "get":
            return action_get(_read_stdin())
        if action == "store":
            return action_store(_read_stdin())
        if action == "erase":
            return action_erase(_read_stdin())
        if action == "list":
            return action_list()
        if action == "version":
            return _Output(f"docker-credential-ecrpy (ecrpy) {__version__}")
        if action in ("-h", "--help", "help"):
            return _Output(USAGE)
        return _Output(f"unknown action {action[:40]!r}; {USAGE}", 1)
    except NotFoundError:
        return _Output(NOT_FOUND, 1)
    except EcrpyError as exc:
        if action == "get":  # docker must still fall back to anonymous access
            return _Output(NOT_FOUND, 1, hint=exc.one_line())
        return _Output(exc.one_line(), 1)
    except OSError as exc:  # the environment (read-only, full, permissions), not a bug
        from . import logs
        from .errors import environment_error

        message = environment_error(f"complete {action}", exc).one_line()
        logs.warning("%s", message)
        if action == "get":
            return _Output(NOT_FOUND, 1, hint=message)
        return _Output(message, 1)
    except Exception as exc:  # the boundary: a helper must never print a traceback
        from . import logs

        logs.error("internal error in %s: %s", action, type(exc).__name__, exc_info=True)
        # No "ecrpy" here: the line is printed as "ecrpy: <message>".
        message = f"internal error ({type(exc).__name__}); see {logs.log_path()}"
        if action == "get":
            return _Output(NOT_FOUND, 1, hint=message)
        return _Output(message, 1)


class _State:
    """Process-wide facts the watchdog needs; plain attributes, no threading on a cache hit."""

    start = time.monotonic()
    server_url: str | None = None
    fallback: CacheEntry | None = None
    written = False
    lock: Any = None  # a threading.Lock once the watchdog is armed


_STATE = _State()


def _write(out: _Output) -> None:
    if _STATE.lock is not None:
        with _STATE.lock:
            if _STATE.written:
                return
            _STATE.written = True
            _emit(out)
        return
    _STATE.written = True
    _emit(out)


def _emit(out: _Output) -> None:
    if out.hint:
        sys.stderr.write(f"ecrpy: {out.hint}\n")
        sys.stderr.flush()
    if out.stdout:
        sys.stdout.write(out.stdout + "\n")
    sys.stdout.flush()


def _timeout_answer(action: str) -> _Output:
    fallback, server_url = _STATE.fallback, _STATE.server_url
    if action == "get" and fallback is not None and server_url is not None and fallback.unexpired():
        # A refresh that hangs must not take away a token that still works.
        try:
            from . import logs

            logs.warning("refresh timed out after %.0fs; serving the still-valid cached token",
                         DEADLINE)
        except Exception:  # noqa: S110 - the answer matters more than the log line
            pass
        return _Output(_credentials_json(server_url, fallback.username, fallback.token))
    return _Output(
        NOT_FOUND if action == "get" else f"ecrpy: {action} timed out",
        1,
        hint=f"timed out after {DEADLINE:.0f}s waiting for AWS or the keyring; "
        "check the network and proxy settings",
    )


def arm_watchdog(action: str) -> None:
    """At DEADLINE seconds after start, answer and exit, whatever is still waiting.

    Armed only on paths that may block (network, locks, keyring); a cache hit never starts a
    thread. If a still-valid cached token exists, that is the answer.
    """
    if _STATE.lock is not None:
        return
    import threading

    _STATE.lock = threading.Lock()

    def fire() -> None:
        out = _timeout_answer(action)
        with _STATE.lock:
            if _STATE.written:
                return  # the main thread answered first
            _STATE.written = True
            try:
                _emit(out)
            finally:
                os._exit(out.code)

    remaining = DEADLINE - (time.monotonic() - _STATE.start)
    timer = threading.Timer(max(0.05, remaining), fire)
    timer.daemon = True
    timer.start()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        _write(_Output(USAGE, 1))
        sys.exit(1)
    out = run(args[0])
    try:
        _write(out)
    except BrokenPipeError:
        os._exit(out.code or 1)
    _exit_now(out.code)


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown.

    Tearing down modules and objects costs ~4 ms here, a sixth of a whole cache-hit ``get``,
    and buys nothing: every file ecrpy writes is complete and renamed by now. What others may
    still buffer is flushed first (log handlers, stdio); then ``os._exit``.
    """
    if "logging" in sys.modules:
        import logging

        logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        code = code or 1
    os._exit(code)
