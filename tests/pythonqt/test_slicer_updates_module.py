"""The panel's Slicer updates tab against the real server (``slicer_server`` publishes Slicer 5.8.1,
5.10.0 and a 5.11.0 nightly, and extensions for 5.8.1 and 5.10.0): "A newer Slicer is available",
checked once per session off the GUI thread; download with progress, cancel, install, the
extensions carried over, "Start the new Slicer"."""

from __future__ import annotations

import pytest

from .slicer_env import wait_for

pytestmark = pytest.mark.girder


class RecordingRunner:
    """Stands in for starting a process (the new Slicer)."""

    def __init__(self):
        self.launched = []

    def launch(self, command):
        self.launched.append(list(command))

    def run(self, command, *, timeout):  # pragma: no cover - not used on Linux
        raise AssertionError("no installer runs for a Linux package")


def _panel(env):
    from slicer_ext_manager.slicermodule.updates_panel import SlicerUpdatesPanel

    env.manager.slicer_updates.runner = RecordingRunner()
    panel = SlicerUpdatesPanel(env.session)
    panel.check()
    assert not panel.check_button.enabled and panel.status.text == "Looking for a newer Slicer…"
    wait_for(lambda: panel.check_button.enabled, what="the update check")
    return panel


def _installed(env, tmp_path):
    env.manager.install(["Alpha"])  # the current Slicer has Alpha (and its dependency Beta)
    return tmp_path / "new" / "Slicer-5.10.0"


def test_a_newer_slicer_is_offered_and_installed_with_the_extensions(slicer_env, slicer_server, girder_server,
                                                                    girder_app, tmp_path):
    env = slicer_env(girder_server.url, girder_app.app_id)
    dest = _installed(env, tmp_path)
    panel = _panel(env)
    assert panel.status.text == "A newer Slicer is available: Slicer 5.10.0 (r34045, release)."
    assert [b.revision for b in panel.newer_builds()] == ["34045"]  # releases only: the nightly is not offered
    assert panel.install_button.enabled and panel.start_button.isHidden()
    requests_before = len(env.session.builds or [])
    env.session.slicer_builds(lambda: None)  # cached for the session: no second request
    assert env.session.runner.busy is False and len(env.session.builds) == requests_before

    bars = []
    original = panel._event

    def watch(event):
        original(event)
        bars.append(int(panel.bar.value))

    panel._event = watch
    panel.dest.setText(str(dest))
    panel.install()
    assert not panel.cancel_button.isHidden() and not panel.install_button.enabled
    wait_for(lambda: panel.report is not None or "not installed" in panel.result.text, timeout=180,
             what="the Slicer install")
    report = panel.report
    assert report is not None and report.ok, panel.result.text
    assert bars and max(bars) > 0 and bars == sorted(bars)  # download progress seen, only forward
    text = panel.result.text
    assert "Slicer 5.10.0 (r34045, release) was installed into" in text
    assert "2 extensions installed for it: Alpha, Beta." in text
    assert (dest / "slicer.org" / "Extensions-34045" / "Alpha.s4ext").is_file()
    assert not panel.start_button.isHidden()
    panel.start_new_slicer()
    runner = env.manager.slicer_updates.runner
    assert runner.launched and runner.launched[0][0].endswith("Slicer")
    assert "Started" in panel.result.text


def test_the_slicer_download_can_be_cancelled(slicer_env, slicer_server, girder_server, girder_app, tmp_path):
    from ..faultproxy import FaultProxy

    proxy = FaultProxy(girder_server.url)
    proxy.add(r"/download", "slow", times=5, seconds=0.2)
    env = slicer_env(proxy.url, girder_app.app_id)
    panel = _panel(env)
    original = panel._event

    def cancel_at_first_progress(event):
        original(event)
        if event.kind.value == "progress" and panel.handle is not None:
            panel.cancel()

    panel._event = cancel_at_first_progress
    panel.dest.setText(str(tmp_path / "new" / "Slicer-5.10.0"))
    panel.install()
    wait_for(lambda: panel.handle is None, timeout=120, what="the cancelled download")
    assert panel.report is not None and "cancelled" in panel.report.error, panel.result.text
    assert panel.result.text.startswith("Slicer was not installed.")
    assert not (tmp_path / "new" / "Slicer-5.10.0").exists()
    assert panel.start_button.isHidden() and panel.install_button.enabled
    proxy.close()


def test_an_up_to_date_slicer_says_so(slicer_env, slicer_server, girder_server, girder_app):
    env = slicer_env(girder_server.url, girder_app.app_id, revision="34045")
    panel = _panel(env)
    assert panel.status.text == "This Slicer is up to date: no newer release is available for linux/amd64."
    assert not panel.install_button.enabled and panel.builds.isHidden()
