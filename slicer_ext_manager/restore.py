"""Restore: get the extensions of a previous Slicer back.

:func:`plan_restore` is a pure function of the history, the bookmarks, what is
installed and the catalog for this build. It needs one catalog request (none with
a fresh cache) however many names the history holds, where Slicer 4.10–5.0 asked
the server once per extension.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping

from .conventions import revision_sort_key
from .metadata import ExtensionMetadata

if TYPE_CHECKING:  # pragma: no cover
    from .report import OperationReport


@dataclass(frozen=True)
class RestoreCandidate:
    """One extension of the history or the bookmarks."""

    name: str
    #: Latest other revision whose history lists it ("" when only bookmarked).
    last_revision: str
    #: Listed in the most recent previous revision's history.
    was_in_last_revision: bool
    installed: bool
    bookmarked: bool
    available: bool
    compatible: bool
    reason: str
    extension_id: str
    selected: bool
    description: str = ""
    #: The catalog could not be loaded: whether it is available is unknown (not "unavailable").
    availability_unknown: bool = False

    @property
    def selectable(self) -> bool:
        return self.compatible and not self.installed

    def state_text(self, previous_revision: str) -> str:
        """The Restore tab's state line."""
        if self.installed:
            return "currently installed"
        if self.availability_unknown:
            return "availability unknown: the extensions catalog could not be loaded"
        if not self.compatible:
            return f"not available for this version ({self.reason})"
        if self.was_in_last_revision:
            return f"was used in the previous version ({previous_revision})"
        if self.last_revision:
            return f"last used in version {self.last_revision}"
        return "bookmarked"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "last_revision": self.last_revision or None,
            "was_in_last_revision": self.was_in_last_revision,
            "installed": self.installed,
            "bookmarked": self.bookmarked,
            "available": self.available,
            "compatible": self.compatible,
            "reason": self.reason or None,
            "extension_id": self.extension_id or None,
            "selected": self.selected,
            "availability_unknown": self.availability_unknown,
        }


@dataclass(frozen=True)
class RestorePlan:
    revision: str
    previous_revision: str
    candidates: tuple[RestoreCandidate, ...]
    catalog_note: str = ""

    @property
    def selected(self) -> tuple[RestoreCandidate, ...]:
        return tuple(c for c in self.candidates if c.selected)

    def get(self, name: str) -> RestoreCandidate | None:
        return next((c for c in self.candidates if c.name == name), None)

    def to_json(self) -> dict[str, object]:
        return {
            "revision": self.revision,
            "previous_revision": self.previous_revision or None,
            "candidates": [c.to_json() for c in self.candidates],
            "restart_required": False,
        }


def names_needing_catalog(history: Mapping[str, Iterable[str]], bookmarks: Iterable[str],
                          installed: Iterable[str], revision: str) -> list[str]:
    """Names whose availability matters: in other revisions' history or bookmarked, not installed."""
    installed = set(installed)
    names = {n for rev, ns in history.items() if rev != revision for n in ns} | set(bookmarks)
    return sorted(n for n in names if n not in installed)


def plan_restore(
    history: Mapping[str, Iterable[str]],
    bookmarks: Iterable[str],
    installed: Iterable[str],
    catalog: Mapping[str, ExtensionMetadata] | None,
    revision: str,
    os: str,
    arch: str,
    *,
    catalog_note: str = "",
    catalog_unavailable: bool = False,
) -> RestorePlan:
    """The restore plan. ``catalog`` None means the server was not asked (nothing to
    restore) or, with ``catalog_unavailable``, that the catalog could not be loaded:
    then nothing uninstalled is selectable, and its availability is unknown."""
    installed = set(installed)
    bookmarks = list(dict.fromkeys(bookmarks))
    others = sorted((r for r in history if r != revision), key=revision_sort_key)
    previous = others[-1] if others else ""
    last_seen: dict[str, str] = {}
    for rev in others:  # ascending: later revisions overwrite
        for name in history[rev]:
            last_seen[name] = rev
    previous_names = set(history.get(previous, ())) if previous else set()
    names = list(dict.fromkeys(sorted(last_seen, key=str.lower) + bookmarks))
    candidates = []
    for name in names:
        meta = catalog.get(name) if catalog is not None else None
        is_installed = name in installed
        if meta is not None:
            reasons = meta.compatibility_reasons(revision, os, arch)
            available, compatible, reason = True, not reasons, "; ".join(reasons)
        elif catalog is None:
            available, compatible = False, False
            reason = catalog_note or "the server was not asked"
        else:
            available, compatible = False, False
            reason = f"not found on the server for Slicer revision {revision} ({os}/{arch})"
        if is_installed:
            compatible, reason = True, ""
        candidates.append(RestoreCandidate(
            name=name,
            last_revision=last_seen.get(name, ""),
            was_in_last_revision=name in previous_names,
            installed=is_installed,
            bookmarked=name in bookmarks,
            available=available,
            compatible=compatible,
            reason=reason,
            extension_id=meta.extension_id if meta else "",
            selected=compatible and available and not is_installed and (name in previous_names or name in bookmarks),
            description=meta.short_description if meta else "",
            availability_unknown=catalog is None and catalog_unavailable and not is_installed,
        ))
    return RestorePlan(revision, previous, tuple(candidates), catalog_note)


@dataclass(frozen=True)
class StartupCheckResult:
    """What the startup check found (and did)."""

    checked: bool
    message: str
    plan: RestorePlan | None = None
    silent_install: bool = False
    #: What was installed, when the check installed without asking.
    report: OperationReport | None = None

    @property
    def candidates(self) -> tuple[RestoreCandidate, ...]:
        return self.plan.selected if self.plan else ()

    @property
    def restart_required(self) -> bool:
        return bool(self.report is not None and self.report.restart_required)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "checked": self.checked,
            "message": self.message,
            "silent_install": self.silent_install,
            "candidates": [c.to_json() for c in self.candidates],
            "restart_required": self.restart_required,
        }
        if self.report is not None:
            data["install"] = self.report.to_json()
        return data
