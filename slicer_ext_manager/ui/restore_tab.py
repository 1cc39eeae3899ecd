"""Restore tab (Slicer 4.10–5.0.2's "Restore Extensions", with the history editable):
the extensions of previous Slicer versions and the bookmarks, preselected per the plan."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..restore import RestorePlan
from .delegates import RestoreDelegate
from .models import ROW_ROLE, ExtensionFilterProxy, RestoreModel
from .worker import ExtensionsService


class RestoreTab(QWidget):
    installRequested = Signal(list)

    def __init__(self, service: ExtensionsService, parent: QWidget | None = None):
        super().__init__(parent)
        self.service = service
        self._loaded = False
        self.model = RestoreModel(self)
        self.proxy = ExtensionFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.header = QLabel("Loading the extensions of previous Slicer versions…", self)
        self.header.setWordWrap(True)
        self.header.setAccessibleName("Restore summary")
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #bd8530;")
        self.note.setVisible(False)

        self.view = QListView(self)
        self.view.setObjectName("restoreList")
        self.view.setAccessibleName("Extensions to restore")
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(RestoreDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.selectionModel().currentChanged.connect(lambda *_: self._update_buttons())
        self.empty_label = QLabel(self)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMargin(24)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty_label)

        self.select_all_button = QPushButton("Select &all", self)
        self.select_all_button.clicked.connect(lambda: self._set_all(True))
        self.deselect_all_button = QPushButton("&Deselect all", self)
        self.deselect_all_button.clicked.connect(lambda: self._set_all(False))
        self.remove_button = QPushButton("&Remove from history", self)
        self.remove_button.setToolTip("Forget the selected extension: remove it from the history of previous "
                                      "Slicer versions (and from the bookmarks), so it is not offered again")
        self.remove_button.clicked.connect(self.remove_current)
        self.install_button = QPushButton("&Install selected", self)
        self.install_button.setToolTip("Put the checked extensions (and their dependencies) in the Install tab")
        self.install_button.clicked.connect(self.install_selected)

        self.check_on_startup = QCheckBox("Check previous extensions on startup", self)
        self.check_on_startup.setToolTip("When Slicer starts, offer to install the extensions of the previous "
                                         "Slicer version (ExtensionCheckOnStartup/dontCheck)")
        self.install_without_asking = QCheckBox("Install previous extensions without asking", self)
        self.install_without_asking.setToolTip("At startup, install them without asking first "
                                               "(ExtensionCheckOnStartup/ifCheckInstallWithoutDialog)")
        self.check_on_startup.toggled.connect(
            lambda on: self.service.set_startup_options(check_on_startup=on))
        self.install_without_asking.toggled.connect(
            lambda on: self.service.set_startup_options(install_without_asking=on))

        buttons = QHBoxLayout()
        buttons.addWidget(self.select_all_button)
        buttons.addWidget(self.deselect_all_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(self.install_button)
        options = QHBoxLayout()
        options.addWidget(self.check_on_startup)
        options.addSpacing(16)
        options.addWidget(self.install_without_asking)
        options.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.header)
        layout.addWidget(self.note)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        layout.addLayout(options)

        self.model.dataChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        service.restorePlanChanged.connect(self.set_plan)
        service.restorePlanFailed.connect(self._plan_failed)
        self._show_empty("Loading the extensions of previous Slicer versions…")
        self._update_buttons()

    # -- data ------------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._loaded

    @property
    def plan(self) -> RestorePlan | None:
        return self.model.plan

    def reload(self, *, refresh: bool = False) -> None:
        self.service.load_restore_plan(refresh=refresh)

    def set_plan(self, plan: RestorePlan) -> None:
        self._loaded = True
        current = self.current_name()
        self.model.set_plan(plan)
        selectable = [c for c in plan.candidates if c.selectable]
        if not plan.candidates:
            self.header.setText("Extensions used in previous Slicer versions and bookmarked extensions are "
                                "listed here.")
            self._show_empty("No extensions from previous Slicer versions and no bookmarks were found.")
        else:
            n = len(plan.candidates)
            text = (f"{n} extension{'s' if n != 1 else ''} from previous Slicer versions and bookmarks; "
                    f"{len(selectable)} can be installed in this Slicer (r{plan.revision}).")
            if plan.previous_revision:
                text += f" Those used in r{plan.previous_revision} and the bookmarks are preselected."
            self.header.setText(text)
            self.stack.setCurrentWidget(self.view)
        self.note.setText(plan.catalog_note)
        self.note.setVisible(bool(plan.catalog_note))
        if current:
            self.select_name(current)
        self._update_buttons()

    def _plan_failed(self, message: str) -> None:
        self._loaded = True
        self.note.setText(message)
        self.note.setVisible(True)
        if not self.model.rowCount():
            self._show_empty("The extensions of previous Slicer versions could not be listed.")

    def _show_empty(self, text: str) -> None:
        self.empty_label.setText(text)
        self.stack.setCurrentWidget(self.empty_label)

    def set_state(self, state) -> None:
        """Sync the two startup checkboxes with the settings (no write back)."""
        for box, value in ((self.check_on_startup, state.check_on_startup),
                           (self.install_without_asking, state.install_without_asking)):
            if box.isChecked() != value:
                box.blockSignals(True)
                box.setChecked(value)
                box.blockSignals(False)
        self.install_without_asking.setEnabled(state.check_on_startup)

    def set_filter_text(self, text: str) -> None:
        self.proxy.set_text(text)

    # -- actions -----------------------------------------------------------------------------------

    def current_name(self) -> str:
        index = self.view.currentIndex()
        row = index.data(ROW_ROLE) if index.isValid() else None
        return row.candidate.name if row is not None else ""

    def select_name(self, name: str) -> None:
        i = self.model.find(name)
        if i >= 0:
            self.view.setCurrentIndex(self.proxy.mapFromSource(self.model.index(i, 0)))

    def checked_names(self) -> list[str]:
        return self.model.checked_names()

    def _set_all(self, checked: bool) -> None:
        self.model.set_all(checked)

    def install_selected(self) -> None:
        names = self.checked_names()
        if names:
            self.installRequested.emit(names)

    def remove_current(self) -> None:
        name = self.current_name()
        if not name:
            return
        row = self.model.row_at(self.model.find(name))
        bookmarked = bool(row and row.candidate.bookmarked)

        def forget(manager):
            changed = manager.history.remove(name)
            if bookmarked:
                manager.history.set_bookmarked(name, False)
            return changed

        def done(_):
            self.reload()
            self.service.refresh_view()
            self.service.logMessage.emit(f"{name} was removed from the history of previous Slicer versions"
                                         + (" and from the bookmarks." if bookmarked else "."))

        self.service.run_read(forget, done)

    def _update_buttons(self) -> None:
        selectable = any(r.candidate.selectable for r in self.model.rows)
        self.select_all_button.setEnabled(selectable)
        self.deselect_all_button.setEnabled(selectable)
        n = len(self.checked_names())
        self.install_button.setEnabled(n > 0)
        self.install_button.setText(f"&Install selected ({n})" if n else "&Install selected")
        self.remove_button.setEnabled(bool(self.current_name()))
