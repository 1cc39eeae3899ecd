"""Slicer's INI settings files (``Slicer.ini``, ``Slicer-<rev>.ini``), read and written
through QtCore's ``QSettings(path, IniFormat)`` — the only exact writer of Qt's INI syntax.

Rules kept here so no other module needs to know them (reference §2.4–2.6):

* lists are read with ``type=list`` (a one-item list is stored as a plain string,
  an empty one as ``@Invalid()``);
* every access opens a fresh ``QSettings`` as Slicer does, so edits by a running
  Slicer are seen;
* writes go through :meth:`SettingsFile.edit`: an inter-process lock around the
  read-modify-write, Qt's own atomic save (temp file + rename) and merge of keys
  changed by others, a status check, and finally Qt 5 escaping of non-ASCII text
  (official Slicer builds use Qt 5, which reads raw UTF-8 as Latin-1);
* keys the manager does not own are never touched;
* paths inside Slicer home are stored relative to it (``ctk::internalPathFromAbsolute``).
"""

from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, Mapping

from . import qtbinding
from .errors import SettingsError
from .fileutil import atomic_write_bytes
from .qtbinding import SettingsStatus

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


# -- Qt 5 escaping ----------------------------------------------------------------------------

_HEX_DIGITS = set("0123456789abcdefABCDEF")


def _qt5_escape_value(value: str) -> str:
    """Rewrite raw non-ASCII characters of an INI value the way Qt 5 writes them.

    Qt 5 (no INI codec, as in Slicer) writes every UTF-16 code unit >= 0x7F as
    ``\\x<hex>`` and then escapes following hex digits too, so they are not read as
    part of the escape. Qt 6 writes UTF-8 instead; it reads both forms.
    """
    out: list[str] = []
    escape_next_hex = False
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            # An existing escape written by Qt: copy it whole.
            nxt = value[i + 1]
            if nxt == "x":
                j = i + 2
                while j < len(value) and value[j] in _HEX_DIGITS:
                    j += 1
                out.append(value[i:j])
                i = j
                escape_next_hex = True
                continue
            out.append(value[i : i + 2])
            escape_next_hex = nxt == "0"
            i += 2
            continue
        if escape_next_hex and ch in _HEX_DIGITS:
            out.append(f"\\x{ord(ch):x}")
            i += 1
            continue
        escape_next_hex = False
        code = ord(ch)
        if code >= 0x7F:
            units = [code] if code <= 0xFFFF else list(divmod(code - 0x10000, 0x400))
            if code > 0xFFFF:
                units = [0xD800 + units[0], 0xDC00 + units[1]]
            out.extend(f"\\x{u:x}" for u in units)
            escape_next_hex = True
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def qt5_escape_ini_text(text: str) -> str:
    """Apply :func:`_qt5_escape_value` to the value of every ``key=value`` line."""
    lines = []
    for line in text.split("\n"):
        if line.startswith("[") or "=" not in line or line.isascii():
            lines.append(line)
            continue
        key, value = line.split("=", 1)
        lines.append(f"{key}={_qt5_escape_value(value)}")
    return "\n".join(lines)


# -- the settings file ---------------------------------------------------------------------------


def _has_format_error(path: Path) -> bool:
    """Qt's INI parser flags a section header without its closing bracket as a
    FormatError, yet would still save over such a file; we check it ourselves
    (Qt's per-process cache hides the status from later ``QSettings`` objects)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return False
    return any(line.lstrip().startswith("[") and "]" not in line for line in text.splitlines())


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


_REMOVED = object()


class SettingsReader:
    """Typed read access to one opened ``QSettings``."""

    def __init__(self, qsettings: Any):
        self.qsettings = qsettings

    def _raw(self, key: str) -> Any:
        return qtbinding.read_value(self.qsettings, key)

    def contains(self, key: str) -> bool:
        return self._raw(key) is not None or bool(self.qsettings.contains(key))

    def value(self, key: str, default: Any = None) -> Any:
        value = self._raw(key)
        return default if value is None else value

    def string(self, key: str, default: str = "") -> str:
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, (list, tuple)):
            # A string with a comma that was written unquoted reads back as a list.
            return ", ".join(str(v) for v in value)
        return str(value)

    def string_list(self, key: str) -> list[str]:
        return _as_list(self._raw(key))

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() not in ("", "0", "false")

    def integer(self, key: str, default: int = 0) -> int:
        value = self._raw(key)
        try:
            return int(str(value).strip()) if value is not None else default
        except ValueError:
            return default

    def variant_map(self, key: str) -> dict[str, Any]:
        value = self._raw(key)
        return dict(value) if isinstance(value, Mapping) else {}

    def array(self, name: str, field: str = "path") -> list[str]:
        size = self.qsettings.beginReadArray(name)
        try:
            items = []
            for i in range(size):
                self.qsettings.setArrayIndex(i)
                value = qtbinding.read_value(self.qsettings, field)
                if value is not None:
                    items.append(", ".join(value) if isinstance(value, list) else str(value))
            return items
        finally:
            self.qsettings.endArray()

    def child_keys(self, group: str) -> list[str]:
        self.qsettings.beginGroup(group)
        try:
            return qtbinding.child_keys(self.qsettings)
        finally:
            self.qsettings.endGroup()


class SettingsEditor(SettingsReader):
    """Buffered read/write access inside :meth:`SettingsFile.edit`.

    Changes are kept in a journal and applied to ``QSettings`` only when the edit
    block succeeds: Qt shares one in-memory copy of a file per process and flushes
    it on destruction, so touching it before we know the edit is complete could
    save half of it.
    """

    def __init__(self, qsettings: Any):
        super().__init__(qsettings)
        self._values: dict[str, Any] = {}
        self._arrays: dict[tuple[str, str], list[str]] = {}
        self._journal: list[tuple[str, tuple[Any, ...]]] = []

    def _raw(self, key: str) -> Any:
        if key in self._values:
            value = self._values[key]
            return None if value is _REMOVED else value
        return super()._raw(key)

    def contains(self, key: str) -> bool:
        if key in self._values:
            return self._values[key] is not _REMOVED
        return super().contains(key)

    def array(self, name: str, field: str = "path") -> list[str]:
        if (name, field) in self._arrays:
            return list(self._arrays[(name, field)])
        return super().array(name, field)

    def child_keys(self, group: str) -> list[str]:
        prefix = group.rstrip("/") + "/"
        keys = super().child_keys(group)
        for key, value in self._values.items():
            if key.startswith(prefix) and "/" not in key[len(prefix):]:
                child = key[len(prefix):]
                if value is _REMOVED and child in keys:
                    keys.remove(child)
                elif value is not _REMOVED and child not in keys:
                    keys.append(child)
        return keys

    def set_value(self, key: str, value: Any) -> None:
        self._values[key] = value
        self._journal.append(("set", (key, value)))

    def set_string_list(self, key: str, values: list[str] | tuple[str, ...]) -> None:
        # Written like a C++ QStringList (one item: plain string; none: @Invalid()).
        self.set_value(key, [str(v) for v in values])

    def set_variant_map(self, key: str, mapping: Mapping[str, Any]) -> None:
        self.set_value(key, dict(mapping))

    def set_array(self, name: str, values: list[str], field: str = "path") -> None:
        """Replace a launcher array; stale entries are removed first, as Slicer does."""
        self._arrays[(name, field)] = list(values)
        self._journal.append(("array", (name, list(values), field)))

    def remove(self, key: str) -> None:
        self._values[key] = _REMOVED
        self._journal.append(("remove", (key,)))

    @property
    def changed(self) -> bool:
        return bool(self._journal)

    def apply(self) -> None:
        """Write the journal into ``QSettings`` (called by :meth:`SettingsFile.edit`)."""
        qs = self.qsettings
        for op, params in self._journal:
            if op == "set":
                qtbinding.write_value(qs, *params)
            elif op == "remove":
                qs.remove(params[0])
            else:
                name, values, field = params
                qs.remove(name)
                qs.beginWriteArray(name, len(values))
                for i, value in enumerate(values):
                    qs.setArrayIndex(i)
                    qtbinding.write_value(qs, field, value)
                qs.endArray()


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

    def read(self) -> SettingsReader:
        """A reader over the file as it is now (a fresh ``QSettings``)."""
        qs = self._open()
        if qtbinding.status(qs) == SettingsStatus.FORMAT_ERROR or _has_format_error(self.path):
            raise SettingsError(
                f"The settings file {self.path} is not a valid INI file; fix or remove it and try again."
            )
        return SettingsReader(qs)

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

    def _invalid(self) -> SettingsError:
        return SettingsError(
            f"The settings file {self.path} is not a valid INI file, so it was not changed; "
            "fix or remove it and try again."
        )

    @contextmanager
    def edit(self) -> Iterator[SettingsEditor]:
        """Read-modify-write under an inter-process lock; saved when the block ends without error.

        If the block raises, nothing is written.
        """
        self.check_writable()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = qtbinding.FileLock(str(self.path) + ".slicer-ext-manager.lock", STALE_LOCK_MS)
        if not lock.try_lock(LOCK_TIMEOUT_MS):
            raise SettingsError(
                f"Another program is writing {self.path} and did not finish within "
                f"{LOCK_TIMEOUT_MS // 1000} s; close it and try again."
            )
        try:
            qs = self._open()
            if qtbinding.status(qs) == SettingsStatus.OK:
                qs.sync()  # pick up changes made by others since Qt's per-process cache was filled
            if qtbinding.status(qs) == SettingsStatus.FORMAT_ERROR or _has_format_error(self.path):
                raise self._invalid()
            editor = SettingsEditor(qs)
            yield editor
            if not editor.changed:
                return
            editor.apply()
            qs.sync()
            result = qtbinding.status(qs)
            if result == SettingsStatus.FORMAT_ERROR:
                raise self._invalid()  # Qt refuses to save over a file it could not parse: say so
            if result != SettingsStatus.OK:
                raise SettingsError(
                    f"Could not save {self.path} ({result.value}); check that the disk is not full "
                    "and the file is writable."
                )
            del editor, qs
            if not qtbinding.binding().writes_qt5_escapes:
                self._qt5_escape_in_place()
        finally:
            lock.unlock()

    def _qt5_escape_in_place(self) -> None:
        """Re-escape non-ASCII values for Qt 5 readers (Qt 6 writes UTF-8), under Qt's own
        lock so a running Slicer cannot interleave a write."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        if raw.isascii():
            return
        qt_lock = qtbinding.FileLock(str(self.path) + ".lock", STALE_LOCK_MS)
        if not qt_lock.try_lock(LOCK_TIMEOUT_MS):
            return  # the file stays valid UTF-8 for Qt 6; a Qt 5 reader may misread non-ASCII only
        try:
            raw = self.path.read_bytes()
            text = raw.decode("utf-8", errors="surrogateescape")
            escaped = qt5_escape_ini_text(text)
            if escaped != text:
                atomic_write_bytes(self.path, escaped.encode("utf-8", errors="surrogateescape"))
        finally:
            qt_lock.unlock()


def posix(path: str | os.PathLike[str]) -> str:
    """Forward-slash form of a path, as Slicer stores paths."""
    return str(PurePosixPath(Path(path).as_posix()))
