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
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from .conventions import (
    DEFAULT_APP_ID,
    DEFAULT_SERVER_URL,
    INSTALL_PATH_KEY,
    LEGACY_ORGANIZATION_DIRS,
    ORGANIZATION_DIR,
    OS_NAMES,
    SERVER_URL_ENV,
    SERVER_URL_KEY,
    USER_SETTINGS_FILE,
    current_arch,
    current_os,
    is_revision,
)
from .errors import ContextError
from .fileutil import StrPath
from .settings import SettingsFile, to_home_absolute
from .versions import newest_version

SETTINGS_DIR_ENV = "SLICER_EXT_MANAGER_SETTINGS_DIR"
SLICER_HOME_ENV = "SLICER_HOME"

_REVISION_FILE = re.compile(r"^Slicer-(?P<rev>[^-]+)\.ini$")
_ARCH_RE = re.compile(r"^[a-z0-9_]{1,16}$")

__all__ = ["AppContext", "DEFAULT_APP_ID", "DEFAULT_SERVER_URL", "current_arch", "current_os",
           "default_settings_dir"]


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


def slicer_version_of_home(home: Path) -> str | None:
    """``X.Y`` of the newest ``<home>/lib/Slicer-X.Y`` folder (by version, not by text)."""
    lib = home / "lib"
    if not lib.is_dir():
        return None
    return newest_version(p.name.split("-", 1)[1] for p in lib.glob("Slicer-*") if p.is_dir())


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
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: Settings objects the host holds for the two files (inside Slicer: ``slicer.app.userSettings()``
    #: and ``slicer.app.revisionUserSettings()``); used instead of fresh ones when given.
    host_user_settings: Any = field(default=None, compare=False, repr=False)
    host_revision_settings: Any = field(default=None, compare=False, repr=False)

    @property
    def user_settings(self) -> SettingsFile:
        """``Slicer.ini``: shared by every Slicer version of the user."""
        return SettingsFile(self.user_settings_path, slicer_home=self.slicer_home,
                            qsettings=self.host_user_settings)

    @property
    def revision_settings(self) -> SettingsFile:
        """``Slicer-<rev>.ini``: this revision's settings and the launcher's paths."""
        return SettingsFile(self.revision_settings_path, slicer_home=self.slicer_home,
                            qsettings=self.host_revision_settings)

    @property
    def metadata_cache_path(self) -> Path:
        from .conventions import METADATA_CACHE_FILE

        return self.install_path / METADATA_CACHE_FILE

    def with_changes(self, **changes: Any) -> AppContext:
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
        settings_dir: StrPath | None = None,
        user_settings: StrPath | None = None,
        revision_settings: StrPath | None = None,
        revision: str | None = None,
        os_name: str | None = None,
        arch: str | None = None,
        install_path: StrPath | None = None,
        server_url: str | None = None,
        app_id: str | None = None,
        app_name: str | None = None,
        slicer_version: str | None = None,
        slicer_home: StrPath | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> AppContext:
        """Resolve a context from explicit values, the environment and the settings files."""
        r = _Resolver(os.environ if environ is None else environ)
        home = r.slicer_home(slicer_home)
        user_path, sdir = r.user_settings(settings_dir, user_settings)
        rev, rev_path = r.revision(revision, revision_settings, _search_dirs(home, sdir), sdir)
        if home is None and rev_path.parent.name in (ORGANIZATION_DIR, *LEGACY_ORGANIZATION_DIRS) \
                and _looks_like_slicer_home(rev_path.parent.parent):
            # A revision file inside <home>/slicer.org tells us Slicer home (portable layout).
            home, r.origins["slicer_home"] = rev_path.parent.parent.resolve(), "parent of the revision settings folder"
        rev_settings = SettingsFile(rev_path, slicer_home=home)
        os_value, arch_value = r.platform(os_name, arch)
        return cls(
            revision=rev,
            os=os_value,
            arch=arch_value,
            user_settings_path=user_path,
            revision_settings_path=rev_path,
            install_path=r.install_path(install_path, rev_settings, rev, home),
            server_url=r.server_url(server_url, rev_settings),
            app_id=r.explicit("app_id", app_id) or DEFAULT_APP_ID,
            app_name=app_name,
            slicer_version=r.slicer_version(slicer_version, home),
            slicer_home=home,
            origins=r.origins,
        )


def _search_dirs(home: Path | None, sdir: Path) -> list[Path]:
    if home is None:
        return [sdir]
    return [home / ORGANIZATION_DIR, *(home / d for d in LEGACY_ORGANIZATION_DIRS), sdir]


class _Resolver:
    """One value at a time, recording where each came from."""

    def __init__(self, environ: Mapping[str, str]):
        self.env = environ
        self.origins: dict[str, str] = {}

    def explicit(self, key: str, value: str | None) -> str | None:
        if value:
            self.origins[key] = "explicit"
        return value

    def slicer_home(self, explicit: StrPath | None) -> Path | None:
        if explicit:
            self.origins["slicer_home"] = "explicit"
            return Path(explicit).expanduser().resolve()
        if self.env.get(SLICER_HOME_ENV):
            self.origins["slicer_home"] = SLICER_HOME_ENV
            return Path(self.env[SLICER_HOME_ENV]).expanduser().resolve()
        return None

    def user_settings(self, settings_dir: StrPath | None,
                      user_settings: StrPath | None) -> tuple[Path, Path]:
        if settings_dir:
            sdir, self.origins["settings_dir"] = Path(settings_dir).expanduser(), "explicit"
        elif self.env.get(SETTINGS_DIR_ENV):
            sdir, self.origins["settings_dir"] = Path(self.env[SETTINGS_DIR_ENV]).expanduser(), SETTINGS_DIR_ENV
        else:
            sdir, self.origins["settings_dir"] = default_settings_dir(), "platform default"
        sdir = sdir.resolve()
        if user_settings:
            self.origins["user_settings"] = "explicit"
            return Path(user_settings).expanduser().resolve(), sdir
        self.origins["user_settings"] = "settings dir"
        return sdir / USER_SETTINGS_FILE, sdir

    def revision(self, revision: str | None, revision_settings: StrPath | None,
                 search_dirs: list[Path], sdir: Path) -> tuple[str, Path]:
        rev_path = Path(revision_settings).expanduser().resolve() if revision_settings else None
        if rev_path is not None:
            self.origins["revision_settings"] = "explicit"
        if revision:
            rev = str(revision).strip()
            if not is_revision(rev):
                raise ContextError(f"{rev!r} is not a Slicer revision: a revision is a number, e.g. 33241.")
            self.origins["revision"] = "explicit"
            if rev_path is None:
                name = f"Slicer-{rev}.ini"
                rev_path = next((d / name for d in search_dirs if (d / name).exists()), sdir / name)
                self.origins["revision_settings"] = "settings dir"
            return rev, rev_path
        if rev_path is not None:
            found = revision_from_settings_file(rev_path)
            if not found or not is_revision(found):
                raise ContextError(
                    f"Cannot tell the Slicer revision from the file name {rev_path.name}; pass --revision as well."
                )
            self.origins["revision"] = "revision settings file name"
            return found, rev_path
        return self._only_revision_file(search_dirs)

    def _only_revision_file(self, search_dirs: list[Path]) -> tuple[str, Path]:
        candidates: list[Path] = []
        for folder in search_dirs:
            candidates = [p for p in find_revision_settings_files(folder)
                          if is_revision(revision_from_settings_file(p) or "")]
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
        self.origins["revision"] = self.origins["revision_settings"] = f"only Slicer-<rev>.ini in {rev_path.parent}"
        return revision_from_settings_file(rev_path) or "", rev_path

    def platform(self, os_name: str | None, arch: str | None) -> tuple[str, str]:
        os_value = os_name or current_os()
        self.origins["os"] = "explicit" if os_name else "running platform"
        arch_value = arch or current_arch()
        self.origins["arch"] = "explicit" if arch else "running platform"
        if os_value not in OS_NAMES:
            raise ContextError(f"Unknown operating system {os_value!r}; use linux, win or macosx.")
        if not _ARCH_RE.match(arch_value):
            raise ContextError(f"{arch_value!r} is not an architecture name; use amd64 or arm64.")
        return os_value, arch_value

    def install_path(self, explicit: StrPath | None, rev_settings: SettingsFile, rev: str,
                     home: Path | None) -> Path:
        if explicit:
            self.origins["install_path"] = "explicit"
            return Path(explicit).expanduser().resolve()
        rev_path = rev_settings.path
        stored = rev_settings.string(INSTALL_PATH_KEY) if rev_path.exists() else ""
        if not stored:
            self.origins["install_path"] = "default"
            return rev_path.parent / f"Extensions-{rev}"
        absolute = to_home_absolute(stored, home)
        if not Path(absolute).is_absolute():
            # Relative but Slicer home unknown: Slicer resolves it against its home,
            # which for the portable layout is the parent of the settings folder.
            absolute = str((rev_path.parent.parent / stored).resolve())
        self.origins["install_path"] = INSTALL_PATH_KEY
        return Path(absolute)

    def server_url(self, explicit: str | None, rev_settings: SettingsFile) -> str:
        if explicit:
            url, self.origins["server_url"] = explicit, "explicit"
        elif self.env.get(SERVER_URL_ENV):
            url, self.origins["server_url"] = self.env[SERVER_URL_ENV], SERVER_URL_ENV
        else:
            stored = rev_settings.string(SERVER_URL_KEY) if rev_settings.path.exists() else ""
            if stored:
                url, self.origins["server_url"] = stored, SERVER_URL_KEY
            else:
                url, self.origins["server_url"] = DEFAULT_SERVER_URL, "default"
        return url.strip().rstrip("/")

    def slicer_version(self, explicit: str | None, home: Path | None) -> str | None:
        """``X.Y`` (lib/Slicer-X.Y): explicit, or from Slicer home."""
        if explicit:
            self.origins["slicer_version"] = "explicit"
            return explicit
        version = slicer_version_of_home(home) if home is not None else None
        if version:
            self.origins["slicer_version"] = "Slicer home lib folder"
        return version
