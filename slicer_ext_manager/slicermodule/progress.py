"""What an install shows while it runs: one line per item and the overall fraction, from the
queue's events (pure Python: the panels and the startup check present it; tests read it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..fileutil import human_size
from ..queue import EventKind, Outcome, Phase, QueueEvent, summarize

__all__ = ["InstallProgress", "ItemProgress"]

_PHASE_TEXT = {Phase.DOWNLOAD: "downloading", Phase.VERIFY: "verifying", Phase.EXTRACT: "extracting",
               Phase.REGISTER: "registering", Phase.QUEUED: "waiting"}


@dataclass
class ItemProgress:
    name: str
    text: str = "waiting"
    fraction: float = 0.0
    outcome: Optional[Outcome] = None
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.outcome is not None


class InstallProgress:
    """Feed it every :class:`QueueEvent` (:meth:`update`); read :attr:`items`, :attr:`overall`
    (0..1), :attr:`status` (the current item) and, at the end, :attr:`summary`."""

    def __init__(self, names: tuple[str, ...] = ()):
        self.items: dict[str, ItemProgress] = {n: ItemProgress(n) for n in names}
        self.total = len(names)
        self.index = 0
        self.current = ""
        self.summary = ""
        self.finished = False
        self.messages: list[str] = []

    def item(self, name: str) -> ItemProgress:
        if name not in self.items:
            self.items[name] = ItemProgress(name)
        return self.items[name]

    @property
    def overall(self) -> float:
        if self.finished:
            return 1.0
        if not self.total:
            return 0.0
        done = sum(1.0 if i.finished else i.fraction for i in self.items.values())
        return min(1.0, done / self.total)

    @property
    def status(self) -> str:
        if self.finished:
            return self.summary
        if not self.current:
            return "Preparing…"
        item = self.items.get(self.current)
        detail = f": {item.text}" if item is not None and item.text else ""
        return f"Installing {self.current} ({self.index}/{self.total}){detail}"

    def results(self) -> dict[str, Outcome]:
        return {n: i.outcome for n, i in self.items.items() if i.outcome is not None}

    def update(self, event: QueueEvent) -> None:
        kind = event.kind
        if kind == EventKind.STARTED:
            self.index, self.total, self.current = event.index, max(self.total, event.total), event.name
            self.item(event.name).text = "starting"
        elif kind == EventKind.PHASE:
            self.item(event.name).text = _PHASE_TEXT.get(event.phase, event.phase.value)
        elif kind == EventKind.PROGRESS:
            self._progress(event)
        elif kind == EventKind.FINISHED and event.result is not None:
            item = self.item(event.name)
            item.outcome, item.message, item.fraction = event.result.outcome, event.result.message, 1.0
            item.text = event.result.outcome.value + (f": {event.result.message}" if not event.result.outcome.ok
                                                      else "")
        elif kind == EventKind.MESSAGE and event.message:
            self.messages.append(event.message)
        elif kind == EventKind.ALL_FINISHED:
            self.finished = True
            self.summary = event.message or summarize(())

    def _progress(self, event: QueueEvent) -> None:
        item = self.item(event.name)
        what = _PHASE_TEXT.get(event.phase, event.phase.value)
        if event.size:
            part = min(1.0, event.done / event.size)
            # download is most of an install; extraction the rest
            item.fraction = 0.8 * part if event.phase == Phase.DOWNLOAD else 0.8 + 0.2 * part
            item.text = f"{what} {int(100 * part)}% of {human_size(event.size)}"
        else:
            item.text = f"{what} {human_size(event.done)}"
