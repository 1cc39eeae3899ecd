"""Terminal progress for the CLI: a one-line bar on a TTY, plain lines otherwise
(logs, CI, a host application reading stderr)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .fileutil import human_size
from .queue import EventKind, Outcome, Phase, QueueEvent


class ProgressPrinter:
    """A :data:`~slicer_ext_manager.queue.Listener` that writes to a stream."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None, width: int = 30):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.width = width
        self._line_open = False
        self._last_plain = 0.0

    def _clear(self) -> None:
        if self._line_open:
            self.stream.write("\r\033[K")
            self._line_open = False

    def __call__(self, event: QueueEvent) -> None:
        out = self.stream
        if event.kind == EventKind.STARTED:
            self._clear()
            out.write(f"{event.status_text}\n")
        elif event.kind == EventKind.PHASE and not self.tty and event.message:
            out.write(f"  {event.message}\n")
        elif event.kind == EventKind.PROGRESS:
            if self.tty:
                frac = (event.done / event.size) if event.size else 0.0
                filled = int(self.width * frac)
                bar = "#" * filled + "-" * (self.width - filled)
                what = "downloading" if event.phase == Phase.DOWNLOAD else event.phase.value
                out.write(f"\r  [{bar}] {frac * 100:5.1f}% {human_size(event.done)}/{human_size(event.size)} {what}\033[K")
                self._line_open = True
            elif time.monotonic() - self._last_plain > 2.0 or (event.size and event.done >= event.size):
                self._last_plain = time.monotonic()
                out.write(f"  {event.phase.value}: {human_size(event.done)} of {human_size(event.size)}\n")
        elif event.kind == EventKind.FINISHED and event.result is not None:
            self._clear()
            r = event.result
            mark = "ok" if r.outcome.ok else ("cancelled" if r.outcome == Outcome.CANCELLED else "FAILED")
            out.write(f"  {mark}: {r.message}\n")
            for warning in r.warnings:
                out.write(f"  warning: {warning}\n")
        elif event.kind == EventKind.MESSAGE and event.message:
            self._clear()
            out.write(f"  {event.message}\n")
        elif event.kind == EventKind.ALL_FINISHED:
            self._clear()
        out.flush()
