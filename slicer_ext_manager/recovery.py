"""Transactions on the install folder: their journal, and finishing or undoing one that a
kill (or a failure) interrupted.

A transaction lives in ``<InstallPath>/.staging/<txid>-<Name>/`` with its journal
``transaction.json``, written durably before the change it describes. The journal
records where the extension's entries were in every settings list it touches
(``Modules/AdditionalPaths``, the launcher arrays, ``Extensions/ScheduledForUninstall``,
the history...), so an undo puts each back in its place.

Commit points (everything before them is undone, everything after is redone):

* install and update: ``<Name>.s4ext`` holds the new description — and the journal
  says the new folder was being moved in (``moved_new``); files, module and launcher
  paths and history are all in place *before* it;
* uninstall: ``<Name>.s4ext`` is gone; paths, scheduled lists and history are
  removed before it, the folder and icons deleted after.

:func:`recover` runs with the install lock held, before every command that reads or
changes the install folder. It also removes temporary files an interrupted atomic write
left (``.<file>.<random>.tmp``) and partial downloads in ``.updates/``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import qtbinding
from .conventions import (
    HISTORY_REVISIONS_GROUP,
    HISTORY_SCHEDULED_FOR_REMOVAL_KEY,
    SCHEDULED_UNINSTALL_KEY,
    SCHEDULED_UPDATE_KEY,
    UPDATES_DIR,
    is_extension_name,
)
from .errors import ExtensionManagerError, InstallError
from .fileutil import atomic_write_bytes, fsync_folder, os_error_text, remove_files, why_not_writable
from .inieditor import UNCHANGED, SettingsEditor, as_list
from .qtbinding import LockError
from .registry import ExtensionRegistry

if TYPE_CHECKING:  # pragma: no cover
    from .context import AppContext

log = logging.getLogger(__name__)

STAGING_DIR = ".staging"
JOURNAL = "transaction.json"
#: What ``fileutil.atomic_write_bytes`` and a probe leave when killed mid-write.
_TEMP_RE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$|^\.slicer-ext-manager-probe-")



def _is_leftover(name: str) -> bool:
    """A file an interrupted write left in the install folder."""
    return bool(_TEMP_RE.match(name))


def _is_update_leftover(name: str) -> bool:
    """... or in its ``.updates/`` (also a scheduled update's partial download)."""
    return _is_leftover(name) or name.endswith(".part")


def _has_leftovers(folder: Path) -> bool:
    """Temporary files an interrupted write left in the install folder (cheap: one listing)."""
    try:
        if any(_is_leftover(name) for name in os.listdir(folder)):
            return True
        updates = folder / UPDATES_DIR
        return updates.is_dir() and any(_is_update_leftover(n) for n in os.listdir(updates))
    except OSError:
        return False


def recovery_needed(context: AppContext, *, settings: bool = True) -> bool:
    """Whether an interrupted run left something to finish or undo: temporary copies beside the
    settings files (``settings``), staging or half-written files in the install folder. A few
    listings, so that a command that only reads never loads the installer for nothing."""
    if settings and any(s.has_leftovers() for s in (context.revision_settings, context.user_settings)):
        return True
    folder = Path(context.install_path)
    return folder.is_dir() and ((folder / STAGING_DIR).exists() or _has_leftovers(folder))


_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def make_install_folder(path: Path) -> None:
    """Create the install folder if needed; one sentence when it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstallError(
            f"The extensions folder {path} does not exist and cannot be created ({os_error_text(exc)}); "
            "choose a writable folder with --install-path or Extensions/InstallPath."
        ) from exc


class InstallLock:
    """Only one process, and one thread of this process, changes an install folder at a time.
    (A ``QLockFile`` held by our own process is never stale, so threads need their own lock.)"""

    def __init__(self, install_path: Path, timeout_ms: int = 60_000):
        make_install_folder(install_path)
        self._path = install_path
        key = str(install_path.resolve())
        with _THREAD_LOCKS_GUARD:
            self._thread_lock = _THREAD_LOCKS.setdefault(key, threading.Lock())
        # Stale only if the owning process is gone.
        self._lock_path = install_path / ".slicer-ext-manager.lock"
        self._lock = qtbinding.FileLock(str(self._lock_path), 0)
        self._timeout = timeout_ms

    def _busy(self) -> InstallError:
        return InstallError(
            "Another program (a second extensions manager, or Slicer) is changing the extensions folder "
            f"{self._path}; wait for it to finish and try again."
        )

    def acquire(self) -> bool:
        """Take the lock; False when another thread or process holds it (raises when it cannot be created)."""
        if self._timeout > 0:
            got = self._thread_lock.acquire(timeout=self._timeout / 1000)
        else:
            got = self._thread_lock.acquire(blocking=False)
        if not got:
            return False
        if self._lock.poll(self._timeout):
            return True
        self._thread_lock.release()
        problem = why_not_writable(self._path)
        if problem or self._lock.error() != LockError.LOCK_FAILED:
            raise InstallError(
                f"The extensions folder {self._path} cannot be changed: its lock file {self._lock_path.name} "
                f"cannot be created ({problem or 'unknown error'}); check that the disk is not full and that "
                "you may write to the folder."
            )
        return False

    def __enter__(self) -> InstallLock:
        if not self.acquire():
            raise self._busy()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._lock.unlock()
        self._thread_lock.release()


def rmtree(path: Path) -> None:
    """Delete a file or folder tree; read-only entries are made writable first."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        def onerror(func: Any, p: str, exc_info: Any) -> None:
            try:
                os.chmod(p, 0o700)
                func(p)
            except OSError:
                pass

        import shutil  # (with zlib, bz2 and lzma: start-up a read-only command does not need)

        shutil.rmtree(path, onerror=onerror)


def write_journal(staging: Path, data: dict[str, Any]) -> None:
    """Durably, before the change it describes (fsync, rename, fsync of the folder)."""
    atomic_write_bytes(staging / JOURNAL, json.dumps(data).encode("utf-8"))
    fsync_folder(staging)


def read_journal(folder: Path) -> dict[str, Any] | None:
    journal = folder / JOURNAL
    try:
        data = json.loads(journal.read_text(encoding="utf-8")) if journal.is_file() else None
    except (OSError, ValueError, RecursionError):
        return None
    if isinstance(data, dict) and is_extension_name(data.get("name")):
        return data
    return None


# -- what a transaction records of the settings ---------------------------------------------------


def _name_entries(values: list[str], name: str) -> list[list[Any]]:
    return [[i, v] for i, v in enumerate(values) if v.strip() == name]


def settings_snapshot(context: AppContext, registry: ExtensionRegistry, name: str) -> dict[str, Any]:
    """Where ``name``'s entries are in every settings list a transaction changes."""
    revision = context.revision_settings.read()
    user = context.user_settings.read()
    history_key = f"{HISTORY_REVISIONS_GROUP}/{context.revision}"
    updates = revision.variant_map(SCHEDULED_UPDATE_KEY)
    return {
        "paths": registry.path_entries(name, revision),
        "scheduled_uninstall": _name_entries(revision.string_list(SCHEDULED_UNINSTALL_KEY), name),
        "scheduled_update": str(updates[name]) if name in updates else None,
        "history": _name_entries(user.string_list(history_key), name),
        "scheduled_removal": _name_entries(user.string_list(HISTORY_SCHEDULED_FOR_REMOVAL_KEY), name),
    }


def _restore_list(editor: SettingsEditor, key: str, name: str, entries: list[list[Any]]) -> None:
    def restore(old: Any) -> Any:
        current = as_list(old)
        result = [v for v in current if v.strip() != name]
        for index, entry in sorted((int(i), str(e)) for i, e in entries):
            result.insert(min(index, len(result)), entry)
        return result if result != current else UNCHANGED

    editor.update(key, restore)


def restore_settings(context: AppContext, registry: ExtensionRegistry, name: str, saved: dict[str, Any]) -> None:
    """Undo: every list as the snapshot found it (entries of others untouched)."""
    with context.revision_settings.edit() as e:
        registry.restore_entries(e, name, saved.get("paths") or {})
        _restore_list(e, SCHEDULED_UNINSTALL_KEY, name, saved.get("scheduled_uninstall") or [])
        if saved.get("scheduled_update"):
            e.set_map_entry(SCHEDULED_UPDATE_KEY, name, saved["scheduled_update"])
        else:
            e.remove_map_entry(SCHEDULED_UPDATE_KEY, name)
    with context.user_settings.edit() as e:
        _restore_list(e, f"{HISTORY_REVISIONS_GROUP}/{context.revision}", name, saved.get("history") or [])
        _restore_list(e, HISTORY_SCHEDULED_FOR_REMOVAL_KEY, name, saved.get("scheduled_removal") or [])


def installed_settings(context: AppContext, registry: ExtensionRegistry, name: str, enabled: bool) -> None:
    """Redo (install/update): paths for the new version, not scheduled for uninstall, in the history."""
    with context.revision_settings.edit() as e:
        registry.sync_paths(e, name, enabled)
        e.remove_from_list(SCHEDULED_UNINSTALL_KEY, lambda item: item.strip() == name)
    with context.user_settings.edit() as e:
        e.add_to_list(f"{HISTORY_REVISIONS_GROUP}/{context.revision}", [name])


def uninstalled_settings(context: AppContext, registry: ExtensionRegistry, name: str) -> None:
    """Redo (uninstall): no paths, not scheduled for anything, out of this revision's history."""
    with context.revision_settings.edit() as e:
        registry.sync_paths(e, name, False)
        e.remove_from_list(SCHEDULED_UNINSTALL_KEY, lambda item: item.strip() == name)
        e.remove_map_entry(SCHEDULED_UPDATE_KEY, name)
    with context.user_settings.edit() as e:
        e.remove_from_list(f"{HISTORY_REVISIONS_GROUP}/{context.revision}", lambda item: item.strip() == name)
        e.remove_from_list(HISTORY_SCHEDULED_FOR_REMOVAL_KEY, lambda item: item.strip() == name)


# -- finishing or undoing one transaction ------------------------------------------------------------


class Recovery:
    """Recovery of one context's install folder (call with the install lock held)."""

    def __init__(self, context: AppContext, registry: ExtensionRegistry):
        self.context = context
        self.registry = registry

    @property
    def install_path(self) -> Path:
        return self.context.install_path

    @property
    def staging_root(self) -> Path:
        return self.install_path / STAGING_DIR

    def committed(self, data: dict[str, Any]) -> bool:
        description = self.registry.description_file(data["name"])
        if data.get("kind") == "uninstall":
            return not description.exists()
        try:
            return bool(data.get("moved_new")) and description.read_text(encoding="utf-8") == data.get("new_description")
        except (OSError, UnicodeDecodeError):
            return False

    def roll_back(self, folder: Path, data: dict[str, Any]) -> str:
        """Put the files back as they were, then every settings entry in its place."""
        name = data["name"]
        target, description = self.install_path / name, self.registry.description_file(name)
        old, old_desc = folder / "old", folder / "old.s4ext"
        if data.get("kind") == "uninstall":
            if old.exists() and not (target.exists() or target.is_symlink()):
                os.replace(old, target)
        else:
            # The target is the new version unless an earlier, interrupted undo already moved
            # the old one back (then it is no longer in staging): never delete that.
            restored = data.get("had_folder", True) and not old.exists()
            if data.get("moved_new") and (target.exists() or target.is_symlink()) and not restored:
                rmtree(target)
            if old.exists():
                os.replace(old, target)
            if old_desc.exists():
                os.replace(old_desc, description)
            elif description.exists() and not data.get("had_description"):
                description.unlink()
        restore_settings(self.context, self.registry, name, data.get("settings") or {})
        verb = "uninstall" if data.get("kind") == "uninstall" else "installation"
        return f"Rolled back the interrupted {verb} of {name}."

    def roll_forward(self, data: dict[str, Any]) -> str:
        name = data["name"]
        if data.get("kind") == "uninstall":
            uninstalled_settings(self.context, self.registry, name)
            for icon in self.registry.icon_files(name):
                icon.unlink(missing_ok=True)
            return f"Finished uninstalling {name}."
        installed_settings(self.context, self.registry, name, bool(data.get("enabled", True)))
        return f"Finished installing {name}."

    def finish(self, folder: Path, data: dict[str, Any]) -> str:
        """Roll one transaction forward or back, then delete its staging folder."""
        note = self.roll_forward(data) if self.committed(data) else self.roll_back(folder, data)
        if (folder / "old").exists() and not self.committed(data):
            return (f"The interrupted change of {data['name']} left its previous version in {folder / 'old'}, "
                    f"but {self.install_path / data['name']} exists too; compare them, keep one, "
                    "and delete the other.")
        discard_transaction(folder)
        return note

    def without_journal(self, folder: Path) -> str:
        """Put a previous version back from a staging folder whose journal is unreadable;
        keep the folder (and say where) when that cannot be done safely."""
        name = folder.name.split("-", 1)[1] if "-" in folder.name else ""
        kept = (f"An interrupted change left {folder}, whose journal cannot be read; it was kept, as it may "
                f"hold the previous version of an extension (folder 'old', description 'old.s4ext').")
        if not is_extension_name(name):
            return kept
        target, description = self.install_path / name, self.registry.description_file(name)
        old, old_desc = folder / "old", folder / "old.s4ext"
        if (old.exists() and (target.exists() or target.is_symlink())) or (old_desc.exists() and description.exists()):
            return kept + f" Compare it with {target} before deleting it."
        if old.exists():
            os.replace(old, target)
        if old_desc.exists():
            os.replace(old_desc, description)
        restored = self.registry.get(name)
        if restored is not None and restored.enabled:
            with self.context.revision_settings.edit() as e:
                self.registry.add_paths(e, name)
        discard_transaction(folder)
        return f"Restored the previous version of {name}: its update had been interrupted."

    def recover(self) -> list[str]:
        """Finish or undo every interrupted transaction; remove stale staging folders and
        temporary files. Returns one line per action taken."""
        actions = [f"Removed {p.name}, left by an interrupted write." for p in self.remove_temporary_files()]
        if not self.staging_root.is_dir():
            return actions
        for folder in sorted(p for p in self.staging_root.iterdir() if p.is_dir()):
            actions.append(self._recover_folder(folder))
        for stray in (p for p in self.staging_root.iterdir() if not p.is_dir()):
            stray.unlink(missing_ok=True)
        try:
            self.staging_root.rmdir()
        except OSError:
            pass
        return [a for a in actions if a]

    def _recover_folder(self, folder: Path) -> str:
        data = read_journal(folder)
        try:
            if data is not None:
                return self.finish(folder, data)
            if (folder / "old").exists() or (folder / "old.s4ext").exists():
                return self.without_journal(folder)  # never delete a previous version
            rmtree(folder)
            return ""
        except (OSError, ExtensionManagerError) as exc:
            what = data["name"] if data else folder.name
            detail = os_error_text(exc) if isinstance(exc, OSError) else str(exc)
            return (f"The interrupted change of {what} could not be finished or undone yet ({detail}); "
                    "it is kept and tried again next time.")

    def remove_temporary_files(self) -> list[Path]:
        removed = remove_files(self.install_path, lambda e: _is_leftover(e.name))
        removed += remove_files(self.install_path / UPDATES_DIR, lambda e: _is_update_leftover(e.name))
        return [Path(p) for p in removed]


def discard_transaction(folder: Path) -> None:
    """Delete a finished transaction: the previous version first, then the journal, then the
    rest; a kill half-way leaves either a journal that is finished again, or no previous
    version (never a previous version without its journal)."""
    rmtree(folder / "old")
    (folder / "old.s4ext").unlink(missing_ok=True)
    (folder / JOURNAL).unlink(missing_ok=True)
    rmtree(folder)
