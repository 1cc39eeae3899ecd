"""Install, update, uninstall, enable/disable: transactions on the install folder.

Every change goes through a staging folder inside the install path
(``<InstallPath>/.staging/<txid>-<Name>/``) with a journal, so that a failure or a kill
at any moment leaves either the old state or the new one; ``recovery.py`` rolls
interrupted transactions back, or forward when they had reached their commit point.

Commit point of an install or update: writing ``<Name>.s4ext`` — the registry Slicer
reads (reference §4.6). Everything else (the folder, module and launcher paths, the
history) is in place before it, and both settings files are checked (valid, writable,
lockable) before anything moves; a failure before the commit point undoes it all. The
commit point of an uninstall is deleting ``<Name>.s4ext``.
"""

from __future__ import annotations

import logging
import os
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import archive, s4ext
from .context import AppContext
from .conventions import (
    SCHEDULED_UNINSTALL_KEY,
    SCHEDULED_UPDATE_KEY,
    UPDATES_DIR,
    invalid_name_sentence,
    is_extension_name,
    parse_package_name,
)
from .errors import ExtensionManagerError, InstallError
from .fileutil import os_error_text
from .history import ExtensionsHistory, valid_names
from .metadata import ExtensionMetadata
from .queue import JobContext, JobResult, Outcome, Phase
from .recovery import (
    JOURNAL,
    STAGING_DIR,
    InstallLock,
    Recovery,
    discard_transaction,
    installed_settings,
    make_install_folder,
    read_journal,
    recovery_needed,
    rmtree,
    settings_snapshot,
    uninstalled_settings,
    write_journal,
)
from .registry import ExtensionRegistry

log = logging.getLogger(__name__)

__all__ = ["JOURNAL", "STAGING_DIR", "Download", "InstallLock", "Installer"]

_rmtree = rmtree  # the name older tests patch


@dataclass(frozen=True)
class Download:
    """A package file ready to install, with its server metadata."""

    path: Path
    metadata: ExtensionMetadata


def _file_error(name: str, action: str, exc: OSError, install_path: Path) -> InstallError:
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    return InstallError(
        f"{name} could not be {action}: {os_error_text(exc)}{where}; the previous state was kept. Check that the "
        f"disk is not full and that you may write to {install_path}, then try again."
    )


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

    def lock(self, timeout_ms: int = 60_000) -> InstallLock:
        return InstallLock(self.install_path, timeout_ms)

    def check_prerequisites(self) -> None:
        """Slicer's checks, as sentences: install folder usable, settings writable."""
        path = self.install_path
        if path.exists() and not path.is_dir():
            raise InstallError(f"The extensions folder {path} is a file, not a folder; choose a folder with "
                               "--install-path or Extensions/InstallPath.")
        make_install_folder(path)
        if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
            raise InstallError(
                f"The extensions folder {path} is not writable; ask your administrator for write access "
                "or choose another folder with --install-path."
            )
        self.context.revision_settings.check_writable()
        self.context.user_settings.check_writable()

    def check_settings(self) -> None:
        """Before a commit point: both settings files valid, writable, with room, and lockable."""
        self.context.revision_settings.check_editable()
        self.context.user_settings.check_editable()

    def discard(self, staging: Path | None, *, background: bool = False) -> None:
        """Remove a staging folder, and the staging root when it is empty.

        ``background``: delete on a helper thread (deleting a large download takes
        tens of milliseconds; the next package need not wait). :meth:`flush` waits.
        """
        if staging is None or self._pending(staging):
            return
        if background:
            if self._trash is None:
                self._trash = ThreadPoolExecutor(max_workers=1, thread_name_prefix="staging-cleanup")
            self._trash_jobs.append(self._trash.submit(discard_transaction, staging))
            return
        discard_transaction(staging)
        self._remove_empty_root()

    def _pending(self, staging: Path) -> bool:
        """A transaction whose undo failed (its journal stays for the next run's recovery)."""
        data = read_journal(staging)
        return data is not None and not Recovery(self.context, self.registry).committed(data)

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
        suffix = f"-{self.registry.checked(name)}" if name else ""
        folder = self.staging_root / (uuid.uuid4().hex[:12] + suffix)
        try:
            self.staging_root.mkdir(parents=True, exist_ok=True)
            folder.mkdir()
        except OSError as exc:
            raise _file_error(name or "The package", "prepared", exc, self.install_path) from exc
        return folder

    # -- recovery (recovery.py) ------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Finish or undo interrupted transactions and remove stale staging folders and
        temporary files. Returns one line per action taken (for the log). Call with the lock held."""
        return Recovery(self.context, self.registry).recover()

    def recover_pending(self) -> list[str]:
        """:meth:`recover` if something is left to recover and no other program (or thread) is
        changing the folder now; never waits. For commands that only read the folder."""
        settings = (self.context.revision_settings, self.context.user_settings)
        notes = [f"Removed {p.name}, left by an interrupted save." for s in settings for p in s.remove_leftovers()]
        if not recovery_needed(self.context, settings=False):
            return notes
        lock = self.lock(timeout_ms=0)
        try:
            if not lock.acquire():
                return notes
        except ExtensionManagerError:
            return notes
        try:
            return notes + self.recover()
        finally:
            lock.__exit__()

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
            try:
                content_parent.mkdir()
            except OSError as exc:
                raise _file_error(metadata.name if metadata else package.name, "extracted", exc,
                                  self.install_path) from exc

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
            name = self.registry.checked(metadata.name)
            self.check_settings()
            if ctx:
                ctx.phase(Phase.REGISTER, f"Registering {name}")
            return self.commit(name, metadata, root, staging, keep_enabled_state=keep_enabled_state)
        finally:
            if discard:
                self.discard(staging)

    def metadata_for_file(self, package: Path, info: archive.PackageInfo, *, force: bool = False) -> ExtensionMetadata:
        """Metadata of an install from file; a package built for another revision/os/arch is
        refused with Slicer's reasons unless ``force``; a package whose description is another
        extension's than its name says is always refused."""
        ctx = self.context
        name = info.extension_name
        if not is_extension_name(name):
            raise InstallError(f"{package.name} cannot be installed: "
                               + invalid_name_sentence(name, "its description file"))
        self._check_claimed_name(package, info, force)
        fields = info.name_fields
        built = ExtensionMetadata(
            name=name,
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
            info.s4ext, name=name, archivename=package.name,
            slicer_revision=ctx.revision, os=ctx.os, arch=ctx.arch,
        )

    def _check_claimed_name(self, package: Path, info: archive.PackageInfo, force: bool) -> None:
        """The extension a package file names (its CPack file name, else its top folder) must be
        the one its description describes: otherwise installing it would replace another."""
        name = info.extension_name
        claims = [f.extension_name for f in (parse_package_name(package.name),
                                             parse_package_name((info.top_folder or "") + ".tar.gz")) if f]
        claimed = claims[0] if claims else None
        if claimed is not None and claimed != name:
            raise InstallError(
                f"{package.name} is named as a package of extension {claimed}, but the description file inside "
                f"it is extension {name}'s; it was not installed, so that {name} is not replaced by mistake."
            )
        if claimed is None and self.registry.is_installed(name) and not force:
            raise InstallError(
                f"{package.name} does not say which extension it is (it is not named like "
                f"<revision>-<os>-<arch>-<Name>-<scm><revision>-<date>), and it would replace the installed "
                f"extension {name}; it was not installed (use --force if it really is {name})."
            )

    def commit(self, name: str, metadata: ExtensionMetadata, content: Path, staging: Path, *,
               keep_enabled_state: bool = True) -> JobResult:
        """Move extracted ``content`` into ``<InstallPath>/<name>`` transactionally."""
        target = self.install_path / self.registry.checked(name)
        description = self.registry.description_file(name)
        previous = self.registry.get(name)
        enabled = previous.enabled if (previous and keep_enabled_state) else True
        desc_map = metadata.to_description(installed=True, enabled=enabled)
        data: dict[str, Any] = {
            "kind": "install", "name": name, "had_old": previous is not None, "enabled": enabled,
            "had_folder": target.exists() or target.is_symlink(),
            "had_description": description.exists(), "new_description": s4ext.format_text(desc_map),
            "moved_new": False, "settings": settings_snapshot(self.context, self.registry, name)}
        try:
            write_journal(staging, data)
            if target.exists() or target.is_symlink():
                os.replace(target, staging / "old")
            if description.exists():
                os.replace(description, staging / "old.s4ext")
            data["moved_new"] = True
            write_journal(staging, data)
            os.replace(content, target)
            installed_settings(self.context, self.registry, name, enabled)
            s4ext.write(description, desc_map)  # commit point
        except BaseException as exc:
            self._undo(staging, data, exc)
            if isinstance(exc, OSError):
                raise _file_error(name, "put in place", exc, self.install_path) from exc
            raise
        outcome = Outcome.UPDATED if previous else Outcome.INSTALLED
        return JobResult(name, outcome, f"Installed extension {name}" + (
            f" ({metadata.extension_id})" if metadata.extension_id else "") + (
            f" revision {metadata.revision}" if metadata.revision else ""), restart_required=True,
            revision=metadata.revision)

    def _undo(self, staging: Path, data: dict[str, Any], cause: BaseException) -> None:
        """Roll a failed transaction back at once (a kill leaves it to the next run's recovery)."""
        if not (staging / JOURNAL).exists():
            return
        try:
            Recovery(self.context, self.registry).roll_back(staging, data)
        except (OSError, ExtensionManagerError) as exc:
            log.warning("The failed change of %s could not be undone yet (%s); it will be on the next run.",
                        data["name"], os_error_text(exc) if isinstance(exc, OSError) else exc)
            raise InstallError(f"{data['name']} could not be changed ({os_error_text(cause)}), and undoing the "
                               f"change failed too ({exc}); it will be undone the next time this tool runs.") from exc
        (staging / JOURNAL).unlink(missing_ok=True)

    # -- uninstall -----------------------------------------------------------------------------------

    def uninstall(self, name: str) -> JobResult:
        """Remove an extension now: folder moved aside, paths and history removed, then the
        description deleted (commit point), then the folder and icons."""
        ext = self.registry.get(self.registry.checked(name))
        if ext is None:
            raise InstallError(f"{name} is not installed, so it cannot be uninstalled.")
        self.check_settings()
        data = {"kind": "uninstall", "name": name, "enabled": ext.enabled,
                "settings": settings_snapshot(self.context, self.registry, name)}
        staging = self.new_staging(name)
        target = self.install_path / name
        try:
            write_journal(staging, data)
            if target.exists() or target.is_symlink():
                os.replace(target, staging / "old")
            uninstalled_settings(self.context, self.registry, name)
            ext.description_file.unlink()  # commit point
        except BaseException as exc:
            self._undo(staging, data, exc)
            self.discard(staging)
            if isinstance(exc, OSError):
                raise _file_error(name, "uninstalled", exc, self.install_path) from exc
            raise
        for icon in self.registry.icon_files(name):
            icon.unlink(missing_ok=True)
        self.discard(staging)
        return JobResult(name, Outcome.UNINSTALLED, f"Uninstalled extension {name}.", restart_required=True)

    def scheduled_uninstalls(self) -> list[str]:
        settings = self.context.revision_settings
        return valid_names(settings.string_list(SCHEDULED_UNINSTALL_KEY), f"{SCHEDULED_UNINSTALL_KEY} of {settings.path}")

    def schedule_uninstall(self, name: str) -> JobResult:
        """Slicer's ``scheduleExtensionForUninstall``: listed for the next start, paths removed now."""
        if not self.registry.is_installed(self.registry.checked(name)):
            raise InstallError(f"{name} is not installed, so it cannot be uninstalled.")
        with self.context.revision_settings.edit() as e:
            e.add_to_list(SCHEDULED_UNINSTALL_KEY, [name])
            e.remove_map_entry(SCHEDULED_UPDATE_KEY, name)
            self.registry.remove_paths(e, name)
        with self.context.user_settings.edit() as e:
            self.history.schedule_removal_in(e, name, True)
        return JobResult(name, Outcome.SCHEDULED, f"{name} will be uninstalled when Slicer restarts.",
                         restart_required=True)

    def cancel_scheduled_uninstall(self, name: str) -> bool:
        if name not in self.context.revision_settings.string_list(SCHEDULED_UNINSTALL_KEY):
            return False
        with self.context.revision_settings.edit() as e:
            e.remove_from_list(SCHEDULED_UNINSTALL_KEY, lambda item: item.strip() == name)
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
        """``Extensions/ScheduledForUpdate`` (entries whose name is not an extension name are skipped)."""
        settings = self.context.revision_settings
        entries = {str(k): str(v) for k, v in settings.variant_map(SCHEDULED_UPDATE_KEY).items()}
        valid = valid_names(entries, f"{SCHEDULED_UPDATE_KEY} of {settings.path}")
        return {k: entries[k] for k in valid}

    def schedule_update(self, download: Download) -> JobResult:
        """Keep a downloaded update in ``.updates/`` for the next start, as Slicer stores it."""
        from .scheduled import schedule_update

        return schedule_update(self, download)

    def cancel_scheduled_update(self, name: str) -> bool:
        if name not in self.context.revision_settings.variant_map(SCHEDULED_UPDATE_KEY):
            return False
        with self.context.revision_settings.edit() as e:
            e.remove_map_entry(SCHEDULED_UPDATE_KEY, name)
        return True

    def apply_scheduled(self, log_line: Callable[[str], None] | None = None) -> list[JobResult]:
        """What Slicer's startup does: apply pending updates, then pending uninstalls
        (and the legacy ``ExtensionsHistory/ScheduledForRemoval``). Entries that are not
        extension names are removed from their list and reported; nothing is done for them."""
        from .scheduled import apply_scheduled

        return apply_scheduled(self, log_line or (lambda s: None))

    # -- enable / disable ----------------------------------------------------------------------------

    def set_enabled(self, name: str, enabled: bool) -> bool:
        """Slicer's ``setExtensionEnabled``: paths added/removed, ``.s4ext`` rewritten.
        Enabling an incompatible extension is refused with its reasons."""
        ext = self.registry.get(self.registry.checked(name))
        if ext is None:
            raise InstallError(f"{name} is not installed.")
        ctx = self.context
        if enabled:
            reasons = ext.metadata.compatibility_reasons(ctx.revision, ctx.os, ctx.arch)
            if reasons:
                raise InstallError(f"{name} cannot be enabled: it is incompatible with this Slicer ({'; '.join(reasons)}).")
        with ctx.revision_settings.edit() as e:
            self.registry.sync_paths(e, name, enabled)
        if ext.enabled == enabled:
            return False
        data: dict[str, object] = dict(s4ext.read(ext.description_file))
        data["enabled"] = enabled
        try:
            s4ext.write(ext.description_file, data)
        except OSError as exc:
            raise _file_error(name, "enabled" if enabled else "disabled", exc, self.install_path) from exc
        return True
