"""``ExtensionsManager``: the one public API that the CLI, the dialog, the Slicer module
and host scripts use (in spirit Slicer's ``extensionsManagerModel()``).

Synchronous and thread-agnostic: faces call it from a worker thread. It owns the
typed state every face shows (:meth:`ExtensionsManager.state`) and the typed option
setters; faces never read or write Slicer's files themselves.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from .context import AppContext
from .conventions import (
    SCHEDULED_UNINSTALL_KEY,
    SCHEDULED_UPDATE_KEY,
    SERVER_URL_KEY,
    UPDATES_AVAILABLE_KEY,
    is_extension_name,
)
from .errors import ExtensionManagerError, ServerError
from .history import ExtensionsHistory
from .metadata import ExtensionMetadata
from .network import ServerOptions, validate_server_url
from .registry import ExtensionRegistry
from .report import OperationReport
from .state import ExtensionState, InstalledRecord, LoadedSet, Option, Options, ProfileState, build_profile_state

# Installing, downloading and the server client (``requests``) are imported when first used:
# the read-only commands (``list``, ``restore --check``…) start without them.
if TYPE_CHECKING:  # pragma: no cover
    from .cache import MetadataCache
    from .catalog import Catalog, CatalogService
    from .dependencies import InstallPlan
    from .download import DownloadResult
    from .installer import Installer
    from .installs import JobFactory
    from .profiles import ExtensionsProfile, ImportItem
    from .queue import InstallQueue, Job, JobResult, Listener
    from .restore import RestorePlan, StartupCheckResult
    from .server import SlicerPackagesClient
    from .slicer_updates import SlicerUpdater

__all__ = ["ExtensionsManager", "OperationReport", "ServerOptions", "validate_server_url"]

log = logging.getLogger(__name__)

ProgressFunction = Callable[[int, Optional[int]], bool]


class ExtensionsManager:
    """Everything a face may do with extensions, for one :class:`AppContext`.

    ``server_options``: how to reach the server (the URL and app default to the
    profile's); ``client``: an already made client (tests, hosts sharing one);
    ``loaded``: what the running Slicer loaded (default: what is installed before
    this manager's first change), for the restart state.
    """

    def __init__(self, context: AppContext, server_options: ServerOptions | None = None,
                 client: SlicerPackagesClient | None = None, *, loaded: LoadedSet | None = None):
        self.context = context
        self.server_options = server_options or ServerOptions.from_environment()
        self.registry = ExtensionRegistry(context, before_read=self._recover_pending)
        self._recovering = False
        self.history = ExtensionsHistory(context.user_settings)
        self._cache: MetadataCache | None = None
        self._jobs: JobFactory | None = None
        self._client = client
        self._catalog_service: CatalogService | None = None
        self._installer: Installer | None = None
        self._loaded = loaded
        self._slicer_updates: SlicerUpdater | None = None

    # -- server ----------------------------------------------------------------------------------

    def options_for_server(self) -> ServerOptions:
        return self.server_options.for_context(self.context)

    @property
    def client(self) -> SlicerPackagesClient:
        """The server client; an ``app_name`` is resolved to an id on first use."""
        if self._client is None:
            from .server import make_client

            options = self.options_for_server()
            client = make_client(options)
            if self.context.app_name:
                client.app_id = client.find_app_id(self.context.app_name)
                self.context = self.context.with_changes(app_id=client.app_id)
            self._client = client
        return self._client

    @property
    def cache(self) -> MetadataCache:
        """This profile's catalog caches (``cache.py``)."""
        if self._cache is None:
            from .cache import MetadataCache

            self._cache = MetadataCache(self.context)
        return self._cache

    @property
    def catalog_service(self) -> CatalogService:
        if self._catalog_service is None:
            from .catalog import CatalogService

            # The client is made when a request is needed (a fresh cache needs none).
            connect = self._client if self._client is not None else (lambda: self.client)
            self._catalog_service = CatalogService(self.context, connect, self.cache, options=self.options_for_server())
        return self._catalog_service

    def catalog(self, *, refresh: bool = False, offline_ok: bool = True,
                options: ServerOptions | None = None) -> Catalog:
        """Compatible extensions for this build (one request at most; cached per build)."""
        return self.catalog_service.get(refresh=refresh, offline_ok=offline_ok, options=options)

    def cached_catalog(self) -> Catalog | None:
        """This build's catalog from the cache only (no request), whatever its age."""
        return self.catalog_service.cached()

    def set_server_url(self, url: str) -> str:
        """Validate and store ``Extensions/ServerUrl``; this manager uses it from now on.
        Returns the URL as stored (no trailing ``/``)."""
        url = validate_server_url(url)
        with self.context.revision_settings.edit() as e:
            e.set_value(SERVER_URL_KEY, url)
        self.context = self.context.with_changes(server_url=url)
        self.server_options = replace(self.server_options, url="")
        self._client = None
        self._catalog_service = None
        return url

    # -- state -----------------------------------------------------------------------------------------

    def _records(self) -> dict[str, InstalledRecord]:
        records = {}
        for ext in self.registry.installed():
            icons = self.registry.icon_files(ext.name)
            records[ext.name] = InstalledRecord(ext.metadata, ext.enabled, str(icons[0]) if icons else "")
        return records

    def loaded_set(self) -> LoadedSet:
        """What the running Slicer loaded (taken before this manager's first change)."""
        if self._loaded is None:
            self._loaded = LoadedSet({n: (r.metadata.revision, r.enabled) for n, r in self._records().items()})
        return self._loaded

    def options(self) -> Options:
        reader = self.context.user_settings.read()
        return Options({o: (not reader.boolean(o.key, not o.default)) if o.inverted else reader.boolean(o.key, o.default)
                        for o in Option})

    def set_option(self, option: Option, value: bool) -> None:
        with self.context.user_settings.edit() as e:
            e.set_value(option.key, (not value) if option.inverted else bool(value))

    def state(self, catalog: Catalog | None = None) -> ProfileState:
        """What the faces show: every catalog, installed, bookmarked and scheduled extension
        with its state, the options, and whether a restart is needed. ``catalog``: the one to
        compare with (default: the cached one; no request)."""
        catalog = catalog if catalog is not None else self.cached_catalog()
        ctx = self.context
        loaded = self.loaded_set()
        reader = ctx.revision_settings.read() if ctx.revision_settings.exists() else None
        uninstalls = [n for n in (reader.string_list(SCHEDULED_UNINSTALL_KEY) if reader else []) if is_extension_name(n)]
        updates = {str(k): str(v) for k, v in (reader.variant_map(SCHEDULED_UPDATE_KEY) if reader else {}).items()
                   if is_extension_name(str(k))}
        return build_profile_state(
            revision=ctx.revision, os_name=ctx.os, arch=ctx.arch, installed=self._records(),
            catalog=catalog.extensions if catalog is not None else None, bookmarks=self.history.bookmarks(),
            scheduled_uninstalls=uninstalls, scheduled_updates=updates, options=self.options(), loaded=loaded)

    def installed_extensions(self) -> list[ExtensionState]:
        """Installed extensions, sorted case-insensitively like Slicer (no request)."""
        return build_profile_state(
            revision=self.context.revision, os_name=self.context.os, arch=self.context.arch,
            installed=self._records(), catalog=None, bookmarks=(), scheduled_uninstalls=(), scheduled_updates={},
            options=Options(), loaded=LoadedSet()).installed

    def search(self, text: str = "", category: str | None = None, *, refresh: bool = False) -> list[ExtensionState]:
        """Catalog extensions matching ``text`` (every word, in name, description, category or keywords)."""
        catalog = self.catalog(refresh=refresh)
        state = self.state(catalog)
        return [state.extensions[m.name] for m in catalog.search(text, category)]

    def extension_info(self, name: str) -> ExtensionState:
        """One catalog extension by name or id (the cache is refreshed once if it does not know it)."""
        service = self.catalog_service
        looks_like_id = len(name) == 24 and all(c in "0123456789abcdef" for c in name)
        meta = service.find_by_id(name) if looks_like_id and service.get().get(name) is None else service.find(name)
        return self.state(service.get()).extensions[meta.name]

    # -- install, update, uninstall ----------------------------------------------------------------

    @property
    def installer(self) -> Installer:
        """The transactions on this context's install folder."""
        if self._installer is None:
            from .installer import Installer

            self._installer = Installer(self.context)
        return self._installer

    @property
    def jobs(self) -> JobFactory:
        """The jobs of the install queue (``installs.py``)."""
        if self._jobs is None:
            from .installs import JobFactory

            self._jobs = JobFactory(self)
        return self._jobs

    def _recover_pending(self) -> None:
        """Before the install folder is read: finish or undo what an interrupted run left
        there (never waits for, nor touches, a change another program is making now)."""
        from .recovery import recovery_needed

        if self._recovering or not recovery_needed(self.context):
            return
        self._recovering = True
        try:
            for line in self.installer.recover_pending():
                log.warning("%s", line)
        except ExtensionManagerError as exc:
            log.warning("%s", exc)
        finally:
            self._recovering = False

    def plan_install(self, names: list[str], *, with_dependencies: bool = True) -> InstallPlan:
        """Resolve ``names`` and their dependencies against the catalog (one request at most)."""
        catalog = self.catalog()
        missing = [n for n in names if catalog.get(n) is None and not self.registry.is_installed(n)]
        if missing and catalog.from_cache and not catalog.offline_reason:
            catalog = self.catalog(refresh=True)  # the cache may predate these extensions
        from .dependencies import resolve

        return resolve(names, catalog.extensions, self.registry.is_installed, with_dependencies=with_dependencies)

    def download(self, meta: ExtensionMetadata, folder: Path, cancel: Callable[[], bool],
                 progress: ProgressFunction, *, resume: bool = False) -> DownloadResult:
        # Not fsynced: the package is extracted at once and deleted; after a crash it is fetched again.
        return self.client.download_package(meta.extension_id, folder, name=meta.name, sha512=meta.sha512,
                                            progress=progress, cancel=cancel, durable=False, resume=resume)

    def install_jobs(self, plan: InstallPlan, *, resumable: bool = False) -> list[Job]:
        """One job per extension of the plan, dependencies first (run them with :meth:`run_jobs`).
        ``resumable``: a failed or cancelled download is continued when the job is made and
        run again for the same build (the dialog's Retry)."""
        return self.jobs.install_jobs(plan, resumable=resumable)

    def discard_partial_downloads(self, names: list[str]) -> list[str]:
        """Delete the partial downloads resumable jobs kept for ``names`` (the names that had one)."""
        from .installs import discard_partial_downloads

        with self.installer.lock():
            return discard_partial_downloads(self, names)

    def run_jobs(self, jobs: list[Job], *, listener: Listener | None = None,
                 queue: InstallQueue | None = None) -> list[JobResult]:
        """Run jobs sequentially with the install folder locked; interrupted transactions of an
        earlier run are recovered first. ``listener`` gets every event, also with a ``queue``."""
        from .installs import Prefetcher
        from .queue import InstallQueue

        queue = queue if queue is not None else InstallQueue()
        if listener is not None:
            queue.add_listener(listener)
        queue.extend(jobs)
        installer = self.installer
        installer.check_prerequisites()
        self.loaded_set()
        with installer.lock():
            for line in installer.recover():
                queue.message(line)
            self.jobs.prefetcher = Prefetcher(self, queue)
            try:
                return queue.run()
            finally:
                self.jobs.prefetcher.close()
                self.jobs.prefetcher = None
                installer.flush()

    def install(self, names: list[str], *, with_dependencies: bool = True,
                listener: Listener | None = None, queue: InstallQueue | None = None) -> OperationReport:
        """Install ``names`` (and their dependencies) from the server."""
        from .installs import skipped_installed
        from .queue import JobResult, Outcome

        plan = self.plan_install(names, with_dependencies=with_dependencies)
        results = [skipped_installed(n) for n in plan.already_installed]
        results += [JobResult(n, Outcome.FAILED, f"The server has no extension named {n} for Slicer revision "
                                                 f"{self.context.revision} ({self.context.os}/{self.context.arch}).")
                    for n in plan.unknown]
        if plan.order:
            results += self.run_jobs(self.install_jobs(plan), listener=listener, queue=queue)
        warnings = list(plan.warnings()) + [w for r in results for w in r.warnings]
        return OperationReport(tuple(results), plan, tuple(dict.fromkeys(warnings)))

    def file_jobs(self, paths: list[Path], *, force: bool = False,
                  with_dependencies: bool = True) -> tuple[list[Job], list[JobResult]]:
        """Jobs for archives on disk (each preceded by server jobs for its missing
        dependencies), and a failed result for each archive that cannot be used."""
        from .queue import JobResult, Outcome

        jobs: list[Job] = []
        failures: list[JobResult] = []
        for path in paths:
            path = Path(path)
            try:
                new = self.jobs.file_jobs(path, force=force, with_dependencies=with_dependencies)
            except ExtensionManagerError as exc:
                failures.append(JobResult(path.name, Outcome.FAILED, str(exc)))
                continue
            known = {j.name for j in jobs}
            jobs += [j for j in new if j.name not in known]
        return jobs, failures

    def install_files(self, paths: list[Path], *, force: bool = False, with_dependencies: bool = True,
                      listener: Listener | None = None, queue: InstallQueue | None = None) -> OperationReport:
        """Install extension archives from disk (several at once)."""
        jobs, results = self.file_jobs(paths, force=force, with_dependencies=with_dependencies)
        if jobs:
            results += self.run_jobs(jobs, listener=listener, queue=queue)
        warnings = [w for r in results for w in r.warnings]
        return OperationReport(tuple(results), None, tuple(dict.fromkeys(warnings)))

    def uninstall(self, names: list[str], *, schedule: bool = False) -> OperationReport:
        """Uninstall now, or (``schedule``) at Slicer's next start as Slicer does for loaded extensions."""
        from .queue import JobResult, Outcome

        installer = self.installer
        installer.check_prerequisites()
        self.loaded_set()
        results = []
        with installer.lock():
            for line in installer.recover():
                log.warning("%s", line)
            for name in names:
                try:
                    results.append(installer.schedule_uninstall(name) if schedule else installer.uninstall(name))
                except ExtensionManagerError as exc:
                    results.append(JobResult(name, Outcome.FAILED, str(exc)))
        return OperationReport(tuple(results))

    def cancel_uninstall(self, name: str) -> bool:
        with self.installer.lock():
            return self.installer.cancel_scheduled_uninstall(name)

    def cancel_update(self, name: str) -> bool:
        """Cancel a scheduled update (the downloaded archive stays until Slicer's next start)."""
        with self.installer.lock():
            return self.installer.cancel_scheduled_update(name)

    def available_updates(self, *, refresh: bool = False) -> list[ExtensionState]:
        """Installed extensions whose server revision differs (Slicer's rule: any difference)."""
        updates = self.state(self.catalog(refresh=refresh)).updates
        if updates:
            try:
                with self.context.revision_settings.edit() as e:
                    e.set_value(UPDATES_AVAILABLE_KEY, True)
            except ExtensionManagerError:
                pass
        return updates

    def update(self, names: list[str] | None = None, *, schedule: bool = False,
               listener: Listener | None = None, queue: InstallQueue | None = None,
               resumable: bool = False) -> OperationReport:
        """Update ``names`` (default: every extension with an update) now, or download
        them into ``.updates/`` for the next start (``schedule``); ``resumable`` as for
        :meth:`install_jobs` (updates applied now)."""
        from .queue import JobResult, Outcome

        updates = {s.name: s.server_metadata for s in self.available_updates(refresh=True) if s.server_metadata}
        results: list[JobResult] = []
        jobs = []
        for name in (list(names) if names else list(updates)):
            meta = updates.get(name)
            if meta is None:
                installed = self.registry.is_installed(name)
                results.append(JobResult(name, Outcome.SKIPPED, f"{name} is up to date.") if installed else
                               JobResult(name, Outcome.FAILED, f"{name} is not installed, so it cannot be updated."))
                continue
            jobs.append(self.jobs.update_job(meta) if schedule else
                        self.jobs.server_job(meta, None, update=True, resumable=resumable))
        if jobs:
            results += self.run_jobs(jobs, listener=listener, queue=queue)
        return OperationReport(tuple(results), None, tuple(dict.fromkeys(w for r in results for w in r.warnings)))

    def apply_scheduled(self) -> OperationReport:
        installer = self.installer
        installer.check_prerequisites()
        with installer.lock():
            for line in installer.recover():
                log.warning("%s", line)
            return OperationReport(tuple(installer.apply_scheduled()))

    def set_enabled(self, name: str, enabled: bool) -> bool:
        self.loaded_set()
        with self.installer.lock():
            return self.installer.set_enabled(name, enabled)

    # -- Slicer application updates -----------------------------------------------------------------

    @property
    def slicer_updates(self) -> SlicerUpdater:
        """Newer Slicer builds, and installing one with this Slicer's extensions (``slicer_updates.py``)."""
        from .slicer_updates import SlicerUpdater

        if self._slicer_updates is None:
            self._slicer_updates = SlicerUpdater(self)
        return self._slicer_updates

    # -- restore ----------------------------------------------------------------------------------

    def restore_plan(self, *, refresh: bool = False, options: ServerOptions | None = None) -> RestorePlan:
        """The restore plan: one catalog request at most, none when the cache is fresh or
        when nothing in the history or bookmarks is missing."""
        from .restore import names_needing_catalog, plan_restore

        history = self.history.revisions()
        bookmarks = self.history.bookmarks()
        installed = self.registry.names()
        ctx = self.context
        needed = names_needing_catalog(history, bookmarks, installed, ctx.revision)
        catalog, note, unavailable = None, "", False
        if needed:
            try:
                cat = self.catalog(refresh=refresh, options=options)
                catalog, note = cat.extensions, (cat.status_text() if cat.offline_reason else "")
            except ServerError as exc:
                note, unavailable = str(exc), True
        return plan_restore(history, bookmarks, installed, catalog, ctx.revision, ctx.os, ctx.arch,
                            catalog_note=note, catalog_unavailable=unavailable)

    def restore(self, names: list[str] | None = None, *, listener: Listener | None = None,
                queue: InstallQueue | None = None) -> OperationReport:
        """Install the preselected candidates (or ``names``) with their dependencies."""
        if names is None:
            names = [c.name for c in self.restore_plan().selected]
        if not names:
            return OperationReport(())
        return self.install(list(names), listener=listener, queue=queue)

    def startup_check(self, *, install: bool | None = None, timeout: float = 5.0,
                      listener: Listener | None = None) -> StartupCheckResult:
        """Slicer's legacy startup logic, headless: honours "Check previous extensions on
        startup" and, when ``install`` is None, "Install previous extensions without asking".
        No request is made when there is nothing to restore; a slow server costs at most
        ``timeout`` seconds (the installs themselves use the normal options)."""
        from .restore import StartupCheckResult

        options = self.options()
        if not options.check_on_startup:
            return StartupCheckResult(False, "The startup check is turned off (ExtensionCheckOnStartup/dontCheck).")
        silent = options.install_without_asking if install is None else install
        quick = self.options_for_server().with_timeout(timeout)
        plan = self.restore_plan(options=quick)
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

    def startup_options(self) -> tuple[bool, bool]:
        """(check previous extensions on startup, install them without asking)."""
        options = self.options()
        return options.check_on_startup, options.install_without_asking

    # -- profiles -----------------------------------------------------------------------------------

    def export_profile(self, path: Path) -> ExtensionsProfile:
        from .profiles import export_profile

        profile = export_profile(self.registry, self.history.bookmarks())
        profile.save(path)
        return profile

    def plan_profile_import(self, path: Path) -> tuple[ExtensionsProfile, list[ImportItem]]:
        from .profiles import ExtensionsProfile, plan_import

        profile = ExtensionsProfile.load(path)
        catalog = self.catalog().extensions
        installed = {e.name: e.revision for e in self.registry.installed()}
        return profile, plan_import(profile, catalog, installed)

    def import_profile(self, path: Path, *, listener: Listener | None = None) -> tuple[list[ImportItem], OperationReport]:
        from .profiles import ImportStatus

        _, items = self.plan_profile_import(path)
        names = [i.name for i in items if not i.installed and i.status in (ImportStatus.INSTALL,
                                                                           ImportStatus.DIFFERENT_REVISION)]
        report = self.install(names, listener=listener) if names else OperationReport(())
        return items, report
