"""Version ordering: ``5.10`` is newer than ``5.9`` (strings would say otherwise).

Slicer versions (``5.8``, ``5.10.0``, ``5.13.0-2026-08-21``) are compared with
``packaging.version``; a text that is not a version sorts before every version,
among such texts alphabetically, so a choice stays deterministic.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, Tuple, Union

if TYPE_CHECKING:  # pragma: no cover
    from packaging.version import Version

_LEADING_VERSION = re.compile(r"^\d+(?:\.\d+)*")

VersionKey = Tuple[int, Union["Version", str]]


def version_key(text: str) -> VersionKey:
    """Sort key: real versions by ``packaging.version``; a ``-date`` or other suffix
    after the numbers is ignored (``5.13.0-2026-08-21`` sorts as ``5.13.0``)."""
    from packaging.version import InvalidVersion, Version  # when first compared (start-up)

    try:
        return (1, Version(text))
    except InvalidVersion:
        match = _LEADING_VERSION.match(text or "")
        if match:
            return (1, Version(match.group(0)))
        return (0, text or "")


def newest_version(texts: Iterable[str]) -> str | None:
    """The newest of ``texts`` (None when empty)."""
    ordered = sorted(texts, key=version_key)
    return ordered[-1] if ordered else None
