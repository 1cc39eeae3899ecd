"""Cross-binding fidelity: the same Slicer files edited through PythonQt (Qt 5.15, as inside 3D
Slicer) and through PySide6 (Qt 6, the standalone app) — byte for byte and value for value — and
processes of both kinds editing the same file at once.

Run from the CPython suite; the PythonQt side is ``pythonqt-run`` of the lane
(``scripts/pythonqt-lane.sh setup``), started as subprocesses running
``tests/crossbinding_worker.py``. Without the lane these tests skip (fail when ``CI=true``)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from slicer_ext_manager.history import ExtensionsHistory
from slicer_ext_manager.settings import SettingsFile

from .bindings import PythonQtLane, require_pythonqt_lane
from .conftest import write_ini

WORKER = Path(__file__).resolve().parent / "crossbinding_worker.py"
HOME = "/opt/Slicer 5.8"
BINDINGS = ("PySide6", "PythonQt")


@pytest.fixture(scope="module")
def lane() -> PythonQtLane:
    return require_pythonqt_lane()


@pytest.fixture
def run(lane, tmp_path):
    """``run(binding, *args, stdin=None)`` -> the worker's JSON result (asserts exit 0 and the binding)."""

    def command(binding: str) -> list[str]:
        return [sys.executable] if binding == "PySide6" else lane.command()

    def env() -> dict:
        return lane.env(tmp_path / "xdg-runtime", CROSS_SLICER_HOME=HOME)

    def run(binding: str, *args: str) -> dict:
        proc = subprocess.run([*command(binding), str(WORKER), *args], env=env(), capture_output=True, text=True,
                              timeout=180)
        assert proc.returncode == 0, f"{binding} worker {args}: {proc.stderr}"
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["binding"] == binding and out["qt"].startswith("5." if binding == "PythonQt" else "6.")
        return out["result"]

    def start(binding: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen([*command(binding), str(WORKER), *args], env=env(), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    run.start = start  # type: ignore[attr-defined]
    return run


def _foreign_sections() -> str:
    lines = []
    for section in range(12):
        lines.append(f"[Section{section:02d}]")
        lines += [f"key{key:02d}=value {section}.{key} Caf\\xe9" for key in range(10)]
        lines.append("")
    return "\n".join(lines)


# A Slicer.ini + Slicer-<rev>.ini in one file, in the exact form Qt writes it (keys sorted, Qt 5's
# escapes): a file both Qt 5 and Qt 6 leave byte for byte as it is when they touch other keys.
START = r"""[General]
topLevelKey=42

[Extensions]
AutoUpdateCheck=true
Bookmarked=SlicerRT, SegmentEditorExtraEffects
InstallPath=/opt/other/Extensions
ScheduledForUpdate=@Variant(\0\0\0\b\0\0\0\x1\0\0\0\x12\0S\0l\0i\0\x63\0\x65\0r\0I\0G\0T\0\0\0\n\0\0\0\x30\0/\0o\0p\0t\0/\0x\0/\0.\0u\0p\0\x64\0\x61\0t\0\x65\0s\0/\0\x61\0.\0t\0\x61\0r\0.\0g\0z)

[ExtensionsHistory]
Revisions\30893=SlicerIGT, SlicerRT
Revisions\32448=SlicerIGT
ScheduledForRemoval=@Invalid()

[Gr%FC%DFe]
Stra%DFe=Stra\xdf\x65
%U65E5%U672C=\x65e5\x672c

[MainWindow]
DontConfirmRestart=1024
geometry=@ByteArray(\x1\xd9\xd0\xcb\0\x3\0\0\0\0\0\0\0\0\0\x17)

""" + _foreign_sections() + r"""
[Some%20Group]
%40at=@@starts with at
Name=Jos\xe9 \x65e5\x31
WinPath=C:\\Users\\me
key%20with%20space=1
quoted="a, b"
semi="x;y"
spaces=" lead"
"""

#: Keys the worker's ``edit`` sets (every other key is foreign and must survive unchanged).
EDITED = {"Extensions/Bookmarked", "Extensions/ScheduledForUninstall", "Extensions/ScheduledForUpdate",
          "Extensions/InstallPath", "Extensions/UpdatesAvailable", "Some Group/Name", "Modules/AdditionalPaths",
          "ExtensionsHistory/Revisions/33241", "Grüße/日本 neu", "PYTHONPATH/1/path", "PYTHONPATH/2/path", "PYTHONPATH/size"}


def _start_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(START.encode("ascii"))
    return path


def test_a_slicer_file_reads_the_same_in_both_bindings(run, tmp_path):
    start = _start_file(tmp_path / "Slicer.ini")
    views = {b: run(b, "dump", str(start)) for b in BINDINGS}
    assert views["PySide6"] == views["PythonQt"]
    values = views["PythonQt"]["values"]
    assert len(values) > 130  # 120 of them in Section00..11
    assert values["Grüße/Straße"] == "Straße" and values["Grüße/日本"] == "日本"
    assert values["Some Group/Name"] == "José 日1" and values["Some Group/@at"] == "@starts with at"
    assert values["Section03/key07"] == "value 3.7 Café"
    assert values["ExtensionsHistory/ScheduledForRemoval"] is None
    assert values["MainWindow/geometry"] == {"bytes": "01d9d0cb000300000000000000000017"}
    assert views["PythonQt"]["scheduled_for_update"] == {"SlicerIGT": "/opt/x/.updates/a.tar.gz"}
    assert views["PythonQt"]["history"] == {"30893": ["SlicerIGT", "SlicerRT"], "32448": ["SlicerIGT"]}


def test_edits_are_byte_identical_and_read_identically_across_bindings(run, tmp_path):
    files = {b: _start_file(tmp_path / b / "Slicer.ini") for b in BINDINGS}
    for binding, path in files.items():
        assert run(binding, "edit", str(path), HOME) == {"ok": True}
    written = {b: p.read_bytes() for b, p in files.items()}
    # Qt 5 writes its escapes itself; under Qt 6 settings.py re-escapes what Qt wrote as UTF-8.
    assert written["PySide6"] == written["PythonQt"]
    assert written["PythonQt"].isascii()
    text = written["PythonQt"].decode("ascii")
    assert "Bookmarked=SlicerIGT\n" in text and "ScheduledForUninstall=@Invalid()\n" in text
    assert "InstallPath=slicer.org/Extensions-33241\n" in text
    assert r"Name=Zo\xeb \x65e5\x672c \xd83d\xde00 a1" + "\n" in text
    assert "%U65E5%U672C%20neu=\\xfc\n" in text
    # Every foreign line is still there, as it was.
    edited_lines = ("Bookmarked=", "InstallPath=", "ScheduledForUpdate=", "Name=")
    for line in START.splitlines():
        if not line.startswith(edited_lines):
            assert line in text.splitlines(), line
    # Value for value: each file through each binding.
    views = {(w, r): run(r, "dump", str(files[w])) for w in BINDINGS for r in BINDINGS}
    reference = views[("PythonQt", "PySide6")]
    assert all(view == reference for view in views.values())
    assert reference["bookmarks"] == ["SlicerIGT"] and reference["scheduled_for_uninstall"] == []
    assert reference["history"]["33241"] == ["SlicerIGT"] and reference["history"]["32448"] == ["SlicerIGT"]
    assert reference["scheduled_for_update"] == {
        "SlicerRT": f"{HOME}/slicer.org/Extensions-33241/.updates/Zoë 日本.tar.gz"}
    assert reference["install_path"] == f"{HOME}/slicer.org/Extensions-33241"
    assert reference["additional_paths"] == [f"{HOME}/José/qt-scripted-modules", "C:/path with, comma/x"]
    assert reference["python_path"] == [f"{HOME}/José/qt-scripted-modules", f"{HOME}/lib"]
    assert reference["name"] == "Zoë 日本 😀 a1" and reference["values"]["Grüße/日本 neu"] == "ü"
    before = run("PySide6", "dump", str(_start_file(tmp_path / "start" / "Slicer.ini")))["values"]
    foreign = {k: v for k, v in before.items() if k not in EDITED}
    assert {k: v for k, v in reference["values"].items() if k in foreign} == foreign


def test_one_process_of_each_binding_editing_at_once_loses_nothing(run, tmp_path):
    path = _start_file(tmp_path / "Slicer.ini")
    foreign_before = {k: v for k, v in run("PySide6", "dump", str(path))["values"].items()
                      if not k.startswith(("Extensions/Bookmarked", "ExtensionsHistory/Revisions/33241"))}
    count = 50
    procs = {"PySide6": run.start("PySide6", "history", str(path), "Six", str(count), "Five"),
             "PythonQt": run.start("PythonQt", "history", str(path), "Five", str(count), "Six")}
    for binding, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{binding}: {err}"
        assert json.loads(out.strip().splitlines()[-1])["result"]["done"] == count
    six = [f"Six{i}" for i in range(count)]
    five = [f"Five{i}" for i in range(count)]
    history = ExtensionsHistory(SettingsFile(path))
    bookmarks = history.bookmarks()
    assert sorted(bookmarks) == sorted(["SlicerRT", "SegmentEditorExtraEffects"] + six + five)
    assert sorted(history.names("33241")) == sorted(six + five)
    # The edits really interleaved: neither process ever got more than the worker's LEAD (3) ahead.
    ours = [n for n in bookmarks if n.startswith(("Six", "Five"))]
    gaps = [sum(n.startswith("Six") for n in ours[:i]) - sum(n.startswith("Five") for n in ours[:i])
            for i in range(len(ours) + 1)]
    assert max(abs(g) for g in gaps) <= 5
    for binding in BINDINGS:
        after = run(binding, "dump", str(path))["values"]
        assert {k: v for k, v in after.items() if k in foreign_before} == foreign_before


@pytest.mark.parametrize("holder, other", [("PythonQt", "PySide6"), ("PySide6", "PythonQt")])
def test_the_settings_lock_is_honoured_across_bindings(run, tmp_path, holder, other):
    path = write_ini(tmp_path / "Slicer.ini", "[Extensions]\nAutoUpdateCheck=true\n")
    proc = run.start(holder, "hold-lock", str(path))
    try:
        assert proc.stdout.readline().strip() == "locked"
        blocked = run(other, "try-edit", str(path), "300", "blocked")
        assert "Another slicer-ext-manager is writing" in blocked["error"]
        assert "Cross/Value" not in path.read_text()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert run(other, "try-edit", str(path), "300", "after") == {"ok": True}
    assert SettingsFile(path).string("Cross/Value") == "after"


@pytest.mark.parametrize("holder, other", [("PythonQt", "PySide6"), ("PySide6", "PythonQt")])
def test_a_lock_left_by_a_killed_process_of_the_other_binding_is_taken_over(run, tmp_path, holder, other):
    """The holder dies without unlocking: the other binding sees its process is gone and takes the
    lock long before the stale-lock age (60 s) — Qt 5 and Qt 6 read each other's lock files."""
    path = write_ini(tmp_path / "Slicer.ini", "[Extensions]\nAutoUpdateCheck=true\n")
    proc = run.start(holder, "hold-lock", str(path))
    assert proc.stdout.readline().strip() == "locked"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert Path(str(path) + ".slicer-ext-manager.lock").exists()
    assert run(other, "try-edit", str(path), "20000", "taken over") == {"ok": True}
    assert SettingsFile(path).string("Cross/Value") == "taken over"

