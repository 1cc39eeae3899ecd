"""Images the catalog links to (icons, screenshots), loaded off the GUI thread.

An image is read from a local file (an installed extension's ``<Name>-icon.png``, a
``file:`` URL), else from the disk cache (keyed by URL), else fetched by the given
``fetch`` function — the core client's :meth:`~slicer_ext_manager.server.SlicerPackagesClient.get_resource`,
so proxies, ``--insecure``, CA bundles and tokens apply as for every other request —
and written to the cache. Decoding (at the size it is shown) happens in the same
worker thread; the GUI thread only receives the ``QImage``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QSize, Qt, Signal, Slot
from PySide6.QtGui import QImage, QImageReader

from ..errors import ExtensionManagerError

log = logging.getLogger(__name__)

Fetch = Callable[[str], bytes]
_IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp")


def cache_file(cache_dir: Path, url: str) -> Path:
    digest = hashlib.sha1(url.encode("utf-8")).hexdigest()
    suffix = os.path.splitext(urllib.parse.urlsplit(url).path)[1].lower()
    return cache_dir / f"{digest}{suffix if suffix in _IMAGE_SUFFIXES else '.img'}"


def decode_image(source: Path | bytes, size: QSize) -> QImage:
    """Decode (thread-safe) to fit in ``size`` device pixels, keeping the aspect ratio."""
    if isinstance(source, (bytes, bytearray)):
        buffer = QBuffer()
        buffer.setData(QByteArray(bytes(source)))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        reader = QImageReader(buffer)
    else:
        reader = QImageReader(str(source))
    reader.setDecideFormatFromContent(True)
    original = reader.size()
    if original.isValid() and original.width() > 0 and original.height() > 0:
        reader.setScaledSize(original.scaled(size, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if not image.isNull() and (image.width() > size.width() or image.height() > size.height()):
        image = image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return image


def _local_path(url: str) -> Path | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "file":
        return None
    from urllib.request import url2pathname  # (≈ 25 ms of imports: http.client, email; only for file: URLs)

    return Path(url2pathname(parts.path))


class _Relay(QObject):
    done = Signal(str, object, str)  # key, QImage or None, error sentence


class ImageLoader(QObject):
    """Loads images by key; :attr:`loaded` / :attr:`failed` arrive in the GUI thread."""

    loaded = Signal(str, object)  # key, QImage
    failed = Signal(str, str)  # key, sentence

    def __init__(self, cache_dir: Path, fetch: Fetch | None = None, parent: QObject | None = None, *,
                 workers: int = 2):
        super().__init__(parent)
        self.cache_dir = Path(cache_dir)
        self._fetch = fetch
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="images")
        self._pending: set[str] = set()
        self._closed = threading.Event()
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def set_fetch(self, fetch: Fetch | None) -> None:
        self._fetch = fetch

    def request(self, key: str, size: QSize, *, url: str = "", file: str = "") -> None:
        """Load ``file`` (a local path) or ``url`` at ``size``; no-op while already loading."""
        if key in self._pending or self._closed.is_set():
            return
        self._pending.add(key)
        self._pool.submit(self._load, key, size, url, file, self._fetch)

    # -- worker thread --------------------------------------------------------------------------------

    def _read(self, url: str, file: str, fetch: Fetch | None) -> tuple[bytes | None, Path | None]:
        """(bytes fetched now, or None; the local or cached file to decode, or None)."""
        if file:
            return None, Path(file)
        local = _local_path(url)
        if local is not None:
            return None, local
        cached = cache_file(self.cache_dir, url)
        if cached.is_file():
            return None, cached
        if fetch is None:
            raise ExtensionManagerError("Images are not fetched from the network here.")
        return fetch(url), None

    def _store(self, url: str, data: bytes) -> None:
        path = cache_file(self.cache_dir, url)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def _load(self, key: str, size: QSize, url: str, file: str, fetch: Fetch | None) -> None:
        image, error = None, ""
        try:
            data, path = self._read(url, file, fetch)
            source: Path | bytes = data if data is not None else path  # type: ignore[assignment]
            image = decode_image(source, size)
            if image.isNull():
                image, error = None, f"{url or file} is not an image this program can show."
            elif data is not None:
                self._store(url, data)
        except ExtensionManagerError as exc:
            error = str(exc)
        except OSError as exc:
            error = f"{url or file} could not be read ({exc.strerror or exc})."
        except Exception as exc:  # noqa: BLE001 - a broken image must not kill the worker
            log.warning("Image %s failed: %r", url or file, exc)
            error = f"{url or file} could not be loaded ({exc!r})."
        if self._closed.is_set():
            return
        try:
            self._relay.done.emit(key, image, error)
        except RuntimeError:  # the dialog was closed meanwhile
            pass

    # -- GUI thread -----------------------------------------------------------------------------------

    @Slot(str, object, str)
    def _on_done(self, key: str, image: QImage | None, error: str) -> None:
        self._pending.discard(key)
        if self._closed.is_set():
            return
        if image is not None:
            self.loaded.emit(key, image)
        else:
            self.failed.emit(key, error)

    def shutdown(self) -> None:
        """Drop what is queued; a request in flight ends on its own (its result is dropped)."""
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pending.clear()
