"""Export and import an installed set of extensions (e.g. the setup used for a paper)."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from . import __version__
from .errors import ExtensionManagerError
from .fileutil import atomic_write_text
from .metadata import ExtensionMetadata
from .registry import ExtensionRegistry

FORMAT = "slicer-ext-manager-profile"
FORMAT_VERSION = 1


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
    slicer_version: str | None
    server_url: str
    extensions: tuple[ProfileEntry, ...]
    created: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "created": self.created,
            "created_by": f"slicer-ext-manager {__version__}",
            "slicer": {"revision": self.revision, "os": self.os, "arch": self.arch,
                       "version": self.slicer_version, "server_url": self.server_url},
            "extensions": [e.to_json() for e in self.extensions],
        }

    @classmethod
    def from_json(cls, data: Mapping) -> "ExtensionsProfile":
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ExtensionManagerError("This file is not an extensions profile written by slicer-ext-manager.")
        slicer = data.get("slicer") or {}
        entries = tuple(
            ProfileEntry(str(e["name"]), str(e.get("revision", "")), str(e.get("extension_id", "")),
                         bool(e.get("enabled", True)), str(e.get("slicer_revision", "")))
            for e in data.get("extensions", []) if isinstance(e, Mapping) and e.get("name")
        )
        return cls(str(slicer.get("revision", "")), str(slicer.get("os", "")), str(slicer.get("arch", "")),
                   slicer.get("version"), str(slicer.get("server_url", "")), entries, str(data.get("created", "")))

    def save(self, path: str | os.PathLike[str]) -> None:
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "ExtensionsProfile":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ExtensionManagerError(f"Cannot read the profile {path}: {exc.strerror}.") from exc
        except ValueError as exc:
            raise ExtensionManagerError(f"The profile {path} is not valid JSON ({exc}).") from exc
        return cls.from_json(data)


def export_profile(registry: ExtensionRegistry) -> ExtensionsProfile:
    ctx = registry.context
    entries = tuple(ProfileEntry(e.name, e.revision, e.metadata.extension_id, e.enabled, e.metadata.slicer_revision)
                    for e in registry.installed())
    return ExtensionsProfile(ctx.revision, ctx.os, ctx.arch, ctx.slicer_version, ctx.server_url, entries,
                             dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


@dataclass(frozen=True)
class ImportItem:
    name: str
    wanted_revision: str
    available_revision: str
    installed: bool
    status: str  # "install" | "installed" | "unavailable" | "different-revision"

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "wanted_revision": self.wanted_revision,
                "available_revision": self.available_revision or None, "installed": self.installed,
                "status": self.status}


def plan_import(profile: ExtensionsProfile, catalog: Mapping[str, ExtensionMetadata],
                installed: Mapping[str, str]) -> list[ImportItem]:
    """For each profile entry: install it, already there, unavailable, or available at another revision
    (then it is installed too, and the difference reported)."""
    items = []
    for entry in profile.extensions:
        meta = catalog.get(entry.name)
        available = meta.revision if meta else ""
        if entry.name in installed:
            status = "installed" if installed[entry.name] == entry.revision else "different-revision"
        elif meta is None:
            status = "unavailable"
        elif available != entry.revision:
            status = "different-revision"
        else:
            status = "install"
        items.append(ImportItem(entry.name, entry.revision, installed.get(entry.name) or available,
                                entry.name in installed, status))
    return items
