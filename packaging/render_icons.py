#!/usr/bin/env python3
"""Render the platform icons of the application from its SVG icon (Qt's SVG renderer).

Writes, from ``app-icon.svg`` (``slicer_ext_manager/resources/``, else the source tree's
``resources/``):

* ``packaging/linux/icons/hicolor/{48x48,128x128,256x256}/apps/<APP_ID>.png`` and
  ``packaging/linux/icons/hicolor/scalable/apps/<APP_ID>.svg`` (the freedesktop icon theme layout);
* ``packaging/pyinstaller/slicer-ext-manager.ico`` (Windows executables; PNG-compressed entries
  16-256 px) and ``packaging/pyinstaller/slicer-ext-manager.icns`` (macOS; PNG entries 16-512 px).

Usage::

    python packaging/render_icons.py            # (re)write the files
    python packaging/render_icons.py --check    # exit 1 if a file is missing or out of date
    python packaging/render_icons.py --out DIR  # write the same tree under DIR instead

``--check`` compares pixels with a small tolerance, so that another Qt version's antialiasing does
not count as a change. Needs PySide6 (QtGui, QtSvg); runs without a display (offscreen).
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
APP_ID = "org.slicer_ext_manager.SlicerExtManager"
ICON_FILE = "app-icon.svg"
PNG_SIZES = (48, 128, 256)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# icns types holding PNG data, by pixel size
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09"}
# tolerated mean absolute difference per channel (0-255) between a committed and a fresh rendering
TOLERANCE = 2.0


def find_svg() -> Path:
    for folder in (ROOT / "slicer_ext_manager" / "resources", ROOT / "resources"):
        if (folder / ICON_FILE).is_file():
            return folder / ICON_FILE
    raise SystemExit(f"render_icons: {ICON_FILE} not found in slicer_ext_manager/resources/ or resources/")


def outputs(base: Path) -> dict[str, Path]:
    linux = base / "linux" / "icons" / "hicolor"
    files = {f"png{n}": linux / f"{n}x{n}" / "apps" / f"{APP_ID}.png" for n in PNG_SIZES}
    files["svg"] = linux / "scalable" / "apps" / f"{APP_ID}.svg"
    files["ico"] = base / "pyinstaller" / "slicer-ext-manager.ico"
    files["icns"] = base / "pyinstaller" / "slicer-ext-manager.icns"
    return files


def _app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication(["render_icons"])


def render(svg: Path, size: int):
    """The icon as a QImage of size x size (ARGB32, transparent background)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {svg} is not a valid SVG for Qt")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def png_bytes(image) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise SystemExit("render_icons: Qt cannot write PNG")
    buffer.close()
    return bytes(data)


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico whose entries are PNG images (supported since Windows Vista)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    entries, blobs = [], []
    offset = 6 + 16 * len(pngs)
    for size, data in sorted(pngs.items()):
        dim = 0 if size >= 256 else size  # 0 means 256
        entries.append(struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset))
        blobs.append(data)
        offset += len(data)
    return header + b"".join(entries) + b"".join(blobs)


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns whose entries are PNG images."""
    body = io.BytesIO()
    for size, data in sorted(pngs.items()):
        body.write(ICNS_TYPES[size] + struct.pack(">I", len(data) + 8) + data)
    payload = body.getvalue()
    return b"icns" + struct.pack(">I", len(payload) + 8) + payload


def build(svg: Path) -> dict[str, bytes]:
    """The content of every output file."""
    _app()
    sizes = sorted(set(PNG_SIZES) | set(ICO_SIZES) | set(ICNS_TYPES))
    pngs = {n: png_bytes(render(svg, n)) for n in sizes}
    content = {f"png{n}": pngs[n] for n in PNG_SIZES}
    content["svg"] = svg.read_bytes()
    content["ico"] = ico_bytes({n: pngs[n] for n in ICO_SIZES})
    content["icns"] = icns_bytes({n: pngs[n] for n in ICNS_TYPES})
    return content


def _image_difference(a: bytes, b: bytes) -> float | None:
    """Mean absolute channel difference of two PNG images, None if their sizes differ."""
    from PySide6.QtGui import QImage

    ia, ib = QImage.fromData(a), QImage.fromData(b)
    if ia.isNull() or ib.isNull() or ia.size() != ib.size():
        return None
    ia = ia.convertToFormat(QImage.Format.Format_RGBA8888)
    ib = ib.convertToFormat(QImage.Format.Format_RGBA8888)
    da, db = bytes(ia.constBits())[: ia.sizeInBytes()], bytes(ib.constBits())[: ib.sizeInBytes()]
    return sum(abs(x - y) for x, y in zip(da, db)) / max(1, len(da))


def check(content: dict[str, bytes], files: dict[str, Path], svg: Path) -> list[str]:
    """Problems of the files on disk against freshly rendered content."""
    problems = []
    for key, path in files.items():
        if not path.is_file():
            problems.append(f"missing: {path}")
            continue
        data = path.read_bytes()
        if key.startswith("png"):
            diff = _image_difference(data, content[key])
            if diff is None or diff > TOLERANCE:
                problems.append(f"out of date: {path} (difference {diff})")
        elif key == "svg":
            if data != content[key]:
                problems.append(f"out of date: {path} (differs from {svg})")
        elif len(data) < 1000 or data[:4] not in (b"\0\0\1\0", b"icns"):
            problems.append(f"not an icon file: {path}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the files are present and current")
    parser.add_argument("--out", type=Path, default=HERE, help="base folder (default: packaging/)")
    parser.add_argument("--svg", type=Path, help=f"source SVG (default: the package's {ICON_FILE})")
    args = parser.parse_args(argv)
    svg = args.svg or find_svg()
    content = build(svg)
    files = outputs(args.out)
    if args.check:
        problems = check(content, files, svg)
        for p in problems:
            print(f"render_icons: {p}", file=sys.stderr)
        if problems:
            print("render_icons: run 'python packaging/render_icons.py' and commit the result", file=sys.stderr)
        return 1 if problems else 0
    for key, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content[key])
        print(f"wrote {path} ({len(content[key])} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
