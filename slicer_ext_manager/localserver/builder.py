"""Build extension packages in Slicer's layout (reference §4.1, §4.3, §4.4).

A package is what ``make package`` of a Slicer extension produces with CPack::

    <app_revision>-<os>-<arch>-<name>-<scm><scm_revision>-<date>.tar.gz    (.zip on Windows)
    └── <same base name>/                                  single top-level folder
        ├── lib/Slicer-X.Y/qt-scripted-modules/<name>.py           "scripted" module (tiny, valid)
        ├── lib/Slicer-X.Y/cli-modules/<name>Cli                   "cli" module (mode 0755)
        ├── lib/Slicer-X.Y/qt-loadable-modules/libqSlicer<name>Module.so   "loadable" (dummy bytes)
        ├── share/Slicer-X.Y/<name>.s4ext                          description file
        └── share/Slicer-X.Y/<name>-payload.bin                    only when payload_size > 0

On macOS (``os="macosx"``) everything above ``lib``/``share`` is nested under
``<top>/Slicer.app/Contents/Extensions-<app_revision>/<name>/``, and a tar package
also holds the relative symlink
``lib/Slicer-X.Y/qt-loadable-modules/lib<name>.dylib -> lib<name>.1.dylib``.

``kind`` picks any archive format of :data:`~slicer_ext_manager.conventions.ARCHIVE_SUFFIXES`
(``tar.gz``, ``tgz``, ``tar.bz2``, ``tbz2``, ``tar.xz``, ``txz``, ``tar``, ``zip``).

Output is byte-for-byte deterministic for the same inputs (sorted entries, fixed
mtimes = ``date`` at 00:00 UTC, uid/gid 0, uname/gname ``root``, gzip mtime 0 and
no file name in the gzip header), so sha256/sha512 of a package are stable.
The payload is incompressible pseudo-random data (SHAKE-256 of a seed derived
from the package name), generated and written in 1 MiB chunks, so a 500 MB
payload never sits in memory.

Typical use::

    from slicer_ext_manager.localserver.builder import build_extension_package
    path = build_extension_package(tmp_path, "SlicerFoo", app_revision="33241", depends=("SlicerBar",))

or with a spec::

    spec = PackageSpec("SlicerFoo", app_revision="33241", os="win")
    path = build_from_spec(tmp_path, spec)      # tmp_path / spec.archive_filename
"""

from __future__ import annotations

import bz2
import calendar
import contextlib
import dataclasses
import datetime
import gzip
import hashlib
import io
import lzma
import re
import stat
import tarfile
import zipfile
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from slicer_ext_manager import s4ext
from slicer_ext_manager.conventions import (
    ARCHIVE_FORMATS,
    ARCHIVE_SUFFIXES,
    OS_NAMES,
    PackageName,
    invalid_name_sentence,
    is_extension_name,
    macos_nesting,
)

__all__ = [
    "MODULE_KINDS",
    "PackageSpec",
    "build_extension_package",
    "build_from_spec",
    "payload_bytes",
]

#: Accepted values of ``modules``.
MODULE_KINDS = ("scripted", "cli", "loadable")
#: Accepted values of ``kind``: the archive suffixes without their dot.
KINDS = tuple(suffix[1:] for suffix in ARCHIVE_SUFFIXES)

_CHUNK = 1 << 20
_DIR_MODE = 0o755
_FILE_MODE = 0o644
_EXEC_MODE = 0o755


@dataclasses.dataclass(frozen=True)
class PackageSpec:
    """Everything that defines a package; :func:`build_from_spec` turns it into an archive.

    Sequences are normalised to tuples and ``extra_s4ext`` to a sorted tuple of
    ``(key, value)`` pairs, so specs are hashable and comparable.
    """

    name: str
    app_revision: str
    os: str = "linux"
    arch: str = "amd64"
    slicer_version: str = "5.8"
    scm_revision: str = "abc1234"
    date: str = "2025-01-29"
    depends: Sequence[str] = ()
    kind: str | None = None
    category: str = "Examples"
    description: str | None = None
    homepage: str = ""
    iconurl: str = ""
    contributors: str = ""
    screenshots: str = ""
    keywords: str = ""
    modules: Sequence[str] = ("scripted",)
    payload_size: int = 0
    extra_s4ext: Mapping[str, str] | Iterable[tuple[str, str]] | None = None
    scm_url: str = ""
    scm: str = "git"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "app_revision", str(self.app_revision))
        if isinstance(self.depends, str):
            set_(self, "depends", tuple(self.depends.split()))
        else:
            set_(self, "depends", tuple(self.depends))
        set_(self, "modules", tuple(self.modules))
        extra = self.extra_s4ext or ()
        if isinstance(extra, Mapping):
            extra = extra.items()
        set_(self, "extra_s4ext", tuple(sorted((str(k), str(v)) for k, v in extra)))
        if self.kind is None:
            set_(self, "kind", "zip" if self.os == "win" else "tar.gz")
        _validate(self)

    # -- names ---------------------------------------------------------------------------------

    @property
    def package_name(self) -> PackageName:
        return PackageName(self.app_revision, self.os, self.arch, self.name, self.scm, self.scm_revision,
                           self.date, f".{self.kind}")

    @property
    def archive_base(self) -> str:
        """``<app_revision>-<os>-<arch>-<name>-<scm><scm_revision>-<date>`` (also the top folder)."""
        return self.package_name.base

    @property
    def archive_filename(self) -> str:
        return self.package_name.file_name

    @property
    def container(self) -> str:
        """``"tar"`` or ``"zip"``."""
        return ARCHIVE_FORMATS[f".{self.kind}"][0]

    @property
    def content_root(self) -> str:
        """Archive path of the folder that holds ``lib/`` and ``share/`` (no trailing slash)."""
        if self.os == "macosx":
            return "/".join((self.archive_base, *macos_nesting(self.app_revision, self.name)))
        return self.archive_base

    @property
    def lib_dir(self) -> str:
        return f"lib/Slicer-{self.slicer_version}"

    @property
    def share_dir(self) -> str:
        return f"share/Slicer-{self.slicer_version}"

    @property
    def s4ext_path(self) -> str:
        """Archive path of the description file."""
        return f"{self.content_root}/{self.share_dir}/{self.name}.s4ext"

    @property
    def payload_path(self) -> str | None:
        """Archive path of the payload file, or None when ``payload_size == 0``."""
        return f"{self.content_root}/{self.share_dir}/{self.name}-payload.bin" if self.payload_size else None

    @property
    def description_text(self) -> str:
        return self.description if self.description is not None else f"{self.name}: a test extension."

    @property
    def mtime(self) -> int:
        """Fixed mtime of every entry: ``date`` at 00:00 UTC (2025-01-01 if ``date`` is not ISO)."""
        try:
            day = datetime.date.fromisoformat(self.date)
        except ValueError:
            day = datetime.date(2025, 1, 1)
        return calendar.timegm(day.timetuple())

    def s4ext_metadata(self) -> dict[str, str]:
        """The key/values written to the ``.s4ext`` file."""
        meta = {
            "scm": self.scm,
            "scmurl": self.scm_url or f"https://github.com/example/{self.name}.git",
            "scmrevision": self.scm_revision,
            "depends": " ".join(self.depends) if self.depends else "NA",
            "category": self.category,
            "description": self.description_text,
            "homepage": self.homepage,
            "iconurl": self.iconurl,
            "contributors": self.contributors,
            "screenshoturls": self.screenshots,
            "keywords": self.keywords,
            "enabled": "1",
        }
        meta.update(dict(self.extra_s4ext))  # type: ignore[arg-type]
        return meta

    def s4ext_text(self) -> str:
        return s4ext.format_text(self.s4ext_metadata())

    def members(self) -> list[str]:
        """Archive member names (directories end with ``/``), in archive order."""
        return [e.path + ("/" if e.kind == "dir" else "") for e in _entries(self)]


def _validate(spec: PackageSpec) -> None:
    """Refuse what would make a package Slicer cannot name or install (``ValueError``)."""
    if not is_extension_name(spec.name):
        raise ValueError(invalid_name_sentence(spec.name))
    if spec.os not in OS_NAMES:
        raise ValueError(f"os must be one of {OS_NAMES}, not {spec.os!r}")
    if spec.kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {spec.kind!r}")
    unknown = set(spec.modules) - set(MODULE_KINDS)
    if unknown:
        raise ValueError(f"unknown module kinds {sorted(unknown)}; allowed: {MODULE_KINDS}")
    if spec.payload_size < 0:
        raise ValueError("payload_size must be >= 0")
    for field in ("app_revision", "arch", "scm_revision", "date", "slicer_version"):
        value = getattr(spec, field)
        if not value or "/" in value or " " in value:
            raise ValueError(f"invalid {field} {value!r}")
    for field in ("app_revision", "arch", "scm", "scm_revision"):  # "-" separates them in the file name
        if "-" in getattr(spec, field) or "/" in getattr(spec, field):
            raise ValueError(f"invalid {field} {getattr(spec, field)!r}: it would not parse back from the file name")


@dataclasses.dataclass(frozen=True)
class _Entry:
    path: str
    kind: str  # "dir" | "file" | "symlink"
    mode: int = _FILE_MODE
    data: bytes = b""
    size: int = 0  # for streamed payloads (data empty)
    link_target: str = ""
    payload_seed: bytes | None = None


def _identifier(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    return ident if ident and not ident[0].isdigit() else "_" + ident


def _scripted_module(spec: PackageSpec) -> bytes:
    cls = _identifier(spec.name)
    contributors = [spec.contributors] if spec.contributors else []
    text = f'''"""{spec.name}: a scripted module generated for tests."""

import slicer  # noqa: F401
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleWidget,
)


class {cls}(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = {spec.name!r}
        self.parent.categories = [{spec.category!r}]
        self.parent.dependencies = []
        self.parent.contributors = {contributors!r}
        self.parent.helpText = {spec.description_text!r}
        self.parent.acknowledgementText = ""


class {cls}Widget(ScriptedLoadableModuleWidget):
    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)


class {cls}Logic(ScriptedLoadableModuleLogic):
    pass
'''
    return text.encode("utf-8")


def _entries(spec: PackageSpec) -> list[_Entry]:
    root = spec.content_root
    lib = f"{root}/{spec.lib_dir}"
    files: list[_Entry] = []
    if "scripted" in spec.modules:
        files.append(_Entry(f"{lib}/qt-scripted-modules/{spec.name}.py", "file", data=_scripted_module(spec)))
    if "cli" in spec.modules:
        script = f"#!/bin/sh\necho \"{spec.name}Cli (test CLI module) $*\"\n".encode()
        files.append(_Entry(f"{lib}/cli-modules/{spec.name}Cli", "file", mode=_EXEC_MODE, data=script))
    if "loadable" in spec.modules:
        dummy = hashlib.sha256(f"loadable:{spec.name}".encode()).digest() * 8
        files.append(_Entry(f"{lib}/qt-loadable-modules/libqSlicer{spec.name}Module.so", "file", data=dummy))
    if spec.os == "macosx" and spec.container == "tar":
        real = f"lib{spec.name}.1.dylib"
        files.append(_Entry(f"{lib}/qt-loadable-modules/{real}", "file",
                            data=b"\xcf\xfa\xed\xfe" + f"dummy dylib {spec.name}".encode()))
        files.append(_Entry(f"{lib}/qt-loadable-modules/lib{spec.name}.dylib", "symlink",
                            mode=0o777, link_target=real))
    files.append(_Entry(spec.s4ext_path, "file", data=spec.s4ext_text().encode("utf-8")))
    if spec.payload_size:
        seed = f"payload:{spec.archive_base}".encode()
        files.append(_Entry(spec.payload_path, "file", size=spec.payload_size, payload_seed=seed))  # type: ignore[arg-type]

    dirs: set[str] = set()
    for entry in files:
        parts = entry.path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    entries = [_Entry(d, "dir", mode=_DIR_MODE) for d in dirs] + files
    return sorted(entries, key=lambda e: e.path)


def payload_bytes(seed: bytes, size: int, chunk_size: int = _CHUNK) -> Iterator[bytes]:
    """Deterministic incompressible bytes: SHAKE-256(seed + ':' + chunk index), chunk by chunk."""
    index = 0
    remaining = size
    while remaining > 0:
        n = min(chunk_size, remaining)
        yield hashlib.shake_256(seed + b":%d" % index).digest(n)
        remaining -= n
        index += 1


class _PayloadReader(io.RawIOBase):
    """File-like reader over :func:`payload_bytes` (for ``tarfile.addfile``)."""

    def __init__(self, seed: bytes, size: int) -> None:
        self._chunks = payload_bytes(seed, size)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if not self._buf:
            self._buf = next(self._chunks, b"")
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _compressor(spec: PackageSpec, out):
    """The stream the tar is written to: ``out`` itself or a compressor over it (no
    timestamps or file names in any header, so the bytes are reproducible)."""
    compression = ARCHIVE_FORMATS[f".{spec.kind}"][1]
    if compression == "gz":
        # Big incompressible payload: deflate "stored" blocks (level 0) build a 500 MB
        # package in ~2 s instead of ~10 s; the archive is the same size and valid gzip.
        level = 0 if spec.payload_size > 8 * _CHUNK else 9
        return gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=level)
    if compression == "bz2":
        return bz2.BZ2File(out, mode="wb")
    if compression == "xz":
        return lzma.LZMAFile(out, mode="wb")
    return contextlib.nullcontext(out)


def _write_tar(spec: PackageSpec, entries: list[_Entry], out) -> None:
    with _compressor(spec, out) as stream:
        with tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT,
                          copybufsize=_CHUNK) as tar:  # type: ignore[call-overload]  # typeshed lacks copybufsize
            for e in entries:
                info = tarfile.TarInfo(e.path)
                info.mtime = spec.mtime
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode = e.mode
                if e.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif e.kind == "symlink":
                    info.type = tarfile.SYMTYPE
                    info.linkname = e.link_target
                    tar.addfile(info)
                elif e.payload_seed is not None:
                    info.size = e.size
                    tar.addfile(info, _PayloadReader(e.payload_seed, e.size))
                else:
                    info.size = len(e.data)
                    tar.addfile(info, io.BytesIO(e.data))


def _write_zip(spec: PackageSpec, entries: list[_Entry], out) -> None:
    date_time = datetime.datetime.fromtimestamp(max(spec.mtime, 315532800), datetime.timezone.utc).timetuple()[:6]
    with zipfile.ZipFile(out, mode="w") as zf:
        for e in entries:
            if e.kind == "symlink":  # zip packages carry no symlinks
                continue
            name = e.path + ("/" if e.kind == "dir" else "")
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.create_system = 3  # Unix: external_attr high 16 bits are st_mode
            if e.kind == "dir":
                info.external_attr = ((stat.S_IFDIR | e.mode) << 16) | 0x10
                info.compress_type = zipfile.ZIP_STORED
                zf.writestr(info, b"")
                continue
            info.external_attr = (stat.S_IFREG | e.mode) << 16
            if e.payload_seed is not None:
                info.compress_type = zipfile.ZIP_STORED  # incompressible anyway
                info.file_size = e.size
                with zf.open(info, mode="w", force_zip64=e.size >= zipfile.ZIP64_LIMIT) as fh:
                    for chunk in payload_bytes(e.payload_seed, e.size):
                        fh.write(chunk)
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, e.data, compresslevel=9)


def build_from_spec(dest_dir: str | Path, spec: PackageSpec) -> Path:
    """Write ``dest_dir / spec.archive_filename`` (replacing it) and return its path."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / spec.archive_filename
    tmp = path.with_name(path.name + ".part")
    entries = _entries(spec)
    try:
        with open(tmp, "wb") as out:
            if spec.container == "zip":
                _write_zip(spec, entries, out)
            else:
                _write_tar(spec, entries, out)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def build_extension_package(
    dest_dir: str | Path,
    name: str,
    *,
    app_revision: str,
    os: str = "linux",
    arch: str = "amd64",
    slicer_version: str = "5.8",
    scm_revision: str = "abc1234",
    date: str = "2025-01-29",
    depends: Sequence[str] = (),
    kind: str | None = None,
    category: str = "Examples",
    description: str | None = None,
    homepage: str = "",
    iconurl: str = "",
    contributors: str = "",
    screenshots: str = "",
    keywords: str = "",
    modules: Sequence[str] = ("scripted",),
    payload_size: int = 0,
    extra_s4ext: Mapping[str, str] | None = None,
    scm_url: str = "",
    scm: str = "git",
) -> Path:
    """Build one extension package in Slicer's layout and return its path.

    ``kind`` is an archive suffix without its dot, ``"tar.gz"``, ``"zip"``, ``"tar.bz2"``…
    (default: zip for ``os="win"``, tar.gz otherwise). ``modules`` picks among
    ``"scripted"``, ``"cli"``, ``"loadable"``. ``description`` defaults to
    ``"<name>: a test extension."``. ``extra_s4ext`` adds or overrides ``.s4ext`` keys.
    ``scm`` is the repository type written in the file name and the ``.s4ext``.
    See the module docstring for the layout.
    """
    spec = PackageSpec(
        name=name, app_revision=app_revision, os=os, arch=arch, slicer_version=slicer_version,
        scm_revision=scm_revision, date=date, depends=depends, kind=kind, category=category,
        description=description, homepage=homepage, iconurl=iconurl, contributors=contributors,
        screenshots=screenshots, keywords=keywords, modules=modules, payload_size=payload_size,
        extra_s4ext=extra_s4ext, scm_url=scm_url, scm=scm,
    )
    return build_from_spec(dest_dir, spec)
