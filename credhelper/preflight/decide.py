"""From the evidence to the verdict: cut the superset of actions down to what the operation
needs once the repository facts are known, combine each action's evidence from the chosen
sources (probes, simulation, local evaluation) with ``permissions.verdict``, let the
repository-level outcomes override it (``repository_outcome``) and suggest a fix.

Rooms beside this one: ``request`` (what was asked, the superset of actions),
``repository_outcome`` (missing/refused/create-on-push/pull-through), ``registry_policy`` (the
registry policy in a pull through a cache), ``local_evaluation`` (the evaluator as evidence)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .local_evaluation import evaluator_for
from .registry_policy import REGISTRY_POLICY_ACTIONS, registry_policy_fix, registry_policy_note
from .repository_outcome import (
    existence_from_probes,
    no_policy_without_repository,
    repository_outcome,
    settle,
)
from .request import CheckRequest, superset
from .result import CheckResult

if TYPE_CHECKING:
    from ..ecr_repository import RepositoryFacts
    from ..permissions.actions import RequiredAction
    from ..permissions.fix import Fix
    from ..permissions.gather import Gathered, Identity
    from ..permissions.probe import ProbeResult
    from ..permissions.simulate import Simulation
    from ..permissions.verdict import ActionVerdict

__all__ = ["CheckRequest", "decide", "superset"]


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
    from ..permissions import verdict as vm

    ref, reg = req.ref, req.registry
    facts = out.repository
    notes: list[str] = []
    existence_from_probes(facts, probes, notes)
    no_policy_without_repository(out)
    prefix = am.pull_through_prefix(ref.repository, facts.pull_through_prefixes or [])
    required = _required(req, facts, prefix, probes, ident)
    registry_note = (
        registry_policy_note(out.registry_policy_state, reg.account_id or ident.account)
        if any(r.action == am.BATCH_IMPORT_UPSTREAM for r in required)
        else None
    )
    repo = repository_outcome(req, ident, facts, prefix, probes, templates, required, registry_note)
    verdicts = _action_verdicts(req, required, probes, sim, ident, out)
    verdict = settle(req, repo, verdicts, facts, vm.overall(verdicts))
    fix = _fix(req, ident, verdicts, prefix, facts) if verdict == "denied" else None
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


def _required(
    req: CheckRequest,
    facts: RepositoryFacts,
    prefix: str | None,
    probes: dict[str, ProbeResult],
    ident: Identity,
) -> list[RequiredAction]:
    """The actions the operation needs now that the repository facts are known."""
    from ..permissions import actions as am

    get_image = probes.get("ecr:BatchGetImage")
    return am.required_actions(
        req.operation,
        req.registry,
        req.repo,
        create_repo=req.create_repo,
        repository_exists=facts.exists,
        pull_through=prefix,
        account=ident.account,
        image_cached=get_image.image_found if get_image is not None else None,
    )


def _fix(
    req: CheckRequest,
    ident: Identity,
    verdicts: list[ActionVerdict],
    prefix: str | None,
    facts: RepositoryFacts,
) -> Fix:
    """The smallest change that fixes a denial (``permissions.fix``), pointed at the registry
    policy for a cross-account pull through a cache."""
    from ..permissions import fix as fix_mod

    reg = req.registry
    fix = fix_mod.suggest(
        verdicts,
        operation=req.operation,
        caller_account=ident.account,
        registry_account=reg.account_id,
        principal_arn=ident.principal_arn,
        partition=reg.partition,
    )
    if prefix is not None and req.operation == "pull":
        registry_policy_fix(fix, verdicts, reg.account_id, ident.account, facts.exists)
    return fix


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
