"""Benchmarks of slicer-ext-manager (see ``docs/benchmarks.md``).

Each ``bench_*.py`` script is standalone (``python benchmarks/bench_restore.py [--quick]``),
prints its figures next to its targets and its baseline measured in the same run, and ends
with one ``BENCHMARK-RESULT {json}`` line. ``benchmarks/run_all`` runs them all.
Shared code lives in :mod:`benchmarks.common`.
"""
