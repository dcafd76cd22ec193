"""The documented-rules case table, run in-process and through the real ``ecrpy`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from credhelper.cli.policy import parse_simulation
from credhelper.permissions.evaluate import evaluate

CASES_FILE = Path(__file__).with_name("cases.json")
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))
BY_ID = {c["id"]: c for c in CASES}
DECISIONS = {"allowed", "implicitly_denied", "explicitly_denied"}
IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
ORGS = "https://docs.aws.amazon.com/organizations/latest/userguide/"
ECR = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/"

ECRPY = os.path.join(os.path.dirname(sys.executable), "ecrpy")

# A spread over the features, with allowed, implicitly and explicitly denied outcomes.
PROCESS_SAMPLE = [
    "managed-poweruser-putimage",
    "managed-readonly-putimage",
    "xacct-b-with-identity",
    "xacct-b-without-identity",
    "xacct-d-not-in-policy",
    "boundary-session-arn-grant",
    "boundary-role-arn-grant",
    "scp-region-deny-outside",
    "notprincipal-unlisted-user",
    "forall-missing",
    "var-username-resource",
    "ip-notip-deny-outside",
    "partition-cn-allow",
    "mfa-boolifexists-key-missing",
]


# Every page a case cites, by its title, with where it is. A case's "rule" is
# "<page title>: <the documented sentence it checks>".
PAGES = {
    "Policy evaluation logic": f"{IAM}reference_policies_evaluation-logic.html",
    "How AWS enforcement code logic evaluates requests to allow or deny access": (
        f"{IAM}reference_policies_evaluation-logic_policy-eval-denyallow.html"
    ),
    "Policy evaluation for requests within a single account": (
        f"{IAM}reference_policies_evaluation-logic_policy-eval-basics.html"
    ),
    "Cross-account policy evaluation logic": (
        f"{IAM}reference_policies_evaluation-logic-cross-account.html"
    ),
    "The difference between explicit and implicit denies": (
        f"{IAM}reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html"
    ),
    "AWS JSON policy elements: Principal": f"{IAM}reference_policies_elements_principal.html",
    "AWS JSON policy elements: NotPrincipal": (
        f"{IAM}reference_policies_elements_notprincipal.html"
    ),
    "Permissions boundaries for IAM entities": f"{IAM}access_policies_boundaries.html",
    "Policies and permissions in AWS Identity and Access Management": (
        f"{IAM}access_policies.html#policies_session"
    ),
    "Service control policies (SCPs)": f"{ORGS}orgs_manage_policies_scps.html",
    "Resource control policies (RCPs)": f"{ORGS}orgs_manage_policies_rcps.html",
    "IAM JSON policy elements: Condition operators": (
        f"{IAM}reference_policies_elements_condition_operators.html"
    ),
    "IAM JSON policy elements: Condition": f"{IAM}reference_policies_elements_condition.html",
    "Single-valued vs. multivalued context keys": (
        f"{IAM}reference_policies_condition-single-vs-multi-valued-context-keys.html"
    ),
    "IAM policy elements: Variables and tags": f"{IAM}reference_policies_variables.html",
    "IAM JSON policy elements: Resource": f"{IAM}reference_policies_elements_resource.html",
    "IAM JSON policy elements: NotResource": (f"{IAM}reference_policies_elements_notresource.html"),
    "IAM JSON policy elements: Action": f"{IAM}reference_policies_elements_action.html",
    "IAM JSON policy elements: NotAction": f"{IAM}reference_policies_elements_notaction.html",
    "IAM JSON policy elements: Version": f"{IAM}reference_policies_elements_version.html",
    "IAM JSON policy elements: Statement": f"{IAM}reference_policies_elements_statement.html",
    "AWS global condition context keys": f"{IAM}reference_policies_condition-keys.html",
    "AWS managed policies for Amazon Elastic Container Registry": (
        f"{ECR}security-iam-awsmanpol.html"
    ),
    "Using tag-based access control in Amazon ECR": f"{ECR}ecr-supported-iam-actions-tagging.html",
    "Private registry authentication in Amazon ECR": f"{ECR}registry_auth.html",
    "Identify AWS resources with Amazon Resource Names (ARNs)": f"{IAM}reference-arns.html",
    "GetFederationToken (AWS Security Token Service API Reference)": (
        "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html"
    ),
    "Control access to VPC endpoints using endpoint policies": (
        "https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html"
    ),
    "Secure API access with MFA": f"{IAM}id_credentials_mfa_configure-api-require.html",
}

# One case at least for every rule family issue 10 found wrong, by case id.
FAMILIES = {
    "account principal delegates": ["acct-principal-arn-no-identity", "principal-account-id"],
    "NotPrincipal Deny with a boundary": ["notprincipal-deny-boundary-listed"],
    "federated session without session policy": ["fed-no-session-policy"],
    "root user": ["root-no-policies", "root-scp-no-allow"],
    "SCPs skip service principals": ["scp-not-service-principal", "scp-not-service-linked-role"],
    "* ending an ARN segment": ["resource-star-ends-service-segment-deny"],
    "no Version: variables are text": ["version-missing-variables-literal"],
    "aws:CurrentTime filled in": ["currenttime-filled-deny", "epochtime-filled-deny"],
    "RCPs": ["rcp-deny-ecr", "rcp-ecr-no-allow"],
    "VPC endpoint policies": ["vpce-through-endpoint-no-allow", "vpce-not-through-endpoint"],
}


def _page_and_sentence(rule: str) -> tuple[str, str]:
    for title in PAGES:
        if rule.startswith(title + ": "):
            return title, rule[len(title) + 2 :]
    raise AssertionError(f"rule names no known documentation page: {rule!r}")


def test_every_case_names_a_documented_page_and_sentence() -> None:
    assert len(BY_ID) == len(CASES), "case ids must be unique"
    for case in CASES:
        assert case["expect"] in DECISIONS, case["id"]
        _page, sentence = _page_and_sentence(case["rule"])
        # A sentence, not a label: several words ending in a full stop.
        assert len(sentence.split()) >= 3 and sentence.rstrip().endswith((".", ")")), case["id"]


def test_every_cited_page_has_cases_and_every_family_is_covered() -> None:
    cited = {_page_and_sentence(c["rule"])[0] for c in CASES}
    assert cited == set(PAGES)
    for family, ids in FAMILIES.items():
        for case_id in ids:
            assert case_id in BY_ID, (family, case_id)
    counts = Counter(c["expect"] for c in CASES)
    assert all(counts[d] >= 20 for d in DECISIONS), counts


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    request, policies = parse_simulation(case["input"])
    decision = evaluate(request, policies)
    assert decision.decision == case["expect"], decision.as_dict()
    assert decision.reasons, "every decision explains itself"
    if case["expect"] == "explicitly_denied":
        assert all(r.effect == "Deny" and r.statement is not None for r in decision.reasons)


def _simulate(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ECRPY, "policy", "simulate", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_process_sample_has_denied_cases() -> None:
    expects = {BY_ID[cid]["expect"] for cid in PROCESS_SAMPLE}
    assert expects == DECISIONS


@pytest.mark.parametrize("case_id", PROCESS_SAMPLE)
def test_case_through_process(case_id: str, tmp_path: Path) -> None:
    case = BY_ID[case_id]
    path = tmp_path / "input.json"
    path.write_text(json.dumps(case["input"]), encoding="utf-8")
    result = _simulate([str(path)])
    assert result.returncode == (0 if case["expect"] == "allowed" else 3), result.stderr
    out = json.loads(result.stdout)
    assert out["decision"] == case["expect"]
    assert out["reasons"]
    for reason in out["reasons"]:
        assert set(reason) == {"policy", "statement", "sid", "effect", "detail"}


def test_process_reads_stdin_and_explains() -> None:
    case = BY_ID["deny-in-scp"]
    result = _simulate(["--explain", "-"], stdin=json.dumps(case["input"]))
    assert result.returncode == 3
    assert result.stdout.startswith("decision: explicitly denied")
    assert "scps[1][0] statement 1" in result.stdout


def test_named_identity_policy_is_cited_by_name() -> None:
    result = _simulate(["-"], stdin=json.dumps(BY_ID["managed-poweruser-putimage"]["input"]))
    reasons = json.loads(result.stdout)["reasons"]
    assert reasons[0]["policy"] == "AmazonEC2ContainerRegistryPowerUser"
    assert reasons[0]["statement"] == 0
    assert reasons[0]["effect"] == "Allow"


GOOD = {
    "principal": "arn:aws:iam::111122223333:user/alice",
    "action": "ecr:PutImage",
    "resource": "arn:aws:ecr:us-east-1:111122223333:repository/app",
}


def _with_policy(statement: dict[str, Any]) -> str:
    doc = {"Version": "2012-10-17", "Statement": [statement]}
    return json.dumps({**GOOD, "identity_policies": [doc]})


BAD_INPUTS = [
    ("{not json", "stdin: invalid JSON at line 1"),
    (json.dumps([1, 2]), "input: must be a JSON object"),
    (json.dumps({**GOOD, "extra": 1}), "input: unknown key 'extra'"),
    (json.dumps({**GOOD, "principal": "alice"}), "principal:"),
    (json.dumps({**GOOD, "context": []}), "context: must be an object"),
    (json.dumps({**GOOD, "identity_policies": {}}), "identity_policies: must be a list"),
    (json.dumps({**GOOD, "context": {"aws:SourceIp": {"a": 1}}}), "context.aws:SourceIp:"),
    (
        _with_policy(
            {
                "Effect": "Allow",
                "Action": "ecr:*",
                "Resource": "*",
                "Condition": {"StringEqualz": {"aws:username": "x"}},
            }
        ),
        "identity_policies[0].Statement[0].Condition: unknown operator 'StringEqualz'",
    ),
    (
        _with_policy({"Effect": "Allow", "Action": 5, "Resource": "*"}),
        "identity_policies[0].Statement[0].Action: must be a string",
    ),
    (
        _with_policy({"Effect": "allow", "Action": "ecr:*", "Resource": "*"}),
        "identity_policies[0].Statement[0].Effect:",
    ),
    (
        json.dumps({**GOOD, "scps": [[{"Version": "2012-10-17", "Statement": []}]]}),
        "scps[0][0].Statement:",
    ),
]


@pytest.mark.parametrize(("stdin", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_exit_1(stdin: str, message: str) -> None:
    result = _simulate(["-"], stdin=stdin)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ecrpy: ")
    assert message in lines[0]


def test_missing_file_is_one_line_exit_1(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = _simulate([str(missing)])
    assert result.returncode == 1
    expected = f"ecrpy: {missing}: cannot read: No such file or directory"
    assert result.stderr.splitlines() == [expected]
