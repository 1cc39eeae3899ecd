"""Typed reads of an opened ``QSettings`` and the journaled editor behind
:meth:`slicer_ext_manager.settings.SettingsFile.edit`.

The editor records *changes*, not values: "add X to this list", "remove Y", "set this
map entry", "replace this value". They are applied when the edit is saved, each to the
value the file holds at that moment (read under Qt's own lock, see ``settings.py``), so
a list another program (a running Slicer) changed in between is merged with, never
overwritten by, a value computed earlier. Reads inside the edit see the changes made
so far.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from . import qtbinding
from .errors import SettingsError
from .initext import MAX_ARRAY_ENTRIES

#: A change: the stored value (None when absent) -> the new one, ``REMOVED`` or ``UNCHANGED``.
Transform = Callable[[Any], Any]
Unwanted = Union[Callable[[str], bool], Iterable[str]]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


REMOVED = _Marker("REMOVED")
UNCHANGED = _Marker("UNCHANGED")


def as_list(value: Any) -> list[str]:
    if value is None or value is REMOVED:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def read_array(qsettings: Any, name: str, field: str, source: Optional[Path]) -> list[str]:
    """A launcher array (``N\\path=...``, ``size=N``); an absurd ``size`` is one sentence."""
    size = int(qsettings.beginReadArray(name) or 0)
    try:
        if size > MAX_ARRAY_ENTRIES:
            where = f"The settings file {source}" if source else "A settings file"
            raise SettingsError(
                f"{where} says its [{name}] list has {size} entries, more than the {MAX_ARRAY_ENTRIES} any "
                f"Slicer writes; correct the size= line of that section in a text editor and try again."
            )
        items = []
        for i in range(size):
            qsettings.setArrayIndex(i)
            value = qtbinding.read_value(qsettings, field)
            if value is not None:
                items.append(", ".join(value) if isinstance(value, list) else str(value))
        return items
    finally:
        qsettings.endArray()


def write_array(qsettings: Any, name: str, field: str, values: list[str]) -> None:
    """Replace an array; stale entries are removed first, as Slicer does."""
    qsettings.remove(name)
    qsettings.beginWriteArray(name, len(values))
    for i, value in enumerate(values):
        qsettings.setArrayIndex(i)
        qtbinding.write_value(qsettings, field, value)
    qsettings.endArray()


class SettingsReader:
    """Typed read access to one opened ``QSettings``."""

    def __init__(self, qsettings: Any, source: Optional[Path] = None):
        self.qsettings = qsettings
        self.source = source

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
        return as_list(self._raw(key))

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
        return read_array(self.qsettings, name, field, self.source)

    def child_keys(self, group: str) -> list[str]:
        self.qsettings.beginGroup(group)
        try:
            return qtbinding.child_keys(self.qsettings)
        finally:
            self.qsettings.endGroup()


def _chain(transforms: Iterable[Transform], base: Any) -> Any:
    for transform in transforms:
        new = transform(None if base is REMOVED else base)
        if new is not UNCHANGED:
            base = new
    return base


def _matcher(unwanted: Unwanted) -> Callable[[str], bool]:
    if callable(unwanted):
        return unwanted
    names = set(unwanted)
    return lambda item: item in names


class SettingsEditor(SettingsReader):
    """Buffered read/write access inside :meth:`SettingsFile.edit` (see the module docstring).

    Qt shares one in-memory copy of a file per process and flushes it on destruction, so
    nothing touches ``QSettings`` before the edit block has succeeded.
    """

    def __init__(self, qsettings: Any, source: Optional[Path] = None):
        super().__init__(qsettings, source)
        self._ops: list[tuple[str, Any, Transform]] = []

    def _pending(self, kind: str, key: Any) -> list[Transform]:
        return [fn for k, name, fn in self._ops if k == kind and name == key]

    def _raw(self, key: str) -> Any:
        value = _chain(self._pending("value", key), super()._raw(key))
        return None if value is REMOVED else value

    def contains(self, key: str) -> bool:
        if self._pending("value", key):
            return self._raw(key) is not None
        return super().contains(key)

    def array(self, name: str, field: str = "path") -> list[str]:
        transforms = self._pending("array", (name, field))
        base = super().array(name, field)
        return as_list(_chain(transforms, base)) if transforms else base

    def child_keys(self, group: str) -> list[str]:
        prefix = group.rstrip("/") + "/"
        keys = super().child_keys(group)
        for kind, key, _ in self._ops:
            if kind != "value" or not key.startswith(prefix) or "/" in key[len(prefix):]:
                continue
            child, present = key[len(prefix):], self._raw(key) is not None
            if not present and child in keys:
                keys.remove(child)
            elif present and child not in keys:
                keys.append(child)
        return keys

    # -- changes ------------------------------------------------------------------------------------

    def update(self, key: str, transform: Transform) -> None:
        """Change ``key`` by ``transform(stored value)``, applied again to the file as it is when saved."""
        self._ops.append(("value", key, transform))

    def set_value(self, key: str, value: Any) -> None:
        self.update(key, lambda _old: value)

    def remove(self, key: str) -> None:
        self.update(key, lambda _old: REMOVED)

    def set_string_list(self, key: str, values: Iterable[str]) -> None:
        """Replace a list (written like a C++ QStringList: one item as a plain string, none as ``@Invalid()``)."""
        self.set_value(key, [str(v) for v in values])

    def add_to_list(self, key: str, items: Iterable[str]) -> None:
        """Append the ``items`` the list does not hold yet (merged with the stored list when saved)."""
        wanted = [str(i) for i in dict.fromkeys(items)]

        def add(old: Any) -> Any:
            current = as_list(old)
            missing = [i for i in wanted if i not in current]
            return current + missing if missing else UNCHANGED

        self.update(key, add)

    def remove_from_list(self, key: str, unwanted: Unwanted) -> None:
        """Remove every item that is in ``unwanted`` (or for which it returns True)."""
        match = _matcher(unwanted)

        def drop(old: Any) -> Any:
            current = as_list(old)
            kept = [i for i in current if not match(i)]
            return kept if len(kept) != len(current) else UNCHANGED

        self.update(key, drop)

    def set_variant_map(self, key: str, mapping: Mapping[str, Any]) -> None:
        self.set_value(key, dict(mapping))

    def set_map_entry(self, key: str, name: str, value: Any) -> None:
        """One entry of a ``QVariantMap`` value (``Extensions/ScheduledForUpdate``)."""
        def put(old: Any) -> Any:
            current = dict(old) if isinstance(old, Mapping) else {}
            if name in current and current[name] == value:
                return UNCHANGED
            current[name] = value
            return current

        self.update(key, put)

    def remove_map_entry(self, key: str, name: str) -> None:
        def pop(old: Any) -> Any:
            if not isinstance(old, Mapping) or name not in old:
                return UNCHANGED
            return {k: v for k, v in old.items() if k != name}

        self.update(key, pop)

    def set_array(self, name: str, values: list[str], field: str = "path") -> None:
        """Replace a launcher array; stale entries are removed first, as Slicer does."""
        fixed = list(values)
        self.update_array(name, lambda _old: fixed, field)

    def update_array(self, name: str, transform: Transform, field: str = "path") -> None:
        """Change a launcher array by ``transform(stored entries)``."""
        self._ops.append(("array", (name, field), transform))

    @property
    def changed(self) -> bool:
        return bool(self._ops)

    def apply(self, target: Any = None) -> int:
        """Apply the changes to ``target`` (default: the settings read from), each to the value
        ``target`` holds now; returns how many values were written."""
        qs = self.qsettings if target is None else target
        written = 0
        for kind, key, transform in self._ops:
            if kind == "value":
                new = transform(qtbinding.read_value(qs, key))
                if new is REMOVED:
                    qs.remove(key)
                elif new is not UNCHANGED:
                    qtbinding.write_value(qs, key, new)
            else:
                name, field = key
                new = transform(read_array(qs, name, field, self.source))
                if new is not UNCHANGED:
                    write_array(qs, name, field, as_list(new))
            written += new is not UNCHANGED
        return written
