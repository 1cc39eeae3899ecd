"""Small stand-in Slicer application packages, laid out like the real ones (reference
``slicer-inside.md`` §6), for the demo catalog and the tests.

* Linux: ``Slicer-<version>-linux-<arch>.tar.gz`` with one top folder holding an executable
  ``Slicer`` launcher script, ``bin/SlicerLauncherSettings.ini`` (with ``revision=``, as the
  real launcher settings), ``lib/Slicer-X.Y/`` and ``share/Slicer-X.Y/``. The
  script prints its version and, when ``SLICER_STANDIN_STARTED`` names a file, writes its
  arguments there (so a test can see it was started);
* Windows: ``Slicer-<version>-win-<arch>.exe`` and macOS: ``Slicer-<version>-macosx-<arch>.dmg``
  are opaque bytes (their installers cannot run here; tests stand in for them).

Deterministic: fixed mtimes, sorted entries, no gzip name or time.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

_MTIME = 1735689600  # 2025-01-01

_LAUNCHER = """#!/bin/sh
# Stand-in for Slicer {version} (revision {revision}): not a real Slicer.
if [ -n "$SLICER_STANDIN_STARTED" ]; then
  printf '%s\\n' "Slicer {version} r{revision}" "$@" > "$SLICER_STANDIN_STARTED"
fi
echo "Slicer {version} (stand-in)"
"""


_SETTINGS = """[General]
launcherSplashImagePath=<APPLAUNCHER_DIR>/bin/../share/Slicer/ImageData/SlicerSplashScreen.png

[Application]
path=<APPLAUNCHER_DIR>/bin/./SlicerApp-real
arguments=
name=Slicer
revision={revision}
organizationDomain=slicer.org
organizationName=slicer.org
"""


def package_file_name(version: str, os_name: str, arch: str) -> str:
    suffix = {"linux": ".tar.gz", "win": ".exe", "macosx": ".dmg"}[os_name]
    return f"Slicer-{version}-{os_name}-{arch}{suffix}"


def _add(tf: tarfile.TarFile, name: str, data: bytes | None, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = _MTIME, 0, 0, "root", "root"
    info.mode = mode
    if data is None:
        info.type = tarfile.DIRTYPE
        tf.addfile(info)
    else:
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))


def _padding(size: int, seed: str) -> bytes:
    """Incompressible bytes (so a package really has the size asked for)."""
    return hashlib.shake_256(seed.encode()).digest(size) if size else b""


def build_slicer_package(dest_dir: str | Path, version: str, revision: str, *, os_name: str = "linux",
                         arch: str = "amd64", padding: int = 0) -> Path:
    """Write a stand-in package into ``dest_dir``; ``padding`` adds that many bytes of data."""
    dest = Path(dest_dir) / package_file_name(version, os_name, arch)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if os_name != "linux":
        dest.write_bytes(f"stand-in Slicer {version} r{revision} installer for {os_name}\n".encode()
                         + _padding(padding, dest.name))
        return dest
    top = dest.name[: -len(".tar.gz")]
    xy = ".".join(version.split(".")[:2])
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for folder in ("", "/bin", "/lib", f"/lib/Slicer-{xy}", "/share", f"/share/Slicer-{xy}"):
            _add(tf, top + folder, None, 0o755)
        _add(tf, f"{top}/Slicer", _LAUNCHER.format(version=version, revision=revision).encode(), 0o755)
        _add(tf, f"{top}/bin/SlicerLauncherSettings.ini", _SETTINGS.format(revision=revision).encode(), 0o644)
        _add(tf, f"{top}/share/Slicer-{xy}/version.txt", f"{version} {revision}\n".encode(), 0o644)
        if padding:
            _add(tf, f"{top}/share/Slicer-{xy}/data.bin", _padding(padding, top), 0o644)
    with open(dest, "wb") as out, gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return dest
