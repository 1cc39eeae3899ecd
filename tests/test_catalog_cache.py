"""A cached catalog answers only for the build it was fetched for (server, app, revision,
os, arch); Slicer's own cache file is used for the catalog a real Slicer asks for."""

from __future__ import annotations

import json

import pytest

from slicer_ext_manager.cache import CatalogKey, MetadataCache
from slicer_ext_manager.cli import main
from slicer_ext_manager.conventions import DEFAULT_APP_ID, current_arch, current_os
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.localserver.server import PackageServer
from slicer_ext_manager.manager import ExtensionsManager

from .conftest import REVISION as REV

NATIVE_OS, NATIVE_ARCH = current_os(), current_arch()
OTHER_OS = "win" if NATIVE_OS != "win" else "linux"


@pytest.fixture
def two_platforms(tmp_path):
    """A server with 3 extensions for this platform and 1 for another OS."""
    pkgs = tmp_path / "pkgs"
    for name in ("Alpha", "Beta", "Gamma"):
        build_extension_package(pkgs, name, app_revision=REV, os=NATIVE_OS, arch=NATIVE_ARCH)
    build_extension_package(pkgs, "WinOnly", app_revision=REV, os=OTHER_OS, arch=NATIVE_ARCH)
    with PackageServer(pkgs) as server:
        server.start()
        yield server


def _search(ctx, capsys, *extra):
    base = ["--settings-dir", str(ctx.user_settings_path.parent), "--revision", REV, "--arch", NATIVE_ARCH]
    capsys.readouterr()
    assert main([*base, *extra, "search", "--json"]) == 0
    return sorted(e["name"] for e in json.loads(capsys.readouterr().out))


def test_other_os_is_not_answered_from_the_cache(two_platforms, make_profile, capsys):
    ctx = make_profile(two_platforms.url, os_name=NATIVE_OS, arch=NATIVE_ARCH)
    assert _search(ctx, capsys, "--os", NATIVE_OS) == ["Alpha", "Beta", "Gamma"]
    assert _search(ctx, capsys, "--os", OTHER_OS) == ["WinOnly"]
    assert _search(ctx, capsys, "--os", NATIVE_OS) == ["Alpha", "Beta", "Gamma"]
    # Slicer's own cache still holds this platform's catalog (the other one went to ours).
    data = json.loads(ctx.metadata_cache_path.read_text())
    assert sorted(data) == ["Alpha", "Beta", "Gamma"]
    assert ctx.revision_settings.string("Extensions/MetadataFromServerUrl") == two_platforms.url
    assert ctx.revision_settings.string("Extensions/MetadataFromServerUpdateTime").endswith("Z")


def test_other_app_is_not_answered_from_the_cache(two_platforms, make_profile, capsys):
    ctx = make_profile(two_platforms.url, os_name=NATIVE_OS, arch=NATIVE_ARCH)
    assert _search(ctx, capsys, "--os", NATIVE_OS) == ["Alpha", "Beta", "Gamma"]
    # The server serves one app: another app id is asked for its own catalog (it has none),
    # never answered with the cached catalog of the production app.
    assert _search(ctx, capsys, "--os", NATIVE_OS, "--app-id", "0123456789abcdef01234567") == []
    assert _search(ctx, capsys, "--os", NATIVE_OS) == ["Alpha", "Beta", "Gamma"]


def test_offline_without_a_cache_for_that_platform_says_so(two_platforms, make_profile, capsys):
    ctx = make_profile(two_platforms.url, os_name=NATIVE_OS, arch=NATIVE_ARCH)
    assert _search(ctx, capsys, "--os", NATIVE_OS) == ["Alpha", "Beta", "Gamma"]
    url = two_platforms.url
    two_platforms.stop()
    with ctx.user_settings.edit() as e:
        e.set_value("Extensions/AutoUpdateFrequencyMinutes", 0)
    offline = ExtensionsManager(ctx.with_changes(os=OTHER_OS))
    with pytest.raises(Exception, match=rf"No catalog for Slicer revision {REV} \({OTHER_OS}/{NATIVE_ARCH}\) "
                                        rf"from {url} is cached"):
        offline.catalog()
    # This platform's catalog is still shown offline.
    same = ExtensionsManager(ctx).catalog()
    assert same.offline_reason and same.names() == ["Alpha", "Beta", "Gamma"]


def test_cache_entries_of_another_build_are_refused(make_profile):
    ctx = make_profile("http://127.0.0.1:9", os_name=NATIVE_OS, arch=NATIVE_ARCH)
    cache = MetadataCache(ctx)
    key = CatalogKey.of(ctx)
    assert key.app_id == DEFAULT_APP_ID and key.slicer_own
    from slicer_ext_manager.metadata import ExtensionMetadata

    other_rev = ExtensionMetadata(name="X", slicer_revision="1", os=NATIVE_OS, arch=NATIVE_ARCH)
    assert cache.save({"X": other_rev}, key=key)
    assert cache.load(key) is None  # written, but not a catalog of this build
    assert cache.save({"X": other_rev.replace(slicer_revision=REV)}, key=key)
    assert cache.load(key) is not None
