"""Real clients of the helper: the docker SDK's Store, skopeo, the docker CLI, podman.

The registry is Debian's docker-registry on 127.0.0.1 with htpasswd user ``AWS`` and moto's
token as password; ecrpy reaches it through a config alias mapping it to moto's account.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import MOTO_ACCOUNT, MOTO_ECR_PASSWORD, run_ecrpy, run_helper, write_config
from tests.support.aws_server import AwsServer
from tests.support.images import make_oci_layout
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.e2e
GAT = "GetAuthorizationToken"


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (scripts/test installs it)")
        pytest.skip(f"{name} is not installed")
    return exe


def alias(env: dict[str, str], host: str) -> None:
    write_config(
        env, f'[registries."{host}"]\naccount_id = "{MOTO_ACCOUNT}"\nregion = "us-east-1"\n'
    )


def run(
    env: dict[str, str], *args: str, stdin: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        list(args), env=env, input=stdin, capture_output=True, timeout=timeout, check=False
    )


def push_through_helper(env: dict[str, str], host: str, ref: str, tmp_path: Path) -> Path:
    """Alias ``host``, ``ecrpy configure`` it, and push a tiny OCI image to ``ref`` with skopeo
    (credentials from the helper). Returns the permissive signature policy file it wrote."""
    skopeo = tool("skopeo")
    alias(env, host)
    assert run_ecrpy(env, "configure", host).returncode == 0
    make_oci_layout(tmp_path / "src", tag="v1")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    proc = run(
        env,
        skopeo,
        "--policy",
        str(policy),
        "copy",
        "--dest-tls-verify=false",
        f"oci:{tmp_path / 'src'}:v1",
        f"docker://{ref}",
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return policy


def test_docker_sdk_store(
    aws: AwsServer,
    helper_env: dict[str, str],
    registry_server: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import docker.credentials
    import docker.errors

    monkeypatch.setenv("PATH", helper_env["PATH"])  # Store looks the program up on our PATH
    alias(helper_env, registry_server.host)
    store = docker.credentials.Store("ecrpy", environment=helper_env)
    got = store.get(registry_server.host)
    assert got == {
        "ServerURL": registry_server.host,
        "Username": "AWS",
        "Secret": MOTO_ECR_PASSWORD,
    }
    with pytest.raises(docker.credentials.errors.CredentialsNotFound):
        store.get("ghcr.io")
    store.store("https://index.example.test", "carol", "pa55word")
    assert store.get("index.example.test")["Secret"] == "pa55word"
    listed = store.list()
    assert listed == {registry_server.host: "AWS", "https://index.example.test": "carol"}
    store.erase("https://index.example.test")
    with pytest.raises(docker.credentials.errors.CredentialsNotFound):
        store.get("index.example.test")
    assert aws.calls(GAT) == 1


def test_skopeo_copies_through_the_helper(
    aws: AwsServer, helper_env: dict[str, str], registry_server: RegistryServer, tmp_path: Path
) -> None:
    skopeo = tool("skopeo")
    alias(helper_env, registry_server.host)
    proc = run_ecrpy(helper_env, "configure", registry_server.host)
    assert proc.returncode == 0, proc.stderr
    image = make_oci_layout(tmp_path / "src", tag="v1")
    ref = f"docker://{registry_server.host}/e2e/skopeo:v1"
    base = [skopeo, "--registries-conf", "/dev/null", "--policy", str(tmp_path / "policy.json")]
    (tmp_path / "policy.json").write_text(
        json.dumps({"default": [{"type": "insecureAcceptAnything"}]})
    )
    proc = run(
        helper_env, *base, "copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'src'}:v1", ref
    )
    assert proc.returncode == 0, proc.stderr.decode()
    proc = run(
        helper_env, *base, "copy", "--src-tls-verify=false", ref, f"oci:{tmp_path / 'back'}:v1"
    )
    assert proc.returncode == 0, proc.stderr.decode()
    back_index = json.loads((tmp_path / "back" / "index.json").read_text())
    assert back_index["manifests"][0]["digest"] == image.manifest_digest
    assert aws.calls(GAT) == 1  # both copies, one token (the second from the cache)
    # without the helper the registry refuses
    os.remove(os.path.join(helper_env["DOCKER_CONFIG"], "config.json"))
    proc = run(helper_env, *base, "inspect", "--tls-verify=false", ref)
    assert proc.returncode != 0


def test_docker_cli_manifest_inspect_calls_get(
    aws: AwsServer, helper_env: dict[str, str], registry_server: RegistryServer, tmp_path: Path
) -> None:
    docker_cli = tool("docker")
    ref = f"{registry_server.host}/e2e/manifest:v1"
    push_through_helper(helper_env, registry_server.host, ref, tmp_path)
    proc = run(helper_env, docker_cli, "manifest", "inspect", "--insecure", ref)
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["schemaVersion"] == 2


def test_docker_login_logout_with_creds_store(
    aws: AwsServer, helper_env: dict[str, str], registry_server: RegistryServer
) -> None:
    docker_cli = tool("docker")
    config = Path(helper_env["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"credsStore": "ecrpy"}))
    host = registry_server.host  # no alias: a plain, non-ECR registry -> the keyring
    proc = run(
        helper_env,
        docker_cli,
        "login",
        "-u",
        "AWS",
        "--password-stdin",
        host,
        stdin=MOTO_ECR_PASSWORD.encode(),
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert MOTO_ECR_PASSWORD not in config.read_text()  # the secret went to the store, not the file
    got = json.loads(run_helper(helper_env, "get", host).stdout)
    assert got["Username"] == "AWS" and got["Secret"] == MOTO_ECR_PASSWORD
    proc = run(helper_env, docker_cli, "logout", host)
    assert proc.returncode == 0, proc.stderr.decode()
    assert run_helper(helper_env, "get", host).returncode == 1
    assert aws.calls(GAT) == 0


def test_docker_login_to_ecr_does_not_fail(
    aws: AwsServer, helper_env: dict[str, str], registry_server: RegistryServer
) -> None:
    docker_cli = tool("docker")
    alias(helper_env, registry_server.host)
    config = Path(helper_env["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"credHelpers": {registry_server.host: "ecrpy"}}))
    proc = run(
        helper_env,
        docker_cli,
        "login",
        "-u",
        "AWS",
        "--password-stdin",
        registry_server.host,
        stdin=MOTO_ECR_PASSWORD.encode(),
    )
    assert proc.returncode == 0, proc.stderr.decode()
    data = json.loads(config.read_text())
    assert data["credHelpers"] == {registry_server.host: "ecrpy"}
    assert MOTO_ECR_PASSWORD not in config.read_text()  # docker kept only an empty auths stub


def test_podman_pulls_through_the_helper(
    aws: AwsServer, helper_env: dict[str, str], registry_server: RegistryServer, tmp_path: Path
) -> None:
    podman = tool("podman")
    ref = f"{registry_server.host}/e2e/podman:v1"
    policy = push_through_helper(helper_env, registry_server.host, ref, tmp_path)

    # podman refuses a runroot longer than 50 characters: pytest's tmp_path is too deep.
    with tempfile.TemporaryDirectory(prefix="ecrpy-podman-") as short:
        os.mkdir(os.path.join(short, "xdg"))
        env = dict(helper_env, XDG_RUNTIME_DIR=os.path.join(short, "xdg"))
        root, runroot = os.path.join(short, "root"), os.path.join(short, "run")
        base = [podman, "--root", root, "--runroot", runroot, "--storage-driver", "vfs"]
        proc = run(env, *base, "pull", "--tls-verify=false", "--signature-policy", str(policy), ref)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"Writing manifest to image destination" in proc.stderr
    assert aws.calls(GAT) == 1  # skopeo fetched it, podman was served from the cache
