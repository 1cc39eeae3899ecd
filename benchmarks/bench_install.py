#!/usr/bin/env python3
"""Benchmark 2 — install throughput.

Setup: 10 extension packages of 20 MB of incompressible content each (quick: 3 × 1 MB),
published to the **real Slicer Package Manager server** (``tests/girder``: Girder + the
plugin, the headline; "not run" without its virtualenv) and served by the local package
server (``serve``), each in its own process. Both servers get the same measurements.

Measured, each repetition from an empty install folder and a cold metadata cache:

* **ours**: ``slicer-ext-manager install Ext00 … Ext09`` as one process (includes
  interpreter start-up and the catalog request). The core downloads the next packages on
  background threads (at most ``installs.DOWNLOADS_AT_ONCE`` at once) while the current
  one is verified, extracted and committed (``installs.Prefetcher``);
* **baseline**: for each package in turn, ``curl -o`` of the same ``/file/{id}/download``
  URL then ``tar -xzf`` (system tools, sequential);
* **breakdown**: ``ExtensionsManager.install`` in-process with timers wrapped from outside
  around the core calls, per thread: the main thread (waiting for the download, inspect +
  extract in one pass, commit = move + ``.s4ext`` + settings, catalog request) and the background
  threads (download = network + write, sha512, fsync, metadata request; staging cleanup);
* **what-ifs** (patches applied by this script, never shipped): prefetch disabled (what
  the prefetch buys), one download at a time one package ahead (the prefetch before issue
  #19), the local server with ``TCP_NODELAY``, and then also no ``fsync`` at all.

Ratios ours / baseline per repetition; the median is compared with the targets (real
server, issue #19: ≤ 1.00, stretch ≤ 0.80; local server: ≤ 1.10, stretch ≤ 0.85). ``os.sync()`` runs before each timed run (not counted) so dirty
pages of one run do not slow the next. ``--profile`` adds a cProfile of one in-process run
(main thread only).

Usage: ``python benchmarks/bench_install.py [--quick] [--reps N] [--count N] [--size-mb N] [--profile]
[--no-girder | --girder-only]``
"""

from __future__ import annotations

import contextlib
import cProfile
import hashlib
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common  # noqa: E402
from benchmarks.common import MB, Report  # noqa: E402

# ------------------------------------------------------------------------------------------------
# timers wrapped around core calls from outside


class PhaseTimer:
    """Exclusive wall time per (thread, phase): a phase nested in another (sha512 inside
    download) is subtracted from its parent. Threads are grouped by name: ``main``,
    ``prefetch``, ``staging-cleanup``. ``wrap(owner, attr, phase)`` patches until ``restore()``."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, str], float] = defaultdict(float)
        self._local = threading.local()
        self._patches: list[tuple[Any, str, Any]] = []
        self._lock = threading.Lock()

    @staticmethod
    def _group() -> str:
        name = threading.current_thread().name
        return "main" if name == "MainThread" else name.rsplit("_", 1)[0]

    def begin(self, phase: str) -> None:
        stack = self._local.__dict__.setdefault("stack", [])
        stack.append([phase, time.perf_counter(), 0.0])

    def end(self) -> None:
        stack = self._local.stack
        phase, start, children = stack.pop()
        elapsed = time.perf_counter() - start
        with self._lock:
            self.totals[(self._group(), phase)] += elapsed - children
        if stack:
            stack[-1][2] += elapsed

    def timed(self, phase: str, func: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            self.begin(phase)
            try:
                return func(*args, **kwargs)
            finally:
                self.end()
        return wrapper

    def wrap(self, owner: Any, attr: str, phase: str) -> None:
        original = getattr(owner, attr)
        self._patches.append((owner, attr, original))
        setattr(owner, attr, self.timed(phase, original))

    def replace(self, owner: Any, attr: str, value: Any) -> None:
        self._patches.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, value)

    def restore(self) -> None:
        for owner, attr, original in reversed(self._patches):
            setattr(owner, attr, original)
        self._patches.clear()


class _TimedHashlib:
    """Stands in for the ``hashlib`` module inside ``slicer_ext_manager.server`` so that
    ``sha512().update`` is timed as its own phase."""

    def __init__(self, timer: PhaseTimer):
        self._timer = timer

    def __getattr__(self, name: str) -> Any:
        return getattr(hashlib, name)

    def sha512(self, *args):
        timer, hasher = self._timer, hashlib.sha512(*args)

        class Hasher:
            def update(self, data):
                timer.begin("sha512")
                try:
                    hasher.update(data)
                finally:
                    timer.end()

            def hexdigest(self):
                return hasher.hexdigest()

        return Hasher()


def instrument(timer: PhaseTimer) -> None:
    """Wrap the core calls of an install (see the module docstring)."""
    from slicer_ext_manager import archive, download, installer, installs
    from slicer_ext_manager.catalog import CatalogService

    timer.wrap(download.Downloader, "download_file", "download (network + write)")
    timer.replace(download, "hashlib", _TimedHashlib(timer))
    timer.wrap(os, "fsync", "fsync")
    timer.wrap(download.Downloader, "package_file", "metadata request (item files)")
    timer.wrap(CatalogService, "fetch", "catalog request")
    timer.wrap(installs._Slot, "wait", "waiting for the download")
    timer.wrap(archive, "inspect_package", "inspect")
    timer.wrap(archive, "extract_package", "extract")
    timer.wrap(archive, "extract_verified", "inspect + extract (one pass)")
    timer.wrap(installer.Installer, "commit", "commit (move, .s4ext, settings)")
    timer.wrap(installer, "discard_transaction", "staging rmtree")


@contextlib.contextmanager
def no_prefetch():
    """What-if: the core's prefetch disabled (each package downloaded when its job starts)."""
    from slicer_ext_manager import installs

    original = installs.Prefetcher

    class NoAhead(original):  # type: ignore[misc, valid-type]
        def start(self, meta, *, ahead=True):
            return None if ahead else super().start(meta, ahead=False)

    installs.Prefetcher = NoAhead
    try:
        yield
    finally:
        installs.Prefetcher = original


@contextlib.contextmanager
def downloads_at_once(count: int):
    """What-if: the prefetcher's bound on concurrent downloads (1 = one package ahead on
    one thread, the behaviour before issue #19)."""
    from slicer_ext_manager import installs

    original = getattr(installs.Prefetcher, "downloads_at_once", 1)  # (1 before issue #19)
    installs.Prefetcher.downloads_at_once = count
    try:
        yield
    finally:
        installs.Prefetcher.downloads_at_once = original


@contextlib.contextmanager
def no_fsync():
    """What-if: the client process skips ``os.fsync`` (the downloaded archive is deleted
    after extraction anyway; the extracted files are not fsynced by the core either)."""
    original = os.fsync
    os.fsync = lambda fd: None
    try:
        yield
    finally:
        os.fsync = original


# ------------------------------------------------------------------------------------------------
# the contenders


def run_cli(profile: common.SlicerProfile, names: list[str]) -> float:
    profile.reset_install()
    os.sync()
    seconds, proc = common.run_timed(common.cli_command() + profile.cli_args() + ["--json", "install", *names])
    installed = json.loads(proc.stdout)["installed"]
    if sorted(installed) != sorted(names):
        raise RuntimeError(f"the CLI installed {installed}, expected {names}")
    return seconds


def run_baseline(root: Path, urls: list[str]) -> float:
    """curl + tar -xzf, one package after the other."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "dl").mkdir(parents=True)
    (root / "out").mkdir()
    os.sync()
    start = time.perf_counter()
    for i, url in enumerate(urls):
        archive = root / "dl" / f"{i}.tar.gz"
        subprocess.run(["curl", "-sS", "-f", "-o", str(archive), url], check=True)
        subprocess.run(["tar", "-xzf", str(archive), "-C", str(root / "out")], check=True)
    return time.perf_counter() - start


def run_inprocess(profile: common.SlicerProfile, names: list[str], timer: PhaseTimer | None = None) -> float:
    profile.reset_install()
    manager = profile.manager()
    os.sync()
    if timer:
        instrument(timer)
    try:
        start = time.perf_counter()
        report = manager.install(names)
        elapsed = time.perf_counter() - start
    finally:
        if timer:
            timer.restore()
    if not report.ok:
        raise RuntimeError(f"in-process install failed: {report.to_json()['failed']}")
    return elapsed


def profile_once(profile: common.SlicerProfile, names: list[str]) -> str:
    profiler = cProfile.Profile()
    profile.reset_install()
    manager = profile.manager()
    profiler.enable()
    manager.install(names)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    return out.getvalue()


def run_whatif_pair(root: Path, names: list[str], reps: int, label: str, first: Callable[[], Any],
                    second: Callable[[], Any], **server_options: Any) -> tuple[list[float], list[float]]:
    """Two in-process variants (context managers) on one local server started with
    ``server_options``, one after the other in each repetition: (first's times, second's)."""
    with common.LocalServer(root / "packages", **server_options) as server:
        profile = common.make_profile(root / f"profile-{label}", server.url, server.app_id)
        run_inprocess(profile, names)
        a, b = [], []
        for _ in range(reps):
            with first():
                a.append(run_inprocess(profile, names))
            with second():
                b.append(run_inprocess(profile, names))
    return a, b


#: What-if: a server one round trip of this many seconds away (each lookup and download waits it).
LATENCY = 0.1


# ------------------------------------------------------------------------------------------------


@dataclass
class Setup:
    """One server's side of the benchmark: the profile, the download URLs the client hits, sizes."""

    tag: str
    profile: common.SlicerProfile
    urls: list[str]
    names: list[str]
    reps: int
    total_mb: float
    have_curl: bool
    root: Path


def measure(setup: Setup) -> dict[str, Any]:
    """CLI and baseline alternating, in-process, prefetch disabled; then one instrumented run."""
    profile, names = setup.profile, setup.names
    run_cli(profile, names)  # warm-up (byte-code, page cache, server caches); not counted
    runs: dict[str, Any] = defaultdict(list)
    for rep in range(setup.reps):
        # Alternate the order so neither side always runs first after the sync.
        if rep % 2 == 0:
            runs["ours"].append(run_cli(profile, names))
        if setup.have_curl:
            runs["base"].append(run_baseline(setup.root / f"baseline-{setup.tag}", setup.urls))
        if rep % 2 == 1:
            runs["ours"].append(run_cli(profile, names))
        if setup.have_curl:
            runs["ratios"].append(runs["ours"][-1] / runs["base"][-1])
        runs["inproc"].append(run_inprocess(profile, names))
        with no_prefetch():
            runs["sequential"].append(run_inprocess(profile, names))
        with downloads_at_once(1):
            runs["one_at_a_time"].append(run_inprocess(profile, names))
    timer = PhaseTimer()
    runs["breakdown_total"] = run_inprocess(profile, names, timer)
    runs["timer"] = timer
    return runs


def report_runs(report: Report, setup: Setup, runs: dict[str, Any], targets: tuple[float, float]) -> None:
    """The figures of one :func:`measure` (keys prefixed with the server's tag, if any)."""
    key = (setup.tag + ".") if setup.tag != "local" else ""
    label = f"{setup.tag}: "
    reps, count = setup.reps, len(setup.names)
    size = setup.total_mb / count
    m_ours = common.median(runs["ours"])
    m_base = common.median(runs["base"]) if runs["base"] else None
    report.add(f"{key}ours_cli", f"{label}ours: slicer-ext-manager install, {count} × {size:g} MB (process)",
               m_ours, "s", note=f"median of {reps}; {setup.total_mb / m_ours:.0f} MB/s")
    if m_base:
        report.add(f"{key}baseline", f"{label}baseline: curl + tar -xzf, sequential, same URLs", m_base, "s",
                   note=f"median of {reps}; {setup.total_mb / m_base:.0f} MB/s")
        per_run = "per run: " + ", ".join(f"{r:.2f}" for r in runs["ratios"])
        ratio = common.median(runs["ratios"])
        report.add(f"{key}ratio", f"{label}ratio ours (CLI) / baseline, median of per-run ratios", ratio, "x",
                   target=("<=", targets[0]), note=per_run)
        report.add(f"{key}ratio_stretch", f"{label}same ratio vs the stretch target", ratio, "x",
                   target=("<=", targets[1]))
    else:
        report.add(f"{key}baseline", f"{label}baseline: curl + tar (not run: curl or tar not found)", None, "s")
        report.add(f"{key}ratio", f"{label}ratio ours / baseline", None, "x", target=("<=", targets[0]))
    m_inproc = common.median(runs["inproc"])
    report.add(f"{key}ours_inprocess", f"{label}ours: ExtensionsManager.install in-process", m_inproc, "s",
               note=f"median of {reps}")
    report.ratio(f"{key}ratio_inprocess", f"{label}in-process: ratio / baseline", m_inproc, m_base,
                 target=("<=", targets[0]))
    report.add(f"{key}whatif_noprefetch", f"{label}what-if: prefetch disabled (in-process)",
               common.median(runs["sequential"]), "s", note="benchmark-side patch")
    report.add(f"{key}whatif_one_download", f"{label}what-if: one download at a time, one ahead (in-process)",
               common.median(runs["one_at_a_time"]), "s", note="the prefetch before issue #19; benchmark-side patch")
    report_breakdown(report, key, label, runs["timer"], runs["breakdown_total"])


def report_breakdown(report: Report, key: str, label: str, timer: PhaseTimer, total: float) -> None:
    main_total = sum(v for (group, _), v in timer.totals.items() if group == "main")
    phases = dict(timer.totals)
    phases[("main", "other (plan, lock, settings reads, queue)")] = total - main_total
    for (group, phase), seconds in sorted(phases.items(), key=lambda kv: (kv[0][0] != "main", -kv[1])):
        share = f"{100 * seconds / total:.0f} % of the {total:.2f} s wall"
        report.add(f"{key}phase.{group}.{phase.split(' ')[0]}", f"  {label}breakdown [{group} thread]: {phase}",
                   seconds, "s", note=share)


def publish_to_girder(admin: Any, root: Path, names: list[str], size: int) -> tuple[str, list[str]]:
    """Publish the packages to the real server; (app id, the ``/file/{id}/download`` URLs)."""
    from tests.girder.fixtures import publish_extension

    app = admin.create_app("Slicer", description="benchmark")
    urls = []
    for name in names:
        item = publish_extension(admin, app["_id"], root / "girder-packages", name, app_revision=common.REVISION,
                                 payload_size=size)
        files = admin.list_item_files(item["_id"])
        urls.append(f"{admin.api_url.rstrip('/')}/file/{files[0]['_id']}/download")
    return app["_id"], urls


def run_girder(args: Any, report: Report, root: Path, names: list[str], size: int, reps: int,
               have_curl: bool) -> None:
    """The headline: the same install against the real Slicer Package Manager server."""
    if args.no_girder or common.girder_venv_python() is None:
        why = "--no-girder" if args.no_girder else "no Girder venv ($SLICER_EXT_MANAGER_GIRDER_VENV)"
        report.add("girder.ratio", f"girder: ratio ours (CLI) / baseline (not run: {why})", None, "x",
                   target=("<=", GIRDER_TARGETS[0]))
        return
    with common.start_girder(root / "girder") as (server, admin):
        start = time.perf_counter()
        app_id, urls = publish_to_girder(admin, root, names, size)
        report.note(f"published {len(names)} packages to Girder in {time.perf_counter() - start:.1f} s")
        profile = common.make_profile(root / "girder-profile", server.url, app_id)
        setup = Setup("girder", profile, urls, names, reps, len(names) * size / MB, have_curl, root)
        report_runs(report, setup, measure(setup), GIRDER_TARGETS)
        if args.profile:
            print(profile_once(profile, names))


#: Issue #19: against the real server, ≤ 1.00 × curl + tar (stretch ≤ 0.80).
GIRDER_TARGETS = (1.00, 0.80)
#: The local ``serve`` figures keep the targets they had (issue #13).
LOCAL_TARGETS = (1.10, 0.85)


def run(args) -> int:
    report = Report("install", "Install throughput", args.quick)
    count = args.count or (3 if args.quick else 10)
    size = int((args.size_mb or (1 if args.quick else 20)) * MB)
    reps = args.reps or (1 if args.quick else 5)
    names = [f"Ext{i:02d}" for i in range(count)]
    have_curl = shutil.which("curl") is not None and shutil.which("tar") is not None
    if not have_curl and not args.quick:
        raise SystemExit("bench_install: the baseline needs curl and tar on PATH (only --quick skips it)")
    if not have_curl:
        report.note("curl or tar is missing on this machine: the baseline was skipped.")
    with common.workdir(args, "install") as root:
        run_girder(args, report, root, names, size, reps, have_curl)
        if args.girder_only:
            return report.finish()
        common.build_packages(root / "packages", names, payload_size=size)
        with common.LocalServer(root / "packages") as server:
            profile = common.make_profile(root / "profile", server.url, server.app_id)
            setup = Setup("local", profile, [server.file_url(n) for n in names], names, reps, count * size / MB,
                          have_curl, root)
            runs = measure(setup)
            profile_text = profile_once(profile, names) if args.profile else ""
        report_runs(report, setup, runs, LOCAL_TARGETS)
        # The local server with TCP_NODELAY, then also no fsync; a server LATENCY away, one download
        # at a time (before #19) vs now.
        nodelay, nodelay_nofsync = run_whatif_pair(root, names, reps, "nodelay", contextlib.nullcontext, no_fsync,
                                                   nodelay=True)
        far_before, far_now = run_whatif_pair(root, names, reps, "latency", lambda: downloads_at_once(1),
                                              contextlib.nullcontext, latency=LATENCY)
    m_base = common.median(runs["base"]) if runs["base"] else None
    report.add("whatif_nodelay", "local: what-if: server with TCP_NODELAY (in-process)", common.median(nodelay), "s",
               note="benchmark-side patch (the shipped server has it since issue #13)")
    report.ratio("ratio_whatif_nodelay", "local: what-if TCP_NODELAY: ratio / baseline", common.median(nodelay),
                 m_base)
    report.add("whatif_nodelay_nofsync", "local: what-if: + no fsync at all in the client (in-process)",
               common.median(nodelay_nofsync), "s", note="benchmark-side patch")
    ms = f"{LATENCY * 1000:.0f} ms"
    report.add("whatif_far_before", f"local, {ms} per request: one download at a time, one ahead (in-process)",
               common.median(far_before), "s", note="the prefetch before issue #19; benchmark-side latency")
    report.add("whatif_far_now", f"local, {ms} per request: downloads overlapping (in-process)",
               common.median(far_now), "s", note=f"at most {installs_bound()} at once")
    report.ratio("ratio_far", f"local, {ms} per request: now / before", common.median(far_now),
                 common.median(far_before))
    if profile_text:
        print(profile_text)
    return report.finish()


def installs_bound() -> int:
    from slicer_ext_manager import installs

    return getattr(installs.Prefetcher, "downloads_at_once", 1)


def main(argv: list[str] | None = None) -> int:
    def extra(parser):
        parser.add_argument("--reps", type=int, help="repetitions (default 5, quick 1)")
        parser.add_argument("--count", type=int, help="number of packages (default 10, quick 3)")
        parser.add_argument("--size-mb", type=float, help="payload per package in MB (default 20, quick 1)")
        parser.add_argument("--profile", action="store_true", help="print a cProfile of one in-process install")
        parser.add_argument("--no-girder", action="store_true", help="skip the real-server part")
        parser.add_argument("--girder-only", action="store_true", help="only the real-server part")

    return run(common.bench_args(__doc__.splitlines()[1], argv, extra))


if __name__ == "__main__":
    sys.exit(main())
