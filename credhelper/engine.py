"""The docker engine: finding it as the docker CLI does, and reading its JSON progress stream.

Split from ``transfer`` so the stream parser and endpoint rules can be tested on their own;
talking to the engine is ``engine_client``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, EcrpyError

OPERATIONS = ("push", "pull")
ENGINE_TIMEOUT = 300  # seconds without a byte from the engine before giving up

# Layer states that end a layer, per direction, and the result they mean.
PUSH_RESULTS = {"Pushed": "pushed", "Layer already exists": "skipped"}
MOUNTED_PREFIX = "Mounted from "
PULL_RESULTS = {"Pull complete": "downloaded", "Already exists": "already_present"}
RESULT_KEYS = ("pushed", "mounted", "skipped", "downloaded", "already_present")
# States whose progressDetail counts bytes crossing the network.
TRANSFER_STATES = frozenset({"Pushing", "Downloading"})
_PUSH_DIGEST_RE = re.compile(r"digest: (sha256:[0-9a-f]{64}) size: (\d+)")


class EngineError(EcrpyError):
    """The docker engine failed, or could not be reached."""


class EngineNotFoundError(EngineError):
    """The engine answered 404 (a pull's manifest or repository is unknown)."""


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
            self.digest = status[len("Digest: ") :].strip()
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
                layer.mounted_from = status[len(MOUNTED_PREFIX) :].strip() or None
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
                text, pending = pending[: exc.start].decode("utf-8"), pending[exc.start :]
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


def short_error(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc)
    return " ".join(text.split())[:300]
