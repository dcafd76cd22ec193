"""The ECR control-plane calls a transfer needs (repository and image facts), in ecrpy's words."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .aws_errors import error_details, is_access_denied, translate
from .errors import EcrpyError, RefusedError

if TYPE_CHECKING:
    from .registry import Registry

NEAREST = 5
MAX_TAGS_LISTED = 10_000


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
