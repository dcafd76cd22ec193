"""Run one pre-flight: read the identity and the repository, probe, simulate and evaluate in
parallel, then ``decide``.

Every call is a job of one :class:`~credhelper.permissions.scheduler.Scheduler`; work that
needs another answer names it (the simulation needs ``IDENTITY_KNOWN``, ``REPOSITORY_POLICY``
and ``REPOSITORY_TAGS``). Stages, so the critical path starts as early as possible:
GetCallerIdentity is sent first; the ECR clients are made while it is in flight, then the
probes and repository reads start; then the IAM clients, which only follow-up jobs (taken in
after every stage) use.

With static keys, STS, ECR and IAM calls go through ``fast_token`` (``ecr_repository.FastSts``
and ``FastClient``, ``fast_iam.FastIam``): no botocore session, no model loading, ~200 ms of
CPU less (~170 ms more for an IAM user's reads and simulation). Everything else (other
identities, settings only botocore implements, KMS, ECR paginators) uses botocore: one session
(one loader and model cache) for every client, made on first use, always under one lock
(sessions are not thread-safe; clients are). The botocore clients are made on first use:
loading the KMS and IAM models costs ~15 and ~50 ms, and most checks never need them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .decide import CheckRequest, decide, superset
from .result import METHODS, CheckResult

if TYPE_CHECKING:
    from ..permissions.gather import Gathered, Gatherer, Task
    from ..permissions.probe import Prober, ProbeResult
    from ..permissions.simulate import Simulation

MAX_WORKERS = 16


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
    # ECR Public images are public.ecr.aws/ALIAS/NAME: the ARN names only NAME.
    repo = ref.repository
    if reg.public:
        _alias, _, name = ref.repository.partition("/")
        if not name:
            raise UsageError(f"IMAGE {ref}: ECR Public images are {reg.host}/ALIAS/NAME")
        repo = name
    req = CheckRequest(ref, reg, operation, method, create_repo, repo)
    result = _Check(req, profile, role_arn).run()
    result.elapsed = time.monotonic() - started
    return result


def _creation_templates(client: Any, out: Gathered) -> list[dict[str, Any]] | None:
    """The registry's repository creation templates (None, and a gap, when unreadable): one
    of them may create a missing repository on push (``CREATE_ON_PUSH``)."""
    from ..permissions.gather import describe_error

    # The call takes no registry id: it reads the caller's own registry (``decide`` uses the
    # answer only when that is the registry checked).
    try:
        resp = client.describe_repository_creation_templates()
    except Exception as exc:
        out.gap(
            "ecr:DescribeRepositoryCreationTemplates",
            "whether a repository creation template creates a missing repository on push",
            "info",
            describe_error(exc),
        )
        return None
    found = resp.get("repositoryCreationTemplates") or []
    return [t for t in found if isinstance(t, dict)]


def _nearest_tags(client: Any, req: CheckRequest, profile: str | None) -> list[str] | None:
    """The tags nearest a pulled tag that does not exist, as ``ecrpy pull`` lists them (None
    when ecr:ListImages is not allowed)."""
    from ..ecr_repository import Ecr, nearest_tags
    from ..errors import EcrpyError

    try:
        tags = Ecr(client, req.registry, req.repo, profile).tags()
    except EcrpyError:
        return None
    return None if tags is None else nearest_tags(req.ref.tag or "", tags)


def _probe_tasks(prober: Prober, actions: list[str], probes: dict[str, ProbeResult]) -> list[Task]:
    """One task per probe-able action. The probes that must not run against a missing
    repository (``NEED_REPOSITORY``) follow the gate probe, and only when its authorized
    answer showed that the repository exists."""
    from ..permissions.probe import NEED_REPOSITORY, REPOSITORY_GATE

    def task(action: str, fn: Callable[[], ProbeResult]) -> Task:
        def run() -> list[Task]:
            result = probes[action] = fn()
            if action == REPOSITORY_GATE and result.outcome == "allowed":
                if not result.repository_missing:
                    return list(gated)
            return []

        return run

    gated: list[Task] = []
    tasks: list[Task] = []
    for action in dict.fromkeys(actions):
        fn = prober.for_action(action)
        if fn is None:
            continue
        (gated if action in NEED_REPOSITORY else tasks).append(task(action, fn))
    return tasks


class _LazyClient:
    """A botocore client made by ``make`` on first use (once, whichever thread comes first)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._make()
        return getattr(self._client, name)


class _Check:
    def __init__(self, req: CheckRequest, profile: str | None, role_arn: str | None) -> None:
        self.req = req
        self.profile = profile
        self.role_arn = role_arn

    def run(self) -> CheckResult:
        from ..aws_errors import translate
        from ..errors import EcrpyError
        from ..permissions.actions import repository_arn
        from ..permissions.gather import Gathered

        req = self.req
        if req.registry.public and req.operation == "pull":
            # Say what was and was not checked rather than show an empty table under ALLOWED.
            return CheckResult(
                req.ref,
                req.registry,
                req.operation,
                req.method,
                repository_arn(req.registry, req.repo),
                Gathered(),
                [],
                "allowed",
                identity_type="anonymous",
                notes=[
                    "checked: an ECR Public pull is anonymous, so no AWS permission applies "
                    "and no AWS identity is used",
                    f"not checked: whether {req.ref} exists (ECR Public is not queried)",
                ],
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
        from concurrent.futures import ThreadPoolExecutor

        from ..permissions.gather import IDENTITY_KNOWN, REPOSITORY_POLICY, REPOSITORY_TAGS
        from ..permissions.scheduler import Job, Scheduler

        req = self.req
        self._open_session()
        gatherer = self.gatherer = self._gatherer()
        with ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="ecrpy-check") as ex:
            sched = Scheduler(ex)
            for job in gatherer.identity_tasks():
                sched.add(job)
            if req.simulating:
                # ECR Public's repository is not read: the simulation needs the caller only.
                needs = (
                    (IDENTITY_KNOWN,)
                    if req.registry.public
                    else (IDENTITY_KNOWN, REPOSITORY_POLICY, REPOSITORY_TAGS)
                )
                sched.add(Job("simulate", self._simulate, needs=needs))
            sched.run([self._ecr_stage, self._iam_stage])
        return self._decide()

    def _open_session(self) -> None:
        """The check's state. The botocore session is made on first use (``_client``): with
        static keys the STS and ECR calls go through ``fast_token`` and need none."""
        self._session: Any = None
        self._configs: dict[str, Any] = {}
        self.clients: dict[str, Any] = {}
        self.session_lock = threading.Lock()
        self.probes: dict[str, ProbeResult] = {}
        self.simulation: list[Simulation] = []
        self.templates: list[list[dict[str, Any]]] = []  # one entry once read

    def _botocore(self) -> tuple[Any, dict[str, Any]]:
        """The one botocore session and the two client configurations (under the lock)."""
        if self._session is None:
            from botocore.config import Config

            from .. import identity, tokens

            reg = self.req.registry
            # botocore, not boto3: importing boto3 costs ~45 ms (s3transfer, multiprocessing)
            self._session = identity.botocore_session(
                profile=self.profile, role_arn=self.role_arn, region=reg.api_region
            )
            base = tokens.client_config(reg).merge(Config(max_pool_connections=MAX_WORKERS * 2))
            # Probes, the simulator and optional reads must not retry: a 500 retried with
            # back-off costs seconds and tells nothing more.
            once = base.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
            self._configs = {"base": base, "once": once}
        return self._session, self._configs

    def _client(self, name: str, service: str, config: str) -> Any:
        """botocore's client for ``service`` with the ``base`` or ``once`` configuration."""
        with self.session_lock:
            session, configs = self._botocore()
            client = session.create_client(
                service, region_name=self.req.registry.api_region, config=configs[config]
            )
        self.clients[name] = client
        return client

    def _lazy_client(self, name: str, service: str, config: str) -> _LazyClient:
        lazy = _LazyClient(lambda: self._client(name, service, config))
        self.clients[name] = lazy
        return lazy

    def _fast_ecr(self, name: str, config: str) -> Any:
        """ECR through fast_token where it may make the call (static keys), else botocore."""
        from ..ecr_repository import FastClient

        client = FastClient(
            self.req.registry,
            self.profile,
            self.role_arn,
            attempts=1 if config == "once" else None,
            make_sdk=lambda: self._client(name, "ecr", config),
        )
        self.clients[name] = client
        return client

    def _gatherer(self) -> Gatherer:
        from ..ecr_repository import FastSts
        from ..permissions import actions as am
        from ..permissions.gather import Gatherer

        req = self.req
        ref, reg = req.ref, req.registry
        return Gatherer(
            sts=FastSts(
                reg.api_region,
                self.profile,
                self.role_arn,
                reg.fips,
                make_sdk=lambda: self._client("sts", "sts", "base"),
            ),
            iam=None,
            ecr=None,
            use_iam=req.method != "probe",
            repository=req.repo,
            registry_id=reg.account_id,
            repository_arn=am.repository_arn(reg, req.repo),
            reference=(ref.tag if not ref.digest else None, ref.digest),
            read_policies=req.evaluating,
            check_tag=req.operation == "push",
            pulling=req.operation == "pull",
        )

    def _simulate(self) -> None:
        """The IAM policy simulator for the caller (a job: it needs the identity and the
        repository policy and tags)."""
        from ..permissions.simulate import Simulation, simulate

        req, out = self.req, self.gatherer.out
        ident = out.identity
        if ident.principal_arn is None or ident.kind not in ("user", "role"):
            self.simulation.append(Simulation(False, f"cannot simulate a {ident.kind} principal"))
            return
        reg = req.registry
        self.simulation.append(
            simulate(
                self.clients["iam_sim"],
                principal_arn=ident.principal_arn,
                principal_kind=ident.kind,
                actions=superset(req, ident.account),
                resource_policy=out.repository.policy_text,
                resource_account=reg.account_id or ident.account,
                partition=reg.partition,
                region=reg.region,
                resource_tags=out.repository.tags,
            )
        )

    def _ecr_stage(self) -> list[Task]:
        """The ECR clients, then the probes and the repository reads."""
        from ..permissions.probe import Prober

        req, out = self.req, self.gatherer.out
        ref, reg = req.ref, req.registry
        if reg.public:
            out.gap(
                "ecr-public:DescribeRepositories",
                "ECR Public repository facts",
                "info",
                "not queried for ECR Public",
            )
            return []
        tasks: list[Task] = []
        no_retry = self._fast_ecr("ecr_once", "once")
        if req.probing:
            tasks += _probe_tasks(
                Prober(no_retry, req.repo, reg.account_id, ref.tag, ref.digest),
                [r.action for r in superset(req, None)],
                self.probes,
            )
        if req.operation == "push" and not req.create_repo:

            def templates_task() -> None:
                found = _creation_templates(no_retry, out)
                if found is not None:
                    self.templates.append(found)

            tasks.append(templates_task)
        self.gatherer.ecr = self._fast_ecr("ecr", "base")
        self.gatherer.ecr_no_retry = no_retry
        # Only a follow-up of DescribeRepositories (a KMS-encrypted repository) uses it.
        self.gatherer.kms = self._lazy_client("kms", "kms", "once")
        return [*tasks, *self.gatherer.repository_jobs()]

    def _iam_stage(self) -> None:
        reads = self.req.method != "probe"
        if reads:
            self.gatherer.iam = self._fast_iam("iam", "base")
        if self.req.simulating:
            self._fast_iam("iam_sim", "once")
        if reads or self.req.simulating:
            # The IAM calls wait for GetCallerIdentity, their connections need not: the
            # user's or role's first reads go out at once (4), and the simulation (1).
            from ..fast_token import preconnect_iam

            reg = self.req.registry
            preconnect_iam(reg.api_region, 4 * reads + self.req.simulating, self.profile,
                           self.role_arn, fips=reg.fips, dualstack=reg.dualstack)  # fmt: skip

    def _fast_iam(self, name: str, config: str) -> Any:
        """IAM through fast_token where it may make the call (static keys), else botocore."""
        from ..fast_iam import FastIam

        reg = self.req.registry
        client = FastIam(
            reg.api_region,
            self.profile,
            self.role_arn,
            make_sdk=lambda: self._client(name, "iam", config),
            fips=reg.fips,
            dualstack=reg.dualstack,
            attempts=1 if config == "once" else None,
        )
        self.clients[name] = client
        return client

    def _decide(self) -> CheckResult:
        req = self.req
        ref, reg = req.ref, req.registry
        out = self.gatherer.out
        nearest = None
        get_image = self.probes.get("ecr:BatchGetImage")
        # Only a pull of a missing tag lists the tags nearest it (a push creates the tag).
        missing = get_image is not None and get_image.image_found is False
        if missing and req.operation == "pull" and ref.tag and not ref.digest:
            nearest = _nearest_tags(self.clients["ecr_once"], req, self.profile)
        result = decide(
            req,
            self.probes,
            self.simulation[0] if self.simulation else None,
            out.identity,
            out,
            nearest,
            self.templates[0] if self.templates else None,
        )
        if reg.public:
            result.notes.append(
                "ECR Public: no probe exists and the repository was not looked up; the "
                "verdict rests on the policies that could be read"
            )
        return result
