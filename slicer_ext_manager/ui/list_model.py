"""The model of the Search and Installed lists: :class:`~.rows.ExtensionRow` and section
headers, with the Install tab's activity (queued, installing, failed) shown over the
state line so that a row never says "Not installed" while it is being installed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from .roles import (
    CATEGORY_ROLE,
    DESCRIPTION_ROLE,
    HEADER_ROLE,
    ROW_ROLE,
    SEARCH_TEXT_ROLE,
    STATE_KIND_ROLE,
    STATE_TEXT_ROLE,
)
from .rows import ExtensionRow, ListRow, RowState

Index = QModelIndex | QPersistentModelIndex
#: Roles that change with a row's state; the search text and the category are not among them.
VIEW_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole,
              Qt.ItemDataRole.AccessibleTextRole, ROW_ROLE, STATE_TEXT_ROLE, STATE_KIND_ROLE, DESCRIPTION_ROLE)


@dataclass(frozen=True)
class Activity:
    """What the Install tab is doing with an extension."""

    text: str
    failed: bool = False

    @property
    def kind(self) -> RowState:
        return RowState.FAILED if self.failed else RowState.ACTIVITY


class ExtensionListModel(QAbstractListModel):
    """Rows of :class:`~.rows.ListRow`; the delegate reads :data:`~.roles.ROW_ROLE`."""

    def __init__(self, icons=None, parent=None):
        super().__init__(parent)
        self._rows: list[ListRow] = []
        self._index: dict[str, int] = {}
        self._activity: dict[str, Activity] = {}
        self._by_icon: dict[str, list[int]] = {}
        self._getter_table: dict[int, Callable[[ExtensionRow], Any]] | None = None
        self._icons = icons
        if icons is not None:
            icons.iconReady.connect(self._on_icon_ready)

    # -- Qt API ------------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        row = self._rows[index.row()]
        if role == ROW_ROLE:
            return row
        if role == HEADER_ROLE:
            return row.is_header
        if isinstance(row, ExtensionRow):
            return self._extension_data(row, role)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return row.title
        return None

    def _state_text(self, row: ExtensionRow) -> str:
        activity = self._activity.get(row.name)
        return activity.text if activity else row.state_text

    def _state_kind(self, row: ExtensionRow) -> str:
        activity = self._activity.get(row.name)
        return (activity.kind if activity else row.kind).value

    def _extension_data(self, row: ExtensionRow, role: int) -> Any:
        getter = self._getters.get(role)
        return getter(row) if getter is not None else None

    @property
    def _getters(self) -> dict[int, Callable[[ExtensionRow], Any]]:
        if self._getter_table is None:
            icons = self._icons
            self._getter_table = {
                Qt.ItemDataRole.DisplayRole: lambda r: r.name,
                SEARCH_TEXT_ROLE: lambda r: r.search_text,
                CATEGORY_ROLE: lambda r: r.category,
                STATE_TEXT_ROLE: self._state_text,
                STATE_KIND_ROLE: self._state_kind,
                DESCRIPTION_ROLE: lambda r: r.short_description,
                Qt.ItemDataRole.DecorationRole: (lambda r: icons.icon(r.iconurl, r.icon_file)) if icons else
                (lambda r: None),
                Qt.ItemDataRole.ToolTipRole: lambda r: r.short_description or r.name,
                Qt.ItemDataRole.AccessibleTextRole:
                    lambda r: f"{r.name}{', bookmarked' if r.bookmarked else ''}, {self._state_text(r)}",
                Qt.ItemDataRole.AccessibleDescriptionRole: lambda r: r.short_description,
            }
        return self._getter_table

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return Qt.ItemFlag.NoItemFlags
        if self._rows[index.row()].is_header:
            return Qt.ItemFlag.ItemNeverHasChildren  # disabled: skipped by the keyboard, never selected
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    # -- ours ---------------------------------------------------------------------------------------

    @property
    def rows(self) -> list[ExtensionRow]:
        """The extension rows (no headers)."""
        return [r for r in self._rows if isinstance(r, ExtensionRow)]

    def row_at(self, row: int) -> ListRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def find(self, name: str) -> int:
        return self._index.get(name, -1)

    def get(self, name: str) -> ExtensionRow | None:
        i = self._index.get(name, -1)
        row = self._rows[i] if i >= 0 else None
        return row if isinstance(row, ExtensionRow) else None

    def set_rows(self, rows: Sequence[ListRow]) -> None:
        rows = list(rows)
        if len(rows) == len(self._rows) and all(a.name == b.name and a.is_header == b.is_header
                                                for a, b in zip(rows, self._rows)):
            self._update_rows(rows)  # same rows: no reset (selection and scroll stay)
            return
        self.beginResetModel()
        self._rows, self._by_icon = rows, self._icon_index(rows)
        self._index = {r.name: i for i, r in enumerate(rows) if not r.is_header}
        self.endResetModel()

    @staticmethod
    def _icon_index(rows: Sequence[ListRow]) -> dict[str, list[int]]:
        by_icon: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            if isinstance(r, ExtensionRow):
                for key in (r.icon_file, r.iconurl):
                    if key:
                        by_icon.setdefault(key, []).append(i)
        return by_icon

    def _update_rows(self, rows: list[ListRow]) -> None:
        """Rows that are new objects changed (the service gives back unchanged ones)."""
        changed = [i for i, (a, b) in enumerate(zip(self._rows, rows)) if a is not b]
        if not changed:
            return
        texts = any(self._rows[i].search_text != rows[i].search_text or self._rows[i].category != rows[i].category
                    for i in changed)
        self._rows, self._by_icon = rows, self._icon_index(rows)
        roles = [] if texts else list(VIEW_ROLES)
        if len(changed) > 32:
            self.dataChanged.emit(self.index(changed[0], 0), self.index(changed[-1], 0), roles)
            return
        for i in changed:
            self.dataChanged.emit(self.index(i, 0), self.index(i, 0), roles)

    def column(self, role: int) -> list[Any]:
        """The value of ``role`` for every row, in one call (what the filter proxy reads)."""
        if role == SEARCH_TEXT_ROLE:
            return [r.search_text for r in self._rows]
        if role == CATEGORY_ROLE:
            return [r.category for r in self._rows]
        return [self.data(self.index(i, 0), role) for i in range(len(self._rows))]

    def activity(self, name: str) -> Activity | None:
        return self._activity.get(name)

    def set_activity(self, activity: Mapping[str, Activity]) -> None:
        """Show the Install tab's activity over the state lines (rows whose activity changed)."""
        changed = {n for n in set(activity) | set(self._activity) if activity.get(n) != self._activity.get(n)}
        self._activity = dict(activity)
        for name in changed:
            i = self._index.get(name, -1)
            if i >= 0:
                idx = self.index(i, 0)
                self.dataChanged.emit(idx, idx, [STATE_TEXT_ROLE, STATE_KIND_ROLE])

    def _on_icon_ready(self, key: str) -> None:
        for i in self._by_icon.get(key, ()):
            idx = self.index(i, 0)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])
