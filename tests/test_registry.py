"""Installed-extension registry and the paths it registers (reference §4.6, §4.9)."""

from __future__ import annotations

from pathlib import Path

from slicer_ext_manager import s4ext
from slicer_ext_manager.context import AppContext
from slicer_ext_manager.registry import ExtensionRegistry, module_paths_for

from .conftest import write_ini


def make_installed(install: Path, name: str, *, version="5.8", kinds=("cli-modules", "qt-scripted-modules"), **meta):
    folder = install / name
    for kind in kinds:
        (folder / "lib" / f"Slicer-{version}" / kind).mkdir(parents=True, exist_ok=True)
    data = {"extension_id": f"id{name}", "revision": "abc", "slicer_revision": "33241", "os": "linux",
            "arch": "amd64", "enabled": True, "installed": True, "depends": "NA"}
    data.update(meta)
    s4ext.write(install / f"{name}.s4ext", data)
    return folder


def test_registry_is_the_description_file(profile):
    install = profile.install_path
    install.mkdir(parents=True)
    make_installed(install, "beta")
    make_installed(install, "Alpha")
    (install / "FolderOnly").mkdir()  # a folder without .s4ext is not an installed extension
    s4ext.write(install / "Bookmarked.s4ext", {"installed": False})
    s4ext.write(install / "Old.s4ext", {"revision": "1"})  # pre-5.0.3 file: installed by default
    names = ExtensionRegistry(profile).names()
    assert names == ["Alpha", "beta", "Old"]
    assert ExtensionRegistry(profile).get("Bookmarked") is None


def test_module_paths_only_existing_folders(tmp_path):
    folder = tmp_path / "Ext"
    (folder / "lib/Slicer-5.8/qt-loadable-modules/Python").mkdir(parents=True)
    (folder / "lib/Slicer-5.8/cli-modules").mkdir(parents=True)
    (folder / "lib/python3.9/site-packages").mkdir(parents=True)
    (folder / "lib/QtPlugins").mkdir(parents=True)
    paths = module_paths_for(folder, "5.8", "linux")
    p = folder.as_posix()
    assert paths.additional_paths == (f"{p}/lib/Slicer-5.8/cli-modules", f"{p}/lib/Slicer-5.8/qt-loadable-modules")
    assert paths.library_paths == (f"{p}/lib/Slicer-5.8", f"{p}/lib/Slicer-5.8/cli-modules", f"{p}/lib/Slicer-5.8/qt-loadable-modules")
    assert paths.paths == (f"{p}/lib/Slicer-5.8/cli-modules",)
    assert paths.python_paths == (
        f"{p}/lib/Slicer-5.8/qt-loadable-modules",
        f"{p}/lib/Slicer-5.8/qt-loadable-modules/Python",
        f"{p}/lib/python3.9/site-packages",
    )
    assert paths.qt_plugin_paths == (f"{p}/lib/QtPlugins",)
    # Version detected from the package when the context does not know it.
    assert module_paths_for(folder, None, "linux") == paths


def test_add_and_remove_paths_preserve_foreign_entries(profile):
    install = profile.install_path
    install.mkdir(parents=True)
    make_installed(install, "Ext")
    make_installed(install, "ExtMore")  # same prefix: must not be touched when removing Ext
    foreign = "/home/me/MyWizardModule"
    with profile.revision_settings.edit() as e:
        e.set_string_list("Modules/AdditionalPaths", [foreign])
        e.set_array("PYTHONPATH", ["/opt/foreign/python"])
    reg = ExtensionRegistry(profile)
    with profile.revision_settings.edit() as e:
        reg.add_paths(e, "Ext")
        reg.add_paths(e, "ExtMore")
        reg.add_paths(e, "Ext")  # idempotent
    r = profile.revision_settings.read()
    extp = (install / "Ext/lib/Slicer-5.8").as_posix()
    assert r.string_list("Modules/AdditionalPaths") == [
        foreign,
        f"{extp}/cli-modules",
        f"{extp}/qt-scripted-modules",
        (install / "ExtMore/lib/Slicer-5.8/cli-modules").as_posix(),
        (install / "ExtMore/lib/Slicer-5.8/qt-scripted-modules").as_posix(),
    ]
    assert r.array("PYTHONPATH")[:2] == ["/opt/foreign/python", f"{extp}/qt-scripted-modules"]
    assert r.array("Paths") == [f"{extp}/cli-modules", (install / "ExtMore/lib/Slicer-5.8/cli-modules").as_posix()]
    assert reg.registered_paths("Ext")["Modules/AdditionalPaths"] == [f"{extp}/cli-modules", f"{extp}/qt-scripted-modules"]
    with profile.revision_settings.edit() as e:
        reg.remove_paths(e, "Ext")
    r = profile.revision_settings.read()
    assert r.string_list("Modules/AdditionalPaths") == [
        foreign,
        (install / "ExtMore/lib/Slicer-5.8/cli-modules").as_posix(),
        (install / "ExtMore/lib/Slicer-5.8/qt-scripted-modules").as_posix(),
    ]
    assert r.array("PYTHONPATH") == ["/opt/foreign/python", (install / "ExtMore/lib/Slicer-5.8/qt-scripted-modules").as_posix()]
    assert r.array("LibraryPaths") == [(install / "ExtMore/lib/Slicer-5.8").as_posix(), (install / "ExtMore/lib/Slicer-5.8/cli-modules").as_posix()]


def test_paths_inside_slicer_home_are_stored_relative(tmp_path):
    home = tmp_path / "Slicer-5.8.1-linux-amd64"
    (home / "lib/Slicer-5.8").mkdir(parents=True)
    (home / "bin").mkdir()
    (home / "bin/SlicerApp-real").write_text("")
    org = home / "slicer.org"
    write_ini(org / "Slicer-33241.ini", "[Extensions]\nInstallPath=slicer.org/Extensions-33241\n")
    ctx = AppContext.resolve(settings_dir=tmp_path / "user", revision_settings=org / "Slicer-33241.ini",
                             os_name="linux", arch="amd64")
    assert ctx.slicer_home == home.resolve()
    assert ctx.slicer_version == "5.8"
    assert ctx.install_path == (org / "Extensions-33241").resolve()
    make_installed(ctx.install_path, "Ext")
    reg = ExtensionRegistry(ctx)
    with ctx.revision_settings.edit() as e:
        reg.add_paths(e, "Ext")
    text = (org / "Slicer-33241.ini").read_text()
    assert "AdditionalPaths=slicer.org/Extensions-33241/Ext/lib/Slicer-5.8/cli-modules, slicer.org/Extensions-33241/Ext/lib/Slicer-5.8/qt-scripted-modules\n" in text
    assert "1\\path=slicer.org/Extensions-33241/Ext/lib/Slicer-5.8\n" in text
    # Relative entries are recognised as the extension's when removing.
    assert reg.registered_paths("Ext")["Modules/AdditionalPaths"]
    with ctx.revision_settings.edit() as e:
        reg.remove_paths(e, "Ext")
    assert ctx.revision_settings.read().string_list("Modules/AdditionalPaths") == []
