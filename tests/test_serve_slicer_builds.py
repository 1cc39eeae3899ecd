"""Slicer application packages on ``serve`` (issue #16): CPack names without sidecars, the
real server's ``GET /app/{id}/package`` shapes, and the core's ``slicer-versions`` /
``install-slicer`` against it (listing, release vs nightly, sha512 refusal, resumed
download, Linux extraction with pre-installed extensions and the launch); the demo's update flow."""

from __future__ import annotations

import json
import time

import pytest
import requests

from slicer_ext_manager.cli import main
from slicer_ext_manager.conventions import DEFAULT_APP_ID
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.localserver.slicer_packages import build_slicer_package
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.server import SlicerPackagesClient

from .conftest import OLD_REVISION
from .faultproxy import FaultProxy
from .faultserver import FaultyPackageServer

APP = DEFAULT_APP_ID
CURRENT, NEW, NIGHTLY = "33241", "34045", "34100"


@pytest.fixture
def folder(tmp_path):
    """Name-only packages: 5.8.1 and 5.10.0 (releases by --release), a 5.11.0 nightly, a Windows
    installer and a macOS disk image; Alpha (needs Beta) and Beta for both releases, Gamma for 5.8.1 only."""
    root = tmp_path / "site"
    build_slicer_package(root, "5.8.1", CURRENT, padding=200_000)
    build_slicer_package(root, "5.10.0", NEW, padding=200_000)
    nightly = build_slicer_package(tmp_path / "n", "5.11.0", NIGHTLY, padding=200_000)
    nightly.rename(root / "Slicer-5.11.0-2026-08-21-linux-amd64.tar.gz")
    build_slicer_package(root, "5.10.0", "0", os_name="win")  # .exe: the revision comes from --release
    build_slicer_package(root, "5.10.0", "0", os_name="macosx", arch="arm64")
    build_slicer_package(root / "unknown", "6.0.0", "0", os_name="win")  # no revision anywhere: skipped
    for revision, xy in ((CURRENT, "5.8"), (NEW, "5.10")):
        build_extension_package(root, "Alpha", app_revision=revision, depends=("Beta",), slicer_version=xy)
        build_extension_package(root, "Beta", app_revision=revision, slicer_version=xy)
    build_extension_package(root, "Gamma", app_revision=CURRENT)
    return root


RELEASES = {"5.8.1": CURRENT, "5.10.0": NEW}


@pytest.fixture
def server(folder):
    with FaultyPackageServer(folder, releases=RELEASES) as srv:
        yield srv


def packages(server, **params) -> list[dict]:
    r = requests.get(f"{server.url}/api/v1/app/{APP}/package", params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_cpack_names_are_indexed_with_the_real_shapes(server):
    everything = packages(server, limit=0)
    by_name = {i["name"]: i for i in everything}
    assert set(by_name) == {"Slicer_linux_amd64_33241", "Slicer_linux_amd64_34045", "Slicer_linux_amd64_34100",
                            "Slicer_win_amd64_34045", "Slicer_macosx_arm64_34045"}
    assert any("Slicer-6.0.0-win-amd64.exe" in w and "--release 6.0.0=REVISION" in w for w in server.index.warnings)
    new = by_name["Slicer_linux_amd64_34045"]
    assert new["meta"]["release"] == "5.10.0" and new["meta"]["version"] == "5.10.0"
    assert len(new["meta"]["sha512"]) == 128 and new["meta"]["revision"] == NEW  # from the launcher settings
    nightly = by_name["Slicer_linux_amd64_34100"]
    assert "release" not in nightly["meta"] and nightly["meta"]["build_date"] == "2026-08-21T00:00:00+00:00"
    assert nightly["meta"]["version"] == "5.11.0"
    assert set(new) == {"_id", "baseParentId", "baseParentType", "created", "creatorId", "description", "folderId",
                        "lowerName", "meta", "name", "size", "updated"}
    # The parameters of reference §3.7.
    assert [i["meta"]["os"] for i in packages(server, os="win")] == ["win"]
    assert [i["meta"]["arch"] for i in packages(server, arch="arm64")] == ["arm64"]
    assert {i["meta"]["revision"] for i in packages(server, release_id_or_name="5.10.0", limit=0)} == {NEW}
    assert [i["meta"]["revision"] for i in packages(server, revision=NIGHTLY)] == [NIGHTLY]
    revisions = [i["meta"]["revision"] for i in packages(server, os="linux", sort="meta.revision", sortdir=-1,
                                                          limit=2)]
    assert revisions == [NIGHTLY, NEW]
    assert [i["meta"]["revision"] for i in packages(server, release_id_or_name="draft", limit=0)] == [NIGHTLY]


def _profile(make_profile, server, tmp_path):
    ctx = make_profile(server.url, APP, revision=CURRENT, folder=tmp_path / "current",
                       user_ini=f"[ExtensionsHistory]\nRevisions\\{OLD_REVISION}=Beta\n")
    manager = ExtensionsManager(ctx, client=SlicerPackagesClient(server.url, APP, backoff=0.01))
    assert manager.install(["Alpha", "Gamma"]).ok
    return ctx, manager


def _base(ctx, url):
    return ["--settings-dir", str(ctx.user_settings_path.parent), "--revision", CURRENT, "--server", url,
            "--app-id", APP, "--os", "linux", "--arch", "amd64"]


def test_slicer_versions_against_serve(server, make_profile, tmp_path, capsys):
    ctx, _ = _profile(make_profile, server, tmp_path)

    def versions(*extra):
        capsys.readouterr()
        assert main([*_base(ctx, server.url), "slicer-versions", "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out)

    assert [(b["version"], b["revision"], b["stability"]) for b in versions()] == [("5.10.0", NEW, "release")]
    assert [b["revision"] for b in versions("--stability", "nightly")] == [NIGHTLY]
    assert [(b["revision"], b["current"]) for b in versions("--stability", "any", "--all")] == [
        (NIGHTLY, False), (NEW, False), (CURRENT, True)]


def test_install_slicer_from_serve_with_extensions_and_launch(server, make_profile, tmp_path, capsys, monkeypatch):
    ctx, _ = _profile(make_profile, server, tmp_path)
    dest = tmp_path / "apps" / "Slicer-5.10.0"
    started = tmp_path / "started.txt"
    monkeypatch.setenv("SLICER_STANDIN_STARTED", str(started))
    capsys.readouterr()
    code = main([*_base(ctx, server.url), "install-slicer", "latest", "--dest", str(dest), "--yes", "--launch",
                 "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["build"]["revision"] == NEW and report["download"]["verified"] is True
    assert (dest / "Slicer").is_file() and (dest / "bin" / "SlicerLauncherSettings.ini").is_file()
    assert sorted(report["extensions"]["installed"]) == ["Alpha", "Beta"]
    assert [i["name"] for i in report["not_available"]] == ["Gamma"]
    assert (dest / "slicer.org" / f"Extensions-{NEW}" / "Alpha.s4ext").is_file()
    deadline = time.monotonic() + 20
    while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.read_text().startswith(f"Slicer 5.10.0 r{NEW}")


def test_sha512_refusal_and_resumed_download_against_serve(server, folder, make_profile, tmp_path):
    ctx, manager = _profile(make_profile, server, tmp_path)
    proxy = FaultProxy(server.url)
    try:
        proxy.add("/file/.*/download", "drop", times=1, after_bytes=50_000, only_full=True)
        proxied = ExtensionsManager(ctx.with_changes(server_url=proxy.url),
                                    client=SlicerPackagesClient(proxy.url, APP, backoff=0.01))
        result = proxied.slicer_updates.download(proxied.slicer_updates.pick(NEW))
        assert result.verified and result.resumed >= 1
    finally:
        proxy.close()


def test_tampered_package_is_refused_against_serve(server, folder, make_profile, tmp_path):
    ctx, manager = _profile(make_profile, server, tmp_path)
    # Other bytes of the same size under the package's name: the server refuses bytes it did not
    # index, and nothing is installed.
    target = folder / "Slicer-5.10.0-linux-amd64.tar.gz"
    size = target.stat().st_size
    target.unlink()
    target.write_bytes(b"\0" * size)
    updater = manager.slicer_updates
    report = updater.install(updater.pick(NEW), dest=tmp_path / "bad", extensions=False)
    assert not report.ok and report.error and not (tmp_path / "bad").exists()


def test_demo_catalog_offers_the_slicer_update(tmp_path):
    from slicer_ext_manager.localserver import demo

    with demo.prepare_demo(tmp_path / "w", preinstall=False) as env:
        builds = env.manager.slicer_updates.builds()
        assert [(b.version, b.revision) for b in builds] == [(demo.NEW_VERSION, demo.NEW_REVISION)]
        assert any("install-slicer latest" in line for line in env.update_hint())
        new_items = env.manager.client.extension_items(demo.NEW_REVISION, "linux", "amd64")
        assert {i["meta"]["baseName"] for i in new_items} == set(demo.CARRIED)
