"""The item models under QAbstractItemModelTester (pytest-qt's qtmodeltester), the
row building, and the Search list with 3,000 entries."""

from __future__ import annotations

import time

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QListView

from slicer_ext_manager.cache import CatalogKey
from slicer_ext_manager.catalog import Catalog
from slicer_ext_manager.metadata import ExtensionMetadata
from slicer_ext_manager.queue import JobResult, Outcome, Phase
from slicer_ext_manager.restore import plan_restore
from slicer_ext_manager.ui.delegates import ExtensionDelegate, QueueDelegate, RestoreDelegate
from slicer_ext_manager.ui.icons import IconCache
from slicer_ext_manager.ui.models import (
    ExtensionFilterProxy,
    ExtensionListModel,
    InstalledInfo,
    ItemState,
    QueueItem,
    QueueModel,
    RestoreModel,
    RowState,
    StateSnapshot,
    build_rows,
)

REV = "33241"


def meta(name: str, **kw) -> ExtensionMetadata:
    kw.setdefault("slicer_revision", REV)
    kw.setdefault("os", "linux")
    kw.setdefault("arch", "amd64")
    kw.setdefault("revision", "r1")
    return ExtensionMetadata(name=name, extension_id=f"{abs(hash(name)) % 10**24:024d}", **kw)


def catalog(metas) -> Catalog:
    return Catalog(CatalogKey("http://x", "a" * 24, REV, "linux", "amd64"), {m.name: m for m in metas})


def big_catalog(n: int = 3000) -> Catalog:
    cats = ["Segmentation", "IGT", "Registration", "Quantification", "Utilities", "Segmentation.AI"]
    return catalog(meta(f"Ext{i:04d}", category=cats[i % len(cats)], description=f"Extension number {i} "
                        + ("does registration " if i % 7 == 0 else "") + "with a long description " * 4)
                   for i in range(n))


def state(**kw) -> StateSnapshot:
    return StateSnapshot(revision=REV, **kw)


def test_build_rows_states():
    cat = catalog([meta("A", revision="r2", scmurl="https://github.com/o/A"), meta("B"), meta("C"), meta("D")])
    installed = {
        "A": InstalledInfo("A", meta("A", revision="r1"), True, True, ()),
        "B": InstalledInfo("B", meta("B"), False, True, ()),
        "Old": InstalledInfo("Old", meta("Old", slicer_revision="30000"), True, False,
                             ("extensionSlicerRevision [30000] is different from slicerRevision [33241]",)),
        "C": InstalledInfo("C", meta("C"), True, True, ()),
    }
    snap = state(installed=installed, bookmarks=("D", "Missing"), scheduled_uninstalls=("C",))
    search, inst = build_rows(cat, snap, baseline={"A", "B", "Old", "C"})
    by = {r.name: r for r in search}
    assert by["A"].state == RowState.UPDATE_AVAILABLE and by["A"].changelog_url.endswith("/compare/r1...r2")
    assert by["B"].state == RowState.DISABLED and by["B"].state_text.endswith("Disabled.")
    assert by["C"].state_text == "Uninstall pending restart"
    assert by["D"].state_text == "Not installed" and by["D"].bookmarked
    rows = {r.name: r for r in inst}
    assert rows["Old"].state_text == f"Incompatible with Slicer r{REV} [built for r30000]"
    assert rows["Missing"].state_text == f"Not found for this version of the application (r{REV})"
    assert [r.name for r in inst][0] == "A"  # updates first
    # Installed after the manager opened: pending restart.
    _, inst2 = build_rows(cat, snap, baseline={"A", "B", "Old"})
    assert {r.name: r for r in inst2}["C"].state_text == "Uninstall pending restart"
    _, inst3 = build_rows(cat, state(installed={"B": installed["B"]}), baseline=set())
    assert inst3[0].state_text == "Install pending restart"
    _, inst4 = build_rows(cat, state(installed={"A": installed["A"]}), updated_names={"A"})
    assert inst4[0].state_text == "Update pending restart"


def test_extension_model_and_proxy_pass_the_model_tester(qtmodeltester, qtbot, tmp_path):
    icons = IconCache(tmp_path, network=False)
    model = ExtensionListModel(icons)
    qtmodeltester.check(model)
    search, _ = build_rows(big_catalog(50), state())
    model.set_rows(search)
    qtmodeltester.check(model)
    proxy = ExtensionFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_text("registration")
    proxy.set_category("IGT")
    qtmodeltester.check(proxy)
    model.set_rows(search[:10])  # reset
    model.set_rows(search[:10])  # same rows: no change
    qtmodeltester.check(proxy)
    icons.shutdown()


def test_queue_and_restore_models_pass_the_model_tester(qtmodeltester, qtbot):
    queue = QueueModel()
    qtmodeltester.check(queue)
    items = queue.add([QueueItem("a", "A"), QueueItem("b", "B", state=ItemState.RUNNING, phase=Phase.DOWNLOAD,
                                                      done=10, size=100)])
    items[0].state = ItemState.DONE
    items[0].result = JobResult("A", Outcome.INSTALLED, "ok")
    queue.changed(items[0])
    qtmodeltester.check(queue)
    queue.remove(items[0])
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


def test_three_thousand_entries_stay_smooth(qtbot, tmp_path):
    icons = IconCache(tmp_path, network=False)
    t0 = time.perf_counter()
    search, _ = build_rows(big_catalog(3000), state())
    build_s = time.perf_counter() - t0
    model = ExtensionListModel(icons)
    proxy = ExtensionFilterProxy()
    proxy.setSourceModel(model)
    view = QListView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setItemDelegate(ExtensionDelegate(view))
    view.setUniformItemSizes(True)
    view.resize(700, 600)
    view.show()
    t0 = time.perf_counter()
    model.set_rows(search)
    view.grab()
    fill_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    proxy.set_text("registration")
    filter_s = time.perf_counter() - t0
    assert proxy.rowCount() == len([r for r in search if "registration" in r.search_text])
    t0 = time.perf_counter()
    view.scrollToBottom()
    view.grab()
    scroll_s = time.perf_counter() - t0
    print(f"3000 rows: build {build_s * 1000:.0f} ms, fill+paint {fill_s * 1000:.0f} ms, "
          f"filter {filter_s * 1000:.0f} ms, scroll+paint {scroll_s * 1000:.0f} ms")
    assert fill_s < 0.5 and filter_s < 0.2 and scroll_s < 0.5
    icons.shutdown()


def test_delegates_size_and_paint(qtbot):
    for delegate, model in ((QueueDelegate(), QueueModel()), (RestoreDelegate(), RestoreModel())):
        view = QListView()
        qtbot.addWidget(view)
        view.setModel(model)
        view.setItemDelegate(delegate)
        if isinstance(model, QueueModel):
            model.add([QueueItem("a", "A", state=ItemState.RUNNING, phase=Phase.DOWNLOAD, done=5, size=10),
                       QueueItem("b", "B", state=ItemState.FAILED, message="It failed.")])
        else:
            model.set_plan(plan_restore({"1": ["A"]}, [], [], {"A": meta("A")}, REV, "linux", "amd64"))
        view.resize(500, 300)
        view.show()
        assert not view.grab().isNull()
        hint = delegate.sizeHint(view.viewOptions() if hasattr(view, "viewOptions") else _option(view),
                                 model.index(0, 0))
        assert hint.height() >= 30
    assert Qt and QSize


def _option(view):
    from PySide6.QtWidgets import QStyleOptionViewItem

    opt = QStyleOptionViewItem()
    opt.initFrom(view)
    return opt
