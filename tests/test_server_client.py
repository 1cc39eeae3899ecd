"""The Slicer Package Manager client against the REAL server (Girder + plugin on
loopback, see tests/girder). Marked ``girder``; required in CI."""

from __future__ import annotations

import hashlib
import json

import pytest

from slicer_ext_manager.errors import (
    ChecksumMismatchError,
    HTTPStatusError,
    MalformedResponseError,
    ServerUnreachableError,
    UnknownAppError,
    UnknownExtensionError,
)
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.server import SlicerPackagesClient

from .faultproxy import FaultProxy

pytestmark = pytest.mark.girder

REV, OLD = "33241", "32448"


@pytest.fixture
def proxy(girder_server):
    p = FaultProxy(girder_server.url)
    yield p
    p.close()


def fast_client(url, app_id, **kw):
    return SlicerPackagesClient(url, app_id, backoff=0.01, **kw)


def test_catalog_only_matching_builds(girder_server, girder_app, girder_publish, make_profile):
    girder_publish("Alpha", app_revision=REV, category="Segmentation", depends=("Beta",))
    girder_publish("Beta", app_revision=REV)
    girder_publish("Alpha", app_revision=OLD)
    girder_publish("Alpha", app_revision=REV, os="win")
    girder_publish("Gamma", app_revision=REV, os="macosx")
    ctx = make_profile(girder_server.url, girder_app.app_id)
    manager = ExtensionsManager(ctx, client=fast_client(girder_server.url, girder_app.app_id))
    catalog = manager.catalog()
    assert catalog.names() == ["Alpha", "Beta"]
    alpha = catalog.get("Alpha")
    assert alpha.slicer_revision == REV and alpha.os == "linux" and alpha.arch == "amd64"
    assert alpha.depends == ("Beta",) and alpha.category == "Segmentation"
    assert len(alpha.sha512) == 128
    # Not the production app: a real Slicer never asks for this catalog, so it is kept in our
    # own cache and Slicer's file is left alone (tests/test_catalog_cache.py covers Slicer's file).
    assert not ctx.metadata_cache_path.exists()
    cached = manager.cache.load()
    assert cached is not None and set(cached.extensions) == {"Alpha", "Beta"}
    assert cached.extensions["Alpha"].sha512 == alpha.sha512


def test_empty_revision_is_not_an_error(girder_server, girder_app, girder_publish, make_profile):
    girder_publish("Alpha", app_revision=REV)
    ctx = make_profile(girder_server.url, girder_app.app_id, revision="99999")
    manager = ExtensionsManager(ctx, client=fast_client(girder_server.url, girder_app.app_id))
    catalog = manager.catalog()
    assert catalog.is_empty and not catalog.offline_reason
    assert "no extensions for Slicer revision 99999" in catalog.status_text()


def test_fresh_cache_costs_no_request(girder_server, girder_app, girder_publish, make_profile, proxy):
    girder_publish("Alpha", app_revision=REV)
    ctx = make_profile(proxy.url, girder_app.app_id)
    ExtensionsManager(ctx, client=fast_client(proxy.url, girder_app.app_id)).catalog()
    assert proxy.count("/extension") == 1
    again = ExtensionsManager(ctx, client=fast_client(proxy.url, girder_app.app_id)).catalog()
    assert proxy.count("/extension") == 1 and again.from_cache and again.names() == ["Alpha"]
    # AutoUpdateFrequencyMinutes=0: always due.
    with ctx.user_settings.edit() as e:
        e.set_value("Extensions/AutoUpdateFrequencyMinutes", 0)
    ExtensionsManager(ctx, client=fast_client(proxy.url, girder_app.app_id)).catalog()
    assert proxy.count("/extension") == 2


def test_unknown_name_refreshes_stale_cache_once(girder_server, girder_app, girder_publish, make_profile, proxy):
    girder_publish("Alpha", app_revision=REV)
    ctx = make_profile(proxy.url, girder_app.app_id)
    ExtensionsManager(ctx, client=fast_client(proxy.url, girder_app.app_id)).catalog()
    newer = girder_publish("Newer", app_revision=REV)
    manager = ExtensionsManager(ctx, client=fast_client(proxy.url, girder_app.app_id))
    assert manager.extension_info(newer["_id"]).name == "Newer"  # by id, unknown to the cache
    assert proxy.count("/extension") == 2
    with pytest.raises(UnknownExtensionError, match="no extension named Nope"):
        manager.extension_info("Nope")
    assert proxy.count("/extension") == 2  # the catalog is fresh now: no further request


def test_duplicates_keep_newest(girder_server, girder_app, girder_publish, make_profile):
    girder_publish("Dup", app_revision=REV, scm_revision="0000001")  # into draft/<rev>
    girder_server.admin.create_release(girder_app.app_id, "5.8.1", REV)
    newer = girder_publish("Dup", app_revision=REV, scm_revision="0000002")  # into the release
    client = fast_client(girder_server.url, girder_app.app_id)
    items = client.extension_items(REV, "linux", "amd64")
    assert len([i for i in items if i["meta"]["baseName"] == "Dup"]) == 2
    ctx = make_profile(girder_server.url, girder_app.app_id)
    meta = ExtensionsManager(ctx, client=client).catalog().get("Dup")
    assert meta.extension_id == newer["_id"] and meta.revision == "0000002"


def test_releases_drafts_apps_and_search(girder_server, girder_app, girder_publish):
    girder_publish("Alpha", app_revision=REV, description="Segment the liver", keywords="hepatic")
    girder_publish("Beta", app_revision=REV, description="Register images")
    girder_server.admin.create_release(girder_app.app_id, "5.6.2", OLD)
    client = fast_client(girder_server.url, girder_app.app_id)
    assert client.find_app_id(girder_app.app_name) == girder_app.app_id
    with pytest.raises(UnknownAppError, match="no application named 'NoSuchApp'"):
        client.find_app_id("NoSuchApp")
    assert [r["meta"]["revision"] for r in client.releases()] == [OLD]
    assert [d["name"] for d in client.drafts()] == [REV]
    assert [i["meta"]["baseName"] for i in client.extension_items(REV, "linux", "amd64", q="LIVER")] == ["Alpha"]
    assert [i["meta"]["baseName"] for i in client.extension_items(REV, "linux", "amd64", q="hepatic")] == ["Alpha"]
    assert client.application_packages() == []


def test_download_verified_and_counted(girder_server, girder_app, girder_publish, tmp_path):
    item = girder_publish("Alpha", app_revision=REV)
    client = fast_client(girder_server.url, girder_app.app_id)
    seen = []
    result = client.download_package(item["_id"], tmp_path, name="Alpha", sha512=item["meta"]["sha512"],
                                     progress=lambda d, t: seen.append((d, t)))
    original = girder_publish.tmp_dir / result.file_name
    assert result.path.read_bytes() == original.read_bytes()
    assert result.verified and result.sha512 == hashlib.sha512(original.read_bytes()).hexdigest()
    assert seen and seen[-1] == (original.stat().st_size, original.stat().st_size)
    assert not list(tmp_path.glob("*.part"))
    count = girder_server.admin.wait_extension_download_count(
        girder_app.app_id, 1, name="Alpha", os="linux", arch="amd64", app_revision=REV)
    assert count == 1
    assert client.download_stats()[REV]["extensions"]["Alpha"]["linux"]["amd64"] == 1


def test_resume_after_dropped_connection(girder_server, girder_app, girder_publish, tmp_path, proxy):
    item = girder_publish("Big", app_revision=REV, payload_size=3_000_000)
    proxy.add(r"/file/.*/download", "drop", after_bytes=1_000_000, only_full=True)
    client = fast_client(proxy.url, girder_app.app_id)
    result = client.download_package(item["_id"], tmp_path, name="Big", sha512=item["meta"]["sha512"])
    assert result.resumed == 1 and result.verified
    assert result.path.read_bytes() == (girder_publish.tmp_dir / result.file_name).read_bytes()
    assert proxy.count("/download") == 2
    # The resumed request reached EOF, so the server counted the download.
    girder_server.admin.wait_extension_download_count(
        girder_app.app_id, 1, name="Big", os="linux", arch="amd64", app_revision=REV)


def test_tampered_file_rejected(girder_server, girder_app, girder_publish, tmp_path):
    item = girder_publish("Tampered", app_revision=REV, scm_revision="7a3b9c1", description="unique tamper target")
    stored = girder_server.admin.assetstore_file_path(item["_id"])
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    client = fast_client(girder_server.url, girder_app.app_id)
    with pytest.raises(ChecksumMismatchError, match="sha512") as info:
        client.download_package(item["_id"], tmp_path, name="Tampered", sha512=item["meta"]["sha512"])
    assert "Tampered" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_item_with_two_files_is_refused(girder_server, girder_app, girder_publish, tmp_path):
    item = girder_publish("TwoFiles", app_revision=REV)
    extra = tmp_path / "extra.txt"
    extra.write_text("x")
    girder_server.admin.upload_file(item["_id"], extra)
    client = fast_client(girder_server.url, girder_app.app_id)
    with pytest.raises(Exception, match="lists 2 files for extension TwoFiles"):
        client.download_package(item["_id"], tmp_path / "out", name="TwoFiles")


def test_5xx_retried_then_reported(girder_server, girder_app, girder_publish, proxy):
    girder_publish("Alpha", app_revision=REV)
    proxy.add("/extension", "500", times=2)
    client = fast_client(proxy.url, girder_app.app_id, retries=3)
    assert [i["meta"]["baseName"] for i in client.extension_items(REV, "linux", "amd64")] == ["Alpha"]
    proxy.add("/extension", "500", times=10)
    with pytest.raises(HTTPStatusError, match="answered 500 .*Injected failure") as info:
        fast_client(proxy.url, girder_app.app_id, retries=1).extension_items(REV, "linux", "amd64")
    assert info.value.status == 500


def test_malformed_json_reported(girder_server, girder_app, proxy):
    proxy.add("/extension", "malformed")
    with pytest.raises(MalformedResponseError, match="not valid JSON"):
        fast_client(proxy.url, girder_app.app_id).extension_items(REV, "linux", "amd64")


def test_http_error_carries_server_message(girder_server):
    client = fast_client(girder_server.url, "0" * 24)
    with pytest.raises(HTTPStatusError) as info:
        client.get_json("/item/notanid")
    assert info.value.status == 400 and "Invalid ObjectId" in str(info.value)


def test_unreachable_server_falls_back_to_cache(girder_server, girder_app, girder_publish, make_profile, proxy):
    girder_publish("Alpha", app_revision=REV)
    ctx = make_profile(proxy.url, girder_app.app_id)
    ExtensionsManager(ctx, client=fast_client(proxy.url, girder_app.app_id)).catalog()
    proxy.close()
    with ctx.user_settings.edit() as e:
        e.set_value("Extensions/AutoUpdateFrequencyMinutes", 0)
    manager = ExtensionsManager(ctx, client=fast_client(proxy.url, girder_app.app_id, retries=0, timeout=2))
    catalog = manager.catalog()
    assert catalog.names() == ["Alpha"] and catalog.offline_reason
    assert catalog.status_text().startswith("Offline — catalog from ")
    assert "could not be reached" in catalog.offline_reason
    # Without a cache it is an error with a sentence and a proxy hint.
    other = make_profile(proxy.url, girder_app.app_id, folder=ctx.user_settings_path.parent.parent.parent / "empty")
    with pytest.raises(ServerUnreachableError, match="https_proxy"):
        ExtensionsManager(other, client=fast_client(proxy.url, girder_app.app_id, retries=0, timeout=2)).catalog()


def test_cli_search_json_with_app_name(girder_server, girder_app, girder_publish, make_profile, capsys):
    from slicer_ext_manager.cli import main

    girder_publish("Alpha", app_revision=REV, depends=("Beta",), category="Informatics")
    girder_publish("Beta", app_revision=REV)
    ctx = make_profile(girder_server.url)
    code = main(["--settings-dir", str(ctx.user_settings_path.parent), "--server", girder_server.url,
                 "--app-name", girder_app.app_name, "--revision", REV, "--os", "linux", "--arch", "amd64",
                 "search", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == ["Alpha", "Beta"]
    alpha = data[0]
    assert alpha["depends"] == ["Beta"] and alpha["installed"] is False and alpha["category"] == "Informatics"
    assert set(alpha) >= {"name", "extension_id", "revision", "category", "description", "depends", "installed"}
    assert main(["--settings-dir", str(ctx.user_settings_path.parent), "--server", girder_server.url,
                 "--app-name", girder_app.app_name, "--revision", REV, "info", "Alpha", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "Alpha"
    assert main(["--settings-dir", str(ctx.user_settings_path.parent), "--server", girder_server.url,
                 "--app-name", girder_app.app_name, "--revision", REV, "info", "Nope"]) == 1
    assert "no extension named Nope" in capsys.readouterr().err


def test_user_agent_and_api_key(girder_server, girder_app, proxy):
    from slicer_ext_manager import __version__

    admin = girder_server.admin
    key = admin.call("POST", "/api_key", params={"name": "ci", "active": "true"})["key"]
    client = fast_client(proxy.url, girder_app.app_id, api_key=key)
    me = client.get_json("/user/me")
    assert me and me["admin"] is True
    token_requests = [i for i, r in enumerate(proxy.requests) if r.startswith("/api/v1/api_key/token")]
    assert token_requests, proxy.requests
    last = proxy.headers[-1]
    assert last["User-Agent"].startswith(f"slicer-ext-manager/{__version__} ")
    assert last.get("Girder-Token")
    with pytest.raises(HTTPStatusError):
        fast_client(proxy.url, girder_app.app_id, api_key="not-a-key").get_json("/user/me")
