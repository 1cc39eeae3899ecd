"""Installed extensions: the ``<InstallPath>/<Name>.s4ext`` registry and the paths
each extension registers in ``Slicer-<rev>.ini``.

As in Slicer, the description file is the source of truth (reference §4.6): a
folder without ``<Name>.s4ext`` is not an installed extension, and an extension's
"enabled" state is its ``enabled`` key plus its module paths being registered.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from . import s4ext
from .context import AppContext
from .conventions import (
    ADDITIONAL_PATHS_KEY,
    LAUNCHER_ARRAYS,
    icon_file_names,
    invalid_name_sentence,
    is_extension_name,
)
from .errors import InstallError
from .inieditor import UNCHANGED, as_list
from .metadata import ExtensionMetadata, to_bool
from .settings import SettingsEditor, clean_path
from .versions import newest_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModulePaths:
    """Absolute paths one extension registers (only folders that exist, §4.9)."""

    additional_paths: tuple[str, ...] = ()
    library_paths: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    python_paths: tuple[str, ...] = ()
    qt_plugin_paths: tuple[str, ...] = ()

    def launcher_arrays(self) -> dict[str, tuple[str, ...]]:
        return {
            "LibraryPaths": self.library_paths,
            "Paths": self.paths,
            "PYTHONPATH": self.python_paths,
            "QT_PLUGIN_PATH": self.qt_plugin_paths,
        }


@dataclass(frozen=True)
class InstalledExtension:
    """One ``<Name>.s4ext`` in the install folder."""

    metadata: ExtensionMetadata
    description_file: Path
    folder: Path

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def revision(self) -> str:
        return self.metadata.revision

    @property
    def enabled(self) -> bool:
        return self.metadata.enabled

    @property
    def installed(self) -> bool:
        return self.metadata.installed


def detect_slicer_version(extension_folder: Path) -> str | None:
    """``X.Y`` of the ``lib/Slicer-X.Y`` (or ``share/Slicer-X.Y``) folder a package contains."""
    for sub in ("lib", "share"):
        base = extension_folder / sub
        if base.is_dir():
            version = newest_version(p.name.split("-", 1)[1] for p in base.glob("Slicer-*") if p.is_dir())
            if version:
                return version
    return None


def module_paths_for(folder: Path, slicer_version: str | None, os_name: str) -> ModulePaths:
    """The paths Slicer registers for an extension installed in ``folder``."""
    version = slicer_version or detect_slicer_version(folder)
    p = folder.as_posix()
    lib = f"{p}/lib/Slicer-{version}" if version else None

    def existing(*candidates: str | None) -> tuple[str, ...]:
        seen: list[str] = []
        for candidate in candidates:
            if candidate and os.path.isdir(candidate):
                cleaned = clean_path(candidate)
                if cleaned not in seen:
                    seen.append(cleaned)
        return tuple(seen)

    if os_name == "win":
        site_packages = [f"{p}/Lib/site-packages"]
    else:
        site_packages = sorted(glob.glob(f"{glob.escape(p)}/lib/python3*/site-packages"))
    return ModulePaths(
        additional_paths=existing(
            f"{p}/cli-modules",
            lib and f"{lib}/cli-modules",
            lib and f"{lib}/qt-loadable-modules",
            lib and f"{lib}/qt-scripted-modules",
        ),
        library_paths=existing(
            f"{p}/bin",
            lib,
            lib and f"{lib}/cli-modules",
            lib and f"{lib}/qt-loadable-modules",
        ),
        paths=existing(lib and f"{lib}/cli-modules", f"{p}/bin"),
        python_paths=existing(
            lib and f"{lib}/qt-scripted-modules",
            lib and f"{lib}/qt-loadable-modules",
            lib and f"{lib}/qt-loadable-modules/Python",
            *site_packages,
        ),
        qt_plugin_paths=existing(f"{p}/lib/QtPlugins"),
    )


#: Largest ``<Name>.s4ext`` read (real ones are under 4 KB).
MAX_DESCRIPTION_BYTES = 1024 * 1024


class ExtensionRegistry:
    """The installed extensions of one context."""

    def __init__(self, context: AppContext, before_read: Optional[Callable[[], Any]] = None):
        self.context = context
        #: Called before the install folder is read (the manager recovers interrupted changes there).
        self.before_read = before_read

    @property
    def install_path(self) -> Path:
        return self.context.install_path

    @staticmethod
    def checked(name: str) -> str:
        """``name`` if it is an extension name; every path built from a name goes through here."""
        if not is_extension_name(name):
            raise InstallError(invalid_name_sentence(name))
        return name

    def description_file(self, name: str) -> Path:
        return self.install_path / f"{self.checked(name)}.s4ext"

    def extension_folder(self, name: str) -> Path:
        return self.install_path / self.checked(name)

    def icon_files(self, name: str) -> list[Path]:
        """``<Name>-icon.<image suffix>`` files present (exact names: never another extension's files)."""
        return [p for p in (self.install_path / f for f in icon_file_names(self.checked(name))) if p.is_file()]

    def _check_folder(self) -> None:
        if self.install_path.exists() and not self.install_path.is_dir():
            raise InstallError(f"The extensions folder {self.install_path} is a file, not a folder; choose a folder "
                               "with --install-path or Extensions/InstallPath.")

    def _load(self, path: Path) -> InstalledExtension | None:
        try:
            if path.stat().st_size > MAX_DESCRIPTION_BYTES:
                log.warning("%s is larger than %d KB, far more than any description file; it was skipped.",
                            path, MAX_DESCRIPTION_BYTES // 1024)
                return None
            data = s4ext.read(path)
        except OSError:
            return None
        meta = ExtensionMetadata.from_model_map(data, installed=to_bool(data.get("installed"), False))
        return InstalledExtension(meta, path, self.install_path / meta.name)

    def descriptions(self) -> list[InstalledExtension]:
        """Every readable ``*.s4ext`` in the install folder (installed or not), sorted like Slicer."""
        if self.before_read is not None:
            self.before_read()
        self._check_folder()
        if not self.install_path.is_dir():
            return []
        files = [p for p in self.install_path.glob("*.s4ext")
                 if is_extension_name(p.name[: -len(".s4ext")]) and p.is_file() and os.access(p, os.R_OK)]
        files.sort(key=lambda p: p.name.lower())
        return [ext for ext in (self._load(p) for p in files) if ext is not None]

    def installed(self) -> list[InstalledExtension]:
        """Extensions whose description says ``installed true``."""
        return [ext for ext in self.descriptions() if ext.installed]

    def names(self) -> list[str]:
        return [ext.name for ext in self.installed()]

    def get(self, name: str) -> InstalledExtension | None:
        if not is_extension_name(name):
            return None
        if self.before_read is not None:
            self.before_read()
        self._check_folder()
        path = self.description_file(name)
        if not path.is_file():
            return None
        ext = self._load(path)
        return ext if ext is not None and ext.installed else None

    def is_installed(self, name: str) -> bool:
        return self.get(name) is not None

    def module_paths(self, name: str) -> ModulePaths:
        return module_paths_for(self.extension_folder(name), self.context.slicer_version, self.context.os)

    # -- settings ----------------------------------------------------------------------------

    def _belongs_to(self, stored: str, name: str) -> bool:
        absolute = self.context.revision_settings.to_absolute(stored)
        folder = clean_path(self.extension_folder(name).as_posix())
        absolute = clean_path(absolute)
        if os.name == "nt":
            absolute, folder = absolute.lower(), folder.lower()
        return absolute == folder or absolute.startswith(folder + "/")

    def registered_paths(self, name: str) -> dict[str, list[str]]:
        """Entries of ``Modules/AdditionalPaths`` and the launcher arrays inside this extension's folder."""
        reader = self.context.revision_settings.read()
        result = {ADDITIONAL_PATHS_KEY: [p for p in reader.string_list(ADDITIONAL_PATHS_KEY) if self._belongs_to(p, name)]}
        for array in LAUNCHER_ARRAYS:
            result[array] = [p for p in reader.array(array) if self._belongs_to(p, name)]
        return result

    def path_entries(self, name: str, reader: Any = None) -> dict[str, list[list[Any]]]:
        """``{"value:Modules/AdditionalPaths" | "array:<name>": [[index, entry], ...]}``: where this
        extension's entries are (a journal records them, so a rollback puts them back in place)."""
        reader = reader or self.context.revision_settings.read()
        lists = {f"value:{ADDITIONAL_PATHS_KEY}": reader.string_list(ADDITIONAL_PATHS_KEY)}
        lists.update({f"array:{array}": reader.array(array) for array in LAUNCHER_ARRAYS})
        return {key: [[i, p] for i, p in enumerate(values) if self._belongs_to(p, name)]
                for key, values in lists.items()}

    def _desired(self, name: str, enabled: bool) -> dict[str, tuple[str, ...]]:
        paths = self.module_paths(name) if enabled else ModulePaths()
        return {f"value:{ADDITIONAL_PATHS_KEY}": paths.additional_paths,
                **{f"array:{array}": values for array, values in paths.launcher_arrays().items()}}

    def sync_paths(self, editor: SettingsEditor, name: str, enabled: bool, *, keep_others: bool = False) -> None:
        """Make the extension's registered entries its existing module and launcher paths
        (``enabled``) or none: entries that stay keep their place, missing ones are appended
        (home-relative), the rest of this extension's are removed (unless ``keep_others``).
        Entries of other extensions and folders are never touched. Merged with the lists as
        they are when the edit is saved."""
        self.checked(name)
        settings = self.context.revision_settings

        def syncing(wanted: tuple[str, ...]) -> Callable[[Any], Any]:
            wanted_clean = [clean_path(p) for p in wanted]

            def sync(old: Any) -> Any:
                current = as_list(old)
                kept = [p for p in current if keep_others or not self._belongs_to(p, name)
                        or clean_path(settings.to_absolute(p)) in wanted_clean]
                present = {clean_path(settings.to_absolute(p)) for p in kept}
                added = [settings.to_relative(p) for p, c in zip(wanted, wanted_clean) if c not in present]
                result = kept + list(dict.fromkeys(added))
                return result if result != current else UNCHANGED
            return sync

        for key, wanted in self._desired(name, enabled).items():
            kind, _, target = key.partition(":")
            if kind == "value":
                editor.update(target, syncing(wanted))
            else:
                editor.update_array(target, syncing(wanted))

    def add_paths(self, editor: SettingsEditor, name: str) -> None:
        """Append the extension's existing module and launcher paths; entries already
        present are kept where they are."""
        self.sync_paths(editor, name, True, keep_others=True)

    def remove_paths(self, editor: SettingsEditor, name: str) -> None:
        """Remove every entry inside the extension's folder; other entries (other
        extensions, the Extension Wizard's own folders) are preserved in order."""
        self.sync_paths(editor, name, False)

    def restore_entries(self, editor: SettingsEditor, name: str, saved: dict[str, list[list[Any]]]) -> None:
        """Put back the entries :meth:`path_entries` recorded, at their places, and remove
        any other entry of this extension (a rollback)."""
        self.checked(name)

        def restoring(entries: list[list[Any]]) -> Callable[[Any], Any]:
            def restore(old: Any) -> Any:
                current = as_list(old)
                result = [p for p in current if not self._belongs_to(p, name)]
                for index, entry in sorted((int(i), str(e)) for i, e in entries):
                    result.insert(min(index, len(result)), entry)
                return result if result != current else UNCHANGED
            return restore

        for key in self._desired(name, False):
            kind, _, target = key.partition(":")
            entries = saved.get(key, [])
            if kind == "value":
                editor.update(target, restoring(entries))
            else:
                editor.update_array(target, restoring(entries))
