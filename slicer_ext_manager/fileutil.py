"""Small file helpers shared by the core."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Union

#: A path argument: ``str`` or any ``os.PathLike`` (an alias because classes with an ``os``
#: field would shadow the module in their annotations).
StrPath = Union[str, "os.PathLike[str]"]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, keep_mode: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new content, never a mix:
    a temp file in the same folder, flushed to disk, then renamed over the target."""
    path = Path(path)
    import tempfile  # (with uuid, ~4 ms of start-up a read-only command does not need)

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


def why_not_writable(folder: str | os.PathLike[str]) -> str | None:
    """Why a new file cannot be written in ``folder`` (``"No space left on device"``,
    ``"Permission denied"``...), or None when it can: a small probe file is created,
    written, flushed to disk and deleted. Tells a full disk or a read-only folder from
    a lock another program holds."""
    probe = os.path.join(os.fspath(folder), f"{PROBE_PREFIX}{os.getpid()}-{os.urandom(4).hex()}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        os.write(fd, b"x" * 4096)
        os.fsync(fd)
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        os.close(fd)
        try:
            os.unlink(probe)
        except OSError:
            pass
    return None


PROBE_PREFIX = ".slicer-ext-manager-probe-"


def remove_files(folder: str | os.PathLike[str], wanted: Callable[[os.DirEntry], bool]) -> list[str]:
    """Unlink the files (never folders, never through links) of ``folder`` for which ``wanted``
    is true; the paths removed. An unreadable folder or a file that cannot go is skipped."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and wanted(entry):
                os.unlink(entry.path)
                removed.append(entry.path)
        except OSError:
            pass
    return removed


def remove_dead_probes(folder: str | os.PathLike[str]) -> list[str]:
    """Remove probe files (:func:`why_not_writable`) whose process is gone (a kill mid-probe)."""
    return remove_files(folder, lambda e: e.name.startswith(PROBE_PREFIX) and not _probe_owner_alive(e.name, e.path))


def _probe_owner_alive(name: str, path: str) -> bool:
    if os.name != "posix":  # os.kill would terminate a process on Windows: go by age instead
        try:
            return time.time() - os.stat(path).st_mtime < 60
        except OSError:
            return True
    try:
        pid = int(name[len(PROBE_PREFIX):].split("-", 1)[0])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def os_error_text(exc: BaseException) -> str:
    """``No space left on device`` for an ``OSError`` (never a raw ``OSError(16, ...)`` repr)."""
    if isinstance(exc, OSError):
        return exc.strerror or (os.strerror(exc.errno) if exc.errno else "") or str(exc) or exc.__class__.__name__
    return str(exc) or exc.__class__.__name__


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
