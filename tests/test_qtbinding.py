"""The Qt-binding seam (``qtbinding.py``): the same behaviour under PySide6 (Qt 6) and PythonQt
(Qt 5, the lane in ``tests/pythonqt/``). Every test here runs in both."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest

from slicer_ext_manager import qtbinding
from slicer_ext_manager.history import ExtensionsHistory
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.settings import SettingsFile

from .bindings import python_command, qsettings
from .conftest import write_ini

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "slicer_ext_manager"


def test_binding_of_this_process():
    b = qtbinding.binding()
    if qtbinding.running_in_pythonqt():
        assert (b.name, b.qt_major, b.writes_qt5_escapes) == ("PythonQt", 5, True)
    else:
        assert (b.name, b.qt_major, b.writes_qt5_escapes) == ("PySide6", 6, False)


# What a reader sees for each kind of value: typed reads and the raw value.
READ_SCRIPT = r"""
import json, sys
from slicer_ext_manager import qtbinding
from slicer_ext_manager.settings import SettingsFile

def view(path):
    r = SettingsFile(path).read()
    out = {}
    for key in sorted(qtbinding.all_keys(r.qsettings)):
        out[key] = {"raw": r.value(key, "<default>"), "string": r.string(key, "<default>"),
                    "list": r.string_list(key), "bool": r.boolean(key, None), "int": r.integer(key, -1),
                    "map": r.variant_map(key), "contains": r.contains(key)}
    out["<children of A>"] = sorted(r.child_keys("A"))
    out["<array>"] = r.array("PYTHONPATH")
    return out

if __name__ == "__main__":
    print(json.dumps(view(sys.argv[1])))
"""


def _write_every_kind(path: Path) -> None:
    with SettingsFile(path).edit() as e:
        e.set_value("A/bool", True)
        e.set_value("A/false", False)
        e.set_value("A/int", 1440)
        e.set_value("A/text", "plain")
        e.set_string_list("A/empty", [])
        e.set_string_list("A/one", ["SlicerIGT"])
        e.set_string_list("A/two", ["SlicerIGT", "SlicerRT"])
        e.set_variant_map("A/map", {"SlicerIGT": "/opt/x/.updates/a.tar.gz"})
        e.set_variant_map("A/emptymap", {})
        e.set_value("A/with/slash", "v")
        e.set_array("PYTHONPATH", ["a", "b"])


def test_in_process_reads_equal_fresh_reads(tmp_path):
    """Values just written stay in Qt's per-process cache with their C++ types (a bool, an
    int, an empty list, and under PythonQt tuples); a fresh process reads the file's strings.
    Both must read the same (before the seam mapped them, ``string()`` gave "True" in the
    writing process and "true" elsewhere, and ``boolean()`` of an emptied list was True)."""
    path = tmp_path / "Slicer.ini"
    _write_every_kind(path)  # ASCII only: no re-read of the file in either binding
    namespace: dict = {}
    exec(compile(READ_SCRIPT, "read_script", "exec"), namespace)
    in_process = namespace["view"](str(path))
    proc = subprocess.run([*python_command(), "-c", READ_SCRIPT, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    fresh = json.loads(proc.stdout.strip().splitlines()[-1])
    assert in_process == fresh
    assert fresh["A/bool"]["string"] == "true" and fresh["A/bool"]["bool"] is True
    assert fresh["A/false"]["bool"] is False and fresh["A/int"]["int"] == 1440
    assert fresh["A/empty"] == {"raw": "<default>", "string": "<default>", "list": [], "bool": None, "int": -1,
                                "map": {}, "contains": True}
    assert fresh["A/one"]["list"] == ["SlicerIGT"] and fresh["A/one"]["raw"] == "SlicerIGT"
    assert fresh["A/two"]["list"] == ["SlicerIGT", "SlicerRT"]
    assert fresh["A/map"]["map"] == {"SlicerIGT": "/opt/x/.updates/a.tar.gz"}
    assert fresh["A/emptymap"]["map"] == {} and fresh["A/emptymap"]["contains"]
    assert fresh["<children of A>"] == ["bool", "empty", "emptymap", "false", "int", "map", "one", "text", "two"]
    assert fresh["A/with/slash"]["string"] == "v" and fresh["<array>"] == ["a", "b"]


def test_values_a_host_set_in_process_read_as_the_file_holds_them(tmp_path):
    """Inside Slicer the host's own QSettings holds values its C++ code set (a bool, a string
    list); read through ``SettingsFile(qsettings=host)`` they are what the saved file gives."""
    path = write_ini(tmp_path / "Slicer.ini", "[Extensions]\nAutoUpdateCheck=false\n")
    host = qtbinding.open_ini(str(path))
    host.setValue("Extensions/ManagerEnabled", True)
    host.setValue("Extensions/AutoUpdateFrequencyMinutes", 60)
    host.setValue("ExtensionsHistory/Revisions/33241", ["A", "B"])
    host.setValue("ExtensionsHistory/ScheduledForRemoval", [])
    sf = SettingsFile(path, qsettings=host)
    r = sf.read()
    assert r.string("Extensions/ManagerEnabled") == "true" and r.boolean("Extensions/ManagerEnabled")
    assert r.integer("Extensions/AutoUpdateFrequencyMinutes") == 60
    assert ExtensionsHistory(sf).revisions() == {"33241": ["A", "B"]}
    assert r.string("ExtensionsHistory/ScheduledForRemoval", "<none>") == "<none>"
    assert r.boolean("ExtensionsHistory/ScheduledForRemoval", False) is False


def test_host_settings_object_sees_our_edits_at_once(profile):
    """``AppContext(host_*_settings=...)``: edits go through the host's object, so the host's
    in-process view is current without a sync, and the file is written as Qt writes it."""
    host_user = qtbinding.open_ini(str(profile.user_settings_path))
    host_rev = qtbinding.open_ini(str(profile.revision_settings_path))
    ctx = profile.with_changes(host_user_settings=host_user, host_revision_settings=host_rev)
    manager = ExtensionsManager(ctx)
    manager.history.set_bookmarks(["SlicerIGT"])
    ExtensionsHistory(ctx.user_settings).add(ctx.revision, "SlicerRT")
    assert qtbinding.read_value(host_user, "Extensions/Bookmarked") == "SlicerIGT"
    assert qtbinding.read_value(host_user, f"ExtensionsHistory/Revisions/{ctx.revision}") == "SlicerRT"
    text = profile.user_settings_path.read_text(encoding="utf-8")
    assert "Bookmarked=SlicerIGT\n" in text and "AutoUpdateCheck=false\n" in text
    assert qsettings(profile.user_settings_path).value("Extensions/Bookmarked", [], type=list) == ["SlicerIGT"]


def test_status_and_lock_errors_are_the_seams_enums(tmp_path):
    good = write_ini(tmp_path / "good.ini", "[A]\nk=v\n")
    bad = write_ini(tmp_path / "bad.ini", "[A\nk=v\n")
    assert qtbinding.status(qtbinding.open_ini(str(good))) is qtbinding.SettingsStatus.OK
    assert qtbinding.status(qtbinding.open_ini(str(bad))) is qtbinding.SettingsStatus.FORMAT_ERROR
    first = qtbinding.FileLock(str(tmp_path / "x.lock"), 60_000)
    second = qtbinding.FileLock(str(tmp_path / "x.lock"), 60_000)
    assert first.try_lock(0) and first.error() is qtbinding.LockError.NONE
    assert not second.try_lock(0)
    assert second.error() is qtbinding.LockError.LOCK_FAILED
    first.unlock()
    assert second.try_lock(0)
    second.unlock()


def _binding_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        found += [n for n in names if n.split(".")[0] in ("PySide6", "shiboken6", "qt", "PythonQt", "PyQt5")]
    return found


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py")
                                        if p.relative_to(PACKAGE).parts[0] not in ("ui", "slicermodule")),
                         ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_core_module_but_the_seam_imports_a_binding(path):
    """Only ``qtbinding.py`` knows the binding (the dialog in ``ui/`` is PySide6 by design, the Slicer
    module in ``slicermodule/`` PythonQt; ``localserver/demo.py`` draws the demo's icons with PySide6
    for the standalone app only)."""
    allowed = {"qtbinding.py": {"qt", "PySide6"}, "localserver/demo.py": {"PySide6.QtCore", "PySide6.QtGui"}}
    rel = path.relative_to(PACKAGE).as_posix()
    assert set(_binding_imports(path)) <= allowed.get(rel, set())


@pytest.mark.parametrize("path", sorted((PACKAGE / "slicermodule").rglob("*.py")),
                         ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_the_slicer_module_uses_pythonqt_only(path):
    """The in-Slicer face imports PythonQt's ``qt`` (and ``slicer``), never PySide6; its pure parts none."""
    pure = {"__init__.py", "package.py", "progress.py", "history_sync.py", "texts.py"}
    found = set(_binding_imports(path))
    assert found <= ({"qt"} if path.name not in pure else set()), found
