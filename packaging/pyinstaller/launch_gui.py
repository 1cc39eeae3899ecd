"""PyInstaller entry of the ``slicer-ext-manager-gui`` executable (windowed on Windows and macOS)."""

import sys

from slicer_ext_manager.gui_main import main

if __name__ == "__main__":
    sys.exit(main())
