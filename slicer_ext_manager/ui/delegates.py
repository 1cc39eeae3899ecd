"""Delegates painting the list rows (no per-row widgets).

Colours come from the palette (so light and dark themes are followed), except Slicer's
warning colour (#bd8530), red for failures, green for success and gold for the bookmark
star. Rows are painted from the row object (one ``ROW_ROLE`` read) plus the state line,
so a repaint asks the model very little.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QWidget,
)

from .queue_model import ItemState, QueueItem
from .roles import DESCRIPTION_ROLE, PROGRESS_ROLE, ROW_ROLE, STATE_KIND_ROLE, STATE_TEXT_ROLE
from .rows import ExtensionRow, HeaderRow, RowState

Index = QModelIndex | QPersistentModelIndex

#: Slicer's warning colour (``qSlicerExtensionsLocalWidget``).
WARNING_COLOR = QColor("#bd8530")
ERROR_COLOR = QColor("#c62828")
#: Success in the queue (readable on light and dark backgrounds).
SUCCESS_COLOR = QColor("#2e8b3e")
STAR_COLOR = QColor("#d4a017")
STAR = "\u2605"
_PAD = 8
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _style(option: QStyleOptionViewItem) -> QStyle:
    return option.widget.style() if option.widget is not None else QApplication.style()


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` blended towards ``b`` by ``t`` (secondary text that follows the palette)."""
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


def _selected(option: QStyleOptionViewItem) -> bool:
    return bool(option.state & QStyle.StateFlag.State_Selected)


def colors(option: QStyleOptionViewItem, *, dimmed: bool = False) -> tuple[QColor, QColor]:
    """(main text, secondary text) for a row, from the palette."""
    pal = option.palette
    active = bool(option.state & QStyle.StateFlag.State_Active)
    group = QPalette.ColorGroup.Normal if active else QPalette.ColorGroup.Inactive
    if _selected(option):
        text = pal.color(group, QPalette.ColorRole.HighlightedText)
        back = pal.color(group, QPalette.ColorRole.Highlight)
    else:
        text = pal.color(group, QPalette.ColorRole.Text)
        back = pal.color(group, QPalette.ColorRole.Base)
        if dimmed:  # the palette's disabled text is often too faint to read
            text = _mix(text, back, 0.42)
    return text, _mix(text, back, 0.38)


def draw_background(option: QStyleOptionViewItem, painter: QPainter) -> None:
    """Selection and hover background as the style draws it (the view drew the alternate base)."""
    opt = QStyleOptionViewItem(option)
    opt.features &= ~(QStyleOptionViewItem.ViewItemFeature.HasDecoration
                      | QStyleOptionViewItem.ViewItemFeature.HasDisplay
                      | QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator)
    _style(option).drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, option.widget)


def draw_focus(option: QStyleOptionViewItem, painter: QPainter) -> None:
    """The keyboard focus: a dotted frame in the row's text colour (visible on the selection,
    where a style's focus frame in the highlight colour is not)."""
    if not option.state & QStyle.StateFlag.State_HasFocus:
        return
    text, _secondary = colors(option)
    pen = QPen(text, 1, Qt.PenStyle.DotLine)
    painter.save()
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(option.rect.adjusted(2, 2, -3, -3))
    painter.restore()


def state_color(kind: str, secondary: QColor, option: QStyleOptionViewItem) -> QColor:
    if _selected(option):
        return option.palette.color(QPalette.ColorRole.HighlightedText)
    try:
        state = RowState(kind)
    except ValueError:
        return secondary
    if state == RowState.FAILED:
        return ERROR_COLOR
    if state.is_warning:
        return WARNING_COLOR
    if state.is_info:
        return option.palette.color(QPalette.ColorRole.Link)
    return secondary


def _bold(font: QFont) -> QFont:
    bold = QFont(font)
    bold.setBold(True)
    return bold


def draw_header(painter: QPainter, option: QStyleOptionViewItem, title: str) -> None:
    """A section title: bold secondary text over a thin line."""
    text, secondary = colors(option)
    font = _bold(option.font)
    painter.setFont(font)
    painter.setPen(secondary)
    rect = option.rect.adjusted(_PAD, 0, -_PAD, -4)
    painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, title)
    painter.setPen(QPen(_mix(secondary, text, 0.0), 1))
    y = option.rect.bottom() - 1
    painter.drawLine(option.rect.left() + _PAD, y, option.rect.right() - _PAD, y)


def draw_badge(painter: QPainter, x: int, y: int, height: int, text: str, color: QColor, font: QFont) -> int:
    """A small outlined label (e.g. "Disabled"); returns its width."""
    small = QFont(font)
    small.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
    fm = QFontMetrics(small)
    width = fm.horizontalAdvance(text) + 10
    rect = QRectF(x, y + (height - fm.height() - 2) / 2, width, fm.height() + 2)
    painter.setFont(small)
    painter.setPen(QPen(color, 1))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(rect, 3, 3)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.setFont(font)
    return width


class _PixmapCache:
    """Rendered rows by key, least recently used first out, bounded in bytes."""

    def __init__(self, limit_bytes: int = 24 * 1024 * 1024):
        self.limit = limit_bytes
        self._items: OrderedDict[tuple, tuple[object, QPixmap]] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple, owner: object) -> QPixmap | None:
        found = self._items.get(key)
        if found is None or found[0] is not owner:  # the key holds an id(): check it is the same row
            return None
        self._items.move_to_end(key)
        return found[1]

    def put(self, key: tuple, owner: object, pixmap: QPixmap) -> None:
        size = pixmap.width() * pixmap.height() * 4
        self._items[key] = (owner, pixmap)
        self._bytes += size
        while self._bytes > self.limit and len(self._items) > 1:
            _key, (_owner, old) = self._items.popitem(last=False)
            self._bytes -= old.width() * old.height() * 4


class ExtensionDelegate(QStyledItemDelegate):
    """Icon, bold name (a star when bookmarked, a "Disabled" badge), category at the right,
    one description line and the state line; section headers as titles. A row is drawn
    once into a pixmap and reused while it does not change (typing in the search box
    shows the same rows again and again)."""

    def __init__(self, parent: QWidget | None = None, icon_size: int = 48):
        super().__init__(parent)
        self.icon_size = icon_size
        self._cache = _PixmapCache()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802 (Qt name)
        fm = QFontMetrics(option.font)
        bold = QFontMetrics(_bold(option.font)).height()
        if isinstance(index.data(ROW_ROLE), HeaderRow):
            return QSize(320, bold + 14)
        return QSize(320, max(self.icon_size, bold + 2 * fm.height() + 4) + 2 * _PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        row = index.data(ROW_ROLE)
        if isinstance(row, HeaderRow):
            painter.save()
            draw_header(painter, option, row.title)
            painter.restore()
            return
        if not isinstance(row, ExtensionRow):
            return super().paint(painter, option, index)
        draw_background(option, painter)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        state_text = index.data(STATE_TEXT_ROLE) or row.state_text
        kind = index.data(STATE_KIND_ROLE) or row.kind.value
        ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        size = option.rect.size()
        key = (id(row), state_text, kind, size.width(), size.height(), ratio, option.state.value,
               option.palette.cacheKey(), icon.cacheKey() if isinstance(icon, QIcon) else 0)
        pixmap = self._cache.get(key, row)
        if pixmap is None:
            pixmap = QPixmap(size * ratio)
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            local = QStyleOptionViewItem(option)
            local.rect = QRect(0, 0, size.width(), size.height())
            canvas = QPainter(pixmap)
            self._paint_row(canvas, local, row, icon, kind, state_text)
            canvas.end()
            self._cache.put(key, row, pixmap)
        painter.drawPixmap(option.rect.topLeft(), pixmap)
        draw_focus(option, painter)

    def _paint_row(self, painter: QPainter, option: QStyleOptionViewItem, row: ExtensionRow, icon: object,
                   kind: str, state_text: str) -> None:
        dimmed = row.kind.dimmed and kind == row.kind.value
        text, secondary = colors(option, dimmed=dimmed)
        rect = option.rect.adjusted(_PAD, _PAD, -_PAD, -_PAD)
        icon_rect = QRect(rect.left(), rect.top() + (rect.height() - self.icon_size) // 2, self.icon_size,
                          self.icon_size)
        if isinstance(icon, QIcon):
            icon.paint(painter, icon_rect, Qt.AlignmentFlag.AlignCenter,
                       QIcon.Mode.Disabled if dimmed else QIcon.Mode.Normal)
        x = icon_rect.right() + _PAD + 4
        width = rect.right() - x
        if width > 10:
            self._paint_text(painter, option, row, x, width, rect, text, secondary, kind, state_text)

    def _paint_text(self, painter: QPainter, option: QStyleOptionViewItem, row: ExtensionRow, x: int, width: int,
                    rect: QRect, text: QColor, secondary: QColor, kind: str, state_text: str) -> None:
        bold = _bold(option.font)
        bfm, fm = QFontMetrics(bold), QFontMetrics(option.font)
        description = row.short_description
        lines_height = bfm.height() + (2 * fm.height() + 4 if description else fm.height() + 2)
        y = rect.top() + max(0, (rect.height() - lines_height) // 2)
        self._paint_name_line(painter, option, row, x, y, width, text, secondary)
        y += bfm.height() + 2
        painter.setFont(option.font)
        if description:
            painter.setPen(text if not row.kind.dimmed else secondary)
            painter.drawText(QRect(x, y, width, fm.height()), _LEFT,
                             fm.elidedText(description, Qt.TextElideMode.ElideRight, width))
            y += fm.height() + 2
        painter.setPen(state_color(kind, secondary, option))
        painter.drawText(QRect(x, y, width, fm.height()), _LEFT,
                         fm.elidedText(state_text, Qt.TextElideMode.ElideRight, width))

    def _paint_name_line(self, painter: QPainter, option: QStyleOptionViewItem, row: ExtensionRow, x: int, y: int,
                         width: int, text: QColor, secondary: QColor) -> None:
        bold = _bold(option.font)
        bfm, fm = QFontMetrics(bold), QFontMetrics(option.font)
        category = row.category
        cat_width = min(fm.horizontalAdvance(category) + 4, width // 3) if category else 0
        name_space = width - (cat_width + 12 if category else 0)
        painter.setFont(bold)
        painter.setPen(text)
        name = bfm.elidedText(row.name, Qt.TextElideMode.ElideRight, max(0, name_space - 90))
        painter.drawText(QRect(x, y, name_space, bfm.height()), _LEFT, name)
        after = x + bfm.horizontalAdvance(name) + 6
        if row.bookmarked:
            painter.setPen(text if _selected(option) else STAR_COLOR)
            painter.drawText(QRect(after, y, bfm.height() + 4, bfm.height()), _LEFT, STAR)
            after += bfm.horizontalAdvance(STAR) + 6
        if row.installed and not row.enabled:
            draw_badge(painter, after, y, bfm.height(), "Disabled", secondary, option.font)
        if category:
            painter.setFont(option.font)
            painter.setPen(secondary)
            painter.drawText(QRect(x + width - cat_width, y, cat_width, bfm.height()), _RIGHT,
                             fm.elidedText(category, Qt.TextElideMode.ElideLeft, cat_width))


_QUEUE_LINES = 4  # lines of a failure's reason shown in the row


class QueueDelegate(QStyledItemDelegate):
    """Install tab row: icon, name + detail, status line (a failure's reason wrapped over
    several lines), and a progress bar at the right while waiting or running."""

    BAR_WIDTH = 180

    def __init__(self, parent: QWidget | None = None, icon_size: int = 32):
        super().__init__(parent)
        self.icon_size = icon_size

    def _text_width(self, option: QStyleOptionViewItem) -> int:
        view = self.parent()
        width = view.viewport().width() if isinstance(view, QWidget) and hasattr(view, "viewport") else 0
        width = width or option.rect.width() or 500
        return max(100, width - 2 * _PAD - self.icon_size - _PAD - 4)

    def _wrapped(self, option: QStyleOptionViewItem, item: QueueItem) -> bool:
        return item.state in (ItemState.FAILED, ItemState.CANCELLED) and bool(item.message)

    def _status_height(self, option: QStyleOptionViewItem, item: QueueItem, status: str) -> int:
        fm = QFontMetrics(option.font)
        if not self._wrapped(option, item):
            return fm.height()
        box = fm.boundingRect(QRect(0, 0, self._text_width(option), 10_000), Qt.TextFlag.TextWordWrap, status)
        return min(box.height(), _QUEUE_LINES * fm.lineSpacing())

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802 (Qt name)
        item = index.data(ROW_ROLE)
        bold = QFontMetrics(_bold(option.font)).height()
        status = self._status_height(option, item, index.data(STATE_TEXT_ROLE) or "") if item else bold
        return QSize(320, max(self.icon_size, bold + status + 2) + 2 * _PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        item = index.data(ROW_ROLE)
        if not isinstance(item, QueueItem):
            return super().paint(painter, option, index)
        painter.save()
        draw_background(option, painter)
        text, secondary = colors(option)
        rect = option.rect.adjusted(_PAD, _PAD, -_PAD, -_PAD)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        icon_rect = QRect(rect.left(), rect.top() + min(4, (rect.height() - self.icon_size) // 2), self.icon_size,
                          self.icon_size)
        if isinstance(icon, QIcon):
            icon.paint(painter, icon_rect, Qt.AlignmentFlag.AlignCenter)
        x = icon_rect.right() + _PAD + 4
        show_bar = item.state.active
        bar_width = min(self.BAR_WIDTH, max(60, rect.width() // 4)) if show_bar else 0
        width = rect.right() - x - (bar_width + _PAD if show_bar else 0)
        y = self._paint_title(painter, option, index, item, x, rect.top(), width, text, secondary)
        status = index.data(STATE_TEXT_ROLE) or ""
        painter.setFont(option.font)
        painter.setPen(self._status_color(option, item, text, secondary))
        fm = QFontMetrics(option.font)
        if self._wrapped(option, item):
            height = self._status_height(option, item, status)
            painter.drawText(QRect(x, y, width, height), Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignTop, status)
        else:
            painter.drawText(QRect(x, y, width, fm.height()), _LEFT,
                             fm.elidedText(status, Qt.TextElideMode.ElideRight, width))
        if show_bar:
            self._paint_bar(painter, option, index, rect, bar_width, fm)
        draw_focus(option, painter)
        painter.restore()

    def _paint_title(self, painter: QPainter, option: QStyleOptionViewItem, index: Index, item: QueueItem, x: int,
                     y: int, width: int, text: QColor, secondary: QColor) -> int:
        bold = _bold(option.font)
        bfm, fm = QFontMetrics(bold), QFontMetrics(option.font)
        painter.setFont(bold)
        painter.setPen(text)
        name_w = min(bfm.horizontalAdvance(item.name), width)
        painter.drawText(QRect(x, y, name_w, bfm.height()), _LEFT,
                         bfm.elidedText(item.name, Qt.TextElideMode.ElideRight, width))
        detail = index.data(DESCRIPTION_ROLE) or ""
        if detail and width - name_w > 40:
            painter.setFont(option.font)
            painter.setPen(secondary)
            dx = x + name_w + 10
            painter.drawText(QRect(dx, y, width - (dx - x), bfm.height()), _LEFT,
                             fm.elidedText(detail, Qt.TextElideMode.ElideRight, width - (dx - x)))
        return y + bfm.height() + 2

    @staticmethod
    def _status_color(option: QStyleOptionViewItem, item: QueueItem, text: QColor, secondary: QColor) -> QColor:
        if _selected(option):
            return text
        return {ItemState.FAILED: ERROR_COLOR, ItemState.CANCELLED: WARNING_COLOR, ItemState.DONE: SUCCESS_COLOR,
                ItemState.RUNNING: text}.get(item.state, secondary)

    @staticmethod
    def _paint_bar(painter: QPainter, option: QStyleOptionViewItem, index: Index, rect: QRect, bar_width: int,
                   fm: QFontMetrics) -> None:
        bar = QStyleOptionProgressBar()
        if option.widget is not None:
            bar.initFrom(option.widget)
        height = max(fm.height(), 14)
        bar.rect = QRect(rect.right() - bar_width, rect.top() + (rect.height() - height) // 2, bar_width, height)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(index.data(PROGRESS_ROLE) or 0)
        bar.textVisible = True
        bar.text = f"{bar.progress // 10}%"
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.palette = option.palette
        _style(option).drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)


def draw_check(painter: QPainter, option: QStyleOptionViewItem, rect: QRect, checked: bool, enabled: bool) -> None:
    """A check box drawn from the text colour, so it is visible on dark palettes too."""
    text, secondary = colors(option, dimmed=not enabled)
    side = min(rect.width(), rect.height(), 18)
    box = QRectF(rect.left() + (rect.width() - side) / 2 + 0.5, rect.top() + (rect.height() - side) / 2 + 0.5,
                 side - 1, side - 1)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(text if enabled else secondary, 1.4))
    painter.setBrush(option.palette.color(QPalette.ColorRole.Base) if not checked
                     else option.palette.color(QPalette.ColorRole.Highlight))
    painter.drawRoundedRect(box, 3, 3)
    if checked:
        pen = QPen(option.palette.color(QPalette.ColorRole.HighlightedText), 2.0)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        s = box.width()
        painter.drawPolyline([box.topLeft() + p for p in (
            QPointF(0.22 * s, 0.52 * s), QPointF(0.42 * s, 0.72 * s), QPointF(0.78 * s, 0.3 * s))])


class RestoreDelegate(QStyledItemDelegate):
    """Check box (clicking and Space toggle it as in any list), bold name with a star when
    bookmarked, the description, and the state line."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802 (Qt name)
        fm = QFontMetrics(option.font)
        return QSize(320, QFontMetrics(_bold(option.font)).height() + fm.height() + 2 + 2 * 6)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        row = index.data(ROW_ROLE)
        if row is None:
            return super().paint(painter, option, index)
        painter.save()
        draw_background(option, painter)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        style = _style(option)
        selectable = row.candidate.selectable
        checked = index.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked.value
        check = style.subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, opt, option.widget)
        draw_check(painter, option, check, checked and selectable, selectable)
        text, secondary = colors(option, dimmed=not selectable)
        rect = QRect(check.right() + _PAD, option.rect.top() + 6, option.rect.right() - check.right() - 2 * _PAD,
                     option.rect.height() - 12)
        self._paint_lines(painter, option, index, row, rect, text, secondary)
        draw_focus(option, painter)
        painter.restore()

    @staticmethod
    def _paint_lines(painter: QPainter, option: QStyleOptionViewItem, index: Index, row, rect: QRect, text: QColor,
                     secondary: QColor) -> None:
        bold = _bold(option.font)
        bfm, fm = QFontMetrics(bold), QFontMetrics(option.font)
        painter.setFont(bold)
        painter.setPen(text)
        name = row.candidate.name
        name_w = min(bfm.horizontalAdvance(name), rect.width())
        painter.drawText(QRect(rect.left(), rect.top(), name_w, bfm.height()), _LEFT,
                         bfm.elidedText(name, Qt.TextElideMode.ElideRight, rect.width()))
        dx = rect.left() + name_w + 6
        if row.candidate.bookmarked:
            painter.setPen(text if _selected(option) else STAR_COLOR)
            painter.drawText(QRect(dx, rect.top(), bfm.height() + 4, bfm.height()), _LEFT, STAR)
            dx += bfm.horizontalAdvance(STAR) + 6
        description = row.candidate.description
        if description and rect.right() - dx > 60:
            painter.setFont(option.font)
            painter.setPen(secondary)
            painter.drawText(QRect(dx + 6, rect.top(), rect.right() - dx - 6, bfm.height()), _LEFT,
                             fm.elidedText("— " + description, Qt.TextElideMode.ElideRight, rect.right() - dx - 6))
        painter.setFont(option.font)
        kind = index.data(STATE_KIND_ROLE) or ""
        color = state_color(kind, secondary, option)
        if kind == RowState.UNKNOWN.value:
            italic = QFont(option.font)
            italic.setItalic(True)
            painter.setFont(italic)
        painter.setPen(color)
        painter.drawText(QRect(rect.left(), rect.top() + bfm.height() + 2, rect.width(), fm.height()), _LEFT,
                         fm.elidedText(index.data(STATE_TEXT_ROLE) or "", Qt.TextElideMode.ElideRight, rect.width()))
