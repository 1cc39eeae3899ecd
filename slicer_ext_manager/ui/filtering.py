"""Filtering the lists with the core's matcher, at one Python pass per keystroke.

* :class:`FilterEngine` — which source rows a query accepts, with
  :func:`~slicer_ext_manager.catalog.text_matches` over the precomputed lower-case search
  texts (the ``SEARCH_TEXT_ROLE`` of the source). A query that only adds to an earlier one
  ("reg" → "regi") scans that query's rows only; earlier queries are remembered, so erasing
  costs nothing.
* :class:`ExtensionFilterProxy` — presents the accepted rows. It is a
  ``QStringListModel`` (whose ``index``/``rowCount`` stay in C++) rather than a
  ``QSortFilterProxyModel``, whose ``filterAcceptsRow`` would call into Python once per
  row of the catalog on every keystroke; here Python runs only for the rows painted.
* :class:`SelectionMemory` — keeps a view's selection (by name) across refilters.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPersistentModelIndex, QStringListModel, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView

from ..catalog import category_matches, query_words, text_matches
from .roles import CATEGORY_ROLE, SEARCH_TEXT_ROLE

Index = QModelIndex | QPersistentModelIndex
_Key = tuple[tuple[str, ...], str]


def _implies(narrow: Sequence[str], wide: Sequence[str]) -> bool:
    """Every row matching ``narrow`` matches ``wide``: each wide word is inside a narrow word."""
    return all(any(w in n for n in narrow) for w in wide)


class FilterEngine:
    """Accepted rows of one list for (query, category); headers (``None`` texts) follow their rows."""

    CACHE_SIZE = 64

    def __init__(self) -> None:
        self._texts: list[str | None] = []
        self._categories: list[str] = []
        self._members: list[int] = []
        self._header_of: dict[int, int] = {}
        self._cache: OrderedDict[_Key, list[int]] = OrderedDict()

    def reset(self, texts: Sequence[str | None], categories: Sequence[str]) -> None:
        self._texts = list(texts)
        self._categories = list(categories)
        self._members = [i for i, t in enumerate(self._texts) if t is not None]
        self._header_of = {}
        header = -1
        for i, text in enumerate(self._texts):
            if text is None:
                header = i
            elif header >= 0:
                self._header_of[i] = header
        self._cache.clear()

    @property
    def texts(self) -> list[str | None]:
        return self._texts

    @property
    def categories(self) -> list[str]:
        return self._categories

    @property
    def members(self) -> list[int]:
        """Rows that are extensions (not headers)."""
        return self._members

    def _candidates(self, words: tuple[str, ...], category: str) -> list[int]:
        best = self._members
        for (old_words, old_category), rows in self._cache.items():
            if old_category in ("", category) and len(rows) < len(best) and _implies(words, old_words):
                best = rows
        return best

    def matched(self, query: str, category: str = "") -> list[int]:
        """Extension rows accepted (source order)."""
        words = query_words(query)
        key = (words, category)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        if not words and not category:
            return self._members
        texts, categories = self._texts, self._categories
        rows = [i for i in self._candidates(words, category)
                if text_matches(words, texts[i]) and category_matches(categories[i], category)]  # type: ignore[arg-type]
        self._cache[key] = rows
        if len(self._cache) > self.CACHE_SIZE:
            self._cache.popitem(last=False)
        return rows

    def visible(self, query: str, category: str = "") -> list[int]:
        """Rows to show: the accepted ones and the header of each section that has one."""
        rows = self.matched(query, category)
        if not self._header_of:
            return rows
        out: list[int] = []
        last_header = -1
        for i in rows:
            header = self._header_of.get(i, -1)
            if header != last_header and header >= 0:
                out.append(header)
                last_header = header
            out.append(i)
        return out


class ExtensionFilterProxy(QStringListModel):
    """The accepted rows of a source model, by text (every word, in any order) and category.

    Reads the source only through ``SEARCH_TEXT_ROLE`` and ``CATEGORY_ROLE``, once per
    change of the source; forwards every other role of the rows shown.
    """

    #: After every refilter: (rows shown, extension rows of the source).
    countsChanged = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._source: Any = None
        self._engine = FilterEngine()
        self._visible: list[int] = []
        self._pos: dict[int, int] | None = None
        self._text = ""
        self._category = ""
        self._shown = 0

    # -- source ---------------------------------------------------------------------------------------

    def setSourceModel(self, model) -> None:  # noqa: N802 (Qt name)
        self._source = model
        model.modelReset.connect(self._reload)
        model.rowsInserted.connect(self._reload)
        model.rowsRemoved.connect(self._reload)
        model.layoutChanged.connect(self._reload)
        model.dataChanged.connect(self._source_data_changed)
        self._reload()

    def sourceModel(self):  # noqa: N802 (Qt name)
        return self._source

    def _read_source(self) -> tuple[list[str | None], list[str]]:
        src = self._source
        if hasattr(src, "column"):  # the whole role column in one call (models of this package)
            return list(src.column(SEARCH_TEXT_ROLE)), [c or "" for c in src.column(CATEGORY_ROLE)]
        texts: list[str | None] = []
        categories: list[str] = []
        for row in range(src.rowCount()):
            index = src.index(row, 0)
            texts.append(src.data(index, SEARCH_TEXT_ROLE))
            categories.append(src.data(index, CATEGORY_ROLE) or "")
        return texts, categories

    def _reload(self, *_args) -> None:
        self._engine.reset(*self._read_source())
        self._refilter(force=True)

    def _source_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles: Sequence[int] = ()) -> None:
        if not roles or SEARCH_TEXT_ROLE in roles or CATEGORY_ROLE in roles:
            texts, categories = self._read_source()
            if texts != self._engine.texts or categories != self._engine.categories:
                self._engine.reset(texts, categories)
                self._refilter(force=True)
                return
        first = self.mapFromSource(top)
        last = self.mapFromSource(bottom)
        if top.row() != bottom.row() or not first.isValid():
            first, last = self.index(0, 0), self.index(self.rowCount() - 1, 0)
        if first.isValid() and last.isValid():
            self.dataChanged.emit(first, last, list(roles))

    # -- filter ---------------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self._text

    @property
    def category(self) -> str:
        return self._category

    @property
    def filtering(self) -> bool:
        return bool(query_words(self._text) or self._category)

    def set_text(self, text: str) -> None:
        text = " ".join(text.split())
        if text != self._text:
            self._text = text
            self._refilter()

    def set_category(self, category: str) -> None:
        category = category or ""
        if category != self._category:
            self._category = category
            self._refilter()

    def shown_count(self) -> int:
        """Extension rows shown (headers not counted)."""
        return self._shown

    def source_count(self) -> int:
        return len(self._engine.members)

    def _refilter(self, force: bool = False) -> None:
        visible = self._engine.visible(self._text, self._category)
        shown = len(self._engine.matched(self._text, self._category))
        if force or visible != self._visible:
            self._visible, self._pos, self._shown = list(visible), None, shown
            self.setStringList([""] * len(visible))  # one reset; the strings are never shown
        self.countsChanged.emit(shown, self.source_count())

    # -- mapping and data -----------------------------------------------------------------------------

    def source_row(self, row: int) -> int:
        return self._visible[row] if 0 <= row < len(self._visible) else -1

    def mapToSource(self, index: Index) -> QModelIndex:  # noqa: N802 (Qt name)
        if not index.isValid() or self._source is None:
            return QModelIndex()
        row = self.source_row(index.row())
        return self._source.index(row, 0) if row >= 0 else QModelIndex()

    def mapFromSource(self, index: Index) -> QModelIndex:  # noqa: N802 (Qt name)
        if not index.isValid():
            return QModelIndex()
        if self._pos is None:
            self._pos = {source: row for row, source in enumerate(self._visible)}
        row = self._pos.get(index.row(), -1)
        return self.index(row, 0) if row >= 0 else QModelIndex()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        source = self.mapToSource(index)
        return self._source.data(source, role) if source.isValid() else None

    def flags(self, index: Index) -> Qt.ItemFlag:
        source = self.mapToSource(index)
        return self._source.flags(source) if source.isValid() else Qt.ItemFlag.NoItemFlags

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        source = self.mapToSource(index)
        return bool(source.isValid() and self._source.setData(source, value, role))

    def index_of(self, name: str) -> QModelIndex:
        """The shown row of the extension ``name`` (invalid when filtered out)."""
        row = self._source.find(name) if self._source is not None else -1
        return self.mapFromSource(self._source.index(row, 0)) if row >= 0 else QModelIndex()


class SelectionMemory:
    """Keeps the selected names (and the current one) of ``view`` over resets of its proxy
    or of the proxy's source; when none of them is shown any more, the first row is selected
    so that a details pane never shows an extension that is not in the list."""

    def __init__(self, view: QAbstractItemView, proxy: ExtensionFilterProxy, *, select_first: bool = True):
        self.view, self.proxy = view, proxy
        self.select_first = select_first
        self._saved: tuple[list[str], str] | None = None
        proxy.modelAboutToBeReset.connect(self._save)
        proxy.modelReset.connect(self._restore)

    def watch_source(self, source) -> None:
        source.modelAboutToBeReset.connect(self._save)

    def _save(self) -> None:
        if self._saved is not None:
            return  # already saved before the source changed: the proxy's rows are stale now
        sm = self.view.selectionModel()
        names = [i.data() for i in sm.selectedIndexes() if i.data()]
        current = self.view.currentIndex()
        self._saved = (names, current.data() if current.isValid() else "")

    def _restore(self) -> None:
        if self._saved is None:
            return
        names, current = self._saved
        self._saved = None
        select(self.view, self.proxy, names, current, select_first=self.select_first)


def select(view: QAbstractItemView, proxy: ExtensionFilterProxy, names: Sequence[str], current: str = "", *,
           select_first: bool = True) -> None:
    """Select the shown rows of ``names`` (current: ``current`` or the first of them); with
    none shown, the first extension row when ``select_first``."""
    sm = view.selectionModel()
    indexes = [i for i in (proxy.index_of(n) for n in names) if i.isValid()]
    if not indexes and select_first:
        first = next((proxy.index(r, 0) for r in range(proxy.rowCount())
                      if proxy.flags(proxy.index(r, 0)) & Qt.ItemFlag.ItemIsSelectable), None)
        indexes = [first] if first is not None else []
    sm.clearSelection()
    if not indexes:
        sm.setCurrentIndex(QModelIndex(), QItemSelectionModel.SelectionFlag.NoUpdate)
        return
    for index in indexes:
        sm.select(index, QItemSelectionModel.SelectionFlag.Select)
    focus = next((i for i in indexes if i.data() == current), indexes[0])
    sm.setCurrentIndex(focus, QItemSelectionModel.SelectionFlag.NoUpdate)
    if all(not proxy.flags(proxy.index(r, 0)) & Qt.ItemFlag.ItemIsSelectable for r in range(focus.row())):
        view.scrollToTop()  # the first row: keep its section's title in sight
    else:
        view.scrollTo(focus)
