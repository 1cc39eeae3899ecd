"""One package file -> its Girder item and file documents (:class:`IndexedPackage`).

What goes into an item, in order of precedence (see :mod:`.index` for the sidecar forms):

1. ``meta.app_id`` (the served application) and ``meta.sha512`` (the file on disk);
2. the sidecar ``<archive>.json``;
3. the ``.s4ext`` inside the archive (:mod:`.descriptions`);
4. the file name: Slicer's package-name grammar for extensions
   (:func:`slicer_ext_manager.conventions.parse_package_name`), or
   ``<baseName>-<version>[-<date>]-<os>-<arch>.<suffix>`` for application packages.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ..conventions import ARCHIVE_SUFFIXES, OS_NAMES, PackageName, parse_package_name
from .descriptions import meta_from_s4ext
from .documents import (
    APPLICATION_PACKAGE_TEMPLATE_NAME,
    DEFAULT_CREATOR_ID,
    DRAFT_RELEASE_NAME,
    EXTENSION_PACKAGE_TEMPLATE_NAME,
    AppIds,
    derive_id,
    is_object_id,
    iso_from_timestamp,
    normalize_iso,
)

log = logging.getLogger(__name__)

#: Application installers (Windows NSIS, macOS disk images).
INSTALLER_SUFFIXES = (".exe", ".dmg")
#: Meta keys every extension item has (possibly ``""``).
EXTENSION_BASE_KEYS = ("app_id", "baseName", "os", "arch", "repository_type", "repository_url",
                       "revision", "app_revision", "description")
#: Optional meta keys, stored only when non-empty (like the real server).
EXTENSION_OPTIONAL_KEYS = ("icon_url", "category", "homepage", "screenshots", "contributors", "dependency",
                           "recommends", "license", "development_status", "dicom_support_rule", "keywords",
                           "tier", "enabled")
APPLICATION_FILE_RE = re.compile(
    r"^(?P<baseName>[A-Za-z][A-Za-z0-9_]*)-(?P<version>\d[^-]*)(?:-(?P<date>\d{4}-\d{2}-\d{2}))?"
    r"-(?P<os>" + "|".join(OS_NAMES + ("macos",)) + r")-(?P<arch>[^-.]+)"
    r"(?:" + "|".join(re.escape(s) for s in ARCHIVE_SUFFIXES + INSTALLER_SUFFIXES) + r")$"
)
#: Item-level keys of a flat sidecar (every other key is a meta key).
_FLAT_ITEM_KEYS = ("_id", "name", "created", "updated", "release")
#: Item-level keys taken from a sidecar that is a Girder item document.
_DOCUMENT_ITEM_KEYS = ("_id", "name", "created", "updated", "creatorId", "release", "description")


@dataclass
class IndexedPackage:
    """One served archive: its item and file documents and where it lives."""

    kind: str  # "extension" | "application"
    path: Path  # resolved real path (inside the directory)
    relpath: str  # path relative to the directory, with "/"
    size: int
    mtime_ns: int
    sha512: str
    item: dict[str, Any]
    file: dict[str, Any]
    release: str | None  # release folder name; None = draft
    folder_revision: str  # app revision of the release/draft revision folder
    #: (st_dev, st_ino, size, mtime_ns, ctime_ns) of the file that was hashed (see PackageIndex.open_file).
    identity: tuple[int, ...] = ()

    @property
    def item_id(self) -> str:
        return self.item["_id"]

    @property
    def file_id(self) -> str:
        return self.file["_id"]


# ------------------------------------------------------------------------------------------------
# sidecars


@dataclass
class Sidecar:
    """The overrides of a sidecar ``<archive>.json``, sorted by the document they go to."""

    item: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    file: dict[str, Any] = field(default_factory=dict)
    flat: bool = False  # a flat dict of meta keys rather than a Girder item document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sidecar:
        if not isinstance(data.get("meta"), dict):
            return cls(item={k: data[k] for k in _FLAT_ITEM_KEYS if k in data},
                       meta={k: v for k, v in data.items() if k not in _FLAT_ITEM_KEYS}, flat=True)
        files = data.get("files")
        if isinstance(files, list) and files and isinstance(files[0], dict):
            file_doc = files[0]
        else:
            file_doc = data["file"] if isinstance(data.get("file"), dict) else {}
        return cls(item={k: data[k] for k in _DOCUMENT_ITEM_KEYS if k in data}, meta=dict(data["meta"]),
                   file=file_doc)


def read_sidecar(*candidates: Path) -> Sidecar:
    """The first existing sidecar among ``candidates`` (an empty one when none exists).
    Raises ``ValueError`` for an unreadable one."""
    for candidate in candidates:
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"unreadable sidecar {candidate.name}: {exc}") from exc
            if not isinstance(data, dict):
                raise ValueError(f"sidecar {candidate.name} is not a JSON object")
            return Sidecar.from_json(data)
    return Sidecar()


# ------------------------------------------------------------------------------------------------
# meta


def package_kind(name: PackageName | None, app_match: re.Match | None, overrides: Mapping[str, Any]) -> str:
    """``"extension"`` or ``"application"``; ``ValueError`` when neither the name nor the sidecar says."""
    if overrides.get("app_revision") is not None:
        return "extension"
    if name is not None and not (app_match and overrides.get("version")):
        return "extension"
    if app_match or {"revision", "os", "arch", "baseName"} <= set(overrides):
        return "application"
    raise ValueError("its name is not <rev>-<os>-<arch>-<Name>-<scm><rev>-<date>.<ext> "
                     "and no sidecar describes it")


def extension_meta(name: PackageName | None, entry: Mapping[str, Any], has_overrides: bool, rel: str) -> dict[str, Any]:
    """Meta of an extension from its file name and the ``.s4ext`` read into the cache ``entry``."""
    meta: dict[str, Any] = {}
    if name is not None:
        meta.update({"app_revision": name.app_revision, "os": name.os, "arch": name.arch,
                     "baseName": name.extension_name, "revision": name.scm_revision, "repository_type": name.scm})
    archive = entry.get("archive")
    if isinstance(archive, dict):
        if archive.get("name"):
            meta["baseName"] = archive["name"]
        if archive.get("mac_app_revision") and "app_revision" not in meta:
            meta["app_revision"] = archive["mac_app_revision"]
        meta.update(meta_from_s4ext(archive.get("s4ext", {})))
    elif not has_overrides:
        raise ValueError(entry.get("archive_error", "no .s4ext description in the archive"))
    else:
        log.info("%s: %s; using the sidecar only", rel, entry.get("archive_error"))
    meta.setdefault("dependency", "NA")
    return meta


def application_meta(app_match: re.Match | None, entry: Mapping[str, Any],
                     releases: Mapping[str, str]) -> dict[str, Any]:
    """Meta of an application package from its CPack file name
    (``Slicer-5.10.0[-2026-08-21]-linux-amd64.tar.gz``). Its revision, which the name does not
    carry, comes from the launcher settings inside a Linux tarball (``revision=`` of
    ``bin/SlicerLauncherSettings.ini``), else from a ``--release VERSION=REVISION`` whose
    name is the package's version; a sidecar overrides both."""
    meta: dict[str, Any] = {"repository_type": "", "repository_url": ""}
    if app_match:
        meta.update({"baseName": app_match["baseName"], "version": app_match["version"],
                     "os": "macosx" if app_match["os"] == "macos" else app_match["os"], "arch": app_match["arch"]})
        if app_match["date"]:
            meta["build_date"] = f"{app_match['date']}T00:00:00+00:00"
        revision = entry.get("launcher_revision") or releases.get(app_match["version"])
        if revision:
            meta["revision"] = str(revision)
    return meta


def apply_overrides(meta: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Sidecar meta over ``meta``; a ``null`` value deletes the key."""
    for key, value in overrides.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value


def complete_extension_meta(meta: dict[str, Any]) -> None:
    """Refuse an extension without its identifying keys; normalise the others like the server."""
    for key in ("baseName", "os", "arch", "app_revision", "revision"):
        if not isinstance(meta.get(key), str) or not meta[key]:
            raise ValueError(f"extension metadata has no {key}")
    for key in EXTENSION_BASE_KEYS:
        meta.setdefault(key, "")
    for key in EXTENSION_OPTIONAL_KEYS:
        if key in meta and (meta[key] is None or meta[key] == ""):
            del meta[key]
    description = meta["description"]
    meta["description"] = description if isinstance(description, str) else str(description)


def complete_application_meta(meta: dict[str, Any]) -> None:
    for key in ("baseName", "os", "arch", "revision"):
        if not isinstance(meta.get(key), str) or not meta[key]:
            hint = (f"give it with --release {meta.get('version') or 'VERSION'}=REVISION or a sidecar"
                    if key == "revision" else "give it in a sidecar")
            raise ValueError(f"application package metadata has no {key} ({hint})")
    meta.pop("app_revision", None)


def release_of(kind: str, sidecar: Sidecar, meta: dict[str, Any], folder_revision: str,
               by_revision: Mapping[str, str]) -> str | None:
    """The release folder of the item (None = draft): the sidecar's, else the ``--release`` given
    for its revision (as the real server files an upload into the release of its revision);
    application packages also carry it in ``meta.release``, set or removed like the real server does."""
    release = sidecar.item.get("release")
    if release is None and kind == "application":
        release = meta.get("release")
    if release is None:
        release = by_revision.get(folder_revision)
    if not isinstance(release, str) or not release.strip() or release.strip().lower() == DRAFT_RELEASE_NAME:
        release = None
    else:
        release = release.strip()
    if kind == "application":
        if release:
            meta["release"] = release
        else:
            meta.pop("release", None)
    return release


def _nonempty_str(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None


# ------------------------------------------------------------------------------------------------
# documents


class PackageReader:
    """Builds the :class:`IndexedPackage` of one file for one served application; problems that
    do not prevent serving the package go to ``warn``."""

    def __init__(self, ids: AppIds, warn: Callable[[str], None], releases: Mapping[str, str] | None = None):
        """``releases``: ``{release name: app revision}`` (``serve --release``)."""
        self.ids = ids
        self.warn = warn
        self.releases = dict(releases or {})
        self.by_revision = {rev: name for name, rev in self.releases.items()}

    def read(self, rel: str, real: Path, original: Path, entry: Mapping[str, Any]) -> IndexedPackage:
        """``entry`` is the cache entry (``size``, ``mtime_ns``, ``sha512``, ``archive`` or
        ``archive_error``). Raises ``ValueError`` for a file that cannot be served."""
        sidecar = read_sidecar(Path(str(original) + ".json"), Path(str(real) + ".json"))
        name = parse_package_name(original.name)
        app_match = APPLICATION_FILE_RE.match(original.name)
        kind = package_kind(name, app_match, sidecar.meta)
        if kind == "extension":
            meta = extension_meta(name, entry, bool(sidecar.meta), rel)
        else:
            meta = application_meta(app_match, entry, self.releases)
        apply_overrides(meta, sidecar.meta)
        sha512 = entry["sha512"]
        if sidecar.meta.get("sha512") and sidecar.meta["sha512"] != sha512:
            self.warn(f"{rel}: the sidecar's sha512 does not match the file; using the file's")
        meta["sha512"] = sha512
        meta["app_id"] = self.ids.app_id
        if kind == "extension":
            complete_extension_meta(meta)
            folder_revision = str(meta["app_revision"])
        else:
            complete_application_meta(meta)
            folder_revision = str(meta["revision"])
        if meta.get("os") not in OS_NAMES:
            self.warn(f"{rel}: os {meta.get('os')!r} is not one of {', '.join(OS_NAMES)}")
        release = release_of(kind, sidecar, meta, folder_revision, self.by_revision)
        item = self._item(kind, meta, sidecar, entry)
        file_doc = self._file(item, sidecar, original.name)
        identity = tuple(int(entry.get(k, -1)) for k in ("dev", "ino", "size", "mtime_ns", "ctime_ns"))
        return IndexedPackage(kind=kind, path=real, relpath=rel, size=int(entry["size"]),
                              mtime_ns=int(entry["mtime_ns"]), sha512=sha512, item=item, file=file_doc,
                              release=release, folder_revision=folder_revision, identity=identity)

    def _item(self, kind: str, meta: dict[str, Any], sidecar: Sidecar, entry: Mapping[str, Any]) -> dict[str, Any]:
        over = sidecar.item
        created = normalize_iso(over.get("created")) or iso_from_timestamp(int(entry["mtime_ns"]) / 1e9)
        if kind == "application":
            meta.setdefault("build_date", created)  # the real server defaults it to the upload time
        template = EXTENSION_PACKAGE_TEMPLATE_NAME if kind == "extension" else APPLICATION_PACKAGE_TEMPLATE_NAME
        try:
            name = _nonempty_str(over, "name") or template.format(**meta)
        except (KeyError, IndexError, ValueError):
            name = f"{meta.get('baseName')}_{meta.get('os')}_{meta.get('arch')}_{meta.get('revision')}"
        item_id = over.get("_id")
        return {
            "_id": item_id.lower() if is_object_id(item_id) else derive_id("item", meta["sha512"]),
            "baseParentId": self.ids.collection_id,
            "baseParentType": "collection",
            "created": created,
            "creatorId": over["creatorId"] if is_object_id(over.get("creatorId")) else DEFAULT_CREATOR_ID,
            # Slicer reads both the item's and meta's description for extensions: they are one value.
            "description": meta["description"] if kind == "extension" else _application_description(meta, sidecar),
            "folderId": "",  # set when the folder tree is built
            "lowerName": name.lower(),
            "meta": meta,
            "name": name,
            "size": int(entry["size"]),
            "updated": normalize_iso(over.get("updated")) or created,
        }

    @staticmethod
    def _file(item: dict[str, Any], sidecar: Sidecar, file_name: str) -> dict[str, Any]:
        over = sidecar.file
        file_id = over.get("_id")
        name = _nonempty_str(over, "name") or file_name
        sha512 = item["meta"]["sha512"]
        return {
            "_id": file_id.lower() if is_object_id(file_id) else sha512[:24],
            "_modelType": "file",
            # No assetstoreId: Girder shows it to site admins only, and this server is anonymous.
            "created": normalize_iso(over.get("created")) or item["created"],
            "creatorId": item["creatorId"],
            "exts": name.split(".")[1:],
            "itemId": item["_id"],
            "mimeType": _nonempty_str(over, "mimeType") or "application/octet-stream",
            "name": name,
            "sha512": sha512,
            "size": item["size"],
        }


def _application_description(meta: dict[str, Any], sidecar: Sidecar) -> str:
    """Packages keep their description at item level only (reference §2.3): a flat sidecar's
    ``description`` moves out of ``meta``."""
    description = meta.pop("description", None) if sidecar.flat else None
    if description is None:
        description = sidecar.item.get("description", "")
    return description if isinstance(description, str) else ""
