"""The extensions history and bookmarks kept in ``Slicer.ini``.

* ``[ExtensionsHistory]`` ``Revisions\\<rev>=A, B`` — extensions installed per Slicer
  revision, and ``ScheduledForRemoval`` — as written by Slicer 4.10 – 5.0.2
  (reference §2.3, §5.12). Modern Slicer no longer writes it; we keep it current
  so the restore feature works for every user.
* ``Extensions/Bookmarked`` — bookmarks (Slicer ≥ 5.0.3), shared by all versions.

Names read from the file that are not extension names (``../Victim``, ``M*``) are
skipped with a warning and never acted on; they stay in the file untouched. Every
change is a journaled "add X" / "remove Y", merged with the list as it is when saved.
"""

from __future__ import annotations

import logging
import re
from typing import Iterable

from .conventions import (
    BOOKMARKED_KEY,
    HISTORY_REVISIONS_GROUP,
    HISTORY_SCHEDULED_FOR_REMOVAL_KEY,
    invalid_name_sentence,
    is_extension_name,
    revision_sort_key,
)
from .settings import SettingsEditor, SettingsFile

log = logging.getLogger(__name__)


def parse_bookmarks_text(text: str) -> list[str]:
    """Slicer's "Edit bookmarks…" parser: split on whitespace, ``,`` and ``;``, de-duplicated."""
    names: list[str] = []
    for part in re.split(r"\s+|,|;", text):
        if part and part not in names:
            names.append(part)
    return names


def _dedup(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        name = name.strip()
        if name and name not in out:
            out.append(name)
    return out


def valid_names(names: Iterable[str], where: str) -> list[str]:
    """The extension names among ``names`` (de-duplicated); each other entry is skipped
    with a warning naming ``where`` it was read."""
    out = []
    for name in _dedup(names):
        if is_extension_name(name):
            out.append(name)
        else:
            log.warning("%s It was skipped.", invalid_name_sentence(name, where))
    return out


class ExtensionsHistory:
    """Read/write access to the history and bookmarks in ``Slicer.ini``."""

    def __init__(self, user_settings: SettingsFile):
        self.settings = user_settings

    def _where(self, key: str) -> str:
        return f"{key} of {self.settings.path}"

    # -- reading ------------------------------------------------------------------------------

    def revisions(self) -> dict[str, list[str]]:
        """``{revision: [names]}`` in numeric revision order; empty entries are kept as ``[]``."""
        reader = self.settings.read()
        result = {}
        for rev in sorted(reader.child_keys(HISTORY_REVISIONS_GROUP), key=revision_sort_key):
            key = f"{HISTORY_REVISIONS_GROUP}/{rev}"
            result[rev] = valid_names(reader.string_list(key), self._where(key))
        return result

    def names(self, revision: str) -> list[str]:
        key = f"{HISTORY_REVISIONS_GROUP}/{revision}"
        return valid_names(self.settings.string_list(key), self._where(key))

    def scheduled_for_removal(self) -> list[str]:
        key = HISTORY_SCHEDULED_FOR_REMOVAL_KEY
        return valid_names(self.settings.string_list(key), self._where(key))

    def bookmarks(self) -> list[str]:
        return valid_names(self.settings.string_list(BOOKMARKED_KEY), self._where(BOOKMARKED_KEY))

    # -- writing (inside an edit of Slicer.ini) ---------------------------------------------------

    @staticmethod
    def add_in(editor: SettingsEditor, revision: str, name: str) -> None:
        editor.add_to_list(f"{HISTORY_REVISIONS_GROUP}/{revision}", [name])

    @staticmethod
    def remove_in(editor: SettingsEditor, name: str, revision: str | None = None) -> list[str]:
        """Remove ``name`` from one revision's entry or from all; returns the revisions changed."""
        changed = []
        revisions = [revision] if revision else editor.child_keys(HISTORY_REVISIONS_GROUP)
        for rev in revisions:
            key = f"{HISTORY_REVISIONS_GROUP}/{rev}"
            if editor.contains(key) and name in _dedup(editor.string_list(key)):
                editor.remove_from_list(key, lambda item: item.strip() == name)
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
        """Add (or remove) ``names``, merged with the bookmarks as they are when saved
        (a running Slicer may change them meanwhile); returns the names changed."""
        with self.settings.edit() as editor:
            current = _dedup(editor.string_list(BOOKMARKED_KEY))
            changed = [n for n in dict.fromkeys(names) if (n in current) != bookmarked]
            if changed and bookmarked:
                editor.add_to_list(BOOKMARKED_KEY, changed)
            elif changed:
                wanted = set(changed)
                editor.remove_from_list(BOOKMARKED_KEY, lambda item: item.strip() in wanted)
            return changed

    def to_bookmarks(self) -> list[str]:
        """Add every name of the history to the bookmarks; returns the names added."""
        history_names = _dedup([n for names in self.revisions().values() for n in names])
        with self.settings.edit() as editor:
            current = _dedup(editor.string_list(BOOKMARKED_KEY))
            added = [n for n in history_names if n not in current]
            if added:
                editor.add_to_list(BOOKMARKED_KEY, added)
        return added

    def schedule_removal_in(self, editor: SettingsEditor, name: str, scheduled: bool) -> None:
        if scheduled:
            editor.add_to_list(HISTORY_SCHEDULED_FOR_REMOVAL_KEY, [name])
        else:
            editor.remove_from_list(HISTORY_SCHEDULED_FOR_REMOVAL_KEY, lambda item: item.strip() == name)
