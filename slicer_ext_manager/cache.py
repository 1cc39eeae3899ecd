"""The server-metadata cache Slicer keeps: ``<InstallPath>/ExtensionsMetadataFromServer.json``
plus ``Extensions/MetadataFromServerUpdateTime`` and ``Extensions/MetadataFromServerUrl``
in the revision settings (reference §3.7). A real Slicer reads what we write and
we read what it wrote."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from .context import AppContext
from .fileutil import atomic_write_text
from .metadata import ExtensionMetadata

UPDATE_TIME_KEY = "Extensions/MetadataFromServerUpdateTime"
URL_KEY = "Extensions/MetadataFromServerUrl"
FREQUENCY_KEY = "Extensions/AutoUpdateFrequencyMinutes"
AUTO_UPDATE_CHECK_KEY = "Extensions/AutoUpdateCheck"
DEFAULT_FREQUENCY_MINUTES = 24 * 60


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def format_time(when: dt.datetime) -> str:
    """``QDateTime::currentDateTimeUtc().toString(Qt::ISODate)``: ``2025-01-30T12:34:56Z``."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class CachedCatalog:
    extensions: dict[str, ExtensionMetadata]
    updated: dt.datetime | None
    server_url: str


class MetadataCache:
    """Read/write the cache for one context."""

    def __init__(self, context: AppContext):
        self.context = context

    @property
    def path(self) -> Path:
        return self.context.metadata_cache_path

    def frequency_minutes(self) -> int:
        return self.context.user_settings.integer(FREQUENCY_KEY, DEFAULT_FREQUENCY_MINUTES)

    def auto_update_check(self) -> bool:
        return self.context.user_settings.boolean(AUTO_UPDATE_CHECK_KEY, True)

    def load(self) -> CachedCatalog | None:
        """The cached catalog, or None if absent, unreadable, or for another server (Slicer's rule)."""
        settings = self.context.revision_settings
        if not settings.exists() or not self.path.is_file():
            return None
        reader = settings.read()
        url = reader.string(URL_KEY).rstrip("/")
        if not url or url != self.context.server_url:
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        extensions = {}
        for name, entry in data.items():
            if isinstance(entry, dict):
                entry = dict(entry)
                entry.setdefault("extensionname", name)
                extensions[name] = ExtensionMetadata.from_model_map(entry, installed=False)
        return CachedCatalog(extensions, parse_time(reader.string(UPDATE_TIME_KEY)), url)

    def is_fresh(self, cached: CachedCatalog | None, now: dt.datetime | None = None) -> bool:
        """True when the cache was written less than ``AutoUpdateFrequencyMinutes`` ago."""
        if cached is None or cached.updated is None:
            return False
        age = (now or utc_now()) - cached.updated
        return dt.timedelta(0) <= age < dt.timedelta(minutes=self.frequency_minutes())

    def save(self, extensions: dict[str, ExtensionMetadata], when: dt.datetime | None = None) -> None:
        """Write the JSON file (4-space indent, sorted keys, as ``QJsonDocument``) and the two settings."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {name: extensions[name].to_cache_entry() for name in sorted(extensions)}
        text = json.dumps(payload, indent=4, sort_keys=True, ensure_ascii=False) + "\n"
        atomic_write_text(self.path, text)
        with self.context.revision_settings.edit() as editor:
            editor.set_value(UPDATE_TIME_KEY, format_time(when or utc_now()))
            editor.set_value(URL_KEY, self.context.server_url)
