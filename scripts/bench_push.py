"""Wall time of ``ecrpy push`` against plain ``docker push`` of the same image: the pre-flight's
overhead. Prints a table of medians (``--runs`` each, default 7, at least 5).

Setup (all on 127.0.0.1, nothing outside the temp dir touched): moto in-process
(``tests.support.aws_server``, 12 h tokens), docker-registry with moto's token as password and
mapped to moto's account through an ecrpy alias, a private dockerd, one imported image (one
layer, ``--size`` bytes, default 5 MB) pushed once untimed so every timed run is the steady state
of a re-push ("Layer already exists" + manifest). Measured, alternating so drift hits all alike:

* ``docker push`` (CLI 28.x; auth through ``credHelpers`` -> docker-credential-ecrpy, a cache hit)
* ``ecrpy push --no-check`` (Python start, docker SDK, token from the cache, the same push)
* ``ecrpy push`` (the above plus the permission pre-flight against moto)

moto answers in about a millisecond, so the pre-flight cost here is mostly CPU (boto3 import,
client creation, the check's thread pool); against real AWS add the round trips of its
critical path. Usage: ``.venv/bin/python scripts/bench_push.py [--runs 7] [--size BYTES]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import (  # noqa: E402
    MOTO_ACCOUNT,
    MOTO_ECR_PASSWORD,
    MOTO_ECR_USER,
    MOTO_REGION,
    SYSTEM_PATH,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
)
from tests.support.images import make_tiny_image_tar  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                         f"{proc.stdout.decode()}\n{proc.stderr.decode()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size", type=int, default=5_000_000)
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")

    import logging

    import boto3
    import docker

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # moto's NotImplemented tracebacks

    from tests.support.aws_server import AwsServer
    from tests.support.dockerd import Dockerd
    from tests.support.registry_server import RegistryServer

    tmp = Path(tempfile.mkdtemp(prefix="ecrpy-bench-push-"))
    aws = AwsServer()
    registry = RegistryServer(tmp / "registry", users={MOTO_ECR_USER: MOTO_ECR_PASSWORD})
    engine = Dockerd()
    try:
        home = tmp / "home"
        docker_config = home / ".docker"
        docker_config.mkdir(parents=True)
        (home / ".aws").mkdir()
        (home / ".aws" / "config").touch()
        (home / ".aws" / "credentials").touch()
        # docker CLI: the same helper, the same token cache (a hit after the first run).
        (docker_config / "config.json").write_text(
            json.dumps({"credHelpers": {registry.host: "ecrpy"}}))
        config = tmp / "ecrpy" / "config.toml"
        config.parent.mkdir()
        config.write_text(f'[registries."{registry.host}"]\naccount_id = "{MOTO_ACCOUNT}"\n'
                          f'region = "{MOTO_REGION}"\n')
        env = {
            "HOME": str(home),
            "DOCKER_CONFIG": str(docker_config),
            "DOCKER_HOST": engine.base_url,
            "ECRPY_CONFIG": str(config),
            "ECRPY_CACHE_DIR": str(tmp / "cache"),
            "ECRPY_LOG_DIR": str(tmp / "logs"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".state"),
            "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
            "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": MOTO_REGION,
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PATH": f"{VENV_BIN}{os.pathsep}{SYSTEM_PATH}",
            "LANG": "C.UTF-8",
        }
        boto3.client("ecr", endpoint_url=aws.url, region_name=MOTO_REGION,
                     aws_access_key_id=TEST_ACCESS_KEY_ID,
                     aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
                     ).create_repository(repositoryName="bench")
        image = f"{registry.host}/bench:v1"
        tar = make_tiny_image_tar(tmp / "rootfs.tar", size_bytes=args.size, seed="bench")
        client = docker.DockerClient(base_url=engine.base_url)
        client.api.import_image_from_data(tar.read_bytes(), repository=f"{registry.host}/bench",
                                          tag="v1")
        commands = {
            "docker push": ["docker", "push", "--quiet", image],
            "ecrpy push --no-check": [str(VENV_BIN / "ecrpy"), "push", "-q", "--no-check", image],
            "ecrpy push": [str(VENV_BIN / "ecrpy"), "push", "-q", image],
        }
        for cmd in commands.values():  # warm-up: first upload, token fetch, page cache
            timed(cmd, env)
        if os.environ.get("BENCH_PUSH_PROFILE"):
            prof = [str(VENV_BIN / "python"), "-m", "cProfile", "-s", "cumtime",
                    str(VENV_BIN / "ecrpy"), *commands["ecrpy push --no-check"][1:]]
            out = subprocess.run(prof, env=env, capture_output=True, text=True)
            print("\n".join(out.stdout.splitlines()[:60]))
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                samples[name].append(timed(cmd, env))
        base = statistics.median(samples["docker push"])
        print(f"image: 1 layer, {args.size} bytes, re-push (layer already exists); "
              f"{args.runs} runs each, median (min-max) in ms")
        for name, values in samples.items():
            med = statistics.median(values)
            print(f"  {name:<24} {med * 1000:7.0f}  ({min(values) * 1000:.0f}-"
                  f"{max(values) * 1000:.0f})  {'+' if med >= base else ''}"
                  f"{(med - base) * 1000:.0f} vs docker push")
        pre = statistics.median(samples["ecrpy push"]) - statistics.median(
            samples["ecrpy push --no-check"])
        print(f"  pre-flight alone (ecrpy push - ecrpy push --no-check): {pre * 1000:.0f} ms")
    finally:
        engine.stop()
        registry.stop()
        aws.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
