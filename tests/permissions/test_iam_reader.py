"""``permissions.iam_reader``: one typed method per IAM question, against botocore's Stubber."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator

import pytest

from credhelper.permissions.iam_reader import IamReader, Unreadable, decode_document

from .stubbed_iam import ACCOUNT, StubbedAws, document, policy_arn, stubbed_aws


@pytest.fixture
def aws() -> Iterator[StubbedAws]:
    with stubbed_aws() as stubbed:
        yield stubbed
        stubbed.done()


def test_every_list_follows_the_marker_to_the_last_page(aws: StubbedAws) -> None:
    aws.attached("role", "ci", [[policy_arn("a")], [], [policy_arn("b"), policy_arn("c")]])
    aws.inline_names("group", "ops", [["x"], ["y"]])
    aws.groups("alice", [["ops"], ["devs"]])
    reader = IamReader(aws.iam)

    assert reader.attached_policy_arns("role", "ci") == [policy_arn(n) for n in "abc"]
    assert reader.inline_policy_names("group", "ops") == ["x", "y"]
    assert reader.groups_for_user("alice") == ["ops", "devs"]


def test_a_repeated_marker_is_unreadable_not_an_endless_loop(aws: StubbedAws) -> None:
    page = {"PolicyNames": ["x"], "IsTruncated": True, "Marker": "same"}
    aws.iam_answer("list_role_policies", page, RoleName="ci")
    aws.iam_answer("list_role_policies", page, RoleName="ci", Marker="same")

    with pytest.raises(Unreadable) as caught:
        IamReader(aws.iam).inline_policy_names("role", "ci")
    assert caught.value.call == "iam:ListRolePolicies"


def test_default_version_and_its_document(aws: StubbedAws) -> None:
    arn = policy_arn("push")
    aws.get_policy(arn, "v7")
    aws.policy_version(arn, "v7", document("ecr:PutImage"), default=True)
    reader = IamReader(aws.iam)

    assert reader.default_version_id(arn) == "v7"
    assert reader.policy_version(arn, "v7") == document("ecr:PutImage")


def test_principals_tell_their_arn_and_boundary(aws: StubbedAws) -> None:
    aws.get_role("ci", path="/build/", boundary=policy_arn("limit"))
    aws.get_user("alice")
    reader = IamReader(aws.iam)

    role = reader.role("ci")
    assert (role.arn, role.boundary_arn) == (
        f"arn:aws:iam::{ACCOUNT}:role/build/ci",
        policy_arn("limit"),
    )
    assert reader.user("alice").boundary_arn is None


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("AccessDenied", 403, "AccessDenied"),
        ("Throttling", 400, "Throttling"),
        ("ServiceFailure", 500, "ServiceFailure"),
    ],
)
def test_a_failed_call_is_unreadable_with_its_name_and_reason(
    aws: StubbedAws, code: str, status: int, reason: str
) -> None:
    aws.iam_error("get_user_policy", code, status, UserName="alice", PolicyName="p")

    with pytest.raises(Unreadable) as caught:
        IamReader(aws.iam).inline_policy("user", "alice", "p")
    assert (caught.value.call, caught.value.reason) == ("iam:GetUserPolicy", reason)


def test_a_document_that_is_not_json_is_unreadable(aws: StubbedAws) -> None:
    aws.inline_policy("role", "ci", "broken", "%7Bnot%20json")

    with pytest.raises(Unreadable) as caught:
        IamReader(aws.iam).inline_policy("role", "ci", "broken")
    assert (caught.value.call, caught.value.reason) == ("iam:GetRolePolicy", "document is not JSON")


def test_documents_decode_from_every_form_iam_and_botocore_give() -> None:
    doc = {"Statement": [{"Condition": {"StringLike": {"aws:PrincipalTag/team": "50%22off"}}}]}
    text = json.dumps(doc)

    assert decode_document(doc) == doc  # botocore already decoded it
    assert decode_document(urllib.parse.quote(text)) == doc  # URL-encoded, as IAM sends it
    # Plain JSON is taken as is: unquoting first would turn the value's %22 into a quote.
    assert decode_document(text) == doc
    assert decode_document("[1, 2]") is None
    assert decode_document(None) is None
