"""Build the "Extensions Restore" Slicer extension package: what a Slicer user installs with
"Install from file" (or ``slicer-ext-manager install --file``, or from ``serve``).

The package is laid out as Slicer's own ``make package`` (CPack) lays out an extension::

    <rev>-<os>-<arch>-ExtensionsRestore-git<hash>-<date>.tar.gz      (.zip for Windows)
    └── <same base name>/                                              one top folder
        │   (macOS: Slicer.app/Contents/Extensions-<rev>/ExtensionsRestore/ in between)
        ├── lib/Slicer-X.Y/qt-scripted-modules/
        │   ├── ExtensionsRestore.py                     the scripted module
        │   ├── Resources/Icons/ExtensionsRestore.png
        │   └── ExtensionsRestoreLib/
        │       ├── slicer_ext_manager/                  the core (everything but ui/), + LICENSE
        │       └── vendor/                              platformdirs, packaging (for Slicers without them)
        │           ├── licenses/<dist>-<version>/LICENSE*
        │           └── VENDORED.txt
        └── share/Slicer-X.Y/ExtensionsRestore.s4ext

No PySide6 ever: the dialog (``ui/``) and its entry point stay out. The vendored
distributions come from the wheels in ``slicermodule/vendor/`` (checked by sha256; their
``Requires-Python`` must admit the target Slicer's Python, 3.9 up to Slicer 5.9). The module
puts ``ExtensionsRestoreLib`` first on ``sys.path`` and ``vendor`` last, so Slicer's own
``packaging`` (Slicer bundles it) wins over the vendored copy. Deterministic: sorted
entries, fixed times (the date at 00:00 UTC), no owner names; ``git<hash>`` is a digest of
the contents, so a changed module gets a new file name.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import io
import logging
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .. import s4ext
from ..conventions import OS_NAMES, PackageName, macos_nesting
from ..errors import ExtensionManagerError

__all__ = ["EXTENSION_NAME", "MODULE_NAME", "VENDORED", "PackageBuild", "build_package", "package_entries",
           "slicer_python", "add_to_demo_catalog"]

EXTENSION_NAME = "ExtensionsRestore"
MODULE_NAME = "ExtensionsRestore"
LIB_DIR = "ExtensionsRestoreLib"
HOMEPAGE = "https://pypi.org/project/slicer-ext-manager/"

HERE = Path(__file__).resolve().parent
CORE = HERE.parent
#: The scripted module's source, and the icon Slicer shows for it.
MODULE_SOURCE = HERE / "module" / f"{MODULE_NAME}.py"
ICON = CORE / "resources" / "app-icon-64.png"
LICENSE_CANDIDATES = (CORE / "LICENSE", CORE.parent / "LICENSE")

#: wheel file -> sha256 (pure-Python distributions Slicer may lack; Slicer bundles ``requests``).
VENDORED = {
    "platformdirs-4.4.0-py3-none-any.whl": "abd01743f24e5287cd7a5db3752faf1a2d65353f38ec26d98e25a6db65958c85",
    "packaging-26.3-py3-none-any.whl": "d7193f7c8e4e93f444fde0262bf90af30e16fa0ad0ad44cb553c87339b23cd1c",
}
#: Parts of the core that never go into Slicer: the PySide6 dialog and its entry point, the
#: module's own template and the wheels (they go in as files of their own).
EXCLUDED = ("ui", "gui_main.py", "slicermodule/vendor", "slicermodule/module")

_DESCRIPTION = ("Restore the extensions of your previous Slicer version after an upgrade, check for them at "
                "startup, export and import extension profiles, and install a newer Slicer with your "
                "extensions. Keeps Slicer's extensions history current.")


def slicer_python(slicer_version: str) -> tuple[int, int]:
    """The Python a Slicer X.Y embeds: 3.9 up to 5.9, 3.12 from 5.10 (``slicer-inside.md`` §1)."""
    try:
        major, minor = (int(p) for p in slicer_version.split(".")[:2])
    except ValueError:
        raise ExtensionManagerError(f"{slicer_version!r} is not a Slicer version; give X.Y, e.g. 5.8.") from None
    return (3, 9) if (major, minor) < (5, 10) else (3, 12)


@dataclass(frozen=True)
class Entry:
    path: str  # below the content root, "/"-separated
    data: bytes | None  # None: a folder
    mode: int = 0o644


def _core_files() -> Iterator[tuple[str, Path]]:
    for path in sorted(CORE.rglob("*")):
        rel = path.relative_to(CORE).as_posix()
        if not path.is_file() or "__pycache__" in rel or path.suffix in (".pyc", ".pyo"):
            continue
        if any(rel == e or rel.startswith(e + "/") for e in EXCLUDED):
            continue
        yield rel, path


def _license_text() -> bytes:
    """The project's licence: from the source tree, else from the installed distribution."""
    for candidate in LICENSE_CANDIDATES:
        if candidate.is_file():
            return candidate.read_bytes()
    try:
        import importlib.metadata as metadata

        for file in metadata.distribution("slicer-ext-manager").files or ():
            if file.name.startswith("LICENSE"):
                return Path(str(file.locate())).read_bytes()
    except (ImportError, OSError, ValueError):
        pass
    raise ExtensionManagerError("slicer-ext-manager's LICENSE file was not found; reinstall slicer-ext-manager "
                                "and build again (the package must carry its licence).")


def _vendored(python: tuple[int, int]) -> Iterator[tuple[str, bytes]]:
    """(path below ``vendor/``, bytes) of every vendored distribution, and ``VENDORED.txt``."""
    from packaging.specifiers import SpecifierSet

    lines = ["Pure-Python distributions vendored for Slicers that lack them (appended to sys.path).", ""]
    for wheel_name, sha256 in sorted(VENDORED.items()):
        wheel = HERE / "vendor" / wheel_name
        data = wheel.read_bytes() if wheel.is_file() else b""
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ExtensionManagerError(f"The vendored wheel {wheel} is missing or changed (sha256 differs); "
                                        "restore it from the repository and build again.")
        dist, version = wheel_name.split("-")[:2]
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            meta = zf.read(f"{dist}-{version}.dist-info/METADATA").decode("utf-8")
            requires = next((line.split(":", 1)[1].strip() for line in meta.splitlines()
                             if line.startswith("Requires-Python:")), "")
            if requires and f"{python[0]}.{python[1]}" not in SpecifierSet(requires):
                raise ExtensionManagerError(f"{dist} {version} needs Python {requires}, but this Slicer runs "
                                            f"Python {python[0]}.{python[1]}; vendor a version that supports it.")
            for name in sorted(zf.namelist()):
                if name.endswith("/"):
                    continue
                if name.startswith(f"{dist}/"):
                    yield name, zf.read(name)
                elif "/licenses/" in name or name.rsplit("/", 1)[-1].startswith(("LICENSE", "COPYING")):
                    yield f"licenses/{dist}-{version}/{name.rsplit('/', 1)[-1]}", zf.read(name)
        lines.append(f"{dist} {version} (Requires-Python {requires or 'any'}) from {wheel_name} sha256 {sha256}")
    yield "VENDORED.txt", ("\n".join(lines) + "\n").encode("utf-8")


def check_sources() -> None:
    """The package is made of this installation's source files: refuse without them (the PyInstaller
    application keeps the core compiled, not as files)."""
    if getattr(sys, "frozen", False) or not (CORE / "manager.py").is_file():
        raise ExtensionManagerError("This copy of slicer-ext-manager does not carry the source files the Slicer "
                                    "extension is built from (the standalone application does not); build it "
                                    "with the Python package instead: pip install slicer-ext-manager.")
    if not MODULE_SOURCE.is_file():
        raise ExtensionManagerError(f"The module source {MODULE_SOURCE} is missing; reinstall slicer-ext-manager.")


def package_entries(slicer_version: str) -> list[Entry]:
    """The files of the extension below its content root (folders included), sorted."""
    check_sources()
    modules = f"lib/Slicer-{slicer_version}/qt-scripted-modules"
    files: dict[str, bytes] = {f"{modules}/{MODULE_NAME}.py": MODULE_SOURCE.read_bytes()}
    if ICON.is_file():
        files[f"{modules}/Resources/Icons/{MODULE_NAME}.png"] = ICON.read_bytes()
    lib = f"{modules}/{LIB_DIR}"
    for rel, path in _core_files():
        files[f"{lib}/slicer_ext_manager/{rel}"] = path.read_bytes()
    files[f"{lib}/slicer_ext_manager/LICENSE"] = _license_text()
    for rel, data in _vendored(slicer_python(slicer_version)):
        files[f"{lib}/vendor/{rel}"] = data
    folders = {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}
    entries = [Entry(f, None, 0o755) for f in folders] + [Entry(p, d) for p, d in files.items()]
    return sorted(entries, key=lambda e: e.path)


def _digest(entries: list[Entry]) -> str:
    h = hashlib.sha256()
    for e in entries:
        h.update(e.path.encode("utf-8") + b"\0" + (e.data if e.data is not None else b"/") + b"\0")
    return h.hexdigest()[:7]


def s4ext_text(scm_revision: str) -> str:
    return s4ext.format_text({
        "scm": "git", "scmurl": "NA",
        "scmrevision": scm_revision, "depends": "NA", "category": "Utilities", "description": _DESCRIPTION,
        "homepage": HOMEPAGE, "contributors": "slicer-ext-manager developers", "enabled": "1",
    })


@dataclass(frozen=True)
class PackageBuild:
    path: Path
    name: PackageName
    members: tuple[str, ...]


def build_package(dest_dir: str | Path, *, revision: str, os_name: str, arch: str, slicer_version: str,
                  date: str | None = None) -> PackageBuild:
    """Write the package into ``dest_dir`` and return where, its name fields and its members."""
    if os_name not in OS_NAMES:
        raise ExtensionManagerError(f"Unknown operating system {os_name!r}; use linux, win or macosx.")
    if not str(revision).isdigit():
        raise ExtensionManagerError(f"{revision!r} is not a Slicer revision: a revision is a number, e.g. 33241.")
    day = date or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")
    try:
        stamp = int(_dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=_dt.timezone.utc).timestamp())
    except ValueError:
        raise ExtensionManagerError(f"{day!r} is not a date; give YYYY-MM-DD.") from None
    entries = package_entries(slicer_version)
    share = f"share/Slicer-{slicer_version}/{EXTENSION_NAME}.s4ext"
    scm_revision = _digest(entries)
    entries.append(Entry(share, s4ext_text(scm_revision).encode("utf-8")))
    entries += [Entry(f"share/Slicer-{slicer_version}", None, 0o755), Entry("share", None, 0o755)]
    suffix = ".zip" if os_name == "win" else ".tar.gz"
    name = PackageName(str(revision), os_name, arch, EXTENSION_NAME, "git", scm_revision, day, suffix)
    prefix = [name.base] + (list(macos_nesting(str(revision), EXTENSION_NAME)) if os_name == "macosx" else [])
    tops = [Entry("/".join(prefix[:i]), None, 0o755) for i in range(1, len(prefix) + 1)]
    full = tops + [Entry("/".join(prefix + [e.path]), e.data, e.mode) for e in sorted(entries, key=lambda e: e.path)]
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / name.file_name
    tmp = path.with_name(path.name + ".part")
    (_write_zip if suffix == ".zip" else _write_tar)(tmp, full, stamp)
    tmp.replace(path)
    return PackageBuild(path, name, tuple(e.path + ("/" if e.data is None else "") for e in full))


def _write_tar(path: Path, entries: list[Entry], mtime: int) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            info = tarfile.TarInfo(e.path)
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = mtime, 0, 0, "", "", e.mode
            if e.data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size = len(e.data)
                tf.addfile(info, io.BytesIO(e.data))


def _write_zip(path: Path, entries: list[Entry], mtime: int) -> None:
    when = _dt.datetime.fromtimestamp(mtime, _dt.timezone.utc).timetuple()[:6]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for e in entries:
            info = zipfile.ZipInfo(e.path + ("/" if e.data is None else ""), date_time=when)
            info.external_attr = ((0o040000 if e.data is None else 0o100000) | e.mode) << 16
            info.compress_type = zipfile.ZIP_STORED if e.data is None else zipfile.ZIP_DEFLATED
            zf.writestr(info, e.data or b"")


def add_to_demo_catalog(catalog_dir: str | Path, *, revision: str, os_name: str, arch: str,
                        slicer_version: str) -> Path | None:
    """Put this extension into the demo catalog (``localserver/demo.py`` calls it before serving):
    in ``<catalog>/inside-slicer/`` (the server indexes sub-folders; the demo's own check counts
    only its top-level packages). Idempotent: the file name changes with the contents, older
    builds there are removed. Where it cannot be built (the standalone application) the demo goes
    on without it: None, and a line in the log."""
    folder = Path(catalog_dir) / "inside-slicer"
    try:
        build = build_package(folder, revision=revision, os_name=os_name, arch=arch, slicer_version=slicer_version,
                              date="2025-06-16")
    except (ExtensionManagerError, OSError) as exc:
        logging.getLogger(__name__).info("The demo catalog does not list Extensions Restore: %s", exc)
        return None
    for other in folder.iterdir():
        if other != build.path and other.name.endswith((".tar.gz", ".zip", ".part")):
            other.unlink()
    return build.path
