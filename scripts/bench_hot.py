"""Hot ``get`` (a cache hit): ecrpy vs AWS's Go helper vs the interpreter floor, peak memory,
and the assumed-role hit with +50 ms per AWS request (where the Go helper, keyed on the access
key id, calls AWS every time). Run alone: ``.venv/bin/python scripts/bench_hot.py``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench_common import (
    FLOOR_CODE,
    HELPER,
    HOST,
    LATENCY_MS,
    PY,
    Args,
    Aws,
    Cmd,
    Section,
    Target,
    World,
    go_helper,
    ms,
    paired,
    ratio_target,
)

HOT_RSS_MIB = 12


def measure(aws: Aws, tmp: Path, args: Args) -> Section:
    go = go_helper()
    w = World(tmp, "hot", aws.proxy(0), aws.ca).env_keys()
    for argv in ([str(HELPER), "get"], [go, "get"]):  # fill both caches
        subprocess.run(argv, input=w.input.read_bytes(), env=w.env, capture_output=True, check=True)
    floor, hot, go_hot, listed = paired(
        "hot get, static keys",
        [
            Cmd(f'python -c "{FLOOR_CODE}"', [str(PY), "-c", FLOOR_CODE], w, expect=None),
            Cmd("ecrpy get", [str(HELPER), "get"], w),
            Cmd("Go helper get", [go, "get"], w),
            Cmd("ecrpy list", [str(HELPER), "list"], w, stdin=False, expect=HOST),
        ],
        args.hot_runs,
        aws=aws,
        tmp=tmp,
    )
    r = World(tmp, "hot-role", aws.proxy(LATENCY_MS), aws.ca).profile("bench-role")
    subprocess.run([str(HELPER), "get"], input=r.input.read_bytes(), env=r.env,
                   capture_output=True, check=True)  # fmt: skip
    aws.server.reset_counts()
    role, role_go = paired(
        f"hot get, assumed role, +{LATENCY_MS} ms",
        [Cmd("ecrpy get", [str(HELPER), "get"], r), Cmd("Go helper get", [go, "get"], r)],
        max(5, args.runs // 2),
        aws=aws,
        tmp=tmp,
    )
    calls = sum(hot.calls.values()) + sum(role.calls.values()) + sum(listed.calls.values())
    targets = [
        ratio_target("hot get (stays where it is)", 1.3, hot, floor, f"`{FLOOR_CODE}`"),
        Target(
            "hot get: AWS calls per hit",
            "0",
            f"{calls} over {len(hot.walls) + len(role.walls)} hits and {len(listed.walls)} "
            "`list`s (+ warm-ups); "
            f"Go helper with an assumed role: {sum(role_go.calls.values())}",
            calls == 0,
        ),
        Target(
            "peak memory, hot get",
            f"≤ {HOT_RSS_MIB} MiB",
            f"{hot.rss_mib:.1f} MiB (Go {go_hot.rss_mib:.1f} MiB, floor {floor.rss_mib:.1f} MiB)",
            hot.rss_mib <= HOT_RSS_MIB,
        ),
    ]
    notes = [
        f"Hot get vs the Go helper: {ms(hot.median)} vs {ms(go_hot.median)} "
        f"({hot.median / go_hot.median:.1f} x); with an assumed role and +{LATENCY_MS} ms per "
        f"AWS request {ms(role.median)} vs {ms(role_go.median)}."
    ]
    return Section("Hot get", [floor, hot, go_hot, listed, role, role_go], targets, notes)


if __name__ == "__main__":
    from bench_all import run_alone

    sys.exit(run_alone(measure))
