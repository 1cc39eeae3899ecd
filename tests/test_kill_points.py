"""Issue #13, point 6 (and 4): kill the CLI at every file operation of install, update and
uninstall — and fill the disk at every write — then check that the next command finds a
complete old or new state (files, ``.s4ext``, module and launcher paths, history, no
temporary files, no pending journal) and that running the command again finishes it.
The fault injection lives in ``tests/killpoints.py`` (a fork server run as a script);
the shipped code has no hook of any kind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.localserver.server import PackageServer
from slicer_ext_manager.manager import ExtensionsManager

from .conftest import OLD_REVISION, REVISION, write_ini

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the fork server needs os.fork")

MODULES = ("scripted", "cli", "loadable")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill-pkgs")
    build_extension_package(folder, "Tx", app_revision=REVISION, scm_revision="2222222", modules=MODULES)
    build_extension_package(folder, "Other", app_revision=REVISION)
    with PackageServer(folder) as srv:
        srv.start()
        yield srv


def make_template(root: Path, server_url: str, installed: dict[str, str]) -> Path:
    """A profile: Other installed, foreign settings entries, and ``installed`` {name: scm revision}."""
    from slicer_ext_manager.context import AppContext

    sdir = root / "slicer.org"
    write_ini(sdir / "Slicer.ini", f"""
        [Extensions]
        AutoUpdateCheck=false
        Bookmarked=Zed, Tx
        [ExtensionsHistory]
        Revisions\\{OLD_REVISION}=Tx, Other
        [MainWindow]
        DontConfirmRestart=1024
        """)
    write_ini(sdir / f"Slicer-{REVISION}.ini", f"""
        [Extensions]
        ServerUrl={server_url}
        [Modules]
        AdditionalPaths=/opt/wizard/modules
        """)
    ctx = AppContext.resolve(settings_dir=sdir, revision=REVISION, os_name="linux", arch="amd64",
                             server_url=server_url, slicer_version="5.8")
    pkgs = root.parent / f"{root.name}-pkgs"
    for name, rev in {"Other": "abc1234", **installed}.items():
        pkg = build_extension_package(pkgs, name, app_revision=REVISION, scm_revision=rev, modules=MODULES)
        assert ExtensionsManager(ctx).install_files([pkg], with_dependencies=False).ok
    (ctx.install_path / "Tx-icon.png").write_bytes(b"png") if "Tx" in installed else None
    shutil.rmtree(pkgs)
    return root


def run_points(tmp_path: Path, server, mode: str, installed: dict[str, str], argv: list[str],
               first: str = "") -> dict:
    template = make_template(tmp_path / "template", server.url, installed)
    spec = {
        "template": str(template), "work": str(tmp_path / "work"), "mode": mode, "argv": argv,
        "base": ["--settings-dir", "{work}/slicer.org", "--revision", REVISION, "--os", "linux", "--arch", "amd64",
                 "--server", server.url],
        "settings_dir": "slicer.org", "install_path": f"slicer.org/Extensions-{REVISION}", "first": first,
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "killpoints.py"), str(tmp_path / "spec.json")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    result["seconds"] = time.monotonic() - started
    return result


SCENARIOS = {
    "install": ({}, ["install", "Tx"]),
    "update": ({"Tx": "1111111"}, ["update", "Tx"]),
    "uninstall": ({"Tx": "2222222"}, ["uninstall", "Tx"]),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_kill_at_every_file_operation(tmp_path, server, scenario):
    installed, argv = SCENARIOS[scenario]
    result = run_points(tmp_path, server, "kill", installed, argv)
    print(f"\n{scenario}: {result['points']} kill points in {result['seconds']:.1f} s {result['timings']}")
    assert result["points"] > 10
    assert not result["problems"], json.dumps(result["problems"][:5], indent=1)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_disk_full_at_every_write(tmp_path, server, scenario):
    installed, argv = SCENARIOS[scenario]
    result = run_points(tmp_path, server, "enospc", installed, argv)
    print(f"\n{scenario}: {result['points']} disk-full points in {result['seconds']:.1f} s")
    assert result["points"] > 3
    assert not result["problems"], json.dumps(result["problems"][:5], indent=1)


#: Where an interrupted command leaves the most to undo: right before its commit point.
BEFORE_COMMIT = {"install": r"open-w .*/\.Tx\.s4ext\.[a-z0-9_]{8}\.tmp$",
                 "update": r"open-w .*/\.Tx\.s4ext\.[a-z0-9_]{8}\.tmp$",
                 "uninstall": r"^unlink .*/Extensions-\d+/Tx\.s4ext$"}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_kill_during_recovery(tmp_path, server, scenario):
    """The undo itself is killed at each of its operations: the run after it still finishes."""
    installed, argv = SCENARIOS[scenario]
    result = run_points(tmp_path, server, "recovery", installed, argv, BEFORE_COMMIT[scenario])
    print(f"\n{scenario}: {result['points']} recovery kill points in {result['seconds']:.1f} s")
    assert result["points"] > 5
    assert not result["problems"], json.dumps(result["problems"][:5], indent=1)
