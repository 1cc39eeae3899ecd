"""Contract: the same client / installer / restore cases against the REAL Slicer Package
Manager server (Girder + plugin, ``girder`` backend) and our ``PackageServer`` (``local``
backend), which must agree.

Both backends serve the SAME archives (built once with the builder); Girder gets them
through the official upload flow with metadata matching the ``.s4ext`` inside. Every
test states what it expects explicitly, and the ``girder`` run also compares its
observation with the same observation made on the ``local`` backend (ids and dates
aside), so a disagreement shows as a diff.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
from PySide6.QtCore import QSettings

from slicer_ext_manager import s4ext
from slicer_ext_manager.conventions import DEFAULT_APP_ID
from slicer_ext_manager.localserver.builder import PackageSpec, build_from_spec
from slicer_ext_manager.localserver.server import PackageServer
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.server import SlicerPackagesClient

REV = "33241"
OLD = "33000"

ITEM_KEYS = {"_id", "baseParentId", "baseParentType", "created", "creatorId", "description", "folderId",
             "lowerName", "meta", "name", "size", "updated"}
FILE_KEYS = {"_id", "_modelType", "created", "creatorId", "exts", "itemId", "mimeType", "name",
             "sha512", "size"}

#: The published packages: (spec, server-only metadata).
SPECS: list[tuple[PackageSpec, dict[str, Any]]] = [
    (PackageSpec("Alpha", app_revision=OLD, scm_revision="a0a0a0a", category="Segmentation",
                 description="Alpha segments structures.", date="2025-01-10"), {}),
    (PackageSpec("Delta", app_revision=OLD, scm_revision="d0d0d0d", category="Utilities",
                 description="Delta, only for the old revision on linux."), {}),
    (PackageSpec("Beta", app_revision=REV, scm_revision="b1b1b1b", category="Utilities",
                 description="Beta helper library.", modules=("scripted", "loadable"),
                 homepage="https://example.org/beta", contributors="Bea Example (Example Lab)"), {}),
    (PackageSpec("Alpha", app_revision=REV, scm_revision="a1a1a1a", depends=("Beta",), category="Segmentation",
                 description="Alpha segments structures with Morphology.", keywords="seg alpha",
                 homepage="https://example.org/alpha", iconurl="https://example.org/alpha.png",
                 contributors="Al Example (Example Lab), Ann Other (Elsewhere)",
                 screenshots="https://example.org/a1.png https://example.org/a2.png",
                 modules=("scripted", "cli"), extra_s4ext={"tier": "3"}), {"tier": 3}),
    (PackageSpec("Gamma", app_revision=REV, scm_revision="c1c1c1c", category="Filtering.Morphology",
                 description="Gamma filters.", keywords="morphology filter"), {}),
    (PackageSpec("Alpha", app_revision=REV, os="win", scm_revision="a1a1a1a", depends=("Beta",),
                 category="Segmentation", description="Alpha segments structures with Morphology."), {}),
    (PackageSpec("Delta", app_revision=REV, os="macosx", scm_revision="d1d1d1d", category="Utilities",
                 description="Delta, macOS only."), {}),
]


def spec_key(spec: PackageSpec) -> tuple[str, str, str]:
    return (spec.name, spec.app_revision, spec.os)


def expected_meta(spec: PackageSpec, extra: dict[str, Any], sha512: str) -> dict[str, Any]:
    """What both servers must store in ``meta`` (without ``app_id``) for a package."""
    s4 = spec.s4ext_metadata()
    meta: dict[str, Any] = {
        "app_revision": spec.app_revision, "arch": spec.arch, "baseName": spec.name, "os": spec.os,
        "repository_type": "git", "repository_url": s4["scmurl"], "revision": spec.scm_revision,
        "description": s4["description"], "dependency": s4["depends"], "sha512": sha512,
    }
    for s4_key, key in (("category", "category"), ("homepage", "homepage"), ("iconurl", "icon_url"),
                        ("screenshoturls", "screenshots"), ("contributors", "contributors"),
                        ("keywords", "keywords")):
        if s4[s4_key]:
            meta[key] = s4[s4_key]
    meta.update(extra)
    return meta


@dataclass
class Backend:
    name: str
    url: str
    app_id: str
    archives: dict[tuple[str, str, str], Path]
    #: published item id per spec key
    ids: dict[tuple[str, str, str], str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    def client(self) -> SlicerPackagesClient:
        return SlicerPackagesClient(self.url, self.app_id, backoff=0.01)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        return session

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session().get(self.api + path, timeout=30, **kwargs)

    def list(self, **params) -> list[dict]:
        resp = self.get(f"/app/{self.app_id}/extension", params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def download_count(self, name: str, os_name: str, arch: str, revision: str) -> int:
        stats = self.client().download_stats()
        return int(stats.get(revision, {}).get("extensions", {}).get(name, {}).get(os_name, {}).get(arch, 0))

    def wait_download_count(self, expected: int, timeout: float = 10.0, **key: str) -> int:
        """Girder counts a download when its generator is exhausted, just after the last byte: poll."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.download_count(key["name"], key["os"], key["arch"], key["revision"])
            if value >= expected or time.monotonic() > deadline:
                return value
            time.sleep(0.05)


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[tuple[str, str, str], Path]:
    folder = tmp_path_factory.mktemp("contract-packages")
    built = {}
    base = time.time() - 3600
    for i, (spec, _) in enumerate(SPECS):
        path = build_from_spec(folder, spec)
        os.utime(path, (base + i, base + i))  # "created" order = publication order, as on Girder
        built[spec_key(spec)] = path
    return built


@pytest.fixture(scope="module")
def local_backend(archives):
    folder = next(iter(archives.values())).parent
    server = PackageServer(folder, app_id=DEFAULT_APP_ID).start()
    backend = Backend("local", server.url, server.app_id, archives)
    for item in backend.list(limit=0):
        m = item["meta"]
        backend.ids[(m["baseName"], m["app_revision"], m["os"])] = item["_id"]
    try:
        yield backend
    finally:
        server.stop()


@pytest.fixture(scope="module")
def girder_backend(girder_server, archives):
    admin = girder_server.admin
    app = admin.create_app(f"Contract-{os.getpid()}-{time.monotonic_ns()}")
    backend = Backend("girder", girder_server.url, app["_id"], archives)
    for spec, extra in SPECS:
        s4 = spec.s4ext_metadata()
        item = admin.upload_extension(
            app["_id"], archives[spec_key(spec)], baseName=spec.name, os=spec.os, arch=spec.arch,
            revision=spec.scm_revision, app_revision=spec.app_revision, description=s4["description"],
            repository_type="git", repository_url=s4["scmurl"], category=s4["category"] or None,
            dependency=s4["depends"], homepage=s4["homepage"] or None, icon_url=s4["iconurl"] or None,
            screenshots=s4["screenshoturls"] or None, contributors=s4["contributors"] or None,
            keywords=s4["keywords"] or None, **extra)
        backend.ids[spec_key(spec)] = item["_id"]
    return backend


@pytest.fixture(scope="module", params=["local", pytest.param("girder", marks=pytest.mark.girder)])
def backend(request) -> Backend:
    return request.getfixturevalue(f"{request.param}_backend")


def agree(backend: Backend, local: Backend, observe: Callable[[Backend], Any]) -> Any:
    """Observe ``backend``; on the girder run, the same observation on the local backend must be equal."""
    observed = observe(backend)
    if backend is not local:
        reference = observe(local)
        assert observed == reference, f"{backend.name} and {local.name} disagree"
    return observed


# ------------------------------------------------------------------------------------------------
# listing: documents and filters


def normalized_item(item: dict) -> dict:
    meta = dict(item["meta"])
    meta.pop("app_id")
    return {"keys": sorted(item), "name": item["name"], "lowerName": item["lowerName"],
            "description": item["description"], "size": item["size"], "meta": meta,
            "baseParentType": item["baseParentType"]}


def test_item_documents(backend, local_backend):
    def observe(b: Backend):
        return {spec_key_of(i): normalized_item(i) for i in b.list(limit=0)}

    observed = agree(backend, local_backend, observe)
    assert set(observed) == {spec_key(s) for s, _ in SPECS}
    for spec, extra in SPECS:
        doc = observed[spec_key(spec)]
        data = backend.archives[spec_key(spec)].read_bytes()
        assert set(doc["keys"]) == ITEM_KEYS
        assert doc["name"] == f"{spec.app_revision}_{spec.name}_{spec.os}_{spec.arch}_{spec.scm_revision}"
        assert doc["lowerName"] == doc["name"].lower()
        assert doc["size"] == len(data)
        assert doc["description"] == doc["meta"]["description"]
        assert doc["meta"] == expected_meta(spec, extra, hashlib.sha512(data).hexdigest())
        assert doc["baseParentType"] == "collection"
    for item in backend.list(limit=0):
        assert item["meta"]["app_id"] == backend.app_id
        assert item["_id"] == backend.ids[spec_key_of(item)]


def spec_key_of(item: dict) -> tuple[str, str, str]:
    m = item["meta"]
    return (m["baseName"], m["app_revision"], m["os"])


FILTER_CASES = {
    "build": {"app_revision": REV, "os": "linux", "arch": "amd64", "limit": 0},
    "old_build": {"app_revision": OLD, "os": "linux", "arch": "amd64", "limit": 0},
    "win": {"app_revision": REV, "os": "win", "arch": "amd64", "limit": 0},
    "no_build": {"app_revision": "99999", "os": "linux", "arch": "amd64", "limit": 0},
    "basename": {"baseName": "Alpha", "limit": 0},
    "basename_rev": {"baseName": "Alpha", "app_revision": REV, "limit": 0},
    "basename_case": {"baseName": "alpha", "limit": 0},
    "q": {"app_revision": REV, "os": "linux", "arch": "amd64", "q": "MORPH", "limit": 0},
    "q_keywords": {"q": "filter", "limit": 0},
    "sorted": {"app_revision": REV, "os": "linux", "arch": "amd64", "limit": 0, "sort": "meta.baseName", "sortdir": 1},
    "sorted_desc": {"app_revision": REV, "os": "linux", "arch": "amd64", "limit": 0, "sort": "meta.baseName", "sortdir": -1},
    "paged": {"app_revision": REV, "os": "linux", "arch": "amd64", "limit": 2, "offset": 1, "sort": "meta.baseName", "sortdir": 1},
    "default_order": {"limit": 0},
    "default_limit": {},
    "limit_1": {"limit": 1},
}

FILTER_EXPECTED = {
    "build": {("Alpha", REV, "linux"), ("Beta", REV, "linux"), ("Gamma", REV, "linux")},
    "old_build": {("Alpha", OLD, "linux"), ("Delta", OLD, "linux")},
    "win": {("Alpha", REV, "win")},
    "no_build": set(),
    "basename": {("Alpha", OLD, "linux"), ("Alpha", REV, "linux"), ("Alpha", REV, "win")},
    "basename_rev": {("Alpha", REV, "linux"), ("Alpha", REV, "win")},
    "basename_case": set(),
    "q": {("Alpha", REV, "linux"), ("Gamma", REV, "linux")},
    "q_keywords": {("Gamma", REV, "linux")},
}


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
def test_listing_filters(backend, local_backend, case):
    params = FILTER_CASES[case]

    def observe(b: Backend):
        return [spec_key_of(i) for i in b.list(**params)]

    observed = agree(backend, local_backend, observe)
    if case in FILTER_EXPECTED:
        assert set(observed) == FILTER_EXPECTED[case] and len(observed) == len(FILTER_EXPECTED[case])
    elif case == "sorted":
        assert [k[0] for k in observed] == ["Alpha", "Beta", "Gamma"]
    elif case == "sorted_desc":
        assert [k[0] for k in observed] == ["Gamma", "Beta", "Alpha"]
    elif case == "paged":
        assert [k[0] for k in observed] == ["Beta", "Gamma"]
    elif case in ("default_order", "default_limit"):  # created descending = reverse publication order
        assert observed == [spec_key(s) for s, _ in reversed(SPECS)]
    elif case == "limit_1":
        assert observed == [spec_key(SPECS[-1][0])]


def test_listing_by_id_and_errors(backend, local_backend):
    def observe(b: Backend):
        item_id = b.ids[("Gamma", REV, "linux")]
        by_id = [spec_key_of(i) for i in b.list(extension_id=item_id)]
        bad_os = b.get(f"/app/{b.app_id}/extension", params={"os": "beos"})
        bad_limit = b.get(f"/app/{b.app_id}/extension", params={"limit": "lots"})
        arm64 = b.get(f"/app/{b.app_id}/extension", params={"arch": "arm64"})
        return {"by_id": by_id,
                "bad_os": (bad_os.status_code, bad_os.json()),
                "bad_limit": (bad_limit.status_code, bad_limit.json()),
                "arm64": (arm64.status_code, arm64.json())}

    observed = agree(backend, local_backend, observe)
    assert observed["by_id"] == [("Gamma", REV, "linux")]
    assert observed["bad_os"] == (400, {"message": 'Invalid value for os: "beos". Allowed values: linux, win, macosx.',
                                        "type": "rest"})
    assert observed["bad_limit"] == (400, {"message": "Invalid value for integer parameter limit: lots.",
                                           "type": "rest"})
    assert observed["arm64"] == (200, [])  # accepted (plugin 0.11; PackageServer unless strict_arch)


def test_bad_arch_message(request, backend, local_backend):
    # Plugin 0.11.0 (the Girder fixture) lists arm64 among the allowed values; PackageServer
    # accepts arm64 too but prints the 0.10 message without it.

    def observe(b: Backend):
        resp = b.get(f"/app/{b.app_id}/extension", params={"arch": "sparc"})
        return resp.status_code, resp.json()

    observed = agree(backend, local_backend, observe)
    assert observed[0] == 400 and observed[1]["type"] == "rest"
    assert observed[1]["message"].startswith('Invalid value for arch: "sparc". Allowed values: i386, amd64')


def test_client_extension_items(backend, local_backend):
    """Our client's own calls (the catalog request and the details lookups)."""

    def observe(b: Backend):
        client = b.client()
        catalog = sorted(spec_key_of(i) for i in client.extension_items(REV, "linux", "amd64"))
        searched = [i["meta"]["baseName"] for i in client.extension_items(
            REV, "linux", "amd64", q="alpha", sort="meta.baseName", sortdir=1)]
        by_name = [spec_key_of(i) for i in client.extension_items(REV, "win", "amd64", base_name="Alpha")]
        return {"catalog": catalog, "searched": searched, "by_name": by_name, "requests": client.request_count}

    observed = agree(backend, local_backend, observe)
    assert observed == {"catalog": [("Alpha", REV, "linux"), ("Beta", REV, "linux"), ("Gamma", REV, "linux")],
                        "searched": ["Alpha"], "by_name": [("Alpha", REV, "win")], "requests": 3}


# ------------------------------------------------------------------------------------------------
# items, files, download


def test_item_and_files_documents(backend, local_backend):
    def observe(b: Backend):
        item_id = b.ids[("Alpha", REV, "linux")]
        item = b.get(f"/item/{item_id}")
        files = b.get(f"/item/{item_id}/files")
        docs = files.json()
        return {
            "item_status": item.status_code,
            "item_keys": sorted(item.json()),
            "item_model": item.json().get("_modelType"),
            "files_status": files.status_code,
            "total_count": files.headers.get("Girder-Total-Count"),
            "count": len(docs),
            "file_keys": sorted(docs[0]),
            "file": {k: docs[0][k] for k in ("_modelType", "exts", "mimeType", "name", "sha512", "size")},
            "file_item_is_item": docs[0]["itemId"] == item_id,
        }

    observed = agree(backend, local_backend, observe)
    archive = backend.archives[("Alpha", REV, "linux")]
    data = archive.read_bytes()
    assert observed["item_status"] == observed["files_status"] == 200
    assert observed["item_model"] == "item"
    assert set(observed["item_keys"]) == (ITEM_KEYS - {"lowerName"}) | {"_modelType"}
    assert observed["total_count"] == "1" and observed["count"] == 1
    assert set(observed["file_keys"]) == FILE_KEYS
    assert observed["file"] == {"_modelType": "file", "exts": ["tar", "gz"], "mimeType": "application/octet-stream",
                                "name": archive.name, "sha512": hashlib.sha512(data).hexdigest(), "size": len(data)}
    assert observed["file_item_is_item"]


def _known_disagreement(request, backend: Backend, reason: str) -> None:
    """Mark the girder run of a test as an expected failure: the two servers are known to
    disagree there (reported as a PackageServer bug). Strict, so a fix shows up."""
    if backend.name == "girder":
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def test_anonymous_file_document_keys(request, backend, local_backend):

    def observe(b: Backend):
        item_id = b.ids[("Alpha", REV, "linux")]
        listed = b.get(f"/item/{item_id}/files").json()[0]
        single = b.get(f"/file/{listed['_id']}").json()
        return sorted(listed), sorted(single)

    listed, single = agree(backend, local_backend, observe)
    assert listed == single


def test_anonymous_resource_lookup(request, backend, local_backend):

    def observe(b: Backend):
        resp = b.get(f"/resource/{b.ids[('Alpha', REV, 'linux')]}", params={"type": "item"})
        return resp.status_code, resp.json() if resp.status_code >= 400 else sorted(resp.json())

    agree(backend, local_backend, observe)


def test_range_download(backend, local_backend):
    def observe(b: Backend):
        file_id = b.client().package_file(b.ids[("Beta", REV, "linux")])["_id"]
        out = {}
        for label, header in (("middle", "bytes=10-99"), ("open", "bytes=100-"), ("suffix", "bytes=-50")):
            resp = b.get(f"/file/{file_id}/download", headers={"Range": header})
            out[label] = (resp.status_code, resp.headers.get("Content-Range"), resp.headers.get("Content-Length"),
                          hashlib.sha256(resp.content).hexdigest(), resp.headers.get("Accept-Ranges"))
        full = b.get(f"/file/{file_id}/download")
        out["full"] = (full.status_code, full.headers.get("Content-Range"), full.headers.get("Content-Disposition"),
                       hashlib.sha256(full.content).hexdigest())
        return out

    observed = agree(backend, local_backend, observe)
    archive = backend.archives[("Beta", REV, "linux")]
    data = archive.read_bytes()
    size = len(data)

    def h(b: bytes) -> str:
        return hashlib.sha256(b).hexdigest()

    assert observed["middle"] == (206, f"bytes 10-99/{size}", "90", h(data[10:100]), "bytes")
    assert observed["open"] == (206, f"bytes 100-{size - 1}/{size}", str(size - 100), h(data[100:]), "bytes")
    assert observed["suffix"] == (206, f"bytes {size - 50}-{size - 1}/{size}", "50", h(data[-50:]), "bytes")
    assert observed["full"] == (200, None, f'attachment; filename="{archive.name}"', h(data))


def test_download_statistics(backend, local_backend, tmp_path):
    key = {"name": "Gamma", "os": "linux", "arch": "amd64", "revision": REV}

    def observe(b: Backend):
        before = b.download_count(key["name"], key["os"], key["arch"], key["revision"])
        client = b.client()
        dest = tmp_path / b.name / str(time.monotonic_ns())
        dest.mkdir(parents=True)
        result = client.download_package(b.ids[("Gamma", REV, "linux")], dest, name="Gamma")
        after = b.wait_download_count(before + 1, **key)
        # a partial range that stops before the end does not count
        file_id = client.package_file(b.ids[("Gamma", REV, "linux")])["_id"]
        b.get(f"/file/{file_id}/download", headers={"Range": "bytes=0-9"})
        time.sleep(0.3)
        after_partial = b.download_count(key["name"], key["os"], key["arch"], key["revision"])
        stats = client.download_stats()
        draft = b.get(f"/app/{b.app_id}/release", params={"release_id_or_name": "draft"}).json()
        return {
            "delta": after - before,
            "partial_delta": after_partial - after,
            "verified": result.verified,
            "stats_shape": sorted(stats[REV]),
            "entry_shape": {name: sorted(per_os) for name, per_os in stats[REV]["extensions"].items()
                            if name == "Gamma"},
            "draft_has_stats": draft["meta"]["downloadStats"][REV]["extensions"]["Gamma"]["linux"]["amd64"] == after,
        }

    observed = agree(backend, local_backend, observe)
    assert observed == {"delta": 1, "partial_delta": 0, "verified": True, "stats_shape": ["extensions"],
                        "entry_shape": {"Gamma": ["linux"]}, "draft_has_stats": True}


# ------------------------------------------------------------------------------------------------
# installer and restore through ExtensionsManager


def _s4ext_view(path: Path) -> dict[str, str]:
    data = s4ext.read(path)
    for volatile in ("extension_id", "updated"):
        data.pop(volatile, None)
    return data


def test_install_with_dependency(backend, local_backend, make_profile):
    def observe(b: Backend):
        ctx = make_profile(b.url, b.app_id)
        manager = ExtensionsManager(ctx, client=b.client())
        report = manager.install(["Alpha"])
        assert report.ok, report.to_json()
        ip = ctx.install_path
        rs = QSettings(str(ctx.revision_settings_path), QSettings.Format.IniFormat)
        additional = [p.replace(ip.as_posix(), "<install>") for p in rs.value("Modules/AdditionalPaths", [], type=list)]
        python_paths = []
        n = rs.beginReadArray("PYTHONPATH")
        for i in range(n):
            rs.setArrayIndex(i)
            python_paths.append(str(rs.value("path")).replace(ip.as_posix(), "<install>"))
        rs.endArray()
        ids = {name: s4ext.read(ip / f"{name}.s4ext")["extension_id"] for name in ("Alpha", "Beta")}
        return {
            "order": [r.name for r in report.results],
            "outcomes": sorted(report.to_json()["installed"]),
            "s4ext": {name: _s4ext_view(ip / f"{name}.s4ext") for name in ("Alpha", "Beta")},
            "ids_match": ids == {"Alpha": b.ids[("Alpha", REV, "linux")], "Beta": b.ids[("Beta", REV, "linux")]},
            "additional_paths": sorted(additional),
            "python_paths": sorted(python_paths),
            "files": sorted(p.relative_to(ip).as_posix() for p in ip.rglob("*")
                            if p.is_file() and not p.name.startswith(".") and p.suffix != ".json"),
        }

    observed = agree(backend, local_backend, observe)
    assert observed["order"] == ["Beta", "Alpha"]
    assert observed["outcomes"] == ["Alpha", "Beta"]
    assert observed["ids_match"]
    alpha = observed["s4ext"]["Alpha"]
    assert alpha["depends"] == "Beta" and alpha["revision"] == "a1a1a1a" and alpha["slicer_revision"] == REV
    assert alpha["installed"] == "true" and alpha["enabled"] == "true"
    assert alpha["archivename"] == backend.archives[("Alpha", REV, "linux")].name
    assert alpha["meta.tier"] == "3" and alpha["meta.keywords"] == "seg alpha"
    assert observed["additional_paths"] == sorted([
        "<install>/Alpha/lib/Slicer-5.8/cli-modules", "<install>/Alpha/lib/Slicer-5.8/qt-scripted-modules",
        "<install>/Beta/lib/Slicer-5.8/qt-loadable-modules", "<install>/Beta/lib/Slicer-5.8/qt-scripted-modules"])
    assert "Alpha.s4ext" in observed["files"] and "Beta/share/Slicer-5.8/Beta.s4ext" in observed["files"]


def test_restore_plan(backend, local_backend, make_profile):
    user_ini = (
        "[ExtensionsHistory]\n"
        f"Revisions\\{OLD}=Alpha, Delta\n"
        "[Extensions]\n"
        "Bookmarked=Gamma, Nowhere\n"
    )

    def observe(b: Backend):
        ctx = make_profile(b.url, b.app_id, user_ini=user_ini)
        client = b.client()
        plan = ExtensionsManager(ctx, client=client).restore_plan()
        data = plan.to_json()
        ids_ok = all(c["extension_id"] in (None, b.ids.get((c["name"], REV, "linux"))) for c in data["candidates"])
        for c in data["candidates"]:
            c.pop("extension_id")
        return {"plan": data, "ids_ok": ids_ok, "requests": client.request_count}

    observed = agree(backend, local_backend, observe)
    assert observed["ids_ok"] and observed["requests"] == 1
    plan = observed["plan"]
    assert plan["previous_revision"] == OLD
    by_name = {c["name"]: c for c in plan["candidates"]}
    assert list(by_name) == ["Alpha", "Delta", "Gamma", "Nowhere"]
    assert [n for n, c in by_name.items() if c["selected"]] == ["Alpha", "Gamma"]
    assert by_name["Delta"]["available"] is False and "not found on the server" in by_name["Delta"]["reason"]
    assert by_name["Nowhere"]["bookmarked"] and not by_name["Nowhere"]["available"]
