"""Install, update, uninstall, enable/disable: transactions on the install folder.

Every change goes through a staging folder inside the install path
(``<InstallPath>/.staging/<txid>/``) with a journal, so that a failure or a kill
at any moment leaves either the old state or the new one; :meth:`Installer.recover`
(run before every change) rolls interrupted transactions back, or forward when
they had reached their commit point, and removes stale staging folders.

Commit point of an install or update: writing ``<Name>.s4ext`` — the registry
Slicer reads (reference §4.6). Before it, the previous version is still there
(moved aside, restored on rollback); after it, module paths and history are
brought in line (idempotent, so recovery can redo them).
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import archive, qtbinding, s4ext
from .context import AppContext
from .conventions import (
    HISTORY_SCHEDULED_FOR_REMOVAL_KEY,
    SCHEDULED_UNINSTALL_KEY,
    SCHEDULED_UPDATE_KEY,
    UPDATES_AVAILABLE_KEY,
    UPDATES_DIR,
)
from .errors import InstallError
from .fileutil import atomic_write_bytes, fsync_folder
from .history import ExtensionsHistory
from .metadata import ExtensionMetadata
from .queue import JobContext, JobResult, Outcome, Phase
from .registry import ExtensionRegistry

log = logging.getLogger(__name__)

#: Our transactions' folder inside the install path (same file system: renames are atomic).
STAGING_DIR = ".staging"
JOURNAL = "transaction.json"


def _rmtree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        def onerror(func, p, exc_info):  # read-only files (Windows) must not stop cleanup
            try:
                os.chmod(p, 0o700)
                func(p)
            except OSError:
                pass

        shutil.rmtree(path, onerror=onerror)


@dataclass(frozen=True)
class Download:
    """A package file ready to install, with its server metadata."""

    path: Path
    metadata: ExtensionMetadata


_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


class InstallLock:
    """Only one process, and one thread of this process, changes an install folder at a time.
    (A ``QLockFile`` held by our own process is never stale, so threads need their own lock.)"""

    def __init__(self, install_path: Path, timeout_ms: int = 60_000):
        install_path.mkdir(parents=True, exist_ok=True)
        key = str(install_path.resolve())
        with _THREAD_LOCKS_GUARD:
            self._thread_lock = _THREAD_LOCKS.setdefault(key, threading.Lock())
        # Stale only if the owning process is gone.
        self._lock = qtbinding.FileLock(str(install_path / ".slicer-ext-manager.lock"), 0)
        self._timeout = timeout_ms

    def __enter__(self) -> InstallLock:
        busy = InstallError(
            "Another program (a second extensions manager, or Slicer) is changing the extensions folder; "
            "wait for it to finish and try again."
        )
        if not self._thread_lock.acquire(timeout=self._timeout / 1000):
            raise busy
        if not self._lock.try_lock(self._timeout):
            self._thread_lock.release()
            raise busy
        return self

    def __exit__(self, *exc) -> None:
        self._lock.unlock()
        self._thread_lock.release()


class Installer:
    """Transactions on one context's install folder and settings."""

    def __init__(self, context: AppContext, max_expanded_size: int | None = None):
        self.context = context
        self.registry = ExtensionRegistry(context)
        self.history = ExtensionsHistory(context.user_settings)
        self.max_expanded_size = max_expanded_size
        self._trash: ThreadPoolExecutor | None = None
        self._trash_jobs: list[Future[None]] = []

    @property
    def install_path(self) -> Path:
        return self.context.install_path

    @property
    def staging_root(self) -> Path:
        return self.install_path / STAGING_DIR

    def lock(self) -> InstallLock:
        return InstallLock(self.install_path)

    def check_prerequisites(self) -> None:
        """Slicer's checks, as sentences: install folder usable, settings writable."""
        path = self.install_path
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InstallError(
                f"The extensions folder {path} does not exist and cannot be created ({exc.strerror}); "
                "choose a writable folder with --install-path or Extensions/InstallPath."
            ) from exc
        if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
            raise InstallError(
                f"The extensions folder {path} is not writable; ask your administrator for write access "
                "or choose another folder with --install-path."
            )
        self.context.revision_settings.check_writable()
        self.context.user_settings.check_writable()

    def discard(self, staging: Path | None, *, background: bool = False) -> None:
        """Remove a staging folder, and the staging root when it is empty.

        ``background``: delete on a helper thread (deleting a large download takes
        tens of milliseconds; the next package need not wait). :meth:`flush` waits.
        """
        if staging is None:
            return
        if background:
            if self._trash is None:
                self._trash = ThreadPoolExecutor(max_workers=1, thread_name_prefix="staging-cleanup")
            self._trash_jobs.append(self._trash.submit(_rmtree, staging))
            return
        _rmtree(staging)
        self._remove_empty_root()

    def flush(self) -> None:
        """Wait for background deletions; remove the staging root when empty."""
        jobs, self._trash_jobs = self._trash_jobs, []
        for job in jobs:
            job.result()
        self._remove_empty_root()

    def _remove_empty_root(self) -> None:
        try:
            self.staging_root.rmdir()
        except OSError:
            pass

    def new_staging(self, name: str = "") -> Path:
        """A fresh transaction folder; named after the extension so that recovery knows
        whose previous version it holds even if its journal cannot be read."""
        self.staging_root.mkdir(parents=True, exist_ok=True)
        suffix = f"-{self.registry.checked(name)}" if name else ""
        folder = self.staging_root / (uuid.uuid4().hex[:12] + suffix)
        folder.mkdir()
        return folder

    # -- recovery ----------------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Finish or undo interrupted transactions and remove stale staging folders.
        Returns one line per action taken (for the log). Call with the lock held."""
        actions: list[str] = []
        if not self.staging_root.is_dir():
            return actions
        for folder in sorted(self.staging_root.iterdir()):
            journal = folder / JOURNAL
            try:
                data = json.loads(journal.read_text(encoding="utf-8")) if journal.is_file() else None
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict) and isinstance(data.get("name"), str):
                actions.append(self._recover_one(folder, data))
            elif (folder / "old").exists() or (folder / "old.s4ext").exists():
                # Never delete a previous version because its journal is unreadable.
                note = self._recover_without_journal(folder)
                actions.append(note)
                if not note.startswith("Restored"):
                    continue
            _rmtree(folder)
        try:
            self.staging_root.rmdir()
        except OSError:
            pass
        return [a for a in actions if a]

    def _recover_without_journal(self, folder: Path) -> str:
        """Put a previous version back from a staging folder whose journal is unreadable;
        keep the folder (and say where) when that cannot be done safely."""
        name = folder.name.split("-", 1)[1] if "-" in folder.name else ""
        kept = (f"An interrupted change left {folder}, whose journal cannot be read; it was kept, as it may "
                f"hold the previous version of an extension (folder 'old', description 'old.s4ext').")
        if not name:
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
        return f"Restored the previous version of {name}: its update had been interrupted."

    def _recover_one(self, folder: Path, data: dict) -> str:
        name = data["name"]
        target = self.install_path / name
        description = self.registry.description_file(name)
        new_text = data.get("new_description", "")
        kind = data.get("kind", "install")
        if kind == "uninstall":
            # Commit point: the description file removed. Before it: put the folder back.
            if description.exists():
                old = folder / "old"
                if old.exists() and not target.exists():
                    os.replace(old, target)
                with self.context.revision_settings.edit() as e:
                    if data.get("enabled", True):
                        self.registry.add_paths(e, name)
                return f"Restored {name}: its uninstall had been interrupted."
            with self.context.revision_settings.edit() as e:
                self.registry.remove_paths(e, name)
            return f"Finished uninstalling {name}."
        committed = description.is_file() and description.read_text(encoding="utf-8") == new_text
        if committed:
            self._after_commit(name, data.get("enabled", True))
            return f"Finished installing {name}."
        # Roll back: remove what the new version put in place, restore the old one.
        if data.get("moved_new") and target.exists():
            _rmtree(target)
        old = folder / "old"
        if old.exists():
            os.replace(old, target)
        old_desc = folder / "old.s4ext"
        if old_desc.exists():
            os.replace(old_desc, description)
        elif description.exists() and not data.get("had_old"):
            description.unlink()
        with self.context.revision_settings.edit() as e:
            self.registry.remove_paths(e, name)
            if data.get("had_old") and data.get("old_enabled", True):
                self.registry.add_paths(e, name)
        return f"Rolled back the interrupted installation of {name}."

    # -- install -------------------------------------------------------------------------------------

    def install_archive(
        self,
        package: Path,
        metadata: ExtensionMetadata | None,
        ctx: JobContext | None = None,
        *,
        force: bool = False,
        staging: Path | None = None,
        keep_enabled_state: bool = True,
        discard: bool = True,
    ) -> JobResult:
        """Extract ``package`` and put it in place as extension ``metadata.name``
        (or the name from the archive's ``.s4ext`` for an install from file).

        One decompression pass (:func:`archive.extract_verified`) validates and extracts
        into staging; the name check and, for an install from file, the compatibility
        check on the ``.s4ext`` found in the pass come after it and before the commit.
        """
        staging = staging or self.new_staging(metadata.name if metadata is not None else "")
        try:
            if ctx:
                ctx.phase(Phase.VERIFY, f"Checking {package.name}")
                ctx.phase(Phase.EXTRACT, f"Checking and extracting {metadata.name if metadata else package.name}")
            content_parent = staging / "content"
            content_parent.mkdir()

            def extract_progress(done: int, total: int | None) -> None:
                if ctx:
                    ctx.progress(done, total, Phase.EXTRACT)

            # From file, metadata_for_file refuses another revision with Slicer's reasons.
            check_revision = metadata is not None and not force
            info, root = archive.extract_verified(
                package, content_parent,
                expected_name=metadata.name if metadata is not None else None,
                app_revision=self.context.revision if check_revision else None,
                max_expanded_size=self.max_expanded_size,
                cancel=(lambda: ctx.cancelled) if ctx else None,
                progress=extract_progress,
            )
            if metadata is None:
                metadata = self.metadata_for_file(package, info, force=force)
            name = metadata.name
            if ctx:
                ctx.phase(Phase.REGISTER, f"Registering {name}")
            return self.commit(name, metadata, root, staging, keep_enabled_state=keep_enabled_state)
        finally:
            if discard:
                self.discard(staging)

    def metadata_for_file(self, package: Path, info: archive.PackageInfo, *, force: bool = False) -> ExtensionMetadata:
        """Metadata of an install from file; a package built for another
        revision/os/arch is refused with Slicer's reasons unless ``force``."""
        ctx = self.context
        fields = info.name_fields
        built = ExtensionMetadata(
            name=info.extension_name,
            slicer_revision=(info.macos_revision or (fields.app_revision if fields else "")),
            os=("macosx" if info.macos_revision else (fields.os if fields else "")),
            arch=fields.arch if fields else "",
        )
        reasons = built.compatibility_reasons(ctx.revision, ctx.os, ctx.arch)
        if reasons and not force:
            raise InstallError(
                f"{package.name} was built for another Slicer ({'; '.join(reasons)}); "
                "it was not installed (use --force to install it anyway)."
            )
        return ExtensionMetadata.from_archive_description(
            info.s4ext, name=info.extension_name, archivename=package.name,
            slicer_revision=ctx.revision, os=ctx.os, arch=ctx.arch,
        )

    def _journal(self, staging: Path, data: dict) -> None:
        """Write the journal durably before the change it describes (fsync, then rename)."""
        atomic_write_bytes(staging / JOURNAL, json.dumps(data).encode("utf-8"))
        fsync_folder(staging)

    def commit(self, name: str, metadata: ExtensionMetadata, content: Path, staging: Path, *,
               keep_enabled_state: bool = True) -> JobResult:
        """Move extracted ``content`` into ``<InstallPath>/<name>`` transactionally."""
        target = self.install_path / name
        description = self.registry.description_file(name)
        previous = self.registry.get(name)
        enabled = previous.enabled if (previous and keep_enabled_state) else True
        desc_map = metadata.to_description(installed=True, enabled=enabled)
        new_text = s4ext.format_text(desc_map)
        data = {"kind": "install", "name": name, "had_old": previous is not None,
                "old_enabled": previous.enabled if previous else True, "enabled": enabled,
                "new_description": new_text, "moved_new": False}
        self._journal(staging, data)
        try:
            if target.exists() or target.is_symlink():
                os.replace(target, staging / "old")
            if description.exists():
                os.replace(description, staging / "old.s4ext")
            data["moved_new"] = True
            self._journal(staging, data)
            os.replace(content, target)
            s4ext.write(description, desc_map)  # commit point
        except BaseException as exc:
            self._recover_one(staging, data)
            if isinstance(exc, OSError):
                raise InstallError(
                    f"{name} could not be put in place in {self.install_path} ({exc.strerror or exc}); "
                    "the previous state was kept."
                ) from exc
            raise
        self._after_commit(name, enabled)
        outcome = Outcome.UPDATED if previous else Outcome.INSTALLED
        return JobResult(name, outcome, f"Installed extension {name}" + (
            f" ({metadata.extension_id})" if metadata.extension_id else "") + (
            f" revision {metadata.revision}" if metadata.revision else ""), restart_required=True,
            revision=metadata.revision)

    def _after_commit(self, name: str, enabled: bool) -> None:
        with self.context.revision_settings.edit() as e:
            self.registry.remove_paths(e, name)
            if enabled:
                self.registry.add_paths(e, name)
            scheduled = e.string_list(SCHEDULED_UNINSTALL_KEY)
            if name in scheduled:
                e.set_string_list(SCHEDULED_UNINSTALL_KEY, [n for n in scheduled if n != name])
        with self.context.user_settings.edit() as e:
            ExtensionsHistory.add_in(e, self.context.revision, name)

    # -- uninstall -----------------------------------------------------------------------------------

    def uninstall(self, name: str) -> JobResult:
        """Remove an extension now: paths, description (commit point), folder, icon, history."""
        ext = self.registry.get(name)
        if ext is None:
            raise InstallError(f"{name} is not installed, so it cannot be uninstalled.")
        staging = self.new_staging(name)
        data = {"kind": "uninstall", "name": name, "enabled": ext.enabled}
        self._journal(staging, data)
        target = self.install_path / name
        try:
            if target.exists() or target.is_symlink():
                os.replace(target, staging / "old")
            with self.context.revision_settings.edit() as e:
                self.registry.remove_paths(e, name)
                scheduled = e.string_list(SCHEDULED_UNINSTALL_KEY)
                if name in scheduled:
                    e.set_string_list(SCHEDULED_UNINSTALL_KEY, [n for n in scheduled if n != name])
                updates = e.variant_map(SCHEDULED_UPDATE_KEY)
                if name in updates:
                    updates.pop(name)
                    e.set_variant_map(SCHEDULED_UPDATE_KEY, updates)
            ext.description_file.unlink()  # commit point
        except BaseException:
            self._recover_one(staging, data)
            self.discard(staging)
            raise
        for icon in self.registry.icon_files(name):
            icon.unlink(missing_ok=True)
        with self.context.user_settings.edit() as e:
            ExtensionsHistory.remove_in(e, name, self.context.revision)
            self.history.schedule_removal_in(e, name, False)
        self.discard(staging)
        return JobResult(name, Outcome.UNINSTALLED, f"Uninstalled extension {name}.", restart_required=True)

    def scheduled_uninstalls(self) -> list[str]:
        return self.context.revision_settings.string_list(SCHEDULED_UNINSTALL_KEY)

    def schedule_uninstall(self, name: str) -> JobResult:
        """Slicer's ``scheduleExtensionForUninstall``: listed for the next start, paths removed now."""
        if not self.registry.is_installed(name):
            raise InstallError(f"{name} is not installed, so it cannot be uninstalled.")
        with self.context.revision_settings.edit() as e:
            names = e.string_list(SCHEDULED_UNINSTALL_KEY)
            if name not in names:
                e.set_string_list(SCHEDULED_UNINSTALL_KEY, names + [name])
            updates = e.variant_map(SCHEDULED_UPDATE_KEY)
            if name in updates:
                updates.pop(name)
                e.set_variant_map(SCHEDULED_UPDATE_KEY, updates)
            self.registry.remove_paths(e, name)
        with self.context.user_settings.edit() as e:
            self.history.schedule_removal_in(e, name, True)
        return JobResult(name, Outcome.SCHEDULED, f"{name} will be uninstalled when Slicer restarts.",
                         restart_required=True)

    def cancel_scheduled_uninstall(self, name: str) -> bool:
        with self.context.revision_settings.edit() as e:
            names = e.string_list(SCHEDULED_UNINSTALL_KEY)
            if name not in names:
                return False
            e.set_string_list(SCHEDULED_UNINSTALL_KEY, [n for n in names if n != name])
            ext = self.registry.get(name)
            if ext is not None and ext.enabled:
                self.registry.add_paths(e, name)
        with self.context.user_settings.edit() as e:
            self.history.schedule_removal_in(e, name, False)
        return True

    # -- updates -------------------------------------------------------------------------------------

    def updates_folder(self) -> Path:
        return self.install_path / UPDATES_DIR

    def scheduled_updates(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.context.revision_settings.variant_map(SCHEDULED_UPDATE_KEY).items()}

    def schedule_update(self, download: Download) -> JobResult:
        """Keep a downloaded update in ``.updates/`` for the next start, as Slicer stores it."""
        name = download.metadata.name
        if not self.registry.is_installed(name):
            raise InstallError(f"{name} is not installed, so it cannot be updated.")
        if name in self.scheduled_uninstalls():
            raise InstallError(f"{name} is scheduled for uninstall; cancel that first to update it.")
        folder = self.updates_folder()
        folder.mkdir(parents=True, exist_ok=True)
        archive_path = folder / download.path.name
        if download.path.resolve() != archive_path.resolve():
            shutil.move(str(download.path), archive_path)
        meta = download.metadata.replace(archivename=archive_path.name)
        s4ext.write(folder / f"{name}.s4ext", meta.to_description(installed=False))
        with self.context.revision_settings.edit() as e:
            updates = e.variant_map(SCHEDULED_UPDATE_KEY)
            updates[name] = archive_path.as_posix()
            e.set_variant_map(SCHEDULED_UPDATE_KEY, updates)
            e.set_value(UPDATES_AVAILABLE_KEY, False)
        return JobResult(name, Outcome.SCHEDULED, f"{name} extension scheduled for update",
                         restart_required=True, revision=meta.revision)

    def cancel_scheduled_update(self, name: str) -> bool:
        with self.context.revision_settings.edit() as e:
            updates = e.variant_map(SCHEDULED_UPDATE_KEY)
            if name not in updates:
                return False
            updates.pop(name)
            e.set_variant_map(SCHEDULED_UPDATE_KEY, updates)
        return True

    def apply_scheduled(self, log_line: Callable[[str], None] | None = None) -> list[JobResult]:
        """What Slicer's startup does: apply pending updates, then pending uninstalls
        (and the legacy ``ExtensionsHistory/ScheduledForRemoval``)."""
        results: list[JobResult] = []
        say = log_line or (lambda s: None)
        for name, archive_text in sorted(self.scheduled_updates().items()):
            archive_path = Path(archive_text)
            desc = self.updates_folder() / f"{name}.s4ext"
            try:
                if not self.registry.is_installed(name):
                    raise InstallError(f"Failed to update {name} extension: it is not installed")
                if not archive_path.is_file() or not desc.is_file():
                    raise InstallError(f"Failed to update {name} extension: the downloaded update is missing")
                meta = ExtensionMetadata.from_model_map(s4ext.read(desc), installed=False)
                result = self.install_archive(archive_path, meta)
                result = JobResult(name, Outcome.UPDATED, f"Successfully updated extension {name}",
                                   restart_required=True, revision=result.revision)
                archive_path.unlink(missing_ok=True)
                desc.unlink(missing_ok=True)
                self.cancel_scheduled_update(name)
            except Exception as exc:  # keep going with the others
                result = JobResult(name, Outcome.FAILED, str(exc))
            say(result.message)
            results.append(result)
        for name in list(self.scheduled_uninstalls()):
            try:
                if self.registry.is_installed(name):
                    self.uninstall(name)
                else:
                    self.cancel_scheduled_uninstall(name)
                result = JobResult(name, Outcome.UNINSTALLED, f"Successfully uninstalled extension {name}",
                                   restart_required=True)
            except Exception as exc:
                result = JobResult(name, Outcome.FAILED, str(exc))
            say(result.message)
            results.append(result)
        removal = self.history.scheduled_for_removal()
        with self.context.user_settings.edit() as e:
            for name in removal:
                ExtensionsHistory.remove_in(e, name, self.context.revision)
            if removal or e.contains(HISTORY_SCHEDULED_FOR_REMOVAL_KEY):
                e.set_value(HISTORY_SCHEDULED_FOR_REMOVAL_KEY, "")
        return results

    # -- enable / disable ----------------------------------------------------------------------------

    def set_enabled(self, name: str, enabled: bool) -> bool:
        """Slicer's ``setExtensionEnabled``: paths added/removed, ``.s4ext`` rewritten.
        Enabling an incompatible extension is refused with its reasons."""
        ext = self.registry.get(name)
        if ext is None:
            raise InstallError(f"{name} is not installed.")
        ctx = self.context
        if enabled:
            reasons = ext.metadata.compatibility_reasons(ctx.revision, ctx.os, ctx.arch)
            if reasons:
                raise InstallError(f"{name} cannot be enabled: it is incompatible with this Slicer ({'; '.join(reasons)}).")
        with ctx.revision_settings.edit() as e:
            self.registry.remove_paths(e, name)
            if enabled:
                self.registry.add_paths(e, name)
        if ext.enabled == enabled:
            return False
        data: dict[str, object] = dict(s4ext.read(ext.description_file))
        data["enabled"] = enabled
        s4ext.write(ext.description_file, data)
        return True
