"""Combine probe, simulation and local evaluation into one three-state verdict per action.

Each source gives *evidence*: ``allowed``, ``denied``, ``inconclusive`` (it ran but cannot
tell), ``unavailable`` (it could not run: denied, not implemented, nothing readable) or
``not_run`` (not chosen with ``--method``, or no safe probe exists).

The combination rule, first match wins:

1. A conclusive **probe** decides: it is AWS itself authorizing a real request, so it reflects
   SCPs, permissions boundaries, session policies and VPC endpoint policies.
2. An **explicit deny** found by the simulation or the local evaluation decides ``denied``:
   nothing that could not be read can lift an explicit Deny.
3. A conclusive **simulation** decides.
4. A conclusive **local evaluation** decides (after the gap rule below).
5. Otherwise the action is ``undetermined``. Never a guess.

Every conclusive source that disagrees with the verdict is listed as a disagreement.

The gap rule for the local evaluation (gaps are what ``gather`` could not read):

* explicitly denied: final, whatever the gaps;
* implicitly denied: conclusive (``denied``) unless an identity or resource policy could not be
  read — such a policy might grant — then ``inconclusive``. Unread boundaries, session
  policies and SCPs can only take permissions away, so they cannot turn a deny into an allow;
* allowed: ``inconclusive`` when an identity policy, the repository policy or the permissions
  boundary could not be read (each might deny or not cover it); when only SCPs and session
  policies are unknown — which no caller can read — ``allowed`` with the assumption spelled
  out: "allowed (assuming no SCP/session policy restricts it)".

The simulator's answer is read the same way: ``implicitDeny`` is inconclusive when the
repository policy was left out (roles; see ``simulate``) or context values were missing;
``allowed`` with missing context values is inconclusive (a conditional Deny may not have been
applied); ``allowed`` for an assumed role carries the session-policy assumption.

Overall: any action denied → ``denied``; else any undetermined → ``undetermined``; else
``allowed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .gather import Gap
from .probe import ProbeResult
from .simulate import SimResult, Simulation

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .evaluate import Decision

Result = Literal["allowed", "denied", "inconclusive", "unavailable", "not_run"]
VerdictName = Literal["allowed", "denied", "undetermined"]
SOURCES = ("probe", "simulation", "evaluation")

# RCPs apply to ECR too (IAM User Guide, "Resource control policies"); neither is readable.
ASSUME_SCP = "no service or resource control policy (SCP, RCP) restricts it"
ASSUME_SESSION = "no session policy restricts it"
_MAY_GRANT = ("identity", "resource", "registry")
_MAY_RESTRICT = ("identity", "resource", "registry", "boundary")


@dataclass(frozen=True)
class Evidence:
    """What one source says. ``statements``: explicit Deny statements it found, each
    ``{"policy", "statement", "sid"}``; ``assumptions``: what an ``allowed`` relies on."""

    result: Result
    detail: str
    explicit: bool = False
    assumptions: tuple[str, ...] = ()
    statements: tuple[dict[str, object], ...] = ()
    # The policy type AWS named in its AccessDenied message (``permissions.denial``): scp,
    # rcp, vpce, boundary, session, resource, trust, identity; None when not said.
    denied_by: str | None = None

    @property
    def conclusive(self) -> bool:
        return self.result in ("allowed", "denied")

    def as_dict(self) -> dict[str, object]:
        return {
            "result": self.result,
            "detail": self.detail,
            "explicit_deny": self.explicit,
            "assumptions": list(self.assumptions),
            "denied_by": self.denied_by,
        }


def not_run(detail: str) -> Evidence:
    return Evidence("not_run", detail)


def probe_evidence(result: ProbeResult | None) -> Evidence:
    """Evidence from a probe (None: probing was not chosen)."""
    if result is None:
        return not_run("probing not selected")
    denial = result.denial
    return Evidence(
        result.outcome,
        result.detail,
        explicit=bool(denial is not None and denial.explicit),
        denied_by=denial.policy_type if denial is not None else None,
    )


def simulation_evidence(
    res: SimResult | None, sim: Simulation | None, principal_kind: str, repo_policy: bool
) -> Evidence:
    """Evidence from ``iam:SimulatePrincipalPolicy`` (see the module doc for the reading)."""
    if sim is None:
        return not_run("simulation not selected")
    if not sim.available:
        return Evidence("unavailable", sim.reason or "simulation unavailable")
    if res is None:
        return Evidence("unavailable", "the simulator returned no result for this action")
    matched = ", ".join(m.source_policy_id for m in res.matched)
    if res.decision == "explicitDeny":
        statements: tuple[dict[str, object], ...] = tuple(
            {"policy": m.source_policy_id, "statement": None, "sid": None} for m in res.matched
        )
        return Evidence(
            "denied",
            f"explicit deny ({matched or 'statement not named'})",
            explicit=True,
            statements=statements,
        )
    missing = ", ".join(res.missing_context)
    if res.decision == "allowed":
        if missing:
            return Evidence(
                "inconclusive",
                f"allowed, but context values were missing "
                f"({missing}): a conditional Deny may not have applied",
            )
        assumptions: tuple[str, ...] = ()
        if principal_kind == "role":
            assumptions = (ASSUME_SESSION,)
        return Evidence(
            "allowed",
            f"allowed ({matched or 'matched statements not named'})",
            assumptions=assumptions,
        )
    if res.decision == "implicitDeny":
        if res.allowed_by_organizations is False:
            return Evidence("denied", "implicit deny: an SCP does not allow it")
        if res.allowed_by_boundary is False:
            return Evidence("denied", "implicit deny: the permissions boundary does not allow it")
        if missing:
            return Evidence(
                "inconclusive", f"implicit deny with missing context values ({missing})"
            )
        if repo_policy and not res.resource_policy_included:
            return Evidence(
                "inconclusive",
                "implicit deny from identity policies; the "
                "repository policy (not simulated for roles) may grant it",
            )
        return Evidence("denied", "implicit deny: no policy allows it")
    return Evidence("inconclusive", f"unknown EvalDecision {res.decision!r}")


def evaluation_evidence(
    decision: Decision | None,
    gaps: Sequence[Gap],
    unavailable: str | None = None,
    *,
    registry_policy_applies: bool = False,
) -> Evidence:
    """Evidence from the local evaluator, after the gap rule (module doc).
    ``registry_policy_applies``: the action is one the registry policy may grant (a
    pull-through cache's BatchImportUpstreamImage and CreateRepository), so an unread
    registry policy counts like an unread repository policy; for every other action a
    ``registry`` gap is ignored."""
    if decision is None:
        return Evidence("unavailable", unavailable or "local evaluation not possible")
    affects = {g.affects for g in gaps}
    if not registry_policy_applies:
        affects.discard("registry")
    cited = "; ".join(
        f"{r.policy}"
        + (f" statement {r.statement}" if r.statement is not None else "")
        + (f" ({r.sid})" if r.sid else "")
        for r in decision.reasons[:3]
    )
    if decision.decision == "explicitly_denied":
        statements: tuple[dict[str, object], ...] = tuple(
            {"policy": r.policy, "statement": r.statement, "sid": r.sid}
            for r in decision.reasons
            if r.effect == "Deny"
        )
        return Evidence("denied", f"explicit deny in {cited}", explicit=True, statements=statements)
    if decision.decision == "implicitly_denied":
        unread = sorted(a for a in affects if a in _MAY_GRANT)
        if unread:
            return Evidence(
                "inconclusive",
                f"no policy read allows it, but unreadable {' and '.join(_words(unread))} might",
            )
        detail = "; ".join(r.detail for r in decision.reasons[:2]) or "no policy allows it"
        return Evidence("denied", f"implicit deny: {detail}")
    unread = sorted(a for a in affects if a in _MAY_RESTRICT)
    if unread:
        return Evidence(
            "inconclusive",
            f"allowed by {cited or 'the policies read'}, but "
            f"unreadable {' and '.join(_words(unread))} could deny it",
        )
    assumptions = []
    if "scp" in affects:
        assumptions.append(ASSUME_SCP)
    if "session" in affects:
        assumptions.append(ASSUME_SESSION)
    return Evidence(
        "allowed", f"allowed by {cited or 'the policies read'}", assumptions=tuple(assumptions)
    )


def _words(affects: Sequence[str]) -> list[str]:
    names = {
        "identity": "identity policies",
        "resource": "repository policy",
        "registry": "registry policy",
        "boundary": "permissions boundary",
    }
    return [names.get(a, a) for a in affects]


@dataclass
class ActionVerdict:
    """The verdict for one action, the source that decided it and all the evidence."""

    action: str
    resource: str
    verdict: VerdictName
    decided_by: str | None
    evidence: dict[str, Evidence]
    reasons: list[str] = field(default_factory=list)
    assumptions: tuple[str, ...] = ()
    disagreements: list[str] = field(default_factory=list)

    @property
    def deny_statements(self) -> list[dict[str, object]]:
        """Explicit Deny statements any source found (for ``fix``)."""
        out: list[dict[str, object]] = []
        for source in ("evaluation", "simulation"):
            for s in self.evidence[source].statements:
                if s not in out:
                    out.append(s)
        return out

    @property
    def explicit_deny(self) -> bool:
        return any(e.explicit for e in self.evidence.values())

    @property
    def denied_by(self) -> str | None:
        """The policy type AWS named for a denial (only a probe hears AWS say it)."""
        if self.verdict != "denied" or self.decided_by is None:
            return None
        return self.evidence[self.decided_by].denied_by

    def as_dict(self) -> dict[str, object]:
        return {
            "action": self.action,
            "resource": self.resource,
            "verdict": self.verdict,
            "decided_by": self.decided_by,
            "denied_by": self.denied_by,
            "assumptions": list(self.assumptions),
            "evidence": {k: self.evidence[k].as_dict() for k in SOURCES},
            "reasons": list(self.reasons),
            "disagreements": list(self.disagreements),
        }


def combine(
    action: str, resource: str, probe: Evidence, simulation: Evidence, evaluation: Evidence
) -> ActionVerdict:
    """Apply the combination rule (module doc) to one action's evidence."""
    evidence = {"probe": probe, "simulation": simulation, "evaluation": evaluation}
    decided: str | None = None
    if probe.conclusive:
        decided = "probe"
    else:
        for source in ("simulation", "evaluation"):
            if evidence[source].explicit:
                decided = source
                break
        else:
            for source in ("simulation", "evaluation"):
                if evidence[source].conclusive:
                    decided = source
                    break
    if decided is None:
        verdict: VerdictName = "undetermined"
        reasons = [f"{s}: {evidence[s].detail}" for s in SOURCES]
        return ActionVerdict(action, resource, verdict, None, evidence, reasons)
    winner = evidence[decided]
    verdict = "allowed" if winner.result == "allowed" else "denied"
    reasons = [f"{decided}: {winner.detail}"]
    disagreements = [
        f"{s} says {evidence[s].result} ({evidence[s].detail}) but {decided} says {winner.result}"
        for s in SOURCES
        if s != decided and evidence[s].conclusive and evidence[s].result != winner.result
    ]
    return ActionVerdict(
        action,
        resource,
        verdict,
        decided,
        evidence,
        reasons,
        winner.assumptions if verdict == "allowed" else (),
        disagreements,
    )


def overall(verdicts: Sequence[ActionVerdict]) -> VerdictName:
    """Denied if any action is denied, else undetermined if any is, else allowed."""
    names = {v.verdict for v in verdicts}
    if "denied" in names:
        return "denied"
    if "undetermined" in names:
        return "undetermined"
    return "allowed"
