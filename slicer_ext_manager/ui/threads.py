"""Worker threads for everything that touches the disk or the network.

* :class:`WorkerThread` — a ``QThread`` with a ``QObject`` executor: callables submitted
  from the GUI thread run one after another in that thread; their result (or the error
  sentence) comes back to the GUI thread through a queued signal.
* :func:`wait_until` / :func:`run_in_thread` — wait while the event loop keeps running.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QThread, QTimer, Signal, Slot

from ..errors import ExtensionManagerError

log = logging.getLogger(__name__)

__all__ = ["WorkerThread", "error_sentence", "run_in_thread", "wait_until"]

# Threads still running are kept here with their executor, so a forgotten shutdown (or
# one that does not wait) never destroys a running thread — a fatal error in Qt. They
# are stopped when the interpreter exits.
_LIVE_THREADS: dict[QThread, QObject] = {}


def _prune_live_threads() -> None:
    for thread in list(_LIVE_THREADS):
        try:
            finished = thread.isFinished()
        except RuntimeError:
            finished = True
        if finished:
            _LIVE_THREADS.pop(thread, None)


def _stop_live_threads() -> None:
    for thread in list(_LIVE_THREADS):
        try:
            thread.quit()
            thread.wait(30_000)
        except RuntimeError:  # already deleted
            pass
    _LIVE_THREADS.clear()


atexit.register(_stop_live_threads)


def error_sentence(exc: BaseException) -> str:
    """The sentence a user sees for an exception (the core's errors are sentences already)."""
    if isinstance(exc, ExtensionManagerError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"A file operation failed: {exc.strerror or exc}{where}. Check the folder's permissions and free space."
    return f"Unexpected error: {exc!r}. Please report it with the log of the Install tab."


class _Executor(QObject):
    finished = Signal(int, object, object)  # task id, result, error sentence (None = success)

    @Slot(int, object)
    def execute(self, task_id: int, fn: Callable[[], Any]) -> None:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the user
            if not isinstance(exc, ExtensionManagerError):
                log.error("Task failed:\n%s", "".join(traceback.format_exception(exc)))
            self.finished.emit(task_id, None, error_sentence(exc))
        else:
            self.finished.emit(task_id, result, None)


class WorkerThread(QObject):
    """A thread running submitted callables in order; results come back in the GUI thread."""

    pendingChanged = Signal(int)
    _request = Signal(int, object)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._name = name
        self._thread: QThread | None = None
        self._executor: _Executor | None = None
        self._callbacks: dict[int, tuple[Callable | None, Callable | None]] = {}
        self._ids = itertools.count(1)
        self._closed = False

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        thread = QThread()
        thread.setObjectName(self._name)
        executor = _Executor()
        executor.moveToThread(thread)
        self._request.connect(executor.execute)
        executor.finished.connect(self._deliver)
        self._thread, self._executor = thread, executor
        _prune_live_threads()
        _LIVE_THREADS[thread] = executor
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        thread.start()

    @property
    def pending(self) -> int:
        """Tasks submitted and not yet delivered."""
        return len(self._callbacks)

    @property
    def qthread(self) -> QThread | None:
        """The thread tasks run in (None before the first task and after shutdown)."""
        return self._thread

    @property
    def running(self) -> bool:
        """The thread exists and has not finished (a task may still be running after shutdown)."""
        return self._thread is not None and not self._thread.isFinished()

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None) -> int:
        """Run ``fn()`` in the thread; ``on_done(result)`` or ``on_error(sentence)`` in the GUI thread."""
        self._closed = False  # a reopened dialog may reuse its service
        self._ensure_started()
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_done, on_error)
        self._request.emit(task_id, fn)
        self.pendingChanged.emit(len(self._callbacks))
        return task_id

    @Slot(int, object, object)
    def _deliver(self, task_id: int, result: Any, error: Any) -> None:
        on_done, on_error = self._callbacks.pop(task_id, (None, None))
        self.pendingChanged.emit(len(self._callbacks))
        if self._closed:
            return
        if error is None:
            if on_done is not None:
                on_done(result)
        elif on_error is not None:
            on_error(str(error))
        else:
            log.warning("%s", error)

    def shutdown(self, timeout_ms: int = 60_000, *, wait: bool = True) -> bool:
        """Stop after the running task (queued ones are dropped); results not yet delivered
        are discarded. ``wait``: block until the thread ended (else it ends on its own and is
        reaped later). True when the thread has ended."""
        self._closed = True
        thread = self._thread
        if thread is None:
            return True
        thread.quit()
        ok = thread.wait(timeout_ms) if wait else thread.isFinished()
        try:
            self._request.disconnect()
        except (RuntimeError, TypeError):
            pass
        self._thread, self._executor = None, None
        self._callbacks.clear()
        if ok:
            _LIVE_THREADS.pop(thread, None)
        return ok


def wait_until(predicate: Callable[[], bool], timeout: float | None = None, poll_ms: int = 20) -> bool:
    """Spin a local event loop (the GUI stays responsive) until ``predicate()`` or the timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(poll_ms)

    def check() -> None:
        if predicate() or (deadline is not None and time.monotonic() >= deadline):
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    if not predicate():
        loop.exec()
    timer.stop()
    return predicate()


def run_in_thread(fn: Callable[[], Any], *, name: str = "extensions-task", timeout: float | None = None) -> Any:
    """Run ``fn`` in a worker thread while the caller's event loop keeps running; return its
    result or raise :class:`ExtensionManagerError` with the failure sentence."""
    worker = WorkerThread(name)
    box: dict[str, Any] = {}
    worker.submit(fn, lambda r: box.__setitem__("result", r), lambda e: box.__setitem__("error", e))
    try:
        if not wait_until(lambda: "result" in box or "error" in box, timeout):
            raise ExtensionManagerError("The operation did not finish in time.")
    finally:
        worker.shutdown()
    if "error" in box:
        raise ExtensionManagerError(box["error"])
    return box["result"]
