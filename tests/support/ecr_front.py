"""A WSGI layer in front of moto that answers the ECR calls ecrpy's probes make as the Amazon
ECR API reference documents them, while moto still decides every authorization.

moto is unlike ECR in three places a probe depends on (checked on moto 5.2.5):

* **PutImage** of a manifest whose blobs were never uploaded: moto stores the image; ECR
  refuses it with ``LayersNotFoundException`` ("The specified layers could not be found, or the
  specified layer is not valid for this repository", ECR API reference, PutImage, Errors). The
  front forwards the request unchanged (moto checks the signature and the caller's policies
  and answers AccessDenied to an unauthorized caller), and when moto accepted a manifest whose
  blobs do not exist in its repository it puts the repository's images back exactly as they
  were and answers ``LayersNotFoundException``. A PutImage to a repository that does not exist
  makes moto raise a bare exception (HTTP 500); ECR answers ``RepositoryNotFoundException``.
  An invalid-JSON manifest: moto 500, ECR ``InvalidParameterException``.
* **GetDownloadUrlForLayer**: not implemented in moto (HTTP 500 after the authorization
  check). ECR answers ``LayersNotFoundException`` for a layer the repository does not have
  (ECR API reference, GetDownloadUrlForLayer, Errors) and ``RepositoryNotFoundException`` for a
  missing repository; for a layer it has, a pre-signed URL (the front returns a URL on itself
  that serves nothing: no test downloads through it).
* **AccessDenied**: moto answers an XML 403 naming no policy type; since 2021 AWS's message says
  which policy type decided ("with an explicit deny in a service control policy", "because no
  identity-based policy allows the ecr:X action"; IAM User Guide, troubleshoot_access-denied,
  "Access denied error message examples"). moto has no SCPs, RCPs, VPC endpoint policies or
  session-policy enforcement, so a test makes the front deny an operation the way such a policy
  would (``deny``), with AWS's wording and ECR's JSON ``AccessDeniedException``.

KMS, as the ECR User Guide ("Encryption at rest") and the KMS API reference describe it:

* **CreateRepository** with ``KMS`` encryption: ECR describes the key (a key that is not
  ``Enabled`` fails the call with ``KmsException``) and creates its grants on it, with ECR as
  grantee and retiring principal and the repository's ARN in the encryption context; moto
  neither checks the key nor creates grants, so the front does both around moto's answer.
* **DryRun** on CreateGrant/RetireGrant: KMS answers ``DryRunOperationException`` when the
  call would succeed; moto ignores DryRun and acts. The front lets moto authorize, undoes a
  grant moto created and answers as KMS does.

moto has no repository creation templates either: DescribeRepositoryCreationTemplates answers
what a test set with ``set_creation_templates`` (after moto's authorization check).

Pull-through cache rules (ECR API reference: CreatePullThroughCacheRule,
DescribePullThroughCacheRules, DeletePullThroughCacheRule; botocore's ECR model for the shapes):
moto 5.2.5 implements none of the three. Its IAM enforcement still runs first — moto authorizes
``ecr:<Operation>`` from the ``X-Amz-Target`` header for every ECR request, implemented or not,
against the caller's identity policies (resource ``*``) — and only then fails the unknown
operation (HTTP 500). So the front forwards each call, passes moto's AccessDenied through
unchanged, and answers an authorized call from its own rule table, per account and region, in
ECR's shapes and with ECR's errors: ``PullThroughCacheRuleAlreadyExistsException``,
``PullThroughCacheRuleNotFoundException`` (Describe with an ``ecrRepositoryPrefixes`` filter
naming a prefix that has no rule; Delete of an unknown prefix), ``InvalidParameterException``
for a prefix outside ECR's pattern (2-30 characters, ``ROOT`` or lower-case components with an
optional trailing ``/``) and ``maxResults`` outside 1-1000. Describe pages with ``maxResults``
and an opaque ``nextToken``; rules are listed in creation order. The upstream is not contacted
(there is none on loopback) and the credential and role ARNs are stored, not checked.

Registry policy (ECR User Guide, "Private registry permissions": with the default V2 scope
ECR accepts every ECR action in a registry policy; V1 enforced only ``ecr:ReplicateImage``,
``ecr:BatchImportUpstreamImage`` and ``ecr:CreateRepository``): moto implements
Get/Put/DeleteRegistryPolicy but refuses a policy naming any action other than CreateRepository
and ReplicateImage, so a pull-through cache statement (``ecr:BatchImportUpstreamImage``) could
not be stored. When moto authorized PutRegistryPolicy and refused the policy with its
``InvalidParameterException``, the front stores the policy in moto's backend itself if it is
JSON whose every action is an ``ecr:`` action, and answers ECR's ``{registryId, policyText}``;
GetRegistryPolicy is then moto's own.

The ECR-faithful answers are off until ``set_faithful(True)``: other suites seed moto's ECR with
manifests whose blobs live in a separate docker registry (a shortcut with no ECR equivalent),
which the faithful PutImage would refuse. Injected denials work either way.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921."
KMS_TARGET = "TrentService."
DEFAULT_ACCOUNT = "123456789012"
PTC_OPERATIONS = (
    "CreatePullThroughCacheRule",
    "DescribePullThroughCacheRules",
    "DeletePullThroughCacheRule",
)
# botocore ECR model, PullThroughCacheRuleRepositoryPrefix: min 2, max 30, this pattern.
_PTC_PREFIX_RE = re.compile(
    r"([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*/?|ROOT)"
)

# Short policy-type name -> the words AWS uses (IAM User Guide, access denied examples).
POLICY_WORDS = {
    "scp": "a service control policy",
    "rcp": "a resource control policy",
    "vpce": "a VPC endpoint policy",
    "boundary": "a permissions boundary",
    "session": "a session policy",
    "resource": "a resource-based policy",
    "identity": "an identity-based policy",
}

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Headers = list[tuple[str, str]]


class EcrFront:
    """See the module doc. Thread-safe: werkzeug serves each request on its own thread."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._faithful = False
        self._denials: dict[str, tuple[str, bool]] = {}
        self.refused_manifests = 0  # PutImage answers turned into LayersNotFoundException
        self._templates: list[dict[str, Any]] = []
        # (account, region) -> prefix -> rule, in creation order (see the module doc).
        self._rules: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def set_faithful(self, enabled: bool) -> None:
        with self._lock:
            self._faithful = bool(enabled)

    def deny(self, operation: str, policy_type: str, explicit: bool = True) -> None:
        """Answer ``operation`` (``InitiateLayerUpload``...) with AccessDenied as if
        ``policy_type`` (a key of POLICY_WORDS) decided, explicitly or implicitly."""
        if policy_type not in POLICY_WORDS:
            raise ValueError(f"unknown policy type {policy_type!r}")
        with self._lock:
            self._denials[operation] = (policy_type, explicit)

    def set_creation_templates(self, templates: list[dict[str, Any]]) -> None:
        """What DescribeRepositoryCreationTemplates answers (moto does not implement it)."""
        with self._lock:
            self._templates = [dict(t) for t in templates]

    def clear(self) -> None:
        with self._lock:
            self._templates = []
            self._rules.clear()
            self._denials.clear()
            self._faithful = False
            self.refused_manifests = 0

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET") or ""
        if target in (KMS_TARGET + "CreateGrant", KMS_TARGET + "RetireGrant"):
            return self._kms_dry_run(environ, start_response, target[len(KMS_TARGET) :])
        if not target.startswith(ECR_TARGET):
            return self.app(environ, start_response)
        op = target[len(ECR_TARGET) :]
        with self._lock:
            denial = self._denials.get(op)
            faithful = self._faithful
        if denial is not None:
            return self._denied(environ, start_response, op, *denial)
        if faithful and op == "PutImage":
            return self._put_image(environ, start_response)
        if faithful and op == "GetDownloadUrlForLayer":
            return self._download_url(environ, start_response)
        if op == "CreateRepository":
            return self._create_repository(environ, start_response)
        if op == "DescribeRepositoryCreationTemplates":
            return self._templates_answer(environ, start_response)
        if op in PTC_OPERATIONS:
            return self._pull_through_rule(environ, start_response, op)
        if op == "PutRegistryPolicy":
            return self._put_registry_policy(environ, start_response)
        return self.app(environ, start_response)

    # -- pull-through cache rules and the registry policy (module doc) -------------------------

    def _pull_through_rule(
        self, environ: Environ, start_response: StartResponse, op: str
    ) -> Iterable[bytes]:
        body = _json_body(environ)
        status, headers, raw = _call_buffered(self.app, environ)
        if not status.startswith("500"):
            return _pass(start_response, status, headers, raw)  # AccessDenied, bad signature
        account, region = _account(body), _region(environ)
        with self._lock:
            rules = self._rules.setdefault((account, region), {})
            if op == "CreatePullThroughCacheRule":
                answer = _create_rule(rules, body, account)
            elif op == "DeletePullThroughCacheRule":
                answer = _delete_rule(rules, body, account)
            else:
                answer = _describe_rules(rules, body, account)
        if isinstance(answer, tuple):
            return _error(start_response, *answer)
        data = json.dumps(answer).encode()
        start_response("200 OK", _headers(data))
        return [data]

    def _put_registry_policy(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        body = _json_body(environ)
        status, headers, raw = _call_buffered(self.app, environ)
        refused = status.startswith("400") and b"InvalidParameterException" in raw
        text = str(body.get("policyText") or "")
        if not refused or not _only_ecr_actions(text):
            return _pass(start_response, status, headers, raw)
        account = _caller_account(environ)
        _ecr_backend(account, _region(environ)).registry_policy = text
        data = json.dumps({"registryId": account, "policyText": text}).encode()
        start_response("200 OK", _headers(data))
        return [data]

    def _kms_dry_run(
        self, environ: Environ, start_response: StartResponse, op: str
    ) -> Iterable[bytes]:
        body = _json_body(environ)
        status, headers, raw = _call_buffered(self.app, environ)
        if not body.get("DryRun") or not status.startswith("200"):
            return _pass(start_response, status, headers, raw)
        if op == "CreateGrant":
            grant_id = json.loads(raw or b"{}").get("GrantId")
            backend = _kms_backend(_account(body), _region(environ))
            backend.revoke_grant(str(body.get("KeyId")), str(grant_id))
        return _error(
            start_response,
            "DryRunOperationException",
            "The request would have succeeded, but the DryRun option is set.",
        )

    def _create_repository(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        body = _json_body(environ)
        encryption = body.get("encryptionConfiguration") or {}
        account, region = _account(body), _region(environ)
        backend = _kms_backend(account, region)
        key = None
        if encryption.get("encryptionType") in ("KMS", "KMS_DSSE") and encryption.get("kmsKey"):
            try:
                key = backend.describe_key(str(encryption["kmsKey"]))
            except Exception:
                return _error(start_response, "KmsException", "the KMS key was not found")
            if key.key_state != "Enabled":
                return _error(start_response, "KmsException", f"the KMS key is {key.key_state}")
        status, headers, raw = _call_buffered(self.app, environ)
        if key is not None and status.startswith("200"):
            arn = json.loads(raw)["repository"]["repositoryArn"]
            ecr = f"ecr.{region}.amazonaws.com"
            for name in ("ecr-repository", "ecr-storage"):
                backend.create_grant(
                    key.id,
                    ecr,
                    ["Encrypt", "Decrypt", "GenerateDataKey", "ReEncryptFrom", "ReEncryptTo"],
                    name,
                    {"EncryptionContextSubset": {"aws:ecr:arn": arn}},
                    ecr,
                )
        return _pass(start_response, status, headers, raw)

    def _templates_answer(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """moto authorizes the call, then has no implementation: answer the templates a test
        set, in ECR's shape (ECR API reference, DescribeRepositoryCreationTemplates)."""
        body = _json_body(environ)
        status, headers, raw = _call_buffered(self.app, environ)
        if not status.startswith("500"):
            return _pass(start_response, status, headers, raw)
        with self._lock:
            templates = list(self._templates)
        doc = {"registryId": _account(body), "repositoryCreationTemplates": templates}
        data = json.dumps(doc).encode()
        start_response("200 OK", _headers(data))
        return [data]

    def _denied(
        self,
        environ: Environ,
        start_response: StartResponse,
        op: str,
        policy_type: str,
        explicit: bool,
    ) -> Iterable[bytes]:
        body = _json_body(environ)
        account, region = _account(body), _region(environ)
        resource = f"arn:aws:ecr:{region}:{account}:repository/{body.get('repositoryName', '*')}"
        if op == "GetAuthorizationToken":
            resource = "*"
        words = POLICY_WORDS[policy_type]
        why = (
            f"with an explicit deny in {words}"
            if explicit
            else f"because no {words.split(' ', 1)[1]} allows the ecr:{op} action"
        )
        message = (
            f"User: {_caller_arn(environ, account)} is not authorized to perform: ecr:{op} "
            f"on resource: {resource} {why}"
        )
        return _error(start_response, "AccessDeniedException", message)

    def _put_image(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        body = _json_body(environ)
        name = str(body.get("repositoryName", ""))
        backend = _ecr_backend(_account(body), _region(environ))
        with self._lock:  # one PutImage at a time, so the restore below is exact
            repo = backend.repositories.get(name)
            before = None if repo is None else _snapshot(repo)
            status, headers, raw = _call_buffered(self.app, environ)
            if status.startswith("403"):
                return _pass(start_response, status, headers, raw)
            if repo is None:
                return _error(
                    start_response,
                    "RepositoryNotFoundException",
                    f"The repository with name '{name}' does not exist in the registry with id "
                    f"'{_account(body)}'",
                )
            try:
                manifest = json.loads(str(body.get("imageManifest", "")))
            except ValueError:
                _restore(repo, before)
                return _error(
                    start_response,
                    "InvalidParameterException",
                    "Invalid parameter at 'ImageManifest' failed to satisfy constraint: "
                    "'Invalid JSON syntax'",
                )
            missing = [d for d in _blob_digests(manifest) if d not in repo.layers]
            if not missing:
                return _pass(start_response, status, headers, raw)
            _restore(repo, before)
            self.refused_manifests += 1
        return _error(
            start_response,
            "LayersNotFoundException",
            f"Layers with digests '{missing}' required for pushing image into repository with "
            f"name '{name}' in registry with id '{_account(body)}' do not exist",
        )

    def _download_url(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        body = _json_body(environ)
        status, headers, raw = _call_buffered(self.app, environ)
        if not status.startswith("500"):
            return _pass(start_response, status, headers, raw)
        # moto authorized the call and then failed (not implemented): answer as ECR.
        name = str(body.get("repositoryName", ""))
        digest = str(body.get("layerDigest", ""))
        repo = _ecr_backend(_account(body), _region(environ)).repositories.get(name)
        if repo is None:
            return _error(
                start_response,
                "RepositoryNotFoundException",
                f"The repository with name '{name}' does not exist in the registry with id "
                f"'{_account(body)}'",
            )
        if digest not in repo.layers:
            return _error(
                start_response,
                "LayersNotFoundException",
                f"The specified layer '{digest}' could not be found in repository '{name}'",
            )
        doc = {
            "downloadUrl": f"http://{environ.get('HTTP_HOST')}/__unserved/{digest}",
            "layerDigest": digest,
        }
        data = json.dumps(doc).encode()
        start_response("200 OK", _headers(data))
        return [data]


def _rule_prefix(body: dict[str, Any]) -> tuple[str, str] | str:
    """The request's ``ecrRepositoryPrefix`` or the InvalidParameterException message."""
    prefix = str(body.get("ecrRepositoryPrefix") or "")
    if not 2 <= len(prefix) <= 30 or not _PTC_PREFIX_RE.fullmatch(prefix):
        return (
            "InvalidParameterException",
            f"Invalid parameter at 'ecrRepositoryPrefix' failed to satisfy constraint: "
            f"'{prefix}' must be ROOT or 2-30 characters of lower-case repository name "
            "components",
        )
    return prefix


def _create_rule(
    rules: dict[str, dict[str, Any]], body: dict[str, Any], account: str
) -> dict[str, Any] | tuple[str, str]:
    prefix = _rule_prefix(body)
    if isinstance(prefix, tuple):
        return prefix
    if not body.get("upstreamRegistryUrl"):
        return ("InvalidParameterException", "upstreamRegistryUrl is required")
    if prefix in rules:
        return (
            "PullThroughCacheRuleAlreadyExistsException",
            f"A pull through cache rule with prefix '{prefix}' already exists in the registry "
            f"with id '{account}'",
        )
    rule: dict[str, Any] = {
        "ecrRepositoryPrefix": prefix,
        "upstreamRegistryUrl": str(body["upstreamRegistryUrl"]),
        "createdAt": datetime.now(timezone.utc).timestamp(),
        "registryId": account,
    }
    for key in ("upstreamRegistry", "credentialArn", "customRoleArn", "upstreamRepositoryPrefix"):
        if body.get(key):
            rule[key] = str(body[key])
    rule["updatedAt"] = rule["createdAt"]
    rules[prefix] = rule
    return {k: v for k, v in rule.items() if k != "updatedAt"}


def _delete_rule(
    rules: dict[str, dict[str, Any]], body: dict[str, Any], account: str
) -> dict[str, Any] | tuple[str, str]:
    prefix = _rule_prefix(body)
    if isinstance(prefix, tuple):
        return prefix
    rule = rules.pop(prefix, None)
    if rule is None:
        return _rule_not_found(prefix, account)
    return {k: v for k, v in rule.items() if k not in ("updatedAt", "upstreamRegistry")}


def _describe_rules(
    rules: dict[str, dict[str, Any]], body: dict[str, Any], account: str
) -> dict[str, Any] | tuple[str, str]:
    wanted = body.get("ecrRepositoryPrefixes")
    found = list(rules.values())
    if wanted is not None:
        if not isinstance(wanted, list) or not 1 <= len(wanted) <= 100:
            return ("InvalidParameterException", "ecrRepositoryPrefixes must list 1-100 prefixes")
        for prefix in wanted:
            if str(prefix) not in rules:
                return _rule_not_found(str(prefix), account)
        found = [r for r in found if r["ecrRepositoryPrefix"] in set(map(str, wanted))]
    limit = body.get("maxResults")
    if limit is None:
        limit = 100  # ECR's default page (the API reference: "up to 100 results")
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        return ("InvalidParameterException", "maxResults must be between 1 and 1000")
    start = 0
    if body.get("nextToken"):
        try:
            start = int(base64.b64decode(str(body["nextToken"])).decode())
        except ValueError:
            return ("InvalidParameterException", "Invalid parameter at 'nextToken'")
    page = found[start : start + limit]
    doc: dict[str, Any] = {"pullThroughCacheRules": page}
    if start + limit < len(found):
        doc["nextToken"] = base64.b64encode(str(start + limit).encode()).decode()
    return doc


def _rule_not_found(prefix: str, account: str) -> tuple[str, str]:
    return (
        "PullThroughCacheRuleNotFoundException",
        f"The pull through cache rule with prefix '{prefix}' does not exist in the registry "
        f"with id '{account}'",
    )


def _only_ecr_actions(text: str) -> bool:
    """A registry policy whose statements name only ``ecr:`` actions (V2 scope accepts them)."""
    try:
        doc = json.loads(text)
        statements = doc["Statement"]
    except (ValueError, KeyError, TypeError):
        return False
    if isinstance(statements, dict):
        statements = [statements]
    for stmt in statements:
        actions = stmt.get("Action") if isinstance(stmt, dict) else None
        actions = [actions] if isinstance(actions, str) else actions
        if not actions or not all(isinstance(a, str) and a.startswith("ecr:") for a in actions):
            return False
    return True


def _blob_digests(manifest: Any) -> list[str]:
    """The config and layer digests an image manifest references (an index references images,
    not blobs: none)."""
    if not isinstance(manifest, dict):
        return []
    found: list[str] = []
    config = manifest.get("config")
    if isinstance(config, dict) and config.get("digest"):
        found.append(str(config["digest"]))
    for layer in manifest.get("layers") or []:
        if isinstance(layer, dict) and layer.get("digest"):
            found.append(str(layer["digest"]))
    return list(dict.fromkeys(found))


def _snapshot(repo: Any) -> list[tuple[Any, list[str], Any]]:
    return [(img, list(img.image_tags), img.image_tag) for img in repo.images]


def _restore(repo: Any, before: list[tuple[Any, list[str], Any]] | None) -> None:
    """Put the repository's images back as they were before the forwarded PutImage."""
    if before is None:
        return
    repo.images[:] = [img for img, _tags, _tag in before]
    for img, tags, tag in before:
        img.image_tags = tags
        img.image_tag = tag


def _ecr_backend(account: str, region: str) -> Any:
    from moto.ecr.models import ecr_backends

    return ecr_backends[account][region]


def _kms_backend(account: str, region: str) -> Any:
    from moto.kms.models import kms_backends

    return kms_backends[account][region]


def _caller_account(environ: Environ) -> str:
    """The account whose registry a call without ``registryId`` addresses: the signer's (moto
    keeps every test key in its default account)."""
    del environ
    return DEFAULT_ACCOUNT


def _caller_arn(environ: Environ, account: str) -> str:
    """The ARN of the user or role whose access key signed the request, from moto's IAM."""
    from moto.iam.models import iam_backends

    auth = environ.get("HTTP_AUTHORIZATION") or ""
    key_id = auth.split("Credential=", 1)[-1].split("/", 1)[0] if "Credential=" in auth else ""
    try:
        key = iam_backends[account]["aws"].access_keys.get(key_id)
    except (KeyError, AttributeError):
        key = None
    role_arn = getattr(key, "role_arn", None)
    if role_arn:
        return str(role_arn)
    user = getattr(key, "user_name", None)
    return f"arn:aws:iam::{account}:user/{user or 'unknown'}"


def _json_body(environ: Environ) -> dict[str, Any]:
    from tests.support.aws_server import _drain

    try:
        doc = json.loads(_drain(environ) or b"{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _account(body: dict[str, Any]) -> str:
    return str(body.get("registryId") or DEFAULT_ACCOUNT)


def _region(environ: Environ) -> str:
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) > 2:
            return scope[2]
    return "us-east-1"


def _headers(body: bytes) -> Headers:
    return [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))]


def _error(start_response: StartResponse, code: str, message: str) -> list[bytes]:
    """ECR's JSON error shape (HTTP 400, ``__type`` + ``message``)."""
    body = json.dumps({"__type": code, "message": message}).encode()
    start_response("400 Bad Request", _headers(body))
    return [body]


def _pass(start_response: StartResponse, status: str, headers: Headers, raw: bytes) -> list[bytes]:
    start_response(status, headers)
    return [raw]


def _call_buffered(app: WsgiApp, environ: Environ) -> tuple[str, Headers, bytes]:
    """moto's answer; an exception moto's Flask app lets escape (not implemented, a bare
    ``Exception``) is what the server would turn into an HTTP 500."""
    from tests.support.aws_server import _call_buffered as call

    try:
        return call(app, environ)
    except Exception:  # any escape is what the server turns into a 500
        body = b"internal error"
        return "500 Internal Server Error", [("Content-Length", str(len(body)))], body
