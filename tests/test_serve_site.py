"""``serve`` at a site (issues #13, #18): one package per build, release layouts from
``--release``, packages added while serving, the network warning, logins for the real
client, hard links, a burst of simultaneous clients."""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from slicer_ext_manager.cli.servers import serve_command
from slicer_ext_manager.conventions import DEFAULT_APP_ID
from slicer_ext_manager.localserver.auth import Logins
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.localserver.handler import LISTEN_BACKLOG
from slicer_ext_manager.localserver.index import PackageIndex
from slicer_ext_manager.localserver.server import PackageServer, network_warning, startup_lines

from .girder.ensure_venv import default_venv_dir

APP = DEFAULT_APP_ID


def listing(server: PackageServer, **params) -> list[dict]:
    r = requests.get(f"{server.url}/api/v1/app/{APP}/extension", params={"limit": 0, **params}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# -- A.2 one package per build -------------------------------------------------------------------


def test_two_archives_of_one_build_serve_the_newest_and_warn_once(tmp_path):
    old = build_extension_package(tmp_path / "p", "Foo", app_revision="33241", scm_revision="aaa1111",
                                  date="2025-01-10")
    new = build_extension_package(tmp_path / "p" / "later", "Foo", app_revision="33241", scm_revision="bbb2222",
                                  date="2025-03-01")
    os.utime(new, (1_600_000_000, 1_600_000_000))  # an older file time does not make it the older build
    out, err = io.StringIO(), io.StringIO()

    def stop(server):
        items = listing(server)
        assert [(i["meta"]["baseName"], i["meta"]["revision"]) for i in items] == [("Foo", "bbb2222")]
        server.stop()

    assert serve_command(tmp_path / "p", port=0, out=out, err=err, ready=lambda s: threading.Thread(
        target=stop, args=(s,)).start(), watch_interval=0) == 0
    warnings = [line for line in err.getvalue().splitlines() if "Two packages of Foo" in line]
    assert len(warnings) == 1, err.getvalue()
    assert new.name in warnings[0] and old.name in warnings[0]


# -- A.4 release layout without sidecars ------------------------------------------------------------


def test_release_option_files_revisions_under_release_folders(tmp_path):
    build_extension_package(tmp_path, "Foo", app_revision="33241")
    build_extension_package(tmp_path, "Bar", app_revision="34045")
    with PackageServer(tmp_path, releases={"5.8.1": "33241"}) as server:
        releases = requests.get(f"{server.url}/api/v1/app/{APP}/release", timeout=10).json()
        assert [(r["name"], r["meta"]["revision"]) for r in releases] == [("5.8.1", "33241")]
        (foo,) = listing(server, release_id=releases[0]["_id"])
        assert foo["meta"]["baseName"] == "Foo"
        drafts = requests.get(f"{server.url}/api/v1/app/{APP}/draft", timeout=10).json()
        assert [d["name"] for d in drafts] == ["34045"]
    assert serve_command(tmp_path, port=0, releases={"5.8.1": "abc"}, watch_interval=0,
                         out=io.StringIO(), err=io.StringIO(), ready=lambda s: s.stop()) == 0


def test_release_option_is_validated(capsys):
    from slicer_ext_manager.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["serve", ".", "--release", "5.8.1"])
    assert exc.value.code == 2 and "5.8.1=33241" in capsys.readouterr().err


# -- A.3 packages added while serving ------------------------------------------------------------------


def test_added_packages_appear_without_restart_and_never_half_copied(tmp_path):
    root = tmp_path / "p"
    build_extension_package(root, "Foo", app_revision="33241")
    spare = build_extension_package(tmp_path / "spare", "Bar", app_revision="33241")
    with PackageServer(root, watch_interval=0.2) as server:
        assert [i["meta"]["baseName"] for i in listing(server)] == ["Foo"]
        # A slow copy: the folder must settle before the package is indexed.
        data = spare.read_bytes()
        target = root / spare.name
        with open(target, "wb") as fh:
            for start in range(0, len(data), max(1, len(data) // 4)):
                fh.write(data[start:start + max(1, len(data) // 4)])
                fh.flush()
                time.sleep(0.3)
                names = {i["meta"]["baseName"] for i in listing(server)}
                assert "Bar" not in names or target.stat().st_size == len(data)
        assert wait_for(lambda: {i["meta"]["baseName"] for i in listing(server)} == {"Foo", "Bar"})
        (bar,) = [i for i in listing(server) if i["meta"]["baseName"] == "Bar"]
        got = requests.get(f"{server.url}/api/v1/item/{bar['_id']}/download", timeout=10).content
        assert got == data
        target.unlink()
        assert wait_for(lambda: [i["meta"]["baseName"] for i in listing(server)] == ["Foo"])


def test_sighup_rescans(tmp_path):
    root = tmp_path / "p"
    build_extension_package(root, "Foo", app_revision="33241")
    proc = subprocess.Popen(
        [sys.executable, "-m", "slicer_ext_manager.cli.servers", "serve", str(root), "--port", "0",
         "--watch-interval", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=Path(__file__).resolve().parent.parent)
    try:
        line = proc.stdout.readline()
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        assert len(requests.get(f"{url}/api/v1/app/{APP}/extension?limit=0", timeout=10).json()) == 1
        build_extension_package(root, "Bar", app_revision="33241")
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: len(requests.get(f"{url}/api/v1/app/{APP}/extension?limit=0",
                                                 timeout=10).json()) == 2)
    finally:
        proc.terminate()
        proc.wait(10)


# -- A.5 every interface ----------------------------------------------------------------------------


def test_all_interfaces_are_announced_with_a_warning(tmp_path):
    build_extension_package(tmp_path, "Foo", app_revision="33241")
    server = PackageServer(tmp_path, host="0.0.0.0")
    local = PackageServer(tmp_path)
    assert network_warning(local) is None
    warning = network_warning(server)
    assert warning is not None and "serving the network" in warning and "\n" not in warning
    lines = startup_lines(server)
    assert any(line.startswith("Reachable at: ") for line in lines)
    assert all("127.0.0.1" not in u for u in server.reachable_urls) or server.reachable_urls == [server.url]
    assert any("Extensions/FrontendServerUrl" in line for line in lines)


# -- A.6 logins for the real client ---------------------------------------------------------------------


def _client_bin() -> Path:
    path = default_venv_dir() / "bin" / "slicer_package_manager_client"
    if not path.exists():
        message = f"the real slicer_package_manager_client is not in {path.parent} (python tests/girder/ensure_venv.py)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_real_client_logs_in_with_a_users_file(tmp_path):
    client = _client_bin()
    build_extension_package(tmp_path / "p", "Foo", app_revision="33241")
    users = tmp_path / "users.txt"
    users.write_text("# site admins\nadmin:s3cret\nops:sha256:" +
                     __import__("hashlib").sha256(b"pw").hexdigest() + "\n", encoding="utf-8")
    users.chmod(0o600)
    with PackageServer(tmp_path / "p", logins=Logins.from_file(users)) as server:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
        for login, password in (("admin", "s3cret"), ("ops", "pw")):
            run = subprocess.run([str(client), "--api-url", server.api_url, "--username", login, "--password",
                                  password, "extension", "list", "Slicer", "--all"], capture_output=True,
                                 text=True, env=env, timeout=60)
            assert run.returncode == 0, run.stderr
            assert "Foo" in run.stdout and "33241" in run.stdout
        bad = subprocess.run([str(client), "--api-url", server.api_url, "--username", "admin", "--password", "no",
                              "extension", "list", "Slicer", "--all"], capture_output=True, text=True, env=env,
                             timeout=60)
        assert bad.returncode != 0
        r = requests.get(f"{server.api_url}/user/authentication", auth=("admin", "s3cret"), timeout=10)
        token = r.json()["authToken"]["token"]
        assert r.json()["message"] == "Login succeeded." and "girderToken=" in r.headers["Set-Cookie"]
        me = requests.get(f"{server.api_url}/user/me", headers={"Girder-Token": token}, timeout=10).json()
        assert me["login"] == "admin" and me["admin"] is False
        # Logged in or not, the mirror stays read-only.
        r = requests.post(f"{server.api_url}/app", params={"name": "X"}, headers={"Girder-Token": token}, timeout=10)
        assert r.status_code == 405


def test_any_login_and_api_keys_and_no_logins(tmp_path):
    build_extension_package(tmp_path, "Foo", app_revision="33241")
    with PackageServer(tmp_path, logins=Logins(any_login=True)) as server:
        assert requests.get(f"{server.api_url}/user/authentication", auth=("who", "ever"),
                            timeout=10).status_code == 200
        r = requests.post(f"{server.api_url}/api_key/token", params={"key": "k" * 40}, timeout=10)
        assert r.status_code == 200 and r.json()["authToken"]["scope"] == ["core.data.read"]
    with PackageServer(tmp_path) as server:
        r = requests.get(f"{server.api_url}/user/authentication", auth=("who", "ever"), timeout=10)
        assert r.status_code == 401 and "--users FILE or --any-login" in r.json()["message"]
        assert requests.post(f"{server.api_url}/api_key/token", params={"key": "k"}, timeout=10).status_code == 405


# -- B.17 hard links ------------------------------------------------------------------------------------


def test_hard_links_are_refused_and_swapped_files_are_not_served(tmp_path):
    root = tmp_path / "p"
    outside = build_extension_package(tmp_path / "outside", "Evil", app_revision="33241")
    root.mkdir()
    os.link(outside, root / outside.name)
    idx = PackageIndex.scan(root)
    assert idx.packages == [] and any("hard links" in w for w in idx.warnings)
    assert len(PackageIndex.scan(root, allow_hardlinks=True).packages) == 1
    (root / outside.name).unlink()
    # A same-size hard link to a file outside swapped in after the scan is not served.
    good = build_extension_package(root, "Good", app_revision="33241", description="x" * 10)
    with PackageServer(root) as server:
        (item,) = listing(server)
        secret = tmp_path / "secret.bin"
        secret.write_bytes(b"S" * good.stat().st_size)
        good.unlink()
        os.link(secret, good)
        r = requests.get(f"{server.url}/api/v1/item/{item['_id']}/download", timeout=10)
        assert r.status_code == 500 and b"S" * 16 not in r.content
        # a hard link gone again but different bytes in place (same size): refused by the sha512 check
        good.unlink()
        good.write_bytes(b"T" * secret.stat().st_size)
        r = requests.get(f"{server.url}/api/v1/item/{item['_id']}/download", timeout=10)
        assert r.status_code == 500 and "sha512" in r.json()["message"]
        shutil.rmtree(tmp_path / "outside")


# -- B.16 a burst of clients ---------------------------------------------------------------------------


def test_a_burst_of_simultaneous_clients_is_served(tmp_path):
    build_extension_package(tmp_path, "Foo", app_revision="33241")
    with PackageServer(tmp_path, workers=32) as server:
        assert server.bind().request_queue_size == LISTEN_BACKLOG
        port = server.port
        barrier = threading.Barrier(200)

        def one(_: int) -> int:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                barrier.wait(timeout=30)
                sock.sendall(f"GET /api/v1/app/{APP}/extension?limit=0 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                return int(data.split(b" ", 2)[1]) if data else 0

        with concurrent.futures.ThreadPoolExecutor(200) as pool:
            codes = list(pool.map(one, range(200)))
        assert codes == [200] * 200
        assert server.bind().worker_count <= 32


def test_pool_closes_idle_keep_alive_connections_when_others_wait(tmp_path):
    build_extension_package(tmp_path, "Foo", app_revision="33241")
    with PackageServer(tmp_path, workers=2) as server:
        sessions = [requests.Session() for _ in range(6)]  # keep-alive clients, more than the workers
        try:
            for _ in range(3):
                with concurrent.futures.ThreadPoolExecutor(6) as pool:
                    codes = list(pool.map(lambda s: s.get(f"{server.url}/api/v1/system/version",
                                                          timeout=10).status_code, sessions))
                assert codes == [200] * 6
        finally:
            for s in sessions:
                s.close()
        assert json.loads(requests.get(server.url + "/", timeout=10).text)["api_url"] == "/api/v1"
