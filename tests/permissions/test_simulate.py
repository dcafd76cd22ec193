"""The iam:SimulatePrincipalPolicy client against recorded AWS-shaped answers on 127.0.0.1.

moto does not implement the simulator, so a tiny ``http.server`` plays IAM: it answers the
query-protocol ``Action=SimulatePrincipalPolicy`` with the XML in ``fixtures/`` and records
each request's parameters so the test can check what the client sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.config import Config

from credhelper.permissions.actions import required_actions
from credhelper.permissions.simulate import context_entries, simulate
from credhelper.permissions.verdict import simulation_evidence
from credhelper.registry import parse

FIXTURES = Path(__file__).parent / "fixtures"
HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
REPO_ARN = "arn:aws:ecr:us-east-1:123456789012:repository/app"
USER = "arn:aws:iam::123456789012:user/alice"
ROLE = "arn:aws:iam::123456789012:role/ci/pusher"
REPO_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "NoUpload", "Effect": "Deny", "Principal": "*", "Action": "ecr:UploadLayerPart"}
        ],
    }
)


class FakeIam:
    def __init__(self) -> None:
        self.requests: list[dict[str, list[str]]] = []
        self.deny = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                fake.requests.append(form)
                if form.get("Action") != ["SimulatePrincipalPolicy"] or fake.deny:
                    status, name = 403, "access_denied.xml"
                elif form.get("ResourceArns.member.1") == ["*"]:
                    status, name = 200, "simulate_principal_policy_token.xml"
                else:
                    status, name = 200, "simulate_principal_policy_repository.xml"
                body = (FIXTURES / name).read_bytes()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIam]:
    server = FakeIam()
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    try:
        yield server
    finally:
        server.stop()


def iam_client() -> Any:
    config = Config(retries={"mode": "standard", "max_attempts": 1})
    return boto3.Session(region_name="us-east-1").client("iam", config=config)


def push_actions() -> list:  # type: ignore[type-arg]
    reg = parse(HOST)
    assert reg is not None
    return required_actions("push", reg, "app")


def test_user_simulation_sends_everything_and_parses_the_answer(fake_iam: FakeIam) -> None:
    sim = simulate(
        iam_client(),
        principal_arn=USER,
        principal_kind="user",
        actions=push_actions(),
        resource_policy=REPO_POLICY,
        resource_account="123456789012",
        partition="aws",
        region="us-east-1",
        resource_tags={"team": "web"},
    )
    assert sim.available
    # one call per resource: the token on *, the rest on the repository
    assert len(fake_iam.requests) == 2
    token_req, repo_req = sorted(
        fake_iam.requests, key=lambda r: r["ResourceArns.member.1"] != ["*"]
    )
    assert token_req["ActionNames.member.1"] == ["ecr:GetAuthorizationToken"]
    assert "ResourcePolicy" not in token_req
    assert repo_req["PolicySourceArn"] == [USER]
    assert repo_req["CallerArn"] == [USER]
    assert repo_req["ResourceArns.member.1"] == [REPO_ARN]
    assert json.loads(repo_req["ResourcePolicy"][0]) == json.loads(REPO_POLICY)
    assert repo_req["ResourceOwner"] == ["arn:aws:iam::123456789012:root"]
    sent_actions = {v[0] for k, v in repo_req.items() if k.startswith("ActionNames.member.")}
    assert sent_actions == {a.action for a in push_actions() if a.resource != "*"}
    keys = {v[0] for k, v in repo_req.items() if k.endswith(".ContextKeyName")}
    assert keys == {"aws:RequestedRegion", "aws:ResourceTag/team"}

    token = sim.get("ecr:GetAuthorizationToken", "*")
    assert token is not None and token.decision == "allowed"
    put = sim.get("ecr:PutImage", REPO_ARN)
    assert put is not None
    assert put.decision == "allowed"
    assert put.matched[0].source_policy_id == "ecr-power-user"
    assert put.matched[0].line == 3
    assert put.allowed_by_organizations is True and put.allowed_by_boundary is True
    initiate = sim.get("ecr:InitiateLayerUpload", REPO_ARN)
    assert initiate is not None and initiate.allowed_by_boundary is False
    upload = sim.get("ecr:UploadLayerPart", REPO_ARN)
    assert upload is not None and upload.decision == "explicitDeny"
    complete = sim.get("ecr:CompleteLayerUpload", REPO_ARN)
    assert complete is not None and complete.missing_context == ("aws:SourceVpce",)

    # and how the verdict reads them
    def read(action: str, resource: str = REPO_ARN) -> str:
        return simulation_evidence(sim.get(action, resource), sim, "user", True).result

    assert read("ecr:PutImage") == "allowed"
    assert read("ecr:InitiateLayerUpload") == "denied"  # boundary
    assert read("ecr:UploadLayerPart") == "denied"
    assert simulation_evidence(upload, sim, "user", True).explicit
    assert "RepositoryPolicy" in simulation_evidence(upload, sim, "user", True).detail
    assert read("ecr:CompleteLayerUpload") == "inconclusive"  # missing context
    assert read("ecr:BatchGetImage") == "unavailable"  # not in the recorded answer


def test_role_simulation_leaves_the_resource_policy_out(fake_iam: FakeIam) -> None:
    sim = simulate(
        iam_client(),
        principal_arn=ROLE,
        principal_kind="role",
        actions=push_actions(),
        resource_policy=REPO_POLICY,
        resource_account="123456789012",
    )
    assert sim.available
    for req in fake_iam.requests:
        assert req["PolicySourceArn"] == [ROLE]
        assert "CallerArn" not in req  # AWS accepts only IAM user ARNs there
        assert "ResourcePolicy" not in req
    put = sim.get("ecr:PutImage", REPO_ARN)
    assert put is not None and not put.resource_policy_included
    ev = simulation_evidence(put, sim, "role", True)
    assert ev.result == "allowed" and ev.assumptions  # session policy unknown


def test_denied_simulation_is_one_source_fewer(fake_iam: FakeIam) -> None:
    fake_iam.deny = True
    sim = simulate(iam_client(), principal_arn=USER, principal_kind="user", actions=push_actions())
    assert not sim.available
    assert sim.reason is not None and "AccessDenied" in sim.reason
    ev = simulation_evidence(None, sim, "user", False)
    assert ev.result == "unavailable"


def test_context_entries() -> None:
    assert context_entries(None, None) == []
    entries = context_entries("eu-west-1", {"b": "2", "a": "1"})
    assert [e["ContextKeyName"] for e in entries] == [
        "aws:RequestedRegion",
        "aws:ResourceTag/a",
        "aws:ResourceTag/b",
    ]
