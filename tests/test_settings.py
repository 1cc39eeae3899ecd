"""INI interop: literal files in Qt's syntax (reference §2.5) must read right and
survive our writes byte for byte, except for the keys we change."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from slicer_ext_manager import qtbinding
from slicer_ext_manager.errors import SettingsError
from slicer_ext_manager.history import ExtensionsHistory
from slicer_ext_manager.settings import (
    SettingsFile,
    clean_path,
    qt5_escape_ini_text,
    to_home_absolute,
    to_home_relative,
)

from .bindings import python_command, qsettings
from .conftest import write_ini

REVISION_INI = r"""
[Extensions]
FrontendServerUrl=https://extensions.slicer.org
InstallPath=slicer.org/Extensions-33241
LastServerAPI=Girder_v1
ManagerEnabled=true
MetadataFromServerUpdateTime=2025-01-30T12:34:56Z
MetadataFromServerUrl=https://slicer-packages.kitware.com
ScheduledForUninstall=SegmentEditorExtraEffects
ScheduledForUpdate=@Variant(\0\0\0\b\0\0\0\x1\0\0\0\x12\0S\0l\0i\0\x63\0\x65\0r\0I\0G\0T\0\0\0\n\0\0\0\x30\0/\0o\0p\0t\0/\0x\0/\0.\0u\0p\0\x64\0\x61\0t\0\x65\0s\0/\0\x61\0.\0t\0\x61\0r\0.\0g\0z)
ServerUrl=https://slicer-packages.kitware.com
UpdatesAvailable=false

[LibraryPaths]
1\path=slicer.org/Extensions-33241/SlicerIGT/lib/Slicer-5.8
2\path=slicer.org/Extensions-33241/SlicerIGT/lib/Slicer-5.8/qt-loadable-modules
size=2

[Modules]
AdditionalPaths=slicer.org/Extensions-33241/SlicerIGT/lib/Slicer-5.8/qt-loadable-modules, slicer.org/Extensions-33241/SlicerIGT/lib/Slicer-5.8/qt-scripted-modules, "C:/path with, comma/x"

[PYTHONPATH]
1\path=slicer.org/Extensions-33241/SlicerIGT/lib/Slicer-5.8/qt-scripted-modules
2\path=slicer.org/Extensions-33241/SlicerIGT/lib/Slicer-5.8/qt-loadable-modules
3\path=slicer.org/Extensions-33241/SlicerIGT/lib/Slicer-5.8/qt-loadable-modules/Python
size=3

[Paths]
1\path=slicer.org/Extensions-33241/SlicerIGT/lib/Slicer-5.8/cli-modules
size=1

[QT_PLUGIN_PATH]
size=0
"""

USER_INI = r"""
[ExtensionCheckOnStartup]
dontCheck=false
ifCheckInstallWithoutDialog=true

[Extensions]
AutoInstallDependencies=true
AutoUpdateCheck=true
AutoUpdateFrequencyMinutes=1440
AutoUpdateInstall=false
Bookmarked=SlicerIGT, SlicerRT, SegmentEditorExtraEffects

[ExtensionsHistory]
Revisions\30893=SlicerIGT, SlicerRT
Revisions\33241=SlicerIGT
ScheduledForRemoval=

[MainWindow]
DontConfirmRestart=1024
"""


def test_reads_revision_file_types(tmp_path):
    sf = SettingsFile(write_ini(tmp_path / "Slicer-33241.ini", REVISION_INI))
    r = sf.read()
    assert r.string("Extensions/ServerUrl") == "https://slicer-packages.kitware.com"
    assert r.boolean("Extensions/ManagerEnabled") is True
    assert r.boolean("Extensions/UpdatesAvailable", True) is False
    # A one-item list is written as a plain string.
    assert r.string_list("Extensions/ScheduledForUninstall") == ["SegmentEditorExtraEffects"]
    assert r.variant_map("Extensions/ScheduledForUpdate") == {"SlicerIGT": "/opt/x/.updates/a.tar.gz"}
    assert r.string_list("Modules/AdditionalPaths")[-1] == "C:/path with, comma/x"
    assert len(r.string_list("Modules/AdditionalPaths")) == 3
    assert r.array("PYTHONPATH")[2].endswith("qt-loadable-modules/Python")
    assert r.array("QT_PLUGIN_PATH") == []
    assert r.array("Paths") == ["slicer.org/Extensions-33241/SlicerIGT/lib/Slicer-5.8/cli-modules"]


def test_reads_user_file_types(tmp_path):
    sf = SettingsFile(write_ini(tmp_path / "Slicer.ini", USER_INI))
    r = sf.read()
    assert r.integer("Extensions/AutoUpdateFrequencyMinutes") == 1440
    assert r.integer("MainWindow/DontConfirmRestart") == 1024
    assert r.boolean("ExtensionCheckOnStartup/ifCheckInstallWithoutDialog") is True
    assert r.string_list("Extensions/Bookmarked") == ["SlicerIGT", "SlicerRT", "SegmentEditorExtraEffects"]
    hist = ExtensionsHistory(sf)
    assert hist.revisions() == {"30893": ["SlicerIGT", "SlicerRT"], "33241": ["SlicerIGT"]}
    assert hist.scheduled_for_removal() == []


def test_empty_and_one_item_lists_written_like_qt(tmp_path):
    sf = SettingsFile(tmp_path / "Slicer-1.ini")
    with sf.edit() as e:
        e.set_string_list("Extensions/ScheduledForUninstall", [])
        e.set_string_list("Extensions/Bookmarked", ["SlicerIGT"])
        e.set_string_list("Modules/AdditionalPaths", ["a", "b,c", 'say "hi"'])
        e.set_variant_map("Extensions/ScheduledForUpdate", {"SlicerIGT": "/opt/x/.updates/a.tar.gz"})
        e.set_variant_map("Extensions/EmptyMap", {})
    text = (tmp_path / "Slicer-1.ini").read_text()
    assert "ScheduledForUninstall=@Invalid()\n" in text
    assert "Bookmarked=SlicerIGT\n" in text
    assert 'AdditionalPaths=a, "b,c", say \\"hi\\"\n' in text
    assert r"EmptyMap=@Variant(\0\0\0\b\0\0\0\0)" in text
    # Exactly the bytes the C++ model writes for this map (reference §2.5).
    assert REVISION_INI.split("ScheduledForUpdate=")[1].split("\n")[0] in text
    r = sf.read()
    assert r.string_list("Extensions/ScheduledForUninstall") == []
    assert r.string_list("Extensions/Bookmarked") == ["SlicerIGT"]
    assert r.string_list("Modules/AdditionalPaths") == ["a", "b,c", 'say "hi"']


def _unrelated_profile() -> str:
    lines = []
    for section in range(12):
        lines.append(f"[Section{section:02d}]")
        for key in range(10):
            lines.append(f"key{key:02d}=value {section}.{key}")
        lines.append("")
    # Keys sorted and escaped as Qt writes them (%40 = "@", %20 = " ").
    lines += [
        "[Some%20Group]",
        "%40at=@@starts with at",
        r"Name=Jos\xe9 \x65e5\x31",
        r"WinPath=C:\\Users\\me",
        "key%20with%20space=1",
        'quoted="a, b"',
        "",
    ]
    return "\n".join(lines)


def test_hundred_unrelated_keys_survive_a_write_unchanged(tmp_path):
    original = "[General]\ntopLevelKey=42\n\n" + USER_INI.lstrip("\n") + "\n" + _unrelated_profile()
    path = write_ini(tmp_path / "Slicer.ini", original)
    assert original.count("=") > 100
    ExtensionsHistory(SettingsFile(path)).add("34045", "SlicerRT")
    after = path.read_text(encoding="utf-8")
    expected = original.replace(
        "Revisions\\33241=SlicerIGT\n", "Revisions\\33241=SlicerIGT\nRevisions\\34045=SlicerRT\n"
    )
    assert after == expected
    # Non-ASCII written by Qt 5 as \x escapes is read as text, and still written that way.
    assert SettingsFile(path).string("Some Group/Name") == "José 日1"
    assert SettingsFile(path).string("Some Group/key with space") == "1"
    assert SettingsFile(path).string("Some Group/@at") == "@starts with at"
    assert SettingsFile(path).string("topLevelKey") == "42"


def test_non_ascii_written_as_qt5_escapes(tmp_path):
    path = tmp_path / "Slicer-1.ini"
    sf = SettingsFile(path)
    with sf.edit() as e:
        e.set_value("Extensions/InstallPath", "/home/José/日本/Extensions-1")
        e.set_string_list("Modules/AdditionalPaths", ["/home/é/a", "/b"])
    raw = path.read_bytes()
    assert raw.isascii()
    assert rb"InstallPath=/home/Jos\xe9/\x65e5\x672c/Extensions-1" in raw
    assert sf.string("Extensions/InstallPath") == "/home/José/日本/Extensions-1"
    assert sf.string_list("Modules/AdditionalPaths") == ["/home/é/a", "/b"]


def test_qt5_escape_hex_continuation():
    # After an escape, a following hex digit must be escaped too (Qt's \x63 for 'c').
    assert qt5_escape_ini_text("k=éa1z") == r"k=\xe9\x61\x31z"
    assert qt5_escape_ini_text("[Grüppe]\nk=ok") == "[Grüppe]\nk=ok"
    assert qt5_escape_ini_text("k=😀") == r"k=\xd83d\xde00"


def test_failed_edit_writes_nothing(tmp_path):
    path = write_ini(tmp_path / "Slicer.ini", USER_INI)
    before = path.read_bytes()
    sf = SettingsFile(path)
    with pytest.raises(RuntimeError):
        with sf.edit() as e:
            e.set_value("Extensions/AutoUpdateCheck", False)
            raise RuntimeError("boom")
    assert path.read_bytes() == before
    assert SettingsFile(path).boolean("Extensions/AutoUpdateCheck") is True


def test_write_is_atomic_replace(tmp_path):
    path = write_ini(tmp_path / "Slicer.ini", USER_INI)
    inode = os.stat(path).st_ino
    with SettingsFile(path).edit() as e:
        e.set_value("Extensions/AutoUpdateCheck", False)
    # Qt saves to a temporary file and renames it over the original: a process killed
    # mid-write leaves the old file intact.
    assert os.stat(path).st_ino != inode
    assert not list(tmp_path.glob("*.lock"))


APPEND_NAMES = """
import os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from slicer_ext_manager.history import ExtensionsHistory
from slicer_ext_manager.settings import SettingsFile
path, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
hist = ExtensionsHistory(SettingsFile(path))
for i in range(count):
    hist.add("1", f"{prefix}{i}")
"""


def test_concurrent_writers_lose_nothing(tmp_path):
    path = write_ini(tmp_path / "Slicer.ini", USER_INI)
    # Processes of this test's own binding (PySide6, or PythonQt in the lane).
    procs = [subprocess.Popen([*python_command(), "-c", APPEND_NAMES, str(path), p, "15"]) for p in ("A", "B")]
    for p in procs:
        assert p.wait(120) == 0
    names = ExtensionsHistory(SettingsFile(path)).names("1")
    assert sorted(names) == sorted([f"A{i}" for i in range(15)] + [f"B{i}" for i in range(15)])
    # Unrelated keys still there.
    assert SettingsFile(path).integer("MainWindow/DontConfirmRestart") == 1024


def test_read_only_file_gives_a_sentence(tmp_path, monkeypatch):
    path = write_ini(tmp_path / "Slicer.ini", USER_INI)
    path.chmod(0o444)
    # root may write read-only files: simulate what a normal user sees.
    import slicer_ext_manager.settings as settings_module

    monkeypatch.setattr(settings_module.os, "access", lambda p, mode: Path(p) != path)
    with pytest.raises(Exception, match="not readable and writable"):
        with SettingsFile(path).edit():
            pass


def test_malformed_file_is_refused_not_overwritten(tmp_path):
    path = write_ini(tmp_path / "Slicer.ini", "[Extensions\nthis is not ini\n")
    before = path.read_bytes()
    with pytest.raises(SettingsError, match="not a valid INI file"):
        SettingsFile(path).read()
    with pytest.raises(SettingsError, match="not changed"):
        ExtensionsHistory(SettingsFile(path)).add("1", "A")
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "path, home, expected",
    [
        ("/opt/Slicer/slicer.org/Extensions-1", "/opt/Slicer", "slicer.org/Extensions-1"),
        ("/opt/Slicer", "/opt/Slicer", "."),
        ("/opt/SlicerX/a", "/opt/Slicer", "/opt/SlicerX/a"),
        ("/opt/Slicer/../x/./y", "/opt/Slicer", "/opt/x/y"),
        ("relative/path", "/opt/Slicer", "relative/path"),
        ("C:\\Users\\me\\Slicer 5.8\\slicer.org\\E", "C:/Users/me/Slicer 5.8", "slicer.org/E"),
        ("c:/users/ME/slicer 5.8/x", "C:/Users/me/Slicer 5.8", "x"),
        ("/opt/x", None, "/opt/x"),
    ],
)
def test_relative_paths(path, home, expected):
    assert to_home_relative(path, home) == expected


def test_absolute_paths():
    assert to_home_absolute("slicer.org/E", "/opt/Slicer") == "/opt/Slicer/slicer.org/E"
    assert to_home_absolute("/abs/x", "/opt/Slicer") == "/abs/x"
    assert to_home_absolute("rel", None) == "rel"
    assert clean_path("C:\\a\\..\\b\\") == "C:/b"


def test_qt_reads_what_we_write(tmp_path):
    """Cross-check with a plain QSettings (what Slicer uses)."""
    path = tmp_path / "Slicer.ini"
    with SettingsFile(path).edit() as e:
        e.set_array("PYTHONPATH", ["a", "b"])
        e.set_value("Extensions/AutoInstallDependencies", True)
    qs = qsettings(path)
    n = qs.beginReadArray("PYTHONPATH")
    values = []
    for i in range(n):
        qs.setArrayIndex(i)
        values.append(qs.value("path"))
    qs.endArray()
    assert values == ["a", "b"]
    assert Path(path).read_text().count("size=2") == 1


def test_qt_binding_keeps_none_refcount(tmp_path):
    """PySide6 6.12.0 drops a reference to None on every void call, which aborts
    Python < 3.12 at exit; pyproject excludes it and this catches a regression."""
    import sys

    qs = qtbinding.open_ini(str(tmp_path / "x.ini"))
    before = sys.getrefcount(None)
    for _ in range(200):
        qs.beginGroup("A")
        qs.endGroup()
    assert sys.getrefcount(None) - before > -50
