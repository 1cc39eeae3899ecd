"""Install plans as the Install tab shows them: who needs a dependency, Slicer's
"Install dependencies" question, and the one-line summary of a session."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from PySide6.QtWidgets import QWidget

from ..queue import JobResult, Outcome
from . import prompts


def summary(results: Sequence[JobResult]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        word = {Outcome.INSTALLED: "installed", Outcome.UPDATED: "updated", Outcome.SCHEDULED: "scheduled",
                Outcome.SKIPPED: "skipped", Outcome.CANCELLED: "cancelled", Outcome.UNINSTALLED: "uninstalled"}.get(
            r.outcome, "failed")
        counts[word] = counts.get(word, 0) + 1
    return ", ".join(f"{n} {w}" for w, n in counts.items()) or "nothing to do"


def dependency_details(plan: Any) -> dict[str, str]:
    """name -> "required by A, B" for the dependencies of a plan."""
    metas = {m.name for m in plan.order}
    required_by: dict[str, list[str]] = {}
    for m in plan.order:
        for dep in m.depends:
            if dep in metas:
                required_by.setdefault(dep, []).append(m.name)
    return {n: "required by " + ", ".join(required_by[n]) if n in required_by else "dependency"
            for n in plan.dependencies}


def ask_dependencies(plan: Any, parent: QWidget | None, log: Callable[[str], None]) -> set[str]:
    """Slicer's question per requested extension; returns the dependencies refused."""
    metas = {m.name: m for m in plan.order}
    deps = set(plan.dependencies)

    def closure(name: str) -> list[str]:
        out: list[str] = []
        stack = list(metas[name].depends) if name in metas else []
        while stack:
            d = stack.pop(0)
            if d in deps and d not in out:
                out.append(d)
                stack.extend(metas[d].depends if d in metas else ())
        return out

    accepted: set[str] = set()
    refused: set[str] = set()
    for name in plan.requested:
        needed = closure(name)
        if not needed:
            continue
        if prompts.ask_install_dependencies(parent, name, needed):
            accepted.update(needed)
        else:
            refused.update(needed)
            log(f"{name} extension requires extensions {', '.join(needed)} but the user chose not to install them.")
    return refused - accepted
