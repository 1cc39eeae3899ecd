#!/usr/bin/env python3
"""Benchmark 6 — cold start of the dialog.

Setup: a Slicer profile whose catalog (300 entries; quick: 30) is in Slicer's metadata
cache, fresh, so no request is needed.

Measured: a fresh process running ``slicer-ext-manager gui --tab search`` (through
``cli.main``, offscreen), timed by this script from spawn to two markers the child prints:
**dialog shown** (end of the dialog's first paint) and **catalog shown** (first paint of
the catalog list with rows), then the child exits. The markers come from paint-event
filters installed on the dialog class from outside, before ``cli.main`` runs (the only
extra work in the child is importing the UI module one step earlier than the command
would).

Baseline, same run: a bare PySide6 process that shows an empty ``QDialog`` with a label
(the floor of any PySide6 window), timed the same way. Target: dialog shown < 1.0 s.

Usage: ``python benchmarks/bench_cold_start.py [--quick] [--reps N] [--entries N]``
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common  # noqa: E402
from benchmarks.common import Report  # noqa: E402

MARK = "MARK "


def _mark(what: str) -> None:
    sys.stdout.write(f"{MARK}{what}\n")
    sys.stdout.flush()


def child_gui(cli_args: list[str]) -> int:
    """Child: run the real ``gui`` command with paint markers on the dialog."""
    from PySide6.QtCore import QTimer

    from slicer_ext_manager import cli
    from slicer_ext_manager.ui import dialog as dialog_module

    original_init = dialog_module.ExtensionsManagerDialog.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        tab = self.widget.search_tab
        seen: set[str] = set()

        def once(what: str, finish: bool = False):
            def callback(_now: float) -> None:
                if what not in seen:
                    seen.add(what)
                    # After this paint returns: print, and exit at once if it is the last marker.
                    QTimer.singleShot(0, lambda: (_mark(what), finish and os._exit(0)))
            return callback

        self._bench_spies = (
            common.paint_spy(self, callback=once("shown")),
            common.paint_spy(tab.view.viewport(), condition=lambda: tab.proxy.rowCount() > 0,
                             callback=once("catalog", finish=True)),
        )

    dialog_module.ExtensionsManagerDialog.__init__ = init
    return cli.main([*cli_args, "gui", "--tab", "search"])


def child_bare() -> int:
    """Child baseline: the smallest PySide6 dialog."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog, QLabel, QVBoxLayout

    app = QApplication([sys.argv[0]])
    dialog = QDialog()
    QVBoxLayout(dialog).addWidget(QLabel("Extensions Manager", dialog))
    dialog.resize(1100, 720)
    common.paint_spy(dialog, callback=lambda _t: QTimer.singleShot(0, lambda: (_mark("shown"), os._exit(0))))
    dialog.show()
    return app.exec()


def time_markers(cmd: list[str], timeout: float = 60) -> dict[str, float]:
    """Seconds from spawn to each marker line the child prints."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=common.child_env())
    marks: dict[str, float] = {}
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith(MARK):
                marks[line[len(MARK):].strip()] = time.perf_counter() - start
        proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if not marks:
        raise common.CommandFailed(f"{' '.join(cmd)} printed no marker (exit {proc.returncode}):\n"
                                   f"{proc.stderr.read()[-3000:]}")  # type: ignore[union-attr]
    return marks


def run(args) -> int:
    report = Report("cold_start", "Cold start of the dialog", args.quick)
    reps = args.reps or (1 if args.quick else 5)
    entries = args.entries or (30 if args.quick else 300)
    why = common.ui_available()
    if why:
        report.add("shown", "process start → dialog shown (not run: no UI)", None, "s", target=("<", 1.0))
        report.note(f"slicer_ext_manager.ui is not importable: {why}")
        return report.finish()
    this = str(Path(__file__).resolve())
    with common.workdir(args, "cold-start") as root:
        profile = common.make_profile(root / "profile", "http://127.0.0.1:9", "5f4474d0e1d8c75dfc705482")
        common.write_catalog_cache(profile, common.synthetic_catalog(entries, root / "template"))
        gui_cmd = [sys.executable, this, "--child-gui", *profile.cli_args()]
        bare_cmd = [sys.executable, this, "--child-bare"]
        time_markers(gui_cmd)  # warm-up: byte-code compiled, page cache filled; not counted
        time_markers(bare_cmd)
        gui, bare = [], []
        for _ in range(reps):
            gui.append(time_markers(gui_cmd))
            bare.append(time_markers(bare_cmd))
    shown = [m["shown"] for m in gui]
    catalog = [m.get("catalog") for m in gui if m.get("catalog") is not None]
    bare_shown = [m["shown"] for m in bare]
    report.add("shown", "process start → dialog shown (gui --tab search)", common.median(shown), "s",
               target=("<", 1.0), note=f"median of {reps}, max {max(shown):.3f} s")
    report.add("catalog", f"process start → catalog list painted ({entries} cached entries)",
               common.median(catalog) if catalog else None, "s", note=f"median of {len(catalog)}")
    report.add("bare", "baseline: bare PySide6 QDialog shown", common.median(bare_shown), "s",
               note=f"median of {reps}")
    report.ratio("ratio", "ratio dialog shown / bare PySide6 dialog", common.median(shown), common.median(bare_shown))
    return report.finish()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child-gui"]:
        return child_gui(argv[1:])
    if argv[:1] == ["--child-bare"]:
        return child_bare()

    def extra(parser):
        parser.add_argument("--reps", type=int, help="cold starts measured (default 5, quick 1)")
        parser.add_argument("--entries", type=int, help="cached catalog entries (default 300, quick 30)")

    return run(common.bench_args(__doc__.splitlines()[1], argv, extra))


if __name__ == "__main__":
    sys.exit(main())
