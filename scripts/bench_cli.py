"""The ``ecrpy`` command's own start: ``ecrpy --help`` and ``--version`` against ``python -c
pass``, and ``ecrpy check push`` with +50 ms per AWS request, and with 50 ms per round trip
where each new connection also pays its TCP and TLS set-up (two round trips), as with a far
region. Run alone: ``.venv/bin/python scripts/bench_cli.py``."""

from __future__ import annotations

import sys
from pathlib import Path

from bench_common import (
    CLI,
    HOST,
    LATENCY_MS,
    PY,
    RTT,
    Args,
    Aws,
    Cmd,
    Section,
    Target,
    World,
    ms,
    paired,
    ratio_target,
)

HELP_LIMIT = 2.5
CHECK_LIMIT_S = 1.0


def measure(aws: Aws, tmp: Path, args: Args) -> Section:
    w = World(tmp, "cli")
    floor, help_, version = paired(
        "ecrpy start",
        [
            Cmd("python -c pass", [str(PY), "-c", "pass"], w, stdin=False, expect=None),
            Cmd("ecrpy --help", [str(CLI), "--help"], w, stdin=False, expect="usage"),
            Cmd("ecrpy --version", [str(CLI), "--version"], w, stdin=False, expect="ecrpy"),
        ],
        args.hot_runs,
        tmp=tmp,
    )
    targets = [
        ratio_target("`ecrpy --help`", HELP_LIMIT, help_, floor, "`python -c pass`"),
        ratio_target("`ecrpy --version`", HELP_LIMIT, version, floor, "`python -c pass`"),
    ]
    rows = [floor, help_, version]
    image = f"{HOST}/bench/app:latest"
    notes: list[str] = []
    for proxy, label, what in (
        (LATENCY_MS, f"check, +{LATENCY_MS} ms", f"+{LATENCY_MS} ms per AWS request"),
        (RTT, f"check, {LATENCY_MS} ms RTT", f"{LATENCY_MS} ms per round trip, new connections "
         "+2 round trips"),
    ):  # fmt: skip
        counts = aws.proxies[proxy].counts
        before = (counts["requests"], counts["connect"])
        c = World(tmp, f"check-{proxy}", aws.proxy(proxy), aws.ca)
        c.env.update(zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), aws.pusher(),
                         strict=True))  # fmt: skip
        (check,) = paired(
            label,
            [Cmd(f"ecrpy check push {image}", [str(CLI), "check", "push", image], c,
                 stdin=False, expect=None)],
            max(5, args.runs // 3),
            warmup=1,
            aws=aws,
            tmp=tmp,
        )  # fmt: skip
        rows.append(check)
        checks = len(check.walls) + 1  # and the warm-up
        requests, tunnels = counts["requests"] - before[0], counts["connect"] - before[1]
        notes.append(f"`ecrpy check push` ({label}): {requests / checks:.0f} AWS requests over "
                     f"{tunnels / checks:.1f} new TLS connections per run (median of "
                     f"{len(check.walls)} runs: {ms(check.median)}).")  # fmt: skip
        targets.append(
            Target(f"`ecrpy check push`, {what}", f"≤ {ms(CHECK_LIMIT_S)}", ms(check.median),
                   check.median <= CHECK_LIMIT_S)
        )  # fmt: skip
    return Section("The ecrpy command", rows, targets, notes)


if __name__ == "__main__":
    from bench_all import run_alone

    sys.exit(run_alone(measure))
