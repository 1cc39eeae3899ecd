"""The ``requests`` sessions of the server client, built from :class:`~.network.ServerOptions`
(see ``network.py`` for the rules: retries of idempotent requests only, credentials dropped
on a redirect to another origin, connections tracked for the watchdog). Imported only when
a client is made, so that commands needing no request never load ``requests``.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from . import __version__
from .network import CREDENTIAL_HEADERS, LimitExceeded, ServerOptions, current_transfer, same_origin


def user_agent() -> str:
    return (f"slicer-ext-manager/{__version__} (+https://github.com/slicer-ext-manager) "
            f"python-requests/{requests.__version__}")


class _Session(requests.Session):
    """A session that drops every credential header on a redirect to another origin."""

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        super().rebuild_auth(prepared_request, response)
        if not same_origin(response.request.url or "", prepared_request.url or ""):
            for header in CREDENTIAL_HEADERS:
                prepared_request.headers.pop(header, None)


def _tracking(pool_class: type) -> type:
    """A connection pool that records, per thread, the connection it hands out, so the
    watchdog can shut its socket down (and hands out none once a limit was passed)."""

    class Pool(pool_class):  # a pool class chosen at run time
        def _get_conn(self, timeout: float | None = None) -> Any:
            transfer = getattr(current_transfer, "transfer", None)
            if transfer is not None and transfer.failure:
                raise LimitExceeded(transfer.failure)
            conn = super()._get_conn(timeout)
            if transfer is not None:
                transfer.connection = conn
            return conn

    Pool.__name__ = "Tracking" + pool_class.__name__
    return Pool


_POOLS = {"http": _tracking(HTTPConnectionPool), "https": _tracking(HTTPSConnectionPool)}


class _Adapter(HTTPAdapter):
    """Direct and proxied connections both come from tracking pools."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if getattr(manager, "pool_classes_by_scheme", None) is not None:
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def _retry(retries: int, backoff: float) -> Retry:
    methods = frozenset({"GET", "HEAD"})
    kwargs: dict[str, Any] = {
        "total": retries, "connect": retries, "read": retries, "status": retries, "other": 0,
        "backoff_factor": backoff, "status_forcelist": (500, 502, 503, 504),
        "raise_on_status": False, "respect_retry_after_header": True,
    }
    try:
        return Retry(allowed_methods=methods, **kwargs)
    except TypeError:  # urllib3 < 1.26 (old Slicer builds)
        return Retry(method_whitelist=methods, **kwargs)  # type: ignore[call-arg]


def make_session(options: ServerOptions) -> tuple[requests.Session, requests.Session]:
    """(retrying session for idempotent requests, non-retrying session for POSTs)."""
    sessions = []
    for retries in (max(0, options.retries), 0):
        session = _Session()
        adapter = _Adapter(max_retries=_retry(retries, options.backoff), pool_maxsize=8)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.verify = options.verify
        if options.proxies is not None:
            session.proxies.update(dict(options.proxies))
        session.headers["User-Agent"] = options.user_agent or user_agent()
        session.headers["Accept"] = "application/json"
        if options.token:
            session.headers["Girder-Token"] = options.token
        sessions.append(session)
    return sessions[0], sessions[1]


