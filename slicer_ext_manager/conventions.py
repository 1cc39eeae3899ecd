"""Slicer's conventions, written once: every other module imports them from here.

What lives here is what 3D Slicer itself defines and what must therefore never
differ between two places of this project (reference ``slicer-extensions-manager.md``
§2.2, §2.3, §3.1, §4.1, §4.3, §4.4):

* the production server, catalog web site and application id;
* Slicer's names for operating systems and architectures;
* every INI key the manager reads or writes, by file (``Slicer.ini`` = the user
  settings shared by every Slicer version, ``Slicer-<rev>.ini`` = one revision's);
* the extension package file-name grammar (CPack) and the archive formats accepted;
* the package layout: the macOS nesting and which ``.s4ext`` inside a package
  describes it;
* what an extension name and a Slicer revision may look like.

Standard library only, no I/O: importing it costs nothing.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Iterable, Sequence

# -- servers and application ---------------------------------------------------------------------

#: ``Extensions/ServerUrl`` default (the Girder "Slicer Package Manager" server).
DEFAULT_SERVER_URL = "https://slicer-packages.kitware.com"
#: ``Extensions/FrontendServerUrl`` default (the catalog web site Slicer's Install tab shows).
DEFAULT_FRONTEND_SERVER_URL = "https://extensions.slicer.org"
#: The production Slicer application folder id (hard-coded in Slicer's extensions manager).
DEFAULT_APP_ID = "5f4474d0e1d8c75dfc705482"
#: Its name, for ``GET /app?name=``.
DEFAULT_APP_NAME = "Slicer"
#: Environment variables Slicer reads every time it needs the value.
SERVER_URL_ENV = "SLICER_EXTENSIONS_MANAGER_SERVER_URL"
FRONTEND_SERVER_URL_ENV = "SLICER_EXTENSIONS_MANAGER_FRONTEND_SERVER_URL"

#: Organisation folder of the settings (Slicer >= 5.4) and its legacy names (name, macOS domain).
ORGANIZATION_DIR = "slicer.org"
LEGACY_ORGANIZATION_DIRS = ("NA-MIC", "www.na-mic.org")
USER_SETTINGS_FILE = "Slicer.ini"
#: The server-metadata cache inside the install folder.
METADATA_CACHE_FILE = "ExtensionsMetadataFromServer.json"
#: Pending updates inside the install folder (archives and their ``.s4ext``).
UPDATES_DIR = ".updates"

# -- platforms -------------------------------------------------------------------------------------

#: ``Slicer_OS`` values.
OS_NAMES = ("linux", "win", "macosx")
#: ``Slicer_ARCHITECTURE`` values (``arm64`` since 2026; the server plugin's enum is :data:`SERVER_ARCH_ENUM`).
ARCH_NAMES = ("amd64", "arm64", "i386")
#: What ``GET /app/{id}/extension|package`` of the Slicer Package Manager plugin accepts for ``arch``.
SERVER_ARCH_ENUM = ("i386", "amd64")


def current_os() -> str:
    """Slicer's name for the running OS: ``linux``, ``win`` or ``macosx``."""
    if sys.platform.startswith("win"):
        return "win"
    if sys.platform == "darwin":
        return "macosx"
    return "linux"


def current_arch() -> str:
    """Slicer's name for the running architecture: ``amd64``, ``arm64`` or ``i386``."""
    import platform  # here: ~3 ms of start-up that only a default architecture needs

    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "arm64"
    if machine in ("i386", "i686", "x86"):
        return "i386"
    return "amd64"


# -- settings keys ------------------------------------------------------------------------------------
# Revision settings, Slicer-<rev>.ini (reference §2.2, "R").

MANAGER_ENABLED_KEY = "Extensions/ManagerEnabled"
SERVER_URL_KEY = "Extensions/ServerUrl"
FRONTEND_SERVER_URL_KEY = "Extensions/FrontendServerUrl"
INSTALL_PATH_KEY = "Extensions/InstallPath"
METADATA_UPDATE_TIME_KEY = "Extensions/MetadataFromServerUpdateTime"
METADATA_URL_KEY = "Extensions/MetadataFromServerUrl"
UPDATES_AVAILABLE_KEY = "Extensions/UpdatesAvailable"
SCHEDULED_UNINSTALL_KEY = "Extensions/ScheduledForUninstall"
#: A QVariantMap name -> absolute path of the downloaded archive (``@Variant(...)`` in the file).
SCHEDULED_UPDATE_KEY = "Extensions/ScheduledForUpdate"
ADDITIONAL_PATHS_KEY = "Modules/AdditionalPaths"
#: Launcher arrays (CTK AppLauncher reads them), each ``N\path=...`` with ``size=N``.
LAUNCHER_ARRAYS = ("LibraryPaths", "Paths", "PYTHONPATH", "QT_PLUGIN_PATH")
LAUNCHER_ARRAY_FIELD = "path"

# User settings, Slicer.ini ("U").

AUTO_UPDATE_CHECK_KEY = "Extensions/AutoUpdateCheck"
AUTO_UPDATE_INSTALL_KEY = "Extensions/AutoUpdateInstall"
AUTO_INSTALL_DEPENDENCIES_KEY = "Extensions/AutoInstallDependencies"
AUTO_UPDATE_FREQUENCY_KEY = "Extensions/AutoUpdateFrequencyMinutes"
DEFAULT_UPDATE_FREQUENCY_MINUTES = 24 * 60
BOOKMARKED_KEY = "Extensions/Bookmarked"
#: Legacy (Slicer 4.10 - 5.0.2), kept current by this project so Restore works for everyone.
HISTORY_REVISIONS_GROUP = "ExtensionsHistory/Revisions"
HISTORY_SCHEDULED_FOR_REMOVAL_KEY = "ExtensionsHistory/ScheduledForRemoval"
#: The Restore tab's two options (legacy keys; ``dontCheck`` is stored inverted).
STARTUP_DONT_CHECK_KEY = "ExtensionCheckOnStartup/dontCheck"
STARTUP_SILENT_INSTALL_KEY = "ExtensionCheckOnStartup/ifCheckInstallWithoutDialog"
#: ``qSlicerApplication::confirmRestart``'s "don't ask again" answer.
DONT_CONFIRM_RESTART_KEY = "MainWindow/DontConfirmRestart"

#: ``<InstallPath>/<Name>-icon.<ext>``: the icon Slicer downloads for an installed extension.
ICON_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".bmp", ".ico", ".webp")


def icon_file_names(name: str) -> tuple[str, ...]:
    """The exact file names an extension's icon may have in the install folder."""
    return tuple(f"{name}-icon{suffix}" for suffix in ICON_SUFFIXES)


# -- names ---------------------------------------------------------------------------------------------

_EXTENSION_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
#: Longest extension name accepted (real ones are under 40 characters).
MAX_EXTENSION_NAME = 128
_REVISION_RE = re.compile(r"^[0-9]{1,12}$")


def is_extension_name(name: object) -> bool:
    """An extension name is an identifier: letters, digits, ``_`` and ``-``, not starting
    with ``-``; so never a path (``/``, ``\\``, ``..``), a glob pattern or an option."""
    return isinstance(name, str) and len(name) <= MAX_EXTENSION_NAME and bool(_EXTENSION_NAME_RE.match(name))


def invalid_name_sentence(name: object, where: str = "") -> str:
    """The one sentence for a name that is not an extension name."""
    origin = f" in {where}" if where else ""
    shown = repr(name) if not isinstance(name, str) else repr(name[:80] + ("…" if len(name) > 80 else ""))
    return (f"{shown}{origin} is not a valid extension name: extension names use only letters, digits, "
            "'_' and '-', and do not start with '-'.")


def is_revision(revision: object) -> bool:
    """A Slicer revision is a number (``33241``)."""
    return isinstance(revision, str) and bool(_REVISION_RE.match(revision))


def revision_sort_key(revision: str) -> tuple[int, int, str]:
    """Numeric order; non-numeric revisions sort first (Slicer gave them -1, -2...)."""
    return (1, int(revision), "") if revision.isdigit() else (0, 0, revision)


# -- package files (CPack) -----------------------------------------------------------------------------

#: Archive formats accepted for extension packages: suffix -> (container, compression).
#: The content decides in the end (``archive`` detects it from the first bytes).
ARCHIVE_FORMATS = {
    ".tar.gz": ("tar", "gz"),
    ".tgz": ("tar", "gz"),
    ".tar.bz2": ("tar", "bz2"),
    ".tbz2": ("tar", "bz2"),
    ".tar.xz": ("tar", "xz"),
    ".txz": ("tar", "xz"),
    ".tar": ("tar", None),
    ".zip": ("zip", None),
}
ARCHIVE_SUFFIXES = tuple(ARCHIVE_FORMATS)
#: The file dialog filter of "Install from file" (Slicer's, plus the formats we add).
ARCHIVE_FILE_FILTER = "Extension packages (" + " ".join(f"*{s}" for s in ARCHIVE_SUFFIXES) + ")"
#: Repository types Slicer's build writes before the short revision (``git1a2b3c4``).
SCM_TYPES = ("git", "svn", "hg", "local")

_PACKAGE_NAME_RE = re.compile(
    r"^(?P<rev>[^-]+)-(?P<os>[^-]+)-(?P<arch>[^-]+)-(?P<name>.+?)"
    r"-(?P<scm>[^-]*)-(?P<date>\d{4}-\d{2}-\d{2})$"
)
_SCM_RE = re.compile(r"^(" + "|".join(SCM_TYPES) + r")(.*)$")


def archive_suffix(file_name: str) -> str:
    """The archive suffix of ``file_name`` (``.tar.gz``…), or ``""``."""
    lower = file_name.lower()
    return next((s for s in ARCHIVE_SUFFIXES if lower.endswith(s)), "")


@dataclass(frozen=True)
class PackageName:
    """The fields of a CPack extension package name,
    ``<app_revision>-<os>-<arch>-<extension_name>-<scm><scm_revision>-<date>.<suffix>``."""

    app_revision: str
    os: str
    arch: str
    extension_name: str
    scm: str
    scm_revision: str
    date: str
    suffix: str

    @property
    def base(self) -> str:
        """The name without suffix (also the package's top folder)."""
        return (f"{self.app_revision}-{self.os}-{self.arch}-{self.extension_name}-"
                f"{self.scm}{self.scm_revision}-{self.date}")

    @property
    def file_name(self) -> str:
        return self.base + self.suffix


def parse_package_name(file_name: str) -> PackageName | None:
    """Parse ``30987-linux-amd64-ImageMaker-git6293f99-2017-07-03.tar.gz``.

    Revision, os and arch are taken from the front, date and scm revision from the back,
    so an extension name containing ``-`` still parses. Only the directory-less name is
    looked at. ``None`` for any other name.
    """
    name = re.split(r"[\\/]", file_name)[-1]
    suffix = archive_suffix(name)
    if not suffix:
        return None
    match = _PACKAGE_NAME_RE.match(name[: -len(suffix)])
    if not match:
        return None
    scm_full = match.group("scm")
    scm_match = _SCM_RE.match(scm_full)
    scm, scm_revision = (scm_match.group(1), scm_match.group(2)) if scm_match else ("", scm_full)
    return PackageName(match.group("rev"), match.group("os"), match.group("arch"), match.group("name"),
                       scm, scm_revision, match.group("date"), name[len(name) - len(suffix):])


def package_file_name(app_revision: str, os_name: str, arch: str, extension_name: str, scm: str,
                      scm_revision: str, date: str, suffix: str = "") -> str:
    """The CPack name Slicer's build gives a package (``.zip`` on Windows, ``.tar.gz`` elsewhere)."""
    suffix = suffix or (".zip" if os_name == "win" else ".tar.gz")
    return PackageName(app_revision, os_name, arch, extension_name, scm, scm_revision, date, suffix).file_name


# -- package layout -----------------------------------------------------------------------------------

_SHARE_DESCRIPTION_RE = re.compile(r"(?:^|/)share/Slicer-([^/]+)/[^/]+\.s4ext$")


def macos_nesting(app_revision: str, extension_name: str) -> tuple[str, str, str, str]:
    """Where a macOS package keeps the extension under its top folder
    (``Slicer.app/Contents/Extensions-<rev>/<Name>``)."""
    return ("Slicer.app", "Contents", f"Extensions-{app_revision}", extension_name)


def macos_revision(member_parts: Sequence[str]) -> str | None:
    """The app revision of a macOS-nested member path (``<top>/Slicer.app/Contents/Extensions-<rev>/...``),
    ``""`` when the folder has no revision, ``None`` when the path is not nested that way."""
    if len(member_parts) > 4 and member_parts[1] == "Slicer.app" and member_parts[2] == "Contents" \
            and member_parts[3].startswith("Extensions-"):
        return member_parts[3][len("Extensions-"):]
    return None


def is_preferred_description(member: str) -> bool:
    """``share/Slicer-X.Y/<Name>.s4ext``: the description file Slicer's packaging writes."""
    return bool(_SHARE_DESCRIPTION_RE.search(member))


def description_slicer_version(member: str) -> str | None:
    """``X.Y`` of a ``share/Slicer-X.Y/<Name>.s4ext`` member, else None."""
    match = _SHARE_DESCRIPTION_RE.search(member)
    return match.group(1) if match else None


def choose_description(members: Iterable[str]) -> str | None:
    """Which ``.s4ext`` of a package describes it: the first under ``share/Slicer-X.Y/``,
    else the first ``*.s4ext`` at all (members in archive order)."""
    fallback = None
    for member in members:
        if not member.endswith(".s4ext"):
            continue
        if is_preferred_description(member):
            return member
        if fallback is None:
            fallback = member
    return fallback


def extension_name_of_description(member: str) -> str:
    """The extension name Slicer derives from a description file: the base name before its first dot."""
    return re.split(r"[\\/]", member)[-1].split(".", 1)[0]
