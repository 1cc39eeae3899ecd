"""The read-only Girder / Slicer Package Manager API over a :class:`~.index.PackageIndex`:
routes and endpoints (see :mod:`.server` for the list and the deliberate differences).

Endpoints are pure functions of the index and the parameters: they return a
:class:`Json` answer or a :class:`Download` (sent by :mod:`.handler`), or raise
:class:`~.query.ApiError`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Dict, List, Tuple

from ..conventions import ARCH_NAMES, OS_NAMES, SERVER_ARCH_ENUM
from .documents import (
    DRAFT_RELEASE_NAME,
    EXTENSIONS_FOLDER_NAME,
    filter_folder,
    filter_item,
    is_object_id,
)
from .index import PackageIndex
from .items import IndexedPackage
from .query import (
    ApiError,
    enum_param,
    int_param,
    invalid_object_id,
    page,
    paging,
    require_object_id,
    sort_docs,
)

#: The Girder version we imitate (reference §1).
GIRDER_VERSION = "3.1.24"
TIER_COMPARE_VALUES = ("exact", "lte", "gte")
#: Top-level resources: a path under another one is a 404, under one of these a 400 (like Girder).
KNOWN_RESOURCES = ("app", "item", "file", "folder", "resource", "system", "user", "api_key", "collection")

Params = Dict[str, str]
Docs = List[Dict[str, Any]]
_Route = Tuple[Tuple[str, ...], Callable[..., Any]]


@dataclasses.dataclass
class Json:
    body: Any
    status: int = 200
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Download:
    pkg: IndexedPackage


@dataclasses.dataclass
class Page:
    """A static answer (the catalog web page and its files)."""

    body: bytes
    content_type: str
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


class Api:
    """The endpoints. ``strict_arch`` refuses ``arch=arm64`` like plugin 0.10 (production);
    ``start_date`` is answered by ``/system/version``."""

    def __init__(self, *, strict_arch: bool = False, start_date: str = ""):
        extra = () if strict_arch else tuple(a for a in ARCH_NAMES if a not in SERVER_ARCH_ENUM)
        self.arch_values = SERVER_ARCH_ENUM + extra
        self.start_date = start_date
        self._routes: dict[str, list[_Route]] = {
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

    # -- routing -------------------------------------------------------------------------------

    def dispatch(self, idx: PackageIndex, method: str, parts: list[str], params: Params) -> Json | Download:
        """Answer ``method /api/v1/<parts...>`` (``HEAD`` is given as ``GET``)."""
        if not parts:
            raise ApiError(f'No matching route for "{method} /api/v1"', status=404)
        resource, rest = parts[0], parts[1:]
        if resource not in KNOWN_RESOURCES:
            raise ApiError(f'No matching route for "{method} /api/v1/{"/".join(parts)}"', status=404)
        for pattern, endpoint in self._routes.get(resource, []):
            kwargs = _match(pattern, rest)
            if kwargs is not None:
                return endpoint(idx, params, **kwargs)
        raise ApiError(f'No matching route for "{method} {"/".join(rest)}"')

    # -- /app ----------------------------------------------------------------------------------

    def list_app(self, idx: PackageIndex, p: Params) -> Json:
        limit, offset, sort, sortdir = paging(p, "name", 1)
        app_id = p.get("app_id")
        if is_object_id(app_id):
            return Json(idx.app_folder() if app_id.lower() == idx.app_id else None)
        collection_id = p.get("collection_id")
        if collection_id:
            if not is_object_id(collection_id):
                raise invalid_object_id(collection_id)
            if collection_id.lower() != idx.collection_id:
                raise ApiError(f"No such collection: {collection_id}", type="validation", field="id")
        elif offset:
            return Json([])  # quirk: the "Applications" lookup itself is offset (reference §3.4)
        apps = [idx.app_folder()]
        if p.get("name"):
            apps = [a for a in apps if a["name"] == p["name"]]
        if p.get("text"):
            words = [w.lower() for w in p["text"].split()]
            apps = [a for a in apps if any(w in (a["name"] + " " + a["description"]).lower().split() for w in words)]
        return Json(page(apps, limit, offset, sort, sortdir))

    def list_extensions(self, idx: PackageIndex, p: Params, app_id: str) -> Json:
        # Parameters are validated in the plugin's order, so the first bad one is the one reported.
        enum_param(p, "os", OS_NAMES)
        enum_param(p, "arch", self.arch_values)
        tier = int_param(p, "tier", None)
        tier_compare = enum_param(p, "tier_compare", TIER_COMPARE_VALUES, default="lte")
        limit, offset, sort, sortdir = paging(p, "created", -1)
        require_object_id(app_id)
        items = [i for i in idx.extension_items(copy_docs=False) if i["meta"].get("app_id") == app_id]
        items = _by_name_and_id(items, p.get("extension_name"), p.get("extension_id"))
        items = _by_meta(items, p, ("os", "arch", "app_revision", "baseName"))
        if p.get("q"):
            rx = re.compile(re.escape(p["q"]), re.IGNORECASE)
            items = [i for i in items if any(isinstance(i["meta"].get(k), str) and rx.search(i["meta"][k])
                                             for k in ("baseName", "description", "keywords"))]
        if tier is not None:
            items = [i for i in items if _tier_matches(i["meta"].get("tier"), tier, str(tier_compare))]
        release_id = p.get("release_id")
        if is_object_id(release_id):
            return self._extensions_in_release(idx, items, release_id, p.get("app_revision"),
                                               (limit, offset, sort, sortdir))
        return Json(page(items, limit, offset, sort, sortdir))

    @staticmethod
    def _extensions_in_release(idx: PackageIndex, items: Docs, release_id: str, app_revision: str | None,
                               paged: tuple[int, int, str | None, int]) -> Json:
        limit, offset, sort, sortdir = paged
        release = idx.folder(release_id.lower())
        if release is None:
            raise ApiError(f"Invalid folder id ({release_id}).")
        if release["name"] != DRAFT_RELEASE_NAME:
            ext = _extensions_folder(idx, release["_id"])
            return Json(page([i for i in items if i["folderId"] == ext["_id"]], *paged) if ext else [])
        if app_revision:
            revisions = [f for f in idx.child_folders(release["_id"]) if f["meta"].get("revision") == app_revision]
            ext = _extensions_folder(idx, revisions[0]["_id"]) if revisions else None
            if ext:
                items = [i for i in items if i["folderId"] == ext["_id"]]
            return Json(page(items, *paged))
        # plugin 0.10: concatenate per draft revision (folders and items in `sort` order),
        # global offset/limit; limit=0 returns [] (reference §3.5 quirks).
        if not limit:
            return Json([])
        combined: Docs = []
        for rev in sort_docs(idx.child_folders(release["_id"]), sort, sortdir):
            ext = _extensions_folder(idx, rev["_id"])
            if ext:
                combined += sort_docs([i for i in items if i["folderId"] == ext["_id"]], sort, sortdir)
        return Json(combined[offset:offset + limit])

    def list_releases(self, idx: PackageIndex, p: Params, app_id: str) -> Json:
        release_id_or_name = p.get("release_id_or_name")
        limit, offset, sort, sortdir = paging(p, "created", -1)
        require_object_id(app_id)
        if is_object_id(release_id_or_name):
            return Json(idx.folder(release_id_or_name.lower()))
        children = idx.child_folders(_load_app(idx, app_id)["_id"])
        if release_id_or_name:
            found = [f for f in children if f["lowerName"] == release_id_or_name.lower()]
            return Json(found[0] if found else None)
        return Json(page([f for f in children if f["name"] != DRAFT_RELEASE_NAME], limit, offset, sort, sortdir))

    def list_drafts(self, idx: PackageIndex, p: Params, app_id: str) -> Json:
        revision = p.get("revision")
        limit, offset, sort, sortdir = paging(p, "created", -1)
        _load_app(idx, app_id)
        folders = idx.child_folders(idx.draft_folder_id)
        if revision:
            folders = [f for f in folders if f["meta"].get("revision") == revision]
        else:
            folders = [f for f in folders if "revision" in f["meta"]]
        return Json(page(folders, limit, offset, sort, sortdir))

    def list_packages(self, idx: PackageIndex, p: Params, app_id: str) -> Json:
        enum_param(p, "os", OS_NAMES)
        enum_param(p, "arch", self.arch_values)
        paged = paging(p, "created", -1)
        items = [i for i in idx.application_items(copy_docs=False) if i["meta"].get("app_id") == app_id]
        items = _by_name_and_id(items, p.get("package_name"), p.get("package_id"))
        items = _by_meta(items, p, ("os", "arch", "revision", "baseName"))
        release_id_or_name = p.get("release_id_or_name")
        release = None
        if is_object_id(release_id_or_name):
            release = idx.folder(release_id_or_name.lower())
        elif release_id_or_name:
            found = [f for f in idx.child_folders(_load_app(idx, app_id)["_id"])
                     if f["lowerName"] == release_id_or_name.lower()]
            release = found[0] if found else None
        if release is None:
            return Json(page(items, *paged))
        if release["name"] != DRAFT_RELEASE_NAME:
            return Json(page([i for i in items if i["folderId"] == release["_id"]], *paged))
        return Json(_packages_in_draft(idx, items, release, p.get("revision"), paged))

    def download_stats(self, idx: PackageIndex, p: Params, app_id: str) -> Json:
        _load_app(idx, app_id)
        return Json(idx.download_stats())

    # -- items, files, folders -----------------------------------------------------------------

    def get_item(self, idx: PackageIndex, p: Params, id: str) -> Json:
        return Json(filter_item(idx.item(_item_package(idx, id).item_id)))  # type: ignore[arg-type]

    def item_files(self, idx: PackageIndex, p: Params, id: str) -> Json:
        limit, offset, sort, sortdir = paging(p, "name", 1)
        files = idx.files_of_item(_item_package(idx, id).item_id)
        return Json(page(files, limit, offset, sort, sortdir), headers={"Girder-Total-Count": str(len(files))})

    def item_download(self, idx: PackageIndex, p: Params, id: str) -> Download:
        return Download(_item_package(idx, id))

    def get_file(self, idx: PackageIndex, p: Params, id: str) -> Json:
        return Json(idx.file(_file_package(idx, id).file_id))

    def file_download(self, idx: PackageIndex, p: Params, id: str, name: str | None = None) -> Download:
        return Download(_file_package(idx, id))

    def files_by_hash(self, idx: PackageIndex, p: Params, algo: str, hash: str) -> Json:
        _check_hash(algo)
        return Json([idx.file(pkg.file_id) for pkg in idx.packages_by_sha512(hash)])

    def download_by_hash(self, idx: PackageIndex, p: Params, algo: str, hash: str) -> Download:
        _check_hash(algo)
        found = idx.packages_by_sha512(hash)
        if not found:
            raise ApiError(f"No file with {algo} hash {hash} found.")
        return Download(found[0])

    def get_folder(self, idx: PackageIndex, p: Params, id: str) -> Json:
        doc = idx.folder(require_object_id(id))
        if doc is None:
            raise ApiError(f"Invalid folder id ({id}).")
        return Json(filter_folder(doc))

    def get_resource(self, idx: PackageIndex, p: Params, id: str) -> Json:
        kind = p.get("type")
        if kind is None:
            raise ApiError('Parameter "type" is required.')
        if kind not in ("item", "file", "folder"):
            raise ApiError(f"Invalid resource type: {kind}.")
        require_object_id(id)
        # Girder requires site-admin access for this route, and this server has no users.
        raise ApiError("Administrator access required.", status=401, type="access")

    def system_version(self, idx: PackageIndex, p: Params) -> Json:
        return Json({"apiVersion": GIRDER_VERSION, "release": GIRDER_VERSION, "serverStartDate": self.start_date})

    def user_me(self, idx: PackageIndex, p: Params) -> Json:
        return Json(None)


# ------------------------------------------------------------------------------------------------
# helpers


def _match(pattern: tuple[str, ...], rest: list[str]) -> dict[str, str] | None:
    """The ``:name`` values of ``rest`` matched against ``pattern``, or None."""
    if len(pattern) != len(rest):
        return None
    kwargs: dict[str, str] = {}
    for token, part in zip(pattern, rest):
        if token.startswith(":"):
            kwargs[token[1:]] = part
        elif token != part:
            return None
    return kwargs


def _load_app(idx: PackageIndex, app_id: str) -> dict[str, Any]:
    app_id = require_object_id(app_id)
    if app_id != idx.app_id:
        raise ApiError(f"Invalid folder id ({app_id}).")
    return idx.app_folder()


def _by_name_and_id(items: Docs, name: str | None, object_id: str | None) -> Docs:
    """The plugin's ``*_name`` (case-insensitive item name) and ``*_id`` filters (an invalid id is ignored)."""
    if name:
        items = [i for i in items if i["lowerName"] == name.lower()]
    if is_object_id(object_id):
        items = [i for i in items if i["_id"] == object_id.lower()]
    return items


def _by_meta(items: Docs, p: Params, keys: tuple[str, ...]) -> Docs:
    """Exact ``meta.<key> == p[key]`` filters for the given (non-empty) parameters."""
    for key in keys:
        value = p.get(key)
        if value:
            items = [i for i in items if i["meta"].get(key) == value]
    return items


def _tier_matches(value: Any, tier: int, compare: str) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return {"exact": value == tier, "lte": value <= tier, "gte": value >= tier}[compare]


def _extensions_folder(idx: PackageIndex, folder_id: str) -> dict[str, Any] | None:
    return next((f for f in idx.child_folders(folder_id) if f["name"] == EXTENSIONS_FOLDER_NAME), None)


def _packages_in_draft(idx: PackageIndex, items: Docs, draft: dict[str, Any], revision: str | None,
                       paged: tuple[int, int, str | None, int]) -> Docs:
    limit, offset, sort, sortdir = paged
    revisions = idx.child_folders(draft["_id"])
    if revision:
        match = [f for f in revisions if f["meta"].get("revision") == revision]
        if match:
            items = [i for i in items if i["folderId"] == match[0]["_id"]]
        return page(items, *paged)
    packages: Docs = []
    remaining = limit
    for rev in revisions:  # natural order; per-folder offset/limit (plugin quirk)
        batch = sort_docs([i for i in items if i["folderId"] == rev["_id"]], sort, sortdir)
        packages += batch[offset:offset + remaining] if remaining else batch[offset:]
        if limit:
            remaining = limit - len(packages)
            if remaining <= 0:
                break
    return packages


def _item_package(idx: PackageIndex, item_id: str) -> IndexedPackage:
    pkg = idx.package_for_item(require_object_id(item_id))
    if pkg is None:
        raise ApiError(f"Invalid item id ({item_id}).")
    return pkg


def _file_package(idx: PackageIndex, file_id: str) -> IndexedPackage:
    pkg = idx.package_for_file(require_object_id(file_id))
    if pkg is None:
        raise ApiError(f"Invalid file id ({file_id}).")
    return pkg


def _check_hash(algo: str) -> None:
    if algo != "sha512":
        raise ApiError(f'Invalid value for algo: "{algo}". Allowed values: sha512.')
