"""An offline, read-only Slicer Package Manager (Girder) server over a folder of packages.

Point an unmodified Slicer at it with
``SLICER_EXTENSIONS_MANAGER_SERVER_URL=http://127.0.0.1:PORT``; our own client, the
catalog web app's API calls, ``slicer-download.sh`` and the plugin's Python client
(read commands) work too. Standard library only (``http.server.ThreadingHTTPServer``,
one daemon thread per connection, so concurrent downloads never block each other), no Qt.

Usage::

    with PackageServer("/srv/slicer-packages", port=0) as server:
        requests.get(server.url + "/api/v1/app/5f4474d0e1d8c75dfc705482/extension?limit=0")

Endpoints (``GET`` and ``HEAD``, under ``/api/v1``; ``//`` is collapsed, unknown
parameters are ignored, a repeated parameter is a 400 like Girder)::

    /app                              ?app_id= ?name= ?text= ?collection_id= + paging
    /app/{app_id}/extension           all filters of reference §3.5 + paging
    /app/{app_id}/release             ?release_id_or_name= + paging
    /app/{app_id}/draft               ?revision= + paging
    /app/{app_id}/package             reference §3.7 + paging
    /app/{app_id}/downloadstats
    /item/{id}  /item/{id}/files  /item/{id}/download
    /file/{id}  /file/{id}/download  /file/{id}/download/{name}
    /file/hashsum/sha512/{hash}  /file/hashsum/sha512/{hash}/download
    /folder/{id}  /resource/{id}?type=item|file|folder  /system/version  /user/me

Deliberate differences from the production server (documented, small):

* ``arch=arm64`` is **accepted**, as by plugin 0.11 (Slicer on Apple silicon reports
  it); other values get its 400 message (``Allowed values: i386, amd64, arm64.``).
  ``strict_arch=True`` behaves like plugin 0.10 (``Allowed values: i386, amd64.``).
* An unsatisfiable ``Range`` (or ``offset`` at/after the end) gets a 416 with
  ``Content-Range: bytes */<size>`` (CherryPy's answer) instead of Girder's full body.
* An unknown but valid application id on ``/release``, ``/draft`` and
  ``/downloadstats`` gets 400 ``Invalid folder id (…).`` (production raises a 500).
* A path under an unknown resource (``/api/v1/nope``) gets a JSON 404
  ``No matching route for "GET /api/v1/nope"``; under a known resource Girder's
  400 ``No matching route for "GET <rest of path>"``.
* Every write request (POST/PUT/PATCH/DELETE) gets 401
  ``{"message": "You must be logged in.", "type": "access"}`` (read-only server);
  ``POST /api_key/token`` gets 400 ``API key functionality is disabled on this instance.``

Documents: plugin endpoints return raw item/folder documents (with ``lowerName``);
``/item/{id}`` and ``/folder/{id}`` return Girder's filtered view (``_modelType``, no
``lowerName``/``access``), like Girder's ``filtermodel``.

The parts: :mod:`.index` (the packages and their documents), :mod:`.api` (routes and
endpoints), :mod:`.handler` (HTTP: responses, ranges, sockets); this module runs them.
"""

from __future__ import annotations

import collections
import datetime as _dt
import threading
from pathlib import Path

from ..conventions import DEFAULT_APP_ID, DEFAULT_APP_NAME, SERVER_URL_ENV
from .api import Api
from .handler import HTTPServer, HTTPServer6, RequestHandler
from .index import PackageIndex

__all__ = ["PackageServer", "startup_lines", "summary_lines"]


class PackageServer:
    """A read-only Slicer Package Manager server over ``directory`` (see the module docstring).

    ``strict_arch``: reject ``arch=arm64`` like production. The index is built at
    construction (``NotADirectoryError``, or ``ValueError`` for a malformed ``app_id``);
    call :meth:`rescan` after adding packages. :attr:`requests` records
    ``(method, path, query)`` of the last 10000 requests received (for tests and benchmarks).
    :attr:`handler_class` answers the requests (a subclass may change it).
    """

    handler_class = RequestHandler

    def __init__(
        self,
        directory: str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        app_id: str = DEFAULT_APP_ID,
        app_name: str = DEFAULT_APP_NAME,
        state_dir: str | Path | None = None,
        *,
        strict_arch: bool = False,
    ):
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self.app_id = app_id
        self.app_name = app_name
        self.state_dir = state_dir
        self.requests: collections.deque[tuple[str, str, str]] = collections.deque(maxlen=10000)
        self._requests_lock = threading.Lock()
        self._scan_lock = threading.Lock()
        self._index = PackageIndex.scan(self.directory, app_id=app_id, app_name=app_name, state_dir=state_dir)
        self.api = Api(strict_arch=strict_arch, start_date=_dt.datetime.now(_dt.timezone.utc).isoformat())
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- index ------------------------------------------------------------------------------

    @property
    def index(self) -> PackageIndex:
        return self._index

    def rescan(self) -> PackageIndex:
        """Re-walk the directory (cached hashes make it fast) and serve the new index; statistics carry over."""
        with self._scan_lock:
            self._index = PackageIndex.scan(self.directory, app_id=self.app_id, app_name=self.app_name,
                                            state_dir=self.state_dir, stats=self._index.stats)
        return self._index

    def record_request(self, method: str, path: str, query: str) -> None:
        with self._requests_lock:
            self.requests.append((method, path, query))

    # -- lifecycle --------------------------------------------------------------------------

    def bind(self) -> HTTPServer:
        """Listen on ``host:port`` (``OSError`` if that fails); :attr:`port` is then the real port."""
        if self._httpd is None:
            cls = HTTPServer6 if ":" in self.host else HTTPServer
            self._httpd = cls((self.host, self.port), self.handler_class)
            self._httpd.package_server = self  # type: ignore[attr-defined]
            self.port = self._httpd.server_address[1]
        return self._httpd

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the loopback address when bound to all interfaces)."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "[::1]"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/v1"

    def start(self) -> "PackageServer":
        """Serve in a background daemon thread; returns self."""
        if self._thread is not None:
            return self
        httpd = self.bind()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"PackageServer:{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until Ctrl+C (or :meth:`stop` from another thread)."""
        httpd = self.bind()
        try:
            httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            httpd.server_close()
            self._httpd = None

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd, self._thread = None, None
        if httpd is not None:
            if thread is not None:
                httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> "PackageServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def summary_lines(index: PackageIndex) -> list[str]:
    """What an index holds: a total line, then one line per (revision, os, arch)."""
    counts = index.summary()
    n_ext = sum(n for (kind, *_), n in counts.items() if kind == "extension")
    n_app = sum(n for (kind, *_), n in counts.items() if kind == "application")
    lines = [f"Indexed {_plural(n_ext, 'extension package')} and {_plural(n_app, 'application package')}"
             f" for application \"{index.app_name}\" ({index.app_id})."]
    for (kind, revision, os_, arch), n in counts.items():
        what = "extension" if kind == "extension" else "application package"
        lines.append(f"  revision {revision:<8} {os_}/{arch:<6} {_plural(n, what)}")
    return lines


def startup_lines(server: PackageServer) -> list[str]:
    """What ``serve`` tells its user once listening: where, what, and how to point Slicer at it."""
    return [
        f"Serving {server.index.directory} at {server.url} (read-only Slicer Package Manager API).",
        *summary_lines(server.index),
        "Point Slicer at it with:",
        f"  {SERVER_URL_ENV}={server.url}",
        "Press Ctrl+C to stop.",
    ]
