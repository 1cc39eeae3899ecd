"""The extensions history and bookmarks kept in ``Slicer.ini``.

* ``[ExtensionsHistory]`` ``Revisions\\<rev>=A, B`` — extensions installed per Slicer
  revision, and ``ScheduledForRemoval`` — as written by Slicer 4.10 – 5.0.2
  (reference §2.3, §5.12). Modern Slicer no longer writes it; we keep it current
  so the restore feature works for every user.
* ``Extensions/Bookmarked`` — bookmarks (Slicer ≥ 5.0.3), shared by all versions.
"""

from __future__ import annotations

import re

from .conventions import BOOKMARKED_KEY, HISTORY_REVISIONS_GROUP, HISTORY_SCHEDULED_FOR_REMOVAL_KEY, revision_sort_key
from .settings import SettingsEditor, SettingsFile


def parse_bookmarks_text(text: str) -> list[str]:
    """Slicer's "Edit bookmarks…" parser: split on whitespace, ``,`` and ``;``, de-duplicated."""
    names: list[str] = []
    for part in re.split(r"\s+|,|;", text):
        if part and part not in names:
            names.append(part)
    return names


def _dedup(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        name = name.strip()
        if name and name not in out:
            out.append(name)
    return out


class ExtensionsHistory:
    """Read/write access to the history and bookmarks in ``Slicer.ini``."""

    def __init__(self, user_settings: SettingsFile):
        self.settings = user_settings

    # -- reading ------------------------------------------------------------------------------

    def revisions(self) -> dict[str, list[str]]:
        """``{revision: [names]}`` in numeric revision order; empty entries are kept as ``[]``."""
        reader = self.settings.read()
        result = {}
        for rev in sorted(reader.child_keys(HISTORY_REVISIONS_GROUP), key=revision_sort_key):
            result[rev] = _dedup(reader.string_list(f"{HISTORY_REVISIONS_GROUP}/{rev}"))
        return result

    def names(self, revision: str) -> list[str]:
        return _dedup(self.settings.string_list(f"{HISTORY_REVISIONS_GROUP}/{revision}"))

    def scheduled_for_removal(self) -> list[str]:
        return _dedup(self.settings.string_list(HISTORY_SCHEDULED_FOR_REMOVAL_KEY))

    def bookmarks(self) -> list[str]:
        return _dedup(self.settings.string_list(BOOKMARKED_KEY))

    # -- writing (inside an edit of Slicer.ini) ---------------------------------------------------

    @staticmethod
    def add_in(editor: SettingsEditor, revision: str, name: str) -> None:
        key = f"{HISTORY_REVISIONS_GROUP}/{revision}"
        names = _dedup(editor.string_list(key))
        if name not in names:
            editor.set_string_list(key, names + [name])

    @staticmethod
    def remove_in(editor: SettingsEditor, name: str, revision: str | None = None) -> list[str]:
        """Remove ``name`` from one revision's entry or from all; returns the revisions changed."""
        changed = []
        revisions = [revision] if revision else editor.child_keys(HISTORY_REVISIONS_GROUP)
        for rev in revisions:
            key = f"{HISTORY_REVISIONS_GROUP}/{rev}"
            if not editor.contains(key):
                continue
            names = _dedup(editor.string_list(key))
            if name in names:
                editor.set_string_list(key, [n for n in names if n != name])
                changed.append(rev)
        return changed

    # -- one-shot helpers ------------------------------------------------------------------------

    def add(self, revision: str, name: str) -> None:
        with self.settings.edit() as editor:
            self.add_in(editor, revision, name)

    def remove(self, name: str, revision: str | None = None) -> list[str]:
        with self.settings.edit() as editor:
            return self.remove_in(editor, name, revision)

    def set_bookmarks(self, names: list[str]) -> None:
        with self.settings.edit() as editor:
            editor.set_string_list(BOOKMARKED_KEY, _dedup(names))

    def set_bookmarked(self, name: str, bookmarked: bool) -> bool:
        """Add or remove one bookmark; returns whether anything changed."""
        return bool(self.set_bookmarks_state([name], bookmarked))

    def set_bookmarks_state(self, names: list[str], bookmarked: bool) -> list[str]:
        """Add (or remove) ``names`` in one edit of the file as it is now; returns the names changed."""
        with self.settings.edit() as editor:
            current = _dedup(editor.string_list(BOOKMARKED_KEY))
            changed = [n for n in dict.fromkeys(names) if (n in current) != bookmarked]
            if changed:
                kept = current + changed if bookmarked else [n for n in current if n not in changed]
                editor.set_string_list(BOOKMARKED_KEY, kept)
            return changed

    def to_bookmarks(self) -> list[str]:
        """Add every name of the history to the bookmarks; returns the names added."""
        history_names = _dedup([n for names in self.revisions().values() for n in names])
        with self.settings.edit() as editor:
            current = _dedup(editor.string_list(BOOKMARKED_KEY))
            added = [n for n in history_names if n not in current]
            if added:
                editor.set_string_list(BOOKMARKED_KEY, current + added)
        return added

    def schedule_removal_in(self, editor: SettingsEditor, name: str, scheduled: bool) -> None:
        names = _dedup(editor.string_list(HISTORY_SCHEDULED_FOR_REMOVAL_KEY))
        if scheduled and name not in names:
            editor.set_string_list(HISTORY_SCHEDULED_FOR_REMOVAL_KEY, names + [name])
        elif not scheduled and name in names:
            editor.set_string_list(HISTORY_SCHEDULED_FOR_REMOVAL_KEY, [n for n in names if n != name])
