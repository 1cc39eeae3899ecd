"""Entry point of ``slicer-ext-manager-gui``: the dialog, without a console window on Windows.

It is installed as a *gui script* (``[project.gui-scripts]``), so on Windows the launcher runs
under ``pythonw`` and no console opens; the PyInstaller bundle builds it as a windowed executable.
Arguments are those of ``slicer-ext-manager gui``.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    # Under pythonw (and a windowed PyInstaller executable) there is no console: sys.stdout and
    # sys.stderr are None, and the first message written would raise.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
    from slicer_ext_manager.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    return cli_main(["gui", *args])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
