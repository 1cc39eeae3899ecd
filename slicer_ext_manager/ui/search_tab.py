"""Search tab: the catalog for this Slicer build, a category filter and a details pane."""

from __future__ import annotations

import html
from typing import Callable

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence, QShortcut, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from .delegates import ExtensionDelegate
from .models import ROW_ROLE, ExtensionFilterProxy, ExtensionListModel, ExtensionRow, version_text

ALL_CATEGORIES = "All categories"


def _link(url: str, text: str | None = None) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(text or url)}</a>'


ICON_URL = "icon://current"


def details_html(row: ExtensionRow, app_revision: str, *, icon_url: str = "") -> str:
    """The details pane's rich text (links open in the browser)."""
    esc = html.escape
    title = f"<h2 style='margin:0'>{esc(row.name)}</h2>"
    if row.category:
        title += f"<div>{esc(row.category)}</div>"
    if icon_url:
        parts = [f"<table cellspacing='0' cellpadding='0'><tr><td valign='middle' style='padding-right:10px'>"
                 f"<img src='{icon_url}' width='64' height='64'></td><td valign='middle'>{title}</td></tr></table>"]
    else:
        parts = [title]
    state_colour = "#bd8530" if row.state.is_warning else None
    state = esc(row.state_text)
    parts.append(f"<p><b>{f'<span style=color:{state_colour}>{state}</span>' if state_colour else state}</b></p>")
    if row.description:
        parts.append(f"<p>{esc(row.description).replace(chr(10), '<br>')}</p>")
    rows: list[tuple[str, str]] = []
    if row.homepage:
        rows.append(("Homepage", _link(row.homepage)))
    if row.contributors:
        rows.append(("Contributors", esc(row.contributors)))
    if row.depends:
        rows.append(("Dependencies", esc(", ".join(row.depends))))
    if row.in_catalog:
        rows.append(("Revision", esc(version_text(row.revision, row.updated))))
    installed_text = version_text(row.installed_revision, row.installed_updated)
    if row.installed and (not row.in_catalog or installed_text != version_text(row.revision, row.updated)):
        rows.append(("Installed", esc(installed_text)))
    if row.changelog_url:
        rows.append(("Change log", _link(row.changelog_url, "Change log...")))
    if row.scmurl:
        rows.append(("Source", _link(row.scmurl)))
    if row.keywords:
        rows.append(("Keywords", esc(", ".join(row.keywords))))
    if row.screenshots:
        rows.append(("Screenshots", "<br>".join(_link(u, f"Screenshot {i + 1}")
                                                for i, u in enumerate(row.screenshots))))
    if rows:
        parts.append("<table cellspacing='0' cellpadding='3'>")
        for label, value in rows:
            parts.append(f"<tr><td valign='top'><b>{esc(label)}</b></td><td>{value}</td></tr>")
        parts.append("</table>")
    if not row.compatible and row.reasons and not row.installed:
        parts.append(f"<p style='color:#bd8530'>Not installable on Slicer r{esc(app_revision)}: "
                     f"{esc('; '.join(row.reasons))}</p>")
    return "".join(parts)


class SearchTab(QWidget):
    """List of catalog extensions (model/view) and the selected one's details."""

    addRequested = Signal(list)
    installNowRequested = Signal(list)

    def __init__(self, icons, parent: QWidget | None = None, *, is_queued: Callable[[str], bool] | None = None):
        super().__init__(parent)
        self._icons = icons
        self._is_queued = is_queued or (lambda name: False)
        self._app_revision = ""
        self._loading = True
        self._empty_catalog_text = ""

        self.model = ExtensionListModel(icons, self)
        self.proxy = ExtensionFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.category_combo = QComboBox(self)
        self.category_combo.setAccessibleName("Category")
        self.category_combo.setToolTip("Show only the extensions of one category")
        self.category_combo.addItem(ALL_CATEGORIES, "")
        self.category_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.category_combo.currentIndexChanged.connect(self._category_changed)
        category_label = QLabel("&Category:", self)
        category_label.setBuddy(self.category_combo)
        self.count_label = QLabel(self)
        self.count_label.setAccessibleName("Number of extensions shown")

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
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.view.selectionModel().currentChanged.connect(lambda *_: self._selection_changed())
        self.view.activated.connect(lambda _: self._add())
        self.view.setToolTip("")

        self.empty_label = QLabel(self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setMargin(24)
        self.empty_label.setAccessibleName("Catalog status")
        self.list_stack = QStackedWidget(self)
        self.list_stack.addWidget(self.view)
        self.list_stack.addWidget(self.empty_label)

        # Details pane (the icon is part of the document).
        self.details = QTextBrowser(self)
        self.details.setObjectName("details")
        self.details.setAccessibleName("Extension details")
        self.details.setOpenExternalLinks(False)
        self.details.setOpenLinks(False)
        self.details.anchorClicked.connect(self._open_link)
        self.details.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.add_button = QPushButton("&Add to install", self)
        self.add_button.setToolTip("Add the selected extensions (and their dependencies) to the Install tab")
        self.add_button.clicked.connect(self._add)
        self.install_button = QPushButton("Install &now", self)
        self.install_button.setToolTip("Install the selected extensions (and their dependencies) now")
        self.install_button.clicked.connect(self._install_now)
        self.install_button.setDefault(False)

        details_box = QWidget(self)
        dl = QVBoxLayout(details_box)
        dl.setContentsMargins(8, 0, 0, 0)
        dl.addWidget(self.details, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.install_button)
        dl.addLayout(buttons)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.list_stack)
        splitter.addWidget(details_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([620, 400])
        self.splitter = splitter

        header = QHBoxLayout()
        header.addWidget(category_label)
        header.addWidget(self.category_combo)
        header.addStretch(1)
        header.addWidget(self.count_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)

        QShortcut(QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Return), self.view, activated=self._install_now)
        self.proxy.rowsInserted.connect(self._update_counts)
        self.proxy.rowsRemoved.connect(self._update_counts)
        self.proxy.modelReset.connect(self._update_counts)
        self.proxy.layoutChanged.connect(self._update_counts)
        icons.iconReady.connect(lambda _key: self._show_icon(self.current_row()))
        self._update_counts()
        self._selection_changed()

    # -- data -----------------------------------------------------------------------------------

    def set_rows(self, rows, categories: list[str], *, app_revision: str, loading: bool, empty_text: str) -> None:
        self._app_revision = app_revision
        self._loading = loading
        self._empty_catalog_text = empty_text
        selected = self.selected_names()
        current = self.current_row().name if self.current_row() else None
        self.model.set_rows(rows)
        self._set_categories(categories)
        if selected:
            self.select_names(selected, current=current)
        elif self.proxy.rowCount() and not self.view.currentIndex().isValid():
            self.view.setCurrentIndex(self.proxy.index(0, 0))
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
        self._update_counts()
        self._ensure_current()

    def set_category(self, category: str) -> None:
        i = self.category_combo.findData(category or "")
        self.category_combo.setCurrentIndex(max(0, i))

    def _category_changed(self, _index: int) -> None:
        self.proxy.set_category(self.category_combo.currentData() or "")
        self._update_counts()
        self._ensure_current()

    def _ensure_current(self) -> None:
        if self.proxy.rowCount() and not self.view.currentIndex().isValid():
            self.view.setCurrentIndex(self.proxy.index(0, 0))
        self._selection_changed()

    def _update_counts(self, *args) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        if total == 0:
            self.count_label.setText("")
            if self._loading:
                self.empty_label.setText("Loading the catalog…")
            else:
                self.empty_label.setText(self._empty_catalog_text or "No extensions are available for this Slicer.")
            self.list_stack.setCurrentWidget(self.empty_label)
            return
        self.count_label.setText(f"{shown} of {total} extensions" if shown != total else f"{total} extensions")
        if shown == 0:
            what = []
            if self.proxy.text:
                what.append(f"“{self.proxy.text}”")
            if self.proxy.category:
                what.append(f"in category {self.proxy.category}")
            self.empty_label.setText("No extensions match " + " ".join(what) + "." if what else "No extensions.")
            self.list_stack.setCurrentWidget(self.empty_label)
        else:
            self.list_stack.setCurrentWidget(self.view)

    # -- selection ------------------------------------------------------------------------------

    def current_row(self) -> ExtensionRow | None:
        index = self.view.currentIndex()
        row = index.data(ROW_ROLE) if index.isValid() else None
        return row

    def selected_rows(self) -> list[ExtensionRow]:
        rows = [i.data(ROW_ROLE) for i in self.view.selectionModel().selectedIndexes()]
        rows = [r for r in rows if r is not None]
        if not rows and self.current_row() is not None:
            rows = [self.current_row()]
        return sorted(rows, key=lambda r: r.name.lower())

    def selected_names(self) -> list[str]:
        return [r.name for r in self.selected_rows()]

    def select_names(self, names: list[str], current: str | None = None) -> None:
        sm = self.view.selectionModel()
        sm.clearSelection()
        first: QModelIndex | None = None
        for name in names:
            row = self.model.find(name)
            if row < 0:
                continue
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            if not index.isValid():
                continue
            sm.select(index, QItemSelectionModel.SelectionFlag.Select)
            if first is None or name == current:
                first = index
        if first is not None:
            sm.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.view.scrollTo(first, QAbstractItemView.ScrollHint.PositionAtCenter)

    def _installable(self) -> list[str]:
        return [r.name for r in self.selected_rows() if r.installable and not self._is_queued(r.name)]

    def _selection_changed(self, *args) -> None:
        row = self.current_row()
        rows = self.selected_rows()
        if row is None or not rows:
            self.details.setHtml(
                "<p style='color:gray'>Select an extension to see its description, homepage, "
                "contributors and dependencies.</p>" if self.model.rowCount() else "")
        else:
            self._show_details(row)
        installable = self._installable()
        self.add_button.setEnabled(bool(installable))
        self.install_button.setEnabled(bool(installable))
        reason = ""
        if rows and not installable:
            r = rows[0]
            if r.installed:
                reason = f"{r.name} is already installed."
            elif self._is_queued(r.name):
                reason = f"{r.name} is already in the Install tab."
            elif not r.compatible:
                reason = f"{r.name} is not compatible with this Slicer."
        self.add_button.setToolTip(reason or "Add the selected extensions (and their dependencies) to the Install tab")
        self.install_button.setToolTip(reason or "Install the selected extensions (and their dependencies) now")

    def refresh_buttons(self) -> None:
        self._selection_changed()

    def _show_details(self, row: ExtensionRow) -> None:
        icon = self._icons.icon(row.iconurl, row.icon_file)
        dpr = max(1.0, self.devicePixelRatioF())
        image = icon.pixmap(QSize(64, 64), dpr).toImage()
        self.details.document().addResource(QTextDocument.ResourceType.ImageResource, QUrl(ICON_URL), image)
        self.details.setHtml(details_html(row, self._app_revision, icon_url=ICON_URL))

    def _show_icon(self, row: ExtensionRow | None) -> None:
        if row is not None and self.view.selectionModel().hasSelection():
            self._show_details(row)

    def _open_link(self, url: QUrl) -> None:
        QDesktopServices.openUrl(url)

    def _add(self) -> None:
        names = self._installable()
        if names:
            self.addRequested.emit(names)

    def _install_now(self) -> None:
        names = self._installable()
        if names:
            self.installNowRequested.emit(names)
