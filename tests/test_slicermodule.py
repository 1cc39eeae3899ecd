"""The in-Slicer face's Qt-free parts, in both suites (CPython + PySide6, and the PythonQt lane):
the extension package (built for linux/win/macosx, accepted by ``archive.extract_verified``,
installed into a profile, deterministic, its vendored copies runnable on Slicer 5.8's Python 3.9),
the CLI command, the demo catalog entry, the history sync, the progress model and the texts."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slicer_ext_manager import archive
from slicer_ext_manager.conventions import parse_package_name
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.qtbinding import running_in_pythonqt
from slicer_ext_manager.queue import EventKind, JobResult, Outcome, Phase, QueueEvent
from slicer_ext_manager.slicermodule import package as pkg
from slicer_ext_manager.slicermodule.history_sync import HistorySync, reconcile
from slicer_ext_manager.slicermodule.progress import InstallProgress
from slicer_ext_manager.tasks import TaskRunner

from .bindings import qsettings

REV = "33241"
MODULES = "lib/Slicer-5.8/qt-scripted-modules"
PY39 = Path(os.environ.get("SLICER_EXT_MANAGER_PY39", "/root/.pyenv/versions/3.9.18/bin/python3.9"))


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    out = tmp_path_factory.mktemp("slicer-extension")
    return {os_name: pkg.build_package(out, revision=REV, os_name=os_name, arch="amd64", slicer_version="5.8",
                                       date="2025-06-16") for os_name in ("linux", "win", "macosx")}


# -- the package -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("os_name", ["linux", "win", "macosx"])
def test_the_package_is_named_and_laid_out_as_slicer_packages_are(packages, os_name, tmp_path):
    build = packages[os_name]
    name = parse_package_name(build.path.name)
    assert name is not None and (name.app_revision, name.os, name.arch, name.extension_name, name.scm, name.date) \
        == (REV, os_name, "amd64", "ExtensionsRestore", "git", "2025-06-16")
    assert build.path.name.endswith(".zip" if os_name == "win" else ".tar.gz")
    info, root = archive.extract_verified(build.path, tmp_path, expected_name="ExtensionsRestore", app_revision=REV)
    assert info.extension_name == "ExtensionsRestore"
    expected_root = tmp_path / name.base
    if os_name == "macosx":
        expected_root = expected_root / "Slicer.app" / "Contents" / f"Extensions-{REV}" / "ExtensionsRestore"
    assert root == expected_root
    for rel in (f"{MODULES}/ExtensionsRestore.py", f"{MODULES}/Resources/Icons/ExtensionsRestore.png",
                f"{MODULES}/ExtensionsRestoreLib/slicer_ext_manager/manager.py",
                f"{MODULES}/ExtensionsRestoreLib/slicer_ext_manager/slicermodule/panel.py",
                f"{MODULES}/ExtensionsRestoreLib/slicer_ext_manager/LICENSE",
                f"{MODULES}/ExtensionsRestoreLib/vendor/platformdirs/__init__.py",
                f"{MODULES}/ExtensionsRestoreLib/vendor/packaging/version.py",
                f"{MODULES}/ExtensionsRestoreLib/vendor/licenses/platformdirs-4.4.0/LICENSE",
                f"{MODULES}/ExtensionsRestoreLib/vendor/licenses/packaging-26.3/LICENSE.APACHE",
                f"{MODULES}/ExtensionsRestoreLib/vendor/licenses/packaging-26.3/LICENSE.BSD",
                f"{MODULES}/ExtensionsRestoreLib/vendor/VENDORED.txt",
                "share/Slicer-5.8/ExtensionsRestore.s4ext"):
        assert (root / rel).is_file(), rel
    core = root / MODULES / "ExtensionsRestoreLib" / "slicer_ext_manager"
    assert not (core / "ui").exists() and not (core / "gui_main.py").exists()
    assert not (core / "slicermodule" / "vendor").exists() and not list(root.rglob("*.pyc"))
    assert "MIT License" in (root / MODULES / "ExtensionsRestoreLib/vendor/licenses/platformdirs-4.4.0/LICENSE"
                             ).read_text(encoding="utf-8")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_package_carries_no_pyside6(packages, tmp_path):
    _, root = archive.extract_verified(packages["linux"].path, tmp_path)
    for path in root.rglob("*.py"):
        found = _imports(path) & {"PySide6", "shiboken6", "PySide2", "PyQt5", "PyQt6"}
        rel = path.relative_to(root).as_posix()
        # qtbinding imports PySide6 only outside PythonQt, inside a function (tests/test_qtbinding.py)
        assert not found or rel.endswith("slicer_ext_manager/qtbinding.py"), (rel, found)


def test_the_build_is_deterministic_and_named_by_its_contents(tmp_path):
    a = pkg.build_package(tmp_path / "a", revision=REV, os_name="linux", arch="amd64", slicer_version="5.8",
                          date="2025-06-16")
    b = pkg.build_package(tmp_path / "b", revision=REV, os_name="linux", arch="amd64", slicer_version="5.8",
                          date="2025-06-16")
    assert a.path.name == b.path.name and a.path.read_bytes() == b.path.read_bytes()
    other = pkg.build_package(tmp_path / "c", revision=REV, os_name="linux", arch="amd64", slicer_version="5.10",
                              date="2025-06-16")
    assert other.name.scm_revision != a.name.scm_revision


def test_a_vendored_wheel_that_changed_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(pkg.VENDORED, "packaging-26.3-py3-none-any.whl", "0" * 64)
    with pytest.raises(pkg.ExtensionManagerError, match="missing or changed"):
        pkg.build_package(tmp_path, revision=REV, os_name="linux", arch="amd64", slicer_version="5.8")


def test_bad_build_options_are_sentences(tmp_path):
    for kwargs, text in (({"os_name": "beos"}, "Unknown operating system"), ({"revision": "5.8"}, "not a Slicer "
                         "revision"), ({"slicer_version": "five"}, "not a Slicer version"),
                         ({"date": "June"}, "not a date")):
        options = {"revision": REV, "os_name": "linux", "arch": "amd64", "slicer_version": "5.8", **kwargs}
        with pytest.raises(pkg.ExtensionManagerError, match=text):
            pkg.build_package(tmp_path, **options)


def test_without_its_sources_it_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # as in the PyInstaller application
    with pytest.raises(pkg.ExtensionManagerError, match="pip install slicer-ext-manager"):
        pkg.build_package(tmp_path, revision=REV, os_name="linux", arch="amd64", slicer_version="5.8")
    assert pkg.add_to_demo_catalog(tmp_path, revision=REV, os_name="linux", arch="amd64",
                                   slicer_version="5.8") is None  # the demo goes on without it


def test_slicer_python_versions():
    assert pkg.slicer_python("5.8") == (3, 9) and pkg.slicer_python("5.6") == (3, 9)
    assert pkg.slicer_python("5.10") == (3, 12) and pkg.slicer_python("5.12") == (3, 12)


def test_the_package_installs_into_a_profile(packages, make_profile):
    ctx = make_profile()
    report = ExtensionsManager(ctx).install_files([packages["linux"].path])
    assert report.ok, report.to_json()
    manager = ExtensionsManager(ctx)
    assert manager.registry.names() == ["ExtensionsRestore"]
    module = ctx.install_path / "ExtensionsRestore" / MODULES / "ExtensionsRestore.py"
    assert module.is_file()
    paths = qsettings(ctx.revision_settings_path).value("Modules/AdditionalPaths", [], type=list)
    assert module.parent.as_posix() in paths
    assert manager.history.names(ctx.revision) == ["ExtensionsRestore"]


def test_it_installs_from_serve_and_with_install_file(packages, make_profile, tmp_path):
    """The two other ways in: a folder served by ``serve`` (as any extension) and ``install --file``."""
    from slicer_ext_manager.cli import main
    from slicer_ext_manager.conventions import DEFAULT_APP_ID
    from slicer_ext_manager.localserver.server import PackageServer

    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(packages["linux"].path, served)
    server = PackageServer(served, app_id=DEFAULT_APP_ID).start()
    try:
        ctx = make_profile(server.url, DEFAULT_APP_ID)
        manager = ExtensionsManager(ctx)
        assert [s.name for s in manager.search("restore")] == ["ExtensionsRestore"]
        report = manager.install(["ExtensionsRestore"])
        assert report.ok and report.names(Outcome.INSTALLED) == ["ExtensionsRestore"], report.to_json()
    finally:
        server.stop()
    other = make_profile()
    code = main(["install", "--file", str(packages["linux"].path), "--settings-dir",
                 str(other.user_settings_path.parent), "--revision", REV, "--os", "linux", "--arch", "amd64",
                 "--slicer-version", "5.8"])
    assert code == 0 and ExtensionsManager(other).registry.names() == ["ExtensionsRestore"]


@pytest.mark.skipif(running_in_pythonqt(), reason="a CPython 3.9 subprocess, from the CPython suite")
def test_the_vendored_copies_and_the_core_import_on_python_3_9(packages, tmp_path):
    """Slicer 5.6/5.8 embed Python 3.9: the module's path set-up, the vendored platformdirs and
    packaging and the core's pure modules run there (requests, which Slicer bundles, excepted)."""
    if not PY39.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Python 3.9 not found at {PY39} (set SLICER_EXT_MANAGER_PY39)")
        pytest.skip(f"Python 3.9 not found at {PY39} (set SLICER_EXT_MANAGER_PY39)")
    _, root = archive.extract_verified(packages["linux"].path, tmp_path)
    lib = root / MODULES / "ExtensionsRestoreLib"
    code = (f"import sys; sys.path.insert(0, {str(lib)!r}); sys.path.append({str(lib / 'vendor')!r});"
            "import platformdirs, packaging.version as v;"
            "from slicer_ext_manager import tasks, restore, profiles, versions, dependencies, state;"
            "from slicer_ext_manager.slicermodule import package, progress, texts, history_sync;"
            "assert v.Version('5.10') > v.Version('5.9');"
            "print(sys.version_info[:2], platformdirs.__file__, v.__file__)")
    proc = subprocess.run([str(PY39), "-I", "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "(3, 9)" in proc.stdout and proc.stdout.count(str(lib / "vendor")) == 2


def test_the_cli_builds_it(tmp_path):
    from slicer_ext_manager.cli import main

    code = main(["slicer-extension", "build", "--revision", REV, "--os", "win", "--arch", "amd64",
                 "--slicer-version", "5.8", "-o", str(tmp_path), "--date", "2025-06-16"])
    assert code == 0
    (built,) = tmp_path.glob("*.zip")
    assert built.name.startswith(f"{REV}-win-amd64-ExtensionsRestore-git") and built.name.endswith("-2025-06-16.zip")
    assert main(["slicer-extension", "build", "-o", str(tmp_path)]) == 1  # the build is not given


def test_the_cli_prints_json(tmp_path, capsys):
    from slicer_ext_manager.cli import main

    assert main(["--json", "slicer-extension", "build", "--revision", REV, "--os", "macosx", "--arch", "arm64",
                 "--slicer-version", "5.8", "-o", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["os"] == "macosx" and Path(out["path"]).is_file() and out["file_name"].endswith(".tar.gz")


def test_the_demo_catalog_lists_it(tmp_path):
    from slicer_ext_manager.localserver.index import PackageIndex

    first = pkg.add_to_demo_catalog(tmp_path, revision=REV, os_name="linux", arch="amd64", slicer_version="5.8")
    again = pkg.add_to_demo_catalog(tmp_path, revision=REV, os_name="linux", arch="amd64", slicer_version="5.8")
    assert first == again and [p.name for p in (tmp_path / "inside-slicer").iterdir()] == [first.name]
    stale = first.with_name(first.name.replace("-git", "-gitdeadbee"))
    shutil.copy(first, stale)
    pkg.add_to_demo_catalog(tmp_path, revision=REV, os_name="linux", arch="amd64", slicer_version="5.8")
    assert not stale.exists()
    index = PackageIndex.scan(tmp_path, state_dir=tmp_path.parent / "state")
    assert [i["meta"]["baseName"] for i in index.extension_items()] == ["ExtensionsRestore"]


# -- history sync (a fake model and runner: the signals are Slicer's names) -----------------------------


class FakeSignal:
    def __init__(self):
        self.slots = []

    def connect(self, slot):
        self.slots.append(slot)

    def disconnect(self, slot):
        self.slots.remove(slot)

    def emit(self, *args):
        for slot in list(self.slots):
            slot(*args)


class FakeModel:
    """The signals of ``qSlicerExtensionsManagerModel`` the sync listens to."""

    def __init__(self):
        for name in ("extensionInstalled", "extensionUpdated", "extensionUninstalled",
                     "extensionScheduledForUninstall", "extensionCancelledScheduleForUninstall"):
            setattr(self, name, FakeSignal())


class ManualTimer:
    def __init__(self, *_args):
        pass

    def start(self):
        pass

    def stop(self):
        pass


def test_the_history_follows_the_models_signals(profile):
    manager = ExtensionsManager(profile)
    runner = TaskRunner(ManualTimer)
    errors = []
    sync = HistorySync(manager, runner, on_error=errors.append)
    model = FakeModel()
    sync.connect(model)
    model.extensionInstalled.emit("SlicerIGT")
    model.extensionUpdated.emit("SlicerRT")
    model.extensionScheduledForUninstall.emit("SlicerIGT")
    assert runner.wait_idle(30)
    assert manager.history.names(profile.revision) == ["SlicerIGT", "SlicerRT"]
    assert manager.history.scheduled_for_removal() == ["SlicerIGT"]
    model.extensionCancelledScheduleForUninstall.emit("SlicerIGT")
    model.extensionUninstalled.emit("SlicerRT")
    assert runner.wait_idle(30)
    assert manager.history.names(profile.revision) == ["SlicerIGT"] and manager.history.scheduled_for_removal() == []
    sync.disconnect()
    model.extensionInstalled.emit("Later")
    assert runner.wait_idle(30) and "Later" not in manager.history.names(profile.revision) and errors == []
    runner.shutdown(wait=5)


def test_reconcile_completes_slicers_startup_uninstalls_and_adds_what_is_installed(profile, tmp_path):
    from slicer_ext_manager.localserver.builder import build_extension_package

    manager = ExtensionsManager(profile)
    with profile.user_settings.edit() as e:
        e.set_string_list(f"ExtensionsHistory/Revisions/{profile.revision}", ["Gone", "Kept"])
        e.set_string_list("ExtensionsHistory/ScheduledForRemoval", ["Gone"])
    for name in ("Kept", "Early"):
        assert manager.install_files([build_extension_package(tmp_path, name, app_revision=profile.revision)]).ok
    with profile.user_settings.edit() as e:  # as if Slicer itself had installed Early (no history)
        e.set_string_list(f"ExtensionsHistory/Revisions/{profile.revision}", ["Gone", "Kept"])
    assert reconcile(ExtensionsManager(profile)) == {"added": ["Early"], "removed": ["Gone"]}
    assert manager.history.names(profile.revision) == ["Kept", "Early"]
    assert manager.history.scheduled_for_removal() == []
    assert reconcile(ExtensionsManager(profile)) == {"added": [], "removed": []}


# -- progress and texts ---------------------------------------------------------------------------------


def _ev(kind, name="", index=0, total=2, **kw):
    return QueueEvent(kind, name, index, total, **kw)


def test_install_progress_per_item_and_overall():
    p = InstallProgress(("ToolBase", "Tool"))
    assert p.overall == 0.0 and p.status == "Preparing…"
    p.update(_ev(EventKind.STARTED, "ToolBase", 1))
    p.update(_ev(EventKind.PROGRESS, "ToolBase", 1, phase=Phase.DOWNLOAD, done=500, size=1000))
    assert p.items["ToolBase"].text == "downloading 50% of 1000 B"
    assert p.overall == pytest.approx(0.2)
    assert p.status.startswith("Installing ToolBase (1/2): downloading 50%")
    p.update(_ev(EventKind.FINISHED, "ToolBase", 1, result=JobResult("ToolBase", Outcome.INSTALLED, "ok")))
    assert p.overall == pytest.approx(0.5) and p.items["ToolBase"].text == "installed"
    p.update(_ev(EventKind.STARTED, "Tool", 2))
    p.update(_ev(EventKind.FINISHED, "Tool", 2, result=JobResult("Tool", Outcome.FAILED, "the disk is full")))
    assert p.items["Tool"].text == "failed: the disk is full"
    p.update(_ev(EventKind.ALL_FINISHED, message="1 installed, 1 failed."))
    assert p.overall == 1.0 and p.status == "1 installed, 1 failed." and p.results() == {
        "ToolBase": Outcome.INSTALLED, "Tool": Outcome.FAILED}


def _meta(name):
    from slicer_ext_manager.metadata import ExtensionMetadata

    return ExtensionMetadata(name=name, extension_id="0" * 24, slicer_revision=REV, os="linux", arch="amd64")


@pytest.mark.skipif(running_in_pythonqt(), reason="compares with the PySide6 dialog")
def test_the_startup_question_is_the_standalone_dialogs():
    from slicer_ext_manager.slicermodule.texts import startup_question
    from slicer_ext_manager.ui.prompts import startup_question_text

    for n in (1, 2, 7):
        assert startup_question(n) == startup_question_text(n)


def test_the_restore_lines_and_legend():
    from slicer_ext_manager.restore import plan_restore
    from slicer_ext_manager.slicermodule.texts import LEGEND, CandidateKind, candidate_kind, candidate_line

    plan = plan_restore({"1": ["A", "B"]}, ["C"], ["B"], {}, REV, "linux", "amd64")
    kinds = {c.name: candidate_kind(c) for c in plan.candidates}
    assert kinds == {"A": CandidateKind.UNAVAILABLE, "B": CandidateKind.INSTALLED, "C": CandidateKind.UNAVAILABLE}
    assert candidate_line(plan.get("C")) == "⊘ C ★" and candidate_line(plan.get("B")) == "✓ B"
    available = plan_restore({"1": ["A"]}, [], [], {"A": _meta("A")}, REV, "linux", "amd64")
    assert candidate_kind(available.get("A")) == CandidateKind.SELECTABLE
    assert candidate_line(available.get("A")) == "A"  # its check box is its mark
    unknown = plan_restore({"1": ["A"]}, [], [], None, REV, "linux", "amd64", catalog_note="offline",
                           catalog_unavailable=True)
    assert candidate_kind(unknown.get("A")) == CandidateKind.UNKNOWN
    assert len(LEGEND) == len(CandidateKind) and all(text for _m, _c, text in LEGEND)


def test_the_module_file_has_slicers_four_classes():
    source = pkg.MODULE_SOURCE.read_text(encoding="utf-8")
    tree = ast.parse(source)
    assert {n.name for n in tree.body if isinstance(n, ast.ClassDef)} == {
        "ExtensionsRestore", "ExtensionsRestoreWidget", "ExtensionsRestoreLogic", "ExtensionsRestoreTest"}
