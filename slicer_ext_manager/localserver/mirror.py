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

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..errors import CancelledError, ExtensionManagerError, ServerError
from ..metadata import split_words
from ..server import SlicerPackagesClient, iter_unique_newest
from .files import atomic_write_json, file_sha512
from .index import STATE_DIR_NAME
from .mirrorreport import (
    CANCELLED,
    DOWNLOADED,
    FAILED,
    MANIFEST_NAME,
    MISSING,
    PRESENT,
    MirroredItem,
    MirrorProgress,
    MirrorProgressCallback,
    MirrorReport,
    now,
    write_manifest,
)

log = logging.getLogger(__name__)

__all__ = ["MANIFEST_NAME", "MirrorProgress", "MirrorReport", "MirroredItem", "pull_mirror"]

_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._+=@,-]")


def _safe_file_name(name: str, fallback: str) -> str:
    """The server's file name reduced to a safe single path component."""
    base = os.path.basename(str(name or "").replace("\\", "/")).strip()
    base = _SAFE_NAME_RE.sub("_", base).lstrip(".")
    return base or fallback


def _dependencies(item: Mapping[str, Any]) -> tuple[str, ...]:
    meta = item.get("meta") or {}
    return split_words(meta.get("dependency") if isinstance(meta, Mapping) else None)


def _select(items: Mapping[str, Mapping[str, Any]], names: Iterable[str]) -> tuple[list[str], dict[str, str]]:
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


def pull_mirror(
    client: SlicerPackagesClient,
    dest: str | os.PathLike[str],
    revision: str,
    os: str,
    arch: str,
    names: Iterable[str] | None = None,
    progress: MirrorProgressCallback | None = None,
    cancel: Callable[[], bool] | None = None,
    *,
    allow_empty: bool = False,
    with_slicer: bool = False,
    stability: str = "release",
) -> MirrorReport:
    """Mirror every extension the server has for Slicer ``revision``/``os``/``arch`` (or only
    ``names`` and their dependencies) into ``dest``; see the module docstring.

    Never raises for one package: failures are reported per item. Raises
    :class:`~slicer_ext_manager.errors.ServerError` when the catalog itself cannot be
    listed, and ``OSError`` when ``dest`` cannot be created. A cancellation
    (``cancel()`` true, or ``progress`` returning False) stops after cleaning up the
    current download; the report then has ``cancelled=True``.

    A server that lists no extension for the build gives a report that is not ok
    (:attr:`MirrorReport.empty_error`, and a manifest that is not ``complete``) unless
    ``allow_empty``. ``with_slicer`` also copies the newest application package of the
    os/arch of ``stability`` (``release``: in a release folder; ``nightly``: a draft).
    """
    dest_path = Path(dest).expanduser()
    dest_path.mkdir(parents=True, exist_ok=True)
    wanted = tuple(dict.fromkeys(names)) if names is not None else None
    report = MirrorReport(client.server_url, client.app_id, str(revision), os, arch, dest_path.resolve(), wanted,
                          started=now())
    pull = _Pull(client, report, progress, cancel)
    pull.emit(MirrorProgress("listing"))
    todo = pull.plan()
    if with_slicer:
        todo += pull.plan_application(stability)
    if not pull.by_name and not allow_empty:
        report.empty_error = (
            f"The server {client.server_url} lists no extension of application {client.app_id} for Slicer revision "
            f"{report.revision} ({report.os}/{report.arch}); check --revision, --os, --arch and --app-id/--app-name, "
            "or pass --allow-empty to keep an empty mirror.")
    try:
        for index, entry in enumerate(todo, 1):
            pull.check_cancel()
            pull.mirror(entry, index, len(todo))
    except CancelledError:
        report.cancelled = True
        for entry in todo:
            if not entry.status:
                entry.status, entry.error = CANCELLED, "The mirror pull was cancelled."
    finally:
        report.finished = now()
        try:
            write_manifest(report)
        except OSError as exc:
            report.warnings.append(f"Could not write {report.manifest_path}: {exc}")
    return report


class _Pull:
    """The state of one :func:`pull_mirror` run."""

    def __init__(self, client: SlicerPackagesClient, report: MirrorReport,
                 progress: MirrorProgressCallback | None, cancel: Callable[[], bool] | None):
        self.client, self.report, self.progress, self.cancel = client, report, progress, cancel
        self.dest = report.dest
        self.by_name: dict[str, dict[str, Any]] = {}
        self.app_items: dict[str, dict[str, Any]] = {}
        self.releases: dict[str, str] = {}
        self.existing = _existing_sidecars(self.dest)
        self.claimed: dict[Path, str] = {}  # archive path -> item id, in this run

    def emit(self, event: MirrorProgress) -> None:
        if self.progress is not None and self.progress(event) is False:
            raise CancelledError("The mirror pull was cancelled.")

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise CancelledError("The mirror pull was cancelled.")

    def plan(self) -> list[MirroredItem]:
        """List the build, choose what to mirror (items of names the server lacks are reported
        missing) and return the items to mirror, in order, already in the report."""
        report = self.report
        listed = self.client.extension_items(report.revision, report.os, report.arch, limit=0)
        self.by_name = {name: dict(item) for name, item in iter_unique_newest(listed).items()}
        if len(self.by_name) < len([i for i in listed if (i.get("meta") or {}).get("baseName")]):
            report.warnings.append("The server lists several packages for the same extension and build; "
                                   "the most recently created one of each was mirrored.")
        missing: dict[str, str]
        if report.names is None:
            selected, missing = sorted(self.by_name, key=str.lower), {}
        else:
            selected, missing = _select(self.by_name, report.names)
        for name, needed_by in missing.items():
            why = f" (needed by {needed_by})" if needed_by else ""
            report.items.append(MirroredItem(
                name, status=MISSING, requested=not needed_by,
                error=f"The server has no {name}{why} for Slicer revision {report.revision} "
                      f"({report.os}/{report.arch})."))
        if selected:
            self.releases = _release_names(self.client, report.revision, report.os, report.arch, report.warnings)
        todo = [MirroredItem(name, item_id=str(self.by_name[name].get("_id") or ""),
                             requested=report.names is None or name in report.names) for name in selected]
        report.items[:0] = todo
        return todo

    def plan_application(self, stability: str) -> list[MirroredItem]:
        """The newest application package of the build's os/arch and ``stability``, as an item to mirror."""
        report = self.report
        packages = self.client.application_packages(os=report.os, arch=report.arch, limit=0)

        def wanted(item: Mapping[str, Any]) -> bool:
            meta = item.get("meta") or {}
            released = bool(meta.get("release")) and not meta.get("pre_release")
            return released if stability == "release" else not released

        def newest(item: Mapping[str, Any]) -> tuple[int, str]:
            revision = str((item.get("meta") or {}).get("revision") or "")
            return (int(revision) if revision.isdigit() else -1, str((item.get("meta") or {}).get("build_date") or ""))

        chosen = sorted((i for i in packages if wanted(i)), key=newest, reverse=True)[:1]
        if not chosen:
            report.warnings.append(f"The server has no {stability} Slicer package for {report.os}/{report.arch}.")
        todo = []
        for item in chosen:
            meta = item.get("meta") or {}
            key = f"{meta.get('baseName') or 'Slicer'}-{meta.get('version') or meta.get('revision')}"
            self.app_items[key] = dict(item)
            todo.append(MirroredItem(key, item_id=str(item.get("_id") or ""), kind="application"))
        report.items.extend(todo)
        return todo

    def mirror(self, entry: MirroredItem, index: int, count: int) -> None:
        """Mirror one item; its failure is recorded in ``entry`` (a cancellation propagates)."""
        try:
            self._mirror(entry, index, count)
        except CancelledError:
            raise
        except (ExtensionManagerError, OSError) as exc:
            entry.status, entry.error = FAILED, str(exc)
            log.info("Mirroring %s failed: %s", entry.name, exc)
        self.emit(MirrorProgress("done", index, count, entry.name, entry.file_name, entry.size, entry.size,
                                 entry.status))

    def _mirror(self, entry: MirroredItem, index: int, count: int) -> None:
        item = self.app_items[entry.name] if entry.kind == "application" else self.by_name[entry.name]
        meta = item.get("meta") or {}
        expected_sha = str(meta.get("sha512") or "").lower()
        item_size = item.get("size") if isinstance(item.get("size"), int) else None
        self.emit(MirrorProgress("checking", index, count, entry.name))
        previous = self.existing.get(entry.item_id)
        found = self._unchanged(previous, expected_sha, item_size)
        if found is not None:
            entry.status, entry.verified = PRESENT, True
            file_doc, archive = found
        else:
            file_doc = dict(self.client.package_file(entry.item_id, entry.name))
            expected_sha = expected_sha or str(file_doc.get("sha512") or "").lower()
            archive = self._fetch(entry, file_doc, expected_sha, item_size, index, count)
        self.claimed[archive] = entry.item_id
        entry.file_name = archive.name
        entry.path = archive.relative_to(self.dest).as_posix()
        entry.size = archive.stat().st_size
        entry.sha512 = expected_sha or file_sha512(archive)
        self._write_sidecar(item, file_doc, archive, previous, self.releases.get(entry.item_id))

    def _unchanged(self, previous: tuple[Path, dict[str, Any]] | None, expected_sha: str,
                   size: int | None) -> tuple[dict[str, Any], Path] | None:
        """(file document, archive) when the same upstream package is already complete here:
        then no request at all is needed."""
        if previous is None or not expected_sha:
            return None
        archive, doc = previous
        files = doc.get("files")
        if (str((doc.get("meta") or {}).get("sha512") or "").lower() == expected_sha
                and isinstance(files, list) and files and isinstance(files[0], dict)
                and archive not in self.claimed and _verify(archive, size, expected_sha)):
            return dict(files[0]), archive
        return None

    def _archive_path(self, item_id: str, file_doc: Mapping[str, Any]) -> Path:
        """Where the package goes: its file name in DEST, or under ``<item id>/`` when another
        item already has that name."""
        file_name = _safe_file_name(str(file_doc.get("name") or ""), f"{item_id}.tar.gz")
        archive = self.dest / file_name
        owner = self.claimed.get(archive)
        if owner is None and archive.is_file():
            on_disk = next((iid for iid, (path, _) in self.existing.items() if path == archive), None)
            owner = on_disk if on_disk not in (None, item_id) else None
        if owner is not None and owner != item_id:
            archive = self.dest / item_id / file_name  # two items with one file name: keep both
        return archive

    def _fetch(self, entry: MirroredItem, file_doc: Mapping[str, Any], expected_sha: str, item_size: int | None,
               index: int, count: int) -> Path:
        size = file_doc.get("size") if isinstance(file_doc.get("size"), int) else item_size
        archive = self._archive_path(entry.item_id, file_doc)
        if _verify(archive, size, expected_sha):
            entry.status, entry.verified = PRESENT, bool(expected_sha)
            return archive
        archive.parent.mkdir(parents=True, exist_ok=True)

        def on_bytes(done: int, total: int | None) -> bool | None:
            self.emit(MirrorProgress("downloading", index, count, entry.name, archive.name, done, total))
            return None

        result = self.client.download_file(str(file_doc["_id"]), archive, resume=True, expected_sha512=expected_sha,
                                           expected_size=size, progress=on_bytes, cancel=self.cancel,
                                           label=entry.name)
        entry.status, entry.verified, entry.resumed = DOWNLOADED, result.verified, result.resumed
        if size is not None and result.size != size:
            archive.unlink(missing_ok=True)
            raise ExtensionManagerError(
                f"The download of {entry.name} has {result.size} bytes where the server announced {size}; "
                "it was deleted.")
        return archive

    def _write_sidecar(self, item: Mapping[str, Any], file_doc: Mapping[str, Any], archive: Path,
                       previous: tuple[Path, dict[str, Any]] | None, release: str | None) -> None:
        sidecar_doc: dict[str, Any] = dict(item)
        sidecar_doc["files"] = [file_doc]
        if release:
            sidecar_doc["release"] = release
        current = previous[1] if previous is not None and previous[0] == archive else None
        if current != sidecar_doc:
            atomic_write_json(archive.with_name(archive.name + ".json"), sidecar_doc)
        if previous is not None and previous[0] != archive and previous[0] not in self.claimed:
            # The upstream item got a new package: drop the superseded one.
            previous[0].unlink(missing_ok=True)
            previous[0].with_name(previous[0].name + ".json").unlink(missing_ok=True)
