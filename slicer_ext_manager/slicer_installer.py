"""Install a Slicer application and have its first start already carry your extensions.

1. **download** the package into a cache folder: streamed, sha512-verified, resumable;
2. **install** it per OS (reference ``slicer-inside.md`` §6) — Linux: safe extraction of
   the ``.tar.gz`` into a staging folder beside ``DEST``, renamed into place at the end;
   Windows: the NSIS installer run silently (``/S /D=<dir>``, ``/D`` last and unquoted);
   macOS: ``hdiutil attach -nobrowse -readonly``, ``Slicer.app`` copied, image detached;
3. **extensions**: the new Slicer's revision settings (``<home>/slicer.org/Slicer-<rev>.ini``)
   and install folder (``<home>/slicer.org/Extensions-<rev>``; on macOS
   ``Slicer.app/Contents/Extensions-<rev>``, which Slicer forces there) get the extensions of
   the current Slicer (installed, history and bookmarks) built for the new revision;
4. **launch** the new Slicer on request.

Processes (installer, ``hdiutil``, the new Slicer) are started through a :class:`Runner`, so
tests stand in for the Windows and macOS steps, which cannot run here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from . import archive
from .conventions import ORGANIZATION_DIR
from .errors import CancelledError, InstallError
from .slicer_builds import SlicerBuild

Command = Union[Sequence[str], str]
ProgressFunction = Callable[[int, Optional[int]], bool]
#: How long a silent Windows installer may take ("several minutes").
INSTALLER_TIMEOUT = 30 * 60


class Runner:
    """Starts processes; tests replace it."""

    def run(self, command: Command, *, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    def launch(self, command: Sequence[str]) -> None:
        kwargs: dict = {"start_new_session": True} if os.name != "nt" else {}
        subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, **kwargs)


@dataclass(frozen=True)
class SlicerLayout:
    """Where an installed Slicer of one revision keeps its files."""

    os: str
    root: Path  # DEST: the Slicer folder (Linux, Windows) or the ``.app`` bundle (macOS)
    revision: str

    @property
    def home(self) -> Path:
        """Slicer home (``slicer.app.slicerHome``)."""
        return self.root / "Contents" if self.os == "macosx" else self.root

    @property
    def executable(self) -> Path:
        if self.os == "win":
            return self.home / "Slicer.exe"
        if self.os == "macosx":
            return self.home / "MacOS" / "Slicer"
        return self.home / "Slicer"

    @property
    def revision_settings(self) -> Path:
        return self.home / ORGANIZATION_DIR / f"Slicer-{self.revision}.ini"

    @property
    def install_path(self) -> Path:
        """Where that Slicer looks for extensions by default (forced there on macOS)."""
        if self.os == "macosx":
            return self.home / f"Extensions-{self.revision}"
        return self.home / ORGANIZATION_DIR / f"Extensions-{self.revision}"

    def launch_command(self) -> list[str]:
        if self.os == "macosx":
            return ["open", "-n", str(self.root)]
        return [str(self.executable)]


def default_destination(build: SlicerBuild, current_home: Path | None) -> Path:
    """Beside the current Slicer when its home is known, else the platform's usual place:
    ``%LOCALAPPDATA%\\slicer.org\\Slicer X.Y.Z`` (the installer's default), ``~/Applications``
    on macOS, ``~/slicer.org`` on Linux."""
    name = f"Slicer {build.version}" if build.os == "win" else f"Slicer-{build.version}-{build.os}-{build.arch}"
    if build.os == "macosx":
        name = f"Slicer-{build.version}.app"
    if current_home is not None:
        parent = current_home.parent.parent if current_home.name == "Contents" else current_home.parent
        return parent / name
    if build.os == "win":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / ORGANIZATION_DIR
    elif build.os == "macosx":
        base = Path.home() / "Applications"
    else:
        base = Path.home() / ORGANIZATION_DIR
    return base / name


def windows_command(installer: Path, dest: Path) -> str:
    """NSIS silent install: ``/D=`` must come last and unquoted (spaces included)."""
    return f'"{installer}" /S /D={dest}'


def check_destination(dest: Path, force: bool) -> None:
    """``dest`` is free (or ``force``) and its parent folder can be made."""
    if (dest.exists() or dest.is_symlink()) and not force:
        raise InstallError(f"{dest} already exists; choose another folder with --dest, or use --force to replace it.")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstallError(f"The folder {dest.parent} cannot be created ({exc.strerror or exc}); "
                           "choose a writable folder with --dest.") from exc


def _replace(staged: Path, dest: Path) -> None:
    """Move ``staged`` to ``dest``; an existing ``dest`` (``--force``) is removed only after."""
    old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
    if dest.exists() or dest.is_symlink():
        os.replace(dest, old)
    try:
        os.replace(staged, dest)
    except OSError:
        if old.exists():
            os.replace(old, dest)
        raise
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def install_linux(package: Path, dest: Path, *, force: bool, cancel: Callable[[], bool] | None,
                  progress: Callable[[int, int], None] | None) -> None:
    """Extract the tarball safely next to ``dest`` and rename its top folder to ``dest``."""
    check_destination(dest, force)
    staging = dest.with_name(f".{dest.name}.partial-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    try:
        top = archive.extract_application(package, staging, cancel=cancel, progress=progress)
        if not (top / "Slicer").is_file():
            raise InstallError(f"{package.name} does not contain a Slicer launcher (Slicer); it is not a Slicer "
                               "package for Linux.")
        _replace(top, dest)
    except OSError as exc:
        raise InstallError(f"Slicer could not be installed into {dest} ({exc.strerror or exc}); check free disk "
                           "space and permissions. Nothing was left there.") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def install_windows(package: Path, dest: Path, *, force: bool, runner: Runner) -> None:
    check_destination(dest, force)
    existed = dest.exists()
    result = runner.run(windows_command(package, dest), timeout=INSTALLER_TIMEOUT)
    if result.returncode != 0 or not SlicerLayout("win", dest, "").executable.is_file():
        if not existed:
            shutil.rmtree(dest, ignore_errors=True)
        raise InstallError(f"The Slicer installer {package.name} failed (exit code {result.returncode}); nothing "
                           f"was left in {dest}. Run it by hand to see why.")


def install_macos(package: Path, dest: Path, *, force: bool, runner: Runner) -> None:
    check_destination(dest, force)
    mount = dest.with_name(f".{dest.name}.mount-{uuid.uuid4().hex[:8]}")
    staged = dest.with_name(f".{dest.name}.partial-{uuid.uuid4().hex[:8]}")
    mount.mkdir()
    attached = runner.run(["hdiutil", "attach", "-nobrowse", "-readonly", "-mountpoint", str(mount), str(package)],
                          timeout=600)
    if attached.returncode != 0:
        mount.rmdir()
        raise InstallError(f"The disk image {package.name} could not be opened (hdiutil: "
                           f"{(attached.stderr or '').strip()[:200] or attached.returncode}).")
    try:
        apps = sorted(p for p in mount.glob("*.app") if p.is_dir())
        if not apps:
            raise InstallError(f"The disk image {package.name} holds no Slicer.app.")
        shutil.copytree(apps[0], staged, symlinks=True)
        _replace(staged, dest)
    except OSError as exc:
        raise InstallError(f"Slicer.app could not be copied to {dest} ({exc.strerror or exc}); check free disk "
                           "space and permissions. Nothing was left there.") from exc
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        runner.run(["hdiutil", "detach", str(mount)], timeout=120)
        try:
            mount.rmdir()
        except OSError:
            pass


def install_package(build: SlicerBuild, package: Path, dest: Path, *, force: bool, runner: Runner,
                    cancel: Callable[[], bool] | None = None,
                    progress: Callable[[int, int], None] | None = None) -> SlicerLayout:
    """Install the downloaded ``package`` of ``build`` into ``dest``; its layout."""
    if cancel is not None and cancel():
        raise CancelledError("Installing Slicer was cancelled.")
    if build.os == "linux":
        install_linux(package, dest, force=force, cancel=cancel, progress=progress)
    elif build.os == "win":
        install_windows(package, dest, force=force, runner=runner)
    elif build.os == "macosx":
        install_macos(package, dest, force=force, runner=runner)
    else:  # pragma: no cover - os names are checked upstream
        raise InstallError(f"Installing Slicer for {build.os!r} is not supported.")
    return SlicerLayout(build.os, dest, build.revision)


def check_runnable_here(build: SlicerBuild) -> None:
    """A package for another OS cannot be installed on this one."""
    here = "win" if sys.platform.startswith("win") else "macosx" if sys.platform == "darwin" else "linux"
    if build.os != here:
        raise InstallError(f"{build.label} is a package for {build.os}; this computer runs {here}. Install it there, "
                           "or copy the downloaded package.")
