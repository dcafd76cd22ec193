"""docker-credential-ecrpy as a real process against moto's server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import (
    MOTO_ACCOUNT,
    MOTO_ECR_PASSWORD,
    TEST_SECRET_ACCESS_KEY,
    ecr_host,
    run_ecrpy,
    run_helper,
    write_config,
)
from tests.support.aws_server import AwsServer
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.e2e
NOT_FOUND = b"credentials not found in native keychain"
GAT = "GetAuthorizationToken"
HOST = ecr_host()


def get_ok(env: dict[str, str], server_url: str) -> dict[str, str]:
    proc = run_helper(env, "get", server_url)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    data = json.loads(proc.stdout)
    assert isinstance(data, dict)
    return data


def test_get_serves_the_token_then_hits_the_cache(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    first = get_ok(helper_env, HOST)
    assert first == {"ServerURL": HOST, "Username": "AWS", "Secret": MOTO_ECR_PASSWORD}
    assert aws.calls(GAT) == 1
    assert get_ok(helper_env, HOST) == first
    assert aws.calls(GAT) == 1  # served from the cache, no network
    cache_files = os.listdir(os.path.join(helper_env["ECRPY_CACHE_DIR"], "tokens"))
    assert len([f for f in cache_files if f.endswith(".json")]) == 1


@pytest.mark.parametrize(
    "form",
    [
        f"https://{HOST}",
        f"http://{HOST}",
        f"{HOST}/v2/",
        f"{HOST}/team/app",
        f"https://{HOST}:443/v2/",
        f"  {HOST}\n",
        HOST.upper(),
    ],
)
def test_every_client_form_of_the_server_url(
    aws: AwsServer, helper_env: dict[str, str], form: str
) -> None:
    data = get_ok(helper_env, form)
    assert data["ServerURL"] == form.strip()
    assert data["Secret"] == MOTO_ECR_PASSWORD


@pytest.mark.parametrize(
    "url",
    [
        "registry-1.docker.io",
        "ghcr.io",
        f"{MOTO_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com.evil.example",
        "",
        "\x00",
        "not a host",
    ],
)
def test_non_ecr_hosts_are_not_found(aws: AwsServer, helper_env: dict[str, str], url: str) -> None:
    proc = run_helper(helper_env, "get", url)
    assert proc.returncode == 1
    assert proc.stdout.strip() == NOT_FOUND
    assert aws.calls(GAT) == 0


@pytest.mark.parametrize("ttl", [-3600.0, None], ids=["an-hour-ago", "moto-2015"])
def test_token_that_arrives_expired_is_never_served(
    aws: AwsServer, helper_env: dict[str, str], ttl: float | None
) -> None:
    """No cached token and ECR's answer already expired (our clock ahead of AWS's, or a proxy
    rewriting it): not-found, one line naming the clock skew, nothing cached."""
    aws.set_token_ttl(ttl)
    for _ in range(2):
        proc = run_helper(helper_env, "get", HOST)
        assert proc.returncode == 1, (proc.stdout, proc.stderr)
        assert proc.stdout.strip() == NOT_FOUND
        lines = proc.stderr.decode().strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("ecrpy: the token ECR issued for " + HOST)
        assert "already expired" in lines[0] and "clock skew" in lines[0]
        assert "check this machine's clock" in lines[0]
    assert aws.calls(GAT) == 2  # never cached, so each get asked again
    tokens_dir = os.path.join(helper_env["ECRPY_CACHE_DIR"], "tokens")
    cached = os.listdir(tokens_dir) if os.path.isdir(tokens_dir) else []
    assert [f for f in cached if f.endswith(".json")] == []
    log = open(os.path.join(helper_env["ECRPY_LOG_DIR"], "ecrpy.log")).read()
    assert "already expired" in log


def test_expired_refresh_serves_the_still_valid_cached_token(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    """A refresh that returns an already-expired token leaves the cached one in service. The
    refresh's token is made distinguishable (identity tokens) to prove which one was served."""
    write_config(helper_env, "[cache]\nmin_remaining = 86400\n")  # every get refreshes
    assert get_ok(helper_env, HOST)["Secret"] == MOTO_ECR_PASSWORD
    aws.set_identity_tokens(True)
    aws.set_token_ttl(-3600)
    assert get_ok(helper_env, HOST)["Secret"] == MOTO_ECR_PASSWORD  # the cached one
    assert aws.calls(GAT) == 2  # the refresh did happen
    aws.set_token_ttl(12 * 3600)
    fresh = get_ok(helper_env, HOST)["Secret"]  # a good refresh replaces it
    assert fresh != MOTO_ECR_PASSWORD and fresh.startswith(f"{MOTO_ACCOUNT}-auth-token.")
    log = open(os.path.join(helper_env["ECRPY_LOG_DIR"], "ecrpy.log")).read()
    assert "already expired" in log and "serving the still-valid cached token" in log


def test_no_credentials_gives_not_found_and_one_line_fix(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    env = {
        k: v
        for k, v in helper_env.items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    proc = run_helper(env, "get", HOST)
    assert proc.returncode == 1
    assert proc.stdout.strip() == NOT_FOUND
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecrpy: no AWS credentials found")
    assert "aws configure" in lines[0]


def test_access_denied_names_the_permission(aws: AwsServer, helper_env: dict[str, str]) -> None:
    aws.set_fault(GAT, "accessdenied")
    proc = run_helper(helper_env, "get", HOST)
    assert proc.returncode == 1 and proc.stdout.strip() == NOT_FOUND
    err = proc.stderr.decode().strip()
    assert "ecr:GetAuthorizationToken" in err and "\n" not in err
    assert "Traceback" not in err


def test_valid_cached_token_is_served_when_refresh_fails(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    write_config(helper_env, "[cache]\nmin_remaining = 86400\n")  # always due for refresh
    get_ok(helper_env, HOST)
    aws.set_fault(GAT, "500")
    assert get_ok(helper_env, HOST)["Secret"] == MOTO_ECR_PASSWORD


def test_alias_maps_any_host_to_an_account(aws: AwsServer, helper_env: dict[str, str]) -> None:
    write_config(
        helper_env,
        f'[registries."127.0.0.1:5999"]\naccount_id = "{MOTO_ACCOUNT}"\nregion = "us-east-1"\n',
    )
    assert get_ok(helper_env, "127.0.0.1:5999")["Secret"] == MOTO_ECR_PASSWORD
    assert get_ok(helper_env, "http://127.0.0.1:5999/v2/")["Secret"] == MOTO_ECR_PASSWORD
    assert aws.calls(GAT) == 1


def test_bad_config_is_one_line_not_a_traceback(aws: AwsServer, helper_env: dict[str, str]) -> None:
    write_config(helper_env, "[registries\n")
    proc = run_helper(helper_env, "get", HOST)
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stdout + proc.stderr
    assert b"not valid TOML" in proc.stdout + proc.stderr


def test_store_list_erase_for_a_non_ecr_host(aws: AwsServer, helper_env: dict[str, str]) -> None:
    creds = {"ServerURL": "https://registry.example.test", "Username": "bob", "Secret": "s3cret-pw"}
    proc = run_helper(helper_env, "store", json.dumps(creds))
    assert proc.returncode == 0, proc.stdout
    assert get_ok(helper_env, "registry.example.test") == {
        "ServerURL": "registry.example.test",
        "Username": "bob",
        "Secret": "s3cret-pw",
    }
    listed = json.loads(run_helper(helper_env, "list").stdout)
    assert listed == {"https://registry.example.test": "bob"}
    assert run_helper(helper_env, "erase", "https://registry.example.test").returncode == 0
    assert run_helper(helper_env, "get", "registry.example.test").stdout.strip() == NOT_FOUND
    assert json.loads(run_helper(helper_env, "list").stdout) == {}
    # the index beside the keyring never holds the secret
    state = os.path.join(helper_env["XDG_STATE_HOME"], "ecrpy", "credentials-index.json")
    assert "s3cret-pw" not in open(state).read()


def test_store_for_ecr_succeeds_without_storing(aws: AwsServer, helper_env: dict[str, str]) -> None:
    proc = run_helper(
        helper_env, "store", json.dumps({"ServerURL": HOST, "Username": "AWS", "Secret": "x"})
    )
    assert proc.returncode == 0
    assert json.loads(run_helper(helper_env, "list").stdout) == {}


def test_store_without_keyring_is_a_clear_error(aws: AwsServer, helper_env: dict[str, str]) -> None:
    env = dict(helper_env, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    proc = run_helper(
        env, "store", json.dumps({"ServerURL": "h.test", "Username": "u", "Secret": "p"})
    )
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith("no usable OS keyring backend")
    assert b"Traceback" not in proc.stdout + proc.stderr


def test_list_shows_cached_ecr_tokens_without_network(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    get_ok(helper_env, HOST)
    aws.reset_counts()
    proc = run_helper(helper_env, "list")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {HOST: "AWS"}
    assert sum(aws.counts().values()) == 0
    # another identity sees none of them
    other = dict(helper_env, AWS_ACCESS_KEY_ID="AKIAI44QH8DHBEXAMPLE")
    assert json.loads(run_helper(other, "list").stdout) == {}


def test_erase_of_ecr_host_drops_its_cached_tokens(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    get_ok(helper_env, HOST)
    assert run_helper(helper_env, "erase", HOST).returncode == 0
    get_ok(helper_env, HOST)
    assert aws.calls(GAT) == 2


OTHER_HOST = ecr_host(region="eu-west-1")


def test_erase_drops_only_the_erased_registrys_tokens(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    get_ok(helper_env, HOST)
    get_ok(helper_env, OTHER_HOST)
    assert aws.calls(GAT) == 2
    assert run_helper(helper_env, "erase", HOST).returncode == 0
    assert json.loads(run_helper(helper_env, "list").stdout) == {OTHER_HOST: "AWS"}
    get_ok(helper_env, OTHER_HOST)
    assert aws.calls(GAT) == 2  # the other registry's token is still cached


def _token_files(env: dict[str, str]) -> list[str]:
    folder = os.path.join(env["ECRPY_CACHE_DIR"], "tokens")
    return [os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".json")]


def test_list_leaves_out_expired_tokens(aws: AwsServer, helper_env: dict[str, str]) -> None:
    get_ok(helper_env, HOST)
    get_ok(helper_env, OTHER_HOST)
    for path in _token_files(helper_env):
        with open(path, encoding="utf-8") as f:
            entry = json.load(f)
        if entry["registry"] == HOST:  # the same entry, its lifetime already over
            entry["requested_at"] -= 13 * 3600
            entry["expires_at"] = entry["requested_at"] + 12 * 3600
            with open(path, "w", encoding="utf-8") as f:
                json.dump(entry, f)
    assert json.loads(run_helper(helper_env, "list").stdout) == {OTHER_HOST: "AWS"}


def test_a_token_longer_than_twelve_hours_is_cached_for_twelve(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    aws.set_token_ttl(48 * 3600)  # a proxy or a clock error: ECR documents 12 h
    get_ok(helper_env, HOST)
    [path] = _token_files(helper_env)
    with open(path, encoding="utf-8") as f:
        entry = json.load(f)
    assert 12 * 3600 - 60 <= entry["expires_at"] - entry["requested_at"] <= 12 * 3600


@pytest.mark.parametrize(
    ("action", "stdin"),
    [
        ("store", b"{not json"),
        ("store", b"[1,2]"),
        ("store", b'{"ServerURL": 5}'),
        ("frobnicate", b""),
        ("get", b"\xff\xfe\xfd"),
        ("store", b"x" * 200_000),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    helper_env: dict[str, str], action: str, stdin: bytes
) -> None:
    proc = run_helper(helper_env, action, stdin)
    assert proc.returncode == 1
    assert len(proc.stdout.decode().strip().splitlines()) == 1
    assert b"Traceback" not in proc.stdout + proc.stderr


def test_version_and_usage(helper_env: dict[str, str]) -> None:
    proc = run_helper(helper_env, "version")
    assert proc.returncode == 0 and proc.stdout.startswith(b"docker-credential-ecrpy (ecrpy) ")
    env = dict(helper_env)
    exe = subprocess.run(["docker-credential-ecrpy"], capture_output=True, env=env, check=False)
    assert exe.returncode == 1 and b"Usage" in exe.stdout


def test_switching_identity_never_serves_the_other_token(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    get_ok(helper_env, HOST)
    other = dict(helper_env, AWS_ACCESS_KEY_ID="AKIAI44QH8DHBEXAMPLE")
    get_ok(other, HOST)
    assert aws.calls(GAT) == 2  # the second identity did not get the first one's cached token
    rotated = dict(helper_env, AWS_SECRET_ACCESS_KEY=TEST_SECRET_ACCESS_KEY + "x")
    get_ok(rotated, HOST)
    assert aws.calls(GAT) == 3
    get_ok(helper_env, HOST)
    assert aws.calls(GAT) == 3  # and the first identity's entry is still there


def test_thirty_two_concurrent_cold_gets_make_one_call(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    aws.set_latency(GAT, 0.3)  # widen the race window
    with ThreadPoolExecutor(max_workers=32) as pool:
        procs = list(pool.map(lambda _: run_helper(helper_env, "get", HOST, timeout=60), range(32)))
    answers = {p.stdout for p in procs}
    assert all(p.returncode == 0 for p in procs), [p.stderr for p in procs if p.returncode]
    assert len(answers) == 1
    assert json.loads(answers.pop())["Secret"] == MOTO_ECR_PASSWORD
    assert aws.calls(GAT) == 1


@pytest.mark.parametrize("setup", ["env-keys", "profile-and-config"])
def test_cache_hit_imports_no_heavy_module(
    aws: AwsServer, helper_env: dict[str, str], setup: str
) -> None:
    if setup == "profile-and-config":
        # the other hot branch: a shared-credentials profile and an ecrpy config (snapshot)
        from pathlib import Path

        key, secret = helper_env.pop("AWS_ACCESS_KEY_ID"), helper_env.pop("AWS_SECRET_ACCESS_KEY")
        Path(helper_env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
            f"[dev]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
        )
        helper_env["AWS_PROFILE"] = "dev"
        write_config(
            helper_env, f'[registries."{HOST}"]\nprofile = "dev"\n[cache]\nmin_remaining = 60\n'
        )
    get_ok(helper_env, HOST)
    get_ok(helper_env, HOST)  # the second run may still write the config snapshot
    proc, imported = _imports_of(helper_env, "get", HOST)
    assert json.loads(proc.stdout)["Secret"] == MOTO_ECR_PASSWORD
    assert "credhelper.protocol" in imported  # the measurement works
    assert _heavy(imported) == set()
    assert _undocumented(imported) == set()
    assert aws.calls(GAT) == 1


def test_list_imports_no_heavy_module(aws: AwsServer, helper_env: dict[str, str]) -> None:
    get_ok(helper_env, HOST)
    proc, imported = _imports_of(helper_env, "list", "")
    assert HOST in json.loads(proc.stdout)
    assert "credhelper.credential_store" in imported
    assert _heavy(imported) == set()
    assert _undocumented(imported) == set()


# The helper's own imports, whatever installed it: no site (so no editable-install finder and
# no console-script wrapper, whose imports change with the pip version), the worktree's code
# first on the path, and only what is imported after the marker counts. A cache hit needs
# nothing outside the standard library, so site-packages are not needed either.
_RUN_HELPER = (
    "import sys; sys.path.insert(0, sys.argv[1]); sys.argv = ['docker-credential-ecrpy', "
    "sys.argv[2]]; sys.stderr.write('--ecrpy-starts--\\n'); sys.stderr.flush(); "
    "from credhelper.protocol import main; main()"
)


def _imports_of(
    env: dict[str, str], action: str, stdin: str
) -> tuple[subprocess.CompletedProcess[bytes], set[str]]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-X", "importtime", "-c", _RUN_HELPER, root, action],
        input=stdin.encode(),
        capture_output=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    _before, marker, after = proc.stderr.decode().partition("--ecrpy-starts--\n")
    assert marker, proc.stderr
    return proc, {line.split("|")[-1].strip() for line in after.splitlines() if "|" in line}


def _undocumented(imported: set[str]) -> set[str]:
    """credhelper modules on the hot path that docs/CONTRIBUTING-hot-path.md does not name."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "CONTRIBUTING-hot-path.md"), encoding="utf-8") as f:
        section = f.read().split("## What is hot", 1)[1].split("\n## ", 1)[0]
    named = set(section.split("`")[1::2])
    ours = {m for m in imported if m.startswith("credhelper.")}
    return {m for m in ours if m.split(".")[1] not in named and m.split(".")[-1] not in named}


def _heavy(imported: set[str]) -> set[str]:
    return {
        m
        for m in imported
        if m.split(".")[0]
        in {
            "boto3",
            "botocore",
            "keyring",
            "docker",
            "logging",
            "filelock",
            "threading",
            "dataclasses",
            "typing",
            "pathlib",
            "tomllib",
            "configparser",
            "hashlib",
            "platformdirs",
            "json",  # the C scanner is used directly (json compiles regexes at import)
            "re",  # see docs/CONTRIBUTING-hot-path.md
        }
    }


def test_cli_cache_list_and_clear(aws: AwsServer, helper_env: dict[str, str]) -> None:
    get_ok(helper_env, HOST)
    proc = run_ecrpy(helper_env, "cache", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [e["registry"] for e in data["entries"]] == [HOST]
    assert data["entries"][0]["active_identity"] is True
    assert MOTO_ECR_PASSWORD not in proc.stdout.decode()
    proc = run_ecrpy(helper_env, "cache", "clear")
    assert proc.returncode == 0 and b"removed 1" in proc.stdout
    assert json.loads(run_ecrpy(helper_env, "cache", "list", "--json").stdout)["entries"] == []


def test_cli_whoami(aws: AwsServer, helper_env: dict[str, str]) -> None:
    get_ok(helper_env, HOST)
    proc = run_ecrpy(helper_env, "whoami", HOST, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["caller_arn"].startswith("arn:aws:")
    assert data["account_id"] == MOTO_ACCOUNT and data["cached_token_expires_at"]


def test_cli_configure(helper_env: dict[str, str]) -> None:
    proc = run_ecrpy(helper_env, "configure", HOST, "public.ecr.aws")
    assert proc.returncode == 0, proc.stderr
    path = os.path.join(helper_env["DOCKER_CONFIG"], "config.json")
    assert json.load(open(path))["credHelpers"] == {HOST: "ecrpy", "public.ecr.aws": "ecrpy"}
    proc = run_ecrpy(helper_env, "configure", "ghcr.io")
    assert proc.returncode == 2 and b"neither an ECR registry" in proc.stderr


def test_cli_configure_without_registry_uses_own_account(
    aws: AwsServer, helper_env: dict[str, str]
) -> None:
    proc = run_ecrpy(helper_env, "configure")
    assert proc.returncode == 0, proc.stderr
    assert HOST.encode() in proc.stdout  # moto's account, AWS_DEFAULT_REGION=us-east-1
    path = os.path.join(helper_env["DOCKER_CONFIG"], "config.json")
    assert json.load(open(path))["credHelpers"] == {HOST: "ecrpy"}
    no_region = {k: v for k, v in helper_env.items() if k != "AWS_DEFAULT_REGION"}
    proc = run_ecrpy(no_region, "configure")
    assert proc.returncode == 2 and b"no AWS region" in proc.stderr


def test_cli_doctor_reports_each_check(
    aws: AwsServer, helper_env: dict[str, str], registry_server: RegistryServer
) -> None:
    # a real ECR host's /v2/ is not reachable from 127.0.0.1-only machines: an alias is
    host = registry_server.host
    write_config(
        helper_env, f'[registries."{host}"]\naccount_id = "{MOTO_ACCOUNT}"\nregion = "us-east-1"\n'
    )
    run_ecrpy(helper_env, "configure", host)
    proc = run_ecrpy(helper_env, "doctor")
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    for name in ("docker config", "PATH", "identity source", "cache dir", "log", "caller", host):
        assert f" {name}:" in out
    assert sys.executable  # the venv's helper was found on PATH
