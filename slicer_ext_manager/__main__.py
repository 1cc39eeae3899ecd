"""``python -m slicer_ext_manager``: same as the ``slicer-ext-manager`` command."""

import sys

from slicer_ext_manager.cli import main

if __name__ == "__main__":
    sys.exit(main())
