"""parse_policy validation (errors name the place), Request validation and result shapes."""

from __future__ import annotations

from typing import Any

import pytest

from credhelper.errors import PolicyDocumentError
from credhelper.permissions.evaluate import PolicySet, Request, evaluate
from credhelper.permissions.policy import PolicyKind, parse_policy

ALICE = "arn:aws:iam::111122223333:user/alice"
REPO = "arn:aws:ecr:us-east-1:111122223333:repository/app"


def stmt(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}
    base.update(extra)
    return {key: value for key, value in base.items() if value is not None}


def doc(*statements: object) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


BAD: list[tuple[object, PolicyKind, str]] = [
    ([], "identity", "p: a policy must be a JSON object"),
    ({"Version": "2020-01-01", "Statement": [stmt()]}, "identity", "p.Version: must be one of"),
    ({"Version": 2012, "Statement": [stmt()]}, "identity", "p.Version: must be one of"),
    (
        {"Version": "2012-10-17", "Statement": [{**stmt(), "Principal": {"AWS": "111122223333"}}]},
        "rcp",
        'p.Statement[0].Principal: an RCP statement needs "Principal": "*"',
    ),
    (doc(stmt()), "rcp", "p.Statement[0]: needs Principal or NotPrincipal"),
    (doc(stmt(Principal="*", Resource=None)), "rcp", "p.Statement[0]: needs Resource or"),
    (doc(stmt()), "vpce", "p.Statement[0]: needs Principal or NotPrincipal"),
    (doc(stmt(Resource="arn:aws:ecr:us-east-1")), "identity", "must be an ARN or '*'"),
    ({"Version": "2012-10-17", "Statement": []}, "identity", "p.Statement: must be"),
    ({**doc(stmt()), "Extra": 1}, "identity", "p: unknown element 'Extra'"),
    (doc(stmt(), "x"), "identity", "p.Statement[1]: a statement must be a JSON object"),
    (doc(stmt(Effect="allow")), "identity", "p.Statement[0].Effect: must be"),
    (doc(stmt(Effect=None)), "identity", "p.Statement[0].Effect: must be"),
    (doc(stmt(NotAction="ecr:*")), "identity", "p.Statement[0]: use either Action or NotAction"),
    (doc(stmt(Action=None)), "identity", "p.Statement[0]: needs Action or NotAction"),
    (doc(stmt(Action=[])), "identity", "p.Statement[0].Action: must be a string or a non-empty"),
    (doc(stmt(Action=["ecr:*", 3])), "identity", "p.Statement[0].Action: must be a string"),
    (doc(stmt(Action="PutImage")), "identity", "p.Statement[0].Action: 'PutImage' is not"),
    (doc(stmt(Resource=None)), "identity", "p.Statement[0]: needs Resource or NotResource"),
    (doc(stmt(NotResource="*")), "identity", "p.Statement[0]: use either Resource or"),
    (doc(stmt(Resource="repository/app")), "identity", "'repository/app' must be an ARN or '*'"),
    (doc(stmt(Resource="arn:aws:ecr:us-east-1")), "identity", "must be an ARN or '*'"),
    (doc(stmt(Resource="arn:aws:s3:::${aws:username")), "identity", "unterminated policy var"),
    (doc(stmt(Resource="arn:aws:s3:::${aws:username, x}")), "identity", "must be 'quoted'"),
    (doc(stmt(Principal="*")), "identity", "p.Statement[0].Principal: not allowed in a identity"),
    (doc(stmt(Principal="*")), "scp", "p.Statement[0].Principal: not allowed in a scp policy"),
    (doc(stmt(Resource=None)), "resource", "p.Statement[0]: needs Principal or NotPrincipal"),
    (doc(stmt(Principal="*", NotPrincipal="*")), "resource", "use either Principal or"),
    (doc(stmt(Principal={"AWS": "arn:aws:iam::*:root"})), "resource", "wildcards are not allowed"),
    (doc(stmt(Principal={"AWS": "bob"})), "resource", "'bob' is not an account id or IAM ARN"),
    (doc(stmt(Principal={"Users": "x"})), "resource", "p.Statement[0].Principal: unknown element"),
    (doc(stmt(Principal="everyone")), "resource", "p.Statement[0].Principal: must be"),
    (doc(stmt(Sid=3)), "identity", "p.Statement[0].Sid: must be a string"),
    (doc(stmt(Condition=[])), "identity", "p.Statement[0].Condition: must be an object"),
    (
        doc(stmt(Condition={"StringEqualz": {"aws:username": "a"}})),
        "identity",
        "p.Statement[0].Condition: unknown operator 'StringEqualz'",
    ),
    (doc(stmt(Condition={"NullIfExists": {"k": "true"}})), "identity", "unknown operator"),
    (doc(stmt(Condition={"ForSomeValues:StringEquals": {"k": "a"}})), "identity", "unknown op"),
    (doc(stmt(Condition={"StringEquals": {}})), "identity", "StringEquals: must be a non-empty"),
    (doc(stmt(Condition={"StringEquals": {"k": {"a": 1}}})), "identity", ".StringEquals.k: values"),
    (doc(stmt(Condition={"StringEquals": {"k": []}})), "identity", "needs at least one value"),
    (doc(stmt(Condition={"StringEquals": {"k": None}})), "identity", ".StringEquals.k: values"),
    (doc(stmt(Condition={"NumericLessThan": {"k": "ten"}})), "identity", "'ten' is not a valid"),
    (doc(stmt(Condition={"NumericEquals": {"k": True}})), "identity", "not a valid value"),
    (doc(stmt(Condition={"DateLessThan": {"k": "yesterday"}})), "identity", "not a valid value"),
    (doc(stmt(Condition={"Bool": {"k": "yes"}})), "identity", "'yes' is not a valid value"),
    (doc(stmt(Condition={"Null": {"k": "maybe"}})), "identity", "not a valid value for Null"),
    (doc(stmt(Condition={"IpAddress": {"k": "10.0.0.0/33"}})), "identity", "not a valid value"),
    (doc(stmt(Condition={"BinaryEquals": {"k": "not base64!"}})), "identity", "not a valid"),
    (doc(stmt(Condition={"StringLike": {"k": "${x"}})), "identity", "unterminated policy var"),
]


@pytest.mark.parametrize(("document", "kind", "message"), BAD)
def test_bad_documents_name_the_place(document: object, kind: PolicyKind, message: str) -> None:
    with pytest.raises(PolicyDocumentError) as info:
        parse_policy(document, "p", kind=kind)
    assert message in info.value.one_line()
    assert info.value.exit_code == 1


def test_single_statement_object_is_named_without_index() -> None:
    bad = {"Version": "2012-10-17", "Statement": {"Effect": "Maybe", "Action": "*"}}
    with pytest.raises(PolicyDocumentError, match=r"^p\.Statement\.Effect: "):
        parse_policy(bad, "p")


GOOD: list[tuple[dict[str, Any], PolicyKind]] = [
    (doc(stmt(Condition={"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a*"]}})), "identity"),
    (doc(stmt(Condition={"stringequals": {"aws:username": "a"}})), "identity"),
    (doc(stmt(Condition={"NumericLessThan": {"k": [1, "2.5"]}})), "identity"),
    (doc(stmt(Condition={"DateGreaterThan": {"k": [1700000000, "2024-01-01"]}})), "identity"),
    (doc(stmt(Condition={"Bool": {"k": [True, "FALSE"]}})), "identity"),
    (doc(stmt(Condition={"IpAddress": {"k": ["10.0.0.1", "2001:db8::/32"]}})), "identity"),
    (doc(stmt(Resource=None, Principal={"AWS": "AROAEXAMPLEID0000000"})), "resource"),
    (doc(stmt(Resource=None, Principal={"Service": "codebuild.amazonaws.com"})), "resource"),
    ({"Version": "2008-10-17", "Statement": [stmt(Resource="arn:aws:s3:::b/${x")]}, "identity"),
    ({"Statement": [stmt(Resource="arn:aws:s3:::b/${x")]}, "identity"),
    (doc(stmt(Resource="arn:aws:ecr:*")), "identity"),
    (doc(stmt(Resource="arn:aws:ecr:*:repository/app")), "identity"),
    (doc(stmt(Principal="*", Action="*")), "rcp"),
    (doc(stmt(Principal={"AWS": "111122223333"})), "vpce"),
]


def test_policy_without_version_treats_variables_as_text() -> None:
    # IAM reference, Version element: without it "variables such as ${aws:username} aren't
    # recognized as variables and are instead treated as literal strings".
    literal_repo = "arn:aws:ecr:us-east-1:111122223333:repository/${aws:username}"
    policy = parse_policy({"Statement": [stmt(Resource=literal_repo)]}, "p")
    assert policy.version is None
    policies = PolicySet(identity_policies=[policy])
    assert evaluate(Request(ALICE, "ecr:PutImage", literal_repo), policies).allowed
    alice_repo = "arn:aws:ecr:us-east-1:111122223333:repository/alice"
    assert not evaluate(Request(ALICE, "ecr:PutImage", alice_repo), policies).allowed


@pytest.mark.parametrize(("document", "kind"), GOOD)
def test_valid_documents_parse(document: dict[str, Any], kind: PolicyKind) -> None:
    policy = parse_policy(document, "p", kind=kind)
    assert policy.kind == kind
    assert len(policy.statements) == len(document["Statement"])


def test_name_defaults_to_where_and_can_be_given() -> None:
    assert parse_policy(doc(stmt()), "identity_policies[3]").name == "identity_policies[3]"
    assert parse_policy(doc(stmt()), "x", name="push-app").name == "push-app"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"principal": "alice"}, "principal:"),
        ({"principal": "arn:aws:iam::1234:user/a"}, "account must be 12 digits"),
        ({"action": "PutImage"}, "action: 'PutImage' is not"),
        ({"action": "ecr:Put*"}, "action:"),
        ({"resource": ""}, "resource:"),
        ({"resource_account": "12"}, "resource_account:"),
        ({"context": {"aws:username": "a", "AWS:UserName": "b"}}, "given twice"),
        ({"context": {"k": [["nested"]]}}, "context.k:"),
    ],
)
def test_request_validation(fields: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"principal": ALICE, "action": "ecr:PutImage", "resource": REPO}
    args.update(fields)
    with pytest.raises(PolicyDocumentError, match=message):
        Request(**args)


def test_policy_set_rejects_a_policy_of_the_wrong_kind() -> None:
    boundary = parse_policy(doc(stmt()), "b", kind="permissions_boundary")
    with pytest.raises(ValueError, match="not identity"):
        PolicySet(identity_policies=[boundary])


def test_decision_shape_and_reasons() -> None:
    policies = PolicySet(
        identity_policies=[
            parse_policy(doc(stmt(Sid="All")), "identity_policies[0]"),
            parse_policy(doc(stmt(Effect="Deny", Sid="NoPush", Action="ecr:PutImage")), "deny"),
        ]
    )
    decision = evaluate(Request(ALICE, "ecr:PutImage", REPO), policies)
    assert decision.as_dict() == {
        "decision": "explicitly_denied",
        "reasons": [
            {
                "policy": "deny",
                "statement": 0,
                "sid": "NoPush",
                "effect": "Deny",
                "detail": f"statement matched: Deny ecr:PutImage on {REPO}",
            }
        ],
    }
    allowed = evaluate(Request(ALICE, "ecr:BatchGetImage", REPO), policies)
    assert allowed.allowed
    assert [(r.policy, r.sid, r.effect) for r in allowed.reasons] == [
        ("identity_policies[0]", "All", "Allow")
    ]


def test_boundary_reason_names_the_boundary() -> None:
    policies = PolicySet(
        identity_policies=[parse_policy(doc(stmt()), "identity_policies[0]")],
        permissions_boundary=parse_policy(
            doc(stmt(Action="s3:*")), "permissions_boundary", kind="permissions_boundary"
        ),
    )
    decision = evaluate(Request(ALICE, "ecr:PutImage", REPO), policies)
    assert decision.decision == "implicitly_denied"
    assert [(r.policy, r.statement, r.effect) for r in decision.reasons] == [
        ("permissions_boundary", None, "ImplicitDeny")
    ]
    assert "permissions boundary allows ecr:PutImage" in decision.reasons[0].detail


def test_bad_document_is_never_a_silent_allow() -> None:
    # A typo in a Deny's operator must fail loudly rather than drop the Deny.
    typo = doc(stmt(), stmt(Effect="Deny", Condition={"StringNotEqual": {"aws:username": "a"}}))
    with pytest.raises(PolicyDocumentError, match="StringNotEqual"):
        parse_policy(typo, "identity_policies[0]")
