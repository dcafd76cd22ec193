"""``ecrpy check`` as a real process against moto with IAM enforcement on, behind the
ECR-faithful front (tests/support/ecr_front.py).

moto only enforces *identity* policies (users, groups, roles) and only against resource ``*``,
and has no SimulatePrincipalPolicy (the simulation is always "unavailable" here). Where moto is
unlike ECR for a probe (PutImage of a manifest whose blobs do not exist, GetDownloadUrlForLayer)
the front answers as ECR documents while moto still decides the authorization; ``enforce``
switches it on together with IAM enforcement. Policy types moto cannot evaluate (SCPs, RCPs,
boundaries, session and VPC endpoint policies) are played by the front's ``deny``, with AWS's
AccessDenied wording. Every IAM entity is created with the admin keys *before* enforcement is
switched on (moto then needs real users with access keys), names are unique per test, and the
test users get read access to their own IAM policies unless a test is about not having it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from credhelper.preflight.render import LEGEND
from tests.e2e.test_transfer import World as TransferWorld
from tests.support import (
    MOTO_ACCOUNT,
    MOTO_REGION,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    ecr_host,
    run_ecrpy,
    write_config,
)
from tests.support.aws_server import AwsServer
from tests.support.dockerd import Dockerd
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.e2e
HOST = ecr_host()
PULL = [
    "ecr:GetAuthorizationToken",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
]
PUSH_ONLY = [
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
]
# AWS managed policies AmazonEC2ContainerRegistryReadOnly / PowerUser (moto does not load
# AWS managed policies by default, so the tests create customer-managed copies).
READ_ONLY = [
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeRepositories",
    "ecr:ListImages",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
    "ecr:GetLifecyclePolicy",
    "ecr:GetLifecyclePolicyPreview",
    "ecr:ListTagsForResource",
    "ecr:DescribeImageScanFindings",
]
POWER_USER = READ_ONLY + PUSH_ONLY
SELF_READ = [
    "iam:GetUser",
    "iam:ListUserPolicies",
    "iam:GetUserPolicy",
    "iam:ListAttachedUserPolicies",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:ListGroupsForUser",
    "iam:ListGroupPolicies",
    "iam:GetGroupPolicy",
    "iam:ListAttachedGroupPolicies",
    "iam:GetRole",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
]
# Every AWS operation ecrpy check may call (for the latency test).
CHECK_OPS = [
    "GetCallerIdentity",
    "GetUser",
    "ListUserPolicies",
    "GetUserPolicy",
    "ListAttachedUserPolicies",
    "GetPolicy",
    "GetPolicyVersion",
    "ListGroupsForUser",
    "ListGroupPolicies",
    "GetGroupPolicy",
    "ListAttachedGroupPolicies",
    "GetRole",
    "ListRolePolicies",
    "GetRolePolicy",
    "ListAttachedRolePolicies",
    "SimulatePrincipalPolicy",
    "DescribeRepositories",
    "GetRepositoryPolicy",
    "ListTagsForResource",
    "DescribePullThroughCacheRules",
    "GetLifecyclePolicy",
    "DescribeKey",
    "ListGrants",
    "DescribeImages",
    "BatchGetImage",
    "BatchCheckLayerAvailability",
    "GetDownloadUrlForLayer",
    "UploadLayerPart",
    "CompleteLayerUpload",
    "InitiateLayerUpload",
    "PutImage",
    "GetAuthorizationToken",
]
# AWS's minimal push policy (ECR User Guide, "Pushing an image": the IAM permissions
# required to push), in the order ecrpy lists them: no IAM read, no DescribeRepositories.
LEAST_PRIVILEGE_PUSH = [
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
]


def doc(actions: list[str], effect: str = "Allow", sid: str | None = None) -> str:
    stmt: dict[str, Any] = {"Effect": effect, "Action": actions, "Resource": "*"}
    if sid:
        stmt = {"Sid": sid, **stmt}
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


class World:
    """Creates repositories and IAM entities with moto's admin keys (before enforcement)."""

    def __init__(self, aws: AwsServer) -> None:
        kw = {
            "endpoint_url": aws.url,
            "region_name": MOTO_REGION,
            "aws_access_key_id": TEST_ACCESS_KEY_ID,
            "aws_secret_access_key": TEST_SECRET_ACCESS_KEY,
        }
        self.iam = boto3.client("iam", **kw)
        self.ecr = boto3.client("ecr", **kw)
        self.uid = uuid.uuid4().hex[:8]

    def name(self, base: str) -> str:
        return f"{base}-{self.uid}"

    def repo(self, base: str = "app", immutable: bool = False) -> str:
        name = self.name(base)
        self.ecr.create_repository(
            repositoryName=name, imageTagMutability="IMMUTABLE" if immutable else "MUTABLE"
        )
        return name

    def tag(self, repo: str, tag: str) -> None:
        """Make REPO:TAG exist (a manifest whose blobs live nowhere: call before ``enforce``,
        while the ECR-faithful front is off)."""
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 2,
                "digest": "sha256:" + uuid.uuid4().hex * 2,
            },
            "layers": [],
        }
        self.ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag=tag)

    def policy(self, base: str, document: str) -> str:
        arn: str = self.iam.create_policy(PolicyName=self.name(base), PolicyDocument=document)[
            "Policy"
        ]["Arn"]
        return arn

    def group(self, base: str, managed: list[str]) -> str:
        name = self.name(base)
        self.iam.create_group(GroupName=name)
        for arn in managed:
            self.iam.attach_group_policy(GroupName=name, PolicyArn=arn)
        return name

    def user(
        self,
        base: str,
        managed: list[str] = (),
        groups: list[str] = (),  # type: ignore[assignment]
        inline: dict[str, str] | None = None,
        self_read: bool = True,
    ) -> dict[str, str]:
        name = self.name(base)
        self.iam.create_user(UserName=name)
        for arn in managed:
            self.iam.attach_user_policy(UserName=name, PolicyArn=arn)
        for g in groups:
            self.iam.add_user_to_group(GroupName=g, UserName=name)
        policies = dict(inline or {})
        if self_read:
            policies["self-read"] = doc(SELF_READ)
        for pname, pdoc in policies.items():
            self.iam.put_user_policy(UserName=name, PolicyName=pname, PolicyDocument=pdoc)
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return {
            "name": name,
            "arn": f"arn:aws:iam::{MOTO_ACCOUNT}:user/{name}",
            "key": key["AccessKeyId"],
            "secret": key["SecretAccessKey"],
        }


@pytest.fixture
def world(aws: AwsServer) -> World:
    return World(aws)


def as_user(env: dict[str, str], user: dict[str, str]) -> dict[str, str]:
    return {**env, "AWS_ACCESS_KEY_ID": user["key"], "AWS_SECRET_ACCESS_KEY": user["secret"]}


def check(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    """Run ``ecrpy check ARGS --json``; (exit code, document, stderr)."""
    proc = run_ecrpy(env, "check", *args, "--json")
    out = proc.stdout.decode()
    assert proc.returncode in (0, 3, 4, 5), (proc.returncode, out, proc.stderr.decode())
    return proc.returncode, json.loads(out), proc.stderr.decode()


def by_action(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["action"]: a for a in document["actions"]}


def enforce(aws: AwsServer) -> None:
    """Switch IAM enforcement and the ECR-faithful front on once the world is built; count
    only ecrpy's calls."""
    aws.ecr_front.set_faithful(True)
    aws.enable_iam_auth()
    aws.reset_counts()


def repository_state(repo: str) -> tuple[list[tuple[str, tuple[str, ...]]], list[str]]:
    """(images as (digest, tags), layers) of REPO as moto's ECR holds them (read in-process:
    no AWS call, so no IAM enforcement in the way)."""
    from moto.ecr.models import ecr_backends

    r = ecr_backends[MOTO_ACCOUNT][MOTO_REGION].repositories[repo]
    images = sorted((img.get_image_digest(), tuple(img.image_tags)) for img in r.images)
    return images, sorted(r.layers)


def open_uploads(repo: str) -> int:
    from moto.ecr.models import ecr_backends

    return len(ecr_backends[MOTO_ACCOUNT][MOTO_REGION].repositories[repo].uploads)


def assert_nothing_created(aws: AwsServer, repo: str | None = None, before: Any = None) -> None:
    """ecrpy check creates no repository, image, layer or tag: the creating calls are never
    made, and the probes that reach further (InitiateLayerUpload, PutImage) leave the
    repository exactly as it was."""
    for op in ("CreateRepository", "BatchImportUpstreamImage"):
        assert aws.calls(op) == 0, op
    if repo is not None:
        assert repository_state(repo) == (before or ([], []))


# -- the schema of --json ----------------------------------------------------------------------

EVIDENCE_RESULTS = {"allowed", "denied", "inconclusive", "unavailable", "not_run"}
VERDICTS = {"allowed", "denied", "undetermined"}
EXIT = {"allowed": 0, "denied": 3, "refused": 3, "undetermined": 4, "repository_missing": 5}
POLICY_TYPES = {"scp", "rcp", "vpce", "boundary", "session", "resource", "trust", "identity"}


def validate(d: dict[str, Any]) -> None:
    """The shape documented in credhelper/preflight/result.py and docs/check-json-schema.md."""
    assert set(d) == {
        "schema",
        "image",
        "registry",
        "repository",
        "reference",
        "operation",
        "method",
        "identity",
        "verdict",
        "exit_code",
        "problems",
        "suggestion",
        "nearest_tags",
        "notes",
        "actions",
        "gaps",
        "fix",
        "elapsed_seconds",
    }
    assert d["schema"] == "ecrpy.check/1"
    assert isinstance(d["image"], str)
    assert set(d["registry"]) == {"host", "account_id", "region", "partition", "public", "policy"}
    assert d["registry"]["policy"] in ("present", "none", "unreadable", "unknown")
    assert set(d["repository"]) == {
        "name",
        "arn",
        "exists",
        "tag_mutability",
        "tag_exists",
        "policy",
        "pull_through_prefix",
        "encryption",
        "lifecycle",
    }
    enc = d["repository"]["encryption"]
    if enc is not None:
        assert set(enc) == {"type", "kms_key", "key"}
        assert enc["type"] in ("AES256", "KMS", "KMS_DSSE")
        assert enc["key"] is None or set(enc["key"]) == {
            "key",
            "arn",
            "state",
            "manager",
            "deletion_date",
            "ecr_grants",
        }
    assert set(d["repository"]["lifecycle"]) == {"policy", "warnings"}
    assert d["repository"]["lifecycle"]["policy"] in ("present", "none", "unreadable", "unknown")
    assert all(isinstance(w, str) for w in d["repository"]["lifecycle"]["warnings"])
    assert d["repository"]["exists"] in (True, False, None)
    assert d["repository"]["policy"] in ("present", "none", "unreadable", "unknown")
    assert set(d["reference"]) == {"tag", "digest"}
    assert d["operation"] in ("push", "pull")
    assert d["method"] in ("auto", "probe", "simulate", "evaluate")
    assert set(d["identity"]) == {"caller_arn", "principal_arn", "account", "type"}
    assert d["verdict"] in EXIT
    assert d["exit_code"] == EXIT[d["verdict"]]
    assert all(isinstance(p, str) for p in d["problems"] + d["notes"])
    assert d["suggestion"] is None or isinstance(d["suggestion"], str)
    assert d["nearest_tags"] is None or all(isinstance(t, str) for t in d["nearest_tags"])
    assert "moto" not in json.dumps(d).lower()  # never the test double's name
    for a in d["actions"]:
        assert set(a) == {
            "action",
            "resource",
            "verdict",
            "decided_by",
            "denied_by",
            "assumptions",
            "evidence",
            "reasons",
            "disagreements",
        }
        assert a["verdict"] in VERDICTS
        assert a["decided_by"] in ("probe", "simulation", "evaluation", None)
        assert a["denied_by"] is None or a["denied_by"] in POLICY_TYPES
        assert set(a["evidence"]) == {"probe", "simulation", "evaluation"}
        for ev in a["evidence"].values():
            assert set(ev) == {"result", "detail", "explicit_deny", "assumptions", "denied_by"}
            assert ev["result"] in EVIDENCE_RESULTS
            assert isinstance(ev["explicit_deny"], bool)
            assert ev["denied_by"] is None or ev["denied_by"] in POLICY_TYPES
        assert all(isinstance(r, str) for r in a["reasons"] + a["disagreements"])
    for g in d["gaps"]:
        assert set(g) == {"call", "subject", "affects", "reason"}
        assert g["affects"] in (
            "identity",
            "boundary",
            "resource",
            "session",
            "scp",
            "repository",
            "registry",
            "info",
        )
    if d["verdict"] == "denied":
        assert set(d["fix"]) == {
            "identity_statement",
            "repository_statement",
            "remove_deny",
            "notes",
        }
    else:
        assert d["fix"] is None
    assert isinstance(d["elapsed_seconds"], float)


# -- the cases ---------------------------------------------------------------------------------


def test_read_only_user_may_pull_but_is_denied_push_at_initiate_layer_upload(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    repo = world.repo()
    world.tag(repo, "v1")
    before = repository_state(repo)
    user = world.user("ro", managed=[world.policy("ecr-ro", doc(READ_ONLY))])
    env = as_user(helper_env, user)
    enforce(aws)
    image = f"{HOST}/{repo}:v1"

    code, d, _ = check(env, "pull", image)
    validate(d)
    assert code == 0, d
    assert d["verdict"] == "allowed"
    assert list(by_action(d)) == PULL
    assert d["identity"] == {
        "caller_arn": user["arn"],
        "principal_arn": user["arn"],
        "account": MOTO_ACCOUNT,
        "type": "user",
    }
    # every pull action is decided by AWS itself (GetDownloadUrlForLayer: the ECR-documented
    # LayersNotFoundException for a layer nobody pushed)
    assert {a["action"]: a["decided_by"] for a in d["actions"]} == dict.fromkeys(PULL, "probe")
    dl = by_action(d)["ecr:GetDownloadUrlForLayer"]
    assert "LayersNotFoundException" in dl["evidence"]["probe"]["detail"]

    code, d, _ = check(env, "push", image)
    validate(d)
    assert code == 3
    push = by_action(d)
    assert [a for a, v in push.items() if v["verdict"] == "denied"] == PUSH_ONLY
    assert {a: push[a]["decided_by"] for a in PUSH_ONLY} == dict.fromkeys(PUSH_ONLY, "probe")
    first_denied = next(a for a in d["actions"] if a["verdict"] == "denied")
    assert first_denied["action"] == "ecr:InitiateLayerUpload"
    assert "InitiateLayerUpload: AccessDenied" in first_denied["evidence"]["probe"]["detail"]
    stmt = d["fix"]["identity_statement"]["Statement"]
    assert stmt == [
        {
            "Sid": "EcrpyPush",
            "Effect": "Allow",
            "Action": PUSH_ONLY,
            "Resource": f"arn:aws:ecr:{MOTO_REGION}:{MOTO_ACCOUNT}:repository/{repo}",
        }
    ]
    assert d["fix"]["repository_statement"] is None
    assert_nothing_created(aws, repo, before)
    assert open_uploads(repo) == 0  # denied: not even an upload session

    human = run_ecrpy(env, "check", "push", image)
    assert human.returncode == 3
    text = human.stdout.decode()
    assert "ecr:InitiateLayerUpload: denied: probe: InitiateLayerUpload: AccessDenied" in text
    assert "verdict: DENIED" in text and '"ecr:PutImage"' in text
    assert "moto" not in (text + human.stderr.decode()).lower()
    # the evidence columns are explained right under the table
    table = text.split("\n\n")[1].splitlines()
    assert table[0].split() == ["ACTION", "VERDICT", "EVIDENCE"] and table[-1] == LEGEND


def test_least_privilege_pusher_is_allowed_by_probes_alone(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    """The usual CI identity: the push actions and nothing else (no IAM read, no
    DescribeRepositories). Every action is decided by a probe; nothing is created."""
    repo = world.repo()
    user = world.user("ci", inline={"push": doc(LEAST_PRIVILEGE_PUSH)}, self_read=False)
    env = as_user(helper_env, user)
    enforce(aws)
    before = repository_state(repo)

    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    validate(d)
    assert code == 0, d
    assert d["verdict"] == "allowed"
    assert [a["action"] for a in d["actions"]] == LEAST_PRIVILEGE_PUSH
    assert all(a["decided_by"] == "probe" for a in d["actions"]), d["actions"]
    acts = by_action(d)
    upload = acts["ecr:InitiateLayerUpload"]["evidence"]["probe"]["detail"]
    assert "never used or completed" in upload and "nothing appears in the repository" in upload
    put = acts["ecr:PutImage"]["evidence"]["probe"]["detail"]
    assert "LayersNotFoundException" in put and "nothing was stored" in put
    assert d["repository"]["exists"] is True  # shown by a probe, not by DescribeRepositories
    assert any(g["call"] == "ecr:DescribeRepositories" for g in d["gaps"])

    # "never creates": no image, no layer, no tag; the one upload session is left unfinished
    assert_nothing_created(aws, repo, before)
    assert open_uploads(repo) == 1
    assert aws.calls("CompleteLayerUpload") == 1  # the nil-UUID probe, answered UploadNotFound
    assert aws.ecr_front.refused_manifests == 1

    text = run_ecrpy(env, "check", "push", f"{HOST}/{repo}:v1").stdout.decode()
    assert "verdict: ALLOWED" in text
    assert_nothing_created(aws, repo, before)


def test_least_privilege_push_runs_without_a_warning(
    aws: AwsServer,
    registry_server: RegistryServer,
    dockerd: Dockerd,
    helper_env: dict[str, str],
) -> None:
    """``ecrpy push`` as that CI identity, for real (dockerd + registry): the pre-flight is
    decided by probes, so no "undetermined" warning, and the image arrives."""
    tw = TransferWorld(aws, registry_server, dockerd)
    write_config(
        helper_env,
        f'[registries."{registry_server.host}"]\n'
        f'account_id = "{MOTO_ACCOUNT}"\nregion = "{MOTO_REGION}"\n',
    )
    engine_env = {**helper_env, **dockerd.env()}
    repo = tw.repo()
    name = tw.name("ci")
    tw.iam.create_user(UserName=name)
    tw.iam.put_user_policy(
        UserName=name, PolicyName="push", PolicyDocument=doc(LEAST_PRIVILEGE_PUSH)
    )
    key = tw.iam.create_access_key(UserName=name)["AccessKey"]
    image = tw.local_image(repo, "v1")
    enforce(aws)
    proc = run_ecrpy(
        {
            **engine_env,
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        },
        "push",
        "--json",
        image,
        timeout=120,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "warning" not in err.lower(), err
    assert json.loads(proc.stdout)["preflight"]["verdict"] == "allowed"
    assert tw.registry_has(repo, "v1")


def test_admin_is_allowed_everything_by_probes(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    repo = world.repo()
    world.tag(repo, "v1")
    before = repository_state(repo)
    user = world.user("admin", managed=[world.policy("admin", doc(["*"]))])
    env = as_user(helper_env, user)
    enforce(aws)
    for op, expected in (("push", 7), ("pull", 4)):
        code, d, _ = check(env, op, f"{HOST}/{repo}:v1")
        validate(d)
        assert code == 0, d
        assert len(d["actions"]) == expected
        assert all(a["verdict"] == "allowed" and a["decided_by"] == "probe" for a in d["actions"])
    assert_nothing_created(aws, repo, before)


@pytest.mark.parametrize(
    ("policy_type", "explicit", "words", "who"),
    [
        ("scp", True, "with an explicit deny in a service control policy", "organization's"),
        ("scp", False, "because no service control policy allows", "organization's"),
        ("rcp", True, "with an explicit deny in a resource control policy", "organization's"),
        ("boundary", False, "because no permissions boundary allows", "boundary"),
        ("session", True, "with an explicit deny in a session policy", "session policy"),
        ("vpce", False, "because no VPC endpoint policy allows", "endpoint"),
    ],
)
def test_the_policy_type_in_access_denied_drives_the_fix(
    aws: AwsServer,
    world: World,
    helper_env: dict[str, str],
    policy_type: str,
    explicit: bool,
    words: str,
    who: str,
) -> None:
    """A power user whose InitiateLayerUpload is denied by a policy type no identity policy can
    override: the evidence names it, and the fix says who can change it instead of suggesting
    an identity statement."""
    repo = world.repo()
    user = world.user("pu", managed=[world.policy("ecr-pu", doc(POWER_USER))])
    env = as_user(helper_env, user)
    enforce(aws)
    aws.ecr_front.deny("InitiateLayerUpload", policy_type, explicit=explicit)
    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    validate(d)
    assert code == 3
    upload = by_action(d)["ecr:InitiateLayerUpload"]
    assert (upload["verdict"], upload["decided_by"], upload["denied_by"]) == (
        "denied",
        "probe",
        policy_type,
    )
    # the evaluation of the readable policies says allowed: the probe wins and says why
    assert upload["evidence"]["evaluation"]["result"] == "allowed"
    assert upload["disagreements"]
    assert [a["action"] for a in d["actions"] if a["verdict"] == "denied"] == [
        "ecr:InitiateLayerUpload"
    ]
    assert d["fix"]["identity_statement"] is None
    assert any(who in n and "ecr:InitiateLayerUpload" in n for n in d["fix"]["notes"])
    text = run_ecrpy(env, "check", "push", f"{HOST}/{repo}:v1").stdout.decode()
    assert who in text and "add to the identity's policies" not in text
    del words  # the wording is the front's; parsing it is what the verdict above shows


def test_implicit_identity_denial_still_suggests_the_identity_statement(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    repo = world.repo()
    user = world.user("pu", managed=[world.policy("ecr-pu", doc(POWER_USER))])
    env = as_user(helper_env, user)
    enforce(aws)
    aws.ecr_front.deny("PutImage", "identity", explicit=False)
    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    assert code == 3
    put = by_action(d)["ecr:PutImage"]
    assert put["denied_by"] == "identity"
    assert "no identity-based policy allows it" in put["evidence"]["probe"]["detail"]
    assert d["fix"]["identity_statement"]["Statement"][0]["Action"] == ["ecr:PutImage"]


def test_put_image_probe_can_never_create_an_image(aws: AwsServer, world: World) -> None:
    """The PutImage probe's manifest names only the all-zero sha256, which no blob has: ECR
    refuses it (LayersNotFoundException). Against moto alone the same call stores an image —
    which is why the probe tests run behind the ECR-faithful front."""
    import hashlib

    from credhelper.permissions.probe import FAKE_DIGEST, PROBE_MANIFEST, Prober

    manifest = json.loads(PROBE_MANIFEST)
    digests = [manifest["config"]["digest"]] + [x["digest"] for x in manifest["layers"]]
    assert digests and set(digests) == {FAKE_DIGEST} == {"sha256:" + "0" * 64}
    assert FAKE_DIGEST != "sha256:" + hashlib.sha256(b"").hexdigest()
    assert "imageTag" not in PROBE_MANIFEST

    repo = world.repo()
    prober = Prober(world.ecr, repo, MOTO_ACCOUNT, "v1", None)
    aws.ecr_front.set_faithful(True)
    result = prober.put_image()
    assert (result.outcome, result.call) == ("allowed", "PutImage")
    assert "LayersNotFoundException" in result.detail
    assert repository_state(repo) == ([], [])

    aws.ecr_front.set_faithful(False)  # moto as it is: the difference the front covers
    assert "succeeded" in prober.put_image().detail
    assert len(repository_state(repo)[0]) == 1


def test_explicit_deny_on_put_image_is_named(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    repo = world.repo()
    deny = world.policy("no-put", doc(["ecr:PutImage"], "Deny", sid="NoPutImage"))
    user = world.user("denied", managed=[world.policy("ecr-pu", doc(POWER_USER)), deny])
    env = as_user(helper_env, user)
    enforce(aws)
    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    validate(d)
    assert code == 3
    put = by_action(d)["ecr:PutImage"]
    assert (put["verdict"], put["decided_by"]) == ("denied", "probe")
    assert put["evidence"]["evaluation"]["explicit_deny"] is True
    assert [a for a in d["actions"] if a["verdict"] == "denied"] == [put]
    assert d["fix"]["remove_deny"] == [
        {"action": "ecr:PutImage", "policy": deny, "statement": 0, "sid": "NoPutImage"}
    ]
    assert d["fix"]["identity_statement"] is None  # an Allow cannot beat an explicit Deny
    text = run_ecrpy(env, "check", "push", f"{HOST}/{repo}:v1").stdout.decode()
    assert "NoPutImage" in text and deny in text


def test_group_attached_policy_counts(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    repo = world.repo()
    pu = world.policy("ecr-pu", doc(POWER_USER))
    group = world.group("pushers", [pu])
    user = world.user("member", groups=[group])
    env = as_user(helper_env, user)
    enforce(aws)
    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    validate(d)
    assert code == 0, d
    put = by_action(d)["ecr:PutImage"]
    assert put["decided_by"] == "probe"
    assert put["evidence"]["evaluation"]["result"] == "allowed"
    assert pu in put["evidence"]["evaluation"]["detail"]
    assert aws.calls("ListAttachedGroupPolicies") >= 1


def test_assumed_role_via_profile(aws: AwsServer, world: World, helper_env: dict[str, str]) -> None:
    repo = world.repo()
    source = world.user("src", inline={"assume": doc(["sts:AssumeRole"])}, self_read=False)
    role_name = world.name("ci")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": source["arn"]}, "Action": "sts:AssumeRole"}
        ],
    }
    role_arn = world.iam.create_role(
        RoleName=role_name, Path="/build/", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    world.iam.attach_role_policy(
        RoleName=role_name, PolicyArn=world.policy("ecr-pu", doc(POWER_USER))
    )
    world.iam.put_role_policy(
        RoleName=role_name, PolicyName="self-read", PolicyDocument=doc(SELF_READ)
    )
    env = dict(helper_env)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    Path(env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        f"[src]\naws_access_key_id = {source['key']}\naws_secret_access_key = {source['secret']}\n"
    )
    Path(env["AWS_CONFIG_FILE"]).write_text(
        f"[profile ci]\nrole_arn = {role_arn}\nsource_profile = src\nregion = {MOTO_REGION}\n"
    )
    write_config(env, f'[registries."{HOST}"]\nprofile = "ci"\n')
    enforce(aws)
    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    validate(d)
    assert code == 0, d
    ident = d["identity"]
    assert ident["type"] == "role"
    assert ":assumed-role/" in ident["caller_arn"]
    assert ident["principal_arn"] == role_arn  # the path came from iam:GetRole
    assert "/build/" in role_arn
    assert any(g["affects"] == "session" for g in d["gaps"])
    put = by_action(d)["ecr:PutImage"]
    # the probe decides (it reflects any session policy); the evaluation alone would have
    # needed the assumption
    assert put["decided_by"] == "probe" and put["assumptions"] == []
    assert "no session policy restricts it" in put["evidence"]["evaluation"]["assumptions"]


def test_missing_repository_is_its_own_outcome(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    user = world.user("pu", managed=[world.policy("ecr-pu", doc(POWER_USER))])
    env = as_user(helper_env, user)
    missing = world.name("nope")
    enforce(aws)
    code, d, _ = check(env, "push", f"{HOST}/{missing}:v1")
    validate(d)
    assert (code, d["verdict"]) == (5, "repository_missing")
    assert d["repository"]["exists"] is False
    assert d["problems"] == [f"repository {missing} does not exist in {MOTO_ACCOUNT}/{MOTO_REGION}"]
    # whether --create-repo would work is known: PowerUser does not allow CreateRepository
    assert by_action(d)["ecr:CreateRepository"]["verdict"] == "denied"
    assert "--create-repo (ecr:CreateRepository is denied for you)" in d["suggestion"]
    assert "CREATE_ON_PUSH" in d["suggestion"]
    assert d["fix"] is None
    # the probes that could create it (create-on-push) were not run
    assert aws.calls("InitiateLayerUpload") == aws.calls("PutImage") == 0
    text = run_ecrpy(env, "check", "push", f"{HOST}/{missing}:v1")
    assert text.returncode == 5
    out = text.stdout.decode()
    assert "verdict: REPOSITORY MISSING" in out and "suggestion: create it" in out

    code, d, _ = check(env, "push", f"{HOST}/{missing}:v1", "--create-repo")
    assert code == 3
    assert d["problems"] == []
    assert [a["action"] for a in d["actions"] if a["verdict"] == "denied"] == [
        "ecr:CreateRepository"
    ]
    assert d["fix"]["identity_statement"]["Statement"][0]["Action"] == ["ecr:CreateRepository"]

    code, d, _ = check(env, "pull", f"{HOST}/{missing}:v1")
    assert (code, d["verdict"]) == (5, "repository_missing")
    assert "does not exist" in d["problems"][0] and "pull-through" in d["suggestion"]
    assert_nothing_created(aws)


def test_least_privilege_pusher_learns_the_repository_is_missing_from_a_probe(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    user = world.user("ci", inline={"push": doc(LEAST_PRIVILEGE_PUSH)}, self_read=False)
    env = as_user(helper_env, user)
    missing = world.name("nope")
    enforce(aws)
    code, d, _ = check(env, "push", f"{HOST}/{missing}:v1")
    validate(d)
    assert (code, d["verdict"], d["repository"]["exists"]) == (5, "repository_missing", False)
    assert any("authorized probe" in n for n in d["notes"])
    assert aws.calls("InitiateLayerUpload") == aws.calls("PutImage") == 0


@pytest.mark.parametrize("may_create", [True, False])
def test_create_on_push_template_names_and_checks_create_repository(
    aws: AwsServer, world: World, helper_env: dict[str, str], may_create: bool
) -> None:
    """A missing repository under a CREATE_ON_PUSH repository creation template is created by
    ECR on the first push: not "missing", but ecr:CreateRepository is required and checked."""
    actions = [*POWER_USER, "ecr:DescribeRepositoryCreationTemplates"]
    if may_create:
        actions.append("ecr:CreateRepository")
    user = world.user("pu", managed=[world.policy("ecr-pu", doc(actions))])
    env = as_user(helper_env, user)
    missing = f"team-{world.uid}/app"
    enforce(aws)
    aws.ecr_front.set_creation_templates(
        [
            {"prefix": f"team-{world.uid}", "appliedFor": ["CREATE_ON_PUSH"]},
            {"prefix": "ROOT", "appliedFor": ["PULL_THROUGH_CACHE"]},
        ]
    )
    code, d, _ = check(env, "push", f"{HOST}/{missing}:v1")
    validate(d)
    assert d["repository"]["exists"] is False
    create = by_action(d)["ecr:CreateRepository"]
    assert any("CREATE_ON_PUSH" in n and f"team-{world.uid}" in n for n in d["notes"])
    if may_create:
        assert (code, d["verdict"], create["verdict"]) == (0, "allowed", "allowed")
    else:
        assert (code, d["verdict"], create["verdict"]) == (3, "denied", "denied")
        assert d["fix"]["identity_statement"]["Statement"][0]["Action"] == ["ecr:CreateRepository"]
    # the probes that could trigger the creation were not run
    assert aws.calls("InitiateLayerUpload") == aws.calls("PutImage") == 0

    aws.ecr_front.set_creation_templates([{"prefix": "other", "appliedFor": ["CREATE_ON_PUSH"]}])
    code, d, _ = check(env, "push", f"{HOST}/{missing}:v1")
    assert (code, d["verdict"]) == (5, "repository_missing")


def test_immutable_repository_with_existing_tag_is_refused(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    repo = world.repo("frozen", immutable=True)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 2,
                "digest": "sha256:" + "1" * 64,
            },
            "layers": [],
        }
    )
    world.ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="v1")
    before = repository_state(repo)
    user = world.user("pu", managed=[world.policy("ecr-pu", doc(POWER_USER))])
    env = as_user(helper_env, user)
    enforce(aws)
    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1")
    validate(d)
    assert (code, d["verdict"]) == (3, "refused")
    assert d["repository"]["tag_mutability"] == "IMMUTABLE"
    assert d["repository"]["tag_exists"] is True
    assert "already exists" in d["problems"][0]
    assert all(a["verdict"] == "allowed" for a in d["actions"])  # permissions are fine
    assert d["fix"] is None

    code, d, _ = check(env, "push", f"{HOST}/{repo}:v2")
    assert code == 0, d
    assert d["repository"]["tag_exists"] is False
    assert_nothing_created(aws, repo, before)


def test_check_pull_of_a_missing_tag_agrees_with_pull(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    repo = world.repo()
    for tag in ("v1.0", "v1.1", "v1.2", "v1.10", "latest", "nightly-2024", "release"):
        world.tag(repo, tag)
    user = world.user("ro", managed=[world.policy("ecr-ro", doc(READ_ONLY))])
    env = as_user(helper_env, user)
    enforce(aws)
    code, d, _ = check(env, "pull", f"{HOST}/{repo}:v1.3")
    validate(d)
    assert (code, d["verdict"]) == (3, "refused")
    assert d["problems"] == [f"tag v1.3 not found in repository {repo}"]
    assert d["nearest_tags"][:3] == ["v1.0", "v1.1", "v1.2"] and len(d["nearest_tags"]) == 5
    assert all(a["verdict"] == "allowed" for a in d["actions"])
    text = run_ecrpy(env, "check", "pull", f"{HOST}/{repo}:v1.3").stdout.decode()
    assert "nearest tags: v1.0, v1.1, v1.2" in text and "verdict: REFUSED" in text

    code, d, _ = check(env, "pull", f"{HOST}/{repo}:v1.1")
    assert (code, d["verdict"], d["nearest_tags"]) == (0, "allowed", None)


def test_unreadable_policies_leave_it_undetermined(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    """Without read access to its own policies and with the GetDownloadUrlForLayer probe
    failing (an injected 500), ecrpy cannot know that action: exit 4, with the gaps listed."""
    repo = world.repo()
    world.tag(repo, "v1")
    user = world.user("blind", managed=[world.policy("ecr-ro", doc(READ_ONLY))], self_read=False)
    env = as_user(helper_env, user)
    enforce(aws)
    aws.set_fault("GetDownloadUrlForLayer", "500")
    code, d, _ = check(env, "pull", f"{HOST}/{repo}:v1")
    validate(d)
    assert code == 4
    acts = by_action(d)
    assert acts["ecr:GetDownloadUrlForLayer"]["verdict"] == "undetermined"
    assert acts["ecr:BatchGetImage"]["verdict"] == "allowed"  # the probe still knows
    calls = {g["call"] for g in d["gaps"] if g["affects"] == "identity"}
    assert "iam:ListAttachedUserPolicies" in calls
    text = run_ecrpy(env, "check", "pull", f"{HOST}/{repo}:v1").stdout.decode()
    assert "could not read" in text and "iam:ListAttachedUserPolicies" in text


def test_method_probe_makes_no_iam_calls(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    repo = world.repo()
    user = world.user("ro", managed=[world.policy("ecr-ro", doc(READ_ONLY))])
    env = as_user(helper_env, user)
    enforce(aws)
    code, d, _ = check(env, "push", f"{HOST}/{repo}:v1", "--method", "probe")
    validate(d)
    assert code == 3
    acts = by_action(d)
    assert all(acts[a]["verdict"] == "denied" for a in PUSH_ONLY)
    assert aws.calls("ListAttachedUserPolicies") == 0
    assert aws.calls("SimulatePrincipalPolicy") == 0
    fix_actions = d["fix"]["identity_statement"]["Statement"][0]["Action"]
    assert fix_actions == PUSH_ONLY


@pytest.mark.parametrize(
    ("image", "needle"),
    [
        ("app:latest", "no registry host"),
        ("ghcr.io/org/app", "not an ECR registry"),
        (f"{HOST}/Bad", "not a valid repository"),
    ],
)
def test_usage_errors(helper_env: dict[str, str], image: str, needle: str) -> None:
    proc = run_ecrpy(helper_env, "check", "pull", image)
    assert proc.returncode == 2
    assert needle in proc.stderr.decode()


def test_check_push_calls_aws_in_parallel(
    aws: AwsServer, world: World, helper_env: dict[str, str]
) -> None:
    """Which AWS calls a push check makes, each once, and that independent ones are in flight
    at the same time (with 50 ms on every call the reads overlap). How long it takes is the
    benchmark's question (scripts/bench.py), not a threshold here."""
    repo = world.repo()
    pu = world.policy("ecr-pu", doc(POWER_USER))
    user = world.user("fast", groups=[world.group("g", [pu])])
    env = as_user(helper_env, user)
    enforce(aws)
    for op in CHECK_OPS:
        aws.set_latency(op, 0.05)
    aws.reset_counts()
    proc = run_ecrpy(env, "check", "push", f"{HOST}/{repo}:v1", "--json")
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    counts = aws.counts()
    assert counts == dict.fromkeys(PUSH_CHECK_CALLS, 1), counts
    # Independent reads and probes overlap: the scheduler starts them together.
    assert aws.peak_in_flight() >= 4


# Every AWS call a push check of a new tag makes for an IAM user with a group (ListImages only
# for a pull: a push creates the tag, there is nothing nearest to list).
PUSH_CHECK_CALLS = (
    # the caller and its policies
    "GetCallerIdentity",
    "GetUser",
    "ListUserPolicies",
    "GetUserPolicy",
    "ListAttachedUserPolicies",
    "ListGroupsForUser",
    "ListGroupPolicies",
    "ListAttachedGroupPolicies",
    "GetPolicy",
    "GetPolicyVersion",
    "SimulatePrincipalPolicy",
    # the repository
    "DescribeRepositories",
    "GetRepositoryPolicy",
    "ListTagsForResource",
    "DescribePullThroughCacheRules",
    "DescribeRepositoryCreationTemplates",
    "GetLifecyclePolicy",
    # the probes
    "GetAuthorizationToken",
    "BatchCheckLayerAvailability",
    "BatchGetImage",
    "InitiateLayerUpload",
    "UploadLayerPart",
    "CompleteLayerUpload",
    "PutImage",
)


def test_ecr_public(aws: AwsServer, world: World, helper_env: dict[str, str]) -> None:
    """Public pulls are anonymous (no AWS call at all) and say what was not checked; a push
    needs the ecr-public actions and sts:GetServiceBearerToken (no ECR Public here: the local
    evaluation decides, and the notes say so)."""
    code, d, _ = check(helper_env, "pull", "public.ecr.aws/myalias/app:1")
    validate(d)
    assert (code, d["identity"]["type"], d["actions"]) == (0, "anonymous", [])
    assert any(n.startswith("not checked: whether") for n in d["notes"])
    assert aws.calls("GetCallerIdentity") == 0
    text = run_ecrpy(helper_env, "check", "pull", "public.ecr.aws/myalias/app:1").stdout.decode()
    assert "ACTION" not in text and "no AWS permission checked" in text
    assert "note: not checked" in text
    user = world.user(
        "pub", managed=[world.policy("pub", doc(["ecr-public:*", "sts:GetServiceBearerToken"]))]
    )
    env = as_user(helper_env, user)
    enforce(aws)
    code, d, _ = check(env, "push", "public.ecr.aws/myalias/app:1")
    validate(d)
    assert code == 0, d
    acts = by_action(d)
    assert "sts:GetServiceBearerToken" in acts
    assert acts["ecr-public:PutImage"]["resource"] == (
        f"arn:aws:ecr-public::{MOTO_ACCOUNT}:repository/app"
    )
    assert d["repository"]["arn"] == f"arn:aws:ecr-public::{MOTO_ACCOUNT}:repository/app"
    assert any("ECR Public" in n and "not looked up" in n for n in d["notes"])
