"""The catalog: every extension the server has for this Slicer build, from one
request (or none when the cache is fresh), with an offline fallback to the cache."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable

from .cache import MetadataCache, utc_now
from .context import AppContext
from .errors import HTTPStatusError, MalformedResponseError, ServerError, ServerUnreachableError, UnknownExtensionError
from .metadata import ExtensionMetadata
from .server import SlicerPackagesClient, iter_unique_newest


@dataclass(frozen=True)
class Catalog:
    """Compatible extensions for one revision/os/arch, keyed by name."""

    revision: str
    os: str
    arch: str
    server_url: str
    extensions: dict[str, ExtensionMetadata] = field(default_factory=dict)
    #: When the server was last asked (from the cache's time when offline).
    updated: dt.datetime | None = None
    #: True when the data came from the cache rather than a request made now.
    from_cache: bool = False
    #: Set when the server could not be reached and the cache was used instead.
    offline_reason: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.extensions

    @property
    def stale(self) -> bool:
        return bool(self.offline_reason)

    def status_text(self) -> str:
        """One line a front end can show about where the catalog comes from."""
        if self.offline_reason:
            when = self.updated.astimezone().strftime("%Y-%m-%d %H:%M") if self.updated else "an unknown date"
            return f"Offline — catalog from {when}. {self.offline_reason}"
        if not self.extensions:
            return (
                f"The server {self.server_url} has no extensions for Slicer revision {self.revision} "
                f"({self.os}/{self.arch}); custom and preview builds often have none."
            )
        return f"{len(self.extensions)} extensions for Slicer revision {self.revision} ({self.os}/{self.arch})."

    def get(self, name: str) -> ExtensionMetadata | None:
        return self.extensions.get(name)

    def by_id(self, extension_id: str) -> ExtensionMetadata | None:
        return next((m for m in self.extensions.values() if m.extension_id == extension_id), None)

    def names(self) -> list[str]:
        return sorted(self.extensions, key=str.lower)

    def categories(self) -> list[str]:
        return sorted({m.category for m in self.extensions.values() if m.category}, key=str.lower)

    def search(self, text: str = "", category: str | None = None) -> list[ExtensionMetadata]:
        """Case-insensitive match on name, description, category and keywords."""
        needle = text.strip().lower()
        out = []
        for name in self.names():
            m = self.extensions[name]
            if category and m.category != category and not m.category.startswith(category + "."):
                continue
            haystack = " ".join((m.name, m.description, m.category, " ".join(m.keywords))).lower()
            if needle and needle not in haystack:
                continue
            out.append(m)
        return out


def catalog_from_cache(context: AppContext, cache: MetadataCache) -> Catalog | None:
    """The cached catalog whatever its age (no request), or None."""
    cached = cache.load()
    if cached is None:
        return None
    return Catalog(context.revision, context.os, context.arch, context.server_url, cached.extensions,
                   cached.updated, True)


def catalog_from_items(items: Iterable[dict], context: AppContext) -> dict[str, ExtensionMetadata]:
    return {name: ExtensionMetadata.from_server_item(item) for name, item in iter_unique_newest(items).items()}


class CatalogService:
    """Fetches and caches the catalog for one context."""

    def __init__(self, context: AppContext, client: SlicerPackagesClient, cache: MetadataCache | None = None):
        self.context = context
        self.client = client
        self.cache = cache or MetadataCache(context)
        self._catalog: Catalog | None = None

    def fetch(self) -> Catalog:
        """Ask the server now (one request) and refresh the cache."""
        ctx = self.context
        items = self.client.extension_items(ctx.revision, ctx.os, ctx.arch, limit=0)
        extensions = catalog_from_items(items, ctx)
        now = utc_now()
        self.cache.save(extensions, now)
        self._catalog = Catalog(ctx.revision, ctx.os, ctx.arch, ctx.server_url, extensions, now)
        return self._catalog

    def cached(self) -> Catalog | None:
        return catalog_from_cache(self.context, self.cache)

    def get(self, *, refresh: bool = False, offline_ok: bool = True) -> Catalog:
        """The catalog: from the fresh cache (no request), else from the server; when the
        server cannot be reached and ``offline_ok``, from the stale cache, marked offline."""
        if not refresh:
            if self._catalog is not None:
                return self._catalog
            cached = self.cache.load()
            if cached is not None and self.cache.is_fresh(cached):
                ctx = self.context
                self._catalog = Catalog(ctx.revision, ctx.os, ctx.arch, ctx.server_url, cached.extensions,
                                        cached.updated, True)
                return self._catalog
        try:
            return self.fetch()
        except (ServerUnreachableError, MalformedResponseError, HTTPStatusError) as exc:
            if isinstance(exc, HTTPStatusError) and exc.status < 500 and exc.status != 404:
                raise
            stale = self.cached() if offline_ok else None
            if stale is None:
                raise
            self._catalog = Catalog(
                stale.revision, stale.os, stale.arch, stale.server_url, stale.extensions, stale.updated,
                True, str(exc),
            )
            return self._catalog

    def _lookup(self, key: str, by_id: bool) -> ExtensionMetadata:
        catalog = self.get()
        found = catalog.by_id(key) if by_id else catalog.get(key)
        if found is None and catalog.from_cache and not catalog.offline_reason:
            # The cache may predate the extension (Slicer's "could not find an extension
            # with id" bug): refresh once.
            try:
                catalog = self.get(refresh=True)
            except ServerError:
                pass
            found = catalog.by_id(key) if by_id else catalog.get(key)
        if found is None:
            what = f"with id {key}" if by_id else f"named {key}"
            raise UnknownExtensionError(
                f"The server has no extension {what} for Slicer revision {self.context.revision} "
                f"({self.context.os}/{self.context.arch})."
            )
        return found

    def find(self, name: str) -> ExtensionMetadata:
        return self._lookup(name, by_id=False)

    def find_by_id(self, extension_id: str) -> ExtensionMetadata:
        return self._lookup(extension_id, by_id=True)
