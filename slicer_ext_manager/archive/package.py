"""What a package is once its members are known: its description file, extension name,
macOS nesting, and the checks made on them before anything is installed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .. import conventions, s4ext
from ..conventions import PackageName
from ..errors import ArchiveError
from .limits import MAX_DESCRIPTION_SIZE
from .messages import show, unsafe
from .validation import FILE, Entry, Validator, check_link_scope


@dataclass(frozen=True)
class PackageInfo:
    """What a pass over a package learned from its members.

    ``s4ext_member`` and ``top_folder`` are normalized (``/`` separators, no ``.``
    components). ``s4ext`` is the in-package description parsed with
    :func:`slicer_ext_manager.s4ext.parse_text` (no ``installed`` default: it is not an
    installed record) plus ``extensionname``. ``expanded_size`` is the sum of the regular
    files' sizes (declared sizes for zip members).
    """

    path: Path
    format: str
    top_folder: str
    extension_name: str
    s4ext_member: str
    s4ext: dict[str, str]
    slicer_version: str | None
    macos_revision: str | None
    entry_count: int
    expanded_size: int
    name_fields: PackageName | None

    @property
    def root_member(self) -> str:
        """The folder (inside the archive) whose content is the extension: the top folder,
        or ``<top>/Slicer.app/Contents/Extensions-<rev>/<Name>`` for a macOS package."""
        return "/".join(root_parts(self))


def root_parts(info: PackageInfo) -> tuple[str, ...]:
    if info.macos_revision is None:
        return (info.top_folder,)
    return tuple(info.s4ext_member.split("/")[:5])


class DescriptionPicker:
    """Chooses the description file as :func:`conventions.choose_description` does (the
    first ``share/Slicer-X.Y/<Name>.s4ext``, else the first ``*.s4ext``), keeping the text
    of the candidates while the members stream by."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self.preferred: tuple[Entry, str] | None = None
        self.fallback: tuple[Entry, str] | None = None

    def wants(self, entry: Entry) -> bool:
        if entry.kind != FILE or not entry.parts[-1].endswith(".s4ext") or self.preferred is not None:
            return False
        return conventions.is_preferred_description(entry.member) or self.fallback is None

    def check_size(self, entry: Entry, size: int) -> None:
        if size > MAX_DESCRIPTION_SIZE:
            raise ArchiveError(
                f"The package {self.archive.name} has an oversized description file '{show(entry.raw)}'; "
                "it is not a valid extension package."
            )

    def offer(self, entry: Entry, data: bytes) -> None:
        self.check_size(entry, len(data))
        text = data.decode("utf-8", errors="replace")
        if conventions.is_preferred_description(entry.member):
            self.preferred = (entry, text)
        elif self.fallback is None:
            self.fallback = (entry, text)

    def tee(self, entry: Entry, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """``chunks`` unchanged; a wanted description is kept when its last chunk has gone by."""
        if not self.wants(entry):
            yield from chunks
            return
        self.check_size(entry, entry.size)
        data = bytearray()
        for chunk in chunks:
            data += chunk
            self.check_size(entry, len(data))
            yield chunk
        self.offer(entry, bytes(data))

    def read(self, entry: Entry, chunks: Callable[[int], Iterator[bytes]]) -> None:
        """Read a wanted description (inspection: nothing else is read)."""
        if self.wants(entry):
            self.check_size(entry, entry.size)
            self.offer(entry, b"".join(chunks(MAX_DESCRIPTION_SIZE)))

    @property
    def chosen(self) -> tuple[Entry, str] | None:
        return self.preferred or self.fallback


def _macos_revision(archive: Path, entry: Entry, name: str) -> str | None:
    revision = conventions.macos_revision(entry.parts)
    if revision is None:
        return None
    if not revision:
        raise ArchiveError(f"Corrupted {archive.name} extension package: '{show(entry.raw)}' has no revision.")
    if len(entry.parts) < 6 or entry.parts[4] != name:
        raise ArchiveError(
            f"Corrupted {name} extension package: its description file '{show(entry.raw)}' "
            f"is not in the folder of extension {name}."
        )
    return revision


def _extension_name(archive: Path, entry: Entry) -> str:
    name = conventions.extension_name_of_description(entry.parts[-1])
    if not name or any(not ch.isprintable() for ch in name):
        raise ArchiveError(
            f"Corrupted {archive.name} extension package: its description file '{show(entry.raw)}' "
            "has no extension name."
        )
    return name


def build_info(archive: Path, fmt: str, validator: Validator, picker: DescriptionPicker) -> PackageInfo:
    """The :class:`PackageInfo` once every member went through ``validator`` and ``picker``;
    refuses a package without entries or description, and a macOS package whose links
    leave the installed subtree."""
    if validator.count == 0:
        raise ArchiveError(f"The package {archive.name} doesn't contain any files; it is not a valid extension package.")
    chosen = picker.chosen
    if chosen is None:
        raise unsafe(archive, None, "it contains no extension description file (share/Slicer-X.Y/<Name>.s4ext)")
    entry, text = chosen
    name = _extension_name(archive, entry)
    macos_revision = _macos_revision(archive, entry, name)
    if macos_revision is not None:
        root = entry.parts[:5]
        for link in validator.links:  # now that the installed subtree is known
            check_link_scope(archive, link, root)
    description = s4ext.parse_text(text, installed_default=False)
    description["extensionname"] = name
    return PackageInfo(
        path=archive,
        format=fmt,
        top_folder=validator.top or "",
        extension_name=name,
        s4ext_member=entry.member,
        s4ext=description,
        slicer_version=conventions.description_slicer_version(entry.member),
        macos_revision=macos_revision,
        entry_count=validator.count,
        expanded_size=validator.expanded,
        name_fields=conventions.parse_package_name(archive.name),
    )


def check_app_revision(archive: Path, info: PackageInfo, app_revision: str | None) -> None:
    """A macOS package names the Slicer revision it was built for in its nesting."""
    if app_revision is not None and info.macos_revision is not None and str(app_revision) != info.macos_revision:
        raise ArchiveError(
            f"The package {archive.name} was built for Slicer revision {info.macos_revision}, "
            f"but this Slicer is revision {app_revision}; install the package built for this revision."
        )


def check_expected_name(archive: Path, info: PackageInfo, expected_name: str | None) -> None:
    if expected_name is not None and info.extension_name != expected_name:
        raise ArchiveError(
            f"The package {archive.name} contains extension {info.extension_name}, "
            f"not {expected_name}; it was not installed."
        )
