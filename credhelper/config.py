"""ecrpy's own TOML config: per-registry settings, aliases, cache options.

```toml
[registries."127.0.0.1:5001"]          # an alias: any host mapped to an ECR account/region
account_id = "123456789012"
region = "us-east-1"
[registries."123456789012.dkr.ecr.eu-west-1.amazonaws.com"]
profile = "prod"                        # per-registry identity
role_arn = "arn:aws:iam::123456789012:role/ci-push"
[cache]
backend = "file"                        # file | keyring | none
min_remaining = 1800                    # seconds a served token must still be valid
```

Parsing TOML costs several ms at import, so the hot path reads a JSON snapshot of the parsed
config kept beside the token cache and re-parses only when the TOML file's stat changes.

*Hot* for the snapshot read and ``Config.identity_for`` (docs/CONTRIBUTING-hot-path.md).
"""

from __future__ import annotations

import os
import sys

from . import _json, paths
from ._value import Value
from .errors import ConfigError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy treats this name as True
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

CACHE_BACKENDS = ("file", "keyring", "none")
# Patterns, not compiled regexes, and `re` imported only where they are used: a cache hit
# (no config file, or the JSON snapshot) never pays for importing or compiling them.
_ACCOUNT_RE = r"^\d{12}$"
_REGION_RE = r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$"
_SNAPSHOT_VERSION = 1
_MAX_SNAPSHOT = 1024 * 1024  # a snapshot of a real config is a few kB; larger is damage
_MAX_TOML = 4 * 1024 * 1024
# "No config" rather than an error: the path cannot be reached because HOME (or a folder
# above the file) is missing, is a regular file, or may not be searched.
_UNREACHABLE = ("ENOENT", "ENOTDIR", "EACCES")


class RegistrySettings(Value):
    """Settings for one registry host: an alias target and/or the identity to use."""

    __slots__ = ("account_id", "host", "profile", "region", "role_arn")

    def __init__(
        self,
        host: str,
        account_id: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        role_arn: str | None = None,
    ) -> None:
        self.host = host
        self.account_id = account_id
        self.region = region
        self.profile = profile
        self.role_arn = role_arn

    @property
    def is_alias(self) -> bool:
        """True when the settings map the host to an ECR account and region."""
        return self.account_id is not None and self.region is not None


class Config:
    """The whole parsed config; empty when no file exists."""

    __slots__ = ("cache_backend", "min_remaining", "registries", "source")

    def __init__(
        self,
        registries: Mapping[str, RegistrySettings] | None = None,
        cache_backend: str = "file",
        min_remaining: int = 0,
        source: str | None = None,
    ) -> None:
        self.registries: Mapping[str, RegistrySettings] = registries or {}
        self.cache_backend = cache_backend
        self.min_remaining = min_remaining
        self.source = source

    def for_host(self, host: str) -> RegistrySettings | None:
        """The settings for a normalised ``host[:port]``, if any."""
        return self.registries.get(host.lower())

    def identity_for(self, host: str) -> tuple[str | None, str | None]:
        """``(profile, role_arn)`` for ``host``: the AWS identity its tokens come from
        (``(None, None)``: the default credential chain)."""
        settings = self.registries.get(host.lower())
        return (None, None) if settings is None else (settings.profile, settings.role_arn)


def _str(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key} must be a non-empty string")
    return value.strip()


def from_dict(data: Mapping[str, Any], source: str | None = None) -> Config:
    """Validate a parsed TOML document; every error names the key at fault."""
    import re  # not at module level: the hot path (no config, or a snapshot) never needs it

    unknown = set(data) - {"registries", "cache"}
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
    registries: dict[str, RegistrySettings] = {}
    raw_regs = data.get("registries", {})
    if not isinstance(raw_regs, dict):
        raise ConfigError("[registries] must be a table of tables")
    for host, table in raw_regs.items():
        where = f'registries."{host}"'
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table")
        extra = set(table) - {"account_id", "region", "profile", "role_arn"}
        if extra:
            raise ConfigError(f"{where} has unknown key(s): {', '.join(sorted(extra))}")
        account = table.get("account_id")
        if isinstance(account, int) and not isinstance(account, bool):
            account = f"{account:012d}"
        if account is not None and (
            not isinstance(account, str) or not re.match(_ACCOUNT_RE, account)
        ):
            raise ConfigError(f"{where}.account_id must be a 12-digit AWS account id")
        region = _str(table, "region", where)
        if region is not None and not re.match(_REGION_RE, region):
            raise ConfigError(f"{where}.region {region!r} is not an AWS region name")
        if (account is None) != (region is None):
            raise ConfigError(f"{where} needs both account_id and region to act as an alias")
        role_arn = _str(table, "role_arn", where)
        if role_arn is not None and not role_arn.startswith("arn:"):
            raise ConfigError(f"{where}.role_arn must be an IAM role ARN")
        key = str(host).strip().lower()
        if not key:
            raise ConfigError("registries: empty host name")
        registries[key] = RegistrySettings(
            host=key,
            account_id=account,
            region=region,
            profile=_str(table, "profile", where),
            role_arn=role_arn,
        )
    cache = data.get("cache", {})
    if not isinstance(cache, dict):
        raise ConfigError("[cache] must be a table")
    backend = cache.get("backend", "file")
    if backend not in CACHE_BACKENDS:
        raise ConfigError(f"cache.backend must be one of {', '.join(CACHE_BACKENDS)}")
    min_remaining = cache.get("min_remaining", 0)
    if not isinstance(min_remaining, int) or isinstance(min_remaining, bool) or min_remaining < 0:
        raise ConfigError("cache.min_remaining must be a whole number of seconds >= 0")
    return Config(registries, str(backend), min_remaining, source)


def _from_snapshot(data: object, source: str) -> Config:
    """Rebuild a config we validated ourselves before writing it.

    The regex checks are skipped (they cost an ``import re``), but every type is checked:
    the file may have been damaged since, and damage must read as "no snapshot"
    (``ValueError``), never as a config with a list where a string belongs.
    """
    if not isinstance(data, dict):
        raise ValueError("config is not an object")
    regs, cache = data.get("registries"), data.get("cache")
    if not isinstance(regs, dict) or not isinstance(cache, dict):
        raise ValueError("registries or cache is not an object")
    registries = {}
    for host, table in regs.items():
        if not isinstance(table, dict) or set(table) - set(RegistrySettings.__slots__):
            raise ValueError(f"registry {host!r} is malformed")
        fields = [table.get(k) for k in ("account_id", "region", "profile", "role_arn")]
        if not all(v is None or isinstance(v, str) for v in fields):
            raise ValueError(f"registry {host!r} has a value that is not a string")
        registries[host] = RegistrySettings(host, *fields)
    backend, min_remaining = cache.get("backend"), cache.get("min_remaining")
    if backend not in CACHE_BACKENDS:
        raise ValueError("cache.backend is not a backend name")
    if not isinstance(min_remaining, int) or isinstance(min_remaining, bool) or min_remaining < 0:
        raise ValueError("cache.min_remaining is not a whole number >= 0")
    return Config(registries, str(backend), min_remaining, source)


def to_dict(config: Config) -> dict[str, Any]:
    """The inverse of ``from_dict`` (used for the snapshot)."""
    regs: dict[str, Any] = {}
    for host, s in config.registries.items():
        regs[host] = {
            k: v
            for k, v in (
                ("account_id", s.account_id),
                ("region", s.region),
                ("profile", s.profile),
                ("role_arn", s.role_arn),
            )
            if v is not None
        }
    return {
        "registries": regs,
        "cache": {"backend": config.cache_backend, "min_remaining": config.min_remaining},
    }


def parse_toml(path: str) -> Config:
    """Read and validate the TOML file at ``path``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    from .fsutil import read_regular

    try:
        # Not open(): a FIFO or device in place of the config must not block the helper.
        raw = read_regular(path, _MAX_TOML, follow_symlinks=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot read config {path}: {exc.strerror or exc}", hint="fix or move the file"
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {path} is not valid TOML: not UTF-8 text") from None
    except RecursionError:
        raise ConfigError(
            f"config {path} is not a usable config: nested too deeply",
            hint="ecrpy's config is two levels deep; fix or move the file",
        ) from None
    return from_dict(data, source=path)


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _log(message: str, *args: object) -> None:
    from . import logs

    logs.warning(message, *args)


def _read_snapshot(snap_path: str, key: list[object], source: str) -> Config | None:
    """The snapshot's config if it is sound and current; None (damage logged) otherwise."""
    from .fsutil import read_regular

    try:
        snap = _json.loads(read_regular(snap_path, _MAX_SNAPSHOT))
        if not isinstance(snap, dict) or snap.get("v") != _SNAPSHOT_VERSION:
            raise ValueError("not a config snapshot of this version")
        if snap.get("key") != key:
            return None  # the TOML changed since: stale, not damaged
        return _from_snapshot(snap.get("config"), source=source)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        _log("ignoring config snapshot %s (it will be rewritten): %s", snap_path, exc)
        return None


def load(path: str | None = None, snapshot_dir: str | None = None) -> Config:
    """The config, from the JSON snapshot when the TOML file is unchanged.

    A missing or unreachable file (no HOME, HOME a file, a folder that may not be searched)
    is an empty config. The snapshot is an optimisation only: a damaged one is logged and
    ignored, and any problem reading or writing it falls back to parsing the TOML.
    """
    path = path or paths.config_file()
    try:
        st = os.stat(path)
    except OSError as exc:
        import errno

        if errno.errorcode.get(exc.errno or 0) not in _UNREACHABLE:
            raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
        if not isinstance(exc, FileNotFoundError):
            _log("no config: cannot reach %s: %s", path, exc.strerror or exc)
        return Config(source=None)
    snap_path = os.path.join(snapshot_dir or paths.cache_dir(), "config-snapshot.json")
    key: list[object] = [path, *_stat_key(st)]
    snapshot = _read_snapshot(snap_path, key, path)
    if snapshot is not None:
        return snapshot
    config = parse_toml(path)
    try:
        from .fsutil import atomic_write_private

        doc = {"v": _SNAPSHOT_VERSION, "key": key, "config": to_dict(config)}
        atomic_write_private(snap_path, _json.dumps(doc).encode())
    except OSError:
        pass
    return config
