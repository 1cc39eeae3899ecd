"""A small HTTP proxy for tests: forwards to a real server (the Girder fixture or
the local server) and injects faults on matching paths — 5xx, malformed JSON, a
connection dropped mid-body, a delay — and counts requests."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

import requests

from .loopback import LoopbackServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-encoding"}


@dataclass
class Fault:
    pattern: str
    kind: str  # "500" | "malformed" | "drop" | "delay" | "slow" (each 64 KiB chunk after ``seconds``)
    times: int = 1
    after_bytes: int = 0
    seconds: float = 0.0
    only_full: bool = False  # "drop" only requests without Range


class FaultProxy(LoopbackServer):
    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy._handle(self)

            def do_HEAD(self):
                proxy._handle(self)

            def do_POST(self):
                proxy._handle(self)

        self._serve(Handler)

    def add(self, pattern: str, kind: str, **kwargs) -> Fault:
        fault = Fault(pattern, kind, **kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def count(self, pattern: str = "") -> int:
        return sum(1 for r in self.requests if re.search(pattern, r))

    def _take(self, path: str, headers) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and re.search(fault.pattern, path):
                    if fault.only_full and headers.get("Range"):
                        continue
                    fault.times -= 1
                    return fault
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        self.requests.append(h.path)
        self.headers.append(dict(h.headers.items()))
        fault = self._take(h.path, h.headers)
        if fault and fault.kind == "delay":
            time.sleep(fault.seconds)
        if fault and fault.kind in ("500", "malformed"):
            body = b'{"message": "Injected failure", "type": "girder"}' if fault.kind == "500" else b"<html>proxy login</html>"
            h.send_response(500 if fault.kind == "500" else 200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        fwd = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        try:
            upstream = requests.request(h.command, self.upstream + h.path, headers=fwd, data=body, stream=True,
                                        allow_redirects=False, timeout=60)
        except requests.RequestException:
            h.send_response(502)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        with upstream:
            h.send_response(upstream.status_code)
            for k, v in upstream.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    h.send_header(k, v)
            h.end_headers()
            if h.command == "HEAD":
                return
            self._stream(h, upstream, fault)

    @staticmethod
    def _stream(h: BaseHTTPRequestHandler, upstream, fault: Fault | None) -> None:
        sent = 0
        for chunk in upstream.raw.stream(64 * 1024, decode_content=False):
            if fault and fault.kind == "drop" and sent + len(chunk) >= fault.after_bytes:
                h.wfile.write(chunk[: max(0, fault.after_bytes - sent)])
                h.wfile.flush()
                h.close_connection = True
                try:
                    import socket

                    h.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault and fault.kind == "slow":
                time.sleep(fault.seconds)
            h.wfile.write(chunk)
            sent += len(chunk)
