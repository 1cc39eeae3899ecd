"""What Slicer does at startup, headless: apply the updates downloaded into ``.updates/``
(``Extensions/ScheduledForUpdate``), then the uninstalls listed in
``Extensions/ScheduledForUninstall``, then the legacy ``ExtensionsHistory/ScheduledForRemoval``.

The lists come from files other programs write, so each entry is checked first: an entry
that is not an extension name (``../Victim``), or an update archive outside ``.updates/``,
is removed from its list and reported as a failure; nothing is deleted or installed for it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import s4ext
from .conventions import (
    HISTORY_SCHEDULED_FOR_REMOVAL_KEY,
    SCHEDULED_UNINSTALL_KEY,
    SCHEDULED_UPDATE_KEY,
    UPDATES_AVAILABLE_KEY,
    invalid_name_sentence,
    is_extension_name,
)
from .errors import ExtensionManagerError, InstallError
from .history import ExtensionsHistory
from .metadata import ExtensionMetadata
from .queue import JobResult, Outcome

if TYPE_CHECKING:  # pragma: no cover
    from .installer import Download, Installer


def _dropped(name: str, key: str, path: Path, reason: str = "") -> JobResult:
    why = reason or invalid_name_sentence(name, f"{key} of {path}")
    return JobResult(str(name)[:80], Outcome.FAILED, f"{why} It was removed from that list; nothing was changed for it.")


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().parent == folder.resolve()
    except OSError:
        return False


def _apply_update(installer: Installer, name: str, archive_text: str) -> JobResult:
    archive_path = Path(archive_text)
    desc = installer.updates_folder() / f"{name}.s4ext"
    if not installer.registry.is_installed(name):
        raise InstallError(f"Failed to update {name} extension: it is not installed")
    if not archive_path.is_file() or not desc.is_file():
        raise InstallError(f"Failed to update {name} extension: the downloaded update is missing")
    meta = ExtensionMetadata.from_model_map(s4ext.read(desc), installed=False)
    result = installer.install_archive(archive_path, meta)
    archive_path.unlink(missing_ok=True)
    desc.unlink(missing_ok=True)
    installer.cancel_scheduled_update(name)
    return JobResult(name, Outcome.UPDATED, f"Successfully updated extension {name}",
                     restart_required=True, revision=result.revision)


def _updates(installer: Installer, say: Callable[[str], None]) -> list[JobResult]:
    settings = installer.context.revision_settings
    entries = {str(k): str(v) for k, v in settings.variant_map(SCHEDULED_UPDATE_KEY).items()}
    results = []
    for name, archive_text in sorted(entries.items()):
        if not is_extension_name(name) or not _inside(Path(archive_text), installer.updates_folder()):
            reason = "" if not is_extension_name(name) else (
                f"The update of {name} in {SCHEDULED_UPDATE_KEY} of {settings.path} is the file {archive_text}, "
                f"which is not in {installer.updates_folder()}.")
            result = _dropped(name, SCHEDULED_UPDATE_KEY, settings.path, reason)
            with settings.edit() as e:
                e.remove_map_entry(SCHEDULED_UPDATE_KEY, name)
        else:
            try:
                result = _apply_update(installer, name, archive_text)
            except ExtensionManagerError as exc:  # keep going with the others
                result = JobResult(name, Outcome.FAILED, str(exc))
        say(result.message)
        results.append(result)
    return results


def _uninstalls(installer: Installer, say: Callable[[str], None]) -> list[JobResult]:
    settings = installer.context.revision_settings
    results = []
    for name in dict.fromkeys(n.strip() for n in settings.string_list(SCHEDULED_UNINSTALL_KEY) if n.strip()):
        try:
            if not is_extension_name(name):
                result = _dropped(name, SCHEDULED_UNINSTALL_KEY, settings.path)
                with settings.edit() as e:
                    e.remove_from_list(SCHEDULED_UNINSTALL_KEY, [name, f" {name}", f"{name} "])
            else:
                if installer.registry.is_installed(name):
                    installer.uninstall(name)
                else:
                    installer.cancel_scheduled_uninstall(name)
                result = JobResult(name, Outcome.UNINSTALLED, f"Successfully uninstalled extension {name}",
                                   restart_required=True)
        except ExtensionManagerError as exc:
            result = JobResult(name, Outcome.FAILED, str(exc))
        say(result.message)
        results.append(result)
    return results


def _legacy_removals(installer: Installer) -> list[JobResult]:
    settings = installer.context.user_settings
    listed = [n.strip() for n in settings.string_list(HISTORY_SCHEDULED_FOR_REMOVAL_KEY) if n.strip()]
    invalid = [n for n in listed if not is_extension_name(n)]
    with settings.edit() as e:
        for name in listed:
            if is_extension_name(name):
                ExtensionsHistory.remove_in(e, name, installer.context.revision)
        if listed:
            wanted = set(listed)
            e.remove_from_list(HISTORY_SCHEDULED_FOR_REMOVAL_KEY, lambda item: item.strip() in wanted)
    return [_dropped(n, HISTORY_SCHEDULED_FOR_REMOVAL_KEY, settings.path) for n in invalid]


def schedule_update(installer: Installer, download: Download) -> JobResult:
    """Keep a downloaded update in ``.updates/`` for the next start, as Slicer stores it."""
    name = installer.registry.checked(download.metadata.name)
    if not installer.registry.is_installed(name):
        raise InstallError(f"{name} is not installed, so it cannot be updated.")
    if name in installer.scheduled_uninstalls():
        raise InstallError(f"{name} is scheduled for uninstall; cancel that first to update it.")
    folder = installer.updates_folder()
    folder.mkdir(parents=True, exist_ok=True)
    archive_path = folder / download.path.name
    if download.path.resolve() != archive_path.resolve():
        shutil.move(str(download.path), archive_path)
    meta = download.metadata.replace(archivename=archive_path.name)
    s4ext.write(folder / f"{name}.s4ext", meta.to_description(installed=False))
    with installer.context.revision_settings.edit() as e:
        e.set_map_entry(SCHEDULED_UPDATE_KEY, name, archive_path.as_posix())
        e.set_value(UPDATES_AVAILABLE_KEY, False)
    return JobResult(name, Outcome.SCHEDULED, f"{name} extension scheduled for update",
                     restart_required=True, revision=meta.revision)


def apply_scheduled(installer: Installer, say: Callable[[str], None]) -> list[JobResult]:
    results = _updates(installer, say) + _uninstalls(installer, say)
    return results + _legacy_removals(installer)
