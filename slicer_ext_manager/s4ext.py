"""Read and write Slicer extension description files (``.s4ext``).

Byte-compatible with ``qSlicerExtensionsManagerModel::parseExtensionDescriptionFile``
and ``writeExtensionDescriptionFile`` (reference §4.4):

* one ``key value`` line per entry; ``#`` comments and blank lines are ignored;
* a line is split on spaces with empty parts dropped, so runs of spaces collapse;
* the extension name is not stored: it is the file name before its first ``.``;
* a file with at least one key but no ``installed`` key means ``installed true``
  (files written before Slicer 5.0.3);
* keys are written in sorted order, ``extensionname``/``bookmarked``/``loaded``
  are never written, values are written as is (booleans as ``true``/``false``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from .fileutil import atomic_write_text

#: Keys Slicer never writes into a description file (model state, or derived from the file name).
NOT_WRITTEN = frozenset({"extensionname", "bookmarked", "loaded"})


def extension_name_from_path(path: str | os.PathLike[str]) -> str:
    """The extension name Slicer derives from a description file: the base name before the first dot."""
    return Path(path).name.split(".", 1)[0]


def parse_text(text: str, *, installed_default: bool = True) -> dict[str, str]:
    """Parse description-file text into a ``{key: value}`` dict (values are strings)."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p for p in line.split(" ") if p]
        if not parts:
            continue
        result[parts[0]] = " ".join(parts[1:])
    if installed_default and result and "installed" not in result:
        result["installed"] = "true"
    return result


def read(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a description file; the result includes ``extensionname`` from the file name."""
    data = Path(path).read_bytes().decode("utf-8", errors="replace")
    result = parse_text(data)
    result["extensionname"] = extension_name_from_path(path)
    return result


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    text = str(value)
    # A newline would start a new key on reading; Slicer's own writer corrupts the
    # file here. We keep the file parseable instead.
    return text.replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "<br>")


def format_text(metadata: Mapping[str, object]) -> str:
    """The exact text Slicer writes for ``metadata``."""
    lines = []
    for key in sorted(metadata):
        if key in NOT_WRITTEN:
            continue
        lines.append(f"{key} {_format_value(metadata[key])}\n")
    return "".join(lines)


def write(path: str | os.PathLike[str], metadata: Mapping[str, object]) -> None:
    """Write ``metadata`` as a description file, atomically (temp file + rename)."""
    atomic_write_text(path, format_text(metadata))
