"""Client for the Slicer Package Manager server (the Girder plugin behind
https://slicer-packages.kitware.com), Qt-free, on ``requests``.

Every failure is turned into a typed :class:`~slicer_ext_manager.errors.ServerError`
whose text is one sentence for the user. Downloads stream to disk, are verified
against ``meta.sha512`` and resume with ``Range`` after a dropped connection; they
go through ``GET /file/{id}/download`` because completing that request is what
makes the server count the download.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import requests

from . import __version__
from .errors import (
    CancelledError,
    ChecksumMismatchError,
    DownloadError,
    HTTPStatusError,
    MalformedResponseError,
    ServerUnreachableError,
    UnknownAppError,
    UnknownExtensionError,
)

log = logging.getLogger(__name__)

USER_AGENT = f"slicer-ext-manager/{__version__} (+https://github.com/slicer-ext-manager) python-requests/{requests.__version__}"
DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds
CHUNK_SIZE = 256 * 1024

#: progress(done_bytes, total_bytes_or_None) -> False to cancel (None/True to go on)
ProgressCallback = Callable[[int, "int | None"], "bool | None"]
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class DownloadResult:
    """A package downloaded and verified."""

    path: Path
    file_name: str
    size: int
    sha512: str
    verified: bool
    resumed: int = 0


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _proxy_for(url: str) -> str | None:
    proxies = requests.utils.get_environ_proxies(url)
    return proxies.get(urllib.parse.urlsplit(url).scheme) or proxies.get("all")


class SlicerPackagesClient:
    """The REST client. One instance per server; thread-safe for independent calls
    (each call uses the shared ``requests.Session`` connection pool)."""

    def __init__(
        self,
        server_url: str,
        app_id: str,
        *,
        verify: bool = True,
        token: str | None = None,
        api_key: str | None = None,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        retries: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ):
        self.server_url = server_url.strip().rstrip("/")
        self.api_url = self.server_url + "/api/v1"
        self.app_id = app_id
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.session = session or requests.Session()
        self.session.verify = verify
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"
        #: Number of HTTP requests sent (benchmarks and tests count them).
        self.request_count = 0
        if token:
            self.session.headers["Girder-Token"] = token
        self._api_key = api_key
        if not verify:
            log.warning("TLS certificate verification is disabled for %s (--insecure).", self.server_url)
            try:
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            except Exception:  # pragma: no cover
                pass

    # -- plumbing --------------------------------------------------------------------------------

    def _authenticate(self) -> None:
        if not self._api_key or "Girder-Token" in self.session.headers:
            return
        key, self._api_key = self._api_key, None
        data = self._request_json("POST", "/api_key/token", params={"key": key})
        token = (data or {}).get("authToken", {}).get("token") if isinstance(data, dict) else None
        if not token:
            raise MalformedResponseError(
                f"The server at {self.server_url} did not return a token for the API key; check the key."
            )
        self.session.headers["Girder-Token"] = token

    def _url(self, path: str) -> str:
        return self.api_url + (path if path.startswith("/") else "/" + path)

    def _unreachable(self, url: str, exc: Exception) -> ServerUnreachableError:
        host = _host(url)
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
        if isinstance(exc, requests.exceptions.Timeout):
            what = "did not answer in time"
        else:
            what = "could not be reached"
        hint = (
            f" (through the proxy {proxy}; check that proxy)"
            if proxy
            else "; check your network connection, and if you are behind a proxy set https_proxy and http_proxy"
        )
        return ServerUnreachableError(f"The extensions server {host} {what}{hint}.")

    def _status_error(self, response: requests.Response, path: str) -> HTTPStatusError:
        message = ""
        try:
            body = response.json()
            if isinstance(body, dict):
                message = str(body.get("message") or "")
        except ValueError:
            pass
        detail = f": {message}" if message else ""
        reason = response.reason or "error"
        return HTTPStatusError(
            f"The extensions server {_host(response.url)} answered {response.status_code} {reason} "
            f"for {path}{detail}.",
            response.status_code,
            message,
        )

    def _send(self, method: str, path: str, *, params=None, headers=None, stream=False) -> requests.Response:
        """Send with retries on connection errors and 5xx (not for streamed bodies' content)."""
        url = self._url(path)
        attempt = 0
        while True:
            attempt += 1
            try:
                self.request_count += 1
                response = self.session.request(
                    method, url, params=params, headers=headers, timeout=self.timeout, stream=stream,
                    allow_redirects=True,
                )
            except requests.exceptions.RequestException as exc:
                if attempt <= self.retries and not isinstance(exc, requests.exceptions.SSLError):
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise self._unreachable(url, exc) from exc
            if response.status_code >= 500 and attempt <= self.retries:
                response.close()
                time.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            if response.status_code >= 400:
                error = self._status_error(response, path)
                response.close()
                raise error
            return response

    def _request_json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        response = self._send(method, path, params=params)
        try:
            return response.json()
        except ValueError as exc:
            raise MalformedResponseError(
                f"The extensions server {_host(self.server_url)} sent a response to {path} that is not "
                "valid JSON; a proxy or captive portal may be answering instead of the server."
            ) from exc

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET {server}/api/v1{path}`` decoded as JSON (errors typed)."""
        self._authenticate()
        return self._request_json("GET", path, params=params)

    def _get_list(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        data = self.get_json(path, params)
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise MalformedResponseError(
                f"The extensions server {_host(self.server_url)} answered {path} with something other "
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
                f"The server {_host(self.server_url)} has no application named {name!r}; "
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
                f"The extensions server {_host(self.server_url)} sent download statistics in an unknown format."
            )
        return data

    # -- extensions ------------------------------------------------------------------------------------

    def extension_items(
        self,
        app_revision: str | None = None,
        os: str | None = None,
        arch: str | None = None,
        *,
        q: str | None = None,
        base_name: str | None = None,
        extension_id: str | None = None,
        limit: int = 0,
        sort: str | None = None,
        sortdir: int | None = None,
    ) -> list[dict[str, Any]]:
        """``GET /app/{app_id}/extension`` with the server's own filters; ``limit=0`` = all."""
        params: dict[str, Any] = {"limit": limit}
        for key, value in (
            ("app_revision", app_revision), ("os", os), ("arch", arch), ("q", q), ("baseName", base_name),
            ("extension_id", extension_id), ("sort", sort), ("sortdir", sortdir),
        ):
            if value not in (None, ""):
                params[key] = value
        return self._get_list(f"/app/{self.app_id}/extension", params)

    def item(self, item_id: str) -> dict[str, Any]:
        data = self.get_json(f"/item/{item_id}")
        if not isinstance(data, dict):
            raise UnknownExtensionError(f"The server has no item with id {item_id}.")
        return data

    def item_files(self, item_id: str) -> list[dict[str, Any]]:
        return self._get_list(f"/item/{item_id}/files", {"limit": 0})

    def package_file(self, item_id: str, name: str = "") -> dict[str, Any]:
        """The one file of an extension item (Slicer requires exactly one)."""
        label = f"{name} ({item_id})" if name else item_id
        files = self.item_files(item_id)
        if len(files) != 1:
            raise DownloadError(
                f"The server lists {len(files)} files for extension {label}, but exactly one package file is "
                "expected; the extension cannot be installed from this server (tell its administrator)."
            )
        if not files[0].get("_id"):
            raise MalformedResponseError(f"The server's file record for extension {label} has no id.")
        return files[0]

    # -- download ---------------------------------------------------------------------------------------

    def download_package(
        self,
        item_id: str,
        destination_dir: str | os.PathLike[str],
        *,
        name: str = "",
        sha512: str = "",
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
        file_record: Mapping[str, Any] | None = None,
        durable: bool = True,
    ) -> DownloadResult:
        """Download the package file of extension item ``item_id`` into ``destination_dir``.

        ``sha512`` (usually the item's ``meta.sha512``; else the file record's) is
        verified; on mismatch the file is deleted and :class:`ChecksumMismatchError`
        raised.
        """
        record = dict(file_record) if file_record else self.package_file(item_id, name)
        file_id = str(record["_id"])
        file_name = os.path.basename(str(record.get("name") or f"{item_id}.tar.gz")) or f"{item_id}.tar.gz"
        expected = (sha512 or str(record.get("sha512") or "")).lower()
        dest = Path(destination_dir) / file_name
        return self.download_file(file_id, dest, expected_sha512=expected, expected_size=record.get("size"),
                                  progress=progress, cancel=cancel, label=name or file_name, durable=durable)

    def download_file(
        self,
        file_id: str,
        destination: str | os.PathLike[str],
        *,
        expected_sha512: str = "",
        expected_size: int | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
        label: str = "",
        resume: bool = False,
        durable: bool = True,
    ) -> DownloadResult:
        """Stream ``GET /file/{file_id}/download`` to ``destination`` (via ``<destination>.part``).

        ``resume``: continue a ``.part`` left by an earlier, interrupted run (with
        ``Range``), and keep the ``.part`` when this run is interrupted too.
        ``durable``: fsync before the rename (off for packages extracted right away
        and deleted: a crash then simply repeats the download).
        """
        self._authenticate()
        dest = Path(destination)
        part = dest.with_name(dest.name + ".part")
        label = label or dest.name
        hasher = hashlib.sha512()
        done = 0
        if resume and part.is_file():
            with open(part, "rb") as existing:
                for chunk in iter(lambda: existing.read(CHUNK_SIZE), b""):
                    hasher.update(chunk)
                    done += len(chunk)
        resumed = 1 if done else 0
        total: int | None = int(expected_size) if expected_size else None
        failures = 0

        def cancelled() -> bool:
            return bool(cancel and cancel())

        try:
            with open(part, "ab" if done else "wb") as out:
                while True:
                    if done and total is not None and done >= total:
                        if done == total:
                            break  # an earlier run had received everything
                        out.seek(0)
                        out.truncate()
                        hasher, done = hashlib.sha512(), 0
                    headers = {"Range": f"bytes={done}-"} if done else None
                    try:
                        response = self._send("GET", f"/file/{file_id}/download", headers=headers, stream=True)
                    except ServerUnreachableError:
                        raise
                    with response:
                        if done and response.status_code != 206:
                            # Server ignored the range: start over.
                            out.seek(0)
                            out.truncate()
                            hasher, done = hashlib.sha512(), 0
                        if response.status_code == 206:
                            crange = response.headers.get("Content-Range", "")
                            if "/" in crange and crange.rsplit("/", 1)[1].isdigit():
                                total = int(crange.rsplit("/", 1)[1])
                        elif response.headers.get("Content-Length", "").isdigit():
                            total = int(response.headers["Content-Length"])
                        try:
                            for chunk in response.iter_content(CHUNK_SIZE):
                                if cancelled():
                                    raise CancelledError(f"The download of {label} was cancelled.")
                                if not chunk:
                                    continue
                                out.write(chunk)
                                hasher.update(chunk)
                                done += len(chunk)
                                if progress is not None and progress(done, total) is False:
                                    raise CancelledError(f"The download of {label} was cancelled.")
                        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
                                requests.exceptions.Timeout) as exc:
                            failures += 1
                            if failures > self.retries:
                                raise DownloadError(
                                    f"The download of {label} was interrupted {failures} times "
                                    f"({done} of {total or '?'} bytes received); check your network and try again."
                                ) from exc
                            resumed += 1
                            log.info("Download of %s dropped at %d bytes; resuming.", label, done)
                            time.sleep(self.backoff * 2 ** (failures - 1))
                            continue
                    if total is not None and done < total:
                        failures += 1
                        if failures > self.retries:
                            raise DownloadError(
                                f"The download of {label} ended early ({done} of {total} bytes); try again."
                            )
                        resumed += 1
                        continue
                    break
                out.flush()
                if durable:
                    os.fsync(out.fileno())
            digest = hasher.hexdigest()
            if expected_sha512 and digest != expected_sha512:
                raise ChecksumMismatchError(
                    f"The downloaded package {label} does not match the checksum published by the server "
                    f"(sha512 expected {expected_sha512[:16]}…, got {digest[:16]}…); it was deleted. "
                    "Try again; if it happens again, tell the server's administrator."
                )
            os.replace(part, dest)
            return DownloadResult(dest, dest.name, done, digest, bool(expected_sha512), resumed)
        except ChecksumMismatchError:
            part.unlink(missing_ok=True)
            raise
        except BaseException:
            if not (resume and part.exists() and part.stat().st_size > 0):
                part.unlink(missing_ok=True)
            raise


def iter_unique_newest(items: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Key items by ``meta.baseName``; for duplicates keep the newest ``created``
    (ties broken by ``_id`` so the choice is deterministic)."""
    chosen: dict[str, Mapping[str, Any]] = {}
    for item in items:
        meta = item.get("meta") or {}
        name = meta.get("baseName") if isinstance(meta, Mapping) else None
        if not name:
            continue
        current = chosen.get(name)
        key = (str(item.get("created") or ""), str(item.get("_id") or ""))
        if current is None or key > (str(current.get("created") or ""), str(current.get("_id") or "")):
            chosen[name] = item
    return chosen
