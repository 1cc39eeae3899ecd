"""Search tab: the catalog for this Slicer build, a category filter, and the details pane
with Install (starts at once), Add to queue (for later) and the bookmark toggle."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..state import ExtensionState
from .delegates import ExtensionDelegate
from .details import DetailsPane
from .filtering import ExtensionFilterProxy, SelectionMemory, select
from .list_model import ExtensionListModel
from .roles import ROW_ROLE, STATE_TEXT_ROLE
from .rows import ExtensionRow
from .widgets import FilterStatus

ALL_CATEGORIES = "All categories"
INSTALL_TIP = "Install the selected extensions (and their dependencies) now"
QUEUE_TIP = ("List the selected extensions (and their dependencies) in the Install tab without starting; "
             "click Install there when you are ready")


class SearchTab(QWidget):
    """List of catalog extensions (model/view) and the selected one's details."""

    #: Install these now.
    installRequested = Signal(list)
    #: List these in the Install tab without starting.
    queueRequested = Signal(list)
    #: (names, bookmarked)
    bookmarkRequested = Signal(list, bool)
    clearSearchRequested = Signal()

    def __init__(self, icons, images, parent: QWidget | None = None, *,
                 is_queued: Callable[[str], bool] | None = None):
        super().__init__(parent)
        self._is_queued = is_queued or (lambda name: False)
        self._app_revision = ""
        self._loading = True
        self._empty_catalog_text = ""
        self._lookup: Callable[[str], ExtensionState | None] = lambda _n: None

        self.model = ExtensionListModel(icons, self)
        self.proxy = ExtensionFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._details_timer = QTimer(self)
        self._details_timer.setSingleShot(True)
        self._details_timer.setInterval(0)
        self._details_timer.timeout.connect(self._show_details)
        self._build(icons, images)
        self.memory = SelectionMemory(self.view, self.proxy)
        self.memory.watch_source(self.model)
        self.proxy.countsChanged.connect(lambda *_: self._update_counts())
        self.proxy.modelReset.connect(self._selection_changed)
        self._update_counts()
        self._selection_changed()

    # -- layout ---------------------------------------------------------------------------------------

    def _build(self, icons, images) -> None:
        self.category_combo = QComboBox(self)
        self.category_combo.setAccessibleName("Category")
        self.category_combo.setToolTip("Show only the extensions of one category")
        self.category_combo.addItem(ALL_CATEGORIES, "")
        self.category_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.category_combo.currentIndexChanged.connect(self._category_changed)
        self.category_label = QLabel("&Category:", self)
        self.category_label.setBuddy(self.category_combo)
        self.count_label = FilterStatus("extensions", self)
        self.count_label.clearRequested.connect(self.clear_filters)
        self._build_list()
        self._build_details(icons, images)
        self._lay_out()
        QShortcut(QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Return), self.view, self._install_now)

    def _build_list(self) -> None:
        self.view = QListView(self)
        self.view.setObjectName("searchList")
        self.view.setAccessibleName("Extensions catalog")
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(ExtensionDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setAlternatingRowColors(True)
        self.view.setIconSize(QSize(48, 48))
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.view.selectionModel().currentChanged.connect(lambda *_: self._selection_changed())
        self.view.activated.connect(lambda _index: self._install_now())  # Enter / double-click: Install
        self.empty_label = QLabel(self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setMargin(24)
        self.empty_label.setAccessibleName("Catalog status")
        self.list_stack = QStackedWidget(self)
        self.list_stack.addWidget(self.view)
        self.list_stack.addWidget(self.empty_label)

    def _build_details(self, icons, images) -> None:
        self.details = DetailsPane(icons, images, self)
        self.bookmark_button = QPushButton("☆ &Bookmark", self)
        self.bookmark_button.setCheckable(True)
        self.bookmark_button.clicked.connect(self._toggle_bookmark)
        self.queue_button = QPushButton("Add to &queue", self)
        self.queue_button.setToolTip(QUEUE_TIP)
        self.queue_button.clicked.connect(self._queue)
        self.install_button = QPushButton("&Install", self)
        self.install_button.setToolTip(INSTALL_TIP)
        self.install_button.clicked.connect(self._install_now)

    def _lay_out(self) -> None:
        details_box = QWidget(self)
        dl = QVBoxLayout(details_box)
        dl.setContentsMargins(8, 0, 0, 0)
        dl.addWidget(self.details, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.bookmark_button)
        buttons.addStretch(1)
        buttons.addWidget(self.queue_button)
        buttons.addWidget(self.install_button)
        dl.addLayout(buttons)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.list_stack)
        self.splitter.addWidget(details_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([620, 400])
        header = QHBoxLayout()
        header.addWidget(self.category_label)
        header.addWidget(self.category_combo)
        header.addStretch(1)
        header.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(header)
        layout.addWidget(self.splitter, 1)

    def focus_order(self) -> list[QWidget]:
        """The tab's widgets in the order Tab visits them."""
        return [self.category_combo, self.view, self.details, self.bookmark_button, self.queue_button,
                self.install_button]

    # -- data -----------------------------------------------------------------------------------------

    def set_rows(self, rows, categories: list[str], *, app_revision: str, loading: bool, empty_text: str,
                 lookup: Callable[[str], ExtensionState | None]) -> None:
        self._app_revision = app_revision
        self._loading = loading
        self._empty_catalog_text = empty_text
        self._lookup = lookup
        self.model.set_rows(rows)
        self._set_categories(categories)
        if not self.view.selectionModel().hasSelection():
            select(self.view, self.proxy, [])
        self._update_counts()
        self._selection_changed()

    def _set_categories(self, categories: list[str]) -> None:
        current = self.category_combo.currentData() or ""
        existing = [self.category_combo.itemData(i) for i in range(1, self.category_combo.count())]
        if existing == list(categories):
            return
        self.category_combo.blockSignals(True)
        self.category_combo.clear()
        self.category_combo.addItem(ALL_CATEGORIES, "")
        for c in categories:
            self.category_combo.addItem(c, c)
        i = self.category_combo.findData(current)
        self.category_combo.setCurrentIndex(max(0, i))
        self.category_combo.blockSignals(False)
        if i < 0 and current:
            self.proxy.set_category("")

    def set_filter_text(self, text: str) -> None:
        self.proxy.set_text(text)

    def set_category(self, category: str) -> None:
        self.category_combo.setCurrentIndex(max(0, self.category_combo.findData(category or "")))

    def clear_filters(self) -> None:
        self.set_category("")
        self.clearSearchRequested.emit()

    def _category_changed(self, _index: int) -> None:
        self.proxy.set_category(self.category_combo.currentData() or "")

    def _update_counts(self) -> None:
        shown, total = self.proxy.shown_count(), self.proxy.source_count()
        self.count_label.set_counts(shown, total, self.proxy.filtering)
        if total == 0:
            self.empty_label.setText("Loading the catalog…" if self._loading else
                                     self._empty_catalog_text or "No extensions are available for this Slicer.")
            self.list_stack.setCurrentWidget(self.empty_label)
        elif shown == 0:
            what = ([f"“{self.proxy.text}”"] if self.proxy.text else []) + (
                [f"in category {self.proxy.category}"] if self.proxy.category else [])
            self.empty_label.setText("No extensions match " + " ".join(what) + "." if what else "No extensions.")
            self.list_stack.setCurrentWidget(self.empty_label)
        else:
            self.list_stack.setCurrentWidget(self.view)

    # -- selection ------------------------------------------------------------------------------------

    def current_row(self) -> ExtensionRow | None:
        index = self.view.currentIndex()
        row = index.data(ROW_ROLE) if index.isValid() and self.view.selectionModel().isSelected(index) else None
        return row if isinstance(row, ExtensionRow) else None

    def selected_rows(self) -> list[ExtensionRow]:
        rows = [i.data(ROW_ROLE) for i in self.view.selectionModel().selectedIndexes()]
        return sorted((r for r in rows if isinstance(r, ExtensionRow)), key=lambda r: r.name.lower())

    def selected_names(self) -> list[str]:
        return [r.name for r in self.selected_rows()]

    def select_names(self, names: list[str], current: str | None = None) -> None:
        select(self.view, self.proxy, names, current or "", select_first=False)

    def _installable(self, rows: list[ExtensionRow] | None = None) -> list[str]:
        rows = self.selected_rows() if rows is None else rows
        return [r.name for r in rows if r.installable and not self._is_queued(r.name)]

    def _why_not(self, rows: list[ExtensionRow]) -> str:
        if not rows:
            return ""
        r = rows[0]
        if r.installed:
            return f"{r.name} is already installed."
        if self._is_queued(r.name):
            return f"{r.name} is already in the Install tab."
        if not r.state.compatible:
            return f"{r.name} is not compatible with this Slicer."
        return ""

    def _selection_changed(self, *args) -> None:
        # Coalesced and after the event at hand: a new list and its details are not drawn in
        # the same turn of the event loop (a shorter stall), and a burst costs one render.
        self._details_timer.start()
        self.refresh_buttons()

    def _show_details(self) -> None:
        rows = self.selected_rows()
        current = self.current_row() or (rows[0] if rows else None)
        if current is None:
            self.details.show_placeholder("Select an extension to see its description, homepage, contributors, "
                                          "dependencies and screenshots." if self.proxy.rowCount() else "")
        else:
            state_text = self.proxy.index_of(current.name).data(STATE_TEXT_ROLE) or ""
            if not self.details.showing(current, state_text):  # typing keeps the same one: no re-render
                self.details.show_row(current, self._app_revision, self._lookup, state_text)

    def refresh_buttons(self) -> None:
        rows = self.selected_rows()
        installable = self._installable(rows)
        reason = "" if installable else self._why_not(rows)
        for button, tip in ((self.install_button, INSTALL_TIP), (self.queue_button, QUEUE_TIP)):
            button.setEnabled(bool(installable))
            button.setToolTip(reason or tip)
        n = len(installable)
        self.install_button.setText(f"&Install ({n})" if n > 1 else "&Install")
        marked = bool(rows) and all(r.bookmarked for r in rows)
        self.bookmark_button.setEnabled(bool(rows))
        self.bookmark_button.setChecked(marked)
        self.bookmark_button.setText("★ &Bookmarked" if marked else "☆ &Bookmark")
        self.bookmark_button.setToolTip(
            "Click to remove the bookmark." if marked else
            "Bookmark this extension: bookmarked extensions appear in all Slicer versions for easy reinstallation.")

    def refresh_activity(self, activity) -> None:
        self.model.set_activity(activity)
        self._selection_changed()

    # -- actions --------------------------------------------------------------------------------------

    def _install_now(self) -> None:
        names = self._installable()
        if names:
            self.installRequested.emit(names)

    def _queue(self) -> None:
        names = self._installable()
        if names:
            self.queueRequested.emit(names)

    def _toggle_bookmark(self) -> None:
        rows = self.selected_rows()
        if rows:
            self.bookmarkRequested.emit([r.name for r in rows], not all(r.bookmarked for r in rows))

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        if not self.view.selectionModel().isSelected(index):
            self.select_names([index.data()], index.data())
        menu = self.context_menu()
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def context_menu(self) -> QMenu:
        """The menu of the selected rows (also what tests inspect)."""
        rows = self.selected_rows()
        menu = QMenu(self)
        installable = self._installable(rows)
        install = menu.addAction("Install", self._install_now)
        install.setEnabled(bool(installable))
        queue = menu.addAction("Add to queue", self._queue)
        queue.setEnabled(bool(installable))
        marked = bool(rows) and all(r.bookmarked for r in rows)
        menu.addAction("Remove bookmark" if marked else "Bookmark", self._toggle_bookmark)
        homepage = rows[0].metadata.homepage if len(rows) == 1 else ""
        if homepage:
            menu.addSeparator()
            menu.addAction("Open homepage", lambda: QDesktopServices.openUrl(QUrl(homepage)))
        return menu
