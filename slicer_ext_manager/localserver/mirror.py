"""``slicer-ext-manager mirror pull``: copy a server's packages for one Slicer build into a folder
that ``slicer-ext-manager serve`` (:class:`~slicer_ext_manager.localserver.server.PackageServer`)
serves with the same metadata. Qt-free.

Layout of the destination folder::

    DEST/
    ├── mirror.json                                   manifest (see below)
    ├── 33241-linux-amd64-Foo-git1a2b3c4-2025-01-29.tar.gz        the package, under its server file name
    ├── 33241-linux-amd64-Foo-git1a2b3c4-2025-01-29.tar.gz.json   sidecar: the full Girder item document
    └── <item id>/<file name>(.json)                  only when two items share a file name

The sidecar is the item document exactly as ``GET /app/{id}/extension`` returned it,
plus ``"files": [<the file document>]`` and, for an item that sits in a release folder,
``"release": "<release name>"`` (read by :mod:`.index`, which takes ``_id``, ``name``,
``created``, ``updated``, ``creatorId``, ``meta`` and the file's ``_id``/``created``/
``name``/``mimeType`` from it). Served by ``serve DEST``, the items keep their
upstream ids, names, dates and metadata; only ``meta.app_id`` becomes the served
application id (pass ``--app-id`` to keep that too).

Resumable and idempotent:

* a package already in ``DEST`` whose size and sha512 match the server's
  (``meta.sha512``, else the file document's ``sha512``) is not downloaded again; when
  its sidecar already names the same upstream item and checksum, not even the file
  document is requested (a re-run costs the listing request(s) only);
* downloads go through :meth:`SlicerPackagesClient.download_file`, which writes
  ``<name>.part``, resumes a dropped connection with ``Range``, verifies the sha512
  and only then renames: an interrupted run never leaves a half file under a final
  name. The sidecar is written (atomically) after its package;
* a package replaced upstream (same item, new file) replaces the old file and sidecar.

``mirror.json``: ``{"format": 1, "source_url", "app_id", "revision", "os", "arch",
"names", "date", "complete", "tool", "items": [...], "other_builds": [...]}``: the last
pull at the top level, its ``items`` being every package of that build in the folder
(also those of earlier pulls of it); pulls of *other* builds into the same folder are
kept in ``other_builds``.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .. import __version__
from ..errors import CancelledError, ExtensionManagerError, ServerError
from ..metadata import split_words
from ..server import SlicerPackagesClient, iter_unique_newest
from .index import STATE_DIR_NAME, atomic_write_json, file_sha512

log = logging.getLogger(__name__)

__all__ = ["MANIFEST_NAME", "MirrorProgress", "MirrorReport", "MirroredItem", "pull_mirror"]

MANIFEST_NAME = "mirror.json"
MANIFEST_FORMAT = 1

#: Item statuses in a :class:`MirrorReport`.
DOWNLOADED = "downloaded"  # fetched in this run
PRESENT = "present"  # already complete and verified in DEST
FAILED = "failed"  # could not be fetched (error says why)
MISSING = "missing"  # a requested name (or a dependency) the server does not have for this build
CANCELLED = "cancelled"  # not done because the pull was cancelled
OK_STATUSES = (DOWNLOADED, PRESENT)

_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._+=@,-]")


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
        return not self.failed and not self.cancelled

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
            "manifest": str(self.manifest_path),
            "items": [i.to_json() for i in self.items],
        }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _safe_file_name(name: str, fallback: str) -> str:
    """The server's file name reduced to a safe single path component."""
    base = os.path.basename(str(name or "").replace("\\", "/")).strip()
    base = _SAFE_NAME_RE.sub("_", base).lstrip(".")
    return base or fallback


def _dependencies(item: Mapping[str, Any]) -> tuple[str, ...]:
    meta = item.get("meta") or {}
    return split_words(meta.get("dependency") if isinstance(meta, Mapping) else None)


def _select(items: dict[str, Mapping[str, Any]], names: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """``names`` and their dependencies (transitively), requested names first.

    Returns (names to mirror, {missing name: why}).
    """
    order: list[str] = []
    missing: dict[str, str] = {}
    todo = [(n, "") for n in dict.fromkeys(names)]
    seen: set[str] = set()
    while todo:
        name, needed_by = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        item = items.get(name)
        if item is None:
            missing[name] = needed_by
            continue
        order.append(name)
        todo.extend((dep, name) for dep in _dependencies(item))
    return order, missing


def _existing_sidecars(dest: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """{upstream item id: (archive path, sidecar document)} for mirrored packages in ``dest``."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    if not dest.is_dir():
        return found
    for sidecar in sorted(dest.rglob("*.json")):
        rel_parts = sidecar.relative_to(dest).parts
        if sidecar.name == MANIFEST_NAME or STATE_DIR_NAME in rel_parts:
            continue
        archive = sidecar.with_name(sidecar.name[: -len(".json")])
        if not archive.is_file():
            continue
        try:
            doc = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("_id"), str) and isinstance(doc.get("meta"), dict):
            found.setdefault(doc["_id"], (archive, doc))
    return found


def _verify(path: Path, size: int | None, sha512: str) -> bool:
    """True when ``path`` is a complete copy: same size (when known) and same sha512 (when known)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if not path.is_file() or (size is not None and st.st_size != size):
        return False
    if sha512:
        return file_sha512(path) == sha512
    return size is not None


def _release_names(client: SlicerPackagesClient, revision: str, os_name: str, arch: str,
                   warnings: list[str]) -> dict[str, str]:
    """{item id: release folder name} for the build's items that sit in a release (not a draft)."""
    try:
        releases = [r for r in client.releases() if str((r.get("meta") or {}).get("revision", "")) == revision]
        result: dict[str, str] = {}
        for release in releases:
            listed = client.get_json(f"/app/{client.app_id}/extension", {
                "release_id": release["_id"], "app_revision": revision, "os": os_name, "arch": arch, "limit": 0})
            for item in listed if isinstance(listed, list) else []:
                if isinstance(item, dict) and item.get("_id"):
                    result.setdefault(str(item["_id"]), str(release.get("name") or ""))
        return result
    except (ServerError, KeyError, TypeError) as exc:
        warnings.append(f"Could not tell which packages belong to a release ({exc}); they are mirrored as drafts.")
        return {}


def _write_manifest(report: MirrorReport) -> None:
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


def pull_mirror(
    client: SlicerPackagesClient,
    dest: str | os.PathLike[str],
    revision: str,
    os: str,
    arch: str,
    names: Iterable[str] | None = None,
    progress: MirrorProgressCallback | None = None,
    cancel: Callable[[], bool] | None = None,
) -> MirrorReport:
    """Mirror every extension the server has for Slicer ``revision``/``os``/``arch`` (or only
    ``names`` and their dependencies) into ``dest``; see the module docstring.

    Never raises for one package: failures are reported per item. Raises
    :class:`~slicer_ext_manager.errors.ServerError` when the catalog itself cannot be
    listed, and ``OSError`` when ``dest`` cannot be created. A cancellation
    (``cancel()`` true, or ``progress`` returning False) stops after cleaning up the
    current download; the report then has ``cancelled=True``.
    """
    os_name = os
    dest_path = Path(dest).expanduser()
    dest_path.mkdir(parents=True, exist_ok=True)
    dest_path = dest_path.resolve()
    revision = str(revision)
    wanted = tuple(dict.fromkeys(names)) if names is not None else None
    report = MirrorReport(client.server_url, client.app_id, revision, os_name, arch, dest_path, wanted,
                          started=_now())

    def emit(event: MirrorProgress) -> None:
        if progress is not None and progress(event) is False:
            raise CancelledError("The mirror pull was cancelled.")

    def check_cancel() -> None:
        if cancel is not None and cancel():
            raise CancelledError("The mirror pull was cancelled.")

    emit(MirrorProgress("listing"))
    listed = client.extension_items(revision, os_name, arch, limit=0)
    by_name = {name: dict(item) for name, item in iter_unique_newest(listed).items()}
    if len(by_name) < len([i for i in listed if (i.get("meta") or {}).get("baseName")]):
        report.warnings.append("The server lists several packages for the same extension and build; "
                               "the most recently created one of each was mirrored.")
    if wanted is None:
        selected = sorted(by_name, key=str.lower)
        missing: dict[str, str] = {}
    else:
        selected, missing = _select(by_name, wanted)
    for name, needed_by in missing.items():
        why = f" (needed by {needed_by})" if needed_by else ""
        report.items.append(MirroredItem(
            name, status=MISSING, requested=not needed_by,
            error=f"The server has no {name}{why} for Slicer revision {revision} ({os_name}/{arch})."))
    releases = _release_names(client, revision, os_name, arch, report.warnings) if selected else {}
    existing = _existing_sidecars(dest_path)
    claimed: dict[Path, str] = {}  # archive path -> item id, in this run

    count = len(selected)
    todo = [MirroredItem(name, item_id=str(by_name[name].get("_id") or ""),
                         requested=wanted is None or name in wanted) for name in selected]
    report.items[:0] = todo
    try:
        for index, entry in enumerate(todo, 1):
            check_cancel()
            item = by_name[entry.name]
            try:
                _mirror_one(client, dest_path, item, entry, index, count, existing, claimed,
                            releases.get(entry.item_id), emit, cancel)
            except CancelledError:
                raise
            except (ExtensionManagerError, OSError) as exc:
                entry.status, entry.error = FAILED, str(exc)
                log.info("Mirroring %s failed: %s", entry.name, exc)
            emit(MirrorProgress("done", index, count, entry.name, entry.file_name, entry.size, entry.size,
                                entry.status))
    except CancelledError:
        report.cancelled = True
        for entry in todo:
            if not entry.status:
                entry.status, entry.error = CANCELLED, "The mirror pull was cancelled."
    finally:
        report.finished = _now()
        try:
            _write_manifest(report)
        except OSError as exc:
            report.warnings.append(f"Could not write {report.manifest_path}: {exc}")
    return report


def _mirror_one(
    client: SlicerPackagesClient,
    dest: Path,
    item: dict[str, Any],
    entry: MirroredItem,
    index: int,
    count: int,
    existing: dict[str, tuple[Path, dict[str, Any]]],
    claimed: dict[Path, str],
    release: str | None,
    emit: Callable[[MirrorProgress], None],
    cancel: Callable[[], bool] | None,
) -> None:
    item_id = entry.item_id
    meta = item.get("meta") or {}
    expected_sha = str(meta.get("sha512") or "").lower()
    item_size = item.get("size") if isinstance(item.get("size"), int) else None
    emit(MirrorProgress("checking", index, count, entry.name))

    previous = existing.get(item_id)
    file_doc: dict[str, Any] | None = None
    archive: Path | None = None
    if previous is not None:
        prev_archive, prev_doc = previous
        prev_files = prev_doc.get("files")
        if (expected_sha and str((prev_doc.get("meta") or {}).get("sha512") or "").lower() == expected_sha
                and isinstance(prev_files, list) and prev_files and isinstance(prev_files[0], dict)
                and prev_archive not in claimed and _verify(prev_archive, item_size, expected_sha)):
            # Same upstream package already complete here: no request at all.
            file_doc, archive = dict(prev_files[0]), prev_archive
            entry.status, entry.verified = PRESENT, True

    if archive is None:
        file_doc = dict(client.package_file(item_id, entry.name))
        expected_sha = expected_sha or str(file_doc.get("sha512") or "").lower()
        size = file_doc.get("size") if isinstance(file_doc.get("size"), int) else item_size
        file_name = _safe_file_name(str(file_doc.get("name") or ""), f"{item_id}.tar.gz")
        archive = dest / file_name
        owner = claimed.get(archive)
        if owner is None and archive.is_file():
            on_disk = next((iid for iid, (path, _) in existing.items() if path == archive), None)
            owner = on_disk if on_disk not in (None, item_id) else None
        if owner is not None and owner != item_id:
            archive = dest / item_id / file_name  # two items with one file name: keep both
        if _verify(archive, size, expected_sha):
            entry.status, entry.verified = PRESENT, bool(expected_sha)
        else:
            archive.parent.mkdir(parents=True, exist_ok=True)

            def on_bytes(done: int, total: int | None) -> bool | None:
                emit(MirrorProgress("downloading", index, count, entry.name, archive.name, done, total))
                return None

            result = client.download_file(str(file_doc["_id"]), archive, resume=True, expected_sha512=expected_sha,
                                          expected_size=size, progress=on_bytes, cancel=cancel,
                                          label=entry.name)
            entry.status, entry.verified, entry.resumed = DOWNLOADED, result.verified, result.resumed
            if size is not None and result.size != size:
                archive.unlink(missing_ok=True)
                raise ExtensionManagerError(
                    f"The download of {entry.name} has {result.size} bytes where the server announced {size}; "
                    "it was deleted.")

    claimed[archive] = item_id
    entry.file_name = archive.name
    entry.path = archive.relative_to(dest).as_posix()
    entry.size = archive.stat().st_size
    entry.sha512 = expected_sha or file_sha512(archive)

    sidecar_doc: dict[str, Any] = dict(item)
    sidecar_doc["files"] = [file_doc]
    if release:
        sidecar_doc["release"] = release
    sidecar = archive.with_name(archive.name + ".json")
    current = previous[1] if previous is not None and previous[0] == archive else None
    if current != sidecar_doc:
        atomic_write_json(sidecar, sidecar_doc)
    if previous is not None and previous[0] != archive and previous[0] not in claimed:
        # The upstream item got a new package: drop the superseded one.
        previous[0].unlink(missing_ok=True)
        previous[0].with_name(previous[0].name + ".json").unlink(missing_ok=True)


def serve_hint(report: MirrorReport, default_app_id: str) -> list[str]:
    """Lines telling the user how to serve the mirror."""
    lines = [f"Serve it with:  slicer-ext-manager serve {report.dest} --port 8080"]
    if report.app_id and report.app_id != default_app_id:
        lines.append(f"  (add --app-id {report.app_id} to keep the upstream application id)")
    lines.append("then point Slicer at it:  SLICER_EXTENSIONS_MANAGER_SERVER_URL=http://127.0.0.1:8080")
    return lines
