"""Drive the real Slicer Package Manager server (Girder 3.1 + plugin) from tests.

Runs in the project's interpreter and needs only ``requests`` and the stdlib; the
server itself runs in its own virtualenv (``ensure_venv.py``) through
``run_server.py``.

* :class:`GirderServer` starts/stops one server process on 127.0.0.1.
* :class:`GirderAdmin` is a small authenticated REST client for the admin user,
  with the upload flow of the official ``slicer_package_manager_client``.

Example::

    server = GirderServer.start(venv_python, tmp_dir)
    try:
        admin = GirderAdmin(server.api_url, server.admin_login, server.admin_password)
        app = admin.create_app("Slicer")
        item = admin.upload_extension(app["_id"], archive, baseName="Foo", os="linux", arch="amd64",
                                      revision="abc1234", app_revision="33241")
    finally:
        server.stop()
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import requests

HERE = Path(__file__).resolve().parent
RUN_SERVER = HERE / "run_server.py"

#: Bytes per ``POST /file/chunk`` (the official client uses up to 64 MiB).
UPLOAD_CHUNK_SIZE = 16 * 1024 * 1024
#: Connect/read timeout of every admin request (seconds).
REQUEST_TIMEOUT = 60.0


class GirderError(RuntimeError):
    """A Girder REST call answered with an HTTP error; ``status`` and ``body`` keep the details."""

    def __init__(self, method: str, url: str, status: int, body: Any):
        self.method, self.url, self.status, self.body = method, url, status, body
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{method} {url} -> HTTP {status}: {message}")


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no {path.name})"
    return "\n".join(text.splitlines()[-lines:])


class GirderServer:
    """One running ``run_server.py`` process.

    Use :meth:`start`; the instance then exposes :attr:`url` (no ``/api/v1``),
    :attr:`api_url`, :attr:`admin_login`, :attr:`admin_password`,
    :attr:`assetstore_path`, :attr:`data_dir`, :attr:`port`, :attr:`info`
    (the ready-file JSON). Also a context manager (stops on exit).
    """

    def __init__(self, process: subprocess.Popen, data_dir: Path, port: int, info: dict[str, Any]):
        self.process = process
        self.data_dir = data_dir
        self.port = port
        self.info = info
        self.url: str = info["url"]
        self.api_url: str = info["api_url"]
        self.admin_login: str = info["admin_login"]
        self.admin_password: str = info["admin_password"]
        self.assetstore_path = Path(info["assetstore_path"])

    # -- lifecycle --------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        venv_python: str | os.PathLike[str],
        data_dir: str | os.PathLike[str],
        *,
        timeout: float = 90.0,
        port: int | None = None,
        attempts: int = 3,
    ) -> GirderServer:
        """Spawn the server on a free port of 127.0.0.1 and wait until it is ready.

        Raises ``RuntimeError`` (with the tail of the server's logs) if it exits or
        is not ready within ``timeout`` seconds. A port taken between picking and
        binding is retried ``attempts`` times.
        """
        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        last_error: Exception | None = None
        for _ in range(attempts if port is None else 1):
            try:
                return cls._start_once(Path(venv_python), data_dir, port or _free_port(), timeout)
            except _PortInUse as exc:
                last_error = exc
        raise RuntimeError(f"could not start the Girder server: {last_error}")

    @classmethod
    def _start_once(cls, venv_python: Path, data_dir: Path, port: int, timeout: float) -> GirderServer:
        ready_file = data_dir / "ready.json"
        output_log = data_dir / "server-output.log"
        ready_file.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [str(venv_python), str(RUN_SERVER), "--port", str(port), "--data-dir", str(data_dir),
               "--ready-file", str(ready_file), "--parent-pid", str(os.getpid())]
        with open(output_log, "ab") as out:
            process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       cwd=str(data_dir), env=env)
        deadline = time.monotonic() + timeout
        while True:
            if ready_file.exists():
                with contextlib.suppress(json.JSONDecodeError):
                    info = json.loads(ready_file.read_text(encoding="utf-8"))
                    return cls(process, data_dir, port, info)
            code = process.poll()
            if code is not None:
                logs = cls._log_tail(data_dir)
                if "Address already in use" in logs or ("Port " in logs and "not free" in logs):
                    raise _PortInUse(f"port {port} taken")
                raise RuntimeError(
                    f"Girder server exited with code {code} before it was ready.\n{logs}")
            if time.monotonic() > deadline:
                _terminate(process)
                raise RuntimeError(
                    f"Girder server not ready after {timeout:.0f} s.\n{cls._log_tail(data_dir)}")
            time.sleep(0.05)

    @staticmethod
    def _log_tail(data_dir: Path) -> str:
        return (f"--- {data_dir / 'server-output.log'} (tail) ---\n{_tail(data_dir / 'server-output.log')}\n"
                f"--- {data_dir / 'logs' / 'error.log'} (tail) ---\n{_tail(data_dir / 'logs' / 'error.log')}")

    def log_tail(self) -> str:
        """The last lines of the server's output and error logs (for failure messages)."""
        return self._log_tail(self.data_dir)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the server, wait for it (then SIGKILL); return its exit code."""
        return _terminate(self.process, timeout)

    def __enter__(self) -> GirderServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class _PortInUse(RuntimeError):
    pass


def _terminate(process: subprocess.Popen, timeout: float = 15.0) -> int | None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()  # SIGTERM on POSIX: run_server.py stops CherryPy cleanly
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode


class GirderAdmin:
    """REST client logged in as a (site admin) user.

    ``session`` is a ``requests.Session`` with ``trust_env=False`` (no proxies,
    no netrc) carrying the ``Girder-Token`` header. Errors raise :class:`GirderError`.
    Anonymous calls (what Slicer does) are easy with :meth:`anonymous`.
    """

    def __init__(self, api_url: str, login: str, password: str, *, assetstore_root: str | os.PathLike[str] | None = None):
        self.api_url = api_url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False
        self._assetstore_root = Path(assetstore_root) if assetstore_root else None
        resp = self.session.get(self.api_url + "/user/authentication", auth=(login, password), timeout=REQUEST_TIMEOUT)
        body = self._check(resp)
        self.token: str = body["authToken"]["token"]
        self.user: dict = body["user"]
        self.session.headers["Girder-Token"] = self.token

    # -- plumbing ---------------------------------------------------------------------------

    @staticmethod
    def _check(resp: requests.Response) -> Any:
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
        if resp.status_code >= 400:
            raise GirderError(resp.request.method or "?", resp.url, resp.status_code, body)
        return body

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Raw authenticated request; ``path`` is relative to the API root (``/app``, ``item/…``)."""
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return self.session.request(method, f"{self.api_url}/{path.lstrip('/')}", **kwargs)

    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, **kwargs) -> Any:
        """Authenticated request returning the decoded JSON; raises :class:`GirderError` on 4xx/5xx."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        return self._check(self.request(method, path, params=clean, **kwargs))

    def get(self, path: str, **params) -> Any:
        return self.call("GET", path, params=params)

    def anonymous(self) -> requests.Session:
        """A fresh session without token (and without proxies), for public endpoints."""
        session = requests.Session()
        session.trust_env = False
        return session

    # -- applications / releases ------------------------------------------------------------

    def create_app(self, name: str, description: str = "", *, public: bool = True,
                   collection_name: str | None = None) -> dict:
        """``POST /app`` (in collection "Applications" unless ``collection_name``); the app folder doc."""
        return self.call("POST", "app", params={
            "name": name, "app_description": description, "public": str(public).lower(),
            "collection_name": collection_name,
        })

    def delete_app(self, app_id: str) -> dict:
        return self.call("DELETE", f"app/{app_id}")

    def create_release(self, app_id: str, name: str, app_revision: str, description: str = "") -> dict:
        """``POST /app/{id}/release``: a release folder with ``meta.revision = app_revision``."""
        return self.call("POST", f"app/{app_id}/release", params={
            "name": name, "app_revision": app_revision, "description": description})

    def draft_folder(self, app_id: str) -> dict:
        return self.get(f"app/{app_id}/release", release_id_or_name="draft")

    # -- upload -----------------------------------------------------------------------------

    def upload_file(self, item_id: str, path: str | os.PathLike[str], *, name: str | None = None,
                    mime_type: str = "application/octet-stream", chunk_size: int = UPLOAD_CHUNK_SIZE) -> dict:
        """Girder's chunked upload into an item: ``POST /file`` then ``POST /file/chunk`` × N.

        Returns the file document. The file is read chunk by chunk (never whole).
        """
        path = Path(path)
        size = path.stat().st_size
        upload = self.call("POST", "file", params={
            "parentType": "item", "parentId": item_id, "name": name or path.name,
            "size": size, "mimeType": mime_type})
        if size == 0:
            return upload  # Girder finalises empty uploads immediately
        offset = 0
        result: dict = upload
        with open(path, "rb") as fh:
            while offset < size:
                chunk = fh.read(chunk_size)
                if not chunk:
                    raise OSError(f"{path} shrank while uploading")
                result = self.call("POST", "file/chunk", params={"uploadId": upload["_id"], "offset": offset},
                                   data=chunk, headers={"Content-Type": "application/octet-stream"})
                offset += len(chunk)
        if result.get("_modelType") != "file":
            raise RuntimeError(f"upload of {path} did not finish: {result}")
        return result

    def _replace_files(self, item_id: str, path: Path) -> None:
        """Upload ``path`` as the item's only file (like the official client's update flow)."""
        old = self.list_item_files(item_id)
        if not old:
            self.upload_file(item_id, path)
            return
        new = self.upload_file(item_id, path, name="new_file")
        for f in old:
            self.call("DELETE", f"file/{f['_id']}")
        self.call("PUT", f"file/{new['_id']}", params={"name": path.name})

    def upload_extension(
        self,
        app_id: str,
        archive_path: str | os.PathLike[str],
        *,
        baseName: str,
        os: str,
        arch: str,
        revision: str,
        app_revision: str,
        description: str = "",
        repository_type: str = "git",
        repository_url: str = "",
        category: str | None = None,
        dependency: str | None = None,
        homepage: str | None = None,
        icon_url: str | None = None,
        screenshots: str | None = None,
        contributors: str | None = None,
        keywords: str | None = None,
        tier: int | None = None,
        **extra: Any,
    ) -> dict:
        """Upload an extension package the way ``slicer_package_manager_client extension upload`` does.

        1. ``POST /app/{id}/extension`` with the metadata as query params (None = not sent;
           ``extra`` may add ``recommends``, ``license``, ``development_status``,
           ``dicom_support_rule``, ``enabled``);
        2. the file upload (if the item already had a file, the new file replaces it);
        3. returns ``GET /item/{id}`` (``meta.sha512`` set by the plugin).
        """
        archive_path = Path(archive_path)
        params = {
            "os": os, "arch": arch, "baseName": baseName, "repository_type": repository_type,
            "repository_url": repository_url, "revision": revision, "app_revision": app_revision,
            "description": description, "category": category, "dependency": dependency,
            "homepage": homepage, "icon_url": icon_url, "screenshots": screenshots,
            "contributors": contributors, "keywords": keywords, "tier": tier, **extra,
        }
        item = self.call("POST", f"app/{app_id}/extension", params=params)
        self._replace_files(item["_id"], archive_path)
        return self.get_item(item["_id"])

    def upload_package(
        self,
        app_id: str,
        package_path: str | os.PathLike[str],
        *,
        baseName: str,
        os: str,
        arch: str,
        revision: str,
        version: str,
        repository_type: str = "git",
        repository_url: str = "",
        description: str = "",
        pre_release: bool | None = None,
        build_date: str | None = None,
    ) -> dict:
        """Upload an application package (installer): ``POST /app/{id}/package`` + file; the refreshed item."""
        params = {
            "os": os, "arch": arch, "baseName": baseName, "repository_type": repository_type,
            "repository_url": repository_url, "revision": revision, "version": version,
            "description": description, "build_date": build_date,
            "pre_release": None if pre_release is None else str(pre_release).lower(),
        }
        item = self.call("POST", f"app/{app_id}/package", params=params)
        self._replace_files(item["_id"], Path(package_path))
        return self.get_item(item["_id"])

    # -- reading ----------------------------------------------------------------------------

    def get_item(self, item_id: str) -> dict:
        return self.get(f"item/{item_id}")

    def get_file(self, file_id: str) -> dict:
        return self.get(f"file/{file_id}")

    def list_item_files(self, item_id: str) -> list[dict]:
        """``GET /item/{id}/files?limit=0`` (file docs, incl. ``sha512``)."""
        return self.get(f"item/{item_id}/files", limit=0)

    def list_extensions(self, app_id: str, **params: Any) -> list[dict]:
        """``GET /app/{id}/extension`` with the given filters (default ``limit=0``: all)."""
        params.setdefault("limit", 0)
        return self.get(f"app/{app_id}/extension", **params)

    def download_stats(self, app_id: str) -> dict:
        """``GET /app/{id}/downloadstats``: ``{revision: {"extensions": {name: {os: {arch: n}}}, "applications": …}}``."""
        return self.get(f"app/{app_id}/downloadstats")

    def extension_download_count(self, app_id: str, *, name: str, os: str, arch: str, app_revision: str) -> int:
        """Downloads of one extension build as the stats endpoint reports them (0 if absent).

        The endpoint keys by revision for drafts and releases alike (a release's
        counts appear under its ``meta.revision``).
        """
        stats = self.download_stats(app_id)
        return int(stats.get(app_revision, {}).get("extensions", {}).get(name, {}).get(os, {}).get(arch, 0))

    def wait_extension_download_count(self, app_id: str, expected: int, *, timeout: float = 10.0, **key: str) -> int:
        """Poll :meth:`extension_download_count` until it reaches ``expected``; return the last value.

        Girder counts a download when its stream generator is exhausted on the server,
        which can happen just after the client has read the last byte, hence the poll.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = self.extension_download_count(app_id, **key)  # type: ignore[arg-type]
            if value >= expected or time.monotonic() > deadline:
                return value
            time.sleep(0.05)

    # -- assetstore -------------------------------------------------------------------------

    def assetstore_root(self, assetstore_id: str | None = None) -> Path:
        """Root directory of the filesystem assetstore (from ``GET /assetstore``, admin only)."""
        if self._assetstore_root is not None and assetstore_id is None:
            return self._assetstore_root
        stores = self.get("assetstore", limit=0)
        for store in stores:
            if store.get("root") and (assetstore_id is None or store["_id"] == assetstore_id):
                return Path(store["root"])
        raise LookupError(f"no filesystem assetstore {assetstore_id or ''}".strip())

    def assetstore_file_path(self, file_id_or_item_id: str) -> Path:
        """Where the filesystem assetstore keeps a file's bytes (for tampering tests).

        Accepts a file id, or an item id (its first file). Girder stores files
        content-addressed: ``<root>/<sha512[0:2]>/<sha512[2:4]>/<sha512>``
        (``FilesystemAssetstoreAdapter.finalizeUpload``), so two uploads with the
        same bytes share ONE path. The file's size is kept in the database, so keep
        the size when tampering (or downloads will break mid-stream).
        """
        try:
            doc = self.get_file(file_id_or_item_id)
        except GirderError as exc:
            if exc.status not in (400, 404):
                raise
            files = self.list_item_files(file_id_or_item_id)
            if not files:
                raise LookupError(f"item {file_id_or_item_id} has no file") from exc
            doc = self.get_file(files[0]["_id"])
        sha = doc.get("sha512")
        if not sha:
            raise LookupError(f"file {doc['_id']} has no sha512 (not uploaded to a filesystem assetstore?)")
        root = self.assetstore_root(doc.get("assetstoreId") if self._assetstore_root is None else None)
        return root / sha[0:2] / sha[2:4] / sha


def iter_download(session: requests.Session, url: str, **kwargs) -> Iterable[bytes]:
    """Stream a download (helper for big files): yields chunks, raises on HTTP errors."""
    with session.get(url, stream=True, timeout=REQUEST_TIMEOUT, **kwargs) as resp:
        resp.raise_for_status()
        yield from resp.iter_content(1 << 20)
