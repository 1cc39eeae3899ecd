"""The folder tree the plugin keeps for an application (reference §2.4)::

    <app>/draft/<app_revision>/extensions/<extension items>
    <app>/draft/<app_revision>/<application package items>
    <app>/<release>/extensions/<extension items>
    <app>/<release>/<application package items>

Folders are created at their oldest item, so natural (creation) order is the order of
their oldest items' ``created`` dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from .documents import (
    APPLICATION_PACKAGE_TEMPLATE_NAME,
    DRAFT_DESCRIPTION,
    DRAFT_RELEASE_NAME,
    EXTENSION_PACKAGE_TEMPLATE_NAME,
    EXTENSIONS_FOLDER_DESCRIPTION,
    EXTENSIONS_FOLDER_NAME,
    AppIds,
    folder_doc,
    iso,
    object_id_time,
)
from .items import IndexedPackage

#: (release name or None for draft, draft revision or "" for a release) -> its packages.
_Groups = Dict[Tuple[Optional[str], str], List[IndexedPackage]]


@dataclass
class Folder:
    doc: dict[str, Any]
    role: str  # "app" | "draft" | "draft_revision" | "release" | "extensions"
    children: list[str] = field(default_factory=list)  # child folder ids, natural order


def build_folders(ids: AppIds, app_name: str, packages: list[IndexedPackage],
                  warn: Callable[[str], None]) -> dict[str, Folder]:
    """The folders of the tree by id; sets every package's ``item["folderId"]`` and adds the
    items' sizes to their folder's ``size``."""
    app_created = iso(object_id_time(ids.app_id))
    app = folder_doc(ids, ids.app_id, app_name, ids.packages_folder_id, app_created, meta={
        "applicationPackageNameTemplate": APPLICATION_PACKAGE_TEMPLATE_NAME,
        "extensionPackageNameTemplate": EXTENSION_PACKAGE_TEMPLATE_NAME,
    })
    draft = folder_doc(ids, ids.draft_folder_id, DRAFT_RELEASE_NAME, ids.app_id, app_created,
                       description=DRAFT_DESCRIPTION)
    folders = {ids.app_id: Folder(app, "app", [ids.draft_folder_id]), ids.draft_folder_id: Folder(draft, "draft")}
    release_revisions = _release_revisions(packages, warn)
    for (release, revision), pkgs in sorted(_groups(packages).items(),
                                            key=lambda kv: (_oldest(kv[1]), kv[0][0] or "", kv[0][1])):
        if release is None:
            parent_id, folder_id, role = ids.draft_folder_id, ids.draft_revision_folder_id(revision), "draft_revision"
            doc = folder_doc(ids, folder_id, revision, parent_id, _oldest(pkgs), meta={"revision": revision})
        else:
            parent_id, folder_id, role = ids.app_id, ids.release_folder_id(release), "release"
            doc = folder_doc(ids, folder_id, release, parent_id, _oldest(pkgs),
                             meta={"revision": release_revisions[release]})
        folders[folder_id] = Folder(doc, role)
        folders[parent_id].children.append(folder_id)
        _place(doc, [p for p in pkgs if p.kind == "application"])
        extensions = [p for p in pkgs if p.kind == "extension"]
        if extensions:
            ext_id = ids.extensions_folder_id(folder_id)
            ext_doc = folder_doc(ids, ext_id, EXTENSIONS_FOLDER_NAME, folder_id, _oldest(extensions),
                                 description=EXTENSIONS_FOLDER_DESCRIPTION)
            folders[ext_id] = Folder(ext_doc, "extensions")
            folders[folder_id].children.append(ext_id)
            _place(ext_doc, extensions)
    return folders


def _groups(packages: list[IndexedPackage]) -> _Groups:
    groups: _Groups = {}
    for pkg in packages:
        groups.setdefault((pkg.release, pkg.folder_revision if pkg.release is None else ""), []).append(pkg)
    return groups


def _release_revisions(packages: list[IndexedPackage], warn: Callable[[str], None]) -> dict[str, str]:
    """The app revision of each release: that of its first package (the others are warned about)."""
    revisions: dict[str, str] = {}
    for pkg in packages:
        if pkg.release is None:
            continue
        revision = revisions.setdefault(pkg.release, pkg.folder_revision)
        if revision != pkg.folder_revision:
            warn(f"{pkg.relpath}: release {pkg.release!r} already has revision {revision}, "
                 f"not {pkg.folder_revision}")
    return revisions


def _oldest(pkgs: list[IndexedPackage]) -> str:
    return min(p.item["created"] for p in pkgs)


def _place(folder: dict[str, Any], pkgs: list[IndexedPackage]) -> None:
    for pkg in pkgs:
        pkg.item["folderId"] = folder["_id"]
        folder["size"] += pkg.size
