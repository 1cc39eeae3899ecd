"""What a batch of installs, updates or uninstalls did: the CLI's ``--json`` shape and
the result every face shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .dependencies import InstallPlan
    from .queue import JobResult, Outcome


@dataclass(frozen=True)
class OperationReport:
    """Per-item results of one operation, its plan and its warnings."""

    results: tuple[JobResult, ...]
    plan: Optional[InstallPlan] = None
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
        from .queue import Outcome  # (the queue is not needed by the read-only commands)

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
