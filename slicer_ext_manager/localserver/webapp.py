"""The extensions catalog web page that Slicer's "Install extensions" tab loads
(``{Extensions/FrontendServerUrl}/catalog/All/<revision>/<os>``), served by ``serve`` at the
same address as the API, so an air-gapped Slicer needs no other server.

Routes (``GET``/``HEAD``)::

    /catalog[/<category>[/<revision>/<os>[/<arch>]]]   the catalog (without a build: a build chooser)
    /view/<Name>/<revision>/<os>[/<arch>]              one extension's page
    /static/catalog/<file>                             the page's script, style and icon

The page (:file:`webapp/catalog.html`, ``catalog.js``, ``catalog.css``: plain files shipped
as package data, no CDN, no build step) asks the API as the real catalog does
(``GET /app/{id}/extension?app_revision&os&arch&q&limit=0&sort=meta.baseName&sortdir=1``)
and speaks Slicer's QWebChannel contract (reference ``slicer-extensions-manager.md`` §3.6):
it uses ``window.extensions_manager_model`` (``isExtensionInstalled``,
``isExtensionScheduledForUninstall``, ``downloadAndInstallExtension``,
``scheduleExtensionForUninstall``, ``cancelExtensionScheduledForUninstall``) when Slicer
provides it, and defines ``window.app.search``, ``app.setExtensionButtonState``,
``app.createNotice``, ``app.$vuetify.theme.dark`` and the legacy ``window.midas`` shims.
In a plain browser each extension gets a download link to ``/api/v1/item/{id}/download``.
"""

from __future__ import annotations

import html
import json
import mimetypes
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from .api import Page

if TYPE_CHECKING:  # pragma: no cover
    from .index import PackageIndex

__all__ = ["STATIC_DIR", "Webapp"]

STATIC_DIR = Path(__file__).resolve().parent / "webapp"
STATIC_PREFIX = "/static/catalog/"
_STATIC_FILES = ("catalog.js", "catalog.css", "extension-icon.svg")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
          ".html": "text/html; charset=utf-8"}


class Webapp:
    """Answers the catalog's routes for one served application (``api_root`` is where the page
    finds the API, relative to the page's host)."""

    def __init__(self, app_id: str, api_root: str = "/api/v1"):
        self.app_id = app_id
        self.api_root = api_root
        self._cache: dict[str, bytes] = {}

    def _read(self, name: str) -> bytes:
        data = self._cache.get(name)
        if data is None:
            data = self._cache[name] = (STATIC_DIR / name).read_bytes()
        return data

    def page(self, path: str, index: PackageIndex) -> Page | None:
        """The answer for ``path`` (no query string), or None when it is not a catalog route."""
        if path.startswith(STATIC_PREFIX):
            name = path[len(STATIC_PREFIX):]
            if name not in _STATIC_FILES:
                return None
            suffix = Path(name).suffix
            return Page(self._read(name), _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "text/plain",
                        {"Cache-Control": "max-age=300"})
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if not parts or parts[0] not in ("catalog", "view"):
            return None
        if parts[0] == "view" and len(parts) < 4:
            return None
        return Page(self.render(index), _TYPES[".html"], {"Cache-Control": "no-cache"})

    def render(self, index: PackageIndex) -> bytes:
        """The page, with the app id, the API root and the builds this server has."""
        config = {
            "apiRoot": self.api_root,
            "appId": self.app_id,
            "appName": index.app_name,
            "staticRoot": STATIC_PREFIX,
            "builds": [{"revision": revision, "os": os_, "arch": arch, "count": n}
                       for (kind, revision, os_, arch), n in index.summary().items() if kind == "extension"],
        }
        text = self._read("catalog.html").decode("utf-8")
        # JSON inside <script type="application/json">: "</" must not close the element.
        payload = json.dumps(config, sort_keys=True).replace("</", "<\\/")
        text = text.replace("{{CONFIG}}", payload).replace("{{STATIC}}", STATIC_PREFIX)
        text = text.replace("{{TITLE}}", html.escape(f"{index.app_name} extensions catalog"))
        return text.encode("utf-8")
