"""Core additions the dialog relies on: the loaded state of an extension, linked
resources (icons, screenshots) fetched through the client's session, and resumable
install jobs whose partial download survives a failure."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from slicer_ext_manager.errors import HTTPStatusError, MalformedResponseError
from slicer_ext_manager.installs import PARTIAL_DOWNLOADS_DIR
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.metadata import ExtensionMetadata
from slicer_ext_manager.queue import EventKind, Outcome
from slicer_ext_manager.server import SlicerPackagesClient
from slicer_ext_manager.state import InstalledRecord, LoadedSet, Options, build_profile_state

from .faultserver import Faults, FaultyPackageServer

REV = "33241"


def _meta(name: str, revision: str = "r1") -> ExtensionMetadata:
    return ExtensionMetadata(name=name, revision=revision, slicer_revision=REV, os="linux", arch="amd64")


def test_extension_state_says_whether_and_what_was_loaded():
    installed = {"Kept": InstalledRecord(_meta("Kept"), True), "Updated": InstalledRecord(_meta("Updated", "r2"), True),
                 "New": InstalledRecord(_meta("New"), True)}
    loaded = LoadedSet({"Kept": ("r1", True), "Updated": ("r1", True)})
    state = build_profile_state(revision=REV, os_name="linux", arch="amd64", installed=installed, catalog=None,
                                bookmarks=(), scheduled_uninstalls=(), scheduled_updates={}, options=Options(),
                                loaded=loaded)
    kept, updated, new = state.get("Kept"), state.get("Updated"), state.get("New")
    assert (kept.loaded, kept.loaded_revision, kept.pending_restart) == (True, "r1", False)
    assert (updated.loaded, updated.loaded_revision, updated.pending_restart) == (True, "r1", True)
    assert (new.loaded, new.loaded_revision, new.pending_restart) == (False, "", True)


class _Handler(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self):  # noqa: N802 (http.server name)
        _Handler.seen.append((self.path, self.headers.get("Girder-Token")))
        if self.path == "/icon.png":
            body = b"\x89PNG fake"
        elif self.path == "/big.png":
            body = b"x" * 5000
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_host():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_get_resource_sends_credentials_only_to_the_server(http_host):
    own = SlicerPackagesClient(http_host, "a" * 24, token="secret", retries=0)
    assert own.get_resource(http_host + "/icon.png") == b"\x89PNG fake"
    other = SlicerPackagesClient("http://localhost:9", "a" * 24, token="secret", retries=0)
    assert other.get_resource(http_host + "/icon.png") == b"\x89PNG fake"
    assert _Handler.seen == [("/icon.png", "secret"), ("/icon.png", None)]
    with pytest.raises(MalformedResponseError, match="too large"):
        other.get_resource(http_host + "/big.png", max_bytes=1000)
    with pytest.raises(HTTPStatusError, match="404"):
        other.get_resource(http_host + "/missing.png")
    with pytest.raises(MalformedResponseError, match="not an http or https address"):
        other.get_resource("ftp://example.org/icon.png")


def test_resumable_job_keeps_the_partial_download_and_continues_it(tmp_path, make_profile):
    folder = tmp_path / "pkgs"
    build_extension_package(folder, "Big", app_revision=REV, payload_size=3 * 1024 * 1024)
    faults = Faults()
    with FaultyPackageServer(folder, faults=faults) as server:
        server.start()
        ctx = make_profile(server.url, server.app_id)
        manager = ExtensionsManager(ctx, client=SlicerPackagesClient(ctx.server_url, ctx.app_id, backoff=0.01,
                                                                      retries=1))
        faults.drop(r"/download", after_bytes=1024 * 1024, times=None)
        plan = manager.plan_install(["Big"])
        first = manager.run_jobs(manager.install_jobs(plan, resumable=True))
        assert first[0].outcome == Outcome.FAILED
        parts = list((ctx.install_path / PARTIAL_DOWNLOADS_DIR).rglob("*.part"))
        assert len(parts) == 1 and parts[0].stat().st_size >= 1024 * 1024
        kept = parts[0].stat().st_size
        faults.clear()
        events = []
        again = manager.run_jobs(manager.install_jobs(manager.plan_install(["Big"]), resumable=True),
                                 listener=events.append)
        assert again[0].outcome == Outcome.INSTALLED
        progress = [e.done for e in events if e.kind == EventKind.PROGRESS and e.name == "Big" and e.done]
        assert progress and progress[0] > kept  # continued, not started over
        assert not (ctx.install_path / PARTIAL_DOWNLOADS_DIR).exists()


def test_discard_partial_downloads(tmp_path, make_profile):
    ctx = make_profile()
    manager = ExtensionsManager(ctx)
    root = ctx.install_path / PARTIAL_DOWNLOADS_DIR
    (root / "Foo.abc").mkdir(parents=True)
    (root / "Foo.abc" / "pkg.tar.gz.part").write_bytes(b"x")
    (root / "Foo-Bar.def").mkdir()
    assert manager.discard_partial_downloads(["Foo", "Other"]) == ["Foo"]
    assert [p.name for p in root.iterdir()] == ["Foo-Bar.def"]
    assert manager.discard_partial_downloads(["Foo-Bar"]) == ["Foo-Bar"] and not root.exists()


def test_a_demo_that_fails_to_start_leaves_no_profile(tmp_path, monkeypatch):
    """#17.13 (localserver/demo.py): the temporary profile goes when preparing the demo fails."""
    import tempfile

    from slicer_ext_manager.localserver import demo

    made = []
    real = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made.append(real(*args, dir=tmp_path, **{k: v for k, v in kwargs.items() if k != "dir"}))
        return made[-1]

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(demo.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(demo, "write_profile", broken)
    with pytest.raises(OSError):
        demo.prepare_demo(tmp_path / "work", preinstall=False)
    assert made and not any(Path(p).exists() for p in made)


def test_a_fresh_cached_catalog_is_read_once(make_profile, monkeypatch):
    """The dialog shows the cache at once and then asks for the catalog: one file read."""
    from slicer_ext_manager.cache import MetadataCache

    ctx = make_profile()
    manager = ExtensionsManager(ctx)
    MetadataCache(ctx).save({"A": _meta("A")}, key=manager.catalog_service.key)
    loads = []
    real = MetadataCache.load
    monkeypatch.setattr(MetadataCache, "load", lambda self, key=None: loads.append(key) or real(self, key))
    first = manager.cached_catalog()
    assert first is not None and first.from_cache and "A" in first.extensions
    assert manager.catalog() is first and len(loads) == 1  # fresh: no second read, no request
