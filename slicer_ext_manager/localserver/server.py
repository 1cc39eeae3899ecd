"""An offline, read-only Slicer Package Manager (Girder) server over a folder of packages.

Point an unmodified Slicer at it with
``SLICER_EXTENSIONS_MANAGER_SERVER_URL=http://127.0.0.1:PORT``; our own client, the
catalog web app's API calls, ``slicer-download.sh`` and the plugin's Python client
(read commands) work too. Standard library only (``http.server.ThreadingHTTPServer``,
one daemon thread per connection, so concurrent downloads never block each other).

Usage::

    with PackageServer("/srv/slicer-packages", port=0) as server:
        requests.get(server.url + "/api/v1/app/5f4474d0e1d8c75dfc705482/extension?limit=0")

Endpoints (``GET`` and ``HEAD``, under ``/api/v1``; ``//`` is collapsed, unknown
parameters are ignored, a repeated parameter is a 400 like Girder)::

    /app                              ?app_id= ?name= ?text= ?collection_id= + paging
    /app/{app_id}/extension           all filters of reference §3.5 + paging
    /app/{app_id}/release             ?release_id_or_name= + paging
    /app/{app_id}/draft               ?revision= + paging
    /app/{app_id}/package             reference §3.7 + paging
    /app/{app_id}/downloadstats
    /item/{id}  /item/{id}/files  /item/{id}/download
    /file/{id}  /file/{id}/download  /file/{id}/download/{name}
    /file/hashsum/sha512/{hash}  /file/hashsum/sha512/{hash}/download
    /folder/{id}  /resource/{id}?type=item|file|folder  /system/version  /user/me

Deliberate differences from the production server (documented, small):

* ``arch=arm64`` is **accepted**, as by plugin 0.11 (Slicer on Apple silicon reports
  it); other values get its 400 message (``Allowed values: i386, amd64, arm64.``).
  ``strict_arch=True`` behaves like plugin 0.10 (``Allowed values: i386, amd64.``).
* An unsatisfiable ``Range`` (or ``offset`` at/after the end) gets a 416 with
  ``Content-Range: bytes */<size>`` (CherryPy's answer) instead of Girder's full body.
* An unknown but valid application id on ``/release``, ``/draft`` and
  ``/downloadstats`` gets 400 ``Invalid folder id (…).`` (production raises a 500).
* A path under an unknown resource (``/api/v1/nope``) gets a JSON 404
  ``No matching route for "GET /api/v1/nope"``; under a known resource Girder's
  400 ``No matching route for "GET <rest of path>"``.
* Every write request (POST/PUT/PATCH/DELETE) gets 401
  ``{"message": "You must be logged in.", "type": "access"}`` (read-only server);
  ``POST /api_key/token`` gets 400 ``API key functionality is disabled on this instance.``

Documents: plugin endpoints and ``/resource`` return raw item/folder documents
(with ``lowerName``); ``/item/{id}`` and ``/folder/{id}`` return Girder's filtered
view (``_modelType``, no ``lowerName``/``access``), like Girder's ``filtermodel``.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as _dt
import json
import logging
import re
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, TextIO

from .index import (
    DEFAULT_APP_ID,
    DRAFT_RELEASE_NAME,
    EXTENSIONS_FOLDER_NAME,
    IndexedPackage,
    PackageIndex,
    is_object_id,
)

log = logging.getLogger(__name__)

__all__ = ["ApiError", "FaultRule", "Faults", "PackageServer", "serve_command", "GIRDER_VERSION"]

#: The Girder version we imitate (reference §1).
GIRDER_VERSION = "3.1.24"
OS_VALUES = ("linux", "win", "macosx")
ARCH_VALUES = ("i386", "amd64")  # production enum (shown in error messages)
EXTRA_ARCH_VALUES = ("arm64",)  # accepted unless strict_arch
TIER_COMPARE_VALUES = ("exact", "lte", "gte")
CHUNK_SIZE = 64 * 1024
_KNOWN_RESOURCES = ("app", "item", "file", "folder", "resource", "system", "user", "api_key", "collection")


# ------------------------------------------------------------------------------------------------
# fault injection


@dataclasses.dataclass
class FaultRule:
    """One injected fault. ``pattern`` is a regex searched in the request path
    (``//`` collapsed, no query string, e.g. ``/api/v1/file/<id>/download``).

    ``kind``: ``"error"`` (answer ``status`` with a Girder error body), ``"malformed"``
    (200 with truncated JSON), ``"delay"`` (sleep ``seconds`` before answering, or
    after every download chunk with ``per_chunk``), ``"drop"`` (send the headers and
    ``after_bytes`` body bytes, then close the connection). ``times`` matching
    requests are affected (``None`` = all); ``hits`` counts them.
    """

    kind: str
    pattern: str
    times: int | None = 1
    status: int = 500
    seconds: float = 0.0
    per_chunk: bool = False
    after_bytes: int = 0
    method: str | None = None
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("error", "malformed", "delay", "drop"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        self._regex = re.compile(self.pattern)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return bool(self._regex.search(path))

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


class Faults:
    """A small, thread-safe set of :class:`FaultRule` for tests of other modules.

    ::

        faults = Faults()
        server = PackageServer(folder, faults=faults).start()
        faults.error(r"/extension$", status=503, times=2)   # next 2 listings fail
        faults.malformed_json(r"/item/[0-9a-f]+/files")
        faults.delay(r"/download", 1.5)                     # next download waits 1.5 s
        faults.delay(r"/download", 0.05, per_chunk=True, times=None)  # slow every download
        faults.drop(r"/download", after_bytes=1000)         # truncated stream
        faults.clear()

    A ``delay`` combines with the first other matching rule; rules are tried in the
    order they were added.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def error(self, pattern: str, *, status: int = 500, times: int | None = 1, method: str | None = None) -> FaultRule:
        return self.add(FaultRule("error", pattern, times=times, status=status, method=method))

    def malformed_json(self, pattern: str, *, times: int | None = 1, method: str | None = None) -> FaultRule:
        return self.add(FaultRule("malformed", pattern, times=times, method=method))

    def delay(self, pattern: str, seconds: float, *, times: int | None = 1, per_chunk: bool = False,
              method: str | None = None) -> FaultRule:
        return self.add(FaultRule("delay", pattern, times=times, seconds=seconds, per_chunk=per_chunk, method=method))

    def drop(self, pattern: str, after_bytes: int = 0, *, times: int | None = 1,
             method: str | None = None) -> FaultRule:
        return self.add(FaultRule("drop", pattern, times=times, after_bytes=after_bytes, method=method))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def take(self, method: str, path: str) -> tuple[FaultRule | None, FaultRule | None]:
        """Consume the rules for one request: (delay rule or None, other rule or None)."""
        delay = other = None
        with self._lock:
            for rule in self.rules:
                if rule.exhausted or not rule.matches(method, path):
                    continue
                if rule.kind == "delay":
                    if delay is None:
                        delay = rule
                        rule.hits += 1
                elif other is None:
                    other = rule
                    rule.hits += 1
        return delay, other


# ------------------------------------------------------------------------------------------------
# errors and parameters


class ApiError(Exception):
    """An error answered as Girder does: ``{"message", "type"[, "field"]}`` with an HTTP status."""

    def __init__(self, message: str, status: int = 400, type: str = "rest", field: str | None = None,
                 headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "type": type}
        if field is not None:
            self.body["field"] = field
        self.headers = dict(headers or {})


def _invalid_object_id(value: str) -> ApiError:
    return ApiError(f"Invalid ObjectId: {value}", type="validation", field="id")


def _require_object_id(value: str) -> str:
    if not is_object_id(value):
        raise _invalid_object_id(value)
    return value.lower()


def _int_param(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    if name not in params:
        return default
    try:
        return int(params[name])
    except ValueError:
        raise ApiError(f"Invalid value for integer parameter {name}: {params[name]}.") from None


def _enum_param(params: Mapping[str, str], name: str, allowed: Iterable[str], *, shown: Iterable[str] | None = None,
                default: str | None = None) -> str | None:
    if name not in params:
        return default
    value = params[name]
    if value not in tuple(allowed):
        shown_values = ", ".join(shown if shown is not None else allowed)
        raise ApiError(f'Invalid value for {name}: "{value}". Allowed values: {shown_values}.')
    return value


def _paging(params: Mapping[str, str], default_sort: str | None, default_dir: int,
            default_limit: int = 50) -> tuple[int, int, str | None, int]:
    limit = _int_param(params, "limit", default_limit)
    offset = _int_param(params, "offset", 0)
    sort = params["sort"].strip() if "sort" in params else default_sort
    sortdir = _int_param(params, "sortdir", default_dir)
    if sortdir not in (1, -1):
        raise ApiError(f'Invalid value for sortdir: "{sortdir}". Allowed values: 1, -1.')
    return abs(limit or 0), max(offset or 0, 0), sort, sortdir  # Mongo: negative limit = abs


_MISSING = object()


def _get_field(doc: Mapping[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return _MISSING
    return node


def _bson_key(value: Any) -> tuple:
    """Mongo's cross-type sort order (missing/null < numbers < strings < objects < arrays < booleans)."""
    if value is _MISSING or value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (5, value)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, Mapping):
        return (3, json.dumps(value, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return (4, json.dumps(value, sort_keys=True))
    return (6, str(value))


def _sorted(docs: list[dict[str, Any]], sort: str | None, sortdir: int) -> list[dict[str, Any]]:
    if not sort:
        return list(docs)
    return sorted(docs, key=lambda d: _bson_key(_get_field(d, sort)), reverse=sortdir == -1)


def _page(docs: list[dict[str, Any]], limit: int, offset: int, sort: str | None, sortdir: int) -> list[dict[str, Any]]:
    docs = _sorted(docs, sort, sortdir)
    return docs[offset:offset + limit] if limit else docs[offset:]


def _filter_item(doc: dict[str, Any]) -> dict[str, Any]:
    """Girder's ``Item().filter()`` at READ level (what ``GET /item/{id}`` returns)."""
    keys = ("_id", "size", "updated", "description", "created", "meta", "creatorId", "folderId", "name",
            "baseParentType", "baseParentId", "copyOfItem")
    out = {k: doc[k] for k in keys if k in doc}
    out["_modelType"] = "item"
    return out


def _filter_folder(doc: dict[str, Any]) -> dict[str, Any]:
    """Girder's ``Folder().filter()`` for an anonymous user on a public folder."""
    keys = ("_id", "name", "public", "publicFlags", "description", "created", "updated", "size", "meta",
            "parentId", "parentCollection", "creatorId", "baseParentType", "baseParentId")
    out = {k: doc[k] for k in keys if k in doc}
    out["_modelType"] = "folder"
    out["_accessLevel"] = 0
    return out


def _content_disposition(filename: str, disposition: str) -> str:
    """Girder's ``setContentDisposition``."""
    safe = filename.encode("latin-1", "ignore").decode("latin-1").replace("\\", "\\\\").replace('"', '\\"')
    utf8 = urllib.parse.quote(filename.encode("utf-8", "ignore"))
    value = f'{disposition}; filename="{safe}"'
    if safe != utf8:
        value += f"; filename*=UTF-8''{utf8}"
    return value


def get_ranges(header: str | None, content_length: int) -> list[tuple[int, int]] | None:
    """CherryPy's ``httputil.get_ranges``: ``[(start, stop_exclusive), ...]``, ``[]`` = unsatisfiable
    (416), None = no usable Range header (serve everything)."""
    if not header:
        return None
    try:
        unit, ranges = header.split("=", 1)
    except ValueError:
        return None
    if unit.strip().lower() != "bytes":
        return None
    result: list[tuple[int, int]] = []
    for brange in ranges.split(","):
        try:
            start_s, stop_s = (x.strip() for x in brange.split("-", 1))
        except ValueError:
            return None
        try:
            if start_s:
                stop = int(stop_s) if stop_s else content_length - 1
                start = int(start_s)
                if start >= content_length:
                    continue
                if stop < start:
                    return None
                result.append((start, stop + 1))
            else:
                if not stop_s:
                    return None
                n = int(stop_s)
                result.append((0, content_length) if n > content_length else (content_length - n, content_length))
        except ValueError:
            return None
    return result


# ------------------------------------------------------------------------------------------------
# responses


@dataclasses.dataclass
class _Json:
    body: Any
    status: int = 200
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Download:
    pkg: IndexedPackage


# ------------------------------------------------------------------------------------------------
# the API (pure functions of the index and the parameters)


class _Api:
    def __init__(self, server: "PackageServer"):
        self.server = server

    # routing ------------------------------------------------------------------------------

    def dispatch(self, idx: PackageIndex, method: str, parts: list[str], params: dict[str, str]):
        if not parts:
            raise ApiError(f'No matching route for "{method} /api/v1"', status=404)
        resource, rest = parts[0], parts[1:]
        if resource not in _KNOWN_RESOURCES:
            raise ApiError(f'No matching route for "{method} /api/v1/{"/".join(parts)}"', status=404)
        if method != "GET":
            if resource == "api_key" and rest == ["token"] and method == "POST":
                raise ApiError("API key functionality is disabled on this instance.")
            raise ApiError("You must be logged in.", status=401, type="access")
        handler = self._match(resource, rest)
        if handler is None:
            raise ApiError(f'No matching route for "{method} {"/".join(rest)}"')
        fn, kwargs = handler
        return fn(idx, params, **kwargs)

    def _match(self, resource: str, rest: list[str]) -> tuple[Callable, dict[str, str]] | None:
        routes: dict[str, list[tuple[tuple[str, ...], Callable]]] = {
            "app": [((), self.list_app), ((":app_id", "extension"), self.list_extensions),
                    ((":app_id", "release"), self.list_releases), ((":app_id", "draft"), self.list_drafts),
                    ((":app_id", "package"), self.list_packages),
                    ((":app_id", "downloadstats"), self.download_stats)],
            "item": [((":id",), self.get_item), ((":id", "files"), self.item_files),
                     ((":id", "download"), self.item_download)],
            "file": [(("hashsum", ":algo", ":hash"), self.files_by_hash),
                     (("hashsum", ":algo", ":hash", "download"), self.download_by_hash),
                     ((":id",), self.get_file), ((":id", "download"), self.file_download),
                     ((":id", "download", ":name"), self.file_download)],
            "folder": [((":id",), self.get_folder)],
            "resource": [((":id",), self.get_resource)],
            "system": [(("version",), self.system_version)],
            "user": [(("me",), self.user_me)],
        }
        for pattern, fn in routes.get(resource, []):
            if len(pattern) != len(rest):
                continue
            kwargs: dict[str, str] = {}
            for token, part in zip(pattern, rest):
                if token.startswith(":"):
                    kwargs[token[1:]] = part
                elif token != part:
                    break
            else:
                return fn, kwargs
        return None

    # helpers ------------------------------------------------------------------------------

    @staticmethod
    def _load_app(idx: PackageIndex, app_id: str) -> dict[str, Any]:
        app_id = _require_object_id(app_id)
        if app_id != idx.app_id:
            raise ApiError(f"Invalid folder id ({app_id}).")
        return idx.app_folder()

    # /app ---------------------------------------------------------------------------------

    def list_app(self, idx: PackageIndex, p: dict[str, str]):
        limit, offset, sort, sortdir = _paging(p, "name", 1)
        app_id = p.get("app_id")
        if is_object_id(app_id):
            return _Json(idx.app_folder() if app_id.lower() == idx.app_id else None)
        collection_id = p.get("collection_id")
        if collection_id:
            if not is_object_id(collection_id):
                raise _invalid_object_id(collection_id)
            if collection_id.lower() != idx.collection_id:
                raise ApiError(f"No such collection: {collection_id}", type="validation", field="id")
        elif offset:
            return _Json([])  # quirk: the "Applications" lookup itself is offset (reference §3.4)
        apps = [idx.app_folder()]
        if p.get("name"):
            apps = [a for a in apps if a["name"] == p["name"]]
        if p.get("text"):
            words = [w.lower() for w in p["text"].split()]
            apps = [a for a in apps if any(w in (a["name"] + " " + a["description"]).lower().split() for w in words)]
        return _Json(_page(apps, limit, offset, sort, sortdir))

    def list_extensions(self, idx: PackageIndex, p: dict[str, str], app_id: str):
        arch_allowed = ARCH_VALUES if self.server.strict_arch else ARCH_VALUES + EXTRA_ARCH_VALUES
        extension_name = p.get("extension_name")
        release_id = p.get("release_id")
        extension_id = p.get("extension_id")
        os_ = _enum_param(p, "os", OS_VALUES)
        arch = _enum_param(p, "arch", arch_allowed)
        app_revision = p.get("app_revision")
        base_name = p.get("baseName")
        q = p.get("q")
        tier = _int_param(p, "tier", None)
        tier_compare = _enum_param(p, "tier_compare", TIER_COMPARE_VALUES, default="lte")
        limit, offset, sort, sortdir = _paging(p, "created", -1)
        _require_object_id(app_id)

        items = [i for i in idx.extension_items(copy_docs=False) if i["meta"].get("app_id") == app_id]
        if extension_name:
            items = [i for i in items if i["lowerName"] == extension_name.lower()]
        if is_object_id(extension_id):
            items = [i for i in items if i["_id"] == extension_id.lower()]
        if os_:
            items = [i for i in items if i["meta"].get("os") == os_]
        if arch:
            items = [i for i in items if i["meta"].get("arch") == arch]
        if app_revision:
            items = [i for i in items if i["meta"].get("app_revision") == app_revision]
        if base_name:
            items = [i for i in items if i["meta"].get("baseName") == base_name]
        if q:
            rx = re.compile(re.escape(q), re.IGNORECASE)
            items = [i for i in items if any(isinstance(i["meta"].get(k), str) and rx.search(i["meta"][k])
                                             for k in ("baseName", "description", "keywords"))]
        if tier is not None:
            def tier_ok(value: Any) -> bool:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    return False
                return {"exact": value == tier, "lte": value <= tier, "gte": value >= tier}[tier_compare]

            items = [i for i in items if tier_ok(i["meta"].get("tier"))]

        if is_object_id(release_id):
            release = idx.folder(release_id.lower())
            if release is None:
                raise ApiError(f"Invalid folder id ({release_id}).")
            if release["name"] == DRAFT_RELEASE_NAME:
                if app_revision:
                    revisions = [f for f in idx.child_folders(release["_id"])
                                 if f["meta"].get("revision") == app_revision]
                    if revisions:
                        ext = [f for f in idx.child_folders(revisions[0]["_id"]) if f["name"] == EXTENSIONS_FOLDER_NAME]
                        if ext:
                            items = [i for i in items if i["folderId"] == ext[0]["_id"]]
                else:
                    # plugin 0.10: concatenate per draft revision (folders and items in `sort` order),
                    # global offset/limit; limit=0 returns [] (reference §3.5 quirks).
                    if not limit:
                        return _Json([])
                    combined: list[dict[str, Any]] = []
                    for rev in _sorted(idx.child_folders(release["_id"]), sort, sortdir):
                        ext = [f for f in idx.child_folders(rev["_id"]) if f["name"] == EXTENSIONS_FOLDER_NAME]
                        if ext:
                            combined += _sorted([i for i in items if i["folderId"] == ext[0]["_id"]], sort, sortdir)
                    return _Json(combined[offset:offset + limit])
            else:
                ext = [f for f in idx.child_folders(release["_id"]) if f["name"] == EXTENSIONS_FOLDER_NAME]
                if not ext:
                    return _Json([])
                items = [i for i in items if i["folderId"] == ext[0]["_id"]]
        return _Json(_page(items, limit, offset, sort, sortdir))

    def list_releases(self, idx: PackageIndex, p: dict[str, str], app_id: str):
        release_id_or_name = p.get("release_id_or_name")
        limit, offset, sort, sortdir = _paging(p, "created", -1)
        _require_object_id(app_id)
        if is_object_id(release_id_or_name):
            return _Json(idx.folder(release_id_or_name.lower()))
        app = self._load_app(idx, app_id)
        children = idx.child_folders(app["_id"])
        if release_id_or_name:
            found = [f for f in children if f["lowerName"] == release_id_or_name.lower()]
            return _Json(found[0] if found else None)
        return _Json(_page([f for f in children if f["name"] != DRAFT_RELEASE_NAME], limit, offset, sort, sortdir))

    def list_drafts(self, idx: PackageIndex, p: dict[str, str], app_id: str):
        revision = p.get("revision")
        limit, offset, sort, sortdir = _paging(p, "created", -1)
        self._load_app(idx, app_id)
        folders = idx.child_folders(idx.draft_folder_id)
        if revision:
            folders = [f for f in folders if f["meta"].get("revision") == revision]
        else:
            folders = [f for f in folders if "revision" in f["meta"]]
        return _Json(_page(folders, limit, offset, sort, sortdir))

    def list_packages(self, idx: PackageIndex, p: dict[str, str], app_id: str):
        package_name = p.get("package_name")
        release_id_or_name = p.get("release_id_or_name")
        package_id = p.get("package_id")
        os_ = _enum_param(p, "os", OS_VALUES)
        arch_allowed = ARCH_VALUES if self.server.strict_arch else ARCH_VALUES + EXTRA_ARCH_VALUES
        arch = _enum_param(p, "arch", arch_allowed)
        revision = p.get("revision")
        base_name = p.get("baseName")
        limit, offset, sort, sortdir = _paging(p, "created", -1)

        items = [i for i in idx.application_items(copy_docs=False) if i["meta"].get("app_id") == app_id]
        if package_name:
            items = [i for i in items if i["lowerName"] == package_name.lower()]
        if is_object_id(package_id):
            items = [i for i in items if i["_id"] == package_id.lower()]
        if os_:
            items = [i for i in items if i["meta"].get("os") == os_]
        if arch:
            items = [i for i in items if i["meta"].get("arch") == arch]
        if revision:
            items = [i for i in items if i["meta"].get("revision") == revision]
        if base_name:
            items = [i for i in items if i["meta"].get("baseName") == base_name]

        release = None
        if is_object_id(release_id_or_name):
            release = idx.folder(release_id_or_name.lower())
        elif release_id_or_name:
            app = self._load_app(idx, app_id)
            found = [f for f in idx.child_folders(app["_id"]) if f["lowerName"] == release_id_or_name.lower()]
            release = found[0] if found else None
        if release is not None:
            if release["name"] == DRAFT_RELEASE_NAME:
                revisions = idx.child_folders(release["_id"])
                if revision:
                    match = [f for f in revisions if f["meta"].get("revision") == revision]
                    if match:
                        items = [i for i in items if i["folderId"] == match[0]["_id"]]
                else:
                    packages: list[dict[str, Any]] = []
                    limit_tmp = limit
                    for rev in revisions:  # natural order; per-folder offset/limit (plugin quirk)
                        batch = _sorted([i for i in items if i["folderId"] == rev["_id"]], sort, sortdir)
                        packages += batch[offset:offset + limit_tmp] if limit_tmp else batch[offset:]
                        if limit == 0:
                            continue
                        limit_tmp = limit - len(packages)
                        if limit_tmp <= 0:
                            break
                    return _Json(packages)
            else:
                items = [i for i in items if i["folderId"] == release["_id"]]
        return _Json(_page(items, limit, offset, sort, sortdir))

    def download_stats(self, idx: PackageIndex, p: dict[str, str], app_id: str):
        self._load_app(idx, app_id)
        return _Json(idx.download_stats())

    # items, files, folders ----------------------------------------------------------------

    @staticmethod
    def _item_pkg(idx: PackageIndex, item_id: str) -> IndexedPackage:
        pkg = idx.package_for_item(_require_object_id(item_id))
        if pkg is None:
            raise ApiError(f"Invalid item id ({item_id}).")
        return pkg

    @staticmethod
    def _file_pkg(idx: PackageIndex, file_id: str) -> IndexedPackage:
        pkg = idx.package_for_file(_require_object_id(file_id))
        if pkg is None:
            raise ApiError(f"Invalid file id ({file_id}).")
        return pkg

    def get_item(self, idx: PackageIndex, p: dict[str, str], id: str):
        return _Json(_filter_item(idx.item(self._item_pkg(idx, id).item_id)))  # type: ignore[arg-type]

    def item_files(self, idx: PackageIndex, p: dict[str, str], id: str):
        limit, offset, sort, sortdir = _paging(p, "name", 1)
        pkg = self._item_pkg(idx, id)
        files = idx.files_of_item(pkg.item_id)
        return _Json(_page(files, limit, offset, sort, sortdir), headers={"Girder-Total-Count": str(len(files))})

    def item_download(self, idx: PackageIndex, p: dict[str, str], id: str):
        return _Download(self._item_pkg(idx, id))

    def get_file(self, idx: PackageIndex, p: dict[str, str], id: str):
        return _Json(idx.file(self._file_pkg(idx, id).file_id))

    def file_download(self, idx: PackageIndex, p: dict[str, str], id: str, name: str | None = None):
        return _Download(self._file_pkg(idx, id))

    @staticmethod
    def _check_hash(algo: str) -> None:
        if algo != "sha512":
            raise ApiError(f'Invalid value for algo: "{algo}". Allowed values: sha512.')

    def files_by_hash(self, idx: PackageIndex, p: dict[str, str], algo: str, hash: str):
        self._check_hash(algo)
        return _Json([idx.file(pkg.file_id) for pkg in idx.packages_by_sha512(hash)])

    def download_by_hash(self, idx: PackageIndex, p: dict[str, str], algo: str, hash: str):
        self._check_hash(algo)
        found = idx.packages_by_sha512(hash)
        if not found:
            raise ApiError(f"No file with {algo} hash {hash} found.")
        return _Download(found[0])

    def get_folder(self, idx: PackageIndex, p: dict[str, str], id: str):
        doc = idx.folder(_require_object_id(id))
        if doc is None:
            raise ApiError(f"Invalid folder id ({id}).")
        return _Json(_filter_folder(doc))

    def get_resource(self, idx: PackageIndex, p: dict[str, str], id: str):
        kind = p.get("type")
        if kind is None:
            raise ApiError('Parameter "type" is required.')
        if kind not in ("item", "file", "folder"):
            raise ApiError(f"Invalid resource type: {kind}.")
        _require_object_id(id)
        # Girder requires site-admin access for this route, and this server has no users.
        raise ApiError("Administrator access required.", status=401, type="access")

    def system_version(self, idx: PackageIndex, p: dict[str, str]):
        return _Json({"apiVersion": GIRDER_VERSION, "release": GIRDER_VERSION,
                      "serverStartDate": self.server.start_date})

    def user_me(self, idx: PackageIndex, p: dict[str, str]):
        return _Json(None)


# ------------------------------------------------------------------------------------------------
# HTTP plumbing


class _DropConnection(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    # Headers and body are written separately: without TCP_NODELAY every request after the
    # first on a keep-alive connection waits ~40 ms (Nagle + delayed ACK).
    disable_nagle_algorithm = True
    server_version = "CherryPy/18.6.1"
    sys_version = ""

    @property
    def owner(self) -> "PackageServer":
        return self.server.package_server  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- main -----------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        owner = self.owner
        uid = str(uuid.uuid4())
        split = urllib.parse.urlsplit(self.path)
        path = re.sub(r"/{2,}", "/", split.path) or "/"
        self._drop_budget: int | None = None
        self._headers_sent = False
        self._chunk_delay = 0.0
        self._discard_body()
        owner._log_request(method, path, split.query)
        try:
            delay, fault = owner.faults.take(method, path) if owner.faults is not None else (None, None)
            if delay is not None:
                if delay.per_chunk:
                    self._chunk_delay = delay.seconds
                else:
                    time.sleep(delay.seconds)
            if fault is not None:
                if fault.kind == "error":
                    raise ApiError(f"Injected fault (HTTP {fault.status}).", status=fault.status, type="girder")
                if fault.kind == "drop":
                    self._drop_budget = max(0, fault.after_bytes)
            result = self._route(method, path, split.query)
            if fault is not None and fault.kind == "malformed":
                self._send_raw(200, b'{"_id": "5f4474d0e1d8c75dfc705482", "meta": {"trunc', "application/json",
                               uid, method)
                return
            if isinstance(result, _Download):
                self._send_download(result.pkg, self._params(split.query), uid, method)
            else:
                self._send_json(result.status, result.body, uid, method, result.headers)
        except ApiError as exc:
            self._send_json(exc.status, exc.body, uid, method, exc.headers)
        except _DropConnection:
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            self.close_connection = True
        except Exception as exc:  # pragma: no cover - a bug: answer like Girder's internal error
            log.exception("Internal error on %s %s", method, path)
            if self._headers_sent:
                self.close_connection = True
                return
            try:
                self._send_json(500, {"message": f"{type(exc).__name__}: {exc}", "type": "girder"}, uid, method)
            except OSError:
                self.close_connection = True

    def _discard_body(self) -> None:
        length = self.headers.get("Content-Length")
        if length:
            try:
                remaining = int(length)
            except ValueError:
                self.close_connection = True
                return
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, CHUNK_SIZE))
                if not chunk:
                    break
                remaining -= len(chunk)
        elif self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True  # we do not read chunked bodies; do not reuse the connection

    @staticmethod
    def _params(query: str) -> dict[str, str]:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        params: dict[str, str] = {}
        for key, value in pairs:
            if key in params:
                raise ApiError(f'Parameter "{key}" must not be specified multiple times.')
            params[key] = value
        return params

    def _route(self, method: str, path: str, query: str):
        params = self._params(query)
        if path in ("/", ""):
            return _Json({"message": "Slicer package server (read-only Girder API under /api/v1).",
                          "api_url": "/api/v1"})
        if path.rstrip("/") == "/api/v1" and method in ("GET", "HEAD"):
            return _Json({"message": "Slicer Package Manager API (read-only)", "girder": GIRDER_VERSION})
        if not path.startswith("/api/v1/"):
            raise ApiError(f'No matching route for "{method} {path}"', status=404)
        parts = [urllib.parse.unquote(p) for p in path[len("/api/v1/"):].split("/")]
        while parts and parts[-1] == "":
            parts.pop()
        api_method = "GET" if method == "HEAD" else method
        return self.owner._api.dispatch(self.owner.index, api_method, parts, params)

    # -- writers --------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self._drop_budget is not None:
            if len(data) >= self._drop_budget:
                self.wfile.write(data[:self._drop_budget])
                raise _DropConnection()
            self._drop_budget -= len(data)
        self.wfile.write(data)

    def _common_headers(self, uid: str) -> None:
        self.send_header("Girder-Request-Uid", uid)
        self.send_header("Date", self.date_time_string())

    def _send_raw(self, status: int, body: bytes, content_type: str, uid: str, method: str,
                  headers: Mapping[str, str] | None = None) -> None:
        self.send_response_only(status)
        self.send_header("Server", self.server_version)
        self._common_headers(uid)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self._headers_sent = True
        if method != "HEAD":
            self._write(body)
        self.wfile.flush()

    def _send_json(self, status: int, body: Any, uid: str, method: str,
                   headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body, sort_keys=True, allow_nan=False).encode("utf-8")
        self._send_raw(status, data, "application/json", uid, method, headers)

    def _send_download(self, pkg: IndexedPackage, params: dict[str, str], uid: str, method: str) -> None:
        idx = self.owner.index
        offset = _int_param(params, "offset", 0) or 0
        end_byte = _int_param(params, "endByte", None)
        disposition = _enum_param(params, "contentDisposition", ("inline", "attachment"), default="attachment")
        size = pkg.size
        range_header = self.headers.get("Range")
        ranges = get_ranges(range_header, size)
        if ranges == [] or (ranges is None and size and offset >= size):
            raise ApiError("Requested Range Not Satisfiable", status=416,
                           headers={"Content-Range": f"bytes */{size}"})
        if ranges:
            offset, end_byte = ranges[0]  # only one range is supported (like Girder)
        offset = max(offset, 0)
        if end_byte is None or end_byte > size:
            end_byte = size
        length = max(end_byte - offset, 0)
        try:
            fh = idx.open_file(pkg)
        except (OSError, ValueError) as exc:
            raise ApiError(f"Cannot read the package file: {exc}", status=500, type="girder") from None
        completes = end_byte >= size  # Girder counts when the stream reaches EOF (reference §4)
        stats = idx.stats
        completing = False
        try:
            with fh:
                self.send_response_only(206 if (size and (offset or end_byte < size or range_header)) else 200)
                self.send_header("Server", self.server_version)
                self._common_headers(uid)
                self.send_header("Content-Type", pkg.file.get("mimeType") or "application/octet-stream")
                self.send_header("Content-Disposition",
                                 _content_disposition(pkg.file["name"], disposition or "attachment"))
                self.send_header("Content-Length", str(length))
                self.send_header("Accept-Ranges", "bytes")
                if size and (offset or end_byte < size or range_header):
                    self.send_header("Content-Range", f"bytes {offset}-{end_byte - 1}/{size}")
                if method != "HEAD" and completes and length == 0:
                    stats.begin_completion()
                    completing = True
                self.end_headers()
                self._headers_sent = True
                if method == "HEAD":
                    self.wfile.flush()
                    return
                fh.seek(offset)
                remaining = length
                while remaining > 0:
                    chunk = fh.read(min(CHUNK_SIZE, remaining))
                    if not chunk:  # the file shrank under us: the response cannot be completed
                        raise _DropConnection()
                    if completes and not completing and len(chunk) >= remaining:
                        stats.begin_completion()  # readers of the statistics wait for us from here
                        completing = True
                    self._write(chunk)
                    remaining -= len(chunk)
                    if self._chunk_delay and remaining > 0:
                        self.wfile.flush()
                        time.sleep(self._chunk_delay)
                self.wfile.flush()
            if completes:
                idx.record_download(pkg)
        finally:
            if completing:
                stats.end_completion()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:  # quieter than the default traceback dump
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            return
        log.exception("Error handling a request from %s", client_address)


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


# ------------------------------------------------------------------------------------------------
# the public server


class PackageServer:
    """A read-only Slicer Package Manager server over ``directory`` (see the module docstring).

    ``faults``: a :class:`Faults` to inject errors (tests). ``strict_arch``: reject
    ``arch=arm64`` like production. The index is built at construction; call
    :meth:`rescan` after adding packages. :attr:`requests` records
    ``(method, path, query)`` of the last 10000 requests received (for tests).
    """

    def __init__(
        self,
        directory: str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        app_id: str = DEFAULT_APP_ID,
        app_name: str = "Slicer",
        state_dir: str | Path | None = None,
        faults: Faults | None = None,
        *,
        strict_arch: bool = False,
    ):
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self.app_id = app_id
        self.app_name = app_name
        self.state_dir = state_dir
        self.faults = faults
        self.strict_arch = strict_arch
        self.requests: collections.deque[tuple[str, str, str]] = collections.deque(maxlen=10000)
        self._requests_lock = threading.Lock()
        self._scan_lock = threading.Lock()
        self._index = PackageIndex.scan(self.directory, app_id=app_id, app_name=app_name, state_dir=state_dir)
        self._api = _Api(self)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.start_date = _dt.datetime.now(_dt.timezone.utc).isoformat()

    # -- index ------------------------------------------------------------------------------

    @property
    def index(self) -> PackageIndex:
        return self._index

    def rescan(self) -> PackageIndex:
        """Re-walk the directory (cached hashes make it fast) and serve the new index; statistics carry over."""
        with self._scan_lock:
            self._index = PackageIndex.scan(self.directory, app_id=self.app_id, app_name=self.app_name,
                                            state_dir=self.state_dir, stats=self._index.stats)
        return self._index

    def _log_request(self, method: str, path: str, query: str) -> None:
        with self._requests_lock:
            self.requests.append((method, path, query))

    # -- lifecycle --------------------------------------------------------------------------

    def _bind(self) -> _HTTPServer:
        if self._httpd is None:
            cls = _HTTPServer6 if ":" in self.host else _HTTPServer
            self._httpd = cls((self.host, self.port), _Handler)
            self._httpd.package_server = self  # type: ignore[attr-defined]
            self.port = self._httpd.server_address[1]
        return self._httpd

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the loopback address when bound to all interfaces)."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "[::1]"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/v1"

    def start(self) -> "PackageServer":
        """Serve in a background daemon thread; returns self."""
        if self._thread is not None:
            return self
        httpd = self._bind()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"PackageServer:{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until Ctrl+C (or :meth:`stop` from another thread)."""
        httpd = self._bind()
        try:
            httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            httpd.server_close()
            self._httpd = None

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd, self._thread = None, None
        if httpd is not None:
            if thread is not None:
                httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> "PackageServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _summary_lines(index: PackageIndex) -> list[str]:
    counts = index.summary()
    n_ext = sum(n for (kind, *_), n in counts.items() if kind == "extension")
    n_app = sum(n for (kind, *_), n in counts.items() if kind == "application")
    lines = [f"Indexed {n_ext} extension package{'s' if n_ext != 1 else ''}"
             f" and {n_app} application package{'s' if n_app != 1 else ''}"
             f" for application \"{index.app_name}\" ({index.app_id})."]
    for (kind, revision, os_, arch), n in counts.items():
        what = "extension" if kind == "extension" else "application package"
        lines.append(f"  revision {revision:<8} {os_}/{arch:<6} {n} {what}{'s' if n != 1 else ''}")
    return lines


def serve_command(
    directory: str | Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    app_id: str = DEFAULT_APP_ID,
    app_name: str = "Slicer",
    state_dir: str | Path | None = None,
    *,
    strict_arch: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``slicer-ext-manager serve DIR``: index, print a summary and how to point Slicer at it,
    then serve until Ctrl+C. Returns the process exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        server = PackageServer(directory, host=host, port=port, app_id=app_id, app_name=app_name,
                               state_dir=state_dir, strict_arch=strict_arch)
    except (NotADirectoryError, FileNotFoundError) as exc:
        print(f"Cannot serve {directory}: {exc}", file=err)
        return 2
    except ValueError as exc:
        print(f"Cannot serve {directory}: {exc}", file=err)
        return 2
    try:
        server._bind()
    except OSError as exc:
        print(f"Cannot listen on {host}:{port}: {exc.strerror or exc}", file=err)
        return 1
    for warning in server.index.warnings:
        print(f"warning: {warning}", file=err)
    print(f"Serving {server.index.directory} at {server.url} (read-only Slicer Package Manager API).", file=out)
    for line in _summary_lines(server.index):
        print(line, file=out)
    print("Point Slicer at it with:", file=out)
    print(f"  SLICER_EXTENSIONS_MANAGER_SERVER_URL={server.url}", file=out)
    print("Press Ctrl+C to stop.", file=out)
    out.flush()
    server.serve_forever()
    print("Stopped.", file=out)
    return 0
