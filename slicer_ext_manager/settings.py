"""Slicer's INI settings files (``Slicer.ini``, ``Slicer-<rev>.ini``), read and written
through QtCore's ``QSettings(path, IniFormat)`` — the only exact writer of Qt's INI syntax.

Rules kept here so no other module needs to know them (reference §2.4–2.6):

* lists are read with ``type=list`` (a one-item list is stored as a plain string,
  an empty one as ``@Invalid()``);
* every access opens a fresh ``QSettings`` as Slicer does, so edits by a running
  Slicer are seen;
* a file is checked before Qt opens it (``initext.py``): a regular file of a sane
  size that Qt would read back exactly; a file that fails is never written;
* writes go through :meth:`SettingsFile.edit`: our inter-process lock around the
  read-modify-write; the changes are journaled (``inieditor.py``) and applied, under
  Qt's own lock (the one a running Slicer takes to save), to a copy of the file as it
  is at that moment, written by Qt, given Qt 5's escapes of non-ASCII text (official
  Slicer builds use Qt 5, which reads raw UTF-8 as Latin-1) and renamed over the file;
* keys the manager does not own are never touched;
* paths inside Slicer home are stored relative to it (``ctk::internalPathFromAbsolute``).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, NoReturn

from . import qtbinding
from .errors import SettingsError
from .fileutil import PROBE_PREFIX, fsync_folder, os_error_text, remove_dead_probes, remove_files, why_not_writable
from .inieditor import SettingsEditor, SettingsReader
from .iniread import IniSnapshot, parse_ini
from .initext import FileProblem, qt5_escape_ini_text, read_settings_bytes, text_problem
from .qtbinding import LockError, SettingsStatus

__all__ = ["LOCK_TIMEOUT_MS", "STALE_LOCK_MS", "SettingsEditor", "SettingsFile", "SettingsReader", "clean_path",
           "posix", "qt5_escape_ini_text", "remove_temporary_copies", "to_home_absolute", "to_home_relative"]

#: How long to wait for another process holding the settings lock (ms).
LOCK_TIMEOUT_MS = 30_000
#: A lock older than this whose owner is gone is taken over (ms).
STALE_LOCK_MS = 60_000


# -- path relativization (ctkUtils) ---------------------------------------------------------


def clean_path(path: str) -> str:
    """``QDir::cleanPath(QDir::fromNativeSeparators(path))``."""
    if not path:
        return ""
    text = path.replace("\\", "/")
    prefix = ""
    if re.match(r"^[A-Za-z]:/", text):
        prefix, text = text[:2], text[2:]
    elif text.startswith("//"):
        prefix, text = "/", text[1:]
    absolute = text.startswith("/")
    parts: list[str] = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
                continue
            if absolute:
                continue
        parts.append(part)
    joined = "/".join(parts)
    if absolute:
        joined = "/" + joined
    return prefix + (joined or ("" if prefix else "."))


def _is_absolute(path: str) -> bool:
    return path.startswith("/") or path.startswith("\\") or bool(re.match(r"^[A-Za-z]:[/\\]", path))


def _same_prefix(path: str, home: str) -> bool:
    if sys.platform.startswith("win") or re.match(r"^[A-Za-z]:/", home):
        return path.lower() == home.lower() or path.lower().startswith(home.lower().rstrip("/") + "/")
    return path == home or path.startswith(home.rstrip("/") + "/")


def to_home_relative(path: str | os.PathLike[str], home: str | os.PathLike[str] | None) -> str:
    """``toSlicerHomeRelativePath``: strip Slicer home from an absolute path inside it."""
    text = os.fspath(path)
    if not text or not _is_absolute(text):
        return text
    cleaned = clean_path(text)
    if not home:
        return cleaned
    home_clean = clean_path(os.fspath(home))
    if _same_prefix(cleaned, home_clean):
        rest = cleaned[len(home_clean):].lstrip("/")
        return rest or "."
    return cleaned


def to_home_absolute(path: str | os.PathLike[str], home: str | os.PathLike[str] | None) -> str:
    """``toSlicerHomeAbsolutePath``: make a home-relative path absolute again."""
    text = os.fspath(path)
    if not text or _is_absolute(text) or not home:
        return clean_path(text) if text else text
    return clean_path(f"{clean_path(os.fspath(home))}/{text}")


# -- the settings file ---------------------------------------------------------------------------

#: Our temporary copies (``.<file>.sem-<8 hex>.tmp``) and what Qt makes beside one while saving it.
_TEMP_MARK = ".sem-"


@functools.lru_cache(maxsize=16)
def _problem_of(raw: bytes) -> str | None:
    return text_problem(raw)


@functools.lru_cache(maxsize=16)
def _parsed(raw: bytes) -> dict[str, tuple[str, Any]]:
    # Shared read-only: IniSnapshot copies the lists and maps it returns.
    return parse_ini(raw)


class SettingsFile:
    """One Slicer INI file, addressed by path.

    ``qsettings``: a settings object the host already holds for this file (inside Slicer,
    ``slicer.app.userSettings()`` / ``revisionUserSettings()``); it is used for every read
    and write instead of a fresh one, so the host's in-process view never goes stale.
    """

    def __init__(self, path: str | os.PathLike[str], *, slicer_home: str | os.PathLike[str] | None = None,
                 qsettings: Any = None):
        self.path = Path(path)
        self.slicer_home = Path(slicer_home) if slicer_home else None
        self.host_settings = qsettings

    def __repr__(self) -> str:
        return f"SettingsFile({str(self.path)!r})"

    def exists(self) -> bool:
        return self.path.is_file()

    def _open(self) -> Any:
        if self.host_settings is not None:
            return self.host_settings
        return qtbinding.open_ini(str(self.path))

    def _invalid(self, problem: str, writing: bool) -> SettingsError:
        consequence = ", so it was not changed;" if writing else ";"
        return SettingsError(
            f"The settings file {self.path} is not a valid INI file ({problem}){consequence} "
            "correct it in a text editor (or restore a backup) and try again."
        )

    def checked_bytes(self, *, writing: bool = False) -> bytes | None:
        """The file's bytes after the checks Qt does not make (None when it does not exist):
        a regular file, of a sane size, that Qt would read back exactly. Else one sentence."""
        try:
            raw = read_settings_bytes(self.path)
        except FileProblem as exc:
            return self._unusable(str(exc))
        problem = _problem_of(raw) if raw else None
        if problem:
            raise self._invalid(problem, writing)
        return raw

    def _unusable(self, problem: str) -> NoReturn:
        raise SettingsError(
            f"The settings file {self.path} cannot be used: {problem}; point --settings-dir "
            "(or --user-settings/--revision-settings) at Slicer's real settings file."
        )

    def read(self) -> SettingsReader:
        """A reader over the file as it is now. Outside Slicer: the file's bytes parsed as Qt
        parses them (``iniread.py``: no Qt binding loaded; a value only Qt decodes is read by a
        fresh ``QSettings``). Inside Slicer: the host's settings object, or a fresh ``QSettings``,
        which also sees values Slicer has set in this process but not saved yet."""
        if self.host_settings is None:
            raw = self.checked_bytes()
            if not qtbinding.running_in_pythonqt():
                path = str(self.path)
                return SettingsReader(IniSnapshot(_parsed(raw or b""), lambda: qtbinding.open_ini(path)), self.path)
        qs = self._open()
        if qtbinding.status(qs) == SettingsStatus.FORMAT_ERROR:
            raise self._invalid("Qt cannot parse it", False)
        return SettingsReader(qs, self.path)

    # Convenience one-shot reads.
    def string(self, key: str, default: str = "") -> str:
        return self.read().string(key, default)

    def string_list(self, key: str) -> list[str]:
        return self.read().string_list(key)

    def boolean(self, key: str, default: bool = False) -> bool:
        return self.read().boolean(key, default)

    def integer(self, key: str, default: int = 0) -> int:
        return self.read().integer(key, default)

    def variant_map(self, key: str) -> dict[str, Any]:
        return self.read().variant_map(key)

    def array(self, name: str, field: str = "path") -> list[str]:
        return self.read().array(name, field)

    def child_keys(self, group: str) -> list[str]:
        return self.read().child_keys(group)

    # Paths
    def to_relative(self, path: str | os.PathLike[str]) -> str:
        return to_home_relative(path, self.slicer_home)

    def to_absolute(self, path: str | os.PathLike[str]) -> str:
        return to_home_absolute(path, self.slicer_home)

    def check_writable(self) -> None:
        """Slicer's permission check, as a sentence."""
        folder = self.path.parent
        if self.path.exists():
            if not os.access(self.path, os.R_OK | os.W_OK):
                raise SettingsError(
                    f"The settings file {self.path} is not readable and writable; "
                    "ask your administrator for write access or use --settings-dir with a writable copy."
                )
        elif folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
            raise SettingsError(
                f"The settings file {self.path} cannot be created because {folder} is not writable."
            )

    def check_editable(self) -> None:
        """Everything :meth:`edit` needs, checked without writing: the file valid, the folder
        writable (with room for a new file) and our lock free. One sentence otherwise."""
        self.check_writable()
        self.checked_bytes(writing=True)
        with self._locked():
            problem = why_not_writable(self.path.parent)
            if problem:
                raise self._not_saved(problem)

    def _not_saved(self, problem: str) -> SettingsError:
        return SettingsError(
            f"The settings file {self.path} could not be saved ({problem}); check that the disk is not full "
            "and that the folder is writable, then try again."
        )

    def has_leftovers(self) -> bool:
        """Whether an interrupted save left temporary files beside this file (one listing)."""
        prefix = f".{self.path.name}{_TEMP_MARK}"
        try:
            return any(n.startswith(prefix) or n.startswith(PROBE_PREFIX) for n in os.listdir(self.path.parent))
        except OSError:
            return False

    def remove_leftovers(self) -> list[Path]:
        """Remove what an interrupted save left, if no save is running now (never waits)."""
        if self.host_settings is not None or not self.has_leftovers():
            return []
        lock = qtbinding.FileLock(str(self.path) + ".slicer-ext-manager.lock", STALE_LOCK_MS)
        if not lock.try_lock(0):
            return []
        try:
            removed = remove_temporary_copies(self.path)
            return removed + [Path(p) for p in remove_dead_probes(self.path.parent)]
        finally:
            lock.unlock()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Our own lock around a read-modify-write (between processes of this tool)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._not_saved(f"its folder cannot be created: {os_error_text(exc)}") from exc
        lock_path = str(self.path) + ".slicer-ext-manager.lock"
        lock = qtbinding.FileLock(lock_path, STALE_LOCK_MS)
        started = time.monotonic()
        if not lock.poll(LOCK_TIMEOUT_MS):
            raise self._lock_failure(lock, lock_path, started, "Another slicer-ext-manager is writing")
        try:
            yield
        finally:
            lock.unlock()

    def _lock_failure(self, lock: qtbinding.FileLock, lock_path: str, started: float, who: str) -> SettingsError:
        problem = why_not_writable(self.path.parent)
        if problem or lock.error() != LockError.LOCK_FAILED:
            return self._not_saved(f"the lock file {lock_path} cannot be created: {problem or 'unknown error'}")
        waited = time.monotonic() - started
        shown = f"{waited:.0f}" if waited >= 10 else f"{waited:.1f}"
        return SettingsError(f"{who} {self.path} and did not finish within {shown} s; "
                             "close it (or wait for it) and try again.")

    @contextmanager
    def edit(self) -> Iterator[SettingsEditor]:
        """Read-modify-write under an inter-process lock; saved when the block ends without error.

        If the block raises, nothing is written. A file that fails the checks of
        :meth:`checked_bytes` is never written.
        """
        self.check_writable()
        with self._locked():
            remove_temporary_copies(self.path)
            remove_dead_probes(self.path.parent)
            self.checked_bytes(writing=True)
            editor = SettingsEditor(self._open(), self.path)
            yield editor
            if not editor.changed:
                return
            if self.host_settings is not None:
                self._save_host(editor)
            else:
                self._save(editor)

    def _save_host(self, editor: SettingsEditor) -> None:
        """Inside Slicer: the host's own settings object, refreshed, then changed and saved."""
        qs = self.host_settings
        qs.sync()
        if editor.apply(qs):
            qs.sync()
        if qtbinding.status(qs) != SettingsStatus.OK:
            raise self._not_saved(qtbinding.status(qs).value)

    def _save(self, editor: SettingsEditor) -> None:
        """Under Qt's own lock (the one a running Slicer takes to save): copy the file as it is
        now, apply the changes to that copy with Qt's writer, then rename it over the file."""
        qt_lock_path = str(self.path) + ".lock"
        qt_lock = qtbinding.FileLock(qt_lock_path, STALE_LOCK_MS)
        started = time.monotonic()
        if not qt_lock.poll(LOCK_TIMEOUT_MS):
            raise self._lock_failure(qt_lock, qt_lock_path, started, "Slicer (or another program) is saving")
        copy = self.path.with_name(f".{self.path.name}{_TEMP_MARK}{os.urandom(4).hex()}.tmp")
        try:
            raw = self.checked_bytes(writing=True)  # again: Slicer may have saved since the edit began
            try:
                if self._write_copy(copy, raw or b"", editor):
                    os.replace(copy, self.path)
                    fsync_folder(self.path.parent)
            except OSError as exc:
                raise self._not_saved(os_error_text(exc)) from exc
        finally:
            qt_lock.unlock()
            remove_temporary_copies(self.path)

    def _write_copy(self, copy: Path, raw: bytes, editor: SettingsEditor) -> bool:
        """Write the changed file to ``copy``; False when nothing changed."""
        with open(copy, "wb") as fh:
            fh.write(raw)
        qs = qtbinding.open_ini(str(copy))
        if not editor.apply(qs):
            return False
        qs.sync()
        result = qtbinding.status(qs)
        del qs
        if result != SettingsStatus.OK:
            raise self._not_saved(f"Qt reported an {result.value}")
        data = copy.read_bytes()
        if not qtbinding.binding().writes_qt5_escapes and not data.isascii():
            text = data.decode("utf-8", errors="surrogateescape")
            data = qt5_escape_ini_text(text).encode("utf-8", errors="surrogateescape")
        if data == raw:
            return False
        with open(copy, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _copy_mode(self.path, copy)
        return True


def _copy_mode(original: Path, copy: Path) -> None:
    try:
        os.chmod(copy, os.stat(original).st_mode & 0o7777)
    except OSError:
        pass


def remove_temporary_copies(path: Path) -> list[Path]:
    """Remove what an interrupted save of ``path`` left (our copies, and Qt's files beside
    them). Only called with our lock on ``path`` held, so no save is running."""
    prefix = f".{path.name}{_TEMP_MARK}"
    return [Path(p) for p in remove_files(path.parent, lambda e: e.name.startswith(prefix) and ".tmp" in e.name)]


def posix(path: str | os.PathLike[str]) -> str:
    """Forward-slash form of a path, as Slicer stores paths."""
    return str(PurePosixPath(Path(path).as_posix()))
