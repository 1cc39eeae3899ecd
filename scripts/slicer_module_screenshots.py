#!/usr/bin/env python3
"""Render the Extensions Restore module's panel (the Slicer face, PythonQt) to PNG files.

Runs under PythonQt, in the lane's stand-in Slicer (``tests/pythonqt/standin``):

    bash scripts/pythonqt-lane.sh setup
    QT_QPA_PLATFORM=offscreen .pythonqt/pythonqt-host/bin/pythonqt-run --venv .pythonqt/venv \\
        scripts/slicer_module_screenshots.py [--out docs/screenshots]

Writes ``slicer-module-restore.png`` (an install under way), ``slicer-module-profiles.png`` and
``slicer-module-updates.png`` (see ``tests/pythonqt/screens.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if "PythonQt" not in sys.builtin_module_names:
        print("run it with pythonqt-run (see the docstring): the panel is a PythonQt panel", file=sys.stderr)
        return 2
    from tests.pythonqt.screens import render

    for path in render(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
