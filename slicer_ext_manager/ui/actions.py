"""What the buttons of the Installed, Restore and Search tabs do to the profile: uninstall
(asked first; an extension in use is removed at the next start, as Slicer does),
enable/disable, cancel a scheduled change, bookmarks, the history. Each runs in a worker
thread through the service; its outcome is reported as a sentence."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from PySide6.QtWidgets import QWidget

from ..conventions import invalid_name_sentence, is_extension_name
from ..report import OperationReport
from . import prompts
from .service import ExtensionsService

Report = Callable[[str], None]


class ExtensionActions:
    """``in_use(name)``: loaded by the running Slicer (its uninstall waits for a restart)."""

    def __init__(self, service: ExtensionsService, parent: QWidget, *, in_use: Callable[[str], bool],
                 report: Report, interactive: bool = True):
        self.service = service
        self.parent = parent
        self.in_use = in_use
        self.report = report
        self.interactive = interactive

    def uninstall(self, names: Sequence[str]) -> bool:
        """Ask, then uninstall; False when the user kept them."""
        at_restart = [n for n in names if self.in_use(n)]
        now = [n for n in names if n not in at_restart]
        if self.interactive and not prompts.ask_uninstall(self.parent, now, at_restart):
            return False

        def run(manager: Any) -> list[str]:
            reports: list[OperationReport] = []
            if now:
                reports.append(manager.uninstall(now))
            if at_restart:
                reports.append(manager.uninstall(at_restart, schedule=True))
            return [r.message for report in reports for r in report.results]

        self.service.run_operation(run, lambda texts: self.report(" ".join(texts)), self.report)
        return True

    def cancel_uninstall(self, names: Sequence[str]) -> None:
        names = list(names)

        def run(manager: Any) -> list[str]:
            return [n for n in names if manager.cancel_uninstall(n)]

        self.service.run_operation(run, lambda kept: self.report(
            f"{', '.join(kept)} will not be uninstalled." if kept else "Nothing was scheduled for uninstall."),
            self.report)

    def cancel_scheduled_updates(self, names: Sequence[str]) -> None:
        names = list(names)

        def run(manager: Any) -> list[str]:
            return [n for n in names if manager.cancel_update(n)]

        self.service.run_operation(run, lambda done: self.report(
            f"The update of {', '.join(done)} was cancelled." if done else "No update was scheduled."), self.report)

    def set_enabled(self, names: Sequence[str], enabled: bool) -> None:
        names = list(names)

        def run(manager: Any) -> list[str]:
            for name in names:
                manager.set_enabled(name, enabled)
            return names

        word = "enabled" if enabled else "disabled"
        self.service.run_operation(run, lambda done: self.report(
            f"{', '.join(done)} {'is' if len(done) == 1 else 'are'} {word}; restart Slicer for it to take effect."),
            self.report)

    def bookmark(self, names: Sequence[str], bookmarked: bool) -> None:
        names = list(names)

        def done(changed: list[str]) -> None:
            shown = ", ".join(changed or names)
            self.report(f"{shown} {'bookmarked' if bookmarked else 'no longer bookmarked'}.")

        self.service.set_bookmarked(names, bookmarked, done)

    def edit_bookmarks(self, current: Sequence[str]) -> None:
        """Slicer's "Edit bookmarks…" (names that are not extension names are refused, said why)."""
        names = prompts.edit_bookmarks(self.parent, list(current))
        if names is None:
            return
        bad = [n for n in names if not is_extension_name(n)]
        if bad:
            prompts.show_error(self.parent, "Bookmarked extensions", invalid_name_sentence(bad[0])
                               + " The bookmarks were not changed.")
            return
        self.service.set_bookmarks(names, lambda _r: self.report(
            f"Bookmarks: {', '.join(names)}." if names else "No extension is bookmarked any more."))

    def remove_from_history(self, names: Sequence[str], bookmarked: Sequence[str]) -> None:
        names, bookmarked = list(names), [n for n in bookmarked if n in names]
        if self.interactive and not prompts.ask_remove_from_history(self.parent, names):
            return

        def run(manager: Any) -> None:
            for name in names:
                manager.history.remove(name)
            if bookmarked:
                manager.history.set_bookmarks_state(bookmarked, False)

        def done(_result: Any) -> None:
            self.service.load_restore_plan()
            self.report(f"{', '.join(names)} removed from the history of previous Slicer versions"
                        + (" and from the bookmarks." if bookmarked else "."))

        self.service.run_read(run, done, self.report)
