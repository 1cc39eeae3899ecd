"""Index of a folder of Slicer packages, as the Slicer Package Manager (Girder) server would store it.

Qt-free. :meth:`PackageIndex.scan` walks a directory and builds, for every package
archive it finds, the Girder documents the real server returns (reference §2.4):
the item (raw plugin shape), its single file, and the folder tree
``<app>/draft/<app_revision>/extensions`` (or ``<app>/<release>/extensions``).

Archives
--------
Extension packages are found by name, ``*.tar.gz``, ``*.tgz`` or ``*.zip`` named like
CPack does (reference §2.2)::

    <app_revision>-<os>-<arch>-<Name>-<scm><revision>-<YYYY-MM-DD>.<ext>

Their metadata comes from the ``.s4ext`` inside the archive
(``share/Slicer-X.Y/<Name>.s4ext``; on macOS nested under
``Slicer.app/Contents/Extensions-<rev>/<Name>/``), mapped to server keys as the
upload tooling does (:data:`S4EXT_TO_META`), completed by the file name
(``app_revision``, ``os``, ``arch``, and ``baseName``/``revision``/``repository_type``
when the ``.s4ext`` lacks them).

Application packages (installers) are indexed only with a sidecar that gives at
least their ``revision`` (installer file names do not carry it); the file name
``<baseName>-<version>[-<date>]-<os>-<arch>.<tar.gz|tgz|zip|exe|dmg>`` gives the rest.
Other files are ignored with a warning.

Sidecar ``<archive>.json`` (optional; overrides the archive)
------------------------------------------------------------
Two forms are accepted:

* **Girder item document** (has a ``"meta"`` object), as a mirror writes it::

      {"_id": "629843e7e8408647b3b7ed4d", "created": "...", "updated": "...",
       "name": "...", "description": "...", "creatorId": "...",
       "meta": {"baseName": "...", "revision": "...", ...},
       "files": [{"_id": "...", "created": "...", "name": "..."}],   # optional (or "file": {...})
       "release": "5.8.0"}                                           # optional, see below

  ``meta`` keys are merged over the archive-derived meta (sidecar wins, a
  ``null`` value deletes the key). ``_id`` (24 hex) becomes the item id,
  ``created``/``updated``/``name``/``creatorId`` replace the computed values; from the
  file document ``_id``, ``created``, ``name`` and ``mimeType`` are used.
  ``baseParentId``/``folderId``/``lowerName``/``size`` are ignored (recomputed).

* **flat dict of meta keys**: ``{"category": "Segmentation", "tier": 3}``. Every key
  is a meta key except the reserved item-level keys ``_id``, ``name``, ``created``,
  ``updated`` and ``release``.

Keys that always win over the sidecar: ``meta.app_id`` (the served app) and
``meta.sha512`` (hash of the file on disk; a different sidecar value only warns).
The item ``description`` always equals ``meta.description`` (Slicer reads both).
``release`` (our addition, not a Girder key) places the item in the release folder
of that name (``meta.revision`` = the item's app revision) instead of ``draft``; for
application packages ``meta.release`` is also honoured and is set/removed like the
real server does.

Ids
---
Stable across restarts and derived from content: file id = first 24 hex of the
archive's sha512; item id = first 24 hex of ``sha256("item\\0" + sha512)``; folder
ids = first 24 hex of ``sha256("folder\\0" + app_id + "\\0" + path...)``. A second
copy of identical bytes gets ids derived from its relative path too. A sidecar
``_id`` wins. Hashes and parsed ``.s4ext`` data are cached in the state directory
keyed by (relative path, size, mtime_ns).

Download statistics (reference §4) are kept per folder in
``<state_dir>/downloadstats.json`` (atomic writes, thread-safe).

Only regular files inside the directory are indexed and served: symlinks whose
target resolves outside the directory are refused, and :meth:`PackageIndex.open_file`
checks the real path again at download time.
"""

from __future__ import annotations

import concurrent.futures
import copy
import datetime as _dt
import hashlib
import json
import logging
import os
import re
import tarfile
import tempfile
import threading
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from slicer_ext_manager import s4ext

log = logging.getLogger(__name__)

#: The production Slicer application folder id (reference §1).
DEFAULT_APP_ID = "5f4474d0e1d8c75dfc705482"
#: The production "Applications" collection id (used when serving the production app id).
PRODUCTION_COLLECTION_ID = "5f4474d0e1d8c75dfc70547e"
#: The production uploader account (``creatorId`` of real items).
DEFAULT_CREATOR_ID = "5f446e46e1d8c75dfc705450"
#: Default state directory name, created inside the served directory.
STATE_DIR_NAME = ".slicer-ext-manager-server"

APPLICATION_PACKAGE_TEMPLATE_NAME = "{baseName}_{os}_{arch}_{revision}"
EXTENSION_PACKAGE_TEMPLATE_NAME = "{app_revision}_{baseName}_{os}_{arch}_{revision}"
DRAFT_RELEASE_NAME = "draft"
EXTENSIONS_FOLDER_NAME = "extensions"
DRAFT_DESCRIPTION = "Uploaded each night, always up-to-date"
EXTENSIONS_FOLDER_DESCRIPTION = "This directory contains all the extensions packages"

#: ``.s4ext`` key -> server ``meta`` key (what ``SlicerExtensionPackageAndUploadTarget.cmake`` sends).
S4EXT_TO_META = {
    "scm": "repository_type",
    "scmurl": "repository_url",
    "scmrevision": "revision",
    "depends": "dependency",
    "recommends": "recommends",
    "iconurl": "icon_url",
    "screenshoturls": "screenshots",
    "category": "category",
    "homepage": "homepage",
    "contributors": "contributors",
    "description": "description",
    "tier": "tier",
    "dicom_support_rule": "dicom_support_rule",
    "keywords": "keywords",
}
#: Meta keys every extension item has (possibly ``""``).
EXTENSION_BASE_KEYS = ("app_id", "baseName", "os", "arch", "repository_type", "repository_url",
                       "revision", "app_revision", "description")
#: Optional meta keys, stored only when non-empty (like the real server).
EXTENSION_OPTIONAL_KEYS = ("icon_url", "category", "homepage", "screenshots", "contributors", "dependency",
                           "recommends", "license", "development_status", "dicom_support_rule", "keywords",
                           "tier", "enabled")

EXTENSION_FILE_RE = re.compile(
    r"^(?P<app_revision>[^-]+)-(?P<os>[^-]+)-(?P<arch>[^-]+)-(?P<name>.+)"
    r"-(?P<scm>git|svn|hg|local)?(?P<revision>[^-]*)-(?P<date>\d{4}-\d{2}-\d{2})"
    r"\.(?P<ext>tar\.gz|tgz|zip)$"
)
APPLICATION_FILE_RE = re.compile(
    r"^(?P<baseName>[A-Za-z][A-Za-z0-9_]*)-(?P<version>\d[^-]*)(?:-(?P<date>\d{4}-\d{2}-\d{2}))?"
    r"-(?P<os>linux|win|macosx|macos)-(?P<arch>[^-.]+)\.(?P<ext>tar\.gz|tgz|zip|exe|dmg)$"
)
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
INSTALLER_SUFFIXES = (".exe", ".dmg")
_SIDECAR_ITEM_KEYS = ("_id", "name", "created", "updated", "release")
_OBJECT_ID_RE = re.compile(r"^[0-9a-f]{24}$")
_CACHE_FILE = "index-cache.json"
_STATS_FILE = "downloadstats.json"
_CACHE_VERSION = 1
_HASH_CHUNK = 1 << 20
_MAX_S4EXT_SIZE = 1 << 20


# ------------------------------------------------------------------------------------------------
# small helpers


def is_object_id(value: object) -> bool:
    """True for a 24-hex string (what ``bson.ObjectId.is_valid`` accepts from a URL)."""
    return isinstance(value, str) and bool(_OBJECT_ID_RE.match(value.lower())) and len(value) == 24


def derive_id(*parts: str) -> str:
    """A stable 24-hex id from ``parts``."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:24]


def object_id_time(object_id: str) -> _dt.datetime:
    """The creation time encoded in a real ObjectId (its first 4 bytes)."""
    return _dt.datetime.fromtimestamp(int(object_id[:8], 16), _dt.timezone.utc)


def iso(value: _dt.datetime) -> str:
    """Girder's datetime encoding: UTC, ``isoformat()``, millisecond precision (as read back from Mongo)."""
    value = value.astimezone(_dt.timezone.utc)
    value = value.replace(microsecond=(value.microsecond // 1000) * 1000)
    return value.isoformat()


def iso_from_timestamp(ts: float) -> str:
    return iso(_dt.datetime.fromtimestamp(ts, _dt.timezone.utc))


def normalize_iso(value: object) -> str | None:
    """Parse a datetime string (``Z``/offsets/naive = UTC) into Girder's encoding; None if unparsable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    parsed = parsed.astimezone(_dt.timezone.utc)
    return parsed.isoformat()


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temp file in the same folder + ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, sort_keys=True, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def file_sha512(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha512()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_HASH_CHUNK)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------
# archive inspection


_S4EXT_IN_SHARE_RE = re.compile(r"(?:^|/)share/Slicer-[^/]+/([^/]+)\.s4ext$")
_MAC_REVISION_RE = re.compile(r"(?:^|/)Slicer\.app/Contents/Extensions-([^/]+)/")


def _pick_s4ext(names: Iterable[str]) -> str | None:
    fallback = None
    for name in names:
        if not name.endswith(".s4ext"):
            continue
        if _S4EXT_IN_SHARE_RE.search(name):
            return name
        if fallback is None:
            fallback = name
    return fallback


def read_archive_description(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Find and parse the ``.s4ext`` inside an extension archive.

    Returns ``{"s4ext_path": member, "name": <extension name>, "s4ext": {...},
    "mac_app_revision": rev-or-None}``. Raises ``ValueError`` (unreadable archive or
    no description file).
    """
    path = os.fspath(path)
    member_name = None
    text = None
    if path.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as zf:
                infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
                member_name = _pick_s4ext(infos)
                if member_name is not None:
                    if infos[member_name].file_size > _MAX_S4EXT_SIZE:
                        raise ValueError(f"description file {member_name} is too large")
                    text = zf.read(member_name).decode("utf-8", errors="replace")
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ValueError(f"cannot read zip archive: {exc}") from exc
    else:
        try:
            # Streaming mode: no seeks, stops at the first description file under share/.
            with tarfile.open(path, mode="r|*") as tf:
                fallback: tuple[str, str] | None = None
                for member in tf:
                    if not member.isfile() or not member.name.endswith(".s4ext"):
                        continue
                    if member.size > _MAX_S4EXT_SIZE:
                        continue
                    fh = tf.extractfile(member)
                    data = fh.read().decode("utf-8", errors="replace") if fh else ""
                    if _S4EXT_IN_SHARE_RE.search(member.name):
                        member_name, text = member.name, data
                        break
                    if fallback is None:
                        fallback = (member.name, data)
                if member_name is None and fallback is not None:
                    member_name, text = fallback
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"cannot read tar archive: {exc}") from exc
    if member_name is None or text is None:
        raise ValueError("no .s4ext description file in the archive")
    mac = _MAC_REVISION_RE.search(member_name)
    return {
        "s4ext_path": member_name,
        "name": s4ext.extension_name_from_path(member_name),
        "s4ext": s4ext.parse_text(text, installed_default=False),
        "mac_app_revision": mac.group(1) if mac else None,
    }


def meta_from_s4ext(description: Mapping[str, str]) -> dict[str, Any]:
    """Map in-archive ``.s4ext`` keys to server meta keys (only non-empty values; ``tier`` as int)."""
    meta: dict[str, Any] = {}
    for key, meta_key in S4EXT_TO_META.items():
        value = description.get(key)
        if value is None:
            continue
        value = value.strip()
        if not value:
            continue
        if meta_key == "tier":
            try:
                meta["tier"] = int(value)
            except ValueError:
                continue
        else:
            meta[meta_key] = value
    return meta


# ------------------------------------------------------------------------------------------------
# download statistics


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
            last = parts[-1]
            current = node.get(last)
            node[last] = (current if isinstance(current, int) else 0) + 1
            if self.path is not None:
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


# ------------------------------------------------------------------------------------------------
# the index


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

    @property
    def item_id(self) -> str:
        return self.item["_id"]

    @property
    def file_id(self) -> str:
        return self.file["_id"]


@dataclass
class _Folder:
    doc: dict[str, Any]
    role: str  # "app" | "draft" | "draft_revision" | "release" | "extensions"
    children: list[str] = field(default_factory=list)  # child folder ids, natural order


class PackageIndex:
    """A snapshot of the packages under a directory, with Girder documents.

    Build it with :meth:`scan`; it is immutable afterwards except for download
    statistics (:meth:`record_download`), which live in :attr:`stats`.
    """

    def __init__(self, directory: Path, app_id: str, app_name: str, state_dir: Path, stats: DownloadStats):
        self.directory = directory
        self.app_id = app_id
        self.app_name = app_name
        self.state_dir = state_dir
        self.stats = stats
        self.packages: list[IndexedPackage] = []
        self.warnings: list[str] = []
        self._items: dict[str, IndexedPackage] = {}
        self._files: dict[str, IndexedPackage] = {}
        self._by_sha512: dict[str, list[IndexedPackage]] = {}
        self._folders: dict[str, _Folder] = {}
        self.collection_id = PRODUCTION_COLLECTION_ID if app_id == DEFAULT_APP_ID else derive_id("collection", app_id)
        self.packages_folder_id = derive_id("folder", app_id, "packages")
        self.assetstore_id = derive_id("assetstore", app_id)
        self.creator_id = DEFAULT_CREATOR_ID
        self.draft_folder_id = derive_id("folder", app_id, DRAFT_RELEASE_NAME)

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def scan(
        cls,
        directory: str | os.PathLike[str],
        *,
        app_id: str = DEFAULT_APP_ID,
        app_name: str = "Slicer",
        state_dir: str | os.PathLike[str] | None = None,
        stats: DownloadStats | None = None,
        workers: int | None = None,
    ) -> "PackageIndex":
        """Walk ``directory`` recursively and index every package (see the module docstring).

        ``state_dir`` (default ``<directory>/.slicer-ext-manager-server``) holds the hash
        cache and the download statistics. Pass ``stats`` to share one statistics object
        between successive scans (the server does on :meth:`~PackageServer.rescan`).
        """
        if not is_object_id(app_id):
            raise ValueError(f"app_id must be 24 hexadecimal characters, not {app_id!r}")
        app_id = app_id.lower()
        root = Path(directory).resolve()
        if not root.is_dir():
            raise NotADirectoryError(f"{directory} is not a directory")
        state = Path(state_dir).resolve() if state_dir is not None else root / STATE_DIR_NAME
        if stats is None:
            stats = DownloadStats(state / _STATS_FILE)
        index = cls(root, app_id, app_name, state, stats)
        index._build(workers)
        return index

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s", message)

    def _walk(self) -> list[tuple[str, Path]]:
        """(relative path, real path) of candidate files, sorted by relative path."""
        found: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(self.directory, followlinks=False):
            here = Path(dirpath)
            keep = []
            for d in sorted(dirnames):
                full = here / d
                if d == STATE_DIR_NAME or full.resolve() == self.state_dir:
                    continue
                if full.is_symlink():
                    self._warn(f"Not following symlinked directory {full.relative_to(self.directory)}")
                    continue
                keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                lower = name.lower()
                if not (lower.endswith(ARCHIVE_SUFFIXES) or lower.endswith(INSTALLER_SUFFIXES)):
                    continue
                full = here / name
                rel = full.relative_to(self.directory).as_posix()
                real = full.resolve()
                if not _is_within(real, self.directory):
                    self._warn(f"Refusing {rel}: it links outside {self.directory}")
                    continue
                if not real.is_file():
                    continue
                if lower.endswith(INSTALLER_SUFFIXES) and not Path(str(full) + ".json").is_file():
                    self._warn(f"Ignoring {rel}: an installer needs a sidecar {name}.json with its revision")
                    continue
                found.append((rel, real))
        return found

    def _load_cache(self) -> dict[str, Any]:
        path = self.state_dir / _CACHE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("version") == _CACHE_VERSION:
                return data.get("entries", {})
        except (OSError, ValueError):
            pass
        return {}

    def _build(self, workers: int | None) -> None:
        candidates = self._walk()
        cache = self._load_cache()
        new_cache: dict[str, Any] = {}
        todo: list[tuple[str, Path, os.stat_result]] = []
        for rel, real in candidates:
            st = real.stat()
            entry = cache.get(rel)
            if (isinstance(entry, dict) and entry.get("size") == st.st_size
                    and entry.get("mtime_ns") == st.st_mtime_ns and isinstance(entry.get("sha512"), str)):
                new_cache[rel] = entry
            else:
                todo.append((rel, real, st))

        def compute(args: tuple[str, Path, os.stat_result]) -> tuple[str, dict[str, Any]]:
            rel, real, st = args
            entry: dict[str, Any] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha512": file_sha512(real)}
            if rel.lower().endswith(ARCHIVE_SUFFIXES):
                try:
                    entry["archive"] = read_archive_description(real)
                except ValueError as exc:
                    entry["archive_error"] = str(exc)
            return rel, entry

        if todo:
            n = workers or min(4, os.cpu_count() or 1)
            if n > 1 and len(todo) > 1:
                with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
                    results = list(pool.map(compute, todo))
            else:
                results = [compute(t) for t in todo]
            for rel, entry in results:
                new_cache[rel] = entry
        if todo or set(new_cache) != set(cache):
            try:
                atomic_write_json(self.state_dir / _CACHE_FILE, {"version": _CACHE_VERSION, "entries": new_cache})
            except OSError as exc:
                self._warn(f"Cannot write the hash cache in {self.state_dir}: {exc}")

        for rel, real in candidates:
            entry = new_cache.get(rel)
            if entry is None:
                continue
            try:
                pkg = self._make_package(rel, real, entry)
            except ValueError as exc:
                self._warn(f"Ignoring {rel}: {exc}")
                continue
            if pkg is not None:
                self._add(pkg)
        self._build_folders()

    @staticmethod
    def _read_sidecar(real: Path, original: Path) -> dict[str, Any] | None:
        for candidate in (Path(str(original) + ".json"), Path(str(real) + ".json")):
            if candidate.is_file():
                try:
                    data = json.loads(candidate.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise ValueError(f"unreadable sidecar {candidate.name}: {exc}") from exc
                if not isinstance(data, dict):
                    raise ValueError(f"sidecar {candidate.name} is not a JSON object")
                return data
        return None

    def _make_package(self, rel: str, real: Path, entry: Mapping[str, Any]) -> IndexedPackage | None:
        original = self.directory / rel
        sidecar = self._read_sidecar(real, original)
        item_over: dict[str, Any] = {}
        meta_over: dict[str, Any] = {}
        file_over: dict[str, Any] = {}
        if sidecar is not None:
            if isinstance(sidecar.get("meta"), dict):
                meta_over = dict(sidecar["meta"])
                item_over = {k: sidecar[k] for k in ("_id", "name", "created", "updated", "creatorId", "release",
                                                     "description") if k in sidecar}
                files = sidecar.get("files")
                if isinstance(files, list) and files and isinstance(files[0], dict):
                    file_over = files[0]
                elif isinstance(sidecar.get("file"), dict):
                    file_over = sidecar["file"]
            else:
                item_over = {k: sidecar[k] for k in _SIDECAR_ITEM_KEYS if k in sidecar}
                meta_over = {k: v for k, v in sidecar.items() if k not in _SIDECAR_ITEM_KEYS}

        filename = original.name
        ext_match = EXTENSION_FILE_RE.match(filename)
        app_match = APPLICATION_FILE_RE.match(filename)
        archive = entry.get("archive")
        if "app_revision" in meta_over and meta_over["app_revision"] is not None:
            kind = "extension"
        elif ext_match and not (app_match and meta_over.get("version")):
            kind = "extension"
        elif app_match or {"revision", "os", "arch", "baseName"} <= set(meta_over):
            kind = "application"
        else:
            raise ValueError("its name is not <rev>-<os>-<arch>-<Name>-<scm><rev>-<date>.<ext> "
                             "and no sidecar describes it")

        sha512 = entry["sha512"]
        meta: dict[str, Any]
        if kind == "extension":
            meta = {}
            if ext_match:
                meta.update({
                    "app_revision": ext_match["app_revision"], "os": ext_match["os"], "arch": ext_match["arch"],
                    "baseName": ext_match["name"], "revision": ext_match["revision"],
                    "repository_type": ext_match["scm"] or "",
                })
            if isinstance(archive, dict):
                if archive.get("name"):
                    meta["baseName"] = archive["name"]
                if archive.get("mac_app_revision") and "app_revision" not in meta:
                    meta["app_revision"] = archive["mac_app_revision"]
                meta.update(meta_from_s4ext(archive.get("s4ext", {})))
            elif not meta_over:
                raise ValueError(entry.get("archive_error", "no .s4ext description in the archive"))
            else:
                log.info("%s: %s; using the sidecar only", rel, entry.get("archive_error"))
            meta.setdefault("dependency", "NA")
        else:
            meta = {"repository_type": "", "repository_url": ""}
            if app_match:
                meta.update({"baseName": app_match["baseName"], "version": app_match["version"],
                             "os": "macosx" if app_match["os"] == "macos" else app_match["os"],
                             "arch": app_match["arch"]})
        for key, value in meta_over.items():
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
        if meta_over.get("sha512") and meta_over["sha512"] != sha512:
            self._warn(f"{rel}: the sidecar's sha512 does not match the file; using the file's")
        meta["sha512"] = sha512
        meta["app_id"] = self.app_id

        if kind == "extension":
            for key in ("baseName", "os", "arch", "app_revision", "revision"):
                if not isinstance(meta.get(key), str) or not meta[key]:
                    raise ValueError(f"extension metadata has no {key}")
            for key in EXTENSION_BASE_KEYS:
                meta.setdefault(key, "")
            for key in EXTENSION_OPTIONAL_KEYS:
                if key in meta and (meta[key] is None or meta[key] == ""):
                    del meta[key]
            folder_revision = str(meta["app_revision"])
            template = EXTENSION_PACKAGE_TEMPLATE_NAME
        else:
            for key in ("baseName", "os", "arch", "revision"):
                if not isinstance(meta.get(key), str) or not meta[key]:
                    raise ValueError(f"application package metadata has no {key} (give it in a sidecar)")
            meta.pop("app_revision", None)
            folder_revision = str(meta["revision"])
            template = APPLICATION_PACKAGE_TEMPLATE_NAME
        if meta.get("os") not in ("linux", "win", "macosx"):
            self._warn(f"{rel}: os {meta.get('os')!r} is not one of linux, win, macosx")

        release = item_over.get("release")
        if release is None and kind == "application":
            release = meta.get("release")
        if release is not None and (not isinstance(release, str) or not release.strip()
                                    or release.strip().lower() == DRAFT_RELEASE_NAME):
            release = None
        release = release.strip() if isinstance(release, str) else None
        if kind == "application":
            if release:
                meta["release"] = release
            else:
                meta.pop("release", None)

        st_size = int(entry["size"])
        mtime = int(entry["mtime_ns"]) / 1e9
        created = normalize_iso(item_over.get("created")) or iso_from_timestamp(mtime)
        updated = normalize_iso(item_over.get("updated")) or created
        if kind == "application":
            meta.setdefault("build_date", created)  # the real server defaults it to the upload time
        try:
            name = item_over.get("name") if isinstance(item_over.get("name"), str) and item_over.get("name") \
                else template.format(**meta)
        except (KeyError, IndexError, ValueError):
            name = f"{meta.get('baseName')}_{meta.get('os')}_{meta.get('arch')}_{meta.get('revision')}"
        if kind == "extension":
            description = meta.get("description")
            if description is None:
                description = item_over.get("description", "")
            description = description if isinstance(description, str) else str(description)
            meta["description"] = description  # Slicer reads both; keep them identical
        else:
            # Packages keep their description at item level only (reference §2.3).
            description = meta.pop("description", None) if sidecar is not None and "meta" not in sidecar else None
            if description is None:
                description = item_over.get("description", "")
            description = description if isinstance(description, str) else ""

        item_id = item_over.get("_id")
        item_id = item_id.lower() if is_object_id(item_id) else derive_id("item", sha512)
        file_id = file_over.get("_id")
        file_id = file_id.lower() if is_object_id(file_id) else sha512[:24]
        if item_id in self._items:
            item_id = derive_id("item", sha512, rel)
        if file_id in self._files:
            file_id = derive_id("file", sha512, rel)
        creator = item_over.get("creatorId") if is_object_id(item_over.get("creatorId")) else self.creator_id

        item = {
            "_id": item_id,
            "baseParentId": self.collection_id,
            "baseParentType": "collection",
            "created": created,
            "creatorId": creator,
            "description": description,
            "folderId": "",  # set by _build_folders
            "lowerName": name.lower(),
            "meta": meta,
            "name": name,
            "size": st_size,
            "updated": updated,
        }
        file_name = file_over.get("name") if isinstance(file_over.get("name"), str) and file_over.get("name") \
            else filename
        file_doc = {
            "_id": file_id,
            "_modelType": "file",
            # No assetstoreId: Girder shows it to site admins only, and this server is anonymous.
            "created": normalize_iso(file_over.get("created")) or created,
            "creatorId": creator,
            "exts": file_name.split(".")[1:],
            "itemId": item_id,
            "mimeType": file_over.get("mimeType") if isinstance(file_over.get("mimeType"), str)
            and file_over.get("mimeType") else "application/octet-stream",
            "name": file_name,
            "sha512": sha512,
            "size": st_size,
        }
        return IndexedPackage(kind=kind, path=real, relpath=rel, size=st_size, mtime_ns=int(entry["mtime_ns"]),
                              sha512=sha512, item=item, file=file_doc, release=release,
                              folder_revision=folder_revision)

    def _add(self, pkg: IndexedPackage) -> None:
        self.packages.append(pkg)
        self._items[pkg.item_id] = pkg
        self._files[pkg.file_id] = pkg
        self._by_sha512.setdefault(pkg.sha512, []).append(pkg)

    def _folder_doc(self, folder_id: str, name: str, parent_id: str, created: str, description: str = "",
                    meta: dict[str, Any] | None = None, updated: str | None = None) -> dict[str, Any]:
        return {
            "_id": folder_id,
            "access": {"groups": [], "users": [{"flags": [], "id": self.creator_id, "level": 2}]},
            "baseParentId": self.collection_id,
            "baseParentType": "collection",
            "created": created,
            "creatorId": self.creator_id,
            "description": description,
            "lowerName": name.lower(),
            "meta": meta if meta is not None else {},
            "name": name,
            "parentCollection": "folder",
            "parentId": parent_id,
            "public": True,
            "size": 0,
            "updated": updated or created,
        }

    def _build_folders(self) -> None:
        app_created = iso(object_id_time(self.app_id))
        app = self._folder_doc(self.app_id, self.app_name, self.packages_folder_id, app_created, meta={
            "applicationPackageNameTemplate": APPLICATION_PACKAGE_TEMPLATE_NAME,
            "extensionPackageNameTemplate": EXTENSION_PACKAGE_TEMPLATE_NAME,
        })
        self._folders[self.app_id] = _Folder(app, "app")
        draft = self._folder_doc(self.draft_folder_id, DRAFT_RELEASE_NAME, self.app_id, app_created,
                                 description=DRAFT_DESCRIPTION)
        self._folders[self.draft_folder_id] = _Folder(draft, "draft")
        self._folders[self.app_id].children.append(self.draft_folder_id)

        # release/draft-revision folders, created at their oldest item (natural order = creation order)
        groups: dict[tuple[str | None, str], list[IndexedPackage]] = {}
        for pkg in self.packages:
            groups.setdefault((pkg.release, pkg.folder_revision if pkg.release is None else ""), []).append(pkg)
        release_revision: dict[str, str] = {}
        for pkg in self.packages:
            if pkg.release is not None:
                release_revision.setdefault(pkg.release, pkg.folder_revision)
                if release_revision[pkg.release] != pkg.folder_revision:
                    self._warn(f"{pkg.relpath}: release {pkg.release!r} already has revision "
                               f"{release_revision[pkg.release]}, not {pkg.folder_revision}")

        def oldest(pkgs: list[IndexedPackage]) -> str:
            return min(p.item["created"] for p in pkgs)

        ordered = sorted(groups.items(), key=lambda kv: (oldest(kv[1]), kv[0][0] or "", kv[0][1]))
        for (release, revision), pkgs in ordered:
            created = oldest(pkgs)
            if release is None:
                parent_id = self.draft_folder_id
                folder_id = derive_id("folder", self.app_id, DRAFT_RELEASE_NAME, revision)
                doc = self._folder_doc(folder_id, revision, parent_id, created, meta={"revision": revision})
                role = "draft_revision"
            else:
                parent_id = self.app_id
                folder_id = derive_id("folder", self.app_id, "release", release.lower())
                doc = self._folder_doc(folder_id, release, parent_id, created,
                                       meta={"revision": release_revision[release]})
                role = "release"
            self._folders[folder_id] = _Folder(doc, role)
            self._folders[parent_id].children.append(folder_id)
            extensions = [p for p in pkgs if p.kind == "extension"]
            apps = [p for p in pkgs if p.kind == "application"]
            for p in apps:
                p.item["folderId"] = folder_id
                doc["size"] += p.size
            if extensions:
                ext_id = derive_id("folder", folder_id, EXTENSIONS_FOLDER_NAME)
                ext_doc = self._folder_doc(ext_id, EXTENSIONS_FOLDER_NAME, folder_id, oldest(extensions),
                                           description=EXTENSIONS_FOLDER_DESCRIPTION)
                self._folders[ext_id] = _Folder(ext_doc, "extensions")
                doc_children = self._folders[folder_id].children
                doc_children.append(ext_id)
                for p in extensions:
                    p.item["folderId"] = ext_id
                    ext_doc["size"] += p.size

    # -- queries -------------------------------------------------------------------------------

    def folder(self, folder_id: str) -> dict[str, Any] | None:
        """The raw folder document (with current ``meta.downloadStats``), or None."""
        entry = self._folders.get(folder_id)
        if entry is None:
            return None
        doc = copy.deepcopy(entry.doc)
        stats = self.stats.folder_stats(folder_id)
        if stats is not None and entry.role in ("draft", "release"):
            doc["meta"]["downloadStats"] = stats
        return doc

    def folder_role(self, folder_id: str) -> str | None:
        entry = self._folders.get(folder_id)
        return entry.role if entry else None

    def child_folders(self, folder_id: str) -> list[dict[str, Any]]:
        """Child folder documents in natural (creation) order."""
        entry = self._folders.get(folder_id)
        if entry is None:
            return []
        return [self.folder(cid) for cid in entry.children]  # type: ignore[misc]

    def app_folder(self) -> dict[str, Any]:
        return self.folder(self.app_id)  # type: ignore[return-value]

    def draft_folder(self) -> dict[str, Any]:
        return self.folder(self.draft_folder_id)  # type: ignore[return-value]

    def extension_items(self, *, copy_docs: bool = True) -> list[dict[str, Any]]:
        """Raw extension item documents in index order (deep copies unless ``copy_docs=False``:
        then they are the index's own documents and must not be modified)."""
        docs = [p.item for p in self.packages if p.kind == "extension"]
        return copy.deepcopy(docs) if copy_docs else docs

    def application_items(self, *, copy_docs: bool = True) -> list[dict[str, Any]]:
        """Raw application package item documents (see :meth:`extension_items`)."""
        docs = [p.item for p in self.packages if p.kind == "application"]
        return copy.deepcopy(docs) if copy_docs else docs

    def item(self, item_id: str) -> dict[str, Any] | None:
        pkg = self._items.get(item_id)
        return copy.deepcopy(pkg.item) if pkg else None

    def package_for_item(self, item_id: str) -> IndexedPackage | None:
        return self._items.get(item_id)

    def package_for_file(self, file_id: str) -> IndexedPackage | None:
        return self._files.get(file_id)

    def packages_by_sha512(self, sha512: str) -> list[IndexedPackage]:
        return list(self._by_sha512.get(sha512.lower(), []))

    def file(self, file_id: str) -> dict[str, Any] | None:
        pkg = self._files.get(file_id)
        return copy.deepcopy(pkg.file) if pkg else None

    def files_of_item(self, item_id: str) -> list[dict[str, Any]]:
        pkg = self._items.get(item_id)
        return [copy.deepcopy(pkg.file)] if pkg else []

    def open_file(self, pkg: IndexedPackage):
        """Open a package's file for reading, re-checking that it is still inside the directory
        and unchanged in size. Raises ``PermissionError``/``FileNotFoundError``/``ValueError``."""
        real = (self.directory / pkg.relpath).resolve()
        if not _is_within(real, self.directory):
            raise PermissionError(f"{pkg.relpath} now resolves outside the served directory")
        fh = open(real, "rb")
        try:
            size = os.fstat(fh.fileno()).st_size
            if size != pkg.size:
                raise ValueError(f"{pkg.relpath} changed on disk ({size} bytes instead of {pkg.size}); rescan")
        except BaseException:
            fh.close()
            raise
        return fh

    def record_download(self, pkg: IndexedPackage) -> None:
        """Count one completed download of ``pkg`` exactly like the plugin (reference §4)."""
        meta = pkg.item["meta"]
        section = "extensions" if pkg.kind == "extension" else "applications"
        tail = [meta["baseName"], meta["os"], meta["arch"]] if pkg.kind == "extension" else [meta["os"], meta["arch"]]
        if pkg.release is None:
            self.stats.increment(self.draft_folder_id, DRAFT_RELEASE_NAME,
                                 [pkg.folder_revision, section, *tail])
        else:
            folder_id = derive_id("folder", self.app_id, "release", pkg.release.lower())
            self.stats.increment(folder_id, pkg.release, [section, *tail])

    def download_stats(self) -> dict[str, Any]:
        """``GET /app/{id}/downloadstats``: draft stats, then each release's under its revision (shallow merge)."""
        result: dict[str, Any] = {}
        for folder in self.child_folders(self.app_id):
            stats = folder.get("meta", {}).get("downloadStats")
            if not stats:
                continue
            if folder["name"] == DRAFT_RELEASE_NAME:
                result.update(stats)
            else:
                revision = folder["meta"].get("revision")
                if isinstance(result.get(revision), dict):
                    result[revision].update(stats)
                else:
                    result[revision] = stats
        return result

    def summary(self) -> dict[tuple[str, str, str, str], int]:
        """Counts per (kind, revision, os, arch), sorted."""
        counts: dict[tuple[str, str, str, str], int] = {}
        for p in self.packages:
            meta = p.item["meta"]
            key = (p.kind, p.folder_revision, str(meta.get("os")), str(meta.get("arch")))
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))
