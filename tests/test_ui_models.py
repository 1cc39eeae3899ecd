"""Rows are the core's state with texts (no rule recomputed), the item models and the
filter proxy under QAbstractItemModelTester (pytest-qt's qtmodeltester), the filter
engine (the core matcher, narrowing, one pass per keystroke), and the delegates."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QStringListModel, Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QListView, QStyle, QStyleOptionViewItem

from slicer_ext_manager import catalog as core_catalog
from slicer_ext_manager.metadata import ExtensionMetadata
from slicer_ext_manager.queue import JobResult, Outcome, Phase
from slicer_ext_manager.restore import plan_restore
from slicer_ext_manager.state import InstalledRecord, LoadedSet, Options, build_profile_state
from slicer_ext_manager.ui.delegates import ExtensionDelegate, QueueDelegate, RestoreDelegate
from slicer_ext_manager.ui.filtering import ExtensionFilterProxy, FilterEngine
from slicer_ext_manager.ui.icons import IconCache
from slicer_ext_manager.ui.list_model import ExtensionListModel
from slicer_ext_manager.ui.queue_model import ItemState, QueueItem, QueueModel, Rate
from slicer_ext_manager.ui.restore_model import RestoreModel
from slicer_ext_manager.ui.roles import CATEGORY_ROLE, SEARCH_TEXT_ROLE
from slicer_ext_manager.ui.rows import CatalogStatus, HeaderRow, RowState, build_rows

REV = "33241"


def meta(name: str, **kw) -> ExtensionMetadata:
    kw.setdefault("slicer_revision", REV)
    kw.setdefault("os", "linux")
    kw.setdefault("arch", "amd64")
    kw.setdefault("revision", "r1")
    return ExtensionMetadata(name=name, extension_id=f"{abs(hash(name)) % 10**24:024d}", **kw)


def state(catalog=(), installed=None, loaded=None, **kw):
    installed = installed or {}
    return build_profile_state(
        revision=REV, os_name="linux", arch="amd64", installed=installed,
        catalog={m.name: m for m in catalog}, bookmarks=kw.get("bookmarks", ()),
        scheduled_uninstalls=kw.get("uninstalls", ()), scheduled_updates=kw.get("updates", {}), options=Options(),
        loaded=LoadedSet(loaded if loaded is not None else {n: (r.metadata.revision, r.enabled)
                                                            for n, r in installed.items()}))


def big_state(n: int = 3000):
    cats = ["Segmentation", "IGT", "Registration", "Quantification", "Utilities", "Segmentation.AI"]
    return state([meta(f"Ext{i:04d}", category=cats[i % len(cats)], description=f"Extension number {i} "
                       + ("does registration " if i % 7 == 0 else "") + "with a long description " * 4)
                  for i in range(n)])


def test_rows_present_the_core_state():
    cat = [meta("A", revision="r2", scmurl="https://github.com/o/A"), meta("B"), meta("C"), meta("D")]
    installed = {"A": InstalledRecord(meta("A", revision="r1"), True), "B": InstalledRecord(meta("B"), False),
                 "Old": InstalledRecord(meta("Old", slicer_revision="30000"), True),
                 "C": InstalledRecord(meta("C"), True)}
    s = state(cat, installed, bookmarks=("D", "Missing"), uninstalls=("C",))
    search, inst = build_rows(s, CatalogStatus.LOADED)
    by = {r.name: r for r in search}
    assert by["A"].kind == RowState.UPDATE_AVAILABLE and by["A"].changelog_url.endswith("/compare/r1...r2")
    assert by["B"].kind == RowState.DISABLED and by["B"].state_text.endswith("Disabled.")
    assert by["C"].state_text == "Uninstall pending restart"
    assert by["D"].state_text == "Not installed" and by["D"].bookmarked
    rows = {r.name: r for r in inst if not r.is_header}
    assert rows["Old"].state_text == f"Incompatible with Slicer r{REV} [built for r30000]"
    assert rows["Missing"].state_text == f"Not found for this version of the application (r{REV})"
    # Sections: installed (updates first), then the bookmarks not installed.
    assert [(r.title if isinstance(r, HeaderRow) else r.name) for r in inst] == [
        "Installed (4)", "A", "B", "C", "Old", "Bookmarked, not installed (2)", "D", "Missing"]
    # What changed since Slicer loaded its extensions comes from the state, worded per change.
    loaded = {"A": ("r0", True), "B": ("r1", True)}
    changed = {r.name: r for r in build_rows(state(cat, installed, loaded=loaded), CatalogStatus.LOADED)[1]
               if not r.is_header}
    assert changed["A"].state_text == "Update pending restart"
    assert changed["B"].state_text == "Disabled — takes effect after restart"
    assert changed["C"].state_text == "Install pending restart"
    # The short description and the search text are the core's.
    desc = meta("E", description="First line<BR/>second line", source={"meta.keywords": "kw"})
    row = build_rows(state([desc]), CatalogStatus.LOADED)[0][0]
    assert row.short_description == desc.short_description == "First line"
    assert row.search_text == desc.search_text


def test_bookmarks_say_checking_while_the_catalog_loads_and_unknown_when_it_failed():
    s = state((), {}, bookmarks=("Wanted",))
    texts = {status: build_rows(s, status)[1][1].state_text for status in CatalogStatus}
    assert texts[CatalogStatus.LOADING].startswith("Checking whether it is available")
    assert texts[CatalogStatus.UNAVAILABLE] == "Availability unknown: the extensions catalog could not be loaded"
    assert texts[CatalogStatus.LOADED].startswith("Not found for this version")


def test_filter_engine_uses_the_core_matcher_and_narrows(monkeypatch):
    texts = [f"ext{i} {'lung ct' if i % 3 == 0 else 'brain'} registration".lower() for i in range(30)]
    engine = FilterEngine()
    engine.reset(texts + [None], ["A"] * 30 + [""])
    calls = []
    real = core_catalog.text_matches

    def counting(words, text):
        calls.append(text)
        return real(words, text)

    monkeypatch.setattr("slicer_ext_manager.ui.filtering.text_matches", counting)
    assert engine.matched("lung") == [i for i in range(30) if i % 3 == 0]
    assert len(calls) == 30  # one pass over the rows
    calls.clear()
    assert engine.matched("lung c") == [i for i in range(30) if i % 3 == 0]
    assert len(calls) == 10  # only the rows "lung" accepted
    calls.clear()
    engine.matched("lung")  # erasing: remembered
    assert calls == []
    assert engine.matched("", "B") == []


def test_extension_model_and_proxy_pass_the_model_tester(qtmodeltester, qtbot, tmp_path):
    icons = IconCache(tmp_path, network=False)
    model = ExtensionListModel(icons)
    qtmodeltester.check(model)
    search, installed = build_rows(big_state(50), CatalogStatus.LOADED)
    model.set_rows(search)
    qtmodeltester.check(model)
    proxy = ExtensionFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)
    proxy.set_text("registration")
    proxy.set_category("IGT")
    qtmodeltester.check(proxy)
    assert {proxy.index(i, 0).data() for i in range(proxy.rowCount())} == {
        r.name for r in search if r.category == "IGT" and "registration" in r.search_text}
    model.set_rows(search[:10])  # reset
    model.set_rows(search[:10])  # same rows: data changed only
    qtmodeltester.check(proxy)
    icons.shutdown()


def test_proxy_reads_the_source_only_through_its_roles(qtbot):
    """The filter reads the search text and category roles (row by row from any model, in one
    call from ours), and nothing at all while the user types."""
    seen: list[int] = []

    class Source(ExtensionListModel):
        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            seen.append(role)
            return super().data(index, role)

        def column(self, role):
            seen.append(role)
            return super().column(role)

    source = Source()
    source.set_rows(build_rows(big_state(20), CatalogStatus.LOADED)[0])
    proxy = ExtensionFilterProxy()
    proxy.setSourceModel(source)
    assert set(seen) == {SEARCH_TEXT_ROLE, CATEGORY_ROLE}  # no getattr into the rows
    seen.clear()
    for text in ("r", "re", "reg", "regi", ""):  # keystrokes never read the source
        proxy.set_text(text)
    assert seen == []

    class Plain(QStringListModel):  # any model: the roles are read row by row
        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            seen.append(role)
            return {SEARCH_TEXT_ROLE: "alpha beta", CATEGORY_ROLE: "C"}.get(role)

        def find(self, name):
            return -1

    plain = Plain(["a", "b"])
    other = ExtensionFilterProxy()
    other.setSourceModel(plain)
    assert set(seen) == {SEARCH_TEXT_ROLE, CATEGORY_ROLE} and other.rowCount() == 2
    other.set_text("gamma")
    assert other.rowCount() == 0


def test_headers_follow_their_section(qtbot):
    installed = {"Alpha": InstalledRecord(meta("Alpha"), True), "Beta": InstalledRecord(meta("Beta"), True)}
    s = state([meta("Alpha"), meta("Beta"), meta("Gamma")], installed, bookmarks=("Gamma",))
    model = ExtensionListModel()
    model.set_rows(build_rows(s, CatalogStatus.LOADED)[1])
    proxy = ExtensionFilterProxy()
    proxy.setSourceModel(model)
    titles = [proxy.index(i, 0).data() for i in range(proxy.rowCount())]
    assert titles == ["Installed (2)", "Alpha", "Beta", "Bookmarked, not installed (1)", "Gamma"]
    proxy.set_text("gamma")
    assert [proxy.index(i, 0).data() for i in range(proxy.rowCount())] == ["Bookmarked, not installed (1)", "Gamma"]
    assert (proxy.shown_count(), proxy.source_count()) == (1, 3)
    assert not proxy.flags(proxy.index(0, 0)) & Qt.ItemFlag.ItemIsSelectable


def test_queue_and_restore_models_pass_the_model_tester(qtmodeltester, qtbot):
    queue = QueueModel()
    qtmodeltester.check(queue)
    items = queue.add([QueueItem("a", "A"), QueueItem("b", "B", state=ItemState.RUNNING, phase=Phase.DOWNLOAD,
                                                      done=10, size=100)])
    items[0].state = ItemState.DONE
    items[0].result = JobResult("A", Outcome.INSTALLED, "ok")
    queue.changed(items[0])
    qtmodeltester.check(queue)
    queue.remove_where(lambda it: it is items[0])
    qtmodeltester.check(queue)

    history = {"32448": ["A", "B", "Gone"], "30000": ["C"]}
    plan = plan_restore(history, ["D"], ["B"], {m.name: m for m in [meta("A"), meta("B"), meta("C"), meta("D")]},
                        REV, "linux", "amd64")
    restore = RestoreModel()
    qtmodeltester.check(restore)
    restore.set_plan(plan)
    qtmodeltester.check(restore)
    assert restore.checked_names() == ["A", "D"]
    restore.set_all(True)
    assert restore.checked_names() == ["A", "C", "D"]
    gone = restore.index(restore.find("Gone"), 0)
    # Not installable, yet selectable (to be removed from the history), never checkable.
    assert restore.flags(gone) & Qt.ItemFlag.ItemIsSelectable and restore.flags(gone) & Qt.ItemFlag.ItemIsEnabled
    assert not restore.flags(gone) & Qt.ItemFlag.ItemIsUserCheckable
    assert not restore.setData(gone, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)


def test_speed_and_time_left_on_slow_downloads():
    item = QueueItem("k", "Ext", state=ItemState.RUNNING, phase=Phase.DOWNLOAD)
    item.progress(Phase.DOWNLOAD, 0, 10 * 1024 * 1024)
    item.rate = Rate()  # samples at known times
    item.rate.add(0, now=100.0)
    item.rate.add(1024 * 1024, now=101.0)
    item.rate.add(2 * 1024 * 1024, now=102.0)
    item.done = 2 * 1024 * 1024
    assert item.status_text == "Downloading: 2.0 MB of 10.0 MB — 1.0 MB/s, about 8 s left"
    quick = QueueItem("q", "Quick", state=ItemState.RUNNING)
    quick.progress(Phase.DOWNLOAD, 5 * 1024 * 1024, 10 * 1024 * 1024)
    assert quick.status_text == "Downloading: 5.0 MB of 10.0 MB"  # fast: no speed shown
    assert quick.fraction == 0.4
    assert QueueItem("k", "Ext").status_text == "Ready to install"


def _view(qtbot, model, delegate, palette=None):
    view = QListView()
    qtbot.addWidget(view)
    if palette is not None:
        view.setPalette(palette)
    view.setModel(model)
    view.setItemDelegate(delegate)
    view.resize(520, 300)
    view.show()
    return view


def test_delegates_paint_rows_headers_stars_and_wrapped_failures(qtbot):
    installed = {"On": InstalledRecord(meta("On"), True), "Off": InstalledRecord(meta("Off"), False)}
    s = state([meta("On"), meta("Off"), meta("Star")], installed, bookmarks=("Star",))
    model = ExtensionListModel()
    model.set_rows(build_rows(s, CatalogStatus.LOADED)[1])
    assert not _view(qtbot, model, ExtensionDelegate()).grab().isNull()
    queue = QueueModel()
    reason = "The extensions server 127.0.0.1 answered 500 Internal Server Error for /file/x/download. " * 3
    queue.add([QueueItem("a", "A", state=ItemState.RUNNING, phase=Phase.DOWNLOAD, done=5, size=10),
               QueueItem("b", "B", state=ItemState.FAILED, message=reason)])
    delegate = QueueDelegate()
    view = _view(qtbot, queue, delegate)
    delegate.setParent(view)
    option = QStyleOptionViewItem()
    option.initFrom(view)
    # The reason is wrapped over several lines: the failed row is taller.
    assert delegate.sizeHint(option, queue.index(1, 0)).height() > delegate.sizeHint(option, queue.index(0, 0)).height()
    assert not view.grab().isNull()


def test_restore_check_boxes_are_visible_on_a_dark_palette(qtbot):
    dark = QPalette()
    for role, colour in ((QPalette.ColorRole.Base, "#1e1e1e"), (QPalette.ColorRole.Window, "#2b2b2b"),
                         (QPalette.ColorRole.AlternateBase, "#252525"), (QPalette.ColorRole.Text, "#e0e0e0"),
                         (QPalette.ColorRole.WindowText, "#e0e0e0")):
        dark.setColor(role, QColor(colour))
    model = RestoreModel()
    model.set_plan(plan_restore({"32448": ["A"]}, [], [], {"A": meta("A")}, REV, "linux", "amd64"))
    model.set_all(False)  # an empty box: only its outline shows
    delegate = RestoreDelegate()
    view = _view(qtbot, model, delegate, dark)
    view.selectionModel().clearSelection()
    image: QImage = view.viewport().grab().toImage()
    option = QStyleOptionViewItem()
    option.initFrom(view)
    option.rect = view.visualRect(model.index(0, 0))
    delegate.initStyleOption(option, model.index(0, 0))
    box = view.style().subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, option, view)
    # Inside the check box's own rectangle, its outline is drawn in the text colour.
    brightest = max(QColor(image.pixel(x, y)).lightness()
                    for x in range(box.left(), box.right() + 1) for y in range(box.top(), box.bottom() + 1))
    assert brightest > 150
    assert QModelIndex  # keep import used
