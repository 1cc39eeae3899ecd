"""Cached catalogs, valid only for the build they were fetched for.

A catalog is the answer for one :class:`CatalogKey`: server URL, application id,
Slicer revision, os and arch. Two stores:

* **Slicer's own cache** — ``<InstallPath>/ExtensionsMetadataFromServer.json`` plus
  ``Extensions/MetadataFromServerUpdateTime`` and ``Extensions/MetadataFromServerUrl``
  in the revision settings (reference §3.7): a real Slicer reads what we write and
  we read what it wrote. It is used only for the catalog that Slicer itself would
  ask for: the production application id (hard-coded in Slicer) and the running
  platform's os/arch. Writing another build's catalog there would make the real
  Slicer show it as its own until its next refresh.
* **Our own cache** — one JSON file per key and profile in the user cache folder, for
  every other key (``--os win`` on Linux, a site server's application, ``--app-name``).

Both are checked against the key when read (every server entry carries its
revision, os and arch), so a cache never answers for another build.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .conventions import (
    AUTO_UPDATE_FREQUENCY_KEY,
    DEFAULT_APP_ID,
    DEFAULT_UPDATE_FREQUENCY_MINUTES,
    METADATA_UPDATE_TIME_KEY,
    METADATA_URL_KEY,
    current_arch,
    current_os,
    is_extension_name,
)
from .errors import ExtensionManagerError
from .fileutil import atomic_write_text
from .metadata import ExtensionMetadata

log = logging.getLogger(__name__)

#: Overrides the folder of our own catalog cache (tests, portable installs).
CACHE_DIR_ENV = "SLICER_EXT_MANAGER_CACHE_DIR"
_FORMAT = "slicer-ext-manager-catalog"


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


def user_cache_dir() -> Path:
    """Where our own caches live (``$SLICER_EXT_MANAGER_CACHE_DIR`` or the platform's cache folder)."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    import platformdirs

    return Path(platformdirs.user_cache_dir("slicer-ext-manager", appauthor=False))


@dataclass(frozen=True)
class CatalogKey:
    """Which build a catalog is for."""

    server_url: str
    app_id: str
    revision: str
    os: str
    arch: str

    @classmethod
    def of(cls, context: Any) -> CatalogKey:
        return cls(context.server_url.rstrip("/"), context.app_id, context.revision, context.os, context.arch)

    @property
    def slicer_own(self) -> bool:
        """Is this the catalog a real Slicer of this profile asks for itself?"""
        return self.app_id == DEFAULT_APP_ID and (self.os, self.arch) == (current_os(), current_arch())

    def describe(self) -> str:
        return f"Slicer revision {self.revision} ({self.os}/{self.arch}) from {self.server_url}"

    def to_json(self) -> dict[str, str]:
        return {"server_url": self.server_url, "app_id": self.app_id, "revision": self.revision,
                "os": self.os, "arch": self.arch}

    def file_name(self, profile: str) -> str:
        """Our cache file for this key and one profile (caches stay per profile, as Slicer's do)."""
        identity = json.dumps({"profile": profile, **self.to_json()}, sort_keys=True)
        import hashlib

        digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
        return f"catalog-{self.revision}-{self.os}-{self.arch}-{digest}.json"

    def admits(self, entry: ExtensionMetadata) -> bool:
        """An entry from the server carries the build it was made for."""
        return ((not entry.slicer_revision or entry.slicer_revision == self.revision)
                and (not entry.os or entry.os == self.os) and (not entry.arch or entry.arch == self.arch))


@dataclass(frozen=True)
class CachedCatalog:
    key: CatalogKey
    extensions: dict[str, ExtensionMetadata]
    updated: dt.datetime | None


def _entries(data: object, key: CatalogKey) -> dict[str, ExtensionMetadata] | None:
    """Cache entries as metadata, or None when the data is not a catalog of ``key``."""
    if not isinstance(data, dict):
        return None
    extensions = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or not is_extension_name(name):
            continue  # a name that is not an extension name (a path, a pattern) never becomes a file name
        entry = dict(entry)
        entry.setdefault("extensionname", name)
        meta = ExtensionMetadata.from_model_map(entry, installed=False)
        if not key.admits(meta):
            return None  # another build's catalog
        extensions[str(name)] = meta
    return extensions


def _payload(extensions: Mapping[str, ExtensionMetadata]) -> dict[str, Any]:
    return {name: extensions[name].to_cache_entry() for name in sorted(extensions)}


class MetadataCache:
    """The catalog caches of one context."""

    def __init__(self, context: Any):
        self.context = context

    @property
    def path(self) -> Path:
        """Slicer's cache file."""
        return Path(self.context.metadata_cache_path)

    def own_path(self, key: CatalogKey) -> Path:
        return user_cache_dir() / "catalogs" / key.file_name(str(self.context.install_path))

    def frequency_minutes(self) -> int:
        return self.context.user_settings.integer(AUTO_UPDATE_FREQUENCY_KEY, DEFAULT_UPDATE_FREQUENCY_MINUTES)

    def load(self, key: CatalogKey | None = None) -> CachedCatalog | None:
        """The cached catalog for ``key`` (default: the context's), or None."""
        key = key or CatalogKey.of(self.context)
        try:
            return self._load_slicer(key) if key.slicer_own else self._load_own(key)
        except ExtensionManagerError as exc:  # an unreadable settings file: no cache
            log.info("Catalog cache ignored: %s", exc)
            return None

    def _load_slicer(self, key: CatalogKey) -> CachedCatalog | None:
        settings = self.context.revision_settings
        if not settings.exists() or not self.path.is_file():
            return None
        reader = settings.read()
        if reader.string(METADATA_URL_KEY).rstrip("/") != key.server_url:
            return None  # Slicer's rule: a cache for another server is ignored
        extensions = _entries(_read_json(self.path), key)
        if extensions is None:
            return None
        return CachedCatalog(key, extensions, parse_time(reader.string(METADATA_UPDATE_TIME_KEY)))

    def _load_own(self, key: CatalogKey) -> CachedCatalog | None:
        data = _read_json(self.own_path(key))
        if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("key") != key.to_json():
            return None
        extensions = _entries(data.get("extensions"), key)
        if extensions is None:
            return None
        return CachedCatalog(key, extensions, parse_time(str(data.get("updated") or "")))

    def is_fresh(self, cached: CachedCatalog | None, now: dt.datetime | None = None) -> bool:
        """True when the cache was written less than ``AutoUpdateFrequencyMinutes`` ago."""
        if cached is None or cached.updated is None:
            return False
        age = (now or utc_now()) - cached.updated
        return dt.timedelta(0) <= age < dt.timedelta(minutes=self.frequency_minutes())

    def save(self, extensions: Mapping[str, ExtensionMetadata], when: dt.datetime | None = None,
             key: CatalogKey | None = None) -> bool:
        """Write the catalog where :meth:`load` finds it; a cache that cannot be written
        only costs a request next time (returns False, logs why)."""
        key = key or CatalogKey.of(self.context)
        when = when or utc_now()
        try:
            if key.slicer_own:
                self._save_slicer(extensions, when, key)
            else:
                path = self.own_path(key)
                path.parent.mkdir(parents=True, exist_ok=True)
                document = {"format": _FORMAT, "key": key.to_json(), "updated": format_time(when),
                            "extensions": _payload(extensions)}
                atomic_write_text(path, json.dumps(document, ensure_ascii=False) + "\n")
        except (OSError, ExtensionManagerError) as exc:
            log.warning("The catalog could not be cached (%s); it will be fetched again next time.",
                        getattr(exc, "strerror", None) or exc)
            return False
        return True

    def _save_slicer(self, extensions: Mapping[str, ExtensionMetadata], when: dt.datetime,
                     key: CatalogKey) -> None:
        """The JSON file (4-space indent, sorted keys, as ``QJsonDocument``) and the two settings."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(_payload(extensions), indent=4, sort_keys=True, ensure_ascii=False) + "\n"
        atomic_write_text(self.path, text)
        with self.context.revision_settings.edit() as editor:
            editor.set_value(METADATA_UPDATE_TIME_KEY, format_time(when))
            editor.set_value(METADATA_URL_KEY, key.server_url)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
