"""Queue semantics and the install-folder lock, without a server."""

from __future__ import annotations

import threading
import time

import pytest

from slicer_ext_manager.errors import InstallError
from slicer_ext_manager.installer import InstallLock
from slicer_ext_manager.queue import InstallQueue, Job, JobResult, Outcome


def ok(name):
    return Job(name, lambda ctx: JobResult(name, Outcome.INSTALLED, "ok"))


def test_failure_skips_dependents_but_not_others():
    def boom(ctx):
        raise InstallError("broken package")

    q = InstallQueue()
    q.extend([Job("A", boom), Job("B", lambda c: JobResult("B", Outcome.INSTALLED), depends_on=("A",)), ok("C")])
    results = {r.name: r for r in q.run()}
    assert results["A"].outcome == Outcome.FAILED and results["A"].message == "broken package"
    assert results["B"].outcome == Outcome.FAILED and "dependency A" in results["B"].message
    assert results["C"].outcome == Outcome.INSTALLED


def test_cancel_one_and_cancel_all_cover_later_jobs():
    events = []
    q = InstallQueue(events.append)
    ids = q.extend([ok("A"), ok("B")])
    q.cancel(ids[0])
    q.cancel_all()
    q.add(ok("Late"))  # added after "cancel all": cancelled too
    assert [r.outcome for r in q.run()] == [Outcome.CANCELLED] * 3
    assert events[-1].kind == "all_finished" and "3 cancelled" in events[-1].message


def test_unexpected_exception_is_a_failed_item():
    q = InstallQueue()
    q.extend([Job("A", lambda c: 1 / 0), ok("B")])
    results = q.run()
    assert results[0].outcome == Outcome.FAILED and "ZeroDivisionError" in results[0].message
    assert results[1].outcome == Outcome.INSTALLED


def test_install_lock_serialises_threads_of_one_process(tmp_path):
    order = []

    def hold():
        with InstallLock(tmp_path):
            order.append("first in")
            time.sleep(0.3)
            order.append("first out")

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.05)
    with InstallLock(tmp_path):
        order.append("second in")
    t.join()
    assert order == ["first in", "first out", "second in"]
    with InstallLock(tmp_path):
        blocked = InstallLock(tmp_path, timeout_ms=100)
        with pytest.raises(InstallError, match="changing the extensions folder"):
            blocked.__enter__()
