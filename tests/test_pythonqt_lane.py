"""The PythonQt lane's own machinery, from the CPython suite: its guard fails a run that imports
PySide6, and its setup script skips with one line (fails under ``CI=true``) without PythonQt."""

from __future__ import annotations

import os
import subprocess
import textwrap

from .bindings import ROOT, require_pythonqt_lane

LANE_SCRIPT = ROOT / "scripts" / "pythonqt-lane.sh"


def test_the_lane_fails_a_test_that_imports_pyside6_even_when_it_catches_the_error(tmp_path):
    lane = require_pythonqt_lane()
    (tmp_path / "test_sneaky.py").write_text(textwrap.dedent("""
        def test_clean():
            import slicer_ext_manager.settings  # noqa: F401

        def test_sneaky():
            try:
                import PySide6.QtCore  # noqa: F401
            except ImportError:
                pass
    """))
    proc = subprocess.run([*lane.command(), "-m", "pytest", "-p", "tests.pythonqt.lane", "-p", "no:cacheprovider",
                           "-q", "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=ROOT, env=lane.env(tmp_path / "xdg"), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ERROR" in proc.stdout and "test_sneaky" in proc.stdout
    assert "another Qt binding was imported under PythonQt: PySide6 (imported at" in proc.stdout
    assert "test_sneaky.py:7" in proc.stdout  # the importing line
    assert "2 passed, 1 error" in proc.stdout  # the clean test is not blamed


def _setup_without_tools(tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "SLICER_EXT_MANAGER_PYTHONQT_TOOLS")}
    environ.update(SLICER_EXT_MANAGER_PYTHONQT_TOOLS_SEARCH=str(tmp_path / "no-tools"),
                   SLICER_EXT_MANAGER_PYTHONQT_DIR=str(tmp_path / "lane"), **env)
    return subprocess.run(["bash", str(LANE_SCRIPT), "setup"], env=environ, capture_output=True, text=True,
                          timeout=60)


def test_without_pythonqt_the_lane_is_skipped_with_one_line(tmp_path):
    proc = _setup_without_tools(tmp_path)
    assert proc.returncode == 3
    assert proc.stdout.splitlines() == [
        f"PythonQt lane skipped: no PythonQt tools (setup.sh) in $SLICER_EXT_MANAGER_PYTHONQT_TOOLS (unset) "
        f"nor in: {tmp_path / 'no-tools'}"]
    assert proc.stderr == ""


def test_without_pythonqt_ci_fails(tmp_path):
    proc = _setup_without_tools(tmp_path, CI="true")
    assert proc.returncode == 1
    assert proc.stdout == "" and proc.stderr.startswith("PythonQt lane FAILED (CI=true needs it): no PythonQt tools")
