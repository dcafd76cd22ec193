"""The ECR control-plane calls a transfer needs (repository and image facts), in ecrpy's words,
and :class:`RepositoryFacts`, what is known about one repository (the one place that answers
"would an IMMUTABLE tag block this push?")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .aws_errors import error_details, is_access_denied, translate
from .errors import EcrpyError, RefusedError

if TYPE_CHECKING:
    from .kms_key import KeyFacts
    from .registry import Registry

NEAREST = 5
MAX_TAGS_LISTED = 10_000

TagBlock = Literal["yes", "no", "unknown"]


@dataclass
class RepositoryFacts:
    """What ECR says about the repository. ``None`` means unknown (could not be read).

    ``exclusion_filters``: the ``imageTagMutabilityExclusionFilters`` wildcards of a
    ``*_WITH_EXCLUSION`` repository (tags that behave the other way round)."""

    exists: bool | None = None
    tag_mutability: str | None = None
    tag_exists: bool | None = None
    policy_state: Literal["present", "none", "unreadable", "unknown"] = "unknown"
    policy_text: str | None = None
    tags: dict[str, str] | None = None
    pull_through_prefixes: list[str] | None = None
    exclusion_filters: list[str] | None = None
    # encryptionConfiguration: AES256, KMS or KMS_DSSE, and the key KMS encryption uses
    encryption_type: str | None = None
    kms_key: str | None = None
    key: KeyFacts | None = None  # the key's state and ECR's grants, where readable
    # GetLifecyclePolicy: present/none/unreadable; the warnings its rules give for the push
    lifecycle_policy: Literal["present", "none", "unreadable", "unknown"] = "unknown"
    lifecycle_text: str | None = None
    lifecycle_warnings: list[str] | None = None

    def tag_immutable(self, tag: str | None) -> bool | None:
        """Whether ``tag`` cannot be overwritten in this repository (None: unknown).

        ECR API reference, CreateRepository ``imageTagMutability``: ``IMMUTABLE`` prevents
        overwriting every tag; ``IMMUTABLE_WITH_EXCLUSION`` every tag except those matching an
        exclusion filter; ``MUTABLE_WITH_EXCLUSION`` only the tags matching a filter."""
        mutability = self.tag_mutability
        if mutability is None or tag is None:
            return None if mutability is None else False
        if mutability == "IMMUTABLE":
            return True
        if mutability.endswith("_WITH_EXCLUSION"):
            if self.exclusion_filters is None:
                return None
            excluded = any(_wildcard(f, tag) for f in self.exclusion_filters)
            return excluded != mutability.startswith("IMMUTABLE")
        return False if mutability == "MUTABLE" else None

    def push_blocked_by_tag(self, tag: str | None) -> TagBlock:
        """Would a push of ``tag`` be rejected with ``ImageTagAlreadyExistsException``?
        ``tag`` None (a push by digest) never is."""
        if tag is None:
            return "no"
        immutable = self.tag_immutable(tag)
        if immutable is False:
            return "no"
        if immutable is None:
            return "unknown"
        if self.tag_exists is None:
            return "unknown"
        return "yes" if self.tag_exists else "no"

    def describe(self, repository: dict[str, Any]) -> None:
        """Take the facts from one ``DescribeRepositories`` entry."""
        self.exists = True
        self.tag_mutability = str(repository.get("imageTagMutability") or "MUTABLE")
        filters = repository.get("imageTagMutabilityExclusionFilters") or []
        self.exclusion_filters = [str(f.get("filter", "")) for f in filters if isinstance(f, dict)]
        encryption = repository.get("encryptionConfiguration") or {}
        self.encryption_type = str(encryption.get("encryptionType") or "AES256")
        self.kms_key = str(encryption.get("kmsKey") or "") or None

    @property
    def kms_encrypted(self) -> bool:
        return self.encryption_type in ("KMS", "KMS_DSSE")


def _wildcard(pattern: str, text: str) -> bool:
    """ECR's WILDCARD filter: ``*`` matches any run of characters, everything else itself."""
    import fnmatch

    return fnmatch.fnmatchcase(text, pattern.replace("[", "[[]").replace("?", "[?]"))


# -- ECR (repository facts; the control plane, not the registry) ---------------------------------
def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert/delete/substitute, each 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def nearest_tags(wanted: str, tags: Iterable[str], n: int = NEAREST) -> list[str]:
    """The ``n`` tags closest to ``wanted``: by edit distance, then longest shared prefix,
    then name. A tag sharing a prefix at least as long as the distance wins over one that is
    merely a short edit away from an unrelated name (``v1.2`` -> ``v1.2.1`` before ``v2``)."""

    def key(tag: str) -> tuple[int, int, str]:
        prefix = _common_prefix(wanted, tag)
        return (levenshtein(wanted, tag) - min(prefix, len(wanted)) // 2, -prefix, tag)

    unique = sorted(set(tags) - {wanted}, key=key)
    return unique[:n]


def sdk_client(registry: Registry, profile: str | None, role_arn: str | None) -> Any:
    """botocore's ECR client for this registry's identity; failures in ecrpy's words."""
    from . import aws_errors, identity, tokens

    with aws_errors.translated(registry, profile):
        # botocore, not boto3: importing boto3 costs ~45 ms (s3transfer, multiprocessing)
        session = identity.botocore_session(
            profile=profile, role_arn=role_arn, region=registry.region
        )
        return session.create_client(
            "ecr", region_name=registry.region, config=tokens.client_config(registry)
        )


# botocore method -> (ECR operation, blob parameters): the calls a transfer's repository step
# and the pre-flight make, which fast_token may sign itself. Any other method is botocore's.
FAST_OPERATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "describe_repositories": ("DescribeRepositories", ()),
    "describe_images": ("DescribeImages", ()),
    "describe_pull_through_cache_rules": ("DescribePullThroughCacheRules", ()),
    "describe_repository_creation_templates": ("DescribeRepositoryCreationTemplates", ()),
    "get_repository_policy": ("GetRepositoryPolicy", ()),
    "get_lifecycle_policy": ("GetLifecyclePolicy", ()),
    "list_tags_for_resource": ("ListTagsForResource", ()),
    "get_authorization_token": ("GetAuthorizationToken", ()),
    "batch_get_image": ("BatchGetImage", ()),
    "batch_check_layer_availability": ("BatchCheckLayerAvailability", ()),
    "get_download_url_for_layer": ("GetDownloadUrlForLayer", ()),
    "initiate_layer_upload": ("InitiateLayerUpload", ()),
    "upload_layer_part": ("UploadLayerPart", ("layerPartBlob",)),
    "complete_layer_upload": ("CompleteLayerUpload", ()),
    "put_image": ("PutImage", ()),
}


class FastClient:
    """An ECR client whose ``FAST_OPERATIONS`` go through ``fast_token.ecr_call`` (static keys:
    no botocore import, ~130 ms, and no model loading) wherever ``fast_token`` may make the
    call, with botocore's errors; every other method, and every call where it may not, goes to
    botocore's client, made on first use by ``make_sdk`` (default: ``sdk_client``). Answers
    are the JSON ECR sent: timestamps stay epoch numbers (nothing that reads them uses this).
    ``attempts``: in all, as botocore's ``total_max_attempts`` (default: its standard 3)."""

    def __init__(
        self,
        registry: Registry,
        profile: str | None,
        role_arn: str | None,
        attempts: int | None = None,
        make_sdk: Callable[[], Any] | None = None,
    ) -> None:
        self.registry, self.profile, self.role_arn = registry, profile, role_arn
        self.attempts = attempts
        self._make_sdk = make_sdk or (lambda: sdk_client(registry, profile, role_arn))
        self._sdk: Any = None

    def sdk(self) -> Any:
        if self._sdk is None:
            self._sdk = self._make_sdk()
        return self._sdk

    def _call(self, method: str, kwargs: dict[str, Any]) -> Any:
        if self._sdk is None:
            from . import fast_token

            operation, blobs = FAST_OPERATIONS[method]
            request = dict(kwargs)
            for name in blobs:
                if isinstance(request.get(name), (bytes, bytearray)):
                    import base64

                    request[name] = base64.b64encode(request[name]).decode("ascii")
            resp = fast_token.ecr_call(
                self.registry, operation, request, self.profile, self.role_arn,
                attempts=self.attempts,
            )  # fmt: skip
            if resp is not None:
                return resp
        return getattr(self.sdk(), method)(**kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in FAST_OPERATIONS:
            return lambda **kwargs: self._call(name, kwargs)
        return getattr(self.sdk(), name)


class FastSts:
    """STS for the pre-flight: ``get_caller_identity`` through ``fast_token.caller_identity``
    where it may make the call, botocore's client (``make_sdk``, on first use) otherwise."""

    def __init__(
        self,
        region: str,
        profile: str | None,
        role_arn: str | None,
        fips: bool,
        make_sdk: Callable[[], Any],
    ) -> None:
        self.region, self.profile, self.role_arn, self.fips = region, profile, role_arn, fips
        self._make_sdk = make_sdk
        self._sdk: Any = None

    def get_caller_identity(self) -> Any:
        if self._sdk is None:
            from . import fast_token

            resp = fast_token.caller_identity(
                self.region, self.profile, self.role_arn, fips=self.fips
            )
            if resp is not None:
                return resp
        return self.__getattr__("get_caller_identity")()

    def __getattr__(self, name: str) -> Any:
        if self._sdk is None:
            self._sdk = self._make_sdk()
        return getattr(self._sdk, name)


class Ecr:
    """The few ECR control-plane calls a transfer needs, with errors in ecrpy's words."""

    def __init__(
        self, client: Any, registry: Registry, repository: str, profile: str | None
    ) -> None:
        self.client = client
        self.registry = registry
        self.repository = repository
        self.profile = profile
        self.kw: dict[str, Any] = {"repositoryName": repository}
        if registry.account_id:
            self.kw["registryId"] = registry.account_id

    @property
    def where(self) -> str:
        return f"{self.registry.account_id}/{self.registry.region}"

    def _fail(self, exc: Exception, call: str) -> EcrpyError:
        from botocore.exceptions import ClientError

        if not isinstance(exc, ClientError):
            return translate(exc, self.registry, self.profile)
        code, message = error_details(exc)
        if code in (
            "ExpiredToken",
            "ExpiredTokenException",
            "RequestExpired",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "SignatureDoesNotMatch",
            "InvalidSignatureException",
        ):
            return translate(exc, self.registry, self.profile)
        message = " ".join(message.split())[:200]
        return EcrpyError(f"ECR {call} failed ({code}{': ' + message if message else ''})")

    def describe(self) -> dict[str, Any] | None:
        """The repository (``describe_repositories``), None when it does not exist; raises
        ``PermissionError`` when the caller may not read it."""
        try:
            resp = self.client.describe_repositories(
                repositoryNames=[self.repository],
                **({"registryId": self.kw["registryId"]} if "registryId" in self.kw else {}),
            )
        except Exception as exc:
            if _code(exc) == "RepositoryNotFoundException":
                return None
            if is_access_denied(exc):
                raise PermissionError("ecr:DescribeRepositories") from None
            raise self._fail(exc, "DescribeRepositories") from None
        repos = resp.get("repositories") or []
        return dict(repos[0]) if repos else None

    def create(self, immutable: bool, scan_on_push: bool, kms_key: str | None) -> None:
        encryption: dict[str, str] = {"encryptionType": "AES256"}
        if kms_key:
            encryption = {"encryptionType": "KMS", "kmsKey": kms_key}
        try:
            self.client.create_repository(
                repositoryName=self.repository,
                imageTagMutability="IMMUTABLE" if immutable else "MUTABLE",
                imageScanningConfiguration={"scanOnPush": scan_on_push},
                encryptionConfiguration=encryption,
                **({"registryId": self.kw["registryId"]} if "registryId" in self.kw else {}),
            )
        except Exception as exc:
            if _code(exc) == "RepositoryAlreadyExistsException":
                return  # created meanwhile by someone else: fine
            if is_access_denied(exc):
                raise RefusedError(
                    f"not allowed to create repository {self.repository} in {self.where}",
                    hint="grant ecr:CreateRepository, or ask the registry owner to create it",
                ) from None
            raise self._fail(exc, "CreateRepository") from None

    def image_exists(self, tag: str | None, digest: str | None) -> bool | None:
        """Whether the tag/digest exists (None: not allowed to tell)."""
        image_id = {"imageDigest": digest} if digest else {"imageTag": tag}
        try:
            resp = self.client.describe_images(**self.kw, imageIds=[image_id])
        except Exception as exc:
            code = _code(exc)
            if code == "ImageNotFoundException":
                return False
            if code == "RepositoryNotFoundException":
                return False
            if is_access_denied(exc):
                return None
            raise self._fail(exc, "DescribeImages") from None
        return bool(resp.get("imageDetails"))

    def tags(self) -> list[str] | None:
        """Every tag in the repository (up to MAX_TAGS_LISTED); None when not readable."""
        found: list[str] = []
        try:
            paginator = self.client.get_paginator("list_images")
            for page in paginator.paginate(**self.kw, filter={"tagStatus": "TAGGED"}):
                found += [i["imageTag"] for i in page.get("imageIds", []) if i.get("imageTag")]
                if len(found) >= MAX_TAGS_LISTED:
                    break
        except Exception as exc:
            if is_access_denied(exc) or _code(exc) == "RepositoryNotFoundException":
                return None
            raise self._fail(exc, "ListImages") from None
        return found


def _code(exc: Exception) -> str:
    return error_details(exc)[0]
