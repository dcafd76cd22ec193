"""SIGKILL at random points: the token cache and docker's config.json are left valid — the old
content or the new, never a torn file. Leftover temporary files are counted (and reported with
``-s``); they must never be read as entries.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from credhelper.token_cache.base import CacheEntry
from tests.reliability.conftest import (
    HOSTS,
    IDENTITIES,
    REGISTRIES,
    SecretSink,
    helper,
    helper_path,
    scaled,
)
from tests.support import run_ecrpy
from tests.support.aws_server import AwsServer, identity_token

pytestmark = pytest.mark.soak

RNG = random.Random(int(os.environ.get("ECRPY_SOAK_SEED", "20261124")))


def _kill_after(proc: subprocess.Popen[bytes], delay: float) -> bool:
    """SIGKILL ``proc`` after ``delay`` s unless it finished; True when it was killed."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        time.sleep(0.002)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def _scan_tokens(folder: Path) -> tuple[list[CacheEntry], list[str], list[str]]:
    """(valid entries, corrupt file names, leftover temp file names)."""
    entries: list[CacheEntry] = []
    corrupt: list[str] = []
    tmp: list[str] = []
    if not folder.is_dir():
        return entries, corrupt, tmp
    for path in folder.iterdir():
        if path.name.endswith(".tmp"):
            tmp.append(path.name)
        elif path.suffix == ".json":
            try:
                entries.append(CacheEntry.from_json(json.loads(path.read_bytes())))
            except (ValueError, UnicodeDecodeError) as exc:
                corrupt.append(f"{path.name}: {exc}")
    return entries, corrupt, tmp


VALID_TOKENS = {
    (f"{account}.dkr.ecr.{region}.amazonaws.com", identity_token(account, region, i.key_id))
    for account, region in REGISTRIES
    for i in IDENTITIES
}


def test_sigkill_during_cold_gets(
    ident_aws: AwsServer, renv: dict[str, str], tmp_path: Path, secret_sink: SecretSink
) -> None:
    aws = ident_aws
    for _registry, password in VALID_TOKENS:
        secret_sink.token(password)
    exe = helper_path(renv)
    envs = [i.env(renv) for i in IDENTITIES]
    # How long one cold get takes here: the kills are spread over 0-300 ms and over the whole
    # run, so some land before the fetch, some during the write and some after.
    probe = dict(envs[0], ECRPY_CACHE_DIR=str(tmp_path / "probe-cache"))
    cold = helper(probe, "get", HOSTS[0]).elapsed
    spread = max(0.6, cold * 3)  # 8 processes at once run slower than one

    iterations = scaled(150, 25)
    killed = finished = 0
    leftovers: list[str] = []
    entries_total = 0
    for n in range(iterations):
        cache = tmp_path / f"cache-{n}"
        jobs = []
        for host in HOSTS:
            for env in envs:
                env = dict(env, ECRPY_CACHE_DIR=str(cache))
                proc = subprocess.Popen(
                    [exe, "get"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
                assert proc.stdin is not None
                proc.stdin.write(host.encode())
                proc.stdin.close()
                bound = 0.3 if n % 2 == 0 else spread  # the brief's 0-300 ms, then wider
                jobs.append((proc, RNG.uniform(0, bound)))
        start = time.monotonic()
        for proc, delay in sorted(jobs, key=lambda j: j[1]):
            remaining = delay - (time.monotonic() - start)
            if _kill_after(proc, max(0.0, remaining)):
                killed += 1
            else:
                finished += 1
        entries, corrupt, tmp = _scan_tokens(cache / "tokens")
        assert corrupt == [], corrupt
        for entry in entries:
            assert (entry.registry, entry.token) in VALID_TOKENS
        entries_total += len(entries)
        leftovers += tmp
        secret_sink.dirs.append(("crash cache", cache))

    # Afterwards every (identity, registry) is served correctly from what was left: leftover
    # temp files are never taken for entries.
    survivors = tmp_path / f"cache-{iterations - 1}"
    for ident, env in zip(IDENTITIES, envs, strict=True):
        env = dict(env, ECRPY_CACHE_DIR=str(survivors))
        for (account, region), host in zip(REGISTRIES, HOSTS, strict=True):
            run = helper(env, "get", host)
            assert run.returncode == 0, (run.stdout, run.stderr)
            assert json.loads(run.stdout)["Secret"] == identity_token(account, region, ident.key_id)
        listed = run_ecrpy(env, "cache", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        names = [e["registry"] for e in json.loads(listed.stdout)["entries"]]
        assert all(".tmp" not in name for name in names)
    print(
        f"[crash] cold gets: {iterations} rounds x {len(jobs)} processes, {killed} killed, "
        f"{finished} finished (cold get {cold:.2f}s, kill spread 0-0.3s / 0-{spread:.2f}s); "
        f"{entries_total} entries left, all valid; {len(leftovers)} leftover .tmp files; "
        f"{aws.calls('GetAuthorizationToken')} GetAuthorizationToken calls"
    )


_WRITER = textwrap.dedent(
    """
    import sys
    from credhelper.token_cache.file import FileTokenCache
    from credhelper.token_cache.base import CacheEntry, CacheKey
    cache = FileTokenCache(sys.argv[1])
    key = CacheKey("f" * 64, "aws_us-east-1_123456789012")
    tokens = [c * 200_000 for c in "AB"]
    i = 0
    while True:
        cache.put(key, CacheEntry("h", "AWS", tokens[i % 2], 1.0, 4e9))
        i += 1
    """
)


def test_sigkill_while_rewriting_one_entry(tmp_path: Path) -> None:
    """A writer that rewrites one 200 kB entry in a tight loop, killed at random points: the
    entry is always one of the two complete versions."""
    iterations = scaled(200, 30)
    cache_dir = tmp_path / "cache"
    leftovers = 0
    seen = {"A": 0, "B": 0, "none": 0}
    for _ in range(iterations):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(cache_dir)],
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        time.sleep(RNG.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        entries, corrupt, tmp = _scan_tokens(cache_dir / "tokens")
        assert corrupt == [], corrupt
        leftovers += len(tmp)
        if not entries:
            seen["none"] += 1
        for entry in entries:
            assert entry.token in ("A" * 200_000, "B" * 200_000)
            seen[entry.token[0]] += 1
    print(
        f"[crash] entry rewriter: {iterations} kills; final versions {seen}; "
        f"{leftovers} leftover .tmp files seen across scans"
    )
    assert seen["A"] + seen["B"] > 0  # the writer did get to write


def _big_docker_config(n_auths: int) -> dict[str, object]:
    auths = {
        f"registry-{i}.example.test": {
            "auth": base64.b64encode(f"user{i}:not-a-real-password-{i}".encode()).decode()
        }
        for i in range(n_auths)
    }
    return {
        "auths": auths,
        "credHelpers": {f"helper-{i}.example.test": "other" for i in range(200)},
        "HttpHeaders": {"User-Agent": "Docker-Client/24"},
        "psFormat": "table {{.ID}}\\t{{.Names}}",
        "plugins": {"debug": {"hooks": "exec"}},
        "proxies": {"default": {"httpProxy": "http://proxy.example.test:3128"}},
        "currentContext": "default",
        "aliases": {"builder": "buildx"},
        **{f"x-extra-{i}": {"n": i} for i in range(500)},
    }


def test_sigkill_during_configure(renv: dict[str, str], tmp_path: Path) -> None:
    original = _big_docker_config(8000)
    text = json.dumps(original, indent="\t") + "\n"
    folder = Path(renv["DOCKER_CONFIG"])
    path = folder / "config.json"

    def reset() -> None:
        for p in folder.iterdir():
            p.unlink()
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)

    new_host = HOSTS[1]
    reset()
    t0 = time.monotonic()
    done = run_ecrpy(renv, "configure", new_host)
    full = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    spread = full * 1.3

    iterations = scaled(120, 20)
    outcomes = {"old": 0, "new": 0}
    leftovers: list[str] = []
    cli = str(Path(helper_path(renv)).with_name("ecrpy"))
    for _ in range(iterations):
        reset()
        proc = subprocess.Popen(
            [cli, "configure", new_host],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=renv,
        )
        _kill_after(proc, RNG.uniform(0, spread))
        data = json.loads(path.read_text(encoding="utf-8"))  # never torn
        assert set(data) >= set(original)
        assert data["auths"] == original["auths"]
        for key in original:
            if key != "credHelpers":
                assert data[key] == original[key]
        helpers = data["credHelpers"]
        if helpers == original["credHelpers"]:
            outcomes["old"] += 1
        else:
            assert helpers == {**original["credHelpers"], new_host: "ecrpy"}  # type: ignore[dict-item]
            outcomes["new"] += 1
        assert (path.stat().st_mode & 0o777) == 0o600
        backup = folder / "config.json.bak"
        if backup.exists():
            assert json.loads(backup.read_text(encoding="utf-8")) == original
        leftovers += [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    print(
        f"[crash] configure: {iterations} kills over 0-{spread:.2f}s (a full run takes "
        f"{full:.2f}s, config.json {len(text) // 1024} kB); outcomes {outcomes}; "
        f"leftover temp files {sorted(set(leftovers))} ({len(leftovers)} in all)"
    )
