"""Item data roles shared by the models, the filter proxy and the delegates."""

from __future__ import annotations

from PySide6.QtCore import Qt

_USER = Qt.ItemDataRole.UserRole

#: The row object itself (:class:`~.rows.ExtensionRow`, :class:`~.queue_model.QueueItem`…).
ROW_ROLE = _USER + 1
#: Lower-case text the filter matches with the core matcher (``None``: a section header).
SEARCH_TEXT_ROLE = _USER + 2
CATEGORY_ROLE = _USER + 3
#: The state line as shown (the queue's activity when the extension is being installed).
STATE_TEXT_ROLE = _USER + 4
#: A :class:`~.rows.RowState` / :class:`~.queue_model.ItemState` value (colours).
STATE_KIND_ROLE = _USER + 5
DESCRIPTION_ROLE = _USER + 6
#: Progress of a queue item, 0..1000.
PROGRESS_ROLE = _USER + 7
#: True for section header rows.
HEADER_ROLE = _USER + 8
