"""Bugs that came from the same concept being written twice (issue #12), each reproduced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from slicer_ext_manager import conventions
from slicer_ext_manager.archive import parse_archive_name
from slicer_ext_manager.cache import CatalogKey
from slicer_ext_manager.catalog import Catalog, matches
from slicer_ext_manager.cli import main
from slicer_ext_manager.context import slicer_version_of_home
from slicer_ext_manager.errors import HTTPStatusError
from slicer_ext_manager.installer import STAGING_DIR, Installer
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.localserver.server import PackageServer
from slicer_ext_manager.manager import ExtensionsManager
from slicer_ext_manager.metadata import ExtensionMetadata, short_description
from slicer_ext_manager.network import DEFAULT_TIMEOUT, ServerOptions
from slicer_ext_manager.registry import detect_slicer_version
from slicer_ext_manager.server import SlicerPackagesClient

from .conftest import OLD_REVISION, REVISION, write_ini
from .faultproxy import FaultProxy


@pytest.fixture
def local_server(tmp_path):
    for name in ("Alpha", "Beta"):
        build_extension_package(tmp_path / "pkgs", name, app_revision=REVISION)
    with PackageServer(tmp_path / "pkgs") as server:
        server.start()
        yield server


# 2. the startup check must not leave a client without retries behind


def test_startup_check_keeps_the_normal_client(local_server, make_profile):
    ctx = make_profile(local_server.url, user_ini=f"[ExtensionsHistory]\nRevisions\\{OLD_REVISION}=Alpha\n")
    manager = ExtensionsManager(ctx, ServerOptions(retries=3))
    result = manager.startup_check(timeout=1.0)
    assert result.checked and [c.name for c in result.candidates] == ["Alpha"]
    assert manager.client.options.retries == 3 and manager.client.options.timeout == DEFAULT_TIMEOUT
    assert manager.install(["Alpha"]).ok  # and it installs with them


# 3. one matcher for the CLI, the dialog and Restore


def test_search_matches_every_word_anywhere():
    meta = ExtensionMetadata("SegmentTools", description="Tools for the Segment Editor.", category="Segmentation")
    catalog = Catalog(CatalogKey("http://x", "a" * 24, REVISION, "linux", "amd64"), {meta.name: meta})
    assert matches("segment editor", meta) and matches("EDITOR tools", meta)
    assert [m.name for m in catalog.search("segment editor")] == ["SegmentTools"]
    assert not matches("segment registration", meta)


# 4. one description function


def test_descriptions_render_the_same_everywhere():
    for text in ("First line<BR>second", "First line<br/>second", "First line<br>second", "First   line\nsecond"):
        assert short_description(text) == "First line"
        assert ExtensionMetadata("X", description=text).short_description == "First line"


# 5. one package-name grammar


def test_package_name_grammar_is_one():
    name = "33241-linux-amd64-Foo-cvs123-2025-01-29.tar.bz2"
    parsed = conventions.parse_package_name(name)
    assert parsed is not None and (parsed.scm, parsed.scm_revision, parsed.suffix) == ("", "cvs123", ".tar.bz2")
    fields = parse_archive_name(name)
    assert fields is not None and (fields.scm, fields.scm_revision) == ("", "cvs123")
    git = conventions.parse_package_name("33241-win-amd64-My-Ext-git1a2b3c4-2025-01-29.zip")
    assert git is not None and (git.extension_name, git.scm, git.scm_revision) == ("My-Ext", "git", "1a2b3c4")
    assert conventions.package_file_name(REVISION, "win", "amd64", "Foo", "git", "abc", "2025-01-29") == \
        "33241-win-amd64-Foo-gitabc-2025-01-29.zip"


# 6. CLI failures are sentences; a closed pipe ends quietly


def test_profile_export_to_a_missing_folder_is_a_sentence(profile, capsys):
    code = main(["--settings-dir", str(profile.user_settings_path.parent), "--revision", REVISION,
                 "profile", "export", "/nonexistent/folder/x.json"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and err.count("\n") == 1
    assert "could not be written to /nonexistent/folder/x.json" in err


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "slicer_ext_manager", *args]


def test_closed_pipe_ends_quietly(local_server, make_profile):
    ctx = make_profile(local_server.url)
    base = ["--settings-dir", str(ctx.user_settings_path.parent), "--revision", REVISION]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    for _ in range(2):  # the second run answers from the cache
        producer = subprocess.Popen(_cli(*base, "search"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert producer.stdout is not None
        producer.stdout.readline()
        producer.stdout.close()  # like `| head -1`
        err = producer.stderr.read().decode() if producer.stderr else ""
        producer.wait(timeout=60)
        assert "Traceback" not in err and "BrokenPipeError" not in err


@pytest.mark.parametrize("argv, expected", [
    (["--timeout", "-1", "list"], "give a positive number of seconds"),
    (["--server", "http://[::1", "list"], "is not a server URL"),
    (["--revision", "../../../x", "list"], "is not a Slicer revision"),
])
def test_bad_options_are_one_sentence(settings_dir, capsys, argv, expected):
    write_ini(settings_dir / f"Slicer-{REVISION}.ini", "")
    code = main(["--settings-dir", str(settings_dir), *argv]) if argv[0] != "--timeout" else None
    if code is None:
        with pytest.raises(SystemExit) as exit_info:
            main(["--settings-dir", str(settings_dir), *argv])
        code = exit_info.value.code
        assert code == 2
    else:
        assert code == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


# 7. the entry point of the environment under test


def test_console_entry_point_of_this_environment():
    script = Path(sysconfig.get_path("scripts")) / ("slicer-ext-manager.exe" if os.name == "nt" else "slicer-ext-manager")
    assert script.exists(), f"{script} is missing: install the project (pip install -e .)"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("slicer-ext-manager ")


# 8. versions are compared as versions


def test_slicer_versions_compare_as_versions(tmp_path):
    for version in ("5.9", "5.10", "5.8"):
        (tmp_path / "ext" / "lib" / f"Slicer-{version}").mkdir(parents=True)
        (tmp_path / "home" / "lib" / f"Slicer-{version}").mkdir(parents=True)
    assert detect_slicer_version(tmp_path / "ext") == "5.10"
    assert slicer_version_of_home(tmp_path / "home") == "5.10"


# 9. an unreadable journal never costs the installed version


def test_unreadable_journal_keeps_the_previous_version(profile):
    install = profile.install_path
    installer = Installer(profile)
    staging = installer.new_staging("Kept")
    (staging / "old").mkdir()
    (staging / "old" / "module.py").write_text("previous version")
    (staging / "old.s4ext").write_text("revision 1\ninstalled true\n")
    (staging / "transaction.json").write_bytes(b"\x00\x00garbage")  # a torn journal
    with installer.lock():
        actions = installer.recover()
    assert (install / "Kept" / "module.py").read_text() == "previous version"
    assert (install / "Kept.s4ext").exists() and any("Restored the previous version of Kept" in a for a in actions)
    # When the target is occupied, the folder is kept and the user is told where.
    staging = installer.new_staging("Kept")
    (staging / "old").mkdir()
    (staging / "transaction.json").write_text("{not json")
    with installer.lock():
        actions = installer.recover()
    assert staging.is_dir() and any(str(staging) in a and "was kept" in a for a in actions)
    assert (install / STAGING_DIR).is_dir()


# 10. retries: idempotent requests only, never the token POST


def test_get_is_retried_and_the_token_post_is_not(local_server):
    proxy = FaultProxy(local_server.url)
    try:
        proxy.add("/extension", "500", times=1)
        client = SlicerPackagesClient(proxy.url, conventions.DEFAULT_APP_ID, backoff=0.01, retries=2)
        assert len(client.extension_items(REVISION, "linux", "amd64")) == 2
        assert proxy.count("/extension") == 2
        proxy.add("/api_key/token", "500", times=5)
        keyed = SlicerPackagesClient(proxy.url, conventions.DEFAULT_APP_ID, backoff=0.01, retries=3, api_key="k")
        with pytest.raises(HTTPStatusError):
            keyed.extension_items(REVISION, "linux", "amd64")
        assert proxy.count("/api_key/token") == 1
    finally:
        proxy.close()


def test_catalog_cache_write_failure_is_not_fatal(local_server, make_profile):
    ctx = make_profile(local_server.url)
    ctx.install_path.mkdir(parents=True, exist_ok=True)
    (ctx.install_path / "ExtensionsMetadataFromServer.json").mkdir()  # cannot be replaced by a file
    assert ExtensionsManager(ctx).catalog().names() == ["Alpha", "Beta"]
    assert json.loads(json.dumps(ctx.to_dict()))["revision"] == REVISION


def test_a_timeout_wrapped_by_retry_is_still_a_timeout():
    import requests
    import urllib3

    client = SlicerPackagesClient("http://127.0.0.1:9", conventions.DEFAULT_APP_ID, retries=0, timeout=(1.0, 2.0))
    wrapped = requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, "/x", urllib3.exceptions.ReadTimeoutError(None, "/x", "read timed out")))
    assert "did not answer in time (nothing received for 2 s)" in str(client.unreachable("http://127.0.0.1:9/x", wrapped))
    refused = requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, "/x", urllib3.exceptions.NewConnectionError(None, "refused")))
    assert "could not be reached" in str(client.unreachable("http://127.0.0.1:9/x", refused))
