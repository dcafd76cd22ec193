"""From the evidence to the verdict: cut the superset of actions down to what the operation
needs once the repository facts are known, combine each action's evidence
(``permissions.verdict``), add the repository-level outcomes and suggest a fix.

Repository-level outcomes are not permissions and override the actions' verdict:

* ``repository_missing`` (exit 5): a push without ``--create-repo`` or a pull outside any
  pull-through cache prefix, to a repository that does not exist — with one suggestion line.
  Whether ``ecr:CreateRepository`` would be allowed is still shown, so ``--create-repo`` is a
  known quantity.
* ``refused`` (exit 3, as ``ecrpy push/pull`` refuse): a push of an existing tag to an
  IMMUTABLE repository; a pull of a tag or digest that does not exist (with the nearest tags,
  as ``ecrpy pull`` gives them) — unless a pull-through cache rule covers the repository: ECR
  then imports the missing tag from the upstream (``ecr:BatchImportUpstreamImage``).

A pull under a pull-through cache prefix (ECR User Guide, "IAM permissions required to sync an
upstream registry with an Amazon ECR private registry"): ``ecr:BatchImportUpstreamImage`` "can
be granted by using the private registry permissions policy, an identity-based IAM policy, or
by using the resource-based repository permissions policy"; ``ecr:CreateRepository`` "by either
an identity-based IAM policy or the private registry permissions policy", and "if an IAM
entity has more permissions granted by an IAM policy than the registry permissions policy is
granting, the IAM policy takes precedence". So for those two actions the registry policy is one
more resource-based policy: the local evaluation runs once with the repository policy and once
with the registry policy, and an explicit deny in either denies, an allow in either allows
(:func:`either_resource_policy`; AWS's evaluation logic grants when any resource-based
statement does, and cross-account still needs the identity side in both runs). An unreadable
registry policy (another account's, or GetRegistryPolicy denied) leaves an implicit deny of
those two actions inconclusive, and the simulator, which cannot be given the registry policy,
cannot conclude an implicit deny of them while a registry policy exists or is unknown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .result import CheckResult, Verdict

if TYPE_CHECKING:
    from ..ecr_repository import RepositoryFacts
    from ..permissions.actions import ImageRef, RequiredAction
    from ..permissions.evaluate import Decision
    from ..permissions.gather import Gathered, Identity
    from ..permissions.probe import ProbeResult
    from ..permissions.simulate import Simulation
    from ..permissions.verdict import ActionVerdict, Evidence
    from ..registry import Registry

Evaluator = Callable[["RequiredAction"], "Evidence"]


@dataclass
class CheckRequest:
    """What was asked: ``repo`` is the repository's name in its ARN (ECR Public: without the
    alias)."""

    ref: ImageRef
    registry: Registry
    operation: str
    method: str
    create_repo: bool
    repo: str

    @property
    def probing(self) -> bool:
        return self.method in ("auto", "probe")

    @property
    def simulating(self) -> bool:
        return self.method in ("auto", "simulate")

    @property
    def evaluating(self) -> bool:
        return self.method in ("auto", "evaluate")


def superset(req: CheckRequest, account: str | None) -> list[RequiredAction]:
    """Every action that might be required, so probes and simulation start right away; the
    final list is cut down once the repository facts are known."""
    from ..permissions import actions as am

    reg = req.registry
    actions = am.required_actions(
        req.operation,
        reg,
        req.repo,
        create_repo=req.create_repo,
        repository_exists=None,
        pull_through="(any)" if not reg.public else None,
        account=account,
    )
    if req.operation == "push" and not req.create_repo and not reg.public:
        actions.append(
            am.RequiredAction(
                am.CREATE_REPOSITORY, actions[-1].resource, "create the missing repository"
            )
        )
    return actions


@dataclass
class _RepositoryOutcome:
    """What the repository facts say, apart from permissions (module doc)."""

    verdict: Verdict | None = None  # overrides the actions' verdict when set
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suggestion: str | None = None
    tag_block: str = "no"


def decide(
    req: CheckRequest,
    probes: dict[str, ProbeResult],
    sim: Simulation | None,
    ident: Identity,
    out: Gathered,
    nearest: list[str] | None = None,
    templates: list[dict[str, Any]] | None = None,
) -> CheckResult:
    """The verdict (module doc). ``nearest``: the tags nearest a pulled tag that does not
    exist, when they could be listed; ``templates``: the registry's repository creation
    templates (None: not read)."""
    from ..permissions import actions as am
    from ..permissions import fix as fix_mod
    from ..permissions import verdict as vm

    ref, reg = req.ref, req.registry
    facts = out.repository
    notes: list[str] = []
    _existence_from_probes(facts, probes, notes)
    _no_policy_without_repository(out)
    prefix = am.pull_through_prefix(ref.repository, facts.pull_through_prefixes or [])
    get_image = probes.get("ecr:BatchGetImage")
    required = am.required_actions(
        req.operation,
        reg,
        req.repo,
        create_repo=req.create_repo,
        repository_exists=facts.exists,
        pull_through=prefix,
        account=ident.account,
        image_cached=get_image.image_found if get_image is not None else None,
    )
    registry_note = (
        _registry_policy_note(out.registry_policy_state, reg.account_id or ident.account)
        if any(r.action == am.BATCH_IMPORT_UPSTREAM for r in required)
        else None
    )
    repo = _repository_outcome(
        req, ident, facts, prefix, probes, templates, required, registry_note
    )
    verdicts = _action_verdicts(req, required, probes, sim, ident, out)
    verdict: Verdict = vm.overall(verdicts)
    if repo.verdict == "repository_missing" and req.operation == "push":
        create = next(v.verdict for v in verdicts if v.action == am.CREATE_REPOSITORY)
        repo.suggestion = (
            f"create it: ecrpy push --create-repo (ecr:CreateRepository is {create} "
            f"for you), aws ecr create-repository --repository-name {ref.repository} "
            f"--region {reg.region}, or a repository creation template for CREATE_ON_PUSH "
            f"whose prefix covers {ref.repository}"
        )
    if repo.verdict is not None:
        verdict = repo.verdict
    elif repo.tag_block == "unknown" and facts.tag_mutability is not None and verdict == "allowed":
        # The tag question matters only where tags can be immutable; a repository that could
        # not be described at all is already a listed gap.
        verdict = "undetermined"
        repo.problems.append(
            f"cannot tell whether tag {ref.tag} already exists in the "
            "IMMUTABLE repository (a push would then be rejected)"
        )
    fix = None
    if verdict == "denied":
        fix = fix_mod.suggest(
            verdicts,
            operation=req.operation,
            caller_account=ident.account,
            registry_account=reg.account_id,
            principal_arn=ident.principal_arn,
            partition=reg.partition,
        )
        if prefix is not None and req.operation == "pull":
            _registry_policy_fix(fix, verdicts, reg.account_id, ident.account, facts.exists)
    return CheckResult(
        ref,
        reg,
        req.operation,
        req.method,
        am.repository_arn(reg, req.repo, ident.account),
        out,
        verdicts,
        verdict,
        repo.problems,
        fix,
        prefix,
        ident.kind,
        notes=notes + repo.notes,
        suggestion=repo.suggestion,
        nearest_tags=nearest if verdict == "refused" and req.operation == "pull" else None,
    )


def _repository_outcome(
    req: CheckRequest,
    ident: Identity,
    facts: RepositoryFacts,
    prefix: str | None,
    probes: dict[str, ProbeResult],
    templates: list[dict[str, Any]] | None,
    required: list[RequiredAction],
    registry_note: str | None = None,
) -> _RepositoryOutcome:
    """Missing repository, create-on-push, pull-through pull, taken or missing tag.
    Appends to ``required`` the actions a repository creation needs; ``registry_note``: what
    the registry policy read showed (a pull under a cache prefix)."""
    from ..permissions import actions as am

    ref, reg = req.ref, req.registry
    res = _RepositoryOutcome()
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


def _registry_policy_note(state: str, registry_account: str | None) -> str | None:
    """The registry policy's part in a pull-through pull (module doc)."""
    if state == "present":
        return (
            "the registry policy was read and evaluated with the repository policy for "
            "ecr:BatchImportUpstreamImage and ecr:CreateRepository"
        )
    if state == "none":
        return "the registry has no registry policy: only IAM and repository policies grant"
    if state == "unreadable":
        return (
            f"the registry policy of {registry_account or 'the registry'} could not be read: "
            "it may grant ecr:BatchImportUpstreamImage and ecr:CreateRepository (see gaps)"
        )
    return None


def _registry_policy_fix(
    fix: Any,
    verdicts: list[ActionVerdict],
    registry: str | None,
    caller: str | None,
    repository_exists: bool | None,
) -> None:
    """Cross-account, the cache's CreateRepository is granted by the registry owner's registry
    policy, never by a repository policy; before the first pull there is no repository whose
    policy could grant BatchImportUpstreamImage either (module doc)."""
    denied = [
        v.action for v in verdicts if v.verdict == "denied" and v.action in REGISTRY_POLICY_ACTIONS
    ]
    if not denied or registry in (None, caller):
        return
    only_registry = {"ecr:CreateRepository"}
    if repository_exists is not True:
        only_registry.add("ecr:BatchImportUpstreamImage")
    stmt = fix.repository_statement
    if stmt is not None:
        stmt["Action"] = [a for a in stmt.get("Action", []) if a not in only_registry]
        if not stmt["Action"]:
            fix.repository_statement = None
    fix.notes.append(
        f"the registry owner ({registry}) grants {' and '.join(denied)} for the pull-through "
        "cache in the registry policy (aws ecr put-registry-policy), with a statement naming "
        "you as Principal and the cache repositories as Resource"
    )


REGISTRY_POLICY_ACTIONS = ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository")


def either_resource_policy(with_repository: Decision, with_registry: Decision) -> Decision:
    """One decision from two evaluations that differ only in the resource-based policy (the
    repository policy, the registry policy): an explicit deny in either denies; else an allow
    in either allows; else the implicit deny (module doc)."""
    for decision in (with_repository, with_registry):
        if decision.decision == "explicitly_denied":
            return decision
    for decision in (with_repository, with_registry):
        if decision.allowed:
            return decision
    return with_repository


def _action_verdicts(
    req: CheckRequest,
    required: list[RequiredAction],
    probes: dict[str, ProbeResult],
    sim: Simulation | None,
    ident: Identity,
    out: Gathered,
) -> list[ActionVerdict]:
    """Each required action's evidence from the chosen sources, combined."""
    from ..permissions import verdict as vm
    from ..permissions.probe import not_probed

    evaluator = evaluator_for(req, out, ident)
    verdicts = []
    for r in required:
        if req.probing:
            p = probes.get(r.action)
            probe_ev = vm.probe_evidence(p if p is not None else not_probed(r.action))
        else:
            probe_ev = vm.probe_evidence(None)
        sim_ev = vm.simulation_evidence(
            sim.get(r.action, r.resource) if sim is not None else None,
            sim,
            ident.kind,
            out.repository.policy_state == "present",
        )
        if (
            req.operation == "pull"
            and r.action in REGISTRY_POLICY_ACTIONS
            and out.registry_policy_state in ("present", "unreadable")
            and sim_ev.result == "denied"
            and not sim_ev.explicit
        ):
            # The simulator cannot be given the registry policy, which may grant these.
            sim_ev = vm.Evidence(
                "inconclusive",
                f"{sim_ev.detail}; the registry policy (not simulated) may grant it",
            )
        eval_ev = evaluator(r) if req.evaluating else vm.not_run("local evaluation not selected")
        verdicts.append(vm.combine(r.action, r.resource, probe_ev, sim_ev, eval_ev))
    return verdicts


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


def _no_policy_without_repository(out: Gathered) -> None:
    """A repository that does not exist has no repository policy: GetRepositoryPolicy being
    denied then hides nothing (the usual puller may not read policies), so its gap goes."""
    facts = out.repository
    if facts.exists is not False or facts.policy_state != "unreadable":
        return
    facts.policy_state = "none"
    with out.lock:
        out.gaps[:] = [g for g in out.gaps if g.call != "ecr:GetRepositoryPolicy"]


def _existence_from_probes(
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


def evaluator_for(req: CheckRequest, out: Gathered, ident: Identity) -> Evaluator:
    """A function RequiredAction -> Evidence from the local evaluator on ``out``."""
    from ..errors import PolicyDocumentError
    from ..permissions import verdict as vm
    from ..permissions.evaluate import PolicySet, Request, evaluate
    from ..permissions.policy import parse_policy

    reg = req.registry
    if ident.kind == "root" and (reg.account_id in (None, ident.account)):

        def root(_req: RequiredAction) -> Evidence:
            return vm.Evidence("allowed", "the account's root user", assumptions=(vm.ASSUME_SCP,))

        return root
    if ident.kind not in ("user", "role") or not ident.caller_arn:

        def none(_req: RequiredAction) -> Evidence:
            return vm.Evidence("unavailable", f"cannot evaluate a {ident.kind} principal")

        return none
    caller_arn = ident.caller_arn
    identity_policies = []
    for i, p in enumerate(out.identity_policies):
        try:
            identity_policies.append(
                parse_policy(p.document, f"identity_policies[{i}]", kind="identity", name=p.name)
            )
        except PolicyDocumentError as exc:
            out.gap("(parse)", p.name, "identity", f"not understood: {exc.message}")
    boundary = None
    if out.boundary is not None:
        try:
            boundary = parse_policy(
                out.boundary.document,
                "permissions_boundary",
                kind="permissions_boundary",
                name=out.boundary.name,
            )
        except PolicyDocumentError as exc:
            out.gap("(parse)", out.boundary.name, "boundary", f"not understood: {exc.message}")
    resource = None
    doc = out.resource_policy
    if doc is not None:
        try:
            resource = parse_policy(
                doc, "repository_policy", kind="resource", name="repository policy"
            )
        except PolicyDocumentError as exc:
            out.gap("(parse)", "repository policy", "resource", f"not understood: {exc.message}")
    elif out.repository.policy_state == "present":
        out.gap("(parse)", "repository policy", "resource", "not JSON")
    policy_set = PolicySet(
        identity_policies=identity_policies,
        resource_policy=resource,
        permissions_boundary=boundary,
    )
    with_registry = _with_registry_policy(req, out, policy_set)
    context: dict[str, Any] = {"aws:RequestedRegion": reg.region}
    for key, value in (out.repository.tags or {}).items():
        context[f"aws:ResourceTag/{key}"] = value
    gaps = list(out.gaps)

    def run(r: RequiredAction) -> Evidence:
        ctx = context if r.resource != "*" else {"aws:RequestedRegion": reg.region}
        registry = req.operation == "pull" and r.action in REGISTRY_POLICY_ACTIONS
        try:
            request = Request(caller_arn, r.action, r.resource, ctx)
            decision = evaluate(request, policy_set)
            if registry and with_registry is not None:
                decision = either_resource_policy(decision, evaluate(request, with_registry))
        except PolicyDocumentError as exc:
            return vm.Evidence("unavailable", f"evaluation failed: {exc.message}")
        return vm.evaluation_evidence(decision, gaps, registry_policy_applies=registry)

    return run


def _with_registry_policy(req: CheckRequest, out: Gathered, policy_set: Any) -> Any:
    """``policy_set`` with the registry policy as its resource-based policy, for a pull whose
    registry policy was read (None otherwise; an unparsable one is a ``registry`` gap)."""
    from dataclasses import replace

    from ..errors import PolicyDocumentError
    from ..permissions.policy import parse_policy

    doc = out.registry_policy
    if req.operation != "pull" or out.registry_policy_state != "present":
        return None
    if doc is None:
        out.gap("(parse)", "registry policy", "registry", "not JSON")
        return None
    try:
        policy = parse_policy(doc, "registry_policy", kind="resource", name="registry policy")
    except PolicyDocumentError as exc:
        out.gap("(parse)", "registry policy", "registry", f"not understood: {exc.message}")
        return None
    return replace(policy_set, resource_policy=policy)
