"""Issue #13, hostile servers (points 7, 8, 9): credentials never follow a redirect to
another origin; a dripping server cannot hold a command past its deadline or a download
below its speed limit; no answer can grow a file past its declared size, take the memory
of a huge catalog, or crash the parser. Every case is bounded in time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from slicer_ext_manager.cli import main
from slicer_ext_manager.conventions import DEFAULT_APP_ID
from slicer_ext_manager.errors import DownloadError, MalformedResponseError, ServerUnreachableError
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.server import SlicerPackagesClient

from .conftest import OLD_REVISION, REVISION
from .hostile import HostileServer, drip, item_for, json_body, raw_body, redirect, send, serve_packages

ROOT = Path(__file__).resolve().parents[1]
CATALOG = rf"/api/v1/app/{DEFAULT_APP_ID}/extension$"


def base_args(ctx, url: str) -> list[str]:
    return ["--settings-dir", str(ctx.user_settings_path.parent), "--revision", REVISION, "--os", "linux",
            "--arch", "amd64", "--server", url]


@pytest.fixture
def server():
    with HostileServer() as srv:
        yield srv


# -- 7. credentials and redirects -----------------------------------------------------------------------------


def test_token_is_not_sent_to_another_origin_on_redirect(make_profile, tmp_path, capsys, server):
    pkg = build_extension_package(tmp_path / "pkgs", "Private", app_revision=REVISION)
    items = serve_packages(server, [pkg])
    file_id = "1".rjust(23, "0") + "f"
    with HostileServer() as elsewhere:
        elsewhere.route(r"/package$", raw_body(pkg.read_bytes(), "application/octet-stream"))
        server.route(rf"/api/v1/file/{file_id}/download$", redirect(f"{elsewhere.url}/package"))
        ctx = make_profile(server.url)
        code = main([*base_args(ctx, server.url), "install", "Private", "--token", "secret-token"])
        assert code == 0, capsys.readouterr().err
        # The server itself got the token; the other port did not.
        assert all(h.get("Girder-Token") == "secret-token" for p, h in server.requests if "/api/" in p)
        assert elsewhere.requests and all("Girder-Token" not in h and "Authorization" not in h
                                          for _, h in elsewhere.requests)
    assert items["Private"]["_id"]
    # The same origin keeps it (a redirect within the server, e.g. to its own assetstore route).
    server.route(rf"/api/v1/file/{file_id}/download$", redirect(f"{server.url}/same/package"))
    server.route(r"/same/package$", raw_body(pkg.read_bytes(), "application/octet-stream"))
    client = SlicerPackagesClient(server.url, DEFAULT_APP_ID, token="secret-token", backoff=0.01)
    client.download_file(file_id, tmp_path / "again.tar.gz")
    assert server.requests[-1][0] == "/same/package" and server.requests[-1][1].get("Girder-Token") == "secret-token"


def test_token_is_dropped_when_only_the_host_name_changes(tmp_path, server):
    with HostileServer() as elsewhere:
        elsewhere.route(r"/x$", raw_body(b"data", "application/octet-stream"))
        # localhost and 127.0.0.1 are the same machine but another origin.
        server.route(r"/api/v1/file/([0-9a-f]{24})/download$",
                     redirect(f"http://localhost:{elsewhere.httpd.server_address[1]}/x"))
        client = SlicerPackagesClient(server.url, DEFAULT_APP_ID, token="t0k3n", backoff=0.01)
        client.download_file("a" * 24, tmp_path / "x.bin")
        assert elsewhere.requests and "Girder-Token" not in elsewhere.requests[0][1]


# -- 8. deadlines -------------------------------------------------------------------------------------------


def _dripping_catalog(server: HostileServer, stop: threading.Event) -> None:
    body = json.dumps([]).encode() + b" " * 1000
    server.route(CATALOG, drip(body, 1, 0.5, stop=stop))


def test_dripping_catalog_is_bounded_by_the_total_deadline(make_profile, capsys, server):
    stop = threading.Event()
    _dripping_catalog(server, stop)
    try:
        ctx = make_profile(server.url, user_ini=f"[ExtensionsHistory]\nRevisions\\{OLD_REVISION}=Gone\n"
                                                "[ExtensionCheckOnStartup]\nifCheckInstallWithoutDialog=true\n")
        started = time.monotonic()
        code = main([*base_args(ctx, server.url), "--timeout", "2", "install", "Anything"])
        elapsed = time.monotonic() - started
        err = capsys.readouterr().err
        assert code == 1 and elapsed < 30, (elapsed, err)
        assert "did not answer in time (its answer took more than 2 s)" in err and "could not be reached" not in err
        started = time.monotonic()
        main([*base_args(ctx, server.url), "--timeout", "2", "startup-check", "--json"])
        out = capsys.readouterr().out
        assert time.monotonic() - started < 30 and "did not answer in time" in json.loads(out)["message"]
    finally:
        stop.set()


def test_slow_download_is_abandoned_by_the_speed_limit(tmp_path, server):
    stop = threading.Event()
    payload = b"x" * (4 * 1024 * 1024)
    server.route(r"/download$", drip(payload, 4096, 0.25, stop=stop))  # 16 KiB/s
    client = SlicerPackagesClient(server.url, DEFAULT_APP_ID, speed_limit=64 * 1024, speed_time=2.0, backoff=0.01)
    started = time.monotonic()
    try:
        with pytest.raises(DownloadError, match=r"slower than 64\.0 KB/s for 2 s .* was abandoned"):
            client.download_file("b" * 24, tmp_path / "slow.bin", expected_size=len(payload))
    finally:
        stop.set()
    assert time.monotonic() - started < 30
    assert not list(tmp_path.glob("slow.bin*"))


def test_speed_limit_options_reach_the_download(make_profile, tmp_path, capsys, server):
    stop = threading.Event()
    pkg = build_extension_package(tmp_path / "pkgs", "Slow", app_revision=REVISION, payload_size=2_000_000)
    serve_packages(server, [pkg])
    server.route(r"/api/v1/file/([0-9a-f]{24})/download$", drip(pkg.read_bytes(), 4096, 0.25, stop=stop))
    ctx = make_profile(server.url)
    try:
        started = time.monotonic()
        code = main([*base_args(ctx, server.url), "--speed-limit", "65536", "--speed-time", "2", "install", "Slow"])
        err = capsys.readouterr().err
    finally:
        stop.set()
    assert code == 1 and "was abandoned" in err and time.monotonic() - started < 30
    assert not (ctx.install_path / "Slow.s4ext").exists() and not (ctx.install_path / ".staging").exists()


# -- 9. unbounded replies ------------------------------------------------------------------------------------


def _stream_without_length(total: int, chunk: int = 1 << 20):
    """Send ``total`` bytes with no Content-Length (the end is the connection closing)."""
    def respond(handler, match):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Connection", "close")
        handler.end_headers()
        block = b"\0" * chunk
        for _ in range(total // chunk):
            handler.wfile.write(block)
        handler.close_connection = True
    return respond


def test_download_never_grows_past_the_declared_size(tmp_path, server):
    declared = 2 * 1024 * 1024
    server.route(r"/download$", _stream_without_length(64 * 1024 * 1024))
    client = SlicerPackagesClient(server.url, DEFAULT_APP_ID, backoff=0.01)
    seen = []
    with pytest.raises(DownloadError, match="sent more than the 2.0 MB it announced"):
        client.download_file("c" * 24, tmp_path / "big.bin", expected_size=declared,
                             progress=lambda done, total: seen.append(done))
    assert max(seen) <= declared and not list(tmp_path.glob("big.bin*"))


def test_oversized_catalog_is_refused_with_little_memory(make_profile, server, tmp_path):
    """300 MiB of JSON: refused at the cap (64 MB), and the process stays far below 300 MiB."""
    server.route(CATALOG, _stream_without_length(300 * 1024 * 1024))
    ctx = make_profile(server.url)
    script = tmp_path / "measure.py"
    script.write_text(
        "import json, resource, sys\n"
        "from slicer_ext_manager.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "peak = peak if sys.platform == 'darwin' else peak * 1024\n"
        "print(json.dumps({'code': code, 'peak': peak}))\n")
    proc = subprocess.run([sys.executable, str(script), *base_args(ctx, server.url), "search"],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen"))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 1 and "sent more than 64 MB" in proc.stderr, proc.stderr
    print(f"peak memory {result['peak'] / 2**20:.0f} MiB")
    assert result["peak"] < 300 * 1024 * 1024, f"peak memory {result['peak'] / 2**20:.0f} MiB"


def test_declared_oversized_catalog_is_not_read(server):
    big = 80 * 1024 * 1024
    server.route(CATALOG, lambda h, m: (h.send_response(200), h.send_header("Content-Length", str(big)),
                                        h.end_headers()))
    client = SlicerPackagesClient(server.url, DEFAULT_APP_ID, retries=0)
    with pytest.raises(MalformedResponseError, match="more than 64 MB"):
        client.extension_items(REVISION, "linux", "amd64")


def test_deeply_nested_json_is_a_sentence(make_profile, capsys, server):
    depth = 100_000
    server.route(CATALOG, raw_body(b"[" * depth + b"]" * depth))
    ctx = make_profile(server.url)
    assert main([*base_args(ctx, server.url), "search"]) == 1
    err = capsys.readouterr().err
    assert "nested too deeply" in err and "Traceback" not in err and "RecursionError" not in err
    client = SlicerPackagesClient(server.url, DEFAULT_APP_ID, retries=0)
    server.route(rf"/api/v1/item/{'d' * 24}/files$", lambda h, m: send(h, 500, b"[" * depth + b"]" * depth))
    with pytest.raises(Exception) as info:
        client.item_files("d" * 24)
    assert "500" in str(info.value)


def test_catalog_of_wrong_shapes_is_a_sentence(make_profile, capsys, server):
    ctx = make_profile(server.url)
    for body in ({"not": "a list"}, [1, 2], "text", [{"meta": 5}], [{"meta": {"baseName": ["x"]}}]):
        server.route(CATALOG, json_body(body))
        code = main([*base_args(ctx, server.url), "search", "--refresh"])
        err = capsys.readouterr().err
        assert code in (0, 1) and "Traceback" not in err, (body, err)


def test_server_that_accepts_and_never_answers_is_bounded(server):
    stop = threading.Event()
    server.route(CATALOG, lambda h, m: stop.wait(60))
    client = SlicerPackagesClient(server.url, DEFAULT_APP_ID, retries=0, timeout=(2.0, 30.0), deadline=2.0)
    started = time.monotonic()
    try:
        with pytest.raises(ServerUnreachableError, match="did not answer in time"):
            client.extension_items(REVISION, "linux", "amd64")
    finally:
        stop.set()
    assert time.monotonic() - started < 20


_ = item_for
