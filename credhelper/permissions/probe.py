"""Side-effect-free ECR calls whose *authorization* outcome answers "may I?".

AWS authorizes a request before it looks at its arguments' meaning, so a call that is
certain to fail *after* authorization (an unknown upload id, a digest nobody pushed) tells
whether the caller is allowed without changing anything. A probe's answer reflects every
policy AWS applies — identity, resource, permissions boundary, session policy, SCPs and VPC
endpoint policies — so it outranks simulation and local evaluation.

Outcome of each probe:

* ``allowed``: the call succeeded, or failed with an error that only an authorized caller can
  get (``UploadNotFoundException``, ``LayersNotFoundException``, ``RepositoryNotFoundException``
  ...).
* ``denied``: AccessDenied — real ECR's JSON ``AccessDeniedException`` or moto's XML 403
  (``tokens.is_access_denied``).
* ``inconclusive``: anything else (a 500 — moto does not implement GetDownloadUrlForLayer —,
  throttling, a timeout, an unexpected validation error).
* ``not_run``: no safe probe exists for the action (see below), or probing was not chosen.

Actions deliberately *never* probed:

* ``ecr:InitiateLayerUpload`` — creates an upload session on success. ECR expires unfinished
  uploads, but ecrpy promises never to create anything.
* ``ecr:PutImage`` — writes a manifest/tag when authorized; moto even creates the image when
  the layers are missing. Too risky on real ECR, not side-effect free on moto.
* ``ecr:CreateRepository`` and ``ecr:BatchImportUpstreamImage`` — create repositories/images.

Probe clients must not retry (a 500 retried with back-off would cost seconds and tell
nothing more): build them with ``total_max_attempts`` 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..tokens import is_access_denied
from .gather import error_code

Outcome = Literal["allowed", "denied", "inconclusive", "not_run"]

# Syntactically valid identifiers nobody uses: an all-zero sha256 digest (the hash of no
# real layer) and the nil UUID (ECR upload ids are UUIDs).
FAKE_DIGEST = "sha256:" + "0" * 64
FAKE_UPLOAD_ID = "00000000-0000-0000-0000-000000000000"

NOT_PROBED = {
    "ecr:InitiateLayerUpload": "not probed: a successful call creates an upload session",
    "ecr:PutImage": "not probed: a successful call writes a manifest (moto even creates the "
    "image without its layers)",
    "ecr:CreateRepository": "not probed: a successful call creates the repository",
    "ecr:BatchImportUpstreamImage": "not probed: a successful call imports an image",
}


@dataclass(frozen=True)
class ProbeResult:
    """One probe: the ``call`` made and its ``outcome``, with the error code in ``detail``."""

    action: str
    outcome: Outcome
    detail: str
    call: str | None = None


def _classify(
    action: str, call: str, fn: Callable[[], Any], authorized_codes: frozenset[str]
) -> ProbeResult:
    try:
        fn()
    except Exception as exc:
        if is_access_denied(exc):
            return ProbeResult(action, "denied", f"{call}: AccessDenied", call)
        code = error_code(exc)
        if code in authorized_codes:
            return ProbeResult(action, "allowed", f"{call}: authorized ({code})", call)
        return ProbeResult(action, "inconclusive", f"{call}: {code}", call)
    return ProbeResult(action, "allowed", f"{call}: succeeded", call)


_REPO_MISSING = "RepositoryNotFoundException"


class Prober:
    """Runs probes against one repository with a non-retrying ECR client."""

    def __init__(
        self,
        ecr: Any,
        repository: str,
        registry_id: str | None,
        tag: str | None,
        digest: str | None,
    ) -> None:
        self.ecr = ecr
        self.repository = repository
        self.registry_id = registry_id
        self.tag = tag
        self.digest = digest

    def _kw(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"repositoryName": self.repository}
        if self.registry_id:
            kw["registryId"] = self.registry_id
        return kw

    def get_authorization_token(self) -> ProbeResult:
        """``GetAuthorizationToken``: read-only; it issues a token (what docker login does)
        and stores nothing on the AWS side."""
        kw = {"registryIds": [self.registry_id]} if self.registry_id else {}
        return _classify(
            "ecr:GetAuthorizationToken",
            "GetAuthorizationToken",
            lambda: self.ecr.get_authorization_token(**kw),
            frozenset(),
        )

    def batch_get_image(self) -> ProbeResult:
        """``BatchGetImage`` for the tag/digest: read-only; a missing image is reported in
        ``failures``, not as an error."""
        image_id = {"imageDigest": self.digest} if self.digest else {"imageTag": self.tag}
        return _classify(
            "ecr:BatchGetImage",
            "BatchGetImage",
            lambda: self.ecr.batch_get_image(**self._kw(), imageIds=[image_id]),
            frozenset({_REPO_MISSING, "ImageNotFoundException"}),
        )

    def batch_check_layer_availability(self) -> ProbeResult:
        """``BatchCheckLayerAvailability`` with an all-zero sha256 digest: read-only; the
        unknown layer comes back as a ``MissingLayerDigest`` failure."""
        return _classify(
            "ecr:BatchCheckLayerAvailability",
            "BatchCheckLayerAvailability",
            lambda: self.ecr.batch_check_layer_availability(
                **self._kw(), layerDigests=[FAKE_DIGEST]
            ),
            frozenset({_REPO_MISSING}),
        )

    def get_download_url_for_layer(self) -> ProbeResult:
        """``GetDownloadUrlForLayer`` with the fake digest: read-only; authorized callers get
        ``LayersNotFoundException``/``LayerInaccessibleException`` (no URL for a layer that
        does not exist). moto answers 500 (not implemented): inconclusive."""
        return _classify(
            "ecr:GetDownloadUrlForLayer",
            "GetDownloadUrlForLayer",
            lambda: self.ecr.get_download_url_for_layer(**self._kw(), layerDigest=FAKE_DIGEST),
            frozenset({_REPO_MISSING, "LayersNotFoundException", "LayerInaccessibleException"}),
        )

    def upload_layer_part(self) -> ProbeResult:
        """``UploadLayerPart`` for the nil-UUID upload id: no such upload exists, so an
        authorized caller gets ``UploadNotFoundException`` and nothing is stored (a part can
        only be attached to an upload InitiateLayerUpload created)."""
        return _classify(
            "ecr:UploadLayerPart",
            "UploadLayerPart",
            lambda: self.ecr.upload_layer_part(
                **self._kw(),
                uploadId=FAKE_UPLOAD_ID,
                partFirstByte=0,
                partLastByte=0,
                layerPartBlob=b"\0",
            ),
            frozenset({_REPO_MISSING, "UploadNotFoundException"}),
        )

    def complete_layer_upload(self) -> ProbeResult:
        """``CompleteLayerUpload`` for the nil-UUID upload id and the fake digest: no such
        upload, so an authorized caller gets ``UploadNotFoundException``; no layer can be
        created without an upload's data."""
        return _classify(
            "ecr:CompleteLayerUpload",
            "CompleteLayerUpload",
            lambda: self.ecr.complete_layer_upload(
                **self._kw(), uploadId=FAKE_UPLOAD_ID, layerDigests=[FAKE_DIGEST]
            ),
            frozenset({_REPO_MISSING, "UploadNotFoundException"}),
        )

    def for_action(self, action: str) -> Callable[[], ProbeResult] | None:
        """The probe for ``action``, or None when it has none (see ``NOT_PROBED``)."""
        return {
            "ecr:GetAuthorizationToken": self.get_authorization_token,
            "ecr:BatchGetImage": self.batch_get_image,
            "ecr:BatchCheckLayerAvailability": self.batch_check_layer_availability,
            "ecr:GetDownloadUrlForLayer": self.get_download_url_for_layer,
            "ecr:UploadLayerPart": self.upload_layer_part,
            "ecr:CompleteLayerUpload": self.complete_layer_upload,
        }.get(action)


def not_probed(action: str) -> ProbeResult:
    """The ``not_run`` result for an action without a safe probe."""
    return ProbeResult(action, "not_run", NOT_PROBED.get(action, "no safe probe exists"))
