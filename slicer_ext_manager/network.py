"""HTTP plumbing under the server client: one typed set of connection options and the
limits a hostile or broken network cannot get past. The ``requests`` sessions built from
the options are in ``sessions.py``, imported only when a request is made (a command that
needs no request never loads ``requests``).

* **Retries** are ``requests``' ``HTTPAdapter`` with urllib3's ``Retry``: connection
  errors and 5xx answers of idempotent requests (GET, HEAD) only; a POST is never
  retried once it may have reached the server. Downloads add their own resume loop
  (``download.py``), which ``Retry`` cannot do.
* **Credentials never follow a redirect elsewhere**: ``Girder-Token`` and
  ``Authorization`` are dropped on a redirect that changes scheme, host or port.
* **Deadlines**: a metadata request has a total deadline (connection, headers and
  body), and a download a low-speed limit (like curl's ``--speed-limit`` /
  ``--speed-time``). A per-read timeout cannot bound a server that sends one byte
  every two seconds, so a watchdog thread shuts the connection's socket down when a
  limit is passed; the reader then raises the sentence for it (:class:`Transfer`).
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional, Tuple, Union

from .errors import ContextError

#: (connect, read) seconds for each socket operation.
DEFAULT_TIMEOUT = (10.0, 60.0)
#: Total seconds a metadata request (catalog, item lookup) may take, retries included.
DEFAULT_DEADLINE = 120.0
#: A download slower than this many bytes per second over :data:`DEFAULT_SPEED_TIME` is abandoned.
DEFAULT_SPEED_LIMIT = 1024
DEFAULT_SPEED_TIME = 60.0
#: Largest JSON answer accepted (the production catalog of one build is ~3 MB).
DEFAULT_MAX_METADATA_BYTES = 64 * 1024 * 1024
CREDENTIAL_HEADERS = ("Girder-Token", "Authorization")
TOKEN_ENV = "SLICER_EXT_MANAGER_TOKEN"
API_KEY_ENV = "SLICER_EXT_MANAGER_API_KEY"

Timeout = Union[float, Tuple[float, float]]


@dataclass(frozen=True)
class ServerOptions:
    """How to reach the server: the one typed set of options every client is built from.

    ``url`` and ``app_id`` empty mean "from the Slicer profile" (see
    :meth:`for_context`); ``proxies`` None means the environment's (``https_proxy``…).
    """

    url: str = ""
    app_id: str = ""
    app_name: Optional[str] = None
    token: Optional[str] = None
    api_key: Optional[str] = None
    timeout: Timeout = DEFAULT_TIMEOUT
    deadline: Optional[float] = DEFAULT_DEADLINE
    speed_limit: int = DEFAULT_SPEED_LIMIT
    speed_time: float = DEFAULT_SPEED_TIME
    max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES
    #: Refuse a package the server publishes no checksum for (``--require-checksum``).
    require_checksum: bool = False
    retries: int = 3
    backoff: float = 0.5
    #: True, False (``--insecure``) or the path of a CA bundle.
    verify: Union[bool, str] = True
    proxies: Optional[Mapping[str, str]] = None
    user_agent: str = field(default="", compare=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **values: Any) -> ServerOptions:
        """Options with the token and API key from ``$SLICER_EXT_MANAGER_TOKEN`` /
        ``$SLICER_EXT_MANAGER_API_KEY`` unless given (``None`` values are ignored)."""
        import os

        env = os.environ if environ is None else environ
        given = {k: v for k, v in values.items() if v is not None}
        given.setdefault("token", env.get(TOKEN_ENV) or None)
        given.setdefault("api_key", env.get(API_KEY_ENV) or None)
        return cls(**given)

    def for_context(self, context: Any) -> ServerOptions:
        """These options with the profile's server URL and app where not given."""
        return replace(self, url=self.url or context.server_url, app_id=self.app_id or context.app_id,
                       app_name=self.app_name if self.app_name is not None else context.app_name)

    def with_timeout(self, seconds: float) -> ServerOptions:
        """Short timeouts for a call that must not wait long (the startup check)."""
        return replace(self, timeout=(min(seconds, 3.0), seconds), deadline=seconds, retries=0)


def validate_server_url(url: str) -> str:
    """``url`` as Slicer stores it (no trailing ``/``), or :class:`ContextError` saying what is wrong."""
    text = (url or "").strip().rstrip("/")
    try:
        parts = urllib.parse.urlsplit(text)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bad port or bracketed host
        valid = False
    if not valid or any(ch.isspace() for ch in text):
        raise ContextError(f"{url!r} is not a server URL; give one like https://slicer-packages.kitware.com "
                           "or http://mirror-host:8080.")
    return text



def same_origin(old_url: str, new_url: str) -> bool:
    """Same scheme, host and port (default ports made explicit)."""
    a, b = urllib.parse.urlsplit(old_url), urllib.parse.urlsplit(new_url)
    defaults = {"http": 80, "https": 443}

    def port(u: urllib.parse.SplitResult) -> int | None:
        try:
            return u.port or defaults.get(u.scheme)
        except ValueError:
            return None

    return a.scheme == b.scheme and (a.hostname or "") == (b.hostname or "") and port(a) == port(b)


# -- connection tracking (for the watchdog) -----------------------------------------------------------

current_transfer = threading.local()


class LimitExceeded(Exception):
    """Internal: a transfer passed its deadline or fell below its speed limit."""


# -- the watchdog ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Transfer:
    """One request being watched: a deadline and/or a low-speed limit."""

    deadline: Optional[float] = None  # a time.monotonic() value
    speed_limit: int = 0
    speed_time: float = 0.0
    connection: Any = None
    #: "deadline" or "speed" once a limit was passed.
    failure: str = ""
    received: int = 0
    started: float = 0.0
    _samples: list = field(default_factory=list)

    def count(self, n: int) -> None:
        self.received += n

    def check(self, now: float) -> str:
        if self.deadline is not None and now >= self.deadline:
            return "deadline"
        if self.speed_limit <= 0 or self.speed_time <= 0:
            return ""
        self._samples.append((now, self.received))
        # Base of the average: the newest sample at least speed_time old, else the start.
        while len(self._samples) > 1 and now - self._samples[1][0] >= self.speed_time:
            self._samples.pop(0)
        base_time, base_bytes = self._samples[0]
        if now - base_time < self.speed_time:
            if now - self.started < self.speed_time:
                return ""
            base_time, base_bytes = self.started, 0
        return "speed" if (self.received - base_bytes) / (now - base_time) < self.speed_limit else ""

    def abort(self) -> None:
        import socket

        sock = getattr(self.connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Watchdog:
    """One daemon thread checking every active :class:`Transfer` four times a second."""

    interval = 0.25

    def __init__(self) -> None:
        self._active: set[Transfer] = set()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    def watch(self, transfer: Transfer) -> _Watch:
        return _Watch(self, transfer)

    def _add(self, transfer: Transfer) -> None:
        with self._lock:
            self._active.add(transfer)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="http-watchdog", daemon=True)
                self._thread.start()

    def _remove(self, transfer: Transfer) -> None:
        with self._lock:
            self._active.discard(transfer)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._lock:
                active = list(self._active)
                if not active:
                    self._thread = None
                    return
            now = time.monotonic()
            for transfer in active:
                if not transfer.failure:
                    transfer.failure = transfer.check(now)
                if transfer.failure:
                    transfer.abort()  # again on each tick: a retry may have opened a new connection


class _Watch:
    def __init__(self, dog: Watchdog, transfer: Transfer):
        self.dog, self.transfer = dog, transfer

    def __enter__(self) -> Transfer:
        self.transfer.started = time.monotonic()
        current_transfer.transfer = self.transfer
        self.dog._add(self.transfer)
        return self.transfer

    def __exit__(self, *exc: Any) -> None:
        current_transfer.transfer = None
        self.dog._remove(self.transfer)


#: The process's watchdog (its thread runs only while something is watched).
WATCHDOG = Watchdog()
