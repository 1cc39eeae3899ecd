"""``ExtensionsManager``: the one public API that the CLI, the dialog, the embedded
widget and host scripts use (in spirit Slicer's ``extensionsManagerModel()``)."""

from __future__ import annotations

from dataclasses import dataclass

from .context import AppContext
from .history import ExtensionsHistory
from .registry import ExtensionRegistry, InstalledExtension


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


class ExtensionsManager:
    """Everything a front end may do with extensions, for one :class:`AppContext`."""

    def __init__(self, context: AppContext):
        self.context = context
        self.registry = ExtensionRegistry(context)
        self.history = ExtensionsHistory(context.user_settings)

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
