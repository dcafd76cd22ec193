"""What ``ecrpy push``/``pull`` was asked (``Options``) and what it did (``TransferResult``: the
``--json`` document of docs/transfer-json-schema.md and the one-line human summary), and the
transfer's own errors (``UndeterminedError``: exit 4, ``InterruptedTransfer``: exit 130).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import EcrpyError

if TYPE_CHECKING:
    from .engine import StreamParser
    from .image_scan import ScanReport
    from .permissions.actions import ImageRef

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
