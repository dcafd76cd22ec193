"""The checks behind ``ecrpy doctor``: every piece ecrpy depends on, each OK / WARN / FAIL
(or SKIP with ``--offline``) with the fix.

A check never raises: whatever goes wrong becomes a line naming the cause in words (never a
Python repr, never an exception's text that could quote a secret). Statuses: FAIL means docker
or the helper will not work as configured; WARN means something a user should know that does
not break the configured use; SKIP means not checked (``--offline``).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from . import __version__
from .errors import EcrpyError, KeyringUnavailableError

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
HELPER = "docker-credential-ecrpy"
NETWORK_TIMEOUT = 5.0  # seconds for one engine or registry probe
_MAX_TOKEN_CHECKS = 5  # a token per registry costs an AWS call each: enough to show a pattern
_PROBE_USER = "ecrpy-doctor-probe"  # read, never written: asking proves the keyring answers


class Check:
    """One line of the report."""

    __slots__ = ("detail", "fix", "name", "status")

    def __init__(self, status: str, name: str, detail: str, fix: str | None = None) -> None:
        self.status, self.name, self.detail, self.fix = status, name, detail, fix

    def as_dict(self) -> dict[str, str | None]:
        return {"status": self.status, "name": self.name, "detail": self.detail, "fix": self.fix}


def failed(checks: Iterable[Check]) -> bool:
    """True when any check FAILed (WARN and SKIP do not count)."""
    return any(c.status == FAIL for c in checks)


def unique_fixes(checks: Iterable[Check]) -> list[str]:
    """Each distinct fix once, in the order the checks name them."""
    seen: dict[str, None] = {}
    for check in checks:
        if check.fix:
            seen.setdefault(check.fix, None)
    return list(seen)


# -- keyring -------------------------------------------------------------------------------------


def keyring_backend() -> str:
    """The name of a keyring backend that answers; ``KeyringUnavailableError`` otherwise.

    ``fail``/``null`` backends are refused by ``credential_store.backend``; a backend that
    exists but errors when asked (a locked or broken store) is refused here, by reading an
    entry nobody writes.
    """
    from . import credential_store

    try:
        kr = credential_store.backend()
    except KeyringUnavailableError as exc:
        import keyring

        chosen = keyring.get_keyring()
        name = f"{type(chosen).__module__}.{type(chosen).__name__}"
        raise KeyringUnavailableError(f"{exc.message} ({name})", hint=exc.hint) from None
    name = f"{type(kr).__module__}.{type(kr).__name__}"
    try:
        kr.get_password(credential_store.SERVICE, _PROBE_USER)
    except Exception as exc:  # backends raise their own types; their text is not shown
        raise KeyringUnavailableError(
            f"the OS keyring ({name}) does not answer ({type(exc).__name__})",
            hint="unlock the keyring, or set PYTHON_KEYRING_BACKEND to a working backend",
        ) from None
    return name


def _keyring() -> tuple[Check, KeyringUnavailableError | None]:
    try:
        name = keyring_backend()
    except KeyringUnavailableError as exc:
        note = " (needed only for non-ECR registries, with credsStore=ecrpy)"
        return Check(WARN, "keyring", exc.message + note, exc.hint), exc
    return Check(OK, "keyring", name), None


# -- docker's config.json ------------------------------------------------------------------------


def _docker_config(keyring_problem: EcrpyError | None) -> tuple[list[Check], list[str], bool]:
    """The docker config line(s), the hosts it sends to ecrpy, and whether credsStore=ecrpy."""
    from . import docker_config
    from .errors import ConfigError

    path = docker_config.config_path()
    try:
        data = docker_config.read(path)
    except ConfigError as exc:
        return [Check(FAIL, "docker config", exc.message, exc.hint)], [], False
    helpers = data.get("credHelpers") or {}
    hosts = [h for h, v in helpers.items() if v == "ecrpy"] if isinstance(helpers, dict) else []
    store = data.get("credsStore")
    ours = store == "ecrpy"
    checks: list[Check] = []
    if not hosts and not ours:
        other = f" (credsStore is {docker_config.shown(store)})" if store else ""
        checks.append(
            Check(
                WARN,
                "docker config",
                f"{path} does not use ecrpy{other}",
                "run: ecrpy configure REGISTRY (or --default)",
            )
        )
        return checks, hosts, ours
    count = len(hosts)
    detail = f"{path}: credHelpers for {count} registr{'y' if count == 1 else 'ies'}"
    checks.append(Check(OK, "docker config", detail + (", credsStore=ecrpy" if ours else "")))
    if ours and keyring_problem is not None:
        checks.append(
            Check(
                FAIL,
                "credsStore",
                f"credsStore=ecrpy, but {keyring_problem.message}: docker login to any "
                "non-ECR registry will fail",
                keyring_problem.hint
                or "run: ecrpy configure --remove --default (ECR registries need no keyring)",
            )
        )
    return checks, hosts, ours


# -- the helper on PATH --------------------------------------------------------------------------


def _our_script_dirs() -> list[str]:
    """Folders where this installation's console scripts can be (venv, prefix, user)."""
    import sysconfig

    dirs = [os.path.dirname(sys.executable)]
    for scheme in (None, f"{os.name}_user"):
        try:
            path = (
                sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
            )
        except KeyError:
            continue
        if path:
            dirs.append(path)
    return list(dict.fromkeys(os.path.realpath(d) for d in dirs))


def _is_ours(found: str, ours: list[str]) -> bool:
    """``found`` (a PATH hit, maybe a pipx symlink) is this installation's script: it lives in
    one of our script folders, or its shebang names this very interpreter."""
    real = os.path.realpath(found)
    if os.path.dirname(real) in ours:
        return True
    try:
        with open(real, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if not head.startswith(b"#!"):
        return False
    interpreter = head[2:].split(b"\n", 1)[0].strip().split(b" ", 1)[0]
    try:
        return os.path.abspath(os.fsdecode(interpreter)) == os.path.abspath(sys.executable)
    except ValueError:
        return False


def _reported_version(path: str) -> str:
    """What another copy says about itself (``version``), in words."""
    import subprocess

    try:
        proc = subprocess.run(
            [path, "version"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=NETWORK_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "it does not run"
    words = proc.stdout.decode("utf-8", "replace").split()
    if proc.returncode == 0 and len(words) >= 3 and words[1] == "(ecrpy)":
        return f"ecrpy {words[2][:40]}"
    return "it reports no ecrpy version"


def _on_path(env_path: str | None) -> list[str]:
    """Every ``docker-credential-ecrpy`` on PATH, first one first."""
    hits: list[str] = []
    for folder in (env_path or "").split(os.pathsep):
        if folder:
            found = shutil.which(HELPER, path=folder)
            if found and found not in hits:
                hits.append(found)
    return hits


def helper_on_path(env: Mapping[str, str] | None = None) -> Check:
    """The ``docker-credential-ecrpy`` docker will run is this installation's."""
    env = os.environ if env is None else env
    ours = _our_script_dirs()
    hits = _on_path(env.get("PATH"))
    here = f"ecrpy {__version__} in {sys.prefix}"
    mine = [h for h in hits if _is_ours(h, ours)]
    expected = next(
        (d for d in ours if shutil.which(HELPER, path=d)), os.path.dirname(sys.executable)
    )
    if not hits:
        return Check(
            FAIL,
            "PATH",
            f"{HELPER} is not on PATH, so docker cannot run it",
            f"add {expected} to PATH (or install with pipx, which links it into ~/.local/bin)",
        )
    first = hits[0]
    if mine and mine[0] == first:
        shown = (
            first if os.path.realpath(first) == first else f"{first} -> {os.path.realpath(first)}"
        )
        return Check(OK, "PATH", f"{shown} ({here})")
    other = f"{first} ({_reported_version(first)})"
    if mine:
        return Check(
            FAIL,
            "PATH",
            f"{HELPER} on PATH is {other}, not this installation's {mine[0]} ({here}), "
            "which comes later",
            f"remove the stale copy {first}, or put {os.path.dirname(mine[0])} before "
            f"{os.path.dirname(first)} in PATH",
        )
    return Check(
        FAIL,
        "PATH",
        f"{HELPER} on PATH is {other}, not this installation ({here})",
        f"remove the stale copy {first} (pip uninstall ecrpy with the Python that installed "
        f"it), and add {expected} to PATH",
    )


# -- the docker engine -----------------------------------------------------------------------------


def _innermost_os_error(exc: BaseException) -> BaseException | None:
    """The OSError (or timeout) under the SDK's wrappers: requests -> urllib3 -> socket."""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    found: BaseException | None = None
    while todo and len(seen) < 50:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, OSError | TimeoutError):
            found = cur  # keep the deepest
        for nxt in (cur.__cause__, cur.__context__, getattr(cur, "reason", None), *cur.args):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return found


def network_cause(exc: BaseException) -> tuple[str, str | None]:
    """A failed connection's cause in words, and what usually fixes it."""
    import errno
    import ssl

    inner = _innermost_os_error(exc) or exc
    if isinstance(inner, ssl.SSLCertVerificationError):
        return (
            f"its TLS certificate is not trusted ({inner.verify_message or 'verify failed'})",
            "add the registry's CA to the system trust store "
            "(for docker: /etc/docker/certs.d/HOST/ca.crt)",
        )
    if isinstance(inner, ssl.SSLError):
        return "the TLS handshake failed", "check that the address speaks HTTPS"
    if isinstance(inner, socket.gaierror):
        return "the host name does not resolve", "check the host name, DNS or VPN"
    if isinstance(inner, TimeoutError | socket.timeout):
        return (
            f"no answer within {NETWORK_TIMEOUT:.0f} s",
            "check the firewall, VPN and HTTPS_PROXY/NO_PROXY",
        )
    if isinstance(inner, ConnectionRefusedError):
        return "connection refused (nothing listens there)", None
    if isinstance(inner, FileNotFoundError):
        return "no such socket", None
    if isinstance(inner, PermissionError):
        return "permission denied", "add your user to the docker group, or use sudo"
    if isinstance(inner, OSError) and inner.errno:
        name = errno.errorcode.get(inner.errno, "")
        return (inner.strerror or name or type(inner).__name__), None
    return type(inner).__name__, None


def engine_check(offline: bool) -> Check:
    """The docker engine (DOCKER_HOST / context): reachable, and its version."""
    from . import engine
    from .errors import ConfigError

    try:
        ep = engine.docker_endpoint()
    except ConfigError as exc:
        return Check(FAIL, "docker engine", exc.message, exc.hint)
    where = ep.host or (
        "npipe:////./pipe/docker_engine (default)"
        if sys.platform == "win32"
        else "unix:///var/run/docker.sock (default)"
    )
    source = f" ({ep.source})" if ep.source != "default" else ""
    if offline and ep.host and not ep.host.startswith(("unix://", "npipe://")):
        return Check(SKIP, "docker engine", f"{where}{source}: not checked (--offline)")
    fix = (
        "start Docker (dockerd / Docker Desktop) or point DOCKER_HOST or the docker context at "
        "a running engine; the credential helper itself works without it"
    )
    try:
        from .engine_client import sdk_api_client

        client = sdk_api_client(ep, os.environ, timeout=int(NETWORK_TIMEOUT))
        try:
            info = client.version()
        finally:
            client.close()
    except Exception as exc:  # EngineError wraps the SDK's; every cause ends up in words
        cause, specific = network_cause(exc)
        return Check(
            WARN, "docker engine", f"cannot reach {where}{source}: {cause}", specific or fix
        )
    version = str(info.get("Version") or "unknown version")
    api = info.get("ApiVersion")
    platform = "/".join(str(info[k]) for k in ("Os", "Arch") if info.get(k))
    extra = ", ".join(x for x in (f"API {api}" if api else "", platform) if x)
    return Check(
        OK, "docker engine", f"{version}{f' ({extra})' if extra else ''} at {where}{source}"
    )


# -- ecrpy's config and per-registry identities ----------------------------------------------------


def _ecrpy_config() -> tuple[list[Check], Any]:
    from . import config as config_mod
    from . import paths

    checks: list[Check] = []
    named = os.environ.get("ECRPY_CONFIG")
    if named and not os.path.exists(named):
        checks.append(
            Check(
                WARN,
                "ecrpy config",
                f"ECRPY_CONFIG={named} does not exist, so ecrpy runs with its defaults "
                "(no aliases, no per-registry profiles)",
                "create that file, or fix or unset ECRPY_CONFIG",
            )
        )
        return checks, config_mod.Config()
    try:
        config = config_mod.load()
    except EcrpyError as exc:
        checks.append(Check(FAIL, "ecrpy config", exc.message, exc.hint))
        return checks, config_mod.Config()
    source = config.source or f"none at {paths.config_file()} (defaults)"
    checks.append(Check(OK, "ecrpy config", source))
    return checks, config


def registry_identities(config: Any) -> list[Check]:
    """Each registry with its own ``profile``/``role_arn`` resolves to an identity."""
    from . import identity, paths

    checks = []
    for host, settings in sorted(config.registries.items()):
        if not settings.profile and not settings.role_arn:
            continue
        try:
            chain = identity.describe(settings.profile, settings.role_arn)["chain"]
        except EcrpyError as exc:
            where = config.source or paths.config_file()
            fix = exc.hint or "fix the AWS config"
            checks.append(
                Check(
                    FAIL,
                    f"identity for {host}",
                    exc.message,
                    f'{fix} (or change [registries."{host}"] in {where})',
                )
            )
            continue
        checks.append(Check(OK, f"identity for {host}", chain))
    return checks


def _identity() -> list[Check]:
    from . import identity

    try:
        described = identity.describe()
    except EcrpyError as exc:
        return [Check(FAIL, "identity source", exc.message, exc.hint)]
    checks = [Check(OK, "identity source", described["chain"])]
    if described.get("overrides"):
        note, _, fix = described["overrides"].partition(" (")
        checks.append(Check(WARN, "identity source", note, fix.rstrip(")")))
    region = described.get("region")
    if region:
        checks.append(Check(OK, "region", region))
    else:
        checks.append(
            Check(
                WARN,
                "region",
                "no default AWS region (only registries that name one will work)",
                "set AWS_REGION, or region in the AWS profile",
            )
        )
    return checks


# -- local files ---------------------------------------------------------------------------------


def _cache_dir() -> Check:
    from . import paths
    from .fsutil import InsecureDirectoryError, check_private_dir

    folder = paths.cache_dir()
    if not os.path.exists(folder):
        return Check(OK, "cache dir", f"{folder} (created on first use)")
    try:
        check_private_dir(folder)
    except InsecureDirectoryError as exc:
        return Check(
            FAIL,
            "cache dir",
            f"{exc}: caching is disabled",
            f"chmod 700 {folder} (and make sure you own it)",
        )
    except OSError as exc:
        return Check(FAIL, "cache dir", f"{folder}: {exc.strerror or type(exc).__name__}")
    return Check(OK, "cache dir", f"{folder} (private)")


def _log() -> Check:
    from . import logs

    path = logs.log_path()
    folder = os.path.dirname(path)
    if os.path.isdir(folder) and not os.access(folder, os.W_OK):
        return Check(WARN, "log", f"{folder} is not writable; nothing will be logged")
    return Check(OK, "log", path)


# -- network: registries and AWS -----------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    return name in ("localhost", "::1") or name.startswith("127.")


def registry_reachability(host: str) -> Check:
    """``GET /v2/`` on the registry answers (any HTTP status: 401 is a registry asking for the
    credentials ecrpy provides). Loopback registries may be plain HTTP, as docker allows."""
    import urllib.error
    import urllib.request

    schemes = ["https", "http"] if _is_loopback(host) else ["https"]
    problem: tuple[str, str | None] = ("", None)
    for scheme in schemes:
        url = f"{scheme}://{host}/v2/"
        try:
            with urllib.request.urlopen(url, timeout=NETWORK_TIMEOUT) as resp:  # noqa: S310
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError) as exc:  # URLError is an OSError
            if not problem[0]:
                problem = network_cause(exc)
            continue
        if status in (200, 401):
            what = "asks for credentials" if status == 401 else "open"
            return Check(OK, f"registry {host}", f"{url} answered HTTP {status} ({what})")
        return Check(
            WARN,
            f"registry {host}",
            f"{url} answered HTTP {status}, not a registry's 200 or 401",
            "check the host name and port",
        )
    tried = " and ".join(schemes)
    cause, fix = problem
    return Check(
        FAIL,
        f"registry {host}",
        f"cannot reach {host}/v2/ over {tried}: {cause}",
        fix or "check the host name and port, and that the registry is running",
    )


def _token(host: str, config: Any) -> Check:
    from . import registry as registry_mod
    from . import tokens

    reg = registry_mod.resolve(host, config)
    if reg is None:
        return Check(WARN, f"token {host}", "not an ECR registry or alias; ecrpy will not serve it")
    settings = config.for_host(reg.host)
    try:
        entry = tokens.fetch(
            reg, settings.profile if settings else None, settings.role_arn if settings else None
        )
    except EcrpyError as exc:
        return Check(FAIL, f"token {host}", exc.message, exc.hint)
    hours = (entry.valid_until - entry.requested_at) / 3600
    return Check(OK, f"token {host}", f"issued, valid {hours:.1f} h")


def _caller() -> Check:
    try:
        return Check(OK, "caller", caller_arn())
    except EcrpyError as exc:
        return Check(FAIL, "caller", exc.message, exc.hint)


def caller_arn() -> str:
    """sts:GetCallerIdentity's ARN for the default identity, within ecrpy's bounded waits."""
    from .sts_caller import caller

    return caller().arn


def _network(hosts: list[str], config: Any) -> list[Check]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(hosts) + 1)) as pool:
        reach = list(pool.map(registry_reachability, hosts))
    out = [_caller()]
    for host, check in zip(hosts, reach, strict=True):
        out.append(check)
        if hosts.index(host) < _MAX_TOKEN_CHECKS:
            out.append(_token(host, config))
    return out


def run_all(offline: bool = False) -> list[Check]:
    """Every check, in report order."""
    keyring_check, keyring_problem = _keyring()
    checks, hosts, store_is_ours = _docker_config(keyring_problem)
    checks.append(helper_on_path())
    checks.append(engine_check(offline))
    config_checks, config = _ecrpy_config()
    checks += config_checks
    checks += registry_identities(config)
    checks += _identity()
    checks.append(_cache_dir())
    checks.append(_log())
    checks.append(keyring_check)
    if store_is_ours:  # credsStore=ecrpy serves every alias too
        hosts += [
            h for h in sorted(config.registries) if h not in hosts and config.registries[h].is_alias
        ]
    if offline:
        checks.append(Check(SKIP, "network", "AWS and registry checks not run (--offline)"))
    else:
        checks += _network(hosts, config)
    return checks
