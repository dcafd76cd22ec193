"""The static-key cold path without botocore (credhelper.fast_token): the same endpoints,
answers and errors as the botocore path, and no botocore import on the way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from credhelper import fast_token, signed_call, tokens
from credhelper.errors import EcrpyError
from credhelper.registry import Registry
from tests.support import MOTO_ACCOUNT, MOTO_ECR_PASSWORD, MOTO_REGION, ecr_host, fast_paths
from tests.support.aws_server import AwsServer

GAT = "GetAuthorizationToken"
HOST = ecr_host()


@pytest.fixture
def env(helper_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """helper_env applied to this process (both paths read os.environ)."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "ECRPY_")) or key.lower().endswith("_proxy"):
            monkeypatch.delenv(key)
    for key, value in helper_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(signed_call, "_ssl_context", None)
    yield helper_env




# -- endpoints ---------------------------------------------------------------------------------

REGIONS = [
    "us-east-1",
    "eu-west-1",
    "ap-southeast-2",
    "ca-west-1",
    "il-central-1",
    "mx-central-1",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-west-1",
    "us-gov-east-1",
    "us-iso-east-1",
    "us-isob-east-1",
    "eu-isoe-west-1",
]


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize(("fips", "dualstack"), [(False, False), (True, False), (False, True)])
def test_endpoints_are_botocores(region: str, fips: bool, dualstack: bool) -> None:
    """Every host we derive is the one botocore's endpoint rules give for the same client
    settings tokens.fetch uses; where we are unsure (iso partitions) we leave it to botocore."""
    import botocore.session

    registry = Registry(
        f"{MOTO_ACCOUNT}.dkr.ecr.{region}.amazonaws.com",
        MOTO_ACCOUNT,
        region,
        "aws",
        fips,
        dualstack,
    )
    ours = fast_token.endpoint(registry, {})
    if "-iso" in region:
        assert ours is None  # left to botocore (which may not even have these variants)
        return
    client = botocore.session.get_session().create_client(
        "ecr",
        region_name=region,
        config=tokens.client_config(registry),
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    resolved = client._ruleset_resolver.construct_endpoint(
        operation_model=client.meta.service_model.operation_model(GAT),
        call_args={},
        request_context={},
    )
    assert ours is not None
    assert ours.url == resolved.url + "/"
    assert (ours.region, ours.service) == (region, "ecr")
    assert ours.target == f"{client.meta.service_model.metadata['targetPrefix']}.{GAT}"


def test_ecr_public_endpoint_is_botocores() -> None:
    import botocore.session

    registry = fast_paths.registry("public.ecr.aws")
    ours = fast_token.endpoint(registry, {})
    client = botocore.session.get_session().create_client(
        "ecr-public", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    assert ours is not None
    assert ours.url == client.meta.endpoint_url + "/"
    assert ours.target == f"{client.meta.service_model.metadata['targetPrefix']}.{GAT}"
    assert ours.service == client.meta.service_model.signing_name


def test_endpoint_urls_from_the_environment() -> None:
    registry = fast_paths.registry()
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_ECR": "https://e:8443"}
    found = fast_token.endpoint(registry, env)
    assert found is not None and found.url == "https://e:8443/"  # the service's own wins
    assert fast_token.endpoint(fast_paths.registry("public.ecr.aws"), env).url == "http://127.0.0.1:1/"  # type: ignore[union-attr]
    ignored = {**env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert fast_token.endpoint(registry, ignored).url == (  # type: ignore[union-attr]
        f"https://api.ecr.{MOTO_REGION}.amazonaws.com/"
    )
    assert fast_token.endpoint(registry, {"AWS_ENDPOINT_URL": "https://e/prefix"}) is None
    fips = fast_paths.registry(f"{MOTO_ACCOUNT}.dkr.ecr-fips.{MOTO_REGION}.amazonaws.com")
    assert fast_token.endpoint(fips, env) is None  # botocore refuses FIPS + a custom endpoint


# -- which settings leave the call to botocore --------------------------------------------------


@pytest.mark.parametrize(
    ("extra_env", "config"),
    [
        ({"AWS_USE_FIPS_ENDPOINT": "true"}, ""),
        ({"AWS_MAX_ATTEMPTS": "5"}, ""),
        ({"AWS_RETRY_MODE": "adaptive"}, ""),
        ({"AWS_CREDENTIAL_EXPIRATION": "2099-01-01T00:00:00Z"}, ""),
        ({}, "[default]\nendpoint_url = http://127.0.0.1:1\n"),
        ({}, "[default]\nca_bundle = /nowhere.pem\n"),
        ({}, "[default]\nmax_attempts = 7\n"),
        ({}, "[default]\nservices = x\n[services x]\necr =\n  endpoint_url = http://127.0.0.1:1\n"),
        ({"HTTP_PROXY": "http://127.0.0.1:1"}, ""),  # a plain-HTTP forward proxy
    ],
)
def test_settings_we_do_not_implement_go_to_botocore(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    extra_env: dict[str, str],
    config: str,
) -> None:
    for key, value in extra_env.items():
        monkeypatch.setenv(key, value)
    Path(env["AWS_CONFIG_FILE"]).write_text(config)
    assert fast_token.fetch(fast_paths.registry()) is None
    assert aws.calls(GAT) == 0


def test_sso_identities_go_to_botocore(
    aws: AwsServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SSO is botocore's; roles (also a registry's role_arn), web identity, container endpoints
    and credential_process have their own tests (test_fast_role.py, test_fast_sources.py)."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    Path(env["AWS_CONFIG_FILE"]).write_text(
        "[default]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
        "sso_account_id = 123456789012\nsso_role_name = Dev\n"
    )
    assert fast_token.fetch(fast_paths.registry()) is None
    assert aws.calls(GAT) == 0


# -- the same answers and errors on both paths --------------------------------------------------

FAULTS = [None, "500", "throttle", "accessdenied", "malformed"]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("where", ["env", "credentials-file"])
def test_both_paths_answer_alike(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    fault: str | None,
    where: str,
) -> None:
    if where == "credentials-file":
        key = os.environ["AWS_ACCESS_KEY_ID"]
        secret = os.environ["AWS_SECRET_ACCESS_KEY"]
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        Path(env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
            f"[dev]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
            "aws_session_token = a-session\n"
        )
        Path(env["AWS_CONFIG_FILE"]).write_text(
            "[profile dev]\nregion = eu-west-1\noutput = json\n"
        )
        monkeypatch.setenv("AWS_PROFILE", "dev")
    monkeypatch.setattr(time_module(), "sleep", lambda _s: None)  # retries without the wait
    registry = fast_paths.registry()
    assert fast_token.static_keys(None, os.environ) is not None  # the fast path applies
    results = []
    for fast in (True, False):
        aws.reset_counts()
        if fault:
            aws.set_fault(GAT, fault)
        with monkeypatch.context() as m:
            if not fast:
                fast_paths.botocore_only(m)
            results.append((fast_paths.outcome(lambda: tokens.fetch(registry)), aws.calls(GAT)))
        aws.clear_faults()
    assert results[0] == results[1]
    (kind, *_), calls = results[0]
    if fault is None:
        assert results[0][0][2] == MOTO_ECR_PASSWORD and calls == 1
    else:
        assert kind == "error"
        assert calls == (fast_token._MAX_ATTEMPTS if fault in ("500", "throttle") else 1)


def time_module() -> Any:
    import time

    return time


def test_expiry_and_server_clock_match(
    aws: AwsServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = fast_paths.registry()
    fast = tokens.fetch(registry)
    fast_paths.botocore_only(monkeypatch)
    slow = tokens.fetch(registry)
    assert abs(fast.expires_at - slow.expires_at) < 5
    assert abs((fast.expires_at - fast.requested_at) - 12 * 3600) < 5
    assert fast.creds_expire_at is slow.creds_expire_at is None


def test_tls_through_an_https_proxy_with_a_ca_bundle(
    aws: AwsServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No endpoint URL: the real ECR host name, a CONNECT tunnel (HTTPS_PROXY) and a private CA
    (AWS_CA_BUNDLE); NO_PROXY for that host bypasses the proxy (and then fails to connect)."""
    from tests.test_bench_tools import latency_proxy

    proxy = latency_proxy.serve(aws.url, 0, tls=True, ca_dir=str(tmp_path / "ca"))
    try:
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "ca" / "ca.pem"))
        entry = fast_token.fetch(fast_paths.registry())
        assert entry is not None and entry.token == MOTO_ECR_PASSWORD
        assert proxy.counts["connect"] == 1 and aws.calls(GAT) == 1
    finally:
        proxy.shutdown()
        proxy.server_close()



@pytest.mark.parametrize("store", ["SSL_CERT_DIR", "SSL_CERT_FILE", "AWS_CA_BUNDLE"])
def test_one_tls_context_reading_a_ca_directory_lazily(
    aws: AwsServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    store: str,
) -> None:  # fmt: skip
    """Without AWS_CA_BUNDLE, a hashed CA directory (SSL_CERT_DIR, as /etc/ssl/certs) is read
    lazily: the context holds no CA until a handshake asks for the issuer's, then just that
    one; a bundle file (SSL_CERT_FILE, AWS_CA_BUNDLE) is read whole. One context serves every
    call of the process."""
    import shutil
    import ssl

    from tests.test_bench_tools import latency_proxy

    proxy = latency_proxy.serve(aws.url, 0, tls=True, ca_dir=str(tmp_path / "ca"))
    ca = tmp_path / "ca" / "ca.pem"
    directory = tmp_path / "certs"
    directory.mkdir()
    for pem in sorted(Path("/etc/ssl/certs").glob("*.pem"))[:40]:  # other CAs beside ours
        shutil.copy(pem.resolve(), directory / pem.name)
    shutil.copy(ca, directory / "proxy-ca.pem")
    subprocess.run(["openssl", "rehash", str(directory)], check=True, capture_output=True)
    try:
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        for var in ("SSL_CERT_DIR", "SSL_CERT_FILE"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv(store, str(directory if store == "SSL_CERT_DIR" else ca))
        context = signed_call.ssl_context()
        assert isinstance(context, ssl.SSLContext)
        before = context.cert_store_stats()["x509_ca"]
        for _ in range(2):
            entry = fast_token.fetch(fast_paths.registry())
            assert entry is not None and entry.token == MOTO_ECR_PASSWORD
        assert signed_call.ssl_context() is context
        after = context.cert_store_stats()["x509_ca"]
        if store == "SSL_CERT_DIR":
            assert (before, after) == (0, 1)  # only the proxy's CA, when the handshake needed it
        else:
            assert before == after == 1
        # two calls, one tunnel and one handshake: http1 kept the connection (reuse=True)
        assert proxy.counts["connect"] == 1 and aws.calls(GAT) == 2
    finally:
        proxy.shutdown()
        proxy.server_close()

def test_concurrent_first_calls_share_one_tls_context(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A pre-flight's first ~15 calls start at once: they must get one context (one CA load,
    and one key for http1's kept connections), not one each."""
    import shutil
    import threading

    bundle = tmp_path / "bundle.pem"
    with bundle.open("wb") as out:  # a certifi-size bundle: loading it takes milliseconds
        for pem in sorted(Path("/etc/ssl/certs").glob("*.pem"))[:120]:
            with pem.open("rb") as f:
                shutil.copyfileobj(f, out)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
    barrier = threading.Barrier(16)
    got: list[object] = []

    def first_call() -> None:
        barrier.wait()
        got.append(signed_call.ssl_context())

    threads = [threading.Thread(target=first_call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 16 and len({id(c) for c in got}) == 1


# -- no botocore on the way ---------------------------------------------------------------------

SCRIPT = (
    "import sys; sys.argv = ['docker-credential-ecrpy', 'get'];"
    "from credhelper.protocol import main; main()"
)


_ROLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"],
            }
        ],
    }
)


def _identity_env(aws: AwsServer, env: dict[str, str], identity: str, tmp: Path) -> str | None:
    """Give ``env`` the identity (static env keys, an assumed-role profile over keys in the
    credentials file, web identity from the environment); the STS operation it needs."""
    if identity in ("static", "fallback"):
        return None
    role = f"cold-{os.urandom(4).hex()}"
    arn = aws.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=_ROLE_TRUST)
    role_arn = str(arn["Role"]["Arn"])
    key, secret = env.pop("AWS_ACCESS_KEY_ID"), env.pop("AWS_SECRET_ACCESS_KEY")
    if identity == "role":
        Path(env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
            f"[src]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
        )
        Path(env["AWS_CONFIG_FILE"]).write_text(
            f"[profile deploy]\nrole_arn = {role_arn}\nsource_profile = src\n"
        )
        env["AWS_PROFILE"] = "deploy"
        return "AssumeRole"
    token = tmp / "web-identity-token"
    token.write_text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaSJ9.")
    env.update(AWS_ROLE_ARN=role_arn, AWS_WEB_IDENTITY_TOKEN_FILE=str(token))
    return "AssumeRoleWithWebIdentity"


@pytest.mark.parametrize("identity", ["static", "fallback", "role", "web-identity"])
def test_cold_get_imports_no_botocore(
    aws: AwsServer, helper_env: dict[str, str], identity: str, tmp_path: Path
) -> None:
    """Runs credhelper.protocol.main in a plain interpreter (not the console-script shim), so
    the result does not depend on how the package was installed: static keys, an assumed-role
    profile and web identity (both from an empty AWS CLI cache: one STS call) need no botocore.
    The fallback case (a setting only botocore implements) proves the measurement sees
    botocore when it is there."""
    env = dict(helper_env, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    sts_operation = _identity_env(aws, env, identity, tmp_path)
    if identity == "fallback":
        env["AWS_MAX_ATTEMPTS"] = "3"
    aws.reset_counts()
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", SCRIPT],
        input=HOST.encode(),
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert MOTO_ECR_PASSWORD.encode() in proc.stdout
    imported = {
        line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines() if "|" in line
    }
    assert "credhelper.tokens" in imported  # the measurement works: this was a cold get
    heavy = {m for m in imported if m.split(".")[0] in ("botocore", "boto3", "urllib3")}
    if identity == "fallback":
        assert "botocore.session" in heavy
    else:
        assert heavy == set()
    assert aws.calls(GAT) == 1
    if sts_operation is not None:
        assert aws.calls(sts_operation) == 1
        cached = list((Path(env["HOME"]) / ".aws" / "cli" / "cache").glob("*.json"))
        assert len(cached) == 1  # the role session is left for the AWS CLI and the next get


# -- the repository step's ECR calls (ecr_repository.FastClient) --------------------------------

ECR_FAULTS = [None, "500", "throttle", "accessdenied", "malformed"]


def _repo_outcomes(ecr: Any) -> dict[str, Any]:
    """What the repository step learns through ``Ecr``: the repository facts it reads, whether
    the tags exist, or the error (class and words)."""
    out: dict[str, Any] = {}
    for name, call in (
        ("describe", ecr.describe),
        ("tag v1", lambda: ecr.image_exists("v1", None)),
        ("tag missing", lambda: ecr.image_exists("nope", None)),
    ):
        try:
            value = call()
        except (EcrpyError, PermissionError) as exc:
            value = ("error", type(exc).__name__, str(exc), str(getattr(exc, "hint", "")))
        if isinstance(value, dict):
            value = {k: value.get(k) for k in ("repositoryName", "imageTagMutability",
                                               "encryptionConfiguration", "registryId")}  # fmt: skip
        out[name] = value
    return out


@pytest.fixture
def repository(aws: AwsServer) -> Iterator[str]:
    import boto3

    from tests.support import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY

    ecr = boto3.client("ecr", endpoint_url=aws.url, region_name=MOTO_REGION,
                       aws_access_key_id=TEST_ACCESS_KEY_ID,
                       aws_secret_access_key=TEST_SECRET_ACCESS_KEY)  # fmt: skip
    name = "fast/app"
    ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                   "digest": "sha256:" + "0" * 64},
        "layers": [],
    })  # fmt: skip
    ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag="v1")
    yield name
    ecr.delete_repository(repositoryName=name, force=True)


@pytest.mark.parametrize("fault", ECR_FAULTS)
@pytest.mark.parametrize("repo", ["fast/app", "fast/missing"])
def test_repository_step_calls_answer_alike(
    aws: AwsServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    repository: str,
    fault: str | None,
    repo: str,
) -> None:
    """DescribeRepositories and DescribeImages through fast_token and through botocore's
    client: the same facts, the same errors in the same words, the same number of attempts."""
    from credhelper.ecr_repository import Ecr, FastClient, sdk_client

    monkeypatch.setattr(time_module(), "sleep", lambda _s: None)
    registry = fast_paths.registry()
    results = []
    for fast in (True, False):
        aws.reset_counts()
        if fault:
            aws.set_fault("DescribeRepositories", fault)
            aws.set_fault("DescribeImages", fault)
        client: Any = FastClient(registry, None, None) if fast else sdk_client(registry, None, None)
        outcome = _repo_outcomes(Ecr(client, registry, repo, None))
        if fast:
            assert client._sdk is None  # botocore was never needed
        results.append((outcome, aws.calls("DescribeRepositories"), aws.calls("DescribeImages")))
        aws.clear_faults()
    assert results[0] == results[1]
    if fault is None and repo == repository:
        assert results[0][0]["describe"]["imageTagMutability"] == "IMMUTABLE"
        assert results[0][0]["tag v1"] is True and results[0][0]["tag missing"] is False
    if fault in ("500", "throttle"):
        assert results[0][1] == fast_token._MAX_ATTEMPTS


def test_repository_answer_is_botocores_json(
    aws: AwsServer, env: dict[str, str], repository: str
) -> None:
    """The raw answers match botocore's parsed ones, timestamps aside (epoch numbers here)."""
    import datetime

    from credhelper.ecr_repository import sdk_client

    registry = fast_paths.registry()
    request = {"repositoryNames": [repository], "registryId": MOTO_ACCOUNT}
    fast = fast_token.ecr_call(registry, "DescribeRepositories", request)
    slow = sdk_client(registry, None, None).describe_repositories(**request)
    assert fast is not None
    for answer in (fast, slow):
        answer.pop("ResponseMetadata")
    (slow_repo,) = slow["repositories"]
    created = slow_repo.pop("createdAt")
    assert isinstance(created, datetime.datetime)
    assert fast["repositories"][0].pop("createdAt") == pytest.approx(created.timestamp())
    assert fast == slow


def test_repository_step_leaves_other_identities_to_botocore(
    aws: AwsServer, env: dict[str, str], repository: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credhelper.ecr_repository import Ecr, FastClient

    registry = fast_paths.registry()
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")  # a setting only botocore implements
    client = FastClient(registry, None, None)
    assert Ecr(client, registry, repository, None).image_exists("v1", None) is True
    assert client._sdk is not None and aws.calls("DescribeImages") == 1


PROXY_ENVS = [
    {},
    {"HTTPS_PROXY": "http://p:3128"},
    {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"},
    {"HTTPS_PROXY": "http://upper:2", "https_proxy": ""},
    {"HTTP_PROXY": "http://h:1", "REQUEST_METHOD": "GET", "http_proxy": ""},
    {"HTTP_PROXY": "http://h:1", "REQUEST_METHOD": "GET"},
    {"https_proxy": "p:8080", "no_proxy": "*"},
    {"HTTPS_PROXY": "http://p:1", "NO_PROXY": " .amazonaws.com , other"},
    {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "API.ECR.us-east-1.amazonaws.com"},
    {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com,127.0.0.1:8443"},
    {"HTTPS_PROXY": "http://p:1", "no_proxy": "ecr.us-east-1.amazonaws.com:443"},
    {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "azonaws.com"},
]
PROXY_HOSTS = ["api.ecr.us-east-1.amazonaws.com", "127.0.0.1:8443", "127.0.0.1", "e:",
               "Example.COM:80", "[::1]:443", "a:b:c"]  # fmt: skip


@pytest.mark.parametrize("proxy_env", PROXY_ENVS)
def test_proxy_settings_read_as_urllib_reads_them(
    proxy_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """fast_token's own reading of *_proxy/NO_PROXY (it must not import urllib.request) is
    urllib.request's, which botocore uses."""
    import urllib.request

    for key in list(os.environ):
        if key.lower().endswith("_proxy") or key == "REQUEST_METHOD":
            monkeypatch.delenv(key)
    for key, value in proxy_env.items():
        monkeypatch.setenv(key, value)
    theirs = urllib.request.getproxies_environment()  # type: ignore[attr-defined]
    ours = fast_token.environment_proxies(os.environ)
    assert ours == theirs
    for host in PROXY_HOSTS:
        expected = urllib.request.proxy_bypass_environment(host, theirs)  # type: ignore[attr-defined]
        assert fast_token.bypasses_proxy(host, ours) == bool(expected), host


def test_http_dates_read_as_email_utils_reads_them() -> None:
    """fast_token.http_date (no email.utils import on the cold path) against the reading
    tokens._lifetime_start does, over many instants; other formats are left to it (None)."""
    import random
    from email.utils import formatdate, parsedate_to_datetime

    rng = random.Random(13)
    instants = [0, 951782400, 951868800, 4107542399, 1_700_000_000]  # 29 Feb 2000, ...
    instants += [rng.randrange(0, 4_102_444_800) for _ in range(2000)]
    for t in instants:
        text = formatdate(t, usegmt=True)
        assert fast_token.http_date(text) == parsedate_to_datetime(text).timestamp(), text
    for other in ("", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
                  "Sun, 06 Nov 1994 08:49:37 +0000", "Sun, 32 Nov 1994 08:49:37 GMT",
                  "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 8:49 GMT"):  # fmt: skip
        assert fast_token.http_date(other) is None, other


# -- STS GetCallerIdentity for the pre-flight ----------------------------------------------------


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"])
def test_sts_endpoint_is_botocores(region: str) -> None:
    import botocore.session

    ours = fast_token.sts_endpoint(region, {})
    client = botocore.session.get_session().create_client(
        "sts", region_name=region, aws_access_key_id="k", aws_secret_access_key="s"
    )
    resolved = client._ruleset_resolver.construct_endpoint(
        operation_model=client.meta.service_model.operation_model("GetCallerIdentity"),
        call_args={},
        request_context={},
    )
    assert ours is not None and ours.url == resolved.url + "/"
    assert fast_token.sts_endpoint(region, {"AWS_STS_REGIONAL_ENDPOINTS": "legacy"}) is None
    assert fast_token.sts_endpoint(region, {}, fips=True) is None
    configured = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_STS": "http://s:2"}
    assert fast_token.sts_endpoint(region, configured).url == "http://s:2/"  # type: ignore[union-attr]


@pytest.mark.parametrize("fault", [None, "500", "throttle", "accessdenied", "malformed"])
def test_caller_identity_answers_as_botocore(
    aws: AwsServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, fault: str | None
) -> None:
    """The same identity, or the same botocore exception (class, code, message), after the
    same number of attempts."""
    import botocore.session

    monkeypatch.setattr(time_module(), "sleep", lambda _s: None)
    client = botocore.session.get_session().create_client("sts", region_name=MOTO_REGION)
    results = []
    for call in (lambda: fast_token.caller_identity(MOTO_REGION), client.get_caller_identity):
        aws.reset_counts()
        if fault:
            aws.set_fault("GetCallerIdentity", fault)
        try:
            answer = call()
            assert answer is not None
            answer.pop("ResponseMetadata")
            outcome: Any = answer
        except Exception as exc:
            error = getattr(exc, "response", {}).get("Error", {})
            outcome = (type(exc).__name__, error.get("Code"), error.get("Message"))
        results.append((outcome, aws.calls("GetCallerIdentity")))
        aws.clear_faults()
    assert results[0] == results[1]
    if fault is None:
        assert results[0][0]["Account"] == MOTO_ACCOUNT
