"""Installer.install_archive without a server: one verified decompression pass, and every
refusal (name, revision, hostile entry) before anything leaves staging."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from slicer_ext_manager import s4ext
from slicer_ext_manager.archive import readers
from slicer_ext_manager.errors import ArchiveError, InstallError, UnsafeArchiveError
from slicer_ext_manager.installer import Installer
from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.metadata import ExtensionMetadata

REV = "33241"


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture
def opened(monkeypatch) -> list[Path]:
    """Every tar stream opened (each one is a decompression of the package)."""
    calls: list[Path] = []

    class CountingSource(readers.TarSource):
        def __init__(self, path, *args, **kwargs):
            calls.append(path)
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr(readers, "TarSource", CountingSource)
    return calls


def test_install_from_file_decompresses_once(make_profile, tmp_path, opened):
    ctx = make_profile()
    pkg = build_extension_package(tmp_path, "OnePass", app_revision=REV, depends=("Dep",), category="Tools")
    result = Installer(ctx).install_archive(pkg, None)
    assert result.outcome.ok and opened == [pkg]
    # The metadata comes from the .s4ext found during the pass.
    desc = s4ext.read(ctx.install_path / "OnePass.s4ext")
    assert desc["depends"] == "Dep" and desc["category"] == "Tools" and desc["archivename"] == pkg.name
    assert (ctx.install_path / "OnePass/share/Slicer-5.8/OnePass.s4ext").is_file()
    assert not (ctx.install_path / ".staging").exists()


def test_install_of_server_package_decompresses_once(make_profile, tmp_path, opened):
    ctx = make_profile()
    pkg = build_extension_package(tmp_path, "Served", app_revision=REV)
    meta = ExtensionMetadata(name="Served", slicer_revision=REV, os="linux", arch="amd64", revision="abc1234")
    assert Installer(ctx).install_archive(pkg, meta).outcome.ok
    assert opened == [pkg] and (ctx.install_path / "Served.s4ext").is_file()


def test_package_of_another_extension_is_refused_before_the_commit(make_profile, tmp_path):
    ctx = make_profile()
    pkg = build_extension_package(tmp_path, "Actual", app_revision=REV)
    meta = ExtensionMetadata(name="Expected", slicer_revision=REV, os="linux", arch="amd64")
    with pytest.raises(ArchiveError, match="contains extension Actual, not Expected"):
        Installer(ctx).install_archive(pkg, meta)
    assert tree(ctx.install_path) == []


def test_install_from_file_for_another_revision_gives_slicer_reasons(make_profile, tmp_path):
    ctx = make_profile()
    pkg = build_extension_package(tmp_path, "OldRev", app_revision="30000")
    with pytest.raises(InstallError, match=r"extensionSlicerRevision \[30000\]"):
        Installer(ctx).install_archive(pkg, None)
    assert tree(ctx.install_path) == []
    assert Installer(ctx).install_archive(pkg, None, force=True).outcome.ok


def test_macos_package_for_another_revision(make_profile, tmp_path):
    ctx = make_profile(os_name="macosx")
    pkg = build_extension_package(tmp_path, "MacOld", app_revision="30000", os="macosx")
    meta = ExtensionMetadata(name="MacOld", slicer_revision=REV, os="macosx", arch="amd64")
    with pytest.raises(ArchiveError, match="built for Slicer revision 30000"):
        Installer(ctx).install_archive(pkg, meta)
    with pytest.raises(InstallError, match=r"extensionSlicerRevision \[30000\]"):
        Installer(ctx).install_archive(pkg, None)
    assert tree(ctx.install_path) == []


def test_hostile_entry_after_the_description_leaves_nothing(make_profile, tmp_path):
    ctx = make_profile()
    pkg = tmp_path / f"{REV}-linux-amd64-Evil-git1234567-2025-01-01.tar.gz"
    with tarfile.open(pkg, "w:gz") as tf:
        for name, data in (("top/share/Slicer-5.8/Evil.s4ext", b"scm git\n"), ("top/lib/big.bin", b"x" * 4096),
                           ("top/lib/../../../escaped.txt", b"owned")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with pytest.raises(UnsafeArchiveError, match="escaped.txt"):
        Installer(ctx).install_archive(pkg, None)
    assert tree(ctx.install_path) == []
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()
