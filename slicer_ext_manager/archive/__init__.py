"""Inspect and safely extract Slicer extension packages (reference §4.1–4.3, §5.5–5.6, §9 quirk 17).

Qt-free, standard library only (``tarfile``, ``zipfile``, ``gzip``, ``bz2``, ``lzma``).

Accepted packages: ``.tar.gz``/``.tgz``, ``.tar``, ``.tar.bz2``, ``.tar.xz`` and ``.zip``
(the type is detected from the file's first bytes, not from its name).

Three entry points share one reader and one set of rules:

* :func:`extract_verified` — the install path: **one** decompression pass that validates
  every entry before writing it into staging, finds and parses the ``.s4ext``, applies
  the macOS rules and the expected name, and on any refusal removes what it wrote;
* :func:`inspect_package` — validate and describe a package, write nothing (to plan an
  install from file before its job runs);
* :func:`extract_package` — extract a package already inspected (validated again while
  streaming: the file may change between the two calls).

Safety rules, checked on every entry:

* no absolute name (``/x``, ``\\x``, ``C:x``, UNC ``\\\\server\\share``), no ``..`` component,
  no NUL character; ``\\`` counts as a folder separator everywhere; names at most
  :data:`MAX_NAME_BYTES` bytes and :data:`MAX_DEPTH` components (checked first: their cost
  must not grow with a hostile name);
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
* at most :func:`default_entry_limit` entries, and as many files, folders (implied ones
  included) and links created: at most :data:`MAX_ENTRIES`, fewer for a small package;
* tar headers are bounded per entry (:data:`TAR_HEADER_ALLOWANCE`);
* the package must hold an extension description (``share/Slicer-X.Y/<Name>.s4ext``,
  else any ``*.s4ext``).

Extraction never writes outside the staging folder (see :mod:`.extract`). On any failure,
cancellation included, everything written into the staging folder is removed.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import conventions
from ..conventions import PackageName
from ..errors import ArchiveError
from .extract import Writer, check_staging, content_root, emptied_on_failure
from .limits import (
    CHUNK_SIZE,
    DEFAULT_MAX_RATIO,
    DEFAULT_MAX_SIZE_LIMIT,
    DEFAULT_MIN_ENTRY_LIMIT,
    DEFAULT_MIN_SIZE_LIMIT,
    ENTRY_MIN_PACKED_BYTES,
    MAX_DEPTH,
    MAX_DESCRIPTION_SIZE,
    MAX_ENTRIES,
    MAX_LINK_TARGET,
    MAX_NAME_BYTES,
    TAR_HEADER_ALLOWANCE,
    TAR_STREAM_ALLOWANCE,
    ZIP_MAX_MEMBER_RATIO,
    ZIP_RATIO_MIN_SIZE,
    CancelCallback,
    ProgressCallback,
    default_entry_limit,
    default_size_limit,
    resolve_limits,
)
from .messages import changed
from .package import (
    DescriptionPicker,
    PackageInfo,
    build_info,
    check_app_revision,
    check_expected_name,
    root_parts,
)
from .readers import Members, detect, open_members, reading
from .validation import FILE, Validator

__all__ = [
    "ArchiveNameFields",
    "PackageInfo",
    "PackageName",
    "parse_archive_name",
    "inspect_package",
    "extract_package",
    "extract_verified",
    "extract_application",
    "default_size_limit",
    "default_entry_limit",
    "DEFAULT_MAX_RATIO",
    "DEFAULT_MIN_SIZE_LIMIT",
    "DEFAULT_MAX_SIZE_LIMIT",
    "DEFAULT_MIN_ENTRY_LIMIT",
    "ENTRY_MIN_PACKED_BYTES",
    "ZIP_MAX_MEMBER_RATIO",
    "ZIP_RATIO_MIN_SIZE",
    "MAX_ENTRIES",
    "MAX_NAME_BYTES",
    "MAX_DEPTH",
    "MAX_DESCRIPTION_SIZE",
    "MAX_LINK_TARGET",
    "TAR_HEADER_ALLOWANCE",
    "TAR_STREAM_ALLOWANCE",
    "CHUNK_SIZE",
]

#: The fields of a package file name; kept for callers of the former ``archive`` module.
ArchiveNameFields = PackageName


def parse_archive_name(filename: str | os.PathLike[str]) -> PackageName | None:
    """:func:`conventions.parse_package_name` of a file name or path."""
    return conventions.parse_package_name(os.fspath(filename))


def inspect_package(path: str | os.PathLike[str], *, max_expanded_size: int | None = None) -> PackageInfo:
    """Read and validate a package's member list (and its ``.s4ext``), write nothing.

    Raises :class:`UnsafeArchiveError` (naming the entry) for any entry that breaks the
    package's safety rules, for a package expanding beyond ``max_expanded_size`` bytes
    (default: :func:`default_size_limit` of the file size) and for a package without
    description file; :class:`ArchiveError` for an unreadable, damaged or unknown file.
    A tar is streamed once, to its end: gzip/bzip2/xz integrity is checked.
    """
    archive = Path(os.fspath(path))
    fmt, compression = detect(archive)
    limits = resolve_limits(archive, max_expanded_size)
    validator = Validator(archive, limits)
    picker = DescriptionPicker(archive)
    with reading(archive), open_members(archive, fmt, compression, validator, limits) as members:
        for member in members:
            picker.read(member.entry, member.chunks)
    return build_info(archive, fmt, validator, picker)


def extract_verified(
    path: str | os.PathLike[str],
    staging_dir: str | os.PathLike[str],
    *,
    expected_name: str | None = None,
    app_revision: str | None = None,
    max_expanded_size: int | None = None,
    cancel: CancelCallback | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[PackageInfo, Path]:
    """Validate and extract a package in one decompression pass; return what
    :func:`inspect_package` would and the folder holding the extension's content (as
    :func:`extract_package` does).

    ``staging_dir`` must exist and be empty. Every entry is validated before it is written;
    the description is read as it goes by. Then, before returning: the package must have
    a description; ``expected_name`` (if given) must be the extension's name;
    ``app_revision`` (if given) must be the revision of a macOS package; a macOS package's
    links must stay in its installed subtree. Any refusal, error or cancellation
    (``cancel()`` true) removes everything written into ``staging_dir``: nothing of a
    refused package ever leaves staging.

    ``progress(done, total)`` is called at the start, after each chunk and at the end: bytes
    written of the declared expanded size for a zip; bytes of the package file read for a
    tar (its expanded size is only known at its end).
    """
    archive = Path(os.fspath(path))
    staging = Path(os.fspath(staging_dir))
    check_staging(staging)
    fmt, compression = detect(archive)
    limits = resolve_limits(archive, max_expanded_size)
    validator = Validator(archive, limits)
    picker = DescriptionPicker(archive)
    with emptied_on_failure(staging):
        with reading(archive), open_members(archive, fmt, compression, validator, limits) as members:
            writer = Writer(archive, staging, limit=limits.size, total=members.total, cancel=cancel,
                            progress=progress, meter=members.position)
            _write_members(members, writer, picker)
        info = build_info(archive, fmt, validator, picker)
        check_expected_name(archive, info, expected_name)
        check_app_revision(archive, info, app_revision)
        root = content_root(staging, root_parts(info), info.extension_name)
        writer.finish()
        return info, root


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
    validated again while extracting anyway, and the package must still match ``info``.
    ``app_revision``: refuse a macOS package built for another Slicer revision. ``cancel()``
    returning true raises :class:`CancelledError`; ``progress(done_bytes, total_bytes)`` is
    called at the start, after each chunk and at the end. On any error everything written
    into ``staging_dir`` is removed. :func:`extract_verified` does all this in one pass.
    """
    archive = Path(os.fspath(path))
    staging = Path(os.fspath(staging_dir))
    check_staging(staging)
    if info is None:
        info = inspect_package(archive, max_expanded_size=max_expanded_size)
    check_app_revision(archive, info, app_revision)
    limits = resolve_limits(archive, max_expanded_size)
    fmt, compression = detect(archive)
    if fmt != info.format:
        raise changed(archive)
    root = root_parts(info)
    validator = Validator(archive, limits, top=info.top_folder, root=root)
    writer = Writer(archive, staging, limit=limits.size, total=info.expanded_size, cancel=cancel, progress=progress)
    with emptied_on_failure(staging):
        with reading(archive), open_members(archive, fmt, compression, validator, limits) as members:
            seen_description = _write_members(members, writer, watch=info.s4ext_member)
        if not seen_description or validator.count != info.entry_count:
            raise changed(archive)
        result = content_root(staging, root, info.extension_name)
        writer.finish()
        return result


def extract_application(
    path: str | os.PathLike[str],
    staging_dir: str | os.PathLike[str],
    *,
    max_expanded_size: int | None = None,
    cancel: CancelCallback | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Extract an application package (a Slicer ``.tar.gz``: one top folder, no extension
    description) into ``staging_dir`` under the same safety rules, in one pass; return its top
    folder. On any refusal, error or cancellation everything written is removed."""
    archive = Path(os.fspath(path))
    staging = Path(os.fspath(staging_dir))
    check_staging(staging)
    fmt, compression = detect(archive)
    limits = resolve_limits(archive, max_expanded_size)
    validator = Validator(archive, limits)
    with emptied_on_failure(staging):
        with reading(archive), open_members(archive, fmt, compression, validator, limits) as members:
            writer = Writer(archive, staging, limit=limits.size, total=members.total, cancel=cancel,
                            progress=progress, meter=members.position)
            _write_members(members, writer)
        if not validator.count or not validator.top:
            raise ArchiveError(f"The package {archive.name} doesn't contain any files; it is not a Slicer package.")
        root = content_root(staging, (validator.top,), archive.name)
        writer.finish()
        return root


def _write_members(members: Members, writer: Writer, picker: DescriptionPicker | None = None,
                   watch: str | None = None) -> bool:
    """Write every member; with ``picker``, the description candidates are kept on the way.
    Returns whether a regular file named ``watch`` was written."""
    writer.report()
    writer.check_cancel()
    seen = False
    for member in members:
        entry = member.entry
        chunks = None
        if entry.kind == FILE:
            seen = seen or entry.member == watch
            if picker is not None:
                chunks = picker.tee(entry, member.chunks(writer.budget()))
        writer.write(member, chunks)
    return seen
