"""Slicer application builds on the Slicer Package Manager server: list them, tell
releases from nightlies, pick one.

The packages are the items of ``GET /app/{app_id}/package`` (``meta`` with ``os``, ``arch``,
``revision``, ``version``, ``build_date``, ``sha512``; ``release`` when the item sits
in a release folder). As on download.slicer.org, a **release** is a package with
``meta.release`` and not ``meta.pre_release``; a **nightly** is one in the draft folder
(reference ``slicer-inside.md`` §5). Newest first: by revision, then build date.
"""

from __future__ import annotations

import enum
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

from .errors import ExtensionManagerError, ServerError
from .server import SlicerPackagesClient

_VERSION_RE = re.compile(r"^\d+\.\d+(?:\.\d+)?")


class Stability(str, enum.Enum):
    RELEASE = "release"
    NIGHTLY = "nightly"
    ANY = "any"


@dataclass(frozen=True)
class SlicerBuild:
    """One Slicer application package for one os/arch."""

    version: str
    revision: str
    stability: Stability
    os: str
    arch: str
    build_date: str
    size: int
    sha512: str
    package_id: str
    file_name: str = ""
    file_id: str = ""
    release: str = ""
    #: Newer than the managed Slicer's revision / its own revision.
    newer: bool = False
    current: bool = False

    @property
    def revision_number(self) -> int:
        return int(self.revision) if self.revision.isdigit() else -1

    @property
    def label(self) -> str:
        """``Slicer 5.10.0 (r34045, release)``."""
        return f"Slicer {self.version} (r{self.revision}, {self.stability.value})"

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version, "revision": self.revision, "stability": self.stability.value,
            "os": self.os, "arch": self.arch, "build_date": self.build_date or None, "size": self.size,
            "sha512": self.sha512 or None, "package_id": self.package_id, "file_name": self.file_name or None,
            "newer": self.newer, "current": self.current,
        }


def _version(meta: Mapping[str, Any]) -> str:
    """``meta.release`` when it is a version (``5.10.0``), else the version the build declared."""
    release = str(meta.get("release") or "")
    if _VERSION_RE.match(release):
        return release
    return str(meta.get("version") or release or "")


def build_from_item(item: Mapping[str, Any], current_revision: str) -> SlicerBuild | None:
    """A :class:`SlicerBuild` from a package item, or None for an item that is not one."""
    meta = item.get("meta")
    if not isinstance(meta, Mapping) or meta.get("app_revision") is not None:
        return None  # extensions carry app_revision
    revision, os_name, arch = str(meta.get("revision") or ""), str(meta.get("os") or ""), str(meta.get("arch") or "")
    if not (revision and os_name and arch):
        return None
    release = bool(meta.get("release")) and not meta.get("pre_release")
    size = item.get("size")
    current = revision == current_revision
    newer = revision.isdigit() and current_revision.isdigit() and int(revision) > int(current_revision)
    return SlicerBuild(
        version=_version(meta), revision=revision, stability=Stability.RELEASE if release else Stability.NIGHTLY,
        os=os_name, arch=arch, build_date=str(meta.get("build_date") or item.get("created") or ""),
        size=int(size) if isinstance(size, int) else 0, sha512=str(meta.get("sha512") or ""),
        package_id=str(item.get("_id") or ""), release=str(meta.get("release") or ""), newer=newer, current=current,
    )


def sort_newest_first(builds: Iterable[SlicerBuild]) -> list[SlicerBuild]:
    return sorted(builds, key=lambda b: (b.revision_number, b.build_date, b.package_id), reverse=True)


def select(builds: Iterable[SlicerBuild], stability: Stability = Stability.RELEASE,
           include_all: bool = False) -> list[SlicerBuild]:
    """The builds of ``stability`` (any: both), newest first; only newer ones unless ``include_all``.
    One build per revision: a release wins over the nightly of the same revision."""
    chosen: dict[str, SlicerBuild] = {}
    for build in sort_newest_first(builds):
        if stability != Stability.ANY and build.stability != stability:
            continue
        if not include_all and not build.newer:
            continue
        kept = chosen.get(build.revision)
        if kept is None or (kept.stability == Stability.NIGHTLY and build.stability == Stability.RELEASE):
            chosen[build.revision] = build
    return sort_newest_first(chosen.values())


def pick(builds: Sequence[SlicerBuild], wanted: str = "latest") -> SlicerBuild:
    """``latest`` (the newest), a version (``5.10`` → its newest build) or a revision (``34045``)."""
    ordered = sort_newest_first(builds)
    if not ordered:
        raise ExtensionManagerError("No Slicer build matches; list them with: slicer-ext-manager slicer-versions --all")
    wanted = (wanted or "latest").strip()
    if wanted == "latest":
        return ordered[0]
    if wanted.isdigit():
        found = [b for b in ordered if b.revision == wanted]
        what = f"revision {wanted}"
    else:
        found = [b for b in ordered if b.version == wanted or b.version.startswith(wanted + ".")]
        what = f"version {wanted}"
    if not found:
        raise ExtensionManagerError(
            f"The server has no Slicer {what} for this platform; list them with: slicer-ext-manager slicer-versions --all")
    return found[0]


def list_builds(client: SlicerPackagesClient, os_name: str, arch: str, current_revision: str) -> list[SlicerBuild]:
    """Every application package for ``os_name``/``arch`` (one request), newest first."""
    items = client.application_packages(os=os_name, arch=arch, limit=0)
    builds = (build_from_item(item, current_revision) for item in items)
    return sort_newest_first(b for b in builds if b is not None and b.os == os_name and b.arch == arch)


def with_files(client: SlicerPackagesClient, builds: Sequence[SlicerBuild]) -> list[SlicerBuild]:
    """The builds with their package file's name and id (``/item/{id}/files``, a few at a time)."""
    def one(build: SlicerBuild) -> SlicerBuild:
        try:
            record = client.package_file(build.package_id, build.label)
        except ServerError:
            return build
        return replace(build, file_name=str(record.get("name") or ""), file_id=str(record.get("_id") or ""),
                       sha512=build.sha512 or str(record.get("sha512") or ""),
                       size=build.size or int(record.get("size") or 0))

    if len(builds) <= 1:
        return [one(b) for b in builds]
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="package-files") as pool:
        return list(pool.map(one, builds))
