"""The sentences of refusals, and the internal read-failure signal."""

from __future__ import annotations

from pathlib import Path

from ..errors import ArchiveError, UnsafeArchiveError

#: Entry names longer than this (characters) are shortened in messages: a hostile name
#: may be megabytes long.
MAX_SHOWN = 300


class ReadFailure(Exception):
    """Internal: reading the archive failed (wrapped into :class:`ArchiveError`)."""


def show(name: str) -> str:
    """An entry name fit for a one-line message (control characters escaped, long names cut)."""
    if len(name) > MAX_SHOWN:
        name = name[: MAX_SHOWN - 60] + "…" + name[-59:]
    out = []
    for ch in name:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", errors="backslashreplace").decode("ascii", "replace"))
    return "".join(out).encode("utf-8", errors="backslashreplace").decode("utf-8")


def unsafe(archive: Path, entry: str | None, reason: str) -> UnsafeArchiveError:
    """``The package X was refused because [its entry 'e'] <reason>; it was not installed.``"""
    if entry is None:
        return UnsafeArchiveError(f"The package {archive.name} was refused because {reason}; it was not installed.")
    return UnsafeArchiveError(
        f"The package {archive.name} was refused because its entry '{show(entry)}' {reason}; it was not installed."
    )


def damaged(archive: Path, detail: object = None) -> ArchiveError:
    extra = f" ({detail})" if detail else ""
    return ArchiveError(f"The package {archive.name} is damaged or incomplete{extra}; download it again.")


def cannot_read(archive: Path, exc: OSError) -> ArchiveError:
    return ArchiveError(f"The package {archive.name} cannot be read: {exc.strerror or exc}.")


def changed(archive: Path) -> ArchiveError:
    return ArchiveError(f"The package {archive.name} changed since it was checked; download it again.")
