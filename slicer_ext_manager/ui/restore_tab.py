"""Restore tab (Slicer 4.10–5.0.2's "Restore Extensions", with the history editable): the
extensions of previous Slicer versions and the bookmarks, preselected per the core's plan.
"Install selected" installs at once; "Add to queue" only lists them in the Install tab."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..restore import RestorePlan
from ..state import Option, ProfileState
from .delegates import STAR, STAR_COLOR, WARNING_COLOR, RestoreDelegate
from .filtering import ExtensionFilterProxy, SelectionMemory, select
from .restore_model import RestoreModel
from .roles import ROW_ROLE
from .widgets import FilterStatus

LOADING_TEXT = "Checking the extensions of previous Slicer versions and the bookmarks…"
LEGEND = ("☑ checked: installed by “Install selected” &nbsp;·&nbsp; "
          f"<span style='color:{STAR_COLOR.name()}'>{STAR}</span> bookmarked &nbsp;·&nbsp; "
          "greyed: installed already, or not installable here &nbsp;·&nbsp; "
          f"<span style='color:{WARNING_COLOR.name()}'>orange</span>: not available for this Slicer &nbsp;·&nbsp; "
          "<i>italic</i>: unknown, the catalog could not be loaded")


class RestoreTab(QWidget):
    #: Install these now.
    installRequested = Signal(list)
    #: List these in the Install tab without starting.
    queueRequested = Signal(list)
    #: Forget these (history and bookmarks).
    removeRequested = Signal(list)
    #: (names, bookmarked)
    bookmarkRequested = Signal(list, bool)
    clearSearchRequested = Signal()

    def __init__(self, service, parent: QWidget | None = None):
        super().__init__(parent)
        self.service = service
        self._loaded = False
        self.model = RestoreModel(self)
        self.proxy = ExtensionFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._build()
        self.memory = SelectionMemory(self.view, self.proxy, select_first=False)
        self.memory.watch_source(self.model)
        self.proxy.countsChanged.connect(lambda shown, total: self.filter_status.set_counts(
            shown, total, self.proxy.filtering))
        self.model.dataChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        service.restorePlanChanged.connect(self.set_plan)
        service.restorePlanFailed.connect(self._plan_failed)
        self._show_empty(LOADING_TEXT)
        self._update_buttons()

    def _build(self) -> None:
        self.header = QLabel(LOADING_TEXT, self)
        self.header.setWordWrap(True)
        self.header.setAccessibleName("Restore summary")
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {WARNING_COLOR.name()};")
        self.note.setVisible(False)
        self.filter_status = FilterStatus("extensions", self, show_total=False)
        self.filter_status.clearRequested.connect(self.clearSearchRequested.emit)
        self.view = QListView(self)
        self.view.setObjectName("restoreList")
        self.view.setAccessibleName("Extensions to restore")
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(RestoreDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.empty_label = QLabel(self)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMargin(24)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty_label)
        self.legend = QLabel(LEGEND, self)
        self.legend.setObjectName("restoreLegend")
        self.legend.setAccessibleName("Legend")
        self.legend.setWordWrap(True)

        self.select_all_button = self._button("Select &all", "Check every extension that can be installed",
                                              lambda: self.model.set_all(True))
        self.deselect_all_button = self._button("&Deselect all", "Uncheck every extension",
                                                lambda: self.model.set_all(False))
        self.remove_button = self._button("&Remove from history", "Forget the selected extensions: remove them "
                                          "from the history of previous Slicer versions and from the bookmarks, "
                                          "so they are not offered again", self.remove_selected)
        self.queue_button = self._button("Add to &queue", "List the checked extensions in the Install tab without "
                                         "starting", self.queue_selected)
        self.install_button = self._button("&Install selected", "Install the checked extensions (and their "
                                           "dependencies) now", self.install_selected)
        self.check_on_startup = QCheckBox("Check previous extensions on startup", self)
        self.check_on_startup.setToolTip("When Slicer starts, offer to install the extensions of the previous "
                                         f"Slicer version ({Option.CHECK_ON_STARTUP.key})")
        self.install_without_asking = QCheckBox("Install previous extensions without asking", self)
        self.install_without_asking.setToolTip("At startup, install them without asking first "
                                               f"({Option.INSTALL_WITHOUT_ASKING.key})")
        self.check_on_startup.toggled.connect(lambda on: self.service.set_option(Option.CHECK_ON_STARTUP, on))
        self.install_without_asking.toggled.connect(
            lambda on: self.service.set_option(Option.INSTALL_WITHOUT_ASKING, on))
        self._lay_out()

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        button = QPushButton(text, self)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.filter_status)
        buttons = QHBoxLayout()
        for b in (self.select_all_button, self.deselect_all_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.queue_button)
        buttons.addWidget(self.install_button)
        options = QHBoxLayout()
        options.addWidget(self.check_on_startup)
        options.addSpacing(16)
        options.addWidget(self.install_without_asking)
        options.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.legend)
        layout.addLayout(buttons)
        layout.addLayout(options)

    def focus_order(self) -> list[QWidget]:
        return [self.view, self.select_all_button, self.deselect_all_button, self.remove_button, self.queue_button,
                self.install_button, self.check_on_startup, self.install_without_asking]

    # -- data -----------------------------------------------------------------------------------------

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
        note = plan.catalog_note
        if any(c.availability_unknown for c in plan.candidates):  # the banner above already says why
            note = ("Whether these extensions can be installed here is unknown until the catalog loads: "
                    "see the message above and click Retry.")
        self.note.setText(note)
        self.note.setVisible(bool(note))
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

    def set_state(self, state: ProfileState) -> None:
        """Sync the two startup checkboxes with the settings (no write back)."""
        options = state.options
        for box, value in ((self.check_on_startup, options.check_on_startup),
                           (self.install_without_asking, options.install_without_asking)):
            if box.isChecked() != value:
                box.blockSignals(True)
                box.setChecked(value)
                box.blockSignals(False)
        self.install_without_asking.setEnabled(options.check_on_startup)

    def set_filter_text(self, text: str) -> None:
        self.proxy.set_text(text)

    # -- actions --------------------------------------------------------------------------------------

    def selected_names(self) -> list[str]:
        rows = [i.data(ROW_ROLE) for i in self.view.selectionModel().selectedIndexes()]
        return [r.name for r in rows if r is not None]

    def select_name(self, name: str) -> None:
        select(self.view, self.proxy, [name], name, select_first=False)

    def checked_names(self) -> list[str]:
        return self.model.checked_names()

    def install_selected(self) -> None:
        names = self.checked_names()
        if names:
            self.installRequested.emit(names)

    def queue_selected(self) -> None:
        names = self.checked_names()
        if names:
            self.queueRequested.emit(names)

    def remove_selected(self) -> None:
        names = self.selected_names()
        if names:
            self.removeRequested.emit(names)

    def _toggle_bookmark(self) -> None:
        rows = [r for r in (i.data(ROW_ROLE) for i in self.view.selectionModel().selectedIndexes()) if r]
        if rows:
            self.bookmarkRequested.emit([r.name for r in rows], not all(r.candidate.bookmarked for r in rows))

    def _update_buttons(self) -> None:
        selectable = any(r.candidate.selectable for r in self.model.rows)
        self.select_all_button.setEnabled(selectable)
        self.deselect_all_button.setEnabled(selectable)
        n = len(self.checked_names())
        self.install_button.setEnabled(n > 0)
        self.queue_button.setEnabled(n > 0)
        self.install_button.setText(f"&Install selected ({n})" if n else "&Install selected")
        selected = self.selected_names()
        self.remove_button.setEnabled(bool(selected))
        self.remove_button.setText(f"&Remove from history ({len(selected)})" if len(selected) > 1
                                   else "&Remove from history")

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        if not self.view.selectionModel().isSelected(index):
            self.select_name(index.data())
        self.context_menu().popup(self.view.viewport().mapToGlobal(pos))

    def context_menu(self) -> QMenu:
        rows = [r for r in (i.data(ROW_ROLE) for i in self.view.selectionModel().selectedIndexes()) if r]
        menu = QMenu(self)
        menu.addAction("Remove from history", self.remove_selected).setEnabled(bool(rows))
        marked = bool(rows) and all(r.candidate.bookmarked for r in rows)
        menu.addAction("Remove bookmark" if marked else "Bookmark", self._toggle_bookmark).setEnabled(bool(rows))
        return menu
