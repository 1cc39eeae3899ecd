"""PyInstaller entry of the ``slicer-ext-manager`` executable (console).

Same as the ``slicer-ext-manager`` command, plus one packaging check that needs no network and no
Slicer profile: ``slicer-ext-manager --bundle-selftest OUT.png`` starts a QApplication, loads the
application icon through Qt's SVG icon engine, renders it with a label and saves a PNG. It proves
that the bundle holds the platform plugin in use (e.g. offscreen), the SVG icon engine, the PNG
image writer and the package resources.
"""

import sys


def _bundle_selftest(out: str) -> int:
    from importlib.resources import files

    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon, QImageReader, QImageWriter
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(["slicer-ext-manager"])
    icon_path = files("slicer_ext_manager") / "resources" / "app-icon.svg"
    if not icon_path.is_file():
        sys.stderr.write(f"bundle self-test: {icon_path} is missing from the bundle\n")
        return 1
    icon = QIcon(str(icon_path))
    pixmap = icon.pixmap(QSize(128, 128))
    if pixmap.isNull():
        sys.stderr.write(f"bundle self-test: cannot render {icon_path} (SVG icon engine missing?)\n")
        return 1
    label = QLabel()
    label.setPixmap(pixmap)
    label.setWindowIcon(icon)
    label.resize(160, 160)
    label.show()
    app.processEvents()
    if not label.grab().save(out, "PNG"):
        sys.stderr.write(f"bundle self-test: cannot write {out}\n")
        return 1
    formats = sorted(bytes(f).decode() for f in QImageReader.supportedImageFormats())
    print(f"platform={app.platformName()} icon={icon_path} "
          f"writers={','.join(sorted(bytes(f).decode() for f in QImageWriter.supportedImageFormats()))} "
          f"readers={','.join(formats)}")
    return 0


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--bundle-selftest":
        return _bundle_selftest(sys.argv[2])
    from slicer_ext_manager.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
