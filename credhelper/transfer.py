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
5. The token comes from ``token_service.token_for`` (the helper's own cache; no deadline and
   no watchdog, which belong to the helper process) and goes to the engine in the
   ``X-Registry-Auth`` header of the API request — never on a command line, never into
   ``config.json``.
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
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from .ecr_repository import NEAREST, Ecr, RepositoryFacts, nearest_tags
from .engine import (
    OPERATIONS,
    EngineError,
    EngineNotFoundError,
    StreamParser,
    iter_json,
)
from .errors import EcrpyError, RefusedError, UsageError

if TYPE_CHECKING:
    from .config import Config
    from .engine_client import EngineClient, Stream
    from .image_scan import ScanReport
    from .permissions.actions import ImageRef
    from .progress import Renderer
    from .registry import Registry

SCHEMA = "ecrpy.transfer/1"


# -- errors ------------------------------------------------------------------------------------
class UndeterminedError(EcrpyError):
    """``--strict`` and the pre-flight could not decide."""

    exit_code = 4


class InterruptedTransfer(EcrpyError):
    """Ctrl-C during the transfer (exit 130)."""

    exit_code = 130


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
    scan: bool = False
    scan_timeout: float = 600.0
    fail_on: str | None = None


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
    scan: ScanReport | None = None
    fail_on: str | None = None

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
            "scan": self.scan.as_dict(self.fail_on) if self.scan is not None else None,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def summary(self) -> str:
        """One human line: what moved, the digest, how long ("up to date" when nothing did)."""
        from .progress import human_size
        from .wording import layer_breakdown, transfer_verb

        c = self.parser.counts()
        verb = transfer_verb(self.operation, c)
        if self.operation == "pull" and self.up_to_date:
            verb = "up to date"  # the engine's own word: nothing needed pulling
        return (
            f"{verb}{':' if verb == 'up to date' else ''} {self.ref.registry}/{self.ref.repository}"
            f"{':' + self.ref.tag if self.ref.tag and not self.ref.digest else ''}"
            f"@{self.digest or '?'} ({layer_breakdown(self.operation, c)}; "
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
    if opts.scan and opts.operation != "push":
        raise UsageError("--scan applies to a push only")
    config = config_mod.load()
    reg = _registry_for(ref, config)
    if opts.scan and reg.public:
        raise UsageError(
            "ECR Public has no image scanning; --scan applies to private ECR repositories"
        )
    settings = config.for_host(reg.host)
    profile = settings.profile if settings else None
    role_arn = settings.role_arn if settings else None
    name = f"{ref.registry}/{ref.repository}"

    from .engine_client import connect

    engine = connect(env)
    local_size: int | None = None
    if opts.operation == "push":
        local_size = engine.image_size(f"{name}:{ref.tag}")
        if local_size is None:
            raise EcrpyError(
                f"no local image {name}:{ref.tag} in the docker engine",
                hint=f"build or tag it first (docker tag SOURCE {name}:{ref.tag})",
            )

    preflight: dict[str, Any] | None = None
    facts: RepositoryFacts | None = None
    repository_created = False
    with _expired_credentials(profile):
        if opts.check:
            from .progress import StatusLine

            with StatusLine(progress, "checking permissions", quiet=opts.quiet):
                facts, preflight = _preflight(opts, ref, warn)
        if not reg.public:
            repository_created = _repository_step(opts, ref, reg, profile, role_arn, facts, warn)
        auth = _auth_config(reg, config, opts.operation)
    parser = StreamParser(opts.operation)
    if renderer is None:
        from .progress import make_renderer

        renderer = make_renderer(progress, quiet=opts.quiet)
    transfer_started = time.monotonic()
    try:
        _stream(engine, opts.operation, name, ref, auth, parser, renderer)
    except EngineNotFoundError as exc:
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
        size = engine.image_size(local_ref)
    # duration_seconds ends with the transfer; a scan's wait is scan.waited_seconds
    duration = time.monotonic() - started
    scan: ScanReport | None = None
    if opts.scan:
        with _expired_credentials(profile):
            scan = _scan_step(opts, ref, reg, profile, role_arn, parser.digest, progress)
    return TransferResult(
        operation=opts.operation,
        ref=ref,
        digest=parser.digest or ref.digest,
        size=size,
        manifest_size=parser.manifest_size,
        parser=parser,
        preflight=preflight,
        repository_created=repository_created,
        duration=duration,
        transfer_duration=transfer_duration,
        up_to_date=parser.up_to_date if opts.operation == "pull" else None,
        scan=scan,
        fail_on=opts.fail_on,
    )


def _scan_step(
    opts: Options,
    ref: ImageRef,
    reg: Registry,
    profile: str | None,
    role_arn: str | None,
    digest: str | None,
    progress: IO[str],
) -> ScanReport:
    """After the push: wait for the scan of the pushed digest (``credhelper.image_scan``).
    Never raises for the scan's own outcome: the push is done, and the report says why a scan
    gave no counts (the command turns that into its exit status)."""
    from .image_scan import ScanReport, ScanWaiter

    if digest is None:
        return ScanReport(
            digest=None,
            status="NOT_STARTED",
            problem="the engine reported no digest for the push; cannot look up its scan",
        )
    ecr = _ecr(reg, ref, profile, role_arn)
    shown = ScanProgress(progress, quiet=opts.quiet)
    waiter = ScanWaiter(
        ecr.client,
        ref.repository,
        reg.account_id,
        digest,
        timeout=opts.scan_timeout,
        on_state=shown.state,
        on_note=shown.note,
    )
    shown.note(f"waiting for the scan of {digest} (up to {opts.scan_timeout:g} s)")
    try:
        return waiter.run()
    except KeyboardInterrupt:
        raise InterruptedTransfer(
            f"interrupted while waiting for the scan; the push of {ref} is complete"
        ) from None
    finally:
        shown.close()


class ScanProgress:
    """Shows the scan's state: a line per change (CI logs), one live status line on a
    terminal, nothing when quiet."""

    def __init__(self, stream: IO[str], quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        try:
            self.tty = stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.last: str | None = None
        self.live = False

    def state(self, state: str, elapsed: float) -> None:
        if self.quiet:
            return
        from .image_scan import state_words

        words = state_words(state)
        if self.tty:
            self.stream.write(f"\rscan: {words} ({elapsed:.0f}s)\x1b[K")
            self.live = True
        elif state != self.last:
            self.stream.write(f"scan: {words} ({elapsed:.0f}s)\n")
        self.last = state
        self.stream.flush()

    def note(self, text: str) -> None:
        if self.quiet:
            return
        self._end_live()
        self.stream.write(f"scan: {text}\n")
        self.stream.flush()

    def close(self) -> None:
        self._end_live()

    def _end_live(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
            self.live = False



@contextmanager
def _expired_credentials(profile: str | None) -> Iterator[None]:
    """botocore raises a bare ``RuntimeError`` for credentials still expired after a refresh
    (``AWS_CREDENTIAL_EXPIRATION`` in the past, a stale credential_process answer). Sessions are
    built through ``identity``, which translates it, but a refresh can also happen mid-run,
    inside any AWS call: those are translated here, by the same ``tokens.translate``."""
    try:
        yield
    except RuntimeError as exc:
        if "expired" not in str(exc):
            raise
        from .tokens import translate

        raise translate(exc, None, profile) from None


def _preflight(
    opts: Options, ref: ImageRef, warn: Callable[[str], None]
) -> tuple[RepositoryFacts, dict[str, Any]]:
    import sys

    from .preflight import run_check

    result = run_check(opts.image, opts.operation, create_repo=opts.create_repo)
    preflight = {"verdict": result.verdict, "elapsed_seconds": round(result.elapsed, 3)}
    if result.verdict in ("denied", "refused"):
        sys.stderr.write(result.render() + "\n")
        cause = (
            result.problems[0] if result.problems else "the identity lacks a required permission"
        )
        hint = f"nothing was sent; see the fix above (or: ecrpy check {opts.operation} {ref})"
        if result.nearest_tags:
            hint = "nearest tags: " + ", ".join(result.nearest_tags)
        raise RefusedError(
            f"{opts.operation} of {ref} refused by the pre-flight check: {cause}", hint=hint
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
    facts: RepositoryFacts | None,
    warn: Callable[[str], None],
) -> bool:
    """Refuse a push that is sure to fail; create the repository if asked. True if created.

    A pull is not looked up beforehand: a missing tag or repository makes the engine answer
    404 before any layer moves, and ``_explain_missing`` then asks ECR why."""
    if opts.operation == "pull":
        return False
    facts = RepositoryFacts() if facts is None else facts
    block = facts.push_blocked_by_tag(ref.tag)
    if facts.exists is True and block == "yes":
        raise _immutable(ref)
    if facts.exists is True and block == "no":
        return False
    ecr = _ecr(reg, ref, profile, role_arn)
    if facts.exists is not True or facts.tag_mutability is None:
        try:
            repo = ecr.describe()
        except PermissionError:
            if facts.exists is True:
                # The pre-flight's probes showed the repository exists; only its tag
                # mutability is unknown, and ECR itself rejects an IMMUTABLE tag on PutImage.
                return False
            warn(
                f"cannot read repository {ref.repository} (ecr:DescribeRepositories denied); "
                "going on"
            )
            return False
        if repo is None:
            facts.exists = False
        else:
            facts.describe(repo)
    if not facts.exists:
        if opts.operation == "push" and opts.create_repo:
            if opts.kms_key:
                _check_kms_key(reg, opts.kms_key, profile, role_arn)
            ecr.create(opts.immutable, opts.scan_on_push, opts.kms_key)
            return True
        raise RefusedError(
            f"repository {ref.repository} does not exist in {ecr.where}",
            hint="create it (aws ecr create-repository --repository-name "
            f"{ref.repository} --region {reg.region}) or use --create-repo",
        )
    if facts.push_blocked_by_tag(ref.tag) == "unknown" and facts.tag_exists is None:
        facts.tag_exists = ecr.image_exists(ref.tag, None)
    if facts.push_blocked_by_tag(ref.tag) == "yes":
        raise _immutable(ref)
    return False


def _explain_missing(
    ref: ImageRef, reg: Registry, profile: str | None, role_arn: str | None
) -> None:
    """After the engine's 404 on a pull: raise ``RefusedError`` naming what is missing, with
    the nearest tags; return (the engine's error stands) when ECR cannot tell."""
    ecr = _ecr(reg, ref, profile, role_arn)
    try:
        repo = ecr.describe()
    except PermissionError:
        repo = {}  # unknown: go on to the image lookup
    if repo is None:
        raise RefusedError(
            f"repository {ref.repository} does not exist in {ecr.where}",
            hint="check the name and the registry",
        )
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
    raise RefusedError(
        f"{what} not found in repository {ref.repository}; nothing was downloaded", hint=hint
    )


def _immutable(ref: ImageRef) -> RefusedError:
    return RefusedError(
        f"tag {ref.tag} already exists in the IMMUTABLE repository {ref.repository}; ECR "
        "would reject the push (ImageTagAlreadyExistsException)",
        hint="nothing was sent; push a new tag",
    )


def _ecr(reg: Registry, ref: ImageRef, profile: str | None, role_arn: str | None) -> Ecr:
    from .ecr_repository import FastClient

    # DescribeRepositories/DescribeImages without botocore where fast_token may make them.
    return Ecr(FastClient(reg, profile, role_arn), reg, ref.repository, profile)


def _check_kms_key(reg: Registry, key: str, profile: str | None, role_arn: str | None) -> None:
    """Before creating a KMS-encrypted repository: the key exists, is Enabled, and the caller
    may let ECR use it (``kms_key.check_for_create``)."""
    from . import identity, kms_key, tokens

    try:
        session = identity.botocore_session(profile=profile, role_arn=role_arn, region=reg.region)
        client = session.create_client(
            "kms", region_name=reg.region, config=tokens.client_config(reg)
        )
        kms_key.check_for_create(client, key, reg.account_id)
    except EcrpyError:
        raise
    except Exception as exc:
        raise tokens.translate(exc, None, profile, "KMS") from None


def _auth_config(reg: Registry, config: Config, operation: str) -> dict[str, str] | None:
    """The engine's auth for this registry (None: anonymous ECR Public pull)."""
    if reg.public and operation == "pull":
        return None
    from .token_service import token_for

    # No deadline: the helper's 9 s limit is for docker waiting on `get`, not for a transfer
    # that may take an hour (and must not be shot down by a watchdog mid-push).
    entry = token_for(reg, config, deadline=None)
    return {"username": entry.username, "password": entry.token, "serveraddress": reg.host}


def _stream(
    engine: EngineClient,
    operation: str,
    name: str,
    ref: ImageRef,
    auth: dict[str, str] | None,
    parser: StreamParser,
    renderer: Renderer,
) -> None:
    """POST the push/pull to the engine and feed its stream to ``parser`` and ``renderer``."""
    stream: Stream | None = None
    try:
        tag = (ref.tag if operation == "push" else ref.digest or ref.tag) or "latest"
        stream = engine.open_stream(operation, name, tag, auth)
        for event in iter_json(stream.chunks()):
            for change in parser.feed(event):
                renderer.change(change)
            if parser.error is not None:
                break
    except KeyboardInterrupt:
        what = (
            "the local tag was not created or changed"
            if operation == "pull"
            else "the tag was not updated in the registry"
        )
        raise InterruptedTransfer(
            f"{operation} interrupted; the engine's {operation} was cancelled and {what}"
        ) from None
    finally:
        if stream is not None:
            stream.close()
