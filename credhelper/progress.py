"""Showing a push or pull while it runs: per-layer bars on a terminal, plain lines in CI logs.

The engine's JSON stream is parsed in ``credhelper.engine`` (``StreamParser``) into
``Change``s; a renderer here turns them into output:

* ``PlainRenderer`` — one line per layer *state change* (``abc123: Pushing``,
  ``abc123: Pushed (12.3 MB)``), never one per progress tick, so a CI log stays short and
  greppable;
* ``RichRenderer`` — one bar per layer with bytes and speed (``rich`` is imported only here,
  only when stdout/stderr is a terminal);
* ``NullRenderer`` — ``--quiet`` and ``--json`` without progress.

Sizes use decimal units, as docker prints them (``12.3 MB`` = 12 300 000 bytes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .engine import Change, Layer

_UNITS = ("B", "kB", "MB", "GB", "TB")


def human_size(n: float | None) -> str:
    """``1234567`` -> ``1.2 MB`` (decimal units, like docker); ``None`` -> ``?``."""
    if n is None:
        return "?"
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def layer_line(layer: Layer) -> str:
    """The plain line for a layer's current state: ``abc123: Pushed (12.3 MB)``."""
    text = f"{layer.id}: {layer.status}"
    if layer.result is not None and layer.bytes:
        text += f" ({human_size(layer.bytes)})"
    return text


class Renderer(Protocol):
    """What ``transfer.run`` drives while the engine streams."""

    def change(self, change: Change) -> None: ...

    def close(self) -> None: ...


class NullRenderer:
    """Shows nothing (``--quiet``)."""

    def change(self, change: Change) -> None:
        pass

    def close(self) -> None:
        pass


class PlainRenderer:
    """One line per layer state change; progress ticks within a state print nothing."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def change(self, change: Change) -> None:
        if change.kind != "status" or change.layer is None:
            return
        self.stream.write(layer_line(change.layer) + "\n")
        self.stream.flush()

    def close(self) -> None:
        try:
            self.stream.flush()
        except (OSError, ValueError):
            pass


class RichRenderer:
    """A live ``rich`` display: one row per layer with a bar, bytes and speed."""

    def __init__(self, stream: IO[str], title: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self._clock = clock
        self._progress: Any = Progress(
            TextColumn("[bold]{task.fields[layer]}"),
            TextColumn("{task.fields[status]:<22}"),
            BarColumn(),
            TextColumn("{task.fields[size]:>19}"),
            TextColumn("{task.fields[speed]:>11}"),
            console=Console(file=stream),
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        if title:
            self._progress.console.print(title)
        self._progress.start()

    def _speed(self, layer: Layer) -> str:
        if layer.result is not None:
            speed = layer.speed
        elif layer.started is not None and layer.bytes:
            elapsed = self._clock() - layer.started
            speed = layer.bytes / elapsed if elapsed > 0 else None
        else:
            speed = None
        return f"{human_size(speed)}/s" if speed else ""

    def change(self, change: Change) -> None:
        layer = change.layer
        if layer is None:
            return
        if layer.result is not None:
            size = human_size(layer.bytes) if layer.bytes else ""
            total: int | None = 1
            completed = 1
        else:
            total, completed = layer.total, layer.current or 0
            size = (f"{human_size(completed)}/{human_size(total)}" if total
                    else human_size(completed) if completed else "")
        fields = {"status": layer.status, "size": size, "speed": self._speed(layer)}
        task = self._tasks.get(layer.id)
        if task is None:
            self._tasks[layer.id] = self._progress.add_task(
                layer.id, total=total, completed=completed, layer=layer.id, **fields)
            return
        self._progress.update(task, total=total, completed=completed, **fields)

    def close(self) -> None:
        self._progress.stop()


def make_renderer(stream: IO[str], quiet: bool = False, title: str = "") -> Renderer:
    """``NullRenderer`` when quiet, ``RichRenderer`` on a terminal, else ``PlainRenderer``."""
    if quiet:
        return NullRenderer()
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        return RichRenderer(stream, title)
    return PlainRenderer(stream)


class StatusLine:
    """``with StatusLine(stream, "checking permissions"):`` -- on a terminal, one line saying
    what ecrpy is waiting for, erased when the wait ends (so the report or the bars start on a
    clean line); nothing on a pipe or a CI log, where a line that is later erased is noise."""

    def __init__(self, stream: IO[str], text: str, quiet: bool = False) -> None:
        self.stream = stream
        self.text = text
        try:
            self.shown = not quiet and stream.isatty()
        except (AttributeError, ValueError):
            self.shown = False

    def __enter__(self) -> StatusLine:
        if self.shown:
            self.stream.write(f"{self.text}\u2026")
            self.stream.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
