"""The panel's Restore tab: the standalone Restore tab's plan, state texts and preselection
(``manager.restore_plan()``, ``RestoreCandidate.state_text``), as PythonQt widgets.

A line per candidate: mark, name (★ when bookmarked) and its state text; a legend explains
the colours and marks. Extensions that cannot be installed here are shown, not checkable.
"Install selected" installs the checked ones with their dependencies, one at a time, with
progress per item and overall and Cancel; the list is reloaded afterwards. "Remove from
history" forgets the current line (incompatible ones too). The two startup options are
written through ``manager.set_option``.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Optional

import qt

from ..queue import QueueEvent
from ..report import OperationReport
from ..restore import RestoreCandidate, RestorePlan
from ..state import Option
from .texts import (
    BOOKMARK_LEGEND,
    BOOKMARK_MARK,
    LEGEND,
    STYLES,
    candidate_kind,
    candidate_line,
    install_summary,
    plan_summary,
)
from .widgets import WARNING_STYLE, ProgressView, button, flags, label, row, set_sentence

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session

__all__ = ["RestorePanel"]

NAME_ROLE = qt.Qt.UserRole


def legend_html() -> str:
    """The marks and colours of the list, two to a row."""
    cells = []
    for mark, color, text in (*LEGEND, (BOOKMARK_MARK, "", BOOKMARK_LEGEND)):
        style = f' style="color:{color}"' if color else ""
        cells.append(f"<td><span{style}><b>{html.escape(mark)}</b>&nbsp;{html.escape(text)}</span></td>")
    rows = ["<tr>" + "".join(cells[i:i + 2]) + "</tr>" for i in range(0, len(cells), 2)]
    return '<table cellspacing="0" cellpadding="1">' + "".join(rows) + "</table>"


class RestorePanel:
    def __init__(self, session: Session):
        self.session = session
        self.plan: Optional[RestorePlan] = None
        self.loading = False
        self.widget = session.track(qt.QWidget())
        layout = qt.QVBoxLayout(self.widget)
        self.header = label("Loading the extensions of previous Slicer versions…")
        self.note = label(style=WARNING_STYLE)
        self.note.setVisible(False)
        self.list = qt.QListWidget()
        self.list.setObjectName("restoreList")
        self.list.setAccessibleName("Extensions to restore")
        self.list.setAlternatingRowColors(True)
        self.list.setMinimumHeight(160)
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(qt.Qt.ScrollBarAlwaysOff)
        self.list.itemChanged.connect(lambda *_a: self._update_buttons())
        self.list.currentItemChanged.connect(lambda *_a: self._update_buttons())
        self.legend = label(legend_html(), rich=True)
        self.legend.setObjectName("restoreLegend")
        self.select_all_button = button("Select all", lambda: self.set_all(True))
        self.deselect_all_button = button("Deselect all", lambda: self.set_all(False))
        self.remove_button = button("Remove from history", self.remove_current,
                                    "Forget the current extension: remove it from the history of previous Slicer "
                                    "versions (and from the bookmarks), so it is not offered again")
        self.install_button = button("Install selected", self.install_selected,
                                     "Install the checked extensions and their dependencies")
        self.progress = ProgressView()
        self.result = label()
        self.result.setVisible(False)
        self.check_on_startup = qt.QCheckBox("Check previous extensions on startup")
        self.check_on_startup.setToolTip("When Slicer starts, offer to install the extensions of the previous Slicer "
                                         "version (ExtensionCheckOnStartup/dontCheck)")
        self.install_without_asking = qt.QCheckBox("Install previous extensions without asking")
        self.install_without_asking.setToolTip("At startup, install them without asking first "
                                               "(ExtensionCheckOnStartup/ifCheckInstallWithoutDialog)")
        self.check_on_startup.toggled.connect(lambda on: self._set_option(Option.CHECK_ON_STARTUP, on))
        self.install_without_asking.toggled.connect(lambda on: self._set_option(Option.INSTALL_WITHOUT_ASKING, on))
        layout.addWidget(self.header)
        layout.addWidget(self.note)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.legend)
        layout.addLayout(row(self.select_all_button, self.deselect_all_button, self.remove_button, stretch_at=3))
        layout.addLayout(row(self.install_button, stretch_at=0))
        layout.addWidget(self.progress.widget)
        layout.addWidget(self.result)
        layout.addWidget(self.check_on_startup)
        layout.addWidget(self.install_without_asking)
        self._update_buttons()

    # -- loading --------------------------------------------------------------------------------------

    def reload(self, *, refresh: bool = False) -> None:
        self.loading = True
        self._update_buttons()
        self.session.read(lambda m: (m.restore_plan(refresh=refresh), m.options()), self._loaded, self._failed,
                          name="Loading the extensions of previous Slicer versions")

    def _loaded(self, value: Any) -> None:
        plan, options = value
        self.loading = False
        self.show_plan(plan)
        self._show_options(options.check_on_startup, options.install_without_asking)

    def _failed(self, message: str) -> None:
        self.loading = False
        set_sentence(self.note, message, error=True)
        if self.plan is None:
            self.header.setText("The extensions of previous Slicer versions could not be listed.")
        self._update_buttons()

    def _show_options(self, check: bool, silent: bool) -> None:
        for box, value in ((self.check_on_startup, check), (self.install_without_asking, silent)):
            box.blockSignals(True)
            box.setChecked(value)
            box.blockSignals(False)
        self.install_without_asking.setEnabled(check)

    def _set_option(self, option: Option, value: bool) -> None:
        if option == Option.CHECK_ON_STARTUP:
            self.install_without_asking.setEnabled(value)
        self.session.set_option(option, value)

    def show_plan(self, plan: RestorePlan) -> None:
        current = self.current_name()
        self.plan = plan
        self.header.setText(plan_summary(plan))
        set_sentence(self.note, plan.catalog_note)
        self.list.blockSignals(True)
        self.list.clear()
        for candidate in plan.candidates:
            self.list.addItem(self._item(candidate, candidate.state_text(plan.previous_revision)))
        self.list.blockSignals(False)
        if current:
            self.select_name(current)
        self._update_buttons()

    def _item(self, candidate: RestoreCandidate, state: str) -> Any:
        item = qt.QListWidgetItem(f"{candidate_line(candidate)}\n   {state}")
        item.setData(NAME_ROLE, candidate.name)
        style = STYLES[candidate_kind(candidate)]
        item.setFlags(flags(qt.Qt.ItemIsEnabled, qt.Qt.ItemIsSelectable,
                            qt.Qt.ItemIsUserCheckable if candidate.selectable else 0))
        if candidate.selectable:
            item.setCheckState(qt.Qt.Checked if candidate.selected else qt.Qt.Unchecked)
        if style.color:
            item.setForeground(qt.QBrush(qt.QColor(style.color)))
        item.setToolTip(candidate.description or state)
        return item

    # -- reading the list ----------------------------------------------------------------------------------

    def items(self) -> list[Any]:
        return [self.list.item(i) for i in range(self.list.count)]

    def item_named(self, name: str) -> Any:
        return next((it for it in self.items() if it.data(NAME_ROLE) == name), None)

    def candidate(self, name: str) -> Optional[RestoreCandidate]:
        return self.plan.get(name) if self.plan is not None else None

    def checked_names(self) -> list[str]:
        names = []
        for it in self.items():
            c = self.candidate(str(it.data(NAME_ROLE)))
            if c is not None and c.selectable and it.checkState() == qt.Qt.Checked:
                names.append(c.name)
        return names

    def current_name(self) -> str:
        item = self.list.currentItem()
        return str(item.data(NAME_ROLE)) if item is not None else ""

    def select_name(self, name: str) -> None:
        item = self.item_named(name)
        if item is not None:
            self.list.setCurrentItem(item)

    def set_all(self, checked: bool) -> None:
        self.list.blockSignals(True)
        for it in self.items():
            c = self.candidate(str(it.data(NAME_ROLE)))
            if c is not None and c.selectable:
                it.setCheckState(qt.Qt.Checked if checked else qt.Qt.Unchecked)
        self.list.blockSignals(False)
        self._update_buttons()

    # -- actions ---------------------------------------------------------------------------------------------

    def install_selected(self) -> None:
        names = self.checked_names()
        if not names:
            return
        if self.session.installing:
            set_sentence(self.result, "Another install is running; wait until it has finished, then try again.",
                         error=True)
            return
        set_sentence(self.result, "")
        handle = self.session.install_names(names, on_event=self._event, on_result=self._installed,
                                            on_error=self._install_failed)
        self.progress.start(tuple(names), handle)
        self._update_buttons()

    def _event(self, event: QueueEvent) -> None:
        self.progress.update(event)
        progress = self.progress.progress
        item = self.item_named(event.name)
        if progress is None or item is None or event.name not in progress.items:
            return
        candidate = self.candidate(event.name)
        line = candidate_line(candidate) if candidate is not None else event.name
        item.setText(f"{line}\n   {progress.items[event.name].text}")

    def _installed(self, report: OperationReport) -> None:
        self.progress.finish()
        lines = [install_summary(len(report.failed), len(report.results), report.restart_required)]
        lines += [f"{r.name}: {r.message}" for r in report.failed]
        lines += list(report.warnings)
        set_sentence(self.result, "\n".join(lines), error=bool(report.failed))
        self.reload()

    def _install_failed(self, message: str) -> None:
        self.progress.finish()
        set_sentence(self.result, f"Nothing was installed: {message}", error=True)
        self.reload()

    def remove_current(self) -> None:
        name = self.current_name()
        candidate = self.candidate(name)
        if candidate is None:
            return
        bookmarked = candidate.bookmarked

        def forget(manager: Any) -> None:
            manager.history.remove(name)
            if bookmarked:
                manager.history.set_bookmarked(name, False)

        def done() -> None:
            set_sentence(self.result, f"{name} was removed from the history of previous Slicer versions"
                                      + (" and from the bookmarks." if bookmarked else "."))
            self.reload()

        self.session.write_settings(forget, done, name=f"Removing {name} from the history")

    def _update_buttons(self) -> None:
        busy = self.session.installing
        selectable = any(c.selectable for c in (self.plan.candidates if self.plan else ()))
        n = len(self.checked_names())
        self.select_all_button.setEnabled(selectable and not busy)
        self.deselect_all_button.setEnabled(selectable and not busy)
        self.install_button.setEnabled(n > 0 and not busy)
        self.install_button.setText(f"Install selected ({n})" if n else "Install selected")
        self.remove_button.setEnabled(bool(self.current_name()) and not busy)
