"""Slicer application updates: find a newer Slicer, install it, and install the current
Slicer's extensions for it before it first starts (the seed roadmap's "self update").

:class:`SlicerUpdater` is what :class:`~slicer_ext_manager.manager.ExtensionsManager`
exposes as ``manager.slicer_updates``; the CLI's ``slicer-versions`` / ``install-slicer``
and the dialog's Slicer updates view use it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .cache import user_cache_dir
from .context import AppContext, slicer_version_of_home
from .download import DownloadResult
from .errors import ChecksumMismatchError, ExtensionManagerError
from .queue import InstallQueue, Job, JobContext, JobResult, Listener, Outcome, Phase
from .report import OperationReport
from .slicer_builds import SlicerBuild, Stability, list_builds, pick, select, with_files
from .slicer_installer import (
    Runner,
    SlicerLayout,
    check_destination,
    check_runnable_here,
    default_destination,
    install_package,
)

if TYPE_CHECKING:  # pragma: no cover
    from .manager import ExtensionsManager


@dataclass(frozen=True)
class SlicerInstallReport:
    """What ``install-slicer`` did."""

    build: SlicerBuild
    download: Optional[DownloadResult] = None
    layout: Optional[SlicerLayout] = None
    extensions: Optional[OperationReport] = None
    #: Extensions of the current Slicer that have no build for the new one.
    unavailable: tuple[str, ...] = ()
    launched: bool = False
    error: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.error and (self.extensions is None or self.extensions.ok)

    def not_available(self) -> list[dict[str, str]]:
        reason = (f"not available for Slicer revision {self.build.revision} ({self.build.os}/{self.build.arch})"
                  if self.build else "")
        return [{"name": name, "reason": reason} for name in self.unavailable]

    def to_json(self) -> dict[str, object]:
        d = self.download
        return {
            "build": self.build.to_json(),
            "download": None if d is None else {"path": str(d.path), "size": d.size, "sha512": d.sha512,
                                                 "verified": d.verified, "resumed": d.resumed},
            "installed_to": str(self.layout.root) if self.layout else None,
            "slicer_home": str(self.layout.home) if self.layout else None,
            "executable": str(self.layout.executable) if self.layout else None,
            "extensions": self.extensions.to_json() if self.extensions is not None else None,
            "not_available": self.not_available(),
            "launched": self.launched,
            "error": self.error or None,
            "warnings": list(self.warnings),
        }


def _sha512_of(path: Path) -> str:
    digest = hashlib.sha512()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class SlicerUpdater:
    """Slicer builds of one manager's server and platform."""

    def __init__(self, manager: ExtensionsManager, runner: Runner | None = None):
        self.manager = manager
        self.runner = runner

    @property
    def cache_dir(self) -> Path:
        return user_cache_dir() / "slicer-packages"

    def builds(self, stability: Stability = Stability.RELEASE, include_all: bool = False) -> list[SlicerBuild]:
        """This platform's builds of ``stability``, newest first; only newer ones unless ``include_all``."""
        ctx = self.manager.context
        found = select(list_builds(self.manager.client, ctx.os, ctx.arch, ctx.revision), stability, include_all)
        return with_files(self.manager.client, found)

    def pick(self, wanted: str = "latest", stability: Stability = Stability.RELEASE) -> SlicerBuild:
        """``latest``, a version or a revision (among all builds of ``stability``)."""
        ctx = self.manager.context
        builds = select(list_builds(self.manager.client, ctx.os, ctx.arch, ctx.revision), stability, True)
        return with_files(self.manager.client, [pick(builds, wanted)])[0]

    def download(self, build: SlicerBuild, progress=None, cancel=None) -> DownloadResult:
        """The package into the cache folder (resumed after an interruption; a complete cached copy
        is reused when its checksum matches)."""
        if not build.file_id:
            raise ExtensionManagerError(f"The server lists no package file for {build.label}.")
        folder = self.cache_dir / build.revision
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / (Path(build.file_name).name or f"Slicer-{build.version}")
        if dest.is_file() and build.sha512:
            if _sha512_of(dest) == build.sha512:
                return DownloadResult(dest, dest.name, dest.stat().st_size, build.sha512, True)
            dest.unlink()
        client = self.manager.client
        try:
            return client.download_file(build.file_id, dest, expected_sha512=build.sha512,
                                        expected_size=build.size or None, progress=progress, cancel=cancel,
                                        label=build.label, resume=True)
        except ChecksumMismatchError:
            dest.unlink(missing_ok=True)
            raise

    def new_context(self, layout: SlicerLayout) -> AppContext:
        """The profile of the new Slicer: its own revision settings and install folder, the
        user settings (history, bookmarks) shared with every Slicer."""
        ctx = self.manager.context
        return AppContext(
            revision=layout.revision, os=layout.os, arch=ctx.arch, user_settings_path=ctx.user_settings_path,
            revision_settings_path=layout.revision_settings, install_path=layout.install_path,
            server_url=ctx.server_url, app_id=ctx.app_id, app_name=None,
            slicer_version=slicer_version_of_home(layout.home), slicer_home=layout.home,
            origins={"revision": "install-slicer", "install_path": "the new Slicer's default"},
        )

    def carry_extensions(self, layout: SlicerLayout,
                         listener: Listener | None = None) -> tuple[OperationReport, tuple[str, ...]]:
        """Install for the new Slicer what the current one has: its installed extensions and the
        restore plan's preselection (history and bookmarks). Returns the report and the names
        that have no build for the new Slicer (one catalog request)."""
        from .manager import ExtensionsManager

        layout.revision_settings.parent.mkdir(parents=True, exist_ok=True)
        target = ExtensionsManager(self.new_context(layout), self.manager.server_options)
        catalog = target.catalog()
        plan = target.restore_plan()
        wanted = list(dict.fromkeys(self.manager.registry.names() + [c.name for c in plan.selected]))
        unavailable = tuple(n for n in wanted if catalog.get(n) is None)
        available = [n for n in wanted if n not in unavailable]
        report = target.install(available, listener=listener) if available else OperationReport(())
        return report, unavailable

    def install(self, build: SlicerBuild, *, dest: Path | None = None, extensions: bool = True,
                launch: bool = False, force: bool = False, listener: Listener | None = None,
                queue: InstallQueue | None = None) -> SlicerInstallReport:
        """Download, install, carry the extensions over, launch; never raises for a failed step
        (the report says which and why), except for a cancelled or impossible request."""
        runner = self.runner or Runner()
        if self.runner is None:
            check_runnable_here(build)
        dest = Path(dest) if dest else default_destination(build, self.manager.context.slicer_home)
        check_destination(dest, force)  # before a long download
        state: dict[str, object] = {}

        def action(ctx: JobContext) -> JobResult:
            ctx.phase(Phase.DOWNLOAD, f"Downloading {build.label}")
            result = self.download(build, lambda done, total: ctx.progress(done, total, Phase.DOWNLOAD), ctx.token)
            state["download"] = result
            ctx.phase(Phase.EXTRACT, f"Installing {build.label} into {dest}")
            def extracted(done: int, total: int) -> None:
                ctx.progress(done, total, Phase.EXTRACT)

            state["layout"] = install_package(build, result.path, dest, force=force, runner=runner,
                                              cancel=ctx.token, progress=extracted)
            return JobResult(f"Slicer {build.version}", Outcome.INSTALLED,
                             f"Installed {build.label} into {dest}.", revision=build.revision)

        queue = queue if queue is not None else InstallQueue()
        if listener is not None:
            queue.add_listener(listener)
        queue.add(Job(f"Slicer {build.version}", action, f"Install {build.label}"))
        (result,) = queue.run()
        layout = state.get("layout")
        download = state.get("download")
        warnings = () if build.sha512 else (f"The server publishes no checksum for {build.label}; "
                                            "its download could not be verified.",)
        if not isinstance(layout, SlicerLayout):
            return SlicerInstallReport(build, download if isinstance(download, DownloadResult) else None,
                                       error=result.message, warnings=warnings)
        report, unavailable = self.carry_extensions(layout, listener) if extensions else (None, ())
        if launch:
            runner.launch(layout.launch_command())
        return SlicerInstallReport(build, download if isinstance(download, DownloadResult) else None, layout,
                                   report, unavailable, launched=launch, warnings=warnings)
