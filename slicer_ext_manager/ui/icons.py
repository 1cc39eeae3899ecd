"""Icons: the application icon, the default extension icon, and the extension icons
(:class:`IconCache`, on the :class:`~.images.ImageLoader`: local icon files, the disk
cache, or the catalog's ``iconurl`` through the core client; never on the GUI thread).

* Installed extensions: Slicer's ``<InstallPath>/<Name>-icon.<ext>`` is used when present.
* Otherwise the ``iconurl`` of the metadata.
* Until (or unless) an icon arrives, the default icon is used.

Icons are decoded at the screen's device pixel ratio so they stay sharp on high-DPI screens.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QImage, QPainter, QPainterPath, QPixmap

from .images import Fetch, ImageLoader

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


# Computed at import (no file-system call while the window is shown).
_HERE = Path(__file__).absolute()
_RESOURCE_DIRS = (_HERE.parent.parent / "resources", _HERE.parents[2] / "resources")


def resource_path(name: str) -> Path | None:
    """A file of the icon resources (package ``resources/`` or the source tree's), or None."""
    for folder in _RESOURCE_DIRS:
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


def device_ratio() -> float:
    """The largest device pixel ratio of the screens (1 without a GUI application)."""
    if QGuiApplication.instance() is None:
        return 1.0
    return max([s.devicePixelRatio() for s in QGuiApplication.screens()] or [1.0])


class IconCache(QObject):
    """Extension icons by key (an installed icon file or an icon URL), loaded lazily.

    :meth:`icon` returns at once (the default icon while loading) and emits
    :attr:`iconReady` with the key when the real icon is available. ``fetch``: how URLs
    are fetched (the widget passes the core client's); ``network=False``: never fetched.
    """

    iconReady = Signal(str)

    def __init__(self, cache_dir: Path | None = None, parent: QObject | None = None, *, size: int = ICON_SIZE,
                 fetch: Fetch | None = None, network: bool = True):
        super().__init__(parent)
        self.size = size
        self._icons: dict[str, QIcon] = {}
        self._failed: set[str] = set()
        self._network = network
        self._loader = ImageLoader(Path(cache_dir) if cache_dir else default_icon_cache_dir(),
                                   fetch if network else None, self)
        self._loader.loaded.connect(self._on_loaded)
        self._loader.failed.connect(lambda key, _why: self._failed.add(key))
        self._closed = False

    @property
    def cache_dir(self) -> Path:
        return self._loader.cache_dir

    def set_fetch(self, fetch: Fetch | None) -> None:
        if self._network:
            self._loader.set_fetch(fetch)
            self._failed.clear()  # a new server (or client) may serve what failed

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
        if key not in self._failed and not self._closed:
            px = int(self.size * max(1.0, device_ratio()))
            self._loader.request(key, QSize(px, px), url=iconurl if not icon_file else "", file=icon_file)
        return default_extension_icon()

    def has_icon(self, key: str) -> bool:
        return key in self._icons

    @property
    def pending(self) -> int:
        return self._loader.pending

    def shutdown(self) -> None:
        self._closed = True
        self._loader.shutdown()

    @Slot(str, object)
    def _on_loaded(self, key: str, image: QImage) -> None:
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(max(1.0, max(image.width(), image.height()) / float(self.size)))
        self._icons[key] = QIcon(pixmap)
        self.iconReady.emit(key)
