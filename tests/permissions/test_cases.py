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


def test_case_table_is_large_and_every_case_names_its_rule() -> None:
    assert len(CASES) >= 150
    assert len(BY_ID) == len(CASES), "case ids must be unique"
    for case in CASES:
        assert isinstance(case.get("rule"), str) and case["rule"].strip(), case["id"]
        assert case["expect"] in DECISIONS, case["id"]


def test_case_table_covers_every_outcome() -> None:
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
