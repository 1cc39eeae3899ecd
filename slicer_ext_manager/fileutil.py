"""Small file helpers shared by the core."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Union

#: A path argument: ``str`` or any ``os.PathLike`` (an alias because classes with an ``os``
#: field would shadow the module in their annotations).
StrPath = Union[str, "os.PathLike[str]"]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, keep_mode: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new content, never a mix:
    a temp file in the same folder, flushed to disk, then renamed over the target."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if keep_mode:
            try:
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
            except OSError:
                os.chmod(tmp, 0o644)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fsync_folder(path: str | os.PathLike[str]) -> None:
    """Make a rename or a new file in ``path`` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def human_size(n: int | None) -> str:
    """``12.3 MB``; ``?`` when unknown."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
