"""The application context: which Slicer build and which profile we are managing.

Resolution order (each value overridable from the command line and the Python API):

* settings dir: ``settings_dir`` / env ``SLICER_EXT_MANAGER_SETTINGS_DIR`` / the
  platform location of Slicer's organisation folder (``slicer.org``; legacy
  ``NA-MIC`` when only that exists);
* revision: explicit, else the revision of the ``Slicer-<rev>.ini`` given or of the
  only one found;
* os/arch: explicit, else the running platform;
* install path: explicit, else ``Extensions/InstallPath`` (relative to Slicer home),
  else ``<dir of Slicer-<rev>.ini>/Extensions-<rev>``;
* server: explicit, env ``SLICER_EXTENSIONS_MANAGER_SERVER_URL``,
  ``Extensions/ServerUrl``, else the production server.

This module never touches the network: an ``app_name`` is resolved later by the
server client.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ContextError
from .settings import SettingsFile, to_home_absolute

DEFAULT_SERVER_URL = "https://slicer-packages.kitware.com"
DEFAULT_APP_ID = "5f4474d0e1d8c75dfc705482"
ORGANIZATION_DIR = "slicer.org"
LEGACY_ORGANIZATION_DIRS = ("NA-MIC", "www.na-mic.org")
SETTINGS_DIR_ENV = "SLICER_EXT_MANAGER_SETTINGS_DIR"
SERVER_URL_ENV = "SLICER_EXTENSIONS_MANAGER_SERVER_URL"
SLICER_HOME_ENV = "SLICER_HOME"

_REVISION_FILE = re.compile(r"^Slicer-(?P<rev>[^-]+)\.ini$")


def current_os() -> str:
    """Slicer's name for the running OS: ``linux``, ``win`` or ``macosx``."""
    if sys.platform.startswith("win"):
        return "win"
    if sys.platform == "darwin":
        return "macosx"
    return "linux"


def current_arch() -> str:
    """Slicer's name for the running architecture: ``amd64`` or ``arm64``."""
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "arm64"
    if machine in ("i386", "i686", "x86"):
        return "i386"
    return "amd64"


def default_settings_dir() -> Path:
    """Where Slicer keeps ``Slicer.ini`` for this user.

    Linux and macOS: ``~/.config/slicer.org`` (Qt's IniFormat uses ``~/.config`` on
    macOS too); Windows: ``%APPDATA%\\slicer.org``. Slicer ≤ 5.2 used ``NA-MIC``
    (``www.na-mic.org`` on macOS): that folder is used when ``slicer.org`` is absent.
    """
    if sys.platform.startswith("win"):
        import platformdirs

        base = Path(platformdirs.user_config_dir(appname=None, appauthor=False, roaming=True))
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    candidate = base / ORGANIZATION_DIR
    if candidate.is_dir():
        return candidate
    for legacy in LEGACY_ORGANIZATION_DIRS:
        if (base / legacy).is_dir():
            return base / legacy
    return candidate


def revision_from_settings_file(path: Path) -> str | None:
    """``Slicer-33241.ini`` → ``33241`` (``Slicer-33241-tmp.ini`` is ignored)."""
    match = _REVISION_FILE.match(path.name)
    return match.group("rev") if match else None


def find_revision_settings_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and revision_from_settings_file(p))


def _looks_like_slicer_home(folder: Path) -> bool:
    return (
        any((folder / "lib").glob("Slicer-*"))
        or (folder / "bin" / "SlicerApp-real").exists()
        or (folder / "bin" / "SlicerApp-real.exe").exists()
        or (folder / "Slicer").is_file()
        or (folder / "Slicer.exe").is_file()
        or (folder.name == "Contents" and (folder / "MacOS").is_dir())
    )


@dataclass(frozen=True)
class AppContext:
    """Everything the core needs to know about the Slicer being managed."""

    revision: str
    os: str
    arch: str
    user_settings_path: Path
    revision_settings_path: Path
    install_path: Path
    server_url: str = DEFAULT_SERVER_URL
    app_id: str = DEFAULT_APP_ID
    app_name: str | None = None
    slicer_version: str | None = None
    slicer_home: Path | None = None
    #: Where each value came from, for ``info-context`` (e.g. ``{"revision": "--revision"}``).
    origins: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def user_settings(self) -> SettingsFile:
        """``Slicer.ini``: shared by every Slicer version of the user."""
        return SettingsFile(self.user_settings_path, slicer_home=self.slicer_home)

    @property
    def revision_settings(self) -> SettingsFile:
        """``Slicer-<rev>.ini``: this revision's settings and the launcher's paths."""
        return SettingsFile(self.revision_settings_path, slicer_home=self.slicer_home)

    @property
    def metadata_cache_path(self) -> Path:
        return self.install_path / "ExtensionsMetadataFromServer.json"

    def with_changes(self, **changes) -> "AppContext":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        return {
            "revision": self.revision,
            "os": self.os,
            "arch": self.arch,
            "slicer_version": self.slicer_version,
            "user_settings": str(self.user_settings_path),
            "revision_settings": str(self.revision_settings_path),
            "slicer_home": str(self.slicer_home) if self.slicer_home else None,
            "install_path": str(self.install_path),
            "server_url": self.server_url,
            "app_id": self.app_id,
            "app_name": self.app_name,
            "origins": dict(self.origins),
        }

    @classmethod
    def resolve(
        cls,
        *,
        settings_dir: str | os.PathLike[str] | None = None,
        user_settings: str | os.PathLike[str] | None = None,
        revision_settings: str | os.PathLike[str] | None = None,
        revision: str | None = None,
        os_name: str | None = None,
        arch: str | None = None,
        install_path: str | os.PathLike[str] | None = None,
        server_url: str | None = None,
        app_id: str | None = None,
        app_name: str | None = None,
        slicer_version: str | None = None,
        slicer_home: str | os.PathLike[str] | None = None,
        environ: dict[str, str] | None = None,
    ) -> "AppContext":
        """Resolve a context from explicit values, the environment and the settings files."""
        env = os.environ if environ is None else environ
        origins: dict[str, str] = {}

        # Slicer home (only needed to map relative paths).
        home: Path | None = None
        if slicer_home:
            home, origins["slicer_home"] = Path(slicer_home).expanduser().resolve(), "explicit"
        elif env.get(SLICER_HOME_ENV):
            home, origins["slicer_home"] = Path(env[SLICER_HOME_ENV]).expanduser().resolve(), SLICER_HOME_ENV

        # Settings dir and Slicer.ini.
        if settings_dir:
            sdir, origins["settings_dir"] = Path(settings_dir).expanduser(), "explicit"
        elif env.get(SETTINGS_DIR_ENV):
            sdir, origins["settings_dir"] = Path(env[SETTINGS_DIR_ENV]).expanduser(), SETTINGS_DIR_ENV
        else:
            sdir, origins["settings_dir"] = default_settings_dir(), "platform default"
        sdir = sdir.resolve()
        if user_settings:
            user_path, origins["user_settings"] = Path(user_settings).expanduser().resolve(), "explicit"
        else:
            user_path, origins["user_settings"] = sdir / "Slicer.ini", "settings dir"

        # Revision and Slicer-<rev>.ini.
        rev_path: Path | None = None
        if revision_settings:
            rev_path = Path(revision_settings).expanduser().resolve()
            origins["revision_settings"] = "explicit"
        search_dirs = [sdir]
        if home is not None:
            search_dirs = [home / ORGANIZATION_DIR, *(home / d for d in LEGACY_ORGANIZATION_DIRS), sdir]
        if revision:
            origins["revision"] = "explicit"
            rev = str(revision)
            if rev_path is None:
                rev_path = next(
                    (d / f"Slicer-{rev}.ini" for d in search_dirs if (d / f"Slicer-{rev}.ini").exists()),
                    sdir / f"Slicer-{rev}.ini",
                )
                origins["revision_settings"] = "settings dir"
        elif rev_path is not None:
            found = revision_from_settings_file(rev_path)
            if not found:
                raise ContextError(
                    f"Cannot tell the Slicer revision from the file name {rev_path.name}; "
                    "pass --revision as well."
                )
            rev, origins["revision"] = found, "revision settings file name"
        else:
            candidates: list[Path] = []
            for folder in search_dirs:
                candidates = find_revision_settings_files(folder)
                if candidates:
                    break
            if len(candidates) != 1:
                listed = ", ".join(p.name for p in candidates) or "none"
                where = " or ".join(str(d) for d in search_dirs)
                raise ContextError(
                    f"Cannot choose the Slicer revision: found {len(candidates)} Slicer-<revision>.ini "
                    f"files in {where} ({listed}); pass --revision (or --revision-settings)."
                )
            rev_path = candidates[0]
            rev = revision_from_settings_file(rev_path) or ""
            origins["revision"] = origins["revision_settings"] = f"only Slicer-<rev>.ini in {rev_path.parent}"

        # A revision file inside <home>/slicer.org tells us Slicer home (portable layout).
        if (
            home is None
            and rev_path.parent.name in (ORGANIZATION_DIR, *LEGACY_ORGANIZATION_DIRS)
            and _looks_like_slicer_home(rev_path.parent.parent)
        ):
            home, origins["slicer_home"] = rev_path.parent.parent.resolve(), "parent of the revision settings folder"
        rev_settings = SettingsFile(rev_path, slicer_home=home)

        # Platform.
        os_value = os_name or current_os()
        origins["os"] = "explicit" if os_name else "running platform"
        arch_value = arch or current_arch()
        origins["arch"] = "explicit" if arch else "running platform"
        if os_value not in ("linux", "win", "macosx"):
            raise ContextError(f"Unknown operating system {os_value!r}; use linux, win or macosx.")

        # Install path.
        if install_path:
            ipath, origins["install_path"] = Path(install_path).expanduser().resolve(), "explicit"
        else:
            stored = rev_settings.string("Extensions/InstallPath") if rev_path.exists() else ""
            if stored:
                absolute = to_home_absolute(stored, home)
                if not Path(absolute).is_absolute():
                    # Relative but Slicer home unknown: Slicer resolves it against its home,
                    # which for the portable layout is the parent of the settings folder.
                    absolute = str((rev_path.parent.parent / stored).resolve())
                ipath, origins["install_path"] = Path(absolute), "Extensions/InstallPath"
            else:
                ipath, origins["install_path"] = rev_path.parent / f"Extensions-{rev}", "default"

        # Server.
        if server_url:
            url, origins["server_url"] = server_url, "explicit"
        elif env.get(SERVER_URL_ENV):
            url, origins["server_url"] = env[SERVER_URL_ENV], SERVER_URL_ENV
        else:
            stored = rev_settings.string("Extensions/ServerUrl") if rev_path.exists() else ""
            if stored:
                url, origins["server_url"] = stored, "Extensions/ServerUrl"
            else:
                url, origins["server_url"] = DEFAULT_SERVER_URL, "default"
        url = url.strip().rstrip("/")

        # Slicer version X.Y (lib/Slicer-X.Y): explicit, or from Slicer home.
        version = slicer_version
        if version:
            origins["slicer_version"] = "explicit"
        elif home is not None:
            libs = sorted((home / "lib").glob("Slicer-*")) if (home / "lib").is_dir() else []
            if libs:
                version = libs[-1].name.split("-", 1)[1]
                origins["slicer_version"] = "Slicer home lib folder"

        if app_id:
            origins["app_id"] = "explicit"
        return cls(
            revision=rev,
            os=os_value,
            arch=arch_value,
            user_settings_path=user_path,
            revision_settings_path=rev_path,
            install_path=ipath,
            server_url=url,
            app_id=app_id or DEFAULT_APP_ID,
            app_name=app_name,
            slicer_version=version,
            slicer_home=home,
            origins=origins,
        )
