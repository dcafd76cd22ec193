#!/usr/bin/env python3
"""Start-up time of ``ecrpy --help`` / ``ecrpy --version`` against a bare ``python -c pass``.

Issue 12's budget: both within 2.5x the bare interpreter. Medians of N whole-process runs each
(interleaved, after a warm-up), through the installed console script next to this interpreter.

    .venv/bin/python scripts/bench_cli_start.py [--runs 30] [--budget 2.5]

Exit 1 when a command is over the budget. Not a test: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--budget", type=float, default=2.5)
    opts = parser.parse_args()

    ecrpy = os.path.join(os.path.dirname(sys.executable), "ecrpy")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", "credhelper"], check=False)
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "ecrpy --help": [ecrpy, "--help"],
        "ecrpy --version": [ecrpy, "--version"],
        "ecrpy version": [ecrpy, "version"],
    }
    for cmd in cases.values():  # warm-up: page cache, .pyc files
        _time(cmd, env)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(opts.runs):
        for name, cmd in cases.items():
            samples[name].append(_time(cmd, env))
    base = statistics.median(samples["python -c pass"])
    worst = 0.0
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = median / base
        if name != "python -c pass":
            worst = max(worst, ratio)
        print(f"{name:<18} median {median * 1000:6.1f} ms  {ratio:4.2f}x")
    verdict = "within" if worst <= opts.budget else "OVER"
    print(f"worst {worst:.2f}x: {verdict} the {opts.budget}x budget")
    return 0 if worst <= opts.budget else 1


if __name__ == "__main__":
    sys.exit(main())
