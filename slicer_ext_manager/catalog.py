"""The catalog: every extension the server has for one Slicer build, from one request
(or none when the cache is fresh), with an offline fallback to the cache of that
same build; and the one search matcher every face uses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from .cache import CatalogKey, MetadataCache, utc_now
from .errors import HTTPStatusError, MalformedResponseError, ServerError, ServerUnreachableError, UnknownExtensionError
from .metadata import ExtensionMetadata, iter_unique_newest
from .network import ServerOptions

if TYPE_CHECKING:  # pragma: no cover
    from .server import SlicerPackagesClient

# -- search ------------------------------------------------------------------------------------------


def query_words(query: str) -> tuple[str, ...]:
    """A search query as lower-case words (every word must match, in any order)."""
    return tuple(query.lower().split())


def text_matches(words: Sequence[str], search_text: str) -> bool:
    """``words`` (from :func:`query_words`) against a precomputed lower-case search text."""
    return all(word in search_text for word in words)


def matches(query: str, extension: ExtensionMetadata) -> bool:
    """Does ``extension`` match ``query``? Every word of the query, case-insensitively, in its
    name, description, category or keywords (:attr:`ExtensionMetadata.search_text`)."""
    return text_matches(query_words(query), extension.search_text)


def category_matches(category: str, wanted: str | None) -> bool:
    """The same category or a sub-category (``A.B`` is in ``A``); no wanted category: all."""
    return not wanted or category == wanted or category.startswith(wanted + ".")


# -- the catalog --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """Compatible extensions for one build, keyed by name."""

    key: CatalogKey
    extensions: dict[str, ExtensionMetadata] = field(default_factory=dict)
    #: When the server was last asked (from the cache's time when offline).
    updated: dt.datetime | None = None
    #: True when the data came from the cache rather than a request made now.
    from_cache: bool = False
    #: Set when the server could not be reached and the cache was used instead.
    offline_reason: str = ""

    @property
    def revision(self) -> str:
        return self.key.revision

    @property
    def os(self) -> str:
        return self.key.os

    @property
    def arch(self) -> str:
        return self.key.arch

    @property
    def server_url(self) -> str:
        return self.key.server_url

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
        """Extensions :func:`matches` ``text`` and in ``category``, by name."""
        words = query_words(text)
        return [m for m in (self.extensions[n] for n in self.names())
                if category_matches(m.category, category) and text_matches(words, m.search_text)]


def catalog_from_items(items: Iterable[Mapping[str, Any]]) -> dict[str, ExtensionMetadata]:
    return {name: ExtensionMetadata.from_server_item(item) for name, item in iter_unique_newest(items).items()}


def _fallback_worthy(exc: ServerError) -> bool:
    """Errors after which the cached catalog is shown (offline), not raised."""
    if isinstance(exc, HTTPStatusError):
        return exc.status >= 500 or exc.status == 404
    return isinstance(exc, (ServerUnreachableError, MalformedResponseError))


def _with_note(exc: ServerError, note: str) -> ServerError:
    """The same error, its sentence followed by ``note``."""
    text = f"{exc} {note}"
    if isinstance(exc, HTTPStatusError):
        return HTTPStatusError(text, exc.status, exc.server_message)
    return type(exc)(text)


class CatalogService:
    """Fetches and caches the catalog for one context.

    ``client``: the server client, or a function making it when a request is first needed
    (with ``options`` giving the server URL and app id, a fresh cache is read without making
    one: no ``requests`` import for a command that needs no request).
    """

    def __init__(self, context: Any, client: SlicerPackagesClient | Callable[[], SlicerPackagesClient],
                 cache: MetadataCache | None = None, *, options: ServerOptions | None = None):
        self.context = context
        self._client = None if callable(client) else client
        self._connect = client if callable(client) else None
        self._options = options
        self.cache = cache or MetadataCache(context)
        self._catalog: Catalog | None = None

    @property
    def client(self) -> SlicerPackagesClient:
        if self._client is None:
            assert self._connect is not None
            self._client = self._connect()
        return self._client

    @property
    def key(self) -> CatalogKey:
        options = self._options
        if self._client is None and options is not None and options.url and options.app_id and not options.app_name:
            # What the client will say once made (it strips the URL the same way).
            return CatalogKey(options.url.strip().rstrip("/"), options.app_id, self.context.revision,
                              self.context.os, self.context.arch)
        return CatalogKey(self.client.server_url, self.client.app_id, self.context.revision,
                          self.context.os, self.context.arch)

    def fetch(self, options: ServerOptions | None = None) -> Catalog:
        """Ask the server now (one request) and refresh the cache."""
        key = self.key
        items = self.client.extension_items(key.revision, key.os, key.arch, limit=0, options=options)
        extensions = catalog_from_items(items)
        now = utc_now()
        self.cache.save(extensions, now, key)
        self._catalog = Catalog(key, extensions, now)
        return self._catalog

    def cached(self) -> Catalog | None:
        """The cached catalog of this build whatever its age (no request), or None. A fresh
        one is also what :meth:`get` returns next (the file is not read twice)."""
        if self._catalog is not None and self._catalog.from_cache and not self._catalog.offline_reason \
                and self._catalog.key == self.key:
            return self._catalog
        cached = self.cache.load(self.key)
        if cached is None:
            return None
        catalog = Catalog(cached.key, cached.extensions, cached.updated, True)
        if self.cache.is_fresh(cached):
            self._catalog = catalog
        return catalog

    def get(self, *, refresh: bool = False, offline_ok: bool = True, options: ServerOptions | None = None) -> Catalog:
        """The catalog: from the fresh cache (no request), else from the server; when the
        server cannot be reached and ``offline_ok``, from this build's cache, marked offline.
        ``options``: per-call limits (the startup check's short timeout)."""
        key = self.key
        if not refresh:
            if self._catalog is not None and self._catalog.key == key:
                return self._catalog
            cached = self.cache.load(key)
            if cached is not None and self.cache.is_fresh(cached):
                self._catalog = Catalog(key, cached.extensions, cached.updated, True)
                return self._catalog
        try:
            return self.fetch(options)
        except ServerError as exc:
            if not _fallback_worthy(exc):
                raise
            stale = self.cached() if offline_ok else None
            if stale is None:
                if offline_ok:
                    raise _with_note(exc, f"No catalog for {key.describe()} is cached, so none can be shown "
                                          "offline.") from exc
                raise
            self._catalog = Catalog(key, stale.extensions, stale.updated, True, str(exc))
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
