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
"""

from __future__ import annotations

import os
import sys

from . import _json, paths
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


class RegistrySettings:
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

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegistrySettings):
            return NotImplemented
        return all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, a) for a in self.__slots__))

    def __repr__(self) -> str:
        fields = ", ".join(f"{a}={getattr(self, a)!r}" for a in self.__slots__)
        return f"RegistrySettings({fields})"

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
        if isinstance(account, int):
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


def _from_snapshot(data: dict[str, Any], source: str) -> Config:
    """Rebuild a config we validated ourselves before writing it (no regex checks)."""
    registries = {
        host: RegistrySettings(
            host,
            t.get("account_id"),
            t.get("region"),
            t.get("profile"),
            t.get("role_arn"),
        )
        for host, t in data["registries"].items()
    }
    cache = data["cache"]
    return Config(registries, str(cache["backend"]), int(cache["min_remaining"]), source)


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
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {path} is not valid TOML: not UTF-8 text") from None
    return from_dict(data, source=path)


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def load(path: str | None = None, snapshot_dir: str | None = None) -> Config:
    """The config, from the JSON snapshot when the TOML file is unchanged.

    A missing file is an empty config. The snapshot is an optimisation only: any problem
    reading or writing it falls back to parsing the TOML.
    """
    path = path or paths.config_file()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Config(source=None)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    snap_path = os.path.join(snapshot_dir or paths.cache_dir(), "config-snapshot.json")
    key = [path, *_stat_key(st)]
    try:
        with open(snap_path, "rb") as f:
            snap = _json.loads(f.read())
        if snap.get("v") == _SNAPSHOT_VERSION and snap.get("key") == key:
            return _from_snapshot(snap["config"], source=path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ConfigError):
        pass
    config = parse_toml(path)
    try:
        from .fsutil import atomic_write_private

        doc = {"v": _SNAPSHOT_VERSION, "key": key, "config": to_dict(config)}
        atomic_write_private(snap_path, _json.dumps(doc).encode())
    except OSError:
        pass
    return config
