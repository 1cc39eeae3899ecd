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
* Every write request (POST/PUT/PATCH/DELETE) gets 405 with ``Allow: GET, HEAD`` (a
  read-only mirror); logins (``GET /user/authentication``, ``POST /api_key/token``) are
  answered only when enabled (``logins``, :mod:`.auth`) and give read-only tokens.
* Packages added, changed or removed while serving are picked up: the folder is watched
  (every ``watch_interval`` seconds; a file must look the same in two successive looks,
  so a half-copied file is never indexed) and :meth:`PackageServer.rescan` swaps the new
  index in atomically (``serve`` also rescans on SIGHUP).
* The catalog web page Slicer's Install tab loads is served too (:mod:`.webapp`).

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
from typing import Callable, Mapping

from ..conventions import DEFAULT_APP_ID, DEFAULT_APP_NAME
from .api import Api
from .auth import Logins
from .handler import DEFAULT_WORKERS, HTTPServer, HTTPServer6, RequestHandler
from .index import PackageIndex
from .netinfo import advertised_host, reachable_hosts, url_for
from .watch import FolderWatcher
from .webapp import Webapp

__all__ = ["PackageServer", "startup_lines", "summary_lines"]

#: Seconds between two looks at the served folder (0 = do not watch).
DEFAULT_WATCH_INTERVAL = 2.0


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
        releases: Mapping[str, str] | None = None,
        logins: Logins | None = None,
        allow_hardlinks: bool = False,
        workers: int = DEFAULT_WORKERS,
        watch_interval: float = 0.0,
        on_rescan: Callable[[PackageIndex], None] | None = None,
    ):
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self.app_id = app_id
        self.app_name = app_name
        self.state_dir = state_dir
        self.releases = dict(releases or {})
        self.allow_hardlinks = allow_hardlinks
        self.logins = logins or Logins()
        self.workers = max(1, int(workers))
        self.on_rescan = on_rescan
        self.requests: collections.deque[tuple[str, str, str]] = collections.deque(maxlen=10000)
        self._requests_lock = threading.Lock()
        self._scan_lock = threading.Lock()
        self._index = PackageIndex.scan(self.directory, app_id=app_id, app_name=app_name, state_dir=state_dir,
                                        releases=self.releases, allow_hardlinks=allow_hardlinks)
        self.api = Api(strict_arch=strict_arch, start_date=_dt.datetime.now(_dt.timezone.utc).isoformat())
        self.webapp = Webapp(self._index.app_id)
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._life_lock = threading.Lock()
        self._serving = False
        self._stopped = False
        self.watcher = FolderWatcher(self._index.directory, self._watched_change, watch_interval,
                                     ignore=(Path(self._index.state_dir),))

    # -- index ------------------------------------------------------------------------------

    @property
    def index(self) -> PackageIndex:
        return self._index

    def rescan(self) -> PackageIndex:
        """Re-walk the directory (cached hashes make it fast) and serve the new index (swapped in
        whole: a request sees the old or the new one); statistics carry over."""
        with self._scan_lock:
            index = PackageIndex.scan(self.directory, app_id=self.app_id, app_name=self.app_name,
                                      state_dir=self.state_dir, stats=self._index.stats, releases=self.releases,
                                      allow_hardlinks=self.allow_hardlinks)
            self._index = index
        if self.on_rescan is not None:
            self.on_rescan(index)
        return index

    def _watched_change(self, forced: bool) -> None:
        self.rescan()

    def request_rescan(self) -> None:
        """Rescan soon, in the watcher's thread (safe to call from a signal handler)."""
        self.watcher.poke()

    def record_request(self, method: str, path: str, query: str) -> None:
        with self._requests_lock:
            self.requests.append((method, path, query))

    # -- lifecycle --------------------------------------------------------------------------

    def bind(self) -> HTTPServer:
        """Listen on ``host:port`` (``OSError`` if that fails); :attr:`port` is then the real port."""
        if self._httpd is None:
            cls = HTTPServer6 if ":" in self.host else HTTPServer
            self._httpd = cls((self.host, self.port), self.handler_class)
            self._httpd.max_workers = self.workers
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
            host = "::1"
        return url_for(host, self.port)

    @property
    def listens_on_all_interfaces(self) -> bool:
        return self.host in ("", "0.0.0.0", "::")

    @property
    def reachable_urls(self) -> list[str]:
        """The URLs other machines can use (all interfaces), else :attr:`url`."""
        if not self.listens_on_all_interfaces:
            return [self.url]
        return [url_for(h, self.port) for h in reachable_hosts(ipv6=":" in self.host)] or [self.url]

    @property
    def public_url(self) -> str:
        """The URL to give Slicers: a network address when serving every interface."""
        if not self.listens_on_all_interfaces:
            return self.url
        host = advertised_host(ipv6=":" in self.host)
        return url_for(host, self.port) if host else self.url

    @property
    def api_url(self) -> str:
        return self.url + "/api/v1"

    def start(self) -> PackageServer:
        """Serve in a background daemon thread; returns self."""
        if self._thread is not None:
            return self
        httpd = self.bind()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"PackageServer:{self.port}", daemon=True)
        self._thread.start()
        self.watcher.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until Ctrl+C (or :meth:`stop` from another thread)."""
        httpd = self.bind()
        with self._life_lock:
            if self._stopped:
                return
            self._serving = True
        self.watcher.start()
        try:
            httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._serving = False
            self.watcher.stop()
            httpd.server_close()
            self._httpd = None

    def stop(self) -> None:
        """Stop serving (from any thread, also before :meth:`serve_forever` has started)."""
        with self._life_lock:
            self._stopped = True
            serving = self._serving
        self.watcher.stop()
        httpd, thread = self._httpd, self._thread
        self._thread = None
        if httpd is not None:
            if thread is not None or serving:
                httpd.shutdown()
            httpd.server_close()
        self._httpd = None
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> PackageServer:
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
    from ..conventions import FRONTEND_SERVER_URL_ENV as FRONTEND_URL_ENV
    from ..conventions import SERVER_URL_ENV

    url = server.public_url
    lines = [f"Serving {server.index.directory} at {server.url} (read-only Slicer Package Manager API"
             " and extensions catalog)."]
    if server.listens_on_all_interfaces:
        lines.append("Reachable at: " + ", ".join(server.reachable_urls))
    lines += [
        *summary_lines(server.index),
        f"Logins: {server.logins.describe()}.",
        "Point Slicer at it (Edit > Application Settings > Extensions, or the environment):",
        f"  Extensions/ServerUrl         = {url}   ({SERVER_URL_ENV})",
        f"  Extensions/FrontendServerUrl = {url}   ({FRONTEND_URL_ENV})",
        f"  {SERVER_URL_ENV}={url}",
        f"  {FRONTEND_URL_ENV}={url}",
        f"The Install tab then shows {url}/catalog/All/<revision>/<os>.",
        "Press Ctrl+C to stop.",
    ]
    return lines


def network_warning(server: PackageServer) -> str | None:
    """The one-line warning for a server that listens on every interface."""
    if not server.listens_on_all_interfaces:
        return None
    return (f"serving the network: every machine that can reach port {server.port} of this one can list and "
            "download these packages; use --host 127.0.0.1 to serve this machine only.")
