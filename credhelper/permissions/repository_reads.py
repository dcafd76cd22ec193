"""The repository side of the gather: with the caller's own credentials, read-only,
``DescribeRepositories`` (exists? ``imageTagMutability``, then the tag of an immutable
repository and the KMS key), ``GetRepositoryPolicy`` (``RepositoryPolicyNotFoundException``
means none), ``ListTagsForResource``, ``DescribePullThroughCacheRules`` (prefixes, every page)
and, for a pull under one of them, ``GetRegistryPolicy``: the private registry policy, which
may grant the cache's ``ecr:BatchImportUpstreamImage`` and ``ecr:CreateRepository`` (ECR User
Guide, "IAM permissions required to sync an upstream registry"). GetRegistryPolicy takes no
registry id: it reads the caller's own registry, so another account's registry policy is a
gap without a call. ``GetLifecyclePolicy`` (and ``DescribeImages`` for count rules) feeds the
lifecycle warnings.

What cannot be read becomes a ``Gap`` in ``Gathered``, never a guess. The clients are read
from ``clients`` when a read runs, not when the jobs are made: the check may create them
while the first calls are on the network (see ``gather``)."""

from __future__ import annotations

from typing import Any, Protocol

from .call_errors import describe_error, error_code
from .caller_policies import IDENTITY_KNOWN
from .gathered import Gathered
from .scheduler import Job, Task

# Names of the repository reads that other work may need (see ``RepositoryReads.jobs``).
REPOSITORY_POLICY = "ecr:GetRepositoryPolicy"
REPOSITORY_TAGS = "ecr:ListTagsForResource"


class EcrClients(Protocol):
    """Where the boto3 clients live (``gather.Gatherer``); set before the reads run."""

    ecr: Any
    ecr_no_retry: Any
    kms: Any


class RepositoryReads:
    """The repository reads for one check. ``registry_id``: the repository's account;
    ``tag``: the tag checked (None for a digest); ``check_tag``: look up whether the tag
    exists (a push to a possibly immutable repository); ``pulling``: read the registry policy
    for a pull under a pull-through cache prefix."""

    def __init__(
        self,
        clients: EcrClients,
        out: Gathered,
        *,
        repository: str,
        registry_id: str | None,
        repository_arn: str,
        tag: str | None,
        check_tag: bool,
        pulling: bool,
    ) -> None:
        self.clients = clients
        self.out = out
        self.repository = repository
        self.registry_id = registry_id
        self.repository_arn = repository_arn
        self.tag = tag
        self.check_tag = check_tag
        self.pulling = pulling

    @property
    def ecr(self) -> Any:
        return self.clients.ecr

    @property
    def ecr_no_retry(self) -> Any:
        return self.clients.ecr_no_retry

    @property
    def kms(self) -> Any:
        return self.clients.kms

    def _repo_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"repositoryName": self.repository}
        if self.registry_id:
            kw["registryId"] = self.registry_id
        return kw

    def jobs(self) -> list[Job]:
        """DescribeRepositories, GetRepositoryPolicy, ListTagsForResource and
        DescribePullThroughCacheRules as named jobs: work that needs the repository policy or
        tags (the simulation) names :data:`REPOSITORY_POLICY`/:data:`REPOSITORY_TAGS` (and
        :data:`IDENTITY_KNOWN`)."""
        return [
            Job("ecr:DescribeRepositories", self._describe_repository),
            Job(REPOSITORY_POLICY, self._repository_policy),
            Job(REPOSITORY_TAGS, self._repository_tags),
            Job("ecr:DescribePullThroughCacheRules", self._pull_through_rules),
            Job("ecr:GetLifecyclePolicy", self._lifecycle_policy),
        ]

    def _describe_repository(self) -> list[Task] | None:
        facts = self.out.repository
        kw = {"repositoryNames": [self.repository]}
        if self.registry_id:
            kw["registryId"] = self.registry_id  # type: ignore[assignment]
        try:
            repos = self.ecr.describe_repositories(**kw)["repositories"]
        except Exception as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                facts.exists = False
                return None
            self.out.gap(
                "ecr:DescribeRepositories",
                f"whether repository {self.repository} exists and its tag mutability",
                "repository",
                describe_error(exc),
            )
            return None
        facts.exists = bool(repos)
        work: list[Task] = []
        if repos:
            facts.describe(repos[0])
            if self.check_tag and self.tag and facts.tag_immutable(self.tag) is not False:
                work.append(self._tag_exists)
            if facts.kms_encrypted and self.kms is not None:
                work.append(self._kms_key)
        return work

    def _kms_key(self) -> None:
        """The repository's KMS key: its state (kms:DescribeKey) and ECR's grants on it
        (kms:ListGrants); unreadable parts are gaps (``info``: most callers may not read
        the key, and need not)."""
        from .. import kms_key

        facts = self.out.repository
        # KMS without a key is the AWS managed key for ECR (ECR API, EncryptionConfiguration).
        name = facts.kms_key or "alias/aws/ecr"
        try:
            key = kms_key.describe(self.kms, name)
        except Exception as exc:
            facts.key = kms_key.KeyFacts(name)
            self.out.gap(
                "kms:DescribeKey",
                f"the state of KMS key {name} that encrypts the repository",
                "info",
                describe_error(exc),
            )
            return
        facts.key = key
        try:
            key.ecr_grants = kms_key.count_ecr_grants(
                self.kms, key.arn or name, self.repository_arn
            )
        except Exception as exc:
            self.out.gap(
                "kms:ListGrants",
                f"whether ECR still holds its grants on KMS key {key.arn or name}",
                "info",
                describe_error(exc),
            )

    def _lifecycle_policy(self) -> None:
        """GetLifecyclePolicy and, for a push of a tag, what its rules will expire."""
        from .. import lifecycle

        facts = self.out.repository
        try:
            resp = self.ecr_no_retry.get_lifecycle_policy(**self._repo_kwargs())
        except Exception as exc:
            code = error_code(exc)
            if code in ("LifecyclePolicyNotFoundException", "RepositoryNotFoundException"):
                facts.lifecycle_policy = "none"
                return
            facts.lifecycle_policy = "unreadable"
            self.out.gap(
                "ecr:GetLifecyclePolicy",
                "whether the repository's lifecycle policy expires the pushed tag",
                "info",
                describe_error(exc),
            )
            return
        facts.lifecycle_text = str(resp.get("lifecyclePolicyText") or "")
        facts.lifecycle_policy = "present" if facts.lifecycle_text else "none"
        if self.check_tag and self.tag and facts.lifecycle_text:
            facts.lifecycle_warnings = lifecycle.push_warnings(
                facts.lifecycle_text, self.tag, facts.tag_exists, self._image_tags
            )

    def _image_tags(self) -> list[list[str]] | None:
        """The tags of every image (DescribeImages, every page); None and a gap if unreadable."""
        from .. import lifecycle

        try:
            pages = self.ecr_no_retry.get_paginator("describe_images").paginate(
                **self._repo_kwargs()
            )
            return lifecycle.tag_lists(pages)
        except Exception as exc:
            self.out.gap(
                "ecr:DescribeImages",
                "how many images a lifecycle count rule already holds",
                "info",
                describe_error(exc),
            )
            return None

    def _tag_exists(self) -> None:
        facts = self.out.repository
        try:
            resp = self.ecr.batch_get_image(
                **self._repo_kwargs(),
                imageIds=[{"imageTag": self.tag}],
                acceptedMediaTypes=[
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.oci.image.index.v1+json",
                ],
            )
            facts.tag_exists = bool(resp.get("images"))
            return
        except Exception as exc:
            first = describe_error(exc)
        try:  # BatchGetImage may be denied where DescribeImages is allowed
            self.ecr.describe_images(**self._repo_kwargs(), imageIds=[{"imageTag": self.tag}])
            facts.tag_exists = True
        except Exception as exc:
            if error_code(exc) == "ImageNotFoundException":
                facts.tag_exists = False
            else:
                self.out.gap(
                    "ecr:BatchGetImage/ecr:DescribeImages",
                    f"whether tag {self.tag} already exists in the IMMUTABLE repository",
                    "repository",
                    f"{first}/{describe_error(exc)}",
                )

    def _repository_policy(self) -> None:
        facts = self.out.repository
        try:
            resp = self.ecr.get_repository_policy(**self._repo_kwargs())
        except Exception as exc:
            code = error_code(exc)
            if code == "RepositoryPolicyNotFoundException":
                facts.policy_state = "none"
            elif code == "RepositoryNotFoundException":
                facts.policy_state = "none"
            else:
                facts.policy_state = "unreadable"
                self.out.gap(
                    "ecr:GetRepositoryPolicy",
                    f"the repository policy of {self.repository}",
                    "resource",
                    describe_error(exc),
                )
            return
        facts.policy_text = str(resp.get("policyText") or "")
        facts.policy_state = "present" if facts.policy_text else "none"

    def _repository_tags(self) -> None:
        try:
            resp = self.ecr.list_tags_for_resource(resourceArn=self.repository_arn)
        except Exception as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                self.out.repository.tags = {}
                return
            self.out.gap(
                "ecr:ListTagsForResource",
                "repository tags (for aws:ResourceTag conditions)",
                "info",
                describe_error(exc),
            )
            return
        self.out.repository.tags = {
            str(t.get("Key")): str(t.get("Value")) for t in resp.get("tags", [])
        }

    def _pull_through_rules(self) -> list[Task] | None:
        """Every rule's prefix (all pages: a registry may have more rules than one page holds);
        then, for a pull under one of them, the registry policy."""
        from .actions import pull_through_prefix

        kw: dict[str, Any] = {"registryId": self.registry_id} if self.registry_id else {}
        prefixes: list[str] = []
        try:
            # nextToken by hand, not botocore's paginator: with static keys this call goes
            # through fast_token (FastClient), which a paginator would bypass.
            while True:
                page = self.ecr_no_retry.describe_pull_through_cache_rules(**kw)
                prefixes += [
                    str(r.get("ecrRepositoryPrefix"))
                    for r in page.get("pullThroughCacheRules", [])
                ]
                token = page.get("nextToken")
                if not token:
                    break
                kw["nextToken"] = token
        except Exception as exc:
            self.out.gap(
                "ecr:DescribePullThroughCacheRules",
                "pull-through cache prefixes (whether BatchImportUpstreamImage is needed)",
                "info",
                describe_error(exc),
            )
            return None
        self.out.repository.pull_through_prefixes = prefixes
        if self.pulling and pull_through_prefix(self.repository, prefixes) is not None:
            return [Job("ecr:GetRegistryPolicy", self._registry_policy, needs=(IDENTITY_KNOWN,))]
        return None

    def _registry_policy(self) -> None:
        """GetRegistryPolicy, which reads the caller's own registry only."""
        out = self.out
        account = out.identity.account
        if self.registry_id and account != self.registry_id:
            out.registry_policy_state = "unreadable"
            out.gap(
                "ecr:GetRegistryPolicy",
                f"the registry policy of {self.registry_id} (it may grant the pull-through "
                "cache's BatchImportUpstreamImage and CreateRepository)",
                "registry",
                f"readable only from account {self.registry_id}",
            )
            return
        try:
            resp = self.ecr_no_retry.get_registry_policy()
        except Exception as exc:
            if error_code(exc) == "RegistryPolicyNotFoundException":
                out.registry_policy_state = "none"
                return
            out.registry_policy_state = "unreadable"
            out.gap(
                "ecr:GetRegistryPolicy",
                "the registry policy (it may grant the pull-through cache's "
                "BatchImportUpstreamImage and CreateRepository)",
                "registry",
                describe_error(exc),
            )
            return
        out.registry_policy_text = str(resp.get("policyText") or "")
        out.registry_policy_state = "present" if out.registry_policy_text else "none"
