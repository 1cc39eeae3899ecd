"""The text of an INI settings file, before Qt sees it: the strict check of what Qt's
INI reader would silently drop, and Qt 5's escaping of non-ASCII characters.

Why a check of our own: Qt parses INI files leniently. A line without ``=``, a stray
byte that is not UTF-8 or a file saved as UTF-16 are read as nothing (or as keys like
``%00B%00o…``) with status ``NoError``, and the next save writes what Qt understood
over the file, so the user's settings are gone. A settings file is therefore checked
here, byte for byte, before any ``QSettings`` opens it for writing; a file that fails
is never written. Also refused: anything that is not a regular file (``/dev/zero``, a
FIFO: Qt would read forever) and files larger than :data:`MAX_SETTINGS_BYTES`.

The line grammar is Qt's own (``QConfFileSettingsPrivate::readIniLine``): a logical
line ends at a newline outside double quotes, a backslash escapes the next character
(also a newline: a continued line), ``;`` starts a comment, and every other logical
line is ``[section]`` or ``key=value`` with a non-empty key.

Standard library only.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from typing import Iterator

#: Largest settings file read (real ones are a few kilobytes; Slicer's own rarely pass 100 KB).
MAX_SETTINGS_BYTES = 16 * 1024 * 1024
#: Most entries accepted in a launcher array (``[PYTHONPATH] size=``) or a list value.
MAX_ARRAY_ENTRIES = 10_000

_SPECIAL = re.compile(r'[=\r\n\\";]')
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Line:
    """One logical line of an INI file: its first physical line number, text and first ``=``."""

    number: int
    text: str
    equals: int


def _skip_blank(text: str, i: int, number: int) -> tuple[int, int]:
    n = len(text)
    while i < n and text[i] in " \t\r\n\f\v":
        if text[i] == "\n" or (text[i] == "\r" and (i + 1 >= n or text[i + 1] != "\n")):
            number += 1
        i += 1
    return i, number


def _after_backslash(text: str, i: int) -> tuple[int, int]:
    """Index after the character a backslash at ``i - 1`` escapes, and the newlines it spans."""
    if i < len(text) and text[i] in "\r\n":
        return (i + 2, 1) if text[i:i + 2] in ("\r\n", "\n\r") else (i + 1, 1)
    return i + 1, 0


def _line_end(text: str, start: int) -> tuple[int, int, int]:
    """(end, first '=' offset or -1, newlines inside) of the logical line starting at ``start``."""
    in_quotes, equals, newlines, i, n = False, -1, 0, start, len(text)
    while i < n:
        match = _SPECIAL.search(text, i)
        if match is None:
            return n, equals, newlines
        i = match.start()
        ch = text[i]
        if ch == "\\":
            i, spanned = _after_backslash(text, i + 1)
            newlines += spanned
            continue
        if ch in "\r\n" or ch == ";":
            if not in_quotes:
                return i, equals, newlines  # ';' after content: the line ends, a comment follows
            newlines += ch != ";"
        elif ch == "=":
            if not in_quotes and equals < 0:  # Qt's first '=' outside double quotes
                equals = i - start
        else:
            in_quotes = not in_quotes
        i += 1
    return n, equals, newlines


def logical_lines(text: str) -> Iterator[Line]:
    """Qt's logical lines (comments skipped)."""
    i, number = 0, 1
    while True:
        i, number = _skip_blank(text, i, number)
        if i >= len(text):
            return
        if text[i] == ";":
            while i < len(text) and text[i] not in "\r\n":
                i += 1
            continue
        end, equals, newlines = _line_end(text, i)
        yield Line(number, text[i:end], equals)
        number += newlines
        i = end


def _line_problem(line: Line) -> str | None:
    shown = line.text.splitlines()[0][:60] if line.text else ""
    if line.text.startswith("["):
        close = line.text.find("]")
        if close < 0:
            return f"line {line.number} opens a section without closing it ('{shown}')"
        if line.text[close + 1:].strip():
            return f"line {line.number} has text after its section name ('{shown}')"
        return None
    if line.equals < 0:
        return f"line {line.number} is neither a [section] nor a key=value line ('{shown}')"
    if not line.text[: line.equals].strip():
        return f"line {line.number} has no key before '=' ('{shown}')"
    return None


def text_problem(raw: bytes) -> str | None:
    """Why Qt would not read ``raw`` back exactly (None when it would)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw:
        return "it is not UTF-8 text (it may have been saved as UTF-16)"
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        number = raw[: exc.start].count(b"\n") + 1
        return f"line {number} is not UTF-8 text"
    for line in logical_lines(text):
        problem = _line_problem(line)
        if problem:
            return problem
    return None


class FileProblem(Exception):
    """Internal: why a settings file cannot be used (the caller makes the sentence)."""


def read_settings_bytes(path: str | os.PathLike[str]) -> bytes | None:
    """The bytes of a settings file, or None when it does not exist. Raises
    :class:`FileProblem` for a non-regular file (never opened in a way that could block),
    a file over :data:`MAX_SETTINGS_BYTES`, or a read error."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FileProblem(f"it cannot be read ({exc.strerror or exc.__class__.__name__})") from exc
    if not stat.S_ISREG(info.st_mode):
        raise FileProblem("it is not a regular file (a device, a pipe or a folder)")
    if info.st_size > MAX_SETTINGS_BYTES:
        raise FileProblem(f"it is larger than {MAX_SETTINGS_BYTES // 2**20} MB, far more than any settings file")
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FileProblem(f"it cannot be read ({exc.strerror or exc.__class__.__name__})") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise FileProblem("it is not a regular file (a device, a pipe or a folder)")
        data = fh.read(MAX_SETTINGS_BYTES + 1)
    if len(data) > MAX_SETTINGS_BYTES:
        raise FileProblem(f"it is larger than {MAX_SETTINGS_BYTES // 2**20} MB, far more than any settings file")
    return data


# -- Qt 5 escaping ----------------------------------------------------------------------------

_HEX_DIGITS = set("0123456789abcdefABCDEF")


def _utf16_units(code: int) -> list[int]:
    if code <= 0xFFFF:
        return [code]
    high, low = divmod(code - 0x10000, 0x400)
    return [0xD800 + high, 0xDC00 + low]


def _copy_escape(value: str, i: int, out: list[str]) -> tuple[int, bool]:
    """Copy the escape Qt wrote at ``value[i]`` (a backslash); returns (next index, escape hex after)."""
    nxt = value[i + 1]
    if nxt == "x":
        j = i + 2
        while j < len(value) and value[j] in _HEX_DIGITS:
            j += 1
        out.append(value[i:j])
        return j, True
    out.append(value[i:i + 2])
    return i + 2, nxt == "0"


def qt5_escape_value(value: str) -> str:
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
            i, escape_next_hex = _copy_escape(value, i, out)
            continue
        if escape_next_hex and ch in _HEX_DIGITS:
            out.append(f"\\x{ord(ch):x}")
        elif ord(ch) >= 0x7F:
            out.extend(f"\\x{u:x}" for u in _utf16_units(ord(ch)))
            escape_next_hex = True
        else:
            escape_next_hex = False
            out.append(ch)
        i += 1
    return "".join(out)


def qt5_escape_ini_text(text: str) -> str:
    """Apply :func:`qt5_escape_value` to the value of every ``key=value`` line."""
    lines = []
    for line in text.split("\n"):
        if line.startswith("[") or "=" not in line or line.isascii():
            lines.append(line)
            continue
        key, value = line.split("=", 1)
        lines.append(f"{key}={qt5_escape_value(value)}")
    return "\n".join(lines)
