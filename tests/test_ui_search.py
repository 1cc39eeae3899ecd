"""Search tab: the catalog loads (cache first, then the server), the search box and the
category filter (with "N of M shown — clear"), the details pane (dependency tree,
inline screenshots, bookmark toggle), the row context menu, offline and empty states."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from slicer_ext_manager.ui.roles import STATE_TEXT_ROLE
from slicer_ext_manager.ui.rows import RowState

from .ui_fixtures import REV, manager_for, shown_names


def names(tab) -> list[str]:
    return shown_names(tab.view)


def test_catalog_loads_and_filters(qtbot, repo, make_profile, make_widget):
    repo.add("SlicerIGT", category="IGT", description="Image-guided therapy tools.", keywords="tracking navigation")
    repo.add("SegmentEditorExtraEffects", category="Segmentation", description="Extra segment editor effects.")
    repo.add("SlicerRT", category="Radiotherapy", description="Radiation therapy toolkit.")
    repo.add("TotalSegmentator", category="Segmentation.AI", description="Automatic segmentation of CT.")
    repo.add("MarkupsToModel", category="Surface Models", description="Create models from markups.")
    repo.start()
    widget = make_widget(manager_for(make_profile(repo.url, repo.server.app_id)))
    tab = widget.search_tab
    assert widget.current_tab_name() == "search"
    assert names(tab) == ["MarkupsToModel", "SegmentEditorExtraEffects", "SlicerIGT", "SlicerRT", "TotalSegmentator"]
    assert tab.count_label.plain_text == "5 extensions"
    row = tab.model.get("SlicerIGT")
    assert row.kind == RowState.NOT_INSTALLED and row.state_text == "Not installed" and row.category == "IGT"
    assert not widget.banner.isVisible()

    qtbot.keyClicks(widget.search_box, "segment")
    qtbot.waitUntil(lambda: names(tab) == ["SegmentEditorExtraEffects", "TotalSegmentator"], timeout=3000)
    assert tab.count_label.plain_text == "2 of 5 shown — clear"
    widget.search_box.setText("navigation")  # a keyword
    qtbot.waitUntil(lambda: names(tab) == ["SlicerIGT"], timeout=3000)
    widget.search_box.setText("radiotherapy")  # a category
    qtbot.waitUntil(lambda: names(tab) == ["SlicerRT"], timeout=3000)
    widget.search_box.setText("no such thing")
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 0, timeout=3000)
    assert tab.list_stack.currentWidget() is tab.empty_label and "No extensions match" in tab.empty_label.text()
    tab.count_label.linkActivated.emit("clear")  # "clear" empties the search box
    assert widget.search_box.text() == ""
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 5, timeout=3000)

    categories = [tab.category_combo.itemText(i) for i in range(tab.category_combo.count())]
    assert categories == ["All categories", "IGT", "Radiotherapy", "Segmentation", "Segmentation.AI", "Surface Models"]
    tab.set_category("Segmentation")
    assert names(tab) == ["SegmentEditorExtraEffects", "TotalSegmentator"]
    widget.search_box.setText("automatic")
    qtbot.waitUntil(lambda: names(tab) == ["TotalSegmentator"], timeout=3000)
    tab.clear_filters()
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 5, timeout=3000)
    assert sum(1 for r in repo.server.requests if r[1].endswith("/extension")) == 1  # one catalog request


def test_details_follow_the_selection_after_filtering(qtbot, repo, make_profile, make_widget):
    """#17.13: details never show an extension that is not selected in the list."""
    for name in ("Alpha", "Beta", "Gamma"):
        repo.add(name, description=f"{name} tools.")
    repo.start()
    widget = make_widget(manager_for(make_profile(repo.url, repo.server.app_id)))
    tab = widget.search_tab
    tab.select_names(["Gamma"], "Gamma")
    qtbot.waitUntil(lambda: "Gamma tools." in tab.details.toPlainText(), timeout=3000)
    widget.search_box.setText("alpha")
    qtbot.waitUntil(lambda: names(tab) == ["Alpha"], timeout=3000)
    assert tab.selected_names() == ["Alpha"]  # the shown row, not the filtered-out one
    qtbot.waitUntil(lambda: "Alpha tools." in tab.details.toPlainText(), timeout=3000)
    assert "Gamma" not in tab.details.toPlainText()
    widget.search_box.setText("nothing matches")
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 0, timeout=3000)
    qtbot.waitUntil(lambda: tab.details.row is None, timeout=3000)
    assert "Alpha" not in tab.details.toPlainText()


def test_details_dependency_tree_screenshots_and_bookmark(qtbot, repo, make_profile, make_widget, tmp_path):
    """#17.10: dependencies as a tree with their state, screenshots inline (through the core
    client, cached on disk), the bookmark toggle."""
    shot = QImage(200, 120, QImage.Format.Format_RGB32)
    shot.fill(QColor("teal"))
    shot_file = tmp_path / "shot.png"
    shot.save(str(shot_file))
    repo.add("Leaf")
    repo.add("Middle", depends=("Leaf",))
    repo.add("Top", depends=("Middle", "Missing"), screenshots=shot_file.as_uri())
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    manager = manager_for(ctx)
    assert manager.install(["Leaf"]).ok
    widget = make_widget(manager_for(ctx))
    tab = widget.search_tab
    tab.select_names(["Top"], "Top")
    qtbot.waitUntil(lambda: tab.details.row is not None and tab.details.row.name == "Top", timeout=3000)
    text = tab.details.toPlainText()
    assert "Middle — not installed — installed with it" in text
    assert "Leaf — installed" in text  # the dependency's own dependency, nested
    assert "Missing — not found for this Slicer" in text
    qtbot.waitUntil(lambda: "shot://" in tab.details.toHtml(), timeout=5000)
    assert not tab.bookmark_button.isChecked() and tab.bookmark_button.text() == "☆ &Bookmark"
    qtbot.mouseClick(tab.bookmark_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Top" in manager.history.bookmarks(), timeout=5000)
    qtbot.waitUntil(lambda: tab.model.get("Top").bookmarked and tab.bookmark_button.isChecked(), timeout=5000)


def test_row_context_menu_installs_and_bookmarks(qtbot, repo, make_profile, make_widget, later):
    """#17.10: Install on a list row (context menu), not only in the details pane."""
    repo.add("Ext", homepage="https://example.org/ext")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    tab = widget.search_tab
    tab.select_names(["Ext"], "Ext")
    menu = tab.context_menu()
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert set(actions) == {"Install", "Add to queue", "Bookmark", "Open homepage"}
    with qtbot.waitSignal(widget.sessionFinished, timeout=20000):
        actions["Install"].trigger()
    assert (ctx.install_path / "Ext.s4ext").exists()


def test_cached_catalog_first_and_offline_banner_with_retry(qtbot, repo, make_profile, make_widget):
    """#17.5: offline, the banner says so and offers Retry; when the server is back, Retry recovers."""
    repo.add("SlicerIGT", category="IGT")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id,
                       user_ini="[Extensions]\nAutoUpdateCheck=true\nAutoUpdateFrequencyMinutes=0\n")
    manager_for(ctx).catalog(refresh=True)  # writes the cache
    repo.faults.error(r"/extension$", status=503, times=None)
    widget = make_widget(manager_for(ctx))
    assert widget.banner.isVisible() and widget.banner.text().startswith("Offline — catalog from ")
    assert "503" in widget.banner.text() and widget.banner.retry_button.isVisible()
    assert [r.name for r in widget.search_tab.model.rows] == ["SlicerIGT"]  # from the cache
    repo.faults.clear()
    repo.add("NewOne")
    qtbot.mouseClick(widget.banner.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not widget.banner.isVisible(), timeout=10000)
    assert [r.name for r in widget.search_tab.model.rows] == ["NewOne", "SlicerIGT"]


def test_no_extensions_for_this_revision(qtbot, repo, make_profile, make_widget):
    repo.add("SlicerIGT", app_revision="30000")
    repo.start()
    widget = make_widget(manager_for(make_profile(repo.url, repo.server.app_id)))
    tab = widget.search_tab
    assert tab.model.rowCount() == 0 and tab.list_stack.currentWidget() is tab.empty_label
    assert f"has no extensions for Slicer revision {REV}" in tab.empty_label.text()
    assert widget.banner.isVisible() and "has no extensions" in widget.banner.text()


def test_server_unreachable_without_cache_says_why(qtbot, make_profile, make_widget):
    widget = make_widget(manager_for(make_profile("http://127.0.0.1:9")))
    assert widget.banner.isVisible() and "could not be reached" in widget.banner.text()
    assert widget.banner.retry_button.isVisible()
    assert widget.search_tab.list_stack.currentWidget() is widget.search_tab.empty_label


def test_enter_on_a_row_installs_instead_of_silently_queuing(qtbot, repo, make_profile, make_widget, later):
    """#17.4: Enter on a Search row starts the install; the row says so at once."""
    repo.add("Ext")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    tab = widget.search_tab
    tab.select_names(["Ext"], "Ext")
    tab.view.setFocus()
    with qtbot.waitSignal(widget.sessionFinished, timeout=20000):
        qtbot.keyClick(tab.view, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: tab.proxy.index_of("Ext").data(STATE_TEXT_ROLE) != "Not installed", timeout=5000)
    assert (ctx.install_path / "Ext.s4ext").exists()
