"""Inspect and safely extract Slicer extension packages (reference §4.1–4.3, §5.5–5.6, §9 quirk 17).

Qt-free, standard library only (``tarfile``, ``zipfile``, ``gzip``, ``bz2``, ``lzma``).

Accepted packages: ``.tar.gz``/``.tgz``, ``.tar``, ``.tar.bz2``, ``.tar.xz`` and ``.zip``
(the type is detected from the file's first bytes, not from its name).

Safety rules, checked on every entry by :func:`inspect_package` *and again* while
:func:`extract_package` streams the archive (the file may change between the two calls):

* no absolute name (``/x``, ``\\x``, ``C:x``, UNC ``\\\\server\\share``), no ``..`` component,
  no NUL character; ``\\`` counts as a folder separator everywhere;
* every entry lies under one single top folder; no file, link or other entry at the top level;
* only regular files, folders and symbolic links: hard links, character/block devices,
  FIFOs and unknown entry types are refused;
* a symbolic link has a relative target whose ``..`` components all come first and
  do not climb above the package's top folder, or, for a link inside a macOS
  ``Slicer.app/Contents/Extensions-<rev>/<Name>`` tree, above that tree (the part
  that gets installed); ``..`` after a folder name is refused because the OS would
  resolve it after following that folder if it were itself a link;
* no entry may pass through a symbolic link of the archive, whatever their order
  (compared case-insensitively: macOS and Windows file systems are), and no path
  may be both a file and a folder, or appear twice;
* the sum of the regular files' sizes must stay below a limit (:func:`default_size_limit`);
  zip packages are also refused when one member declares a compression ratio above
  :data:`ZIP_MAX_MEMBER_RATIO`, when members overlap, or when a member produces more
  bytes than it declares (bytes are counted while extracting);
* the package must hold an extension description (``share/Slicer-X.Y/<Name>.s4ext``,
  else any ``*.s4ext``).

Extraction never writes outside the staging folder: folders are created one by one and
checked not to be links, files are created with ``O_EXCL | O_NOFOLLOW``, links are created
last in their own place only. Modes keep the permission bits (executables stay
executable) without setuid/setgid/sticky and without group/other write; the owner can
always read and write. Ownership is never changed. Modification times come from the
archive (like libarchive's ``ARCHIVE_EXTRACT_TIME``). On any failure, cancellation
included, everything written into the staging folder is removed.
"""

from __future__ import annotations

import bz2
import contextlib
import copy
import gzip
import io
import lzma
import os
import re
import shutil
import stat
import tarfile
import time
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from . import s4ext
from .errors import ArchiveError, CancelledError, UnsafeArchiveError

__all__ = [
    "ArchiveNameFields",
    "PackageInfo",
    "parse_archive_name",
    "inspect_package",
    "extract_package",
    "default_size_limit",
    "DEFAULT_MAX_RATIO",
    "DEFAULT_MIN_SIZE_LIMIT",
    "DEFAULT_MAX_SIZE_LIMIT",
    "ZIP_MAX_MEMBER_RATIO",
    "ZIP_RATIO_MIN_SIZE",
    "MAX_ENTRIES",
]

# ------------------------------------------------------------------------------------------------
# limits

_KiB = 1024
_MiB = 1024 * _KiB
_GiB = 1024 * _MiB

#: Default expanded-size limit = ``DEFAULT_MAX_RATIO`` × the archive's size on disk, but at
#: least ``DEFAULT_MIN_SIZE_LIMIT`` and at most ``DEFAULT_MAX_SIZE_LIMIT``. Real extension
#: packages (binaries, Python, Qt plugins) expand 2–5×, rarely more than 20×; a deflate bomb
#: expands ~1000×, bzip2/xz bombs far more. 200× leaves a 10× margin for real packages and
#: stops a 10 MB bomb at 2 GB. The floor keeps small packages with some very compressible
#: data installable (256 MiB on disk is harmless); the ceiling bounds what any single package
#: may write (no extension comes near 20 GiB).
DEFAULT_MAX_RATIO = 200
#: Floor of the default expanded-size limit (bytes).
DEFAULT_MIN_SIZE_LIMIT = 256 * _MiB
#: Ceiling of the default expanded-size limit (bytes).
DEFAULT_MAX_SIZE_LIMIT = 20 * _GiB
#: A zip member declaring more than this ratio (expanded / compressed) is refused as a bomb,
#: when it declares at least :data:`ZIP_RATIO_MIN_SIZE` bytes. Deflate tops out at ~1032:1,
#: so only data made of one repeated byte, or bzip2/lzma bombs, get there.
ZIP_MAX_MEMBER_RATIO = 1000
#: Members smaller than this (bytes) are not subject to :data:`ZIP_MAX_MEMBER_RATIO`.
ZIP_RATIO_MIN_SIZE = 16 * _MiB
#: At most this many entries (folders included): stops "inode bombs".
MAX_ENTRIES = 1_000_000
#: Largest ``.s4ext`` read from a package (bytes).
MAX_DESCRIPTION_SIZE = 1 * _MiB
#: Longest symbolic-link target accepted (bytes, zip links store the target as data).
MAX_LINK_TARGET = 4096
#: Read/write chunk; ``progress`` is called at most once per chunk and per entry.
CHUNK_SIZE = 1 * _MiB

#: Tar metadata (headers, pax records, long names) allowed per entry, plus a fixed allowance
#: for padding after the end-of-archive marker. Bounds what ``tarfile`` buffers in memory
#: (it reads a pax header or a GNU long name in one piece).
_TAR_HEADER_ALLOWANCE = 64 * _KiB
_TAR_STREAM_ALLOWANCE = 4 * _MiB
_TAR_WINDOW = 128 * _KiB

_ZERO_BLOCK = bytes(tarfile.BLOCKSIZE)

ProgressCallback = Callable[[int, int], None]
CancelCallback = Callable[[], bool]


def default_size_limit(archive_size: int) -> int:
    """The expanded-size limit used when none is given (see :data:`DEFAULT_MAX_RATIO`)."""
    return min(DEFAULT_MAX_SIZE_LIMIT, max(DEFAULT_MIN_SIZE_LIMIT, DEFAULT_MAX_RATIO * max(archive_size, 0)))


# ------------------------------------------------------------------------------------------------
# public data


@dataclass(frozen=True)
class ArchiveNameFields:
    """Fields of a CPack package file name (reference §4.1):
    ``<app_revision>-<os>-<arch>-<extension_name>-<scm><scm_revision>-<date>.<ext>``."""

    app_revision: str
    os: str
    arch: str
    extension_name: str
    scm: str
    scm_revision: str
    date: str


@dataclass(frozen=True)
class PackageInfo:
    """What :func:`inspect_package` learned from a package's member list.

    ``s4ext_member`` and ``top_folder`` are normalized (``/`` separators, no ``.``
    components). ``s4ext`` is the in-package description parsed with
    :func:`slicer_ext_manager.s4ext.parse_text` (no ``installed`` default: it is not an
    installed record) plus ``extensionname``. ``expanded_size`` is the sum of the regular
    files' sizes (declared sizes for zip members).
    """

    path: Path
    format: str
    top_folder: str
    extension_name: str
    s4ext_member: str
    s4ext: dict[str, str]
    slicer_version: str | None
    macos_revision: str | None
    entry_count: int
    expanded_size: int
    name_fields: ArchiveNameFields | None

    @property
    def root_member(self) -> str:
        """The folder (inside the archive) whose content is the extension: the top folder,
        or ``<top>/Slicer.app/Contents/Extensions-<rev>/<Name>`` for a macOS package."""
        return "/".join(_root_parts(self))


def _root_parts(info: PackageInfo) -> tuple[str, ...]:
    if info.macos_revision is None:
        return (info.top_folder,)
    parts = info.s4ext_member.split("/")
    return tuple(parts[:5])


# ------------------------------------------------------------------------------------------------
# file names

_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")
_NAME_RE = re.compile(
    r"^(?P<rev>[^-]+)-(?P<os>[^-]+)-(?P<arch>[^-]+)-(?P<name>.+?)"
    r"-(?P<scm>[^-]*)-(?P<date>\d{4}-\d{2}-\d{2})$"
)
_SCM_RE = re.compile(r"^(git|svn|hg|cvs|local)(.*)$", re.IGNORECASE)


def parse_archive_name(filename: str | os.PathLike[str]) -> ArchiveNameFields | None:
    """Parse a CPack package name such as ``30987-linux-amd64-ImageMaker-git6293f99-2017-07-03.tar.gz``.

    Revision, os and arch are taken from the front, date and scm revision from the back,
    so an extension name containing ``-`` still parses. Returns ``None`` for any other name.
    """
    name = Path(os.fspath(filename)).name
    lower = name.lower()
    for suffix in _ARCHIVE_SUFFIXES:
        if lower.endswith(suffix):
            name = name[: -len(suffix)]
            break
    else:
        return None
    match = _NAME_RE.match(name)
    if not match:
        return None
    scm_full = match.group("scm")
    scm_match = _SCM_RE.match(scm_full)
    scm, scm_revision = (scm_match.group(1), scm_match.group(2)) if scm_match else ("", scm_full)
    return ArchiveNameFields(
        app_revision=match.group("rev"),
        os=match.group("os"),
        arch=match.group("arch"),
        extension_name=match.group("name"),
        scm=scm,
        scm_revision=scm_revision,
        date=match.group("date"),
    )


# ------------------------------------------------------------------------------------------------
# messages


def _show(name: str) -> str:
    """An entry name fit for a one-line message (control characters escaped)."""
    out = []
    for ch in name:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", errors="backslashreplace").decode("ascii", "replace"))
    return "".join(out).encode("utf-8", errors="backslashreplace").decode("utf-8")


def _unsafe(archive: Path, entry: str | None, reason: str) -> UnsafeArchiveError:
    if entry is None:
        return UnsafeArchiveError(f"The package {archive.name} was refused because {reason}; it was not installed.")
    return UnsafeArchiveError(
        f"The package {archive.name} was refused because its entry '{_show(entry)}' {reason}; it was not installed."
    )


def _damaged(archive: Path, detail: object = None) -> ArchiveError:
    extra = f" ({detail})" if detail else ""
    return ArchiveError(f"The package {archive.name} is damaged or incomplete{extra}; download it again.")


class _ReadFailure(Exception):
    """Internal: reading the archive failed (wrapped into :class:`ArchiveError`)."""


# ------------------------------------------------------------------------------------------------
# entries and validation

_FILE, _DIR, _LINK = "file", "dir", "symlink"
_SPLIT_RE = re.compile(r"[\\/]+")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_S4EXT_SHARE_RE = re.compile(r"(?:^|/)share/Slicer-([^/]+)/[^/]+\.s4ext$")


@dataclass
class _Entry:
    raw: str
    parts: tuple[str, ...]
    kind: str
    size: int = 0
    mode: int | None = None
    mtime: float | None = None
    target: str | None = None


def _fold(parts: tuple[str, ...]) -> str:
    return unicodedata.normalize("NFC", "/".join(parts)).casefold()


def _split_name(archive: Path, raw: str) -> tuple[str, ...]:
    """Normalized components of an entry name, or :class:`UnsafeArchiveError`."""
    if not raw:
        raise _unsafe(archive, raw, "has an empty name")
    if "\x00" in raw:
        raise _unsafe(archive, raw, "contains a NUL character")
    if raw.startswith(("/", "\\")):
        raise _unsafe(archive, raw, "has an absolute path")
    if _DRIVE_RE.match(raw):
        raise _unsafe(archive, raw, "has an absolute path (drive letter)")
    parts = tuple(p for p in _SPLIT_RE.split(raw) if p not in ("", "."))
    if any(p == ".." for p in parts):
        raise _unsafe(archive, raw, "contains a '..' component (it would be written outside the install folder)")
    if os.name == "nt" and any(":" in p for p in parts):
        raise _unsafe(archive, raw, "contains ':' (an alternate data stream or drive)")
    if not parts:
        raise _unsafe(archive, raw, "has an empty name")
    return parts


def _split_target(archive: Path, entry: _Entry) -> tuple[int, tuple[str, ...]]:
    """``(number of leading '..', remaining components)`` of a link target."""
    target = entry.target or ""
    if not target:
        raise _unsafe(archive, entry.raw, "is a symbolic link with an empty target")
    if "\x00" in target or len(target.encode("utf-8", "surrogateescape")) > MAX_LINK_TARGET:
        raise _unsafe(archive, entry.raw, "is a symbolic link with an invalid target")
    if target.startswith(("/", "\\")) or _DRIVE_RE.match(target):
        raise _unsafe(archive, entry.raw, f"is a symbolic link to an absolute path ('{_show(target)}')")
    parts = [p for p in _SPLIT_RE.split(target) if p not in ("", ".")]
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    rest = tuple(parts[ups:])
    if ".." in rest:
        raise _unsafe(
            archive, entry.raw,
            f"is a symbolic link whose target '{_show(target)}' has '..' after a folder name",
        )
    if os.name == "nt" and any(":" in p for p in rest):
        raise _unsafe(archive, entry.raw, f"is a symbolic link to '{_show(target)}' (contains ':')")
    return ups, rest


def _check_link_scope(archive: Path, entry: _Entry, root: tuple[str, ...]) -> None:
    """A link must not point above the top folder, nor above ``root`` when it lies in ``root``."""
    ups, _rest = _split_target(archive, entry)
    link_dir = entry.parts[:-1]
    scope_len = len(root) if entry.parts[: len(root)] == root and len(entry.parts) > len(root) else 1
    if len(link_dir) - ups < scope_len:
        raise _unsafe(
            archive, entry.raw,
            f"is a symbolic link pointing outside the package ('{_show(entry.target or '')}')",
        )


class _Validator:
    """Checks entries one by one; the set rules hold whatever the entry order."""

    def __init__(self, archive: Path, limit: int, top: str | None = None, root: tuple[str, ...] | None = None):
        self.archive = archive
        self.limit = limit
        self.top = top
        self.root = root
        self.count = 0
        self.expanded = 0
        self._nondirs: set[tuple[str, ...]] = set()
        self._dirs: set[tuple[str, ...]] = set()
        self._links_cf: set[str] = set()
        self._dirs_cf: set[str] = set()
        self._nondirs_cf: set[str] = set()

    def add(self, entry: _Entry) -> None:
        archive, parts = self.archive, entry.parts
        self.count += 1
        if self.count > MAX_ENTRIES:
            raise _unsafe(archive, None, f"it has more than {MAX_ENTRIES} entries")
        if len(parts) == 1 and entry.kind != _DIR:
            raise _unsafe(
                archive, entry.raw,
                "is outside the package's top folder (all entries must be inside one top folder)",
            )
        if self.top is None:
            self.top = parts[0]
        elif parts[0] != self.top:
            raise _unsafe(
                archive, entry.raw,
                f"is not inside the package's top folder '{_show(self.top)}' (a package has one top folder)",
            )
        if entry.kind == _LINK:
            _check_link_scope(archive, entry, self.root or (self.top,))
        # Ancestors: never through a link, never inside a file.
        for i in range(1, len(parts)):
            anc = parts[:i]
            if _fold(anc) in self._links_cf:
                raise _unsafe(
                    archive, entry.raw,
                    f"passes through the symbolic link '{_show('/'.join(anc))}' of the same package",
                )
            if anc in self._nondirs:
                raise _unsafe(archive, entry.raw, f"is inside '{_show('/'.join(anc))}', which is not a folder")
        folded = _fold(parts)
        if entry.kind == _DIR:
            if parts in self._nondirs or folded in self._links_cf:
                raise _unsafe(archive, entry.raw, "is a folder with the name of another entry")
        else:
            if parts in self._nondirs:
                raise _unsafe(archive, entry.raw, "appears twice in the package")
            if parts in self._dirs:
                raise _unsafe(archive, entry.raw, "has the name of a folder of the package")
            if entry.kind == _LINK and (folded in self._dirs_cf or folded in self._nondirs_cf):
                raise _unsafe(archive, entry.raw, "is a symbolic link with the name of another entry")
            if folded in self._links_cf:
                raise _unsafe(archive, entry.raw, "has the name of a symbolic link of the package")
            self._nondirs.add(parts)
            self._nondirs_cf.add(folded)
            if entry.kind == _LINK:
                self._links_cf.add(folded)
        last = len(parts) if entry.kind == _DIR else len(parts) - 1
        for i in range(1, last + 1):
            anc = parts[:i]
            if anc not in self._dirs:
                self._dirs.add(anc)
                self._dirs_cf.add(_fold(anc))
        if entry.kind == _FILE:
            self.expanded += entry.size
            if self.expanded > self.limit:
                raise _unsafe(
                    archive, entry.raw,
                    f"makes the package expand to more than {self.limit} bytes (the limit; "
                    "this looks like a decompression bomb)",
                )


# ------------------------------------------------------------------------------------------------
# format detection and readers


def _detect(path: Path) -> tuple[str, str | None]:
    """``("zip", None)`` or ``("tar", compression)`` with compression in gz/bz2/xz/None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(tarfile.BLOCKSIZE)
    except OSError as exc:
        raise ArchiveError(f"The package {path.name} cannot be read: {exc.strerror or exc}.") from exc
    if not head:
        raise _damaged(path, "the file is empty")
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip", None
    if head[:2] == b"\x1f\x8b":
        return "tar", "gz"
    if head[:3] == b"BZh":
        return "tar", "bz2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "tar", "xz"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar", None
    if path.name.lower().endswith(".zip") and zipfile.is_zipfile(path):
        return "zip", None
    raise ArchiveError(
        f"{path.name} is not a Slicer extension package (supported: .tar.gz, .tgz, .tar, .tar.bz2, "
        ".tar.xz, .zip)."
    )


_READ_ERRORS = (
    tarfile.TarError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError,
    zlib.error, lzma.LZMAError, ValueError, NotImplementedError, RuntimeError, UnicodeError,
)


class _TarSource:
    """The decompressed tar stream: counts bytes, keeps a window of the last ones read,
    and refuses to deliver more than the metadata allowance (see ``_TAR_HEADER_ALLOWANCE``)."""

    def __init__(self, path: Path, compression: str | None):
        self.path = path
        self._raw = open(path, "rb")
        try:
            if compression == "gz":
                self._fh: io.BufferedIOBase = gzip.GzipFile(fileobj=self._raw, mode="rb")  # type: ignore[assignment]
            elif compression == "bz2":
                self._fh = bz2.BZ2File(self._raw, mode="rb")  # type: ignore[assignment]
            elif compression == "xz":
                self._fh = lzma.LZMAFile(self._raw, mode="rb")  # type: ignore[assignment]
            else:
                self._fh = self._raw  # type: ignore[assignment]
        except BaseException:
            self._raw.close()
            raise
        self.total = 0
        self.allowance = _TAR_STREAM_ALLOWANCE + _TAR_HEADER_ALLOWANCE
        self._window = bytearray()
        self._window_start = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = CHUNK_SIZE
        remaining = self.allowance - self.total
        if remaining <= 0:
            raise _unsafe(self.path, None, "its tar stream holds more data than its entries declare "
                          "(oversized headers or trailing data; this looks like a decompression bomb)")
        data = self._fh.read(min(size, remaining + 1))
        self.total += len(data)
        if self.total > self.allowance:
            raise _unsafe(self.path, None, "its tar stream holds more data than its entries declare "
                          "(oversized headers or trailing data; this looks like a decompression bomb)")
        self._window += data
        if len(self._window) > _TAR_WINDOW:
            cut = len(self._window) - _TAR_WINDOW
            del self._window[:cut]
            self._window_start += cut
        return data

    def block_at(self, offset: int) -> bytes | None:
        """The 512 bytes at ``offset`` if still in the window (``b''``-short at end of data)."""
        start = offset - self._window_start
        if start < 0:
            return None
        return bytes(self._window[start: start + tarfile.BLOCKSIZE])

    def drain(self) -> None:
        while self.read(CHUNK_SIZE):
            pass

    def close(self) -> None:
        try:
            if self._fh is not self._raw:
                self._fh.close()
        finally:
            self._raw.close()


def _tar_entry(archive: Path, member: tarfile.TarInfo) -> _Entry:
    raw = member.name
    if member.islnk():
        _split_name(archive, raw)
        raise _unsafe(archive, raw, f"is a hard link (to '{_show(member.linkname)}'), which is not allowed")
    if member.ischr() or member.isblk():
        raise _unsafe(archive, raw, "is a device file, which is not allowed")
    if member.isfifo():
        raise _unsafe(archive, raw, "is a FIFO (named pipe), which is not allowed")
    if member.isdir():
        kind = _DIR
    elif member.issym():
        kind = _LINK
    elif member.isreg():
        kind = _FILE
    else:
        raise _unsafe(archive, raw, f"has an unsupported entry type ({member.type!r})")
    parts = _split_name(archive, raw)
    return _Entry(
        raw=raw, parts=parts, kind=kind, size=member.size if kind == _FILE else 0,
        mode=member.mode, mtime=member.mtime, target=member.linkname if kind == _LINK else None,
    )


def _iter_tar(archive: Path, compression: str | None, validator: _Validator) -> Iterator[tuple[_Entry, tarfile.TarFile, tarfile.TarInfo]]:
    """Stream the tar once, validating each entry; checks the end-of-archive marker and the
    compression trailer (CRC) after the last entry. Read errors become :class:`_ReadFailure`."""
    try:
        source = _TarSource(archive, compression)
    except OSError as exc:
        raise ArchiveError(f"The package {archive.name} cannot be read: {exc.strerror or exc}.") from exc
    try:
        try:
            tf = tarfile.open(fileobj=source, mode="r|", bufsize=tarfile.RECORDSIZE)  # type: ignore[call-overload]
        except _READ_ERRORS as exc:
            raise _ReadFailure(exc) from exc
        with tf:
            last: tarfile.TarInfo | None = None
            while True:
                try:
                    member = tf.next()
                except _READ_ERRORS as exc:
                    raise _ReadFailure(exc) from exc
                if member is None:
                    break
                last = member
                entry = _tar_entry(archive, member)
                validator.add(entry)
                source.allowance += _TAR_HEADER_ALLOWANCE + (entry.size if entry.kind == _FILE else 0)
                yield entry, tf, member
            # tarfile stops silently on a truncated or garbled header: require the zero block.
            end = getattr(tf, "offset", None)
            if not isinstance(end, int):  # pragma: no cover - tarfile always has it
                end = 0 if last is None else last.offset_data + -(-last.size // 512) * 512
            block = source.block_at(end)
            if block is not None and block != _ZERO_BLOCK:
                raise _ReadFailure("the archive ends before its end-of-archive marker")
        try:
            source.drain()  # reach the gzip/bz2/xz trailer: checks CRC and length
        except _READ_ERRORS as exc:
            raise _ReadFailure(exc) from exc
    finally:
        source.close()


def _zip_entry(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Entry:
    raw = info.filename
    unix_mode = (info.external_attr >> 16) & 0xFFFF if info.create_system == 3 else 0
    fmt = stat.S_IFMT(unix_mode)
    if fmt in (stat.S_IFCHR, stat.S_IFBLK):
        raise _unsafe(archive, raw, "is a device file, which is not allowed")
    if fmt in (stat.S_IFIFO, stat.S_IFSOCK):
        raise _unsafe(archive, raw, "is a special file (FIFO or socket), which is not allowed")
    if fmt == stat.S_IFLNK:
        kind = _LINK
    elif info.is_dir() or fmt == stat.S_IFDIR or (info.create_system == 0 and info.external_attr & 0x10):
        kind = _DIR
    elif fmt in (0, stat.S_IFREG):
        kind = _FILE
    else:
        raise _unsafe(archive, raw, "has an unsupported entry type")
    if info.flag_bits & 0x1:
        raise ArchiveError(f"The package {archive.name} is encrypted (entry '{_show(raw)}'); it cannot be installed.")
    parts = _split_name(archive, raw)
    mode = unix_mode & 0o7777 if unix_mode else None
    try:
        mtime: float | None = time.mktime(tuple(info.date_time) + (0, 0, -1))  # type: ignore[arg-type]
    except (OverflowError, ValueError):
        mtime = None
    entry = _Entry(raw=raw, parts=parts, kind=kind, size=info.file_size if kind == _FILE else 0,
                   mode=mode, mtime=mtime)
    if kind == _LINK:
        if info.file_size > MAX_LINK_TARGET:
            raise _unsafe(archive, raw, "is a symbolic link with an invalid target")
        data = b"".join(_zip_chunks(archive, zf, info, MAX_LINK_TARGET))
        entry.target = data.decode("utf-8", errors="surrogateescape")
    return entry


def _zip_chunks(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> Iterator[bytes]:
    """Decompress a member in chunks, counting real bytes: more than declared, or more
    than ``budget``, is refused whatever the headers say."""
    probe = copy.copy(info)
    # zipfile stops (and checks the CRC) at the declared size. Let it run a little past what we
    # accept, more than it can decompress ahead of a read, so that a lie shows as extra bytes.
    probe.file_size = min(info.file_size, budget) + 2 * CHUNK_SIZE + 1
    produced = 0
    try:
        with zf.open(probe) as fh:
            while True:
                chunk = fh.read(CHUNK_SIZE)
                if not chunk:
                    break
                produced += len(chunk)
                if produced > info.file_size:
                    raise _unsafe(archive, info.filename, f"expands beyond its declared size of {info.file_size} bytes")
                if produced > budget:
                    raise _unsafe(
                        archive, info.filename,
                        "makes the package expand beyond the size limit (this looks like a decompression bomb)",
                    )
                yield chunk
    except UnsafeArchiveError:
        raise
    except _READ_ERRORS as exc:
        raise _ReadFailure(f"entry '{_show(info.filename)}': {exc}") from exc
    if produced != info.file_size:
        raise _ReadFailure(f"entry '{_show(info.filename)}' is shorter than declared")


def _open_zip(archive: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except _READ_ERRORS as exc:
        if isinstance(exc, FileNotFoundError | PermissionError):
            raise ArchiveError(f"The package {archive.name} cannot be read: {exc.strerror or exc}.") from exc
        raise _ReadFailure(exc) from exc


def _check_zip_declared(archive: Path, zf: zipfile.ZipFile, limit: int) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    archive_size = archive.stat().st_size
    if len(infos) > MAX_ENTRIES:
        raise _unsafe(archive, None, f"it has more than {MAX_ENTRIES} entries")
    declared = 0
    for info in infos:
        declared += info.file_size
        if declared > limit:
            raise _unsafe(
                archive, info.filename,
                f"makes the package expand to more than {limit} bytes (the limit; this looks like a decompression bomb)",
            )
        if info.file_size >= ZIP_RATIO_MIN_SIZE and info.file_size > ZIP_MAX_MEMBER_RATIO * max(info.compress_size, 1):
            raise _unsafe(
                archive, info.filename,
                f"declares a compression ratio above {ZIP_MAX_MEMBER_RATIO}:1 (this looks like a zip bomb)",
            )
    # Overlapping members (several entries sharing compressed data) are a bomb technique.
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for i, info in enumerate(ordered):
        end = info.header_offset + 30 + info.compress_size
        limit_offset = ordered[i + 1].header_offset if i + 1 < len(ordered) else archive_size
        if end > limit_offset:
            raise _unsafe(archive, info.filename, "overlaps another entry of the zip file (this looks like a zip bomb)")
    return infos


# ------------------------------------------------------------------------------------------------
# inspection


class _DescriptionPicker:
    """Chooses the description file like the reference: first ``share/Slicer-*/<Name>.s4ext``,
    else the first ``*.s4ext``."""

    def __init__(self) -> None:
        self.preferred: tuple[_Entry, str] | None = None
        self.fallback: tuple[_Entry, str] | None = None

    def wants(self, entry: _Entry) -> bool:
        if entry.kind != _FILE or not entry.parts[-1].endswith(".s4ext") or self.preferred is not None:
            return False
        return bool(_S4EXT_SHARE_RE.search("/".join(entry.parts))) or self.fallback is None

    @staticmethod
    def check_size(archive: Path, entry: _Entry, size: int) -> None:
        if size > MAX_DESCRIPTION_SIZE:
            raise ArchiveError(
                f"The package {archive.name} has an oversized description file '{_show(entry.raw)}'; "
                "it is not a valid extension package."
            )

    def offer(self, archive: Path, entry: _Entry, data: bytes) -> None:
        self.check_size(archive, entry, len(data))
        text = data.decode("utf-8", errors="replace")
        if _S4EXT_SHARE_RE.search("/".join(entry.parts)):
            self.preferred = (entry, text)
        elif self.fallback is None:
            self.fallback = (entry, text)

    @property
    def chosen(self) -> tuple[_Entry, str] | None:
        return self.preferred or self.fallback


def _resolve_limit(path: Path, max_expanded_size: int | None) -> int:
    if max_expanded_size is not None:
        if max_expanded_size < 0:
            raise ValueError("max_expanded_size must be >= 0")
        return int(max_expanded_size)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ArchiveError(f"The package {path.name} cannot be read: {exc.strerror or exc}.") from exc
    return default_size_limit(size)


def inspect_package(path: str | os.PathLike[str], *, max_expanded_size: int | None = None) -> PackageInfo:
    """Read and validate a package's member list (and its ``.s4ext``), write nothing.

    Raises :class:`UnsafeArchiveError` (naming the entry) for any entry that breaks the
    module's safety rules, for a package expanding beyond ``max_expanded_size`` bytes
    (default: :func:`default_size_limit` of the file size) and for a package without
    description file; :class:`ArchiveError` for an unreadable, damaged or unknown file.
    A tar is streamed once, to its end: gzip/bzip2/xz integrity is checked.
    """
    archive = Path(os.fspath(path))
    fmt, compression = _detect(archive)
    limit = _resolve_limit(archive, max_expanded_size)
    validator = _Validator(archive, limit)
    picker = _DescriptionPicker()
    links: list[_Entry] = []
    try:
        if fmt == "zip":
            zf = _open_zip(archive)
            with zf:
                try:
                    infos = _check_zip_declared(archive, zf, limit)
                except _READ_ERRORS as exc:
                    raise _ReadFailure(exc) from exc
                for info in infos:
                    entry = _zip_entry(archive, zf, info)
                    validator.add(entry)
                    if entry.kind == _LINK:
                        links.append(entry)
                    if picker.wants(entry):
                        picker.check_size(archive, entry, info.file_size)
                        picker.offer(archive, entry, b"".join(_zip_chunks(archive, zf, info, MAX_DESCRIPTION_SIZE)))
        else:
            with contextlib.closing(_iter_tar(archive, compression, validator)) as stream:
                for entry, tf, member in stream:
                    if entry.kind == _LINK:
                        links.append(entry)
                    if picker.wants(entry):
                        picker.check_size(archive, entry, entry.size)
                        try:
                            fh = tf.extractfile(member)
                            data = fh.read(MAX_DESCRIPTION_SIZE + 1) if fh else b""
                        except _READ_ERRORS as exc:
                            raise _ReadFailure(exc) from exc
                        picker.offer(archive, entry, data)
    except _ReadFailure as exc:
        raise _damaged(archive, exc) from exc

    if validator.count == 0:
        raise ArchiveError(f"The package {archive.name} doesn't contain any files; it is not a valid extension package.")
    chosen = picker.chosen
    if chosen is None:
        raise _unsafe(archive, None, "it contains no extension description file (share/Slicer-X.Y/<Name>.s4ext)")
    desc_entry, text = chosen
    member_name = "/".join(desc_entry.parts)
    name = s4ext.extension_name_from_path(desc_entry.parts[-1])
    if not name or any(not ch.isprintable() for ch in name):
        raise ArchiveError(f"Corrupted {archive.name} extension package: its description file '{_show(desc_entry.raw)}' has no extension name.")

    macos_revision = None
    parts = desc_entry.parts
    if len(parts) > 5 and parts[1] == "Slicer.app" and parts[2] == "Contents" and parts[3].startswith("Extensions-"):
        macos_revision = parts[3][len("Extensions-"):]
        if not macos_revision:
            raise ArchiveError(f"Corrupted {archive.name} extension package: '{_show(desc_entry.raw)}' has no revision.")
        if parts[4] != name:
            raise ArchiveError(
                f"Corrupted {name} extension package: its description file '{_show(desc_entry.raw)}' "
                f"is not in the folder of extension {name}."
            )
        root = tuple(parts[:5])
        for link in links:  # now that the installed subtree is known
            _check_link_scope(archive, link, root)

    version_match = _S4EXT_SHARE_RE.search(member_name)
    description = s4ext.parse_text(text, installed_default=False)
    description["extensionname"] = name
    return PackageInfo(
        path=archive,
        format=fmt,
        top_folder=validator.top or "",
        extension_name=name,
        s4ext_member=member_name,
        s4ext=description,
        slicer_version=version_match.group(1) if version_match else None,
        macos_revision=macos_revision,
        entry_count=validator.count,
        expanded_size=validator.expanded,
        name_fields=parse_archive_name(archive.name),
    )


# ------------------------------------------------------------------------------------------------
# extraction

_OPEN_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
)


def _file_mode(mode: int | None) -> int:
    """Like tarfile's ``data`` filter: no setuid/setgid/sticky, no group/other write,
    owner read+write, execute for group/other only if the owner has it."""
    if mode is None:
        return 0o644
    mode = (mode & 0o755) | 0o600
    if not mode & 0o100:
        mode &= ~0o111
    return mode


def _dir_mode(mode: int | None) -> int:
    if mode is None:
        return 0o755
    return (mode & 0o755) | 0o700


class _Writer:
    """Writes entries under ``staging`` only; remembers folders to fix up at the end."""

    def __init__(self, archive: Path, staging: Path, cancel: CancelCallback | None,
                 progress: ProgressCallback | None, total: int, limit: int):
        self.archive = archive
        self.staging = staging
        self.cancel = cancel
        self.progress = progress
        self.total = total
        self.limit = limit
        self.done = 0
        self._made: set[tuple[str, ...]] = set()
        self._dir_attrs: dict[tuple[str, ...], tuple[int | None, float | None]] = {}

    def _path(self, parts: tuple[str, ...]) -> str:
        return os.path.join(os.fspath(self.staging), *parts)

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise CancelledError(f"Extraction of {self.archive.name} was cancelled.")

    def report(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total)

    def _write_error(self, entry: _Entry, exc: OSError) -> ArchiveError:
        if isinstance(exc, FileExistsError) or exc.errno in (getattr(os, "ELOOP", -1),):
            return _unsafe(self.archive, entry.raw, "conflicts with another entry already extracted")
        return ArchiveError(
            f"Could not write '{_show(entry.raw)}' of {self.archive.name} into {self.staging}: "
            f"{exc.strerror or exc}."
        )

    def ensure_dirs(self, entry: _Entry, parts: tuple[str, ...]) -> None:
        for i in range(1, len(parts) + 1):
            sub = parts[:i]
            if sub in self._made:
                continue
            path = self._path(sub)
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                st = os.lstat(path)
                if not stat.S_ISDIR(st.st_mode):
                    raise _unsafe(self.archive, entry.raw, "conflicts with another entry already extracted")
            except OSError as exc:
                raise self._write_error(entry, exc) from exc
            self._made.add(sub)
            self._dir_attrs.setdefault(sub, (None, None))

    def directory(self, entry: _Entry) -> None:
        self.ensure_dirs(entry, entry.parts)
        self._dir_attrs[entry.parts] = (entry.mode, entry.mtime)

    def file(self, entry: _Entry, chunks: Iterator[bytes]) -> None:
        self.ensure_dirs(entry, entry.parts[:-1])
        path = self._path(entry.parts)
        mode = _file_mode(entry.mode)
        written = 0
        try:
            fd = os.open(path, _OPEN_FLAGS, 0o600)
        except OSError as exc:
            raise self._write_error(entry, exc) from exc
        try:
            with os.fdopen(fd, "wb", closefd=True) as fh:
                for chunk in chunks:
                    written += len(chunk)
                    self.done += len(chunk)
                    if written > entry.size or self.done > self.limit:
                        raise _unsafe(
                            self.archive, entry.raw,
                            "makes the package expand beyond the size limit (this looks like a decompression bomb)",
                        )
                    try:
                        fh.write(chunk)
                    except OSError as exc:
                        raise self._write_error(entry, exc) from exc
                    self.report()
                    self.check_cancel()
                if os.name != "nt":
                    try:
                        os.fchmod(fh.fileno(), mode)
                    except OSError as exc:
                        raise self._write_error(entry, exc) from exc
        except OSError as exc:  # close() failure (disk full...)
            raise self._write_error(entry, exc) from exc
        _set_mtime(path, entry.mtime)

    def symlink(self, entry: _Entry) -> None:
        self.ensure_dirs(entry, entry.parts[:-1])
        path = self._path(entry.parts)
        target = (entry.target or "").replace("\\", "/")
        try:
            os.symlink(target, path)
        except OSError as exc:
            raise self._write_error(entry, exc) from exc
        _set_mtime(path, entry.mtime, link=True)

    def finish_dirs(self) -> None:
        """Folder modes and times last (children change a folder's mtime), deepest first."""
        for parts in sorted(self._dir_attrs, key=len, reverse=True):
            mode, mtime = self._dir_attrs[parts]
            path = self._path(parts)
            try:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    continue
                if os.name != "nt":
                    os.chmod(path, _dir_mode(mode))
            except OSError:
                pass
            _set_mtime(path, mtime)


def _set_mtime(path: str, mtime: float | None, *, link: bool = False) -> None:
    """Best effort, never following a link (a link's own time only where the OS can)."""
    if mtime is None:
        return
    try:
        if os.utime in os.supports_follow_symlinks:
            os.utime(path, (mtime, mtime), follow_symlinks=False)
        elif not link:
            os.utime(path, (mtime, mtime))
    except (OSError, OverflowError, ValueError, NotImplementedError):
        pass


def _clear(staging: Path) -> None:
    """Remove everything inside ``staging`` (never following links)."""
    try:
        entries = list(os.scandir(staging))
    except OSError:
        return
    for item in entries:
        try:
            if item.is_dir(follow_symlinks=False):
                shutil.rmtree(item.path, ignore_errors=True)
            else:
                os.unlink(item.path)
        except OSError:
            pass


def _check_staging(staging: Path) -> None:
    try:
        st = os.lstat(staging)
    except OSError as exc:
        raise ArchiveError(f"The staging folder {staging} does not exist; create it before extracting.") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise ArchiveError(f"The staging folder {staging} is not a folder.")
    with os.scandir(staging) as it:
        if any(True for _ in it):
            raise ArchiveError(f"The staging folder {staging} is not empty; extraction needs an empty folder.")


def _tar_filter_check(archive: Path, member: tarfile.TarInfo, staging: Path) -> None:
    """Python's own ``data`` extraction filter, when available, as a second opinion."""
    data_filter = getattr(tarfile, "data_filter", None)
    if data_filter is None:
        return
    try:
        data_filter(member, os.fspath(staging))
    except tarfile.FilterError as exc:  # type: ignore[attr-defined]
        raise _unsafe(archive, member.name, f"is refused by Python's tar data filter ({exc})") from exc


def _tar_data(archive: Path, tf: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator[bytes]:
    try:
        fh = tf.extractfile(member)
        if fh is None:
            return
        while True:
            chunk = fh.read(CHUNK_SIZE)
            if not chunk:
                break
            yield chunk
    except _READ_ERRORS as exc:
        raise _ReadFailure(f"entry '{_show(member.name)}': {exc}") from exc


def extract_package(
    path: str | os.PathLike[str],
    staging_dir: str | os.PathLike[str],
    *,
    info: PackageInfo | None = None,
    app_revision: str | None = None,
    max_expanded_size: int | None = None,
    cancel: CancelCallback | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Extract a package into ``staging_dir`` (which must exist and be empty) and return the
    folder holding the extension's content: ``<staging>/<top>`` or, for a macOS package,
    ``<staging>/<top>/Slicer.app/Contents/Extensions-<rev>/<Name>``.

    ``info`` (from :func:`inspect_package`) saves the inspection pass; every entry is
    validated again while extracting anyway. ``app_revision``: refuse a macOS package built
    for another Slicer revision. ``cancel()`` returning true raises :class:`CancelledError`;
    ``progress(done_bytes, total_bytes)`` is called at the start, after each chunk and at the
    end. On any error everything written into ``staging_dir`` is removed.
    """
    archive = Path(os.fspath(path))
    staging = Path(os.fspath(staging_dir))
    _check_staging(staging)
    if info is None:
        info = inspect_package(archive, max_expanded_size=max_expanded_size)
    if app_revision is not None and info.macos_revision is not None and str(app_revision) != info.macos_revision:
        raise ArchiveError(
            f"The package {archive.name} was built for Slicer revision {info.macos_revision}, "
            f"but this Slicer is revision {app_revision}; install the package built for this revision."
        )
    limit = _resolve_limit(archive, max_expanded_size)
    root = _root_parts(info)
    fmt, compression = _detect(archive)
    if fmt != info.format:
        raise ArchiveError(f"The package {archive.name} changed since it was checked; download it again.")
    writer = _Writer(archive, staging, cancel, progress, info.expanded_size, limit)
    validator = _Validator(archive, limit, top=info.top_folder, root=root)
    seen_description = False

    def handle(entry: _Entry, data: Callable[[], Iterator[bytes]]) -> None:
        nonlocal seen_description
        writer.check_cancel()
        if entry.kind == _DIR:
            writer.directory(entry)
        elif entry.kind == _LINK:
            writer.symlink(entry)
        else:
            if "/".join(entry.parts) == info.s4ext_member:
                seen_description = True
            writer.file(entry, data())
        writer.report()

    try:
        writer.report()
        writer.check_cancel()
        try:
            if fmt == "zip":
                with _open_zip(archive) as zf:
                    try:
                        infos = _check_zip_declared(archive, zf, limit)
                    except _READ_ERRORS as exc:
                        raise _ReadFailure(exc) from exc
                    for zinfo in infos:
                        entry = _zip_entry(archive, zf, zinfo)
                        validator.add(entry)
                        handle(entry, lambda zi=zinfo: _zip_chunks(archive, zf, zi, max(0, limit - writer.done)))
            else:
                with contextlib.closing(_iter_tar(archive, compression, validator)) as stream:
                    for entry, tf, member in stream:
                        _tar_filter_check(archive, member, staging)
                        handle(entry, lambda tf=tf, member=member: _tar_data(archive, tf, member))
        except _ReadFailure as exc:
            raise _damaged(archive, exc) from exc
        if not seen_description or validator.count != info.entry_count:
            raise ArchiveError(f"The package {archive.name} changed since it was checked; download it again.")
        result = staging.joinpath(*root)
        try:
            st = os.lstat(result)
        except OSError:
            st = None
        if st is None or not stat.S_ISDIR(st.st_mode):
            raise ArchiveError(
                f"Corrupted {info.extension_name} extension package: folder '{'/'.join(root)}' is missing."
            )
        writer.finish_dirs()
        if progress is not None:
            progress(writer.done, writer.total)
        return result
    except BaseException:
        _clear(staging)
        raise
