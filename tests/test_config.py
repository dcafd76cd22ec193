"""The TOML config: validation with named places, and the snapshot the hot path reads."""

from __future__ import annotations

import os
import time

import pytest

from credhelper import config
from credhelper.errors import ConfigError

GOOD = """
[registries."127.0.0.1:5001"]
account_id = "123456789012"
region = "us-east-1"
[registries."123456789012.dkr.ecr.eu-west-1.amazonaws.com"]
profile = "prod"
role_arn = "arn:aws:iam::123456789012:role/ci"
[cache]
backend = "keyring"
min_remaining = 1800
"""


def write(tmp_path: os.PathLike[str], text: str) -> str:
    path = os.path.join(tmp_path, "config.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_missing_file_is_empty_config(tmp_path: os.PathLike[str]) -> None:
    cfg = config.load(os.path.join(tmp_path, "nope.toml"), snapshot_dir=str(tmp_path))
    assert cfg.registries == {} and cfg.cache_backend == "file" and cfg.source is None


def test_parses_aliases_and_profiles(tmp_path: os.PathLike[str]) -> None:
    cfg = config.load(write(tmp_path, GOOD), snapshot_dir=os.path.join(tmp_path, "c"))
    alias = cfg.for_host("127.0.0.1:5001")
    assert alias is not None and alias.is_alias and alias.account_id == "123456789012"
    prod = cfg.for_host("123456789012.DKR.ecr.eu-west-1.amazonaws.com")
    assert prod is not None and not prod.is_alias and prod.profile == "prod"
    assert cfg.cache_backend == "keyring" and cfg.min_remaining == 1800


def test_snapshot_is_used_then_invalidated(tmp_path: os.PathLike[str]) -> None:
    snap_dir = os.path.join(tmp_path, "c")
    path = write(tmp_path, GOOD)
    config.load(path, snapshot_dir=snap_dir)
    snap = os.path.join(snap_dir, "config-snapshot.json")
    assert os.path.exists(snap) and oct(os.stat(snap).st_mode & 0o777) == "0o600"
    # Same stat -> the snapshot answers (prove it by tampering with the snapshot's data).
    text = open(snap).read().replace('"keyring"', '"none"')
    with open(snap, "w") as f:
        f.write(text)
    assert config.load(path, snapshot_dir=snap_dir).cache_backend == "none"
    # The TOML changes -> re-parsed.
    time.sleep(0.01)
    write(tmp_path, GOOD.replace('"keyring"', '"file"') + "\n")
    assert config.load(path, snapshot_dir=snap_dir).cache_backend == "file"


def test_corrupt_snapshot_falls_back_to_toml(tmp_path: os.PathLike[str]) -> None:
    snap_dir = os.path.join(tmp_path, "c")
    os.makedirs(snap_dir, mode=0o700)
    with open(os.path.join(snap_dir, "config-snapshot.json"), "w") as f:
        f.write("{not json")
    assert config.load(write(tmp_path, GOOD), snapshot_dir=snap_dir).min_remaining == 1800


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[registries", "not valid TOML"),
        ('[registries."h"]\naccount_id = "12"\nregion = "us-east-1"', "12-digit"),
        ('[registries."h"]\naccount_id = "123456789012"', "both account_id and region"),
        ('[registries."h"]\naccount_id = "123456789012"\nregion = "mars"', "not an AWS region"),
        ('[registries."h"]\nprofle = "x"', "unknown key"),
        ('[registries."h"]\nrole_arn = "role/x"', "role ARN"),
        ('[cache]\nbackend = "redis"', "cache.backend"),
        ("[cache]\nmin_remaining = -1", "min_remaining"),
        ("[nonsense]\n", "unknown config section"),
        ('registries = "x"', "table"),
        ('[registries."h"]\naccount_id = true\nregion = "us-east-1"', "registries.\"h\".account_id"),
        ('[registries."h"]\naccount_id = "123456789012"\nregion = ["us-east-1"]', "h\".region"),
        ('[registries."h"]\nprofile = 7', "registries.\"h\".profile"),
        ('[registries."h"]\nrole_arn = {a = 1}', "registries.\"h\".role_arn"),
        ("[cache]\nmin_remaining = true", "min_remaining"),
        ("[cache]\nbackend = [1]", "cache.backend"),
        ("a = " + "[" * 50_000 + "]" * 50_000, "nested too deeply"),
        ("a = " + "{b = " * 5_000 + "1" + "}" * 5_000, "nested too deeply"),
    ],
)
def test_bad_config_names_the_place(tmp_path: os.PathLike[str], text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text), snapshot_dir=os.path.join(tmp_path, "c"))
    assert fragment in info.value.one_line()
    assert "\n" not in info.value.one_line()


@pytest.mark.parametrize(
    "damage",
    [b"", b"{", b'{"v": 1, "key": ', bytes(range(256)), b"[" * 100_000, b'{"v": 1}', b"[]"],
)
def test_damaged_snapshot_is_ignored_and_rewritten(
    tmp_path: os.PathLike[str], damage: bytes
) -> None:
    snap_dir = os.path.join(tmp_path, "c")
    path = write(tmp_path, GOOD)
    config.load(path, snapshot_dir=snap_dir)
    snap = os.path.join(snap_dir, "config-snapshot.json")
    sound = open(snap, "rb").read()
    with open(snap, "wb") as f:
        f.write(damage)
    assert config.load(path, snapshot_dir=snap_dir).min_remaining == 1800
    assert open(snap, "rb").read() == sound


def test_fifo_in_place_of_the_config_is_refused_without_blocking(
    tmp_path: os.PathLike[str],
) -> None:
    path = os.path.join(tmp_path, "config.toml")
    os.mkfifo(path)
    with pytest.raises(ConfigError) as info:
        config.load(path, snapshot_dir=os.path.join(tmp_path, "c"))
    assert "FIFO" in info.value.one_line()


@pytest.mark.parametrize("blocker", ["file", "missing"])
def test_unreachable_config_is_no_config(tmp_path: os.PathLike[str], blocker: str) -> None:
    home = os.path.join(tmp_path, "home")
    if blocker == "file":
        open(home, "w").close()  # HOME is a regular file: ENOTDIR below it
    cfg = config.load(os.path.join(home, ".config", "ecrpy", "config.toml"), snapshot_dir=home)
    assert cfg.registries == {} and cfg.source is None
