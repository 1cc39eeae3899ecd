"""The Restore tab's model: one line per :class:`~slicer_ext_manager.restore.RestoreCandidate`
of the plan, checkable when it can be installed. Every line can be selected (to be
removed from the history or bookmarked), including those that cannot be installed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from ..restore import RestoreCandidate, RestorePlan
from .roles import CATEGORY_ROLE, DESCRIPTION_ROLE, ROW_ROLE, SEARCH_TEXT_ROLE, STATE_KIND_ROLE, STATE_TEXT_ROLE
from .rows import RowState

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class RestoreRow:
    candidate: RestoreCandidate
    state_text: str

    @property
    def name(self) -> str:
        return self.candidate.name

    @property
    def kind(self) -> RowState:
        c = self.candidate
        if c.installed:
            return RowState.INSTALLED
        if c.availability_unknown:
            return RowState.UNKNOWN
        return RowState.INCOMPATIBLE if not c.compatible else RowState.NOT_INSTALLED

    @property
    def search_text(self) -> str:
        return f"{self.candidate.name} {self.candidate.description}".lower()


_RESTORE_ROLES: dict[int, Callable[[RestoreRow], Any]] = {
    ROW_ROLE: lambda r: r,
    Qt.ItemDataRole.DisplayRole: lambda r: r.name,
    STATE_TEXT_ROLE: lambda r: r.state_text,
    STATE_KIND_ROLE: lambda r: r.kind.value,
    DESCRIPTION_ROLE: lambda r: r.candidate.description,
    SEARCH_TEXT_ROLE: lambda r: r.search_text,
    CATEGORY_ROLE: lambda r: "",
    Qt.ItemDataRole.ToolTipRole: lambda r: r.candidate.description or r.state_text,
}


class RestoreModel(QAbstractListModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[RestoreRow] = []
        self._checked: list[bool] = []
        self.plan: RestorePlan | None = None

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        row, checked = self._rows[index.row()], self._checked[index.row()]
        if role == Qt.ItemDataRole.CheckStateRole:
            return (Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked).value
        if role == Qt.ItemDataRole.AccessibleTextRole:
            mark = ("checked" if checked else "not checked") if row.candidate.selectable else "cannot be installed"
            return f"{row.name}, {row.state_text}, {mark}"
        getter = _RESTORE_ROLES.get(role)
        return getter(row) if getter is not None else None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
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

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemNeverHasChildren | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
        if self._rows[index.row()].candidate.selectable:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    # -- ours -----------------------------------------------------------------------------------------

    def set_plan(self, plan: RestorePlan | None) -> None:
        candidates = plan.candidates if plan else ()
        previous = plan.previous_revision if plan else ""
        # Checks the user changed survive a reload of the plan (e.g. after a bookmark changed).
        kept = {r.name: on for r, on in zip(self._rows, self._checked)} if self.plan is not None else {}
        self.beginResetModel()
        self.plan = plan
        self._rows = [RestoreRow(c, c.state_text(previous)) for c in candidates]
        self._checked = [c.selectable and kept.get(c.name, c.selected) for c in candidates]
        self.endResetModel()

    def column(self, role: int) -> list[Any]:
        """The value of ``role`` for every row, in one call (what the filter proxy reads)."""
        getter = _RESTORE_ROLES.get(role)
        return [getter(r) if getter is not None else None for r in self._rows]

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
