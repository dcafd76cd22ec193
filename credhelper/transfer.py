"""``ecrpy push`` / ``ecrpy pull``: a docker push or pull that authenticates in-process, checks
permissions first, and reports what happened.

Steps (``run``):

1. ``IMAGE`` is parsed (``registry/repo[:tag|@digest]``, default tag ``latest``); the registry
   must be ECR or an alias in ecrpy's config, else ``UsageError`` (exit 2).
2. The docker engine is found as the docker CLI finds it (``DOCKER_HOST``, else
   ``DOCKER_CONTEXT``, else ``currentContext`` in ``$DOCKER_CONFIG/config.json``; the context's
   endpoint is read from ``$DOCKER_CONFIG/contexts/meta/<sha256 of name>/meta.json``). A push
   needs the image locally; that is checked before anything else.
3. The permission pre-flight ``run_check`` (unless ``--no-check``): ``denied`` stops with exit 3
   before a single byte leaves; ``undetermined`` warns (``--strict``: exit 4).
4. The repository: a push to a missing repository is refused (or the repository is created
   with ``--create-repo``); a push of an existing tag to an IMMUTABLE repository is refused;
   a pull of a tag or digest that does not exist is refused with the nearest tags. These
   refusals exit 3 too: nothing has been transferred.
5. The token comes from ``protocol.token_for`` (the helper's own cache) and goes to the
   engine in the ``X-Registry-Auth`` header of the API request — never on a command line,
   never into ``config.json``.
6. The engine's JSON progress stream is parsed (``StreamParser``) and shown by a renderer from
   ``credhelper.progress``; an ``errorDetail`` in the stream becomes
   ``ecrpy: push failed: <message>`` (exit 1).

Ctrl-C (SIGINT) during the transfer closes the HTTP stream to the engine, which cancels the
engine's push or pull (the engine ties it to the request), and exits 130. What is left:

* **pull**: the local tag is created or moved only by the engine's last step, after every
  layer and the config were downloaded and verified; an interrupted pull leaves the previous
  local image (if any) as it was and no new or half-updated tag. Layers the engine finished
  verifying may stay in its content store as unreferenced cache (the engine reuses or prunes
  them); nothing partial is registered as an image.
* **push**: nothing local changes at all (a push only reads local images) and ecrpy writes no
  file. On the registry, the manifest (which is what makes the tag point somewhere) is put
  only after every layer is uploaded, so an interrupted push never moves or creates the tag;
  layer blobs that completed before the interruption may remain in the repository,
  unreferenced (ECR's lifecycle/garbage collection handles them; a later push skips them).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from .errors import ConfigError, EcrpyError, UsageError

if TYPE_CHECKING:
    from .config import Config
    from .permissions.actions import ImageRef
    from .progress import Renderer
    from .registry import Registry

SCHEMA = "ecrpy.transfer/1"
OPERATIONS = ("push", "pull")
ENGINE_TIMEOUT = 300  # seconds without a byte from the engine before giving up
NEAREST = 5
MAX_TAGS_LISTED = 10_000

# Layer states that end a layer, per direction, and the result they mean.
PUSH_RESULTS = {"Pushed": "pushed", "Layer already exists": "skipped"}
MOUNTED_PREFIX = "Mounted from "
PULL_RESULTS = {"Pull complete": "downloaded", "Already exists": "already_present"}
RESULT_KEYS = ("pushed", "mounted", "skipped", "downloaded", "already_present")
# States whose progressDetail counts bytes crossing the network.
TRANSFER_STATES = frozenset({"Pushing", "Downloading"})
_PUSH_DIGEST_RE = re.compile(r"digest: (sha256:[0-9a-f]{64}) size: (\d+)")


# -- errors ------------------------------------------------------------------------------------
class RefusedError(EcrpyError):
    """Stopped before any transfer: denied by the pre-flight, or sure to fail."""

    exit_code = 3


class UndeterminedError(EcrpyError):
    """``--strict`` and the pre-flight could not decide."""

    exit_code = 4


class EngineError(EcrpyError):
    """The docker engine failed, or could not be reached."""


class _EngineNotFound(EngineError):
    """The engine answered 404 (a pull's manifest or repository is unknown)."""


class InterruptedTransfer(EcrpyError):
    """Ctrl-C during the transfer (exit 130)."""

    exit_code = 130


# -- the engine's JSON stream -------------------------------------------------------------------
@dataclass
class Layer:
    """One layer as the engine reports it (``id`` is the engine's 12-hex short id)."""

    id: str
    status: str = ""
    current: int | None = None  # progress of the current state (for bars)
    total: int | None = None
    bytes: int = 0  # bytes sent (push) or downloaded (pull), as far as the stream told
    result: str | None = None  # one of RESULT_KEYS once the layer is done
    mounted_from: str | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def speed(self) -> float | None:
        """Bytes per second over the transfer, when known."""
        if self.started is None or self.finished is None or not self.bytes:
            return None
        elapsed = self.finished - self.started
        return self.bytes / elapsed if elapsed > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "result": self.result,
            "bytes": self.bytes,
            "mounted_from": self.mounted_from,
        }


@dataclass(frozen=True)
class Change:
    """What one stream event changed. ``kind``: ``status`` (a layer entered a new state),
    ``progress`` (same state, new byte counts), ``message`` (not about a layer), ``error``."""

    kind: str
    layer: Layer | None
    text: str


class StreamParser:
    """Turns the engine's push/pull JSON events into per-layer states and the final facts."""

    def __init__(self, operation: str, clock: Callable[[], float] = time.monotonic) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be push or pull, not {operation!r}")
        self.operation = operation
        self.clock = clock
        self.layers: dict[str, Layer] = {}
        self.digest: str | None = None
        self.manifest_size: int | None = None
        self.up_to_date: bool | None = None
        self.error: str | None = None

    def feed_all(self, events: Iterable[Any]) -> list[Change]:
        changes: list[Change] = []
        for event in events:
            changes.extend(self.feed(event))
        return changes

    def feed(self, event: Any) -> list[Change]:
        """Take one decoded JSON event; return what it changed (possibly nothing)."""
        if not isinstance(event, dict):
            return []
        if event.get("errorDetail") or event.get("error"):
            detail = event.get("errorDetail")
            message = detail.get("message") if isinstance(detail, dict) else None
            text = " ".join(str(message or event.get("error") or "unknown error").split())
            self.error = text
            return [Change("error", None, text)]
        aux = event.get("aux")
        if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
            self.digest = aux["Digest"]
            if isinstance(aux.get("Size"), int):
                self.manifest_size = aux["Size"]
            return [Change("message", None, f"digest: {self.digest}")]
        status = event.get("status")
        if not isinstance(status, str) or not status:
            return []
        layer_id = event.get("id")
        if isinstance(layer_id, str) and layer_id and not status.startswith("Pulling from"):
            return [self._layer_event(layer_id, status, event.get("progressDetail"))]
        return [self._message(status)]

    def _message(self, status: str) -> Change:
        if status.startswith("Digest: "):
            self.digest = status[len("Digest: "):].strip()
        elif status.startswith("Status: Image is up to date"):
            self.up_to_date = True
        elif status.startswith("Status: Downloaded newer image"):
            self.up_to_date = False
        else:
            m = _PUSH_DIGEST_RE.search(status)
            if m and self.digest is None:
                self.digest, self.manifest_size = m.group(1), int(m.group(2))
        return Change("message", None, status)

    def _layer_event(self, layer_id: str, status: str, detail: Any) -> Change:
        layer = self.layers.get(layer_id)
        if layer is None:
            layer = self.layers[layer_id] = Layer(layer_id)
        new_state = status != layer.status
        layer.status = status
        current = total = None
        if isinstance(detail, dict):
            c, t = detail.get("current"), detail.get("total")
            current = c if isinstance(c, int) and c >= 0 else None
            total = t if isinstance(t, int) and t > 0 else None
        if new_state:
            layer.current, layer.total = None, None
        if current is not None:
            layer.current = current
        if total is not None:
            layer.total = total
        if status in TRANSFER_STATES:
            if layer.started is None:
                layer.started = self.clock()
            if current is not None:
                layer.bytes = max(layer.bytes, current)
        result = self._result(status, layer)
        if result is not None and layer.result is None:
            layer.result = result
            layer.finished = self.clock()
        return Change("status" if new_state else "progress", layer, status)

    def _result(self, status: str, layer: Layer) -> str | None:
        if self.operation == "push":
            if status.startswith(MOUNTED_PREFIX):
                layer.mounted_from = status[len(MOUNTED_PREFIX):].strip() or None
                return "mounted"
            return PUSH_RESULTS.get(status)
        return PULL_RESULTS.get(status)

    def counts(self) -> dict[str, int]:
        """``{"total": n, "pushed": n, "mounted": n, "skipped": n, "downloaded": n,
        "already_present": n}`` (every key always present)."""
        out = {"total": len(self.layers)}
        out.update({key: 0 for key in RESULT_KEYS})
        for layer in self.layers.values():
            if layer.result is not None:
                out[layer.result] += 1
        return out

    @property
    def bytes_transferred(self) -> int:
        return sum(layer.bytes for layer in self.layers.values())


def iter_json(chunks: Iterable[bytes]) -> Iterator[Any]:
    """Decode a stream of concatenated JSON values (the engine writes ``{...}\\r\\n``, but
    chunk boundaries fall anywhere). A trailing undecodable fragment is dropped."""
    decoder = json.JSONDecoder()
    buffer = ""
    pending = b""
    for chunk in chunks:
        if not chunk:
            continue
        pending += chunk
        try:
            text = pending.decode("utf-8")
            pending = b""
        except UnicodeDecodeError as exc:
            if exc.start < len(pending) - 4:  # not just a split multi-byte character
                text = pending.decode("utf-8", "replace")
                pending = b""
            else:
                text, pending = pending[: exc.start].decode("utf-8"), pending[exc.start:]
        buffer += text
        while True:
            stripped = buffer.lstrip()
            if not stripped:
                buffer = ""
                break
            try:
                value, end = decoder.raw_decode(stripped)
            except ValueError:
                buffer = stripped
                break
            yield value
            buffer = stripped[end:]


# -- the docker engine --------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """Where the engine is: ``host`` None means the SDK default (``/var/run/docker.sock``)."""

    host: str | None
    source: str
    context: str | None = None
    tls_dir: str | None = None
    skip_tls_verify: bool = False


def _docker_config_dir(env: Mapping[str, str]) -> str:
    return env.get("DOCKER_CONFIG") or os.path.join(
        env.get("HOME") or os.path.expanduser("~"), ".docker"
    )


def docker_endpoint(env: Mapping[str, str] | None = None) -> Endpoint:
    """The engine endpoint by the docker CLI's rules (``DOCKER_HOST`` > ``DOCKER_CONTEXT`` >
    ``currentContext``); raise ``ConfigError`` for a named context that does not exist."""
    import hashlib

    env = os.environ if env is None else env
    if env.get("DOCKER_HOST"):
        return Endpoint(env["DOCKER_HOST"], "DOCKER_HOST")
    config_dir = _docker_config_dir(env)
    name = env.get("DOCKER_CONTEXT") or None
    source = "DOCKER_CONTEXT"
    if name is None:
        path = os.path.join(config_dir, "config.json")
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except FileNotFoundError:
            doc = {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read docker config {path}: {exc}") from None
        current = doc.get("currentContext") if isinstance(doc, dict) else None
        name = current if isinstance(current, str) and current else None
        source = f"currentContext in {path}"
    if name is None or name == "default":
        return Endpoint(None, "default", context=name)
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = os.path.join(config_dir, "contexts", "meta", digest, "meta.json")
    try:
        with open(meta, encoding="utf-8") as f:
            data = json.load(f)
        docker_ep = data["Endpoints"]["docker"]
        host = docker_ep["Host"]
        if not isinstance(host, str) or not host:
            raise TypeError("empty Host")
    except FileNotFoundError:
        raise ConfigError(
            f"docker context {name!r} (from {source}) does not exist",
            hint="list contexts with: docker context ls; or set DOCKER_HOST",
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"docker context {name!r}: cannot read its endpoint from {meta} ({exc})"
        ) from None
    tls_dir = os.path.join(config_dir, "contexts", "tls", digest, "docker")
    return Endpoint(
        host,
        source,
        context=name,
        tls_dir=tls_dir if os.path.isdir(tls_dir) else None,
        skip_tls_verify=bool(docker_ep.get("SkipTLSVerify")),
    )


def docker_client(env: Mapping[str, str] | None = None) -> Any:
    """A ``docker.DockerClient`` for ``docker_endpoint`` (raises ``EngineError`` if the
    engine does not answer)."""
    import docker
    from docker.errors import DockerException

    env = dict(os.environ if env is None else env)
    ep = docker_endpoint(env)
    try:
        if ep.host is None or ep.source == "DOCKER_HOST":
            # from_env also honours DOCKER_TLS_VERIFY / DOCKER_CERT_PATH with DOCKER_HOST.
            return docker.from_env(environment=env, timeout=ENGINE_TIMEOUT)
        tls: Any = False
        if ep.tls_dir is not None:
            from docker.tls import TLSConfig

            def part(name: str) -> str | None:
                path = os.path.join(ep.tls_dir or "", name)
                return path if os.path.exists(path) else None

            cert, key, ca = part("cert.pem"), part("key.pem"), part("ca.pem")
            tls = TLSConfig(
                client_cert=(cert, key) if cert and key else None,
                ca_cert=ca,
                verify=(ca or True) if not ep.skip_tls_verify else False,
            )
        return docker.DockerClient(base_url=ep.host, tls=tls, timeout=ENGINE_TIMEOUT)
    except DockerException as exc:
        where = ep.host or "the default socket (/var/run/docker.sock)"
        ctx = f" (context {ep.context!r})" if ep.context else ""
        raise EngineError(
            f"cannot reach the docker engine at {where}{ctx}: {_short(exc)}",
            hint="start dockerd, or point DOCKER_HOST / docker context at a running engine",
        ) from None


def _short(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc)
    return " ".join(text.split())[:300]


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

    def __init__(self, client: Any, registry: Registry, repository: str,
                 profile: str | None) -> None:
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

        from .tokens import _error_code, translate

        if not isinstance(exc, ClientError):
            return translate(exc, self.registry, self.profile)
        code, message = _error_code(exc)
        inner = re.search(r"<Code>([^<]+)</Code>", message) if code == "403" else None
        if inner:  # moto answers ECR with an XML 403 carrying the real code inside
            code = inner.group(1)
            found = re.search(r"<Message>([^<]*)</Message>", message)
            message = found.group(1) if found else ""
            exc.response["Error"]["Code"] = code
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired",
                    "InvalidClientTokenId", "UnrecognizedClientException",
                    "SignatureDoesNotMatch", "InvalidSignatureException"):
            return translate(exc, self.registry, self.profile)
        message = " ".join(message.split())[:200]
        return EcrpyError(f"ECR {call} failed ({code}{': ' + message if message else ''})")

    def describe(self) -> dict[str, Any] | None:
        """The repository (``describe_repositories``), None when it does not exist; raises
        ``PermissionError`` when the caller may not read it."""
        from .tokens import is_access_denied

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
        from .tokens import is_access_denied

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
        from .tokens import is_access_denied

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
        from .tokens import is_access_denied

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
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


# -- the whole command ---------------------------------------------------------------------------
@dataclass
class Options:
    operation: str
    image: str
    check: bool = True
    strict: bool = False
    create_repo: bool = False
    immutable: bool = False
    scan_on_push: bool = False
    kms_key: str | None = None
    quiet: bool = False
    json: bool = False


@dataclass
class TransferResult:
    """What the transfer did; ``as_dict`` is the ``--json`` document
    (docs/transfer-json-schema.md)."""

    operation: str
    ref: ImageRef
    digest: str | None
    size: int | None
    manifest_size: int | None
    parser: StreamParser
    preflight: dict[str, Any] | None
    repository_created: bool
    duration: float
    transfer_duration: float
    up_to_date: bool | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        ref = self.ref
        return {
            "schema": SCHEMA,
            "operation": self.operation,
            "image": str(ref),
            "registry": ref.registry,
            "repository": ref.repository,
            "tag": ref.tag,
            "digest": self.digest,
            "size": self.size,
            "manifest_size": self.manifest_size,
            "bytes_transferred": self.parser.bytes_transferred,
            "layers": self.parser.counts(),
            "layer_details": [layer.as_dict() for layer in self.parser.layers.values()],
            "up_to_date": self.up_to_date,
            "repository_created": self.repository_created,
            "preflight": self.preflight,
            "duration_seconds": round(self.duration, 3),
            "transfer_seconds": round(self.transfer_duration, 3),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def summary(self) -> str:
        """One human line: what moved, the digest, how long."""
        c = self.parser.counts()
        from .progress import human_size

        if self.operation == "push":
            parts = f"{c['pushed']} pushed, {c['mounted']} mounted, {c['skipped']} already there"
            verb = "pushed"
        else:
            parts = f"{c['downloaded']} downloaded, {c['already_present']} already present"
            verb = "pulled" if not self.up_to_date else "up to date:"
        return (
            f"{verb} {self.ref.registry}/{self.ref.repository}"
            f"{':' + self.ref.tag if self.ref.tag and not self.ref.digest else ''}"
            f"@{self.digest or '?'} ({c['total']} layers: {parts}; "
            f"{human_size(self.parser.bytes_transferred)} in {self.duration:.1f}s)"
        )


def _registry_for(ref: ImageRef, config: Config) -> Registry:
    from . import registry as registry_mod

    return registry_mod.require(ref.registry, config)


def run(
    opts: Options,
    progress: IO[str],
    warn: Callable[[str], None],
    env: Mapping[str, str] | None = None,
    renderer: Renderer | None = None,
) -> TransferResult:
    """Do the whole push or pull; see the module doc. Raises ``EcrpyError`` subclasses."""
    from . import config as config_mod
    from .permissions.actions import parse_image

    started = time.monotonic()
    if opts.operation not in OPERATIONS:
        raise UsageError(f"operation must be push or pull, not {opts.operation!r}")
    ref = parse_image(opts.image)
    if opts.operation == "push" and ref.digest:
        raise UsageError(
            f"cannot push by digest ({ref.digest})",
            hint="push a tag: REGISTRY/REPOSITORY:TAG",
        )
    config = config_mod.load()
    reg = _registry_for(ref, config)
    settings = config.for_host(reg.host)
    profile = settings.profile if settings else None
    role_arn = settings.role_arn if settings else None
    name = f"{ref.registry}/{ref.repository}"

    client = docker_client(env)
    api = client.api
    local_size: int | None = None
    if opts.operation == "push":
        local_size = _local_size(api, f"{name}:{ref.tag}")
        if local_size is None:
            raise EcrpyError(
                f"no local image {name}:{ref.tag} in the docker engine",
                hint=f"build or tag it first (docker tag SOURCE {name}:{ref.tag})",
            )

    preflight: dict[str, Any] | None = None
    facts: Any = None
    repository_created = False
    with _expired_credentials(profile):
        if opts.check:
            facts, preflight = _preflight(opts, ref, warn)
        if not reg.public:
            repository_created = _repository_step(opts, ref, reg, profile, role_arn, facts,
                                                  warn)
        auth = _auth_config(reg, config, opts.operation)
    parser = StreamParser(opts.operation)
    if renderer is None:
        from .progress import make_renderer

        renderer = make_renderer(progress, quiet=opts.quiet)
    transfer_started = time.monotonic()
    try:
        _stream(api, opts.operation, name, ref, auth, parser, renderer)
    except _EngineNotFound as exc:
        if opts.operation != "pull" or reg.public:
            raise
        # Nothing was downloaded (the manifest is the first thing fetched): say why, with
        # ECR's list of what does exist. Asked only now, so a good pull pays for no lookup.
        try:
            _explain_missing(ref, reg, profile, role_arn)
        except RefusedError:
            raise
        except (EcrpyError, RuntimeError):
            pass  # ECR cannot tell either: the engine's own message stands
        raise exc from None
    finally:
        renderer.close()
    transfer_duration = time.monotonic() - transfer_started
    if parser.error is not None:
        raise EngineError(f"{opts.operation} failed: {parser.error}")
    size = local_size
    if opts.operation == "pull":
        local_ref = f"{name}@{ref.digest}" if ref.digest else f"{name}:{ref.tag}"
        size = _local_size(api, local_ref)
    return TransferResult(
        operation=opts.operation,
        ref=ref,
        digest=parser.digest or ref.digest,
        size=size,
        manifest_size=parser.manifest_size,
        parser=parser,
        preflight=preflight,
        repository_created=repository_created,
        duration=time.monotonic() - started,
        transfer_duration=transfer_duration,
        up_to_date=parser.up_to_date if opts.operation == "pull" else None,
    )


@contextmanager
def _expired_credentials(profile: str | None) -> Iterator[None]:
    """botocore raises a bare ``RuntimeError`` for credentials that are still expired after a
    refresh (``AWS_CREDENTIAL_EXPIRATION`` in the past, a stale credential_process answer);
    ``identity.session`` lets it through, so it is translated here."""
    from .errors import CredentialsError

    try:
        yield
    except RuntimeError as exc:
        if "expired" not in str(exc):
            raise
        who = f"profile '{profile}'" if profile else "the default AWS identity"
        raise CredentialsError(
            f"the AWS credentials of {who} have expired",
            hint="refresh them (aws sso login, or re-export the session and its "
            "AWS_CREDENTIAL_EXPIRATION)",
        ) from None


def _local_size(api: Any, reference: str) -> int | None:
    from docker.errors import APIError, ImageNotFound

    try:
        info = api.inspect_image(reference)
    except ImageNotFound:
        return None
    except APIError as exc:
        raise EngineError(f"docker engine: {_short(exc)}") from None
    size = info.get("Size") if isinstance(info, dict) else None
    return size if isinstance(size, int) else None


def _preflight(
    opts: Options, ref: ImageRef, warn: Callable[[str], None]
) -> tuple[Any, dict[str, Any]]:
    import sys

    from .cli.check import run_check

    result = run_check(opts.image, opts.operation, create_repo=opts.create_repo)
    preflight = {"verdict": result.verdict, "elapsed_seconds": round(result.elapsed, 3)}
    if result.verdict == "denied":
        sys.stderr.write(result.render() + "\n")
        problems = list(getattr(result, "problems", []) or [])
        cause = problems[0] if problems else "the identity lacks a required permission"
        raise RefusedError(
            f"{opts.operation} of {ref} refused by the pre-flight check: {cause}",
            hint="nothing was sent; see the fix above (or: ecrpy check "
            f"{opts.operation} {ref})",
        )
    if result.verdict == "undetermined":
        if opts.strict:
            sys.stderr.write(result.render() + "\n")
            raise UndeterminedError(
                f"the pre-flight check could not decide whether {opts.operation} of {ref} "
                "is allowed (--strict)",
                hint="nothing was sent; drop --strict to try anyway",
            )
        warn(
            f"the pre-flight check could not confirm that {opts.operation} of {ref} is "
            f"allowed (undetermined); trying anyway (details: ecrpy check {opts.operation} "
            f"{ref}; --strict stops here)"
        )
    return result.gathered.repository, preflight


def _repository_step(
    opts: Options,
    ref: ImageRef,
    reg: Registry,
    profile: str | None,
    role_arn: str | None,
    facts: Any,
    warn: Callable[[str], None],
) -> bool:
    """Refuse a push that is sure to fail; create the repository if asked. True if created.

    A pull is not looked up beforehand: a missing tag or repository makes the engine answer
    404 before any layer moves, and ``_explain_missing`` then asks ECR why."""
    if opts.operation == "pull":
        return False
    exists = getattr(facts, "exists", None)
    mutability = getattr(facts, "tag_mutability", None)
    tag_exists = getattr(facts, "tag_exists", None)
    needs_calls = (
        exists is not True
        or (str(mutability or "").startswith("IMMUTABLE") and tag_exists is None)
        or (mutability is None)
    )
    if not needs_calls:
        if str(mutability or "").startswith("IMMUTABLE") and tag_exists:
            raise _immutable(ref)
        return False
    ecr = _ecr(reg, ref, profile, role_arn)
    if exists is not True or mutability is None:
        try:
            repo = ecr.describe()
        except PermissionError:
            warn(f"cannot read repository {ref.repository} (ecr:DescribeRepositories denied); "
                 "going on")
            return False
        exists = repo is not None
        if repo is not None:
            mutability = repo.get("imageTagMutability")
    if not exists:
        if opts.operation == "push" and opts.create_repo:
            ecr.create(opts.immutable, opts.scan_on_push, opts.kms_key)
            return True
        raise RefusedError(
            f"repository {ref.repository} does not exist in {ecr.where}",
            hint="create it (aws ecr create-repository --repository-name "
            f"{ref.repository} --region {reg.region}) or use --create-repo",
        )
    if str(mutability or "").startswith("IMMUTABLE"):
        if tag_exists is None:
            tag_exists = ecr.image_exists(ref.tag, None)
        if tag_exists:
            raise _immutable(ref)
    return False


def _explain_missing(ref: ImageRef, reg: Registry, profile: str | None,
                     role_arn: str | None) -> None:
    """After the engine's 404 on a pull: raise ``RefusedError`` naming what is missing, with
    the nearest tags; return (the engine's error stands) when ECR cannot tell."""
    ecr = _ecr(reg, ref, profile, role_arn)
    try:
        repo = ecr.describe()
    except PermissionError:
        repo = {}  # unknown: go on to the image lookup
    if repo is None:
        raise RefusedError(f"repository {ref.repository} does not exist in {ecr.where}",
                           hint="check the name and the registry")
    if ecr.image_exists(ref.tag, ref.digest) is not False:
        return
    what = f"digest {ref.digest}" if ref.digest else f"tag {ref.tag}"
    tags = ecr.tags()
    if tags is None:
        hint = "list the tags with: aws ecr list-images --repository-name " + ref.repository
    elif not tags:
        hint = "the repository has no tags"
    else:
        near = nearest_tags(ref.tag or "", tags) if not ref.digest else sorted(tags)[:NEAREST]
        hint = "nearest tags: " + ", ".join(near)
    raise RefusedError(f"{what} not found in repository {ref.repository}; nothing was "
                       "downloaded", hint=hint)


def _immutable(ref: ImageRef) -> RefusedError:
    return RefusedError(
        f"tag {ref.tag} already exists in the IMMUTABLE repository {ref.repository}; ECR "
        "would reject the push (ImageTagAlreadyExistsException)",
        hint="nothing was sent; push a new tag",
    )


def _ecr(reg: Registry, ref: ImageRef, profile: str | None, role_arn: str | None) -> Ecr:
    from . import identity, tokens

    try:
        # botocore, not boto3: importing boto3 costs ~45 ms (s3transfer, multiprocessing)
        session = identity.botocore_session(profile=profile, role_arn=role_arn, region=reg.region)
        client = session.create_client("ecr", region_name=reg.region,
                                config=tokens.client_config(reg))
    except EcrpyError:
        raise
    except Exception as exc:
        raise tokens.translate(exc, reg, profile) from None
    return Ecr(client, reg, ref.repository, profile)


def _auth_config(reg: Registry, config: Config, operation: str) -> dict[str, str] | None:
    """The engine's auth for this registry (None: anonymous ECR Public pull)."""
    if reg.public and operation == "pull":
        return None
    from .protocol import token_for

    entry = token_for(reg, config)
    return {"username": entry.username, "password": entry.token, "serveraddress": reg.host}


def _stream(
    api: Any,
    operation: str,
    name: str,
    ref: ImageRef,
    auth: dict[str, str] | None,
    parser: StreamParser,
    renderer: Renderer,
) -> None:
    """POST the push/pull to the engine and feed its stream to ``parser`` and ``renderer``."""
    from urllib.parse import quote

    import requests
    from docker.auth import encode_header

    headers = {"X-Registry-Auth": encode_header(auth)} if auth else {}
    base = f"{api.base_url}/v{api.api_version}"
    if operation == "push":
        url = f"{base}/images/{quote(name, safe='/:')}/push"
        params = {"tag": ref.tag}
    else:
        url = f"{base}/images/create"
        params = {"fromImage": name, "tag": ref.digest or ref.tag}
    response: Any = None
    try:
        response = api.post(url, params=params, headers=headers, stream=True,
                            timeout=ENGINE_TIMEOUT)
        if response.status_code >= 400:
            kind = _EngineNotFound if response.status_code == 404 else EngineError
            raise kind(f"{operation} failed: {_api_message(response)}")
        for event in iter_json(response.iter_content(chunk_size=None)):
            for change in parser.feed(event):
                renderer.change(change)
            if parser.error is not None:
                break
    except KeyboardInterrupt:
        what = ("the local tag was not created or changed" if operation == "pull"
                else "the tag was not updated in the registry")
        raise InterruptedTransfer(
            f"{operation} interrupted; the engine's {operation} was cancelled and {what}"
        ) from None
    except requests.RequestException as exc:
        raise EngineError(
            f"{operation} failed: lost the connection to the docker engine ({_short(exc)})"
        ) from None
    finally:
        if response is not None:
            response.close()


def _api_message(response: Any) -> str:
    try:
        doc = response.json()
        message = doc.get("message") if isinstance(doc, dict) else None
    except ValueError:
        message = None
    text = str(message or response.text or f"HTTP {response.status_code}")
    return " ".join(text.split())[:500]
