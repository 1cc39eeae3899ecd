"""``ExtensionsManager``: the one public API that the CLI, the dialog, the embedded
widget and host scripts use (in spirit Slicer's ``extensionsManagerModel()``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .cache import MetadataCache
from .catalog import Catalog, CatalogService, catalog_from_cache
from .context import AppContext
from .history import ExtensionsHistory
from .metadata import ExtensionMetadata
from .registry import ExtensionRegistry, InstalledExtension
from .dependencies import InstallPlan, resolve
from .errors import ExtensionManagerError, ServerError
from .installer import Download, Installer
from .queue import InstallQueue, Job, JobContext, JobResult, Listener, Outcome, Phase, QueueEvent
from .server import DEFAULT_TIMEOUT, DownloadResult, SlicerPackagesClient
from . import archive
from .profiles import ExtensionsProfile, ImportItem, export_profile, plan_import
from .restore import (
    DONT_CHECK_KEY,
    SILENT_INSTALL_KEY,
    RestorePlan,
    StartupCheckResult,
    names_needing_catalog,
    plan_restore,
)


@dataclass(frozen=True)
class InstalledState:
    """An installed extension as front ends show it."""

    name: str
    revision: str
    enabled: bool
    installed: bool
    compatible: bool
    reasons: tuple[str, ...]
    extension_id: str
    slicer_revision: str
    updated: str

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "revision": self.revision,
            "enabled": self.enabled,
            "installed": self.installed,
            "compatible": self.compatible,
            "reasons": list(self.reasons),
            "extension_id": self.extension_id,
            "slicer_revision": self.slicer_revision,
            "updated": self.updated,
        }


@dataclass(frozen=True)
class ServerOptions:
    """How to talk to the server (not part of the Slicer profile)."""

    verify: bool = True
    token: str | None = None
    api_key: str | None = None
    timeout: tuple[float, float] | float = DEFAULT_TIMEOUT
    retries: int = 3


@dataclass(frozen=True)
class CatalogEntry:
    """A catalog extension with its state in this profile."""

    metadata: ExtensionMetadata
    installed: bool
    installed_revision: str
    update_available: bool
    compatible: bool
    reasons: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.metadata.name

    def to_json(self) -> dict[str, object]:
        m = self.metadata
        return {
            "name": m.name,
            "extension_id": m.extension_id,
            "revision": m.revision,
            "category": m.category,
            "description": m.description,
            "depends": list(m.depends),
            "installed": self.installed,
            "installed_revision": self.installed_revision or None,
            "update_available": self.update_available,
            "compatible": self.compatible,
            "reasons": list(self.reasons),
            "homepage": m.homepage,
            "iconurl": m.iconurl,
            "contributors": m.contributors,
            "screenshots": list(m.screenshots),
            "keywords": list(m.keywords),
            "tier": m.tier,
            "updated": m.updated,
            "slicer_revision": m.slicer_revision,
            "os": m.os,
            "arch": m.arch,
            "scmurl": m.scmurl,
            "sha512": m.sha512 or None,
        }


@dataclass(frozen=True)
class OperationReport:
    """What a batch of installs/updates/uninstalls did (``--json`` shape of the CLI)."""

    results: tuple[JobResult, ...]
    plan: InstallPlan | None = None
    warnings: tuple[str, ...] = ()

    @property
    def restart_required(self) -> bool:
        return any(r.restart_required for r in self.results)

    @property
    def failed(self) -> tuple[JobResult, ...]:
        return tuple(r for r in self.results if not r.outcome.ok)

    @property
    def ok(self) -> bool:
        return not self.failed

    def names(self, *outcomes: Outcome) -> list[str]:
        return [r.name for r in self.results if r.outcome in outcomes]

    def to_json(self) -> dict[str, object]:
        return {
            "installed": self.names(Outcome.INSTALLED, Outcome.UPDATED),
            "updated": self.names(Outcome.UPDATED),
            "uninstalled": self.names(Outcome.UNINSTALLED),
            "scheduled": self.names(Outcome.SCHEDULED),
            "failed": [{"name": r.name, "error": r.message} for r in self.results
                       if r.outcome in (Outcome.FAILED, Outcome.CANCELLED)],
            "skipped": self.names(Outcome.SKIPPED),
            "warnings": list(self.warnings),
            "restart_required": self.restart_required,
            "results": [r.to_json() for r in self.results],
        }


class _PrefetchSlot:
    """One package download, possibly started before its job."""

    def __init__(self) -> None:
        self.future = None
        self.staging: Path | None = None
        self.ctx: JobContext | None = None
        self.last: tuple[int, int | None] = (0, None)
        self.claimed = False
        self.abandoned = False

    def progress(self, done: int, total: int | None) -> bool:
        self.last = (done, total)
        ctx = self.ctx
        return ctx.progress(done, total, Phase.DOWNLOAD) if ctx is not None else True

    def wait(self) -> tuple[Path, DownloadResult]:
        assert self.future is not None and self.staging is not None
        return self.staging, self.future.result()


class Prefetcher:
    """Downloads at most one package ahead of the job being installed, on one
    background thread; installs themselves stay sequential and in dependency order.
    Cancellation uses the queue's token of the job the download belongs to."""

    def __init__(self, manager: "ExtensionsManager", queue: InstallQueue):
        from concurrent.futures import ThreadPoolExecutor

        self.manager = manager
        self.queue = queue
        self.slots: dict[str, _PrefetchSlot] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")

    def start(self, meta: ExtensionMetadata, *, ahead: bool = True) -> _PrefetchSlot | None:
        """Start downloading ``meta`` (``ahead``: for a later job; skipped if installed)."""
        slot = self.slots.get(meta.name)
        if slot is not None:
            return slot
        if ahead and self.manager.registry.is_installed(meta.name):
            return None
        slot = self.slots[meta.name] = _PrefetchSlot()
        token = self.queue.token_for(meta.name)
        slot.staging = self.manager.installer.new_staging()
        slot.future = self.executor.submit(
            self.manager._download, meta, slot.staging,
            (lambda: slot.abandoned or bool(token and token.cancelled)), slot.progress)
        return slot

    def claim(self, meta: ExtensionMetadata, ctx: JobContext) -> _PrefetchSlot:
        slot = self.start(meta, ahead=False)
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
            if not slot.claimed and slot.staging is not None:
                self.manager.installer.discard(slot.staging)


class ExtensionsManager:
    """Everything a front end may do with extensions, for one :class:`AppContext`.

    Synchronous and thread-agnostic: the dialog calls it from a worker thread.
    """

    def __init__(self, context: AppContext, server_options: ServerOptions | None = None,
                 client: SlicerPackagesClient | None = None):
        self.context = context
        self.server_options = server_options or ServerOptions()
        self.registry = ExtensionRegistry(context)
        self.history = ExtensionsHistory(context.user_settings)
        self.cache = MetadataCache(context)
        self._client = client
        self._catalog_service: CatalogService | None = None
        self._installer_obj: Installer | None = None
        self._prefetcher: Prefetcher | None = None

    # -- server ----------------------------------------------------------------------------------

    @property
    def client(self) -> SlicerPackagesClient:
        """The server client; an ``app_name`` is resolved to an id on first use."""
        if self._client is None:
            o = self.server_options
            client = SlicerPackagesClient(
                self.context.server_url, self.context.app_id, verify=o.verify, token=o.token,
                api_key=o.api_key, timeout=o.timeout, retries=o.retries,
            )
            if self.context.app_name:
                client.app_id = client.find_app_id(self.context.app_name)
                self.context = self.context.with_changes(app_id=client.app_id)
            self._client = client
        return self._client

    @property
    def catalog_service(self) -> CatalogService:
        if self._catalog_service is None:
            self._catalog_service = CatalogService(self.context, self.client, self.cache)
        return self._catalog_service

    def catalog(self, *, refresh: bool = False, offline_ok: bool = True) -> Catalog:
        """Compatible extensions for this build (one request at most; cached)."""
        return self.catalog_service.get(refresh=refresh, offline_ok=offline_ok)

    def cached_catalog(self) -> Catalog | None:
        """The catalog from the cache only (no request), whatever its age."""
        return catalog_from_cache(self.context, self.cache)

    def catalog_entry(self, metadata: ExtensionMetadata) -> CatalogEntry:
        ctx = self.context
        installed = self.registry.get(metadata.name)
        reasons = metadata.compatibility_reasons(ctx.revision, ctx.os, ctx.arch)
        return CatalogEntry(
            metadata=metadata,
            installed=installed is not None,
            installed_revision=installed.revision if installed else "",
            update_available=bool(installed and metadata.revision and installed.revision != metadata.revision),
            compatible=not reasons,
            reasons=tuple(reasons),
        )

    def search(self, text: str = "", category: str | None = None, *, refresh: bool = False) -> list[CatalogEntry]:
        """Catalog extensions matching ``text`` (name, description, category, keywords)."""
        catalog = self.catalog(refresh=refresh)
        return [self.catalog_entry(m) for m in catalog.search(text, category)]

    def extension_info(self, name: str) -> CatalogEntry:
        """One catalog extension by name or id (the cache is refreshed once if it does not know it)."""
        service = self.catalog_service
        looks_like_id = len(name) == 24 and all(c in "0123456789abcdef" for c in name)
        if looks_like_id and service.get().get(name) is None:
            return self.catalog_entry(service.find_by_id(name))
        return self.catalog_entry(service.find(name))

    def _state(self, ext: InstalledExtension) -> InstalledState:
        ctx = self.context
        reasons = ext.metadata.compatibility_reasons(ctx.revision, ctx.os, ctx.arch)
        return InstalledState(
            name=ext.name,
            revision=ext.revision,
            enabled=ext.enabled,
            installed=ext.installed,
            compatible=not reasons,
            reasons=tuple(reasons),
            extension_id=ext.metadata.extension_id,
            slicer_revision=ext.metadata.slicer_revision,
            updated=ext.metadata.updated,
        )

    def installed_extensions(self) -> list[InstalledState]:
        """Installed extensions, sorted case-insensitively like Slicer."""
        return [self._state(ext) for ext in self.registry.installed()]

    # -- install, update, uninstall ----------------------------------------------------------------

    @property
    def installer(self) -> Installer:
        """The transactions on this context's install folder."""
        if self._installer_obj is None:
            self._installer_obj = Installer(self.context)
        return self._installer_obj


    def plan_install(self, names: list[str], *, with_dependencies: bool = True) -> InstallPlan:
        """Resolve ``names`` and their dependencies against the catalog (one request at most)."""
        catalog = self.catalog()
        missing = [n for n in names if catalog.get(n) is None and not self.registry.is_installed(n)]
        if missing and catalog.from_cache and not catalog.offline_reason:
            catalog = self.catalog(refresh=True)  # the cache may predate these extensions
        return resolve(names, catalog.extensions, self.registry.is_installed, with_dependencies=with_dependencies)


    def _server_job(self, meta: ExtensionMetadata, plan: InstallPlan | None,
                    update: bool = False, next_meta: ExtensionMetadata | None = None) -> Job:
        installer = self.installer

        def action(ctx: JobContext) -> JobResult:
            if not update and self.registry.is_installed(meta.name):
                return JobResult(meta.name, Outcome.SKIPPED,
                                 f"Skip installation of {meta.name} extension. It is already installed.")
            prefetch = self._prefetcher
            ctx.phase(Phase.DOWNLOAD, f"Downloading {meta.name}")
            if prefetch is not None:
                slot = prefetch.claim(meta, ctx)
                if next_meta is not None:
                    prefetch.start(next_meta)  # overlaps with this package's verify/extract
                try:
                    staging, result = slot.wait()
                except BaseException:
                    installer.discard(slot.staging)
                    raise
            else:
                staging = installer.new_staging()
                try:
                    result = self._download(meta, staging, ctx.token,
                                            lambda done, total: ctx.progress(done, total, Phase.DOWNLOAD))
                except BaseException:
                    installer.discard(staging)
                    raise
            try:
                outcome = installer.install_archive(result.path, meta.replace(archivename=result.file_name), ctx,
                                                    staging=staging, discard=False)
            finally:
                installer.discard(staging, background=True)
            warnings = tuple(w for w in (plan.warnings() if plan else []) if w.startswith(f"{meta.name} "))
            return JobResult(outcome.name, outcome.outcome, outcome.message, outcome.restart_required,
                             warnings, outcome.revision)

        depends = plan.depends_on(meta.name) if plan else ()
        return Job(meta.name, action, f"Install {meta.name}", depends,
                   requested=plan is None or meta.name in plan.requested)

    def _download(self, meta: ExtensionMetadata, folder: Path, cancel, progress) -> DownloadResult:
        # Not fsynced: the package is extracted at once and deleted; after a crash it is fetched again.
        return self.client.download_package(meta.extension_id, folder, name=meta.name, sha512=meta.sha512,
                                            progress=progress, cancel=cancel, durable=False)

    def install_jobs(self, plan: InstallPlan) -> list[Job]:
        """One job per extension of the plan, dependencies first. When run with
        :meth:`run_jobs`, each job starts downloading the next package while it
        verifies and extracts its own."""
        order = list(plan.order)
        return [self._server_job(meta, plan, next_meta=order[i + 1] if i + 1 < len(order) else None)
                for i, meta in enumerate(order)]


    def run_jobs(self, jobs: list[Job], *, listener: Listener | None = None,
                 queue: InstallQueue | None = None) -> list[JobResult]:
        """Run jobs sequentially with the install folder locked; interrupted transactions
        of an earlier run are recovered first."""
        queue = queue or InstallQueue(listener)
        queue.extend(jobs)
        installer = self.installer
        installer.check_prerequisites()
        with installer.lock():
            for line in installer.recover():
                if listener:
                    listener(QueueEvent("message", message=line))
            self._prefetcher = Prefetcher(self, queue)
            try:
                return queue.run()
            finally:
                self._prefetcher.close()
                self._prefetcher = None
                installer.flush()


    def install(self, names: list[str], *, with_dependencies: bool = True,
                listener: Listener | None = None, queue: InstallQueue | None = None) -> OperationReport:
        """Install ``names`` (and their dependencies) from the server."""
        plan = self.plan_install(names, with_dependencies=with_dependencies)
        results = [JobResult(n, Outcome.SKIPPED, f"Skip installation of {n} extension. It is already installed.")
                   for n in plan.already_installed]
        results += [JobResult(n, Outcome.FAILED, f"The server has no extension named {n} for Slicer revision "
                                                 f"{self.context.revision} ({self.context.os}/{self.context.arch}).")
                    for n in plan.unknown]
        if plan.order:
            results += self.run_jobs(self.install_jobs(plan), listener=listener, queue=queue)
        return OperationReport(tuple(results), plan, tuple(plan.warnings()))


    def _file_job(self, path: Path, *, force: bool, with_dependencies: bool,
                  listener: Listener | None) -> list[Job]:
        """A job for an archive on disk, preceded by jobs for its dependencies from the server."""
        info = archive.inspect_package(path)
        installer = self.installer
        meta = installer.metadata_for_file(path, info, force=force)
        jobs: list[Job] = []
        warnings: list[str] = []
        deps = [d for d in meta.depends if not self.registry.is_installed(d)] if with_dependencies else []
        if deps:
            try:
                catalog = self.catalog()
                plan = resolve(deps, catalog.extensions, self.registry.is_installed)
                jobs += [self._server_job(m, plan) for m in plan.order]
                missing = list(plan.unknown) + list(plan.unresolved)
            except ServerError as exc:
                missing, plan = deps, None
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


    def file_jobs(self, paths: list[Path], *, force: bool = False,
                  with_dependencies: bool = True) -> tuple[list[Job], list[JobResult]]:
        """Jobs for archives on disk (each preceded by server jobs for its missing
        dependencies), and a failed result for each archive that cannot be used."""
        jobs: list[Job] = []
        failures: list[JobResult] = []
        for path in paths:
            path = Path(path)
            try:
                new = self._file_job(path, force=force, with_dependencies=with_dependencies, listener=None)
            except ExtensionManagerError as exc:
                failures.append(JobResult(path.name, Outcome.FAILED, str(exc)))
                continue
            known = {j.name for j in jobs}
            jobs += [j for j in new if j.name not in known]
        return jobs, failures

    def install_files(self, paths: list[Path], *, force: bool = False,
                      with_dependencies: bool = True, listener: Listener | None = None,
                      queue: InstallQueue | None = None) -> OperationReport:
        """Install extension archives from disk (several at once)."""
        jobs, results = self.file_jobs(paths, force=force, with_dependencies=with_dependencies)
        warnings: list[str] = []
        if jobs:
            results += self.run_jobs(jobs, listener=listener, queue=queue)
        for r in results:
            warnings += list(r.warnings)
        return OperationReport(tuple(results), None, tuple(dict.fromkeys(warnings)))


    def uninstall(self, names: list[str], *, schedule: bool = False) -> OperationReport:
        """Uninstall now, or (``schedule``) at Slicer's next start as Slicer does for loaded extensions."""
        installer = self.installer
        installer.check_prerequisites()
        results = []
        with installer.lock():
            installer.recover()
            for name in names:
                try:
                    results.append(installer.schedule_uninstall(name) if schedule else installer.uninstall(name))
                except ExtensionManagerError as exc:
                    results.append(JobResult(name, Outcome.FAILED, str(exc)))
        return OperationReport(tuple(results))


    def cancel_uninstall(self, name: str) -> bool:
        with self.installer.lock():
            return self.installer.cancel_scheduled_uninstall(name)


    def available_updates(self, *, refresh: bool = False) -> list[CatalogEntry]:
        """Installed extensions whose server revision differs (Slicer's rule: any difference)."""
        catalog = self.catalog(refresh=refresh)
        out = []
        for ext in self.registry.installed():
            meta = catalog.get(ext.name)
            if meta is not None and meta.revision and meta.revision != ext.revision:
                out.append(self.catalog_entry(meta))
        if out:
            try:
                with self.context.revision_settings.edit() as e:
                    e.set_value("Extensions/UpdatesAvailable", True)
            except ExtensionManagerError:
                pass
        return out


    def update(self, names: list[str] | None = None, *, schedule: bool = False,
               listener: Listener | None = None, queue: InstallQueue | None = None) -> OperationReport:
        """Update ``names`` (default: every extension with an update) now, or download
        them into ``.updates/`` for the next start (``schedule``)."""
        updates = {e.name: e.metadata for e in self.available_updates(refresh=True)}
        results: list[JobResult] = []
        wanted = list(updates) if not names else list(names)
        jobs = []
        for name in wanted:
            if name not in updates:
                if not self.registry.is_installed(name):
                    results.append(JobResult(name, Outcome.FAILED, f"{name} is not installed, so it cannot be updated."))
                else:
                    results.append(JobResult(name, Outcome.SKIPPED, f"{name} is up to date."))
                continue
            jobs.append(self._update_job(updates[name]) if schedule else self._server_job(updates[name], None, update=True))
        if jobs:
            results += self.run_jobs(jobs, listener=listener, queue=queue)
        return OperationReport(tuple(results))


    def _update_job(self, meta: ExtensionMetadata) -> Job:
        installer = self.installer

        def action(ctx: JobContext) -> JobResult:
            folder = installer.updates_folder()
            folder.mkdir(parents=True, exist_ok=True)
            ctx.phase(Phase.DOWNLOAD, f"Downloading update of {meta.name}")
            result = self.client.download_package(
                meta.extension_id, folder, name=meta.name, sha512=meta.sha512,
                progress=lambda done, total: ctx.progress(done, total, Phase.DOWNLOAD), cancel=ctx.token,
            )
            return installer.schedule_update(Download(result.path, meta.replace(archivename=result.file_name)))

        return Job(meta.name, action, f"Download update of {meta.name}")


    def apply_scheduled(self) -> OperationReport:
        installer = self.installer
        installer.check_prerequisites()
        with installer.lock():
            installer.recover()
            return OperationReport(tuple(installer.apply_scheduled()))


    def set_enabled(self, name: str, enabled: bool) -> bool:
        with self.installer.lock():
            return self.installer.set_enabled(name, enabled)

    # -- restore ----------------------------------------------------------------------------------

    def restore_plan(self, *, refresh: bool = False) -> RestorePlan:
        """The restore plan: one catalog request at most, none when the cache is fresh or
        when nothing in the history or bookmarks is missing."""
        history = self.history.revisions()
        bookmarks = self.history.bookmarks()
        installed = self.registry.names()
        ctx = self.context
        needed = names_needing_catalog(history, bookmarks, installed, ctx.revision)
        catalog = None
        note = ""
        if needed:
            try:
                cat = self.catalog(refresh=refresh)
                catalog, note = cat.extensions, (cat.status_text() if cat.offline_reason else "")
            except ServerError as exc:
                note = str(exc)
        return plan_restore(history, bookmarks, installed, catalog, ctx.revision, ctx.os, ctx.arch,
                            catalog_note=note)

    def restore(self, names: list[str] | None = None, *, listener: Listener | None = None,
                queue: InstallQueue | None = None) -> OperationReport:
        """Install the preselected candidates (or ``names``) with their dependencies."""
        plan = self.restore_plan()
        if names is None:
            names = [c.name for c in plan.selected]
        if not names:
            return OperationReport(())
        return self.install(list(names), listener=listener, queue=queue)

    def startup_check(self, *, install: bool | None = None, timeout: float = 5.0,
                      listener: Listener | None = None) -> StartupCheckResult:
        """Slicer's legacy startup logic, headless: honours ``ExtensionCheckOnStartup/dontCheck``
        and, when ``install`` is None, ``ifCheckInstallWithoutDialog``. No request is made
        when there is nothing to restore; a slow server costs at most ``timeout`` seconds."""
        settings = self.context.user_settings.read()
        if settings.boolean(DONT_CHECK_KEY, False):
            return StartupCheckResult(False, "The startup check is turned off (ExtensionCheckOnStartup/dontCheck).")
        silent = settings.boolean(SILENT_INSTALL_KEY, False) if install is None else install
        if self._client is None:
            self._client = SlicerPackagesClient(
                self.context.server_url, self.context.app_id, verify=self.server_options.verify,
                token=self.server_options.token, api_key=self.server_options.api_key,
                timeout=(min(timeout, 3.0), timeout), retries=0,
            )
            if self.context.app_name:
                self._client.app_id = self._client.find_app_id(self.context.app_name)
        plan = self.restore_plan()
        if plan.catalog_note and not plan.selected:
            return StartupCheckResult(True, f"Nothing was restored: {plan.catalog_note}", plan, silent)
        if not plan.selected:
            return StartupCheckResult(True, "No extensions from a previous Slicer need to be restored.", plan, silent)
        n = len(plan.selected)
        if not silent:
            return StartupCheckResult(
                True, f"{n} compatible extension{'s' if n != 1 else ''} from a previous Slicer installation "
                      f"{'were' if n != 1 else 'was'} found.", plan, silent)
        report = self.install([c.name for c in plan.selected], listener=listener)
        message = ("All extensions restored. Please restart Slicer." if report.ok
                   else f"{len(report.failed)} of {len(report.results)} extensions could not be restored.")
        return StartupCheckResult(True, message, plan, silent, report)

    def set_startup_options(self, *, check_on_startup: bool | None = None,
                            install_without_asking: bool | None = None) -> None:
        with self.context.user_settings.edit() as e:
            if check_on_startup is not None:
                e.set_value(DONT_CHECK_KEY, not check_on_startup)
            if install_without_asking is not None:
                e.set_value(SILENT_INSTALL_KEY, install_without_asking)

    def startup_options(self) -> tuple[bool, bool]:
        """(check previous extensions on startup, install them without asking)."""
        r = self.context.user_settings.read()
        return not r.boolean(DONT_CHECK_KEY, False), r.boolean(SILENT_INSTALL_KEY, False)

    # -- profiles -----------------------------------------------------------------------------------

    def export_profile(self, path: Path) -> ExtensionsProfile:
        profile = export_profile(self.registry)
        profile.save(path)
        return profile

    def plan_profile_import(self, path: Path) -> tuple[ExtensionsProfile, list[ImportItem]]:
        profile = ExtensionsProfile.load(path)
        catalog = self.catalog().extensions
        installed = {e.name: e.revision for e in self.registry.installed()}
        return profile, plan_import(profile, catalog, installed)

    def import_profile(self, path: Path, *, listener: Listener | None = None) -> tuple[list[ImportItem], OperationReport]:
        _, items = self.plan_profile_import(path)
        names = [i.name for i in items if not i.installed and i.status in ("install", "different-revision")]
        report = self.install(names, listener=listener) if names else OperationReport(())
        return items, report
