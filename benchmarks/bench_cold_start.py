#!/usr/bin/env python3
"""Benchmark 6 — cold start: the headless commands and the dialog.

Setup: a Slicer profile whose catalog (300 entries; quick: 30) is in Slicer's metadata
cache, fresh, so no request is needed; 10 extensions installed; an extensions history of
50 names over older revisions (quick: 10).

Headless (issue #19): a fresh process running ``slicer-ext-manager --json list`` and
``slicer-ext-manager --json restore --check``, timed from spawn to exit (median of 20;
quick: 3), against ``python -c pass`` of the same interpreter in the same run. Targets:
``list`` ≤ 0.12 s, ``restore --check`` ≤ 0.15 s. The package's byte-code is compiled first
(``common.compile_package``, for every benchmark), as ``pip install`` does for every user.
Each child also reports which heavy modules it loaded (a Qt binding, ``requests``): none
is the design.

Measured: a fresh process running ``slicer-ext-manager gui --tab search`` (through
``cli.main``, offscreen), timed by this script from spawn to two markers the child prints:
**dialog shown** (end of the dialog's first paint) and **catalog shown** (first paint of
the catalog list with rows), then the child exits. The markers come from paint-event
filters installed on the dialog class from outside, before ``cli.main`` runs (the only
extra work in the child is importing the UI module one step earlier than the command
would).

Baseline, same run: a bare PySide6 process that shows an empty ``QDialog`` with a label
(the floor of any PySide6 window), timed the same way. Target: dialog shown < 1.0 s.

Usage: ``python benchmarks/bench_cold_start.py [--quick] [--reps N] [--cli-reps N] [--entries N]``
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


HEAVY = ("PySide6", "PythonQt", "requests", "urllib3")


def child_cli(cli_args: list[str]) -> int:
    """Child: the real CLI, then which heavy modules it loaded (on stderr)."""
    from slicer_ext_manager import cli

    code = cli.main(cli_args)
    sys.stderr.write("LOADED " + ",".join(m for m in HEAVY if m in sys.modules) + "\n")
    return code


def install_some(profile: common.SlicerProfile, count: int) -> None:
    """``count`` installed extensions (a folder and its ``.s4ext`` each), as the registry reads them."""
    for i in range(count):
        (profile.install_path / f"Installed{i:02d}" / "lib").mkdir(parents=True, exist_ok=True)
        (profile.install_path / f"Installed{i:02d}.s4ext").write_text(
            f"name Installed{i:02d}\nscmrevision abc{i}\ndepends NA\n", encoding="utf-8")


def cli_figures(report: Report, profile: common.SlicerProfile, reps: int) -> None:
    this = str(Path(__file__).resolve())
    commands = {"list": ["--json", "list"], "restore_check": ["--json", "restore", "--check"]}
    pass_cmd = [sys.executable, "-c", "pass"]
    loaded: dict[str, str] = {}
    times: dict[str, list[float]] = {name: [] for name in [*commands, "pass"]}
    for name, argv in commands.items():  # warm-up (page cache), and what each loads
        _, proc = common.run_timed([sys.executable, this, "--child-cli", *profile.cli_args(), *argv])
        loaded[name] = proc.stderr.rsplit("LOADED ", 1)[-1].strip() or "none"
    for _ in range(reps):
        times["pass"].append(common.run_timed(pass_cmd)[0])
        for name, argv in commands.items():
            times[name].append(common.run_timed(common.cli_command() + profile.cli_args() + argv)[0])
    base = common.median(times["pass"])
    report.add("cli.pass", "baseline: python -c pass", base, "s", note=f"median of {reps}")
    for name, target in (("list", 0.12), ("restore_check", 0.15)):
        label = "slicer-ext-manager --json " + " ".join(commands[name][1:])
        value = common.median(times[name])
        report.add(f"cli.{name}", f"{label}, cold process, fresh cache", value, "s", target=("<=", target),
                   note=f"median of {reps}; {value / base:.1f}× python -c pass; heavy modules loaded: {loaded[name]}")


def gui_figures(gui_cmd: list[str], bare_cmd: list[str], reps: int) -> tuple[list[dict], list[dict]]:
    time_markers(gui_cmd)  # warm-up: page cache filled; not counted
    time_markers(bare_cmd)
    gui, bare = [], []
    for _ in range(reps):
        gui.append(time_markers(gui_cmd))
        bare.append(time_markers(bare_cmd))
    return gui, bare


def run(args) -> int:
    report = Report("cold_start", "Cold start: headless commands and the dialog", args.quick)
    reps = args.reps or (1 if args.quick else 5)
    entries = args.entries or (30 if args.quick else 300)
    this = str(Path(__file__).resolve())
    with common.workdir(args, "cold-start") as root:
        items = common.synthetic_catalog(entries, root / "template")
        names = [item["meta"]["baseName"] for item in items[: 10 if args.quick else 50]]
        history = {rev: names[i::len(common.OLD_REVISIONS)] for i, rev in enumerate(common.OLD_REVISIONS)}
        profile = common.make_profile(root / "profile", "http://127.0.0.1:9", "5f4474d0e1d8c75dfc705482",
                                      history=history)
        install_some(profile, 10)
        common.write_catalog_cache(profile, items)
        cli_figures(report, profile, args.cli_reps or (3 if args.quick else 20))
        why = common.ui_available()
        if why:
            report.add("shown", "process start → dialog shown (not run: no UI)", None, "s", target=("<", 1.0))
            report.note(f"slicer_ext_manager.ui is not importable: {why}")
            return report.finish()
        gui_cmd = [sys.executable, this, "--child-gui", *profile.cli_args()]
        bare_cmd = [sys.executable, this, "--child-bare"]
        gui, bare = gui_figures(gui_cmd, bare_cmd, reps)
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
    if argv[:1] == ["--child-cli"]:
        return child_cli(argv[1:])

    def extra(parser):
        parser.add_argument("--reps", type=int, help="cold starts measured (default 5, quick 1)")
        parser.add_argument("--cli-reps", type=int, help="cold starts of each headless command (default 20, quick 3)")
        parser.add_argument("--entries", type=int, help="cached catalog entries (default 300, quick 30)")

    return run(common.bench_args(__doc__.splitlines()[1], argv, extra))


if __name__ == "__main__":
    sys.exit(main())
