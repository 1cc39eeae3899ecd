"""Reading packages: format detection, the bounded tar stream, zip members.

:func:`open_members` yields every member once, already validated, with a way to read
its data in chunks; tar and zip differ only here. Read errors become
:class:`~.messages.ReadFailure` (the caller turns them into one "damaged" sentence).
"""

from __future__ import annotations

import bz2
import contextlib
import copy
import functools
import io
import lzma
import os
import stat
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generator, Iterator

from ..errors import ArchiveError, UnsafeArchiveError
from .gzipstream import GzipStream
from .limits import (
    CHUNK_SIZE,
    MAX_LINK_TARGET,
    TAR_HEADER_ALLOWANCE,
    TAR_READ_SIZE,
    TAR_STREAM_ALLOWANCE,
    TAR_WINDOW,
    ZIP_MAX_MEMBER_RATIO,
    ZIP_RATIO_MIN_SIZE,
    Limits,
)
from .messages import ReadFailure, cannot_read, damaged, show, unsafe
from .validation import DIR, FILE, LINK, Entry, Validator, split_name

_ZERO_BLOCK = bytes(tarfile.BLOCKSIZE)

READ_ERRORS = (
    tarfile.TarError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError,
    zlib.error, lzma.LZMAError, ValueError, NotImplementedError, RuntimeError, UnicodeError,
)

_MAGIC = (
    ((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"), ("zip", None)),
    ((b"\x1f\x8b",), ("tar", "gz")),
    ((b"BZh",), ("tar", "bz2")),
    ((b"\xfd7zXZ\x00",), ("tar", "xz")),
)


def detect(path: Path) -> tuple[str, str | None]:
    """``("zip", None)`` or ``("tar", compression)`` with compression in gz/bz2/xz/None,
    from the first bytes (the name decides only for a zip with a prefix, e.g. self-extracting)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(tarfile.BLOCKSIZE)
    except OSError as exc:
        raise cannot_read(path, exc) from exc
    if not head:
        raise damaged(path, "the file is empty")
    for magics, kind in _MAGIC:
        if head.startswith(magics):
            return kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar", None
    if path.name.lower().endswith(".zip") and zipfile.is_zipfile(path):
        return "zip", None
    raise ArchiveError(
        f"{path.name} is not a Slicer extension package (supported: .tar.gz, .tgz, .tar, .tar.bz2, "
        ".tar.xz, .zip)."
    )


@dataclass
class Member:
    """A validated entry and how to read its data: ``chunks(budget)`` yields the bytes of a
    regular file and refuses more than ``budget`` (zip; tar sizes are exact)."""

    entry: Entry
    chunks: Callable[[int], Iterator[bytes]]
    tarinfo: tarfile.TarInfo | None = None


class Members:
    """What :func:`open_members` gives: the members, and the package's progress measure."""

    def __init__(self, members: Iterator[Member], total: int, position: Callable[[], int] | None):
        self._members = members
        #: For a single pass: the declared expanded size of a zip, the file size of a tar.
        self.total = total
        #: For a tar: how far into the package file reading has got (else ``None``).
        self.position = position

    def __iter__(self) -> Iterator[Member]:
        return self._members


# ------------------------------------------------------------------------------------------------
# tar


class TarSource:
    """The decompressed tar stream: counts bytes, keeps a window of the last ones read,
    and refuses to deliver more than ``allowance`` (see :data:`TAR_HEADER_ALLOWANCE`)."""

    def __init__(self, path: Path, compression: str | None):
        self.path = path
        self._raw = open(path, "rb")
        try:
            self._fh: io.BufferedIOBase | GzipStream = _decompressor(self._raw, compression)
        except BaseException:
            self._raw.close()
            raise
        self.total = 0
        self.allowance = TAR_HEADER_ALLOWANCE
        self._window = bytearray()
        self._window_start = 0
        self._final = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = CHUNK_SIZE
        remaining = self.allowance - self.total
        if remaining <= 0:
            raise self._oversized()
        data = self._fh.read(min(size, remaining + 1))
        self.total += len(data)
        if self.total > self.allowance:
            raise self._oversized()
        self._window += data
        if len(self._window) > TAR_WINDOW:
            cut = len(self._window) - TAR_WINDOW
            del self._window[:cut]
            self._window_start += cut
        return data

    def _oversized(self) -> UnsafeArchiveError:
        return unsafe(
            self.path, None,
            f"its tar stream holds more data than its entries declare (a header over "
            f"{TAR_HEADER_ALLOWANCE // 1024} KiB, or over {TAR_STREAM_ALLOWANCE // 2**20} MiB after the last "
            "entry; this looks like a decompression bomb)",
        )

    def block_at(self, offset: int) -> bytes | None:
        """The 512 bytes at ``offset`` if still in the window (``b''``-short at end of data)."""
        start = offset - self._window_start
        if start < 0:
            return None
        return bytes(self._window[start: start + tarfile.BLOCKSIZE])

    def position(self) -> int:
        """Bytes of the package file consumed so far (still known once closed)."""
        if self._raw.closed:
            return self._final
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def drain(self) -> None:
        while self.read(CHUNK_SIZE):
            pass

    def close(self) -> None:
        self._final = self.position()
        try:
            if self._fh is not self._raw:
                self._fh.close()
        finally:
            self._raw.close()


def _decompressor(raw: io.BufferedReader, compression: str | None) -> io.BufferedIOBase | GzipStream:
    if compression == "gz":
        return GzipStream(raw)
    if compression == "bz2":
        return bz2.BZ2File(raw, mode="rb")
    if compression == "xz":
        return lzma.LZMAFile(raw, mode="rb")
    return raw


_TAR_KINDS = ((tarfile.TarInfo.isdir, DIR), (tarfile.TarInfo.issym, LINK), (tarfile.TarInfo.isreg, FILE))


def _tar_kind(archive: Path, member: tarfile.TarInfo) -> str:
    raw = member.name
    if member.islnk():
        split_name(archive, raw)  # a bad name is reported as such first
        raise unsafe(archive, raw, f"is a hard link (to '{show(member.linkname)}'), which is not allowed")
    if member.ischr() or member.isblk():
        raise unsafe(archive, raw, "is a device file, which is not allowed")
    if member.isfifo():
        raise unsafe(archive, raw, "is a FIFO (named pipe), which is not allowed")
    for test, kind in _TAR_KINDS:
        if test(member):
            return kind
    raise unsafe(archive, raw, f"has an unsupported entry type ({member.type!r})")


def tar_entry(archive: Path, member: tarfile.TarInfo) -> Entry:
    kind = _tar_kind(archive, member)
    parts = split_name(archive, member.name)
    return Entry(
        raw=member.name, parts=parts, kind=kind, size=member.size if kind == FILE else 0,
        mode=member.mode, mtime=member.mtime, target=member.linkname if kind == LINK else None,
    )


def _tar_chunks(tf: tarfile.TarFile, member: tarfile.TarInfo, _budget: int) -> Iterator[bytes]:
    """A member's data (a tar entry's size is already bounded by the validator)."""
    return _tar_data(tf, member)


def _tar_data(tf: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator[bytes]:
    try:
        fh = tf.extractfile(member)
        if fh is None:
            return
        while True:
            chunk = fh.read(CHUNK_SIZE)
            if not chunk:
                break
            yield chunk
    except READ_ERRORS as exc:
        raise ReadFailure(f"entry '{show(member.name)}': {exc}") from exc


def _next_member(tf: tarfile.TarFile) -> tarfile.TarInfo | None:
    try:
        return tf.next()
    except READ_ERRORS as exc:
        raise ReadFailure(exc) from exc


def _check_end(source: TarSource, tf: tarfile.TarFile) -> None:
    """tarfile stops silently on a truncated or garbled header: require the zero block,
    then read to the end so that gzip/bz2/xz check their trailer (CRC and length)."""
    block = source.block_at(tf.offset)
    if block is not None and block != _ZERO_BLOCK:
        raise ReadFailure("the archive ends before its end-of-archive marker")
    source.allowance = source.total + TAR_STREAM_ALLOWANCE
    try:
        source.drain()
    except READ_ERRORS as exc:
        raise ReadFailure(exc) from exc


def _tar_members(archive: Path, source: TarSource, validator: Validator) -> Generator[Member, None, None]:
    """Stream the tar once, validating each entry before it is yielded."""
    try:
        tf = tarfile.open(fileobj=source, mode="r|", bufsize=TAR_READ_SIZE)  # type: ignore[call-overload]
    except READ_ERRORS as exc:
        raise ReadFailure(exc) from exc
    with tf:
        while True:
            member = _next_member(tf)
            if member is None:
                break
            entry = tar_entry(archive, member)
            validator.add(entry)
            # The headers of the next entry, not what earlier entries left unused.
            source.allowance = tf.offset + TAR_HEADER_ALLOWANCE
            yield Member(entry, functools.partial(_tar_chunks, tf, member), member)
        _check_end(source, tf)


# ------------------------------------------------------------------------------------------------
# zip


def _zip_kind(archive: Path, info: zipfile.ZipInfo, unix_mode: int) -> str:
    raw = info.filename
    fmt = stat.S_IFMT(unix_mode)
    if fmt in (stat.S_IFCHR, stat.S_IFBLK):
        raise unsafe(archive, raw, "is a device file, which is not allowed")
    if fmt in (stat.S_IFIFO, stat.S_IFSOCK):
        raise unsafe(archive, raw, "is a special file (FIFO or socket), which is not allowed")
    if fmt == stat.S_IFLNK:
        return LINK
    if info.is_dir() or fmt == stat.S_IFDIR or (info.create_system == 0 and info.external_attr & 0x10):
        return DIR
    if fmt in (0, stat.S_IFREG):
        return FILE
    raise unsafe(archive, raw, "has an unsupported entry type")


def _zip_mtime(info: zipfile.ZipInfo) -> float | None:
    try:
        return time.mktime(tuple(info.date_time) + (0, 0, -1))  # type: ignore[arg-type]
    except (OverflowError, ValueError):
        return None


def zip_entry(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Entry:
    raw = info.filename
    unix_mode = (info.external_attr >> 16) & 0xFFFF if info.create_system == 3 else 0
    kind = _zip_kind(archive, info, unix_mode)
    if info.flag_bits & 0x1:
        raise ArchiveError(f"The package {archive.name} is encrypted (entry '{show(raw)}'); it cannot be installed.")
    parts = split_name(archive, raw)
    entry = Entry(raw=raw, parts=parts, kind=kind, size=info.file_size if kind == FILE else 0,
                  mode=unix_mode & 0o7777 if unix_mode else None, mtime=_zip_mtime(info))
    if kind == LINK:
        if info.file_size > MAX_LINK_TARGET:
            raise unsafe(archive, raw, "is a symbolic link with an invalid target")
        data = b"".join(zip_chunks(archive, zf, info, MAX_LINK_TARGET))
        entry.target = data.decode("utf-8", errors="surrogateescape")
    return entry


def zip_chunks(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> Iterator[bytes]:
    """Decompress a member in chunks, counting real bytes: more than declared, or more
    than ``budget``, is refused whatever the headers say."""
    probe = copy.copy(info)
    # zipfile stops (and checks the CRC) at the declared size. Let it run a little past what we
    # accept, more than it can decompress ahead of a read, so that a lie shows as extra bytes.
    probe.file_size = min(info.file_size, budget) + 2 * CHUNK_SIZE + 1
    produced = 0
    try:
        with zf.open(probe) as fh:
            for chunk in iter(lambda: fh.read(CHUNK_SIZE), b""):
                produced += len(chunk)
                _check_produced(archive, info, produced, budget)
                yield chunk
    except UnsafeArchiveError:
        raise
    except READ_ERRORS as exc:
        raise ReadFailure(f"entry '{show(info.filename)}': {exc}") from exc
    if produced != info.file_size:
        raise ReadFailure(f"entry '{show(info.filename)}' is shorter than declared")


def _check_produced(archive: Path, info: zipfile.ZipInfo, produced: int, budget: int) -> None:
    if produced > info.file_size:
        raise unsafe(archive, info.filename, f"expands beyond its declared size of {info.file_size} bytes")
    if produced > budget:
        raise unsafe(
            archive, info.filename,
            "makes the package expand beyond the size limit (this looks like a decompression bomb)",
        )


def open_zip(archive: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except READ_ERRORS as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise cannot_read(archive, exc) from exc
        raise ReadFailure(exc) from exc


def check_zip_declared(archive: Path, zf: zipfile.ZipFile, limits: Limits) -> list[zipfile.ZipInfo]:
    """The member list, refused before any decompression when what it declares is a bomb:
    too many entries, too many bytes, an extreme ratio, overlapping members."""
    infos = zf.infolist()
    if len(infos) > limits.entries:
        raise unsafe(archive, None, f"it has more than {limits.entries} entries (the limit for a package of its size)")
    declared = 0
    for info in infos:
        declared += info.file_size
        if declared > limits.size:
            raise unsafe(
                archive, info.filename,
                f"makes the package expand to more than {limits.size} bytes (the limit; this looks like a decompression bomb)",
            )
        if info.file_size >= ZIP_RATIO_MIN_SIZE and info.file_size > ZIP_MAX_MEMBER_RATIO * max(info.compress_size, 1):
            raise unsafe(
                archive, info.filename,
                f"declares a compression ratio above {ZIP_MAX_MEMBER_RATIO}:1 (this looks like a zip bomb)",
            )
    _check_zip_overlap(archive, infos, os.stat(archive).st_size)
    return infos


def _check_zip_overlap(archive: Path, infos: list[zipfile.ZipInfo], archive_size: int) -> None:
    # Overlapping members (several entries sharing compressed data) are a bomb technique.
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for i, info in enumerate(ordered):
        end = info.header_offset + 30 + info.compress_size
        limit_offset = ordered[i + 1].header_offset if i + 1 < len(ordered) else archive_size
        if end > limit_offset:
            raise unsafe(archive, info.filename, "overlaps another entry of the zip file (this looks like a zip bomb)")


def _zip_is_link(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _zip_members(archive: Path, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                 validator: Validator) -> Iterator[Member]:
    for info in infos:
        entry = zip_entry(archive, zf, info)
        validator.add(entry)
        yield Member(entry, functools.partial(zip_chunks, archive, zf, info))


# ------------------------------------------------------------------------------------------------
# either


@contextlib.contextmanager
def open_members(archive: Path, fmt: str, compression: str | None, validator: Validator,
                 limits: Limits) -> Iterator[Members]:
    """The package's members, each validated by ``validator`` before it is yielded."""
    if fmt == "zip":
        with open_zip(archive) as zf:
            try:
                infos = check_zip_declared(archive, zf, limits)
            except READ_ERRORS as exc:
                raise ReadFailure(exc) from exc
            total = sum(i.file_size for i in infos if not _zip_is_link(i))
            yield Members(_zip_members(archive, zf, infos, validator), total, None)
        return
    try:
        source = TarSource(archive, compression)
    except OSError as exc:
        raise cannot_read(archive, exc) from exc
    try:
        members = _tar_members(archive, source, validator)
        with contextlib.closing(members):
            yield Members(members, os.stat(archive).st_size, source.position)
    finally:
        source.close()


@contextlib.contextmanager
def reading(archive: Path) -> Iterator[None]:
    """Turn a :class:`ReadFailure` into the one "damaged or incomplete" sentence."""
    try:
        yield
    except ReadFailure as exc:
        raise damaged(archive, exc) from exc
