"""Background work for a GUI whose binding cannot run Python in a ``QThread`` (PythonQt inside
3D Slicer): the work runs in Python threads, and what it reports comes back to the GUI thread
through a :class:`queue.Queue` that a GUI timer polls.

No Qt here (Python 3.9, standard library): the GUI face passes a **timer factory**,
``timer_factory(interval_ms, callback) -> timer`` with ``start()`` and ``stop()``; inside
Slicer it makes a ``qt.QTimer`` whose ``timeout`` calls ``callback`` on the GUI thread. Tests
pass a manual timer and call :meth:`TaskRunner.poll` themselves.

* :meth:`TaskRunner.submit` queues ``fn(task)`` on a **lane**: each lane is one worker thread
  that runs its tasks one after another (installs on one lane never run two at once; a
  settings write on another lane does not wait for a long download);
* ``task.emit(value)`` (from the worker) delivers ``value`` to ``on_event`` on the GUI thread,
  in order, before the result;
* the result goes to ``on_result``; a failure to ``on_error`` as **one sentence** saying what
  happened and what to do (:func:`error_sentence`); ``on_done`` is called after either;
* the worker never touches the GUI: every callback runs inside :meth:`TaskRunner.poll`.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
import weakref
from typing import Any, Callable, Optional, Protocol

from .errors import CancelledError, ExtensionManagerError
from .queue import CancelToken

__all__ = ["Task", "TaskRunner", "Timer", "TimerFactory", "error_sentence"]

log = logging.getLogger(__name__)

Callback = Callable[[Any], None]


class Timer(Protocol):
    """What the timer factory returns; a ``close()`` method, if it has one, is called at shutdown
    (a Qt timer disconnects its slot and deletes itself there)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


TimerFactory = Callable[[int, Callable[[], object]], Timer]


def error_sentence(exc: BaseException, what: str = "The operation") -> str:
    """What a failure tells the user: the core's own sentence, or one made for anything else."""
    if isinstance(exc, (ExtensionManagerError, CancelledError)):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return (f"{what} failed: a file operation failed: {exc.strerror or exc}{where}. Check that the folder "
                "exists and is writable and that the disk is not full, then try again.")
    return (f"{what} failed because of an unexpected error ({exc!r}). Try again; if it happens again, "
            "report it with Slicer's log (Help > Report a bug).")


class Task:
    """One unit of background work; ``fn(task)`` may call :meth:`emit` and check :attr:`cancelled`."""

    _ids = itertools.count(1)

    def __init__(self, runner: TaskRunner, fn: Callable[[Task], Any], name: str, lane: str,
                 on_result: Optional[Callback], on_error: Optional[Callback], on_event: Optional[Callback],
                 on_done: Optional[Callable[[], None]]):
        self.id = next(self._ids)
        self.runner = runner
        self.fn = fn
        self.name = name
        self.lane = lane
        self.token = CancelToken()
        self.on_result, self.on_error, self.on_event, self.on_done = on_result, on_error, on_event, on_done
        self.finished = False
        self.error = ""

    def emit(self, value: Any) -> None:
        """From the worker: deliver ``value`` to ``on_event`` on the GUI thread."""
        self.runner._post(self, "event", value)

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.name!r} on {self.lane!r}{' finished' if self.finished else ''}>"


class _Lane:
    """One worker thread and its waiting tasks."""

    def __init__(self, runner: TaskRunner, name: str):
        self.name = name
        self.waiting: queue.Queue[Optional[Task]] = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(runner,), name=f"slicer-ext-manager-{name}",
                                       daemon=True)
        self.thread.start()

    def _run(self, runner: TaskRunner) -> None:
        while True:
            task = self.waiting.get()
            if task is None:
                return
            try:
                value = task.fn(task)
            except BaseException as exc:  # a worker never dies; the GUI gets the sentence
                runner._post(task, "error", error_sentence(exc, task.name or "The operation"))
                if not isinstance(exc, Exception):
                    raise
            else:
                runner._post(task, "result", value)


class TaskRunner:
    """Runs tasks on worker threads; delivers their events and results on the GUI thread."""

    def __init__(self, timer_factory: TimerFactory, *, interval_ms: int = 40,
                 after_task: Optional[Callable[[Task], None]] = None):
        """``after_task(task)``: called on the GUI thread after each task's own callbacks."""
        self._after_task = after_task
        # The timer calls back through a weak reference: the runner owns the timer, never the reverse.
        this = weakref.ref(self)

        def poll() -> None:
            runner = this()
            if runner is not None:
                runner.poll()

        self._timer = timer_factory(interval_ms, poll)
        self._timer_running = False
        self._delivered: queue.Queue[tuple[Task, str, Any]] = queue.Queue()
        self._lanes: dict[str, _Lane] = {}
        self._outstanding: dict[int, str] = {}  # task id -> lane, until its result is delivered
        self._lock = threading.Lock()
        self._closed = False

    # -- GUI thread -----------------------------------------------------------------------------

    def submit(self, fn: Callable[[Task], Any], *, name: str = "", lane: str = "default",
               on_result: Optional[Callback] = None, on_error: Optional[Callback] = None,
               on_event: Optional[Callback] = None, on_done: Optional[Callable[[], None]] = None) -> Task:
        """Queue ``fn(task)`` on ``lane``; ``name`` starts the error sentence ("Installing X failed …")."""
        if self._closed:
            raise RuntimeError("TaskRunner.submit after shutdown")
        task = Task(self, fn, name, lane, on_result, on_error, on_event, on_done)
        with self._lock:
            self._outstanding[task.id] = lane
            worker = self._lanes.get(lane)
            if worker is None:
                worker = self._lanes[lane] = _Lane(self, lane)
        self._start_timer()
        worker.waiting.put(task)
        return task

    def poll(self) -> int:
        """Deliver what the workers reported (GUI thread; the timer calls it). Returns how many."""
        count = 0
        while True:
            try:
                task, kind, value = self._delivered.get_nowait()
            except queue.Empty:
                break
            count += 1
            self._deliver(task, kind, value)
        if not self.busy and self._delivered.empty():
            self._stop_timer()
        return count

    @property
    def busy(self) -> bool:
        """Some task has not delivered its result yet."""
        with self._lock:
            return bool(self._outstanding)

    def lane_busy(self, lane: str) -> bool:
        """A task of ``lane`` has not delivered its result yet."""
        with self._lock:
            return lane in self._outstanding.values()

    def wait_idle(self, timeout: float, process: Optional[Callable[[], None]] = None) -> bool:
        """Poll until every task delivered its result (for tests and scripts; a GUI lets its timer
        poll). ``process``: called between polls (e.g. the GUI's ``processEvents``)."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if not self.busy:
                return True
            if time.monotonic() >= deadline:
                return False
            if process is not None:
                process()
            time.sleep(0.01)

    def shutdown(self, *, wait: float = 0.0) -> None:
        """No new tasks; the workers end after their current task (waited for up to ``wait`` s)."""
        self._closed = True
        lanes = list(self._lanes.values())
        for worker in lanes:
            worker.waiting.put(None)
        deadline = time.monotonic() + wait
        for worker in lanes:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
        self._stop_timer()
        close = getattr(self._timer, "close", None)
        if callable(close):
            close()

    # -- internals ---------------------------------------------------------------------------------

    def _post(self, task: Task, kind: str, value: Any) -> None:
        self._delivered.put((task, kind, value))

    def _deliver(self, task: Task, kind: str, value: Any) -> None:
        if kind == "event":
            self._call(task.on_event, value, task)
            return
        with self._lock:
            self._outstanding.pop(task.id, None)
        task.finished = True
        if kind == "result":
            self._call(task.on_result, value, task)
        else:
            task.error = str(value)
            if task.on_error is not None:
                self._call(task.on_error, value, task)
            else:
                log.warning("%s", value)
        on_done = task.on_done
        if on_done is not None:
            self._call(lambda _value: on_done(), None, task)
        after = self._after_task
        if after is not None:
            self._call(lambda _value: after(task), None, task)

    @staticmethod
    def _call(callback: Optional[Callback], value: Any, task: Task) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception:  # one failing callback must not stop the timer's other deliveries
            log.exception("A callback of %r failed", task)

    def _start_timer(self) -> None:
        if not self._timer_running:
            self._timer_running = True
            self._timer.start()

    def _stop_timer(self) -> None:
        if self._timer_running:
            self._timer_running = False
            self._timer.stop()
