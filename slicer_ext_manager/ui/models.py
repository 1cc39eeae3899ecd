"""Data behind the views: immutable rows built off the GUI thread, and the Qt models
(``QAbstractListModel`` + ``QSortFilterProxyModel``) the list views show.

No per-row widgets anywhere: a delegate (:mod:`.delegates`) paints every row, so the
catalog stays smooth with thousands of entries.
"""

from __future__ import annotations

from ..fileutil import human_size

import dataclasses
import enum
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt

from ..catalog import Catalog
from ..metadata import ExtensionMetadata
from ..queue import Job, JobResult, Outcome, Phase
from ..restore import RestoreCandidate, RestorePlan

# -- roles ---------------------------------------------------------------------------------------

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
NAME_ROLE = Qt.ItemDataRole.UserRole + 2
CATEGORY_ROLE = Qt.ItemDataRole.UserRole + 3
DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 4
STATE_TEXT_ROLE = Qt.ItemDataRole.UserRole + 5
STATE_KIND_ROLE = Qt.ItemDataRole.UserRole + 6
SEARCH_TEXT_ROLE = Qt.ItemDataRole.UserRole + 7
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 8

_MISSING = object()


# -- extension rows ---------------------------------------------------------------------------------


class RowState(str, enum.Enum):
    """What the state line of an extension says (and how it is coloured)."""

    NOT_INSTALLED = "not-installed"
    INSTALLED = "installed"
    DISABLED = "disabled"
    UPDATE_AVAILABLE = "update-available"
    INCOMPATIBLE = "incompatible"
    NOT_FOUND = "not-found"
    INSTALL_PENDING = "install-pending"
    UNINSTALL_PENDING = "uninstall-pending"
    UPDATE_PENDING = "update-pending"

    @property
    def is_warning(self) -> bool:
        return self in (RowState.INCOMPATIBLE, RowState.NOT_FOUND, RowState.INSTALL_PENDING,
                        RowState.UNINSTALL_PENDING, RowState.UPDATE_PENDING)

    @property
    def is_info(self) -> bool:
        return self is RowState.UPDATE_AVAILABLE


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


@dataclass(frozen=True)
class InstalledInfo:
    """One installed extension as the snapshot saw it."""

    name: str
    metadata: ExtensionMetadata
    enabled: bool
    compatible: bool
    reasons: tuple[str, ...]
    icon_file: str = ""


@dataclass(frozen=True)
class StateSnapshot:
    """Everything about the profile the views need, read in one go off the GUI thread."""

    revision: str
    installed: Mapping[str, InstalledInfo] = field(default_factory=dict)
    bookmarks: tuple[str, ...] = ()
    scheduled_uninstalls: tuple[str, ...] = ()
    scheduled_updates: Mapping[str, str] = field(default_factory=dict)
    #: Raw values of Modules/AdditionalPaths, Extensions/ScheduledForUninstall and
    #: Extensions/ScheduledForUpdate (what the dialog compares for "Restart requested").
    restart_keys: tuple[Any, ...] = ()
    auto_update_check: bool = True
    auto_update_install: bool = False
    auto_install_dependencies: bool = True
    check_on_startup: bool = True
    install_without_asking: bool = False


@dataclass(frozen=True)
class ExtensionRow:
    """One extension line (Search and Installed tabs)."""

    name: str
    category: str = ""
    description: str = ""
    iconurl: str = ""
    icon_file: str = ""
    homepage: str = ""
    contributors: str = ""
    screenshots: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    scmurl: str = ""
    extension_id: str = ""
    #: Server (catalog) revision and date.
    revision: str = ""
    updated: str = ""
    installed_revision: str = ""
    installed_updated: str = ""
    built_for_revision: str = ""
    in_catalog: bool = False
    installed: bool = False
    enabled: bool = True
    compatible: bool = True
    reasons: tuple[str, ...] = ()
    update_available: bool = False
    bookmarked: bool = False
    scheduled_uninstall: bool = False
    scheduled_update: bool = False
    pending_install: bool = False
    updated_this_session: bool = False
    state: RowState = RowState.NOT_INSTALLED
    state_text: str = ""
    search_text: str = ""

    @property
    def short_description(self) -> str:
        text = re.sub(r"<br\s*/?>", " ", self.description or "", flags=re.IGNORECASE).strip()
        return " ".join(text.split("\n", 1)[0].split())

    @property
    def changelog_url(self) -> str:
        if not self.update_available:
            return ""
        return changelog_url(self.scmurl, self.installed_revision, self.revision)

    @property
    def installable(self) -> bool:
        """Can be queued for installation from the server."""
        return self.in_catalog and self.compatible and not self.installed and bool(self.extension_id or self.name)


def _state_of(row: ExtensionRow, app_revision: str) -> tuple[RowState, str]:
    if row.scheduled_uninstall:
        return RowState.UNINSTALL_PENDING, "Uninstall pending restart"
    if row.scheduled_update or row.updated_this_session:
        return RowState.UPDATE_PENDING, "Update pending restart"
    if row.installed and row.pending_install:
        return RowState.INSTALL_PENDING, "Install pending restart"
    if row.installed and not row.compatible:
        built = row.built_for_revision or "?"
        return RowState.INCOMPATIBLE, f"Incompatible with Slicer r{app_revision} [built for r{built}]"
    if row.installed and row.update_available:
        return (RowState.UPDATE_AVAILABLE,
                f"An update is available. Installed: {version_text(row.installed_revision, row.installed_updated)}. "
                f"Available: {version_text(row.revision, row.updated)}.")
    if row.installed:
        text = f"Installed, version {version_text(row.installed_revision, row.installed_updated)}"
        if not row.enabled:
            return RowState.DISABLED, text + ". Disabled."
        return RowState.INSTALLED, text
    if not row.in_catalog:
        return RowState.NOT_FOUND, f"Not found for this version of the application (r{app_revision})"
    if not row.compatible:
        return RowState.INCOMPATIBLE, "Incompatible: " + "; ".join(row.reasons)
    return RowState.NOT_INSTALLED, "Not installed"


def _finish(row: ExtensionRow, app_revision: str) -> ExtensionRow:
    state, text = _state_of(row, app_revision)
    haystack = " ".join((row.name, row.description, row.category, " ".join(row.keywords))).lower()
    return dataclasses.replace(row, state=state, state_text=text, search_text=haystack)


def _row_from_metadata(meta: ExtensionMetadata, **values: Any) -> ExtensionRow:
    return ExtensionRow(
        name=meta.name,
        category=meta.category,
        description=meta.description,
        iconurl=meta.iconurl,
        homepage=meta.homepage,
        contributors=meta.contributors,
        screenshots=tuple(meta.screenshots),
        depends=tuple(d for d in meta.depends if d and d != "NA"),
        keywords=tuple(meta.keywords),
        scmurl=meta.scmurl,
        extension_id=meta.extension_id,
        **values,
    )


def build_rows(
    catalog: Catalog | None,
    state: StateSnapshot,
    *,
    baseline: Iterable[str] | None = None,
    updated_names: Iterable[str] = (),
) -> tuple[tuple[ExtensionRow, ...], tuple[ExtensionRow, ...]]:
    """(Search rows: the catalog by name; Installed rows: installed + bookmarked, updates first).

    ``baseline``: extensions loaded by the running application (standalone: installed when
    the manager opened); an installed extension outside it is "Install pending restart".
    Pure function: runs in the worker thread.
    """
    revision = state.revision
    extensions = catalog.extensions if catalog is not None else {}
    base = set(state.installed) if baseline is None else set(baseline)
    updated = set(updated_names)
    bookmarks = set(state.bookmarks)
    uninstalls = set(state.scheduled_uninstalls)
    scheduled_updates = set(state.scheduled_updates)

    def installed_values(name: str, server: ExtensionMetadata | None) -> dict[str, Any]:
        info = state.installed.get(name)
        if info is None:
            return {"installed": False}
        meta = info.metadata
        return {
            "installed": True,
            "installed_revision": meta.revision,
            "installed_updated": meta.updated,
            "built_for_revision": meta.slicer_revision,
            "enabled": info.enabled,
            "compatible": info.compatible,
            "reasons": info.reasons,
            "icon_file": info.icon_file,
            "update_available": bool(server is not None and server.revision and meta.revision != server.revision),
            "pending_install": name not in base,
        }

    def common(name: str) -> dict[str, Any]:
        return {
            "bookmarked": name in bookmarks,
            "scheduled_uninstall": name in uninstalls,
            "scheduled_update": name in scheduled_updates,
            "updated_this_session": name in updated,
        }

    search: list[ExtensionRow] = []
    for name in sorted(extensions, key=str.lower):
        meta = extensions[name]
        values: dict[str, Any] = {"in_catalog": True, "revision": meta.revision, "updated": meta.updated}
        reasons = tuple(meta.compatibility_reasons(revision, catalog.os, catalog.arch)) if catalog else ()
        values.update({"compatible": not reasons, "reasons": reasons})
        inst = installed_values(name, meta)
        if inst.get("installed"):
            values.update(inst)
        values.update(common(name))
        search.append(_finish(_row_from_metadata(meta, **values), revision))

    by_name = {r.name: r for r in search}
    installed_rows: list[ExtensionRow] = []
    for name in sorted(set(state.installed) | bookmarks, key=str.lower):
        if name in by_name:
            installed_rows.append(by_name[name])
            continue
        info = state.installed.get(name)
        if info is not None:
            values = installed_values(name, None)
            values.update(common(name))
            values.update({"in_catalog": False, "revision": "", "updated": ""})
            installed_rows.append(_finish(_row_from_metadata(info.metadata, **values), revision))
        else:  # bookmarked, not installed, not in the catalog
            installed_rows.append(_finish(ExtensionRow(name=name, in_catalog=False, compatible=False,
                                                       **common(name)), revision))
    installed_rows.sort(key=lambda r: (0 if r.update_available and not r.scheduled_update else 1, r.name.lower()))
    return tuple(search), tuple(installed_rows)


# -- extension list model -----------------------------------------------------------------------------


class ExtensionListModel(QAbstractListModel):
    """Rows of :class:`ExtensionRow`; the delegate reads :data:`ROW_ROLE`."""

    def __init__(self, icons=None, parent=None):
        super().__init__(parent)
        self._rows: list[ExtensionRow] = []
        self._index: dict[str, int] = {}
        self._icons = icons
        if icons is not None:
            icons.iconReady.connect(self._on_icon_ready)

    # Qt API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)) or index.column() != 0:
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole or role == NAME_ROLE:
            return row.name
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DecorationRole:
            if self._icons is None:
                return None
            return self._icons.icon(row.iconurl, row.icon_file)
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.description or row.name
        if role == Qt.ItemDataRole.AccessibleTextRole:
            parts = [row.name, row.category, row.state_text]
            return ", ".join(p for p in parts if p)
        if role == Qt.ItemDataRole.AccessibleDescriptionRole:
            return row.short_description
        if role == CATEGORY_ROLE:
            return row.category
        if role == DESCRIPTION_ROLE:
            return row.short_description
        if role == STATE_TEXT_ROLE:
            return row.state_text
        if role == STATE_KIND_ROLE:
            return row.state.value
        if role == SEARCH_TEXT_ROLE:
            return row.search_text
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    # ours
    @property
    def rows(self) -> list[ExtensionRow]:
        return list(self._rows)

    def row_at(self, row: int) -> ExtensionRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def find(self, name: str) -> int:
        return self._index.get(name, -1)

    def get(self, name: str) -> ExtensionRow | None:
        i = self._index.get(name, -1)
        return self._rows[i] if i >= 0 else None

    def set_rows(self, rows: Sequence[ExtensionRow]) -> None:
        rows = list(rows)
        if [r.name for r in rows] == [r.name for r in self._rows]:
            if rows != self._rows:
                self._rows = rows
                if rows:
                    self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, 0))
            return
        self.beginResetModel()
        self._rows = rows
        self._index = {r.name: i for i, r in enumerate(rows)}
        self.endResetModel()

    def _on_icon_ready(self, key: str) -> None:
        for i, row in enumerate(self._rows):
            if key and key in (row.icon_file, row.iconurl):
                idx = self.index(i, 0)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


def category_matches(category: str, wanted: str) -> bool:
    """Catalog.search's rule: same category or a sub-category (``A.B`` under ``A``)."""
    return not wanted or category == wanted or category.startswith(wanted + ".")


class ExtensionFilterProxy(QSortFilterProxyModel):
    """Filters on a text (name, description, category, keywords) and a category."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._text = ""
        self._category = ""

    @property
    def text(self) -> str:
        return self._text

    @property
    def category(self) -> str:
        return self._category

    def _refilter(self, **values: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9
            self.beginFilterChange()
            for key, value in values.items():
                setattr(self, key, value)
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - older Qt
            for key, value in values.items():
                setattr(self, key, value)
            self.invalidateFilter()

    def set_text(self, text: str) -> None:
        text = " ".join(text.lower().split())
        if text != self._text:
            self._refilter(_text=text)

    def set_category(self, category: str) -> None:
        category = category or ""
        if category != self._category:
            self._refilter(_category=category)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        row = model.row_at(source_row) if hasattr(model, "row_at") else None
        if row is None:
            return True
        if self._category and not category_matches(getattr(row, "category", ""), self._category):
            return False
        if self._text:
            haystack = getattr(row, "search_text", "") or getattr(row, "name", "").lower()
            return all(word in haystack for word in self._text.split())
        return True


# -- install queue -----------------------------------------------------------------------------------


class ItemState(str, enum.Enum):
    PENDING = "pending"  # in the list, not started
    QUEUED = "queued"  # handed to the worker, waiting for its turn
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (ItemState.DONE, ItemState.SKIPPED, ItemState.FAILED, ItemState.CANCELLED)

    @property
    def active(self) -> bool:
        return self in (ItemState.QUEUED, ItemState.RUNNING)


_PHASE_TEXT = {
    Phase.QUEUED: "Waiting",
    Phase.DOWNLOAD: "Downloading",
    Phase.VERIFY: "Verifying",
    Phase.EXTRACT: "Extracting",
    Phase.REGISTER: "Registering",
    Phase.DONE: "Done",
}




@dataclass
class QueueItem:
    """One line of the Install tab."""

    key: str
    name: str
    kind: str = "install"  # "install" | "file" | "update"
    detail: str = ""
    job: Job | None = None
    job_id: int = 0
    batch_id: int = 0
    state: ItemState = ItemState.PENDING
    phase: Phase = Phase.QUEUED
    done: int = 0
    size: int | None = None
    message: str = ""
    result: JobResult | None = None
    iconurl: str = ""
    category: str = ""

    @property
    def fraction(self) -> float:
        """Progress of this item, 0..1 (download = first 80%, then verify/extract/register)."""
        if self.state.finished:
            return 1.0
        if self.state != ItemState.RUNNING:
            return 0.0
        if self.phase == Phase.DOWNLOAD:
            return 0.8 * (self.done / self.size) if self.size else 0.0
        if self.phase == Phase.VERIFY:
            return 0.8
        if self.phase == Phase.EXTRACT:
            return 0.82 + 0.16 * ((self.done / self.size) if self.size else 0.0)
        if self.phase == Phase.REGISTER:
            return 0.98
        return 0.0

    @property
    def status_text(self) -> str:
        if self.state == ItemState.PENDING:
            return "Ready to install" if self.kind != "update" else "Ready to update"
        if self.state == ItemState.QUEUED:
            return "Waiting for its turn"
        if self.state == ItemState.RUNNING:
            verb = _PHASE_TEXT.get(self.phase, self.phase.value.capitalize())
            if self.phase in (Phase.DOWNLOAD, Phase.EXTRACT) and self.done:
                of = f" of {human_size(self.size)}" if self.size else ""
                return f"{verb}: {human_size(self.done)}{of}"
            return f"{verb}…"
        return self.message or self.state.value.capitalize()

    @property
    def search_text(self) -> str:
        return f"{self.name} {self.detail} {self.category}".lower()

    @property
    def category_text(self) -> str:
        return self.category


class QueueModel(QAbstractListModel):
    """The Install tab's list: pending, running and finished items."""

    def __init__(self, icons=None, parent=None):
        super().__init__(parent)
        self._items: list[QueueItem] = []
        self._icons = icons

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._items)) or index.column() != 0:
            return None
        item = self._items[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, NAME_ROLE):
            return item.name
        if role == ROW_ROLE:
            return item
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icons.icon(item.iconurl) if self._icons is not None else None
        if role == STATE_TEXT_ROLE:
            return item.status_text
        if role == STATE_KIND_ROLE:
            return item.state.value
        if role == PROGRESS_ROLE:
            return int(round(item.fraction * 1000))
        if role == DESCRIPTION_ROLE:
            return item.detail
        if role == SEARCH_TEXT_ROLE:
            return item.search_text
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.message or item.detail or item.name
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{item.name}, {item.status_text}"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    # ours
    @property
    def items(self) -> list[QueueItem]:
        return list(self._items)

    def row_at(self, row: int) -> QueueItem | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    def find(self, predicate) -> int:
        return next((i for i, it in enumerate(self._items) if predicate(it)), -1)

    def add(self, items: Iterable[QueueItem]) -> list[QueueItem]:
        items = list(items)
        if not items:
            return []
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)
        self._items.extend(items)
        self.endInsertRows()
        return items

    def remove(self, item: QueueItem) -> None:
        try:
            i = next(k for k, it in enumerate(self._items) if it is item)
        except StopIteration:
            return
        self.beginRemoveRows(QModelIndex(), i, i)
        del self._items[i]
        self.endRemoveRows()

    def remove_where(self, predicate) -> int:
        removed = 0
        i = len(self._items) - 1
        while i >= 0:
            if predicate(self._items[i]):
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._items[i]
                self.endRemoveRows()
                removed += 1
            i -= 1
        return removed

    def changed(self, item: QueueItem) -> None:
        for i, it in enumerate(self._items):
            if it is item:
                idx = self.index(i, 0)
                self.dataChanged.emit(idx, idx)
                return

    def item_for_job(self, job_id: int, name: str, batch_id: int) -> QueueItem | None:
        if job_id:
            for it in self._items:
                if it.job_id == job_id:
                    return it
        for it in self._items:
            if it.batch_id == batch_id and it.name == name and not it.state.finished:
                return it
        return None


def item_state_for(outcome: Outcome) -> ItemState:
    if outcome in (Outcome.INSTALLED, Outcome.UPDATED, Outcome.UNINSTALLED, Outcome.SCHEDULED):
        return ItemState.DONE
    if outcome == Outcome.SKIPPED:
        return ItemState.SKIPPED
    if outcome == Outcome.CANCELLED:
        return ItemState.CANCELLED
    return ItemState.FAILED


# -- restore ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreRow:
    candidate: RestoreCandidate
    state_text: str

    @property
    def name(self) -> str:
        return self.candidate.name

    @property
    def category(self) -> str:
        return ""

    @property
    def search_text(self) -> str:
        return f"{self.candidate.name} {self.candidate.description} {self.state_text}".lower()


class RestoreModel(QAbstractListModel):
    """The Restore tab: one checkable line per candidate; non-selectable ones disabled."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[RestoreRow] = []
        self._checked: list[bool] = []
        self.plan: RestorePlan | None = None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)) or index.column() != 0:
            return None
        row = self._rows[index.row()]
        c = row.candidate
        if role in (Qt.ItemDataRole.DisplayRole, NAME_ROLE):
            return c.name
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.CheckStateRole:
            return (Qt.CheckState.Checked if self._checked[index.row()] else Qt.CheckState.Unchecked).value
        if role == STATE_TEXT_ROLE:
            return row.state_text
        if role == STATE_KIND_ROLE:
            if c.installed:
                return RowState.INSTALLED.value
            return RowState.INCOMPATIBLE.value if not c.compatible else RowState.NOT_INSTALLED.value
        if role == DESCRIPTION_ROLE:
            return c.description
        if role == SEARCH_TEXT_ROLE:
            return row.search_text
        if role == Qt.ItemDataRole.ToolTipRole:
            return c.description or row.state_text
        if role == Qt.ItemDataRole.AccessibleTextRole:
            checked = "checked" if self._checked[index.row()] else "not checked"
            return f"{c.name}, {row.state_text}, {checked}"
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return False
        if not self._rows[index.row()].candidate.selectable:
            return False
        state = value.value if hasattr(value, "value") else value
        try:
            checked = int(state) == Qt.CheckState.Checked.value
        except (TypeError, ValueError):
            return False
        if self._checked[index.row()] != checked:
            self._checked[index.row()] = checked
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        return True

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemNeverHasChildren | Qt.ItemFlag.ItemIsSelectable
        if self._rows[index.row()].candidate.selectable:
            flags |= Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable
        return flags

    # ours
    def set_plan(self, plan: RestorePlan | None) -> None:
        self.beginResetModel()
        self.plan = plan
        previous = plan.previous_revision if plan else ""
        self._rows = [RestoreRow(c, c.state_text(previous)) for c in (plan.candidates if plan else ())]
        self._checked = [c.selected and c.selectable for c in (plan.candidates if plan else ())]
        self.endResetModel()

    def row_at(self, row: int) -> RestoreRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    @property
    def rows(self) -> list[RestoreRow]:
        return list(self._rows)

    def checked_names(self) -> list[str]:
        return [r.candidate.name for r, on in zip(self._rows, self._checked) if on and r.candidate.selectable]

    def set_all(self, checked: bool) -> None:
        for i, row in enumerate(self._rows):
            if row.candidate.selectable:
                self._checked[i] = checked
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 0),
                                  [Qt.ItemDataRole.CheckStateRole])

    def find(self, name: str) -> int:
        return next((i for i, r in enumerate(self._rows) if r.candidate.name == name), -1)
