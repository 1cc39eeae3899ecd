"""The offline package server (``slicer_ext_manager.localserver.index`` / ``.server``).

Packages are built in ``tmp_path`` with the Slicer-layout builder; the server runs
on port 0 and is queried with ``requests``. Expected shapes and messages are those of
reference ``slicer-package-server-api.md`` §2.4, §3, §4.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import re
import threading
import time
from pathlib import Path

import pytest
import requests

import slicer_ext_manager.localserver as localserver_pkg
from slicer_ext_manager import conventions
from slicer_ext_manager.cli.servers import serve_command
from slicer_ext_manager.conventions import DEFAULT_APP_ID
from slicer_ext_manager.localserver import index as index_mod
from slicer_ext_manager.localserver.builder import KINDS, PackageSpec, build_extension_package, build_from_spec
from slicer_ext_manager.localserver.documents import derive_id
from slicer_ext_manager.localserver.handler import get_ranges
from slicer_ext_manager.localserver.index import PackageIndex
from slicer_ext_manager.localserver.server import PackageServer, startup_lines

from .faultserver import Faults, FaultyPackageServer

APP = DEFAULT_APP_ID
MIRROR_ID = "629843e7e8408647b3b7ed4d"

#: Key sets of the reference documents (§2.4).
ITEM_KEYS = {"_id", "baseParentId", "baseParentType", "created", "creatorId", "description", "folderId",
             "lowerName", "meta", "name", "size", "updated"}
FILE_KEYS = {"_id", "_modelType", "created", "creatorId", "exts", "itemId", "mimeType", "name",
             "size", "sha512"}
FOLDER_KEYS = {"_id", "access", "baseParentId", "baseParentType", "created", "creatorId", "description",
               "lowerName", "meta", "name", "parentCollection", "parentId", "public", "size", "updated"}
EXT_BASE_META = {"app_id", "app_revision", "arch", "baseName", "description", "os", "repository_type",
                 "repository_url", "revision", "sha512"}
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")
HEX24 = re.compile(r"^[0-9a-f]{24}$")


def _touch(path: Path, ts: float) -> Path:
    os.utime(path, (ts, ts))
    return path


@pytest.fixture
def repo(tmp_path) -> Path:
    """A package folder: several revisions/os, a dependency, sidecars, a zip, an installer, junk, a bad symlink."""
    root = tmp_path / "packages"
    base = 1_700_000_000
    _touch(build_extension_package(root, "Foo", app_revision="33241", depends=("Bar",), keywords="seg tools",
                                   description="Foo does Morphological filtering.",
                                   extra_s4ext={"tier": "3"}), base + 10)
    _touch(build_extension_package(root, "Bar", app_revision="33241", extra_s4ext={"tier": "1"}), base + 20)
    _touch(build_extension_package(root / "mac", "Bar", app_revision="33241", os="macosx"), base + 30)
    _touch(build_extension_package(root / "win", "Baz", app_revision="32448", os="win",
                                   description="Registration a.b helper"), base + 40)
    _touch(build_extension_package(root / "mac", "Arm", app_revision="33241", os="macosx", arch="arm64"), base + 50)
    qux = build_extension_package(root, "Qux", app_revision="33241", category="Examples")
    Path(str(qux) + ".json").write_text(json.dumps(
        {"category": "Overridden", "tier": 5, "homepage": "https://example.org/qux",
         "created": "2024-01-02T03:04:05Z"}), encoding="utf-8")
    _touch(qux, base + 60)
    mir = build_extension_package(root / "mirror", "Mir", app_revision="33241", scm_revision="835453f")
    Path(str(mir) + ".json").write_text(json.dumps({
        "_id": MIRROR_ID, "created": "2022-06-02T05:00:23.562000+00:00",
        "updated": "2022-06-02T05:00:23.676000+00:00", "description": "stale item description",
        "folderId": "629842e1e8408647b3b7ebaf", "lowerName": "ignored", "size": 1,
        "meta": {"description": "Mirrored description", "revision": "835453f", "contributors": "A B (C)",
                 "icon_url": None},
        "release": "5.8.0"}), encoding="utf-8")
    _touch(mir, base + 70)
    installer = root / "apps" / "Slicer-5.8.0-linux-amd64.tar.gz"
    installer.parent.mkdir(parents=True)
    installer.write_bytes(b"installer bytes " * 100)
    Path(str(installer) + ".json").write_text(json.dumps({"revision": "33241", "repository_url": "https://x"}),
                                              encoding="utf-8")
    _touch(installer, base + 80)
    (root / "notes.zip").write_bytes(b"not an extension")
    outside = build_extension_package(tmp_path / "outside", "Evil", app_revision="33241")
    (root / "33241-linux-amd64-Evil-gitabc1234-2025-01-29.tar.gz").symlink_to(outside)
    return root


@pytest.fixture
def server(repo):
    with PackageServer(repo) as srv:
        yield srv


def api(server: PackageServer, path: str, **kwargs) -> requests.Response:
    return requests.get(server.url + "/api/v1/" + path.lstrip("/"), timeout=10, **kwargs)


def extensions(server: PackageServer, **params) -> list[dict]:
    r = api(server, f"app/{APP}/extension", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def by_name(items: list[dict]) -> dict[tuple[str, str], dict]:
    return {(i["meta"]["baseName"], i["meta"]["os"]): i for i in items}


def download_stats(server: PackageServer) -> dict:
    return api(server, f"app/{APP}/downloadstats").json()


# ------------------------------------------------------------------------------------------------
# index and document shapes


def test_index_finds_packages_and_warns_about_others(repo):
    idx = PackageIndex.scan(repo)
    names = sorted((p.kind, p.item["meta"]["baseName"], p.item["meta"]["os"]) for p in idx.packages)
    assert names == [("application", "Slicer", "linux"), ("extension", "Arm", "macosx"), ("extension", "Bar", "linux"),
                     ("extension", "Bar", "macosx"), ("extension", "Baz", "win"), ("extension", "Foo", "linux"),
                     ("extension", "Mir", "linux"), ("extension", "Qux", "linux")]
    text = "\n".join(idx.warnings)
    assert "notes.zip" in text
    assert "Evil" in text and "outside" in text
    summary = idx.summary()
    assert summary[("extension", "33241", "linux", "amd64")] == 4
    assert summary[("extension", "32448", "win", "amd64")] == 1


def test_extension_item_shape(server, repo):
    items = by_name(extensions(server, limit=0))
    foo = items[("Foo", "linux")]
    assert set(foo) == ITEM_KEYS
    assert foo["baseParentType"] == "collection"
    assert foo["baseParentId"] == "5f4474d0e1d8c75dfc70547e"
    assert foo["creatorId"] == "5f446e46e1d8c75dfc705450"
    assert foo["name"] == "33241_Foo_linux_amd64_abc1234"
    assert foo["lowerName"] == foo["name"].lower()
    assert HEX24.match(foo["_id"]) and HEX24.match(foo["folderId"])
    assert ISO_RE.match(foo["created"]) and ISO_RE.match(foo["updated"])
    archive = repo / "33241-linux-amd64-Foo-gitabc1234-2025-01-29.tar.gz"
    assert foo["size"] == archive.stat().st_size
    meta = foo["meta"]
    assert EXT_BASE_META <= set(meta)
    assert meta["app_id"] == APP and meta["app_revision"] == "33241"
    assert (meta["os"], meta["arch"], meta["baseName"], meta["revision"]) == ("linux", "amd64", "Foo", "abc1234")
    assert meta["repository_type"] == "git"
    assert meta["repository_url"] == "https://github.com/example/Foo.git"
    assert meta["dependency"] == "Bar"
    assert meta["category"] == "Examples"
    assert meta["keywords"] == "seg tools"
    assert meta["tier"] == 3 and isinstance(meta["tier"], int)
    assert meta["description"] == foo["description"] == "Foo does Morphological filtering."
    assert meta["sha512"] == hashlib.sha512(archive.read_bytes()).hexdigest()
    # only non-empty optional keys, like the real server
    assert "homepage" not in meta and "icon_url" not in meta and "screenshots" not in meta
    assert items[("Bar", "linux")]["meta"]["dependency"] == "NA"
    # the macOS package's .s4ext is nested under Slicer.app/Contents/Extensions-<rev>/<Name>/
    assert items[("Bar", "macosx")]["meta"]["repository_url"] == "https://github.com/example/Bar.git"
    # the zip package is read too
    assert items[("Baz", "win")]["meta"]["description"] == "Registration a.b helper"


def test_file_document_and_files_endpoint(server):
    foo = by_name(extensions(server, limit=0))[("Foo", "linux")]
    r = api(server, f"item/{foo['_id']}/files")
    assert r.status_code == 200
    assert r.headers["Girder-Total-Count"] == "1"
    files = r.json()
    assert len(files) == 1
    f = files[0]
    assert set(f) == FILE_KEYS
    assert f["_modelType"] == "file" and f["itemId"] == foo["_id"]
    assert f["name"] == "33241-linux-amd64-Foo-gitabc1234-2025-01-29.tar.gz"
    assert f["exts"] == ["tar", "gz"]
    assert f["mimeType"] == "application/octet-stream"
    assert f["sha512"] == foo["meta"]["sha512"] and f["_id"] == f["sha512"][:24]
    assert f["size"] == foo["size"]
    assert api(server, f"file/{f['_id']}").json() == f
    assert api(server, "file/hashsum/sha512/" + f["sha512"]).json() == [f]


def test_sidecar_overrides(server):
    items = by_name(extensions(server, limit=0))
    qux = items[("Qux", "linux")]["meta"]
    assert qux["category"] == "Overridden" and qux["tier"] == 5 and qux["homepage"] == "https://example.org/qux"
    assert items[("Qux", "linux")]["created"] == "2024-01-02T03:04:05+00:00"
    mir = items[("Mir", "linux")]
    assert mir["_id"] == MIRROR_ID
    assert mir["created"] == "2022-06-02T05:00:23.562000+00:00"
    assert mir["updated"] == "2022-06-02T05:00:23.676000+00:00"
    assert mir["description"] == mir["meta"]["description"] == "Mirrored description"
    assert mir["meta"]["contributors"] == "A B (C)"
    assert mir["name"] == "33241_Mir_linux_amd64_835453f"
    assert mir["size"] > 1 and mir["lowerName"] == mir["name"].lower()
    assert mir["folderId"] != "629842e1e8408647b3b7ebaf"
    release = api(server, f"app/{APP}/release", params={"release_id_or_name": "5.8.0"}).json()
    ext_folder = api(server, f"folder/{mir['folderId']}").json()
    assert ext_folder["name"] == "extensions" and ext_folder["parentId"] == release["_id"]


def test_app_endpoint(server):
    apps = api(server, "app").json()
    assert len(apps) == 1
    app = apps[0]
    assert set(app) == FOLDER_KEYS
    assert app["_id"] == APP and app["name"] == "Slicer"
    assert app["meta"] == {"applicationPackageNameTemplate": "{baseName}_{os}_{arch}_{revision}",
                           "extensionPackageNameTemplate": "{app_revision}_{baseName}_{os}_{arch}_{revision}"}
    assert app["created"] == "2020-08-25T02:17:52+00:00"  # the ObjectId's timestamp
    assert api(server, "app", params={"name": "Slicer", "limit": 1}).json() == [app]
    assert api(server, "app", params={"name": "slicer"}).json() == []
    assert api(server, "app", params={"app_id": APP}).json() == app
    assert api(server, "app", params={"app_id": "0" * 24}).json() is None
    assert api(server, "app", params={"offset": 1}).json() == []  # the documented quirk


def test_release_and_draft_endpoints(server):
    releases = api(server, f"app/{APP}/release").json()
    assert [r["name"] for r in releases] == ["5.8.0"]
    rel = releases[0]
    assert set(rel) == FOLDER_KEYS and rel["meta"] == {"revision": "33241"} and rel["parentId"] == APP
    draft = api(server, f"app/{APP}/release", params={"release_id_or_name": "draft"}).json()
    assert set(draft) == FOLDER_KEYS
    assert draft["name"] == "draft" and draft["meta"] == {}
    assert draft["description"] == "Uploaded each night, always up-to-date"
    assert api(server, f"app/{APP}/release", params={"release_id_or_name": "5.8.0"}).json() == rel
    assert api(server, f"app/{APP}/release", params={"release_id_or_name": rel["_id"]}).json() == rel
    assert api(server, f"app/{APP}/release", params={"release_id_or_name": "9.9"}).json() is None

    drafts = api(server, f"app/{APP}/draft").json()
    assert [d["name"] for d in drafts] == ["32448", "33241"]  # created (oldest item) descending
    assert all(set(d) == FOLDER_KEYS and d["parentId"] == draft["_id"] for d in drafts)
    assert drafts[1]["meta"] == {"revision": "33241"}
    assert drafts[1]["size"] == 1600  # the installer sits directly in draft/33241
    only = api(server, f"app/{APP}/draft", params={"revision": "32448"}).json()
    assert [d["name"] for d in only] == ["32448"]
    assert api(server, f"app/{APP}/draft", params={"sort": "name", "sortdir": -1}).json()[0]["name"] == "33241"


def test_package_endpoint(server):
    pkgs = api(server, f"app/{APP}/package", params={"limit": 0}).json()
    assert len(pkgs) == 1
    pkg = pkgs[0]
    assert set(pkg) == ITEM_KEYS
    assert pkg["name"] == "Slicer_linux_amd64_33241"
    meta = pkg["meta"]
    assert "app_revision" not in meta
    assert (meta["baseName"], meta["version"], meta["revision"], meta["os"], meta["arch"]) == \
        ("Slicer", "5.8.0", "33241", "linux", "amd64")
    assert meta["repository_url"] == "https://x" and "release" not in meta and ISO_RE.match(meta["build_date"])
    draft_rev = api(server, f"app/{APP}/draft", params={"revision": "33241"}).json()[0]
    assert pkg["folderId"] == draft_rev["_id"]
    params = {"release_id_or_name": "draft", "revision": "33241"}
    assert api(server, f"app/{APP}/package", params=params).json() == [pkg]
    assert api(server, f"app/{APP}/package", params={"release_id_or_name": "draft"}).json() == [pkg]
    assert api(server, f"app/{APP}/package", params={"release_id_or_name": "5.8.0"}).json() == []
    assert api(server, f"app/{APP}/package", params={"os": "win"}).json() == []
    # extensions are not packages and vice versa
    assert all("app_revision" in i["meta"] for i in extensions(server, limit=0))


# ------------------------------------------------------------------------------------------------
# /extension filters and paging


def test_extension_filters(server):
    linux = extensions(server, app_revision="33241", os="linux", arch="amd64", limit=0)
    assert sorted(i["meta"]["baseName"] for i in linux) == ["Bar", "Foo", "Mir", "Qux"]
    assert extensions(server, app_revision="34046", os="linux", arch="amd64", limit=0) == []
    assert [i["meta"]["os"] for i in extensions(server, baseName="Bar", os="macosx")] == ["macosx"]
    assert extensions(server, baseName="bar") == []  # baseName is exact and case-sensitive
    foo = extensions(server, extension_name="33241_FOO_linux_amd64_abc1234")
    assert [i["meta"]["baseName"] for i in foo] == ["Foo"]
    assert extensions(server, extension_id=foo[0]["_id"]) == foo
    assert len(extensions(server, extension_id="not-an-id", limit=0)) == 7  # ignored when invalid
    # arm64 is accepted (documented deviation)
    assert [i["meta"]["baseName"] for i in extensions(server, arch="arm64")] == ["Arm"]
    # other app ids match nothing; a valid unknown app id is not an error
    assert api(server, f"app/{'1' * 24}/extension").json() == []


def test_extension_query_and_tier(server):
    names = lambda items: sorted(i["meta"]["baseName"] for i in items)  # noqa: E731
    assert names(extensions(server, q="MORPHOLOGICAL")) == ["Foo"]  # description, case-insensitive
    assert names(extensions(server, q="seg TOOLS")) == ["Foo"]  # keywords
    assert names(extensions(server, q="ba", limit=0)) == ["Bar", "Bar", "Baz"]  # baseName
    assert names(extensions(server, q="a.b")) == ["Baz"]  # escaped: "." is literal
    assert extensions(server, q="a*b") == []
    assert names(extensions(server, tier=3)) == ["Bar", "Foo"]  # default tier_compare=lte
    assert names(extensions(server, tier=3, tier_compare="gte")) == ["Foo", "Qux"]
    assert names(extensions(server, tier=5, tier_compare="exact")) == ["Qux"]
    assert extensions(server, tier=0) == []


def test_extension_paging_and_sort(server):
    default = extensions(server)
    created = [i["created"] for i in default]
    assert created == sorted(created, reverse=True)  # default: created descending
    assert len(default) == 7
    assert len(extensions(server, limit=0)) == 7
    by_base = extensions(server, sort="meta.baseName", sortdir=1, limit=0)
    assert [i["meta"]["baseName"] for i in by_base] == ["Arm", "Bar", "Bar", "Baz", "Foo", "Mir", "Qux"]
    page = extensions(server, sort="meta.baseName", sortdir=1, limit=2, offset=3)
    assert [i["meta"]["baseName"] for i in page] == ["Baz", "Foo"]
    assert [i["meta"]["baseName"] for i in extensions(server, sort="meta.baseName", sortdir=-1, limit=1)] == ["Qux"]
    # sort on a key some items lack: missing sorts first ascending (Mongo)
    by_tier = extensions(server, sort="meta.tier", sortdir=1, limit=0)
    assert [i["meta"].get("tier") for i in by_tier][-3:] == [1, 3, 5]


def test_extension_release_id(server):
    draft = api(server, f"app/{APP}/release", params={"release_id_or_name": "draft"}).json()
    release = api(server, f"app/{APP}/release", params={"release_id_or_name": "5.8.0"}).json()
    in_release = extensions(server, release_id=release["_id"])
    assert [i["meta"]["baseName"] for i in in_release] == ["Mir"]
    draft_33241 = extensions(server, release_id=draft["_id"], app_revision="33241", limit=0)
    assert sorted(i["meta"]["baseName"] for i in draft_33241) == ["Arm", "Bar", "Bar", "Foo", "Qux"]
    all_drafts = extensions(server, release_id=draft["_id"], limit=10)
    assert len(all_drafts) == 6
    assert extensions(server, release_id=draft["_id"], limit=0) == []  # plugin 0.10 quirk


# ------------------------------------------------------------------------------------------------
# conventions and errors


def test_json_conventions(server):
    r = api(server, f"app/{APP}/extension", params={"limit": 1})
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Girder-Request-Uid"]
    assert "Girder-Total-Count" not in r.headers
    assert r.text == json.dumps(r.json(), sort_keys=True)  # sorted keys, default separators
    assert api(server, "system/version").json()["release"].startswith("3.")
    head = requests.head(server.url + f"/api/v1/app/{APP}/extension", timeout=10)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["Content-Length"]) > 0
    # unknown parameters are ignored (the client sends sortDir)
    assert api(server, f"app/{APP}/extension", params={"sortDir": -1, "foo": "bar", "limit": 0}).status_code == 200


def test_double_slashes_are_accepted(server):
    r = requests.get(f"{server.url}/api/v1//app/{APP}/extension?os=linux&arch=amd64&app_revision=33241&limit=0",
                     timeout=10)
    assert r.status_code == 200 and len(r.json()) == 4
    item = r.json()[0]
    files = requests.get(f"{server.url}//api//v1//item//{item['_id']}//files", timeout=10)
    assert files.status_code == 200 and files.json()[0]["itemId"] == item["_id"]


def test_item_and_resource_documents(server):
    foo = by_name(extensions(server, limit=0))[("Foo", "linux")]
    item = api(server, f"item/{foo['_id']}").json()
    assert item == {**{k: v for k, v in foo.items() if k != "lowerName"}, "_modelType": "item"}
    # Girder answers /resource to site admins only; this server has no users.
    r = api(server, f"resource/{foo['_id']}", params={"type": "item"})
    assert r.status_code == 401 and r.json() == {"message": "Administrator access required.", "type": "access"}


@pytest.mark.parametrize(
    ("path", "params", "status", "body"),
    [
        ("item/xyz", {}, 400, {"message": "Invalid ObjectId: xyz", "type": "validation", "field": "id"}),
        (f"item/{'0' * 24}", {}, 400, {"message": f"Invalid item id ({'0' * 24}).", "type": "rest"}),
        (f"item/{'0' * 24}/files", {}, 400, {"message": f"Invalid item id ({'0' * 24}).", "type": "rest"}),
        (f"file/{'0' * 24}/download", {}, 400, {"message": f"Invalid file id ({'0' * 24}).", "type": "rest"}),
        ("app/xyz/extension", {}, 400, {"message": "Invalid ObjectId: xyz", "type": "validation", "field": "id"}),
        (f"app/{APP}/extension", {"arch": "x86"}, 400,
         {"message": 'Invalid value for arch: "x86". Allowed values: i386, amd64, arm64.', "type": "rest"}),
        (f"app/{APP}/extension", {"os": "macos"}, 400,
         {"message": 'Invalid value for os: "macos". Allowed values: linux, win, macosx.', "type": "rest"}),
        (f"app/{APP}/extension", {"tier": "abc"}, 400,
         {"message": "Invalid value for integer parameter tier: abc.", "type": "rest"}),
        (f"app/{APP}/extension", {"tier": "2", "tier_compare": "lt"}, 400,
         {"message": 'Invalid value for tier_compare: "lt". Allowed values: exact, lte, gte.', "type": "rest"}),
        (f"app/{APP}/extension", {"limit": "many"}, 400,
         {"message": "Invalid value for integer parameter limit: many.", "type": "rest"}),
        (f"app/{APP}/extension", {"sortdir": "2"}, 400,
         {"message": 'Invalid value for sortdir: "2". Allowed values: 1, -1.', "type": "rest"}),
        (f"app/{APP}/nothing", {}, 400, {"message": f'No matching route for "GET {APP}/nothing"', "type": "rest"}),
        ("nothing/here", {}, 404, {"message": 'No matching route for "GET /api/v1/nothing/here"', "type": "rest"}),
        (f"app/{'0' * 24}/draft", {}, 400, {"message": f"Invalid folder id ({'0' * 24}).", "type": "rest"}),
    ],
)
def test_errors(server, path, params, status, body):
    r = api(server, path, params=params)
    assert r.status_code == status
    assert r.json() == body
    assert r.headers["Content-Type"] == "application/json"


def test_repeated_parameter_and_write_methods(server):
    r = requests.get(f"{server.url}/api/v1/app/{APP}/extension?os=linux&os=win", timeout=10)
    assert r.status_code == 400
    assert r.json() == {"message": 'Parameter "os" must not be specified multiple times.', "type": "rest"}
    # A read-only mirror (issue #13): every write method is 405 with Allow, "/" included.
    for method in ("post", "put", "patch", "delete"):
        for path in (f"/api/v1/app/{APP}/extension", "/", "/api/v1/api_key/token", "/catalog/All/33241/linux"):
            r = requests.request(method, server.url + path, data=b"x=1", timeout=10)
            assert r.status_code == 405, (method, path)
            assert r.headers["Allow"] == "GET, HEAD"
            assert r.json()["type"] == "rest" and "read-only mirror" in r.json()["message"]
    assert requests.get(server.url + "/", timeout=10).status_code == 200


def test_strict_arch_rejects_arm64(repo):
    with PackageServer(repo, strict_arch=True) as srv:
        r = api(srv, f"app/{APP}/extension", params={"arch": "arm64"})
        assert r.status_code == 400
        assert r.json()["message"] == 'Invalid value for arch: "arm64". Allowed values: i386, amd64.'


# ------------------------------------------------------------------------------------------------
# archive formats and package names (Slicer's conventions, as the installer reads them)


def test_every_archive_format_is_indexed_and_served(tmp_path):
    root = tmp_path / "p"
    built = {}
    for kind in KINDS:
        name = "K" + kind.replace(".", "_")
        built[name] = build_extension_package(root, name, app_revision="33241", kind=kind)
    built["Nested"] = build_extension_package(root, "Nested", app_revision="33241", os="macosx", kind="tar.xz")
    with PackageServer(root) as srv:
        assert not srv.index.warnings
        items = {i["meta"]["baseName"]: i for i in extensions(srv, limit=0)}
        assert set(items) == set(built)
        for name, path in built.items():
            meta = items[name]["meta"]
            assert meta["description"] == f"{name}: a test extension."  # read from the .s4ext inside
            assert meta["repository_url"] == f"https://github.com/example/{name}.git"
            r = api(srv, f"item/{items[name]['_id']}/download")
            assert r.status_code == 200 and r.content == path.read_bytes()
            assert hashlib.sha512(r.content).hexdigest() == meta["sha512"]
        assert items["Nested"]["meta"]["os"] == "macosx" and items["Nested"]["meta"]["app_revision"] == "33241"


def test_unreadable_archives_of_any_format_are_warned_about(tmp_path):
    root = tmp_path / "p"
    build_extension_package(root, "Good", app_revision="33241", kind="tar.bz2")
    for suffix in (".tar.xz", ".tar.bz2", ".tgz", ".zip"):
        (root / f"33241-linux-amd64-Broken-gitabc1234-2025-01-29{suffix}").write_bytes(b"not an archive")
    idx = PackageIndex.scan(root)
    assert [p.item["meta"]["baseName"] for p in idx.packages] == ["Good"]
    assert len([w for w in idx.warnings if "Broken" in w and "cannot read" in w]) == 4


def _package_named_by_file_only(root: Path, **spec) -> Path:
    """A package whose ``.s4ext`` has no scm fields: its repository type and revision come from its file name."""
    return build_from_spec(root, PackageSpec(app_revision="33241", extra_s4ext={"scm": "", "scmrevision": ""},
                                             **spec))


NAME_CASES = [
    pytest.param({"name": "Foo", "scm": "", "scm_revision": "cvs123"}, id="cvs-is-not-a-repository-type"),
    pytest.param({"name": "Foo-Bar", "scm": "git", "scm_revision": "abc", "kind": "tar.bz2"}, id="dash-in-name-bz2"),
    pytest.param({"name": "Foo", "scm": "svn", "scm_revision": "42", "os": "win"}, id="svn-zip"),
    pytest.param({"name": "Foo", "scm": "", "scm_revision": "1a2b3c", "kind": "tar"}, id="no-scm-tar"),
    pytest.param({"name": "Foo", "scm": "hg", "scm_revision": "9f", "kind": "txz", "os": "macosx"}, id="hg-txz"),
]


def _served_name_fields(root: Path) -> tuple[str, ...]:
    (pkg,) = PackageIndex.scan(root).packages
    meta = pkg.item["meta"]
    return (meta["app_revision"], meta["os"], meta["arch"], meta["baseName"], meta["repository_type"],
            meta["revision"])


@pytest.mark.parametrize("spec", NAME_CASES)
def test_served_package_names_follow_the_conventions(tmp_path, spec):
    path = _package_named_by_file_only(tmp_path, **spec)
    expected = conventions.parse_package_name(path.name)
    assert expected is not None and expected.suffix == "." + PackageSpec(app_revision="1", **spec).kind
    assert _served_name_fields(tmp_path) == (expected.app_revision, expected.os, expected.arch,
                                             expected.extension_name, expected.scm, expected.scm_revision)


@pytest.mark.parametrize("spec", NAME_CASES)
def test_installer_and_serve_read_package_names_alike(tmp_path, spec):
    from slicer_ext_manager import archive

    fields = archive.parse_archive_name(_package_named_by_file_only(tmp_path, **spec).name)
    assert fields is not None
    assert _served_name_fields(tmp_path) == (fields.app_revision, fields.os, fields.arch, fields.extension_name,
                                             fields.scm, fields.scm_revision)


@pytest.mark.parametrize("name", ["Foo.Bar", "Foo+", "-Foo", "Foo Bar", "a/b", "", "F" * 129])
def test_builder_refuses_what_is_not_an_extension_name(name):
    assert not conventions.is_extension_name(name)
    with pytest.raises(ValueError, match="is not a valid extension name"):
        PackageSpec(name, app_revision="33241")


def test_builder_refuses_fields_that_would_not_parse_back():
    for field in ("app_revision", "arch", "scm", "scm_revision"):
        spec = {"app_revision": "33241", field: "a-b"}
        with pytest.raises(ValueError, match=field):
            PackageSpec("Foo", **spec)


# ------------------------------------------------------------------------------------------------
# ids and restarts


def _all_ids(srv: PackageServer) -> dict:
    items = extensions(srv, limit=0) + api(srv, f"app/{APP}/package", params={"limit": 0}).json()
    ids = {}
    for item in items:
        files = api(srv, f"item/{item['_id']}/files").json()
        ids[item["name"]] = (item["_id"], item["folderId"], files[0]["_id"])
    ids["draft"] = api(srv, f"app/{APP}/release", params={"release_id_or_name": "draft"}).json()["_id"]
    ids["drafts"] = sorted(d["_id"] for d in api(srv, f"app/{APP}/draft").json())
    return ids


def test_ids_are_stable_across_restarts_and_hashes_are_cached(repo, monkeypatch):
    with PackageServer(repo) as first:
        before = _all_ids(first)
    assert (repo / ".slicer-ext-manager-server" / "index-cache.json").is_file()

    def no_hashing(path):
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(index_mod, "file_sha512", no_hashing)
    monkeypatch.setattr(index_mod, "read_archive_description", no_hashing)
    with PackageServer(repo) as second:
        assert _all_ids(second) == before
    assert before["33241_Mir_linux_amd64_835453f"][0] == MIRROR_ID
    foo_sha = hashlib.sha512((repo / "33241-linux-amd64-Foo-gitabc1234-2025-01-29.tar.gz").read_bytes()).hexdigest()
    assert before["33241_Foo_linux_amd64_abc1234"][0] == derive_id("item", foo_sha)
    assert before["33241_Foo_linux_amd64_abc1234"][2] == foo_sha[:24]


def test_identical_copies_get_distinct_ids(tmp_path):
    root = tmp_path / "p"
    one = build_extension_package(root / "a", "Dup", app_revision="33241")
    (root / "b").mkdir()
    (root / "b" / one.name).write_bytes(one.read_bytes())
    # A second copy of one build is a duplicate: one is served (issue #18) ...
    idx = PackageIndex.scan(root)
    assert len(idx.packages) == 1 and len(idx.warnings) == 1
    # ... and copies that are different builds (a sidecar says so) get distinct ids.
    Path(str(root / "b" / one.name) + ".json").write_text(json.dumps({"app_revision": "33242"}), encoding="utf-8")
    idx = PackageIndex.scan(root)
    assert len({p.item_id for p in idx.packages}) == 2
    assert len({p.file_id for p in idx.packages}) == 2


def test_rescan_picks_up_new_packages(server, repo):
    assert extensions(server, baseName="New") == []
    build_extension_package(repo, "New", app_revision="33241")
    server.rescan()
    assert [i["meta"]["baseName"] for i in extensions(server, baseName="New")] == ["New"]


def test_custom_app_id_and_state_dir(repo, tmp_path):
    other = "0123456789abcdef01234567"
    state = tmp_path / "state"
    with PackageServer(repo, app_id=other, app_name="MyApp", state_dir=state) as srv:
        assert api(srv, f"app/{APP}/extension").json() == []
        items = api(srv, f"app/{other}/extension", params={"limit": 0}).json()
        assert len(items) == 7 and all(i["meta"]["app_id"] == other for i in items)
        assert api(srv, "app").json()[0]["name"] == "MyApp"
    assert (state / "index-cache.json").is_file()
    assert not (repo / ".slicer-ext-manager-server").exists()


# ------------------------------------------------------------------------------------------------
# downloads and statistics


def test_download_bytes_headers_and_checksum(server, repo):
    foo = by_name(extensions(server, limit=0))[("Foo", "linux")]
    f = api(server, f"item/{foo['_id']}/files").json()[0]
    data = (repo / f["name"]).read_bytes()
    for path in (f"file/{f['_id']}/download", f"file/{f['_id']}/download/{f['name']}", f"item/{foo['_id']}/download"):
        r = api(server, path)
        assert r.status_code == 200
        assert r.content == data
        assert hashlib.sha512(r.content).hexdigest() == foo["meta"]["sha512"] == f["sha512"]
        assert r.headers["Content-Type"] == "application/octet-stream"
        assert r.headers["Content-Disposition"] == f'attachment; filename="{f["name"]}"'
        assert r.headers["Content-Length"] == str(len(data))
        assert r.headers["Accept-Ranges"] == "bytes"
        assert "Content-Range" not in r.headers
    inline = api(server, f"file/{f['_id']}/download", params={"contentDisposition": "inline"})
    assert inline.headers["Content-Disposition"].startswith("inline; ")
    by_hash = api(server, f"file/hashsum/sha512/{f['sha512']}/download")
    assert by_hash.content == data
    assert download_stats(server) == {"33241": {"extensions": {"Foo": {"linux": {"amd64": 5}}}}}


def test_ranges_and_counting(server, repo):
    foo = by_name(extensions(server, limit=0))[("Foo", "linux")]
    f = api(server, f"item/{foo['_id']}/files").json()[0]
    data = (repo / f["name"]).read_bytes()
    size = len(data)
    url = f"file/{f['_id']}/download"

    r = api(server, url, headers={"Range": "bytes=10-99"})
    assert r.status_code == 206
    assert r.content == data[10:100]
    assert r.headers["Content-Range"] == f"bytes 10-99/{size}"
    assert r.headers["Content-Length"] == "90"
    r = api(server, url, params={"offset": 5, "endByte": 50})
    assert (r.status_code, r.content, r.headers["Content-Range"]) == (206, data[5:50], f"bytes 5-49/{size}")
    assert requests.head(server.url + "/api/v1/" + url, timeout=10).headers["Content-Length"] == str(size)
    r = api(server, url, headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{size}"
    assert download_stats(server) == {}  # partial ranges, HEAD and errors do not count

    r = api(server, url)
    assert r.status_code == 200 and r.content == data
    assert download_stats(server) == {"33241": {"extensions": {"Foo": {"linux": {"amd64": 1}}}}}
    # a resumed download that reaches the end counts again (Girder: endByte >= size)
    r = api(server, url, headers={"Range": "bytes=-20"})
    assert (r.status_code, r.content) == (206, data[-20:])
    assert r.headers["Content-Range"] == f"bytes {size - 20}-{size - 1}/{size}"
    assert download_stats(server)["33241"]["extensions"]["Foo"]["linux"]["amd64"] == 2


def test_get_ranges_like_cherrypy():
    assert get_ranges(None, 100) is None
    assert get_ranges("bytes=0-9", 100) == [(0, 10)]
    assert get_ranges("bytes=90-", 100) == [(90, 100)]
    assert get_ranges("bytes=-10", 100) == [(90, 100)]
    assert get_ranges("bytes=-1000", 100) == [(0, 100)]
    assert get_ranges("bytes=100-", 100) == []
    assert get_ranges("bytes=9-3", 100) is None
    assert get_ranges("junk", 100) is None


def test_download_stats_structure_and_persistence(server, repo):
    items = by_name(extensions(server, limit=0))
    pkg = api(server, f"app/{APP}/package").json()[0]

    def get_all(item_id: str) -> None:
        fid = api(server, f"item/{item_id}/files").json()[0]["_id"]
        assert api(server, f"file/{fid}/download").status_code == 200

    get_all(items[("Foo", "linux")]["_id"])
    get_all(items[("Bar", "macosx")]["_id"])
    get_all(items[("Bar", "macosx")]["_id"])
    get_all(items[("Baz", "win")]["_id"])
    get_all(pkg["_id"])
    expected_draft = {
        "33241": {"extensions": {"Foo": {"linux": {"amd64": 1}}, "Bar": {"macosx": {"amd64": 2}}},
                  "applications": {"linux": {"amd64": 1}}},
        "32448": {"extensions": {"Baz": {"win": {"amd64": 1}}}},
    }
    assert download_stats(server) == expected_draft
    draft = api(server, f"app/{APP}/release", params={"release_id_or_name": "draft"}).json()
    assert draft["meta"] == {"downloadStats": expected_draft}

    # the release item is counted on its release folder; GET /downloadstats merges it shallowly
    # under its revision, replacing the draft's "extensions" of the same revision (reference §4)
    get_all(items[("Mir", "linux")]["_id"])
    release = api(server, f"app/{APP}/release", params={"release_id_or_name": "5.8.0"}).json()
    assert release["meta"] == {"revision": "33241",
                               "downloadStats": {"extensions": {"Mir": {"linux": {"amd64": 1}}}}}
    merged = download_stats(server)
    assert merged["33241"] == {"extensions": {"Mir": {"linux": {"amd64": 1}}},
                               "applications": {"linux": {"amd64": 1}}}
    assert merged["32448"] == expected_draft["32448"]

    server.stop()
    stats_file = repo / ".slicer-ext-manager-server" / "downloadstats.json"
    assert json.loads(stats_file.read_text())["version"] == 1
    with PackageServer(repo) as again:
        assert download_stats(again) == merged
        assert api(again, f"app/{APP}/release", params={"release_id_or_name": "draft"}).json()["meta"] == \
            {"downloadStats": expected_draft}


# ------------------------------------------------------------------------------------------------
# safety


def test_symlink_outside_directory_is_not_served(server, repo, tmp_path):
    assert extensions(server, baseName="Evil") == []
    # a file that becomes a symlink to the outside after the scan is refused at download time
    foo = by_name(extensions(server, limit=0))[("Foo", "linux")]
    fid = api(server, f"item/{foo['_id']}/files").json()[0]["_id"]
    archive = repo / "33241-linux-amd64-Foo-gitabc1234-2025-01-29.tar.gz"
    secret = tmp_path / "secret.bin"
    secret.write_bytes(archive.read_bytes())
    archive.unlink()
    archive.symlink_to(secret)
    r = api(server, f"file/{fid}/download")
    assert r.status_code == 500
    assert r.json()["type"] == "girder"
    assert download_stats(server) == {}


def test_symlink_inside_directory_is_served(tmp_path):
    root = tmp_path / "p"
    real = build_extension_package(root / "store", "Linked", app_revision="33241")
    stored = real.rename(root / "store" / "linked.bin")  # not a package name: only the link is one
    (root / "links").mkdir()
    (root / "links" / "33241-linux-amd64-Linked-gitabc1234-2025-01-29.tar.gz").symlink_to(stored)
    idx = PackageIndex.scan(root)
    assert len(idx.packages) == 1 and not idx.warnings


# ------------------------------------------------------------------------------------------------
# concurrency and fault injection


def test_concurrent_slow_downloads_overlap(repo):
    faults = Faults()
    with FaultyPackageServer(repo, faults=faults) as srv:
        items = by_name(extensions(srv, limit=0))
        urls = []
        for key in (("Foo", "linux"), ("Bar", "macosx")):
            fid = api(srv, f"item/{items[key]['_id']}/files").json()[0]["_id"]
            urls.append(f"file/{fid}/download")
        faults.delay(r"/download$", 1.0, times=2)
        spans: list[tuple[float, float]] = []
        lock = threading.Lock()

        def fetch(url: str) -> None:
            start = time.monotonic()
            r = api(srv, url)
            assert r.status_code == 200
            with lock:
                spans.append((start, time.monotonic()))

        threads = [threading.Thread(target=fetch, args=(u,)) for u in urls]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(spans) == 2
        assert time.monotonic() - t0 < 1.9  # not serialised
        (s1, e1), (s2, e2) = spans
        assert max(s1, s2) < min(e1, e2)  # overlapping
        assert all(e - s >= 0.9 for s, e in spans)


def test_fault_error_and_malformed_json(repo):
    faults = Faults()
    with FaultyPackageServer(repo, faults=faults) as srv:
        rule = faults.error(r"/extension$", status=503, times=2)
        assert api(srv, f"app/{APP}/extension").status_code == 503
        r = api(srv, f"app/{APP}/extension")
        assert r.status_code == 503 and r.json()["type"] == "girder"
        assert api(srv, f"app/{APP}/extension").status_code == 200
        assert rule.hits == 2
        faults.malformed_json(r"/files$")
        foo = by_name(extensions(srv, limit=0))[("Foo", "linux")]
        r = api(srv, f"item/{foo['_id']}/files")
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
        with pytest.raises(ValueError):
            json.loads(r.text)
        assert api(srv, f"item/{foo['_id']}/files").json()[0]["itemId"] == foo["_id"]
        faults.error("/app", method="HEAD", times=None)
        assert api(srv, "app").status_code == 200
        faults.clear()
        assert ("GET", f"/api/v1/app/{APP}/extension", "") in srv.requests


def test_fault_drop_connection_does_not_count(repo):
    faults = Faults()
    with FaultyPackageServer(repo, faults=faults) as srv:
        foo = by_name(extensions(srv, limit=0))[("Foo", "linux")]
        fid = api(srv, f"item/{foo['_id']}/files").json()[0]["_id"]
        faults.drop(r"/download$", after_bytes=100)
        with pytest.raises(requests.exceptions.RequestException):
            r = api(srv, f"file/{fid}/download")
            r.raise_for_status()
            assert len(r.content) == foo["size"]  # never reached: the stream is cut
        assert download_stats(srv) == {}
        r = api(srv, f"file/{fid}/download")
        assert r.status_code == 200 and len(r.content) == foo["size"]
        assert download_stats(srv) == {"33241": {"extensions": {"Foo": {"linux": {"amd64": 1}}}}}


def test_slow_chunks_fault(repo):
    faults = Faults()
    with FaultyPackageServer(repo, faults=faults) as srv:
        big = build_extension_package(repo, "Big", app_revision="33241", payload_size=300_000)
        srv.rescan()
        item = extensions(srv, baseName="Big")[0]
        faults.delay(r"/download$", 0.1, per_chunk=True)
        start = time.monotonic()
        r = api(srv, f"item/{item['_id']}/download")
        assert r.content == big.read_bytes()
        assert time.monotonic() - start >= 0.3  # >= 5 chunks of 64 KiB, 0.1 s between them


# ------------------------------------------------------------------------------------------------
# CLI entry


def test_serve_command_prints_url_and_summary(repo, monkeypatch):
    seen = {}

    def fake_serve_forever(self):
        seen["url"] = self.url
        self.stop()

    monkeypatch.setattr(PackageServer, "serve_forever", fake_serve_forever)
    out, err = io.StringIO(), io.StringIO()
    code = serve_command(repo, host="127.0.0.1", port=0, app_id=APP, out=out, err=err)
    assert code == 0
    text = out.getvalue()
    assert seen["url"] in text
    assert f"SLICER_EXTENSIONS_MANAGER_SERVER_URL={seen['url']}" in text
    assert "Indexed 7 extension packages and 1 application package" in text
    assert re.search(r"revision 33241\s+linux/amd64\s+4 extensions", text)
    assert "notes.zip" in err.getvalue()
    assert serve_command(repo / "missing", port=0, out=out, err=err) == 2


def test_startup_lines_are_computed_not_printed(server, capsys):
    lines = startup_lines(server)
    assert lines[0] == (f"Serving {server.index.directory} at {server.url} (read-only Slicer Package Manager API"
                        " and extensions catalog).")
    assert f"  SLICER_EXTENSIONS_MANAGER_FRONTEND_SERVER_URL={server.url}" in lines
    assert f"  SLICER_EXTENSIONS_MANAGER_SERVER_URL={server.url}" in lines
    assert capsys.readouterr() == ("", "")


def test_serve_command_errors_are_one_sentence(repo, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert serve_command(tmp_path / "missing", port=0, out=out, err=err) == 2
    message = err.getvalue().strip()
    assert message.count("\n") == 0 and "is not a folder" in message and message.endswith(".")
    with PackageServer(repo) as busy:
        err = io.StringIO()
        assert serve_command(repo, port=busy.port, out=out, err=err) == 1
        message = err.getvalue().strip().splitlines()[-1]
        assert f"cannot listen on 127.0.0.1:{busy.port}" in message and "--port" in message
    assert out.getvalue() == ""


def test_unwritable_state_dir_is_not_fatal(repo, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    with PackageServer(repo, state_dir=blocker / "state") as srv:
        assert any("hash cache" in w for w in srv.index.warnings)
        foo = by_name(extensions(srv, limit=0))[("Foo", "linux")]
        assert api(srv, f"item/{foo['_id']}/download").status_code == 200
        assert download_stats(srv) == {"33241": {"extensions": {"Foo": {"linux": {"amd64": 1}}}}}


def test_client_resumes_a_part_file_from_an_earlier_run(repo, tmp_path):
    """SlicerPackagesClient.download_file(resume=True) continues an interrupted run's .part."""
    from slicer_ext_manager.errors import DownloadError
    from slicer_ext_manager.server import SlicerPackagesClient

    build_extension_package(repo, "Large", app_revision="33241", payload_size=2_000_000)
    faults = Faults()
    with FaultyPackageServer(repo, faults=faults) as srv:
        item = by_name(extensions(srv, limit=0))[("Large", "linux")]
        client = SlicerPackagesClient(srv.url, APP, backoff=0.01, retries=0)
        record = client.package_file(item["_id"])
        data = (Path(repo) / record["name"]).read_bytes() if (Path(repo) / record["name"]).exists() else None
        dest = tmp_path / record["name"]
        faults.drop(r"/download", after_bytes=record["size"] // 2)
        with pytest.raises(DownloadError):
            client.download_file(record["_id"], dest, expected_sha512=record["sha512"], resume=True)
        part = dest.with_name(dest.name + ".part")
        assert 0 < part.stat().st_size < record["size"]
        before = len(srv.requests)
        result = client.download_file(record["_id"], dest, expected_sha512=record["sha512"], resume=True,
                                      expected_size=record["size"])
        assert result.verified and not part.exists() and dest.stat().st_size == record["size"]
        assert len(srv.requests) == before + 1
        if data is not None:
            assert dest.read_bytes() == data


# ------------------------------------------------------------------------------------------------
# the package itself


def _imports(tree: ast.AST) -> list[str]:
    """Absolute names of every module imported (relative imports resolved against the package)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ["slicer_ext_manager", "localserver"][:max(0, 2 - node.level + 1)] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names += [module] + [f"{module}.{a.name}" for a in node.names]
    return names


def test_localserver_is_qt_free_python_3_9_and_independent_of_the_front_ends():
    for path in sorted(Path(localserver_pkg.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 9))  # 3D Slicer 5.8 embeds 3.9
        imported = _imports(tree)
        assert not [m for m in imported if m.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "shiboken6")
                    or m.startswith("slicer_ext_manager.qtbinding")], path.name
        if path.name != "commands.py":  # the CLI face may use the CLI's and the dialog's plumbing
            assert not [m for m in imported if m.startswith(("slicer_ext_manager.cli", "slicer_ext_manager.ui"))], \
                path.name

