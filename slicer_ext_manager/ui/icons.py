"""Icons: the application icon, the default extension icon, and an asynchronous,
disk-cached icon loader for extension icons.

* Installed extensions: Slicer's ``<InstallPath>/<Name>-icon.<ext>`` is used when present.
* Otherwise the ``iconurl`` of the metadata is fetched with :class:`QNetworkAccessManager`
  (asynchronous, honours the application proxy; ``file:`` URLs work too), written to a
  disk cache keyed by the URL, and decoded in a thread pool.
* Until (or unless) an icon arrives, the default icon is used.

File reads, cache writes and image decoding never run on the GUI thread. Icons are
decoded at the screen's device pixel ratio so they stay sharp on high-DPI screens.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QObject,
    QRect,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QImage, QImageReader, QPainter, QPainterPath, QPixmap
from PySide6.QtNetwork import QNetworkAccessManager, QNetworkReply, QNetworkRequest

__all__ = [
    "IconCache",
    "app_icon",
    "default_extension_icon",
    "default_icon_cache_dir",
    "resource_path",
]

APP_ICON_FILE = "app-icon.svg"
DEFAULT_EXTENSION_ICON_FILE = "extension-default.svg"
#: Logical size (device-independent pixels) icons are decoded for.
ICON_SIZE = 64
_IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp")


def _resource_dirs() -> list[Path]:
    here = Path(__file__).resolve()
    return [here.parent.parent / "resources", here.parents[2] / "resources"]


def resource_path(name: str) -> Path | None:
    """A file of the icon resources (package ``resources/`` or the source tree's), or None."""
    for folder in _resource_dirs():
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _generated_icon(letter: str = "", color: str = "#7b8fa4") -> QIcon:
    """A generated tile (used only if the SVG resources are missing)."""
    icon = QIcon()
    for size in (16, 32, 48, 64, 128, 256):
        pix = QPixmap(size, size)
        pix.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pix)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        path = QPainterPath()
        margin = size * 0.05
        path.addRoundedRect(margin, margin, size - 2 * margin, size - 2 * margin, size * 0.2, size * 0.2)
        painter.fillPath(path, QColor(color))
        if letter:
            font = QFont()
            font.setBold(True)
            font.setPixelSize(max(6, int(size * 0.55)))
            painter.setFont(font)
            painter.setPen(QColor("white"))
            painter.drawText(QRect(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, letter[:1].upper())
        painter.end()
        icon.addPixmap(pix)
    return icon


_APP_ICON: QIcon | None = None
_DEFAULT_ICON: QIcon | None = None


def app_icon() -> QIcon:
    """The application icon (scalable SVG)."""
    global _APP_ICON
    if _APP_ICON is None:
        path = resource_path(APP_ICON_FILE)
        _APP_ICON = QIcon(str(path)) if path else _generated_icon("S", "#2c70c8")
        if _APP_ICON.isNull():
            _APP_ICON = _generated_icon("S", "#2c70c8")
    return _APP_ICON


def default_extension_icon() -> QIcon:
    """Icon of an extension without an icon of its own (scalable SVG)."""
    global _DEFAULT_ICON
    if _DEFAULT_ICON is None:
        path = resource_path(DEFAULT_EXTENSION_ICON_FILE)
        _DEFAULT_ICON = QIcon(str(path)) if path else _generated_icon()
        if _DEFAULT_ICON.isNull():
            _DEFAULT_ICON = _generated_icon()
    return _DEFAULT_ICON


def default_icon_cache_dir() -> Path:
    """Where downloaded extension icons are cached (per user)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("slicer-ext-manager", appauthor=False)) / "icons"


def _cache_file(cache_dir: Path, url: str) -> Path:
    digest = hashlib.sha1(url.encode("utf-8")).hexdigest()
    suffix = os.path.splitext(QUrl(url).path())[1].lower()
    if suffix not in _IMAGE_SUFFIXES:
        suffix = ".img"
    return cache_dir / f"{digest}{suffix}"


def decode_image(source: Path | bytes, size: int) -> QImage:
    """Decode (thread-safe) at ``size`` x ``size`` device pixels, keeping the aspect ratio."""
    from PySide6.QtCore import QBuffer, QIODevice

    if isinstance(source, (bytes, bytearray)):
        buffer = QBuffer()
        buffer.setData(QByteArray(bytes(source)))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        reader = QImageReader(buffer)
        reader.setDecideFormatFromContent(True)
    else:
        reader = QImageReader(str(source))
        reader.setDecideFormatFromContent(True)
    original = reader.size()
    if original.isValid() and original.width() > 0 and original.height() > 0:
        scaled = original.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio)
        reader.setScaledSize(scaled)
    image = reader.read()
    if image.isNull():
        return image
    if image.width() > size or image.height() > size:
        image = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return image


class _Decode(QRunnable):
    """Read (or write then read) one icon off the GUI thread."""

    def __init__(self, cache: "IconCache", key: str, path: Path, data: bytes | None, size: int):
        super().__init__()
        self._cache = cache
        self._key = key
        self._path = path
        self._data = data
        self._size = size

    def run(self) -> None:  # pool thread
        image = QImage()
        try:
            if self._data is not None:
                image = decode_image(self._data, self._size)
                if not image.isNull():
                    self._path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = self._path.with_name(self._path.name + f".{os.getpid()}.tmp")
                    tmp.write_bytes(self._data)
                    os.replace(tmp, self._path)
            elif self._path.is_file():
                image = decode_image(self._path, self._size)
            else:
                self._cache._relay.missing.emit(self._key)
                return
        except OSError:
            pass
        self._cache._relay.decoded.emit(self._key, image)


class _Relay(QObject):
    decoded = Signal(str, object)
    missing = Signal(str)


class IconCache(QObject):
    """Extension icons by key (an installed icon file or an icon URL), loaded lazily.

    :meth:`icon` returns at once (the default icon while loading) and emits
    :attr:`iconReady` with the key when the real icon is available.
    """

    iconReady = Signal(str)

    def __init__(self, cache_dir: Path | None = None, parent: QObject | None = None, *, size: int = ICON_SIZE,
                 network: bool = True):
        super().__init__(parent)
        self.cache_dir = Path(cache_dir) if cache_dir else default_icon_cache_dir()
        self.size = size
        self._network_enabled = network
        self._icons: dict[str, QIcon] = {}
        self._pending: set[str] = set()
        self._failed: set[str] = set()
        self._urls: dict[str, str] = {}
        self._nam: QNetworkAccessManager | None = None
        self._replies: set[QNetworkReply] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._relay = _Relay()
        self._relay.decoded.connect(self._on_decoded)
        self._relay.missing.connect(self._on_missing)
        self._closed = False

    # -- public -----------------------------------------------------------------------------

    @staticmethod
    def key_for(iconurl: str = "", icon_file: str = "") -> str:
        return icon_file or iconurl or ""

    def icon(self, iconurl: str = "", icon_file: str = "") -> QIcon:
        key = self.key_for(iconurl, icon_file)
        if not key:
            return default_extension_icon()
        found = self._icons.get(key)
        if found is not None:
            return found
        if key not in self._pending and key not in self._failed and not self._closed:
            self._start(key, iconurl, icon_file)
        return default_extension_icon()

    def has_icon(self, key: str) -> bool:
        return key in self._icons

    @property
    def pending(self) -> int:
        return len(self._pending)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        self._closed = True
        for reply in list(self._replies):
            reply.abort()
        self._pool.clear()
        self._pool.waitForDone(timeout_ms)

    # -- loading ----------------------------------------------------------------------------

    def _device_size(self) -> int:
        ratio = 1.0
        app = QGuiApplication.instance()
        if app is not None:
            ratio = max([s.devicePixelRatio() for s in QGuiApplication.screens()] or [1.0])
        return int(self.size * max(1.0, ratio))

    def _start(self, key: str, iconurl: str, icon_file: str) -> None:
        self._pending.add(key)
        if icon_file:
            self._pool.start(_Decode(self, key, Path(icon_file), None, self._device_size()))
            return
        self._urls[key] = iconurl
        self._pool.start(_Decode(self, key, _cache_file(self.cache_dir, iconurl), None, self._device_size()))

    @Slot(str)
    def _on_missing(self, key: str) -> None:
        """Not in the disk cache: fetch it (local icon files never get here)."""
        url = self._urls.get(key, "")
        qurl = QUrl(url)
        if self._closed or not url or not self._network_enabled or not qurl.isValid() or \
                qurl.scheme().lower() not in ("http", "https", "file"):
            self._pending.discard(key)
            self._failed.add(key)
            return
        if self._nam is None:
            self._nam = QNetworkAccessManager(self)
        request = QNetworkRequest(qurl)
        request.setTransferTimeout(15000)
        request.setAttribute(QNetworkRequest.Attribute.RedirectPolicyAttribute,
                             QNetworkRequest.RedirectPolicy.NoLessSafeRedirectPolicy)
        reply = self._nam.get(request)
        self._replies.add(reply)
        reply.finished.connect(lambda r=reply, k=key: self._on_reply(r, k))

    def _on_reply(self, reply: QNetworkReply, key: str) -> None:
        self._replies.discard(reply)
        data = bytes(reply.readAll().data()) if reply.error() == QNetworkReply.NetworkError.NoError else b""
        reply.deleteLater()
        if self._closed or not data:
            self._pending.discard(key)
            self._failed.add(key)
            return
        url = self._urls.get(key, key)
        self._pool.start(_Decode(self, key, _cache_file(self.cache_dir, url), data, self._device_size()))

    @Slot(str, object)
    def _on_decoded(self, key: str, image: QImage) -> None:
        self._pending.discard(key)
        if self._closed:
            return
        if image is None or image.isNull():
            self._failed.add(key)
            return
        pixmap = QPixmap.fromImage(image)
        ratio = max(1.0, image.width() / float(self.size))
        pixmap.setDevicePixelRatio(ratio)
        icon = QIcon(pixmap)
        self._icons[key] = icon
        self.iconReady.emit(key)
