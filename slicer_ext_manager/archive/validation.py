"""The safety rules on entries: names, link targets and scope, and the rules across entries.

Every check costs time proportional to the entry's name: names too long or too deep
are refused before anything walks their components, and the folders already seen are
remembered so that an entry only checks the folders it introduces.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .limits import MAX_DEPTH, MAX_LINK_TARGET, MAX_NAME_BYTES, Limits
from .messages import show, unsafe

FILE, DIR, LINK = "file", "dir", "symlink"
_SPLIT_RE = re.compile(r"[\\/]+")
_COMPONENT_RE = re.compile(r"[^\\/]+")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


@dataclass
class Entry:
    """One archive member: its raw name, normalized components and what it is."""

    raw: str
    parts: tuple[str, ...]
    kind: str
    size: int = 0
    mode: int | None = None
    mtime: float | None = None
    target: str | None = None

    @property
    def member(self) -> str:
        """The normalized name (``/`` separators, no ``.`` components)."""
        return "/".join(self.parts)


def fold(parts: tuple[str, ...]) -> str:
    """The name as case-insensitive file systems (macOS, Windows) compare it."""
    return unicodedata.normalize("NFC", "/".join(parts)).casefold()


def _too_deep(raw: str) -> bool:
    """More than :data:`MAX_DEPTH` components, found without splitting the whole name."""
    depth = 0
    for match in _COMPONENT_RE.finditer(raw):
        if match.group() != ".":
            depth += 1
            if depth > MAX_DEPTH:
                return True
    return False


def _too_long(raw: str) -> bool:
    # A character is at least one UTF-8 byte: only short names need encoding.
    return len(raw) > MAX_NAME_BYTES or len(raw.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES


def _check_raw_name(archive: Path, raw: str) -> None:
    if not raw:
        raise unsafe(archive, raw, "has an empty name")
    if "\x00" in raw:
        raise unsafe(archive, raw, "contains a NUL character")
    if raw.startswith(("/", "\\")):
        raise unsafe(archive, raw, "has an absolute path")
    if _DRIVE_RE.match(raw):
        raise unsafe(archive, raw, "has an absolute path (drive letter)")
    if _too_deep(raw):
        raise unsafe(archive, raw, f"is nested more than {MAX_DEPTH} folders deep (the limit)")
    if _too_long(raw):
        raise unsafe(archive, raw, f"has a name longer than {MAX_NAME_BYTES} bytes (the limit)")


def split_name(archive: Path, raw: str) -> tuple[str, ...]:
    """Normalized components of an entry name, or :class:`UnsafeArchiveError`."""
    _check_raw_name(archive, raw)
    parts = tuple(p for p in _SPLIT_RE.split(raw) if p not in ("", "."))
    if ".." in parts:
        raise unsafe(archive, raw, "contains a '..' component (it would be written outside the install folder)")
    if os.name == "nt" and any(":" in p for p in parts):
        raise unsafe(archive, raw, "contains ':' (an alternate data stream or drive)")
    if not parts:
        raise unsafe(archive, raw, "has an empty name")
    return parts


def _check_target_text(archive: Path, entry: Entry, target: str) -> None:
    if not target:
        raise unsafe(archive, entry.raw, "is a symbolic link with an empty target")
    if "\x00" in target or len(target.encode("utf-8", "surrogateescape")) > MAX_LINK_TARGET:
        raise unsafe(archive, entry.raw, "is a symbolic link with an invalid target")
    if target.startswith(("/", "\\")) or _DRIVE_RE.match(target):
        raise unsafe(archive, entry.raw, f"is a symbolic link to an absolute path ('{show(target)}')")


def split_target(archive: Path, entry: Entry) -> tuple[int, tuple[str, ...]]:
    """``(number of leading '..', remaining components)`` of a link target."""
    target = entry.target or ""
    _check_target_text(archive, entry, target)
    parts = [p for p in _SPLIT_RE.split(target) if p not in ("", ".")]
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    rest = tuple(parts[ups:])
    if ".." in rest:
        raise unsafe(
            archive, entry.raw,
            f"is a symbolic link whose target '{show(target)}' has '..' after a folder name",
        )
    if os.name == "nt" and any(":" in p for p in rest):
        raise unsafe(archive, entry.raw, f"is a symbolic link to '{show(target)}' (contains ':')")
    return ups, rest


def check_link_scope(archive: Path, entry: Entry, root: tuple[str, ...]) -> None:
    """A link must not point above the top folder, nor above ``root`` when it lies in ``root``."""
    ups, _rest = split_target(archive, entry)
    link_dir = entry.parts[:-1]
    scope_len = len(root) if entry.parts[: len(root)] == root and len(entry.parts) > len(root) else 1
    if len(link_dir) - ups < scope_len:
        raise unsafe(
            archive, entry.raw,
            f"is a symbolic link pointing outside the package ('{show(entry.target or '')}')",
        )


class Validator:
    """Checks entries one by one; the set rules hold whatever the entry order.

    Invariants that keep :meth:`add` linear: the known folders are closed under "parent
    of", and no known folder is (case-insensitively) a link or (exactly) a non-folder.
    So an entry checks only the folders its name introduces, deepest known one excluded.
    """

    def __init__(self, archive: Path, limits: Limits, top: str | None = None,
                 root: tuple[str, ...] | None = None):
        self.archive = archive
        self.limits = limits
        self.top = top
        self.root = root
        self.count = 0
        self.expanded = 0
        #: The links seen, for a second scope check once the installed subtree is known.
        self.links: list[Entry] = []
        self._nondirs: set[tuple[str, ...]] = set()
        self._dirs: set[tuple[str, ...]] = set()
        self._links_cf: set[str] = set()
        self._dirs_cf: set[str] = set()
        self._nondirs_cf: set[str] = set()

    def add(self, entry: Entry) -> None:
        self._count_entry()
        self._check_top(entry)
        if entry.kind == LINK:
            check_link_scope(self.archive, entry, self.root or (self.top or "",))
            self.links.append(entry)
        new_dirs = self._new_ancestors(entry)
        folded = fold(entry.parts)
        if entry.kind == DIR:
            self._check_dir(entry, folded)
            if entry.parts not in self._dirs:
                new_dirs.append((entry.parts, folded))
        else:
            self._add_nondir(entry, folded)
        for parts, key in new_dirs:
            self._dirs.add(parts)
            self._dirs_cf.add(key)
        self._count_paths()
        if entry.kind == FILE:
            self._add_size(entry)

    def _count_entry(self) -> None:
        self.count += 1
        if self.count > self.limits.entries:
            raise unsafe(self.archive, None,
                         f"it has more than {self.limits.entries} entries (the limit for a package of its size)")

    def _count_paths(self) -> None:
        if len(self._dirs) + len(self._nondirs) > self.limits.entries:
            raise unsafe(
                self.archive, None,
                f"it would create more than {self.limits.entries} files, folders and links "
                "(the limit for a package of its size; this looks like an inode bomb)",
            )

    def _check_top(self, entry: Entry) -> None:
        parts = entry.parts
        if len(parts) == 1 and entry.kind != DIR:
            raise unsafe(
                self.archive, entry.raw,
                "is outside the package's top folder (all entries must be inside one top folder)",
            )
        if self.top is None:
            self.top = parts[0]
        elif parts[0] != self.top:
            raise unsafe(
                self.archive, entry.raw,
                f"is not inside the package's top folder '{show(self.top)}' (a package has one top folder)",
            )

    def _new_ancestors(self, entry: Entry) -> list[tuple[tuple[str, ...], str]]:
        """The entry's ancestors not yet known, shallowest first, checked: never through a
        link, never inside a file. Known folders passed these checks when they were added."""
        parts = entry.parts
        depth = len(parts) - 1
        while depth > 0 and parts[:depth] not in self._dirs:
            depth -= 1
        new = []
        for i in range(depth + 1, len(parts)):
            anc = parts[:i]
            key = fold(anc)
            if key in self._links_cf:
                raise unsafe(
                    self.archive, entry.raw,
                    f"passes through the symbolic link '{show('/'.join(anc))}' of the same package",
                )
            if anc in self._nondirs:
                raise unsafe(self.archive, entry.raw, f"is inside '{show('/'.join(anc))}', which is not a folder")
            new.append((anc, key))
        return new

    def _check_dir(self, entry: Entry, folded: str) -> None:
        if entry.parts in self._nondirs or folded in self._links_cf:
            raise unsafe(self.archive, entry.raw, "is a folder with the name of another entry")

    def _add_nondir(self, entry: Entry, folded: str) -> None:
        parts = entry.parts
        if parts in self._nondirs:
            raise unsafe(self.archive, entry.raw, "appears twice in the package")
        if parts in self._dirs:
            raise unsafe(self.archive, entry.raw, "has the name of a folder of the package")
        if entry.kind == LINK and (folded in self._dirs_cf or folded in self._nondirs_cf):
            raise unsafe(self.archive, entry.raw, "is a symbolic link with the name of another entry")
        if folded in self._links_cf:
            raise unsafe(self.archive, entry.raw, "has the name of a symbolic link of the package")
        self._nondirs.add(parts)
        self._nondirs_cf.add(folded)
        if entry.kind == LINK:
            self._links_cf.add(folded)

    def _add_size(self, entry: Entry) -> None:
        self.expanded += entry.size
        if self.expanded > self.limits.size:
            raise unsafe(
                self.archive, entry.raw,
                f"makes the package expand to more than {self.limits.size} bytes (the limit; "
                "this looks like a decompression bomb)",
            )
