"""The dialog: one per host, its title, Restart from the manager's state, closing while work
runs (Esc and the buttons ask first), the keyboard (Esc, Ctrl+Tab, Ctrl+PgDn, tab order),
fitting the screen; icons through the core client; the app helpers."""

from __future__ import annotations

import argparse

import pytest
from PySide6.QtCore import Qt, QThread, QUrl
from PySide6.QtGui import QColor, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from slicer_ext_manager.ui import ExtensionsManagerDialog, ExtensionsManagerWidget, prompts, show_extensions_manager
from slicer_ext_manager.ui import app as ui_app
from slicer_ext_manager.ui.dialog import fit_to_screen
from slicer_ext_manager.ui.icons import IconCache, app_icon, default_extension_icon, resource_path
from slicer_ext_manager.ui.queue_model import ItemState
from slicer_ext_manager.ui.threads import WorkerThread

from .ui_fixtures import manager_for, partial_downloads, wait_session


def wait_loaded(qtbot, dialog):
    qtbot.waitUntil(lambda: dialog.widget.catalog_loaded and dialog.widget.restore_tab.loaded, timeout=15000)


@pytest.mark.enabledialog
def test_single_instance_title_and_restart_button(qtbot, repo, make_profile, monkeypatch, tmp_path):
    repo.add("Ext")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    host = QWidget()
    qtbot.addWidget(host)
    host.resize(900, 600)
    host.show()
    restarts = []
    dialog = show_extensions_manager(manager_for(ctx), host, tab="installed",
                                     restart_callback=lambda: restarts.append(True),
                                     icon_cache_dir=tmp_path / "icons")
    assert isinstance(dialog, ExtensionsManagerDialog) and dialog.windowTitle() == "Extensions Manager"
    assert dialog.widget.current_tab_name() == "installed"
    assert show_extensions_manager(manager_for(ctx), host, tab="search") is dialog  # reused
    assert dialog.widget.current_tab_name() == "search"
    wait_loaded(qtbot, dialog)
    assert not dialog.restart_label.isVisible() and not dialog.restart_button.isEnabled()
    assert dialog.restart_label.text() == "* Restart requested"
    assert dialog.restart_label.palette().color(dialog.restart_label.foregroundRole()) == QColor("red")
    monkeypatch.setattr(prompts, "ask_restart", lambda *a, **k: False)
    busy_states = []
    dialog.widget.busyChanged.connect(lambda b: busy_states.append((b, dialog.button_box.isEnabled())))
    wait_session(qtbot, dialog.widget, lambda: dialog.widget.install_now(["Ext"]))
    assert (True, False) in busy_states and busy_states[-1] == (False, True)  # disabled during the batch
    qtbot.waitUntil(lambda: dialog.restart_label.isVisible() and dialog.restart_button.isEnabled(), timeout=5000)
    dialog.restart_button.click()
    assert restarts == [True] and not dialog.isVisible()
    other = show_extensions_manager(manager_for(ctx), host, icon_cache_dir=tmp_path / "icons")
    assert other is not dialog
    wait_loaded(qtbot, other)
    other.close()


def test_opening_with_an_update_scheduled_enables_restart(qtbot, repo, make_profile, tmp_path):
    """#17.2: a pending change found when the dialog opens needs a restart."""
    repo.add("Ext")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    assert manager_for(ctx).install(["Ext"]).ok
    with ctx.revision_settings.edit() as e:
        e.set_variant_map("Extensions/ScheduledForUpdate", {"Ext": str(tmp_path / "Ext.tar.gz")})
    restarts = []
    dialog = ExtensionsManagerDialog(manager_for(ctx), icon_cache_dir=tmp_path / "icons",
                                     restart_callback=lambda: restarts.append(True))
    qtbot.addWidget(dialog)
    dialog.show()
    wait_loaded(qtbot, dialog)
    assert dialog.restart_button.isEnabled() and dialog.restart_label.isVisible()
    dialog.widget.search_box.setFocus()
    qtbot.keyClick(dialog.widget.search_box, Qt.Key.Key_Return)  # Enter in the search box: not Restart
    assert restarts == [] and dialog.isVisible()
    dialog.widget.shutdown()


@pytest.mark.enabledialog
def test_closing_while_running_waits_or_cancels_cleanly(qtbot, repo, make_profile, monkeypatch, tmp_path):
    """#17.11: Esc asks first while work runs, as the close button does."""
    repo.add("Slow", payload_size=4 * 1024 * 1024)
    repo.start()
    repo.faults.delay(repo.download_pattern("Slow"), 0.05, per_chunk=True, times=None)
    ctx = make_profile(repo.url, repo.server.app_id)
    dialog = ExtensionsManagerDialog(manager_for(ctx), icon_cache_dir=tmp_path / "icons")
    qtbot.addWidget(dialog)
    dialog.show()
    wait_loaded(qtbot, dialog)
    widget = dialog.widget
    answers, asked = [False, True], []
    monkeypatch.setattr(prompts, "ask_cancel_running",
                        lambda parent, operations: asked.append(list(operations)) or answers.pop(0))
    monkeypatch.setattr(prompts, "ask_restart", lambda *a, **k: pytest.fail("nothing was installed"))
    widget.install_now(["Slow"])
    qtbot.waitUntil(lambda: widget.install_tab.item("Slow") is not None
                    and widget.install_tab.item("Slow").done > 0, timeout=10000)
    assert not dialog.button_box.isEnabled()
    widget.install_tab.view.setFocus()
    qtbot.keyClick(widget.install_tab.view, Qt.Key.Key_Escape)  # Esc closes, asking first
    assert asked == [["install Slow extension"]] and dialog.isVisible() and widget.busy  # "Wait"
    threads = [widget.service.ops.qthread, widget.service.reads.qthread]
    dialog.close()  # "Cancel": cancels, waits for the worker, closes
    assert len(asked) == 2 and not dialog.isVisible() and not widget.busy
    assert widget.install_tab.item("Slow").state == ItemState.CANCELLED
    assert all(t is None or t.isFinished() or t.wait(5000) for t in threads)
    assert not (ctx.install_path / "Slow.s4ext").exists() and not (ctx.install_path / ".staging").exists()
    assert partial_downloads(ctx.install_path) == []  # nobody can retry it any more


def test_esc_closes_an_idle_dialog_but_first_clears_the_search(qtbot, repo, make_profile, tmp_path):
    repo.add("Ext")
    repo.start()
    dialog = ExtensionsManagerDialog(manager_for(make_profile(repo.url, repo.server.app_id)),
                                     icon_cache_dir=tmp_path / "icons")
    qtbot.addWidget(dialog)
    dialog.show()
    wait_loaded(qtbot, dialog)
    box = dialog.widget.search_box
    box.setFocus()
    qtbot.keyClicks(box, "ext")
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    assert box.text() == "" and dialog.isVisible()
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_keyboard_switches_tabs_and_tab_follows_the_visual_order(qtbot, repo, make_profile, tmp_path):
    """#17.11: Ctrl+Tab / Ctrl+PgDn switch tabs; Tab goes search → tabs → page → buttons → Restart/Close."""
    repo.add("Ext")
    repo.start()
    dialog = ExtensionsManagerDialog(manager_for(make_profile(repo.url, repo.server.app_id)),
                                     icon_cache_dir=tmp_path / "icons")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    wait_loaded(qtbot, dialog)
    widget = dialog.widget
    widget.search_box.setFocus()
    qtbot.keyClick(widget.search_box, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert widget.current_tab_name() == "install"
    qtbot.keyClick(widget.search_box, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    assert widget.current_tab_name() == "restore"
    qtbot.keyClick(widget.search_box, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(widget.search_box, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert widget.current_tab_name() == "search"
    order = []
    focus = widget.search_box
    for _ in range(400):
        focus = focus.nextInFocusChain()
        if focus.isVisible() and focus.isEnabled() and focus.focusPolicy() & Qt.FocusPolicy.TabFocus:
            order.append(focus)
        if focus is dialog.close_button:
            break
    tab = widget.search_tab
    expected = [widget.toolbar.settings_button, widget.tabs.tabBar(), tab.category_combo, tab.view, tab.details,
                tab.bookmark_button]
    positions = [order.index(w) for w in expected]
    assert positions == sorted(positions)
    assert order[-1] is dialog.close_button and order.index(tab.bookmark_button) < order.index(dialog.close_button)


def test_the_window_fits_the_screen(qtbot):
    """#17.12: a default size larger than the screen (QT_SCALE_FACTOR=2) is fitted to it."""
    area = QGuiApplication.primaryScreen().availableGeometry()
    window = QWidget()
    qtbot.addWidget(window)
    used = fit_to_screen(window, (area.width() * 2, area.height() * 2))
    assert used.width() <= area.width() and used.height() <= area.height()
    assert area.contains(window.geometry().center())
    assert fit_to_screen(window, (200, 150)).width() == 200  # small sizes are kept


def test_titles_are_not_repeated_and_message_boxes_fit_their_titles(qtbot):
    """#17.13: "Extensions Manager — Slicer Extensions Manager"; truncated message-box titles."""
    app = QApplication.instance()
    name, display = app.applicationName(), app.applicationDisplayName()
    try:
        ui_app.configure_application(app)
        # Qt appends the display name to a title that does not end with it.
        assert ExtensionsManagerDialog.__init__ and "Extensions Manager".endswith(app.applicationDisplayName())
        box = prompts.message_box(None, "Install dependencies", QMessageBox.Icon.Question, "Short.")
        qtbot.addWidget(box)
        needed = box.fontMetrics().horizontalAdvance("Install dependencies — Extensions Manager")
        assert box.sizeHint().width() > needed
    finally:
        app.setApplicationName(name)
        app.setApplicationDisplayName(display)


def test_worker_results_arrive_in_the_gui_thread(qtbot):
    worker = WorkerThread("test")
    seen = []
    gui = QThread.currentThread()
    worker.submit(lambda: QThread.currentThread() is not gui,
                  lambda off_gui: seen.append((off_gui, QThread.currentThread() is gui)))
    worker.submit(lambda: 1 / 0, None, lambda message: seen.append(message))
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert seen[0] == (True, True) and seen[1].startswith("Unexpected error: ZeroDivisionError")
    assert worker.shutdown()


def test_icons_are_loaded_off_the_gui_thread_and_cached(qtbot, tmp_path):
    assert resource_path("app-icon.svg") is not None and resource_path("extension-default.svg") is not None
    assert not app_icon().isNull() and not default_extension_icon().isNull()
    image = QImage(40, 20, QImage.Format.Format_ARGB32)
    image.fill(QColor("orange"))
    png = tmp_path / "logo.png"
    image.save(str(png))
    url = "http://icons.example/logo.png"
    fetched, threads = [], []
    gui = QThread.currentThread()

    def fetch(address: str) -> bytes:
        threads.append(QThread.currentThread() is not gui)
        fetched.append(address)
        return png.read_bytes()

    cache = IconCache(tmp_path / "cache", fetch=fetch)
    with qtbot.waitSignal(cache.iconReady, timeout=5000) as blocker:
        first = cache.icon(url)
    assert blocker.args == [url] and first is default_extension_icon() and cache.has_icon(url)
    assert fetched == [url] and threads == [True]  # fetched by the given client, in a worker thread
    assert list((tmp_path / "cache").glob("*.png"))
    cache.shutdown()
    again = IconCache(tmp_path / "cache", fetch=lambda u: pytest.fail("served from the disk cache"))
    with qtbot.waitSignal(again.iconReady, timeout=5000):
        again.icon(url)
    local = IconCache(tmp_path / "other", network=False)  # a file: URL needs no network
    with qtbot.waitSignal(local.iconReady, timeout=5000):
        local.icon(QUrl.fromLocalFile(str(png)).toString())
    again.shutdown()
    local.shutdown()


def test_widget_fetches_images_with_the_manager_client(qtbot, repo, make_profile, make_widget, monkeypatch):
    repo.add("Ext")
    repo.start()
    manager = manager_for(make_profile(repo.url, repo.server.app_id))
    widget = make_widget(manager)
    calls = []
    monkeypatch.setattr(type(manager.client), "get_resource", lambda self, url, **kw: calls.append(url) or b"")
    with qtbot.waitSignal(widget.images.failed, timeout=5000):
        widget.images.request("k", widget.size(), url="https://host.example/shot.png")
    assert calls == ["https://host.example/shot.png"]


def test_embedded_widget_from_context_and_shutdown(qtbot, repo, make_profile, tmp_path):
    repo.add("Ext")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = ExtensionsManagerWidget.from_context(ctx, icon_cache_dir=tmp_path / "icons")
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(lambda: widget.catalog_loaded, timeout=15000)
    assert widget.search_box.accessibleName() == "Search extensions"
    assert widget.search_tab.view.accessibleName() == "Extensions catalog"
    assert widget.toolbar.settings_button.accessibleName() == "Settings"
    widget.shutdown()
    widget.shutdown()  # idempotent


def test_render_screenshot_and_gui_command(qtbot, repo, make_profile, tmp_path, monkeypatch):
    repo.add("Ext", category="Utilities")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    out = ui_app.render_screenshot(manager_for(ctx), tmp_path / "shot.png", tab="search", size=(800, 500))
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 500
    from slicer_ext_manager.cli.parser import build_parser

    args = build_parser().parse_args(["gui", "--tab", "restore", "--startup-check", "--slicer-executable", "/opt/S"])
    calls = []
    monkeypatch.setattr(ui_app, "run_gui", lambda manager, **kw: calls.append(kw) or 0)
    assert ui_app.cmd_gui(args, object()) == 0
    assert calls == [{"tab": "restore", "startup_check": True, "slicer_executable": "/opt/S"}]
    assert not hasattr(ui_app, "add_gui_arguments")  # the CLI owns the options
    assert isinstance(args, argparse.Namespace)
