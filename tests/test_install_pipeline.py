"""The install pipeline (issue #19): downloads run ahead of the installs, at most
``DOWNLOADS_AT_ONCE`` at once, while extraction and commit stay strictly sequential in
queue order; per-item progress, results, cancel and clean-up as before. Against the
fault-injecting local server (slow or failing downloads on demand); no timing assertions."""

from __future__ import annotations

import threading
import time

import pytest

from slicer_ext_manager import archive
from slicer_ext_manager.installer import STAGING_DIR, Installer
from slicer_ext_manager.installs import DOWNLOADS_AT_ONCE, PARTIAL_DOWNLOADS_DIR
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.queue import EventKind, InstallQueue, Outcome
from slicer_ext_manager.server import SlicerPackagesClient

from .faultserver import Faults, FaultyPackageServer

REV = "33241"
NAMES = ["Pkg1", "Pkg2", "Pkg3", "Pkg4", "Pkg5"]


class Recorder:
    """Counts how many calls of one kind run at once, and in which order they start."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.most = 0
        self.order: list[str] = []

    def wrap(self, func, name_of):
        def wrapper(*args, **kwargs):
            with self.lock:
                self.active += 1
                self.most = max(self.most, self.active)
                self.order.append(name_of(*args, **kwargs))
            try:
                return func(*args, **kwargs)
            finally:
                with self.lock:
                    self.active -= 1
        return wrapper


@pytest.fixture
def served(tmp_path, make_profile):
    """Five independent packages on the fault-injecting local server; yields (server, faults, manager)."""
    folder = tmp_path / "pkgs"
    for name in NAMES:
        build_extension_package(folder, name, app_revision=REV, payload_size=320 * 1024)
    faults = Faults()
    with FaultyPackageServer(folder, faults=faults) as server:
        server.start()
        ctx = make_profile(server.url, server.app_id)
        client = SlicerPackagesClient(ctx.server_url, ctx.app_id, backoff=0.01, retries=1)
        yield server, faults, ExtensionsManager(ctx, client=client)


def _file_lookups(server) -> int:
    return sum(1 for _, path, _ in list(server.requests) if path.endswith("/files"))


def test_downloads_overlap_bounded_while_installs_stay_in_queue_order(served, monkeypatch):
    server, faults, manager = served
    faults.delay(r"/download", 0.02, per_chunk=True, times=None)  # every download takes a while
    downloads, extractions, commits = Recorder(), Recorder(), Recorder()
    manager.download = downloads.wrap(manager.download, lambda meta, *a, **k: meta.name)
    monkeypatch.setattr(archive, "extract_verified",
                        extractions.wrap(archive.extract_verified, lambda path, *a, **k: k["expected_name"]))
    monkeypatch.setattr(Installer, "commit", commits.wrap(Installer.commit, lambda self, name, *a, **k: name))
    events = []
    report = manager.install(NAMES, listener=events.append)
    assert report.ok, report.to_json()
    order = [r.name for r in report.results]
    assert order == NAMES  # no dependencies: the queue keeps the order asked for
    assert downloads.most == DOWNLOADS_AT_ONCE == 2  # overlapping, and bounded
    assert sorted(downloads.order) == NAMES and downloads.order[0] == NAMES[0]
    assert extractions.order == commits.order == order  # strictly in queue order...
    assert extractions.most == commits.most == 1  # ...and one at a time
    # Per-item progress as before: each item starts, reports its whole download, finishes.
    starts = [(e.name, e.index) for e in events if e.kind == EventKind.STARTED]
    assert starts == [(name, i + 1) for i, name in enumerate(NAMES)]
    for name in NAMES:
        done = [e for e in events if e.kind == EventKind.PROGRESS and e.name == name and e.phase.value == "download"]
        assert done and done[-1].done == done[-1].size
    assert not (manager.context.install_path / STAGING_DIR).exists()


def test_file_lookups_of_later_packages_happen_before_the_first_extraction_ends(served, monkeypatch):
    server, faults, manager = served
    seen: dict[str, int] = {}
    original = archive.extract_verified

    def slow_first(path, *args, **kwargs):
        result = original(path, *args, **kwargs)
        if not seen:
            deadline = time.monotonic() + 10
            while _file_lookups(server) < 1 + DOWNLOADS_AT_ONCE and time.monotonic() < deadline:
                time.sleep(0.01)  # (gives the prefetch threads time; never a timing assertion)
            seen[kwargs["expected_name"]] = _file_lookups(server)
        return result

    monkeypatch.setattr(archive, "extract_verified", slow_first)
    report = manager.install(NAMES)
    assert report.ok, report.to_json()
    # When Pkg1's extraction ended, the lookups of Pkg2 and Pkg3 had been made (before: only Pkg2's).
    assert seen == {"Pkg1": 1 + DOWNLOADS_AT_ONCE}
    assert _file_lookups(server) == len(NAMES)  # one lookup per package, none repeated


@pytest.mark.parametrize("resumable", [False, True])
def test_cancel_mid_queue_removes_every_staged_or_partial_download(served, resumable):
    server, faults, manager = served
    faults.delay(r"/download", 0.05, per_chunk=True, times=None)
    queue = InstallQueue()
    started: set[str] = set()

    def listener(event):
        if event.kind == EventKind.PROGRESS and event.done:
            started.add(event.name)
            if event.name == "Pkg1" and event.done >= 128 * 1024:
                queue.cancel_all()

    plan = manager.plan_install(NAMES)
    results = manager.run_jobs(manager.install_jobs(plan, resumable=resumable), queue=queue, listener=listener)
    assert [r.name for r in results] == NAMES
    assert {r.outcome for r in results} == {Outcome.CANCELLED}
    ip = manager.context.install_path
    assert not (ip / STAGING_DIR).exists()  # downloads started ahead went with their staging folders
    assert not any((ip / name).exists() for name in NAMES)
    downloads = ip / PARTIAL_DOWNLOADS_DIR
    if resumable:
        # Only the cancelled job's own partial download stays, for Retry; the ones ahead went.
        kept = sorted(p.name.split(".")[0] for p in downloads.iterdir())
        assert kept == ["Pkg1"] and list((downloads / next(downloads.iterdir()).name).glob("*.part"))
    else:
        assert not downloads.exists()


def test_failed_download_while_the_next_one_downloads_reports_each_item(served, monkeypatch):
    server, faults, manager = served
    meta = manager.catalog().get("Pkg3")
    file_id = manager.client.item_files(meta.extension_id)[0]["_id"]
    faults.error(rf"/file/{file_id}/download", status=500, times=None)
    faults.delay(r"/download", 0.02, per_chunk=True, times=None)
    downloads = Recorder()
    manager.download = downloads.wrap(manager.download, lambda meta, *a, **k: meta.name)
    report = manager.install(NAMES)
    outcomes = {r.name: r for r in report.results}
    assert [r.name for r in report.results] == NAMES
    assert outcomes["Pkg3"].outcome == Outcome.FAILED and "500" in outcomes["Pkg3"].message
    assert all(outcomes[n].outcome == Outcome.INSTALLED for n in NAMES if n != "Pkg3")
    assert downloads.most == DOWNLOADS_AT_ONCE
    ip = manager.context.install_path
    assert not (ip / "Pkg3").exists() and not (ip / "Pkg3.s4ext").exists()
    assert not (ip / STAGING_DIR).exists()
    assert report.to_json()["failed"][0]["name"] == "Pkg3"
