"""Rows the lists show: the core's :class:`~slicer_ext_manager.state.ExtensionState`
with its texts and colour class. Pure presentation, built off the GUI thread: no
compatibility, update or restart rule is decided here; they come from the state."""

from __future__ import annotations

import enum
import re
import time
from dataclasses import dataclass
from typing import Union

from ..metadata import ExtensionMetadata
from ..state import ExtensionState, ProfileState


class RowState(str, enum.Enum):
    """What the state line of an extension says (and how it is coloured)."""

    NOT_INSTALLED = "not-installed"
    INSTALLED = "installed"
    DISABLED = "disabled"
    UPDATE_AVAILABLE = "update-available"
    INCOMPATIBLE = "incompatible"
    NOT_FOUND = "not-found"
    CHECKING = "checking"
    UNKNOWN = "unknown"
    INSTALL_PENDING = "install-pending"
    UNINSTALL_PENDING = "uninstall-pending"
    UPDATE_PENDING = "update-pending"
    CHANGE_PENDING = "change-pending"
    #: The Install tab is working on it (the queue's activity replaces the state line).
    ACTIVITY = "activity"
    FAILED = "failed"

    @property
    def is_warning(self) -> bool:
        return self in (RowState.INCOMPATIBLE, RowState.NOT_FOUND, RowState.INSTALL_PENDING,
                        RowState.UNINSTALL_PENDING, RowState.UPDATE_PENDING, RowState.CHANGE_PENDING)

    @property
    def is_info(self) -> bool:
        return self in (RowState.UPDATE_AVAILABLE, RowState.ACTIVITY)

    @property
    def dimmed(self) -> bool:
        return self in (RowState.INCOMPATIBLE, RowState.UNINSTALL_PENDING, RowState.DISABLED, RowState.NOT_FOUND)


class CatalogStatus(str, enum.Enum):
    """Whether the catalog is known, so that "not in the catalog" can be told apart."""

    LOADING = "loading"
    LOADED = "loaded"
    UNAVAILABLE = "unavailable"


def short_date(iso_text: str) -> str:
    """``2025-01-29T10:11:12+00:00`` -> ``2025-01-29``."""
    text = (iso_text or "").strip()
    return text[:10] if re.match(r"^\d{4}-\d{2}-\d{2}", text) else text


def version_text(revision: str, updated: str) -> str:
    """Slicer's "revision (yyyy-MM-dd)", or "unknown"."""
    if not revision:
        return "unknown"
    date = short_date(updated)
    return f"{revision} ({date})" if date else revision


_SCM_HOST = re.compile(
    r"^(?:git\+)?(?:https?://|git://|ssh://git@|git@)(?P<host>github\.com|gitlab\.com|[\w.-]*gitlab[\w.-]*)[/:]"
    r"(?P<path>[^?#]+?)(?:\.git)?/?$",
    re.IGNORECASE,
)


def changelog_url(scmurl: str, installed_revision: str, server_revision: str) -> str:
    """GitHub ``…/compare/<installed>...<server>`` or GitLab ``…/-/compare/…`` (else "")."""
    if not scmurl or not installed_revision or not server_revision or installed_revision == server_revision:
        return ""
    match = _SCM_HOST.match(scmurl.strip())
    if not match:
        return ""
    host, path = match.group("host").lower(), match.group("path").strip("/")
    if path.count("/") < 1:
        return ""
    if host == "github.com":
        return f"https://github.com/{path}/compare/{installed_revision}...{server_revision}"
    return f"https://{host}/{path}/-/compare/{installed_revision}...{server_revision}"


def _pending_text(s: ExtensionState) -> tuple[RowState, str] | None:
    """The state line of a change that waits for a restart, if any."""
    if s.scheduled_uninstall:
        return RowState.UNINSTALL_PENDING, "Uninstall pending restart"
    if s.scheduled_update:
        return RowState.UPDATE_PENDING, "Update pending restart"
    if not (s.installed and s.pending_restart):
        return None
    if not s.loaded:
        return RowState.INSTALL_PENDING, "Install pending restart"
    if s.loaded_revision != s.installed_revision:
        return RowState.UPDATE_PENDING, "Update pending restart"
    return RowState.CHANGE_PENDING, ("Enabled" if s.enabled else "Disabled") + " — takes effect after restart"


def _installed_text(s: ExtensionState, app_revision: str) -> tuple[RowState, str]:
    installed = s.installed_metadata or ExtensionMetadata(name=s.name)
    if not s.compatible:
        return RowState.INCOMPATIBLE, (f"Incompatible with Slicer r{app_revision} "
                                       f"[built for r{installed.slicer_revision or '?'}]")
    version = version_text(installed.revision, installed.updated)
    if s.update_available and s.server_metadata is not None:
        available = version_text(s.server_metadata.revision, s.server_metadata.updated)
        return RowState.UPDATE_AVAILABLE, f"An update is available. Installed: {version}. Available: {available}."
    if not s.enabled:
        return RowState.DISABLED, f"Installed, version {version}. Disabled."
    return RowState.INSTALLED, f"Installed, version {version}"


def describe(s: ExtensionState, app_revision: str, catalog: CatalogStatus) -> tuple[RowState, str]:
    """The state line of an extension, as Slicer's manager words it where it has a text."""
    pending = _pending_text(s)
    if pending is not None:
        return pending
    if s.installed:
        return _installed_text(s, app_revision)
    if not s.in_catalog:
        if catalog == CatalogStatus.LOADING:
            return RowState.CHECKING, "Checking whether it is available for this Slicer…"
        if catalog == CatalogStatus.UNAVAILABLE:
            return RowState.UNKNOWN, "Availability unknown: the extensions catalog could not be loaded"
        return RowState.NOT_FOUND, f"Not found for this version of the application (r{app_revision})"
    if not s.compatible:
        return RowState.INCOMPATIBLE, "Incompatible: " + "; ".join(s.reasons)
    return RowState.NOT_INSTALLED, "Not installed"


@dataclass(frozen=True)
class ExtensionRow:
    """One extension line (Search and Installed tabs): the core's state and its texts."""

    state: ExtensionState
    kind: RowState
    state_text: str
    short_description: str
    search_text: str

    is_header = False

    @classmethod
    def of(cls, s: ExtensionState, app_revision: str, catalog: CatalogStatus) -> ExtensionRow:
        kind, text = describe(s, app_revision, catalog)
        meta = s.metadata
        return cls(s, kind, text, meta.short_description, meta.search_text)

    # The state's fields the views read.
    @property
    def name(self) -> str:
        return self.state.name

    @property
    def metadata(self) -> ExtensionMetadata:
        return self.state.metadata

    @property
    def category(self) -> str:
        return self.metadata.category

    @property
    def iconurl(self) -> str:
        return self.metadata.iconurl

    @property
    def icon_file(self) -> str:
        return self.state.icon_file

    @property
    def installed(self) -> bool:
        return self.state.installed

    @property
    def bookmarked(self) -> bool:
        return self.state.bookmarked

    @property
    def enabled(self) -> bool:
        return self.state.enabled

    @property
    def installable(self) -> bool:
        return self.state.installable

    @property
    def changelog_url(self) -> str:
        s = self.state
        if not s.update_available or s.server_metadata is None or s.installed_metadata is None:
            return ""
        return changelog_url(s.metadata.scmurl, s.installed_revision, s.available_revision)


@dataclass(frozen=True)
class HeaderRow:
    """A section title in a list (not selectable; shown while its section has rows)."""

    title: str
    key: str

    is_header = True
    name = ""
    category = ""
    search_text = None


ListRow = Union[ExtensionRow, HeaderRow]

INSTALLED_SECTION = "installed"
BOOKMARKED_SECTION = "bookmarked"


class RowMaker:
    """Makes rows, giving back the previous row object of an extension whose state and text
    did not change: the lists then repaint only what changed (the views compare objects)."""

    def __init__(self) -> None:
        self._previous: dict[str, ExtensionRow] = {}
        self._made: dict[str, ExtensionRow] = {}

    def row(self, s: ExtensionState, app_revision: str, catalog: CatalogStatus) -> ExtensionRow:
        made = self._made.get(s.name)
        if made is not None:
            return made
        if len(self._made) % 256 == 255:
            time.sleep(0)  # let the GUI thread take the GIL (a waiting thread otherwise waits 5 ms a time)
        old = self._previous.get(s.name)
        if old is not None and old.state == s and describe(s, app_revision, catalog) == (old.kind, old.state_text):
            row = old
        else:
            row = ExtensionRow.of(s, app_revision, catalog)
        self._made[s.name] = row
        return row

    def done(self) -> None:
        self._previous, self._made = self._made, {}


def build_rows(state: ProfileState, catalog: CatalogStatus, maker: RowMaker | None = None,
               ) -> tuple[tuple[ExtensionRow, ...], tuple[ListRow, ...]]:
    """(Search rows: the catalog by name; Installed rows: a section of the installed
    extensions, updates first, and one of the bookmarks not installed). Worker thread."""
    rev = state.revision
    maker = maker or RowMaker()
    search = tuple(maker.row(s, rev, catalog) for s in state.catalog)
    installed = sorted(state.installed, key=lambda s: (0 if s.update_available and not s.scheduled_update else 1,
                                                       s.name.lower()))
    rows: list[ListRow] = []
    if installed:
        rows.append(HeaderRow(f"Installed ({len(installed)})", INSTALLED_SECTION))
        rows += [maker.row(s, rev, catalog) for s in installed]
    bookmarks = state.bookmarked_not_installed
    if bookmarks:
        rows.append(HeaderRow(f"Bookmarked, not installed ({len(bookmarks)})", BOOKMARKED_SECTION))
        rows += [maker.row(s, rev, catalog) for s in bookmarks]
    maker.done()
    return search, tuple(rows)
