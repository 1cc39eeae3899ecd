#!/usr/bin/env python3
"""Benchmark 4 — the GUI thread never stalls: open, catalog fill, install start, install, finish.

Setup: one package with 500 MB of incompressible content (quick: 8 MB) on the local
package server (own process), and a 3,000-entry catalog (quick: 300) — the server's own
item plus synthetic entries — written as Slicer's fresh metadata cache, so the dialog
fills its lists with 3,000 rows without waiting for the network. The Extensions Manager
dialog (Qt offscreen, in-process, ``interactive=False`` so no prompt opens).

Measured: event-loop lateness with a 10 ms single-shot precise ``QTimer`` re-armed at
every timeout (lateness = actual timeout − (arming time + 10 ms)); the longest lateness
is the longest stall of the GUI thread. The timer runs from before the dialog exists to
the end, and its samples are split into phases:

* **open** — the dialog is built and shown (inside the event loop) until its first view;
* **catalog fill** — from then until the install is asked for (``catalogLoaded`` and 0.3 s:
  3,000 rows in the lists);
* **install start** — ``widget.install_now([name])`` until the first progress event;
* **install** — until the widget's ``sessionFinished``;
* **finish** — from then until the post-install refresh has been shown and all is idle.

Baseline, same run: the same probe with no dialog, for 2 s (quick 0.5 s).
Target: every stall < 50 ms, in every phase.

Usage: ``python benchmarks/bench_gui.py [--quick] [--size-mb N] [--entries N]``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common  # noqa: E402
from benchmarks.common import MB, Report  # noqa: E402

INTERVAL_MS = 10
PHASES = ("open", "catalog fill", "install start", "install", "finish")


class LatencyProbe:
    """A 10 ms precise single-shot timer re-armed at each timeout; samples (time, lateness s)."""

    def __init__(self, interval_ms: int = INTERVAL_MS):
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms / 1000.0
        self.samples: list[tuple[float, float]] = []
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._armed = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.samples.append((now, max(0.0, now - self._armed - self.interval)))
        self._arm()

    def _arm(self) -> None:
        self._armed = time.perf_counter()
        self._timer.start()

    def start(self) -> None:
        self.samples.clear()
        self._arm()

    def stop(self) -> None:
        self._timer.stop()

    def between(self, start: float, end: float) -> list[float]:
        """Lateness of the timeouts that fired in [start, end] (a stall shows at its end)."""
        return [late for when, late in self.samples if start <= when <= end]


def run_loop(seconds: float, quit_signal=None) -> bool:
    """Run Qt's event loop until ``quit_signal`` fires (True) or ``seconds`` pass (False)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    fired = []
    if quit_signal is not None:
        quit_signal.connect(lambda *_: (fired.append(True), loop.quit()))
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    return bool(fired)


def run_until(predicate, seconds: float) -> bool:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: predicate() and loop.quit())
    poll.start(5)
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    if not predicate():
        loop.exec()
    poll.stop()
    return predicate()


def write_catalog(profile, server, entries: int, template: Path) -> None:
    """The server's own items plus synthetic ones, as a fresh cache (no request when opening)."""
    client = profile.manager().client
    real = client.extension_items(common.REVISION, common.OS_NAME, common.ARCH, limit=0)
    common.write_catalog_cache(profile, real + common.synthetic_catalog(entries - len(real), template))


class Session:
    """The dialog's life, with the time each phase ended."""

    def __init__(self, profile, name: str):
        self.profile, self.name = profile, name
        self.marks: dict[str, float] = {}
        self.dialog = None
        self.results: list = []

    def open(self) -> None:
        from slicer_ext_manager.ui.dialog import ExtensionsManagerDialog

        self.marks["start"] = time.perf_counter()
        self.dialog = ExtensionsManagerDialog(self.profile.manager(), None, interactive=False)
        widget = self.dialog.widget
        widget.viewChanged.connect(lambda _v: self.marks.setdefault("open", time.perf_counter()))
        widget.catalogLoaded.connect(lambda: self.marks.setdefault("catalog fill", time.perf_counter()))
        self.dialog.show()

    def install(self) -> bool:
        widget = self.dialog.widget
        widget.service.queueEvent.connect(
            lambda _b, e: self.marks.setdefault("install start", time.perf_counter())
            if e.kind.value == "progress" else None)
        widget.sessionFinished.connect(self._finished)
        self.marks["install requested"] = time.perf_counter()
        widget.install_now([self.name])
        return run_loop(900, widget.sessionFinished)

    def _finished(self, results) -> None:
        self.results = list(results)
        self.marks["install"] = time.perf_counter()
        widget = self.dialog.widget
        views = []
        widget.viewChanged.connect(views.append)
        # Idle again and the post-install state shown (it says the package is installed).
        run_until(lambda: views and not widget.busy and views[-1].state.get(self.name) is not None
                  and views[-1].state.get(self.name).installed, 60)
        self.marks["finish"] = time.perf_counter()

    def close(self) -> None:
        widget = self.dialog.widget
        widget.cancel_and_wait(30)
        widget.shutdown()
        self.dialog.hide()
        self.dialog.deleteLater()


def measure(profile, name: str, idle_s: float) -> tuple[dict[str, list[float]], list[float], float, Session]:
    from PySide6.QtCore import QTimer

    app = common.qt_app()
    probe = LatencyProbe()
    probe.start()
    run_loop(idle_s)
    idle = [late for _t, late in probe.samples]
    session = Session(profile, name)
    probe.start()
    QTimer.singleShot(0, session.open)  # built inside the event loop: its time is measured
    if not run_until(lambda: "catalog fill" in session.marks, 120):
        raise RuntimeError("the dialog never loaded the catalog")
    run_loop(0.3)  # the second (final) view settles
    session.dialog.widget.set_current_tab("install")
    app.processEvents()
    start = time.perf_counter()
    if not session.install():
        raise RuntimeError("the install did not finish")
    wall = session.marks["install"] - start
    probe.stop()
    m = session.marks
    # Contiguous windows: a stall shows at the timeout after it, in the window it ends in.
    first_progress = max(m.get("install start", m["install requested"]), m["install requested"])
    edges = [m["start"], m["open"], m["install requested"], first_progress, m["install"], m["finish"]]
    phases = {phase: probe.between(a, b) for phase, a, b in zip(PHASES, edges, edges[1:])}
    return phases, idle, wall, session


def run(args) -> int:
    report = Report("gui", "GUI thread stalls: open, catalog fill, install start, install, finish", args.quick)
    size_mb = args.size_mb or (8 if args.quick else 500)
    entries = args.entries or (300 if args.quick else 3000)
    idle_s = 0.5 if args.quick else 2.0
    why = common.ui_available()
    if why:
        report.add("max", "longest GUI stall over every phase (not run: no UI)", None, "ms", target=("<", 50))
        report.note(f"slicer_ext_manager.ui is not importable: {why}")
        return report.finish()
    with common.workdir(args, "gui") as root:
        common.build_packages(root / "packages", ["Large"], payload_size=size_mb * MB)
        with common.LocalServer(root / "packages") as server:
            profile = common.make_profile(root / "profile", server.url, server.app_id)
            write_catalog(profile, server, entries, root / "template")
            phases, idle, wall, session = measure(profile, "Large", idle_s)
            outcome = [r.outcome.value for r in session.results]
            session.close()
            common.qt_app().processEvents()
    if outcome != ["installed"]:
        raise RuntimeError(f"the install did not finish as expected: outcome={outcome}")
    everything = [late for samples in phases.values() for late in samples]
    report.add("max", "longest GUI stall over every phase", max(everything) * 1000, "ms", target=("<", 50),
               note=f"{len(everything)} timeouts of {INTERVAL_MS} ms; {entries} catalog entries")
    for phase in PHASES:
        samples = phases[phase] or [0.0]
        report.add(f"max_{phase.replace(' ', '_')}", f"longest stall: {phase}", max(samples) * 1000, "ms",
                   target=("<", 50), note=f"{len(phases[phase])} timeouts")
    install = phases["install"] or [0.0]
    report.add("p99", "lateness during the install, p99", common.percentile(install, 99) * 1000, "ms")
    report.add("install_wall", f"install of a {size_mb} MB package in the dialog", wall, "s",
               note=f"{size_mb / wall:.0f} MB/s")
    report.add("idle_max", "baseline: lateness with no dialog, max", max(idle) * 1000, "ms",
               note=f"{len(idle)} timeouts")
    report.add("idle_p99", "baseline: lateness with no dialog, p99", common.percentile(idle, 99) * 1000, "ms")
    report.ratio("ratio_max", "ratio longest stall / idle baseline max", max(everything), max(idle) or None)
    return report.finish()


def main(argv: list[str] | None = None) -> int:
    def extra(parser):
        parser.add_argument("--size-mb", type=int, help="package size in MB (default 500, quick 8)")
        parser.add_argument("--entries", type=int, help="catalog entries (default 3000, quick 300)")

    return run(common.bench_args(__doc__.splitlines()[1], argv, extra))


if __name__ == "__main__":
    sys.exit(main())
