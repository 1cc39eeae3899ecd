"""Changes made outside the dialog (Slicer, the CLI, another dialog) appear by themselves:
the two settings files and the install folder are watched, and a change (debounced)
asks the owner to re-read the state — which it does off the GUI thread."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

DEBOUNCE_MS = 400


class ProfileWatcher(QObject):
    """Emits :attr:`changed` once per burst of changes to ``paths``.

    Settings files are replaced on every save (atomic rename), which drops them from a
    ``QFileSystemWatcher``: their folders are watched too and the files re-added.
    """

    changed = Signal()

    def __init__(self, paths: Iterable[Path], parent: QObject | None = None, *,
                 debounce_ms: int = DEBOUNCE_MS, paused: Callable[[], bool] | None = None):
        super().__init__(parent)
        self._paths = [Path(p) for p in paths]
        self._paused = paused or (lambda: False)
        self._pending = False
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._touched)
        self._watcher.directoryChanged.connect(self._touched)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._fire)
        self._rewatch()

    def _wanted(self) -> list[str]:
        wanted: list[str] = []
        for path in self._paths:
            for candidate in (path, path.parent) if path.suffix else (path,):
                if candidate.exists() and str(candidate) not in wanted:
                    wanted.append(str(candidate))
        return wanted

    def _rewatch(self) -> None:
        # Cheap stat calls on three or four paths (not a folder scan).
        watched = set(self._watcher.files()) | set(self._watcher.directories())
        missing = [p for p in self._wanted() if p not in watched]
        if missing:
            self._watcher.addPaths(missing)

    def _touched(self, _path: str) -> None:
        self._timer.start()

    def _fire(self) -> None:
        self._rewatch()
        if self._paused():
            self._pending = True  # told again when resumed
            return
        self._pending = False
        self.changed.emit()

    def resume(self) -> None:
        """The owner is idle again: report a change that arrived while it was busy."""
        if self._pending:
            self._pending = False
            self.changed.emit()

    def stop(self) -> None:
        self._timer.stop()
        paths = self._watcher.files() + self._watcher.directories()
        if paths:
            self._watcher.removePaths(paths)
