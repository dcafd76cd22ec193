"""A real-size ``ecrpy push`` and ``ecrpy pull`` over a slow link, from a cold token cache.

The helper's 9 s deadline is for docker waiting on ``docker-credential-ecrpy get``; it must
never reach ``ecrpy push``/``pull``, which fetch the token in-process and then transfer for as
long as the image needs. Until the token service took the deadline as a parameter, a cold-cache
push armed the helper's watchdog and died 9 s in ("timed out after 9s waiting for AWS or the
keyring", exit 1). Tiny test images never lasted that long, so here the registry is reached
through ``ThrottledProxy`` (1 MB/s up) and the image is 32 MiB of random bytes: the push takes
over 30 s. Same setup as test_transfer.py (private dockerd, docker-registry behind an ecrpy
alias, moto for ECR's control plane).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_transfer import World, ecrpy, validate
from tests.support import MOTO_ACCOUNT, MOTO_REGION, write_config
from tests.support.aws_server import AwsServer
from tests.support.dockerd import Dockerd
from tests.support.images import make_big_image_tar
from tests.support.registry_server import RegistryServer
from tests.support.throttle_proxy import ThrottledProxy

pytestmark = pytest.mark.e2e

GAT = "GetAuthorizationToken"
SIZE = 32 * 1024 * 1024  # random, so the pushed (gzipped) layer is as big
UP = 1_000_000  # bytes/s towards the registry: the push needs >= 33.5 s
DOWN = 2_500_000  # bytes/s back: the pull needs >= 13.4 s, well past the helper's 9 s
HELPER_DEADLINE = 9.0


@pytest.fixture
def link(registry_server: RegistryServer) -> Iterator[ThrottledProxy]:
    with ThrottledProxy(("127.0.0.1", registry_server.port), up=UP, down=DOWN,
                        lifetime=240) as proxy:
        yield proxy


def _token_files(env: dict[str, str]) -> list[Path]:
    folder = Path(env["ECRPY_CACHE_DIR"]) / "tokens"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def test_long_push_and_pull_from_a_cold_cache_complete(
    aws: AwsServer, registry_server: RegistryServer, dockerd: Dockerd,
    helper_env: dict[str, str], link: ThrottledProxy, tmp_path: Path,
) -> None:
    world = World(aws, registry_server, dockerd)
    repo = world.repo("slow")
    name = f"{link.host}/{repo}"
    image = f"{name}:v1"
    write_config(helper_env, f'[registries."{link.host}"]\n'
                             f'account_id = "{MOTO_ACCOUNT}"\nregion = "{MOTO_REGION}"\n')
    env = {**helper_env, **dockerd.env()}
    tar = make_big_image_tar(tmp_path / "big.tar", SIZE)
    world.docker.api.import_image_from_file(str(tar), repository=name, tag="v1")
    tar.unlink()
    try:
        assert _token_files(env) == []  # cold: the push fetches the token itself

        started = time.monotonic()
        code, out, err = ecrpy(env, "push", "--no-check", "--json", image)
        took = time.monotonic() - started
        assert code == 0, (code, out, err[-3000:])
        assert "timed out" not in err
        pushed = json.loads(out)
        validate(pushed)
        assert pushed["layers"]["pushed"] == 1
        print(f"[long-transfer] push of {SIZE} B at {UP} B/s: {took:.1f}s")
        assert took > 30 and pushed["transfer_seconds"] > 30, (took, pushed)
        assert link.forwarded["up"] >= SIZE  # it really went through the slow link
        assert aws.calls(GAT) == 1 and len(_token_files(env)) == 1
        assert world.registry_has(repo, "v1")
        assert world.registry_has(repo, pushed["digest"])

        # The pull counterpart: cold again, no local image, slower than the helper's deadline.
        world.docker.api.remove_image(image)
        shutil.rmtree(Path(env["ECRPY_CACHE_DIR"]) / "tokens")
        down_before = link.forwarded["down"]
        started = time.monotonic()
        code, out, err = ecrpy(env, "pull", "--no-check", "--json", image)
        took = time.monotonic() - started
        assert code == 0, (code, out, err[-3000:])
        assert "timed out" not in err
        pulled = json.loads(out)
        validate(pulled)
        assert pulled["digest"] == pushed["digest"]
        assert pulled["layers"]["downloaded"] == 1 and pulled["up_to_date"] is False
        print(f"[long-transfer] pull of {SIZE} B at {DOWN} B/s: {took:.1f}s")
        assert took > HELPER_DEADLINE + 3, took
        assert link.forwarded["down"] - down_before >= SIZE
        assert aws.calls(GAT) == 2
        local = world.docker.api.inspect_image(image)
        assert f"{name}@{pushed['digest']}" in local["RepoDigests"]
    finally:
        try:
            world.docker.api.remove_image(image, force=True)
        except Exception:  # already gone: the pull step removed it
            pass
