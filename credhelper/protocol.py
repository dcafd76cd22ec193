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
# The token service's deadline: it answers (with a still-valid cached token, if any) before the
# watchdog's backstop fires.
SERVICE_DEADLINE = DEADLINE - 0.5
USAGE = "Usage: docker-credential-ecrpy <get|store|erase|list|version|--version|-v>"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .token_cache.base import CacheEntry, TokenCache


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
def _credentials_json(server_url: str, username: str, secret: str) -> str:
    return _json.dumps({"ServerURL": server_url, "Username": username, "Secret": secret})


def action_get(text: str, deadline: float | None = None) -> _Output:
    """Serve the credentials for the server URL in ``text``.

    ``deadline`` (a ``time.monotonic()`` instant) bounds a token refresh; ``main`` sets it for
    the helper process. A cache hit never reaches it (nor imports threading).
    """
    from . import config as config_mod
    from . import registry as registry_mod
    from . import token_service

    server_url = text.strip()
    host = registry_mod.normalize(server_url)
    if host is None:
        return _Output(NOT_FOUND, 1)
    config = config_mod.load()
    registry = registry_mod.resolve(server_url, config)
    if registry is None:
        return _stored_credentials(host, server_url)
    try:
        found = token_service.lookup(registry, config, before_read=_guard_blocking_cache)
        entry = found.servable
        if entry is None:
            fallback = found.fallback
            arm_watchdog("get", None if fallback is None else (server_url, fallback))
            entry = token_service.refresh(found, deadline)
    except EcrpyError as exc:
        return _Output(NOT_FOUND, 1, hint=exc.one_line())
    return _Output(_credentials_json(server_url, entry.username, entry.token))


def _guard_blocking_cache(cache: TokenCache) -> None:
    """A keyring-backed token cache may hang on a lookup (a locked store that prompts, a
    D-Bus service that never answers): the watchdog covers it as it covers a refresh."""
    if cache.may_block:
        arm_watchdog("get")


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
        if cache.may_block:
            arm_watchdog("erase")  # a keyring that hangs must not hang docker logout
        for key in cache.keys():  # damaged entries too: erase means gone
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
    if cache.may_block:
        arm_watchdog("list")  # reading a keyring-backed token cache may hang
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
def run(action: str, deadline: float | None = None) -> _Output:
    """Run one protocol action; every failure becomes an ``_Output``. ``deadline``: see
    ``action_get`` (``None`` when called in-process, as tests do)."""
    try:
        if action == "get":
            return action_get(_read_stdin(), deadline)
        if action == "store":
            return action_store(_read_stdin())
        if action == "erase":
            return action_erase(_read_stdin())
        if action == "list":
            return action_list()
        if action in ("version", "--version", "-v"):  # -v: as AWS's Go helper
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
    """This process's output guard; plain attributes, no threading on a cache hit."""

    start = time.monotonic()
    written = False
    lock: Any = None  # a threading.Lock once the watchdog is armed
    fallback: tuple[str, CacheEntry] | None = None  # what the watchdog answers a get with


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


def _timeout_answer(action: str, fallback: tuple[str, CacheEntry] | None) -> _Output:
    if action == "get" and fallback is not None and fallback[1].unexpired():
        # A refresh that hangs must not take away a token that still works.
        server_url, entry = fallback
        try:
            from . import logs

            logs.warning("refresh timed out after %.0fs; serving the still-valid cached token",
                         DEADLINE)
        except Exception:  # noqa: S110 - the answer matters more than the log line
            pass
        return _Output(_credentials_json(server_url, entry.username, entry.token))
    return _Output(
        NOT_FOUND if action == "get" else f"ecrpy: {action} timed out",
        1,
        hint=f"timed out after {DEADLINE:.0f}s waiting for AWS or the keyring; "
        "check the network and proxy settings",
    )


def arm_watchdog(action: str, fallback: tuple[str, CacheEntry] | None = None) -> None:
    """At DEADLINE seconds after start, answer and exit, whatever is still waiting.

    The backstop behind the token service's own deadline (which answers half a second
    earlier), for whatever else may block: locks, the keyring, a stuck import. Armed only on
    paths that may block; a cache hit never starts a thread. ``fallback`` is the server URL
    and the still-valid cached token to answer with instead of not-found.
    """
    if fallback is not None:
        _STATE.fallback = fallback  # also when armed earlier (before a keyring cache read)
    if _STATE.lock is not None:
        return
    import threading

    _STATE.lock = threading.Lock()

    def fire() -> None:
        out = _timeout_answer(action, _STATE.fallback)
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
    out = run(args[0], deadline=_STATE.start + SERVICE_DEADLINE)
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
