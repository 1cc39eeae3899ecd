"""Girder documents as the Slicer Package Manager server stores and shows them (reference §2.4):
ids, dates, the folder tree's names and ids, folder documents and Girder's read views.

Ids are stable across restarts and derived from content (see :class:`AppIds` and
:func:`derive_id`); dates use Girder's encoding (:func:`iso`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from typing import TypeGuard  # novermin (type checkers only)

from ..conventions import DEFAULT_APP_ID

#: The production "Applications" collection id (used when serving the production app id).
PRODUCTION_COLLECTION_ID = "5f4474d0e1d8c75dfc70547e"
#: The production uploader account (``creatorId`` of real items).
DEFAULT_CREATOR_ID = "5f446e46e1d8c75dfc705450"

APPLICATION_PACKAGE_TEMPLATE_NAME = "{baseName}_{os}_{arch}_{revision}"
EXTENSION_PACKAGE_TEMPLATE_NAME = "{app_revision}_{baseName}_{os}_{arch}_{revision}"
DRAFT_RELEASE_NAME = "draft"
EXTENSIONS_FOLDER_NAME = "extensions"
DRAFT_DESCRIPTION = "Uploaded each night, always up-to-date"
EXTENSIONS_FOLDER_DESCRIPTION = "This directory contains all the extensions packages"

_OBJECT_ID_RE = re.compile(r"^[0-9a-f]{24}$")


# ------------------------------------------------------------------------------------------------
# ids and dates


def is_object_id(value: object) -> TypeGuard[str]:
    """True for a 24-hex string (what ``bson.ObjectId.is_valid`` accepts from a URL)."""
    return isinstance(value, str) and len(value) == 24 and bool(_OBJECT_ID_RE.match(value.lower()))


def derive_id(*parts: str) -> str:
    """A stable 24-hex id from ``parts``."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:24]


def object_id_time(object_id: str) -> _dt.datetime:
    """The creation time encoded in a real ObjectId (its first 4 bytes)."""
    return _dt.datetime.fromtimestamp(int(object_id[:8], 16), _dt.timezone.utc)


def iso(value: _dt.datetime) -> str:
    """Girder's datetime encoding: UTC, ``isoformat()``, millisecond precision (as read back from Mongo)."""
    value = value.astimezone(_dt.timezone.utc)
    value = value.replace(microsecond=(value.microsecond // 1000) * 1000)
    return value.isoformat()


def iso_from_timestamp(ts: float) -> str:
    return iso(_dt.datetime.fromtimestamp(ts, _dt.timezone.utc))


def normalize_iso(value: object) -> str | None:
    """Parse a datetime string (``Z``/offsets/naive = UTC) into Girder's encoding; None if unparsable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.astimezone(_dt.timezone.utc).isoformat()


@dataclass(frozen=True)
class AppIds:
    """The ids of one served application's collection and folder tree::

        collection / packages folder / <app> / draft / <app_revision> / extensions
                                             / <release> / extensions
    """

    app_id: str

    @property
    def collection_id(self) -> str:
        return PRODUCTION_COLLECTION_ID if self.app_id == DEFAULT_APP_ID else derive_id("collection", self.app_id)

    @property
    def packages_folder_id(self) -> str:
        return derive_id("folder", self.app_id, "packages")

    @property
    def draft_folder_id(self) -> str:
        return derive_id("folder", self.app_id, DRAFT_RELEASE_NAME)

    def draft_revision_folder_id(self, app_revision: str) -> str:
        return derive_id("folder", self.app_id, DRAFT_RELEASE_NAME, app_revision)

    def release_folder_id(self, release: str) -> str:
        return derive_id("folder", self.app_id, "release", release.lower())

    @staticmethod
    def extensions_folder_id(parent_id: str) -> str:
        return derive_id("folder", parent_id, EXTENSIONS_FOLDER_NAME)


# ------------------------------------------------------------------------------------------------
# documents


def folder_doc(ids: AppIds, folder_id: str, name: str, parent_id: str, created: str, *, description: str = "",
               meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A raw folder document of the tree (public, owned by the uploader, as the plugin creates them)."""
    return {
        "_id": folder_id,
        "access": {"groups": [], "users": [{"flags": [], "id": DEFAULT_CREATOR_ID, "level": 2}]},
        "baseParentId": ids.collection_id,
        "baseParentType": "collection",
        "created": created,
        "creatorId": DEFAULT_CREATOR_ID,
        "description": description,
        "lowerName": name.lower(),
        "meta": meta if meta is not None else {},
        "name": name,
        "parentCollection": "folder",
        "parentId": parent_id,
        "public": True,
        "size": 0,
        "updated": created,
    }


_ITEM_VIEW_KEYS = ("_id", "size", "updated", "description", "created", "meta", "creatorId", "folderId", "name",
                   "baseParentType", "baseParentId", "copyOfItem")
_FOLDER_VIEW_KEYS = ("_id", "name", "public", "publicFlags", "description", "created", "updated", "size", "meta",
                     "parentId", "parentCollection", "creatorId", "baseParentType", "baseParentId")


def filter_item(doc: dict[str, Any]) -> dict[str, Any]:
    """Girder's ``Item().filter()`` at READ level (what ``GET /item/{id}`` returns)."""
    out = {k: doc[k] for k in _ITEM_VIEW_KEYS if k in doc}
    out["_modelType"] = "item"
    return out


def filter_folder(doc: dict[str, Any]) -> dict[str, Any]:
    """Girder's ``Folder().filter()`` for an anonymous user on a public folder."""
    out = {k: doc[k] for k in _FOLDER_VIEW_KEYS if k in doc}
    out["_modelType"] = "folder"
    out["_accessLevel"] = 0
    return out
