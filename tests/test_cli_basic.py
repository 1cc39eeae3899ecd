"""CLI skeleton: exit codes, --json anywhere, list on a prepared profile."""

from __future__ import annotations

import json
import subprocess
import sys

from slicer_ext_manager.cli import main

from .conftest import write_ini
from .test_registry import make_installed


def test_list_json_on_prepared_profile(profile, capsys):
    make_installed(profile.install_path, "SlicerIGT", revision="1a2b3c4")
    make_installed(profile.install_path, "Old", slicer_revision="30893", enabled=False)
    code = main(["--settings-dir", str(profile.user_settings_path.parent), "--revision", "33241",
                 "--os", "linux", "--arch", "amd64", "list", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == ["Old", "SlicerIGT"]
    assert {k: data[1][k] for k in ("name", "revision", "enabled", "installed", "compatible")} == {
        "name": "SlicerIGT", "revision": "1a2b3c4", "enabled": True, "installed": True, "compatible": True}
    assert data[0]["enabled"] is False and data[0]["compatible"] is False
    assert data[0]["reasons"] == ["extensionSlicerRevision [30893] is different from slicerRevision [33241]"]


def test_list_text_and_json_before_command(profile, capsys):
    make_installed(profile.install_path, "SlicerIGT")
    sd = str(profile.user_settings_path.parent)
    assert main(["--json", "--settings-dir", sd, "list"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "SlicerIGT"
    assert main(["list", "--settings-dir", sd, "--os", "linux", "--arch", "amd64"]) == 0
    out = capsys.readouterr().out
    assert "SlicerIGT" in out and "NAME" in out


def test_failure_is_one_sentence_and_exit_1(tmp_path, capsys):
    assert main(["--settings-dir", str(tmp_path / "nothing"), "list"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("slicer-ext-manager: Cannot choose the Slicer revision") and "\n" not in err


def test_usage_error_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "slicer_ext_manager", "list", "--no-such-option"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr


def test_info_context_json(settings_dir, capsys):
    write_ini(settings_dir / "Slicer-33241.ini", "[Extensions]\nServerUrl=http://127.0.0.1:9/\n")
    assert main(["--settings-dir", str(settings_dir), "info-context", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["revision"] == "33241" and data["server_url"] == "http://127.0.0.1:9"
    assert data["origins"]["server_url"] == "Extensions/ServerUrl"
