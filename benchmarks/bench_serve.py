#!/usr/bin/env python3
"""Benchmark 7 — ``serve`` under load (issue #19), on loopback only.

Setup: a folder with 60 small extension packages and 4 packages of 20 MB (quick: 2 MB),
served by ``slicer-ext-manager serve`` in its own process (``--watch-interval 0``).

Measured, with 64 concurrent clients for a fixed time (quick: 32 clients, 2 s), spread over
4 client processes (so the clients' own GIL does not cap the figures): half ask for the
catalog of the build (``GET /app/{id}/extension?app_revision&os&arch&limit=0``, a new
connection each time, like Slicer's first request, 4 times a second each), half download the big packages over
and over (keep-alive, bodies read and dropped):

* catalog latency p50 / p99 (target p99 ≤ 100 ms);
* aggregate download rate, as a ratio to one client alone on the same server
  (the baseline, measured first; target ≥ 0.8);
* failed requests (target 0), and a burst of 200 simultaneous connections (target 0 failed).

``--server-path DIR`` serves with another checkout (e.g. the code before the change) to
measure the baseline server; ``--clients N`` and ``--seconds S`` change the load.

Usage: ``python benchmarks/bench_serve.py [--quick] [--clients N] [--seconds S] [--server-path DIR]``
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common  # noqa: E402
from benchmarks.common import Report  # noqa: E402

APP = "5f4474d0e1d8c75dfc705482"
REV = "33241"
CATALOG = f"/api/v1/app/{APP}/extension?app_revision={REV}&os=linux&arch=amd64&limit=0"
#: Seconds a catalog client waits between two requests (each client asks 4 times a second: with 32
#: of them far more than a site's Slicers ever do, yet not a CPU-bound loop stealing the cores).
CATALOG_PAUSE = 0.25


def extra_args(parser) -> None:
    parser.add_argument("--clients", type=int, default=None, help="concurrent clients (default 64; quick 32)")
    parser.add_argument("--seconds", type=float, default=None, help="load duration (default 8; quick 2)")
    parser.add_argument("--server-path", default=None, help="checkout whose serve to run (default: this one)")


def build_folder(root: Path, big_size: int) -> list[str]:
    from slicer_ext_manager.localserver.builder import build_extension_package

    for number in range(60):
        build_extension_package(root, f"Small{number:02d}", app_revision=REV)
    big = []
    for number in range(4):
        path = build_extension_package(root, f"Big{number}", app_revision=REV, payload_size=big_size)
        big.append(path.name)
    return big


def start_server(root: Path, server_path: str | None) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = server_path or str(Path(__file__).resolve().parent.parent)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    module = "slicer_ext_manager.cli.servers"
    if server_path and not (Path(server_path) / "slicer_ext_manager" / "cli" / "servers.py").exists():
        module = "slicer_ext_manager.localserver.commands"  # the layout before the move
    extra = ["--watch-interval", "0"] if module.endswith("servers") else []
    proc = subprocess.Popen([sys.executable, "-m", module, "serve", str(root), "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                            cwd=env["PYTHONPATH"])
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if " at http://127.0.0.1:" not in line:
        raise RuntimeError(f"serve did not start: {line!r}")
    port = int(line.split(" at http://127.0.0.1:", 1)[1].split(" ", 1)[0].rstrip("."))
    return proc, port


def download_ids(port: int, names: list[str]) -> list[str]:
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", CATALOG)
    items = json.loads(conn.getresponse().read())
    conn.close()
    wanted = {n.split("-")[3] for n in names}
    return [i["_id"] for i in items if i["meta"]["baseName"] in wanted]


def _catalog_client(port: int, until: float, out: list) -> None:
    latencies, failures = [], 0
    while time.monotonic() < until:
        time.sleep(CATALOG_PAUSE)
        start = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", CATALOG)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                failures += 1
                continue
        except OSError:
            failures += 1
            continue
        latencies.append(time.perf_counter() - start)
    out.append(("catalog", latencies, failures, 0))


def _download_client(port: int, ids: list[str], until: float, out: list) -> None:
    done, failures, buffer = 0, 0, bytearray(1 << 20)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    number = 0
    while time.monotonic() < until:
        item = ids[number % len(ids)]
        number += 1
        try:
            conn.request("GET", f"/api/v1/item/{item}/download")
            response = conn.getresponse()
            if response.status != 200:
                failures += 1
                response.read()
                continue
            while time.monotonic() < until + 30:
                n = response.readinto(buffer)
                if not n:
                    break
                done += n
        except OSError:
            failures += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()
    out.append(("download", [], failures, done))


def _client_process(port: int, ids: list[str], catalog: int, downloads: int, start_at: float, seconds: float,
                    queue) -> None:
    while time.time() < start_at:
        time.sleep(0.005)
    until = time.monotonic() + seconds
    out: list = []
    threads = [threading.Thread(target=_catalog_client, args=(port, until, out)) for _ in range(catalog)]
    threads += [threading.Thread(target=_download_client, args=(port, ids, until, out)) for _ in range(downloads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    queue.put(out)


def run_load(port: int, ids: list[str], clients: int, seconds: float, processes: int = 4) -> list:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    start_at = time.time() + 0.5
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    procs = []
    for n in per:
        catalog = n // 2
        p = multiprocessing.Process(target=_client_process,
                                    args=(port, ids, catalog, n - catalog, start_at, seconds, queue))
        p.start()
        procs.append(p)
    results: list = []
    for _ in procs:
        results += queue.get(timeout=seconds + 120)
    for p in procs:
        p.join(10)
    return results


def single_rate(port: int, ids: list[str], seconds: float) -> float:
    out: list = []
    start = time.monotonic()
    _download_client(port, ids, start + seconds, out)
    return out[0][3] / (time.monotonic() - start)


def burst(port: int, count: int = 200) -> int:
    """Failures among ``count`` connections opened at once (10 s client timeout)."""
    barrier = threading.Barrier(count)
    failures = []

    def one() -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                barrier.wait(10)
                sock.sendall(f"GET {CATALOG} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                head = sock.recv(64)
                if not head.startswith(b"HTTP/1.1 200"):
                    failures.append(head)
        except (OSError, threading.BrokenBarrierError) as exc:
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return len(failures)


def main(argv=None) -> int:
    args = common.bench_args(__doc__.splitlines()[1], argv, extra_args)
    clients = args.clients or (32 if args.quick else 64)
    seconds = args.seconds or (2.0 if args.quick else 8.0)
    big_size = (2 if args.quick else 20) * 1024 * 1024
    report = Report("serve", f"serve under load: {clients} clients, catalog + {big_size >> 20} MB downloads",
                    args.quick)
    with common.workdir(args, "serve") as work:
        names = build_folder(work / "site", big_size)
        proc, port = start_server(work / "site", args.server_path)
        try:
            ids = download_ids(port, names)
            single = single_rate(port, ids, min(seconds, 3.0))
            report.add("single_rate", "one client alone: download rate (baseline)", single / 1e6, "MB/s")
            results = run_load(port, ids, clients, seconds)
            latencies = [x for kind, lat, _, _ in results if kind == "catalog" for x in lat]
            failures = sum(f for _, _, f, _ in results)
            total = sum(b for _, _, _, b in results)
            p50 = common.percentile(latencies, 50) * 1000 if latencies else None
            p99 = common.percentile(latencies, 99) * 1000 if latencies else None
            report.add("catalog_p50", "catalog latency p50 under load", p50, "ms")
            report.add("catalog_p99", "catalog latency p99 under load", p99, "ms", target=("<=", 100.0))
            report.add("catalog_requests", "catalog requests answered", len(latencies), "req")
            aggregate = total / seconds
            report.add("aggregate_rate", "aggregate download rate under load", aggregate / 1e6, "MB/s")
            report.ratio("download_ratio", "aggregate rate / one client's rate", aggregate, single,
                         target=(">=", 0.8))
            report.add("failed", "failed requests under load", failures, "count", target=("==", 0))
            report.add("burst_failed", "failed among 200 simultaneous connections", burst(port), "count",
                       target=("==", 0))
        finally:
            proc.terminate()
            proc.wait(10)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
