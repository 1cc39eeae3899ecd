"""Restarting Slicer after a change: the sentence of the end-of-batch prompt and how the
restart happens (the host's callback, else launching ``slicer_executable``, else saying
what to do)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtCore import QProcess
from PySide6.QtWidgets import QWidget

from ..queue import JobResult, Outcome
from . import prompts


def restart_text(results: Sequence[JobResult]) -> str:
    done = [r for r in results if r.restart_required and r.outcome.ok]
    installed = [r.name for r in done if r.outcome == Outcome.INSTALLED]
    updated = [r.name for r in done if r.outcome in (Outcome.UPDATED, Outcome.SCHEDULED)]
    if len(done) == 1 and installed:
        return f"Extension {installed[0]} has been installed."
    if len(done) == 1 and updated:
        return f"Extension {updated[0]} has been updated."
    parts = []
    if installed:
        parts.append(f"{len(installed)} extension{'s' if len(installed) != 1 else ''} installed")
    if updated:
        parts.append(f"{len(updated)} updated")
    return (", ".join(parts) or "Extensions changed") + "."


def failures(results: Sequence[JobResult]) -> list[tuple[str, str]]:
    return [(r.name, r.message) for r in results if r.outcome == Outcome.FAILED]


def launch(executable: str | Path, parent: QWidget | None) -> bool:
    """Start Slicer; on failure say so and what to do."""
    result = QProcess.startDetached(str(executable), [])
    ok = result[0] if isinstance(result, tuple) else bool(result)
    if not ok:
        prompts.show_error(parent, "Restart Slicer", f"Slicer could not be started from {executable}. "
                                                    f"{prompts.RESTART_INSTRUCTIONS}")
    return ok


def restart(restart_callback: Callable[[], None] | None, slicer_executable: str | Path | None,
            parent: QWidget | None) -> bool:
    """The host's callback, else launch ``slicer_executable``, else explain what to do."""
    if restart_callback is not None:
        restart_callback()
        return True
    if slicer_executable:
        return launch(slicer_executable, parent)
    prompts.show_restart_instructions(parent)
    return False
