"""The trimmed botocore models (credhelper/botocore_models.py) change nothing but the time:
the same requests, the same answers and errors as botocore's stock loader for every region
flavour, the shipped files are what the generator makes of the installed botocore, and every
reason not to use them falls back to the stock loader."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.loaders import Loader

from credhelper import aws_session, botocore_models

REPO = Path(__file__).resolve().parent.parent
KEYS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}


@pytest.fixture(autouse=True)
def _no_user_aws_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def session(trimmed: bool, **settings: str) -> botocore.session.Session:
    core = botocore.session.Session()
    for name, value in settings.items():
        core.set_config_variable(name, value)
    if trimmed:
        assert botocore_models.install(core)
    return core


# -- the shipped files ---------------------------------------------------------------------


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "gen_botocore_models", REPO / "scripts" / "gen_botocore_models.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_shipped_models_are_what_the_generator_makes_of_the_installed_botocore(
    tmp_path: Path,
) -> None:
    _generator().generate(tmp_path / "out")
    shipped = _tree(Path(botocore_models.MODELS_DIR))
    assert shipped == _tree(tmp_path / "out"), (
        "credhelper/_models is stale: run .venv/bin/python scripts/gen_botocore_models.py"
    )
    doc = botocore_models.manifest()
    assert doc is not None and doc["botocore"] == botocore.__version__


def test_the_test_environment_pins_the_botocore_the_models_were_cut_from() -> None:
    """A new botocore on PyPI must not turn CI red overnight: the test extra pins the version
    in the manifest, and the two move together."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["test"]
    doc = botocore_models.manifest()
    assert doc is not None and f"botocore=={doc['botocore']}" in extra, extra


def test_trimmed_model_keeps_the_operations_their_shapes_and_every_exception() -> None:
    stock = Loader()
    for service, operations in botocore_models.OPERATIONS.items():
        full = stock.load_service_model(service, "service-2")
        trimmed = session(True).get_component("data_loader").load_service_model(
            service, "service-2"
        )
        assert sorted(trimmed["operations"]) == sorted(operations)
        assert trimmed["metadata"] == full["metadata"]
        for name, shape in trimmed["shapes"].items():
            assert shape == full["shapes"][name]
        exceptions = {n for n, s in full["shapes"].items() if s.get("exception")}
        assert exceptions <= set(trimmed["shapes"])
        assert len(trimmed["shapes"]) < len(full["shapes"]) or service == "sso"


# -- what the trimmed session does instead -------------------------------------------------


def test_trimmed_session_lists_no_service_folders_and_reads_the_small_endpoints_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def walked(*_a: Any, **_k: Any) -> None:
        raise AssertionError("list_available_services walked the service folders")

    monkeypatch.setattr(Loader, "list_available_services", walked)
    core = session(True)
    for service in botocore_models.OPERATIONS:
        core.create_client(service, region_name="eu-west-1", **KEYS)
    loader = core.get_component("data_loader")
    _, path = loader.load_data_with_path("endpoints")
    assert path.startswith(botocore_models.MODELS_DIR)
    assert loader.is_builtin_path(path)  # so rule sets do not take it for a custom endpoint
    with pytest.raises(AssertionError, match="walked"):
        core.create_client("s3", region_name="eu-west-1", **KEYS)  # any other: stock way


def test_other_services_still_load_the_full_model_through_the_trimmed_loader() -> None:
    core = session(True)
    s3 = core.create_client("s3", region_name="eu-west-1", **KEYS)
    assert "ListBuckets" in s3.meta.service_model.operation_names
    loader = core.get_component("data_loader")
    assert loader.load_service_model("ecr", "paginators-1")  # other model types: botocore's


# -- byte-identical requests and identical answers ---------------------------------------------

REGIONS = (
    "us-east-1", "eu-west-1", "ap-southeast-7", "cn-north-1", "cn-northwest-1",
    "us-gov-west-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "aws-global",
    "xx-nowhere-1",
)  # fmt: skip
FLAVOURS = ((False, False), (True, False), (False, True), (True, True))
GAT_OK = json.dumps(
    {"authorizationData": [{"authorizationToken": "QVdTOnNlY3JldA==",
                            "expiresAt": 1.7e9, "proxyEndpoint": "https://x"}]}
).encode()  # fmt: skip
STS_OK = (
    b'<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
    b"<Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
    b"<SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>"
    b"<AssumedRoleUser><AssumedRoleId>AROA:x</AssumedRoleId><Arn>arn:aws:sts::1:assumed-role/r/x"
    b"</Arn></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>"
)


def _json_error(code: str) -> tuple[int, bytes]:
    return 400, json.dumps({"__type": code, "message": "no"}).encode()


def _xml_error(code: str) -> tuple[int, bytes]:
    return 403, (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>no</Message>"
        "</Error></ErrorResponse>"
    ).encode()


# (service, operation, params, answers: (status, body) each)
CALLS: tuple[tuple[str, str, dict[str, Any], tuple[tuple[int, bytes], ...]], ...] = (
    ("ecr", "get_authorization_token", {"registryIds": ["123456789012"]},
     ((200, GAT_OK), _json_error("InvalidParameterException"), _json_error("ServerException"),
      _json_error("RepositoryNotFoundException"), _json_error("AccessDeniedException"))),
    ("ecr-public", "get_authorization_token", {},
     ((200, GAT_OK), _json_error("ServerException"), _json_error("ThrottlingException"))),
    ("sts", "assume_role", {"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "s"},
     ((200, STS_OK), _xml_error("AccessDenied"), _xml_error("RegionDisabledException"))),
    ("sts", "assume_role_with_web_identity",
     {"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "s", "WebIdentityToken": "t"},
     (_xml_error("InvalidIdentityToken"), _xml_error("ExpiredTokenException"))),
    ("sts", "get_caller_identity", {}, (_xml_error("AccessDenied"),)),
    ("sso", "get_role_credentials", {"roleName": "r", "accountId": "1", "accessToken": "t"},
     ((401, b'{"message": "expired"}'),)),
)  # fmt: skip
VOLATILE = {"x-amz-date", "amz-sdk-invocation-id"}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _request_facts(request: Any) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in VOLATILE}
    auth = headers.pop("authorization", None)
    if isinstance(auth, bytes):
        auth = auth.decode()
    if auth:  # the credential scope and signed headers; the date and signature change
        scope = auth.partition(", Signature=")[0]
        algo_key, _date, *scope_rest = scope.split("/")
        auth = "/".join([algo_key, *scope_rest])
    return {"method": request.method, "url": request.url, "body": request.body,
            "headers": headers, "auth": auth}  # fmt: skip


def _outcomes(core: botocore.session.Session, service: str, region: str, flavour: Any,
              settings: dict[str, str], op: str, params: dict[str, Any],
              answers: tuple[tuple[int, bytes], ...], endpoint_url: str | None) -> list[Any]:  # fmt: skip
    fips, dualstack = flavour
    config = Config(use_fips_endpoint=fips, use_dualstack_endpoint=dualstack,
                    retries={"total_max_attempts": 1})  # fmt: skip
    try:
        client = core.create_client(service, region_name=region, config=config,
                                    endpoint_url=endpoint_url, **KEYS)  # fmt: skip
    except Exception as exc:  # the same failure is the expected answer
        return [("client", type(exc).__name__, str(exc))]
    out: list[Any] = []
    for status, body in answers:
        seen: list[Any] = []

        def reply(
            request: Any, status: int = status, body: bytes = body, seen: list[Any] = seen,
            **_: Any,
        ) -> Any:
            seen.append(_request_facts(request))
            return AWSResponse(request.url, status, {"x-amzn-requestid": "r"}, _Raw(body))

        client.meta.events.register("before-send", reply)
        try:
            result: Any = getattr(client, op)(**params)
        except Exception as exc:  # error class and parsed error compared
            result = (type(exc).__name__, str(exc), getattr(exc, "response", None))
        client.meta.events.unregister("before-send", reply)
        out.append((seen, result))
    return out


@pytest.mark.parametrize(("service", "op", "params", "answers"), CALLS,
                         ids=[f"{c[0]}.{c[1]}" for c in CALLS])  # fmt: skip
def test_trimmed_models_send_the_same_bytes_and_read_answers_the_same(
    service: str, op: str, params: dict[str, Any], answers: tuple[tuple[int, bytes], ...]
) -> None:
    settings_cases: list[dict[str, str]] = [{}]
    if service == "sts":
        settings_cases.append({"sts_regional_endpoints": "legacy"})
    stock_core = {i: session(False, **s) for i, s in enumerate(settings_cases)}
    trimmed_core = {i: session(True, **s) for i, s in enumerate(settings_cases)}
    compared = 0
    for i, settings in enumerate(settings_cases):
        for region in REGIONS:
            for flavour in FLAVOURS:
                for url in (None, "http://127.0.0.1:9"):
                    args = (service, region, flavour, settings, op, params, answers, url)
                    stock = _outcomes(stock_core[i], *args)
                    trimmed = _outcomes(trimmed_core[i], *args)
                    assert trimmed == stock, (region, flavour, settings, url)
                    compared += 1
    assert compared == len(settings_cases) * len(REGIONS) * len(FLAVOURS) * 2


def test_the_sample_covers_fips_and_dualstack_hosts_in_several_partitions() -> None:
    # The comparison above must not pass only because every case failed the same way.
    core = session(True)
    hosts = set()
    for region, flavour in (("us-east-1", (True, False)), ("us-east-1", (False, True)),
                            ("cn-north-1", (False, False)), ("us-gov-west-1", (True, False))):  # fmt: skip
        out = _outcomes(core, "ecr", region, flavour, {}, "get_authorization_token",
                        {}, ((200, GAT_OK),), None)  # fmt: skip
        hosts.add(out[0][0][0]["url"])
    assert hosts == {  # AWS's ECR API endpoints (FIPS, dual-stack, China, GovCloud FIPS)
        "https://api.ecr-fips.us-east-1.amazonaws.com/",
        "https://ecr.us-east-1.api.aws/",
        "https://api.ecr.cn-north-1.amazonaws.com.cn/",
        "https://api.ecr-fips.us-gov-west-1.amazonaws.com/",
    }


# -- falling back to the stock loader ------------------------------------------------------------


def _copy_models(tmp_path: Path, **manifest_changes: Any) -> Path:
    models = tmp_path / "models"
    shutil.copytree(botocore_models.MODELS_DIR, models)
    doc = json.loads((models / "manifest.json").read_text())
    doc.update(manifest_changes)
    (models / "manifest.json").write_text(json.dumps(doc))
    return models


def test_models_from_another_botocore_version_are_not_used(tmp_path: Path) -> None:
    core = botocore.session.Session()
    assert botocore_models.trimmed_loader(core, str(_copy_models(tmp_path))) is not None
    other = _copy_models(tmp_path / "o", botocore="0.0.1")
    assert botocore_models.trimmed_loader(core, str(other)) is None
    assert not botocore_models.install(core, str(other))
    assert type(core.get_component("data_loader")) is Loader


@pytest.mark.parametrize("damage", ["", "{", "[]", '{"botocore": 1, "services": {}}',
                                    '{"botocore": "x", "services": {"ecr": 1}}'])  # fmt: skip
def test_a_damaged_manifest_means_the_stock_loader(tmp_path: Path, damage: str) -> None:
    models = _copy_models(tmp_path)
    (models / "manifest.json").write_text(damage)
    assert botocore_models.trimmed_loader(botocore.session.Session(), str(models)) is None


def test_user_models_keep_winning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    assert botocore_models.trimmed_loader(botocore.session.Session()) is None
    monkeypatch.delenv("AWS_DATA_PATH")
    monkeypatch.setattr(Loader, "CUSTOMER_DATA_PATH", str(tmp_path))  # ~/.aws/models exists
    assert botocore_models.trimmed_loader(botocore.session.Session()) is None


def test_token_sessions_use_the_trimmed_loader_and_others_the_stock_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    trimmed = aws_session.botocore_session(region="us-east-1", trimmed_models=True)
    assert type(trimmed.get_component("data_loader")).__name__ == "TrimmedLoader"
    stock = aws_session.botocore_session(region="us-east-1")
    assert type(stock.get_component("data_loader")) is Loader


def test_a_failure_installing_the_trimmed_loader_keeps_the_stock_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")

    def broken(*_a: Any, **_k: Any) -> bool:
        raise OSError("unreadable")

    monkeypatch.setattr(botocore_models, "install", broken)
    core = aws_session.botocore_session(region="us-east-1", trimmed_models=True)
    assert type(core.get_component("data_loader")) is Loader
    assert core.create_client("ecr", region_name="us-east-1")


def test_every_shipped_model_file_is_in_the_package_data() -> None:
    import fnmatch

    import tomllib

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["credhelper"]
    root = Path(botocore_models.MODELS_DIR).parent
    files = [p.relative_to(root).as_posix() for p in Path(botocore_models.MODELS_DIR).rglob("*")
             if p.is_file()]  # fmt: skip
    assert len(files) == 2 + 2 * len(botocore_models.OPERATIONS)
    for name in files:
        assert any(fnmatch.fnmatchcase(name, p) and name.count("/") == p.count("/")
                   for p in patterns), name  # fmt: skip
