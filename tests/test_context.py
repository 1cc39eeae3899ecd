"""Context resolution order (issue: foundation, point 1)."""

from __future__ import annotations

import pytest

from slicer_ext_manager.context import DEFAULT_APP_ID, DEFAULT_SERVER_URL, AppContext, current_arch, current_os
from slicer_ext_manager.errors import ContextError

from .conftest import write_ini


def test_only_revision_file_is_found(settings_dir):
    write_ini(settings_dir / "Slicer-33241.ini", "[Extensions]\n")
    write_ini(settings_dir / "Slicer-33241-tmp.ini", "")  # --disable-settings files are not revisions
    ctx = AppContext.resolve(settings_dir=settings_dir)
    assert ctx.revision == "33241"
    assert ctx.user_settings_path == (settings_dir / "Slicer.ini").resolve()
    assert ctx.install_path == (settings_dir / "Extensions-33241").resolve()
    assert ctx.server_url == DEFAULT_SERVER_URL and ctx.app_id == DEFAULT_APP_ID
    assert ctx.os == current_os() and ctx.arch == current_arch()


def test_several_revision_files_need_a_choice(settings_dir):
    write_ini(settings_dir / "Slicer-33241.ini", "")
    write_ini(settings_dir / "Slicer-32448.ini", "")
    with pytest.raises(ContextError) as info:
        AppContext.resolve(settings_dir=settings_dir)
    assert "Slicer-32448.ini, Slicer-33241.ini" in str(info.value) and "--revision" in str(info.value)
    assert AppContext.resolve(settings_dir=settings_dir, revision="32448").revision == "32448"


def test_environment_and_settings_order(settings_dir, monkeypatch, tmp_path):
    write_ini(settings_dir / "Slicer-1.ini", "[Extensions]\nServerUrl=http://from-settings/\nInstallPath=/abs/ext\n")
    monkeypatch.setenv("SLICER_EXT_MANAGER_SETTINGS_DIR", str(settings_dir))
    ctx = AppContext.resolve()
    assert ctx.server_url == "http://from-settings" and str(ctx.install_path) == "/abs/ext"
    monkeypatch.setenv("SLICER_EXTENSIONS_MANAGER_SERVER_URL", "http://from-env//")
    assert AppContext.resolve().server_url == "http://from-env"
    assert AppContext.resolve(server_url="http://explicit/").server_url == "http://explicit"
    assert AppContext.resolve(install_path=tmp_path / "x").install_path == (tmp_path / "x").resolve()


def test_platform_default_and_legacy_na_mic(tmp_path, monkeypatch):
    config = tmp_path / "cfg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    write_ini(config / "NA-MIC" / "Slicer-30893.ini", "")
    ctx = AppContext.resolve()
    assert ctx.revision == "30893" and ctx.user_settings_path.parent.name == "NA-MIC"
    write_ini(config / "slicer.org" / "Slicer-33241.ini", "")
    assert AppContext.resolve().revision == "33241"


def test_explicit_files(tmp_path):
    rev = write_ini(tmp_path / "a" / "Slicer-34045.ini", "")
    user = write_ini(tmp_path / "b" / "MySlicer.ini", "")
    ctx = AppContext.resolve(user_settings=user, revision_settings=rev, os_name="win", arch="amd64")
    assert ctx.revision == "34045" and ctx.user_settings_path == user.resolve() and ctx.os == "win"
    with pytest.raises(ContextError, match="--revision"):
        AppContext.resolve(revision_settings=write_ini(tmp_path / "c.ini", ""))


def test_unknown_os_is_refused(settings_dir):
    write_ini(settings_dir / "Slicer-1.ini", "")
    with pytest.raises(ContextError, match="linux, win or macosx"):
        AppContext.resolve(settings_dir=settings_dir, os_name="beos")
