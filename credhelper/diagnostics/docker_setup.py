"""Doctor checks of the docker side: docker's config.json (does it send hosts to ecrpy, is
credsStore ours), the ``docker-credential-ecrpy`` docker will find on PATH, and the docker
engine. Each returns ``Check`` lines and never raises (see ``diagnostics``)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping

from .. import __version__
from ..errors import EcrpyError
from .check import FAIL, NETWORK_TIMEOUT, OK, SKIP, WARN, Check
from .network import network_cause

HELPER = "docker-credential-ecrpy"


# -- docker's config.json ------------------------------------------------------------------------


def docker_config_checks(keyring_problem: EcrpyError | None) -> tuple[list[Check], list[str], bool]:
    """The docker config line(s), the hosts it sends to ecrpy, and whether credsStore=ecrpy."""
    from .. import docker_config
    from ..errors import ConfigError

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


def engine_check(offline: bool) -> Check:
    """The docker engine (DOCKER_HOST / context): reachable, and its version."""
    from .. import engine
    from ..errors import ConfigError

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
        from ..engine_client import sdk_api_client

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
