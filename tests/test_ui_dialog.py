"""The dialog: single instance per host, restart label and buttons, buttons disabled
during batches, closing while work runs (wait / cancel, no crash); icons; app helpers."""

from __future__ import annotations

import argparse

import pytest
from PySide6.QtCore import QThread, QUrl
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QWidget

from slicer_ext_manager.ui import ExtensionsManagerDialog, ExtensionsManagerWidget, prompts, show_extensions_manager
from slicer_ext_manager.ui import app as ui_app
from slicer_ext_manager.ui.icons import IconCache, app_icon, default_extension_icon, resource_path
from slicer_ext_manager.ui.models import ItemState
from slicer_ext_manager.ui.worker import WorkerThread, collect_state

from .test_ui_support import make_widget, manager_for, no_leftovers, repo, wait_session  # noqa: F401


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
    assert isinstance(dialog, ExtensionsManagerDialog)
    assert dialog.windowTitle() == "Extensions Manager"
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
    assert dialog.restart_label.isVisible() and dialog.restart_button.isEnabled()
    dialog.restart_button.click()
    assert restarts == [True] and not dialog.isVisible()
    other = show_extensions_manager(manager_for(ctx), host, icon_cache_dir=tmp_path / "icons")
    assert other is not dialog  # the closed one is not reused
    wait_loaded(qtbot, other)
    other.close()


@pytest.mark.enabledialog
def test_closing_while_running_waits_or_cancels_cleanly(qtbot, repo, make_profile, monkeypatch, tmp_path):
    repo.add("Slow", payload_size=4 * 1024 * 1024)
    repo.start()
    repo.faults.delay(repo.download_pattern("Slow"), 0.05, per_chunk=True, times=None)
    ctx = make_profile(repo.url, repo.server.app_id)
    dialog = ExtensionsManagerDialog(manager_for(ctx), icon_cache_dir=tmp_path / "icons")
    qtbot.addWidget(dialog)
    dialog.show()
    wait_loaded(qtbot, dialog)
    widget = dialog.widget
    answers = [False, True]  # first "Wait", then "Cancel operations and close"
    asked = []

    def ask(parent, operations):
        asked.append(list(operations))
        return answers.pop(0)

    monkeypatch.setattr(prompts, "ask_cancel_running", ask)
    monkeypatch.setattr(prompts, "ask_restart", lambda *a, **k: pytest.fail("nothing was installed"))
    widget.install_now(["Slow"])
    qtbot.waitUntil(lambda: widget.install_tab.item("Slow") is not None
                    and widget.install_tab.item("Slow").done > 0, timeout=10000)
    assert not dialog.button_box.isEnabled()
    dialog.close()
    assert asked == [["install Slow extension"]]
    assert dialog.isVisible() and widget.busy  # "Wait"
    threads = [widget.service.ops._thread, widget.service.reads._thread]
    dialog.close()  # "Cancel": cancels, waits for the worker, closes
    assert len(asked) == 2 and not dialog.isVisible()
    assert not widget.busy
    assert widget.install_tab.item("Slow").state == ItemState.CANCELLED
    assert all(t is None or t.isFinished() or t.wait(5000) for t in threads)
    assert not (ctx.install_path / "Slow.s4ext").exists() and no_leftovers(ctx.install_path)


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
    assert widget.settings_button.accessibleName() == "Settings"
    widget.shutdown()
    widget.shutdown()  # idempotent


def test_worker_results_arrive_in_the_gui_thread(qtbot):
    worker = WorkerThread("test")
    seen = []
    gui = QThread.currentThread()
    worker.submit(lambda: QThread.currentThread() is not gui,
                  lambda off_gui: seen.append((off_gui, QThread.currentThread() is gui)))
    worker.submit(lambda: 1 / 0, None, lambda message: seen.append(message))
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert seen[0] == (True, True)
    assert seen[1].startswith("Unexpected error: ZeroDivisionError")
    assert worker.shutdown()


def test_icons_resources_async_load_and_disk_cache(qtbot, tmp_path, repo, make_profile):
    assert resource_path("app-icon.svg") is not None and resource_path("extension-default.svg") is not None
    assert not app_icon().isNull() and not default_extension_icon().isNull()
    assert not app_icon().pixmap(256, 256).isNull()
    image = QImage(40, 20, QImage.Format.Format_ARGB32)
    image.fill(QColor("orange"))
    png = tmp_path / "logo.png"
    image.save(str(png))
    url = QUrl.fromLocalFile(str(png)).toString()
    cache = IconCache(tmp_path / "cache")
    with qtbot.waitSignal(cache.iconReady, timeout=5000) as blocker:
        first = cache.icon(url)
    assert blocker.args == [url] and first is default_extension_icon()
    assert cache.has_icon(url) and list((tmp_path / "cache").glob("*.png"))
    cache.shutdown()
    png.unlink()  # served from the disk cache now, no network
    again = IconCache(tmp_path / "cache", network=False)
    with qtbot.waitSignal(again.iconReady, timeout=5000):
        again.icon(url)
    again.shutdown()
    # Slicer's <InstallPath>/<Name>-icon.<ext> is used for installed extensions.
    repo.add("WithIcon")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    manager = manager_for(ctx)
    assert manager.install(["WithIcon"]).ok
    image.save(str(ctx.install_path / "WithIcon-icon.png"))
    assert collect_state(manager).installed["WithIcon"].icon_file.endswith("WithIcon-icon.png")


def test_render_screenshot_and_cli_arguments(qtbot, repo, make_profile, tmp_path, monkeypatch):
    repo.add("Ext", category="Utilities")
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    out = ui_app.render_screenshot(manager_for(ctx), tmp_path / "shot.png", tab="search", size=(800, 500))
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 500
    parser = ui_app.add_gui_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--tab", "restore", "--startup-check", "--slicer-executable", "/opt/Slicer"])
    assert (args.tab, args.startup_check, args.slicer_executable) == ("restore", True, "/opt/Slicer")
    with pytest.raises(SystemExit):
        parser.parse_args(["--tab", "nope"])
    calls = []
    monkeypatch.setattr(ui_app, "run_gui", lambda manager, **kw: calls.append(kw) or 0)
    assert ui_app.cmd_gui(args, object()) == 0
    assert calls == [{"tab": "restore", "startup_check": True, "slicer_executable": "/opt/Slicer"}]
