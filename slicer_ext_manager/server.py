"""Client for the Slicer Package Manager server (the Girder plugin behind
https://slicer-packages.kitware.com), Qt-free, on ``requests``.

Every failure is a typed :class:`~slicer_ext_manager.errors.ServerError` whose text
is one sentence for the user. Every client is made by :func:`make_client` from one
:class:`~slicer_ext_manager.network.ServerOptions`; a call that must be quick (the
startup check) passes its own options instead of replacing the client. Metadata
answers are bounded in time and size (``network.py``); downloads live in
``download.py``.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from typing import Any, Mapping

import requests

from .download import Downloader, DownloadResult
from .errors import (
    HTTPStatusError,
    MalformedResponseError,
    ServerUnreachableError,
    UnknownAppError,
    UnknownExtensionError,
)
from .metadata import iter_unique_newest
from .network import (
    CREDENTIAL_HEADERS,
    DEFAULT_TIMEOUT,
    WATCHDOG,
    LimitExceeded,
    ServerOptions,
    Transfer,
    same_origin,
)
from .sessions import make_session

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_TIMEOUT", "DownloadResult", "ServerOptions", "SlicerPackagesClient", "host_of",
           "iter_unique_newest", "make_client"]

_BODY_CHUNK = 64 * 1024


def host_of(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _proxy_for(url: str) -> str | None:
    proxies = requests.utils.get_environ_proxies(url)
    return proxies.get(urllib.parse.urlsplit(url).scheme) or proxies.get("all")


def _timed_out(exc: BaseException) -> bool:
    """A timeout, also when urllib3's Retry wrapped it (requests then raises ConnectionError)."""
    import urllib3.exceptions

    if isinstance(exc, (requests.exceptions.Timeout, TimeoutError, urllib3.exceptions.TimeoutError)):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    # NewConnectionError derives from ConnectTimeoutError for history's sake; a refusal is no timeout.
    return isinstance(reason, urllib3.exceptions.TimeoutError) and \
        not isinstance(reason, urllib3.exceptions.NewConnectionError)


def make_client(options: ServerOptions) -> SlicerPackagesClient:
    """The one way clients are made (``options.url`` and ``options.app_id`` must be set)."""
    return SlicerPackagesClient.from_options(options)


class SlicerPackagesClient:
    """The REST client. One instance per server; thread-safe for independent calls
    (each call uses the shared connection pool)."""

    def __init__(self, server_url: str, app_id: str, **options: Any):
        """``options``: any field of :class:`ServerOptions` (``timeout``, ``retries``, ``token``…)."""
        self.options = ServerOptions(url=server_url.strip().rstrip("/"), app_id=app_id, **options)
        self.server_url = self.options.url
        self.api_url = self.server_url + "/api/v1"
        self.app_id = app_id
        self.session, self._single_session = make_session(self.options)
        #: Number of HTTP requests sent by this client (benchmarks and tests count them).
        self.request_count = 0
        self._api_key = self.options.api_key
        self.downloads = Downloader(self)
        if self.options.verify is False:
            log.warning("TLS certificate verification is disabled for %s (--insecure).", self.server_url)
            try:
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            except Exception:  # pragma: no cover
                pass

    @classmethod
    def from_options(cls, options: ServerOptions) -> SlicerPackagesClient:
        from dataclasses import asdict

        values = asdict(options)
        url, app_id = values.pop("url"), values.pop("app_id")
        if not url or not app_id:
            raise ValueError("ServerOptions.url and .app_id must be set to make a client")
        return cls(url, app_id, **values)

    # -- plumbing --------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.api_url + (path if path.startswith("/") else "/" + path)

    def authenticate(self) -> None:
        """Trade the API key for a token once (``POST /api_key/token``, never retried)."""
        if not self._api_key or "Girder-Token" in self.session.headers:
            return
        key, self._api_key = self._api_key, None
        data = self._json("POST", "/api_key/token", params={"key": key})
        token = (data or {}).get("authToken", {}).get("token") if isinstance(data, dict) else None
        if not token:
            raise MalformedResponseError(
                f"The server at {self.server_url} did not return a token for the API key; check the key."
            )
        for session in (self.session, self._single_session):
            session.headers["Girder-Token"] = token

    def unreachable(self, url: str, exc: BaseException, transfer: Transfer | None = None,
                    options: ServerOptions | None = None) -> ServerUnreachableError:
        """The sentence for a request that got no usable answer."""
        host = host_of(url)
        opts = options or self.options
        if transfer is not None and transfer.failure == "deadline":
            return ServerUnreachableError(
                f"The extensions server {host} did not answer in time (its answer took more than "
                f"{opts.deadline:g} s); it is too slow or the network is congested. Try again later."
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return ServerUnreachableError(
                f"The TLS certificate of {host} could not be verified ({type(exc).__name__}); if your network "
                "inspects TLS traffic, install its certificate in your system store or set REQUESTS_CA_BUNDLE, "
                "or use --insecure only if you trust this network."
            )
        proxy = _proxy_for(url)
        if isinstance(exc, requests.exceptions.ProxyError):
            return ServerUnreachableError(
                f"The extensions server {host} could not be reached through the proxy {proxy}; "
                "check the https_proxy/http_proxy settings (and proxy credentials)."
            )
        if _timed_out(exc):
            read = opts.timeout[1] if isinstance(opts.timeout, tuple) else opts.timeout
            what = f"did not answer in time (nothing received for {read:g} s)"
        elif isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
            what = "broke off its answer"
        else:
            what = "could not be reached"
        hint = (f" (through the proxy {proxy}; check that proxy)" if proxy
                else "; check your network connection, and if you are behind a proxy set https_proxy and http_proxy")
        return ServerUnreachableError(f"The extensions server {host} {what}{hint}.")

    def status_error(self, response: requests.Response, path: str) -> HTTPStatusError:
        message = ""
        try:
            body = json.loads(response.content[:65536] or b"null")
            if isinstance(body, dict):
                message = str(body.get("message") or "")[:300]
        except (ValueError, RecursionError):
            pass
        detail = f": {message.rstrip('.')}" if message else ""  # the sentence ends with one full stop
        return HTTPStatusError(
            f"The extensions server {host_of(response.url)} answered {response.status_code} "
            f"{response.reason or 'error'} for {path}{detail}.", response.status_code, message)

    def send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None, stream: bool = False,
             options: ServerOptions | None = None) -> requests.Response:
        """One request (the adapter retries idempotent ones); HTTP errors raised as sentences."""
        opts = options or self.options
        url = self.url(path)
        # The retrying session only for idempotent requests that may be retried.
        single = method.upper() not in ("GET", "HEAD") or opts.retries <= 0
        session = self._single_session if single else self.session
        self.request_count += 1
        try:
            response = session.request(method, url, params=params, headers=dict(headers or {}),
                                       timeout=opts.timeout, stream=stream, allow_redirects=True)
        except (requests.exceptions.RequestException, LimitExceeded, OSError) as exc:
            raise self.unreachable(url, exc, options=opts) from exc
        if response.status_code >= 400:
            error = self.status_error(response, path)
            response.close()
            raise error
        return response

    def _json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              options: ServerOptions | None = None) -> Any:
        """A bounded JSON answer: total deadline, size cap, defensive parse."""
        opts = options or self.options
        deadline = time.monotonic() + opts.deadline if opts.deadline else None
        with WATCHDOG.watch(Transfer(deadline=deadline)) as transfer:
            try:
                response = self.send(method, path, params=params, stream=True, options=opts)
                with response:
                    body = self._read_body(response, path, opts.max_metadata_bytes, transfer)
            except ServerUnreachableError as exc:
                if transfer.failure:
                    raise self.unreachable(self.url(path), exc, transfer, opts) from exc
                raise
            except (requests.exceptions.RequestException, LimitExceeded, OSError) as exc:
                raise self.unreachable(self.url(path), exc, transfer, opts) from exc
        try:
            return json.loads(body)
        except RecursionError as exc:
            raise MalformedResponseError(
                f"The extensions server {host_of(self.server_url)} sent a response to {path} nested too deeply to "
                "be a catalog; it was not used. Check the server URL."
            ) from exc
        except ValueError as exc:
            raise MalformedResponseError(
                f"The extensions server {host_of(self.server_url)} sent a response to {path} that is not "
                "valid JSON; a proxy or captive portal may be answering instead of the server."
            ) from exc

    def _read_body(self, response: requests.Response, path: str, cap: int, transfer: Transfer) -> bytearray:
        def too_big() -> MalformedResponseError:
            return MalformedResponseError(
                f"The extensions server {host_of(self.server_url)} sent more than {cap // (1024 * 1024)} MB "
                f"for {path}, more than any catalog; it was not read. Check the server URL.")

        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise too_big()
        body = bytearray()  # grown in place: the answer is held once, never copied
        for chunk in response.iter_content(_BODY_CHUNK):
            transfer.count(len(chunk))
            if len(body) + len(chunk) > cap:
                raise too_big()
            body += chunk
        return body

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, *,
                 options: ServerOptions | None = None) -> Any:
        """``GET {server}/api/v1{path}`` decoded as JSON (errors typed)."""
        self.authenticate()
        return self._json("GET", path, params=params, options=options)

    def _get_list(self, path: str, params: Mapping[str, Any] | None = None, *,
                  options: ServerOptions | None = None) -> list[dict[str, Any]]:
        data = self.get_json(path, params, options=options)
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise MalformedResponseError(
                f"The extensions server {host_of(self.server_url)} answered {path} with something other "
                "than a list of items; check the server URL."
            )
        return data

    # -- applications, releases, packages ------------------------------------------------------------

    def apps(self, name: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 0}
        if name:
            params["name"] = name
        return self._get_list("/app", params)

    def find_app_id(self, name: str) -> str:
        """The id of the application called ``name`` (``GET /app?name=``)."""
        apps = [a for a in self.apps(name) if a.get("name") == name]
        if not apps:
            raise UnknownAppError(
                f"The server {host_of(self.server_url)} has no application named {name!r}; "
                "check --app-name (the production server calls it 'Slicer')."
            )
        return str(apps[0]["_id"])

    def releases(self) -> list[dict[str, Any]]:
        return self._get_list(f"/app/{self.app_id}/release", {"limit": 0})

    def drafts(self, revision: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 0}
        if revision:
            params["revision"] = revision
        return self._get_list(f"/app/{self.app_id}/draft", params)

    def application_packages(self, *, os: str | None = None, arch: str | None = None, limit: int = 0,
                             **filters: Any) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, **{k: v for k, v in filters.items() if v is not None}}
        if os:
            params["os"] = os
        if arch:
            params["arch"] = arch
        return self._get_list(f"/app/{self.app_id}/package", params)

    def download_stats(self) -> dict[str, Any]:
        data = self.get_json(f"/app/{self.app_id}/downloadstats")
        if not isinstance(data, dict):
            raise MalformedResponseError(
                f"The extensions server {host_of(self.server_url)} sent download statistics in an unknown format."
            )
        return data

    # -- extensions ------------------------------------------------------------------------------------

    def extension_items(self, app_revision: str | None = None, os: str | None = None, arch: str | None = None,
                        *, q: str | None = None, base_name: str | None = None, extension_id: str | None = None,
                        limit: int = 0, sort: str | None = None, sortdir: int | None = None,
                        options: ServerOptions | None = None) -> list[dict[str, Any]]:
        """``GET /app/{app_id}/extension`` with the server's own filters; ``limit=0`` = all."""
        params: dict[str, Any] = {"limit": limit}
        for key, value in (
            ("app_revision", app_revision), ("os", os), ("arch", arch), ("q", q), ("baseName", base_name),
            ("extension_id", extension_id), ("sort", sort), ("sortdir", sortdir),
        ):
            if value not in (None, ""):
                params[key] = value
        return self._get_list(f"/app/{self.app_id}/extension", params, options=options)

    def item(self, item_id: str) -> dict[str, Any]:
        data = self.get_json(f"/item/{item_id}")
        if not isinstance(data, dict):
            raise UnknownExtensionError(f"The server has no item with id {item_id}.")
        return data

    def item_files(self, item_id: str) -> list[dict[str, Any]]:
        return self._get_list(f"/item/{item_id}/files", {"limit": 0})

    def package_file(self, item_id: str, name: str = "") -> dict[str, Any]:
        """The one file of an extension item (Slicer requires exactly one)."""
        return self.downloads.package_file(item_id, name)

    # -- linked resources (icons, screenshots) -----------------------------------------------------------

    def get_resource(self, url: str, *, max_bytes: int = 8 * 1024 * 1024, deadline: float = 30.0) -> bytes:
        """A small file the catalog links to (an icon, a screenshot) through this client's
        session: its proxies, TLS settings and retries. The server's credentials go only to
        the server itself, never to another host. Failures raise the usual sentences."""
        if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
            raise MalformedResponseError(f"{url} is not an http or https address, so it cannot be fetched.")
        own = same_origin(self.server_url, url)
        if own:
            self.authenticate()
        # None removes a session header for this request only.
        headers: dict[str, Any] = {"Accept": "*/*"}
        if not own:
            headers.update(dict.fromkeys(CREDENTIAL_HEADERS))
        self.request_count += 1
        with WATCHDOG.watch(Transfer(deadline=time.monotonic() + deadline)) as transfer:
            try:
                with self.session.get(url, headers=headers, timeout=self.options.timeout, stream=True) as response:
                    if response.status_code >= 400:
                        raise self.status_error(response, urllib.parse.urlsplit(url).path or "/")
                    chunks, size = [], 0
                    for chunk in response.iter_content(_BODY_CHUNK):
                        size += len(chunk)
                        transfer.count(len(chunk))
                        if size > max_bytes:
                            raise MalformedResponseError(
                                f"{url} is larger than {max_bytes // (1024 * 1024)} MB, too large for an image "
                                "of the catalog; it was not loaded.")
                        chunks.append(chunk)
                    return b"".join(chunks)
            except (requests.exceptions.RequestException, LimitExceeded, OSError) as exc:
                raise self.unreachable(url, exc, transfer) from exc

    # -- downloads (download.py) ------------------------------------------------------------------------

    def download_package(self, item_id: str, destination_dir: Any, **kwargs: Any) -> DownloadResult:
        """The package file of extension item ``item_id`` into ``destination_dir``
        (see :meth:`Downloader.download_package`)."""
        return self.downloads.download_package(item_id, destination_dir, **kwargs)

    def download_file(self, file_id: str, destination: Any, **kwargs: Any) -> DownloadResult:
        """``GET /file/{file_id}/download`` to ``destination`` (see :meth:`Downloader.download_file`)."""
        return self.downloads.download_file(file_id, destination, **kwargs)
