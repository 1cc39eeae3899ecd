"""The Install tab's list: one :class:`QueueItem` per extension to install or update, with
its progress (speed and time left on slow downloads) and its result. Never filtered:
the queue always shows everything it holds."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from ..fileutil import human_size
from ..queue import Job, JobResult, Outcome, Phase
from .roles import DESCRIPTION_ROLE, PROGRESS_ROLE, ROW_ROLE, STATE_KIND_ROLE, STATE_TEXT_ROLE

Index = QModelIndex | QPersistentModelIndex


class ItemState(str, enum.Enum):
    PENDING = "pending"  # in the list, not started
    QUEUED = "queued"  # handed to the worker, waiting for its turn
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (ItemState.DONE, ItemState.SKIPPED, ItemState.FAILED, ItemState.CANCELLED)

    @property
    def active(self) -> bool:
        return self in (ItemState.QUEUED, ItemState.RUNNING)

    @property
    def retryable(self) -> bool:
        return self in (ItemState.FAILED, ItemState.CANCELLED)


class JobKind(str, enum.Enum):
    INSTALL = "install"  # from the server
    FILE = "file"  # from a package on disk
    UPDATE = "update"  # installed now
    SCHEDULED_UPDATE = "scheduled-update"  # downloaded for Slicer's next start

    @property
    def is_update(self) -> bool:
        return self in (JobKind.UPDATE, JobKind.SCHEDULED_UPDATE)


def item_state_for(outcome: Outcome) -> ItemState:
    if outcome in (Outcome.INSTALLED, Outcome.UPDATED, Outcome.UNINSTALLED, Outcome.SCHEDULED):
        return ItemState.DONE
    if outcome == Outcome.SKIPPED:
        return ItemState.SKIPPED
    if outcome == Outcome.CANCELLED:
        return ItemState.CANCELLED
    return ItemState.FAILED


_PHASE_TEXT = {
    Phase.QUEUED: "Waiting",
    Phase.DOWNLOAD: "Downloading",
    Phase.VERIFY: "Verifying",
    Phase.EXTRACT: "Extracting",
    Phase.REGISTER: "Registering",
    Phase.DONE: "Done",
}
#: Speed and time left are shown once a download has run this long (fast ones never show them).
SLOW_AFTER_S = 1.5


def _duration(seconds: float) -> str:
    seconds = max(1, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass
class Rate:
    """Download speed, smoothed over the last seconds."""

    started: float = 0.0
    samples: list[tuple[float, int]] = field(default_factory=list)

    def add(self, done: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if not self.samples:
            self.started = now
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > 5.0:
            self.samples.pop(0)

    def speed(self) -> float:
        """Bytes per second (0 until two samples)."""
        if len(self.samples) < 2:
            return 0.0
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0

    def elapsed(self) -> float:
        return self.samples[-1][0] - self.started if self.samples else 0.0


@dataclass(eq=False)
class QueueItem:
    """One line of the Install tab."""

    key: str
    name: str
    kind: JobKind = JobKind.INSTALL
    detail: str = ""
    job: Job | None = None
    job_id: int = 0
    batch_id: int = 0
    state: ItemState = ItemState.PENDING
    phase: Phase = Phase.QUEUED
    done: int = 0
    size: int | None = None
    message: str = ""
    result: JobResult | None = None
    iconurl: str = ""
    icon_file: str = ""
    #: The package on disk (install from file), for Retry.
    path: Path | None = None
    #: The names asked for, when resolving them failed (Retry asks again).
    requested: tuple[str, ...] = ()
    rate: Rate = field(default_factory=Rate)

    @property
    def fraction(self) -> float:
        """Progress of this item, 0..1 (download = first 80%, then verify/extract/register)."""
        if self.state.finished:
            return 1.0
        if self.state != ItemState.RUNNING:
            return 0.0
        part = (self.done / self.size) if self.size else 0.0
        return {Phase.DOWNLOAD: 0.8 * part, Phase.VERIFY: 0.8, Phase.EXTRACT: 0.82 + 0.16 * part,
                Phase.REGISTER: 0.98}.get(self.phase, 0.0)

    def progress(self, phase: Phase, done: int, size: int | None) -> None:
        if phase != self.phase:
            self.rate = Rate()
        self.phase, self.done, self.size = phase, done, size
        if phase == Phase.DOWNLOAD:
            self.rate.add(done)

    def _speed_text(self) -> str:
        speed = self.rate.speed()
        if self.phase != Phase.DOWNLOAD or self.rate.elapsed() < SLOW_AFTER_S or speed <= 0:
            return ""
        text = f" — {human_size(int(speed))}/s"
        if self.size:
            text += f", about {_duration((self.size - self.done) / speed)} left"
        return text

    @property
    def status_text(self) -> str:
        if self.state == ItemState.PENDING:
            return "Ready to update" if self.kind.is_update else "Ready to install"
        if self.state == ItemState.QUEUED:
            return self.message or "Waiting for its turn"
        if self.state == ItemState.RUNNING:
            verb = _PHASE_TEXT.get(self.phase, self.phase.value.capitalize())
            if self.phase in (Phase.DOWNLOAD, Phase.EXTRACT) and self.done:
                of = f" of {human_size(self.size)}" if self.size else ""
                return f"{verb}: {human_size(self.done)}{of}{self._speed_text()}"
            return f"{verb}…"
        return self.message or self.state.value.capitalize()

    @property
    def activity_text(self) -> str:
        """What the Search and Installed rows say while this item is not done."""
        verb = "update" if self.kind.is_update else "install"
        if self.state == ItemState.PENDING:
            return f"Listed in the Install tab, ready to {verb}"
        if self.state == ItemState.QUEUED:
            return f"Waiting to {verb}"
        if self.state == ItemState.RUNNING:
            return f"{'Updating' if self.kind.is_update else 'Installing'}: {int(self.fraction * 100)}%"
        if self.state == ItemState.DONE:
            return f"{'Updated' if self.kind.is_update else 'Installed'} — restart Slicer to use it"
        return f"The {verb} failed — see the Install tab to retry"


_QUEUE_ROLES: dict[int, Callable[[QueueItem], Any]] = {
    ROW_ROLE: lambda it: it,
    Qt.ItemDataRole.DisplayRole: lambda it: it.name,
    STATE_TEXT_ROLE: lambda it: it.status_text,
    STATE_KIND_ROLE: lambda it: it.state.value,
    PROGRESS_ROLE: lambda it: int(round(it.fraction * 1000)),
    DESCRIPTION_ROLE: lambda it: it.detail,
    Qt.ItemDataRole.ToolTipRole: lambda it: it.message or it.detail or it.name,
    Qt.ItemDataRole.AccessibleTextRole: lambda it: f"{it.name}, {it.status_text}",
}


class QueueModel(QAbstractListModel):
    """The Install tab's list: pending, running and finished items."""

    def __init__(self, icons=None, parent=None, *, icon_source: Callable[[str], tuple[str, str]] | None = None):
        super().__init__(parent)
        self._items: list[QueueItem] = []
        self._icons = icons
        #: name -> (iconurl, icon_file) from the catalog, for items made without them (updates, files).
        self._icon_source = icon_source
        if icons is not None:
            icons.iconReady.connect(lambda _key: self._icons_changed())

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._items)

    def _icon(self, item: QueueItem) -> Any:
        if self._icons is None:
            return None
        url, file = item.iconurl, item.icon_file
        if not (url or file) and self._icon_source is not None:
            url, file = self._icon_source(item.name)
        return self._icons.icon(url, file)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._items)):
            return None
        getter = _QUEUE_ROLES.get(role)
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(item)
        return getter(item) if getter is not None else None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    # -- ours -----------------------------------------------------------------------------------------

    @property
    def items(self) -> list[QueueItem]:
        return list(self._items)

    def row_of(self, item: QueueItem) -> int:
        return next((i for i, it in enumerate(self._items) if it is item), -1)

    def add(self, items: Iterable[QueueItem]) -> list[QueueItem]:
        items = list(items)
        if not items:
            return []
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)
        self._items.extend(items)
        self.endInsertRows()
        return items

    def remove_where(self, predicate: Callable[[QueueItem], bool]) -> list[QueueItem]:
        removed = []
        for i in range(len(self._items) - 1, -1, -1):
            if predicate(self._items[i]):
                self.beginRemoveRows(QModelIndex(), i, i)
                removed.append(self._items.pop(i))
                self.endRemoveRows()
        return removed

    def changed(self, item: QueueItem) -> None:
        i = self.row_of(item)
        if i >= 0:
            idx = self.index(i, 0)
            self.dataChanged.emit(idx, idx)

    def _icons_changed(self) -> None:
        if self._items:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._items) - 1, 0),
                                  [Qt.ItemDataRole.DecorationRole])

    def item_for_job(self, job_id: int, name: str, batch_id: int) -> QueueItem | None:
        if job_id:
            found = next((it for it in self._items if it.job_id == job_id), None)
            if found is not None:
                return found
        return next((it for it in self._items if it.batch_id == batch_id and it.name == name
                     and not it.state.finished), None)
