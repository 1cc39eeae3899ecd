"""``tasks.TaskRunner``: Python worker threads, results, errors and events delivered on the thread
that polls. Binding-neutral (a manual timer): run by the CPython suite and by the PythonQt lane."""

from __future__ import annotations

import threading
import time

import pytest

from slicer_ext_manager.errors import InstallError
from slicer_ext_manager.tasks import TaskRunner, error_sentence


class ManualTimer:
    """The timer a GUI would give: here the test polls itself; start/stop are recorded."""

    def __init__(self, interval_ms, callback):
        self.interval_ms = interval_ms
        self.callback = callback
        self.running = False
        self.starts = 0
        self.closed = False

    def start(self):
        self.running = True
        self.starts += 1

    def stop(self):
        self.running = False

    def close(self):
        self.closed = True


@pytest.fixture
def runner():
    timers = []

    def factory(interval, callback):
        timers.append(ManualTimer(interval, callback))
        return timers[-1]

    r = TaskRunner(factory, interval_ms=25)
    r.timers = timers  # type: ignore[attr-defined]
    yield r
    r.shutdown(wait=5)


def test_the_work_runs_off_the_polling_thread_and_its_results_arrive_on_it(runner):
    gui = threading.get_ident()
    seen = {}

    def work(task):
        seen["worker"] = threading.get_ident()
        task.emit("half")
        task.emit("almost")
        return 42

    events, results, done = [], [], []
    runner.submit(work, on_event=lambda e: events.append((e, threading.get_ident())),
                  on_result=lambda v: results.append((v, threading.get_ident())), on_done=lambda: done.append(1))
    timer = runner.timers[0]
    assert timer.running and timer.interval_ms == 25
    assert runner.wait_idle(30)
    assert seen["worker"] != gui
    assert events == [("half", gui), ("almost", gui)] and results == [(42, gui)] and done == [1]
    assert not timer.running  # idle: the timer stops until the next task
    timer.callback()  # a tick after the fact is harmless


def test_a_failure_arrives_as_one_sentence(runner):
    errors = []

    def fails(_task):
        raise InstallError("ToolBase could not be installed: the disk is full.")

    def bug(_task):
        raise KeyError("x")

    def disk(_task):
        raise PermissionError(13, "Permission denied", "/opt/Slicer/Extensions")

    for fn in (fails, bug, disk):
        runner.submit(fn, name="Installing ToolBase", on_error=errors.append, on_result=lambda v: errors.append("?"))
    assert runner.wait_idle(30)
    assert errors[0] == "ToolBase could not be installed: the disk is full."
    assert errors[1].startswith("Installing ToolBase failed because of an unexpected error (KeyError('x')).")
    assert "report it" in errors[1]
    assert errors[2] == ("Installing ToolBase failed: a file operation failed: Permission denied "
                         "(/opt/Slicer/Extensions). Check that the folder exists and is writable and that the disk "
                         "is not full, then try again.")


def test_a_lane_runs_its_tasks_one_at_a_time_and_lanes_run_side_by_side(runner):
    gate = threading.Event()
    order = []

    def slow(_task):
        gate.wait(30)
        order.append("install 1")

    runner.submit(slow, lane="install")
    runner.submit(lambda _t: order.append("install 2"), lane="install")
    runner.submit(lambda _t: order.append("settings"), lane="settings")
    while "settings" not in order:
        runner.poll()
        time.sleep(0.005)
    assert runner.lane_busy("install") and order == ["settings"]
    gate.set()
    assert runner.wait_idle(30)
    assert order == ["settings", "install 1", "install 2"] and not runner.lane_busy("install")


def test_cancel_is_seen_by_the_work(runner):
    started = threading.Event()
    results = []

    def work(task):
        started.set()
        while not task.cancelled:
            time.sleep(0.005)
        task.token.raise_if_cancelled("Downloading")

    task = runner.submit(work, on_error=results.append)
    started.wait(30)
    task.cancel()
    assert runner.wait_idle(30)
    assert results == ["Downloading was cancelled."] and task.finished and task.error == results[0]


def test_a_failing_callback_does_not_stop_the_other_deliveries(runner, caplog):
    got = []
    runner.submit(lambda _t: 1, on_result=lambda v: 1 / 0)
    runner.submit(lambda _t: 2, on_result=got.append)
    assert runner.wait_idle(30)
    assert got == [2] and "A callback of" in caplog.text


def test_shutdown_refuses_new_work_and_closes_the_timer(runner):
    runner.submit(lambda _t: None)
    assert runner.wait_idle(30)
    runner.shutdown(wait=5)
    assert runner.timers[0].closed
    with pytest.raises(RuntimeError):
        runner.submit(lambda _t: None)


def test_the_runner_is_not_kept_alive_by_its_timer():
    import gc
    import weakref

    holder = []
    r = TaskRunner(lambda ms, cb: holder.append(ManualTimer(ms, cb)) or holder[-1])
    ref = weakref.ref(r)
    del r
    gc.collect()
    assert ref() is None
    holder[0].callback()  # a late tick of an orphaned timer does nothing


def test_error_sentence_keeps_the_cores_sentences():
    assert error_sentence(InstallError("X is not installed, so it cannot be uninstalled.")) == \
        "X is not installed, so it cannot be uninstalled."


def test_after_task_runs_on_the_polling_thread_after_each_task():
    gui = threading.get_ident()
    seen = []
    order = []
    r = TaskRunner(lambda interval, callback: ManualTimer(interval, callback),
                   after_task=lambda task: seen.append((task.name, threading.get_ident(), list(order))))
    try:
        r.submit(lambda _t: 1, name="one", on_done=lambda: order.append("one done"))
        r.submit(lambda _t: (_ for _ in ()).throw(InstallError("boom")), name="two", on_error=lambda _m: None)
        assert r.wait_idle(30)
    finally:
        r.shutdown(wait=5)
    assert [(n, t) for n, t, _ in seen] == [("one", gui), ("two", gui)]
    assert seen[0][2] == ["one done"]  # after the task's own callbacks
