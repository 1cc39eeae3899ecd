"""File helpers of the package server: atomic JSON state files, sha512 of packages, containment."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..fileutil import atomic_write_bytes

_HASH_CHUNK = 1 << 20


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (creating its folder), mode 0644."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(data, sort_keys=True, indent=1).encode("utf-8"), keep_mode=False)


def file_sha512(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha512()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def is_within(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or below it (both already resolved)."""
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False
