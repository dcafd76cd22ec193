"""Cold ``get`` (empty caches, as on every ephemeral CI runner): ecrpy vs AWS's Go helper for
each credential source of issue 13's table, peak memory, and the herd (32 concurrent cold gets:
how many GetAuthorizationToken calls reach AWS). Run alone: ``.venv/bin/python
scripts/bench_cold.py``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench_common import (
    HELPER,
    LATENCY_MS,
    SECRET,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    Args,
    Aws,
    Cmd,
    ContainerCredentialsServer,
    Section,
    Target,
    World,
    go_helper,
    ms,
    paired,
    ratio_target,
)

COLD_STATIC_RSS_MIB = 25
CONTAINER: ContainerCredentialsServer  # the credentials endpoint, for measure()'s duration
CONTAINER_TOKEN: Path
BIG_BUNDLE: Path  # certifi's CAs + the proxy's
CA_DIRECTORY: Path  # a hashed directory: the system's CAs + the proxy's
HERD = 32
# (row of issue 13's table, world name, how the world gets its identity, limit x Go)
SCENARIOS = (
    ("cold get, static env keys", "cold-env", lambda w: w.env_keys(), 5.0),
    ("cold get, static keys from the credentials file", "cold-file",
     lambda w: w.profile("bench-source"), 5.0),
    ("cold get, assumed-role profile", "cold-role", lambda w: w.profile("bench-role"), 8.0),
    ("cold get, web identity", "cold-web", lambda w: w.web_identity(), 8.0),
    ("cold get, static keys, certifi-size CA bundle", "cold-bundle",
     lambda w: w.env_keys().ca_bundle(BIG_BUNDLE), 5.0),
    ("cold get, static keys, hashed CA directory", "cold-capath",
     lambda w: w.env_keys().ca_directory(CA_DIRECTORY), 5.0),
    ("cold get, container credentials (ECS task role)", "cold-container",
     lambda w: w.container(CONTAINER.url, CONTAINER_TOKEN.read_text()), 8.0),
    ("cold get, credential_process", "cold-process", lambda w: w.credential_process(), 8.0),
)  # fmt: skip


def _trust_stores(aws: Aws, tmp: Path) -> None:
    """A bundle the size of certifi's (its ~150 CAs, then the proxy's CA) and a hashed
    directory holding the proxy's CA among the system's (``openssl rehash``, as
    /etc/ssl/certs is made)."""
    import shutil

    import certifi

    global BIG_BUNDLE, CA_DIRECTORY
    BIG_BUNDLE = tmp / "certifi-plus-proxy-ca.pem"
    BIG_BUNDLE.write_text(Path(certifi.where()).read_text() + Path(aws.ca).read_text())
    CA_DIRECTORY = tmp / "ca-directory"
    CA_DIRECTORY.mkdir()
    for pem in Path("/etc/ssl/certs").glob("*.pem"):
        shutil.copy(pem.resolve(), CA_DIRECTORY / pem.name)
    shutil.copy(aws.ca, CA_DIRECTORY / "ecrpy-bench-proxy-ca.pem")
    subprocess.run(["openssl", "rehash", str(CA_DIRECTORY)], check=True, capture_output=True)


def measure(aws: Aws, tmp: Path, args: Args) -> Section:
    global CONTAINER, CONTAINER_TOKEN
    _trust_stores(aws, tmp)
    CONTAINER_TOKEN = tmp / "container-authorization-token"
    CONTAINER_TOKEN.write_text("bench-container-authorization-token")
    with ContainerCredentialsServer(
        CONTAINER_TOKEN, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, "bench-pod-session"
    ) as CONTAINER:
        return _measure(aws, tmp, args)


def _measure(aws: Aws, tmp: Path, args: Args) -> Section:
    go = go_helper()
    rows, targets = [], []
    for title, name, setup, limit in SCENARIOS:
        w = setup(World(tmp, name, aws.proxy(0), aws.ca))
        ours, theirs = paired(
            title,
            [
                Cmd("ecrpy get", [str(HELPER), "get"], w, prepare=w.clear_caches),
                Cmd("Go helper get", [go, "get"], w, prepare=w.clear_caches),
            ],
            args.runs,
            warmup=1,
            aws=aws,
            tmp=tmp,
        )
        rows += [ours, theirs]
        targets.append(ratio_target(title, limit, ours, theirs, "Go"))
        if name == "cold-env":
            targets.append(
                Target(
                    "peak memory, cold get, static keys",
                    f"≤ {COLD_STATIC_RSS_MIB} MiB",
                    f"{ours.rss_mib:.1f} MiB (Go {theirs.rss_mib:.1f} MiB)",
                    ours.rss_mib <= COLD_STATIC_RSS_MIB,
                )
            )
    w = World(tmp, "herd", aws.proxy(LATENCY_MS), aws.ca).env_keys()
    herd = {n: run_herd(aws, argv, w, args.herd_rounds) for n, argv in
            (("ecrpy", [str(HELPER), "get"]), ("Go helper", [go, "get"]))}  # fmt: skip
    gats = herd["ecrpy"][1]
    targets.append(
        Target(
            f"herd: {HERD} concurrent cold gets, +{LATENCY_MS} ms",
            "1 GetAuthorizationToken",
            f"{gats} per round (Go helper: {herd['Go helper'][1]})",
            all(g == 1 for g in gats) and herd["ecrpy"][2] == 0,
        )
    )
    notes = [
        f"Herd wall time (first spawn to last exit), median of {args.herd_rounds} rounds: "
        + ", ".join(f"{n} {ms(sorted(h[0])[len(h[0]) // 2])}" for n, h in herd.items())
        + f"; failed gets: ecrpy {herd['ecrpy'][2]}, Go {herd['Go helper'][2]}."
    ]
    return Section("Cold get", rows, targets, notes)


def run_herd(
    aws: Aws, argv: list[str], w: World, rounds: int
) -> tuple[list[float], list[int], int]:
    walls, gats, failed = [], [], 0
    for _ in range(rounds):
        w.clear_caches()
        aws.server.reset_counts()
        inputs = [open(w.input, "rb") for _ in range(HERD)]
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(argv, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             env=w.env)
            for f in inputs
        ]  # fmt: skip
        outs = [p.communicate(timeout=120)[0] for p in procs]
        walls.append(time.perf_counter() - t0)
        for f in inputs:
            f.close()
        failed += sum(1 for p, o in zip(procs, outs, strict=True)
                      if p.returncode or SECRET.encode() not in o)  # fmt: skip
        gats.append(aws.server.calls("GetAuthorizationToken"))
    return walls, gats, failed


if __name__ == "__main__":
    from bench_all import run_alone

    sys.exit(run_alone(measure))
