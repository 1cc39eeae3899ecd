"""``tasks.TaskRunner`` with the module's ``qt.QTimer`` under a real PythonQt: Python threads do
the work (a ``QThread`` cannot run Python here), the Qt event loop delivers on the GUI thread."""

from __future__ import annotations

import threading

from slicer_ext_manager.slicermodule.host import qt_timer_factory
from slicer_ext_manager.tasks import TaskRunner

from .slicer_env import wait_for


def test_the_qt_timer_delivers_results_on_the_gui_thread():
    runner = TaskRunner(qt_timer_factory)
    gui = threading.get_ident()
    got = []

    def work(task):
        task.emit(threading.get_ident())
        return "done"

    runner.submit(work, on_event=lambda worker: got.append(("event", worker != gui, threading.get_ident() == gui)),
                  on_result=lambda value: got.append((value, threading.get_ident() == gui)))
    assert runner._timer.timer.isActive()
    wait_for(lambda: len(got) == 2, timeout=30, what="the delivery")
    assert got == [("event", True, True), ("done", True)]
    wait_for(lambda: not runner._timer.timer.isActive(), timeout=30, what="the idle timer to stop")
    runner.shutdown(wait=5)
    assert runner._timer.timer is None  # the QTimer and its Python slot are gone
