"""Search tab: the catalog loads (cache first, then the server), filters by text and
category, offline and empty states."""

from __future__ import annotations

from PySide6.QtCore import Qt

from slicer_ext_manager.ui.models import RowState
from slicer_ext_manager.ui.search_tab import details_html

from .test_ui_support import REV, make_widget, manager_for, repo  # noqa: F401 (fixtures)


def names(tab) -> list[str]:
    return [tab.proxy.index(i, 0).data() for i in range(tab.proxy.rowCount())]


def test_catalog_loads_and_filters(qtbot, repo, make_profile, make_widget):
    repo.add("SlicerIGT", category="IGT", description="Image-guided therapy tools.", keywords="tracking navigation")
    repo.add("SegmentEditorExtraEffects", category="Segmentation", description="Extra segment editor effects.")
    repo.add("SlicerRT", category="Radiotherapy", description="Radiation therapy toolkit.")
    repo.add("TotalSegmentator", category="Segmentation.AI", description="Automatic segmentation of CT.")
    repo.add("MarkupsToModel", category="Surface Models", description="Create models from markups.")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    tab = widget.search_tab
    assert widget.current_tab_name() == "search"
    assert names(tab) == ["MarkupsToModel", "SegmentEditorExtraEffects", "SlicerIGT", "SlicerRT", "TotalSegmentator"]
    assert tab.count_label.text() == "5 extensions"
    row = tab.model.get("SlicerIGT")
    assert row.state == RowState.NOT_INSTALLED and row.state_text == "Not installed" and row.category == "IGT"
    assert not widget.banner.isVisible()

    # Search box (debounced): name, description, category and keywords.
    qtbot.keyClicks(widget.search_box, "segment")
    qtbot.waitUntil(lambda: names(tab) == ["SegmentEditorExtraEffects", "TotalSegmentator"], timeout=3000)
    assert tab.count_label.text() == "2 of 5 extensions"
    widget.search_box.setText("navigation")  # a keyword
    qtbot.waitUntil(lambda: names(tab) == ["SlicerIGT"], timeout=3000)
    widget.search_box.setText("radiotherapy")  # a category
    qtbot.waitUntil(lambda: names(tab) == ["SlicerRT"], timeout=3000)
    widget.search_box.setText("no such thing")
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 0, timeout=3000)
    assert tab.list_stack.currentWidget() is tab.empty_label
    assert "No extensions match" in tab.empty_label.text()
    widget.search_box.clear()
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 5, timeout=3000)

    # Category combo (sub-categories included, as Catalog.search does).
    categories = [tab.category_combo.itemText(i) for i in range(tab.category_combo.count())]
    assert categories == ["All categories", "IGT", "Radiotherapy", "Segmentation", "Segmentation.AI", "Surface Models"]
    tab.set_category("Segmentation")
    assert names(tab) == ["SegmentEditorExtraEffects", "TotalSegmentator"]
    widget.search_box.setText("automatic")
    qtbot.waitUntil(lambda: names(tab) == ["TotalSegmentator"], timeout=3000)
    tab.set_category("")
    widget.search_box.clear()
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 5, timeout=3000)

    # The search applies to the current tab only.
    widget.set_current_tab("installed")
    widget.search_box.setText("igt")
    qtbot.waitUntil(lambda: widget.installed_tab.proxy.text == "igt", timeout=3000)
    assert tab.proxy.text == ""

    # Details pane of the selected extension.
    widget.set_current_tab("search")
    tab.select_names(["SlicerIGT"], current="SlicerIGT")
    html = tab.details.toHtml()
    assert "Image-guided therapy tools." in html and "tracking" in html
    assert tab.add_button.isEnabled() and tab.install_button.isEnabled()
    # One request for the catalog at most.
    assert sum(1 for r in repo.server.requests if r[1].endswith("/extension")) == 1


def test_cached_catalog_first_and_offline_banner(qtbot, repo, make_profile, make_widget):
    repo.add("SlicerIGT", category="IGT")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id,
                       user_ini="[Extensions]\nAutoUpdateCheck=true\nAutoUpdateFrequencyMinutes=0\n")
    manager_for(ctx).catalog(refresh=True)  # writes the cache
    repo.faults.error(r"/extension$", status=503, times=None)
    widget = make_widget(manager_for(ctx))
    assert widget.banner.isVisible()
    assert widget.banner.text().startswith("Offline — catalog from ")
    assert "503" in widget.banner.text()
    assert [r.name for r in widget.search_tab.model.rows] == ["SlicerIGT"]  # from the cache


def test_no_extensions_for_this_revision(qtbot, repo, make_profile, make_widget):
    repo.add("SlicerIGT", app_revision="30000")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    tab = widget.search_tab
    assert tab.model.rowCount() == 0
    assert tab.list_stack.currentWidget() is tab.empty_label
    assert f"has no extensions for Slicer revision {REV}" in tab.empty_label.text()
    assert widget.banner.isVisible() and "has no extensions" in widget.banner.text()


def test_server_unreachable_without_cache_says_why(qtbot, make_profile, make_widget):
    ctx = make_profile("http://127.0.0.1:9")
    widget = make_widget(manager_for(ctx))
    assert widget.banner.isVisible()
    assert "could not be reached" in widget.banner.text()
    assert widget.search_tab.list_stack.currentWidget() is widget.search_tab.empty_label


def test_changelog_link_for_github_and_gitlab():
    from slicer_ext_manager.ui.models import ExtensionRow, changelog_url

    assert changelog_url("https://github.com/org/repo.git", "abc", "def") == "https://github.com/org/repo/compare/abc...def"
    assert changelog_url("git@github.com:org/repo.git", "abc", "def") == "https://github.com/org/repo/compare/abc...def"
    assert changelog_url("https://gitlab.com/grp/sub/repo", "1", "2") == "https://gitlab.com/grp/sub/repo/-/compare/1...2"
    assert changelog_url("https://example.org/repo.git", "1", "2") == ""
    assert changelog_url("https://github.com/org/repo", "1", "1") == ""
    row = ExtensionRow(name="X", scmurl="https://github.com/org/X.git", installed=True, installed_revision="a1",
                       revision="b2", update_available=True, in_catalog=True,
                       homepage="https://x.org", contributors="Ann (Lab)", screenshots=("https://x.org/1.png",))
    html = details_html(row, REV)
    assert "https://github.com/org/X/compare/a1...b2" in html and "Change log..." in html
    assert "https://x.org/1.png" in html and "Ann (Lab)" in html
    assert Qt  # keep import used
