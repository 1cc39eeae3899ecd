"""Watching the served folder: new, changed and removed packages are picked up while
``serve`` runs, never a half-copied file.

:class:`FolderWatcher` looks at the folder every ``interval`` seconds (standard library
only: a walk with ``stat``, which works on every platform and network file system). A
change is acted on only once the folder looks the same in two successive looks, so a
package still being copied (its size or mtime moving) is not indexed until the copy
has finished; a copy stalled longer than ``interval`` would be indexed and, when it
grows again, indexed anew (the index serves only the bytes it hashed). :meth:`poke`
(``SIGHUP``) rescans at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

log = logging.getLogger(__name__)

__all__ = ["FolderWatcher", "folder_signature"]

Signature = frozenset


def folder_signature(root: Path, ignore: Iterable[Path] = ()) -> Signature:
    """What a look at the folder sees: ``(relative path, size, mtime_ns, inode)`` of every file."""
    skip = {str(p) for p in ignore}
    entries = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip and not d.startswith(".slicer-ext")]
        for name in filenames:
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            entries.append((os.path.relpath(full, root), st.st_size, st.st_mtime_ns, st.st_ino))
    return frozenset(entries)


class FolderWatcher:
    """Calls ``on_change(forced)`` in its own daemon thread when the folder changed and has
    settled (or when poked); ``interval`` 0 watches nothing but still honours :meth:`poke`."""

    def __init__(self, root: Path, on_change: Callable[[bool], None], interval: float,
                 ignore: Iterable[Path] = ()):
        self.root = Path(root)
        self.on_change = on_change
        self.interval = float(interval)
        self.ignore = tuple(ignore)
        self.settle = max(1.0, 2 * self.interval)
        self._scanned = folder_signature(self.root, self.ignore) if self.interval > 0 else Signature()
        self._last_look = self._scanned
        self._wake = threading.Event()
        self._forced = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="package-server-watcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def poke(self) -> None:
        """Rescan now (signal-safe: only sets an event)."""
        self._forced = True
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval if self.interval > 0 else None)
            self._wake.clear()
            if self._stopping:
                return
            forced, self._forced = self._forced, False
            try:
                self._look(forced)
            except Exception:  # pragma: no cover - keep watching whatever happens
                log.exception("Rescanning %s failed", self.root)

    def _look(self, forced: bool) -> None:
        look = folder_signature(self.root, self.ignore)
        newest = max((mtime for _, _, mtime, _ in look), default=0)
        settled = look == self._last_look and time.time_ns() - newest >= self.settle * 1e9
        self._last_look = look
        if forced or (settled and look != self._scanned):
            self._scanned = look
            self.on_change(True)
