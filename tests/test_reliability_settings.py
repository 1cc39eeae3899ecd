"""Issue #13, settings (points 3, 4, 5, 14): an invalid settings file is never written;
an install that fails leaves no half state behind; a running Slicer writing the same
list loses nothing; files that would hang or exhaust the tool are refused in one sentence."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slicer_ext_manager.cli import main
from slicer_ext_manager.errors import SettingsError
from slicer_ext_manager.history import ExtensionsHistory
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.settings import SettingsFile

from .conftest import REVISION, write_ini
from .faultfs import FailingWrites

ROOT = Path(__file__).resolve().parents[1]


def base_args(ctx) -> list[str]:
    return ["--settings-dir", str(ctx.user_settings_path.parent), "--revision", REVISION, "--os", "linux",
            "--arch", "amd64", "--server", ctx.server_url]


def run_cli(ctx, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The CLI in a subprocess (a hang becomes a bounded failure instead of a stuck test)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "slicer_ext_manager", *base_args(ctx), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def state(ctx) -> tuple:
    ip = ctx.install_path
    files = sorted(p.relative_to(ip).as_posix() for p in ip.rglob("*")) if ip.exists() else []
    return files, ctx.revision_settings_path.read_bytes(), ctx.user_settings_path.read_bytes()


# -- 3. an invalid file is never written -------------------------------------------------------------------


@pytest.mark.parametrize("content", [
    b"[Extensions]\nBookmarked=SlicerIGT, SlicerRT\nthis line has no equals sign\n[MainWindow]\nDontConfirmRestart=1024\n",
    "[Extensions]\nBookmarked=SlicerIGT, SlicerRT\n".encode("utf-16"),
    b"[Extensions]\nBookmarked=Caf\xe9\n",  # Latin-1, not UTF-8: Qt 6 would read it as U+FFFD and save that
    b"[Extensions\nBookmarked=SlicerIGT\n",
], ids=["line-without-equals", "utf-16", "latin-1", "unclosed-section"])
def test_invalid_settings_file_is_never_written(make_profile, capsys, content):
    ctx = make_profile()
    ctx.user_settings_path.write_bytes(content)
    code = main([*base_args(ctx), "bookmark", "add", "Zed"])
    err = capsys.readouterr().err
    assert code == 1 and "is not a valid INI file" in err and "so it was not changed" in err
    assert ctx.user_settings_path.read_bytes() == content
    with pytest.raises(SettingsError, match="not changed"):
        with SettingsFile(ctx.user_settings_path).edit() as e:
            e.set_value("Extensions/AutoUpdateCheck", False)
    assert ctx.user_settings_path.read_bytes() == content
    # Reading says so too, instead of showing what Qt half-understood.
    assert main([*base_args(ctx), "bookmark", "list"]) == 1
    assert "is not a valid INI file" in capsys.readouterr().err


def test_qt_written_files_pass_the_check(tmp_path):
    """Whatever Qt itself writes (quotes, escapes, commas, non-ASCII, @Variant maps) is valid."""
    from PySide6.QtCore import QSettings

    from slicer_ext_manager.initext import text_problem

    path = tmp_path / "q.ini"
    qs = QSettings(str(path), QSettings.Format.IniFormat)
    for i, value in enumerate(['a;b', 'say "hi"', "x=y", "C:\\a\\b", "é日😀", "line\nbreak", " lead", "@at",
                               ["a", "b,c", ""], {"SlicerIGT": "/opt/x/.updates/a.tar.gz"}]):
        qs.setValue(f"Group{i % 3}/key {i};=\"", value)
    qs.setValue("top", "level")
    qs.sync()
    del qs
    assert text_problem(path.read_bytes()) is None
    assert "SlicerIGT" in str(SettingsFile(path).read().variant_map("Group0/key 9;=\""))


# -- 4. an install that fails leaves nothing half done --------------------------------------------------------


@pytest.fixture
def package(tmp_path):
    return build_extension_package(tmp_path / "pkgs", "Whole", app_revision=REVISION, modules=("scripted", "cli"))


def test_install_with_an_unparseable_user_settings_file_installs_nothing(make_profile, package):
    ctx = make_profile()
    ctx.user_settings_path.write_bytes(b"[Extensions]\nAutoUpdateCheck=true\nbroken\n")
    before = state(ctx)
    report = ExtensionsManager(ctx).install_files([package], with_dependencies=False)
    assert not report.ok and "is not a valid INI file" in report.results[0].message
    assert state(ctx) == before


@pytest.mark.parametrize("code", [errno.EACCES, errno.ENOSPC], ids=["read-only", "disk-full"])
def test_install_with_an_unwritable_settings_folder_installs_nothing(make_profile, package, monkeypatch, code,
                                                                     tmp_path):
    ctx = make_profile(revision_ini=f"[Extensions]\nInstallPath={(tmp_path / 'ext').as_posix()}\n")
    ctx.install_path.mkdir(parents=True)
    before = state(ctx)
    faults = FailingWrites(monkeypatch, ctx.user_settings_path.parent, code)
    report = ExtensionsManager(ctx).install_files([package], with_dependencies=False)
    monkeypatch.undo()
    assert faults.hits and not report.ok
    message = report.results[0].message
    assert os.strerror(code) in message and "Another program" not in message, message
    assert state(ctx) == before


def test_install_on_a_full_install_folder_installs_nothing(make_profile, package, monkeypatch):
    ctx = make_profile()
    ctx.install_path.mkdir(parents=True)
    before = state(ctx)
    FailingWrites(monkeypatch, ctx.install_path, errno.ENOSPC)
    report = ExtensionsManager(ctx).install_files([package], with_dependencies=False)
    monkeypatch.undo()
    assert not report.ok and "No space left on device" in report.results[0].message
    assert "Another program" not in report.results[0].message
    assert state(ctx) == before


# -- 5. a running Slicer writing the same list loses nothing -------------------------------------------------


SLICER = r"""
import sys, time
from PySide6.QtCore import QSettings
path, count = sys.argv[1], int(sys.argv[2])
open(path + ".started", "w").close()
time.sleep(0.2)
for i in range(count):
    s = QSettings(path, QSettings.Format.IniFormat)  # as Slicer does: a fresh object per change
    names = s.value("Extensions/Bookmarked", [], type=list)
    s.setValue("Extensions/Bookmarked", names + [f"Slicer{i}"])
    s.sync()
    del s
    time.sleep(0.01)  # a user clicking fast: our edits run in between
"""


def test_bookmarks_merge_with_a_running_slicer(tmp_path):
    path = write_ini(tmp_path / "Slicer.ini", "[Extensions]\nBookmarked=Base\n[Other]\nKeep=1\n")
    count = 175
    slicer = subprocess.Popen([sys.executable, "-c", SLICER, str(path), str(count)],
                              env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    history = ExtensionsHistory(SettingsFile(path))
    deadline = time.monotonic() + 120
    while not Path(str(path) + ".started").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    rounds = 0
    while slicer.poll() is None and rounds < 120 and time.monotonic() < deadline:
        history.set_bookmarks_state([f"Ours{rounds % 3}"], rounds % 2 == 0)
        rounds += 1
        time.sleep(0.01)
    assert slicer.wait(60) == 0 and rounds > 10
    names = history.bookmarks()
    missing = [f"Slicer{i}" for i in range(count) if f"Slicer{i}" not in names]
    assert not missing, f"{len(missing)} of Slicer's {count} bookmarks were lost ({rounds} rounds of ours)"
    assert "Base" in names and SettingsFile(path).integer("Other/Keep") == 1


def test_list_changes_are_merged_with_the_file_as_saved(tmp_path):
    """The mechanism on its own: a change made by another program between our read and our save survives."""
    path = write_ini(tmp_path / "Slicer.ini", "[Extensions]\nBookmarked=A, B\n")
    with SettingsFile(path).edit() as e:
        assert e.string_list("Extensions/Bookmarked") == ["A", "B"]
        e.add_to_list("Extensions/Bookmarked", ["Ours"])
        e.remove_from_list("Extensions/Bookmarked", ["A"])
        assert e.string_list("Extensions/Bookmarked") == ["B", "Ours"]
        from PySide6.QtCore import QSettings

        other = QSettings(str(path), QSettings.Format.IniFormat)  # "Slicer" saves meanwhile
        other.setValue("Extensions/Bookmarked", ["A", "B", "Theirs"])
        other.sync()
        del other
    assert SettingsFile(path).string_list("Extensions/Bookmarked") == ["B", "Theirs", "Ours"]


# -- 14. files that would hang or exhaust the tool -------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_settings_file_that_is_not_a_regular_file_is_refused(make_profile, kind):
    ctx = make_profile()
    ctx.user_settings_path.unlink()
    if kind == "fifo":
        os.mkfifo(ctx.user_settings_path)
    else:
        ctx.user_settings_path.symlink_to("/dev/zero")
    started = time.monotonic()
    proc = run_cli(ctx, "bookmark", "list", timeout=60)
    assert proc.returncode == 1 and "is not a regular file" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and time.monotonic() - started < 60


def test_huge_settings_file_is_refused(make_profile):
    ctx = make_profile()
    with open(ctx.user_settings_path, "wb") as fh:
        fh.write(b"[Extensions]\n" + b"Bookmarked=" + b"A, " * (6 * 1024 * 1024) + b"B\n")
    proc = run_cli(ctx, "bookmark", "list", timeout=60)
    assert proc.returncode == 1 and "larger than 16 MB" in proc.stderr, proc.stderr


@pytest.mark.parametrize("command", [["install", "--file", "PKG"], ["uninstall", "Whole"], ["apply-scheduled"]])
def test_absurd_array_size_is_refused_quickly(make_profile, package, command):
    ctx = make_profile()
    assert ExtensionsManager(ctx).install_files([package], with_dependencies=False).ok
    text = ctx.revision_settings_path.read_text()
    assert "[PYTHONPATH]\n1\\path=" in text
    text = re.sub(r"(\[PYTHONPATH\][^\[]*?)\nsize=\d+", r"\1\nsize=100000000", text)
    text += "\n[Extensions]\nScheduledForUninstall=Whole\n" if command == ["apply-scheduled"] else ""
    ctx.revision_settings_path.write_text(text)
    before = state(ctx)
    started = time.monotonic()
    proc = run_cli(ctx, *[str(package) if a == "PKG" else a for a in command], "--json", timeout=60)
    assert time.monotonic() - started < 60
    output = proc.stderr + proc.stdout
    assert proc.returncode == 1 and "100000000 entries, more than the 10000" in output, output
    assert "Traceback" not in output
    assert state(ctx) == before
    if command[0] == "uninstall":
        assert json.loads(proc.stdout)["failed"][0]["name"] == "Whole"


def test_host_settings_object_is_refreshed_and_merged(tmp_path):
    """Inside Slicer the host's own QSettings is used: it is refreshed before the change is applied."""
    from PySide6.QtCore import QSettings

    path = write_ini(tmp_path / "Slicer.ini", "[Extensions]\nBookmarked=A\n")
    host = QSettings(str(path), QSettings.Format.IniFormat)
    sf = SettingsFile(path, qsettings=host)
    with sf.edit() as e:
        e.add_to_list("Extensions/Bookmarked", ["Ours"])
        other = QSettings(str(tmp_path / "Slicer.ini"), QSettings.Format.IniFormat)
        other.setValue("Extensions/Other", "kept")
        other.sync()
        del other
    assert SettingsFile(path).string_list("Extensions/Bookmarked") == ["A", "Ours"]
    assert SettingsFile(path).string("Extensions/Other") == "kept"
    path.write_bytes(b"[Extensions]\nBookmarked=A\nbroken line\n")
    with pytest.raises(SettingsError, match="not changed"):
        with sf.edit() as e:
            e.add_to_list("Extensions/Bookmarked", ["Zed"])
    assert path.read_bytes() == b"[Extensions]\nBookmarked=A\nbroken line\n"
