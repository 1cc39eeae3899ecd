"""HTTP plumbing of the package server: the request handler (one per connection, keep-alive),
JSON and download responses, ``Range`` requests, and the listening sockets.

The handler answers like CherryPy under Girder: ``Server: CherryPy/18.6.1``, a
``Girder-Request-Uid`` on every response, sorted-key JSON, ``Content-Disposition`` as
Girder's ``setContentDisposition``, one byte range per request.

Subclasses may wrap :meth:`RequestHandler.respond` (one request) and
:meth:`RequestHandler.write_body` (every body write), and raise :class:`DropConnection`
to cut a response short; :attr:`.server.PackageServer.handler_class` picks the class.
Downloads go out with ``sendfile`` (no copy through Python) unless a subclass wraps
:meth:`~RequestHandler.write_body`, which then sees every byte.

A read-only server: ``POST``/``PUT``/``PATCH``/``DELETE`` get 405 with ``Allow: GET, HEAD``,
except ``POST /api/v1/api_key/token`` when logins are enabled (:mod:`.auth`).

Connections are served by a bounded pool of worker threads (:class:`HTTPServer`): a
listen backlog of :data:`LISTEN_BACKLOG`, workers started on demand up to
``max_workers``, and while connections wait for a worker an idle keep-alive
connection is closed after its current request, so a burst is served promptly.
"""

from __future__ import annotations

import collections
import json
import logging
import re
import select
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import HTTPServer as _BaseHTTPServer
from typing import TYPE_CHECKING, Any, BinaryIO, Mapping

from .api import GIRDER_VERSION, Download, Json, Page
from .items import IndexedPackage
from .query import ApiError, enum_param, int_param, parse_query
from .stats import Completion

if TYPE_CHECKING:  # pragma: no cover
    from .server import PackageServer

log = logging.getLogger(__name__)

__all__ = ["DropConnection", "RequestHandler", "content_disposition", "get_ranges"]

CHUNK_SIZE = 64 * 1024
API_ROOT = "/api/v1"
#: ``listen()`` backlog (the kernel caps it at ``net.core.somaxconn``).
LISTEN_BACKLOG = 1024
#: Default size of the worker pool (connections served at once; more wait in the backlog).
DEFAULT_WORKERS = 128
READ_METHODS = ("GET", "HEAD")
#: Seconds between two checks of an idle keep-alive connection (see RequestHandler._next_request_arrives).
IDLE_SLICE = 0.2
ALLOW_READ = "GET, HEAD"


class DropConnection(Exception):
    """Close the connection now, without completing the response."""


# ------------------------------------------------------------------------------------------------
# ranges and headers


def get_ranges(header: str | None, content_length: int) -> list[tuple[int, int]] | None:
    """CherryPy's ``httputil.get_ranges``: ``[(start, stop_exclusive), ...]``, ``[]`` = unsatisfiable
    (416), None = no usable Range header (serve everything)."""
    if not header:
        return None
    unit, sep, ranges = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    result: list[tuple[int, int]] = []
    for brange in ranges.split(","):
        try:
            parsed = _parse_range(brange, content_length)
        except ValueError:
            return None
        if parsed is not None:
            result.append(parsed)
    return result


def _parse_range(brange: str, length: int) -> tuple[int, int] | None:
    """One ``first-last``, ``first-`` or ``-suffix`` range; None when it starts past the end
    (skipped); ``ValueError`` when it is malformed (the whole header is then ignored)."""
    start_s, sep, stop_s = brange.partition("-")
    start_s, stop_s = start_s.strip(), stop_s.strip()
    if not sep:
        raise ValueError(brange)
    if start_s:
        stop = int(stop_s) if stop_s else length - 1
        start = int(start_s)
        if start >= length:
            return None
        if stop < start:
            raise ValueError(brange)
        return (start, stop + 1)
    suffix = int(stop_s)  # ValueError for "-" alone too
    return (0, length) if suffix > length else (length - suffix, length)


def content_disposition(filename: str, disposition: str) -> str:
    """Girder's ``setContentDisposition``."""
    safe = filename.encode("latin-1", "ignore").decode("latin-1").replace("\\", "\\\\").replace('"', '\\"')
    utf8 = urllib.parse.quote(filename.encode("utf-8", "ignore"))
    value = f'{disposition}; filename="{safe}"'
    if safe != utf8:
        value += f"; filename*=UTF-8''{utf8}"
    return value


@dataclass(frozen=True)
class ByteWindow:
    """The bytes ``start <= b < stop`` of a file of ``size`` bytes that a download sends."""

    start: int
    stop: int
    size: int
    partial: bool  # answered 206 with a Content-Range

    @property
    def length(self) -> int:
        return max(self.stop - self.start, 0)

    @property
    def completes(self) -> bool:
        """Girder counts a download when the stream reaches the end of the file (reference §4)."""
        return self.stop >= self.size


def byte_window(size: int, offset: int, end_byte: int | None, range_header: str | None) -> ByteWindow:
    """What to send for Girder's ``offset``/``endByte`` parameters or a ``Range`` header (which wins);
    a 416 :class:`ApiError` when nothing can be sent."""
    ranges = get_ranges(range_header, size)
    if ranges == [] or (ranges is None and size and offset >= size):
        raise ApiError("Requested Range Not Satisfiable", status=416, headers={"Content-Range": f"bytes */{size}"})
    if ranges:
        offset, end_byte = ranges[0]  # only one range is supported (like Girder)
    offset = max(offset, 0)
    if end_byte is None or end_byte > size:
        end_byte = size
    return ByteWindow(offset, end_byte, size, bool(size and (offset or end_byte < size or range_header)))


# ------------------------------------------------------------------------------------------------
# the handler


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    # Headers and body are written separately: without TCP_NODELAY every request after the
    # first on a keep-alive connection waits ~40 ms (Nagle + delayed ACK).
    disable_nagle_algorithm = True
    server_version = "CherryPy/18.6.1"
    sys_version = ""
    #: Whether the current response's headers are out (an error can then only close the connection).
    headers_sent = False

    @property
    def owner(self) -> PackageServer:
        return self.server.package_server  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s - %s", self.address_string(), format % args)

    _served = 0

    def handle_one_request(self) -> None:
        if self._served and not self._next_request_arrives():
            self.close_connection = True
            return
        super().handle_one_request()
        self._served += 1

    def _next_request_arrives(self) -> bool:
        """Wait for the next request on a keep-alive connection, in short slices: False (close it)
        after :attr:`timeout` idle seconds, or as soon as other connections wait for a worker."""
        deadline = time.monotonic() + (self.timeout or 0)
        while True:
            try:
                readable, _, _ = select.select([self.connection], [], [], IDLE_SLICE)
            except (OSError, ValueError):
                return False
            if readable:
                return True
            if getattr(self.server, "saturated", False) or time.monotonic() >= deadline:
                return False

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- one request --------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        uid = str(uuid.uuid4())
        split = urllib.parse.urlsplit(self.path)
        path = re.sub(r"/{2,}", "/", split.path) or "/"
        self.headers_sent = False
        if getattr(self.server, "saturated", False):
            self.close_connection = True  # others wait for a worker: answer this one, then close
        self._discard_body()
        self.owner.record_request(method, path, split.query)
        try:
            self.respond(method, path, split.query, uid)
        except ApiError as exc:
            self.send_json(exc.status, exc.body, uid, method, exc.headers)
        except DropConnection:
            self._drop()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            self.close_connection = True
        except Exception as exc:  # pragma: no cover - a bug: answer like Girder's internal error
            log.exception("Internal error on %s %s", method, path)
            self._internal_error(exc, uid, method)

    def respond(self, method: str, path: str, query: str, uid: str) -> None:
        """Route one request and send its answer (``path`` without ``//`` or query string)."""
        result = self.route(method, path, query)
        if isinstance(result, Download):
            self.send_download(result.pkg, parse_query(query), uid, method)
        elif isinstance(result, Page):
            self.send_bytes(200, result.body, result.content_type, uid, method, result.headers)
        else:
            self.send_json(result.status, result.body, uid, method, result.headers)

    def route(self, method: str, path: str, query: str) -> Json | Download | Page:
        params = parse_query(query)
        parts = [urllib.parse.unquote(p) for p in path[len(API_ROOT) + 1:].split("/")] \
            if path.startswith(API_ROOT + "/") else []
        while parts and parts[-1] == "":
            parts.pop()
        if method not in READ_METHODS:
            return self.owner.logins.write_request(method, parts, params)  # 405 unless a login route
        if path in ("/", ""):
            return Json({"message": "Slicer package server (read-only Girder API under /api/v1; "
                                    "extensions catalog under /catalog).", "api_url": API_ROOT})
        if path.rstrip("/") == API_ROOT:
            return Json({"message": "Slicer Package Manager API (read-only)", "girder": GIRDER_VERSION})
        if not path.startswith(API_ROOT + "/"):
            page = self.owner.webapp.page(path, self.owner.index)
            if page is None:
                raise ApiError(f'No matching route for "{method} {path}"', status=404)
            return page
        if parts[:2] in (["user", "authentication"], ["user", "me"]):
            return self.owner.logins.read_request(parts, self.headers)
        return self.owner.api.dispatch(self.owner.index, "GET", parts, params)

    def _discard_body(self) -> None:
        length = self.headers.get("Content-Length")
        if length:
            try:
                remaining = int(length)
            except ValueError:
                self.close_connection = True
                return
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, CHUNK_SIZE))
                if not chunk:
                    break
                remaining -= len(chunk)
        elif self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True  # we do not read chunked bodies; do not reuse the connection

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _internal_error(self, exc: Exception, uid: str, method: str) -> None:  # pragma: no cover
        if self.headers_sent:
            self.close_connection = True
            return
        try:
            self.send_json(500, {"message": f"{type(exc).__name__}: {exc}", "type": "girder"}, uid, method)
        except OSError:
            self.close_connection = True

    # -- writers ------------------------------------------------------------------------------

    def write_body(self, data: bytes) -> None:
        """Every byte of a response body goes through here."""
        self.wfile.write(data)

    def _start(self, status: int, uid: str) -> None:
        self.send_response_only(status)
        self.send_header("Server", self.server_version)
        self.send_header("Girder-Request-Uid", uid)
        self.send_header("Date", self.date_time_string())

    def send_bytes(self, status: int, body: bytes, content_type: str, uid: str, method: str,
                   headers: Mapping[str, str] | None = None) -> None:
        self._start(status, uid)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.headers_sent = True
        if method != "HEAD":
            self.write_body(body)
        self.wfile.flush()

    def send_json(self, status: int, body: Any, uid: str, method: str,
                  headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body, sort_keys=True, allow_nan=False).encode("utf-8")
        self.send_bytes(status, data, "application/json", uid, method, headers)

    def send_download(self, pkg: IndexedPackage, params: Mapping[str, str], uid: str, method: str) -> None:
        """Send (part of) a package file; a download that reaches the end of the file is counted."""
        offset = int_param(params, "offset", 0) or 0
        end_byte = int_param(params, "endByte", None)
        disposition = enum_param(params, "contentDisposition", ("inline", "attachment"), default="attachment")
        window = byte_window(pkg.size, offset, end_byte, self.headers.get("Range"))
        index = self.owner.index
        try:
            fh = index.open_file(pkg)
        except (OSError, ValueError) as exc:
            raise ApiError(f"Cannot read the package file: {exc}", status=500, type="girder") from None
        counts = window.completes and method != "HEAD"
        # Readers of the statistics wait while the last bytes go out (see DownloadStats.begin_completion).
        completion = Completion(index.stats)
        try:
            with fh:
                self._download_headers(pkg, window, str(disposition), uid)
                if counts and window.length == 0:
                    completion.begin()
                self.end_headers()
                self.headers_sent = True
                if method != "HEAD":
                    self._stream(fh, window, completion if counts else None)
                self.wfile.flush()
            if counts:
                index.record_download(pkg)
        finally:
            completion.end()

    def _download_headers(self, pkg: IndexedPackage, window: ByteWindow, disposition: str, uid: str) -> None:
        self._start(206 if window.partial else 200, uid)
        self.send_header("Content-Type", pkg.file.get("mimeType") or "application/octet-stream")
        self.send_header("Content-Disposition", content_disposition(pkg.file["name"], disposition))
        self.send_header("Content-Length", str(window.length))
        self.send_header("Accept-Ranges", "bytes")
        if window.partial:
            self.send_header("Content-Range", f"bytes {window.start}-{window.stop - 1}/{window.size}")

    def _stream(self, fh: BinaryIO, window: ByteWindow, completion: Completion | None) -> None:
        if type(self).write_body is RequestHandler.write_body and hasattr(self.connection, "sendfile"):
            self._sendfile(fh, window, completion)
            return
        fh.seek(window.start)
        remaining = window.length
        while remaining > 0:
            chunk = fh.read(min(CHUNK_SIZE, remaining))
            if not chunk:  # the file shrank under us: the response cannot be completed
                raise DropConnection()
            if completion is not None and len(chunk) >= remaining:
                completion.begin()
            self.write_body(chunk)
            remaining -= len(chunk)

    def _sendfile(self, fh: BinaryIO, window: ByteWindow, completion: Completion | None) -> None:
        """The window with ``sendfile`` (the kernel copies; the GIL is free meanwhile); the last
        chunk is sent under ``completion`` so the statistics are counted before a client sees the end."""
        self.wfile.flush()
        sock = self.connection
        head = max(window.length - CHUNK_SIZE, 0) if completion is not None else window.length
        # Blocking mode: one os.sendfile call sends the whole window with the GIL released (in
        # timeout mode Python wakes up for every socket buffer's worth, and 30 downloads then
        # starve the catalog requests of the GIL); the kernel's send timeout bounds a stalled client.
        blocking = _kernel_send_timeout(sock, self.timeout)
        try:
            sent = sock.sendfile(fh, window.start, head) if head else 0
            if completion is not None:
                completion.begin()
                tail = window.length - sent
                sent += sock.sendfile(fh, window.start + sent, tail) if tail else 0
        except BlockingIOError:  # SO_SNDTIMEO expired: the client stopped reading
            raise DropConnection() from None
        finally:
            if blocking:
                sock.settimeout(self.timeout)
        if sent < window.length:  # the file shrank under us: the response cannot be completed
            raise DropConnection()


def _kernel_send_timeout(sock: socket.socket, seconds: float | None) -> bool:
    """Put ``sock`` in blocking mode with the kernel's ``SO_SNDTIMEO`` as its send timeout;
    False (nothing changed) where that option is not available."""
    if not seconds or not hasattr(socket, "SO_SNDTIMEO") or not sys.platform.startswith("linux"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(seconds), 0))
        sock.settimeout(None)
    except OSError:
        return False
    return True


# ------------------------------------------------------------------------------------------------
# listening sockets


class HTTPServer(_BaseHTTPServer):
    """Accepts with a deep backlog and serves each connection in a pool of daemon worker
    threads, started on demand up to :attr:`max_workers`; connections beyond that wait in
    a queue (:attr:`saturated` tells handlers to close idle keep-alive connections)."""

    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG
    max_workers = DEFAULT_WORKERS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._pending: collections.deque[tuple[Any, Any]] = collections.deque()
        self._cond = threading.Condition()
        self._workers = 0
        self._idle = 0
        self._closing = False
        super().__init__(*args, **kwargs)

    @property
    def saturated(self) -> bool:
        """Connections are waiting because every worker is busy and no more may start."""
        return bool(self._pending) and self._idle == 0 and self._workers >= self.max_workers

    @property
    def worker_count(self) -> int:
        return self._workers

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._cond:
            self._pending.append((request, client_address))
            if self._idle <= len(self._pending) - 1 and self._workers < self.max_workers:
                self._workers += 1
                threading.Thread(target=self._work, name=f"package-server-worker-{self._workers}",
                                 daemon=True).start()
            self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._idle += 1
                while not self._pending and not self._closing:
                    self._cond.wait()
                self._idle -= 1
                if self._closing and not self._pending:
                    self._workers -= 1
                    return
                request, client_address = self._pending.popleft()
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._cond:
            self._closing = True
            pending, self._pending = list(self._pending), collections.deque()
            self._cond.notify_all()
        for request, _ in pending:
            self.shutdown_request(request)

    def handle_error(self, request, client_address) -> None:  # quieter than the default traceback dump
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            return
        log.exception("Error handling a request from %s", client_address)


class HTTPServer6(HTTPServer):
    address_family = socket.AF_INET6
