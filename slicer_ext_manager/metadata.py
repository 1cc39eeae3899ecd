"""Extension metadata: one typed record built from a server item, a cache entry,
an archive's ``.s4ext`` or an installed ``<Name>.s4ext``.

The mapping and filtering rules are Slicer's (reference §3.2 and Appendix B), so
that the cache file and the installed description files we write are the ones
Slicer writes.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .conventions import invalid_name_sentence, is_extension_name

_log = logging.getLogger(__name__)

#: Top-level server keys Slicer drops (``serverKeysToIgnore``), in Slicer's order.
SERVER_KEYS_TO_IGNORE = (
    "baseParentId",
    "baseParentType",
    "created",
    "creatorId",
    "description",
    "folderId",
    "lowerName",
    "meta.app_id",
    "name",
    "size",
)

#: Girder_v1 key -> model key (``serverToExtensionDescriptionKey``).
SERVER_TO_MODEL_KEY = {
    "_id": "extension_id",
    "meta.baseName": "extensionname",
    "meta.repository_type": "scm",
    "meta.repository_url": "scmurl",
    "meta.app_revision": "slicer_revision",
    "meta.revision": "revision",
    "meta.arch": "arch",
    "meta.os": "os",
    "meta.dependency": "depends",
    "meta.homepage": "homepage",
    "meta.icon_url": "iconurl",
    "meta.category": "category",
    "meta.contributors": "contributors",
    "meta.description": "description",
    "meta.screenshots": "screenshots",
    "updated": "updated",
}

#: Model columns in Slicer's order (``qSlicerExtensionsManagerModel`` roles).
MODEL_COLUMNS = (
    "extension_id",
    "extensionname",
    "scm",
    "scmurl",
    "slicer_revision",
    "revision",
    "release",
    "arch",
    "os",
    "depends",
    "homepage",
    "iconurl",
    "category",
    "status",
    "contributors",
    "description",
    "screenshots",
    "enabled",
    "archivename",
    "md5",
    "updated",
    "installed",
    "loaded",
    "bookmarked",
)

#: Columns that are model state rather than description (never from a server item).
_STATE_COLUMNS = ("installed", "loaded", "bookmarked")
_BOOL_COLUMNS = ("enabled", "installed", "loaded", "bookmarked")


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``qRestAPI::qVariantMapFlattened``: nested maps become dotted keys; a list of
    maps is flattened into the same prefix (later items win); lists of scalars are dropped."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, full + "."))
        elif isinstance(value, list):
            for element in value:
                if isinstance(element, Mapping):
                    out.update(flatten(element, full + "."))
        else:
            out[full] = value
    return out


def normalize_server_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """Slicer's flatten → filter → rename of one item of ``GET /app/{id}/extension``.

    Keys are processed in sorted order, so ``meta.description`` overrides the
    top-level ``description`` exactly as in Slicer.
    """
    flat = flatten(item)
    targets = set(SERVER_TO_MODEL_KEY.values())
    kept = {k: v for k, v in flat.items() if k not in SERVER_KEYS_TO_IGNORE or k in targets}
    out: dict[str, Any] = {}
    for key in sorted(kept):
        out[SERVER_TO_MODEL_KEY.get(key, key)] = kept[key]
    return out


_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def plain_description(text: str) -> str:
    """A description as text: Slicer's ``<br>`` line breaks (any case, ``<br/>``) become newlines."""
    return "\n".join(line.strip() for line in _LINE_BREAK.sub("\n", text or "").splitlines()).strip()


def short_description(text: str) -> str:
    """The first line of a description, spaces collapsed (every list shows this)."""
    plain = plain_description(text)
    return " ".join(plain.split("\n", 1)[0].split()) if plain else ""


def split_words(text: str | None) -> tuple[str, ...]:
    """Split a space-separated list (``depends``, ``screenshots``); ``NA`` means none."""
    if not text:
        return ()
    return tuple(w for w in str(text).split() if w and w != "NA")


def to_bool(value: Any, default: bool = False) -> bool:
    """``QVariant::toBool`` on what INI/.s4ext files hold: ``false``/``0``/empty are false."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return text not in ("", "0", "false")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class ExtensionMetadata:
    """What is known about one build of one extension.

    ``source`` keeps the normalized key/value map it was built from (model keys,
    server types), so the cache and ``.s4ext`` files can be written with the keys
    the server sent, including pass-through ``meta.*`` keys.
    """

    name: str
    extension_id: str = ""
    revision: str = ""
    slicer_revision: str = ""
    os: str = ""
    arch: str = ""
    depends: tuple[str, ...] = ()
    category: str = ""
    description: str = ""
    homepage: str = ""
    iconurl: str = ""
    contributors: str = ""
    screenshots: tuple[str, ...] = ()
    scm: str = ""
    scmurl: str = ""
    updated: str = ""
    status: str = ""
    release: str = ""
    md5: str = ""
    archivename: str = ""
    enabled: bool = True
    installed: bool = False
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # -- construction ---------------------------------------------------------

    @classmethod
    def from_server_item(cls, item: Mapping[str, Any]) -> ExtensionMetadata:
        """From one element of ``GET /app/{app_id}/extension`` (a Girder item document)."""
        return cls.from_model_map(normalize_server_item(item), installed=False)

    @classmethod
    def from_model_map(cls, data: Mapping[str, Any], *, installed: bool | None = None) -> ExtensionMetadata:
        """From a map with Slicer's model keys: a cache entry or a parsed ``<Name>.s4ext``."""
        name = _text(data.get("extensionname"))
        return cls(
            name=name,
            extension_id=_text(data.get("extension_id")),
            revision=_text(data.get("revision")),
            slicer_revision=_text(data.get("slicer_revision")),
            os=_text(data.get("os")),
            arch=_text(data.get("arch")),
            depends=split_words(_text(data.get("depends"))),
            category=_text(data.get("category")),
            description=_text(data.get("description")),
            homepage=_text(data.get("homepage")),
            iconurl=_text(data.get("iconurl")),
            contributors=_text(data.get("contributors")),
            screenshots=tuple(_text(data.get("screenshots")).split()),
            scm=_text(data.get("scm")),
            scmurl=_text(data.get("scmurl")),
            updated=_text(data.get("updated")),
            status=_text(data.get("status")),
            release=_text(data.get("release")),
            md5=_text(data.get("md5")),
            archivename=_text(data.get("archivename")),
            enabled=to_bool(data.get("enabled"), True),
            installed=to_bool(data.get("installed"), False) if installed is None else installed,
            source=dict(data),
        )

    @classmethod
    def from_archive_description(
        cls,
        s4ext: Mapping[str, str],
        *,
        name: str,
        archivename: str,
        slicer_revision: str,
        os: str,
        arch: str,
    ) -> ExtensionMetadata:
        """For an install from file: Slicer's §4.5 rules, plus the archive's ``depends``
        (Slicer ≥ 5.0.3 drops it; we honour it, as 5.0.2 did)."""
        data: dict[str, Any] = {
            "extensionname": name,
            "archivename": archivename,
            "scm": s4ext.get("scm", ""),
            "scmurl": s4ext.get("scmurl", ""),
            "revision": s4ext.get("scmrevision") or "NA",
            "slicer_revision": slicer_revision,
            "os": os,
            "arch": arch,
            "depends": s4ext.get("depends", "NA") or "NA",
            "extension_id": "",
            "md5": "",
            "release": "",
            "screenshots": s4ext.get("screenshoturls", ""),
            "updated": "",
        }
        for key in ("category", "contributors", "description", "homepage", "iconurl", "status"):
            if key in s4ext:
                data[key] = s4ext[key]
        return cls.from_model_map(data, installed=False)

    def replace(self, **changes: Any) -> ExtensionMetadata:
        """A copy with ``changes`` applied to the typed fields and to ``source``."""
        source = dict(self.source)
        for key, value in changes.items():
            column = "extensionname" if key == "name" else key
            if column in MODEL_COLUMNS:
                if isinstance(value, tuple):
                    source[column] = " ".join(value) if value else ("NA" if column == "depends" else "")
                else:
                    source[column] = value
        changes["source"] = source
        return dataclasses.replace(self, **changes)

    # -- derived values ---------------------------------------------------------

    @property
    def sha512(self) -> str:
        """The package checksum the server published (``meta.sha512``), or ``""``."""
        return _text(self.source.get("meta.sha512"))

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(_text(self.source.get("meta.keywords")).split())

    @property
    def tier(self) -> int | None:
        value = self.source.get("meta.tier")
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    @property
    def short_description(self) -> str:
        """The first line of the description (:func:`short_description`)."""
        return short_description(self.description)

    @functools.cached_property
    def search_text(self) -> str:
        """What a search looks in, lower case: name, description, category, keywords."""
        return " ".join((self.name, plain_description(self.description), self.category,
                         " ".join(self.keywords))).lower()

    def compatibility_reasons(self, slicer_revision: str, slicer_os: str, slicer_arch: str) -> list[str]:
        """Slicer's ``isExtensionCompatible``: reasons it is not compatible (empty = compatible).

        Exact reason strings of the C++ model (reference §4.7).
        """
        if not self.name:
            return ["'extensionName' parameter is not specified"]
        if not slicer_revision:
            return ["'slicerRevision' parameter is not specified"]
        if not slicer_os:
            return ["'slicerOs' parameter is not specified"]
        if not slicer_arch:
            return ["'slicerArch' parameter is not specified"]
        reasons = []
        if self.slicer_revision and self.slicer_revision != slicer_revision:
            reasons.append(
                f"extensionSlicerRevision [{self.slicer_revision}] is different from slicerRevision [{slicer_revision}]"
            )
        if self.arch and self.arch != slicer_arch:
            reasons.append(f"extensionArch [{self.arch}] is different from slicerArch [{slicer_arch}]")
        if self.os and self.os != slicer_os:
            reasons.append(f"extensionOs [{self.os}] is different from slicerOs [{slicer_os}]")
        return reasons

    # -- serialization --------------------------------------------------------

    def _columns(self) -> dict[str, Any]:
        """The model columns from the typed fields (``depends`` as Slicer stores it)."""
        return {
            "extension_id": self.extension_id, "scm": self.scm, "scmurl": self.scmurl,
            "slicer_revision": self.slicer_revision, "revision": self.revision, "release": self.release,
            "arch": self.arch, "os": self.os,
            "depends": _text(self.source.get("depends")) or (" ".join(self.depends) if self.depends else "NA"),
            "homepage": self.homepage, "iconurl": self.iconurl, "category": self.category, "status": self.status,
            "contributors": self.contributors, "description": self.description,
            "screenshots": " ".join(self.screenshots), "enabled": self.enabled, "archivename": self.archivename,
            "md5": self.md5, "updated": self.updated,
        }

    def to_cache_entry(self) -> dict[str, Any]:
        """The entry Slicer stores for this extension in ``ExtensionsMetadataFromServer.json``:
        what the server sent, completed by the typed fields for a record made another way."""
        entry = dict(self.source)
        if not entry:  # made in code, not from a server item or a file
            entry = {k: v for k, v in self._columns().items() if v not in ("", None)}
        entry.setdefault("extensionname", self.name)
        return entry

    def to_description(self, *, installed: bool = True, enabled: bool | None = None) -> dict[str, Any]:
        """The map Slicer writes to ``<InstallPath>/<Name>.s4ext``: the source metadata
        overlaid with every model column (reference §4.5)."""
        data: dict[str, Any] = dict(self.source)
        data.update(self._columns())
        data["installed"] = installed
        if enabled is not None:
            data["enabled"] = enabled
        for key in ("extensionname", "loaded", "bookmarked"):
            data.pop(key, None)
        return data


def iter_unique_newest(items: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Key items by ``meta.baseName``; for duplicates keep the newest ``created``
    (ties broken by ``_id`` so the choice is deterministic). An item whose name is not
    an extension name (a path, a pattern) is dropped: names become file names."""
    chosen: dict[str, Mapping[str, Any]] = {}
    for item in items:
        meta = item.get("meta") or {}
        name = meta.get("baseName") if isinstance(meta, Mapping) else None
        if not name:
            continue
        if not is_extension_name(name):
            _log.warning("Ignored a server item: %s", invalid_name_sentence(name, "the catalog"))
            continue
        current = chosen.get(name)
        key = (str(item.get("created") or ""), str(item.get("_id") or ""))
        if current is None or key > (str(current.get("created") or ""), str(current.get("_id") or "")):
            chosen[name] = item
    return chosen
