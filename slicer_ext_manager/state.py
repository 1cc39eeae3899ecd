"""What the faces show, computed once: the typed state of a profile.

:func:`build_profile_state` is a pure function of what is installed, the bookmarks,
the schedules, the catalog and the options; :meth:`ExtensionsManager.state` reads
those and calls it. The CLI, the dialog and the Slicer module present it and never
recompute compatibility, updates or the restart state themselves.

"Restart needed" is derived from what is pending, never remembered: a scheduled
uninstall or update, or an installed set (names, revisions, enabled states) that
differs from what the running Slicer loaded (:class:`LoadedSet`, taken by the manager
before its first change, or given by the host).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

from .conventions import (
    AUTO_INSTALL_DEPENDENCIES_KEY,
    AUTO_UPDATE_CHECK_KEY,
    AUTO_UPDATE_INSTALL_KEY,
    STARTUP_DONT_CHECK_KEY,
    STARTUP_SILENT_INSTALL_KEY,
)
from .metadata import ExtensionMetadata


class Option(enum.Enum):
    """A manager option: its ``Slicer.ini`` key, its default, and whether it is stored inverted."""

    AUTO_UPDATE_CHECK = (AUTO_UPDATE_CHECK_KEY, True, False)
    AUTO_UPDATE_INSTALL = (AUTO_UPDATE_INSTALL_KEY, False, False)
    AUTO_INSTALL_DEPENDENCIES = (AUTO_INSTALL_DEPENDENCIES_KEY, True, False)
    #: "Check previous extensions on startup" (stored as ``dontCheck``).
    CHECK_ON_STARTUP = (STARTUP_DONT_CHECK_KEY, True, True)
    #: "Install previous extensions without asking".
    INSTALL_WITHOUT_ASKING = (STARTUP_SILENT_INSTALL_KEY, False, False)

    @property
    def key(self) -> str:
        return self.value[0]

    @property
    def default(self) -> bool:
        return self.value[1]

    @property
    def inverted(self) -> bool:
        return self.value[2]


@dataclass(frozen=True)
class Options:
    """Every :class:`Option`'s current value."""

    values: Mapping[Option, bool] = field(default_factory=dict)

    def __getitem__(self, option: Option) -> bool:
        return self.values.get(option, option.default)

    @property
    def auto_update_check(self) -> bool:
        return self[Option.AUTO_UPDATE_CHECK]

    @property
    def auto_update_install(self) -> bool:
        return self[Option.AUTO_UPDATE_INSTALL]

    @property
    def auto_install_dependencies(self) -> bool:
        return self[Option.AUTO_INSTALL_DEPENDENCIES]

    @property
    def check_on_startup(self) -> bool:
        return self[Option.CHECK_ON_STARTUP]

    @property
    def install_without_asking(self) -> bool:
        return self[Option.INSTALL_WITHOUT_ASKING]


@dataclass(frozen=True)
class LoadedSet:
    """What the running Slicer loaded: installed name -> (revision, enabled)."""

    extensions: Mapping[str, tuple[str, bool]] = field(default_factory=dict)


@dataclass(frozen=True)
class InstalledRecord:
    """One installed extension as read from its ``.s4ext``."""

    metadata: ExtensionMetadata
    enabled: bool
    icon_file: str = ""


@dataclass(frozen=True)
class ExtensionState:
    """One extension as every face shows it."""

    name: str
    #: The installed build (its ``.s4ext``), or None.
    installed_metadata: Optional[ExtensionMetadata] = None
    #: The catalog's build for this Slicer, or None.
    server_metadata: Optional[ExtensionMetadata] = None
    enabled: bool = True
    bookmarked: bool = False
    #: Compatibility of the installed build, else of the catalog's.
    compatible: bool = True
    reasons: tuple[str, ...] = ()
    update_available: bool = False
    scheduled_uninstall: bool = False
    scheduled_update: bool = False
    #: Installed, updated, enabled or disabled since the running Slicer loaded its extensions.
    pending_restart: bool = False
    icon_file: str = ""
    #: In the running Slicer's :class:`LoadedSet` ("in use": uninstall and update wait for a restart).
    loaded: bool = False
    #: The revision the running Slicer loaded ("" when not loaded), to tell an update from an install.
    loaded_revision: str = ""

    @property
    def installed(self) -> bool:
        return self.installed_metadata is not None

    @property
    def in_catalog(self) -> bool:
        return self.server_metadata is not None

    @property
    def metadata(self) -> ExtensionMetadata:
        """The richest description known: the catalog's, else the installed one, else the name only."""
        return self.server_metadata or self.installed_metadata or ExtensionMetadata(name=self.name)

    @property
    def installed_revision(self) -> str:
        return self.installed_metadata.revision if self.installed_metadata else ""

    @property
    def available_revision(self) -> str:
        return self.server_metadata.revision if self.server_metadata else ""

    @property
    def installable(self) -> bool:
        """Can be installed from the server now."""
        return self.in_catalog and self.compatible and not self.installed

    def to_installed_json(self) -> dict[str, object]:
        """An item of ``list --json``."""
        m = self.installed_metadata or ExtensionMetadata(name=self.name)
        return {"name": self.name, "revision": m.revision, "enabled": self.enabled, "installed": self.installed,
                "compatible": self.compatible, "reasons": list(self.reasons), "extension_id": m.extension_id,
                "slicer_revision": m.slicer_revision, "updated": m.updated}

    def to_catalog_json(self) -> dict[str, object]:
        """An item of ``search --json`` (and ``info --json``)."""
        m = self.metadata
        return {
            "name": m.name, "extension_id": m.extension_id, "revision": m.revision, "category": m.category,
            "description": m.description, "depends": list(m.depends), "installed": self.installed,
            "installed_revision": self.installed_revision or None, "update_available": self.update_available,
            "compatible": self.compatible, "reasons": list(self.reasons), "homepage": m.homepage,
            "iconurl": m.iconurl, "contributors": m.contributors, "screenshots": list(m.screenshots),
            "keywords": list(m.keywords), "tier": m.tier, "updated": m.updated,
            "slicer_revision": m.slicer_revision, "os": m.os, "arch": m.arch, "scmurl": m.scmurl,
            "sha512": m.sha512 or None,
        }


@dataclass(frozen=True)
class ProfileState:
    """Everything about one profile the faces show, read in one go."""

    revision: str
    os: str
    arch: str
    #: Catalog entries, installed, bookmarked and scheduled extensions, by name.
    extensions: Mapping[str, ExtensionState]
    bookmarks: tuple[str, ...]
    scheduled_uninstalls: tuple[str, ...]
    #: name -> downloaded archive (``Extensions/ScheduledForUpdate``).
    scheduled_updates: Mapping[str, str]
    options: Options
    restart_required: bool

    def get(self, name: str) -> ExtensionState | None:
        return self.extensions.get(name)

    def _sorted(self, states: Iterable[ExtensionState]) -> list[ExtensionState]:
        return sorted(states, key=lambda s: s.name.lower())

    @property
    def installed(self) -> list[ExtensionState]:
        """Installed extensions, sorted case-insensitively like Slicer."""
        return self._sorted(s for s in self.extensions.values() if s.installed)

    @property
    def catalog(self) -> list[ExtensionState]:
        return self._sorted(s for s in self.extensions.values() if s.in_catalog)

    @property
    def bookmarked_not_installed(self) -> list[ExtensionState]:
        return self._sorted(s for s in self.extensions.values() if s.bookmarked and not s.installed)

    @property
    def updates(self) -> list[ExtensionState]:
        """Installed extensions with an update not scheduled yet."""
        return [s for s in self.installed if s.update_available and not s.scheduled_update
                and not s.scheduled_uninstall]

    @property
    def installable_bookmarks(self) -> list[ExtensionState]:
        """Bookmarked, not installed, available for this Slicer (Slicer's "Install bookmarked (N)")."""
        return [s for s in self.bookmarked_not_installed if s.installable]


def _compatibility(meta: ExtensionMetadata, revision: str, os_name: str, arch: str) -> tuple[bool, tuple[str, ...]]:
    reasons = tuple(meta.compatibility_reasons(revision, os_name, arch))
    return not reasons, reasons


def build_profile_state(
    *, revision: str, os_name: str, arch: str,
    installed: Mapping[str, InstalledRecord],
    catalog: Mapping[str, ExtensionMetadata] | None,
    bookmarks: Iterable[str],
    scheduled_uninstalls: Iterable[str],
    scheduled_updates: Mapping[str, str],
    options: Options,
    loaded: LoadedSet,
) -> ProfileState:
    """The state of every extension of interest, and whether Slicer must restart."""
    catalog = catalog or {}
    bookmarks = tuple(dict.fromkeys(bookmarks))
    uninstalls = tuple(dict.fromkeys(scheduled_uninstalls))
    names = set(catalog) | set(installed) | set(bookmarks) | set(uninstalls) | set(scheduled_updates)
    states = {}
    for name in names:
        record, server = installed.get(name), catalog.get(name)
        meta = record.metadata if record else server
        compatible, reasons = _compatibility(meta, revision, os_name, arch) if meta else (False, ())
        was = loaded.extensions.get(name)
        now = (record.metadata.revision, record.enabled) if record else None
        states[name] = ExtensionState(
            name=name, installed_metadata=record.metadata if record else None, server_metadata=server,
            enabled=record.enabled if record else True, bookmarked=name in bookmarks,
            compatible=compatible, reasons=reasons,
            update_available=bool(record and server and server.revision and server.revision != record.metadata.revision),
            scheduled_uninstall=name in uninstalls, scheduled_update=name in scheduled_updates,
            pending_restart=now is not None and was != now, icon_file=record.icon_file if record else "",
            loaded=was is not None, loaded_revision=was[0] if was else "",
        )
    changed = set(loaded.extensions) != set(installed) or any(s.pending_restart for s in states.values())
    return ProfileState(revision, os_name, arch, states, bookmarks, uninstalls, dict(scheduled_updates), options,
                        restart_required=bool(uninstalls or scheduled_updates or changed))
