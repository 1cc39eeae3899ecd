"""Fault injection inside the local package server, for tests (and ``scripts/screenshots.py``).

:class:`FaultyPackageServer` is a :class:`PackageServer` whose request handler consults a
:class:`Faults` set before answering: unlike :mod:`tests.faultproxy` (a proxy in front of
any server) it can slow a download chunk by chunk or cut it after an exact byte count,
and its :attr:`~PackageServer.requests` log is the server's own::

    faults = Faults()
    with FaultyPackageServer(folder, faults=faults) as server:
        faults.error(r"/extension$", status=503, times=2)   # next 2 listings fail
        faults.malformed_json(r"/item/[0-9a-f]+/files")
        faults.delay(r"/download", 1.5)                     # next download waits 1.5 s
        faults.delay(r"/download", 0.05, per_chunk=True, times=None)  # slow every download
        faults.drop(r"/download", after_bytes=1000)         # truncated stream
        faults.clear()

A ``delay`` combines with the first other matching rule; rules are tried in the order
they were added.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from pathlib import Path

from slicer_ext_manager.localserver.handler import DropConnection, RequestHandler
from slicer_ext_manager.localserver.query import ApiError
from slicer_ext_manager.localserver.server import PackageServer

__all__ = ["FaultRule", "Faults", "FaultyPackageServer"]

#: The body of a "malformed" answer: JSON cut in the middle.
MALFORMED_JSON = b'{"_id": "5f4474d0e1d8c75dfc705482", "meta": {"trunc'


@dataclasses.dataclass
class FaultRule:
    """One injected fault. ``pattern`` is a regex searched in the request path
    (``//`` collapsed, no query string, e.g. ``/api/v1/file/<id>/download``).

    ``kind``: ``"error"`` (answer ``status`` with a Girder error body), ``"malformed"``
    (200 with truncated JSON), ``"delay"`` (sleep ``seconds`` before answering, or
    between download chunks with ``per_chunk``), ``"drop"`` (send the headers and
    ``after_bytes`` body bytes, then close the connection). ``times`` matching
    requests are affected (``None`` = all); ``hits`` counts them.
    """

    kind: str
    pattern: str
    times: int | None = 1
    status: int = 500
    seconds: float = 0.0
    per_chunk: bool = False
    after_bytes: int = 0
    method: str | None = None
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("error", "malformed", "delay", "drop"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        self._regex = re.compile(self.pattern)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return bool(self._regex.search(path))

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


class Faults:
    """A small, thread-safe set of :class:`FaultRule` (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def error(self, pattern: str, *, status: int = 500, times: int | None = 1, method: str | None = None) -> FaultRule:
        return self.add(FaultRule("error", pattern, times=times, status=status, method=method))

    def malformed_json(self, pattern: str, *, times: int | None = 1, method: str | None = None) -> FaultRule:
        return self.add(FaultRule("malformed", pattern, times=times, method=method))

    def delay(self, pattern: str, seconds: float, *, times: int | None = 1, per_chunk: bool = False,
              method: str | None = None) -> FaultRule:
        return self.add(FaultRule("delay", pattern, times=times, seconds=seconds, per_chunk=per_chunk, method=method))

    def drop(self, pattern: str, after_bytes: int = 0, *, times: int | None = 1,
             method: str | None = None) -> FaultRule:
        return self.add(FaultRule("drop", pattern, times=times, after_bytes=after_bytes, method=method))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def take(self, method: str, path: str) -> tuple[FaultRule | None, FaultRule | None]:
        """Consume the rules for one request: (delay rule or None, other rule or None)."""
        delay = other = None
        with self._lock:
            for rule in self.rules:
                if rule.exhausted or not rule.matches(method, path):
                    continue
                if rule.kind == "delay":
                    if delay is None:
                        delay = rule
                        rule.hits += 1
                elif other is None:
                    other = rule
                    rule.hits += 1
        return delay, other


class FaultyHandler(RequestHandler):
    """The server's handler, with the faults of its server applied to every request."""

    _chunk_delay = 0.0
    _body_writes = 0
    _drop_budget: int | None = None

    def respond(self, method: str, path: str, query: str, uid: str) -> None:
        delay, fault = self.owner.faults.take(method, path)  # type: ignore[attr-defined]
        self._chunk_delay, self._body_writes, self._drop_budget = 0.0, 0, None
        if delay is not None:
            if delay.per_chunk:
                self._chunk_delay = delay.seconds
            else:
                time.sleep(delay.seconds)
        if fault is not None and fault.kind == "error":
            raise ApiError(f"Injected fault (HTTP {fault.status}).", status=fault.status, type="girder")
        if fault is not None and fault.kind == "drop":
            self._drop_budget = max(0, fault.after_bytes)
        if fault is not None and fault.kind == "malformed":
            self.route(method, path, query)  # a request that fails still fails
            self.send_bytes(200, MALFORMED_JSON, "application/json", uid, method)
            return
        super().respond(method, path, query, uid)

    def write_body(self, data: bytes) -> None:
        if self._chunk_delay and self._body_writes:  # between chunks, not before the first
            self.wfile.flush()
            time.sleep(self._chunk_delay)
        self._body_writes += 1
        if self._drop_budget is not None:
            if len(data) >= self._drop_budget:
                self.wfile.write(data[:self._drop_budget])
                raise DropConnection()
            self._drop_budget -= len(data)
        super().write_body(data)


class FaultyPackageServer(PackageServer):
    """A :class:`PackageServer` with fault injection; ``faults`` defaults to a new, empty set."""

    handler_class = FaultyHandler

    def __init__(self, directory: str | Path, *args, faults: Faults | None = None, **kwargs):
        super().__init__(directory, *args, **kwargs)
        self.faults = faults if faults is not None else Faults()
