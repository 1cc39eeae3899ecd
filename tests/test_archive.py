"""Inspection and safe extraction of extension packages (slicer_ext_manager.archive).

Every archive is built in tmp_path with tarfile/zipfile; hostile cases check the exception
type, that the message names the offending entry, that nothing appeared or changed
anywhere under tmp_path, and that the staging folder is left empty.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from slicer_ext_manager import archive
from slicer_ext_manager.archive import (
    ArchiveNameFields,
    PackageInfo,
    default_size_limit,
    extract_package,
    extract_verified,
    inspect_package,
    parse_archive_name,
)
from slicer_ext_manager.errors import ArchiveError, CancelledError, UnsafeArchiveError

REV = "33241"
MTIME = 1_700_000_000
NAME = "MyExt"
TOP = f"{REV}-linux-amd64-{NAME}-git1234567-2025-01-29"
S4EXT = (
    b"# generated\nscm git\nscmurl https://github.com/example/MyExt\nscmrevision 1234567\n"
    b"depends   NA\ncategory Examples\ndescription My   test extension.\n"
)
S4EXT_MEMBER = f"{TOP}/share/Slicer-5.8/{NAME}.s4ext"
CLI = f"{TOP}/lib/Slicer-5.8/cli-modules/MyCLI"
SCRIPT = f"{TOP}/lib/Slicer-5.8/qt-scripted-modules/{NAME}.py"

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX modes, devices and symlinks")


# ------------------------------------------------------------------------------------------------
# builders


def F(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes | None]:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), mode, MTIME
    return ti, data


def D(name: str, mode: int = 0o755) -> tuple[tarfile.TarInfo, None]:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, mode, MTIME
    return ti, None


def L(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode, ti.mtime = tarfile.SYMTYPE, target, 0o777, MTIME
    return ti, None


def special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime, ti.linkname = kind, 0o644, MTIME, linkname
    ti.devmajor, ti.devminor = 1, 3
    return ti, None


def base_entries(top: str = TOP) -> list:
    return [
        D(top),
        D(f"{top}/lib/Slicer-5.8/cli-modules"),
        F(f"{top}/lib/Slicer-5.8/cli-modules/MyCLI", b"#!/bin/sh\necho hello\n", 0o755),
        F(f"{top}/lib/Slicer-5.8/qt-scripted-modules/{NAME}.py", b"print('hello')\n", 0o644),
        F(f"{top}/share/Slicer-5.8/{NAME}.s4ext", S4EXT),
    ]


def make_tar(path: Path, entries, compression: str = "gz", **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = f"w:{compression}" if compression else "w"
    kwargs.setdefault("format", tarfile.PAX_FORMAT)
    with tarfile.open(path, mode, **kwargs) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


def pkg_path(tmp_path: Path, suffix: str = ".tar.gz", top: str = TOP) -> Path:
    return tmp_path / "pkgs" / f"{top}{suffix}"


def zinfo(name: str, *, unix_mode: int | None = None, dos_dir: bool = False) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=(2025, 1, 29, 12, 30, 0))
    if unix_mode is None:  # Windows-made entry: DOS attributes only
        zi.create_system = 0
        zi.external_attr = 0x10 if dos_dir else 0x20
    else:
        zi.create_system = 3
        zi.external_attr = unix_mode << 16
    zi.compress_type = zipfile.ZIP_DEFLATED
    return zi


def make_zip(path: Path, entries: list[tuple[zipfile.ZipInfo, bytes]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for zi, data in entries:
            zf.writestr(zi, data)
    return path


def win_zip_entries(top: str = TOP) -> list[tuple[zipfile.ZipInfo, bytes]]:
    return [
        (zinfo(f"{top}/", dos_dir=True), b""),
        (zinfo(f"{top}/bin/", dos_dir=True), b""),
        (zinfo(f"{top}/bin/{NAME}Lib.dll"), b"MZ" + b"\0" * 64),
        (zinfo(f"{top}/lib/Slicer-5.8/cli-modules/MyCLI", unix_mode=stat.S_IFREG | 0o755), b"#!/bin/sh\n"),
        (zinfo(f"{top}/lib/Slicer-5.8/qt-scripted-modules/{NAME}.py"), b"print('hello')\n"),
        (zinfo(f"{top}/share/Slicer-5.8/{NAME}.s4ext"), S4EXT),
    ]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root (links not followed) with its type, size and mtime."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            kind = "dir" if stat.S_ISDIR(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else "file"
            result[os.path.relpath(p, root)] = (kind, st.st_size if kind == "file" else 0,
                                                st.st_mtime_ns if kind != "dir" else 0)
    return result


@pytest.fixture
def staging(tmp_path) -> Path:
    folder = tmp_path / "install" / f"{NAME}-staging"
    folder.mkdir(parents=True)
    return folder


def staging_clean(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def refused(pkg: Path, staging: Path, exc_type=UnsafeArchiveError, entry: str | None = None, **kwargs):
    """Both inspection and extraction refuse; nothing changes under tmp_path."""
    root = staging.parent.parent
    before = snapshot(root)
    with pytest.raises(exc_type) as inspected:
        inspect_package(pkg, max_expanded_size=kwargs.get("max_expanded_size"))
    with pytest.raises(exc_type) as extracted:
        extract_package(pkg, staging, **kwargs)
    # The single pass (what an install runs) refuses exactly the same packages.
    with pytest.raises(exc_type) as verified:
        extract_verified(pkg, staging, **kwargs)
    for err in (inspected.value, extracted.value, verified.value):
        if entry is not None:
            assert entry in str(err), str(err)
        if exc_type is ArchiveError:
            assert not isinstance(err, UnsafeArchiveError)
    assert snapshot(root) == before
    assert staging_clean(staging)
    return extracted.value


# ------------------------------------------------------------------------------------------------
# file names


@pytest.mark.parametrize(
    "filename, expected",
    [
        ("30987-linux-amd64-ImageMaker-git6293f99-2017-07-03.tar.gz",
         ArchiveNameFields("30987", "linux", "amd64", "ImageMaker", "git", "6293f99", "2017-07-03", ".tar.gz")),
        ("33241-win-amd64-SlicerIGT-git1a2b3c4-2025-01-29.zip",
         ArchiveNameFields("33241", "win", "amd64", "SlicerIGT", "git", "1a2b3c4", "2025-01-29", ".zip")),
        ("33241-macosx-arm64-My-Odd-Name-git1a2b3c4-2025-01-29.tgz",
         ArchiveNameFields("33241", "macosx", "arm64", "My-Odd-Name", "git", "1a2b3c4", "2025-01-29", ".tgz")),
        ("/downloads/28257-linux-amd64-Old-svn12345-2019-05-01.tar.bz2",
         ArchiveNameFields("28257", "linux", "amd64", "Old", "svn", "12345", "2019-05-01", ".tar.bz2")),
        ("33241-linux-amd64-Local-abcdef0-2025-01-29.tar.xz",
         ArchiveNameFields("33241", "linux", "amd64", "Local", "", "abcdef0", "2025-01-29", ".tar.xz")),
        # Slicer's build writes git, svn, hg or local: anything else is part of the revision.
        ("33241-linux-amd64-Foo-cvs123-2025-01-29.tar.gz",
         ArchiveNameFields("33241", "linux", "amd64", "Foo", "", "cvs123", "2025-01-29", ".tar.gz")),
        (Path("/downloads/33241-linux-amd64-Foo-local0-2025-01-29.zip"),
         ArchiveNameFields("33241", "linux", "amd64", "Foo", "local", "0", "2025-01-29", ".zip")),
    ],
)
def test_parse_archive_name(filename, expected):
    assert parse_archive_name(filename) == expected


@pytest.mark.parametrize(
    "filename",
    ["MyExtension.tar.gz", "notes.txt", "30987-linux-amd64-ImageMaker.tar.gz",
     "30987-linux-amd64-ImageMaker-git6293f99-2017-07-03.exe", "30987-linux-amd64-git6293f99-2017-07-03.zip",
     "30987-linux-amd64-ImageMaker-git6293f99-17-07-03.tar.gz"],
)
def test_parse_archive_name_rejects_other_names(filename):
    assert parse_archive_name(filename) is None


def test_default_size_limit():
    assert default_size_limit(0) == archive.DEFAULT_MIN_SIZE_LIMIT
    assert default_size_limit(10 * 2**20) == max(archive.DEFAULT_MIN_SIZE_LIMIT, 200 * 10 * 2**20)
    assert default_size_limit(10 * 2**30) == archive.DEFAULT_MAX_SIZE_LIMIT


# ------------------------------------------------------------------------------------------------
# valid packages


@pytest.mark.parametrize("compression, suffix", [("gz", ".tar.gz"), ("gz", ".tgz"), ("bz2", ".tar.bz2"),
                                                 ("xz", ".tar.xz"), ("", ".tar")])
def test_linux_tar_package(tmp_path, staging, compression, suffix):
    pkg = make_tar(pkg_path(tmp_path, suffix), base_entries(), compression)
    info = inspect_package(pkg)
    assert isinstance(info, PackageInfo)
    assert info.format == "tar" and info.path == pkg
    assert info.top_folder == TOP and info.root_member == TOP
    assert info.extension_name == NAME and info.s4ext_member == S4EXT_MEMBER
    assert info.s4ext["scm"] == "git" and info.s4ext["scmrevision"] == "1234567"
    assert info.s4ext["description"] == "My test extension." and info.s4ext["extensionname"] == NAME
    assert info.slicer_version == "5.8" and info.macos_revision is None
    assert info.entry_count == 5
    assert info.expanded_size == len(b"#!/bin/sh\necho hello\n") + len(b"print('hello')\n") + len(S4EXT)
    assert info.name_fields == ArchiveNameFields(REV, "linux", "amd64", NAME, "git", "1234567", "2025-01-29", suffix)

    calls = []
    root = extract_package(pkg, staging, progress=lambda done, total: calls.append((done, total)))
    assert root == staging / TOP
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "lib/Slicer-5.8/cli-modules/MyCLI", f"lib/Slicer-5.8/qt-scripted-modules/{NAME}.py",
        f"share/Slicer-5.8/{NAME}.s4ext",
    ]
    assert (root / "share/Slicer-5.8/MyExt.s4ext").read_bytes() == S4EXT
    assert calls[0] == (0, info.expanded_size) and calls[-1] == (info.expanded_size, info.expanded_size)
    cli = root / "lib/Slicer-5.8/cli-modules/MyCLI"
    assert cli.stat().st_mtime == MTIME
    if os.name != "nt":
        assert stat.S_IMODE(cli.stat().st_mode) == 0o755
        assert os.access(cli, os.X_OK)
        assert stat.S_IMODE((root / f"lib/Slicer-5.8/qt-scripted-modules/{NAME}.py").stat().st_mode) == 0o644
        assert stat.S_IMODE((root / "lib/Slicer-5.8/cli-modules").stat().st_mode) == 0o755
        assert (root / "lib/Slicer-5.8/cli-modules").stat().st_mtime == MTIME


def test_windows_zip_package(tmp_path, staging):
    top = f"{REV}-win-amd64-{NAME}-git1234567-2025-01-29"
    pkg = make_zip(pkg_path(tmp_path, ".zip", top), win_zip_entries(top))
    info = inspect_package(pkg)
    assert info.format == "zip" and info.top_folder == top and info.extension_name == NAME
    assert info.slicer_version == "5.8" and info.macos_revision is None
    assert info.s4ext["depends"] == "NA" and info.s4ext["extensionname"] == NAME
    assert info.entry_count == 6
    assert info.name_fields is not None and info.name_fields.os == "win"

    root = extract_package(pkg, staging, info=info)
    assert root == staging / top
    assert (root / f"bin/{NAME}Lib.dll").read_bytes() == b"MZ" + b"\0" * 64
    assert (root / "share/Slicer-5.8/MyExt.s4ext").read_bytes() == S4EXT
    expected_mtime = time.mktime((2025, 1, 29, 12, 30, 0, 0, 0, -1))
    assert (root / f"bin/{NAME}Lib.dll").stat().st_mtime == expected_mtime
    if os.name != "nt":
        assert stat.S_IMODE((root / "lib/Slicer-5.8/cli-modules/MyCLI").stat().st_mode) == 0o755
        assert stat.S_IMODE((root / f"bin/{NAME}Lib.dll").stat().st_mode) == 0o644


def test_description_fallback_outside_share(tmp_path, staging):
    entries = [F(f"{TOP}/lib/readme.txt"), F(f"{TOP}/misc/{NAME}.extra.s4ext", S4EXT)]
    info = inspect_package(make_tar(pkg_path(tmp_path), entries))
    assert info.extension_name == NAME and info.slicer_version is None
    assert info.s4ext_member == f"{TOP}/misc/{NAME}.extra.s4ext"


def test_share_description_preferred_over_earlier_fallback(tmp_path):
    entries = [F(f"{TOP}/misc/Other.s4ext", b"scm svn\n"), *base_entries()]
    info = inspect_package(make_tar(pkg_path(tmp_path), entries))
    assert info.extension_name == NAME and info.s4ext["scm"] == "git"


def _renamed(info: tarfile.TarInfo, name: str) -> tarfile.TarInfo:
    # (TarInfo.replace is Python 3.11.4+ and 3.12: not in Debian 12's 3.11.2)
    copy = tarfile.TarInfo(name)
    for attr in ("size", "mode", "mtime", "type", "linkname", "uid", "gid", "uname", "gname"):
        setattr(copy, attr, getattr(info, attr))
    return copy


def test_leading_dot_slash_names_are_accepted(tmp_path, staging):
    entries = [(_renamed(ti, "./" + ti.name), data) for ti, data in base_entries()]
    pkg = make_tar(pkg_path(tmp_path), entries)
    info = inspect_package(pkg)
    assert info.top_folder == TOP and info.s4ext_member == S4EXT_MEMBER
    assert (extract_package(pkg, staging) / "share/Slicer-5.8/MyExt.s4ext").read_bytes() == S4EXT


MAC_TOP = f"{REV}-macosx-amd64-{NAME}-git1234567-2025-01-29"
MAC_ROOT = f"{MAC_TOP}/Slicer.app/Contents/Extensions-{REV}/{NAME}"


def mac_entries(extra=()) -> list:
    mods = f"{MAC_ROOT}/lib/Slicer-5.8/qt-loadable-modules"
    return [
        D(MAC_TOP),
        F(f"{mods}/libqSlicer{NAME}Module.1.0.dylib", b"\xcf\xfa\xed\xfe" + b"\0" * 32, 0o755),
        L(f"{mods}/libqSlicer{NAME}Module.dylib", f"libqSlicer{NAME}Module.1.0.dylib"),
        L(f"{MAC_ROOT}/lib/Current", "Slicer-5.8"),
        F(f"{MAC_ROOT}/share/Slicer-5.8/{NAME}.s4ext", S4EXT),
        *extra,
    ]


@posix_only
def test_macos_package_keeps_internal_symlinks(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path, top=MAC_TOP), mac_entries())
    info = inspect_package(pkg)
    assert info.macos_revision == REV and info.slicer_version == "5.8"
    assert info.root_member == MAC_ROOT and info.top_folder == MAC_TOP
    root = extract_package(pkg, staging, info=info, app_revision=REV)
    assert root == staging / MAC_ROOT
    link = root / f"lib/Slicer-5.8/qt-loadable-modules/libqSlicer{NAME}Module.dylib"
    assert link.is_symlink() and os.readlink(link) == f"libqSlicer{NAME}Module.1.0.dylib"
    assert link.resolve().is_relative_to(root.resolve()) and link.read_bytes().startswith(b"\xcf\xfa\xed\xfe")
    assert (root / "lib/Current").is_symlink() and (root / "lib/Current/qt-loadable-modules").is_dir()
    assert (root / "share/Slicer-5.8/MyExt.s4ext").read_bytes() == S4EXT


def test_macos_package_for_another_revision_is_refused(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path, top=MAC_TOP), mac_entries())
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError) as caught:
        extract_package(pkg, staging, app_revision="30000")
    assert not isinstance(caught.value, UnsafeArchiveError)
    assert "revision 33241" in str(caught.value) and "revision 30000" in str(caught.value)
    assert snapshot(tmp_path) == before and staging_clean(staging)


def test_macos_link_escaping_the_installed_subtree_is_refused(tmp_path, staging):
    # Inside the package's top folder, but outside Extensions-<rev>/<Name>: after install
    # it would point into the install folder.
    evil = f"{MAC_ROOT}/lib/evil.dylib"
    pkg = make_tar(pkg_path(tmp_path, top=MAC_TOP), mac_entries([L(evil, "../../other.dylib")]))
    refused(pkg, staging, entry=evil)


def test_macos_description_outside_its_extension_folder_refused(tmp_path, staging):
    # Extensions-<rev>/<Name>.s4ext: the installed subtree would be the file itself.
    entries = [D(MAC_TOP), F(f"{MAC_TOP}/Slicer.app/Contents/Extensions-{REV}/{NAME}.s4ext", S4EXT)]
    pkg = make_tar(pkg_path(tmp_path, top=MAC_TOP), entries)
    err = refused(pkg, staging, ArchiveError)
    assert "is not in the folder of extension" in str(err)


# ------------------------------------------------------------------------------------------------
# hostile tar packages


def test_absolute_path_refused(tmp_path, staging):
    evil = str(tmp_path / "absolute-evil.txt")
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [F(evil, b"owned")])
    refused(pkg, staging, entry=evil)
    assert not Path(evil).exists()


def test_dotdot_traversal_refused(tmp_path, staging):
    evil = f"{TOP}/../../escaped.txt"
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [F(evil, b"owned")])
    refused(pkg, staging, entry=evil)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "install/escaped.txt").exists()


@pytest.mark.parametrize("target", ["../../../outside", "../../../../../../../../etc", "ABS"])
def test_symlink_pointing_outside_refused(tmp_path, staging, target):
    if target == "ABS":
        target = str(tmp_path / "outside")
    evil = f"{TOP}/lib/evil"
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [L(evil, target), F(f"{TOP}/lib/after.txt")])
    refused(pkg, staging, entry=evil)


def test_symlink_with_dotdot_after_a_name_refused(tmp_path, staging):
    # top/b -> . is harmless, but the OS resolves top/c -> b/../escape through b: outside top.
    evil = f"{TOP}/c"
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [L(f"{TOP}/b", "."), L(evil, "b/../escape")])
    refused(pkg, staging, entry=evil)


def test_symlink_used_as_path_component_refused(tmp_path, staging):
    evil = f"{TOP}/lib/link/escaped.txt"
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [L(f"{TOP}/lib/link", "."), F(evil, b"owned")])
    refused(pkg, staging, entry=evil)


def test_symlink_component_trick_with_other_case_refused(tmp_path, staging):
    evil = f"{TOP}/lib/link/x.txt"
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [L(f"{TOP}/lib/LINK", "sub"), F(evil)])
    refused(pkg, staging, entry=evil)


def test_symlink_declared_after_entries_below_it_refused(tmp_path, staging):
    evil = f"{TOP}/lib/dir"
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [F(f"{TOP}/lib/dir/x.txt"), L(evil, ".")])
    refused(pkg, staging, entry=evil)


def test_symlink_then_file_with_same_name_refused(tmp_path, staging):
    evil = f"{TOP}/lib/same"
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [L(evil, "../share"), F(evil, b"owned")])
    refused(pkg, staging, entry=evil)


def test_duplicate_file_refused(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [F(CLI, b"second")])
    refused(pkg, staging, entry=CLI)


def test_hardlink_refused(tmp_path, staging):
    evil = f"{TOP}/lib/hard"
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [special(evil, tarfile.LNKTYPE, S4EXT_MEMBER)])
    assert "hard link" in str(refused(pkg, staging, entry=evil))


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_device_and_fifo_refused(tmp_path, staging, kind):
    evil = f"{TOP}/lib/special"
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [special(evil, kind)])
    refused(pkg, staging, entry=evil)


def test_two_top_folders_refused(tmp_path, staging):
    evil = "other-folder/evil.txt"
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [F(evil)])
    refused(pkg, staging, entry=evil)


def test_file_at_top_level_refused(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [F("evil.txt")])
    refused(pkg, staging, entry="evil.txt")


def test_top_level_symlink_refused(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path), [L("top", str(tmp_path)), *base_entries("top")])
    refused(pkg, staging, entry="top")


def test_missing_description_refused(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path), base_entries()[:-1])
    assert ".s4ext" in str(refused(pkg, staging))


def test_empty_archive_refused(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path), [])
    refused(pkg, staging, ArchiveError)


def test_unknown_archive_type_refused(tmp_path, staging):
    pkg = pkg_path(tmp_path)
    pkg.parent.mkdir(parents=True)
    pkg.write_text("this is not an archive\n" * 40)
    err = refused(pkg, staging, ArchiveError, entry=pkg.name)
    assert "not a Slicer extension package" in str(err)


def _big_package(tmp_path: Path) -> Path:
    # Incompressible data so the compressed file is large enough to cut anywhere.
    noise = os.urandom(256 * 1024)
    return make_tar(pkg_path(tmp_path), base_entries() + [F(f"{TOP}/lib/data.bin", noise)])


def test_truncated_tar_gz_refused(tmp_path, staging):
    pkg = _big_package(tmp_path)
    data = pkg.read_bytes()
    pkg.write_bytes(data[: len(data) // 2])
    err = refused(pkg, staging, ArchiveError, entry=pkg.name)
    assert "damaged or incomplete" in str(err) and "download it again" in str(err)


def test_truncated_plain_tar_refused(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path, ".tar"), base_entries() + [F(f"{TOP}/lib/zz.bin", b"z" * 5000)], "")
    data = pkg.read_bytes()
    # Cut right after the s4ext member, on a block boundary: tarfile alone ends silently there.
    with tarfile.open(pkg) as tf:
        member = tf.getmember(S4EXT_MEMBER)
        cut = member.offset_data + -(-member.size // 512) * 512
    pkg.write_bytes(data[:cut])
    assert "damaged or incomplete" in str(refused(pkg, staging, ArchiveError, entry=pkg.name))


def test_garbage_after_members_in_plain_tar_refused(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path, ".tar"), base_entries(), "")
    data = bytearray(pkg.read_bytes())
    with tarfile.open(pkg) as tf:
        last = tf.getmembers()[-1]
    end = last.offset_data + -(-last.size // 512) * 512
    data[end: end + 512] = b"\xff" * 512  # a garbled header where the next one should be
    pkg.write_bytes(bytes(data))
    refused(pkg, staging, ArchiveError, entry=pkg.name)


def test_corrupt_gzip_crc_refused(tmp_path, staging):
    pkg = _big_package(tmp_path)
    data = bytearray(pkg.read_bytes())
    data[-8] ^= 0xFF  # CRC32 of the gzip trailer
    pkg.write_bytes(bytes(data))
    assert "damaged or incomplete" in str(refused(pkg, staging, ArchiveError, entry=pkg.name))


def test_gzip_bomb_refused(tmp_path, staging):
    bomb = f"{TOP}/lib/zeros.bin"
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [F(bomb, bytes(4 * 2**20))])
    assert pkg.stat().st_size < 64 * 1024
    refused(pkg, staging, entry=bomb, max_expanded_size=64 * 1024)


def test_tar_metadata_bomb_refused(tmp_path, staging):
    # A pax header that tarfile would read into memory in one piece.
    ti, data = F(f"{TOP}/lib/small.txt")
    ti.pax_headers = {"comment": "A" * (8 * 2**20)}
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [(ti, data)])
    refused(pkg, staging)


@posix_only
def test_setuid_setgid_sticky_bits_stripped(tmp_path, staging):
    entries = base_entries() + [
        F(f"{TOP}/bin/suid", b"#!/bin/sh\n", 0o4777),
        F(f"{TOP}/bin/sgid", b"data", 0o2664),
        D(f"{TOP}/shared", 0o1777),
    ]
    root = extract_package(make_tar(pkg_path(tmp_path), entries), staging)
    assert stat.S_IMODE((root / "bin/suid").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "bin/sgid").stat().st_mode) == 0o644
    assert stat.S_IMODE((root / "shared").stat().st_mode) == 0o755


def test_package_changed_after_inspection_is_refused(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path), base_entries())
    info = inspect_package(pkg)
    evil = f"{TOP}/../escaped.txt"
    make_tar(pkg, base_entries() + [F(evil, b"owned")])
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError, match="escaped.txt"):
        extract_package(pkg, staging, info=info)
    assert snapshot(tmp_path) == before and staging_clean(staging)


def test_staging_must_be_empty(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path), base_entries())
    (staging / "keep.txt").write_text("mine")
    with pytest.raises(ArchiveError, match="not empty"):
        extract_package(pkg, staging)
    assert (staging / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("after_data", [False, True])
def test_cancel_cleans_staging(tmp_path, staging, after_data):
    entries = base_entries() + [F(f"{TOP}/lib/file{i}.bin", os.urandom(2048)) for i in range(5)]
    pkg = make_tar(pkg_path(tmp_path), entries)
    calls = []

    def progress(done, total):
        calls.append((done, total))

    def cancel():
        return any(done > 0 for done, _ in calls) if after_data else bool(calls)

    before = snapshot(tmp_path)
    with pytest.raises(CancelledError):
        extract_package(pkg, staging, progress=progress, cancel=cancel)
    assert calls and staging_clean(staging) and snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------------------
# hostile zip packages


@pytest.mark.parametrize(
    "evil",
    ["/abs/evil.txt", "C:/evil.txt", "C:\\evil.txt", "\\evil.txt", "\\\\server\\share\\evil.txt",
     f"{TOP}/../../evil.txt", f"{TOP}\\..\\..\\evil.txt", "evil.txt", "other/evil.txt"],
)
def test_zip_unsafe_names_refused(tmp_path, staging, evil):
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(evil), b"owned")])
    refused(pkg, staging, entry=evil)


@pytest.mark.parametrize("target", ["../../../outside", "/etc/passwd", "C:\\Windows"])
def test_zip_symlink_outside_refused(tmp_path, staging, target):
    evil = f"{TOP}/lib/evil"
    pkg = make_zip(pkg_path(tmp_path, ".zip"),
                   win_zip_entries() + [(zinfo(evil, unix_mode=stat.S_IFLNK | 0o777), target.encode())])
    refused(pkg, staging, entry=evil)


@posix_only
def test_zip_internal_symlink_kept(tmp_path, staging):
    entries = win_zip_entries() + [
        (zinfo(f"{TOP}/lib/libA.1.dylib", unix_mode=stat.S_IFREG | 0o755), b"lib"),
        (zinfo(f"{TOP}/lib/libA.dylib", unix_mode=stat.S_IFLNK | 0o777), b"libA.1.dylib"),
    ]
    root = extract_package(make_zip(pkg_path(tmp_path, ".zip"), entries), staging)
    assert os.readlink(root / "lib/libA.dylib") == "libA.1.dylib" and (root / "lib/libA.dylib").read_bytes() == b"lib"


@pytest.mark.parametrize("fmt", [stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO])
def test_zip_special_files_refused(tmp_path, staging, fmt):
    evil = f"{TOP}/lib/special"
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(evil, unix_mode=fmt | 0o644), b"")])
    refused(pkg, staging, entry=evil)


def test_zip_duplicate_entry_refused(tmp_path, staging):
    dup = f"{TOP}/bin/{NAME}Lib.dll"
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name
        pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(dup), b"again")])
    refused(pkg, staging, entry=dup)


def test_zip_missing_description_refused(tmp_path, staging):
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries()[:-1])
    assert ".s4ext" in str(refused(pkg, staging))


def test_corrupt_zip_refused(tmp_path, staging):
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries())
    data = pkg.read_bytes()
    pkg.write_bytes(data[: len(data) // 2])
    assert "damaged or incomplete" in str(refused(pkg, staging, ArchiveError, entry=pkg.name))


def test_zip_with_corrupt_member_data_cleans_partial_extraction(tmp_path, staging):
    bad = f"{TOP}/lib/zz-last.bin"
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(bad), os.urandom(4096))])
    with zipfile.ZipFile(pkg) as zf:
        zi = zf.getinfo(bad)
    data = bytearray(pkg.read_bytes())
    start = zi.header_offset + 30 + len(bad.encode()) + len(zi.extra)
    data[start + 100] ^= 0xFF
    pkg.write_bytes(bytes(data))
    inspect_package(pkg)  # the member list is fine; the damage shows while extracting
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError) as caught:
        extract_package(pkg, staging)
    assert "damaged or incomplete" in str(caught.value) and bad in str(caught.value)
    assert not isinstance(caught.value, UnsafeArchiveError)
    assert snapshot(tmp_path) == before and staging_clean(staging)


def _patch_zip_sizes(pkg: Path, member: str, declared: int) -> None:
    """Rewrite a member's uncompressed size in its local header and central directory entry."""
    with zipfile.ZipFile(pkg) as zf:
        offset = zf.getinfo(member).header_offset
    data = bytearray(pkg.read_bytes())
    assert data[offset: offset + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, offset + 22, declared)
    pos = data.find(b"PK\x01\x02")
    patched = False
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46: pos + 46 + name_len]) == member.encode():
            struct.pack_into("<I", data, pos + 24, declared)
            patched = True
        pos = data.find(b"PK\x01\x02", pos + 4)
    assert patched
    pkg.write_bytes(bytes(data))


def test_zip_bomb_lying_declared_size_refused(tmp_path, staging):
    bomb = f"{TOP}/lib/bomb.bin"
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(bomb), bytes(2**20))])
    _patch_zip_sizes(pkg, bomb, 1000)
    limit = 64 * 1024
    assert inspect_package(pkg, max_expanded_size=limit).expanded_size < limit  # the headers look fine
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError) as caught:
        extract_package(pkg, staging, max_expanded_size=limit)
    assert bomb in str(caught.value) and "declared size" in str(caught.value)
    assert snapshot(tmp_path) == before and staging_clean(staging)


def test_zip_bomb_declared_size_over_limit_refused(tmp_path, staging):
    bomb = f"{TOP}/lib/bomb.bin"
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(bomb), bytes(256 * 1024))])
    refused(pkg, staging, entry=bomb, max_expanded_size=64 * 1024)


def test_zip_bomb_huge_declared_size_refused_with_default_limit(tmp_path, staging):
    bomb = f"{TOP}/lib/bomb.bin"
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(bomb), bytes(4096))])
    _patch_zip_sizes(pkg, bomb, 0xFFFFFFF0)
    refused(pkg, staging, entry=bomb)


def test_zip_bomb_member_ratio_refused(tmp_path, staging):
    bomb = f"{TOP}/lib/zeros.bin"
    zi = zinfo(bomb)
    zi.compress_type = zipfile.ZIP_BZIP2
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zi, bytes(20 * 2**20))])
    assert pkg.stat().st_size < 4096
    # Under the default size limit, but compressed far beyond what real content does.
    assert 20 * 2**20 < default_size_limit(pkg.stat().st_size)
    assert "ratio" in str(refused(pkg, staging, entry=bomb))


def test_zip_overlapping_members_refused(tmp_path, staging):
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries())
    data = bytearray(pkg.read_bytes())
    with zipfile.ZipFile(pkg) as zf:
        first = zf.infolist()[2]  # the dll
        victim = zf.infolist()[3].filename
    # Point the next member's central directory entry at the dll's local header.
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46: pos + 46 + name_len]) == victim.encode():
            struct.pack_into("<I", data, pos + 42, first.header_offset)
        pos = data.find(b"PK\x01\x02", pos + 4)
    pkg.write_bytes(bytes(data))
    refused(pkg, staging)


def test_zip_encrypted_member_refused(tmp_path, staging):
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries())
    data = bytearray(pkg.read_bytes())
    pos = data.find(b"PK\x01\x02")
    flags = struct.unpack_from("<H", data, pos + 8)[0]
    struct.pack_into("<H", data, pos + 8, flags | 1)
    pkg.write_bytes(bytes(data))
    refused(pkg, staging, ArchiveError, entry=f"{TOP}/")


# ------------------------------------------------------------------------------------------------
# bz2/xz integrity


def test_corrupt_bz2_refused(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path, ".tar.bz2"), base_entries() + [F(f"{TOP}/lib/d.bin", os.urandom(65536))], "bz2")
    data = bytearray(pkg.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pkg.write_bytes(bytes(data))
    refused(pkg, staging, ArchiveError, entry=pkg.name)


def test_truncated_xz_refused(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path, ".tar.xz"), base_entries() + [F(f"{TOP}/lib/d.bin", os.urandom(65536))], "xz")
    data = pkg.read_bytes()
    pkg.write_bytes(data[:-40])
    refused(pkg, staging, ArchiveError, entry=pkg.name)


# ------------------------------------------------------------------------------------------------
# Python without tarfile.data_filter (3.10 before 3.10.12): our own checks alone


def test_own_checks_without_tarfile_data_filter(tmp_path, staging, monkeypatch):
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    good = make_tar(pkg_path(tmp_path), base_entries())
    root = extract_package(good, staging)
    assert (root / "share/Slicer-5.8/MyExt.s4ext").read_bytes() == S4EXT
    for child in list(staging.iterdir()):
        shutil.rmtree(child)
    cases = [
        [F(f"{TOP}/../../escaped.txt")],
        [L(f"{TOP}/lib/evil", "../../../outside")],
        [L(f"{TOP}/lib/evil", str(tmp_path / "outside"))],
        [L(f"{TOP}/lib/link", "."), F(f"{TOP}/lib/link/x.txt")],
        [special(f"{TOP}/lib/hard", tarfile.LNKTYPE, S4EXT_MEMBER)],
    ]
    for i, extra in enumerate(cases):
        pkg = make_tar(tmp_path / "pkgs" / f"case{i}.tar.gz", base_entries() + extra)
        refused(pkg, staging, entry=extra[-1][0].name)


# ------------------------------------------------------------------------------------------------
# the single pass (extract_verified)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("compression, suffix", [("gz", ".tar.gz"), ("bz2", ".tar.bz2"), ("xz", ".tar.xz"),
                                                 ("", ".tar"), ("zip", ".zip")])
def test_single_pass_matches_inspect_then_extract(tmp_path, staging, compression, suffix):
    if compression == "zip":
        pkg = make_zip(pkg_path(tmp_path, suffix), win_zip_entries())
    else:
        pkg = make_tar(pkg_path(tmp_path, suffix), base_entries(), compression)
    expected = inspect_package(pkg)
    other = tmp_path / "two-pass"
    other.mkdir()
    expected_root = extract_package(pkg, other, info=expected)
    info, root = extract_verified(pkg, staging, expected_name=NAME)
    assert info == expected
    assert root == staging / TOP and _files(root) == _files(expected_root)
    if os.name != "nt":
        cli = "lib/Slicer-5.8/cli-modules/MyCLI"
        assert stat.S_IMODE((root / cli).stat().st_mode) == stat.S_IMODE((expected_root / cli).stat().st_mode)


@posix_only
def test_single_pass_macos_package(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path, top=MAC_TOP), mac_entries())
    info, root = extract_verified(pkg, staging, expected_name=NAME, app_revision=REV)
    assert info.macos_revision == REV and info.root_member == MAC_ROOT and root == staging / MAC_ROOT
    link = root / f"lib/Slicer-5.8/qt-loadable-modules/libqSlicer{NAME}Module.dylib"
    assert link.is_symlink() and link.read_bytes().startswith(b"\xcf\xfa\xed\xfe")


def test_single_pass_refuses_macos_package_for_another_revision(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path, top=MAC_TOP), mac_entries())
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError) as caught:
        extract_verified(pkg, staging, app_revision="30000")
    assert not isinstance(caught.value, UnsafeArchiveError)
    assert "revision 33241" in str(caught.value) and "revision 30000" in str(caught.value)
    assert snapshot(tmp_path) == before and staging_clean(staging)


def test_single_pass_refuses_another_extension(tmp_path, staging):
    pkg = make_tar(pkg_path(tmp_path), base_entries())
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError, match=f"contains extension {NAME}, not Other"):
        extract_verified(pkg, staging, expected_name="Other")
    assert snapshot(tmp_path) == before and staging_clean(staging)


def test_single_pass_zip_lying_declared_size(tmp_path, staging):
    bomb = f"{TOP}/lib/bomb.bin"
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(bomb), bytes(2**20))])
    _patch_zip_sizes(pkg, bomb, 1000)
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError) as caught:
        extract_verified(pkg, staging, max_expanded_size=64 * 1024)
    assert bomb in str(caught.value) and "declared size" in str(caught.value)
    assert snapshot(tmp_path) == before and staging_clean(staging)


def test_single_pass_zip_with_corrupt_member_data(tmp_path, staging):
    bad = f"{TOP}/lib/zz-last.bin"
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(bad), os.urandom(4096))])
    with zipfile.ZipFile(pkg) as zf:
        zi = zf.getinfo(bad)
    data = bytearray(pkg.read_bytes())
    data[zi.header_offset + 30 + len(bad.encode()) + len(zi.extra) + 100] ^= 0xFF
    pkg.write_bytes(bytes(data))
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError) as caught:
        extract_verified(pkg, staging)
    assert "damaged or incomplete" in str(caught.value) and bad in str(caught.value)
    assert snapshot(tmp_path) == before and staging_clean(staging)


def test_single_pass_oversized_description_refused(tmp_path, staging):
    big = S4EXT + b"#" * (archive.MAX_DESCRIPTION_SIZE + 1)
    pkg = make_tar(pkg_path(tmp_path), base_entries()[:-1] + [F(S4EXT_MEMBER, big)])
    assert "oversized description" in str(refused(pkg, staging, ArchiveError, entry=S4EXT_MEMBER))


@pytest.mark.parametrize("after_data", [False, True])
def test_single_pass_cancel_cleans_staging(tmp_path, staging, after_data):
    entries = base_entries() + [F(f"{TOP}/lib/file{i}.bin", os.urandom(2048)) for i in range(5)]
    pkg = make_tar(pkg_path(tmp_path), entries)
    calls = []

    def cancel():
        return any(done > 0 for done, _ in calls[1:]) if after_data else bool(calls)

    before = snapshot(tmp_path)
    with pytest.raises(CancelledError):
        extract_verified(pkg, staging, progress=lambda done, total: calls.append((done, total)), cancel=cancel)
    assert calls and staging_clean(staging) and snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_single_pass_progress(tmp_path, staging, kind):
    noise = os.urandom(3 * archive.CHUNK_SIZE)
    if kind == "zip":
        # A link's target is stored as data, but none of it is written as file content.
        links = [(zinfo(f"{TOP}/lib/n-link.bin", unix_mode=stat.S_IFLNK | 0o777), b"n.bin")] if os.name != "nt" else []
        pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(f"{TOP}/lib/n.bin"), noise), *links])
    else:
        pkg = make_tar(pkg_path(tmp_path), base_entries() + [F(f"{TOP}/lib/n.bin", noise)])
    calls = []
    info, _root = extract_verified(pkg, staging, progress=lambda done, total: calls.append((done, total)))
    # A zip declares its expanded size up front; a tar's is known at its end: its file size is used.
    total = info.expanded_size if kind == "zip" else pkg.stat().st_size
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert len(calls) > 3 and all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))


def test_single_pass_decompresses_once(tmp_path, staging, monkeypatch):
    from slicer_ext_manager.archive import readers

    opened = []

    class CountingSource(readers.TarSource):
        def __init__(self, *args, **kwargs):
            opened.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(readers, "TarSource", CountingSource)
    pkg = make_tar(pkg_path(tmp_path), base_entries())
    extract_verified(pkg, staging)
    assert opened == [pkg]


# ------------------------------------------------------------------------------------------------
# CPU and inode bombs


def gnu_tar(path: Path, entries) -> Path:
    return make_tar(path, entries, "gz", format=tarfile.GNU_FORMAT)


def test_entry_limits_scale_with_package_size():
    assert archive.default_entry_limit(0) == archive.DEFAULT_MIN_ENTRY_LIMIT == 10_000
    # The 460 KB package made 100,009 inodes.
    assert archive.default_entry_limit(460 * 1024) == 10_000
    assert archive.default_entry_limit(2 * 2**20) == 2 * 2**20 // archive.ENTRY_MIN_PACKED_BYTES
    assert archive.default_entry_limit(10 * 2**30) == archive.MAX_ENTRIES == 100_000


@pytest.fixture
def entry_limit_1000(monkeypatch):
    """The entry limit of every package, whatever its size (the real ones need 10,000+ entries)."""
    from slicer_ext_manager.archive import limits

    monkeypatch.setattr(limits, "default_entry_limit", lambda size: 1000)
    return 1000


def test_name_over_path_max_refused(tmp_path, staging):
    evil = f"{TOP}/lib/" + "n" * 5000
    err = refused(gnu_tar(pkg_path(tmp_path), base_entries() + [F(evil)]), staging)
    assert "longer than 4096 bytes" in str(err) and len(str(err)) < 600


def test_name_limit_counts_utf8_bytes(tmp_path, staging):
    evil = f"{TOP}/lib/" + "é" * 2100  # 2,100 characters, 4,200 bytes
    assert "longer than 4096 bytes" in str(refused(gnu_tar(pkg_path(tmp_path), base_entries() + [F(evil)]), staging))


def test_depth_limit(tmp_path, staging):
    deepest = TOP + "/d" * (archive.MAX_DEPTH - 2) + "/ok.txt"  # exactly MAX_DEPTH components
    info, root = extract_verified(gnu_tar(pkg_path(tmp_path), base_entries() + [F(deepest)]), staging)
    assert info.entry_count == 6 and root.joinpath(*deepest.split("/")[1:]).is_file()
    clear_staging = [shutil.rmtree(p) for p in staging.iterdir()]
    assert clear_staging
    evil = TOP + "/d" * (archive.MAX_DEPTH - 1) + "/deep.txt"
    err = refused(gnu_tar(tmp_path / "pkgs" / "deeper.tar.gz", base_entries() + [F(evil)]), staging)
    assert "more than 64 folders deep" in str(err)


def test_sixteen_thousand_components_refused_by_depth_rule(tmp_path, staging):
    # The case: validation used to be quadratic in depth (16,000 components: 7.8 s).
    evil = TOP + "/a" * 16_000 + "/x.txt"
    err = refused(gnu_tar(pkg_path(tmp_path), base_entries() + [F(evil)]), staging)
    assert "more than 64 folders deep (the limit)" in str(err) and len(str(err)) < 600


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_two_mib_long_name_refused(tmp_path, staging, fmt):
    evil = TOP + "/a" * 2**20  # 2 MiB: a GNU long-name record or a pax path record
    pkg = make_tar(pkg_path(tmp_path), base_entries() + [F(evil)], "gz", format=fmt)
    assert pkg.stat().st_size < 64 * 1024
    err = refused(pkg, staging)
    assert "64 KiB" in str(err) and len(str(err)) < 600


def test_header_allowance_does_not_accumulate_over_entries(tmp_path, staging):
    # 300 entries used to leave 300 × 64 KiB for one later header (read into memory at once).
    ti, data = F(f"{TOP}/lib/last.txt")
    ti.pax_headers = {"comment": "A" * (8 * 2**20)}
    small = [F(f"{TOP}/lib/f{i}.txt") for i in range(300)]
    refused(make_tar(pkg_path(tmp_path), base_entries() + small + [(ti, data)]), staging)


def test_entry_count_limit(tmp_path, staging, entry_limit_1000):
    # The same folder declared over and over: no new inode, but each entry costs work.
    entries = base_entries() + [D(f"{TOP}/lib") for _ in range(entry_limit_1000)]
    err = refused(make_tar(pkg_path(tmp_path), entries), staging)
    assert f"more than {entry_limit_1000} entries" in str(err)


def test_entry_count_limit_zip_refused_before_reading_members(tmp_path, staging, entry_limit_1000):
    names = [f"{TOP}/lib/f{i}" for i in range(entry_limit_1000)]
    pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(n), b"") for n in names])
    assert f"more than {entry_limit_1000} entries" in str(refused(pkg, staging))


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_inode_limit_counts_implied_folders(tmp_path, staging, kind, entry_limit_1000):
    # 40 entries, each 30 folders deep in its own chain: 1,200 folders to create.
    chain = "/".join(f"d{j}" for j in range(30))
    names = [f"{TOP}/c{i}/{chain}/f" for i in range(40)]
    if kind == "zip":
        pkg = make_zip(pkg_path(tmp_path, ".zip"), win_zip_entries() + [(zinfo(n), b"") for n in names])
    else:
        pkg = make_tar(pkg_path(tmp_path), base_entries() + [F(n, b"") for n in names])
    err = refused(pkg, staging)
    assert f"more than {entry_limit_1000} files, folders and links" in str(err)


def test_inode_limit_allows_what_it_names(tmp_path, staging, entry_limit_1000):
    entries = base_entries() + [F(f"{TOP}/lib/f{i}", b"") for i in range(entry_limit_1000 - 10)]
    info, root = extract_verified(make_tar(pkg_path(tmp_path), entries), staging)
    assert info.entry_count == entry_limit_1000 - 5 and (root / "lib/f0").is_file()


def test_validation_checks_each_folder_once(tmp_path, monkeypatch):
    # Linear validation: a folder's case-folded name is computed when it first appears,
    # not again for every entry below it.
    from slicer_ext_manager.archive import validation

    calls = []
    real_fold = validation.fold
    monkeypatch.setattr(validation, "fold", lambda parts: calls.append(len(parts)) or real_fold(parts))
    deep = TOP + "/d" * 50
    entries = base_entries() + [F(f"{deep}/f{i}.txt") for i in range(1000)]
    info = inspect_package(make_tar(pkg_path(tmp_path), entries))
    assert info.entry_count == 1005
    assert len(calls) < 2 * info.entry_count + 100
