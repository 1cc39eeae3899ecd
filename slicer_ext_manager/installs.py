"""Jobs that install from the server or from files, and the download prefetcher.

A job is what the sequential :class:`~slicer_ext_manager.queue.InstallQueue` runs:
download (streamed, sha512-verified) into a staging folder, then the installer's
transaction. Installs (extraction and commit) stay strictly sequential and in
dependency order; downloads run ahead of them: when a job starts, the downloads of
the next :data:`DOWNLOADS_AT_ONCE` packages are started too, at most that many at
once on the prefetcher's threads, each with its own ``/item/{id}/files`` lookup (so
a package's lookup overlaps the previous package's download and extraction).

A *resumable* job downloads into ``<InstallPath>/.downloads/<Name>.<id>/`` instead of
staging, and keeps the ``.part`` when it fails or is cancelled, so that running the
job again (the dialog's Retry) continues the download where it stopped; the folder
goes once the extension is installed, or with :func:`discard_partial_downloads`.
"""

from __future__ import annotations

import glob
import hashlib
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Optional, Sequence

from . import archive
from .conventions import invalid_name_sentence, is_extension_name
from .dependencies import InstallPlan, resolve
from .download import DownloadResult
from .errors import ServerError
from .installer import Download
from .metadata import ExtensionMetadata
from .queue import InstallQueue, Job, JobContext, JobResult, Outcome, Phase

if TYPE_CHECKING:  # pragma: no cover
    from .manager import ExtensionsManager


#: Partial downloads of resumable jobs, inside the install folder (never touched by Slicer).
PARTIAL_DOWNLOADS_DIR = ".downloads"

#: Downloads that may run at once, and how many packages after the one being installed
#: are started ahead (bounded: each holds a staged archive until its job installs it).
DOWNLOADS_AT_ONCE = 2


def skipped_installed(name: str) -> JobResult:
    return JobResult(name, Outcome.SKIPPED, f"Skip installation of {name} extension. It is already installed.")


def unverified_warning(name: str, result: DownloadResult) -> tuple[str, ...]:
    """The warning for a package the server published no checksum for (none when verified)."""
    if result.verified:
        return ()
    return (f"{name} was not verified: the server publishes no checksum (sha512) for its package, so a damaged "
            "or altered download cannot be detected; use --require-checksum to refuse such packages.",)


def partial_download_folder(manager: ExtensionsManager, meta: ExtensionMetadata) -> Path:
    """Where a resumable job keeps the download of this build (``.`` never occurs in a name)."""
    build = hashlib.sha1((meta.extension_id or meta.name).encode("utf-8")).hexdigest()[:12]
    name = manager.registry.checked(meta.name)
    return manager.context.install_path / PARTIAL_DOWNLOADS_DIR / f"{name}.{build}"


def _remove_partial(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()  # the .downloads folder, once empty
    except OSError:
        pass


def discard_partial_downloads(manager: ExtensionsManager, names: Iterable[str]) -> list[str]:
    """Delete what resumable jobs kept for ``names``; returns the names that had something."""
    root = manager.context.install_path / PARTIAL_DOWNLOADS_DIR
    removed = []
    for name in dict.fromkeys(names):
        folders = [Path(p) for p in glob.glob(str(root / f"{glob.escape(manager.registry.checked(name))}.*"))]
        for folder in folders:
            _remove_partial(folder)
        if folders:
            removed.append(name)
    return removed


class _Slot:
    """One package download, possibly started before its job."""

    def __init__(self, staging: Path, resumable: bool = False) -> None:
        self.staging = staging
        self.resumable = resumable
        self.future: Optional[Future[DownloadResult]] = None
        self.ctx: Optional[JobContext] = None
        self.last: tuple[int, Optional[int]] = (0, None)
        self.claimed = False
        self.abandoned = False

    def progress(self, done: int, total: Optional[int]) -> bool:
        self.last = (done, total)
        ctx = self.ctx
        return ctx.progress(done, total, Phase.DOWNLOAD) if ctx is not None else True

    def wait(self) -> DownloadResult:
        assert self.future is not None
        return self.future.result()


class Prefetcher:
    """Downloads the packages of the next jobs ahead of the job being installed, at most
    ``downloads_at_once`` at a time on background threads, started in queue order (the
    threads take them first come, first served). Cancellation uses the queue's token of
    the job the download belongs to."""

    #: Threads, and packages started ahead of the job being installed (benchmarks patch it).
    downloads_at_once = DOWNLOADS_AT_ONCE

    def __init__(self, manager: ExtensionsManager, queue: InstallQueue):
        self.manager = manager
        self.queue = queue
        self.slots: dict[str, _Slot] = {}
        self.ahead = max(1, self.downloads_at_once)
        self.executor = ThreadPoolExecutor(max_workers=self.ahead, thread_name_prefix="prefetch")

    def start(self, meta: ExtensionMetadata, *, ahead: bool = True, resumable: bool = False) -> Optional[_Slot]:
        """Start downloading ``meta`` (``ahead``: for a later job; skipped if installed)."""
        slot = self.slots.get(meta.name)
        if slot is not None:
            return slot
        if ahead and self.manager.registry.is_installed(meta.name):
            return None
        if resumable:
            folder = partial_download_folder(self.manager, meta)
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = self.manager.installer.new_staging(meta.name)
        slot = self.slots[meta.name] = _Slot(folder, resumable)
        token = self.queue.token_for(meta.name)

        def cancelled() -> bool:
            return slot.abandoned or bool(token and token.cancelled)

        extra = {"resume": True} if resumable else {}  # (the plain call is what tests wrap)
        slot.future = self.executor.submit(self.manager.download, meta, slot.staging, cancelled, slot.progress,
                                           **extra)
        return slot

    def claim(self, meta: ExtensionMetadata, ctx: JobContext, resumable: bool = False) -> _Slot:
        # The keyword only when set: subclasses (benchmarks' what-ifs) override start(meta, ahead).
        slot = self.start(meta, ahead=False, **({"resumable": True} if resumable else {}))
        assert slot is not None
        slot.ctx = ctx
        slot.claimed = True
        done, total = slot.last
        if done:
            ctx.progress(done, total, Phase.DOWNLOAD)
        return slot

    def close(self) -> None:
        """Stop downloads no job claimed (their job was skipped or cancelled), wait for
        the background thread, and remove what they left."""
        for slot in self.slots.values():
            if not slot.claimed:
                slot.abandoned = True
        self.executor.shutdown(wait=True, cancel_futures=True)
        for slot in self.slots.values():
            if not slot.claimed:
                if slot.resumable:
                    _remove_partial(slot.staging)
                else:
                    self.manager.installer.discard(slot.staging)


class JobFactory:
    """Makes the queue's jobs for one manager."""

    def __init__(self, manager: ExtensionsManager):
        self.manager = manager
        #: Set by :meth:`ExtensionsManager.run_jobs` while a queue runs.
        self.prefetcher: Optional[Prefetcher] = None

    def server_job(self, meta: ExtensionMetadata, plan: Optional[InstallPlan], *, update: bool = False,
                   next_meta: Optional[ExtensionMetadata] = None, resumable: bool = False,
                   upcoming: Sequence[ExtensionMetadata] = ()) -> Job:
        """Download ``meta`` from the server and install it (or update it); ``resumable``:
        keep a partial download for the next run of the same build (see the module's text).
        ``upcoming``: the packages of the jobs after this one, in queue order, whose downloads
        start when this job starts (``next_meta``: the one after it, when that is all)."""
        manager = self.manager
        ahead = tuple(upcoming) or ((next_meta,) if next_meta is not None else ())

        def action(ctx: JobContext) -> JobResult:
            if not update and manager.registry.is_installed(meta.name):
                return skipped_installed(meta.name)
            ctx.phase(Phase.DOWNLOAD, f"Downloading {meta.name}")
            folder, result = self._fetch(meta, ctx, ahead, resumable)
            installer = manager.installer
            staging = installer.new_staging(meta.name) if resumable else folder
            try:
                outcome = installer.install_archive(result.path, meta.replace(archivename=result.file_name), ctx,
                                                    staging=staging, discard=False)
            except BaseException:
                if resumable:  # a complete package that failed is fetched afresh next time
                    result.path.unlink(missing_ok=True)
                raise
            finally:
                installer.discard(staging, background=True)
            if resumable:
                _remove_partial(folder)
            warnings = tuple(w for w in (plan.warnings() if plan else []) if w.startswith(f"{meta.name} "))
            return JobResult(outcome.name, outcome.outcome, outcome.message, outcome.restart_required,
                             warnings + unverified_warning(meta.name, result), outcome.revision)

        depends = plan.depends_on(meta.name) if plan else ()
        return Job(meta.name, action, f"Install {meta.name}", depends,
                   requested=plan is None or meta.name in plan.requested)

    def _fetch(self, meta: ExtensionMetadata, ctx: JobContext, ahead: Sequence[ExtensionMetadata],
               resumable: bool = False) -> tuple[Path, DownloadResult]:
        installer = self.manager.installer
        prefetch = self.prefetcher
        if prefetch is not None:
            slot = prefetch.claim(meta, ctx, resumable)
            for later in ahead[:prefetch.ahead]:
                # Overlap with this package's download, verify and extract (queued in order).
                prefetch.start(later, **({"resumable": True} if resumable else {}))
            try:
                return slot.staging, slot.wait()
            except BaseException:
                if not resumable:
                    installer.discard(slot.staging)
                raise
        if resumable:
            folder = partial_download_folder(self.manager, meta)
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = installer.new_staging(meta.name)
        try:
            extra = {"resume": True} if resumable else {}
            return folder, self.manager.download(
                meta, folder, ctx.token, lambda done, total: ctx.progress(done, total, Phase.DOWNLOAD), **extra)
        except BaseException:
            if not resumable:
                installer.discard(folder)
            raise

    def install_jobs(self, plan: InstallPlan, *, resumable: bool = False) -> list[Job]:
        """One job per extension of the plan, dependencies first; each starts downloading
        the next packages while it downloads, verifies and extracts its own."""
        order = list(plan.order)
        return [self.server_job(meta, plan, upcoming=order[i + 1:], resumable=resumable)
                for i, meta in enumerate(order)]

    def update_job(self, meta: ExtensionMetadata) -> Job:
        """Download an update into ``.updates/`` for Slicer's next start."""
        manager = self.manager

        def action(ctx: JobContext) -> JobResult:
            installer = manager.installer
            folder = installer.updates_folder()
            folder.mkdir(parents=True, exist_ok=True)
            ctx.phase(Phase.DOWNLOAD, f"Downloading update of {meta.name}")
            result = manager.client.download_package(
                meta.extension_id, folder, name=meta.name, sha512=meta.sha512,
                progress=lambda done, total: ctx.progress(done, total, Phase.DOWNLOAD), cancel=ctx.token,
            )
            scheduled = installer.schedule_update(Download(result.path, meta.replace(archivename=result.file_name)))
            return JobResult(scheduled.name, scheduled.outcome, scheduled.message, scheduled.restart_required,
                             unverified_warning(meta.name, result), scheduled.revision)

        return Job(meta.name, action, f"Download update of {meta.name}")

    def file_jobs(self, path: Path, *, force: bool, with_dependencies: bool) -> list[Job]:
        """A job for an archive on disk, preceded by jobs for its dependencies from the server."""
        manager = self.manager
        installer = manager.installer
        info = archive.inspect_package(path)
        meta = installer.metadata_for_file(path, info, force=force)
        jobs: list[Job] = []
        warnings = [f"{invalid_name_sentence(d, f'the dependencies of {path.name}')} It was ignored."
                    for d in meta.depends if not is_extension_name(d)]
        deps = [d for d in meta.depends if is_extension_name(d) and not manager.registry.is_installed(d)] \
            if with_dependencies else []
        if deps:
            try:
                plan = resolve(deps, manager.catalog().extensions, manager.registry.is_installed)
                jobs += [self.server_job(m, plan) for m in plan.order]
                missing = list(plan.unknown) + list(plan.unresolved)
            except ServerError as exc:
                missing = deps
                warnings.append(f"The dependencies of {meta.name} could not be looked up: {exc}")
            if missing:
                warnings.append(f"{meta.name} extension depends on the following extensions, which could not "
                                f"be found: {', '.join(missing)}")

        def action(ctx: JobContext) -> JobResult:
            result = installer.install_archive(path, meta, ctx, force=force)
            return JobResult(result.name, result.outcome, result.message, result.restart_required,
                             tuple(warnings), result.revision)

        jobs.append(Job(meta.name, action, f"Install {path.name}", tuple(deps)))
        return jobs

