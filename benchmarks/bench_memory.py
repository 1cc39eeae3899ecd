#!/usr/bin/env python3
"""Benchmark 3 — peak memory of an install.

Setup: one package with 20 MB and one with 500 MB of incompressible content (quick: 1 MB
and 8 MB) on the local package server (own process).

Measured: peak RSS (``ru_maxrss`` of the child, see :func:`benchmarks.common.run_peak_rss`)
of ``slicer-ext-manager install <Name>`` as a fresh process, each from an empty install
folder, and of ``slicer-ext-manager list`` as the floor of the process itself (interpreter,
QtCore, requests). Target: peak(large) − peak(small) < 20 MB, i.e. memory does not grow
with the package (download, sha512, inspection and extraction all stream).

Usage: ``python benchmarks/bench_memory.py [--quick] [--reps N] [--large-mb N]``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common  # noqa: E402
from benchmarks.common import MB, Report  # noqa: E402


def peak_install(profile: common.SlicerProfile, name: str, reps: int) -> tuple[float, float]:
    """(max peak RSS in MB over ``reps`` fresh installs, median wall seconds)."""
    peaks, walls = [], []
    for _ in range(reps):
        profile.reset_install()
        wall, rss, _ = common.run_peak_rss(common.cli_command() + profile.cli_args() + ["install", name])
        peaks.append(rss / MB)
        walls.append(wall)
    return max(peaks), common.median(walls)


def run(args) -> int:
    report = Report("memory", "Peak RSS of an install", args.quick)
    small_mb = 1 if args.quick else 20
    large_mb = args.large_mb or (8 if args.quick else 500)
    reps = args.reps or (1 if args.quick else 2)
    with common.workdir(args, "memory") as root:
        common.build_packages(root / "packages", ["Small"], payload_size=small_mb * MB)
        common.build_packages(root / "packages", ["Large"], payload_size=large_mb * MB)
        with common.LocalServer(root / "packages") as server:
            profile = common.make_profile(root / "profile", server.url, server.app_id)
            peak_install(profile, "Small", 1)  # warm-up (byte-code, page cache); not counted
            floor = max(common.run_peak_rss(common.cli_command() + profile.cli_args() + ["list"])[1]
                        for _ in range(reps)) / MB
            small, small_wall = peak_install(profile, "Small", reps)
            large, large_wall = peak_install(profile, "Large", reps)
    report.add("floor", "peak RSS, slicer-ext-manager list (process floor)", floor, "MB")
    report.add("small", f"peak RSS, install of a {small_mb} MB package", small, "MB",
               note=f"max of {reps}; {small_wall:.2f} s")
    report.add("large", f"peak RSS, install of a {large_mb} MB package", large, "MB",
               note=f"max of {reps}; {large_wall:.2f} s")
    report.add("difference", f"difference {large_mb} MB − {small_mb} MB package", large - small, "MB",
               target=("<", 20))
    report.ratio("ratio", "ratio large / small (baseline: the small install)", large, small)
    report.add("install_over_floor", "install over the process floor (small package)", small - floor, "MB")
    return report.finish()


def main(argv: list[str] | None = None) -> int:
    def extra(parser):
        parser.add_argument("--reps", type=int, help="installs per size (default 2, quick 1)")
        parser.add_argument("--large-mb", type=int, help="size of the large package in MB (default 500, quick 8)")

    return run(common.bench_args(__doc__.splitlines()[1], argv, extra))


if __name__ == "__main__":
    sys.exit(main())
