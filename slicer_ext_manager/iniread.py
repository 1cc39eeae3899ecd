"""Reading Slicer's INI settings files without Qt: what ``QSettings(path, IniFormat).value()``
returns, computed in Python, so a command that only reads settings (``list``, ``restore
--check``, the startup check with nothing to restore) never loads a Qt binding (≈ 50 ms of
start-up with PySide6).

Writing stays with Qt (``settings.py``): only ``QSettings`` writes its syntax exactly. This
module follows Qt's reader (``qsettings.cpp``: ``readIniFile``, ``readIniSection``,
``iniUnescapedKey``, ``iniUnescapedStringList``, ``stringToVariant``) on text that
``initext.text_problem`` has already accepted: UTF-8 text whose logical lines are all
``[section]`` or ``key=value`` (the same line grammar, from ``initext.logical_lines``).

* a key's ``\\`` is ``/``, ``%XX`` and ``%UXXXX`` are characters; ``[General]`` is the
  top level, ``[%General]`` a group named ``General``; a later duplicate key wins;
* a value is unquoted and unescaped (``\\n``, ``\\x263a``, octal, a backslash-newline
  continuation); an unquoted ``,`` makes it a string list;
* ``@Invalid()`` is no value, ``@ByteArray(...)`` bytes, ``@String(...)`` and ``@@...``
  strings, and ``@Variant(...)`` is decoded from Qt's data stream for the types Slicer
  writes (maps, lists, strings, numbers, booleans). Any other ``@Variant``/``@DateTime``/
  ``@Rect``… value is read by Qt itself (the caller's fallback), so it is never wrong.

Raw non-ASCII text is read as UTF-8, as Qt 6 reads it (Qt 5 and Slicer write ``\\x``
escapes, which both read alike). Key lookups are case-insensitive on Windows and macOS,
as Qt's. Standard library only; Python 3.9.
"""

from __future__ import annotations

import re
import struct
import sys
from typing import Any, Callable, Optional

from .initext import logical_lines

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            '"': '"', "?": "?", "'": "'", "\\": "\\"}
_HEX = "0123456789abcdefABCDEF"
_SURROGATE = re.compile("[\ud800-\udfff]")
_CASE_INSENSITIVE = sys.platform.startswith(("win", "darwin"))


class NeedsQt(Exception):
    """A value this module does not decode (an uncommon ``@Variant`` type): Qt reads it."""


class _QtValue:
    """Placeholder for a value only Qt can decode."""

    def __repr__(self) -> str:
        return "<value read by Qt>"


QT_VALUE = _QtValue()


# -- keys ------------------------------------------------------------------------------------------


def unescape_key(text: str) -> str:
    """``QSettingsPrivate::iniUnescapedKey``."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            out.append("/")
            i += 1
            continue
        if ch != "%" or i == n - 1:
            out.append(ch)
            i += 1
            continue
        first, digits = (i + 2, 4) if text[i + 1] == "U" else (i + 1, 2)
        code = text[first:first + digits]
        if first + digits > n or not code or any(c not in _HEX for c in code):
            out.append("%")
            i += 1
            continue
        out.append(chr(int(code, 16)))
        i = first + digits
    return "".join(out)


def normalized_key(key: str) -> str:
    """``QSettingsPrivate::normalizedKey``: no leading, trailing or doubled slashes."""
    return "/".join(part for part in key.replace("\\", "/").split("/") if part)


def _lookup(key: str) -> str:
    key = normalized_key(key)
    return key.lower() if _CASE_INSENSITIVE else key


# -- values ----------------------------------------------------------------------------------------


def _chop_trailing_spaces(chars: list[str], limit: int) -> None:
    while len(chars) > limit and chars[-1] in " \t":
        chars.pop()


def _numeric_escape(text: str, i: int, base: int, first: int) -> tuple[str, int]:
    """A ``\\x`` (hex) or octal escape from ``text[i]`` on: (its character, next index)."""
    digits = _HEX if base == 16 else "01234567"
    value = first
    while i < len(text) and text[i] in digits:
        value = value * base + int(text[i], base)
        i += 1
    # QChar(int) keeps the low 16 bits; a lone surrogate cannot be a str of its own in a file.
    return chr(value & 0xFFFF), i


def _escape(text: str, i: int, chars: list[str]) -> int:
    """The escape after a backslash at ``i - 1``; appends its character; returns the next index."""
    ch = text[i]
    i += 1
    if ch in _ESCAPES:
        chars.append(_ESCAPES[ch])
    elif ch == "x":
        if i < len(text) and text[i] in _HEX:
            decoded, i = _numeric_escape(text, i, 16, 0)
            chars.append(decoded)
    elif ch in "01234567":
        decoded, i = _numeric_escape(text, i, 8, int(ch))
        chars.append(decoded)
    elif ch in "\r\n":
        if i < len(text) and text[i] in "\r\n" and text[i] != ch:
            i += 1
    # any other escaped character is dropped, as Qt does
    return i


class _ValueScanner:
    """The state of :func:`unescape_value` (Qt's ``goto`` states as methods)."""

    def __init__(self, text: str):
        self.text, self.n = text, len(text)
        self.chars: list[str] = []
        self.items: Optional[list[str]] = None
        self.quoted = self.in_quotes = False
        self.chop_limit = 0

    def skip_spaces(self, i: int) -> int:
        while i < self.n and self.text[i] in " \t":
            i += 1
        self.chop_limit = len(self.chars)
        return i

    def quote(self, i: int) -> int:
        self.quoted, self.in_quotes = True, not self.in_quotes
        return i + 1 if self.in_quotes else self.skip_spaces(i + 1)

    def comma(self, i: int) -> int:
        if not self.quoted:
            _chop_trailing_spaces(self.chars, self.chop_limit)
        self.items = [] if self.items is None else self.items
        self.items.append("".join(self.chars))
        self.chars, self.quoted = [], False
        return self.skip_spaces(i + 1)

    def run(self) -> tuple[str, Optional[list[str]]]:
        text, n = self.text, self.n
        i = self.skip_spaces(0)
        while i < n:
            ch = text[i]
            if ch == "\\":
                if i + 1 >= n:  # a final backslash: Qt stops without chopping spaces
                    return self.result()
                i = _escape(text, i + 1, self.chars)
                self.chop_limit = len(self.chars)
            elif ch == '"':
                i = self.quote(i)
            elif ch == "," and not self.in_quotes:
                i = self.comma(i)
            else:
                j = i + 1
                while j < n and text[j] not in '\\",':
                    j += 1
                self.chars.extend(text[i:j])
                i = j
        if not self.quoted:
            _chop_trailing_spaces(self.chars, self.chop_limit)
        return self.result()

    def result(self) -> tuple[str, Optional[list[str]]]:
        last = "".join(self.chars)
        if self.items is None:
            return _utf16(last), None
        return _utf16(last), [_utf16(item) for item in [*self.items, last]]


def unescape_value(text: str) -> tuple[str, Optional[list[str]]]:
    """``QSettingsPrivate::iniUnescapedStringList``: (the string, or the list when an
    unquoted comma made one)."""
    return _ValueScanner(text).run()


def _utf16(text: str) -> str:
    """Qt 5 writes a character outside the BMP as two ``\\x`` escapes (a surrogate pair):
    joined into one character, as a QString gives it; a lone surrogate is dropped, as PySide6 does."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")


def string_to_variant(text: str) -> Any:
    """``QSettingsPrivate::stringToVariant`` for one string."""
    if text.startswith("@"):
        if text.endswith(")"):
            if text.startswith("@ByteArray("):
                return text[11:-1].encode("latin-1", errors="replace")
            if text.startswith("@String("):
                return text[8:-1]
            if text == "@Invalid()":
                return None
            if text.startswith("@Variant("):
                try:
                    return decode_variant(text[9:-1].encode("latin-1"))
                except (NeedsQt, UnicodeEncodeError, struct.error, ValueError, IndexError):
                    return QT_VALUE
            if text.startswith(("@DateTime(", "@Rect(", "@Size(", "@Point(")):
                return QT_VALUE
        if text.startswith("@@"):
            return text[1:]
    return text


def list_to_variant(items: list[str]) -> Any:
    """``QSettingsPrivate::stringListToVariantList``."""
    out = list(items)
    for i, item in enumerate(items):
        if item.startswith("@"):
            if item.startswith("@@"):
                out[i] = item[1:]
            else:
                return [string_to_variant(x) for x in items]
    return out


# -- QDataStream (version Qt_4_0, as QSettings writes @Variant) -------------------------------------------


class _Stream:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def string(self) -> Optional[str]:
        size = self.u32()
        if size == 0xFFFFFFFF:
            return None  # a null QString
        return self.take(size).decode("utf-16-be")

    def count(self) -> int:
        size = self.u32()
        if size > len(self.data):
            raise ValueError("absurd count")
        return size


def _read_variant(stream: _Stream) -> Any:
    type_id = stream.u32()
    scalar = _SCALARS.get(type_id)
    if scalar is not None:
        fmt, size = scalar
        return struct.unpack(fmt, stream.take(size))[0]
    if type_id == 10:  # QString
        return stream.string() or ""
    if type_id == 11:  # QStringList
        return [stream.string() or "" for _ in range(stream.count())]
    if type_id == 12:  # QByteArray
        size = stream.u32()
        return b"" if size == 0xFFFFFFFF else stream.take(size)
    if type_id == 9:  # QVariantList
        return [_read_variant(stream) for _ in range(stream.count())]
    if type_id in (8, 28):  # QVariantMap, QVariantHash
        entries = {}
        for _ in range(stream.count()):
            key = stream.string() or ""
            entries[key] = _read_variant(stream)
        return dict(sorted(entries.items()))
    raise NeedsQt(f"type {type_id}")


#: QMetaType ids of the scalar types: Bool, Int, UInt, LongLong, ULongLong, Double.
_SCALARS: dict[int, tuple[str, int]] = {1: (">?", 1), 2: (">i", 4), 3: (">I", 4), 4: (">q", 8), 5: (">Q", 8),
                                        6: (">d", 8)}


def decode_variant(data: bytes) -> Any:
    """A ``QVariant`` as ``QDataStream`` (Qt_4_0) wrote it inside ``@Variant(...)``."""
    stream = _Stream(data)
    value = _read_variant(stream)
    if stream.pos != len(data):
        raise ValueError("trailing bytes")
    return value


# -- the file --------------------------------------------------------------------------------------------


def _section_prefix(line: str) -> str:
    name = line[1:line.index("]")].strip()
    if name.lower() == "general":
        return ""
    if name.lower() == "%general":
        return name[1:] + "/"
    return unescape_key(name) + "/"


def parse_ini(raw: bytes) -> dict[str, tuple[str, Any]]:
    """``{lookup key: (key as written, value)}`` of INI bytes that ``initext.text_problem``
    accepts (a later duplicate wins; value as :func:`string_to_variant` gives it)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    entries: dict[str, tuple[str, Any]] = {}
    prefix = ""
    for line in logical_lines(raw.decode("utf-8")):
        text = line.text
        if text.startswith("["):
            prefix = _section_prefix(text)
            continue
        key = prefix + unescape_key(text[:line.equals].rstrip(" \t"))
        string, items = unescape_value(text[line.equals + 1:])
        value = list_to_variant(items) if items is not None else string_to_variant(string)
        entries[_lookup(key)] = (key, value)
    return entries


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


class IniSnapshot:
    """The read-only subset of ``QSettings`` the core uses (``value``, ``contains``, groups,
    arrays, ``childKeys``, ``allKeys``) over one parse of a file's bytes. ``qt_fallback``
    opens the same file with Qt for a value only Qt decodes."""

    def __init__(self, entries: dict[str, tuple[str, Any]], qt_fallback: Optional[Callable[[], Any]] = None):
        self._entries = entries
        self._fallback = qt_fallback
        self._qt: Any = None
        self._groups: list[str] = []

    # -- groups and arrays (QSettings::beginGroup, beginReadArray, setArrayIndex) --------------

    def _prefix(self) -> str:
        return "/".join(g for g in self._groups if g)

    def _full(self, key: str) -> str:
        prefix = self._prefix()
        return normalized_key(f"{prefix}/{key}" if prefix else key)

    def beginGroup(self, name: str) -> None:  # noqa: N802 (Qt's names)
        self._groups.append(normalized_key(name))

    def endGroup(self) -> None:  # noqa: N802
        if self._groups:
            self._groups.pop()

    def beginReadArray(self, name: str) -> int:  # noqa: N802
        self._groups.append(normalized_key(name))
        self._groups.append("")  # the index, set by setArrayIndex
        try:
            return int(str(self.value("size") or 0).strip())
        except ValueError:
            return 0

    def setArrayIndex(self, index: int) -> None:  # noqa: N802
        self._groups[-1] = str(index + 1)

    def endArray(self) -> None:  # noqa: N802
        del self._groups[-2:]

    # -- reads -----------------------------------------------------------------------------------

    def value(self, key: str, default: Any = None) -> Any:
        full = self._full(key)
        entry = self._entries.get(_lookup(full))
        if entry is None:
            return default
        value = entry[1]
        if value is QT_VALUE:
            return self._qt_value(full, default)
        return _copy(value)

    def _qt_value(self, full_key: str, default: Any) -> Any:
        if self._fallback is None:
            raise NeedsQt(full_key)
        if self._qt is None:
            self._qt = self._fallback()
        return self._qt.value(full_key, default)

    def contains(self, key: str) -> bool:
        return _lookup(self._full(key)) in self._entries

    def _under(self) -> list[str]:
        prefix = self._prefix()
        keys = sorted(original for original, _ in self._entries.values())
        if not prefix:
            return keys
        start = prefix + "/"
        fold = str.lower if _CASE_INSENSITIVE else (lambda s: s)
        return [k[len(start):] for k in keys if fold(k).startswith(fold(start))]

    def childKeys(self) -> list[str]:  # noqa: N802
        return [k for k in self._under() if "/" not in k]

    def allKeys(self) -> list[str]:  # noqa: N802
        return self._under()
