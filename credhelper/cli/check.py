"""``ecrpy check push|pull IMAGE``: allowed, denied, or undetermined — and why.

Sources, per required action (see ``permissions.actions``): side-effect-free **probes**
(``permissions.probe``), AWS's **simulator** (``permissions.simulate``) and a **local
evaluation** of the policies the caller can read (``permissions.gather`` +
``permissions.evaluate``), combined by ``permissions.verdict``. ``--method`` picks one source
(``probe``, ``simulate``, ``evaluate``) or all of them (``auto``, the default). The repository
is checked too: it must exist (or ``--create-repo`` with ``ecr:CreateRepository`` allowed), and
a push to an IMMUTABLE repository must not hit an existing tag.

Exit status: 0 allowed, 3 denied, 4 undetermined, 1 error, 2 usage.

Python API (for the push/pull wrapper)::

    from credhelper.cli.check import run_check
    result = run_check("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0", "push")
    result.verdict        # "allowed" | "denied" | "undetermined"
    result.exit_code      # 0 | 3 | 4
    result.to_json()      # the --json document (str); result.as_dict() the same as a dict
    result.render()       # the human table

``--json`` schema (``schema`` = ``ecrpy.check/1``; also in docs/check-json-schema.md). Keys are
always present; unknown values are ``null``::

    {
      "schema": "ecrpy.check/1",
      "image": "HOST/REPO:TAG",
      "registry": {"host": str, "account_id": str|null, "region": str, "partition": str,
                   "public": bool},
      "repository": {"name": str, "arn": str, "exists": bool|null,
                     "tag_mutability": "MUTABLE"|"IMMUTABLE"|...|null,
                     "tag_exists": bool|null,
                     "policy": "present"|"none"|"unreadable"|"unknown",
                     "pull_through_prefix": str|null},
      "reference": {"tag": str|null, "digest": str|null},
      "operation": "push"|"pull",
      "method": "auto"|"probe"|"simulate"|"evaluate",
      "identity": {"caller_arn": str|null, "principal_arn": str|null, "account": str|null,
                   "type": "user"|"role"|"root"|"federated-user"|"unknown"|"anonymous"},
      "verdict": "allowed"|"denied"|"undetermined",
      "exit_code": 0|3|4,
      "problems": [str],                  # repository-level reasons (missing repo, tag taken)
      "actions": [{
        "action": "ecr:PutImage", "resource": "arn:...|*",
        "verdict": "allowed"|"denied"|"undetermined",
        "decided_by": "probe"|"simulation"|"evaluation"|null,
        "assumptions": [str],             # what an "allowed" relies on (SCPs, session policy)
        "evidence": {"probe"|"simulation"|"evaluation": {
            "result": "allowed"|"denied"|"inconclusive"|"unavailable"|"not_run",
            "detail": str, "explicit_deny": bool, "assumptions": [str]}},
        "reasons": [str], "disagreements": [str]}],
      "gaps": [{"call": str, "subject": str,
                "affects": "identity"|"boundary"|"resource"|"session"|"scp"|"repository"|"info",
                "reason": str}],
      "fix": {"identity_statement": {policy document}|null,
              "repository_statement": {statement}|null,
              "remove_deny": [{"action", "policy", "statement", "sid"}],
              "notes": [str]} | null,      # null when the verdict is not "denied"
      "elapsed_seconds": float
    }
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..permissions.actions import ImageRef, RequiredAction
    from ..permissions.fix import Fix
    from ..permissions.gather import Gap, Gathered
    from ..permissions.verdict import ActionVerdict
    from ..registry import Registry

SCHEMA = "ecrpy.check/1"
METHODS = ("auto", "probe", "simulate", "evaluate")
EXIT_CODES = {"allowed": 0, "denied": 3, "undetermined": 4}
MAX_WORKERS = 16


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``check`` command."""
    p = sub.add_parser(
        "check",
        help="will a push/pull of IMAGE be allowed? (exit 0 allowed, 3 denied, 4 undetermined)",
        description="Check before a docker push/pull whether the active AWS identity is "
        "allowed each required ECR action, from side-effect-free probes, IAM's simulator "
        "and a local evaluation of the readable policies. Exit 0 allowed, 3 denied, "
        "4 undetermined, 1 error, 2 usage.",
    )
    p.add_argument("operation", choices=("push", "pull"), help="the docker operation")
    p.add_argument("image", metavar="IMAGE", help="REGISTRY/REPOSITORY[:TAG|@DIGEST]")
    p.add_argument("--json", action="store_true", help="print the documented JSON document")
    p.add_argument(
        "--method",
        choices=METHODS,
        default="auto",
        help="which source(s) to use (default: auto = all)",
    )
    p.add_argument(
        "--create-repo",
        action="store_true",
        help="the push may create a missing repository (needs ecr:CreateRepository)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the result of ``run_check``; return its exit code."""
    result = run_check(args.image, args.operation, method=args.method, create_repo=args.create_repo)
    print(result.to_json() if args.json else result.render())
    return result.exit_code


@dataclass
class CheckResult:
    """Everything ``ecrpy check`` found; see the module doc for the JSON shape."""

    image: ImageRef
    registry: Registry
    operation: str
    method: str
    repository_arn: str
    gathered: Gathered
    actions: list[ActionVerdict]
    verdict: str
    problems: list[str] = field(default_factory=list)
    fix: Fix | None = None
    pull_through_prefix: str | None = None
    identity_type: str = "unknown"
    elapsed: float = 0.0

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def gaps(self) -> list[Gap]:
        return list(self.gathered.gaps)

    def as_dict(self) -> dict[str, Any]:
        ident = self.gathered.identity
        facts = self.gathered.repository
        reg = self.registry
        return {
            "schema": SCHEMA,
            "image": str(self.image),
            "registry": {
                "host": reg.host,
                "account_id": reg.account_id,
                "region": reg.region,
                "partition": reg.partition,
                "public": reg.public,
            },
            "repository": {
                "name": self.image.repository,
                "arn": self.repository_arn,
                "exists": facts.exists,
                "tag_mutability": facts.tag_mutability,
                "tag_exists": facts.tag_exists,
                "policy": facts.policy_state,
                "pull_through_prefix": self.pull_through_prefix,
            },
            "reference": {"tag": self.image.tag, "digest": self.image.digest},
            "operation": self.operation,
            "method": self.method,
            "identity": {
                "caller_arn": ident.caller_arn,
                "principal_arn": ident.principal_arn,
                "account": ident.account,
                "type": self.identity_type,
            },
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "problems": list(self.problems),
            "actions": [a.as_dict() for a in self.actions],
            "gaps": [g.as_dict() for g in self.gathered.gaps],
            "fix": self.fix.as_dict() if self.fix is not None else None,
            "elapsed_seconds": round(self.elapsed, 3),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def render(self) -> str:
        """A short human report: header, table (action | verdict | evidence), problems, fix."""
        ident = self.gathered.identity
        facts = self.gathered.repository
        lines = [f"{self.operation} {self.image}"]
        lines.append(f"identity:   {ident.caller_arn or self.identity_type}")
        repo = (
            "exists" if facts.exists else "does not exist" if facts.exists is False else "unknown"
        )
        if facts.tag_mutability:
            repo += f", tags {facts.tag_mutability}"
        if facts.tag_exists is not None:
            repo += f", tag {'exists' if facts.tag_exists else 'new'}"
        lines.append(f"repository: {self.image.repository} ({repo})")
        lines.append("")
        rows = [("ACTION", "VERDICT", "EVIDENCE")]
        short = {
            "allowed": "allow",
            "denied": "deny",
            "inconclusive": "?",
            "unavailable": "n/a",
            "not_run": "-",
        }
        for a in self.actions:
            verdict = a.verdict + ("*" if a.assumptions else "")
            ev = "  ".join(
                f"{name}={short[a.evidence[src].result]}"
                + ("!" if a.evidence[src].explicit else "")
                for name, src in (("probe", "probe"), ("sim", "simulation"), ("eval", "evaluation"))
            )
            rows.append((a.action, verdict, ev))
        width0 = max(len(r[0]) for r in rows)
        width1 = max(len(r[1]) for r in rows)
        lines += [f"{r[0]:<{width0}}  {r[1]:<{width1}}  {r[2]}" for r in rows]
        assumptions = sorted({x for a in self.actions for x in a.assumptions})
        if assumptions:
            lines.append("* allowed assuming " + " and ".join(assumptions))
        lines.append("")
        for a in self.actions:
            if a.verdict != "allowed" or a.disagreements:
                lines.append(f"{a.action}: {a.verdict}: " + "; ".join(a.reasons))
                lines += [f"  disagreement: {d}" for d in a.disagreements]
        for p in self.problems:
            lines.append(f"problem: {p}")
        lines.append(f"verdict: {self.verdict.upper()}")
        if self.fix is not None and not self.fix.empty:
            lines.append("")
            lines.append("fix:")
            if self.fix.identity_statement:
                lines.append("  add to the identity's policies:")
                lines += [
                    "    " + x
                    for x in json.dumps(self.fix.identity_statement, indent=2).splitlines()
                ]
            if self.fix.repository_statement:
                lines.append("  add to the repository policy (registry owner):")
                lines += [
                    "    " + x
                    for x in json.dumps(self.fix.repository_statement, indent=2).splitlines()
                ]
            for d in self.fix.remove_deny:
                sid = f" (Sid {d['sid']})" if d.get("sid") else ""
                stmt = f" statement {d['statement']}" if d.get("statement") is not None else ""
                lines.append(
                    f"  remove or narrow the Deny of {d['action']} in {d['policy']}{stmt}{sid}"
                )
        if self.fix is not None:
            lines += [f"  note: {n}" for n in self.fix.notes]
        hard = [g for g in self.gathered.gaps if g.affects not in ("scp", "session", "info")]
        if hard:
            lines.append("")
            lines.append("could not read:")
            lines += [f"  {g.call}: {g.subject} ({g.reason})" for g in hard]
        return "\n".join(lines)


class _Join:
    """Submit ``task`` once every named prerequisite has arrived (from any worker)."""

    def __init__(self, names: set[str], task: Any) -> None:
        import threading

        self._left = set(names)
        self._task = task
        self._lock = threading.Lock()

    def arrive(self, name: str) -> list[Any]:
        with self._lock:
            self._left.discard(name)
            if self._left or self._task is None:
                return []
            task, self._task = self._task, None
        return [task]


def run_check(
    image: str, operation: str, method: str = "auto", create_repo: bool = False
) -> CheckResult:
    """Check ``operation`` (push/pull) of ``image``; raises ``EcrpyError`` on errors (bad
    IMAGE: ``UsageError``; no credentials: ``CredentialsError``...)."""
    from .. import config as config_mod
    from .. import registry as registry_mod
    from ..errors import UsageError
    from ..permissions import actions as actions_mod

    started = time.monotonic()
    if operation not in actions_mod.OPERATIONS:
        raise UsageError(f"operation must be push or pull, not {operation!r}")
    if method not in METHODS:
        raise UsageError(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    ref = actions_mod.parse_image(image)
    config = config_mod.load()
    reg = registry_mod.require(ref.registry, config)
    settings = config.for_host(reg.host)
    profile = settings.profile if settings else None
    role_arn = settings.role_arn if settings else None
    result = _Check(ref, reg, operation, method, create_repo, profile, role_arn).run()
    result.elapsed = time.monotonic() - started
    return result


class _Check:
    def __init__(
        self,
        ref: ImageRef,
        reg: Registry,
        operation: str,
        method: str,
        create_repo: bool,
        profile: str | None,
        role_arn: str | None,
    ) -> None:
        self.ref = ref
        self.reg = reg
        self.operation = operation
        self.method = method
        self.create_repo = create_repo
        self.profile = profile
        self.role_arn = role_arn
        # ECR Public images are public.ecr.aws/ALIAS/NAME: the ARN names only NAME.
        self.repo = ref.repository
        if reg.public:
            from ..errors import UsageError

            _alias, _, name = ref.repository.partition("/")
            if not name:
                raise UsageError(f"IMAGE {ref}: ECR Public images are {reg.host}/ALIAS/NAME")
            self.repo = name

    @property
    def probing(self) -> bool:
        return self.method in ("auto", "probe")

    @property
    def simulating(self) -> bool:
        return self.method in ("auto", "simulate")

    @property
    def evaluating(self) -> bool:
        return self.method in ("auto", "evaluate")

    def run(self) -> CheckResult:
        from ..errors import EcrpyError
        from ..permissions.actions import repository_arn
        from ..permissions.gather import Gathered
        from ..tokens import translate

        if self.reg.public and self.operation == "pull":
            gathered = Gathered()
            return CheckResult(
                self.ref,
                self.reg,
                self.operation,
                self.method,
                repository_arn(self.reg, self.repo),
                gathered,
                [],
                "allowed",
                identity_type="anonymous",
            )
        try:
            return self._run()
        except EcrpyError:
            raise
        except Exception as exc:
            import botocore.exceptions as be

            if isinstance(exc, (be.BotoCoreError, be.ClientError)):
                raise translate(exc, None, self.profile) from None
            raise

    def _run(self) -> CheckResult:
        """Stage the work so the critical path starts as early as possible: the sts client is
        created and GetCallerIdentity sent first; the ECR clients are created while it is in
        flight, then the probes and repository reads start; then the IAM clients, which
        only follow-up tasks (submitted after every stage) use. Only this thread touches
        the boto3 session (sessions are not thread-safe; clients are)."""
        from concurrent.futures import ThreadPoolExecutor

        from botocore.config import Config

        from .. import identity, tokens
        from ..permissions import actions as am
        from ..permissions.gather import Gatherer, Identity, Task, run_tasks
        from ..permissions.probe import Prober, ProbeResult
        from ..permissions.simulate import Simulation, simulate

        ref, reg = self.ref, self.reg
        # botocore, not boto3: importing boto3 costs ~45 ms (s3transfer, multiprocessing)
        session: Any = identity.botocore_session(
            profile=self.profile, role_arn=self.role_arn, region=reg.api_region
        )
        base = tokens.client_config(reg).merge(Config(max_pool_connections=MAX_WORKERS * 2))
        # Probes, the simulator and optional reads must not retry: a 500 retried with
        # back-off costs seconds and tells nothing more.
        once = base.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
        region = reg.api_region
        clients: dict[str, Any] = {}

        def client(name: str, service: str, config: Any) -> Any:
            clients[name] = session.create_client(service, region_name=region, config=config)
            return clients[name]

        repo_arn = am.repository_arn(reg, self.repo)
        gatherer = Gatherer(
            sts=client("sts", "sts", base),
            iam=None,
            ecr=None,
            use_iam=self.method != "probe",
            repository=self.repo,
            registry_id=reg.account_id,
            repository_arn=repo_arn,
            reference=(ref.tag if not ref.digest else None, ref.digest),
            read_policies=self.evaluating,
            check_tag=self.operation == "push",
        )
        out = gatherer.out
        probes: dict[str, ProbeResult] = {}
        simulation: list[Simulation] = []

        def simulation_task() -> None:
            ident = out.identity
            if ident.principal_arn is None or ident.kind not in ("user", "role"):
                simulation.append(Simulation(False, f"cannot simulate a {ident.kind} principal"))
                return
            simulation.append(
                simulate(
                    clients["iam_sim"],
                    principal_arn=ident.principal_arn,
                    principal_kind=ident.kind,
                    actions=self._superset(ident.account),
                    resource_policy=out.repository.policy_text,
                    resource_account=reg.account_id or ident.account,
                    partition=reg.partition,
                    region=reg.region,
                    resource_tags=out.repository.tags,
                )
            )

        join = _Join(
            {"identity"} if reg.public else {"identity", "policy", "tags"}, simulation_task
        )
        if self.simulating:
            gatherer.on_identity.append(lambda _ident: join.arrive("identity"))

        def ecr_stage() -> list[Task]:
            if reg.public:
                out.gap(
                    "ecr-public:DescribeRepositories",
                    "ECR Public repository facts",
                    "info",
                    "not queried for ECR Public",
                )
                return []
            tasks: list[Task] = []
            no_retry = client("ecr_once", "ecr", once)
            if self.probing:
                prober = Prober(no_retry, self.repo, reg.account_id, ref.tag, ref.digest)
                for action in dict.fromkeys(r.action for r in self._superset(None)):
                    fn = prober.for_action(action)
                    if fn is not None:

                        def probe_task(fn: Any = fn, action: str = action) -> None:
                            probes[action] = fn()

                        tasks.append(probe_task)
            gatherer.ecr = client("ecr", "ecr", base)
            gatherer.ecr_no_retry = no_retry
            for task in gatherer.repository_tasks():
                name = getattr(task, "__name__", "")
                if self.simulating and name in ("_repository_policy", "_repository_tags"):
                    key = "policy" if name == "_repository_policy" else "tags"

                    def wrapped(task: Task = task, key: str = key) -> list[Task]:
                        follow = list(task() or ())
                        return follow + join.arrive(key)

                    tasks.append(wrapped)
                else:
                    tasks.append(task)
            return tasks

        def iam_stage() -> None:
            if self.method != "probe":
                gatherer.iam = client("iam", "iam", base)
            if self.simulating:
                client("iam_sim", "iam", once)

        with ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="ecrpy-check") as ex:
            run_tasks(ex, gatherer.identity_tasks(), [ecr_stage, iam_stage])
        ident: Identity = out.identity
        return self._decide(
            self._superset(ident.account), probes, simulation[0] if simulation else None, ident, out
        )

    def _superset(self, account: str | None) -> list[RequiredAction]:
        """Every action that might be required, so probes and simulation start right away;
        the final list is cut down once the repository facts are known."""
        from ..permissions import actions as am

        reg = self.reg
        superset = am.required_actions(
            self.operation,
            reg,
            self.repo,
            create_repo=self.create_repo,
            repository_exists=None,
            pull_through="(any)" if not reg.public else None,
            account=account,
        )
        if self.operation == "push" and not self.create_repo and not reg.public:
            superset.append(
                am.RequiredAction(
                    am.CREATE_REPOSITORY, superset[-1].resource, "create the missing repository"
                )
            )
        return superset

    def _decide(
        self,
        superset: list[RequiredAction],
        probes: dict[str, Any],
        sim: Any,
        ident: Any,
        out: Gathered,
    ) -> CheckResult:
        from ..permissions import actions as am
        from ..permissions import fix as fix_mod
        from ..permissions import verdict as vm
        from ..permissions.probe import not_probed

        ref, reg = self.ref, self.reg
        facts = out.repository
        prefix = am.pull_through_prefix(ref.repository, facts.pull_through_prefixes or [])
        required = am.required_actions(
            self.operation,
            reg,
            self.repo,
            create_repo=self.create_repo,
            repository_exists=facts.exists,
            pull_through=prefix,
            account=ident.account,
        )
        problems: list[str] = []
        where = f"{reg.account_id or ident.account}/{reg.region}"
        missing = facts.exists is False
        if missing and self.operation == "push" and not self.create_repo:
            problems.append(
                f"repository {ref.repository} does not exist in {where}; create "
                "it or use --create-repo"
            )
            required.append(next(r for r in superset if r.action == am.CREATE_REPOSITORY))
        elif missing and self.operation == "pull" and prefix is None:
            problems.append(f"repository {ref.repository} does not exist in {where}")
        if (
            self.operation == "push"
            and ref.digest is None
            and facts.tag_exists
            and (facts.tag_mutability or "").startswith("IMMUTABLE")
        ):
            problems.append(
                f"tag {ref.tag} already exists in the IMMUTABLE repository "
                f"{ref.repository}: the push would be rejected "
                "(ImageTagAlreadyExistsException)"
            )
        tag_unknown = (
            self.operation == "push"
            and ref.digest is None
            and (facts.tag_mutability or "").startswith("IMMUTABLE")
            and facts.tag_exists is None
        )

        evaluator = self._evaluator(out, ident)
        verdicts = []
        for req in required:
            if self.probing:
                p = probes.get(req.action)
                probe_ev = vm.probe_evidence(p if p is not None else not_probed(req.action))
            else:
                probe_ev = vm.probe_evidence(None)
            sim_ev = vm.simulation_evidence(
                sim.get(req.action, req.resource) if sim is not None else None,
                sim,
                ident.kind,
                facts.policy_state == "present",
            )
            eval_ev = (
                evaluator(req) if self.evaluating else vm.not_run("local evaluation not selected")
            )
            verdicts.append(vm.combine(req.action, req.resource, probe_ev, sim_ev, eval_ev))
        verdict = vm.overall(verdicts)
        if problems:
            verdict = "denied"
        elif tag_unknown and verdict == "allowed":
            verdict = "undetermined"
            problems.append(
                f"cannot tell whether tag {ref.tag} already exists in the "
                "IMMUTABLE repository (a push would then be rejected)"
            )
        fix = None
        if verdict == "denied":
            fix = fix_mod.suggest(
                verdicts,
                operation=self.operation,
                caller_account=ident.account,
                registry_account=reg.account_id,
                principal_arn=ident.principal_arn,
                partition=reg.partition,
            )
            if missing and self.operation == "push" and not self.create_repo:
                fix.notes.append(
                    f"create the repository: aws ecr create-repository "
                    f"--repository-name {ref.repository} --region {reg.region}"
                )
        return CheckResult(
            ref,
            reg,
            self.operation,
            self.method,
            am.repository_arn(reg, self.repo, ident.account),
            out,
            verdicts,
            verdict,
            problems,
            fix,
            prefix,
            ident.kind,
        )

    def _evaluator(self, out: Gathered, ident: Any) -> Any:
        """A function RequiredAction -> Evidence from the local evaluator on ``out``."""
        from ..errors import PolicyDocumentError
        from ..permissions import verdict as vm
        from ..permissions.evaluate import PolicySet, Request, evaluate
        from ..permissions.policy import parse_policy

        reg = self.reg
        if ident.kind == "root" and (reg.account_id in (None, ident.account)):

            def root(_req: Any) -> Any:
                assumptions = (vm.ASSUME_SCP,)
                return vm.Evidence("allowed", "the account's root user", assumptions=assumptions)

            return root
        if ident.kind not in ("user", "role") or not ident.caller_arn:

            def none(_req: Any) -> Any:
                return vm.Evidence("unavailable", f"cannot evaluate a {ident.kind} principal")

            return none
        identity_policies = []
        for i, p in enumerate(out.identity_policies):
            try:
                identity_policies.append(
                    parse_policy(
                        p.document, f"identity_policies[{i}]", kind="identity", name=p.name
                    )
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
                out.gap(
                    "(parse)", "repository policy", "resource", f"not understood: {exc.message}"
                )
        elif out.repository.policy_state == "present":
            out.gap("(parse)", "repository policy", "resource", "not JSON")
        policy_set = PolicySet(
            identity_policies=identity_policies,
            resource_policy=resource,
            permissions_boundary=boundary,
        )
        context: dict[str, Any] = {"aws:RequestedRegion": reg.region}
        for key, value in (out.repository.tags or {}).items():
            context[f"aws:ResourceTag/{key}"] = value
        gaps = list(out.gaps)

        def run(req: Any) -> Any:
            ctx = context if req.resource != "*" else {"aws:RequestedRegion": reg.region}
            try:
                decision = evaluate(
                    Request(ident.caller_arn, req.action, req.resource, ctx), policy_set
                )
            except PolicyDocumentError as exc:
                return vm.Evidence("unavailable", f"evaluation failed: {exc.message}")
            return vm.evaluation_evidence(decision, gaps)

        return run
