"""What ``mirror pull`` reports and keeps: per-item results (:class:`MirroredItem`), the run's
:class:`MirrorReport`, progress events, and the ``mirror.json`` manifest written into the
mirror folder (format described in :mod:`.mirror`)."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..conventions import DEFAULT_APP_ID, SERVER_URL_ENV
from .files import atomic_write_json

__all__ = ["MANIFEST_NAME", "MirrorProgress", "MirrorReport", "MirroredItem", "serve_hint", "write_manifest"]

MANIFEST_NAME = "mirror.json"
MANIFEST_FORMAT = 1

#: Item statuses in a :class:`MirrorReport`.
DOWNLOADED = "downloaded"  # fetched in this run
PRESENT = "present"  # already complete and verified in DEST
FAILED = "failed"  # could not be fetched (error says why)
MISSING = "missing"  # a requested name (or a dependency) the server does not have for this build
CANCELLED = "cancelled"  # not done because the pull was cancelled
OK_STATUSES = (DOWNLOADED, PRESENT)


@dataclass(frozen=True)
class MirrorProgress:
    """One progress report. ``phase``: ``"listing"``, ``"checking"``, ``"downloading"``
    (with ``done``/``total`` bytes), ``"done"`` (with ``status``)."""

    phase: str
    index: int = 0  # 1-based position among the items to mirror
    count: int = 0
    name: str = ""
    file_name: str = ""
    done: int = 0
    total: int | None = None
    status: str = ""


#: ``progress(event) -> False`` cancels the pull (None/True go on).
MirrorProgressCallback = Callable[[MirrorProgress], "bool | None"]


@dataclass
class MirroredItem:
    """What happened to one extension build."""

    name: str
    item_id: str = ""
    status: str = ""
    kind: str = "extension"  # or "application" (mirror pull --with-slicer)
    file_name: str = ""
    path: str = ""  # relative to DEST, with "/"
    size: int = 0
    sha512: str = ""
    verified: bool = False  # size and sha512 checked against the server's
    resumed: int = 0  # dropped connections resumed with Range while downloading
    requested: bool = True  # False: pulled only as a dependency
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "item_id": self.item_id or None,
            "status": self.status,
            "file_name": self.file_name or None,
            "path": self.path or None,
            "size": self.size,
            "sha512": self.sha512 or None,
            "verified": self.verified,
            "resumed": self.resumed,
            "requested": self.requested,
            "error": self.error or None,
        }


@dataclass
class MirrorReport:
    """The result of :func:`pull_mirror` (also the ``--json`` output of ``mirror pull``)."""

    source_url: str
    app_id: str
    revision: str
    os: str
    arch: str
    dest: Path
    names: tuple[str, ...] | None = None
    items: list[MirroredItem] = field(default_factory=list)
    started: str = ""
    finished: str = ""
    cancelled: bool = False
    warnings: list[str] = field(default_factory=list)
    #: Set when the server listed nothing for the build (and that was not allowed): why, in one sentence.
    empty_error: str = ""

    def _with(self, *statuses: str) -> list[MirroredItem]:
        return [i for i in self.items if i.status in statuses]

    @property
    def downloaded(self) -> list[MirroredItem]:
        return self._with(DOWNLOADED)

    @property
    def present(self) -> list[MirroredItem]:
        return self._with(PRESENT)

    @property
    def failed(self) -> list[MirroredItem]:
        """Items that are not in DEST: failed, missing on the server, or cancelled."""
        return self._with(FAILED, MISSING, CANCELLED)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled and not self.empty_error

    @property
    def manifest_path(self) -> Path:
        return self.dest / MANIFEST_NAME

    @property
    def bytes_downloaded(self) -> int:
        return sum(i.size for i in self.downloaded)

    def get(self, name: str) -> MirroredItem | None:
        return next((i for i in self.items if i.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "source_url": self.source_url,
            "app_id": self.app_id,
            "revision": self.revision,
            "os": self.os,
            "arch": self.arch,
            "dest": str(self.dest),
            "names": list(self.names) if self.names is not None else None,
            "started": self.started,
            "finished": self.finished,
            "ok": self.ok,
            "cancelled": self.cancelled,
            "downloaded": [i.name for i in self.downloaded],
            "present": [i.name for i in self.present],
            "failed": [{"name": i.name, "status": i.status, "error": i.error} for i in self.failed],
            "bytes_downloaded": self.bytes_downloaded,
            "warnings": list(self.warnings),
            "error": self.empty_error or None,
            "manifest": str(self.manifest_path),
            "items": [i.to_json() for i in self.items],
        }


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def write_manifest(report: MirrorReport) -> None:
    """Write ``mirror.json``: this pull on top, pulls of other builds kept in ``other_builds``."""
    path = report.manifest_path
    other_builds: list[dict[str, Any]] = []
    items = [i.to_json() for i in report.items if i.ok]
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if isinstance(old, dict):
        key = (report.revision, report.os, report.arch)
        previous = [old] + [b for b in old.get("other_builds", []) if isinstance(b, dict)]
        for build in previous:
            if (build.get("revision"), build.get("os"), build.get("arch")) != key:
                other_builds.append({k: v for k, v in build.items() if k not in ("other_builds", "format", "tool")})
                continue
            # same build pulled before (e.g. all of it, now only --names): keep what is still there
            done = {i["item_id"] for i in items} | {i.name for i in report.items}
            for entry in build.get("items", []):
                if (isinstance(entry, dict) and entry.get("item_id") not in done and entry.get("name") not in done
                        and isinstance(entry.get("path"), str) and (report.dest / entry["path"]).is_file()):
                    items.append(entry)
                    done.add(entry.get("item_id"))
    manifest = {
        "format": MANIFEST_FORMAT,
        "tool": f"slicer-ext-manager {__version__}",
        "source_url": report.source_url,
        "app_id": report.app_id,
        "revision": report.revision,
        "os": report.os,
        "arch": report.arch,
        "names": list(report.names) if report.names is not None else None,
        "date": report.finished,
        "complete": report.ok,
        "items": sorted(items, key=lambda i: str(i.get("name", "")).lower()),
        "other_builds": other_builds,
    }
    atomic_write_json(path, manifest)


def serve_hint(report: MirrorReport) -> list[str]:
    """Lines telling the user how to serve the mirror."""
    lines = [f"Serve it with:  slicer-ext-manager serve {report.dest} --port 8080"]
    if report.app_id and report.app_id != DEFAULT_APP_ID:
        lines.append(f"  (add --app-id {report.app_id} to keep the upstream application id)")
    lines.append(f"then point Slicer at it:  {SERVER_URL_ENV}=http://127.0.0.1:8080")
    return lines
