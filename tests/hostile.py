"""A small, scriptable HTTP server on 127.0.0.1 for tests of what a broken or hostile
server can do: each path pattern is answered by a function (drip a body, keep sending
past the declared size, redirect elsewhere, answer huge or deeply nested JSON...).

``serve_packages`` adds the three read calls the client makes (catalog, item files,
download) for real package files, optionally without published checksums.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from slicer_ext_manager.conventions import DEFAULT_APP_ID, parse_package_name

from .loopback import LoopbackServer

Responder = Callable[[BaseHTTPRequestHandler, "re.Match[str]"], None]


class HostileServer(LoopbackServer):
    def __init__(self) -> None:
        self.routes: list[tuple[re.Pattern[str], Responder]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self)

            do_POST = do_GET

        self._serve(Handler)

    def route(self, pattern: str, responder: Responder) -> None:
        self.routes.insert(0, (re.compile(pattern), responder))

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append((handler.path, dict(handler.headers.items())))
        path = handler.path.split("?", 1)[0]
        for pattern, responder in self.routes:
            match = pattern.search(path)
            if match:
                try:
                    responder(handler, match)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass
                return
        send(handler, 404, b'{"message": "not found"}')

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "application/json",
         headers: Mapping[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


def json_body(data: Any) -> Responder:
    body = json.dumps(data).encode()
    return lambda h, m: send(h, 200, body)


def raw_body(body: bytes, content_type: str = "application/json") -> Responder:
    return lambda h, m: send(h, 200, body, content_type)


def drip(body: bytes, chunk: int, interval: float, *, declared: int | None = None,
         stop: threading.Event | None = None) -> Responder:
    """Send ``body`` ``chunk`` bytes every ``interval`` seconds (a server that never times out a read)."""
    def respond(handler: BaseHTTPRequestHandler, match: Any) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(declared if declared is not None else len(body)))
        handler.end_headers()
        for i in range(0, len(body), chunk):
            if stop is not None and stop.is_set():
                return
            handler.wfile.write(body[i:i + chunk])
            handler.wfile.flush()
            time.sleep(interval)
    return respond


def endless(declared: int, chunk: int = 1 << 20) -> Responder:
    """Declare ``declared`` bytes, then keep sending (until the client closes)."""
    def respond(handler: BaseHTTPRequestHandler, match: Any) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        block = b"\0" * chunk
        for _ in range(4096):
            handler.wfile.write(block)
    return respond


def redirect(location: str, status: int = 302) -> Responder:
    return lambda h, m: send(h, status, b"", headers={"Location": location})


def item_for(package: Path, item_id: str, *, sha512: bool = True, **meta: Any) -> dict[str, Any]:
    """A Girder item of the Slicer Package Manager for a package file (built by the builder)."""
    fields = parse_package_name(package.name)
    assert fields is not None, package.name
    data: dict[str, Any] = {
        "baseName": fields.extension_name, "app_id": DEFAULT_APP_ID, "app_revision": fields.app_revision,
        "os": fields.os, "arch": fields.arch, "revision": fields.scm_revision, "repository_type": "git",
        "repository_url": "https://example.org/x.git", "description": f"{fields.extension_name}.",
        "category": "Examples",
    }
    if sha512:
        data["sha512"] = hashlib.sha512(package.read_bytes()).hexdigest()
    data.update(meta)
    return {"_id": item_id, "name": package.name, "created": "2025-01-29T00:00:00+00:00", "meta": data,
            "updated": "2025-01-29T00:00:00+00:00"}


def serve_packages(server: HostileServer, packages: Iterable[Path], *, sha512: bool = True,
                   app_id: str = DEFAULT_APP_ID) -> dict[str, dict[str, Any]]:
    """Answer the catalog, item-files and download calls for ``packages``; returns the items by name."""
    items: dict[str, dict[str, Any]] = {}
    files: dict[str, Path] = {}
    for n, package in enumerate(packages):
        item_id, file_id = f"{n + 1:024x}", f"{n + 1:023x}f"
        item = item_for(package, item_id, sha512=sha512)
        items[item["meta"]["baseName"]] = item
        files[file_id] = package
        record = [{"_id": file_id, "name": package.name, "size": package.stat().st_size, "itemId": item_id}]
        server.route(rf"/api/v1/item/{item_id}/files$", json_body(record))
    server.route(rf"/api/v1/app/{app_id}/extension$", lambda h, m: send(h, 200, json.dumps(list(items.values())).encode()))

    def download(handler: BaseHTTPRequestHandler, match: Any) -> None:
        package = files.get(match.group(1))
        if package is None:
            send(handler, 404, b"{}")
        else:
            send(handler, 200, package.read_bytes(), "application/octet-stream")

    server.route(r"/api/v1/file/([0-9a-f]{24})/download$", download)
    return items
