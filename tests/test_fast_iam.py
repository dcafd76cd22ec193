"""The pre-flight's IAM reads and simulator without botocore (``fast_iam``, ``query_xml``,
``fast_token.iam_call``): botocore's endpoint, request form, answers and errors, held to
botocore itself (its IAM model, serializer, endpoint rules and parser; moto on 127.0.0.1 for
the reads, recorded AWS answers for the simulator, which moto does not implement)."""

from __future__ import annotations

import datetime
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import botocore.session
import pytest
from botocore.config import Config

from credhelper import fast_token, query_xml, signed_call
from credhelper.fast_iam import IAM_OPERATIONS, FastIam
from credhelper.permissions import iam_reader
from credhelper.permissions.simulate import simulate
from tests.e2e.test_check import World, doc
from tests.permissions.test_simulate import (
    FIXTURES,
    REPO_POLICY,
    USER,
    FakeIam,
    fake_iam,  # noqa: F401 - the fixture
    push_actions,
)
from tests.support import MOTO_ACCOUNT, MOTO_REGION
from tests.support.aws_server import AwsServer

READ_OPERATIONS = sorted(set(IAM_OPERATIONS.values()) - {"SimulatePrincipalPolicy"})


def _iam_model() -> Any:
    return botocore.session.get_session().get_service_model("iam")


def _output_names() -> dict[str, set[str]]:
    """Every member name in the outputs of the operations we make, with its shape types
    (``policyDocumentType`` for a policy document)."""
    kinds: dict[str, set[str]] = {}
    seen: set[str] = set()

    def walk(shape: Any) -> None:
        if shape.name in seen:
            return
        seen.add(shape.name)
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                kind = "policy" if member.name == "policyDocumentType" else member.type_name
                kinds.setdefault(name, set()).add(kind)
                walk(member)
        elif shape.type_name == "list":
            walk(shape.member)
        elif shape.type_name == "map":
            walk(shape.value)

    model = _iam_model()
    for operation in IAM_OPERATIONS.values():
        walk(model.operation_model(operation).output_shape)
    return kinds


def test_name_table_is_botocores_iam_model() -> None:
    """Each name has one type in these outputs, and the table names every non-string one."""
    kinds = _output_names()
    assert all(len(k) == 1 for k in kinds.values()), kinds
    by_type: dict[str, set[str]] = {}
    for name, kind in kinds.items():
        by_type.setdefault(next(iter(kind)), set()).add(name)
    assert by_type["list"] == query_xml.LISTS
    assert by_type["map"] == query_xml.MAPS
    assert by_type["boolean"] == query_xml.BOOLEANS
    assert by_type["integer"] == query_xml.INTEGERS
    assert by_type["policy"] == query_xml.POLICY_DOCUMENTS
    assert by_type["structure"] == query_xml.STRUCTURES
    assert set(by_type) <= {"list", "map", "boolean", "integer", "policy", "string",
                            "structure", "timestamp"}  # fmt: skip
    # Non-flattened lists and maps with botocore's default element names; STRING_LISTS are
    # exactly the lists of strings.
    model = _iam_model()
    string_list_shapes = set()
    for operation in IAM_OPERATIONS.values():
        for shape in _shapes(model.operation_model(operation).output_shape):
            if shape.type_name == "structure":
                for name, member in shape.members.items():
                    if name in query_xml.STRING_LISTS:
                        assert member.type_name == "list"
                        string_list_shapes.add(member.name)
    for operation in IAM_OPERATIONS.values():
        for shape in _shapes(model.operation_model(operation).output_shape):
            assert not shape.serialization.get("flattened"), shape.name
            if shape.type_name == "list":
                assert shape.member.serialization.get("name", "member") == "member"
                assert shape.member.type_name in ("string", "structure")
                strings = shape.member.type_name == "string"
                assert strings == (shape.name in string_list_shapes), shape.name
            if shape.type_name == "map":
                assert shape.key.serialization.get("name", "key") == "key"
                assert shape.value.serialization.get("name", "value") == "value"


def _shapes(shape: Any, seen: set[str] | None = None) -> Iterator[Any]:
    seen = set() if seen is None else seen
    if shape.name in seen:
        return
    seen.add(shape.name)
    yield shape
    children = {
        "structure": lambda: list(shape.members.values()),
        "list": lambda: [shape.member],
        "map": lambda: [shape.key, shape.value],
    }.get(shape.type_name, list)()
    for child in children:
        yield from _shapes(child, seen)


def test_operations_are_what_the_reader_and_simulator_call() -> None:
    from botocore import xform_name

    used = {c.method for c in (iam_reader._GET_USER, iam_reader._GET_ROLE,
                               iam_reader._GROUPS_FOR_USER, iam_reader._GET_POLICY,
                               iam_reader._GET_POLICY_VERSION)}  # fmt: skip
    for kind in iam_reader._CALLS.values():
        used |= {kind.inline_names.method, kind.inline_policy.method, kind.attached.method}
    assert set(IAM_OPERATIONS) == used | {"simulate_principal_policy"}
    for method, operation in IAM_OPERATIONS.items():
        assert xform_name(operation) == method


SIMULATE_PARAMS: dict[str, Any] = {
    "PolicySourceArn": USER,
    "ActionNames": ["ecr:PutImage", "ecr:UploadLayerPart"],
    "ResourceArns": ["arn:aws:ecr:us-east-1:123456789012:repository/app"],
    "ResourceOwner": "arn:aws:iam::123456789012:root",
    "CallerArn": USER,
    "ResourcePolicy": REPO_POLICY,
    "ContextEntries": [
        {"ContextKeyName": "aws:RequestedRegion", "ContextKeyValues": ["us-east-1"],
         "ContextKeyType": "string"},
        {"ContextKeyName": "aws:ResourceTag/team", "ContextKeyValues": ["web & ops"],
         "ContextKeyType": "string"},
    ],
    "Marker": "abc/+=",
    "MaxItems": 5,
}  # fmt: skip


@pytest.mark.parametrize(
    ("operation", "params"),
    [("SimulatePrincipalPolicy", SIMULATE_PARAMS),
     ("GetUserPolicy", {"UserName": "alice", "PolicyName": "p q"}),
     ("ListAttachedRolePolicies", {"RoleName": "r", "Marker": "m", "MaxItems": 1}),
     ("GetPolicyVersion", {"PolicyArn": "arn:aws:iam::aws:policy/X", "VersionId": "v2"}),
     ("SimulatePrincipalPolicy", {"PolicySourceArn": USER, "ActionNames": []})],
)  # fmt: skip
def test_form_is_botocores(operation: str, params: dict[str, Any]) -> None:
    from botocore.serialize import create_serializer

    model = _iam_model()
    theirs = create_serializer("query").serialize_to_request(
        params, model.operation_model(operation)
    )["body"]
    ours = query_xml.serialize(operation, model.api_version, params).decode()
    sent = urlencode(theirs, doseq=True)  # what botocore's AWSRequest puts in the body
    assert sorted(parse_qsl(ours, keep_blank_values=True)) == sorted(
        parse_qsl(sent, keep_blank_values=True)
    )


def _botocore_target(region: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """(URL, signing region) of botocore's IAM request, captured before it is sent."""
    from botocore.awsrequest import AWSResponse

    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL") or key == "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS":
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    seen: list[Any] = []

    def capture(request: Any, **_: Any) -> Any:
        scope = request.headers["Authorization"].decode().split("Credential=")[1].split("/")
        seen.append((request.url, scope[2], scope[3]))
        return AWSResponse(request.url, 200, {}, _RawBody(b""))

    client = botocore.session.get_session().create_client(
        "iam", region_name=region, aws_access_key_id="k", aws_secret_access_key="s"
    )
    client.meta.events.register("before-send", capture)
    try:
        client.get_user(UserName="x")
    except Exception:
        pass
    return seen[0]


class _RawBody:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


@pytest.mark.parametrize(
    ("region", "env"),
    [("us-east-1", {}), ("eu-west-1", {}), ("ap-southeast-2", {}), ("cn-north-1", {}),
     ("cn-northwest-1", {}), ("us-gov-west-1", {}), ("us-gov-east-1", {}),
     ("eu-west-1", {"AWS_ENDPOINT_URL_IAM": "http://127.0.0.1:9"}),
     ("eu-west-1", {"AWS_ENDPOINT_URL": "https://iam.example:8443"}),
     ("eu-west-1", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"})],
)  # fmt: skip
def test_iam_endpoint_is_botocores(
    region: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """URL, signing region and service as botocore's IAM endpoint rules make them."""
    url, signing_region, service = _botocore_target(region, env, monkeypatch)
    ours = fast_token.iam_endpoint(region, env, "GetUser")
    assert ours is not None
    assert (ours.url, ours.region, ours.service) == (url, signing_region, service)
    assert fast_token.iam_endpoint(region, env, "GetUser", fips=True) is None
    assert fast_token.iam_endpoint(region, env, "GetUser", dualstack=True) is None


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


def _comparable(answer: Any) -> Any:
    """The answer without ResponseMetadata's headers and retry count (transport details)."""
    if isinstance(answer, dict):
        out = {k: _comparable(v) for k, v in answer.items() if k != "ResponseMetadata"}
        if "ResponseMetadata" in answer:  # each request has its own id: that there is one
            out["RequestId"] = bool(answer["ResponseMetadata"].get("RequestId"))
        return out
    if isinstance(answer, list):
        return [_comparable(v) for v in answer]
    return answer


def _same_time(ours: Any, theirs: Any) -> Any:
    """Our timestamp strings read with botocore's timestamp parser, where botocore has a
    datetime (nothing in ecrpy reads them; the text must still be the same instant)."""
    from botocore.utils import parse_timestamp

    if isinstance(theirs, datetime.datetime):
        assert isinstance(ours, str)
        return parse_timestamp(ours)
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return {k: _same_time(v, theirs.get(k)) for k, v in ours.items()}
    if isinstance(theirs, list) and isinstance(ours, list):
        return [_same_time(o, t) for o, t in zip(ours, theirs, strict=False)]
    return ours


@pytest.fixture
def principals(aws: AwsServer) -> dict[str, str]:
    """A user (path, boundary, tags, inline, managed, two groups), a role (path, boundary,
    inline, managed) and a managed policy with two versions."""
    world = World(aws)
    iam = world.iam
    boundary = world.policy("boundary", doc(["ecr:*"]))
    managed = world.policy("managed", doc(["ecr:Describe*"], sid="Read"))
    iam.create_policy_version(PolicyArn=managed, PolicyDocument=doc(["ecr:List*"]),
                              SetAsDefault=True)  # fmt: skip
    groups = [world.group("g1", [managed]), world.group("g2", [])]
    iam.put_group_policy(GroupName=groups[1], PolicyName="gp", PolicyDocument=doc(["s3:*"]))
    user = world.name("u")
    iam.create_user(UserName=user, Path="/team/", PermissionsBoundary=boundary,
                    Tags=[{"Key": "k", "Value": "v"}])  # fmt: skip
    for g in groups:
        iam.add_user_to_group(GroupName=g, UserName=user)
    for n in ("a", "b", "c"):
        iam.put_user_policy(UserName=user, PolicyName=n, PolicyDocument=doc([f"ecr:{n}%25"]))
    iam.attach_user_policy(UserName=user, PolicyArn=managed)
    role = world.name("r")
    trust = doc(["sts:AssumeRole"])
    iam.create_role(RoleName=role, Path="/ci/", AssumeRolePolicyDocument=trust,
                    PermissionsBoundary=boundary, MaxSessionDuration=7200)  # fmt: skip
    iam.put_role_policy(RoleName=role, PolicyName="rp", PolicyDocument=doc(["ecr:*"]))
    iam.attach_role_policy(RoleName=role, PolicyArn=managed)
    return {"user": user, "role": role, "group": groups[1], "group1": groups[0],
            "managed": managed, "boundary": boundary}  # fmt: skip


def _calls(p: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("GetUser", {"UserName": p["user"]}),
        ("GetRole", {"RoleName": p["role"]}),
        ("ListGroupsForUser", {"UserName": p["user"]}),
        ("ListUserPolicies", {"UserName": p["user"]}),
        ("ListUserPolicies", {"UserName": p["user"], "MaxItems": 2}),
        ("GetUserPolicy", {"UserName": p["user"], "PolicyName": "b"}),
        ("ListAttachedUserPolicies", {"UserName": p["user"]}),
        ("ListGroupPolicies", {"GroupName": p["group"]}),
        ("GetGroupPolicy", {"GroupName": p["group"], "PolicyName": "gp"}),
        ("ListAttachedGroupPolicies", {"GroupName": p["group1"]}),
        ("ListRolePolicies", {"RoleName": p["role"]}),
        ("GetRolePolicy", {"RoleName": p["role"], "PolicyName": "rp"}),
        ("ListAttachedRolePolicies", {"RoleName": p["role"]}),
        ("GetPolicy", {"PolicyArn": p["managed"]}),
        ("GetPolicyVersion", {"PolicyArn": p["managed"], "VersionId": "v1"}),
        ("GetPolicyVersion", {"PolicyArn": p["managed"], "VersionId": "v2"}),
        # errors: what does not exist
        ("GetUser", {"UserName": "nobody-here"}),
        ("GetRole", {"RoleName": "nobody-here"}),
        ("GetPolicy", {"PolicyArn": f"arn:aws:iam::{MOTO_ACCOUNT}:policy/none"}),
        ("GetUserPolicy", {"UserName": p["user"], "PolicyName": "none"}),
        ("ListUserPolicies", {"UserName": "nobody-here"}),
    ]


def _outcome(call: Any) -> Any:
    """The answer, or the error: its class (botocore's modelled subclasses of ClientError,
    such as NoSuchEntityException, need the model: both are ClientError, and ecrpy reads the
    code, never the subclass), code, message and status."""
    from botocore.exceptions import ClientError

    try:
        answer = call()
    except Exception as exc:
        error = getattr(exc, "response", {}).get("Error", {})
        status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        kind = "ClientError" if isinstance(exc, ClientError) else type(exc).__name__
        return ("error", kind, error.get("Code"), error.get("Message"), status)
    assert answer is not None, "the fast path declined the call"
    return _comparable(answer)


def test_iam_reads_answer_as_botocore(
    aws: AwsServer, env: dict[str, str], principals: dict[str, str]
) -> None:
    """Every read the pre-flight makes: the same parsed answer (timestamps: the same instant)
    or the same exception, code, message and status; and the Marker round trip."""
    client = botocore.session.get_session().create_client("iam", region_name=MOTO_REGION)
    for operation, params in _calls(principals):
        method = next(m for m, o in IAM_OPERATIONS.items() if o == operation)
        ours = _outcome(lambda o=operation, p=params: fast_token.iam_call(MOTO_REGION, o, p))
        theirs = _outcome(lambda m=method, p=params: getattr(client, m)(**p))
        assert _same_time(ours, theirs) == theirs, operation
        if isinstance(ours, dict) and ours.get("IsTruncated"):
            more = {**params, "Marker": ours["Marker"]}
            ours = _outcome(lambda o=operation, p=more: fast_token.iam_call(MOTO_REGION, o, p))
            theirs = _outcome(lambda m=method, p=more: getattr(client, m)(**p))
            assert ours == theirs and ours["PolicyNames"], operation
    # The documents were decoded as botocore decodes them (dicts), so the comparison above
    # compared the policies themselves.
    got = fast_token.iam_call(MOTO_REGION, "GetUserPolicy",
                              {"UserName": principals["user"], "PolicyName": "b"})  # fmt: skip
    assert got is not None and isinstance(got["PolicyDocument"], dict)


@pytest.mark.parametrize("fault", ["500", "throttle", "accessdenied", "malformed"])
@pytest.mark.parametrize("attempts", [1, 3])
def test_iam_failures_as_botocore(
    aws: AwsServer,
    env: dict[str, str],
    principals: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    attempts: int,
) -> None:
    """The same exception, code, message and status after the same number of attempts; a
    single failure is retried away by both (standard mode, 3 attempts)."""
    import time

    monkeypatch.setattr(time, "sleep", lambda _s: None)
    config = Config(retries={"mode": "standard", "total_max_attempts": attempts})
    client = botocore.session.get_session().create_client(
        "iam", region_name=MOTO_REGION, config=config
    )
    params = {"UserName": principals["user"]}
    for count in (None, 1):
        results = []
        for call in (
            lambda: fast_token.iam_call(MOTO_REGION, "GetUser", params, attempts=attempts),
            lambda: client.get_user(**params),
        ):
            aws.reset_counts()
            aws.set_fault("GetUser", fault, count)
            results.append((_outcome(call), aws.calls("GetUser")))
            aws.clear_faults()
        assert _same_time(results[0][0], results[1][0]) == results[1][0], (fault, count)
        assert results[0][1] == results[1][1], (fault, count)


@pytest.mark.parametrize(
    "name",
    ["simulate_principal_policy_repository.xml", "simulate_principal_policy_token.xml"],
)
def test_simulator_answer_parses_as_botocores(name: str) -> None:
    """AWS's recorded SimulatePrincipalPolicy answers: query_xml's reading is botocore's
    QueryParser's with the IAM model (no timestamps in this output)."""
    from botocore.parsers import QueryParser

    body = (FIXTURES / name).read_bytes()
    model = _iam_model().operation_model("SimulatePrincipalPolicy")
    theirs = QueryParser().parse(
        {"body": body, "headers": {}, "status_code": 200}, model.output_shape
    )
    ours = query_xml.parse_result(ET.fromstring(body), "SimulatePrincipalPolicy")
    request_id = query_xml.request_id(ET.fromstring(body))
    assert ours["EvaluationResults"], "the fixture has results"
    metadata = theirs.pop("ResponseMetadata")
    assert ours == theirs
    assert request_id == metadata["RequestId"]


def _fast_iam(attempts: int | None = 1) -> FastIam:
    def no_botocore() -> Any:
        raise AssertionError("the fast path fell back to botocore")

    return FastIam("us-east-1", None, None, make_sdk=no_botocore, attempts=attempts)


@pytest.mark.parametrize("deny", [False, True])
def test_simulation_through_fast_iam_is_botocores(
    fake_iam: FakeIam,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
    deny: bool,
) -> None:
    """The same Simulation (results or the reason it is unavailable) and the same requests
    through FastIam's paginator as through botocore's."""
    monkeypatch.setattr(signed_call, "_ssl_context", None)
    fake_iam.deny = deny
    kwargs: dict[str, Any] = {
        "principal_arn": USER, "principal_kind": "user", "actions": push_actions(),
        "resource_policy": REPO_POLICY, "resource_account": "123456789012",
        "partition": "aws", "region": "us-east-1", "resource_tags": {"team": "web"},
    }  # fmt: skip
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    client = botocore.session.get_session().create_client(
        "iam", region_name="us-east-1", config=config
    )
    outcomes = []
    for iam in (_fast_iam(), client):
        fake_iam.requests.clear()
        sim = simulate(iam, **kwargs)
        outcomes.append((sim, sorted(sorted(r.items()) for r in fake_iam.requests)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0].available is not deny


class _Pages:
    """botocore-shaped pages for FastIam's paginator: Marker in, Marker out."""

    def __init__(self, markers: list[str | None]) -> None:
        self.markers, self.sent = markers, []  # type: list[str | None], list[Any]

    def __call__(self, region: str, operation: str, params: Any, *a: Any, **k: Any) -> Any:
        self.sent.append(params.get("Marker"))
        marker = self.markers[len(self.sent) - 1]
        page = {"EvaluationResults": [{"EvalActionName": str(len(self.sent))}]}
        return {**page, "IsTruncated": marker is not None, **({"Marker": marker} if marker else {})}


def test_paginator_follows_markers_as_botocores(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import PaginationError

    pages = _Pages(["m1", "m2", None])
    monkeypatch.setattr(fast_token, "iam_call", pages)
    got = list(_fast_iam().get_paginator("simulate_principal_policy").paginate(A=1))
    assert [p["EvaluationResults"][0]["EvalActionName"] for p in got] == ["1", "2", "3"]
    assert pages.sent == [None, "m1", "m2"]
    pages = _Pages(["m1", "m1", None])
    monkeypatch.setattr(fast_token, "iam_call", pages)
    with pytest.raises(PaginationError):
        list(_fast_iam().get_paginator("simulate_principal_policy").paginate())


# -- IAM connections opened ahead for the pre-flight -------------------------------------------


@pytest.mark.parametrize(
    ("identity", "opened"),
    [
        ("environment keys", 3),
        ("static keys in a profile", 3),
        ("web identity", 3),
        ("an SSO profile (botocore's path)", 0),
        ("a registry role over an SSO profile (botocore's path)", 0),
    ],
)
def test_iam_connections_are_opened_ahead_only_for_calls_made_without_botocore(
    tmp_path: Path, identity: str, opened: int
) -> None:
    from credhelper import http1
    from tests.test_http1_keepalive import Server

    server = Server()
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text(
        "[profile sso]\nsso_session = s\nsso_account_id = 1\nsso_role_name = r\n"
        "[sso-session s]\nsso_start_url = https://example.test/start\nsso_region = us-east-1\n"
    )
    credentials.write_text("[keys]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = x\n")
    env = {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
           "AWS_ENDPOINT_URL_IAM": f"http://127.0.0.1:{server.port}", "HOME": str(tmp_path)}
    profile, role_arn = None, None
    if identity == "environment keys":
        env.update(AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="x")
    elif identity == "static keys in a profile":
        profile = "keys"
    elif identity == "web identity":
        (tmp_path / "token").write_text("eyJ.eyJ.")
        env.update(AWS_ROLE_ARN="arn:aws:iam::123456789012:role/ci",
                   AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "token"))
    else:
        profile = "sso"
        if "registry role" in identity:
            role_arn = "arn:aws:iam::123456789012:role/push"
    try:
        fast_token.preconnect_iam(MOTO_REGION, 3, profile, role_arn, env=env)
        deadline = time.monotonic() + 5
        while server.connections < opened and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert server.connections == opened and server.requests == []
        assert sum(len(c) for c in http1._IDLE.values()) == opened
    finally:
        server.close()
