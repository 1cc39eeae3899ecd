"""Installable into 3D Slicer without PySide6 (README "Inside Slicer"): the wheel built from this
tree, installed the way Slicer's Python gets it — ``pip install --no-deps slicer-ext-manager
platformdirs packaging`` next to the ``requests`` Slicer bundles — runs under PythonQt: a restore
plan and an install with a dependency from a local package server, no PySide6 anywhere.

Slicer's Python is played by a fresh virtualenv of the lane's Python (Debian's 3.11, the one
``pythonqt-run`` embeds); the packages come from the package index. Marked slow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from .bindings import ROOT, require_pythonqt_lane

pytestmark = pytest.mark.slow

#: The files a wheel is built from (copied, so the build leaves this tree untouched).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "slicer_ext_manager")
LANE_PYTHON = "/usr/bin/python3.11"

# Runs inside pythonqt-run from a folder outside this tree, without PYTHONPATH.
SCRIPT = r"""
import json, sys
from pathlib import Path
import slicer_ext_manager
from slicer_ext_manager import qtbinding
from slicer_ext_manager.cli import main
from slicer_ext_manager.context import AppContext
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.localserver.server import PackageServer
from slicer_ext_manager.manager import ExtensionsManager

work = Path(sys.argv[1])
REV, OLD = "33241", "32448"
packages = work / "packages"
build_extension_package(packages, "Tool", app_revision=REV, depends=("ToolBase",))
build_extension_package(packages, "ToolBase", app_revision=REV)
sdir = work / "slicer.org"
sdir.mkdir()
(sdir / "Slicer.ini").write_text(f"[ExtensionsHistory]\nRevisions\\{OLD}=Tool\n", encoding="utf-8")
(sdir / f"Slicer-{REV}.ini").write_text("[Extensions]\nManagerEnabled=true\n", encoding="utf-8")
with PackageServer(packages) as server:
    server.start()
    ctx = AppContext.resolve(settings_dir=sdir, revision=REV, os_name="linux", arch="amd64",
                             server_url=server.url, slicer_version="5.8")
    plan = ExtensionsManager(ctx).restore_plan()
    report = ExtensionsManager(ctx).install([c.name for c in plan.selected])
    rc = main(["--settings-dir", str(sdir), "--revision", REV, "--os", "linux", "--arch", "amd64",
               "--server", server.url, "list", "--json"])
print(json.dumps({
    "module": slicer_ext_manager.__file__,
    "binding": qtbinding.binding().name,
    "selected": [c.name for c in plan.selected],
    "installed": sorted(report.to_json()["installed"]),
    "ok": report.ok,
    "history": (sdir / "Slicer.ini").read_text(encoding="utf-8"),
    "cli": rc,
    "s4ext": sorted(p.name for p in ctx.install_path.glob("*.s4ext")),
    "pyside6": sorted(m for m in sys.modules if m.startswith(("PySide6", "shiboken6"))),
}))
"""


def _run(cmd, cwd) -> subprocess.CompletedProcess:
    # Outside this tree and without PYTHONPATH: pip must not take the source tree (or an
    # egg-info left in it) for an installed copy.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900, cwd=cwd, env=env)
    assert proc.returncode == 0, f"{cmd}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("wheel-src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, src], cwd=out)
    (found,) = out.glob("slicer_ext_manager-*-py3-none-any.whl")
    return found


def test_the_wheel_declares_pyside6_for_the_standalone_app(wheel):
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    requires = [Requirement(line.split(":", 1)[1]) for line in metadata.splitlines()
                if line.startswith("Requires-Dist:")]
    # The app's dependency, which Slicer's Python must not get: hence --no-deps in the README.
    assert {r.name for r in requires if r.marker is None} == {"PySide6-Essentials", "requests", "platformdirs",
                                                             "packaging"}


def test_installed_like_slicer_without_pyside6_it_runs_under_pythonqt(wheel, tmp_path):
    lane = require_pythonqt_lane()
    slicer_python = tmp_path / "slicer-python"
    _run([LANE_PYTHON, "-m", "venv", slicer_python], cwd=tmp_path)
    pip = [slicer_python / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    _run([*pip, "requests"], cwd=tmp_path)  # bundled with Slicer
    _run([*pip, "--no-deps", wheel, "platformdirs", "packaging"], cwd=tmp_path)  # the README's recipe
    listed = json.loads(_run([slicer_python / "bin" / "python", "-m", "pip", "list", "--format", "json"],
                             cwd=tmp_path).stdout)
    names = {p["name"].lower() for p in listed}
    assert "slicer-ext-manager" in names and {"requests", "platformdirs", "packaging"} <= names
    assert not {n for n in names if n.startswith(("pyside", "shiboken", "pyqt"))}
    work = tmp_path / "work"
    work.mkdir()
    env = lane.env(tmp_path / "xdg-runtime", HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "home/.config"),
                   XDG_CACHE_HOME=str(tmp_path / "home/.cache"), NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    env.pop("PYTHONPATH")
    proc = subprocess.run([lane.host, "--venv", slicer_python, "-c", SCRIPT, work], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(result["module"]).is_relative_to(slicer_python)  # the installed wheel, not this tree
    assert result["binding"] == "PythonQt" and result["pyside6"] == []
    assert result["selected"] == ["Tool"] and result["installed"] == ["Tool", "ToolBase"] and result["ok"]
    assert "Revisions\\33241=" in result["history"] and result["cli"] == 0
    assert result["s4ext"] == ["Tool.s4ext", "ToolBase.s4ext"]
