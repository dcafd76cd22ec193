"""Which IAM actions a docker push or pull needs, on which resource; and the IMAGE parser.

A pull from a private registry needs ``ecr:GetAuthorizationToken`` on ``*`` plus
``ecr:BatchGetImage``, ``ecr:GetDownloadUrlForLayer`` and ``ecr:BatchCheckLayerAvailability``
on the repository ARN. A push needs the token plus ``BatchCheckLayerAvailability``, the three
layer-upload actions, ``PutImage`` and ``BatchGetImage`` (docker reads the manifest back).
Extras apply when:

* the push creates the repository (``--create-repo``): ``ecr:CreateRepository``;
* the repository lives under a pull-through cache prefix and the pull makes ECR import the
  image from the upstream: ``ecr:BatchImportUpstreamImage`` ("retrieve the external image and
  import it"), and ``ecr:CreateRepository`` while the cached repository does not exist yet
  ("required if the repository storing the cached images doesn't already exist"; ECR User
  Guide, "IAM permissions required to sync an upstream registry"). A tag the cache already
  holds is served from the repository: no import, only the pull actions;
* the registry is ECR Public: a pull is anonymous (nothing required), a push needs the
  ``ecr-public`` equivalents plus ``sts:GetServiceBearerToken``.

ARNs take the partition from the registry (``aws``, ``aws-cn``, ``aws-us-gov``...); nothing
here hard-codes ``arn:aws:``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..registry import Registry

OPERATIONS = ("push", "pull")

GET_AUTHORIZATION_TOKEN = "ecr:GetAuthorizationToken"
PULL_ACTIONS = (
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
)
PUSH_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
)
CREATE_REPOSITORY = "ecr:CreateRepository"
BATCH_IMPORT_UPSTREAM = "ecr:BatchImportUpstreamImage"
PUBLIC_PUSH_ACTIONS = (
    "ecr-public:BatchCheckLayerAvailability",
    "ecr-public:InitiateLayerUpload",
    "ecr-public:UploadLayerPart",
    "ecr-public:CompleteLayerUpload",
    "ecr-public:PutImage",
)
PUBLIC_TOKEN_ACTIONS = ("ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken")

# distribution/reference grammar, as docker applies it.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_SHA256_RE = re.compile(r"sha256:[0-9a-f]{64}")
# ECR API reference, CreateRepository ``repositoryName``: length 2-256, pattern
# ``[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`` (the same
# grammar as _REPOSITORY_RE). The prose beside it says "must start with a letter", which the
# pattern (and ECR) does not enforce: the pattern is the rule here.
MIN_REPOSITORY = 2
MAX_REPOSITORY = 256
REPOSITORY_RULE = (
    "ECR repository names are 2-256 characters of lower-case letters and digits, in "
    "'/'-separated components whose parts are joined by '.', '_', '__' or hyphens "
    "(ECR API, CreateRepository repositoryName)"
)


@dataclass(frozen=True)
class ImageRef:
    """``registry/repository[:tag|@digest]`` taken apart. ``tag`` is ``latest`` when neither a
    tag nor a digest was given; with a digest, ``tag`` is whatever tag was also written."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """The digest when given, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image(text: str) -> ImageRef:
    """Split an image reference; raise ``UsageError`` saying what is wrong with it.

    The registry host is required (ecrpy checks ECR registries, never Docker Hub): the first
    path component counts as a host when it contains ``.`` or ``:`` or is ``localhost``, as in
    docker. The repository must be lower-case path components; a tag at most 128 characters
    of ``[A-Za-z0-9_.-]`` not starting with ``.`` or ``-``; a digest ``algorithm:hex``.
    """
    if not isinstance(text, str) or not text.strip():
        raise UsageError("IMAGE is empty", hint="give REGISTRY/REPOSITORY[:TAG|@DIGEST]")
    original = text
    text = text.strip()
    for scheme in ("https://", "http://"):
        if text.lower().startswith(scheme):
            raise UsageError(
                f"IMAGE {original!r} must not have a URL scheme",
                hint=f"drop {scheme!r}: REGISTRY/REPOSITORY[:TAG]",
            )
    name, at, digest = text.partition("@")
    if at:
        if not _DIGEST_RE.fullmatch(digest):
            raise UsageError(
                f"IMAGE {original!r}: {digest!r} is not a digest",
                hint="a digest looks like sha256:<64 hex digits>",
            )
        if digest.startswith("sha256:") and not _SHA256_RE.fullmatch(digest):
            raise UsageError(f"IMAGE {original!r}: a sha256 digest needs 64 lower-case hex digits")
    host, slash, rest = name.partition("/")
    if not slash or not ("." in host or ":" in host or host == "localhost"):
        raise UsageError(
            f"IMAGE {original!r} has no registry host",
            hint="write the ECR host first, e.g. "
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest",
        )
    tag: str | None = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise UsageError(
                f"IMAGE {original!r}: {tag!r} is not a valid tag",
                hint="tags are up to 128 characters of letters, digits, '_', '.', '-' and do "
                "not start with '.' or '-'",
            )
    if not rest:
        raise UsageError(f"IMAGE {original!r} has no repository name after the registry host")
    if not _REPOSITORY_RE.fullmatch(rest) or not MIN_REPOSITORY <= len(rest) <= MAX_REPOSITORY:
        raise UsageError(
            f"IMAGE {original!r}: {rest!r} is not a valid repository name: {REPOSITORY_RULE}"
        )
    if tag is None and not at:
        tag = "latest"
    return ImageRef(host.lower(), rest, tag, digest if at else None)


@dataclass(frozen=True)
class RequiredAction:
    """One action the operation needs, the resource it is authorized against, and why."""

    action: str
    resource: str
    why: str


def repository_arn(registry: Registry, repository: str, account: str | None = None) -> str:
    """``arn:<partition>:ecr:<region>:<account>:repository/<name>``; for ECR Public
    ``arn:<partition>:ecr-public::<account>:repository/<name>`` (``account`` supplies the
    owner when the registry does not name it; ``*`` when unknown)."""
    if registry.public:
        owner = registry.account_id or account or "*"
        return f"arn:{registry.partition}:ecr-public::{owner}:repository/{repository}"
    owner = registry.account_id or account or "*"
    return f"arn:{registry.partition}:ecr:{registry.region}:{owner}:repository/{repository}"


def pull_through_prefix(repository: str, prefixes: Sequence[str]) -> str | None:
    """The pull-through cache prefix ``repository`` lives under, if any (longest wins).

    A rule with prefix ``docker-hub`` caches ``docker-hub/library/nginx``: "there is always an
    assumed / applied to the end of the prefix" (ECR API reference, CreatePullThroughCacheRule
    ``ecrRepositoryPrefix``). A rule with prefix ``ROOT`` (ECR to ECR) applies to every
    repository no other rule covers (ECR User Guide, "Customizing repository prefixes for ECR
    to ECR pull through cache").
    """
    best: str | None = None
    root = False
    for prefix in prefixes:
        if prefix == "ROOT":
            root = True
            continue
        p = prefix.strip("/")
        if p and repository.startswith(p + "/") and (best is None or len(p) > len(best)):
            best = p
    return best if best is not None or not root else "ROOT"


def required_actions(
    operation: str,
    registry: Registry,
    repository: str,
    *,
    create_repo: bool = False,
    repository_exists: bool | None = True,
    pull_through: str | None = None,
    account: str | None = None,
    image_cached: bool | None = None,
) -> list[RequiredAction]:
    """Every action ``operation`` on ``registry``/``repository`` needs, token first.

    ``create_repo``: a push may create the repository (adds CreateRepository when it does not
    exist or its existence is unknown). ``pull_through``: the matching pull-through cache
    prefix (see ``pull_through_prefix``). ``image_cached``: whether the pulled tag or digest
    is already in the cache repository (None: unknown); only when it is, and the repository
    exists, does the pull need no import. ``account``: the owner for ARNs of registries
    without an account in the host (ECR Public).
    """
    if operation not in OPERATIONS:
        raise UsageError(f"operation must be push or pull, not {operation!r}")
    arn = repository_arn(registry, repository, account)
    out: list[RequiredAction] = []
    if registry.public:
        if operation == "pull":
            return []  # ECR Public pulls are anonymous
        out += [
            RequiredAction(a, "*", "docker login to ECR Public (bearer token)")
            for a in PUBLIC_TOKEN_ACTIONS
        ]
        out += [
            RequiredAction(a, arn, f"{operation} layers and manifest") for a in PUBLIC_PUSH_ACTIONS
        ]
        return out
    out.append(RequiredAction(GET_AUTHORIZATION_TOKEN, "*", "docker login (registry token)"))
    why = {
        "ecr:BatchGetImage": "read the image manifest",
        "ecr:GetDownloadUrlForLayer": "download layers",
        "ecr:BatchCheckLayerAvailability": "check which layers the registry has",
        "ecr:InitiateLayerUpload": "start a layer upload",
        "ecr:UploadLayerPart": "upload layer data",
        "ecr:CompleteLayerUpload": "finish a layer upload",
        "ecr:PutImage": "write the image manifest (tag)",
    }
    for action in PULL_ACTIONS if operation == "pull" else PUSH_ACTIONS:
        out.append(RequiredAction(action, arn, why[action]))
    if operation == "push" and create_repo and repository_exists is not True:
        out.append(RequiredAction(CREATE_REPOSITORY, arn, "create the missing repository"))
    if operation == "pull" and pull_through:
        if repository_exists is True and image_cached is True:
            return out  # served from the cache repository: nothing is imported
        out.append(
            RequiredAction(
                BATCH_IMPORT_UPSTREAM,
                arn,
                f"import the image from the upstream of cache prefix {pull_through!r}",
            )
        )
        if repository_exists is not True:
            out.append(
                RequiredAction(
                    CREATE_REPOSITORY, arn, "the cache creates the repository on first pull"
                )
            )
    return out
