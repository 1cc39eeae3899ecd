"""The description file (``.s4ext``) inside an extension package, as the index reads it, and its
mapping to the server's ``meta`` keys.

Which ``.s4ext`` describes a package and where a macOS package nests its content are
Slicer's conventions (:mod:`slicer_ext_manager.conventions`); the archive format is
taken from the file name's suffix.
"""

from __future__ import annotations

import lzma
import os
import tarfile
import zipfile
import zlib
from typing import Any, Mapping

from .. import s4ext
from ..conventions import (
    ARCHIVE_FORMATS,
    archive_suffix,
    choose_description,
    extension_name_of_description,
    is_preferred_description,
    macos_revision,
)

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
#: Description files larger than this are not read (real ones are a few hundred bytes).
MAX_DESCRIPTION_SIZE = 1 << 20


def read_archive_description(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Find and parse the ``.s4ext`` inside an extension archive.

    Returns ``{"s4ext_path": member, "name": <extension name>, "s4ext": {...},
    "mac_app_revision": rev-or-None}``. Raises ``ValueError`` (unreadable archive or
    no description file).
    """
    path = os.fspath(path)
    suffix = archive_suffix(os.path.basename(path))
    if ARCHIVE_FORMATS.get(suffix, ("tar", None))[0] == "zip":
        found = _zip_description(path)
    else:
        found = _tar_description(path)
    if found is None:
        raise ValueError("no .s4ext description file in the archive")
    member, text = found
    parts = [p for p in member.split("/") if p not in ("", ".")]
    return {
        "s4ext_path": member,
        "name": extension_name_of_description(member),
        "s4ext": s4ext.parse_text(text, installed_default=False),
        "mac_app_revision": macos_revision(parts) or None,
    }


def _zip_description(path: str) -> tuple[str, str] | None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
            member = choose_description(infos)
            if member is None:
                return None
            if infos[member].file_size > MAX_DESCRIPTION_SIZE:
                raise ValueError(f"description file {member} is too large")
            return member, zf.read(member).decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"cannot read zip archive: {exc}") from exc


def _tar_description(path: str) -> tuple[str, str] | None:
    """Streaming read (no seeks, any compression): stops at the first preferred description."""
    fallback: tuple[str, str] | None = None
    try:
        with tarfile.open(path, mode="r|*") as tf:
            for member in tf:
                if not member.isfile() or not member.name.endswith(".s4ext") or member.size > MAX_DESCRIPTION_SIZE:
                    continue
                fh = tf.extractfile(member)
                text = fh.read().decode("utf-8", errors="replace") if fh else ""
                if is_preferred_description(member.name):
                    return member.name, text
                if fallback is None:
                    fallback = (member.name, text)
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise ValueError(f"cannot read tar archive: {exc}") from exc
    return fallback


def meta_from_s4ext(description: Mapping[str, str]) -> dict[str, Any]:
    """Map in-archive ``.s4ext`` keys to server meta keys (only non-empty values; ``tier`` as int)."""
    meta: dict[str, Any] = {}
    for key, meta_key in S4EXT_TO_META.items():
        value = (description.get(key) or "").strip()
        if not value:
            continue
        if meta_key != "tier":
            meta[meta_key] = value
            continue
        try:
            meta["tier"] = int(value)
        except ValueError:
            pass  # not a number: left out, like an empty value
    return meta
