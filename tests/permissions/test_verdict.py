"""The verdict combination rule, the gap rule and the fix suggestions: pure, no AWS."""

from __future__ import annotations

import pytest

from credhelper.permissions.evaluate import PolicySet, Request, evaluate
from credhelper.permissions.fix import suggest
from credhelper.permissions.gather import Gap, parse_caller
from credhelper.permissions.policy import parse_policy
from credhelper.permissions.probe import ProbeResult
from credhelper.permissions.simulate import MatchedStatement, SimResult, Simulation
from credhelper.permissions.verdict import (
    ASSUME_SCP,
    ASSUME_SESSION,
    Evidence,
    combine,
    evaluation_evidence,
    not_run,
    overall,
    probe_evidence,
    simulation_evidence,
)

ALLOW = Evidence("allowed", "a")
DENY = Evidence("denied", "d")
XDENY = Evidence(
    "denied",
    "explicit",
    explicit=True,
    statements=({"policy": "p", "statement": 1, "sid": "NoPush"},),
)
INC = Evidence("inconclusive", "?")
NA = Evidence("unavailable", "n/a")
NR = not_run("-")
REPO = "arn:aws:ecr:us-east-1:111122223333:repository/app"
USER = "arn:aws:iam::111122223333:user/alice"
SCP_GAP = Gap("organizations", "SCPs", "scp", "not readable")
SESSION_GAP = Gap("(none)", "session policy", "session", "not readable")


@pytest.mark.parametrize(
    ("probe", "sim", "ev", "verdict", "by"),
    [
        # a conclusive probe beats everything, even an explicit deny found locally
        (ALLOW, DENY, DENY, "allowed", "probe"),
        (DENY, ALLOW, ALLOW, "denied", "probe"),
        (ALLOW, XDENY, XDENY, "allowed", "probe"),
        # no conclusive probe: an explicit deny is final
        (INC, ALLOW, XDENY, "denied", "evaluation"),
        (NR, XDENY, ALLOW, "denied", "simulation"),
        # then simulation beats evaluation
        (INC, ALLOW, DENY, "allowed", "simulation"),
        (NR, DENY, ALLOW, "denied", "simulation"),
        (NR, NA, ALLOW, "allowed", "evaluation"),
        (NR, INC, DENY, "denied", "evaluation"),
        # nothing conclusive: undetermined, never a guess
        (INC, NA, INC, "undetermined", None),
        (NR, NR, NR, "undetermined", None),
    ],
)
def test_combination_table(
    probe: Evidence, sim: Evidence, ev: Evidence, verdict: str, by: str | None
) -> None:
    v = combine("ecr:PutImage", REPO, probe, sim, ev)
    assert v.verdict == verdict
    assert v.decided_by == by
    if by is None:
        assert len(v.reasons) == 3  # every source's say is shown


def test_disagreements_are_shown() -> None:
    v = combine("ecr:PutImage", REPO, DENY, ALLOW, ALLOW)
    assert v.verdict == "denied"
    assert len(v.disagreements) == 2
    assert all("probe says denied" in d for d in v.disagreements)
    assert combine("ecr:PutImage", REPO, ALLOW, ALLOW, INC).disagreements == []


def test_assumptions_of_the_deciding_source_are_kept() -> None:
    ev = Evidence("allowed", "x", assumptions=(ASSUME_SCP,))
    v = combine("ecr:PutImage", REPO, NR, NA, ev)
    assert v.assumptions == (ASSUME_SCP,)
    assert combine("ecr:PutImage", REPO, ALLOW, NA, ev).assumptions == ()


def test_overall() -> None:
    a = combine("a:A", "*", ALLOW, NR, NR)
    d = combine("a:B", "*", DENY, NR, NR)
    u = combine("a:C", "*", INC, NR, NR)
    assert overall([a, a]) == "allowed"
    assert overall([a, u]) == "undetermined"
    assert overall([a, u, d]) == "denied"
    assert overall([]) == "allowed"


# -- the gap rule ----------------------------------------------------------------------------


def decide(doc: dict, action: str = "ecr:PutImage") -> object:  # type: ignore[type-arg]
    policy = parse_policy(doc, "p", name="p")
    return evaluate(Request(USER, action, REPO), PolicySet(identity_policies=[policy]))


ALLOW_PUSH = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ecr:PutImage", "Resource": "*"}],
}
DENY_PUSH = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "NoPush", "Effect": "Deny", "Action": "ecr:PutImage", "Resource": "*"}],
}
NOTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


def test_allowed_with_only_unknowable_gaps_carries_assumptions() -> None:
    ev = evaluation_evidence(decide(ALLOW_PUSH), [SCP_GAP, SESSION_GAP])  # type: ignore[arg-type]
    assert ev.result == "allowed"
    assert ev.assumptions == (ASSUME_SCP, ASSUME_SESSION)
    assert evaluation_evidence(decide(ALLOW_PUSH), []).assumptions == ()  # type: ignore[arg-type]


@pytest.mark.parametrize("affects", ["identity", "resource", "boundary"])
def test_allowed_with_readable_gaps_is_inconclusive(affects: str) -> None:
    gap = Gap("iam:X", "something", affects, "AccessDenied")  # type: ignore[arg-type]
    ev = evaluation_evidence(decide(ALLOW_PUSH), [gap])  # type: ignore[arg-type]
    assert ev.result == "inconclusive"


@pytest.mark.parametrize(
    ("affects", "result"),
    [
        ("identity", "inconclusive"),
        ("resource", "inconclusive"),
        ("boundary", "denied"),
        ("scp", "denied"),
        ("session", "denied"),
        ("info", "denied"),
    ],
)
def test_implicit_deny_only_unread_grants_make_it_inconclusive(affects: str, result: str) -> None:
    gap = Gap("iam:X", "something", affects, "AccessDenied")  # type: ignore[arg-type]
    assert evaluation_evidence(decide(NOTHING), [gap]).result == result  # type: ignore[arg-type]


def test_explicit_deny_is_final_whatever_the_gaps() -> None:
    gaps = [Gap("iam:X", "s", "identity", "AccessDenied"), SCP_GAP]
    ev = evaluation_evidence(decide(DENY_PUSH), gaps)  # type: ignore[arg-type]
    assert ev.result == "denied"
    assert ev.explicit
    assert ev.statements == ({"policy": "p", "statement": 0, "sid": "NoPush"},)


def test_no_decision_is_unavailable() -> None:
    assert evaluation_evidence(None, [], "cannot evaluate").result == "unavailable"


# -- reading the probe and the simulator ----------------------------------------------------


def test_probe_evidence() -> None:
    assert probe_evidence(None).result == "not_run"
    assert probe_evidence(ProbeResult("ecr:PutImage", "denied", "x")).result == "denied"


def sim_result(decision: str, **kw: object) -> SimResult:
    return SimResult("ecr:PutImage", REPO, decision, **kw)  # type: ignore[arg-type]


def test_simulation_reading() -> None:
    sim = Simulation(True)
    ev = simulation_evidence(sim_result("allowed"), sim, "user", False)
    assert (ev.result, ev.assumptions) == ("allowed", ())
    assert simulation_evidence(sim_result("allowed"), sim, "role", False).assumptions == (
        ASSUME_SESSION,
    )
    ev = simulation_evidence(
        sim_result("explicitDeny", matched=(MatchedStatement("deny-push", "IAM Policy", 3),)),
        sim,
        "user",
        False,
    )
    assert ev.explicit and "deny-push" in ev.detail
    assert simulation_evidence(sim_result("implicitDeny"), sim, "user", True).result == "denied"
    # roles: the repository policy was not simulated, so it might still grant
    left_out = sim_result("implicitDeny", resource_policy_included=False)
    assert simulation_evidence(left_out, sim, "role", True).result == "inconclusive"
    missing = sim_result("allowed", missing_context=("aws:SourceIp",))
    assert simulation_evidence(missing, sim, "user", False).result == "inconclusive"
    scp = sim_result("implicitDeny", allowed_by_organizations=False, missing_context=("x",))
    assert simulation_evidence(scp, sim, "user", False).result == "denied"
    assert (
        simulation_evidence(None, Simulation(False, "AccessDenied"), "user", False).result
        == "unavailable"
    )
    assert simulation_evidence(None, None, "user", False).result == "not_run"


# -- fix suggestions --------------------------------------------------------------------------

TOKEN = combine("ecr:GetAuthorizationToken", "*", DENY, NR, NR)
PUT = combine("ecr:PutImage", REPO, NR, NR, DENY)
UPLOAD = combine("ecr:UploadLayerPart", REPO, DENY, NR, NR)
OK = combine("ecr:BatchGetImage", REPO, ALLOW, NR, NR)


def test_fix_same_account_lists_only_denied_actions() -> None:
    fix = suggest(
        [TOKEN, OK, UPLOAD, PUT],
        operation="push",
        caller_account="111122223333",
        registry_account="111122223333",
        principal_arn=USER,
    )
    assert fix.identity_statement == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EcrpyPush",
                "Effect": "Allow",
                "Action": ["ecr:UploadLayerPart", "ecr:PutImage"],
                "Resource": REPO,
            },
            {
                "Sid": "EcrpyRegistryLogin",
                "Effect": "Allow",
                "Action": ["ecr:GetAuthorizationToken"],
                "Resource": "*",
            },
        ],
    }
    assert fix.repository_statement is None
    assert fix.remove_deny == []


def test_fix_cross_account_adds_a_repository_statement() -> None:
    role = "arn:aws:iam::444455556666:role/ci"
    fix = suggest(
        [OK, PUT],
        operation="pull",
        caller_account="444455556666",
        registry_account="111122223333",
        principal_arn=role,
        partition="aws",
    )
    assert fix.repository_statement == {
        "Sid": "EcrpyCrossAccountPull",
        "Effect": "Allow",
        "Principal": {"AWS": role},
        "Action": ["ecr:PutImage"],
    }
    assert fix.identity_statement is not None
    assert any("444455556666:root" in n for n in fix.notes)
    root = suggest(
        [PUT],
        operation="pull",
        caller_account="444455556666",
        registry_account="111122223333",
        principal_arn=None,
        partition="aws-cn",
    )
    assert root.repository_statement["Principal"] == {  # type: ignore[index]
        "AWS": "arn:aws-cn:iam::444455556666:root"
    }


def test_fix_names_the_explicit_deny() -> None:
    v = combine("ecr:PutImage", REPO, NR, NR, XDENY)
    fix = suggest(
        [v, OK], operation="push", caller_account="1", registry_account="1", principal_arn=USER
    )
    assert fix.identity_statement is None
    assert fix.remove_deny == [
        {"action": "ecr:PutImage", "policy": "p", "statement": 1, "sid": "NoPush"}
    ]
    assert not fix.empty


def test_fix_mentions_but_does_not_add_undetermined_actions() -> None:
    und = combine("ecr:InitiateLayerUpload", REPO, NR, NA, INC)
    fix = suggest(
        [und, PUT], operation="push", caller_account="1", registry_account="1", principal_arn=USER
    )
    assert fix.identity_statement["Statement"][0]["Action"] == ["ecr:PutImage"]  # type: ignore[index]
    assert any("ecr:InitiateLayerUpload" in n for n in fix.notes)


@pytest.mark.parametrize(
    ("arn", "kind", "principal"),
    [
        (
            "arn:aws:iam::111122223333:user/dev/alice",
            "user",
            "arn:aws:iam::111122223333:user/dev/alice",
        ),
        (
            "arn:aws-cn:sts::111122223333:assumed-role/ci/build-1",
            "role",
            "arn:aws-cn:iam::111122223333:role/ci",
        ),
        ("arn:aws:iam::111122223333:root", "root", "arn:aws:iam::111122223333:root"),
        ("arn:aws:sts::111122223333:federated-user/bob", "federated-user", None),
        ("nonsense", "unknown", None),
    ],
)
def test_parse_caller(arn: str, kind: str, principal: str | None) -> None:
    ident = parse_caller(arn)
    assert (ident.kind, ident.principal_arn) == (kind, principal)


# -- the deciding policy type in AWS's AccessDenied message -----------------------------------
# Messages as the IAM User Guide's "Access denied error message examples" print them
# (troubleshoot_access-denied.html), one per documented example.
DOC_EXAMPLES = [
    (
        "User: arn:aws:iam::777788889999:user/John is not authorized to perform: "
        "codecommit:ListRepositories because no service control policy allows the "
        "codecommit:ListRespositories action",
        "scp",
        False,
    ),
    (
        "User: arn:aws:iam::777788889999:user/John is not authorized to perform: "
        "codecommit:ListRepositories with an explicit deny in a service control policy",
        "scp",
        True,
    ),
    (
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform: "
        "secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:"
        "123456789012:secret:* with an explicit deny in a resource control policy",
        "rcp",
        True,
    ),
    (
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform: "
        "codecommit:ListRepositories because no VPC endpoint policy allows the "
        "codecommit:ListRepositories action",
        "vpce",
        False,
    ),
    (
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform: "
        "codedeploy:ListDeployments on resource: arn:aws:codedeploy:us-east-1:123456789012:"
        "deploymentgroup:* with an explicit deny in a VPC endpoint policy",
        "vpce",
        True,
    ),
    (
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform: "
        "codedeploy:ListDeployments on resource: arn:aws:codedeploy:us-east-1:123456789012:"
        "deploymentgroup:* because no permissions boundary allows the "
        "codedeploy:ListDeployments action",
        "boundary",
        False,
    ),
    (
        "User: arn:aws:iam::777788889999:user/John is not authorized to perform: "
        "sagemaker:ListModels with an explicit deny in a permissions boundary",
        "boundary",
        True,
    ),
    (
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform: "
        "codecommit:ListRepositories because no session policy allows the "
        "codecommit:ListRepositories action",
        "session",
        False,
    ),
    (
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform: "
        "codedeploy:ListDeployments on resource: arn:aws:codedeploy:us-east-1:123456789012:"
        "deploymentgroup:* with an explicit deny in a sessions policy",
        "session",
        True,
    ),
    (
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform: "
        "secretsmanager:GetSecretValue because no resource-based policy allows the "
        "secretsmanager:GetSecretValue action",
        "resource",
        False,
    ),
    (
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform: "
        "secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:"
        "123456789012:secret:* with an explicit deny in a resource-based policy",
        "resource",
        True,
    ),
    (
        "User: arn:aws:iam::123456789012:user/John is not authorized to perform: "
        "sts:AssumeRole because no role trust policy allows the sts:AssumeRole action",
        "trust",
        False,
    ),
    (
        "User: arn:aws:iam::777788889999:user/John is not authorized to perform: "
        "sts:AssumeRole with an explicit deny in the role trust policy",
        "trust",
        True,
    ),
    (
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
        "ecr:InitiateLayerUpload on resource: arn:aws:ecr:us-east-1:123456789012:repository/app "
        "because no identity-based policy allows the ecr:InitiateLayerUpload action",
        "identity",
        False,
    ),
    (
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:PutImage "
        "on resource: arn:aws:ecr:us-east-1:123456789012:repository/app with an explicit deny "
        "in an identity-based policy",
        "identity",
        True,
    ),
]


@pytest.mark.parametrize(("message", "policy_type", "explicit"), DOC_EXAMPLES)
def test_access_denied_message_names_the_deciding_policy_type(
    message: str, policy_type: str, explicit: bool
) -> None:
    from credhelper.permissions.denial import parse

    denial = parse(message)
    assert (denial.policy_type, denial.explicit) == (policy_type, explicit)


@pytest.mark.parametrize(
    "message",
    [
        "User: arn:aws:iam::123456789012:user/u is not authorized to perform: ecr:PutImage",
        "Access Denied",
        "",
    ],
)
def test_access_denied_without_context_names_no_policy_type(message: str) -> None:
    from credhelper.permissions.denial import parse

    assert parse(message).policy_type is None


def test_probe_evidence_carries_the_policy_type_and_the_fix_follows_it() -> None:
    from credhelper.permissions.denial import Denial

    scp = ProbeResult(
        "ecr:InitiateLayerUpload", "denied", "x", "InitiateLayerUpload", Denial("scp", True)
    )
    ev = probe_evidence(scp)
    assert (ev.result, ev.denied_by, ev.explicit) == ("denied", "scp", True)
    v = combine("ecr:InitiateLayerUpload", REPO, ev, NR, ALLOW)
    assert (v.verdict, v.decided_by, v.denied_by) == ("denied", "probe", "scp")
    implicit = combine(
        "ecr:PutImage",
        REPO,
        probe_evidence(ProbeResult("ecr:PutImage", "denied", "y", "PutImage", Denial(None, None))),
        NR,
        NR,
    )
    fix = suggest(
        [v, implicit],
        operation="push",
        caller_account="111122223333",
        registry_account="111122223333",
        principal_arn=USER,
    )
    # the SCP denial gets no identity statement, a note naming who can lift it instead;
    # the denial without a named type still gets the identity statement
    assert fix.identity_statement is not None
    assert fix.identity_statement["Statement"][0]["Action"] == ["ecr:PutImage"]
    assert fix.remove_deny == []
    assert any(
        n.startswith("ecr:InitiateLayerUpload:") and "organization's administrators" in n
        for n in fix.notes
    )


@pytest.mark.parametrize(
    ("repository", "templates", "expected"),
    [
        ("team/app", [{"prefix": "team", "appliedFor": ["CREATE_ON_PUSH"]}], "team"),
        ("teamx/app", [{"prefix": "team", "appliedFor": ["CREATE_ON_PUSH"]}], None),
        ("team/app", [{"prefix": "team", "appliedFor": ["PULL_THROUGH_CACHE"]}], None),
        ("app", [{"prefix": "ROOT", "appliedFor": ["REPLICATION", "CREATE_ON_PUSH"]}], "ROOT"),
        (
            "team/web/app",
            [
                {"prefix": "ROOT", "appliedFor": ["CREATE_ON_PUSH"]},
                {"prefix": "team", "appliedFor": ["CREATE_ON_PUSH"]},
                {"prefix": "team/web", "appliedFor": ["CREATE_ON_PUSH"]},
            ],
            "team/web",
        ),
        ("app", [], None),
    ],
)
def test_create_on_push_template_prefix_rules(
    repository: str, templates: list[dict[str, object]], expected: str | None
) -> None:
    """ECR API reference, CreateRepositoryCreationTemplate ``prefix``: ``prod`` applies to
    repositories beginning with ``prod/``; ``ROOT`` to those without a more specific one."""
    from credhelper.preflight.repository_outcome import create_on_push_template

    assert create_on_push_template(repository, templates) == expected  # type: ignore[arg-type]
