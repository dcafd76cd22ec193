"""Where ecrpy keeps its config, cache, state and logs.

Owns: the folder rules. The helper's hot path must not pay for importing platformdirs (several
ms), so on Linux, FreeBSD and macOS the same rules platformdirs applies are computed here from
the environment (``_RULES``, one row per folder); a test checks that both agree. Windows
(whose folders come from the shell API) always asks platformdirs. ``ECRPY_*`` variables
override everything. *Hot* (docs/CONTRIBUTING-hot-path.md).
"""

from __future__ import annotations

import os
import sys

APP = "ecrpy"

# kind -> (macOS folder under ~/Library, XDG variable, its default under ~, what follows APP).
_RULES = {
    "cache": (("Caches",), "XDG_CACHE_HOME", ".cache", ()),
    "config": (("Application Support",), "XDG_CONFIG_HOME", ".config", ()),
    "log": (("Logs",), "XDG_STATE_HOME", os.path.join(".local", "state"), ("log",)),
    "state": (("Application Support",), "XDG_STATE_HOME", os.path.join(".local", "state"), ()),
}


def _home() -> str:
    return os.path.expanduser("~")


def _user_dir(kind: str) -> str:
    """platformdirs.user_<kind>_dir("ecrpy", appauthor=False): the one platform branch."""
    mac, var, default, tail = _RULES[kind]
    if sys.platform == "darwin":
        return os.path.join(_home(), "Library", *mac, APP)
    if sys.platform.startswith(("linux", "freebsd")):
        base = os.environ.get(var, "").strip() or os.path.join(_home(), default)
        return os.path.join(base, APP, *tail)
    import platformdirs

    find = getattr(platformdirs, f"user_{kind}_dir")
    return str(find(APP, appauthor=False))


def user_cache_dir() -> str:
    """platformdirs.user_cache_dir("ecrpy", appauthor=False)."""
    return _user_dir("cache")


def user_config_dir() -> str:
    """platformdirs.user_config_dir("ecrpy", appauthor=False)."""
    return _user_dir("config")


def user_log_dir() -> str:
    """platformdirs.user_log_dir("ecrpy", appauthor=False)."""
    return _user_dir("log")


def user_state_dir() -> str:
    """platformdirs.user_state_dir("ecrpy", appauthor=False)."""
    return _user_dir("state")


def cache_dir() -> str:
    """The token cache folder (``ECRPY_CACHE_DIR`` overrides)."""
    return os.environ.get("ECRPY_CACHE_DIR") or user_cache_dir()


def config_file() -> str:
    """The TOML config file (``ECRPY_CONFIG`` overrides)."""
    return os.environ.get("ECRPY_CONFIG") or os.path.join(user_config_dir(), "config.toml")


def log_dir() -> str:
    """The log folder (``ECRPY_LOG_DIR`` overrides)."""
    return os.environ.get("ECRPY_LOG_DIR") or user_log_dir()


def docker_config_dir() -> str:
    """The docker CLI's config folder (``DOCKER_CONFIG`` or ``~/.docker``)."""
    return os.environ.get("DOCKER_CONFIG") or os.path.join(_home(), ".docker")


def state_dir() -> str:
    """Non-secret state such as the index of stored credentials (``ECRPY_STATE_DIR``)."""
    return os.environ.get("ECRPY_STATE_DIR") or user_state_dir()
