"""The scan step of ``ecrpy push --scan``: after the push, wait for ECR's scan of the pushed
digest (``credhelper.image_scan``) and show its progress (``ScanProgress``).
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from .transfer_repository import ecr_for
from .transfer_result import InterruptedTransfer

if TYPE_CHECKING:
    from .image_scan import ScanReport
    from .permissions.actions import ImageRef
    from .registry import Registry
    from .transfer_result import Options


def scan_step(
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
    ecr = ecr_for(reg, ref, profile, role_arn)
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
