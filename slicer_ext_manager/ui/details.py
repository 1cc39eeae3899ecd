"""The details pane of the Search tab: description, links, the dependencies as a tree with
their installed state, and the screenshots inline (loaded in the background through the
core client, cached on disk like the icons)."""

from __future__ import annotations

import html
from typing import Callable

from PySide6.QtCore import QSize, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage, QTextDocument
from PySide6.QtWidgets import QTextBrowser, QWidget

from ..state import ExtensionState
from .icons import device_ratio
from .images import ImageLoader
from .rows import ExtensionRow, version_text

Lookup = Callable[[str], "ExtensionState | None"]
ICON_URL = "icon://current"
SCREENSHOT_WIDTH = 360
MAX_DEPTH = 6


def _link(url: str, text: str | None = None) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(text or url)}</a>'


def dependency_state(s: ExtensionState | None) -> str:
    """A dependency's state in words."""
    if s is None or (not s.installed and not s.in_catalog):
        return "not found for this Slicer"
    if s.installed:
        return "installed" + ("" if s.enabled else ", disabled")
    if not s.compatible:
        return "not installable on this Slicer"
    return "not installed — installed with it"


def dependency_tree_html(depends: tuple[str, ...], lookup: Lookup, seen: frozenset[str] = frozenset(),
                         depth: int = 0) -> str:
    """Nested lists: each dependency, its state, and its own dependencies (cycles cut)."""
    if not depends or depth >= MAX_DEPTH:
        return ""
    items = []
    for name in depends:
        s = lookup(name)
        colour = "#2e8b3e" if s is not None and s.installed else "#bd8530"
        line = f"<b>{html.escape(name)}</b> — <span style='color:{colour}'>{html.escape(dependency_state(s))}</span>"
        if name in seen:
            line += " (depends on an extension above: a cycle)"
        elif s is not None:
            line += dependency_tree_html(s.metadata.depends, lookup, seen | {name}, depth + 1)
        items.append(f"<li>{line}</li>")
    return "<ul style='margin-top:0; margin-left:-20px'>" + "".join(items) + "</ul>"


def _facts(row: ExtensionRow) -> list[tuple[str, str]]:
    esc, s, meta = html.escape, row.state, row.metadata
    facts: list[tuple[str, str]] = []
    if meta.homepage:
        facts.append(("Homepage", _link(meta.homepage)))
    if meta.contributors:
        facts.append(("Contributors", esc(meta.contributors)))
    if s.server_metadata is not None:
        facts.append(("Revision", esc(version_text(s.server_metadata.revision, s.server_metadata.updated))))
    if s.installed_metadata is not None:
        installed = version_text(s.installed_metadata.revision, s.installed_metadata.updated)
        if s.server_metadata is None or installed != facts[-1][1]:
            facts.append(("Installed", esc(installed)))
    if row.changelog_url:
        facts.append(("Change log", _link(row.changelog_url, "Change log...")))
    if meta.scmurl:
        facts.append(("Source", _link(meta.scmurl)))
    if meta.keywords:
        facts.append(("Keywords", esc(", ".join(meta.keywords))))
    return facts


def details_html(row: ExtensionRow, app_revision: str, *, lookup: Lookup | None = None, icon_url: str = "",
                 screenshots: dict[str, str] | None = None, state_text: str = "") -> str:
    """The details pane's rich text (links open in the browser). ``screenshots``: URL ->
    the document resource of each one loaded so far ("" when it could not be loaded)."""
    esc, s, meta = html.escape, row.state, row.metadata
    title = f"<h2 style='margin:0'>{esc(row.name)}{' ★' if s.bookmarked else ''}</h2>"
    if meta.category:
        title += f"<div>{esc(meta.category)}</div>"
    parts = [f"<table cellspacing='0' cellpadding='0'><tr><td valign='middle' style='padding-right:10px'>"
             f"<img src='{icon_url}' width='64' height='64'></td><td valign='middle'>{title}</td></tr></table>"
             if icon_url else title]
    state = esc(state_text or row.state_text)
    parts.append(f"<p><b><span style='color:#bd8530'>{state}</span></b></p>" if row.kind.is_warning
                 else f"<p><b>{state}</b></p>")
    if meta.description:
        parts.append(f"<p>{esc(meta.description).replace(chr(10), '<br>')}</p>")
    facts = _facts(row)
    if facts:
        parts.append("<table cellspacing='0' cellpadding='3'>" + "".join(
            f"<tr><td valign='top'><b>{esc(label)}</b></td><td>{value}</td></tr>" for label, value in facts)
            + "</table>")
    if meta.depends:
        tree = dependency_tree_html(meta.depends, lookup or (lambda _n: None), frozenset({row.name}))
        parts.append(f"<p style='margin-bottom:0'><b>Dependencies</b></p>{tree}")
    if not s.compatible and s.reasons and not s.installed:
        parts.append(f"<p style='color:#bd8530'>Not installable on Slicer r{esc(app_revision)}: "
                     f"{esc('; '.join(s.reasons))}</p>")
    if meta.screenshots:
        shots = screenshots or {}
        cells = [f"<a href='{esc(u, quote=True)}'><img src='{shots[u]}' width='{SCREENSHOT_WIDTH}'></a>"
                 if shots.get(u) else
                 _link(u, f"Screenshot {i + 1} ({'could not be loaded; open it in the browser' if u in shots else 'loading…'})")
                 for i, u in enumerate(meta.screenshots)]
        parts.append("<p><b>Screenshots</b></p><p>" + "<br><br>".join(cells) + "</p>")
    return "".join(parts)


class DetailsPane(QTextBrowser):
    """Shows one :class:`~.rows.ExtensionRow`; screenshots appear as they arrive."""

    #: A screenshot of the shown extension could not be loaded (URL, sentence).
    screenshotFailed = Signal(str, str)

    def __init__(self, icons, images: ImageLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("details")
        self.setAccessibleName("Extension details")
        self.setOpenExternalLinks(False)
        self.setOpenLinks(False)
        self.anchorClicked.connect(QDesktopServices.openUrl)
        self.setFrameShape(QTextBrowser.Shape.NoFrame)
        self._icons = icons
        self._images = images
        self._row: ExtensionRow | None = None
        self._state_text = ""
        self._render: Callable[[], str] | None = None
        self._shots: dict[str, str] = {}  # URL -> resource name ("" = failed), this session
        images.loaded.connect(self._on_image)
        images.failed.connect(self._on_failed)
        icons.iconReady.connect(lambda _key: self._refresh())

    @property
    def row(self) -> ExtensionRow | None:
        return self._row

    def showing(self, row: ExtensionRow, state_text: str) -> bool:
        """This very row (same state) is shown already."""
        return self._row is row and self._state_text == state_text

    def show_placeholder(self, text: str) -> None:
        self._row, self._render, self._state_text = None, None, ""
        self.setHtml(f"<p style='color:gray'>{html.escape(text)}</p>" if text else "")

    def show_row(self, row: ExtensionRow, app_revision: str, lookup: Lookup, state_text: str = "") -> None:
        self._row, self._state_text = row, state_text
        self._render = lambda: details_html(row, app_revision, lookup=lookup, icon_url=ICON_URL,
                                            screenshots=self._shots, state_text=state_text)
        px = int(SCREENSHOT_WIDTH * max(1.0, device_ratio()))
        for url in row.metadata.screenshots:
            if url not in self._shots:
                self._images.request(url, QSize(px, px), url=url)
        self._refresh()

    def _refresh(self) -> None:
        if self._row is None or self._render is None:
            return
        icon = self._icons.icon(self._row.iconurl, self._row.icon_file)
        image = icon.pixmap(QSize(64, 64), max(1.0, self.devicePixelRatioF())).toImage()
        self.document().addResource(QTextDocument.ResourceType.ImageResource, QUrl(ICON_URL), image)
        bar = self.verticalScrollBar()
        position = bar.value()
        self.setHtml(self._render())
        bar.setValue(position)

    def _on_image(self, url: str, image: QImage) -> None:
        resource = f"shot://{len(self._shots)}"
        image.setDevicePixelRatio(max(1.0, image.width() / SCREENSHOT_WIDTH))
        self.document().addResource(QTextDocument.ResourceType.ImageResource, QUrl(resource), image)
        self._shots[url] = resource
        if self._row is not None and url in self._row.metadata.screenshots:
            self._refresh()

    def _on_failed(self, url: str, message: str) -> None:
        self._shots[url] = ""
        if self._row is not None and url in self._row.metadata.screenshots:
            self.screenshotFailed.emit(url, message)
            self._refresh()
