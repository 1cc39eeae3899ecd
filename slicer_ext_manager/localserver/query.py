"""Girder's request conventions: its error body, parameter parsing and validation messages,
and Mongo's paging and cross-type sort order."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, Iterable, Mapping

from .documents import is_object_id


class ApiError(Exception):
    """An error answered as Girder does: ``{"message", "type"[, "field"]}`` with an HTTP status."""

    def __init__(self, message: str, status: int = 400, type: str = "rest", field: str | None = None,
                 headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "type": type}
        if field is not None:
            self.body["field"] = field
        self.headers = dict(headers or {})


def parse_query(query: str) -> dict[str, str]:
    """The parameters of a query string; a repeated one is Girder's 400."""
    params: dict[str, str] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if key in params:
            raise ApiError(f'Parameter "{key}" must not be specified multiple times.')
        params[key] = value
    return params


def invalid_object_id(value: str) -> ApiError:
    return ApiError(f"Invalid ObjectId: {value}", type="validation", field="id")


def require_object_id(value: str) -> str:
    if not is_object_id(value):
        raise invalid_object_id(value)
    return value.lower()


def int_param(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    if name not in params:
        return default
    try:
        return int(params[name])
    except ValueError:
        raise ApiError(f"Invalid value for integer parameter {name}: {params[name]}.") from None


def enum_param(params: Mapping[str, str], name: str, allowed: Iterable[str], *,
               default: str | None = None) -> str | None:
    if name not in params:
        return default
    value, allowed = params[name], tuple(allowed)
    if value not in allowed:
        raise ApiError(f'Invalid value for {name}: "{value}". Allowed values: {", ".join(allowed)}.')
    return value


def paging(params: Mapping[str, str], default_sort: str | None, default_dir: int,
           default_limit: int = 50) -> tuple[int, int, str | None, int]:
    """``(limit, offset, sort, sortdir)``; a limit of 0 means all."""
    limit = int_param(params, "limit", default_limit)
    offset = int_param(params, "offset", 0)
    sort = params["sort"].strip() if "sort" in params else default_sort
    sortdir = int_param(params, "sortdir", default_dir)
    if sortdir not in (1, -1):
        raise ApiError(f'Invalid value for sortdir: "{sortdir}". Allowed values: 1, -1.')
    return abs(limit or 0), max(offset or 0, 0), sort, sortdir  # Mongo: negative limit = abs


_MISSING = object()


def _get_field(doc: Mapping[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return _MISSING
    return node


def _bson_key(value: Any) -> tuple:
    """Mongo's cross-type sort order (missing/null < numbers < strings < objects < arrays < booleans)."""
    if value is _MISSING or value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (5, value)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, Mapping):
        return (3, json.dumps(value, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return (4, json.dumps(value, sort_keys=True))
    return (6, str(value))


def sort_docs(docs: list[dict[str, Any]], sort: str | None, sortdir: int) -> list[dict[str, Any]]:
    """``docs`` ordered by the dotted field ``sort`` (a copy; unchanged order without ``sort``)."""
    if not sort:
        return list(docs)
    return sorted(docs, key=lambda d: _bson_key(_get_field(d, sort)), reverse=sortdir == -1)


def page(docs: list[dict[str, Any]], limit: int, offset: int, sort: str | None, sortdir: int) -> list[dict[str, Any]]:
    docs = sort_docs(docs, sort, sortdir)
    return docs[offset:offset + limit] if limit else docs[offset:]
