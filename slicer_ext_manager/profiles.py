"""Export and import a set of extensions (the setup used for a paper, a lab's standard
set): what is installed, with revisions, and the bookmarks."""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from . import __version__
from .conventions import invalid_name_sentence, is_extension_name
from .errors import ExtensionManagerError
from .fileutil import StrPath, atomic_write_text, os_error_text
from .metadata import ExtensionMetadata
from .registry import ExtensionRegistry

FORMAT = "slicer-ext-manager-profile"
FORMAT_VERSION = 1
#: Largest profile read (a profile of 1,000 extensions is ~200 KB).
MAX_PROFILE_BYTES = 8 * 1024 * 1024


class ProfileError(ExtensionManagerError):
    """A profile file cannot be used."""


@dataclass(frozen=True)
class ProfileEntry:
    name: str
    revision: str
    extension_id: str
    enabled: bool
    slicer_revision: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "revision": self.revision, "extension_id": self.extension_id,
                "enabled": self.enabled, "slicer_revision": self.slicer_revision}


@dataclass(frozen=True)
class ExtensionsProfile:
    revision: str
    os: str
    arch: str
    slicer_version: Optional[str]
    server_url: str
    extensions: tuple[ProfileEntry, ...]
    created: str = ""
    bookmarks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "created": self.created,
            "created_by": f"slicer-ext-manager {__version__}",
            "slicer": {"revision": self.revision, "os": self.os, "arch": self.arch,
                       "version": self.slicer_version, "server_url": self.server_url},
            "extensions": [e.to_json() for e in self.extensions],
            "bookmarks": list(self.bookmarks),
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "This file") -> ExtensionsProfile:
        """Validate ``data``; anything unexpected is one :class:`ProfileError` sentence."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ProfileError(f"{source} is not an extensions profile written by slicer-ext-manager.")
        slicer = data.get("slicer") or {}
        entries_data, bookmarks = data.get("extensions", []), data.get("bookmarks", [])
        if not isinstance(slicer, Mapping) or not isinstance(entries_data, list) or not isinstance(bookmarks, list):
            raise ProfileError(f"{source} is a damaged extensions profile: 'slicer' must be an object and "
                               "'extensions' and 'bookmarks' lists.")
        entries = tuple(_entry(e, source) for e in entries_data)
        for name in bookmarks:
            if not is_extension_name(name):
                raise ProfileError(invalid_name_sentence(name, f"the bookmarks of {source}"))
        return cls(_text(slicer.get("revision")), _text(slicer.get("os")), _text(slicer.get("arch")),
                   _text(slicer.get("version")) or None, _text(slicer.get("server_url")), entries,
                   _text(data.get("created")), tuple(dict.fromkeys(bookmarks)))

    def save(self, path: StrPath) -> None:
        try:
            atomic_write_text(Path(path), json.dumps(self.to_json(), indent=2) + "\n")
        except OSError as exc:
            raise ProfileError(f"The profile could not be written to {path} ({os_error_text(exc)}); "
                               "choose a folder that exists and is writable.") from exc

    @classmethod
    def load(cls, path: StrPath) -> ExtensionsProfile:
        try:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_PROFILE_BYTES + 1)
        except OSError as exc:
            raise ProfileError(f"Cannot read the profile {path}: {os_error_text(exc)}.") from exc
        if len(raw) > MAX_PROFILE_BYTES:
            raise ProfileError(f"The profile {path} is larger than {MAX_PROFILE_BYTES // 2**20} MB; "
                               "it is not an extensions profile.")
        try:
            data = json.loads(raw.decode("utf-8"))
        except RecursionError as exc:
            raise ProfileError(f"The profile {path} is nested too deeply to be an extensions profile.") from exc
        except ValueError as exc:
            raise ProfileError(f"The profile {path} is not valid JSON ({str(exc)[:120]}).") from exc
        return cls.from_json(data, f"The profile {path}")


def _text(value: Any) -> str:
    return "" if value is None else str(value) if isinstance(value, (str, int, float)) else ""


def _entry(data: Any, source: str) -> ProfileEntry:
    if not isinstance(data, Mapping):
        raise ProfileError(f"{source} is a damaged extensions profile: each extension must be an object.")
    name = data.get("name")
    if not is_extension_name(name):
        raise ProfileError(invalid_name_sentence(name, source))
    return ProfileEntry(str(name), _text(data.get("revision")), _text(data.get("extension_id")),
                        bool(data.get("enabled", True)), _text(data.get("slicer_revision")))


def export_profile(registry: ExtensionRegistry, bookmarks: Iterable[str] = ()) -> ExtensionsProfile:
    ctx = registry.context
    entries = tuple(ProfileEntry(e.name, e.revision, e.metadata.extension_id, e.enabled, e.metadata.slicer_revision)
                    for e in registry.installed())
    return ExtensionsProfile(ctx.revision, ctx.os, ctx.arch, ctx.slicer_version, ctx.server_url, entries,
                             dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), tuple(bookmarks))


class ImportStatus(str, enum.Enum):
    INSTALL = "install"
    INSTALLED = "installed"
    UNAVAILABLE = "unavailable"
    #: Installed or available, at another revision than the profile's (installed anyway when missing).
    DIFFERENT_REVISION = "different-revision"


@dataclass(frozen=True)
class ImportItem:
    name: str
    wanted_revision: str
    available_revision: str
    installed: bool
    status: ImportStatus

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "wanted_revision": self.wanted_revision,
                "available_revision": self.available_revision or None, "installed": self.installed,
                "status": self.status.value}


def plan_import(profile: ExtensionsProfile, catalog: Mapping[str, ExtensionMetadata],
                installed: Mapping[str, str]) -> list[ImportItem]:
    """For each profile entry: install it, already there, unavailable, or available at another revision
    (then it is installed too, and the difference reported)."""
    items = []
    for entry in profile.extensions:
        meta = catalog.get(entry.name)
        available = meta.revision if meta else ""
        if entry.name in installed:
            status = ImportStatus.INSTALLED if installed[entry.name] == entry.revision \
                else ImportStatus.DIFFERENT_REVISION
        elif meta is None:
            status = ImportStatus.UNAVAILABLE
        elif available != entry.revision:
            status = ImportStatus.DIFFERENT_REVISION
        else:
            status = ImportStatus.INSTALL
        items.append(ImportItem(entry.name, entry.revision, installed.get(entry.name) or available,
                                entry.name in installed, status))
    return items
