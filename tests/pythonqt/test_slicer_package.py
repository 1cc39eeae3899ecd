"""The Extensions Restore extension package inside the stand-in Slicer: installed the way Slicer's
"Install from file" does it, then loaded under PythonQt from the installed package alone (the core
it runs is the one vendored in the package, not this source tree)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from slicer_ext_manager.slicermodule.package import build_package

from ..bindings import python_command
from .slicer_env import REV, STANDIN

SCRIPT = r'''
import json, sys, time
import qt, slicer, slicer_standin
home, module_path = sys.argv[1], sys.argv[2]
app = slicer_standin.install(slicer_standin.SlicerApp(home, main_window=False))
module, instance, parent = slicer_standin.load_module(module_path)
import slicer_ext_manager
from slicer_ext_manager.slicermodule.session import get_session
slicer.selfTests["ExtensionsRestore"]()  # Slicer's self-test of the module
holder = qt.QWidget()
holder.setLayout(qt.QVBoxLayout())
widget = module.ExtensionsRestoreWidget(holder)
widget.setup()
session = get_session(slicer)
app.startupCompleted.emit()  # Slicer has started: the history catches up, the startup check runs
deadline = time.monotonic() + 60
while (widget.panel.restore.plan is None or session.runner.busy) and time.monotonic() < deadline:
    qt.QApplication.processEvents(); time.sleep(0.01)
plan = widget.panel.restore.plan
print(json.dumps({
    "core": slicer_ext_manager.__file__, "title": parent.title, "qt": qt.qVersion(),
    "tabs": [widget.panel.tabs.tabText(i) for i in range(widget.panel.tabs.count)],
    "installed": [c.name for c in plan.candidates if c.installed] if plan else None,
    "history": session.manager.history.names(str(app.revision)),
    "startup": session.startup.outcome,
    "pyside": sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6")),
}))
session.close()  # what aboutToQuit does in Slicer
holder.delete()
slicer.app = None
del app, widget, module, instance
import gc
gc.collect()
'''


def test_the_package_installs_from_file_and_loads_from_its_own_files(slicer_env, tmp_path):
    env = slicer_env()
    build = build_package(tmp_path / "pkg", revision=REV, os_name="linux", arch="amd64", slicer_version="5.8")
    assert env.model.installExtension(str(build.path))  # Slicer's "Install from file"
    assert env.model.installedExtensions == ("ExtensionsRestore",)
    installed = Path(env.app.extensionsInstallPath) / "ExtensionsRestore"
    module = installed / "lib" / "Slicer-5.8" / "qt-scripted-modules" / "ExtensionsRestore.py"
    assert module.is_file()
    paths = env.app.revisionUserSettings().value("Modules/AdditionalPaths")
    assert str(module.parent) in (paths if isinstance(paths, tuple) else (paths,))
    child_env = dict(os.environ, PYTHONPATH=str(STANDIN), QT_QPA_PLATFORM="offscreen")
    script = tmp_path / "load.py"
    script.write_text(SCRIPT, encoding="utf-8")
    proc = subprocess.run([*python_command(), str(script), env.app.slicerHome, str(module)], cwd=tmp_path,
                          env=child_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "different thread" not in proc.stderr  # PythonQt's wrappers were made on the GUI thread
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["core"].startswith(str(installed / "lib" / "Slicer-5.8" / "qt-scripted-modules" /
                                      "ExtensionsRestoreLib" / "slicer_ext_manager"))  # the vendored core
    assert out["title"] == "Extensions Restore" and out["qt"].startswith("5.15.")
    assert out["tabs"] == ["Restore", "Profiles", "Slicer updates"]
    assert out["installed"] == [] and out["pyside"] == []
    # Slicer installed it before the module ran: the history catches up once Slicer has started
    assert out["history"] == ["ExtensionsRestore"] and out["startup"] == "nothing"
