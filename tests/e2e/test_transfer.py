"""``ecrpy push`` / ``ecrpy pull`` as real processes: a private dockerd, docker-registry standing
in for the ECR registry (reached through an ecrpy alias), and moto as ECR's control plane.

The registry and moto do not know of each other: repositories, tags and IAM live in moto (the
pre-flight and ecrpy's repository checks read them there), while the bytes go to
docker-registry, which accepts moto's deterministic token. So a test that needs a tag to
"exist" in ECR creates it in moto with ``put_image``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support import (
    MOTO_ACCOUNT,
    MOTO_ECR_PASSWORD,
    MOTO_ECR_USER,
    MOTO_REGION,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    _resolve,
    run_ecrpy,
    write_config,
)
from tests.support.aws_server import AwsServer
from tests.support.dockerd import Dockerd
from tests.support.images import make_tiny_image_tar
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.e2e

READ_ONLY = ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
             "ecr:GetDownloadUrlForLayer", "ecr:GetRepositoryPolicy", "ecr:DescribeRepositories",
             "ecr:ListImages", "ecr:DescribeImages", "ecr:BatchGetImage",
             "ecr:ListTagsForResource"]
PUSH_ONLY = ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
             "ecr:PutImage"]
POWER_USER = READ_ONLY + PUSH_ONLY
SELF_READ = ["iam:GetUser", "iam:ListUserPolicies", "iam:GetUserPolicy",
             "iam:ListAttachedUserPolicies", "iam:GetPolicy", "iam:GetPolicyVersion",
             "iam:ListGroupsForUser", "iam:ListGroupPolicies", "iam:GetGroupPolicy",
             "iam:ListAttachedGroupPolicies", "sts:GetCallerIdentity"]
SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def policy(actions: list[str]) -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})


class World:
    """moto (ECR control plane + IAM) driven with the admin keys, and the local engine."""

    def __init__(self, aws: AwsServer, registry: RegistryServer, dockerd: Dockerd) -> None:
        import docker

        kw = {"endpoint_url": aws.url, "region_name": MOTO_REGION,
              "aws_access_key_id": TEST_ACCESS_KEY_ID,
              "aws_secret_access_key": TEST_SECRET_ACCESS_KEY}
        self.iam = boto3.client("iam", **kw)
        self.ecr = boto3.client("ecr", **kw)
        self.uid = uuid.uuid4().hex[:8]
        self.registry = registry
        self.host = registry.host
        self.docker = docker.DockerClient(base_url=dockerd.base_url)

    def name(self, base: str) -> str:
        return f"{base}-{self.uid}"

    def repo(self, base: str = "app", immutable: bool = False) -> str:
        name = self.name(base)
        self.ecr.create_repository(
            repositoryName=name, imageTagMutability="IMMUTABLE" if immutable else "MUTABLE")
        return name

    def tag_in_moto(self, repo: str, tag: str) -> None:
        """Make ``tag`` exist in moto's metadata (moto accepts a manifest whose blobs it has
        never seen)."""
        digest = "sha256:" + uuid.uuid4().hex * 2
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST_V2,
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                               "size": 2, "digest": digest},
                    "layers": []}
        self.ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest),
                           imageManifestMediaType=MANIFEST_V2, imageTag=tag)

    def user(self, base: str, actions: list[str]) -> dict[str, str]:
        name = self.name(base)
        self.iam.create_user(UserName=name)
        self.iam.put_user_policy(UserName=name, PolicyName="ecr", PolicyDocument=policy(actions))
        self.iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=policy(SELF_READ))
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}

    def local_image(self, repo: str, tag: str = "v1", size: int = 4096) -> str:
        """``docker import`` a tiny rootfs as HOST/REPO:TAG; return the reference."""
        ref = f"{self.host}/{repo}"
        path = make_tiny_image_tar(Path("/tmp") / f"ecrpy-tx-{self.uid}.tar", size_bytes=size)
        try:
            self.docker.api.import_image_from_data(path.read_bytes(), repository=ref, tag=tag)
        finally:
            path.unlink()
        return f"{ref}:{tag}"

    def mirror_to_moto(self, repo: str, tag: str) -> None:
        """Copy REPO:TAG's manifest from docker-registry into moto, as real ECR would have it
        after the push (the pull's tag lookup asks moto)."""
        req = urllib.request.Request(
            f"{self.registry.url}/v2/{repo}/manifests/{tag}",
            headers={"Authorization": f"Basic {self._basic()}", "Accept": MANIFEST_V2})
        with urllib.request.urlopen(req, timeout=10) as resp:
            manifest = resp.read().decode()
            digest = resp.headers["Docker-Content-Digest"]
        self.ecr.put_image(repositoryName=repo, imageManifest=manifest, imageDigest=digest,
                           imageManifestMediaType=MANIFEST_V2, imageTag=tag)

    @staticmethod
    def _basic() -> str:
        return base64.b64encode(f"{MOTO_ECR_USER}:{MOTO_ECR_PASSWORD}".encode()).decode()

    def registry_has(self, repo: str, reference: str) -> bool:
        """Whether docker-registry serves a manifest for REPO:REFERENCE."""
        req = urllib.request.Request(
            f"{self.registry.url}/v2/{repo}/manifests/{reference}", method="HEAD",
            headers={"Authorization": f"Basic {self._basic()}", "Accept": MANIFEST_V2})
        try:
            with urllib.request.urlopen(req, timeout=10):
                return True
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise


@pytest.fixture
def world(aws: AwsServer, registry_server: RegistryServer, dockerd: Dockerd) -> World:
    return World(aws, registry_server, dockerd)


@pytest.fixture
def env(helper_env: dict[str, str], registry_server: RegistryServer,
        dockerd: Dockerd) -> dict[str, str]:
    """helper_env + the private engine + the registry as an alias of moto's account."""
    write_config(helper_env, f'[registries."{registry_server.host}"]\n'
                             f'account_id = "{MOTO_ACCOUNT}"\nregion = "{MOTO_REGION}"\n')
    return {**helper_env, **dockerd.env()}


def as_user(env: dict[str, str], user: dict[str, str]) -> dict[str, str]:
    return {**env, "AWS_ACCESS_KEY_ID": user["key"], "AWS_SECRET_ACCESS_KEY": user["secret"]}


def ecrpy(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = run_ecrpy(env, *args, timeout=120)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def ctrl_c_when(env: dict[str, str], marker: str, *args: str) -> tuple[int, str]:
    """Run ``ecrpy ARGS``, press Ctrl-C (SIGINT) once a stdout line holds ``marker``:
    (exit status, stderr)."""
    proc = subprocess.Popen([_resolve("ecrpy", env), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        seen += line
        if marker in line or not line:
            break
    assert marker in seen, (seen, proc.stderr.read() if proc.stderr else "")
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err.decode()


def one_line_error(stderr: str) -> str:
    """The single ``ecrpy: ...`` error line (and never a traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("ecrpy: ")
             and not ln.startswith("ecrpy: warning:")]
    assert len(lines) == 1, stderr
    return lines[0]


# -- the documented --json schema (docs/transfer-json-schema.md), checked by hand -------------

KEYS = {"schema", "operation", "image", "registry", "repository", "tag", "digest", "size",
        "manifest_size", "bytes_transferred", "layers", "layer_details", "up_to_date",
        "repository_created", "preflight", "duration_seconds", "transfer_seconds", "scan"}
LAYER_COUNTS = {"total", "pushed", "mounted", "skipped", "downloaded", "already_present"}
RESULTS = {"pushed", "mounted", "skipped", "downloaded", "already_present", None}


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def validate(d: dict[str, Any]) -> None:
    assert set(d) == KEYS, set(d) ^ KEYS
    assert d["schema"] == "ecrpy.transfer/1"
    assert d["operation"] in ("push", "pull")
    for key in ("image", "registry", "repository"):
        assert isinstance(d[key], str) and d[key]
    assert d["tag"] is None or isinstance(d["tag"], str)
    assert d["digest"] is None or SHA256.match(d["digest"])
    assert d["size"] is None or _int(d["size"])
    assert d["manifest_size"] is None or _int(d["manifest_size"])
    assert _int(d["bytes_transferred"])
    assert set(d["layers"]) == LAYER_COUNTS
    assert all(_int(v) for v in d["layers"].values())
    assert sum(d["layers"][k] for k in LAYER_COUNTS - {"total"}) <= d["layers"]["total"]
    assert len(d["layer_details"]) == d["layers"]["total"]
    for layer in d["layer_details"]:
        assert set(layer) == {"id", "result", "bytes", "mounted_from"}
        assert isinstance(layer["id"], str) and layer["result"] in RESULTS
        assert _int(layer["bytes"])
        assert layer["mounted_from"] is None or isinstance(layer["mounted_from"], str)
    if d["operation"] == "push":
        assert d["up_to_date"] is None
        assert d["layers"]["downloaded"] == d["layers"]["already_present"] == 0
    else:
        assert isinstance(d["up_to_date"], bool)
        assert d["layers"]["pushed"] == d["layers"]["mounted"] == d["layers"]["skipped"] == 0
    assert isinstance(d["repository_created"], bool)
    pre = d["preflight"]
    assert pre is None or (set(pre) == {"verdict", "elapsed_seconds"}
                           and pre["verdict"] in ("allowed", "undetermined")
                           and isinstance(pre["elapsed_seconds"], float))
    for key in ("duration_seconds", "transfer_seconds"):
        assert isinstance(d[key], float) and d[key] >= 0
    assert d["transfer_seconds"] <= d["duration_seconds"]
    assert d["scan"] is None or isinstance(d["scan"], dict)  # tests/e2e/test_scan.py checks it


def run_json(env: dict[str, str], *args: str) -> tuple[dict[str, Any], str]:
    code, out, err = ecrpy(env, *args, "--json")
    assert code == 0, (code, out, err)
    doc = json.loads(out)
    validate(doc)
    return doc, err


# -- the cases ---------------------------------------------------------------------------------

def test_power_user_pushes_and_pulls_back_the_same_digest(
    aws: AwsServer, world: World, env: dict[str, str], registry_server: RegistryServer
) -> None:
    repo = world.repo()
    user = world.user("power", POWER_USER)
    image = world.local_image(repo, "v1", size=200_000)
    env = as_user(env, user)
    aws.enable_iam_auth()
    blobs = registry_server.blob_count()

    pushed, progress = run_json(env, "push", image)
    assert pushed["operation"] == "push" and pushed["image"] == image
    assert pushed["layers"]["total"] == 1 and pushed["layers"]["pushed"] == 1
    assert pushed["preflight"] is not None
    assert pushed["bytes_transferred"] > 0 and pushed["size"] >= 200_000
    assert SHA256.match(pushed["digest"])
    # Plain progress (stderr is not a TTY): one line per state change, the last with a size.
    assert re.search(r"^[0-9a-f]{12}: Pushed \(\d+(\.\d)? kB\)$", progress, re.M), progress
    assert not re.search(r"^[0-9a-f]{12}: Pushing$.*^[0-9a-f]{12}: Pushing$", progress,
                         re.M | re.S)
    assert registry_server.blob_count() == blobs + 3  # layer, config, manifest
    assert world.registry_has(repo, "v1")
    # The token went in-process: docker's config.json was never written.
    assert not (Path(env["DOCKER_CONFIG"]) / "config.json").exists()

    again, _ = run_json(env, "push", image)
    assert again["layers"]["skipped"] == 1 and again["digest"] == pushed["digest"]

    aws.disable_iam_auth()
    world.mirror_to_moto(repo, "v1")  # real ECR knows the tag after the push; moto did not see it
    aws.enable_iam_auth()
    world.docker.api.remove_image(image)
    pulled, _ = run_json(env, "pull", image)
    assert pulled["digest"] == pushed["digest"]
    assert pulled["layers"]["downloaded"] == 1 and pulled["up_to_date"] is False
    local = world.docker.api.inspect_image(image)
    assert f"{world.host}/{repo}@{pushed['digest']}" in local["RepoDigests"]

    by_digest, _ = run_json(env, "pull", f"{world.host}/{repo}@{pushed['digest']}")
    assert by_digest["digest"] == pushed["digest"] and by_digest["up_to_date"] is True


def test_docker_context_is_honoured_without_docker_host(
    aws: AwsServer, world: World, env: dict[str, str], dockerd: Dockerd
) -> None:
    import hashlib

    repo = world.repo()
    image = world.local_image(repo, "ctx")
    env = {k: v for k, v in env.items() if k != "DOCKER_HOST"}
    meta = Path(env["DOCKER_CONFIG"]) / "contexts" / "meta" / hashlib.sha256(b"tests").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": "tests", "Metadata": {}, "Endpoints": {"docker": {"Host": dockerd.base_url}}}))
    (Path(env["DOCKER_CONFIG"]) / "config.json").write_text('{"currentContext": "tests"}')
    doc, _ = run_json(env, "push", "--no-check", image)
    assert doc["layers"]["pushed"] == 1 and doc["preflight"] is None

    code, _, err = ecrpy({**env, "DOCKER_CONTEXT": "nope"}, "push", "--no-check", image)
    assert code == 1 and "docker context 'nope'" in one_line_error(err)


def test_read_only_push_is_refused_before_any_blob_reaches_the_registry(
    aws: AwsServer, world: World, env: dict[str, str], registry_server: RegistryServer
) -> None:
    repo = world.repo()
    user = world.user("ro", READ_ONLY)
    image = world.local_image(repo, "v1")
    env = as_user(env, user)
    aws.enable_iam_auth()
    blobs = registry_server.blob_count()

    code, out, err = ecrpy(env, "push", image)
    assert code == 3, (out, err)
    assert registry_server.blob_count() == blobs
    assert not world.registry_has(repo, "v1")
    assert "verdict: DENIED" in err and "ecr:PutImage" in err  # the check's explanation + fix
    line = one_line_error(err)
    assert "refused by the pre-flight check" in line and "nothing was sent" in line
    # the pre-flight's probes store nothing in ECR (its PutImage probe names no real blob)
    from moto.ecr.models import ecr_backends
    assert not ecr_backends[MOTO_ACCOUNT][MOTO_REGION].repositories[repo].images

    # --json: a pipeline reading stdout gets the failure as a document too
    code, out, err = ecrpy(env, "push", "--json", image)
    assert code == 3, (out, err)
    doc = json.loads(out)
    assert doc["schema"] == "ecrpy.error/1"  # docs/json-output.md
    assert (doc["command"], doc["image"]) == ("push", image)
    assert doc["exit_code"] == 3 and "refused" in doc["error"]
    assert set(doc) == {"schema", "error", "hint", "exit_code", "command", "image"}
    assert registry_server.blob_count() == blobs


def test_existing_tag_in_an_immutable_repository_is_refused(
    aws: AwsServer, world: World, env: dict[str, str], registry_server: RegistryServer
) -> None:
    repo = world.repo(immutable=True)
    world.tag_in_moto(repo, "v1")
    image = world.local_image(repo, "v1")
    blobs = registry_server.blob_count()
    for extra in ((), ("--no-check",)):  # the pre-flight says so; without it ecrpy checks
        code, out, err = ecrpy(env, "push", *extra, image)
        assert code == 3, (extra, out, err)
        assert "IMMUTABLE" in one_line_error(err)
        assert registry_server.blob_count() == blobs

    fresh = world.local_image(repo, "v2")
    code, out, err = ecrpy(env, "push", fresh)  # human output: progress lines + a summary
    assert code == 0, err
    lines = out.splitlines()
    assert re.fullmatch(r"[0-9a-f]{12}: Pushed \(\d+(\.\d)? kB\)", lines[-2]), out
    assert re.fullmatch(rf"pushed {re.escape(fresh)}@sha256:[0-9a-f]{{64}} \(1 layer: "
                        r"1 pushed; .* in \d+\.\ds\)", lines[-1]), lines[-1]
    world.mirror_to_moto(repo, "v2")  # as ECR would hold it after the push
    code, out, _ = ecrpy(env, "pull", "-q", fresh)
    assert code == 0 and re.fullmatch(rf"{re.escape(fresh[:-3])}@sha256:[0-9a-f]{{64}}\n", out)


def test_missing_repository_is_refused_or_created(
    aws: AwsServer, world: World, env: dict[str, str], registry_server: RegistryServer
) -> None:
    repo = world.name("new")
    image = world.local_image(repo, "v1")
    for extra in ((), ("--no-check",)):
        code, _, err = ecrpy(env, "push", *extra, image)
        assert code == 3
        line = one_line_error(err)
        assert "does not exist" in line and "--create-repo" in line

    code, _, err = ecrpy(env, "push", "--immutable", image)
    assert code == 2 and "--create-repo" in one_line_error(err)

    doc, _ = run_json(env, "push", "--create-repo", "--immutable", "--scan-on-push", image)
    assert doc["repository_created"] is True and doc["layers"]["pushed"] == 1
    created = world.ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]
    assert created["imageTagMutability"] == "IMMUTABLE"
    assert created["imageScanningConfiguration"] == {"scanOnPush": True}


def test_pull_of_a_missing_tag_lists_the_nearest_tags(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo = world.repo()
    for tag in ("v1.0", "v1.1", "v1.2", "v1.10", "latest", "nightly-2024", "release"):
        world.tag_in_moto(repo, tag)
    code, out, err = ecrpy(env, "pull", f"{world.host}/{repo}:v1.3")
    assert code == 3, (out, err)
    line = one_line_error(err)
    assert "tag v1.3 not found" in line
    nearest = line.split("nearest tags: ", 1)[1].split(", ")
    assert nearest[:3] == ["v1.0", "v1.1", "v1.2"] and len(nearest) == 5
    assert "nightly-2024" not in nearest

    code, _, err = ecrpy(env, "pull", "--no-check", f"{world.host}/{world.name('ghost')}:v1")
    assert code == 3 and "does not exist" in one_line_error(err)


def test_missing_or_rejected_aws_identity_gives_one_line_with_the_fix(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo = world.repo()
    image = world.local_image(repo, "v1")
    bare = {k: v for k, v in env.items()
            if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    code, _, err = ecrpy(bare, "push", image)
    assert code == 1
    line = one_line_error(err)
    assert "no AWS credentials found" in line and "aws configure" in line

    expired = {**env, "AWS_SESSION_TOKEN": "expired-session",
               "AWS_CREDENTIAL_EXPIRATION": "2020-01-01T00:00:00Z"}
    code, _, err = ecrpy(expired, "pull", image)
    assert code == 1
    line = one_line_error(err)
    assert "expired" in line.lower()

    aws.enable_iam_auth()  # now unknown keys are rejected
    rejected = {**env, "AWS_ACCESS_KEY_ID": "AKIAUNKNOWNUNKNOWN00"}
    code, _, err = ecrpy(rejected, "push", "--no-check", image)
    assert code == 1
    line = one_line_error(err)
    assert "AWS rejected the credentials" in line and "check the access key" in line


def test_usage_errors_exit_2(world: World, env: dict[str, str]) -> None:
    for args in (("push", "docker.io/library/alpine:3"), ("pull", "ghcr.io/x/y"),
                 ("push", f"{world.host}/app@sha256:{'a' * 64}"), ("pull", "no-registry"),
                 ("push", "--strict", "--no-check", f"{world.host}/app:v1")):
        code, _, err = ecrpy(env, *args)
        assert code == 2, (args, err)
        one_line_error(err)
    _, _, err = ecrpy(env, "pull", "ghcr.io/x/y")
    assert "not an ECR registry or a configured alias" in err


def test_engine_error_in_the_stream_is_one_line_exit_1(
    aws: AwsServer, world: World, env: dict[str, str], registry_server: RegistryServer
) -> None:
    """The registry refuses the (stale) token: the engine reports it inside the JSON stream."""
    repo = world.repo()
    image = world.local_image(repo, "v1")
    registry_server.set_password(MOTO_ECR_USER, "something-else")
    try:
        code, out, err = ecrpy(env, "push", "--no-check", image)
    finally:
        registry_server.set_password(MOTO_ECR_USER, MOTO_ECR_PASSWORD)
    assert code == 1, (out, err)
    line = one_line_error(err)
    assert line.startswith("ecrpy: push failed: ") and "unauthorized" in line


def test_ctrl_c_during_a_push_stops_cleanly(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo = world.repo()
    image = world.local_image(repo, "big", size=150_000_000)
    code, err = ctrl_c_when(env, ": Pushing", "push", "--no-check", image)
    assert code == 130, err
    line = one_line_error(err)
    assert "push interrupted" in line and "tag was not updated" in line
    time.sleep(0.5)
    assert not world.registry_has(repo, "big")


def test_progress_bars_on_a_terminal(aws: AwsServer, world: World, env: dict[str, str]) -> None:
    """stdout is a TTY: rich draws per-layer bars (bytes, speed) instead of plain lines."""
    import pty

    repo = world.repo()
    image = world.local_image(repo, "tty", size=2_000_000)
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([_resolve("ecrpy", env), "push", "--no-check", image],
                            env={**env, "TERM": "xterm", "COLUMNS": "120"}, stdout=secondary,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, err = proc.communicate(timeout=60)
    os.close(primary)
    out = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, (out, err)
    assert "\x1b[" in out  # drawn with terminal control sequences
    assert re.search(r"[0-9a-f]{12}\S*\s.*Pushed", out) and "MB" in out
    assert f"pushed {image}@sha256:" in out
