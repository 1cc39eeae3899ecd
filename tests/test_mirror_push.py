"""``mirror push`` into the REAL Slicer Package Manager server (issue #18 A.8), and
``mirror pull``'s empty-result check and ``--with-slicer`` (A.7, #16)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from slicer_ext_manager.cli import main
from slicer_ext_manager.localserver.push import push_mirror
from slicer_ext_manager.localserver.slicer_packages import build_slicer_package
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.server import SlicerPackagesClient

from .girder.ensure_venv import default_venv_dir

pytestmark = pytest.mark.girder

REV = "33241"


def sha512(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


@pytest.fixture
def mirror_dir(girder_server, girder_app, girder_publish, tmp_path):
    """A mirror pulled from an upstream app: A (needs B), B, C in release 5.8.1, a big D, Slicer 5.8.1."""
    admin, app = girder_server.admin, girder_app.app_id
    admin.create_release(app, "5.8.1", REV)
    girder_publish("A", app_revision=REV, depends=("B",), scm_revision="a1a1a1a", category="Segmentation",
                   keywords="alpha seg", homepage="https://example.org/a", tier=3)
    girder_publish("B", app_revision=REV, scm_revision="b1b1b1b")
    girder_publish("C", app_revision=REV, scm_revision="c1c1c1c", description="C, unrelated.")
    girder_publish("D", app_revision=REV, scm_revision="d1d1d1d", payload_size=12_000_000)
    package = build_slicer_package(tmp_path / "apps", "5.8.1", REV, padding=100_000)
    admin.upload_package(app, package, baseName="Slicer", os="linux", arch="amd64", revision=REV, version="5.8.1",
                         build_date="2025-06-02T06:00:00+00:00")
    dest = tmp_path / "mirror"
    assert main(["mirror", "pull", str(dest), "--from", girder_server.url, "--app-id", app, "--revision", REV,
                 "--os", "linux", "--arch", "amd64", "--with-slicer", "--quiet"]) == 0
    return dest


def _strip(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k != "app_id"}


def test_push_gives_the_same_items_and_bytes_and_is_idempotent(girder_server, girder_app, mirror_dir, make_profile,
                                                              tmp_path, capsys):
    admin = girder_server.admin
    manifest = json.loads((mirror_dir / "mirror.json").read_text())
    assert {i["kind"] for i in manifest["items"]} == {"extension", "application"}
    name = f"Pushed-{uuid.uuid4().hex[:8]}"
    argv = ["mirror", "push", str(mirror_dir), "--server", girder_server.url, "--token", admin.token,
            "--app-name", name, "--json"]
    capsys.readouterr()
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["app_created"] and sorted(report["uploaded"]) == ["A", "B", "C", "D", "Slicer 5.8.1 (r33241)"]
    assert report["slicer_can_use"] is False and "5f4474d0e1d8c75dfc705482" in report["app_id_note"]
    pushed_id = report["app_id"]
    # The same metadata as upstream (the server sets sha512 itself), in the same release.
    upstream = {i["meta"]["baseName"]: i for i in admin.list_extensions(girder_app.app_id)}
    pushed = {i["meta"]["baseName"]: i for i in admin.list_extensions(pushed_id)}
    assert set(pushed) == set(upstream)
    for key, item in upstream.items():
        assert _strip(pushed[key]["meta"]) == _strip(item["meta"]), key
        assert pushed[key]["name"] == item["name"] and pushed[key]["description"] == item["description"]
        assert admin.list_item_files(pushed[key]["_id"])[0]["name"] == admin.list_item_files(item["_id"])[0]["name"]
    release = admin.get(f"app/{pushed_id}/release", release_id_or_name="5.8.1")
    assert release["meta"]["revision"] == REV
    assert {i["meta"]["baseName"] for i in admin.list_extensions(pushed_id, release_id=release["_id"])} == set(upstream)
    (package,) = admin.get(f"app/{pushed_id}/package", limit=0)
    assert package["meta"]["release"] == "5.8.1" and package["meta"]["version"] == "5.8.1"
    assert package["meta"]["build_date"].startswith("2025-06-02")
    # The real client lists the same items.
    client_bin = default_venv_dir() / "bin" / "slicer_package_manager_client"
    if client_bin.exists():
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        listed = {}
        for app_name in (name, None):
            run = subprocess.run([str(client_bin), "--api-url", girder_server.api_url, "--username", "admin",
                                  "--password", "adminadmin", "extension", "list",
                                  app_name or girder_app.app_name, "--all"],
                                 capture_output=True, text=True, env=env, timeout=120)
            assert run.returncode == 0, run.stderr
            listed[app_name] = sorted(" ".join(line.split()[:4]) for line in run.stdout.splitlines()[2:])
        assert listed[name] == listed[None] and len(listed[name]) == 4
    # Slicer-ext-manager installs from the pushed app: the archives are byte-identical to the mirror's.
    ctx = make_profile(girder_server.url, pushed_id)
    manager = ExtensionsManager(ctx, client=SlicerPackagesClient(girder_server.url, pushed_id))
    assert manager.install(["A"]).ok
    assert (ctx.install_path / "A.s4ext").is_file() and (ctx.install_path / "B.s4ext").is_file()
    client = SlicerPackagesClient(girder_server.url, pushed_id)
    for key, item in pushed.items():
        (tmp_path / "dl" / key).mkdir(parents=True)
        got = client.download_package(item["_id"], tmp_path / "dl" / key)
        archive = next(mirror_dir.glob(f"*-{key}-git*.tar.gz"))
        assert sha512(Path(got.path)) == sha512(archive), key
    # A second push sends nothing.
    capsys.readouterr()
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["uploaded"] == [] and again["bytes_sent"] == 0 and len(again["present"]) == 5


def test_interrupted_push_resumes(girder_server, mirror_dir, tmp_path):
    admin = girder_server.admin
    name = f"Resumed-{uuid.uuid4().hex[:8]}"
    seen = []

    def stop_in_d(event):
        seen.append(event)
        if event.phase == "uploading" and event.name == "D" and event.done >= 5 * 1024 * 1024:
            return False
        return None

    client = SlicerPackagesClient(girder_server.url, "5f4474d0e1d8c75dfc705482", token=admin.token)
    first = push_mirror(client, mirror_dir, app_name=name, progress=stop_in_d, chunk_size=5 * 1024 * 1024)
    assert first.cancelled and not first.ok
    d_first = next(i for i in first.items if i.name == "D")
    assert d_first.status == "cancelled" and 0 < d_first.sent < d_first.size
    client = SlicerPackagesClient(girder_server.url, "5f4474d0e1d8c75dfc705482", token=admin.token)
    second = push_mirror(client, mirror_dir, app_name=name, chunk_size=5 * 1024 * 1024)
    assert second.ok, [i.to_json() for i in second.items if i.error]
    d = next(i for i in second.items if i.name == "D")
    assert d.status == "uploaded" and d.resumed_from == d_first.sent and d.sent == d.size - d.resumed_from
    assert all(i.status == "present" for i in second.items if i.name in [x.name for x in first.items
                                                                          if x.status == "uploaded"])
    item = next(i for i in admin.list_extensions(second.app_id) if i["meta"]["baseName"] == "D")
    assert item["meta"]["sha512"] == sha512(next(mirror_dir.glob("*-D-git*.tar.gz")))


def test_push_into_an_existing_app_by_id_and_errors(girder_server, girder_app, mirror_dir, capsys):
    admin = girder_server.admin
    target = admin.create_app(f"Target-{uuid.uuid4().hex[:8]}")
    capsys.readouterr()
    assert main(["mirror", "push", str(mirror_dir), "--server", girder_server.url, "--token", admin.token,
                 "--app-id", target["_id"]]) == 0
    out = capsys.readouterr().out
    assert "5 uploaded" in out and "Note: unmodified Slicer only asks for the application id" in out
    assert main(["mirror", "push", str(mirror_dir), "--server", girder_server.url, "--token", admin.token,
                 "--app-id", "0" * 24]) == 1
    assert "has no application with id" in capsys.readouterr().err
    assert main(["mirror", "push", str(mirror_dir), "--server", girder_server.url]) == 2


def test_pull_of_nothing_is_an_error_unless_allowed(girder_server, girder_app, tmp_path, capsys):
    base = ["mirror", "pull", str(tmp_path / "m"), "--from", girder_server.url, "--app-id", girder_app.app_id,
            "--revision", "99999", "--os", "linux", "--arch", "amd64", "--quiet"]
    capsys.readouterr()
    assert main(base) == 1
    err = capsys.readouterr().err
    assert girder_server.url in err and girder_app.app_id in err and "99999" in err and "linux/amd64" in err
    assert json.loads((tmp_path / "m" / "mirror.json").read_text())["complete"] is False
    assert main(base + ["--allow-empty"]) == 0
    assert json.loads((tmp_path / "m" / "mirror.json").read_text())["complete"] is True
