"""Render the Extensions Restore module's panel under PythonQt, in the stand-in Slicer, against the
demo catalog (``localserver.demo``: a history with incompatible entries, bookmarks, one extension
installed) served locally, plus a stand-in Slicer 5.10.0 release for the updates tab.

Used by ``scripts/slicer_module_screenshots.py`` (writes ``docs/screenshots/slicer-module-*.png``)
and by the lane's ``test_the_panel_renders``."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from .slicer_env import STANDIN, wait_for

SIZE = (480, 860)


def _grab(widget: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(path)):
        raise RuntimeError(f"could not write {path}")
    return path


def _publish_newer_slicer(env: Any) -> None:
    from slicer_ext_manager.localserver.slicer_packages import build_slicer_package

    apps = env.catalog_dir / "applications"
    package = build_slicer_package(apps, "5.10.0", "34045", padding=200_000)
    sidecar = {"revision": "34045", "version": "5.10.0", "release": "5.10.0",
               "build_date": "2025-11-10T00:00:00+00:00"}
    (apps / (package.name + ".json")).write_text(json.dumps(sidecar), encoding="utf-8")
    from slicer_ext_manager.localserver.builder import build_extension_package

    for name in ("ColorCrafter", "LesionLedger", "VolumeVault"):  # built for the new Slicer too
        depends = ("VolumeVault",) if name == "LesionLedger" else ()
        build_extension_package(apps, name, app_revision="34045", slicer_version="5.10", depends=depends)
    env.server.rescan()


def _write_profile(manager: Any, path: Path) -> None:
    """A colleague's profile: some installed here, some to install, one another revision, one unavailable."""
    data = manager.export_profile(path).to_json()
    catalog = manager.catalog().extensions
    for name, revision in (("SeedSprout", None), ("WarpWeaver", "0a1b2c3"), ("OrbitOptics", "9f8e7d6")):
        meta = catalog.get(name)
        data["extensions"].append({"name": name, "revision": revision or (meta.revision if meta else ""),
                                   "extension_id": meta.extension_id if meta else "", "enabled": True,
                                   "slicer_revision": "33241"})
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def render(out_dir: Path, work: Path | None = None) -> list[Path]:
    """Write ``slicer-module-restore.png`` (mid-install), ``slicer-module-profiles.png`` (a profile
    previewed) and ``slicer-module-updates.png`` (Slicer 5.10.0 installed) into ``out_dir``."""
    if str(STANDIN) not in sys.path:
        sys.path.insert(0, str(STANDIN))
    import qt
    import slicer
    import slicer_standin

    from slicer_ext_manager.localserver.demo import prepare_demo
    from slicer_ext_manager.manager import ExtensionsManager
    from slicer_ext_manager.slicermodule.host import slicer_context
    from slicer_ext_manager.slicermodule.panel import ExtensionsRestorePanel
    from slicer_ext_manager.slicermodule.session import Session, reset_session

    from ..faultproxy import FaultProxy

    work = Path(work or tempfile.mkdtemp(prefix="slicer-module-screens-"))
    out_dir = Path(out_dir)
    with prepare_demo(work / "demo", profile_dir=work / "profile") as demo:
        _publish_newer_slicer(demo)
        proxy = FaultProxy(demo.server.url)
        proxy.add(r"/download", "slow", times=1000, seconds=0.02)
        ctx = demo.context
        app = slicer_standin.install(slicer_standin.SlicerApp(
            work / "Slicer-5.8.1-linux-amd64", server_url=proxy.url, user_settings=ctx.user_settings_path,
            revision_settings=ctx.revision_settings_path, install_path=ctx.install_path))
        session = Session(slicer, manager=ExtensionsManager(slicer_context(slicer)))
        reset_session(session)
        try:
            panel = ExtensionsRestorePanel(session)
            panel.widget.resize(*SIZE)
            panel.load()
            restore = panel.restore
            wait_for(lambda: restore.plan is not None and panel.updates.check_button.enabled, what="the panel")
            restore.install_selected()
            wait_for(lambda: restore.progress.progress is not None and 0.3 < restore.progress.progress.overall < 0.9
                     and "downloading" in restore.progress.status.text, what="the install to be under way")
            paths = [_grab(panel.widget, out_dir / "slicer-module-restore.png")]
            restore.progress.cancel()
            wait_for(lambda: not session.installing and not restore.loading, what="the cancel")
            profiles = panel.profiles
            export = work / "colleague-extensions.json"
            _write_profile(demo.manager, export)
            profiles.export_path.setText(str(work / "my-extensions.json"))
            profiles.import_path.setText(str(export))
            profiles.export_path.setCursorPosition(0)
            profiles.import_path.setCursorPosition(0)
            profiles.preview()
            wait_for(lambda: profiles.items, what="the profile preview")
            panel.tabs.setCurrentIndex(1)
            paths.append(_grab(panel.widget, out_dir / "slicer-module-profiles.png"))
            panel.tabs.setCurrentIndex(2)
            updates = panel.updates
            updates.dest.setText(str(work / "Slicer-5.10.0"))
            updates.dest.setCursorPosition(0)
            updates.install()
            wait_for(lambda: updates.handle is None, timeout=180, what="the Slicer install")
            paths.append(_grab(panel.widget, out_dir / "slicer-module-updates.png"))
            return paths
        finally:
            session.close()
            reset_session(None)
            qt.QCoreApplication.sendPostedEvents(None, qt.QEvent.DeferredDelete)
            proxy.close()
            slicer.app = None
            del app
