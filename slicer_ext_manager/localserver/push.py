"""``slicer-ext-manager mirror push``: upload a mirror folder (made by ``mirror pull``, or any
folder ``serve`` can serve) into a real Slicer Package Manager server, for sites that run
the real server on their air-gapped network. Qt-free.

What it does, against the server's own API (reference ``slicer-package-server-api.md`` §3, §5.2):

1. finds the application (``--app-id``, else ``GET /app?name=``) and creates it when missing
   (``POST /app``); creates the release folders the packages need (``POST /app/{id}/release``:
   ``--release NAME`` for the mirror's revision, and the releases recorded in the mirror's sidecars);
2. for each package, looks for the item the server already has for that build
   (``GET /app/{id}/extension|package`` with ``app_revision``/``revision``, ``os``, ``arch``):
   same ``meta.sha512`` = **present** (nothing is sent); none = **uploaded**
   (``POST /app/{id}/extension|package`` with the metadata the Slicer build system sends,
   taken from the mirror's item, then the file); another file = **replaced** (the official
   client's update flow: new file, metadata again, old file deleted, new one renamed);
3. uploads files with Girder's chunked upload (``POST /file``, then ``POST /file/chunk`` with
   increasing ``offset``). The upload id is kept in ``<DIR>/.slicer-ext-manager-push/uploads.json``
   until the file is complete, so an interrupted push continues where the server stopped
   (``GET /file/offset``) instead of starting again.

Every item gets the metadata the real upload gives it, so the real client and Slicer list
the pushed items exactly as the upstream ones (``meta.sha512`` is set by the server itself).

Unmodified Slicer asks for the application id ``5f4474d0e1d8c75dfc705482`` (hard-coded), and
Girder chooses folder ids itself: see ``docs/site-deployment.md`` for what a site does about it
(:data:`APP_ID_NOTE`).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import requests

from ..conventions import DEFAULT_APP_ID, DEFAULT_APP_NAME
from ..errors import CancelledError, ExtensionManagerError, ServerError
from ..server import SlicerPackagesClient
from .files import atomic_write_json
from .index import PackageIndex
from .items import EXTENSION_OPTIONAL_KEYS, IndexedPackage
from .mirrorreport import now

log = logging.getLogger(__name__)

__all__ = ["APP_ID_NOTE", "PushProgress", "PushReport", "PushedItem", "push_mirror"]

#: Bytes per ``POST /file/chunk`` (the official client sends up to 64 MiB).
DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
#: Girder refuses chunks (but the last) smaller than ``core.upload_minimum_chunk_size`` (default 5 MiB).
MIN_CHUNK_SIZE = 5 * 1024 * 1024
STATE_DIR_NAME = ".slicer-ext-manager-push"
_UPLOADS_FILE = "uploads.json"
UPLOADED, PRESENT, REPLACED, FAILED, CANCELLED = "uploaded", "present", "replaced", "failed", "cancelled"
APP_ID_NOTE = (f"unmodified Slicer only asks for the application id {DEFAULT_APP_ID}; Girder gave this "
               "application another id, so point Slicers at it through a server whose application has that id "
               "(create it with scripts/create-slicer-app.py, then push with --app-id "
               f"{DEFAULT_APP_ID}) — see docs/site-deployment.md.")
_EXTENSION_REQUIRED = ("os", "arch", "baseName", "repository_type", "repository_url", "revision", "app_revision",
                       "description")
_PACKAGE_REQUIRED = ("os", "arch", "baseName", "repository_type", "repository_url", "revision", "version")


@dataclass(frozen=True)
class PushProgress:
    """``phase``: ``"uploading"`` (``done``/``total`` bytes) or ``"done"`` (with ``status``)."""

    phase: str
    index: int = 0
    count: int = 0
    name: str = ""
    done: int = 0
    total: int = 0
    status: str = ""


@dataclass
class PushedItem:
    name: str
    kind: str  # "extension" | "application"
    revision: str  # app revision of an extension, revision of an application package
    os: str
    arch: str
    file_name: str
    size: int
    status: str = ""
    item_id: str = ""
    resumed_from: int = 0  # bytes the server already had from an interrupted push
    sent: int = 0  # bytes sent by this run
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "revision": self.revision, "os": self.os, "arch": self.arch,
                "file_name": self.file_name, "size": self.size, "status": self.status,
                "item_id": self.item_id or None, "resumed_from": self.resumed_from, "sent": self.sent,
                "error": self.error or None}


@dataclass
class PushReport:
    source: Path
    server_url: str
    app_name: str
    app_id: str = ""
    app_created: bool = False
    releases_created: list[str] = field(default_factory=list)
    items: list[PushedItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    started: str = ""
    finished: str = ""
    cancelled: bool = False

    def with_status(self, *statuses: str) -> list[PushedItem]:
        return [i for i in self.items if i.status in statuses]

    @property
    def ok(self) -> bool:
        return not self.cancelled and not self.with_status(FAILED, CANCELLED)

    @property
    def slicer_can_use(self) -> bool:
        """Whether unmodified Slicer finds this application (its id is the hard-coded one)."""
        return self.app_id == DEFAULT_APP_ID

    def to_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source), "server_url": self.server_url, "app_name": self.app_name,
            "app_id": self.app_id, "app_created": self.app_created, "releases_created": self.releases_created,
            "started": self.started, "finished": self.finished, "ok": self.ok, "cancelled": self.cancelled,
            "uploaded": [i.name for i in self.with_status(UPLOADED)],
            "replaced": [i.name for i in self.with_status(REPLACED)],
            "present": [i.name for i in self.with_status(PRESENT)],
            "failed": [{"name": i.name, "error": i.error} for i in self.with_status(FAILED, CANCELLED)],
            "bytes_sent": sum(i.sent for i in self.items),
            "slicer_can_use": self.slicer_can_use,
            "app_id_note": None if self.slicer_can_use else APP_ID_NOTE,
            "warnings": list(self.warnings), "items": [i.to_json() for i in self.items],
        }


def push_mirror(client: SlicerPackagesClient, directory: str | os.PathLike[str], *,
                app_name: str = DEFAULT_APP_NAME, app_id: str | None = None, release: str | None = None,
                progress: Callable[[PushProgress], bool | None] | None = None,
                chunk_size: int = DEFAULT_CHUNK_SIZE) -> PushReport:
    """Push the packages of ``directory`` (see the module docstring). Raises
    :class:`~slicer_ext_manager.errors.ExtensionManagerError` (one sentence) when the folder,
    the application or a release cannot be prepared; a failing package is reported per item."""
    source = Path(directory).expanduser().resolve()
    index = PackageIndex.scan(source, state_dir=source / STATE_DIR_NAME / "index")
    report = PushReport(source, client.server_url, app_name, started=now())
    report.warnings.extend(index.warnings)
    push = _Push(client, index, report, progress, chunk_size)
    push.prepare(app_id, release)
    try:
        for number, pkg in enumerate(index.packages, 1):
            push.push(pkg, number, len(index.packages))
    except CancelledError:
        report.cancelled = True
        for item in report.items:
            if not item.status:
                item.status, item.error = CANCELLED, "The push was cancelled."
    report.finished = now()
    return report


class _Push:
    def __init__(self, client: SlicerPackagesClient, index: PackageIndex, report: PushReport,
                 progress: Callable[[PushProgress], bool | None] | None, chunk_size: int):
        self.client, self.index, self.report = client, index, report
        self.progress = progress
        self.chunk_size = max(MIN_CHUNK_SIZE, int(chunk_size))
        self.uploads_path = index.directory / STATE_DIR_NAME / _UPLOADS_FILE
        self.existing: dict[tuple[str, ...], dict[tuple[str, str, str], dict[str, Any]]] = {}
        self.report.items = [_pushed_item(p) for p in index.packages]

    # -- requests ---------------------------------------------------------------------------------

    def call(self, method: str, path: str, params: Mapping[str, Any] | None = None, data: bytes | None = None) -> Any:
        """One API request (not retried when it writes); its JSON answer."""
        client = self.client
        url = client.url(path)
        client.request_count += 1
        headers = {"Content-Type": "application/octet-stream"} if data is not None else {}
        try:
            response = client.session.request(method, url, params=dict(params or {}), data=data, headers=headers,
                                              timeout=client.options.timeout)
        except (requests.exceptions.RequestException, OSError) as exc:
            raise client.unreachable(url, exc) from exc
        if response.status_code >= 400:
            raise client.status_error(response, path)
        try:
            return response.json()
        except ValueError:
            return None

    # -- application and releases -----------------------------------------------------------------

    def prepare(self, app_id: str | None, release: str | None) -> None:
        client, report = self.client, self.report
        client.authenticate()
        if app_id:
            app = self.call("GET", "/app", {"app_id": app_id})
            if not isinstance(app, dict):
                raise ExtensionManagerError(
                    f"The server {client.server_url} has no application with id {app_id}; create it first "
                    "(see docs/site-deployment.md) or leave out --app-id to push into the application named "
                    f"{report.app_name!r}.")
        else:
            found = [a for a in self.call("GET", "/app", {"name": report.app_name, "limit": 0}) or []
                     if isinstance(a, dict) and a.get("name") == report.app_name]
            app = found[0] if found else self.call("POST", "/app", {
                "name": report.app_name, "app_description": "Pushed by slicer-ext-manager mirror push"})
            report.app_created = not found
        report.app_id = str(app["_id"])
        report.app_name = str(app.get("name") or report.app_name)
        client.app_id = report.app_id
        self._releases(release)

    def _releases(self, release: str | None) -> None:
        wanted: dict[str, str] = {}
        for pkg in self.index.packages:
            if pkg.release:
                wanted.setdefault(pkg.release, pkg.folder_revision)
        if release:
            revisions = sorted({p.folder_revision for p in self.index.packages if p.kind == "extension"}
                               or {p.folder_revision for p in self.index.packages})
            if len(revisions) != 1:
                raise ExtensionManagerError(
                    f"--release {release} needs a mirror of one Slicer revision, but {self.index.directory} holds "
                    f"{', '.join(revisions) or 'none'}; push each revision's folder separately.")
            wanted[release] = revisions[0]
        existing = {str(r.get("lowerName") or "").lower(): r
                    for r in self.call("GET", f"/app/{self.report.app_id}/release", {"limit": 0}) or []}
        for name, revision in wanted.items():
            found = existing.get(name.lower())
            if found is None:
                self.call("POST", f"/app/{self.report.app_id}/release", {"name": name, "app_revision": revision})
                self.report.releases_created.append(name)
            elif str((found.get("meta") or {}).get("revision")) != revision:
                self.report.warnings.append(f"The release {name} on the server is for revision "
                                            f"{(found.get('meta') or {}).get('revision')}, not {revision}; the "
                                            f"packages of {revision} go to the draft folder.")

    # -- one package ------------------------------------------------------------------------------

    def emit(self, event: PushProgress) -> None:
        if self.progress is not None and self.progress(event) is False:
            raise CancelledError("The push was cancelled.")

    def push(self, pkg: IndexedPackage, number: int, count: int) -> None:
        entry = self.report.items[number - 1]
        try:
            self._push(pkg, entry, number, count)
        except CancelledError:
            raise
        except (ExtensionManagerError, OSError) as exc:
            entry.status, entry.error = FAILED, str(exc)
            log.info("Pushing %s failed: %s", pkg.relpath, exc)
        self.emit(PushProgress("done", number, count, entry.name, entry.size, entry.size, entry.status))

    def _push(self, pkg: IndexedPackage, entry: PushedItem, number: int, count: int) -> None:
        meta = pkg.item["meta"]
        current = self._existing(pkg).get((str(meta["baseName"]), str(meta["os"]), str(meta["arch"])))
        files = self.call("GET", f"/item/{current['_id']}/files", {"limit": 0}) if current else []
        if current and files and str((current.get("meta") or {}).get("sha512")) == pkg.sha512:
            entry.status, entry.item_id = PRESENT, str(current["_id"])
            return
        if current and not files:  # an earlier push created the item and was interrupted
            item_id, status = str(current["_id"]), UPLOADED
            self._upload(pkg, item_id, pkg.file["name"], entry, number, count)
        elif current:
            item_id, status = str(current["_id"]), REPLACED
            new = self._upload(pkg, item_id, "new_file", entry, number, count)
            self._post_metadata(pkg)
            for old in files:
                self.call("DELETE", f"/file/{old['_id']}")
            self.call("PUT", f"/file/{new['_id']}", {"name": pkg.file["name"]})
        else:
            item_id, status = str(self._post_metadata(pkg)["_id"]), UPLOADED
            self._upload(pkg, item_id, pkg.file["name"], entry, number, count)
        entry.status, entry.item_id = status, item_id

    def _existing(self, pkg: IndexedPackage) -> dict[tuple[str, str, str], dict[str, Any]]:
        """The server's items of the package's build, by (baseName, os, arch) (listed once per build)."""
        meta = pkg.item["meta"]
        key = (pkg.kind, pkg.folder_revision, str(meta["os"]), str(meta["arch"]))
        if key not in self.existing:
            if pkg.kind == "extension":
                path, params = "extension", {"app_revision": pkg.folder_revision}
            else:
                path, params = "package", {"revision": pkg.folder_revision}
            listed = self.call("GET", f"/app/{self.report.app_id}/{path}",
                               {**params, "os": meta["os"], "arch": meta["arch"], "limit": 0}) or []
            self.existing[key] = {(str(i["meta"].get("baseName")), str(i["meta"].get("os")),
                                   str(i["meta"].get("arch"))): i for i in reversed(listed)}  # newest wins
        return self.existing[key]

    def _post_metadata(self, pkg: IndexedPackage) -> dict[str, Any]:
        meta = pkg.item["meta"]
        if pkg.kind == "extension":
            params = {k: str(meta.get(k, "")) for k in _EXTENSION_REQUIRED}
            for key in EXTENSION_OPTIONAL_KEYS:
                value = meta.get(key)
                if value not in (None, ""):
                    params[key] = str(value).lower() if isinstance(value, bool) else str(value)
            return self.call("POST", f"/app/{self.report.app_id}/extension", params)
        params = {k: str(meta.get(k, "")) for k in _PACKAGE_REQUIRED}
        params["description"] = str(pkg.item.get("description") or "")
        if meta.get("build_date"):
            params["build_date"] = str(meta["build_date"])
        if meta.get("pre_release") is not None:
            params["pre_release"] = "true" if meta["pre_release"] else "false"
        return self.call("POST", f"/app/{self.report.app_id}/package", params)

    # -- resumable upload -------------------------------------------------------------------------

    def _uploads(self) -> dict[str, Any]:
        try:
            data = json.loads(self.uploads_path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _remember(self, key: str, value: dict[str, Any] | None) -> None:
        uploads = self._uploads()
        if value is None:
            uploads.pop(key, None)
        else:
            uploads[key] = value
        atomic_write_json(self.uploads_path, uploads)

    def _upload(self, pkg: IndexedPackage, item_id: str, name: str, entry: PushedItem, number: int,
                count: int) -> dict[str, Any]:
        """Girder's chunked upload of the package into ``item_id`` (resumed when possible); the file document."""
        key = f"{self.client.server_url}|{item_id}|{pkg.sha512}"
        offset, upload_id = self._resume(self._uploads().get(key))
        if upload_id is None:
            upload = self.call("POST", "/file", {"parentType": "item", "parentId": item_id, "name": name,
                                                 "size": pkg.size, "mimeType": "application/octet-stream"})
            if pkg.size == 0:
                return upload
            upload_id, offset = str(upload["_id"]), 0
            self._remember(key, {"upload_id": upload_id, "file": pkg.relpath})
        entry.resumed_from = offset
        result: Any = None
        with self.index.open_file(pkg) as fh:
            fh.seek(offset)
            while offset < pkg.size:
                self.emit(PushProgress("uploading", number, count, entry.name, offset, pkg.size))
                chunk = fh.read(min(self.chunk_size, pkg.size - offset))
                if not chunk:
                    raise ExtensionManagerError(f"{pkg.relpath} shrank while it was uploaded; push again.")
                result = self.call("POST", "/file/chunk", {"offset": offset, "uploadId": upload_id}, data=chunk)
                offset += len(chunk)
                entry.sent += len(chunk)
        self._remember(key, None)
        if not isinstance(result, dict) or result.get("_modelType") != "file":
            raise ExtensionManagerError(f"The server did not finish the upload of {pkg.file['name']}; push again.")
        return result

    def _resume(self, saved: Any) -> tuple[int, str | None]:
        """(offset the server has, upload id) of an interrupted upload, else (0, None)."""
        if not isinstance(saved, dict) or not saved.get("upload_id"):
            return 0, None
        try:
            answer = self.call("GET", "/file/offset", {"uploadId": saved["upload_id"]})
        except ServerError:
            return 0, None  # the server dropped the upload: start again
        offset = answer.get("offset") if isinstance(answer, dict) else None
        return (int(offset), str(saved["upload_id"])) if isinstance(offset, int) else (0, None)


def _pushed_item(pkg: IndexedPackage) -> PushedItem:
    meta = pkg.item["meta"]
    name = str(meta.get("baseName"))
    if pkg.kind == "application":
        name = f"{name} {meta.get('version') or ''} (r{pkg.folder_revision})".replace("  ", " ")
    return PushedItem(name, pkg.kind, pkg.folder_revision, str(meta.get("os")), str(meta.get("arch")),
                      pkg.file["name"], pkg.size)
