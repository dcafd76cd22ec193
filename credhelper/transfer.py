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

This module owns the orchestration (``run``), the pre-flight's use (step 3), the token for the
engine (step 5) and the engine stream (step 6); ``transfer_result`` holds ``Options``,
``TransferResult`` and the errors, ``transfer_repository`` step 4, ``transfer_scan`` the
``--scan`` wait. Their public names stay importable from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from .engine import (
    OPERATIONS,
    EngineError,
    EngineNotFoundError,
    StreamParser,
    iter_json,
)
from .errors import EcrpyError, RefusedError, UsageError
from .transfer_repository import explain_missing, repository_step
from .transfer_result import (
    SCHEMA,
    InterruptedTransfer,
    Options,
    TransferResult,
    UndeterminedError,
)
from .transfer_scan import ScanProgress, scan_step

if TYPE_CHECKING:
    from .config import Config
    from .ecr_repository import RepositoryFacts
    from .engine_client import EngineClient, Stream
    from .image_scan import ScanReport
    from .permissions.actions import ImageRef
    from .progress import Renderer
    from .registry import Registry

# The names cli/transfer.py and the tests import from here.
__all__ = [
    "SCHEMA",
    "InterruptedTransfer",
    "Options",
    "ScanProgress",
    "TransferResult",
    "UndeterminedError",
    "run",
]


def _image_ref(opts: Options) -> ImageRef:
    """``IMAGE`` parsed, and the usage errors that need no config or engine."""
    from .permissions.actions import parse_image

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
    return ref


def _registry_for(ref: ImageRef, config: Config, opts: Options) -> Registry:
    from . import registry as registry_mod

    reg = registry_mod.require(ref.registry, config)
    if opts.scan and reg.public:
        raise UsageError(
            "ECR Public has no image scanning; --scan applies to private ECR repositories"
        )
    return reg


def _local_image_size(engine: EngineClient, name: str, ref: ImageRef) -> int:
    """The size of the image a push sends; a push needs it locally, checked before anything."""
    size = engine.image_size(f"{name}:{ref.tag}")
    if size is None:
        raise EcrpyError(
            f"no local image {name}:{ref.tag} in the docker engine",
            hint=f"build or tag it first (docker tag SOURCE {name}:{ref.tag})",
        )
    return size


def _explain_not_found(
    ref: ImageRef, reg: Registry, profile: str | None, role_arn: str | None
) -> None:
    """After the engine's 404 on a pull. Nothing was downloaded (the manifest is the first
    thing fetched): say why, with ECR's list of what does exist. Asked only now, so a good
    pull pays for no lookup."""
    try:
        explain_missing(ref, reg, profile, role_arn)
    except RefusedError:
        raise
    except (EcrpyError, RuntimeError):
        pass  # ECR cannot tell either: the engine's own message stands


def run(
    opts: Options,
    progress: IO[str],
    warn: Callable[[str], None],
    env: Mapping[str, str] | None = None,
    renderer: Renderer | None = None,
) -> TransferResult:
    """Do the whole push or pull; see the module doc. Raises ``EcrpyError`` subclasses."""
    from . import config as config_mod

    started = time.monotonic()
    ref = _image_ref(opts)
    config = config_mod.load()
    reg = _registry_for(ref, config, opts)
    settings = config.for_host(reg.host)
    profile = settings.profile if settings else None
    role_arn = settings.role_arn if settings else None
    name = f"{ref.registry}/{ref.repository}"

    from .engine_client import connect

    engine = connect(env)
    local_size = _local_image_size(engine, name, ref) if opts.operation == "push" else None

    repository_created = False
    with _expired_credentials(profile):
        facts, preflight = _checked_preflight(opts, ref, progress, warn)
        if not reg.public:
            repository_created = repository_step(opts, ref, reg, profile, role_arn, facts, warn)
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
        _explain_not_found(ref, reg, profile, role_arn)
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
            scan = scan_step(opts, ref, reg, profile, role_arn, parser.digest, progress)
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


@contextmanager
def _expired_credentials(profile: str | None) -> Iterator[None]:
    """botocore raises a bare ``RuntimeError`` for credentials still expired after a refresh
    (``AWS_CREDENTIAL_EXPIRATION`` in the past, a stale credential_process answer). Sessions are
    built through ``identity``, which translates it, but a refresh can also happen mid-run,
    inside any AWS call: those are translated here, by the same ``aws_errors.translate``."""
    try:
        yield
    except RuntimeError as exc:
        if "expired" not in str(exc):
            raise
        from .aws_errors import translate

        raise translate(exc, None, profile) from None


def _checked_preflight(
    opts: Options, ref: ImageRef, progress: IO[str], warn: Callable[[str], None]
) -> tuple[RepositoryFacts | None, dict[str, Any] | None]:
    """The pre-flight under a status line; (None, None) with ``--no-check``."""
    if not opts.check:
        return None, None
    from .progress import StatusLine

    with StatusLine(progress, "checking permissions", quiet=opts.quiet):
        return _preflight(opts, ref, warn)


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
