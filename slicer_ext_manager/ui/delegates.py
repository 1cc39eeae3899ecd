"""Delegates painting the list rows (no per-row widgets).

Colours come from the palette (so the platform's light/dark themes are followed),
except the warning colour of Slicer's manager (#bd8530) and red for failures.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from .models import DESCRIPTION_ROLE, PROGRESS_ROLE, ROW_ROLE, STATE_KIND_ROLE, STATE_TEXT_ROLE, ItemState, RowState

#: Slicer's warning colour (``qSlicerExtensionsLocalWidget``).
WARNING_COLOR = QColor("#bd8530")
#: Failures.
ERROR_COLOR = QColor("#c62828")
#: Success in the queue (readable on light and dark backgrounds).
SUCCESS_COLOR = QColor("#2e8b3e")

_PAD = 8


def _style(option: QStyleOptionViewItem) -> QStyle:
    return option.widget.style() if option.widget is not None else QApplication.style()


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` blended towards ``b`` by ``t`` (secondary text that follows the palette)."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def _colors(option: QStyleOptionViewItem) -> tuple[QColor, QColor, QPalette.ColorGroup]:
    """(main text, secondary text, colour group) for this row's state."""
    selected = bool(option.state & QStyle.StateFlag.State_Selected)
    enabled = bool(option.state & QStyle.StateFlag.State_Enabled)
    group = QPalette.ColorGroup.Normal if enabled else QPalette.ColorGroup.Disabled
    if enabled and not (option.state & QStyle.StateFlag.State_Active):
        group = QPalette.ColorGroup.Inactive
    pal = option.palette
    if selected:
        text = pal.color(group, QPalette.ColorRole.HighlightedText)
        back = pal.color(group, QPalette.ColorRole.Highlight)
    else:
        back = pal.color(group, QPalette.ColorRole.Base)
        if enabled:
            text = pal.color(group, QPalette.ColorRole.Text)
        else:
            # The palette's disabled text is often too faint to read: dim the normal text instead.
            text = _mix(pal.color(QPalette.ColorGroup.Normal, QPalette.ColorRole.Text), back, 0.45)
    return text, _mix(text, back, 0.38), group


def _draw_background(option: QStyleOptionViewItem, painter: QPainter, delegate: QStyledItemDelegate,
                     index: QModelIndex | QPersistentModelIndex, keep_check: bool = False) -> QStyleOptionViewItem:
    opt = QStyleOptionViewItem(option)
    delegate.initStyleOption(opt, index)
    opt.text = ""
    opt.icon = QIcon()
    opt.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDecoration
    if not keep_check:
        opt.features &= ~QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    _style(option).drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, option.widget)
    return opt


def _state_color(kind: str, secondary: QColor, option: QStyleOptionViewItem) -> QColor:
    if option.state & QStyle.StateFlag.State_Selected:
        return option.palette.color(QPalette.ColorRole.HighlightedText)
    try:
        state = RowState(kind)
    except ValueError:
        return secondary
    if state.is_warning:
        return WARNING_COLOR
    if state.is_info:
        return option.palette.color(QPalette.ColorRole.Link)
    return secondary


class ExtensionDelegate(QStyledItemDelegate):
    """Icon, bold name, category (right), one elided description line, state line."""

    def __init__(self, parent=None, icon_size: int = 48):
        super().__init__(parent)
        self.icon_size = icon_size

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        fm = QFontMetrics(option.font)
        bold = QFont(option.font)
        bold.setBold(True)
        lines = QFontMetrics(bold).height() + 2 * fm.height() + 4
        return QSize(320, max(self.icon_size, lines) + 2 * _PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        row = index.data(ROW_ROLE)
        if row is None:
            return super().paint(painter, option, index)
        painter.save()
        _draw_background(option, painter, self, index)
        text, secondary, _ = _colors(option)
        rect = option.rect.adjusted(_PAD, _PAD, -_PAD, -_PAD)
        dimmed = row.state in (RowState.INCOMPATIBLE, RowState.UNINSTALL_PENDING, RowState.DISABLED,
                               RowState.NOT_FOUND)

        icon = index.data(Qt.ItemDataRole.DecorationRole)
        icon_rect = QRect(rect.left(), rect.top() + (rect.height() - self.icon_size) // 2, self.icon_size, self.icon_size)
        if isinstance(icon, QIcon) and not icon.isNull():
            icon.paint(painter, icon_rect, Qt.AlignmentFlag.AlignCenter,
                       QIcon.Mode.Disabled if dimmed else QIcon.Mode.Normal)
        x = icon_rect.right() + _PAD + 4
        width = rect.right() - x
        if width <= 10:
            painter.restore()
            return

        bold = QFont(option.font)
        bold.setBold(True)
        bfm = QFontMetrics(bold)
        fm = QFontMetrics(option.font)
        description = index.data(DESCRIPTION_ROLE) or ""
        lines_height = bfm.height() + (2 * fm.height() + 4 if description else fm.height() + 2)
        y = rect.top() + max(0, (rect.height() - lines_height) // 2)

        # Line 1: name (bold) + category at the right.
        category = row.category
        painter.setFont(option.font)
        fm = painter.fontMetrics()
        painter.setFont(bold)
        bfm = painter.fontMetrics()
        cat_width = min(fm.horizontalAdvance(category) + 4, width // 3) if category else 0
        name_width = width - (cat_width + 12 if category else 0)
        painter.setFont(bold)
        painter.setPen(text)
        painter.drawText(QRect(x, y, name_width, bfm.height()), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         bfm.elidedText(row.name, Qt.TextElideMode.ElideRight, name_width))
        if category:
            painter.setFont(option.font)
            painter.setPen(secondary)
            painter.drawText(QRect(x + width - cat_width, y, cat_width, bfm.height()),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             fm.elidedText(category, Qt.TextElideMode.ElideLeft, cat_width))
        y += bfm.height() + 2

        # Line 2: description, elided to one line (none: name and state are centred).
        painter.setFont(option.font)
        if description:
            painter.setPen(text if not dimmed else secondary)
            painter.drawText(QRect(x, y, width, fm.height()), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             fm.elidedText(description, Qt.TextElideMode.ElideRight, width))
            y += fm.height() + 2

        # Line 3: state.
        painter.setPen(_state_color(row.state.value, secondary, option))
        painter.drawText(QRect(x, y, width, fm.height()), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         fm.elidedText(row.state_text, Qt.TextElideMode.ElideRight, width))
        painter.restore()


class QueueDelegate(QStyledItemDelegate):
    """Install tab row: icon, name + detail, status line, and a progress bar at the right."""

    BAR_WIDTH = 180

    def __init__(self, parent=None, icon_size: int = 32):
        super().__init__(parent)
        self.icon_size = icon_size

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        fm = QFontMetrics(option.font)
        bold = QFont(option.font)
        bold.setBold(True)
        return QSize(320, max(self.icon_size, QFontMetrics(bold).height() + fm.height() + 2) + 2 * _PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        item = index.data(ROW_ROLE)
        if item is None:
            return super().paint(painter, option, index)
        painter.save()
        _draw_background(option, painter, self, index)
        text, secondary, _ = _colors(option)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        rect = option.rect.adjusted(_PAD, _PAD, -_PAD, -_PAD)

        icon = index.data(Qt.ItemDataRole.DecorationRole)
        icon_rect = QRect(rect.left(), rect.top() + (rect.height() - self.icon_size) // 2, self.icon_size, self.icon_size)
        if isinstance(icon, QIcon) and not icon.isNull():
            icon.paint(painter, icon_rect, Qt.AlignmentFlag.AlignCenter)
        x = icon_rect.right() + _PAD + 4

        show_bar = item.state in (ItemState.QUEUED, ItemState.RUNNING)
        bar_width = min(self.BAR_WIDTH, max(60, rect.width() // 4)) if show_bar else 0
        width = rect.right() - x - (bar_width + _PAD if show_bar else 0)
        bold = QFont(option.font)
        bold.setBold(True)
        bfm = QFontMetrics(bold)
        fm = QFontMetrics(option.font)
        y = rect.top() + max(0, (rect.height() - (bfm.height() + fm.height() + 2)) // 2)

        painter.setFont(bold)
        painter.setPen(text)
        name = item.name
        name_w = min(bfm.horizontalAdvance(name), width)
        painter.drawText(QRect(x, y, name_w, bfm.height()), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         bfm.elidedText(name, Qt.TextElideMode.ElideRight, width))
        detail = index.data(DESCRIPTION_ROLE) or ""
        if detail and width - name_w > 40:
            painter.setFont(option.font)
            painter.setPen(secondary)
            dx = x + name_w + 10
            painter.drawText(QRect(dx, y, width - (dx - x), bfm.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             fm.elidedText(detail, Qt.TextElideMode.ElideRight, width - (dx - x)))
        y += bfm.height() + 2

        status = index.data(STATE_TEXT_ROLE) or ""
        kind = index.data(STATE_KIND_ROLE)
        color = secondary
        if not selected:
            if kind == ItemState.FAILED.value:
                color = ERROR_COLOR
            elif kind == ItemState.CANCELLED.value:
                color = WARNING_COLOR
            elif kind == ItemState.DONE.value:
                color = SUCCESS_COLOR
            elif kind == ItemState.RUNNING.value:
                color = text
        painter.setFont(option.font)
        painter.setPen(color)
        painter.drawText(QRect(x, y, width, fm.height()), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         fm.elidedText(status, Qt.TextElideMode.ElideRight, width))

        if show_bar:
            bar = QStyleOptionProgressBar()
            if option.widget is not None:
                bar.initFrom(option.widget)
            height = max(fm.height(), 14)
            bar.rect = QRect(rect.right() - bar_width, rect.top() + (rect.height() - height) // 2, bar_width, height)
            bar.minimum = 0
            bar.maximum = 1000
            bar.progress = int(index.data(PROGRESS_ROLE) or 0)
            bar.textVisible = True
            bar.text = f"{bar.progress // 10}%"
            bar.textAlignment = Qt.AlignmentFlag.AlignCenter
            bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
            bar.palette = option.palette
            _style(option).drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
        painter.restore()


class RestoreDelegate(QStyledItemDelegate):
    """Check box (the base delegate's, so clicking and Space work), bold name, state line."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        fm = QFontMetrics(option.font)
        bold = QFont(option.font)
        bold.setBold(True)
        return QSize(320, QFontMetrics(bold).height() + fm.height() + 2 + 2 * 6)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        row = index.data(ROW_ROLE)
        if row is None:
            return super().paint(painter, option, index)
        painter.save()
        opt = _draw_background(option, painter, self, index, keep_check=True)
        text, secondary, _ = _colors(option)
        text_rect = _style(option).subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, option.widget)
        rect = text_rect.adjusted(4, 6, -_PAD, -6)
        bold = QFont(option.font)
        bold.setBold(True)
        bfm = QFontMetrics(bold)
        fm = QFontMetrics(option.font)
        painter.setFont(bold)
        painter.setPen(text)
        name = row.candidate.name
        name_w = min(bfm.horizontalAdvance(name), rect.width())
        painter.drawText(QRect(rect.left(), rect.top(), name_w, bfm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         bfm.elidedText(name, Qt.TextElideMode.ElideRight, rect.width()))
        description = row.candidate.description
        if description and rect.width() - name_w > 60:
            painter.setFont(option.font)
            painter.setPen(secondary)
            dx = rect.left() + name_w + 12
            painter.drawText(QRect(dx, rect.top(), rect.right() - dx, bfm.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             fm.elidedText("— " + description, Qt.TextElideMode.ElideRight, rect.right() - dx))
        painter.setFont(option.font)
        kind = index.data(STATE_KIND_ROLE) or ""
        painter.setPen(_state_color(kind, secondary, option))
        painter.drawText(QRect(rect.left(), rect.top() + bfm.height() + 2, rect.width(), fm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         fm.elidedText(index.data(STATE_TEXT_ROLE) or "", Qt.TextElideMode.ElideRight, rect.width()))
        painter.restore()
