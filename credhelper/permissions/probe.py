"""ECR calls whose *authorization* outcome answers "may I?" and that change nothing.

AWS authorizes a request before it looks at its arguments' meaning (an unauthorized caller gets
AccessDenied before learning whether anything exists), so a call that is certain to fail
*after* authorization (an unknown upload id, a digest nobody pushed) tells whether the caller is
allowed without changing anything. A probe's answer reflects every policy AWS applies —
identity, resource, permissions boundary, session policy, SCPs, RCPs and VPC endpoint
policies — so it outranks simulation and local evaluation. AWS's AccessDenied message names
the policy type that decided (``permissions.denial``); the probe keeps it.

Outcome of each probe:

* ``allowed``: the call succeeded, or failed with an error that only an authorized caller can
  get (``UploadNotFoundException``, ``LayersNotFoundException``, ``RepositoryNotFoundException``
  ...).
* ``denied``: AccessDenied — ECR's JSON ``AccessDeniedException`` or an XML 403
  (``aws_errors.is_access_denied``).
* ``inconclusive``: anything else (a 500, throttling, a timeout, an unexpected validation
  error).
* ``not_run``: no safe probe exists for the action, or probing was not chosen.

The two push probes that reach further:

* ``ecr:InitiateLayerUpload`` is probed by calling it: ECR opens an upload session and returns
  its id. The probe never uploads a part or completes it; ECR discards unfinished uploads
  (an upload id is only good for the parts and completion of that upload), no layer and no
  image appears in the repository, and nothing is listed or billed.
* ``ecr:PutImage`` is probed with a manifest that can never be stored: its config and its one
  layer are the all-zero sha256 digest (``FAKE_DIGEST``), which is the hash of no known data,
  so no blob with that digest can exist in any repository. ECR checks that a manifest's blobs
  exist before it stores it: an authorized caller gets ``LayersNotFoundException`` and an
  unauthorized one AccessDenied. No tag is sent, so even a registry that wrongly accepted the
  manifest would only hold an untagged manifest.

Both run only once another probe showed that the repository exists (its authorized answer
was not ``RepositoryNotFoundException``): a push to a missing repository can create it where
a repository creation template applies to create-on-push, and a probe must never be that push.

Never probed: ``ecr:CreateRepository`` and ``ecr:BatchImportUpstreamImage`` (they create
repositories and images).

Probe clients must not retry (a 500 retried with back-off would cost seconds and tell
nothing more): build them with ``total_max_attempts`` 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..aws_errors import error_code, error_details, is_access_denied
from .denial import Denial, parse

Outcome = Literal["allowed", "denied", "inconclusive", "not_run"]

# Syntactically valid identifiers nobody uses: an all-zero sha256 digest (the hash of no
# real layer) and the nil UUID (ECR upload ids are UUIDs).
FAKE_DIGEST = "sha256:" + "0" * 64
FAKE_UPLOAD_ID = "00000000-0000-0000-0000-000000000000"

PROBE_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
# Compact JSON, no tag: see the module doc. Checked by tests to name only FAKE_DIGEST.
PROBE_MANIFEST = (
    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    '"config":{"mediaType":"application/vnd.oci.image.config.v1+json",'
    f'"digest":"{FAKE_DIGEST}","size":2}},'
    '"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",'
    f'"digest":"{FAKE_DIGEST}","size":32}}]}}'
)
UPLOAD_PROBE_NOTE = (
    "the upload session it opened is never used or completed; ECR discards unfinished "
    "uploads and nothing appears in the repository"
)
# Probes that may only run where the repository is known to exist (module doc), and the
# read-only probe whose authorized answer shows that it does.
NEED_REPOSITORY = ("ecr:InitiateLayerUpload", "ecr:PutImage")
REPOSITORY_GATE = "ecr:BatchCheckLayerAvailability"

NOT_PROBED = {
    "ecr:InitiateLayerUpload": "not probed: the repository was not shown to exist (a push "
    "to a missing repository may create it)",
    "ecr:PutImage": "not probed: the repository was not shown to exist (a push to a missing "
    "repository may create it)",
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
    # Which policy type AWS's AccessDenied message named (``permissions.denial``).
    denial: Denial | None = None
    # Authorized, and the answer was RepositoryNotFoundException.
    repository_missing: bool = False
    # BatchGetImage only: whether the tag/digest exists (None: not known).
    image_found: bool | None = None


def _classify(
    action: str,
    call: str,
    fn: Callable[[], Any],
    authorized_codes: frozenset[str],
    note: str = "",
    success_note: str | None = None,
) -> ProbeResult:
    try:
        fn()
    except Exception as exc:
        if is_access_denied(exc):
            denial = parse(error_details(exc)[1])
            why = denial.describe()
            detail = f"{call}: AccessDenied" + (f" ({why})" if why else "")
            return ProbeResult(action, "denied", detail, call, denial)
        code = error_code(exc)
        if code in authorized_codes:
            return ProbeResult(
                action,
                "allowed",
                f"{call}: authorized ({code})" + (f"; {note}" if note else ""),
                call,
                repository_missing=code == _REPO_MISSING,
            )
        return ProbeResult(action, "inconclusive", f"{call}: {code}", call)
    after = note if success_note is None else success_note
    return ProbeResult(
        action, "allowed", f"{call}: succeeded" + (f"; {after}" if after else ""), call
    )


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
        found: list[bool] = []

        def call() -> None:
            resp = self.ecr.batch_get_image(**self._kw(), imageIds=[image_id])
            found.append(bool(resp.get("images")))

        result = _classify(
            "ecr:BatchGetImage",
            "BatchGetImage",
            call,
            frozenset({_REPO_MISSING, "ImageNotFoundException"}),
        )
        if found:
            return replace(result, image_found=found[0])
        if "ImageNotFoundException" in result.detail:
            return replace(result, image_found=False)
        return result

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
        does not exist). A 500 is inconclusive."""
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

    def initiate_layer_upload(self) -> ProbeResult:
        """``InitiateLayerUpload``: opens an upload session that is never used (module doc)."""
        return _classify(
            "ecr:InitiateLayerUpload",
            "InitiateLayerUpload",
            lambda: self.ecr.initiate_layer_upload(**self._kw()),
            frozenset({_REPO_MISSING}),
            note=UPLOAD_PROBE_NOTE,
        )

    def put_image(self) -> ProbeResult:
        """``PutImage`` of ``PROBE_MANIFEST`` without a tag: its blobs cannot exist, so an
        authorized caller gets ``LayersNotFoundException`` and nothing is stored."""
        return _classify(
            "ecr:PutImage",
            "PutImage",
            lambda: self.ecr.put_image(
                **self._kw(),
                imageManifest=PROBE_MANIFEST,
                imageManifestMediaType=PROBE_MANIFEST_MEDIA_TYPE,
            ),
            frozenset(
                {_REPO_MISSING, "LayersNotFoundException", "ReferencedImagesNotFoundException"}
            ),
            note="a manifest whose blobs cannot exist (all-zero sha256) was refused; "
            "nothing was stored",
            success_note="the registry accepted a manifest whose blobs cannot exist (ECR "
            "refuses it); an untagged manifest may remain",
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
            "ecr:InitiateLayerUpload": self.initiate_layer_upload,
            "ecr:PutImage": self.put_image,
        }.get(action)


def not_probed(action: str) -> ProbeResult:
    """The ``not_run`` result for an action without a safe probe."""
    return ProbeResult(action, "not_run", NOT_PROBED.get(action, "no safe probe exists"))
