#!/usr/bin/env python3
"""Inside Slicer, which install path? The same packages installed (a) by the core's installer
(what the Extensions Restore module uses: sha512-verified download, checked one-pass extraction
into staging, transactional commit, then Slicer's model told with ``updateModel()``) and (b) the
way Slicer's own ``qSlicerExtensionsManagerModel`` does it (download without checksum, old folder
removed, extract, copy, rename, ``<Name>.s4ext`` last), in the lane's stand-in Slicer, under PythonQt.

    bash scripts/pythonqt-lane.sh setup
    QT_QPA_PLATFORM=offscreen .pythonqt/pythonqt-host/bin/pythonqt-run --venv .pythonqt/venv \\
        benchmarks/slicer_install_paths.py [--packages 6] [--size-mb 4] [--repeat 3]

The stand-in's model is Python (``tarfile``, ``shutil``) where Slicer's is C++ (libarchive through
``vtkArchive``, ``ctk::copyDirRecursively``), so (b) measures the steps, not Slicer's exact speed.
Prints a Markdown table (median of ``--repeat`` runs, each in a fresh profile).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STANDIN = ROOT / "tests" / "pythonqt" / "standin"
for entry in (ROOT, STANDIN):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))


def _packages(folder: Path, count: int, size: int) -> list[Path]:
    from slicer_ext_manager.localserver.builder import build_extension_package

    paths = []
    for i in range(count):
        depends = (f"Bench{i - 1}",) if i % 2 else ()  # every other one depends on the one before
        paths.append(build_extension_package(folder, f"Bench{i}", app_revision="33241", depends=depends,
                                             payload_size=size))
    return paths


def _fresh(work: Path, n: int, url: str):
    import slicer
    import slicer_standin

    from slicer_ext_manager.manager import ExtensionsManager
    from slicer_ext_manager.slicermodule.host import slicer_context

    home = work / f"run{n}" / "Slicer-5.8.1-linux-amd64"
    home.mkdir(parents=True)
    app = slicer_standin.install(slicer_standin.SlicerApp(home, server_url=url))
    return app, ExtensionsManager(slicer_context(slicer))


def _check(app, names: list[str]) -> None:
    installed = set(app.extensionsManagerModel().installedExtensions)
    if installed != set(names):
        raise SystemExit(f"an install path left {sorted(installed)} instead of {sorted(names)}")


def _install(kind: str, manager, model, names: list[str], paths: list[Path]) -> float:
    """One install of every package by one path; its seconds."""
    start = time.perf_counter()
    if kind == "core-server":
        manager.install(names)
    elif kind == "core-file":
        manager.install_files(paths)
    elif kind == "model-server":
        for name in names:
            model.downloadAndInstallExtensionByName(name)
    else:
        for path in paths:
            model.installExtension(str(path))
    if kind.startswith("core"):
        model.updateModel()  # Slicer's own manager re-reads the folder (counted in the core's time)
    return time.perf_counter() - start


def run(count: int, size_mb: float, repeat: int) -> dict[str, list[float]]:
    from slicer_ext_manager.conventions import DEFAULT_APP_ID
    from slicer_ext_manager.localserver.server import PackageServer

    work = Path(tempfile.mkdtemp(prefix="slicer-install-paths-"))
    paths = _packages(work / "packages", count, int(size_mb * 1024 * 1024))
    names = [p.name.split("-")[3] for p in paths]
    server = PackageServer(work / "packages", app_id=DEFAULT_APP_ID).start()
    times: dict[str, list[float]] = {k: [] for k in ("core-server", "model-server", "core-file", "model-file")}
    n = 0
    try:
        for _ in range(repeat):
            for kind in times:
                n += 1
                app, manager = _fresh(work, n, server.url)
                times[kind].append(_install(kind, manager, app.extensionsManagerModel(), names, paths))
                _check(app, names)
    finally:
        server.stop()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=6)
    parser.add_argument("--size-mb", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if "PythonQt" not in sys.builtin_module_names:
        print("run it with pythonqt-run (see the docstring)", file=sys.stderr)
        return 2
    times = run(args.packages, args.size_mb, args.repeat)
    total = args.packages * args.size_mb
    print(f"\n{args.packages} packages of {args.size_mb:g} MB (every other one depending on the previous one), "
          f"median of {args.repeat}:\n")
    print("| path | from the server | from files |\n|---|---|---|")
    for who, label in (("core", "core installer + `updateModel()`"), ("model", "Slicer's model steps (stand-in)")):
        server, files = (statistics.median(times[f"{who}-{k}"]) for k in ("server", "file"))
        print(f"| {label} | {server:.2f} s ({total / server:.0f} MB/s) | {files:.2f} s ({total / files:.0f} MB/s) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
