"""In-process file-system faults for tests: every write-like operation under one folder
fails with an errno (``EACCES`` for a read-only folder, ``ENOSPC`` for a full disk).

Needed because tests may run as root (a ``chmod 555`` folder stays writable for root)
and because a full disk cannot be made portably. Python-level only: what Qt writes
itself (its lock files) is not affected; everything this project writes goes through
Python first (settings are saved from a copy the project writes).
"""

from __future__ import annotations

import builtins
import errno
import io
import os
from pathlib import Path
from typing import Any, Callable

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_TWO_PATHS = ("replace", "rename", "link", "symlink")
_ONE_PATH = ("mkdir", "unlink", "remove", "rmdir")


class FailingWrites:
    """``monkeypatch`` the os/io functions. ``ENOSPC`` (a full disk): files can be created,
    renamed and deleted, not written. ``EACCES`` (a read-only folder): no entry can be
    created, renamed or deleted; existing files stay writable, as in a ``chmod 555`` folder."""

    def __init__(self, monkeypatch: Any, folder: Path, code: int = errno.EACCES):
        self.folder = os.path.realpath(folder)
        self.code = code
        self.full = code == errno.ENOSPC
        self.hits = 0
        self.full_fds: set[int] = set()
        self.real: dict[str, Any] = {n: getattr(os, n) for n in (*_TWO_PATHS, *_ONE_PATH, "open", "write", "access",
                                                                 "fdopen", "close")}
        self.real_open = builtins.open
        monkeypatch.setattr(os, "open", self.os_open)
        monkeypatch.setattr(os, "write", self.os_write)
        monkeypatch.setattr(os, "fdopen", self.os_fdopen)
        monkeypatch.setattr(os, "close", self.os_close)
        monkeypatch.setattr(os, "access", self.access)
        monkeypatch.setattr(builtins, "open", self.file_open)
        monkeypatch.setattr(io, "open", self.file_open)
        for name in _TWO_PATHS:
            monkeypatch.setattr(os, name, self.two_paths(name))
        for name in _ONE_PATH:
            monkeypatch.setattr(os, name, self.one_path(name))

    def inside(self, path: Any) -> bool:
        if isinstance(path, int):
            return False
        try:
            full = os.path.realpath(os.fspath(path))
        except TypeError:
            return False
        return full == self.folder or full.startswith(self.folder + os.sep)

    def fail(self, path: Any) -> None:
        self.hits += 1
        raise OSError(self.code, os.strerror(self.code), None if isinstance(path, int) else os.fspath(path))

    def os_open(self, path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if not (flags & _WRITE_FLAGS and self.inside(path)):
            return self.real["open"](path, flags, *args, **kwargs)
        if not self.full:
            if flags & os.O_CREAT and not os.path.exists(path):
                self.fail(path)
            return self.real["open"](path, flags, *args, **kwargs)
        fd = self.real["open"](path, flags, *args, **kwargs)
        self.full_fds.add(fd)
        return fd

    def os_write(self, fd: int, data: Any) -> int:
        if fd in self.full_fds and data:
            self.fail(fd)
        return self.real["write"](fd, data)

    def os_fdopen(self, fd: int, *args: Any, **kwargs: Any) -> Any:
        fh = self.real["fdopen"](fd, *args, **kwargs)
        return _FullFile(fh, self, f"<fd {fd}>") if fd in self.full_fds else fh

    def os_close(self, fd: int) -> None:
        self.full_fds.discard(fd)
        self.real["close"](fd)

    def file_open(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if not (any(c in mode for c in "wax+") and self.inside(file)):
            return self.real_open(file, mode, *args, **kwargs)
        if not self.full:
            if "x" in mode or not os.path.exists(file):
                self.fail(file)
            return self.real_open(file, mode, *args, **kwargs)
        return _FullFile(self.real_open(file, mode, *args, **kwargs), self, file)

    def two_paths(self, name: str) -> Callable[..., Any]:
        def op(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.full and (self.inside(src) or self.inside(dst)):
                self.fail(dst)
            return self.real[name](src, dst, *args, **kwargs)
        return op

    def one_path(self, name: str) -> Callable[..., Any]:
        def op(path: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.full and self.inside(path):
                self.fail(path)
            return self.real[name](path, *args, **kwargs)
        return op

    def access(self, path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if not self.full and mode & os.W_OK and self.inside(path) and os.path.isdir(path):
            return False
        return self.real["access"](path, mode, *args, **kwargs)


class _FullFile:
    """A file object on a full disk: opening worked, writing fails."""

    def __init__(self, fh: Any, faults: FailingWrites, name: Any):
        self._fh, self._faults, self._name = fh, faults, name

    def write(self, data: Any) -> int:
        if data:
            self._faults.fail(self._name)
        return 0

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._faults.full_fds.discard(self._fh.fileno())
        except (OSError, ValueError):
            pass
        self._fh.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)
