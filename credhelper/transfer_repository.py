"""The repository step of ``ecrpy push``/``pull`` (step 4 of ``credhelper.transfer``): refuse a
push that is sure to fail (a missing repository, an existing tag in an IMMUTABLE one), create
the repository on ``--create-repo`` (checking a ``--kms-key`` first), and after the engine's
404 on a pull explain what is missing with the nearest tags. ECR is asked through
``ecr_repository.Ecr`` over ``FastClient`` (no botocore for static keys).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .ecr_repository import NEAREST, Ecr, RepositoryFacts, nearest_tags
from .errors import RefusedError

if TYPE_CHECKING:
    from .permissions.actions import ImageRef
    from .registry import Registry
    from .transfer_result import Options


def repository_step(
    opts: Options,
    ref: ImageRef,
    reg: Registry,
    profile: str | None,
    role_arn: str | None,
    facts: RepositoryFacts | None,
    warn: Callable[[str], None],
) -> bool:
    """Refuse a push that is sure to fail; create the repository if asked. True if created.

    A pull is not looked up beforehand: a missing tag or repository makes the engine answer
    404 before any layer moves, and ``explain_missing`` then asks ECR why."""
    if opts.operation == "pull":
        return False
    facts = RepositoryFacts() if facts is None else facts
    block = facts.push_blocked_by_tag(ref.tag)
    if facts.exists is True and block == "yes":
        raise _immutable(ref)
    if facts.exists is True and block == "no":
        return False
    ecr = ecr_for(reg, ref, profile, role_arn)
    if facts.exists is not True or facts.tag_mutability is None:
        try:
            repo = ecr.describe()
        except PermissionError:
            if facts.exists is True:
                # The pre-flight's probes showed the repository exists; only its tag
                # mutability is unknown, and ECR itself rejects an IMMUTABLE tag on PutImage.
                return False
            warn(
                f"cannot read repository {ref.repository} (ecr:DescribeRepositories denied); "
                "going on"
            )
            return False
        if repo is None:
            facts.exists = False
        else:
            facts.describe(repo)
    if not facts.exists:
        if opts.operation == "push" and opts.create_repo:
            if opts.kms_key:
                _check_kms_key(reg, opts.kms_key, profile, role_arn)
            ecr.create(opts.immutable, opts.scan_on_push, opts.kms_key)
            return True
        raise RefusedError(
            f"repository {ref.repository} does not exist in {ecr.where}",
            hint="create it (aws ecr create-repository --repository-name "
            f"{ref.repository} --region {reg.region}) or use --create-repo",
        )
    if facts.push_blocked_by_tag(ref.tag) == "unknown" and facts.tag_exists is None:
        facts.tag_exists = ecr.image_exists(ref.tag, None)
    if facts.push_blocked_by_tag(ref.tag) == "yes":
        raise _immutable(ref)
    return False


def explain_missing(
    ref: ImageRef, reg: Registry, profile: str | None, role_arn: str | None
) -> None:
    """After the engine's 404 on a pull: raise ``RefusedError`` naming what is missing, with
    the nearest tags; return (the engine's error stands) when ECR cannot tell."""
    ecr = ecr_for(reg, ref, profile, role_arn)
    try:
        repo = ecr.describe()
    except PermissionError:
        repo = {}  # unknown: go on to the image lookup
    if repo is None:
        raise RefusedError(
            f"repository {ref.repository} does not exist in {ecr.where}",
            hint="check the name and the registry",
        )
    if ecr.image_exists(ref.tag, ref.digest) is not False:
        return
    what = f"digest {ref.digest}" if ref.digest else f"tag {ref.tag}"
    tags = ecr.tags()
    if tags is None:
        hint = "list the tags with: aws ecr list-images --repository-name " + ref.repository
    elif not tags:
        hint = "the repository has no tags"
    else:
        near = nearest_tags(ref.tag or "", tags) if not ref.digest else sorted(tags)[:NEAREST]
        hint = "nearest tags: " + ", ".join(near)
    raise RefusedError(
        f"{what} not found in repository {ref.repository}; nothing was downloaded", hint=hint
    )


def _immutable(ref: ImageRef) -> RefusedError:
    return RefusedError(
        f"tag {ref.tag} already exists in the IMMUTABLE repository {ref.repository}; ECR "
        "would reject the push (ImageTagAlreadyExistsException)",
        hint="nothing was sent; push a new tag",
    )


def ecr_for(reg: Registry, ref: ImageRef, profile: str | None, role_arn: str | None) -> Ecr:
    from .ecr_repository import FastClient

    # DescribeRepositories/DescribeImages without botocore where fast_token may make them.
    return Ecr(FastClient(reg, profile, role_arn), reg, ref.repository, profile)


def _check_kms_key(reg: Registry, key: str, profile: str | None, role_arn: str | None) -> None:
    """Before creating a KMS-encrypted repository: the key exists, is Enabled, and the caller
    may let ECR use it (``kms_key.check_for_create``)."""
    from . import aws_errors, identity, kms_key, tokens

    with aws_errors.translated(None, profile, service="KMS"):
        session = identity.botocore_session(profile=profile, role_arn=role_arn, region=reg.region)
        client = session.create_client(
            "kms", region_name=reg.region, config=tokens.client_config(reg)
        )
        kms_key.check_for_create(client, key, reg.account_id)
