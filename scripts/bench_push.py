"""``ecrpy push``/``pull`` against plain ``docker push``/``pull`` of the same image, with and
without the pre-flight: the wrapper's overhead. Run alone: ``.venv/bin/python
scripts/bench_push.py``.

All on 127.0.0.1 (tests/support's servers): moto in-process, docker-registry with moto's token
as password and mapped to moto's account through an ecrpy alias, a private dockerd, one imported
image (one layer, 5 MB) pushed once untimed, so each timed push is a re-push ("Layer already
exists" + manifest) and each pull is "Image is up to date". ``ecrpy push``/``pull`` run three
times with the pre-flight: as moto's default caller (``arn:aws:sts::ACCOUNT:user/moto``, no IAM
user: nothing to read in IAM), as an IAM user (``Aws.pusher``), whose policies the pre-flight
reads and simulates, as for most real callers, and as a CI job's web identity (OIDC: no keys, a
role whose session the AWS CLI cache holds after the first run; the pre-flight reads the role).
``docker push``/``pull`` (CLI 28.x) authenticate through ``credHelpers`` ->
docker-credential-ecrpy (a cache hit). moto answers in about a millisecond, so the pre-flight's
cost here is mostly CPU. Also reported: where ``ecrpy push --no-check`` spends its start
(``python -X importtime``, largest cumulative imports).
"""

from __future__ import annotations

import base64
import json
import re
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path

from bench_common import (
    CLI,
    PY,
    ROLE_ARN,
    Args,
    Aws,
    Cmd,
    Row,
    Section,
    Target,
    World,
    ms,
    paired,
)

from tests.support import MOTO_ACCOUNT, MOTO_ECR_PASSWORD, MOTO_ECR_USER, MOTO_REGION
from tests.support.images import make_tiny_image_tar

SIZE = 5_000_000
LIMIT_CHECK_S, LIMIT_NO_CHECK_S = 0.200, 0.100
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def measure(aws: Aws, tmp: Path, args: Args) -> Section:
    from tests.support.dockerd import Dockerd
    from tests.support.registry_server import RegistryServer

    registry = RegistryServer(tmp / "registry", users={MOTO_ECR_USER: MOTO_ECR_PASSWORD})
    engine = Dockerd()
    try:
        w = _world(tmp, aws, registry.host, engine.base_url)
        aws.ecr.create_repository(repositoryName="bench")
        image = f"{registry.host}/bench:v1"
        tar = make_tiny_image_tar(tmp / "rootfs.tar", size_bytes=SIZE, seed="bench")
        subprocess.run(["docker", "import", str(tar), image], env=w.env, check=True,
                       capture_output=True)  # fmt: skip
        subprocess.run(["docker", "push", "-q", image], env=w.env, check=True, capture_output=True)
        _mirror_to_moto(aws, registry.url, "bench", "v1")
        rows: list[Row] = []
        targets: list[Target] = []
        user = _as_iam_user(w, aws)
        oidc = _as_web_identity(w)
        for op in ("push", "pull"):
            base, no_check, check, check_user, check_oidc = paired(
                f"{op}, 5 MB, already there",
                [
                    Cmd(f"docker {op}", ["docker", op, "-q", image], w, stdin=False, expect=None),
                    Cmd(f"ecrpy {op} --no-check", [str(CLI), op, "-q", "--no-check", image], w,
                        stdin=False, expect=None),
                    Cmd(f"ecrpy {op}", [str(CLI), op, "-q", image], w, stdin=False, expect=None),
                    Cmd(f"ecrpy {op}, an IAM user", [str(CLI), op, "-q", image], user,
                        stdin=False, expect=None),
                    Cmd(f"ecrpy {op}, web identity", [str(CLI), op, "-q", image], oidc,
                        stdin=False, expect=None),
                ],
                args.push_runs,
                warmup=1,
                aws=aws,
                tmp=tmp,
            )  # fmt: skip
            rows += [base, no_check, check, check_user, check_oidc]
            limits = ((no_check, LIMIT_NO_CHECK_S), (check, LIMIT_CHECK_S),
                      (check_user, LIMIT_CHECK_S), (check_oidc, LIMIT_CHECK_S))  # fmt: skip
            for row, limit in limits:
                extra = row.median - base.median
                paired_extra = statistics.median(
                    a - b for a, b in zip(row.walls, base.walls, strict=True)
                )
                targets.append(
                    Target(
                        f"`{row.label}` over `docker {op}`",
                        f"≤ +{ms(limit)}",
                        f"+{ms(extra)} (median of paired differences +{ms(paired_extra)})",
                        extra <= limit,
                    )
                )
        notes = [_import_profile(w, image)]
    finally:
        engine.stop()
        registry.stop()
    return Section("Push and pull", rows, targets, notes)


def _world(tmp: Path, aws: Aws, registry: str, docker_host: str) -> World:
    w = World(tmp, "push")
    w.env_keys()
    (w.home / ".docker" / "config.json").write_text(
        json.dumps({"credHelpers": {registry: "ecrpy"}})
    )
    config = Path(w.env["ECRPY_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[registries."{registry}"]\naccount_id = "{MOTO_ACCOUNT}"\nregion = "{MOTO_REGION}"\n'
    )
    w.env.update({"DOCKER_HOST": docker_host, "AWS_ENDPOINT_URL": aws.url})
    return w


def _as_iam_user(w: World, aws: Aws) -> World:
    """The same world with an IAM user's keys (``Aws.pusher``): its pre-flight reads the
    user's IAM policies and simulates them, as it would for most real callers."""
    import copy

    user = copy.copy(w)
    user.env = dict(w.env)
    user.env.update(zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), aws.pusher(), strict=True))
    return user


def _as_web_identity(w: World) -> World:
    """The same world as a CI job with OIDC (GitHub Actions, GitLab): no keys, a web identity
    token and a role; its role session is cached in the AWS CLI cache after the first run."""
    import copy

    oidc = copy.copy(w)
    oidc.env = {k: v for k, v in w.env.items()
                if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}  # fmt: skip
    token = w.root / "web-identity-token"
    token.write_text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaSJ9.")
    oidc.env.update({"AWS_ROLE_ARN": ROLE_ARN, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
                     "AWS_ROLE_SESSION_NAME": "bench"})  # fmt: skip
    return oidc


def _mirror_to_moto(aws: Aws, registry_url: str, repo: str, tag: str) -> None:
    """REPO:TAG's manifest into moto, as ECR would have it after the push (the pull's
    pre-flight asks ECR about the tag)."""
    basic = base64.b64encode(f"{MOTO_ECR_USER}:{MOTO_ECR_PASSWORD}".encode()).decode()
    req = urllib.request.Request(
        f"{registry_url}/v2/{repo}/manifests/{tag}",
        headers={"Authorization": f"Basic {basic}", "Accept": MANIFEST_V2},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        manifest, digest = resp.read().decode(), resp.headers["Docker-Content-Digest"]
    aws.ecr.put_image(repositoryName=repo, imageManifest=manifest, imageDigest=digest,
                      imageManifestMediaType=MANIFEST_V2, imageTag=tag)  # fmt: skip


def _import_profile(w: World, image: str, runs: int = 5) -> str:
    """The largest cumulative imports of ``ecrpy push --no-check`` (medians of a few
    ``-X importtime`` runs; tracing inflates them)."""
    found: dict[str, list[int]] = {}
    for _ in range(runs):
        proc = subprocess.run(
            [str(PY), "-X", "importtime", str(CLI), "push", "-q", "--no-check", image],
            env=w.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
            if m and len(m.group(2)) <= 2:  # top-level and first-level imports
                found.setdefault(m.group(3), []).append(int(m.group(1)))
    top = sorted(((statistics.median(v) / 1000, n) for n, v in found.items()), reverse=True)
    listed = ", ".join(f"{n} {t:.0f} ms" for t, n in top[:8])
    return f"`ecrpy push --no-check` imports (cumulative, median of {runs}, traced): {listed}."


if __name__ == "__main__":
    from bench_all import run_alone

    sys.exit(run_alone(measure))
