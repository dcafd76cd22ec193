"""One contract, every storing backend (in the manner of keyring's backend test mixin)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator

import pytest

from credhelper.token_cache import CacheEntry, CacheKey, TokenCache, open_cache
from credhelper.token_cache.file import FileTokenCache
from credhelper.token_cache.null import NullTokenCache

FP_A = "a" * 64
FP_B = "b" * 64


def entry(
    token: str = "secret-token",
    registry: str = "1.dkr.ecr.us-east-1.amazonaws.com",
    ttl: float = 3600,
    creds_ttl: float | None = None,
) -> CacheEntry:
    now = time.time()
    return CacheEntry(
        registry=registry,
        username="AWS",
        token=token,
        requested_at=now,
        expires_at=now + ttl,
        creds_expire_at=None if creds_ttl is None else now + creds_ttl,
        caller_arn="arn:aws:iam::123456789012:user/dev",
    )


class CacheContract:
    """Behaviour every storing backend must have."""

    @pytest.fixture
    def cache(self, tmp_path: os.PathLike[str]) -> Iterator[TokenCache]:
        raise NotImplementedError

    def test_missing_is_none(self, cache: TokenCache) -> None:
        assert cache.get(CacheKey(FP_A, "aws_us-east-1_111111111111")) is None

    def test_round_trip(self, cache: TokenCache) -> None:
        key = CacheKey(FP_A, "aws_us-east-1_111111111111")
        cache.put(key, entry("tok-1"))
        got = cache.get(key)
        assert got is not None and got.token == "tok-1" and got.username == "AWS"
        assert got.caller_arn == "arn:aws:iam::123456789012:user/dev"

    def test_put_replaces(self, cache: TokenCache) -> None:
        key = CacheKey(FP_A, "aws_us-east-1_111111111111")
        cache.put(key, entry("old"))
        cache.put(key, entry("new"))
        got = cache.get(key)
        assert got is not None and got.token == "new"

    def test_keys_are_isolated_by_identity_and_registry(self, cache: TokenCache) -> None:
        a1 = CacheKey(FP_A, "aws_us-east-1_111111111111")
        b1 = CacheKey(FP_B, "aws_us-east-1_111111111111")
        a2 = CacheKey(FP_A, "aws_eu-west-1_222222222222")
        cache.put(a1, entry("a1"))
        cache.put(b1, entry("b1"))
        cache.put(a2, entry("a2"))
        assert [cache.get(k).token for k in (a1, b1, a2)] == ["a1", "b1", "a2"]  # type: ignore[union-attr]
        assert sorted(e.token for _, e in cache.entries(FP_A)) == ["a1", "a2"]
        assert sorted(e.token for _, e in cache.entries()) == ["a1", "a2", "b1"]

    def test_delete(self, cache: TokenCache) -> None:
        key = CacheKey(FP_A, "aws_us-east-1_111111111111")
        cache.put(key, entry())
        assert cache.delete(key) is True
        assert cache.get(key) is None
        assert cache.delete(key) is False

    def test_clear(self, cache: TokenCache) -> None:
        for i in range(3):
            cache.put(CacheKey(FP_A, f"aws_us-east-1_{i:012d}"), entry(f"t{i}"))
        assert cache.clear() == 3
        assert cache.entries() == []

    def damage(self, cache: TokenCache, key: CacheKey) -> None:
        """Overwrite ``key``'s stored entry with garbage, as the backend stores things."""
        raise NotImplementedError

    def test_a_damaged_entry_is_a_key_but_no_entry_and_can_be_removed(
        self, cache: TokenCache
    ) -> None:
        """``get``/``entries`` ignore it; ``keys`` names it, so erase and ``cache clear``
        (all, or one registry's) remove it instead of leaving it behind for ever."""
        sound, damaged = CacheKey(FP_A, "aws_us-east-1_1"), CacheKey(FP_B, "aws_us-east-1_1")
        other = CacheKey(FP_B, "aws_eu-west-1_2")
        for key in (sound, damaged, other):
            cache.put(key, entry())
        self.damage(cache, damaged)
        assert cache.get(damaged) is None
        assert sorted(k.name for k, _ in cache.entries()) == sorted([sound.name, other.name])
        assert sorted(k.name for k in cache.keys()) == sorted(
            k.name for k in (sound, damaged, other)
        )
        assert sorted(k.name for k in cache.keys(FP_B)) == sorted([damaged.name, other.name])
        assert cache.delete(damaged) is True and damaged not in cache.keys()
        cache.put(damaged, entry())
        self.damage(cache, damaged)
        assert cache.clear() == 3
        assert cache.keys() == [] and cache.entries() == []


class TestFileBackend(CacheContract):
    @pytest.fixture
    def cache(self, tmp_path: os.PathLike[str]) -> Iterator[TokenCache]:
        yield FileTokenCache(os.path.join(tmp_path, "cache"))

    def damage(self, cache: TokenCache, key: CacheKey) -> None:
        assert isinstance(cache, FileTokenCache)
        with open(os.path.join(cache.tokens_dir, key.name + ".json"), "wb") as f:
            f.write(b'{"v": 1, "tok')  # truncated

    def test_files_are_private(self, cache: TokenCache) -> None:
        assert isinstance(cache, FileTokenCache)
        key = CacheKey(FP_A, "aws_us-east-1_111111111111")
        cache.put(key, entry())
        assert stat.S_IMODE(os.stat(cache.directory).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(cache.tokens_dir).st_mode) == 0o700
        path = os.path.join(cache.tokens_dir, key.name + ".json")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        leftovers = [n for n in os.listdir(cache.tokens_dir) if n.endswith(".tmp")]
        assert leftovers == []

    @pytest.mark.parametrize(
        "garbage", [b"", b"{", b"[]", b'{"v": 1}', b"\xff\xfe", b'{"v":1,"token":5}', b"x" * 300000]
    )
    def test_corrupt_file_is_ignored_then_rewritten(
        self, cache: TokenCache, garbage: bytes
    ) -> None:
        assert isinstance(cache, FileTokenCache)
        key = CacheKey(FP_A, "aws_us-east-1_111111111111")
        cache.put(key, entry("good"))
        path = os.path.join(cache.tokens_dir, key.name + ".json")
        with open(path, "wb") as f:
            f.write(garbage)
        assert cache.get(key) is None
        cache.put(key, entry("again"))
        assert cache.get(key).token == "again"  # type: ignore[union-attr]

    def test_group_readable_file_is_ignored(self, cache: TokenCache) -> None:
        assert isinstance(cache, FileTokenCache)
        key = CacheKey(FP_A, "aws_us-east-1_111111111111")
        cache.put(key, entry())
        os.chmod(os.path.join(cache.tokens_dir, key.name + ".json"), 0o644)
        assert cache.get(key) is None

    def test_world_writable_dir_disables_cache(self, cache: TokenCache) -> None:
        assert isinstance(cache, FileTokenCache)
        key = CacheKey(FP_A, "aws_us-east-1_111111111111")
        cache.put(key, entry())
        os.chmod(cache.directory, 0o777)
        try:
            assert cache.get(key) is None
            cache.put(key, entry("other"))  # refused silently, never fatal
            assert cache.entries() == []
        finally:
            os.chmod(cache.directory, 0o700)
        assert cache.get(key).token == "secret-token"  # type: ignore[union-attr]

    def test_symlinked_entry_is_not_followed(
        self, cache: TokenCache, tmp_path: os.PathLike[str]
    ) -> None:
        assert isinstance(cache, FileTokenCache)
        key = CacheKey(FP_A, "aws_us-east-1_111111111111")
        cache.put(key, entry())
        path = os.path.join(cache.tokens_dir, key.name + ".json")
        target = os.path.join(tmp_path, "elsewhere.json")
        os.replace(path, target)
        os.symlink(target, path)
        assert cache.get(key) is None


class TestKeyringBackend(CacheContract):
    @pytest.fixture
    def cache(self, tmp_path: os.PathLike[str]) -> Iterator[TokenCache]:
        import keyring
        from keyrings.alt.file import PlaintextKeyring

        kr = PlaintextKeyring()
        kr.file_path = os.path.join(tmp_path, "keyring.cfg")  # type: ignore[misc]
        previous = keyring.get_keyring()
        keyring.set_keyring(kr)
        try:
            yield open_cache("keyring", os.path.join(tmp_path, "cache"))
        finally:
            keyring.set_keyring(previous)

    def damage(self, cache: TokenCache, key: CacheKey) -> None:
        import keyring

        from credhelper.token_cache.keyring import SERVICE

        keyring.get_keyring().set_password(SERVICE, key.name, "\x00not json")

    def test_index_holds_no_token(self, cache: TokenCache, tmp_path: os.PathLike[str]) -> None:
        cache.put(CacheKey(FP_A, "aws_us-east-1_111111111111"), entry("very-secret-token"))
        with open(os.path.join(tmp_path, "cache", "keyring-index.json")) as f:
            assert "very-secret-token" not in f.read()


def test_null_backend_stores_nothing() -> None:
    cache = NullTokenCache()
    key = CacheKey(FP_A, "aws_us-east-1_111111111111")
    cache.put(key, entry())
    assert cache.get(key) is None and cache.entries() == [] and cache.delete(key) is False


class TestServable:
    def test_half_life_rule(self) -> None:
        now = 1_000_000.0
        e = CacheEntry("r", "AWS", "t", requested_at=now, expires_at=now + 12 * 3600)
        assert e.servable(now + 5.9 * 3600)
        assert not e.servable(now + 6.1 * 3600)
        assert e.unexpired(now + 6.1 * 3600)

    def test_min_remaining_overrides_half_life(self) -> None:
        now = 1_000_000.0
        e = CacheEntry("r", "AWS", "t", requested_at=now, expires_at=now + 12 * 3600)
        assert e.servable(now + 10 * 3600, min_remaining=3600)
        assert not e.servable(now + 11.5 * 3600, min_remaining=3600)

    def test_credentials_expiry_caps_the_token(self) -> None:
        now = 1_000_000.0
        e = CacheEntry(
            "r",
            "AWS",
            "t",
            requested_at=now,
            expires_at=now + 12 * 3600,
            creds_expire_at=now + 3600,
        )
        assert e.valid_until == now + 3600
        assert e.servable(now + 1700) and not e.servable(now + 1900)
        assert not e.unexpired(now + 3601)

    def test_never_past_expiry(self) -> None:
        now = 1_000_000.0
        e = CacheEntry("r", "AWS", "t", requested_at=now, expires_at=now + 100)
        assert not e.servable(now + 100, min_remaining=0)
        assert not e.servable(now + 200, min_remaining=1)

    def test_repr_never_shows_token(self) -> None:
        assert "s3cr3t" not in repr(CacheEntry("r", "AWS", "s3cr3t", 0, 1))

    @pytest.mark.parametrize(
        "bad",
        [
            None,
            [],
            {"v": 2},
            {"v": 1, "registry": "r"},
            {
                "v": 1,
                "registry": "r",
                "username": "AWS",
                "token": "",
                "requested_at": 1,
                "expires_at": 2,
            },
            {
                "v": 1,
                "registry": "r",
                "username": "AWS",
                "token": "t",
                "requested_at": True,
                "expires_at": 2,
            },
        ],
    )
    def test_from_json_rejects(self, bad: object) -> None:
        with pytest.raises(ValueError):
            CacheEntry.from_json(bad)


def test_file_backend_sweeps_stale_temporaries(tmp_path: os.PathLike[str]) -> None:
    cache = FileTokenCache(os.path.join(tmp_path, "cache"))
    key = CacheKey(FP_A, "aws_us-east-1_111111111111")
    cache.put(key, entry())
    stale = os.path.join(cache.tokens_dir, f".{key.name}.json.123.abc.tmp")
    young = os.path.join(cache.tokens_dir, f".{key.name}.json.456.def.tmp")
    for path in (stale, young):
        with open(path, "w") as f:
            f.write("{torn")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert [e.token for _, e in cache.entries()] == ["secret-token"]  # never read as entries
    cache.put(key, entry("next"))
    assert not os.path.exists(stale) and os.path.exists(young)
