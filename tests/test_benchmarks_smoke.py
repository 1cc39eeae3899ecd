"""Smoke test of ``benchmarks/``: every script runs in ``--quick`` mode (tiny sizes) as a
subprocess and prints its figures, so the benchmarks cannot rot. No wall-clock
assertion: only that each script ran, printed a ``BENCHMARK-RESULT`` line and that the
figures it must measure have values (or are explicitly marked not-run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
PREFIX = "BENCHMARK-RESULT "

#: script -> figure keys that must be present (a value, or status "not-run" when a
#: prerequisite such as the UI or curl is missing on this machine).
EXPECTED = {
    "bench_restore.py": ["local.requests_cold", "local.requests_fresh", "local.requests_legacy", "local.wall_cold",
                         "local.wall_legacy", "local.ratio_wall", "girder.requests_cold"],
    "bench_install.py": ["ours_cli", "baseline", "ratio", "ours_inprocess", "whatif_noprefetch", "whatif_nodelay"],
    "bench_memory.py": ["floor", "small", "large", "difference", "ratio"],
    "bench_gui.py": ["max"],
    "bench_catalog.py": ["first_paint", "filter_median"],
    "bench_cold_start.py": ["shown"],
    "bench_serve.py": ["single_rate", "catalog_p99", "download_ratio", "failed", "burst_failed"],
}


def _run(args: list[str], tmp_path: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args, "--workdir", str(tmp_path)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def _results(stdout: str) -> list[dict]:
    return [json.loads(line[len(PREFIX):]) for line in stdout.splitlines() if line.startswith(PREFIX)]


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_runs_in_quick_mode(script, tmp_path):
    proc = _run([str(BENCH / script), "--quick"], tmp_path)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    results = _results(proc.stdout)
    assert len(results) == 1, proc.stdout[-2000:]
    result = results[0]
    assert result["quick"] is True and result["machine"]["nproc"] >= 1
    figures = {f["key"]: f for f in result["figures"]}
    for key in EXPECTED[script]:
        assert key in figures, f"{script} did not print figure {key}: {sorted(figures)}"
        fig = figures[key]
        assert fig["value"] is not None or fig["status"] == "not-run", fig
        if fig["target"]:
            assert fig["status"] in ("pass", "miss", "not-run"), fig
    for fig in result["figures"]:  # every figure is also printed for humans
        assert fig["label"] in proc.stdout
    assert list(tmp_path.iterdir()) == [], "the benchmark left files behind"


def test_run_all_collects_results(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    work = tmp_path / "work"
    proc = subprocess.run([sys.executable, str(BENCH / "run_all"), "--quick", "memory", "--workdir", str(work),
                           "--markdown", str(out / "t.md"), "--json", str(out / "r.json")],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    table = (out / "t.md").read_text(encoding="utf-8")
    assert "| Benchmark | Figure | Measured | Target | Status |" in table and "| memory |" in table
    data = json.loads((out / "r.json").read_text(encoding="utf-8"))
    assert [r["bench"] for r in data["results"]] == ["memory"]
