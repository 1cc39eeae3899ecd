"""The GUI thread keeps running during a large install: a 10 ms QTimer ticks throughout a
~200 MB download, verification and extraction. The figures are printed (stall limits are
measured by ``benchmarks/bench_gui.py``, never asserted in tests)."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QTimer

from slicer_ext_manager.queue import EventKind, Outcome

from .ui_fixtures import manager_for, no_leftovers, wait_session

PAYLOAD = 200 * 1024 * 1024
TICK_MS = 10


@pytest.mark.slow
@pytest.mark.enabledialog
def test_event_loop_runs_during_a_large_install(qtbot, repo, make_profile, make_widget, later, capsys):
    repo.add("Huge", payload_size=PAYLOAD)
    repo.start()
    ctx = make_profile(repo.url, repo.server.app_id)
    widget = make_widget(manager_for(ctx))
    lateness: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
        last[0] = now

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    progress = []
    widget.service.queueEvent.connect(lambda b, e: progress.append(e) if e.kind == EventKind.PROGRESS else None)

    def start() -> None:
        last[0] = time.perf_counter()
        timer.start()
        widget.install_now(["Huge"])

    results = wait_session(qtbot, widget, start, timeout=120000)
    timer.stop()
    assert [(r.name, r.outcome) for r in results] == [("Huge", Outcome.INSTALLED)]
    assert (ctx.install_path / "Huge/share/Slicer-5.8/Huge-payload.bin").stat().st_size == PAYLOAD
    assert no_leftovers(ctx.install_path) and widget.install_tab.item("Huge").state.value == "done"
    assert lateness and progress  # the loop ticked and progress reached the GUI while it ran
    ordered = sorted(lateness)
    with capsys.disabled():
        print(f"\n[event-loop lateness during a {PAYLOAD // (1024 * 1024)} MB install: {len(lateness)} ticks, "
              f"max {ordered[-1]:.1f} ms, p99 {ordered[int(len(ordered) * 0.99)]:.1f} ms; "
              f"{len(progress)} progress events]")
