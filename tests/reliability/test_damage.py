"""Damaged state is absent state (issue #9): every file ecrpy reads, planted damaged, through
the real ``docker-credential-ecrpy`` / ``ecrpy`` console scripts against moto.

For each planted file the answer (stdout), the exit code and stderr are asserted against a run
with no file at all, the log must name what was ignored, and the file must be rewritten sound.
Then: non-regular files (FIFO, device, directory, symlinked lock) cannot block or redirect a
``get``; docker's config.json edits keep links, owners, modes and exact numbers; config.toml
abuse, log rotation, ``store`` refusals, unusable HOMEs and full disks each give one line.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    DEADLINE_LIMIT,
    GAT,
    HOSTS,
    NOT_FOUND,
    UNPRIVILEGED,
    Timed,
    helper,
    log_text,
)
from tests.support import MOTO_ECR_PASSWORD, MOTO_REGION, run_ecrpy, write_config
from tests.support.aws_server import AwsServer

HOST = HOSTS[0]
OTHER = "registry.example.test:5000"
ALIAS = "127.0.0.1:5999"

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None or shutil.which("unshare") is None,
    reason="needs root, setpriv and unshare (chown, mknod, read-only and tmpfs mounts)",
)


# -- what a damaged file may look like ---------------------------------------------------------


def _truncated(sound: bytes) -> bytes:
    return sound[: len(sound) // 2]


def _binary(sound: bytes) -> bytes:
    return bytes(range(256)) * 4 + b"\xff\xfe\x00"


def _huge(sound: bytes) -> bytes:
    # valid JSON, more than 1 MB: not ours
    return b'{"v": 1, "pad": "' + b"x" * (1024 * 1024 + 10) + b'"}'


def _nested(sound: bytes) -> bytes:
    return b"[" * 100_000 + b"]" * 100_000


def _empty(sound: bytes) -> bytes:
    return b""


def _list_instead(sound: bytes) -> bytes:
    return json.dumps([json.loads(sound)]).encode()


def _retyped(sound: bytes) -> bytes:
    """Every string value becomes a list, every number a string (keys and shape kept)."""

    def walk(value: object) -> object:
        if isinstance(value, dict):
            return {k: (v if k in ("v", "key") else walk(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return [value]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value

    return json.dumps(walk(json.loads(sound))).encode()


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": _truncated,
    "binary": _binary,
    "huge": _huge,
    "nested": _nested,
    "empty": _empty,
    "list": _list_instead,
    "wrong-types": _retyped,
}


def _ok(run: Timed) -> None:
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert json.loads(run.stdout) == {
        "ServerURL": HOST,
        "Username": "AWS",
        "Secret": MOTO_ECR_PASSWORD,
    }
    assert run.stderr == b"", run.stderr  # damage is absent state: nothing to tell docker


def _same(a: Timed, b: Timed) -> None:
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)


def _plant(path: Path, data: bytes) -> None:
    """Damage ``path`` in place: same name, same private mode, new bytes."""
    path.write_bytes(data)
    path.chmod(0o600)


def _entry(env: dict[str, str]) -> Path:
    (path,) = (Path(env["ECRPY_CACHE_DIR"]) / "tokens").glob("*.json")
    return path


def _snapshot(env: dict[str, str]) -> Path:
    return Path(env["ECRPY_CACHE_DIR"]) / "config-snapshot.json"


def _index(env: dict[str, str]) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "ecrpy" / "credentials-index.json"


def _sound_json(path: Path) -> object:
    assert path.is_file() and not path.is_symlink()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return json.loads(path.read_bytes())


# -- cache entries -----------------------------------------------------------------------------


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_cache_entry_is_absent(aws: AwsServer, renv: dict[str, str], damage: str) -> None:
    _ok(helper(renv, "get", HOST))
    entry = _entry(renv)
    sound = entry.read_bytes()
    listed_sound = helper(renv, "list")
    # the reference: no entry at all
    entry.unlink()
    aws.reset_counts()
    absent_get = helper(renv, "get", HOST)
    _ok(absent_get)
    assert aws.calls(GAT) == 1
    entry.unlink()
    absent_list = helper(renv, "list")
    assert absent_list.returncode == 0 and absent_list.stderr == b""
    assert json.loads(absent_list.stdout) == {}

    _plant(entry, DAMAGE[damage](sound))
    _same(helper(renv, "list"), absent_list)
    aws.reset_counts()
    run = helper(renv, "get", HOST)
    _ok(run)
    _same(run, absent_get)
    assert aws.calls(GAT) == 1  # refreshed, as with no entry
    assert "ignoring damaged cache file" in log_text(renv)
    assert "Traceback" not in log_text(renv) and "internal error" not in log_text(renv)
    # rewritten: the next get is a hit, and list sees it again
    assert isinstance(_sound_json(entry), dict)
    _ok(helper(renv, "get", HOST))
    assert aws.calls(GAT) == 1
    _same(helper(renv, "list"), listed_sound)
    # erase works with a damaged entry in place too, and removes it
    _plant(entry, DAMAGE[damage](sound))
    erased = helper(renv, "erase", HOST)
    assert (erased.returncode, erased.stdout, erased.stderr) == (0, b"", b"")
    assert not entry.exists()
    # cache list counts a damaged entry; cache clear REGISTRY removes it
    _plant(entry, DAMAGE[damage](sound))
    listed = run_ecrpy(renv, "cache", "list")
    assert listed.returncode == 0 and listed.stderr == b"", listed.stderr
    first = listed.stdout.decode().splitlines()[0]
    assert first.startswith("ignored: 1 cache entry that could not be read"), first
    assert "ecrpy cache clear" in first
    doc = json.loads(run_ecrpy(renv, "cache", "list", "--json").stdout)
    assert doc["entries"] == [] and doc["unreadable"] == 1
    cleared = run_ecrpy(renv, "cache", "clear", HOST)
    assert cleared.stdout.decode() == f"removed 1 cached token for {HOST}\n", cleared
    assert not entry.exists()
    aws.reset_counts()
    _ok(helper(renv, "get", HOST))
    assert aws.calls(GAT) == 1 and isinstance(_sound_json(entry), dict)


def test_32_cold_gets_with_a_truncated_entry_make_one_call(
    aws: AwsServer, renv: dict[str, str]
) -> None:
    _ok(helper(renv, "get", HOST))
    entry = _entry(renv)
    _plant(entry, _truncated(entry.read_bytes()))
    aws.reset_counts()
    with ThreadPoolExecutor(32) as pool:
        runs = list(pool.map(lambda _: helper(renv, "get", HOST), range(32)))
    for run in runs:
        _ok(run)
    assert aws.calls(GAT) == 1
    assert isinstance(_sound_json(entry), dict)


# -- the config snapshot -----------------------------------------------------------------------

ALIAS_TOML = f"""
[registries."{ALIAS}"]
account_id = "{HOST.split(".")[0]}"
region = "{MOTO_REGION}"
"""


def _ok_alias(run: Timed) -> None:
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert json.loads(run.stdout)["Secret"] == MOTO_ECR_PASSWORD
    assert run.stderr == b"", run.stderr


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_config_snapshot_is_absent(
    aws: AwsServer, renv: dict[str, str], damage: str
) -> None:
    write_config(renv, ALIAS_TOML)
    reference = helper(renv, "get", ALIAS)
    _ok_alias(reference)
    snap = _snapshot(renv)
    sound = snap.read_bytes()
    _plant(snap, DAMAGE[damage](sound))
    run = helper(renv, "get", ALIAS)
    _ok_alias(run)
    _same(run, reference)
    assert "ignoring config snapshot" in log_text(renv)
    assert _sound_json(snap) == json.loads(sound)  # rewritten
    # a damaged snapshot never breaks the other actions either
    _plant(snap, DAMAGE[damage](sound))
    listed = helper(renv, "list")
    assert listed.returncode == 0 and listed.stderr == b""
    assert json.loads(listed.stdout) == {ALIAS: "AWS"}


def test_snapshot_with_current_key_but_wrong_types_is_absent(
    aws: AwsServer, renv: dict[str, str]
) -> None:
    """The stat key still matches, so only type checks can catch it."""
    write_config(renv, ALIAS_TOML)
    _ok_alias(helper(renv, "get", ALIAS))
    snap = _snapshot(renv)
    doc = json.loads(snap.read_bytes())
    for bad in (
        {"registries": {ALIAS: {"account_id": 123456789012, "region": ["x"]}}},
        {"registries": [], "cache": {}},
        {"registries": {}, "cache": {"backend": "file", "min_remaining": True}},
    ):
        doc["config"] = {**doc["config"], **bad}
        _plant(snap, json.dumps(doc).encode())
        _ok_alias(helper(renv, "get", ALIAS))
        assert "ignoring config snapshot" in log_text(renv)
        assert _sound_json(snap)["config"]["registries"][ALIAS]["region"] == MOTO_REGION  # type: ignore[index]


# -- the credentials index ---------------------------------------------------------------------


def _store(env: dict[str, str], host: str = OTHER) -> None:
    doc = json.dumps({"ServerURL": host, "Username": "bob", "Secret": "s3cr3t-Pa55w0rd"})
    run = helper(env, "store", doc)
    assert (run.returncode, run.stdout, run.stderr) == (0, b"", b""), run.stderr


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_credentials_index_is_absent(
    aws: AwsServer, renv: dict[str, str], damage: str
) -> None:
    _ok(helper(renv, "get", HOST))
    _store(renv)
    index = _index(renv)
    sound = index.read_bytes()
    index.unlink()
    ref_get, ref_list = helper(renv, "get", OTHER), helper(renv, "list")
    assert (ref_get.returncode, ref_get.stdout.strip(), ref_get.stderr) == (1, NOT_FOUND, b"")
    assert json.loads(ref_list.stdout) == {HOST: "AWS"}

    _plant(index, DAMAGE[damage](sound))
    got, listed = helper(renv, "get", OTHER), helper(renv, "list")
    _same(got, ref_get)
    _same(listed, ref_list)
    _ok(helper(renv, "get", HOST))
    assert "ignoring" in log_text(renv) and "credentials index" in log_text(renv)
    # rewritten by the next store; then everything is back
    _store(renv)
    assert OTHER in _sound_json(index)  # type: ignore[operator]
    again = helper(renv, "get", OTHER)
    assert again.returncode == 0 and json.loads(again.stdout)["Secret"] == "s3cr3t-Pa55w0rd"
    assert json.loads(helper(renv, "list").stdout) == {HOST: "AWS", OTHER: "bob"}


# -- things that are not files -----------------------------------------------------------------


def _fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path, 0o600)


def _directory(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.mkdir(mode=0o700)


def _device(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero: endless bytes


NON_FILES = {"fifo": _fifo, "directory": _directory, "device": _device}


@pytest.mark.parametrize("kind", sorted(NON_FILES))
def test_non_regular_files_everywhere_never_block_a_get(
    aws: AwsServer, renv: dict[str, str], kind: str
) -> None:
    if kind == "device" and os.geteuid() != 0:
        pytest.skip("mknod needs root")
    write_config(renv, ALIAS_TOML)
    _ok(helper(renv, "get", HOST))
    _ok_alias(helper(renv, "get", ALIAS))
    _store(renv)
    tokens = Path(renv["ECRPY_CACHE_DIR"]) / "tokens"
    planted = [*tokens.glob("*.json"), *tokens.glob("*.lock"), _snapshot(renv), _index(renv)]
    # the alias is the same registry: 1 entry, its lock, the snapshot, the index
    assert len(planted) == 4, planted
    for path in planted:
        NON_FILES[kind](path)
    aws.reset_counts()
    for host in (HOST, ALIAS):
        run = helper(renv, "get", host, timeout=DEADLINE_LIMIT + 5)
        assert run.elapsed < DEADLINE_LIMIT, run.elapsed
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["Secret"] == MOTO_ECR_PASSWORD
        assert run.stderr == b""
    # the planted entry is never served; a rename replaces a FIFO or a device with the new
    # entry (then the alias hits it), never a directory (then every get asks ECR)
    assert aws.calls(GAT) == (2 if kind == "directory" else 1)
    text = log_text(renv)
    assert "not a regular file" in text or "Is a directory" in text, text
    other = helper(renv, "get", OTHER, timeout=DEADLINE_LIMIT + 5)
    assert other.elapsed < DEADLINE_LIMIT
    assert (other.returncode, other.stdout.strip(), other.stderr) == (1, NOT_FOUND, b"")
    listed = helper(renv, "list", timeout=DEADLINE_LIMIT + 5)
    assert listed.returncode == 0 and listed.elapsed < DEADLINE_LIMIT
    # the rewritten entry (not for a directory); the planted index lists nothing
    assert json.loads(listed.stdout) == ({} if kind == "directory" else {HOST: "AWS"})
    if kind != "directory":
        aws.reset_counts()
        _ok(helper(renv, "get", HOST))
        assert aws.calls(GAT) == 0  # the entry was rewritten as a file


def test_symlinked_lock_is_refused_not_followed(
    aws: AwsServer, renv: dict[str, str], tmp_path: Path
) -> None:
    _ok(helper(renv, "get", HOST))
    entry = _entry(renv)
    lock = entry.with_suffix(".lock")
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    victim.chmod(0o644)
    lock.unlink()
    lock.symlink_to(victim)
    entry.unlink()
    aws.reset_counts()
    _ok(helper(renv, "get", HOST))
    assert aws.calls(GAT) == 1
    assert lock.is_symlink() and victim.read_text() == "keep me\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert "cache lock unavailable" in log_text(renv)
    # a dangling link must not be created through either
    lock.unlink()
    lock.symlink_to(tmp_path / "created-through-link")
    entry.unlink()
    _ok(helper(renv, "get", HOST))
    assert not (tmp_path / "created-through-link").exists()
    lock.unlink()  # the suite-wide permission scan (test_secrets) must not see the planted link


def test_cache_clear_removes_lock_files(aws: AwsServer, renv: dict[str, str]) -> None:
    _ok(helper(renv, "get", HOST))
    tokens = Path(renv["ECRPY_CACHE_DIR"]) / "tokens"
    assert list(tokens.glob("*.lock")), "a cold get leaves its lock file"
    proc = run_ecrpy(renv, "cache", "clear")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip() == "removed 1 cached token"
    assert sorted(p.name for p in tokens.iterdir()) == []


# -- docker's config.json ----------------------------------------------------------------------


def _configure(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_ecrpy(env, "configure", HOST, *args)


def _one_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ecrpy: ") and not lines[0].startswith("ecrpy: ecrpy")
    assert "Traceback" not in lines[0] and "internal error" not in lines[0]
    return lines[0]


def test_symlinked_docker_config_is_edited_at_its_target(
    renv: dict[str, str], tmp_path: Path
) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "docker-config.json"
    target.write_text('{"auths": {}}\n')
    link = Path(renv["DOCKER_CONFIG"]) / "config.json"
    link.symlink_to(target)
    proc = _configure(renv)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text()) == {"auths": {}, "credHelpers": {HOST: "ecrpy"}}
    assert json.loads((dotfiles / "docker-config.json.bak").read_text()) == {"auths": {}}


@needs_root
def test_root_editing_a_users_docker_config_keeps_owner_group_and_mode(
    renv: dict[str, str],
) -> None:
    folder = Path(renv["DOCKER_CONFIG"])
    path = folder / "config.json"
    path.write_text('{"auths": {"ghcr.io": {"auth": "eDp5"}}}\n')
    os.chown(folder, 1234, 2345)
    os.chown(path, 1234, 2345)
    path.chmod(0o640)
    proc = _configure(renv)
    assert proc.returncode == 0, proc.stderr
    for p in (path, folder / "config.json.bak", folder / "config.json.lock"):
        st = p.stat()
        assert (st.st_uid, st.st_gid) == (1234, 2345), p
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE((folder / "config.json.bak").stat().st_mode) == 0o640
    assert json.loads(path.read_text())["credHelpers"] == {HOST: "ecrpy"}


NUMBERS = (
    '{\n\t"a": 1e400,\n\t"b": 123456789012345678901234567890123456789,\n\t"c": -0.0,\n'
    '\t"d": 1.10,\n\t"e": "caf\\u00e9 \\ud83d\\ude00 \\u003c",\n\t"f": [1E+2, -5, 0.1e-400]\n}\n'
)


def test_numbers_docker_accepts_are_never_rewritten(renv: dict[str, str]) -> None:
    path = Path(renv["DOCKER_CONFIG"]) / "config.json"
    path.write_text(NUMBERS)
    proc = _configure(renv)
    assert proc.returncode == 0, proc.stderr
    text = path.read_text()
    for literal in ("1e400", "123456789012345678901234567890123456789", "-0.0", "1.10",
                    "1E+2", "0.1e-400"):
        assert literal in text, (literal, text)
    assert "Infinity" not in text and "NaN" not in text
    data = json.loads(text)
    assert data["e"] == json.loads(NUMBERS)["e"]
    assert data["credHelpers"] == {HOST: "ecrpy"}
    assert (Path(renv["DOCKER_CONFIG"]) / "config.json.bak").read_text() == NUMBERS


def test_absurdly_nested_docker_config_is_refused_unchanged(renv: dict[str, str]) -> None:
    path = Path(renv["DOCKER_CONFIG"]) / "config.json"
    content = '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path.write_text(content)
    proc = _configure(renv)
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "nested too deeply" in line and str(path) in line, line
    assert path.read_text() == content


@needs_root
def test_read_only_docker_config_folder_is_one_line(renv: dict[str, str]) -> None:
    folder = Path(renv["DOCKER_CONFIG"])
    (folder / "config.json").write_text("{}\n")
    folder.chmod(0o500)
    proc = subprocess.run(
        [*UNPRIVILEGED, shutil.which("ecrpy", path=renv["PATH"]) or "ecrpy", "configure", HOST],
        capture_output=True, env=renv, check=False, stdin=subprocess.DEVNULL, timeout=60,
    )
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "Permission denied" in line and "permissions" in line, line
    assert (folder / "config.json").read_text() == "{}\n"


def test_docker_config_locked_by_another_process_is_one_line(renv: dict[str, str]) -> None:
    folder = Path(renv["DOCKER_CONFIG"])
    (folder / "config.json").write_text("{}\n")
    fd = os.open(folder / "config.json.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        start = time.monotonic()
        proc = _configure(renv)
        elapsed = time.monotonic() - start
    finally:
        os.close(fd)
    assert proc.returncode == 1 and elapsed < 30
    line = _one_line(proc)
    assert "locked by another process" in line, line
    assert (folder / "config.json").read_text() == "{}\n"


# -- config.toml -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("a = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
        ("a = " + "{b = " * 5_000 + "1" + "}" * 5_000 + "\n", "nested too deeply"),
        (f'[registries."{ALIAS}"]\naccount_id = true\nregion = "us-east-1"\n', "account_id"),
        (f'[registries."{ALIAS}"]\naccount_id = "123456789012"\nregion = ["x"]\n', "region"),
        (f'[registries."{HOST}"]\nprofile = 7\n', "profile"),
        ("[cache]\nmin_remaining = true\n", "min_remaining"),
    ],
)
def test_config_toml_abuse_is_one_line(renv: dict[str, str], toml: str, fragment: str) -> None:
    write_config(renv, toml)
    run = helper(renv, "get", HOST)
    assert (run.returncode, run.stdout.strip()) == (1, NOT_FOUND)
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecrpy: ") and fragment in lines[0], lines
    assert "internal error" not in lines[0]
    cli = run_ecrpy(renv, "cache", "list")
    assert cli.returncode == 1 and fragment in _one_line(cli)


# -- logs, store, HOME, full disks -------------------------------------------------------------


def test_logs_stay_private_after_rotation(aws: AwsServer, renv: dict[str, str]) -> None:
    logs = Path(renv["ECRPY_LOG_DIR"])
    logs.mkdir(mode=0o700)
    for name in ("ecrpy.log", "ecrpy.log.1", "ecrpy.log.2", "ecrpy.log.3"):
        (logs / name).write_bytes(b"x" * 1_000_100)
        (logs / name).chmod(0o600)
    env = dict(renv, ECRPY_LOG_LEVEL="DEBUG")
    old = os.umask(0o022)
    try:
        _ok(helper(env, "get", HOST))  # a cold get logs, which rotates
    finally:
        os.umask(old)
    assert (logs / "ecrpy.log").stat().st_size < 1_000_000, "no rotation happened"
    names = sorted(p.name for p in logs.iterdir())
    assert names == ["ecrpy.log", "ecrpy.log.1", "ecrpy.log.2", "ecrpy.log.3"], names
    for path in logs.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def _keyring_holds(env: dict[str, str], needle: str) -> bool:
    return any(needle in p.read_text() for p in Path(env["HOME"]).rglob("keyring_pass.cfg"))


def test_refused_store_leaves_no_orphan_secret(renv: dict[str, str], tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    for state in (blocked / "state", tmp_path / "shared"):
        if state.name == "shared":
            state.mkdir(mode=0o777)
            state.chmod(0o777)
        env = dict(renv, ECRPY_STATE_DIR=str(state))
        doc = json.dumps({"ServerURL": OTHER, "Username": "bob", "Secret": "orphan-s3cret"})
        run = helper(env, "store", doc)
        assert run.returncode == 1 and run.stderr == b""
        out = run.stdout.decode().splitlines()
        assert len(out) == 1 and "state folder" in out[0] and "internal error" not in out[0], out
        assert not _keyring_holds(env, "orphan-s3cret")
        erased = helper(env, "erase", OTHER)
        assert erased.returncode == 0


def _home_env(renv: dict[str, str], home: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "TMPDIR", "PYTHON_KEYRING_BACKEND", "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
            "AWS_EC2_METADATA_DISABLED")
    env = {k: renv[k] for k in keep if k in renv}
    env["HOME"] = str(home)
    return env


@pytest.mark.parametrize("kind", ["regular-file", "missing", "read-only"])
def test_unusable_home_still_serves_tokens(
    aws: AwsServer, renv: dict[str, str], tmp_path: Path, kind: str
) -> None:
    home = tmp_path / f"home-{kind}"
    prefix: tuple[str, ...] = ()
    if kind == "regular-file":
        home.write_text("not a folder\n")
    elif kind == "read-only":
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            pytest.skip("needs root and setpriv")
        home.mkdir()
        home.chmod(0o500)
        prefix = UNPRIVILEGED
    env = _home_env(renv, home)
    for _ in range(2):
        run = helper(env, "get", HOST, prefix=prefix)
        _ok(run)
    listed = helper(env, "list", prefix=prefix)
    assert listed.returncode == 0 and listed.stderr == b"" and isinstance(
        json.loads(listed.stdout), dict
    )
    miss = helper(env, "get", OTHER, prefix=prefix)
    assert (miss.returncode, miss.stdout.strip(), miss.stderr) == (1, NOT_FOUND, b"")


def _on_full_tmpfs(folder: Path) -> tuple[str, ...]:
    """A prefix running a command with a full 64 kB tmpfs mounted on ``folder``."""
    script = (
        'mount -t tmpfs -o size=64k,mode=0700 tmpfs "$1" && '
        'mkdir -p -m 0700 "$1/cache" "$1/state" "$1/docker" && echo "{}" > "$1/docker/config.json"'
        ' && (dd if=/dev/zero of="$1/fill" bs=1k count=128 2>/dev/null; true) && '
        'shift && exec "$@"'
    )
    return ("unshare", "-m", "sh", "-c", script, "sh", str(folder))


@needs_root
def test_full_disk_is_one_line_never_internal_error(
    aws: AwsServer, renv: dict[str, str], tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    env = dict(
        renv,
        ECRPY_CACHE_DIR=str(disk / "cache"),
        ECRPY_STATE_DIR=str(disk / "state"),
        ECRPY_LOG_DIR=str(disk / "logs"),
        DOCKER_CONFIG=str(disk / "docker"),
    )
    prefix = _on_full_tmpfs(disk)
    # get: still served (no caching, and the log cannot be written either)
    _ok(helper(env, "get", HOST, prefix=prefix))
    # store: refused in one line that names the full disk; nothing left in the keyring
    doc = json.dumps({"ServerURL": OTHER, "Username": "bob", "Secret": "full-disk-s3cret"})
    run = helper(env, "store", doc, prefix=prefix)
    assert run.returncode == 1 and run.stderr == b"", run.stderr
    (line,) = run.stdout.decode().splitlines()
    assert "No space left on device" in line and "disk is full" in line, line
    assert "internal error" not in line
    assert not _keyring_holds(env, "full-disk-s3cret")
    # configure: one line, naming the cause and the fix
    proc = subprocess.run(
        [*prefix, shutil.which("ecrpy", path=env["PATH"]) or "ecrpy", "configure", HOST],
        capture_output=True, env=env, check=False, stdin=subprocess.DEVNULL, timeout=60,
    )
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "No space left on device" in line and "disk is full" in line, line


def test_enospc_while_writing_is_an_environment_error() -> None:
    """Unit-level: the error boundary words an ENOSPC as cause + fix, not "internal error"."""
    from credhelper.errors import EnvironmentProblemError, environment_error

    exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/x/.config.json.1.tmp")
    err = environment_error("edit the docker config /x/config.json", exc)
    assert isinstance(err, EnvironmentProblemError)
    assert err.one_line() == (
        "cannot edit the docker config /x/config.json (/x/.config.json.1.tmp): "
        "No space left on device; the disk is full; free some space"
    )

