"""Read, with the caller's own credentials, everything that decides its ECR permissions.

Two sides, composed by :class:`Gatherer` into one :class:`~.gathered.Gathered`:

* the caller and its IAM policies (``sts:GetCallerIdentity``, then the user's or role's
  inline, attached, group and boundary policies): :mod:`.caller_policies`, through the typed
  IAM adapter :mod:`.iam_reader`;
* the repository (DescribeRepositories, GetRepositoryPolicy, ListTagsForResource, the tag,
  the KMS key, the lifecycle policy, pull-through cache rules and the registry policy):
  :mod:`.repository_reads`.

Whatever cannot be read is recorded as a :class:`Gap` naming the call and what it would have
told, never guessed. Every call is read-only.

The reads are work for :mod:`.scheduler`: each returns the reads its answer made possible, so
the critical path is the longest chain, not the number of calls. botocore clients are
thread-safe; the caller creates them (``iam``/``ecr`` may be set while the first call is on
the network, before any follow-up runs).
"""

from __future__ import annotations

from typing import Any

from ..ecr_repository import RepositoryFacts
from .call_errors import describe_error, error_code
from .caller_policies import IDENTITY_KNOWN, CallerPolicies, parse_caller
from .findings import Affects, FoundPolicy, Gap, Identity
from .gathered import Gathered
from .iam_reader import IamReader
from .repository_reads import REPOSITORY_POLICY, REPOSITORY_TAGS, RepositoryReads
from .scheduler import Job, Scheduler, Task

__all__ = [
    "IDENTITY_KNOWN",
    "REPOSITORY_POLICY",
    "REPOSITORY_TAGS",
    "Affects",
    "FoundPolicy",
    "Gap",
    "Gathered",
    "Gatherer",
    "Identity",
    "Job",
    "RepositoryFacts",
    "Scheduler",
    "Task",
    "describe_error",
    "error_code",
    "parse_caller",
]


class Gatherer:
    """Builds the gather tasks for one check. ``iam``/``ecr``/``sts`` are boto3 clients;
    ``registry_id`` the repository's account; ``reference`` the tag or digest checked."""

    def __init__(
        self,
        *,
        sts: Any,
        iam: Any | None,
        ecr: Any | None,
        repository: str,
        registry_id: str | None,
        repository_arn: str,
        reference: tuple[str | None, str | None] = ("latest", None),
        read_policies: bool = True,
        check_tag: bool = False,
        result: Gathered | None = None,
        use_iam: bool | None = None,
        ecr_no_retry: Any | None = None,
        kms: Any | None = None,
        pulling: bool = False,
    ) -> None:
        self.sts: Any = sts
        self.iam: Any = iam
        self.ecr: Any = ecr
        # For optional facts (pull-through rules): a failure is a gap, not worth a back-off.
        self.ecr_no_retry: Any = ecr_no_retry or ecr
        # For the repository's KMS key (optional facts); may be set before follow-ups run.
        self.kms: Any = kms
        # Whether IAM is queried; ``iam`` may be set later (before follow-ups run).
        self.use_iam = iam is not None if use_iam is None else use_iam
        self.repository = repository
        self.registry_id = registry_id
        self.repository_arn = repository_arn
        self.tag, self.digest = reference
        self.read_policies = read_policies
        self.check_tag = check_tag
        # A pull under a pull-through cache prefix reads the registry policy (repository_reads).
        self.pulling = pulling
        self.out = result or Gathered()

    def repository_jobs(self) -> list[Job]:
        """DescribeRepositories, GetRepositoryPolicy, ListTagsForResource,
        DescribePullThroughCacheRules and GetLifecyclePolicy as named jobs
        (:meth:`.RepositoryReads.jobs`); none without an ECR client."""
        if self.ecr is None:
            return []
        return RepositoryReads(
            self,
            self.out,
            repository=self.repository,
            registry_id=self.registry_id,
            repository_arn=self.repository_arn,
            tag=self.tag,
            check_tag=self.check_tag,
            pulling=self.pulling,
        ).jobs()

    # -- identity ------------------------------------------------------------------------------

    def identity_tasks(self) -> list[Job]:
        """GetCallerIdentity and, from its answer, the caller's IAM policies."""
        return CallerPolicies(
            sts=self.sts,
            reader=self._iam_reader,
            findings=self.out,
            use_iam=self.use_iam,
            read_policies=self.read_policies,
            # Work that needs the identity names IDENTITY_KNOWN instead of hooking in.
            on_identity=(),
        ).jobs()

    def _iam_reader(self) -> IamReader:
        # Built when an IAM read runs: ``iam`` is set once the check created the client.
        return IamReader(self.iam)
