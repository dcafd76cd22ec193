"""64 concurrent ``get`` processes per round, 4 registries x 2 identities sharing one cache,
with 4-second tokens so entries expire and are refreshed while the run goes on.

Checks: every answer is valid JSON carrying the token the server issued to *that* identity for
*that* registry; every cache file parses afterwards; and GetAuthorizationToken is called at
most once per (identity, registry, expiry window) — consecutive calls for one key are at least
``TTL - min_remaining`` seconds apart, which is exactly when the cached token stops being
servable.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

from credhelper.token_cache.base import CacheEntry
from tests.reliability.conftest import (
    HOSTS,
    IDENTITIES,
    REGISTRIES,
    SecretSink,
    helper_path,
    scaled,
)
from tests.support import write_config
from tests.support.aws_server import AwsServer, identity_token

pytestmark = pytest.mark.soak

PROCS = 64
ROUNDS = scaled(20, 4)
# A token is servable for TTL - MIN_REMAINING seconds. With 4 s / 1 s, 64 processes on two
# cores are so slow that a freshly fetched token is already unservable when the next waiter
# reads it: every process then fetches its own (one call per process, still never two in one
# window, but single-flight is never exercised). 10 s / 5 s keeps a 5 s window.
TTL = float(os.environ.get("ECRPY_SOAK_TTL", "10"))
MIN_REMAINING = int(os.environ.get("ECRPY_SOAK_MIN_REMAINING", "5"))
PERIOD = 3.0  # a round starts at most every 3 s, so even 4 rounds cross expiry windows
SLACK = 0.25  # seconds: server-side timestamping vs. the client's clock reading (same host)


def test_concurrent_gets_across_registries_and_identities(
    ident_aws: AwsServer, renv: dict[str, str], secret_sink: SecretSink
) -> None:
    aws = ident_aws
    aws.set_token_ttl(TTL)
    write_config(renv, f"[cache]\nmin_remaining = {MIN_REMAINING}\n")
    exe = helper_path(renv)
    envs = [ident.env(renv) for ident in IDENTITIES]
    for account, region in REGISTRIES:
        for ident in IDENTITIES:
            secret_sink.token(identity_token(account, region, ident.key_id))

    answers = 0
    failures: list[str] = []
    wrong: list[str] = []
    started = time.time()
    round_times: list[float] = []
    for rnd in range(ROUNDS):
        t0 = time.monotonic()
        jobs = []
        for i in range(PROCS):
            host_index = i % len(HOSTS)
            ident_index = (i // len(HOSTS)) % len(IDENTITIES)
            proc = subprocess.Popen(
                [exe, "get"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=envs[ident_index],
            )
            jobs.append((proc, host_index, ident_index))
        for proc, host_index, ident_index in jobs:
            out, err = proc.communicate(HOSTS[host_index].encode(), timeout=120)
            secret_sink.text(f"concurrency round {rnd} stderr", err)
            answers += 1
            if proc.returncode != 0:
                failures.append(f"rc={proc.returncode} out={out[:200]!r} err={err[:200]!r}")
                secret_sink.text("concurrency stdout", out)
                continue
            try:
                data = json.loads(out)
            except ValueError:
                failures.append(f"not JSON: {out[:200]!r}")
                continue
            account, region = REGISTRIES[host_index]
            expected = identity_token(account, region, IDENTITIES[ident_index].key_id)
            if (
                set(data) != {"ServerURL", "Username", "Secret"}
                or data["ServerURL"] != HOSTS[host_index]
                or data["Username"] != "AWS"
                or data["Secret"] != expected
            ):
                wrong.append(f"{HOSTS[host_index]} as {IDENTITIES[ident_index].key_id}: {data}")
        round_times.append(time.monotonic() - t0)
        time.sleep(max(0.0, PERIOD - (time.monotonic() - t0)))
    duration = time.time() - started

    assert failures == [], failures[:5]
    assert wrong == [], wrong[:5]

    # Every cache file parses as an entry (and nothing but entries, locks and temp files).
    tokens_dir = Path(renv["ECRPY_CACHE_DIR"]) / "tokens"
    entries, corrupt, leftovers = 0, [], []
    for path in tokens_dir.iterdir():
        if path.suffix == ".json":
            try:
                CacheEntry.from_json(json.loads(path.read_bytes()))
                entries += 1
            except ValueError as exc:
                corrupt.append(f"{path.name}: {exc}")
        elif path.suffix == ".tmp":
            leftovers.append(path.name)
    assert corrupt == []
    assert entries == len(HOSTS) * len(IDENTITIES)
    assert leftovers == []  # nobody was killed here: every temp file was renamed

    # GetAuthorizationToken: at most one per (identity, registry, expiry window).
    calls: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for req in aws.token_requests():
        key = (req["access_key_id"], req["region"], ",".join(req["registry_ids"]))
        calls[key].append(req["time"])
    assert len(calls) == len(HOSTS) * len(IDENTITIES), sorted(calls)
    window = TTL - MIN_REMAINING
    too_close = []
    for key, times in calls.items():
        times.sort()
        for a, b in itertools.pairwise(times):
            if b - a < window - SLACK:
                too_close.append((key, round(b - a, 3)))
    total = sum(len(t) for t in calls.values())
    bound = len(calls) * (int(duration // window) + 1)
    print(
        f"[concurrency] {ROUNDS} rounds x {PROCS} processes = {answers} answers in "
        f"{duration:.1f}s (rounds {min(round_times):.2f}-{max(round_times):.2f}s); "
        f"{total} GetAuthorizationToken calls for {len(calls)} keys "
        f"(bound {bound}); cache entries {entries}"
    )
    assert too_close == [], too_close
    assert total <= bound
    assert os.listdir(tokens_dir)
