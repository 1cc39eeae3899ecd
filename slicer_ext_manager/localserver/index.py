"""Index of a folder of Slicer packages, as the Slicer Package Manager (Girder) server would store it.

Qt-free. :meth:`PackageIndex.scan` walks a directory and builds, for every package
archive it finds, the Girder documents the real server returns (reference §2.4):
the item (raw plugin shape), its single file, and the folder tree
``<app>/draft/<app_revision>/extensions`` (or ``<app>/<release>/extensions``).

Archives
--------
Extension packages are found by name: any archive suffix Slicer's conventions accept
(:data:`~slicer_ext_manager.conventions.ARCHIVE_SUFFIXES`: ``.tar.gz``, ``.tgz``,
``.tar.bz2``, ``.tbz2``, ``.tar.xz``, ``.txz``, ``.tar``, ``.zip``), named like CPack does
(reference §2.2, :func:`~slicer_ext_manager.conventions.parse_package_name`)::

    <app_revision>-<os>-<arch>-<Name>-<scm><revision>-<YYYY-MM-DD>.<suffix>

Their metadata comes from the ``.s4ext`` inside the archive
(``share/Slicer-X.Y/<Name>.s4ext``; on macOS nested under
``Slicer.app/Contents/Extensions-<rev>/<Name>/``), mapped to server keys as the
upload tooling does (:data:`~.descriptions.S4EXT_TO_META`), completed by the file name
(``app_revision``, ``os``, ``arch``, and ``baseName``/``revision``/``repository_type``
when the ``.s4ext`` lacks them).

Application packages are found by their CPack names
``<baseName>-<version>[-<YYYY-MM-DD>]-<os>-<arch>.<tar.gz|exe|dmg|zip…>``
(``Slicer-5.10.0-linux-amd64.tar.gz``, ``Slicer-5.10.0-win-amd64.exe``,
``Slicer-5.11.0-2026-08-21-linux-amd64.tar.gz``): the name gives ``baseName``, ``version``,
``os``, ``arch`` and (nightlies) ``build_date``. The name does not carry the revision, which
comes, in this order, from a sidecar, from ``revision=`` in the ``bin/SlicerLauncherSettings.ini``
of a Linux tarball, or from ``--release VERSION=REVISION`` (``releases``) for the package's
version; a package with none of them is skipped with a warning that says so.
Other files are ignored with a warning.

Two packages of one build (same name, os, arch and app revision for extensions; same
name, os, arch and revision for application packages) are never both served: like the
real server, which keeps one item per build, the index keeps the newest (date in the
CPack name, then ``created``) and warns once about the other.

``releases`` (``serve --release 5.8.1=33241``) files the packages of that revision in a
release folder of that name, as the real server does for uploads of a release's revision.

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
``<state_dir>/downloadstats.json`` (:mod:`.stats`).

The parts: :mod:`.descriptions` reads the ``.s4ext`` of an archive, :mod:`.items` makes
the item and file documents, :mod:`.folders` the folder tree, :mod:`.documents` holds
the ids, dates and document shapes.

Only regular files inside the directory are indexed and served: symlinks whose
target resolves outside the directory are refused, and so are files with more than one
hard link (a hard link may be a file outside the directory; ``allow_hardlinks=True``
accepts them). :meth:`PackageIndex.open_file` checks the real path again at download time
and serves only the bytes that were indexed: a file whose identity (device, inode, size,
mtime, ctime) changed is hashed again and refused unless its sha512 is the recorded one.
"""

from __future__ import annotations

import concurrent.futures
import copy
import hashlib
import json
import logging
import lzma
import os
import re
import tarfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Mapping

from ..conventions import ARCHIVE_SUFFIXES, DEFAULT_APP_ID, DEFAULT_APP_NAME, parse_package_name
from .descriptions import read_archive_description
from .documents import DRAFT_RELEASE_NAME, AppIds, derive_id, is_object_id
from .files import atomic_write_json, file_sha512, is_within
from .folders import Folder, build_folders
from .items import APPLICATION_FILE_RE, INSTALLER_SUFFIXES, IndexedPackage, PackageReader
from .stats import STATS_FILE, DownloadStats

log = logging.getLogger(__name__)

__all__ = ["STATE_DIR_NAME", "IndexedPackage", "PackageIndex"]

#: Default state directory name, created inside the served directory.
STATE_DIR_NAME = ".slicer-ext-manager-server"
_CACHE_FILE = "index-cache.json"
_CACHE_VERSION = 2
_CANDIDATE_SUFFIXES = ARCHIVE_SUFFIXES + INSTALLER_SUFFIXES
_IDENTITY_KEYS = ("dev", "ino", "size", "mtime_ns", "ctime_ns")
_LAUNCHER_SETTINGS = "bin/SlicerLauncherSettings.ini"
_MAX_LAUNCHER_SETTINGS = 1 << 20


class PackageIndex:
    """A snapshot of the packages under a directory, with Girder documents.

    Build it with :meth:`scan`; it is immutable afterwards except for download
    statistics (:meth:`record_download`), which live in :attr:`stats`.
    """

    def __init__(self, directory: Path, app_id: str, app_name: str, state_dir: Path, stats: DownloadStats, *,
                 releases: Mapping[str, str] | None = None, allow_hardlinks: bool = False):
        self.directory = directory
        self.releases = dict(releases or {})
        self.allow_hardlinks = allow_hardlinks
        self.ids = AppIds(app_id)
        self.app_name = app_name
        self.state_dir = state_dir
        self.stats = stats
        self.packages: list[IndexedPackage] = []
        self.warnings: list[str] = []
        self._items: dict[str, IndexedPackage] = {}
        self._files: dict[str, IndexedPackage] = {}
        self._by_sha512: dict[str, list[IndexedPackage]] = {}
        self._folders: dict[str, Folder] = {}

    @property
    def app_id(self) -> str:
        return self.ids.app_id

    @property
    def collection_id(self) -> str:
        return self.ids.collection_id

    @property
    def draft_folder_id(self) -> str:
        return self.ids.draft_folder_id

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def scan(
        cls,
        directory: str | os.PathLike[str],
        *,
        app_id: str = DEFAULT_APP_ID,
        app_name: str = DEFAULT_APP_NAME,
        state_dir: str | os.PathLike[str] | None = None,
        stats: DownloadStats | None = None,
        releases: Mapping[str, str] | None = None,
        allow_hardlinks: bool = False,
    ) -> PackageIndex:
        """Walk ``directory`` recursively and index every package (see the module docstring).

        ``state_dir`` (default ``<directory>/.slicer-ext-manager-server``) holds the hash
        cache and the download statistics. Pass ``stats`` to share one statistics object
        between successive scans (the server does on :meth:`~.server.PackageServer.rescan`).
        ``releases`` maps release names to app revisions (``serve --release``);
        ``allow_hardlinks`` indexes files with several hard links too.
        Raises ``ValueError`` for an invalid ``app_id``, ``NotADirectoryError`` when
        ``directory`` is not a folder.
        """
        if not is_object_id(app_id):
            raise ValueError(f"app_id must be 24 hexadecimal characters, not {app_id!r}")
        root = Path(directory).resolve()
        if not root.is_dir():
            raise NotADirectoryError(f"{directory} is not a directory")
        state = Path(state_dir).resolve() if state_dir is not None else root / STATE_DIR_NAME
        index = cls(root, app_id.lower(), app_name, state, stats or DownloadStats(state / STATS_FILE),
                    releases=releases, allow_hardlinks=allow_hardlinks)
        index._build()
        return index

    def _warn(self, message: str) -> None:
        # Collected for the caller to show once (serve prints them); a logging.warning here
        # would print each a second time through logging's last-resort handler.
        if message not in self.warnings:
            self.warnings.append(message)
        log.info("%s", message)

    def _walk(self) -> list[tuple[str, Path]]:
        """(relative path, real path) of candidate files, sorted by relative path."""
        found: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(self.directory, followlinks=False):
            here = Path(dirpath)
            dirnames[:] = [d for d in sorted(dirnames) if self._enter(here / d)]
            for name in sorted(filenames):
                candidate = self._candidate(here / name)
                if candidate is not None:
                    found.append(candidate)
        return found

    def _enter(self, folder: Path) -> bool:
        if folder.name == STATE_DIR_NAME or folder.resolve() == self.state_dir:
            return False
        if folder.is_symlink():
            self._warn(f"Not following symlinked directory {folder.relative_to(self.directory)}")
            return False
        return True

    def _candidate(self, full: Path) -> tuple[str, Path] | None:
        lower = full.name.lower()
        if not lower.endswith(_CANDIDATE_SUFFIXES):
            return None
        rel = full.relative_to(self.directory).as_posix()
        real = full.resolve()
        if not is_within(real, self.directory):
            self._warn(f"Refusing {rel}: it links outside {self.directory}")
            return None
        if not real.is_file():
            return None
        if (lower.endswith(INSTALLER_SUFFIXES) and not APPLICATION_FILE_RE.match(full.name)
                and not Path(str(full) + ".json").is_file()):
            self._warn(f"Ignoring {rel}: an installer needs a CPack name (Slicer-<version>-<os>-<arch>"
                       f"{Path(lower).suffix}) or a sidecar {full.name}.json")
            return None
        links = real.stat().st_nlink
        if links > 1 and not self.allow_hardlinks:
            self._warn(f"Refusing {rel}: it has {links} hard links, and a hard link can be a file outside "
                       f"{self.directory}; copy it instead, or serve with --allow-hardlinks")
            return None
        return rel, real

    def _load_cache(self) -> dict[str, Any]:
        try:
            data = json.loads((self.state_dir / _CACHE_FILE).read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("version") == _CACHE_VERSION:
                return data.get("entries", {})
        except (OSError, ValueError):
            pass
        return {}

    def _cache_entries(self, candidates: list[tuple[str, Path]]) -> dict[str, Any]:
        """Hash and description of every candidate: from the cache when its size and mtime are
        unchanged, else computed (in a few threads) and the cache rewritten."""
        cache = self._load_cache()
        entries: dict[str, Any] = {}
        todo: list[tuple[str, Path, os.stat_result]] = []
        for rel, real in candidates:
            st = real.stat()
            entry = cache.get(rel)
            if (isinstance(entry, dict) and [entry.get(k) for k in _IDENTITY_KEYS] == list(_identity(st))
                    and isinstance(entry.get("sha512"), str)):
                entries[rel] = entry
            else:
                todo.append((rel, real, st))
        if len(todo) > 1 and (os.cpu_count() or 1) > 1:
            with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
                entries.update(pool.map(_cache_entry, todo))
        else:
            entries.update(_cache_entry(t) for t in todo)
        if todo or set(entries) != set(cache):
            try:
                atomic_write_json(self.state_dir / _CACHE_FILE, {"version": _CACHE_VERSION, "entries": entries})
            except OSError as exc:
                self._warn(f"Cannot write the hash cache in {self.state_dir}: {exc}")
        return entries

    def _build(self) -> None:
        candidates = self._walk()
        entries = self._cache_entries(candidates)
        reader = PackageReader(self.ids, self._warn, self.releases)
        read: list[IndexedPackage] = []
        for rel, real in candidates:
            try:
                read.append(reader.read(rel, real, self.directory / rel, entries[rel]))
            except ValueError as exc:
                self._warn(f"Ignoring {rel}: {exc}")
        for pkg in self._newest_of_each_build(read):
            self._add(pkg)
        self._folders = build_folders(self.ids, self.app_name, self.packages, self._warn)

    def _newest_of_each_build(self, packages: list[IndexedPackage]) -> list[IndexedPackage]:
        """One package per build, the newest (see the module docstring), in scan order."""
        best: dict[tuple[str, ...], IndexedPackage] = {}
        for pkg in packages:
            key = _build_key(pkg)
            kept = best.get(key)
            if kept is None:
                best[key] = pkg
                continue
            newer, older = (pkg, kept) if _newness(pkg) > _newness(kept) else (kept, pkg)
            best[key] = newer
            what = "app revision" if pkg.kind == "extension" else "revision"
            self._warn(f"Two packages of {key[1]} for {what} {key[4]} ({key[2]}/{key[3]}): serving {newer.relpath} "
                       f"(the newer), not {older.relpath}; remove one of them")
        kept_ids = {id(p) for p in best.values()}
        return [p for p in packages if id(p) in kept_ids]

    def _add(self, pkg: IndexedPackage) -> None:
        # A second copy of identical bytes (or a repeated sidecar id) gets ids derived from its path too.
        if pkg.item_id in self._items:
            pkg.item["_id"] = pkg.file["itemId"] = derive_id("item", pkg.sha512, pkg.relpath)
        if pkg.file_id in self._files:
            pkg.file["_id"] = derive_id("file", pkg.sha512, pkg.relpath)
        self.packages.append(pkg)
        self._items[pkg.item_id] = pkg
        self._files[pkg.file_id] = pkg
        self._by_sha512.setdefault(pkg.sha512, []).append(pkg)

    # -- queries -------------------------------------------------------------------------------

    def folder(self, folder_id: str) -> dict[str, Any] | None:
        """The raw folder document (with current ``meta.downloadStats``), or None."""
        entry = self._folders.get(folder_id)
        if entry is None:
            return None
        doc = copy.deepcopy(entry.doc)
        if entry.role in ("draft", "release"):
            stats = self.stats.folder_stats(folder_id)
            if stats is not None:
                doc["meta"]["downloadStats"] = stats
        return doc

    def child_folders(self, folder_id: str) -> list[dict[str, Any]]:
        """Child folder documents in natural (creation) order."""
        entry = self._folders.get(folder_id)
        return [self.folder(cid) for cid in entry.children] if entry else []  # type: ignore[misc]

    def app_folder(self) -> dict[str, Any]:
        return self.folder(self.app_id)  # type: ignore[return-value]

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

    def open_file(self, pkg: IndexedPackage) -> BinaryIO:
        """Open a package's file for reading, re-checking that it is still inside the directory
        and still the bytes that were indexed (see the module docstring).
        Raises ``PermissionError``/``FileNotFoundError``/``ValueError``."""
        real = (self.directory / pkg.relpath).resolve()
        if not is_within(real, self.directory):
            raise PermissionError(f"{pkg.relpath} now resolves outside the served directory")
        fh = open(real, "rb")
        try:
            st = os.fstat(fh.fileno())
            if st.st_size != pkg.size:
                raise ValueError(f"{pkg.relpath} changed on disk ({st.st_size} bytes instead of {pkg.size}); rescan")
            if st.st_nlink > 1 and not self.allow_hardlinks:
                raise PermissionError(f"{pkg.relpath} has {st.st_nlink} hard links now; it is not served")
            if pkg.identity and _identity(st) != pkg.identity:
                digest = _fh_sha512(fh)
                if digest != pkg.sha512:
                    raise PermissionError(f"{pkg.relpath} is not the file that was indexed (its sha512 differs); "
                                          "it is not served until the folder is scanned again")
                fh.seek(0)
        except BaseException:
            fh.close()
            raise
        return fh

    # -- statistics ----------------------------------------------------------------------------

    def record_download(self, pkg: IndexedPackage) -> None:
        """Count one completed download of ``pkg`` exactly like the plugin (reference §4)."""
        meta = pkg.item["meta"]
        if pkg.kind == "extension":
            keys = ["extensions", meta["baseName"], meta["os"], meta["arch"]]
        else:
            keys = ["applications", meta["os"], meta["arch"]]
        if pkg.release is None:
            self.stats.increment(self.draft_folder_id, DRAFT_RELEASE_NAME, [pkg.folder_revision, *keys])
        else:
            self.stats.increment(self.ids.release_folder_id(pkg.release), pkg.release, keys)

    def download_stats(self) -> dict[str, Any]:
        """``GET /app/{id}/downloadstats``: draft stats, then each release's under its revision (shallow merge)."""
        result: dict[str, Any] = {}
        for folder in self.child_folders(self.app_id):
            stats = folder.get("meta", {}).get("downloadStats")
            if not stats:
                continue
            if folder["name"] == DRAFT_RELEASE_NAME:
                result.update(stats)
                continue
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


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _fh_sha512(fh: BinaryIO) -> str:
    h = hashlib.sha512()
    fh.seek(0)
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()


def _build_key(pkg: IndexedPackage) -> tuple[str, ...]:
    meta = pkg.item["meta"]
    revision = meta.get("app_revision") if pkg.kind == "extension" else meta.get("revision")
    return (pkg.kind, str(meta.get("baseName")), str(meta.get("os")), str(meta.get("arch")), str(revision))


def _newness(pkg: IndexedPackage) -> tuple[str, str, str]:
    name = parse_package_name(Path(pkg.relpath).name)
    return (name.date if name is not None else "", pkg.item.get("created") or "", pkg.relpath)


def _launcher_revision(path: Path) -> str | None:
    """``revision=`` of the launcher settings inside a Slicer Linux tarball, or None."""
    try:
        with tarfile.open(path, mode="r|*") as tf:
            for member in tf:
                if member.isfile() and member.name.endswith(_LAUNCHER_SETTINGS) \
                        and member.size <= _MAX_LAUNCHER_SETTINGS:
                    fh = tf.extractfile(member)
                    text = fh.read().decode("utf-8", errors="replace") if fh else ""
                    match = re.search(r"^\s*revision\s*=\s*(\S+)\s*$", text, re.MULTILINE)
                    return match.group(1) if match else None
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError):
        return None
    return None


def _cache_entry(args: tuple[str, Path, os.stat_result]) -> tuple[str, dict[str, Any]]:
    """The cache entry of one file: its identity, sha512 and (for archives) its description."""
    rel, real, st = args
    entry: dict[str, Any] = dict(zip(_IDENTITY_KEYS, _identity(st)))
    entry["sha512"] = file_sha512(real)
    name = Path(rel).name
    if APPLICATION_FILE_RE.match(name):
        if ".tar" in name.lower() or name.lower().endswith((".tgz", ".tbz2", ".txz")):
            entry["launcher_revision"] = _launcher_revision(real)
    elif rel.lower().endswith(ARCHIVE_SUFFIXES):
        try:
            entry["archive"] = read_archive_description(real)
        except ValueError as exc:
            entry["archive_error"] = str(exc)
    return rel, entry
