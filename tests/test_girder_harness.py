"""The Girder test-server harness (tests/girder) and the package builder work."""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from slicer_ext_manager import s4ext
from slicer_ext_manager.localserver.builder import (
    PackageSpec,
    build_extension_package,
    build_from_spec,
    payload_bytes,
)
from tests.girder.fixtures import publish_extension

# Registers the fixtures even before tests/conftest.py does (pytest de-duplicates plugins).
pytest_plugins = ["tests.girder.fixtures"]

REV = "33241"
OLD_REV = "32448"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# builder
# ---------------------------------------------------------------------------------------------


def test_builder_linux_layout_and_s4ext(tmp_path):
    path = build_extension_package(
        tmp_path, "SlicerFoo", app_revision=REV, depends=("SlicerBar", "SlicerBaz"),
        modules=("scripted", "cli", "loadable"), homepage="https://example.org/foo",
        extra_s4ext={"tier": "3"},
    )
    top = f"{REV}-linux-amd64-SlicerFoo-gitabc1234-2025-01-29"
    assert path == tmp_path / f"{top}.tar.gz"
    with tarfile.open(path) as tar:
        names = tar.getnames()
        assert {n.split("/")[0] for n in names} == {top}
        files = {m.name for m in tar.getmembers() if m.isfile()}
        assert files == {
            f"{top}/lib/Slicer-5.8/qt-scripted-modules/SlicerFoo.py",
            f"{top}/lib/Slicer-5.8/cli-modules/SlicerFooCli",
            f"{top}/lib/Slicer-5.8/qt-loadable-modules/libqSlicerSlicerFooModule.so",
            f"{top}/share/Slicer-5.8/SlicerFoo.s4ext",
        }
        text = tar.extractfile(f"{top}/share/Slicer-5.8/SlicerFoo.s4ext").read().decode()
        module = tar.extractfile(f"{top}/lib/Slicer-5.8/qt-scripted-modules/SlicerFoo.py").read().decode()
        members = {m.name: m for m in tar.getmembers()}
    meta = s4ext.parse_text(text, installed_default=False)
    assert meta == {
        "category": "Examples", "contributors": "", "depends": "SlicerBar SlicerBaz",
        "description": "SlicerFoo: a test extension.", "enabled": "1", "homepage": "https://example.org/foo",
        "iconurl": "", "keywords": "", "scm": "git", "scmrevision": "abc1234",
        "scmurl": "https://github.com/example/SlicerFoo.git", "screenshoturls": "", "tier": "3",
    }
    assert text == s4ext.format_text(meta)
    compile(module, "SlicerFoo.py", "exec")
    assert "class SlicerFoo(ScriptedLoadableModule)" in module
    cli = members[f"{top}/lib/Slicer-5.8/cli-modules/SlicerFooCli"]
    assert cli.mode == 0o755
    assert members[f"{top}/share/Slicer-5.8/SlicerFoo.s4ext"].mode == 0o644
    assert all(m.uid == 0 and m.gid == 0 and m.uname == "root" for m in members.values())


def test_builder_defaults_no_depends_and_spec_members(tmp_path):
    spec = PackageSpec("Bar", app_revision=REV)
    path = build_from_spec(tmp_path, spec)
    assert path.name == spec.archive_filename == f"{REV}-linux-amd64-Bar-gitabc1234-2025-01-29.tar.gz"
    with tarfile.open(path) as tar:
        assert [m.name + ("/" if m.isdir() else "") for m in tar.getmembers()] == spec.members()
        meta = s4ext.parse_text(tar.extractfile(spec.s4ext_path).read().decode())
    assert meta["depends"] == "NA"
    assert spec.payload_path is None


def test_builder_zip_for_windows_with_exec_bit(tmp_path):
    path = build_extension_package(tmp_path, "WinExt", app_revision=REV, os="win", modules=("scripted", "cli"))
    top = f"{REV}-win-amd64-WinExt-gitabc1234-2025-01-29"
    assert path.name == f"{top}.zip"
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        infos = {i.filename: i for i in zf.infolist()}
    assert {n.split("/")[0] for n in infos} == {top}
    cli = infos[f"{top}/lib/Slicer-5.8/cli-modules/WinExtCli"]
    assert cli.create_system == 3
    assert stat.S_ISREG(cli.external_attr >> 16)
    assert stat.S_IMODE(cli.external_attr >> 16) == 0o755
    s4 = infos[f"{top}/share/Slicer-5.8/WinExt.s4ext"]
    assert stat.S_IMODE(s4.external_attr >> 16) == 0o644
    assert infos[f"{top}/lib/"].is_dir()
    # explicit kind overrides the OS default
    assert build_extension_package(tmp_path, "WinExt", app_revision=REV, os="linux", kind="zip").suffix == ".zip"
    assert build_extension_package(tmp_path, "WinExt", app_revision=REV, os="win", kind="tar.gz").name.endswith(".tar.gz")


def test_builder_macos_nesting_and_symlink(tmp_path):
    path = build_extension_package(tmp_path, "MacExt", app_revision=REV, os="macosx", arch="amd64")
    top = f"{REV}-macosx-amd64-MacExt-gitabc1234-2025-01-29"
    root = f"{top}/Slicer.app/Contents/Extensions-{REV}/MacExt"
    with tarfile.open(path) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert f"{root}/share/Slicer-5.8/MacExt.s4ext" in members
        assert f"{root}/lib/Slicer-5.8/qt-scripted-modules/MacExt.py" in members
        links = [m for m in members.values() if m.issym()]
        assert len(links) == 1
        link = links[0]
        assert link.name == f"{root}/lib/Slicer-5.8/qt-loadable-modules/libMacExt.dylib"
        assert link.linkname == "libMacExt.1.dylib"  # relative, same folder
        assert f"{root}/lib/Slicer-5.8/qt-loadable-modules/libMacExt.1.dylib" in members
        out = tmp_path / "x"
        if hasattr(tarfile, "data_filter"):
            tar.extractall(out, filter="data")
        else:  # Python < 3.10.12 / 3.11.4
            tar.extractall(out)
    extracted = out / root / "lib/Slicer-5.8/qt-loadable-modules/libMacExt.dylib"
    assert extracted.is_symlink() and extracted.resolve().name == "libMacExt.1.dylib"
    assert extracted.read_bytes().startswith(b"\xcf\xfa\xed\xfe")
    # zip packages carry no symlink
    zpath = build_extension_package(tmp_path, "MacExt", app_revision=REV, os="macosx", kind="zip")
    with zipfile.ZipFile(zpath) as zf:
        assert not any(n.endswith(".dylib") for n in zf.namelist())
        assert f"{root}/share/Slicer-5.8/MacExt.s4ext" in zf.namelist()


@pytest.mark.parametrize("os_name", ["linux", "win", "macosx"])
def test_builder_is_deterministic(tmp_path, os_name):
    kwargs = {"app_revision": REV, "os": os_name, "modules": ("scripted", "cli", "loadable"), "payload_size": 3000}
    a = build_extension_package(tmp_path / "a", "Det", **kwargs)
    b = build_extension_package(tmp_path / "b", "Det", **kwargs)
    assert a.name == b.name
    assert sha256(a) == sha256(b)
    c = build_extension_package(tmp_path / "c", "Det", scm_revision="def5678", **kwargs)
    assert sha256(a) != sha256(c)


def test_builder_payload(tmp_path):
    size = 3 * (1 << 20) + 12345
    spec = PackageSpec("Big", app_revision=REV, payload_size=size)
    path = build_from_spec(tmp_path, spec)
    assert spec.payload_path == f"{spec.content_root}/share/Slicer-5.8/Big-payload.bin"
    assert path.stat().st_size > size  # incompressible
    with tarfile.open(path) as tar:
        member = tar.getmember(spec.payload_path)
        assert member.size == size
        data = tar.extractfile(member).read()
    assert data == b"".join(payload_bytes(b"payload:" + spec.archive_base.encode(), size))
    assert len(set(data[:4096])) > 200  # looks random
    zpath = build_from_spec(tmp_path, PackageSpec("Big", app_revision=REV, payload_size=size, kind="zip"))
    with zipfile.ZipFile(zpath) as zf:
        assert zf.read(spec.payload_path) == data
    assert zpath.stat().st_size > size


def test_builder_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError):
        PackageSpec("Foo", app_revision=REV, os="solaris")
    with pytest.raises(ValueError):
        PackageSpec("Foo", app_revision=REV, modules=("python",))
    with pytest.raises(ValueError):
        PackageSpec("a/b", app_revision=REV)
    with pytest.raises(ValueError):
        PackageSpec("Foo", app_revision=REV, kind="rar")


# ---------------------------------------------------------------------------------------------
# Girder server
# ---------------------------------------------------------------------------------------------


@pytest.mark.girder
def test_server_is_up_and_public(girder_server):
    anon = girder_server.admin.anonymous()
    resp = anon.get(girder_server.api_url + "/system/version", timeout=10)
    assert resp.status_code == 200
    assert resp.json()["release"].startswith("3.1.")
    assert girder_server.url.startswith("http://127.0.0.1:")
    assert girder_server.api_url == girder_server.url + "/api/v1"
    assert girder_server.admin.user["admin"] is True
    # the plugin is mounted (an unknown app id answers null, not 404)
    resp = anon.get(girder_server.api_url + "/app", params={"app_id": "0" * 24}, timeout=10)
    assert resp.status_code == 200 and resp.json() is None


@pytest.mark.girder
def test_apps_are_isolated(girder_server, girder_app):
    app_id, app_name = girder_app
    apps = girder_server.admin.get("app", name=app_name)
    assert [a["_id"] for a in apps] == [app_id]
    assert girder_server.admin.list_extensions(app_id) == []


@pytest.mark.girder
def test_extension_listing_filters(girder_server, girder_app, tmp_path):
    admin, app_id = girder_server.admin, girder_app.app_id
    linux = publish_extension(admin, app_id, tmp_path, "ExtLinux", app_revision=REV, os="linux", arch="amd64",
                              depends=("ExtOther",), category="Segmentation", keywords="seg fast")
    win = publish_extension(admin, app_id, tmp_path, "ExtWin", app_revision=OLD_REV, os="win", arch="amd64")
    anon = admin.anonymous()
    url = f"{girder_server.api_url}/app/{app_id}/extension"

    resp = anon.get(url, params={"app_revision": REV, "os": "linux", "arch": "amd64", "limit": 0}, timeout=10)
    assert resp.status_code == 200
    found = resp.json()
    assert [i["_id"] for i in found] == [linux["_id"]]
    item = found[0]
    archive = tmp_path / f"{REV}-linux-amd64-ExtLinux-gitabc1234-2025-01-29.tar.gz"
    assert item["meta"]["sha512"] == sha512(archive.read_bytes())
    assert item["name"] == f"{REV}_ExtLinux_linux_amd64_abc1234"
    assert item["description"] == item["meta"]["description"] == "ExtLinux: a test extension."
    assert item["meta"]["dependency"] == "ExtOther"
    assert item["meta"]["category"] == "Segmentation"
    assert item["meta"]["keywords"] == "seg fast"
    assert item["meta"]["app_revision"] == REV and item["meta"]["revision"] == "abc1234"
    assert item["meta"]["repository_url"] == "https://github.com/example/ExtLinux.git"

    found = anon.get(url, params={"app_revision": OLD_REV, "os": "win", "arch": "amd64", "limit": 0}, timeout=10).json()
    assert [i["_id"] for i in found] == [win["_id"]]
    assert found[0]["meta"]["dependency"] == "NA"
    assert anon.get(url, params={"app_revision": REV, "os": "win", "arch": "amd64"}, timeout=10).json() == []
    assert anon.get(url, params={"app_revision": "99999", "limit": 0}, timeout=10).json() == []
    bad = anon.get(url, params={"arch": "sparc"}, timeout=10)
    assert bad.status_code == 400 and "Invalid value for arch" in bad.json()["message"]
    # plugin 0.11.0 accepts arm64 (the 0.10 docs list only i386/amd64)
    assert anon.get(url, params={"arch": "arm64"}, timeout=10).json() == []


@pytest.mark.girder
def test_files_download_range_and_stats(girder_server, girder_app, tmp_path):
    admin, app_id = girder_server.admin, girder_app.app_id
    item = publish_extension(admin, app_id, tmp_path, "DlExt", app_revision=REV, scm_revision="d1d1d1d")
    archive = tmp_path / f"{REV}-linux-amd64-DlExt-gitd1d1d1d-2025-01-29.tar.gz"
    data = archive.read_bytes()
    anon = admin.anonymous()
    api = girder_server.api_url

    resp = anon.get(f"{api}/item/{item['_id']}/files", timeout=10)
    files = resp.json()
    assert len(files) == 1
    assert files[0]["name"] == archive.name and files[0]["size"] == len(data)
    assert resp.headers["Girder-Total-Count"] == "1"
    fid = files[0]["_id"]

    key = {"name": "DlExt", "os": "linux", "arch": "amd64", "app_revision": REV}
    assert admin.extension_download_count(app_id, **key) == 0
    resp = anon.get(f"{api}/file/{fid}/download", timeout=30)
    assert resp.status_code == 200 and resp.content == data
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{archive.name}"'
    assert admin.wait_extension_download_count(app_id, 1, **key) == 1
    # draft upload -> counted on the "draft" folder, keyed by app_revision
    assert admin.download_stats(app_id) == {REV: {"extensions": {"DlExt": {"linux": {"amd64": 1}}}}}
    assert admin.draft_folder(app_id)["meta"]["downloadStats"] == {REV: {"extensions": {"DlExt": {"linux": {"amd64": 1}}}}}

    resp = anon.get(f"{api}/file/{fid}/download", headers={"Range": "bytes=10-19"}, timeout=30)
    assert resp.status_code == 206
    assert resp.content == data[10:20]
    assert resp.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    # a range that stops before EOF does not count; a range reaching EOF does
    assert admin.wait_extension_download_count(app_id, 2, timeout=1.0, **key) == 1
    resp = anon.get(f"{api}/file/{fid}/download", headers={"Range": "bytes=10-"}, timeout=30)
    assert resp.status_code == 206 and resp.content == data[10:]
    assert admin.wait_extension_download_count(app_id, 2, **key) == 2
    resp = anon.get(f"{api}/item/{item['_id']}/download", timeout=30)
    assert resp.status_code == 200 and resp.content == data
    assert admin.wait_extension_download_count(app_id, 3, **key) == 3


@pytest.mark.girder
def test_release_upload_and_stats(girder_server, girder_app, tmp_path):
    admin, app_id = girder_server.admin, girder_app.app_id
    release = admin.create_release(app_id, "5.8.0", REV)
    assert release["meta"]["revision"] == REV
    item = publish_extension(admin, app_id, tmp_path, "RelExt", app_revision=REV, os="macosx")
    extensions_folder = admin.get(f"folder/{item['folderId']}")
    assert extensions_folder["name"] == "extensions" and extensions_folder["parentId"] == release["_id"]
    listed = admin.list_extensions(app_id, release_id=release["_id"])
    assert [i["_id"] for i in listed] == [item["_id"]]
    fid = admin.list_item_files(item["_id"])[0]["_id"]
    assert admin.anonymous().get(f"{girder_server.api_url}/file/{fid}/download", timeout=30).status_code == 200
    key = {"name": "RelExt", "os": "macosx", "arch": "amd64", "app_revision": REV}
    assert admin.wait_extension_download_count(app_id, 1, **key) == 1
    # a release keeps its own counts (no revision level); the endpoint re-keys them by meta.revision
    assert admin.get(f"folder/{release['_id']}")["meta"]["downloadStats"] == {
        "extensions": {"RelExt": {"macosx": {"amd64": 1}}}}


@pytest.mark.girder
def test_reupload_replaces_file(girder_server, girder_app, tmp_path):
    admin, app_id = girder_server.admin, girder_app.app_id
    first = publish_extension(admin, app_id, tmp_path / "1", "UpExt", app_revision=REV, scm_revision="1111111")
    second = publish_extension(admin, app_id, tmp_path / "2", "UpExt", app_revision=REV, scm_revision="2222222",
                               description="second version")
    assert second["_id"] == first["_id"]
    assert second["name"] == f"{REV}_UpExt_linux_amd64_2222222"
    assert second["meta"]["revision"] == "2222222"
    assert second["meta"]["description"] == "second version"
    files = admin.list_item_files(second["_id"])
    assert [f["name"] for f in files] == [f"{REV}-linux-amd64-UpExt-git2222222-2025-01-29.tar.gz"]
    archive = tmp_path / "2" / files[0]["name"]
    assert second["meta"]["sha512"] == files[0]["sha512"] == sha512(archive.read_bytes())


@pytest.mark.girder
def test_assetstore_file_path(girder_server, girder_app, tmp_path):
    admin, app_id = girder_server.admin, girder_app.app_id
    item = publish_extension(admin, app_id, tmp_path, "TamperExt", app_revision=REV, scm_revision="7a7a7a7")
    archive = tmp_path / f"{REV}-linux-amd64-TamperExt-git7a7a7a7-2025-01-29.tar.gz"
    data = archive.read_bytes()
    fid = admin.list_item_files(item["_id"])[0]["_id"]
    path = admin.assetstore_file_path(fid)
    assert path == admin.assetstore_file_path(item["_id"])  # item id -> its first file
    assert path.is_file() and path.read_bytes() == data
    assert path.is_relative_to(girder_server.server.assetstore_path)
    # tamper (same size): the server now serves other bytes than meta.sha512 promises
    tampered = bytes([data[0] ^ 0xFF]) + data[1:]
    path.write_bytes(tampered)
    got = admin.anonymous().get(f"{girder_server.api_url}/file/{fid}/download", timeout=30).content
    assert got == tampered
    assert sha512(got) != admin.get_item(item["_id"])["meta"]["sha512"]


@pytest.mark.girder
def test_application_package_upload(girder_server, girder_app, tmp_path):
    admin, app_id = girder_server.admin, girder_app.app_id
    installer = tmp_path / "Slicer-5.8.0-linux-amd64.tar.gz"
    installer.write_bytes(b"not really an installer\n" * 100)
    item = admin.upload_package(app_id, installer, baseName="Slicer", os="linux", arch="amd64",
                                revision=REV, version="5.8.0", pre_release=False)
    assert item["name"] == f"Slicer_linux_amd64_{REV}"
    assert item["meta"]["sha512"] == sha512(installer.read_bytes())
    listed = admin.get(f"app/{app_id}/package", limit=0)
    assert [i["_id"] for i in listed] == [item["_id"]]
    # application packages are not extensions
    assert admin.list_extensions(app_id) == []


@pytest.mark.girder
def test_girder_publish_fixture_and_zip(girder_server, girder_publish, girder_app):
    item = girder_publish("ZipExt", app_revision=REV, os="win", modules=("scripted", "cli"), tier=3)
    assert item["meta"]["os"] == "win" and item["meta"]["tier"] == 3
    files = girder_server.admin.list_item_files(item["_id"])
    assert files[0]["name"].endswith(".zip")
    data = girder_server.admin.anonymous().get(
        f"{girder_server.api_url}/file/{files[0]['_id']}/download", timeout=30).content
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert any(n.endswith("/ZipExt.s4ext") for n in zf.namelist())
    assert (girder_publish.tmp_dir / files[0]["name"]).read_bytes() == data
