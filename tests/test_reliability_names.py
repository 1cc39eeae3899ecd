"""Issue #13, data loss by names and packages (points 1, 2, 11, 12): no name read from the
command line, a settings file, a profile, a server or a package ever becomes a path outside
the install folder, a glob, or another extension's files; a package never replaces another
extension; an unverifiable package says so."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from slicer_ext_manager import s4ext
from slicer_ext_manager.cli import main
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.network import ServerOptions

from .conftest import REVISION, write_ini
from .hostile import HostileServer, serve_packages

INVALID = "is not a valid extension name"


@pytest.fixture
def cli(make_profile, capsys):
    """``run(*args) -> (code, out, err)`` on a fresh profile (``run.ctx``)."""
    ctx = make_profile()

    def run(*args: str, ctx_=None):
        c = ctx_ or ctx
        base = ["--settings-dir", str(c.user_settings_path.parent), "--revision", REVISION, "--os", "linux",
                "--arch", "amd64", "--server", c.server_url]
        capsys.readouterr()
        code = main([*base, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    run.ctx = ctx
    return run


def install_file(ctx, tmp_path, name, **kw):
    pkg = build_extension_package(tmp_path / "pkgs", name, app_revision=REVISION, **kw)
    report = ExtensionsManager(ctx).install_files([pkg], with_dependencies=False)
    assert report.ok, report.to_json()
    return pkg


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(folder.rglob("*"))}


# -- 1. names are identifiers, wherever they come from -----------------------------------------------------


def test_uninstall_of_a_path_deletes_nothing_outside(cli, tmp_path):
    ip = cli.ctx.install_path
    ip.mkdir(parents=True)
    victim = ip.parent / "Victim"
    victim.mkdir()
    (victim / "data.txt").write_text("precious")
    (ip.parent / "Victim.s4ext").write_text("installed true\n")
    code, out, err = cli("uninstall", "../Victim")
    assert code == 1 and INVALID in err and "Uninstalled" not in out
    assert (victim / "data.txt").read_text() == "precious" and (ip.parent / "Victim.s4ext").exists()
    # The Python API checks the same (the dialog and host scripts go through it).
    manager = ExtensionsManager(cli.ctx)
    for name in ("../Victim", "Victim/../../Victim", "M*"):
        for schedule in (False, True):
            report = manager.uninstall([name], schedule=schedule)
            assert not report.ok and INVALID in report.results[0].message
    assert (victim / "data.txt").read_text() == "precious"
    # An option-like name after "--" gets the same sentence, not a usage error.
    code, _, err = cli("uninstall", "--", "-x")
    assert code == 1 and "'-x' " + INVALID in err


def test_scheduled_uninstall_of_a_path_is_dropped_and_reported(cli):
    ctx = cli.ctx
    ip = ctx.install_path
    ip.mkdir(parents=True)
    (ip.parent / "Victim").mkdir()
    (ip.parent / "Victim.s4ext").write_text("installed true\n")
    write_ini(ctx.revision_settings_path, "[Extensions]\nScheduledForUninstall=../Victim, ../*\nKeep=1\n")
    code, out, err = cli("apply-scheduled")
    assert code == 1 and err.count(INVALID) == 2 and "removed from that list" in err
    assert "Successfully uninstalled" not in out
    assert (ip.parent / "Victim").is_dir() and (ip.parent / "Victim.s4ext").exists()
    text = ctx.revision_settings_path.read_text()
    assert "Victim" not in text and "Keep=1" in text


def test_a_name_inside_another_package_is_refused(cli, tmp_path):
    ctx = cli.ctx
    install_file(ctx, tmp_path, "SlicerIGSIO")
    inner = ctx.install_path / "SlicerIGSIO/share/Slicer-5.8/SlicerIGSIO.s4ext"
    before = snapshot(ctx.install_path), ctx.revision_settings_path.read_bytes()
    for command in ("uninstall", "disable", "enable"):
        code, _, err = cli(command, "SlicerIGSIO/share/Slicer-5.8/SlicerIGSIO")
        assert code == 1 and INVALID in err, (command, err)
    assert inner.exists() and (snapshot(ctx.install_path), ctx.revision_settings_path.read_bytes()) == before


def test_revision_is_a_number(cli, tmp_path):
    code, _, err = cli("--revision", "../../../x", "list")
    assert code == 1 and "is not a Slicer revision" in err
    assert not list(tmp_path.rglob("x.ini")) and not list(tmp_path.parent.glob("x.ini"))


def test_invalid_names_in_settings_are_skipped_with_a_warning(cli, tmp_path):
    ctx = cli.ctx
    install_file(ctx, tmp_path, "Good")
    write_ini(ctx.user_settings_path, r"""
        [Extensions]
        Bookmarked=Good, ../Victim, M*
        [ExtensionsHistory]
        Revisions\32448=Good, ../../etc, Other
        ScheduledForRemoval=../Victim
        """)
    before = ctx.user_settings_path.read_bytes()
    code, out, err = cli("bookmark", "list", "--json")
    assert code == 0 and [b["name"] for b in json.loads(out)] == ["Good"]
    assert "'../Victim' in Extensions/Bookmarked" in err and "'M*'" in err and "skipped" in err
    code, out, err = cli("history", "--json")
    assert code == 0 and json.loads(out)["revisions"]["32448"] == ["Good", "Other"] and "'../../etc'" in err
    code, out, err = cli("list", "--json")
    assert code == 0 and [e["name"] for e in json.loads(out)] == ["Good"]
    assert ctx.user_settings_path.read_bytes() == before  # reading never rewrites what it skipped
    # Adding a bookmark keeps the foreign entries as they are.
    assert cli("bookmark", "add", "Zed")[0] == 0
    from slicer_ext_manager.settings import SettingsFile

    assert SettingsFile(ctx.user_settings_path).string_list("Extensions/Bookmarked") == \
        ["Good", "../Victim", "M*", "Zed"]


def test_server_items_and_cache_entries_named_like_paths_are_dropped(make_profile, tmp_path):
    good = build_extension_package(tmp_path / "pkgs", "Fine", app_revision=REVISION)
    with HostileServer() as server:
        items = serve_packages(server, [good])
        evil = json.loads(json.dumps(items["Fine"]))
        evil["_id"], evil["meta"]["baseName"] = "e" * 24, "../Evil"
        items["../Evil"] = evil
        ctx = make_profile(server.url)
        manager = ExtensionsManager(ctx)
        assert manager.catalog(refresh=True).names() == ["Fine"]
    # A cache file with such an entry: ignored.
    cache = ctx.install_path / "ExtensionsMetadataFromServer.json"
    data = json.loads(cache.read_text())
    data["../Evil"] = dict(data["Fine"], extensionname="../Evil")
    cache.write_text(json.dumps(data))
    assert ExtensionsManager(ctx).cached_catalog().names() == ["Fine"]


def _package(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("description", ["Bad Name.s4ext", "M*.s4ext", "-opt.s4ext"])
def test_a_package_describing_an_invalid_name_is_refused(make_profile, tmp_path, description):
    ctx = make_profile()
    top = f"{REVISION}-linux-amd64-X-git1234567-2025-01-01"
    pkg = _package(tmp_path / f"{top}.tar.gz", {f"{top}/share/Slicer-5.8/{description}": b"scm git\n",
                                                f"{top}/lib/Slicer-5.8/qt-scripted-modules/x.py": b"x"})
    report = ExtensionsManager(ctx).install_files([pkg], with_dependencies=False)
    assert not report.ok and INVALID in report.results[0].message
    assert not ctx.install_path.exists() or not [p for p in ctx.install_path.iterdir() if p.name != ".staging"]


def test_invalid_dependency_names_of_a_package_are_ignored(make_profile, tmp_path):
    ctx = make_profile()
    pkg = build_extension_package(tmp_path / "pkgs", "Deps", app_revision=REVISION, depends=("../Evil",))
    report = ExtensionsManager(ctx).install_files([pkg])
    assert report.ok and any("'../Evil'" in w and INVALID in w for w in report.warnings)


# -- 2. uninstall deletes exactly <Name>-icon.<image ext> ---------------------------------------------------


def test_uninstall_deletes_only_its_own_icon(cli, tmp_path):
    ctx = cli.ctx
    install_file(ctx, tmp_path, "MarkupsToModel")
    install_file(ctx, tmp_path, "MarkupsToModel-icon")  # another extension, whose name ends like an icon
    ip = ctx.install_path
    (ip / "MarkupsToModel-icon.png").write_bytes(b"png")
    (ip / "MarkupsToModel-icon.jpg").write_bytes(b"jpg")
    (ip / "MarkupsToModel-iconic.png").write_bytes(b"other")
    code, _, err = cli("uninstall", "M*")
    assert code == 1 and INVALID in err and (ip / "MarkupsToModel-icon.png").exists()
    code, out, err = cli("uninstall", "MarkupsToModel")
    assert code == 0, err
    assert not (ip / "MarkupsToModel-icon.png").exists() and not (ip / "MarkupsToModel-icon.jpg").exists()
    assert (ip / "MarkupsToModel-icon.s4ext").exists() and (ip / "MarkupsToModel-icon").is_dir()
    assert (ip / "MarkupsToModel-iconic.png").exists()
    assert [e.name for e in ExtensionsManager(ctx).registry.installed()] == ["MarkupsToModel-icon"]


# -- 11. a package never replaces another extension ---------------------------------------------------------


def test_file_named_for_one_extension_holding_another_is_refused(make_profile, tmp_path):
    ctx = make_profile()
    install_file(ctx, tmp_path, "Victim", scm_revision="1111111")
    before = snapshot(ctx.install_path)
    impostor = build_extension_package(tmp_path / "other", "Victim", app_revision=REVISION, scm_revision="2222222")
    renamed = impostor.rename(impostor.with_name(f"{REVISION}-linux-amd64-Innocent-git2222222-2025-01-29.tar.gz"))
    manager = ExtensionsManager(ctx)
    for force in (False, True):
        report = manager.install_files([renamed], force=force, with_dependencies=False)
        assert not report.ok and "named as a package of extension Innocent" in report.results[0].message
    assert snapshot(ctx.install_path) == before
    # A file that names no extension may not replace an installed one either (unless --force).
    top = "not-a-cpack-name"
    anonymous = _package(tmp_path / "download.tar.gz", {
        f"{top}/share/Slicer-5.8/Victim.s4ext": b"scm git\nscmrevision 3333333\n",
        f"{top}/lib/Slicer-5.8/qt-scripted-modules/Victim.py": b"print('x')\n"})
    report = manager.install_files([anonymous], with_dependencies=False)
    assert not report.ok and "would replace the installed extension Victim" in report.results[0].message
    assert snapshot(ctx.install_path) == before
    assert manager.install_files([anonymous], force=True, with_dependencies=False).ok
    assert s4ext.read(ctx.install_path / "Victim.s4ext")["revision"] == "3333333"


# -- 12. packages without a published checksum -----------------------------------------------------------


def test_package_without_checksum_warns_and_can_be_refused(make_profile, tmp_path, capsys):
    pkg = build_extension_package(tmp_path / "pkgs", "Unsigned", app_revision=REVISION)
    with HostileServer() as server:
        serve_packages(server, [pkg], sha512=False)
        ctx = make_profile(server.url)
        base = ["--settings-dir", str(ctx.user_settings_path.parent), "--revision", REVISION, "--os", "linux",
                "--arch", "amd64", "--server", server.url]
        assert main([*base, "install", "Unsigned", "--require-checksum", "--json"]) == 1
        data = json.loads(capsys.readouterr().out)
        assert "publishes no checksum" in data["failed"][0]["error"] and "--require-checksum" in data["failed"][0]["error"]
        assert not (ctx.install_path / "Unsigned.s4ext").exists()
        assert not any("/download" in p for p in server.paths())  # refused before downloading
        # The same through the Python API.
        strict = ExtensionsManager(ctx, ServerOptions(require_checksum=True)).install(["Unsigned"])
        assert not strict.ok and "publishes no checksum" in strict.results[0].message
        # Without the option: installed, with a warning in the result and the CLI output.
        assert main([*base, "install", "Unsigned"]) == 0
        err = capsys.readouterr().err
        assert "warning: Unsigned was not verified" in err
        assert main([*base, "uninstall", "Unsigned"]) == 0
        report = ExtensionsManager(ctx).install(["Unsigned"])
        assert report.ok and any("was not verified" in w for w in report.warnings)
        assert any("was not verified" in w for w in report.to_json()["results"][0]["warnings"])
