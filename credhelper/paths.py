"""Where ecrpy keeps its config, cache and logs.

The helper's hot path must not pay for importing platformdirs (several ms), so on Linux and
macOS the same rules platformdirs applies are computed here from the environment; a test checks
that both agree. Windows (whose folders come from the shell API) always asks platformdirs.
``ECRPY_*`` variables override everything.
"""

from __future__ import annotations

import os
import sys

APP = "ecrpy"


def _home() -> str:
    return os.path.expanduser("~")


def _xdg(var: str, default: str) -> str:
    value = os.environ.get(var, "").strip()
    return value if value else os.path.join(_home(), default)


def user_cache_dir() -> str:
    """platformdirs.user_cache_dir("ecrpy", appauthor=False)."""
    if sys.platform == "darwin":
        return os.path.join(_home(), "Library", "Caches", APP)
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        return os.path.join(_xdg("XDG_CACHE_HOME", ".cache"), APP)
    import platformdirs

    return platformdirs.user_cache_dir(APP, appauthor=False)


def user_config_dir() -> str:
    """platformdirs.user_config_dir("ecrpy", appauthor=False)."""
    if sys.platform == "darwin":
        return os.path.join(_home(), "Library", "Application Support", APP)
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        return os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), APP)
    import platformdirs

    return platformdirs.user_config_dir(APP, appauthor=False)


def user_log_dir() -> str:
    """platformdirs.user_log_dir("ecrpy", appauthor=False)."""
    if sys.platform == "darwin":
        return os.path.join(_home(), "Library", "Logs", APP)
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        return os.path.join(_xdg("XDG_STATE_HOME", os.path.join(".local", "state")), APP, "log")
    import platformdirs

    return platformdirs.user_log_dir(APP, appauthor=False)


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


def user_state_dir() -> str:
    """platformdirs.user_state_dir("ecrpy", appauthor=False)."""
    if sys.platform == "darwin":
        return os.path.join(_home(), "Library", "Application Support", APP)
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        return os.path.join(_xdg("XDG_STATE_HOME", os.path.join(".local", "state")), APP)
    import platformdirs

    return platformdirs.user_state_dir(APP, appauthor=False)


def state_dir() -> str:
    """Non-secret state such as the index of stored credentials (``ECRPY_STATE_DIR``)."""
    return os.environ.get("ECRPY_STATE_DIR") or user_state_dir()
