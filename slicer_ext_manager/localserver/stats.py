"""Download statistics (reference §4): per-folder ``meta.downloadStats`` trees, counted like the
plugin does and kept across restarts in ``<state_dir>/downloadstats.json``."""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Iterable

from .files import atomic_write_json

log = logging.getLogger(__name__)

STATS_FILE = "downloadstats.json"


class DownloadStats:
    """Per-folder ``meta.downloadStats`` trees (reference §4), persisted as JSON.

    File format: ``{"version": 1, "folders": {"<folder id>": {"name": "...", "downloadStats": {...}}}}``.
    Every increment rewrites the file atomically; all methods are thread-safe.
    """

    def __init__(self, path: str | os.PathLike[str] | None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._completing = 0
        self._idle = threading.Condition(self._lock)
        self._folders: dict[str, dict[str, Any]] = {}
        self._write_failed = False
        if self.path is not None and self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                folders = data.get("folders", {}) if isinstance(data, dict) else {}
                self._folders = {k: v for k, v in folders.items() if isinstance(v, dict)}
            except (OSError, ValueError) as exc:
                log.warning("Ignoring unreadable download statistics %s: %s", self.path, exc)

    def increment(self, folder_id: str, folder_name: str, keys: Iterable[str]) -> None:
        """``$inc`` of ``meta.downloadStats.<keys joined with .>`` on a folder.

        Like the Mongo dotted path, a ``.`` inside a key creates extra nesting levels.
        """
        parts: list[str] = []
        for key in keys:
            parts.extend(str(key).split("."))
        with self._lock:
            entry = self._folders.setdefault(folder_id, {"name": folder_name, "downloadStats": {}})
            entry["name"] = folder_name
            node = entry.setdefault("downloadStats", {})
            for part in parts[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            current = node.get(parts[-1])
            node[parts[-1]] = (current if isinstance(current, int) else 0) + 1
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            atomic_write_json(self.path, {"version": 1, "folders": self._folders})
        except OSError as exc:  # e.g. a read-only mirror: keep counting in memory
            if not self._write_failed:
                log.warning("Cannot save download statistics to %s: %s", self.path, exc)
            self._write_failed = True

    def begin_completion(self) -> None:
        """A download is about to send its last bytes: readers of the statistics wait
        (briefly) until :meth:`end_completion`, so a client that has received the whole
        file and then asks for the statistics sees its download counted."""
        with self._lock:
            self._completing += 1

    def end_completion(self) -> None:
        with self._lock:
            self._completing -= 1
            if self._completing <= 0:
                self._idle.notify_all()

    def folder_stats(self, folder_id: str, wait: float = 2.0) -> dict[str, Any] | None:
        """A deep copy of a folder's ``downloadStats`` tree, or None when it has none."""
        with self._lock:
            self._idle.wait_for(lambda: self._completing <= 0, timeout=wait)
            entry = self._folders.get(folder_id)
            if not entry or not entry.get("downloadStats"):
                return None
            return copy.deepcopy(entry["downloadStats"])


class Completion:
    """One download's hold on :meth:`DownloadStats.begin_completion`: :meth:`begin` at most once,
    :meth:`end` releases it if taken (call it in a ``finally``)."""

    def __init__(self, stats: DownloadStats):
        self._stats = stats
        self._begun = False

    def begin(self) -> None:
        if not self._begun:
            self._stats.begin_completion()
            self._begun = True

    def end(self) -> None:
        if self._begun:
            self._begun = False
            self._stats.end_completion()
