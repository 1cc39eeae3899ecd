"""Writing validated members into the staging folder, and nowhere else.

Folders are created one by one and checked not to be links, files are created with
``O_EXCL | O_NOFOLLOW``, links in their own place only (no later entry may pass through
one: :class:`~.validation.Validator`). Modes keep the permission bits without
setuid/setgid/sticky and without group/other write; the owner can always read and write.
Ownership is never changed; modification times come from the archive.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import Callable, Iterator

from ..errors import ArchiveError, CancelledError
from .limits import CancelCallback, ProgressCallback
from .messages import show, unsafe
from .readers import Member
from .validation import DIR, LINK, Entry

_OPEN_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
)


def file_mode(mode: int | None) -> int:
    """Like tarfile's ``data`` filter: no setuid/setgid/sticky, no group/other write,
    owner read+write, execute for group/other only if the owner has it."""
    if mode is None:
        return 0o644
    mode = (mode & 0o755) | 0o600
    if not mode & 0o100:
        mode &= ~0o111
    return mode


def dir_mode(mode: int | None) -> int:
    if mode is None:
        return 0o755
    return (mode & 0o755) | 0o700


class Writer:
    """Writes members under ``staging`` only; remembers folders to fix up at the end.

    ``progress(meter(), total)`` is reported; ``meter`` defaults to the bytes written.
    """

    def __init__(self, archive: Path, staging: Path, *, limit: int, total: int,
                 cancel: CancelCallback | None = None, progress: ProgressCallback | None = None,
                 meter: Callable[[], int] | None = None):
        self.archive = archive
        self.staging = staging
        self.cancel = cancel
        self.progress = progress
        self.total = total
        self.limit = limit
        self.done = 0
        self._meter = meter or (lambda: self.done)
        self._made: set[tuple[str, ...]] = set()
        self._dir_attrs: dict[tuple[str, ...], tuple[int | None, float | None]] = {}

    def _path(self, parts: tuple[str, ...]) -> str:
        return os.path.join(os.fspath(self.staging), *parts)

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise CancelledError(f"Extraction of {self.archive.name} was cancelled.")

    def report(self) -> None:
        if self.progress is not None:
            self.progress(self._meter(), self.total)

    def budget(self) -> int:
        """Bytes still allowed by the size limit."""
        return max(0, self.limit - self.done)

    def write(self, member: Member, chunks: Iterator[bytes] | None = None) -> None:
        """Write one member (``chunks``: its data, default ``member.chunks``)."""
        self.check_cancel()
        if member.tarinfo is not None:
            tar_filter_check(self.archive, member.tarinfo, self.staging)
        entry = member.entry
        if entry.kind == DIR:
            self.directory(entry)
        elif entry.kind == LINK:
            self.symlink(entry)
        else:
            self.file(entry, chunks if chunks is not None else member.chunks(self.budget()))
        self.report()

    def _write_error(self, entry: Entry, exc: OSError) -> ArchiveError:
        if isinstance(exc, FileExistsError) or exc.errno in (getattr(os, "ELOOP", -1),):
            return unsafe(self.archive, entry.raw, "conflicts with another entry already extracted")
        return ArchiveError(
            f"Could not write '{show(entry.raw)}' of {self.archive.name} into {self.staging}: "
            f"{exc.strerror or exc}."
        )

    def ensure_dirs(self, entry: Entry, parts: tuple[str, ...]) -> None:
        """Create the folders of ``parts`` not made yet (the made ones are closed under "parent of")."""
        depth = len(parts)
        while depth > 0 and parts[:depth] not in self._made:
            depth -= 1
        for i in range(depth + 1, len(parts) + 1):
            sub = parts[:i]
            self._mkdir(entry, sub)
            self._made.add(sub)
            self._dir_attrs.setdefault(sub, (None, None))

    def _mkdir(self, entry: Entry, parts: tuple[str, ...]) -> None:
        path = self._path(parts)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise unsafe(self.archive, entry.raw, "conflicts with another entry already extracted") from None
        except OSError as exc:
            raise self._write_error(entry, exc) from exc

    def directory(self, entry: Entry) -> None:
        self.ensure_dirs(entry, entry.parts)
        self._dir_attrs[entry.parts] = (entry.mode, entry.mtime)

    def file(self, entry: Entry, chunks: Iterator[bytes]) -> None:
        self.ensure_dirs(entry, entry.parts[:-1])
        path = self._path(entry.parts)
        try:
            fd = os.open(path, _OPEN_FLAGS, 0o600)
        except OSError as exc:
            raise self._write_error(entry, exc) from exc
        try:
            with os.fdopen(fd, "wb", closefd=True) as fh:
                self._copy(entry, chunks, fh)
                if os.name != "nt":
                    os.fchmod(fh.fileno(), file_mode(entry.mode))
        except OSError as exc:  # write, chmod or close (disk full...)
            raise self._write_error(entry, exc) from exc
        set_mtime(path, entry.mtime)

    def _copy(self, entry: Entry, chunks: Iterator[bytes], fh) -> None:
        written = 0
        for chunk in chunks:
            written += len(chunk)
            self.done += len(chunk)
            if written > entry.size or self.done > self.limit:
                raise unsafe(
                    self.archive, entry.raw,
                    "makes the package expand beyond the size limit (this looks like a decompression bomb)",
                )
            fh.write(chunk)
            self.report()
            self.check_cancel()

    def symlink(self, entry: Entry) -> None:
        self.ensure_dirs(entry, entry.parts[:-1])
        path = self._path(entry.parts)
        target = (entry.target or "").replace("\\", "/")
        try:
            os.symlink(target, path)
        except OSError as exc:
            raise self._write_error(entry, exc) from exc
        set_mtime(path, entry.mtime, link=True)

    def finish(self) -> None:
        """Folder modes and times last (children change a folder's mtime), deepest first;
        then the final progress report."""
        for parts in sorted(self._dir_attrs, key=len, reverse=True):
            mode, mtime = self._dir_attrs[parts]
            path = self._path(parts)
            try:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    continue
                if os.name != "nt":
                    os.chmod(path, dir_mode(mode))
            except OSError:
                pass
            set_mtime(path, mtime)
        self.report()


def set_mtime(path: str, mtime: float | None, *, link: bool = False) -> None:
    """Best effort, never following a link (a link's own time only where the OS can)."""
    if mtime is None:
        return
    try:
        if os.utime in os.supports_follow_symlinks:
            os.utime(path, (mtime, mtime), follow_symlinks=False)
        elif not link:
            os.utime(path, (mtime, mtime))
    except (OSError, OverflowError, ValueError, NotImplementedError):
        pass


def clear(staging: Path) -> None:
    """Remove everything inside ``staging`` (never following links)."""
    try:
        entries = list(os.scandir(staging))
    except OSError:
        return
    for item in entries:
        try:
            if item.is_dir(follow_symlinks=False):
                shutil.rmtree(item.path, ignore_errors=True)
            else:
                os.unlink(item.path)
        except OSError:
            pass


@contextlib.contextmanager
def emptied_on_failure(staging: Path) -> Iterator[None]:
    """Any refusal, error or cancellation inside the block empties ``staging``: nothing of a
    refused package ever leaves it."""
    try:
        yield
    except BaseException:
        clear(staging)
        raise


def check_staging(staging: Path) -> None:
    try:
        st = os.lstat(staging)
    except OSError as exc:
        raise ArchiveError(f"The staging folder {staging} does not exist; create it before extracting.") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise ArchiveError(f"The staging folder {staging} is not a folder.")
    with os.scandir(staging) as it:
        if any(True for _ in it):
            raise ArchiveError(f"The staging folder {staging} is not empty; extraction needs an empty folder.")


def content_root(staging: Path, root: tuple[str, ...], extension_name: str) -> Path:
    """``staging/<root>``, which must be a folder extracted from the package."""
    result = staging.joinpath(*root)
    try:
        is_dir = stat.S_ISDIR(os.lstat(result).st_mode)
    except OSError:
        is_dir = False
    if not is_dir:
        raise ArchiveError(f"Corrupted {extension_name} extension package: folder '{'/'.join(root)}' is missing.")
    return result


def tar_filter_check(archive: Path, member: tarfile.TarInfo, staging: Path) -> None:
    """Python's own ``data`` extraction filter, when available, as a second opinion."""
    data_filter = getattr(tarfile, "data_filter", None)
    if data_filter is None:
        return
    try:
        data_filter(member, os.fspath(staging))
    except tarfile.FilterError as exc:
        raise unsafe(archive, member.name, f"is refused by Python's tar data filter ({exc})") from exc
