"""Repository-level outcomes of a pre-flight: what the repository facts say apart from
permissions, which override the actions' verdict:

* ``repository_missing`` (exit 5): a push without ``--create-repo`` or a pull outside any
  pull-through cache prefix, to a repository that does not exist -- with one suggestion line.
  Whether ``ecr:CreateRepository`` would be allowed is still shown, so ``--create-repo`` is a
  known quantity. A repository creation template for CREATE_ON_PUSH instead makes ECR create
  it on the push (``ecr:CreateRepository`` is then required).
* ``refused`` (exit 3, as ``ecrpy push/pull`` refuse): a push of an existing tag to an
  IMMUTABLE repository; a pull of a tag or digest that does not exist (with the nearest tags,
  as ``ecrpy pull`` gives them) -- unless a pull-through cache rule covers the repository: ECR
  then imports the missing tag from the upstream (``ecr:BatchImportUpstreamImage``).
* ``denied`` by the repository's KMS key, which ECR itself cannot use.
* ``undetermined`` when whether a tag blocks a push to an IMMUTABLE repository is unknown.

Also what the probes tell about the repository's existence when DescribeRepositories is not
allowed, and the notes a pull under a pull-through cache prefix gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .request import superset

if TYPE_CHECKING:
    from ..ecr_repository import RepositoryFacts
    from ..permissions.actions import ImageRef, RequiredAction
    from ..permissions.gather import Gathered, Identity
    from ..permissions.probe import ProbeResult
    from ..permissions.verdict import ActionVerdict
    from .request import CheckRequest
    from .result import Verdict


@dataclass
class RepositoryOutcome:
    """What the repository facts say, apart from permissions (module doc)."""

    verdict: Verdict | None = None  # overrides the actions' verdict when set
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suggestion: str | None = None
    tag_block: str = "no"


def repository_outcome(
    req: CheckRequest,
    ident: Identity,
    facts: RepositoryFacts,
    prefix: str | None,
    probes: dict[str, ProbeResult],
    templates: list[dict[str, Any]] | None,
    required: list[RequiredAction],
    registry_note: str | None = None,
) -> RepositoryOutcome:
    """Missing repository, create-on-push, pull-through pull, taken or missing tag.
    Appends to ``required`` the actions a repository creation needs; ``registry_note``: what
    the registry policy read showed (a pull under a cache prefix)."""
    from ..permissions import actions as am

    ref, reg = req.ref, req.registry
    res = RepositoryOutcome()
    where = f"{reg.account_id or ident.account}/{reg.region}"
    missing = facts.exists is False
    pushing = missing and req.operation == "push" and not req.create_repo
    own_registry = reg.account_id in (None, ident.account)  # templates are per registry
    template = (
        create_on_push_template(ref.repository, templates or [])
        if pushing and own_registry
        else None
    )
    if template is not None:
        required.append(
            am.RequiredAction(
                am.CREATE_REPOSITORY,
                am.repository_arn(reg, req.repo, ident.account),
                f"ECR creates the repository on push (repository creation template {template!r})",
            )
        )
        res.notes.append(
            f"repository {ref.repository} does not exist; the repository creation template "
            f"{template!r} (CREATE_ON_PUSH) makes ECR create it on the first push, which needs "
            "ecr:CreateRepository; the template's own role (KMS keys, resource tags) is ECR's "
            "and not checked"
        )
    elif pushing:
        res.verdict = "repository_missing"
        res.problems.append(f"repository {ref.repository} does not exist in {where}")
        create = next(r for r in superset(req, ident.account) if r.action == am.CREATE_REPOSITORY)
        required.append(create)
    elif missing and req.operation == "pull" and prefix is None:
        res.verdict = "repository_missing"
        res.problems.append(f"repository {ref.repository} does not exist in {where}")
        res.suggestion = (
            "check the repository name and the registry; a pull-through cache rule whose "
            "prefix covers it would create it on the first pull"
        )
        if facts.pull_through_prefixes is None:
            res.suggestion += " (the pull-through cache rules could not be read)"
    elif req.operation == "pull" and prefix is not None:
        res.notes.append(_pull_through_note(ref, prefix, missing, probes))
        if registry_note:
            res.notes.append(registry_note)
    if req.operation == "push":
        res.tag_block = facts.push_blocked_by_tag(ref.tag if ref.digest is None else None)
    if res.tag_block == "yes":
        res.verdict = res.verdict or "refused"
        res.problems.append(
            f"tag {ref.tag} already exists in the IMMUTABLE repository "
            f"{ref.repository}: the push would be rejected "
            "(ImageTagAlreadyExistsException)"
        )
    key_problem = facts.key.problem(ref.repository) if facts.key is not None else None
    if key_problem is not None:
        # Not a permission: ECR itself cannot use the key, for every caller.
        res.verdict = res.verdict or "denied"
        res.problems.append(key_problem)
    get_image = probes.get("ecr:BatchGetImage")
    if req.operation == "pull" and not missing and get_image is not None and prefix is None:
        if get_image.image_found is False:
            res.verdict = res.verdict or "refused"
            what = f"digest {ref.digest}" if ref.digest else f"tag {ref.tag}"
            res.problems.append(f"{what} not found in repository {ref.repository}")
    return res


def _pull_through_note(
    ref: ImageRef, prefix: str, missing: bool, probes: dict[str, ProbeResult]
) -> str:
    """What a pull under cache prefix ``prefix`` makes ECR do, and so which extra actions are
    listed (see ``actions.required_actions``)."""
    what = f"digest {ref.digest}" if ref.digest else f"tag {ref.tag}"
    if missing:
        return (
            f"first pull through cache prefix {prefix!r}: the repository does not exist yet, so "
            "ECR imports the image from the upstream (ecr:BatchImportUpstreamImage) and creates "
            "the repository (ecr:CreateRepository); whether the upstream has "
            f"{what} is not checked"
        )
    get_image = probes.get("ecr:BatchGetImage")
    found = get_image.image_found if get_image is not None else None
    if found is True:
        return (
            f"{what} is already cached under prefix {prefix!r}: it is served from the "
            "repository, so no import (ecr:BatchImportUpstreamImage) is needed; ECR's own "
            "refresh from the upstream (at least once every 24 hours) is not checked"
        )
    if found is False:
        return (
            f"{what} is not cached yet under prefix {prefix!r}: ECR imports it from the "
            "upstream (ecr:BatchImportUpstreamImage); whether the upstream has it is not checked"
        )
    return (
        f"whether {what} is already cached under prefix {prefix!r} is not known: "
        "ecr:BatchImportUpstreamImage is checked in case ECR has to import it"
    )


def create_on_push_template(repository: str, templates: list[dict[str, Any]]) -> str | None:
    """The prefix of the repository creation template that creates ``repository`` on push,
    or None. ECR API reference, CreateRepositoryCreationTemplate ``prefix``: a prefix applies
    to the repositories beginning with ``prefix/``; ``ROOT`` to every repository without a
    more specific template. Only templates whose ``appliedFor`` has ``CREATE_ON_PUSH`` count."""
    best: str | None = None
    for t in templates:
        if "CREATE_ON_PUSH" not in (t.get("appliedFor") or []):
            continue
        prefix = str(t.get("prefix") or "")
        if prefix == "ROOT":
            best = best or prefix
        elif repository.startswith(prefix.rstrip("/") + "/"):
            if best in (None, "ROOT") or len(prefix) > len(best or ""):
                best = prefix
    return best


def no_policy_without_repository(out: Gathered) -> None:
    """A repository that does not exist has no repository policy: GetRepositoryPolicy being
    denied then hides nothing (the usual puller may not read policies), so its gap goes."""
    facts = out.repository
    if facts.exists is not False or facts.policy_state != "unreadable":
        return
    facts.policy_state = "none"
    with out.lock:
        out.gaps[:] = [g for g in out.gaps if g.call != "ecr:GetRepositoryPolicy"]


def existence_from_probes(
    facts: RepositoryFacts, probes: dict[str, ProbeResult], notes: list[str]
) -> None:
    """An authorized probe answer tells whether the repository exists even when
    DescribeRepositories is not allowed (the usual least-privilege pusher)."""
    if facts.exists is not None:
        return
    from ..permissions.probe import REPOSITORY_GATE

    if any(p.repository_missing for p in probes.values()):
        facts.exists = False
        notes.append("the repository's absence was shown by an authorized probe")
        return
    gate = probes.get(REPOSITORY_GATE)
    if gate is not None and gate.outcome == "allowed":
        facts.exists = True
        notes.append(
            f"the repository's existence was shown by an authorized probe ({gate.call}); "
            "its tag mutability could not be read"
        )


def settle(
    req: CheckRequest,
    repo: RepositoryOutcome,
    verdicts: list[ActionVerdict],
    facts: RepositoryFacts,
    actions_verdict: Verdict,
) -> Verdict:
    """The check's verdict: the repository outcome's when it has one, else the actions'
    (``actions_verdict``), made ``undetermined`` when whether a tag blocks a push to an
    IMMUTABLE repository is unknown. A push to a missing repository gets its suggestion here,
    since it quotes ``ecr:CreateRepository``'s verdict."""
    from ..permissions import actions as am

    ref, reg = req.ref, req.registry
    if repo.verdict == "repository_missing" and req.operation == "push":
        create = next(v.verdict for v in verdicts if v.action == am.CREATE_REPOSITORY)
        repo.suggestion = (
            f"create it: ecrpy push --create-repo (ecr:CreateRepository is {create} "
            f"for you), aws ecr create-repository --repository-name {ref.repository} "
            f"--region {reg.region}, or a repository creation template for CREATE_ON_PUSH "
            f"whose prefix covers {ref.repository}"
        )
    if repo.verdict is not None:
        return repo.verdict
    if repo.tag_block == "unknown" and facts.tag_mutability is not None:
        if actions_verdict == "allowed":
            # The tag question matters only where tags can be immutable; a repository that
            # could not be described at all is already a listed gap.
            repo.problems.append(
                f"cannot tell whether tag {ref.tag} already exists in the "
                "IMMUTABLE repository (a push would then be rejected)"
            )
            return "undetermined"
    return actions_verdict
