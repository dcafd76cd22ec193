"""The identity side of ``permissions.gather`` against botocore's Stubber.

Each test queues IAM's answers in the order the gather asks (breadth-first over the jobs: the
caller, then the principal's first reads, then what their answers made possible) and ends
with ``aws.done()``: an answer left unasked means a read was skipped. The gather runs through
the same ``Gatherer.identity_tasks`` + ``Scheduler`` entry points ``ecrpy check`` uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from credhelper.permissions.gather import (
    IDENTITY_KNOWN,
    REPOSITORY_POLICY,
    REPOSITORY_TAGS,
    Gathered,
    Gatherer,
    Job,
    Scheduler,
)

from .stubbed_iam import ACCOUNT, InlineExecutor, StubbedAws, document, policy_arn, stubbed_aws

USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
SCP = ("organizations:DescribePolicy", "scp")


@pytest.fixture
def aws() -> Iterator[StubbedAws]:
    with stubbed_aws() as stubbed:
        yield stubbed


@dataclass
class Run:
    out: Gathered
    # (principal ARN, path known) seen by the work that needs IDENTITY_KNOWN
    announced: list[tuple[str | None, bool]]


def gather(aws: StubbedAws, *, use_iam: bool = True, **options: Any) -> Run:
    gatherer = Gatherer(
        sts=aws.sts,
        iam=aws.iam if use_iam else None,
        ecr=None,
        repository="app",
        registry_id=ACCOUNT,
        repository_arn=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app",
        **options,
    )
    run = Run(gatherer.out, [])

    def needs_identity() -> None:
        ident = gatherer.out.identity
        run.announced.append((ident.principal_arn, ident.role_path_known))

    scheduler = Scheduler(InlineExecutor())
    scheduler.add(Job("needs-identity", needs_identity, needs=(IDENTITY_KNOWN,)))
    for job in gatherer.identity_tasks():
        scheduler.add(job)
    scheduler.run()
    aws.done()
    return run


def policies(out: Gathered) -> dict[str, dict[str, Any]]:
    return {p.name: p.document for p in out.identity_policies}


def gaps(out: Gathered) -> set[tuple[str, str]]:
    return {(g.call, g.affects) for g in out.gaps}


def user_reads(
    aws: StubbedAws,
    user: str = "alice",
    *,
    boundary: str | None = None,
    inline: list[list[str]] | None = None,
    attached: list[list[str]] | None = None,
    groups: list[list[str]] | None = None,
) -> None:
    """The caller (an IAM user) and the four reads its answer starts, in the gather's order."""
    aws.caller(f"arn:aws:iam::{ACCOUNT}:user/{user}")
    aws.get_user(user, boundary)
    aws.inline_names("user", user, inline or [[]])
    aws.attached("user", user, attached or [[]])
    aws.groups(user, groups or [[]])


def test_inline_policy_on_the_second_page_is_read(aws: StubbedAws) -> None:
    user_reads(aws, inline=[["first"], ["second"]])
    aws.inline_policy("user", "alice", "first", document("ecr:BatchGetImage"))
    aws.inline_policy("user", "alice", "second", document("ecr:PutImage"))

    out = gather(aws).out

    assert policies(out) == {
        "user alice inline policy first": document("ecr:BatchGetImage"),
        "user alice inline policy second": document("ecr:PutImage"),
    }
    assert gaps(out) == {SCP}
    assert out.identity.kind == "user" and out.identity.principal_arn == USER_ARN


def test_managed_policy_on_the_second_page_is_read_at_its_default_version(
    aws: StubbedAws,
) -> None:
    # "pull" was never updated (default v1); "push" was, twice: v1 is stale and must not count.
    pull, push = policy_arn("pull"), policy_arn("push")
    user_reads(aws, attached=[[pull], [push]])
    aws.get_policy(pull, "v1")
    aws.policy_version(pull, "v1", document("ecr:BatchGetImage"), default=True)
    aws.get_policy(push, "v3")
    aws.policy_version(push, "v1", document("ecr:*"), default=False)
    aws.policy_version(push, "v3", document("ecr:PutImage"), default=True)

    out = gather(aws).out

    assert policies(out) == {pull: document("ecr:BatchGetImage"), push: document("ecr:PutImage")}
    assert all(p.kind == "identity" for p in out.identity_policies)
    assert gaps(out) == {SCP}


def test_default_version_is_read_when_v1_was_deleted(aws: StubbedAws) -> None:
    managed = policy_arn("rotated")
    user_reads(aws, attached=[[managed]])
    aws.get_policy(managed, "v2")
    aws.iam_error("get_policy_version", "NoSuchEntity", 404, PolicyArn=managed, VersionId="v1")
    aws.policy_version(managed, "v2", document("ecr:PutImage"), default=True)

    out = gather(aws).out

    assert policies(out) == {managed: document("ecr:PutImage")}
    assert gaps(out) == {SCP}


def test_groups_on_every_page_and_their_policies_are_read(aws: StubbedAws) -> None:
    managed = policy_arn("devs")
    user_reads(aws, groups=[["ops"], ["devs"]])
    aws.inline_names("group", "ops", [["ops-inline"]])
    aws.attached("group", "ops", [[]])
    aws.inline_names("group", "devs", [[]])
    aws.attached("group", "devs", [[managed]])
    aws.inline_policy("group", "ops", "ops-inline", document("ecr:BatchGetImage"))
    aws.get_policy(managed, "v1")
    aws.policy_version(managed, "v1", document("ecr:PutImage"), default=True)

    out = gather(aws).out

    assert policies(out) == {
        "group ops inline policy ops-inline": document("ecr:BatchGetImage"),
        managed: document("ecr:PutImage"),
    }
    assert gaps(out) == {SCP}


def test_user_permissions_boundary_is_read_at_its_default_version(aws: StubbedAws) -> None:
    boundary = policy_arn("boundary")
    user_reads(aws, boundary=boundary)
    aws.get_policy(boundary, "v2")
    aws.policy_version(boundary, "v1", document("*"), default=False)
    aws.policy_version(boundary, "v2", document("ecr:BatchGetImage"), default=True)

    out = gather(aws).out

    assert out.boundary is not None
    assert (out.boundary.name, out.boundary.kind) == (boundary, "permissions_boundary")
    assert out.boundary.document == document("ecr:BatchGetImage")
    assert out.identity_policies == []


def test_assumed_role_session_maps_to_its_role_with_path(aws: StubbedAws) -> None:
    boundary = policy_arn("ci-boundary")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/ci/deployer"
    aws.caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-42")
    aws.get_role("deployer", path="/ci/", boundary=boundary)
    aws.inline_names("role", "deployer", [["push"]])
    aws.attached("role", "deployer", [[]])
    aws.get_policy(boundary, "v1")
    aws.policy_version(boundary, "v1", document("ecr:*"), default=True)
    aws.inline_policy("role", "deployer", "push", document("ecr:PutImage"))

    run = gather(aws)
    out = run.out

    ident = out.identity
    assert (ident.kind, ident.name, ident.account) == ("role", "deployer", ACCOUNT)
    assert ident.caller_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-42"
    assert (ident.principal_arn, ident.role_path_known) == (role_arn, True)
    # The identity is announced only once GetRole told the path.
    assert run.announced == [(role_arn, True)]
    assert policies(out) == {"role deployer inline policy push": document("ecr:PutImage")}
    assert out.boundary is not None and out.boundary.document == document("ecr:*")
    assert gaps(out) == {("(none)", "session"), SCP}


def test_unreadable_calls_become_gaps_naming_what_they_would_tell(aws: StubbedAws) -> None:
    managed = policy_arn("push")
    aws.caller(USER_ARN)
    aws.iam_error("get_user", "AccessDenied", UserName="alice")
    aws.inline_names("user", "alice", [["secret"]])
    aws.attached("user", "alice", [[managed]])
    aws.iam_error("list_groups_for_user", "AccessDenied", UserName="alice")
    aws.iam_error("get_user_policy", "AccessDenied", UserName="alice", PolicyName="secret")
    aws.iam_error("get_policy", "Throttling", 400, PolicyArn=managed)
    aws.policy_version(managed, "v1", document("ecr:*"), default=True)

    out = gather(aws).out

    assert out.identity_policies == [] and out.boundary is None
    found = {(g.call, g.affects, g.reason, g.subject) for g in out.gaps}
    assert found == {
        ("iam:GetUser", "boundary", "AccessDenied", "the permissions boundary of user alice"),
        (
            "iam:ListGroupsForUser",
            "identity",
            "AccessDenied",
            "the groups of user alice and their policies",
        ),
        ("iam:GetUserPolicy", "identity", "AccessDenied", "inline policy secret of user alice"),
        (
            "iam:GetPolicy",
            "identity",
            "Throttling",
            f"managed policy attached to user alice ({managed})",
        ),
        (
            "organizations:DescribePolicy",
            "scp",
            "SCPs and RCPs are not readable from a member account; not attempted",
            "service and resource control policies (SCPs, RCPs) of the account's organization",
        ),
    }


def test_unreadable_boundary_is_a_boundary_gap(aws: StubbedAws) -> None:
    boundary = policy_arn("boundary")
    aws.caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s")
    aws.get_role("deployer", boundary=boundary)
    aws.inline_names("role", "deployer", [[]])
    aws.attached("role", "deployer", [[]])
    aws.iam_error("get_policy", "AccessDenied", PolicyArn=boundary)
    aws.policy_version(boundary, "v1", document("ecr:*"), default=True)

    out = gather(aws).out

    assert out.boundary is None
    assert ("iam:GetPolicy", "boundary") in gaps(out)


def test_unreadable_role_keeps_the_pathless_arn_and_still_announces(aws: StubbedAws) -> None:
    aws.caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s")
    aws.iam_error("get_role", "AccessDenied", RoleName="deployer")
    aws.inline_names("role", "deployer", [[]])
    aws.attached("role", "deployer", [[]])

    run = gather(aws)

    pathless = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    assert run.announced == [(pathless, False)]
    assert gaps(run.out) == {("iam:GetRole", "boundary"), ("(none)", "session"), SCP}


def test_truncated_list_without_marker_is_a_gap_not_a_short_list(aws: StubbedAws) -> None:
    aws.caller(USER_ARN)
    aws.get_user("alice")
    truncated = {"PolicyNames": ["first"], "IsTruncated": True}  # but no Marker to go on
    aws.iam_answer("list_user_policies", truncated, UserName="alice")
    aws.attached("user", "alice", [[]])
    aws.groups("alice", [[]])

    out = gather(aws).out

    assert out.identity_policies == []
    assert ("iam:ListUserPolicies", "identity") in gaps(out)


@pytest.mark.parametrize(
    ("arn", "kind", "expected_gaps"),
    [
        (f"arn:aws:iam::{ACCOUNT}:root", "root", {SCP}),
        (
            f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
            "federated-user",
            {("(none)", "identity"), SCP},
        ),
    ],
)
def test_root_and_federated_callers_make_no_iam_calls(
    aws: StubbedAws, arn: str, kind: str, expected_gaps: set[tuple[str, str]]
) -> None:
    aws.caller(arn)  # no IAM answer is queued: any IAM call would fail the Stubber

    run = gather(aws)

    assert run.out.identity.kind == kind
    assert gaps(run.out) == expected_gaps
    assert len(run.announced) == 1


def test_without_iam_the_policies_are_a_gap(aws: StubbedAws) -> None:
    aws.caller(USER_ARN)

    out = gather(aws, use_iam=False).out

    assert gaps(out) == {("iam:*", "identity"), SCP}


def test_role_without_policy_reading_still_learns_its_path(aws: StubbedAws) -> None:
    aws.caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s")
    aws.get_role("deployer", path="/ci/", boundary=policy_arn("boundary"))

    out = gather(aws, read_policies=False).out

    assert out.identity.principal_arn == f"arn:aws:iam::{ACCOUNT}:role/ci/deployer"
    assert out.boundary is None and out.identity_policies == []


def test_named_jobs_let_work_wait_for_the_identity_and_repository_reads(
    aws: StubbedAws,
) -> None:
    # What cli/check.py's simulation needs: the final identity, the repository policy and
    # tags. Added first, it would run first if the scheduler ignored its needs.
    repo = {"repositoryName": "app", "registryId": ACCOUNT}
    policy_text = json.dumps(document("ecr:BatchGetImage"))
    aws.caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s")
    aws.ecr_stub.add_response(
        "describe_repositories",
        {"repositories": [{**repo, "imageTagMutability": "MUTABLE"}]},
        {"repositoryNames": ["app"], "registryId": ACCOUNT},
    )
    aws.ecr_stub.add_response("get_repository_policy", {**repo, "policyText": policy_text}, repo)
    repo_arn = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app"
    tags = {"tags": [{"Key": "team", "Value": "build"}]}
    aws.ecr_stub.add_response("list_tags_for_resource", tags, {"resourceArn": repo_arn})
    aws.ecr_stub.add_response(
        "describe_pull_through_cache_rules", {"pullThroughCacheRules": []}, {"registryId": ACCOUNT}
    )
    aws.get_role("deployer", path="/ci/")
    gatherer = Gatherer(
        sts=aws.sts,
        iam=aws.iam,
        ecr=aws.ecr,
        repository="app",
        registry_id=ACCOUNT,
        repository_arn=repo_arn,
        read_policies=False,
    )
    out = gatherer.out
    seen: list[tuple[str | None, str | None, dict[str, str] | None]] = []

    def simulate() -> None:
        seen.append((out.identity.principal_arn, out.repository.policy_text, out.repository.tags))

    scheduler = Scheduler(InlineExecutor())
    scheduler.add(
        Job("simulate", simulate, needs=(IDENTITY_KNOWN, REPOSITORY_POLICY, REPOSITORY_TAGS))
    )
    for job in [*gatherer.identity_tasks(), *gatherer.repository_jobs()]:
        scheduler.add(job)
    scheduler.run()
    aws.done()

    role_arn = f"arn:aws:iam::{ACCOUNT}:role/ci/deployer"
    assert seen == [(role_arn, policy_text, {"team": "build"})]
