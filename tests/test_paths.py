"""Our platformdirs mirror must agree with platformdirs itself."""

from __future__ import annotations

import os

import platformdirs
import pytest

from credhelper import paths


@pytest.mark.parametrize("xdg", [True, False])
def test_same_as_platformdirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str], xdg: bool
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        if xdg:
            monkeypatch.setenv(var, os.path.join(tmp_path, var.lower()))
        else:
            monkeypatch.delenv(var, raising=False)
    assert paths.user_cache_dir() == platformdirs.user_cache_dir("ecrpy", appauthor=False)
    assert paths.user_config_dir() == platformdirs.user_config_dir("ecrpy", appauthor=False)
    assert paths.user_log_dir() == platformdirs.user_log_dir("ecrpy", appauthor=False)
    assert paths.user_state_dir() == platformdirs.user_state_dir("ecrpy", appauthor=False)


def test_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECRPY_CACHE_DIR", "/x/cache")
    monkeypatch.setenv("ECRPY_CONFIG", "/x/c.toml")
    monkeypatch.setenv("ECRPY_LOG_DIR", "/x/log")
    monkeypatch.setenv("DOCKER_CONFIG", "/x/docker")
    assert paths.cache_dir() == "/x/cache"
    assert paths.config_file() == "/x/c.toml"
    assert paths.log_dir() == "/x/log"
    assert paths.docker_config_dir() == "/x/docker"


def test_macos_rules_same_as_platformdirs_macos(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    """The darwin row of each rule, against platformdirs' own macOS class (runs anywhere)."""
    from platformdirs.macos import MacOS

    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("sys.platform", "darwin")
    mac = MacOS("ecrpy", appauthor=False)
    assert paths.user_cache_dir() == mac.user_cache_dir
    assert paths.user_config_dir() == mac.user_config_dir
    assert paths.user_log_dir() == mac.user_log_dir
    assert paths.user_state_dir() == mac.user_state_dir
