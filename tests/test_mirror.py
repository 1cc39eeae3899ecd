"""``mirror pull`` against the REAL Slicer Package Manager server, then ``serve`` of the mirror."""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import pytest

from slicer_ext_manager import cli, s4ext
from slicer_ext_manager.cli import servers as commands
from slicer_ext_manager.localserver.mirror import MANIFEST_NAME, pull_mirror
from slicer_ext_manager.localserver.server import PackageServer
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.server import SlicerPackagesClient

from .faultproxy import FaultProxy

girder = pytest.mark.girder  # tests without it need no server
REV = "33241"
OLD = "33000"


def sha512(path: Path) -> str:
    return hashlib.sha512(Path(path).read_bytes()).hexdigest()


def client_for(url: str, app_id: str) -> SlicerPackagesClient:
    return SlicerPackagesClient(url, app_id, backoff=0.01)


def files_in(dest: Path) -> list[str]:
    return sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")
                  if p.is_file() and ".slicer-ext-manager-server" not in p.parts)


@pytest.fixture
def upstream(girder_server, girder_app, girder_publish):
    """Several revisions and systems on the real server: only A, B, C match 33241/linux/amd64."""
    items = {
        "A": girder_publish("A", app_revision=REV, depends=("B",), scm_revision="a1a1a1a", category="Segmentation",
                            keywords="alpha seg", homepage="https://example.org/a", tier=3),
        "B": girder_publish("B", app_revision=REV, scm_revision="b1b1b1b", modules=("scripted", "loadable")),
        "C": girder_publish("C", app_revision=REV, scm_revision="c1c1c1c", description="C, unrelated."),
        "A-win": girder_publish("A", app_revision=REV, os="win", depends=("B",), scm_revision="a1a1a1a"),
        "A-old": girder_publish("A", app_revision=OLD, depends=("B",), scm_revision="a0a0a0a"),
        "D-mac": girder_publish("D", app_revision=REV, os="macosx", scm_revision="d1d1d1d"),
    }
    return items


def counts(girder_server, app_id: str) -> dict[str, int]:
    stats = girder_server.admin.download_stats(app_id)
    per_name = stats.get(REV, {}).get("extensions", {})
    return {name: per_os.get("linux", {}).get("amd64", 0) for name, per_os in per_name.items()}


def wait_counts(girder_server, app_id: str, expected: dict[str, int], timeout: float = 10.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        got = counts(girder_server, app_id)
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@girder
def test_pull_only_the_matching_build(girder_server, girder_app, upstream, tmp_path):
    dest = tmp_path / "mirror"
    admin = girder_server.admin
    events = []
    report = pull_mirror(client_for(girder_server.url, girder_app.app_id), dest, REV, "linux", "amd64",
                         progress=events.append)
    assert report.ok, report.to_json()
    assert sorted(i.name for i in report.downloaded) == ["A", "B", "C"]
    assert report.present == [] and report.failed == []
    assert all(i.verified and i.requested for i in report.items)
    names = []
    for key in ("A", "B", "C"):
        item = upstream[key]
        (file_doc,) = admin.list_item_files(item["_id"])
        archive = dest / file_doc["name"]
        names += [archive.name, archive.name + ".json"]
        assert sha512(archive) == item["meta"]["sha512"] == file_doc["sha512"]
        sidecar = json.loads((dest / (archive.name + ".json")).read_text())
        # the full item document as the listing returned it, plus its file document
        assert {k: v for k, v in sidecar.items() if k != "files"} == {k: v for k, v in item.items()
                                                                        if k != "_modelType"} | {
            "lowerName": item["name"].lower()}
        assert sidecar["_id"] == item["_id"] and sidecar["meta"] == item["meta"]
        assert [f["_id"] for f in sidecar["files"]] == [file_doc["_id"]]
        assert sidecar["files"][0]["name"] == file_doc["name"] and "release" not in sidecar
        entry = report.get(key)
        assert entry.item_id == item["_id"] and entry.path == archive.name and entry.size == archive.stat().st_size
    assert files_in(dest) == sorted(names + [MANIFEST_NAME])  # nothing for win, macosx or 33000; no .part
    manifest = json.loads((dest / MANIFEST_NAME).read_text())
    assert manifest["source_url"] == girder_server.url and manifest["app_id"] == girder_app.app_id
    assert (manifest["revision"], manifest["os"], manifest["arch"]) == (REV, "linux", "amd64")
    assert manifest["date"] and manifest["complete"] is True and manifest["names"] is None
    assert sorted(i["name"] for i in manifest["items"]) == ["A", "B", "C"]
    assert {i["item_id"] for i in manifest["items"]} == {upstream[k]["_id"] for k in "ABC"}
    assert wait_counts(girder_server, girder_app.app_id, {"A": 1, "B": 1, "C": 1}) == {"A": 1, "B": 1, "C": 1}
    phases = {e.phase for e in events}
    assert {"listing", "checking", "downloading", "done"} <= phases
    assert [e.index for e in events if e.phase == "done"] == [1, 2, 3]


@girder
def test_rerun_is_a_no_op(girder_server, girder_app, upstream, tmp_path):
    dest = tmp_path / "mirror"
    first = pull_mirror(client_for(girder_server.url, girder_app.app_id), dest, REV, "linux", "amd64")
    assert first.ok
    wait_counts(girder_server, girder_app.app_id, {"A": 1, "B": 1, "C": 1})
    before = {p: p.stat().st_mtime_ns for p in dest.iterdir() if p.name != MANIFEST_NAME}
    proxy = FaultProxy(girder_server.url)
    try:
        client = client_for(proxy.url, girder_app.app_id)
        again = pull_mirror(client, dest, REV, "linux", "amd64")
    finally:
        proxy.close()
    assert again.ok and sorted(i.name for i in again.present) == ["A", "B", "C"] and again.downloaded == []
    assert all(i.verified for i in again.items)
    # one listing request, one release lookup: no file document, no download
    assert client.request_count == 2
    assert proxy.count("/download") == 0 and proxy.count("/files") == 0
    assert {p: p.stat().st_mtime_ns for p in dest.iterdir() if p.name != MANIFEST_NAME} == before
    time.sleep(0.3)
    assert counts(girder_server, girder_app.app_id) == {"A": 1, "B": 1, "C": 1}


@girder
def test_names_pull_their_dependencies(girder_server, girder_app, upstream, tmp_path):
    dest = tmp_path / "mirror"
    report = pull_mirror(client_for(girder_server.url, girder_app.app_id), dest, REV, "linux", "amd64", names=["A"])
    assert report.ok
    assert [(i.name, i.requested) for i in report.items] == [("A", True), ("B", False)]
    assert sorted(p.name for p in dest.glob("*.tar.gz")) == sorted(
        girder_server.admin.list_item_files(upstream[k]["_id"])[0]["name"] for k in ("A", "B"))
    manifest = json.loads((dest / MANIFEST_NAME).read_text())
    assert manifest["names"] == ["A"]

    missing = pull_mirror(client_for(girder_server.url, girder_app.app_id), dest, REV, "linux", "amd64",
                          names=["C", "Nope"])
    assert not missing.ok
    assert [(i.name, i.status) for i in missing.items] == [("C", "downloaded"), ("Nope", "missing")]
    assert missing.get("Nope").error == f"The server has no Nope for Slicer revision {REV} (linux/amd64)."
    manifest = json.loads((dest / MANIFEST_NAME).read_text())
    assert manifest["names"] == ["C", "Nope"] and manifest["complete"] is False
    assert [i["name"] for i in manifest["items"]] == ["A", "B", "C"]  # what DEST holds for this build


@girder
def test_dependency_missing_on_the_server(girder_server, girder_app, girder_publish, tmp_path):
    girder_publish("Needy", app_revision=REV, depends=("Ghost",))
    report = pull_mirror(client_for(girder_server.url, girder_app.app_id), tmp_path / "m", REV, "linux", "amd64",
                         names=["Needy"])
    assert [(i.name, i.status, i.requested) for i in report.items] == [("Needy", "downloaded", True),
                                                                         ("Ghost", "missing", False)]
    assert "needed by Needy" in report.get("Ghost").error and not report.ok


@girder
def test_interrupted_pull_resumes(girder_server, girder_app, girder_publish, upstream, tmp_path):
    girder_publish("Big", app_revision=REV, scm_revision="b16b16b", payload_size=3_000_000)
    dest = tmp_path / "mirror"
    app_id = girder_server.url, girder_app.app_id

    # 1. cancelled after the first package: it is complete, nothing else is there
    def stop_after_first(event):
        return not (event.phase == "done" and event.index == 1)

    report = pull_mirror(client_for(*app_id), dest, REV, "linux", "amd64", progress=stop_after_first)
    assert report.cancelled and not report.ok
    assert [i.status for i in report.items] == ["downloaded", "cancelled", "cancelled", "cancelled"]
    assert len(list(dest.glob("*.tar.gz"))) == 1 and not list(dest.glob("*.part"))
    assert json.loads((dest / MANIFEST_NAME).read_text())["complete"] is False

    # 2. cancelled in the middle of the big download: no half file under a final name
    def stop_in_big(event):
        return not (event.phase == "downloading" and event.name == "Big" and event.done > 1_000_000)

    report = pull_mirror(client_for(*app_id), dest, REV, "linux", "amd64", progress=stop_in_big)
    assert report.cancelled and report.get("Big").status == "cancelled"
    assert [i.status for i in report.items[:2]] == ["present", "downloaded"]  # A kept, B fetched
    big_files = [p for p in dest.iterdir() if "Big" in p.name]
    # Only the partial download is there (for the next run), never a half file under the final name.
    assert len(big_files) == 1 and big_files[0].name.endswith(".tar.gz.part"), files_in(dest)
    assert big_files[0].stat().st_size > 1_000_000

    # 3. the next run continues the partial download with Range
    proxy = FaultProxy(girder_server.url)
    try:
        client = client_for(proxy.url, girder_app.app_id)
        report = pull_mirror(client, dest, REV, "linux", "amd64")
    finally:
        proxy.close()
    assert report.ok, report.to_json()
    assert [(i.name, i.status) for i in report.items] == [("A", "present"), ("B", "present"), ("Big", "downloaded"),
                                                          ("C", "downloaded")]
    big = report.get("Big")
    assert big.resumed == 1 and big.verified and sha512(dest / big.path) == big.sha512
    assert proxy.count("/download") == 2  # the rest of Big (with Range) and C
    big_request = next(h for r, h in zip(proxy.requests, proxy.headers) if "/download" in r)
    assert big_request.get("Range", "").startswith("bytes=")
    assert not list(dest.glob("*.part"))


@girder
def test_checksum_mismatch_is_reported_and_nothing_kept(girder_server, girder_app, upstream, tmp_path, capsys):
    stored = girder_server.admin.assetstore_file_path(upstream["C"]["_id"])
    data = bytearray(stored.read_bytes())
    data[50] ^= 0xFF
    stored.write_bytes(bytes(data))
    try:
        dest = tmp_path / "mirror"
        code = commands.main(["mirror", "pull", str(dest), "--revision", REV, "--os", "linux", "--arch", "amd64",
                              "--from", girder_server.url, "--app-id", girder_app.app_id, "--json"])
    finally:
        data[50] ^= 0xFF
        stored.write_bytes(bytes(data))
    assert code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["downloaded"] == ["A", "B"]
    assert [f["name"] for f in out["failed"]] == ["C"] and "sha512" in out["failed"][0]["error"]
    assert not any(p.name.startswith(f"{REV}-linux-amd64-C-") for p in dest.iterdir())
    assert [i["name"] for i in json.loads((dest / MANIFEST_NAME).read_text())["items"]] == ["A", "B"]


@girder
def test_upstream_update_replaces_the_package(girder_server, girder_app, girder_publish, upstream, tmp_path):
    dest = tmp_path / "mirror"
    assert pull_mirror(client_for(girder_server.url, girder_app.app_id), dest, REV, "linux", "amd64").ok
    old_name = girder_server.admin.list_item_files(upstream["C"]["_id"])[0]["name"]
    new_item = girder_publish("C", app_revision=REV, scm_revision="c2c2c2c", description="C, second version.")
    assert new_item["_id"] == upstream["C"]["_id"]
    new_name = girder_server.admin.list_item_files(new_item["_id"])[0]["name"]
    report = pull_mirror(client_for(girder_server.url, girder_app.app_id), dest, REV, "linux", "amd64")
    assert [(i.name, i.status) for i in report.items] == [("A", "present"), ("B", "present"), ("C", "downloaded")]
    assert not (dest / old_name).exists() and not (dest / (old_name + ".json")).exists()
    assert json.loads((dest / (new_name + ".json")).read_text())["meta"]["revision"] == "c2c2c2c"


@girder
def test_serve_the_mirror_and_install_from_it(girder_server, girder_app, upstream, tmp_path, make_profile):
    dest = tmp_path / "mirror"
    assert pull_mirror(client_for(girder_server.url, girder_app.app_id), dest, REV, "linux", "amd64").ok
    upstream_items = {i["_id"]: i for i in girder_server.admin.list_extensions(
        girder_app.app_id, app_revision=REV, os="linux", arch="amd64")}
    with PackageServer(dest, app_id=girder_app.app_id) as server:
        assert server.index.warnings == []
        served = client_for(server.url, girder_app.app_id).extension_items(REV, "linux", "amd64")
        # same ids, names, dates and metadata as upstream (the sidecars carry them)
        assert {i["_id"] for i in served} == set(upstream_items)
        for item in served:
            up = upstream_items[item["_id"]]
            for key in ("name", "lowerName", "created", "updated", "creatorId", "description", "meta", "size"):
                assert item[key] == up[key], key
            served_file = client_for(server.url, girder_app.app_id).package_file(item["_id"])
            (up_file,) = girder_server.admin.list_item_files(item["_id"])
            for key in ("_id", "name", "created", "size", "sha512", "mimeType", "exts"):
                assert served_file[key] == up_file[key], key
        assert client_for(server.url, girder_app.app_id).extension_items(REV, "win", "amd64") == []

        ctx = make_profile(server.url, girder_app.app_id)
        report = ExtensionsManager(ctx, client=client_for(server.url, girder_app.app_id)).install(["A"])
        assert report.ok and [r.name for r in report.results] == ["B", "A"]
        desc = s4ext.read(ctx.install_path / "A.s4ext")
        assert desc["extension_id"] == upstream["A"]["_id"]
        assert desc["meta.sha512"] == upstream["A"]["meta"]["sha512"]
        assert desc["updated"] == upstream["A"]["updated"] and desc["meta.tier"] == "3"


@girder
def test_release_placement_is_kept(girder_server, girder_app, girder_publish, tmp_path):
    girder_server.admin.create_release(girder_app.app_id, "5.8.0", REV)
    item = girder_publish("Rel", app_revision=REV)
    dest = tmp_path / "mirror"
    report = pull_mirror(client_for(girder_server.url, girder_app.app_id), dest, REV, "linux", "amd64")
    assert report.ok and report.warnings == []
    sidecar = json.loads((dest / (report.get("Rel").path + ".json")).read_text())
    assert sidecar["release"] == "5.8.0"
    with PackageServer(dest, app_id=girder_app.app_id) as server:
        client = client_for(server.url, girder_app.app_id)
        releases = client.releases()
        assert [(r["name"], r["meta"]["revision"]) for r in releases] == [("5.8.0", REV)]
        listed = client.get_json(f"/app/{girder_app.app_id}/extension",
                                 {"release_id": releases[0]["_id"], "limit": 0})
        assert [i["_id"] for i in listed] == [item["_id"]]


@girder
def test_cli_mirror_pull(girder_server, girder_app, upstream, tmp_path, capsys):
    dest = tmp_path / "mirror"
    argv = ["mirror", "pull", str(dest), "--revision", REV, "--os", "linux", "--arch", "amd64",
            "--from", girder_server.url, "--app-name", girder_app.app_name, "--names", "A"]
    assert commands.main(argv) == 0
    captured = capsys.readouterr()
    assert f"{dest.resolve()}: 2 packages for Slicer revision {REV} (linux/amd64)" in captured.out
    assert "2 downloaded, 0 already present, 0 failed." in captured.out
    assert f"slicer-ext-manager serve {dest.resolve()} --port 8080" in captured.out
    assert f"--app-id {girder_app.app_id}" in captured.out
    assert "[1/2] downloaded" in captured.err and "Listing" in captured.err
    assert commands.main(argv + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["present"] == ["A", "B"] and data["downloaded"] == [] and data["ok"] is True
    assert data["app_id"] == girder_app.app_id
    assert data["serve_command"] == f"slicer-ext-manager serve {dest.resolve()} --port 8080"


def test_cli_usage_errors(capsys):
    assert commands.main(["mirror", "pull", "x", "--revision", REV, "--arch", "amd64"]) == 2
    assert "mirror pull needs --os" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        commands.main(["mirror", "pull", "x", "--app-id", "a" * 24, "--app-name", "Slicer"])
    assert exc.value.code == 2


def cli_like_parser() -> argparse.ArgumentParser:
    """The real ``cli.build_parser()`` when it wires the commands, else a parser built the same way
    (cli's ``add`` helper: global context options, suppressed repeats on every command)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if {"serve", "mirror", "demo"} <= set(sub.choices):
        return parser

    def add(name, func, help_text, skip=()):
        p = sub.add_parser(name, help=help_text, description=help_text)
        cli._add_json(p)
        cli._add_context_options(p, suppress=True, skip=skip)
        p.set_defaults(func=func)
        return p

    commands.register(add)
    return parser


@pytest.mark.parametrize("argv, expected", [
    (["mirror", "pull", "D", "--revision", "1", "--os", "win", "--arch", "amd64"],
     {"dest": "D", "revision": "1", "os_name": "win", "arch": "amd64", "app_id": None}),
    (["--app-id", "b" * 24, "--revision", "2", "mirror", "pull", "D", "--os", "linux", "--arch", "arm64"],
     {"revision": "2", "os_name": "linux", "arch": "arm64", "app_id": "b" * 24}),
    (["mirror", "pull", "D", "--revision", "1", "--os", "win", "--arch", "amd64", "--app-id", "c" * 24, "--json"],
     {"app_id": "c" * 24, "json": True}),
    (["serve", "DIR"], {"directory": "DIR", "port": 8080, "host": "127.0.0.1", "app_id": None}),
    (["--app-id", "d" * 24, "serve", "DIR", "--port", "0"], {"port": 0, "app_id": "d" * 24}),
    (["serve", "DIR", "--app-id", "e" * 24, "--app-name", "MyApp"], {"app_id": "e" * 24, "app_name": "MyApp"}),
    (["demo", "--screenshot", "x.png", "--workdir", "W", "--port", "0"],
     {"screenshot": "x.png", "workdir": "W", "port": 0}),
])
def test_commands_wire_into_the_cli_parser(argv, expected):
    args = cli_like_parser().parse_args(argv)
    for key, value in expected.items():
        assert getattr(args, key, None) == value, key
    assert args.func in (commands.cmd_mirror, commands.cmd_serve, commands.cmd_demo)



def test_cmd_serve_passes_options(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(commands, "serve_command", lambda directory, **kw: calls.append((directory, kw)) or 0)
    assert commands.main(["serve", str(tmp_path), "--port", "0", "--app-id", "a" * 24, "--app-name", "Mine",
                          "--host", "0.0.0.0", "--strict-arch"]) == 0
    (directory, options), = calls
    assert directory == str(tmp_path)
    assert {k: options[k] for k in ("host", "port", "app_id", "app_name", "state_dir", "strict_arch")} == {
        "host": "0.0.0.0", "port": 0, "app_id": "a" * 24, "app_name": "Mine", "state_dir": None, "strict_arch": True}
    assert options["releases"] == {} and options["users_file"] is None and not options["any_login"]
    assert commands.main(["serve", str(tmp_path)]) == 0
    assert calls[-1][1]["port"] == 8080 and calls[-1][1]["app_id"] == "5f4474d0e1d8c75dfc705482"
    assert calls[-1][1]["app_name"] == "Slicer"
    with pytest.raises(SystemExit) as exc:
        commands.main(["serve", str(tmp_path), "--port", "70000"])
    assert exc.value.code == 2


def test_serve_subprocess_with_a_free_port(tmp_path):
    import subprocess
    import sys

    import requests

    from slicer_ext_manager.localserver.builder import build_extension_package

    build_extension_package(tmp_path / "pkgs", "Served", app_revision=REV)
    proc = subprocess.Popen([sys.executable, "-m", "slicer_ext_manager.cli.servers", "serve",
                             str(tmp_path / "pkgs"), "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("Serving ") and " at http://127.0.0.1:" in first
        url = first.split(" at ", 1)[1].split(" ", 1)[0]
        assert not url.endswith(":0")
        items = requests.get(f"{url}/api/v1/app/5f4474d0e1d8c75dfc705482/extension", params={"limit": 0},
                             timeout=10).json()
        assert [i["meta"]["baseName"] for i in items] == ["Served"]
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def test_pull_from_a_package_server_keeps_other_builds_in_the_manifest(tmp_path):
    from slicer_ext_manager.localserver.builder import build_extension_package

    src = tmp_path / "src"
    build_extension_package(src, "P", app_revision=REV, depends=("Q",))
    build_extension_package(src, "Q", app_revision=REV)
    build_extension_package(src, "P", app_revision=REV, os="win")
    dest = tmp_path / "dest"
    with PackageServer(src) as upstream_server:
        client = client_for(upstream_server.url, upstream_server.app_id)
        linux = pull_mirror(client, dest, REV, "linux", "amd64")
        win = pull_mirror(client, dest, REV, "win", "amd64")
        upstream_ids = {i["_id"] for i in client.extension_items(REV)}
    assert linux.ok and win.ok and [i.name for i in win.downloaded] == ["P"]
    manifest = json.loads((dest / MANIFEST_NAME).read_text())
    assert (manifest["os"], [i["name"] for i in manifest["items"]]) == ("win", ["P"])
    assert [(b["os"], [i["name"] for i in b["items"]]) for b in manifest["other_builds"]] == [("linux", ["P", "Q"])]
    with PackageServer(dest) as mirror_server:
        served = client_for(mirror_server.url, mirror_server.app_id).extension_items(REV)
    assert {i["_id"] for i in served} == upstream_ids  # served with the upstream ids
