"""What a package may cost: expanded bytes, files and folders, name length and depth.

Every limit here stops one kind of hostile package (decompression, inode or CPU bomb)
long before it troubles a real extension; the comments say how much margin is left.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ArchiveError

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

#: At most this many entries, and at most this many files, folders and links created
#: (folders implied by deeper names count): stops "inode bombs". The largest real
#: extensions have fewer than 20,000 entries.
MAX_ENTRIES = 100_000
#: Floor of the default entry limit (see :func:`default_entry_limit`): what a package
#: under 640 KB may hold. Such real packages have a few hundred entries.
DEFAULT_MIN_ENTRY_LIMIT = 10_000
#: A package may hold one entry per this many bytes of its file (above the floor). Real
#: packages use 3–30 KB per entry (even a tree of small Python files); a tar of empty
#: entries compresses to a few bytes each. So a 460 KB package cannot make 100,000 inodes:
#: a single pass that meets an inode bomb has written at most 10,000 before refusing it.
ENTRY_MIN_PACKED_BYTES = 64

#: Longest entry name (bytes, UTF-8): Linux's PATH_MAX. Checked before any per-folder work.
MAX_NAME_BYTES = 4096
#: Most components in an entry name. Real packages stay under 20 (macOS nesting plus
#: ``lib/python3.9/site-packages/...``); validation cost grows with depth.
MAX_DEPTH = 64
#: Largest ``.s4ext`` read from a package (bytes).
MAX_DESCRIPTION_SIZE = 1 * _MiB
#: Longest symbolic-link target accepted (bytes, zip links store the target as data).
MAX_LINK_TARGET = 4096
#: Read/write chunk; ``progress`` is called at most once per chunk and per entry.
CHUNK_SIZE = 1 * _MiB

#: Tar metadata (headers, pax records, long names) allowed before each entry, not
#: accumulated across entries, so no single header can be larger (``tarfile`` reads a pax
#: header or a GNU long name in one piece, into memory). Real headers stay under 10 KiB
#: (two 4096-byte names and a few pax records).
TAR_HEADER_ALLOWANCE = 64 * _KiB
#: Data allowed after the end-of-archive marker (record padding; real tars have < 10 KiB).
TAR_STREAM_ALLOWANCE = 4 * _MiB
#: How much of the tar stream is kept to check the end-of-archive marker.
TAR_WINDOW = 128 * _KiB
#: What ``tarfile`` reads from the decompressed stream at a time (its ``bufsize``; its
#: default, one 10 KiB record, costs ~10 % more CPU in Python-level reads). At most half
#: of :data:`TAR_HEADER_ALLOWANCE`, so reading ahead never crosses an allowance a
#: well-formed archive keeps to, and a quarter of :data:`TAR_WINDOW`, so the window
#: still holds the end-of-archive marker.
TAR_READ_SIZE = 32 * _KiB

ProgressCallback = Callable[[int, int], None]
CancelCallback = Callable[[], bool]


def default_size_limit(archive_size: int) -> int:
    """The expanded-size limit used when none is given (see :data:`DEFAULT_MAX_RATIO`)."""
    return min(DEFAULT_MAX_SIZE_LIMIT, max(DEFAULT_MIN_SIZE_LIMIT, DEFAULT_MAX_RATIO * max(archive_size, 0)))


def default_entry_limit(archive_size: int) -> int:
    """How many entries (and files, folders and links created) a package of ``archive_size``
    bytes may have: one per :data:`ENTRY_MIN_PACKED_BYTES`, at least
    :data:`DEFAULT_MIN_ENTRY_LIMIT`, at most :data:`MAX_ENTRIES`."""
    return min(MAX_ENTRIES, max(DEFAULT_MIN_ENTRY_LIMIT, max(archive_size, 0) // ENTRY_MIN_PACKED_BYTES))


@dataclass(frozen=True)
class Limits:
    """The limits applied to one package: expanded bytes and entries."""

    size: int
    entries: int


def resolve_limits(path: Path, max_expanded_size: int | None) -> Limits:
    """The limits for ``path``: ``max_expanded_size`` if given, else the defaults for its size."""
    if max_expanded_size is not None and max_expanded_size < 0:
        raise ValueError("max_expanded_size must be >= 0")
    try:
        archive_size = os.stat(path).st_size
    except OSError as exc:
        raise ArchiveError(f"The package {path.name} cannot be read: {exc.strerror or exc}.") from exc
    size = int(max_expanded_size) if max_expanded_size is not None else default_size_limit(archive_size)
    return Limits(size=size, entries=default_entry_limit(archive_size))
