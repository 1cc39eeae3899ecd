"""What the module's panel and popups say, and how a restore candidate is shown (pure Python:
the PythonQt widgets present it, the CPython tests check it against the standalone dialog)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..restore import RestoreCandidate, RestorePlan

if TYPE_CHECKING:  # pragma: no cover - the report's module needs requests
    from ..slicer_updates import SlicerInstallReport

__all__ = ["CandidateKind", "LEGEND", "candidate_kind", "plan_summary", "startup_question", "install_summary",
           "slicer_install_text"]


class CandidateKind(str, enum.Enum):
    """How a line of the Restore list looks: its colour, its mark and whether it can be checked."""

    SELECTABLE = "selectable"
    INSTALLED = "installed"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class KindStyle:
    mark: str
    color: str
    legend: str


#: The legend under the Restore list, in this order (the colours are readable on light and dark).
#: (A selectable line's mark is its check box: checked ones are installed by "Install selected".)
STYLES = {
    CandidateKind.SELECTABLE: KindStyle("☑", "", "can be installed (checked: will be)"),
    CandidateKind.INSTALLED: KindStyle("✓", "#2e8b3e", "installed"),
    CandidateKind.UNAVAILABLE: KindStyle("⊘", "#8a8a8a", "not available for this Slicer (cannot be selected)"),
    CandidateKind.UNKNOWN: KindStyle("?", "#bd8530", "availability unknown (catalog not loaded)"),
}
LEGEND = tuple((STYLES[k].mark, STYLES[k].color, STYLES[k].legend) for k in CandidateKind)
#: Marks appended after the name.
BOOKMARK_MARK = "★"
BOOKMARK_LEGEND = "bookmarked"


def candidate_kind(candidate: RestoreCandidate) -> CandidateKind:
    if candidate.installed:
        return CandidateKind.INSTALLED
    if candidate.availability_unknown:
        return CandidateKind.UNKNOWN
    if not candidate.selectable:
        return CandidateKind.UNAVAILABLE
    return CandidateKind.SELECTABLE


def candidate_line(candidate: RestoreCandidate) -> str:
    """``✓ SlicerIGT ★`` (mark, name, bookmark); a selectable line has its check box instead of a mark."""
    kind = candidate_kind(candidate)
    mark = "" if kind == CandidateKind.SELECTABLE else STYLES[kind].mark + " "
    return f"{mark}{candidate.name}" + (f" {BOOKMARK_MARK}" if candidate.bookmarked else "")


def plan_summary(plan: RestorePlan) -> str:
    """The sentence above the list (the standalone Restore tab's)."""
    if not plan.candidates:
        return "No extensions from previous Slicer versions and no bookmarks were found."
    n = len(plan.candidates)
    selectable = sum(1 for c in plan.candidates if c.selectable)
    text = (f"{n} extension{'s' if n != 1 else ''} from previous Slicer versions and bookmarks; "
            f"{selectable} can be installed in this Slicer (r{plan.revision}).")
    if plan.previous_revision:
        text += f" Those used in r{plan.previous_revision} and the bookmarks are preselected."
    return text


def startup_question(count: int) -> str:
    """The startup popup's question (the standalone dialog's, word for word)."""
    if count == 1:
        return "1 compatible extension from a previous Slicer installation was found. Install it now?"
    return f"{count} compatible extensions from a previous Slicer installation were found. Install them now?"


def install_summary(failed: int, total: int, restart_required: bool, verb: str = "restored") -> str:
    """What an install did, in one sentence (and what to do next)."""
    if not failed:
        return (f"All extensions {verb}. Restart Slicer to use them." if restart_required
                else "Nothing needed to be installed.")
    return (f"{failed} of {total} extension{'s' if total != 1 else ''} could not be installed; "
            "the reasons are listed above. Try again later, or install them from Slicer's Extensions Manager.")


def slicer_install_text(report: SlicerInstallReport) -> str:
    """What happened to a Slicer install, as plain text (the PySide6 dialog's ``report_html``)."""
    if report.error:
        return f"Slicer was not installed. {report.error}"
    assert report.layout is not None
    parts = [f"{report.build.label} was installed into {report.layout.root}."]
    ext = report.extensions
    if ext is not None:
        ok = sorted((r.name for r in ext.results if r.outcome.ok), key=str.lower)
        parts.append(f"{len(ok)} extension{'s' if len(ok) != 1 else ''} installed for it"
                     + (": " + ", ".join(ok) if ok else "") + ".")
        parts += [f"Not installed: {r.name}: {r.message}" for r in ext.results if not r.outcome.ok]
    missing = report.not_available()
    if missing:
        parts.append("Not available for the new Slicer: " + ", ".join(m["name"] for m in missing) + ".")
    parts.extend(report.warnings)
    return "\n".join(parts)
