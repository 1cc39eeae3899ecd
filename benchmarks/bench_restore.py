#!/usr/bin/env python3
"""Benchmark 1 — cost of the restore check.

Setup: ``Slicer.ini`` whose ``[ExtensionsHistory]`` lists 50 extension names over 4 older
revisions (40 of them are on the server, 10 are gone); a catalog of 300 extensions for this
revision on the local package server (own process), and on the real Slicer Package Manager
server (``tests/girder``) when its virtualenv exists.

Measured: ``slicer-ext-manager restore --check`` as a fresh process (spawn to exit), with a
cold cache (no ``ExtensionsMetadataFromServer.json``) and with a fresh one: HTTP requests the
server received and wall time (median of the repetitions).

Baseline, same run: the per-extension query of Slicer's old restore code,
``GET /app/{id}/extension?baseName=<Name>&app_revision=&os=&arch=`` once per name, 2.5 s
timeout, sequential, with ``requests`` (one keep-alive session); run as a fresh process that
reads the same ``Slicer.ini`` with the project's settings reader (so both sides pay the same
Python + QtCore start-up), and in-process. Targets: 1 request cold (0 fresh) vs 50; cold
process < 0.5 s on loopback.

Usage: ``python benchmarks/bench_restore.py [--quick] [--reps N] [--no-girder]``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common  # noqa: E402
from benchmarks.common import REVISION, Report  # noqa: E402

LEGACY_TIMEOUT = 2.5  # seconds, per request (Slicer's old restore code)


def scenario(quick: bool) -> tuple[list[str], dict[str, list[str]]]:
    """(catalog names, history {revision: names}): 300/50 names, or 30/10 in quick mode."""
    n_catalog, n_history = (30, 10) if quick else (300, 50)
    catalog = [f"Ext{i:03d}" for i in range(n_catalog)]
    gone = [f"Gone{i:02d}" for i in range(n_history // 5)]
    wanted = catalog[: n_history - len(gone)] + gone  # 80 % available, 20 % no longer built
    revisions = common.OLD_REVISIONS
    per = -(-len(wanted) // len(revisions))
    history = {rev: wanted[i * per:(i + 1) * per] for i, rev in enumerate(revisions)}
    return catalog, history


def legacy_restore(api_url: str, app_id: str, names: list[str], revision: str) -> dict[str, object]:
    """Slicer's old restore: one catalog query per history name (the baseline)."""
    import requests

    session = requests.Session()
    found, sent = 0, 0
    start = time.perf_counter()
    for name in names:
        params = {"baseName": name, "app_revision": revision, "os": common.OS_NAME, "arch": common.ARCH}
        sent += 1
        try:
            response = session.get(f"{api_url}/app/{app_id}/extension", params=params, timeout=LEGACY_TIMEOUT)
            if response.ok and response.json():
                found += 1
        except requests.RequestException:
            pass  # Slicer logged and went on with the next name
    return {"requests": sent, "found": found, "seconds": time.perf_counter() - start}


def legacy_worker(settings_file: str, api_url: str, app_id: str, revision: str) -> int:
    """Cold-process baseline: read the history like we do, then query name by name."""
    from slicer_ext_manager.history import ExtensionsHistory
    from slicer_ext_manager.settings import SettingsFile

    history = ExtensionsHistory(SettingsFile(settings_file)).revisions()
    names = sorted({n for rev, ns in history.items() if rev != revision for n in ns})
    print(json.dumps(legacy_restore(api_url, app_id, names, revision)))
    return 0


def measure_server(report: Report, tag: str, profile: common.SlicerProfile, count, reps: int,
                   history_names: list[str]) -> None:
    """All figures for one server; ``count()`` returns the server's request counter."""
    cli = common.cli_command() + profile.cli_args() + ["--json", "restore", "--check"]
    api_url = profile.server_url + "/api/v1"
    legacy_cmd = [sys.executable, str(Path(__file__).resolve()), "--legacy-worker",
                  str(profile.settings_dir / "Slicer.ini"), api_url, profile.app_id, profile.revision]

    common.run_timed(cli)  # warm-up: byte-code compiled, page cache filled; not counted
    cold, fresh, legacy = [], [], []
    cold_req = fresh_req = legacy_req = 0
    plan = {}
    for _ in range(reps):
        profile.cache_file.unlink(missing_ok=True)
        before = count()
        seconds, proc = common.run_timed(cli)
        cold.append(seconds)
        cold_req = count() - before
        plan = json.loads(proc.stdout)
        before = count()
        fresh.append(common.run_timed(cli)[0])
        fresh_req = count() - before
        before = count()
        seconds, proc = common.run_timed(legacy_cmd)
        legacy.append(seconds)
        legacy_req = count() - before
    candidates = plan.get("candidates", [])
    available = sum(1 for c in candidates if c["available"])
    report.add(f"{tag}.candidates", f"{tag}: plan candidates / available on server", len(candidates), "count",
               note=f"{available} available, {len(history_names)} names in the history")
    report.add(f"{tag}.requests_cold", f"{tag}: requests, restore --check, cold cache", cold_req, "req",
               target=("<=", 1))
    report.add(f"{tag}.requests_fresh", f"{tag}: requests, restore --check, fresh cache", fresh_req, "req",
               target=("<=", 0))
    report.add(f"{tag}.requests_legacy", f"{tag}: requests, legacy per-name queries (baseline)", legacy_req, "req")
    report.add(f"{tag}.wall_cold", f"{tag}: wall, restore --check, cold cache (process)", common.median(cold), "s",
               target=("<", 0.5), note=f"median of {reps}, max {max(cold):.3f} s")
    report.add(f"{tag}.wall_fresh", f"{tag}: wall, restore --check, fresh cache (process)", common.median(fresh),
               "s", target=("<", 0.5), note=f"median of {reps}")
    report.add(f"{tag}.wall_legacy", f"{tag}: wall, legacy per-name queries (process, baseline)",
               common.median(legacy), "s", note=f"median of {reps}")
    report.ratio(f"{tag}.ratio_wall", f"{tag}: wall ratio, ours cold / legacy", common.median(cold),
                 common.median(legacy))

    # In-process (no interpreter start-up): where the cold-process time goes.
    profile.manager().restore_plan()  # warm-up: imports done, connections made
    inproc, inproc_legacy = [], []
    for _ in range(reps):
        profile.cache_file.unlink(missing_ok=True)
        start = time.perf_counter()
        profile.manager().restore_plan()
        inproc.append(time.perf_counter() - start)
        inproc_legacy.append(legacy_restore(api_url, profile.app_id, history_names, profile.revision)["seconds"])
    report.add(f"{tag}.inproc_cold", f"{tag}: in-process restore_plan(), cold cache", common.median(inproc) * 1000,
               "ms")
    report.add(f"{tag}.inproc_legacy", f"{tag}: in-process legacy per-name queries (baseline)",
               common.median(inproc_legacy) * 1000, "ms")


def run(args) -> int:
    report = Report("restore", "Restore check cost", args.quick)
    reps = args.reps or (2 if args.quick else 10)
    catalog, history = scenario(args.quick)
    names = sorted({n for ns in history.values() for n in ns})
    with common.workdir(args, "restore") as root:
        common.build_packages(root / "packages", catalog)
        floor = [common.run_timed([sys.executable, "-c", "import slicer_ext_manager.manager"])[0]
                 for _ in range(reps)]
        report.add("import_floor", "python -c 'import slicer_ext_manager.manager' (start-up floor)",
                   common.median(floor), "s")
        with common.LocalServer(root / "packages") as server:
            profile = common.make_profile(root / "local", server.url, server.app_id, history=history)
            measure_server(report, "local", profile, server.count, reps, names)
        with common.LocalServer(root / "packages", nodelay=True) as server:
            # What-if: the same server with TCP_NODELAY on its sockets (see docs/benchmarks.md).
            legacy_restore(server.url + "/api/v1", server.app_id, names, REVISION)
            times = [legacy_restore(server.url + "/api/v1", server.app_id, names, REVISION)["seconds"]
                     for _ in range(reps)]
            report.add("local_nodelay.inproc_legacy",
                       "local, server patched with TCP_NODELAY: in-process legacy queries",
                       common.median(times) * 1000, "ms", note="what-if, not the shipped server")

        if args.no_girder or common.girder_venv_python() is None:
            report.add("girder.requests_cold", "girder: (not run: no Girder venv or --no-girder)", None, "req",
                       target=("<=", 1))
        else:
            from tests.girder.fixtures import publish_extension

            with common.start_girder(root / "girder") as (server, admin):
                app = admin.create_app("Slicer", description="benchmark")
                start = time.perf_counter()
                for name in catalog:
                    publish_extension(admin, app["_id"], root / "girder-packages", name, app_revision=REVISION)
                report.note(f"published {len(catalog)} extensions to Girder in {time.perf_counter() - start:.1f} s")
                time.sleep(0.2)
                profile = common.make_profile(root / "girder-profile", server.url, app["_id"], history=history)
                measure_server(report, "girder", profile, lambda: common.girder_access_count(server), reps, names)
    return report.finish()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--legacy-worker"]:
        return legacy_worker(*argv[1:])

    def extra(parser):
        parser.add_argument("--reps", type=int, help="repetitions per measurement (default 10, quick 2)")
        parser.add_argument("--no-girder", action="store_true", help="skip the real-server part")

    return run(common.bench_args(__doc__.splitlines()[1], argv, extra))


if __name__ == "__main__":
    sys.exit(main())
