"""Fixtures of the lane's Slicer module tests: a stand-in ``slicer`` (``standin/``) on a real
PythonQt, a Slicer profile in a tmp folder, the module's session on it, and waiting helpers
that keep the Qt event loop turning (the module's results arrive through a ``qt.QTimer``)."""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

STANDIN = Path(__file__).resolve().parent / "standin"
REPO = Path(__file__).resolve().parents[2]
MODULE_SOURCE = REPO / "slicer_ext_manager" / "slicermodule" / "module" / "ExtensionsRestore.py"
REV, OLD = "33241", "32448"


def process_events() -> None:
    import qt

    qt.QApplication.processEvents()


def wait_for(predicate: Callable[[], Any], timeout: float = 90.0, what: str = "the condition") -> Any:
    """Turn the event loop until ``predicate()`` is true (the deadline only guards a hang)."""
    deadline = time.monotonic() + timeout
    while True:
        process_events()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@dataclass
class SlicerEnv:
    app: Any
    session: Any
    slicer: Any

    @property
    def model(self) -> Any:
        return self.app.extensionsManagerModel()

    @property
    def manager(self) -> Any:
        return self.session.manager

    def idle(self, timeout: float = 90.0) -> None:
        wait_for(lambda: not self.session.runner.busy, timeout, "the module's background work")


def _standin_on_path() -> None:
    if str(STANDIN) not in sys.path:
        sys.path.insert(0, str(STANDIN))


@pytest.fixture
def slicer_env(tmp_path):
    """``slicer_env(server_url=..., app_id=None, **app_options) -> SlicerEnv``: ``slicer.app`` for a
    fresh profile and the module's session on it (``app_id`` given: the session's manager uses it,
    as the real server's test apps are not the production one)."""
    _standin_on_path()
    import slicer
    import slicer_standin

    from slicer_ext_manager.manager import ExtensionsManager
    from slicer_ext_manager.slicermodule import session as session_module
    from slicer_ext_manager.slicermodule.host import slicer_context

    counter = itertools.count()
    made: list[SlicerEnv] = []

    def make(server_url: str = "http://127.0.0.1:9", app_id: str | None = None, **options: Any) -> SlicerEnv:
        home = tmp_path / f"slicer{next(counter)}" / "Slicer-5.8.1-linux-amd64"
        home.mkdir(parents=True)
        app = slicer_standin.install(slicer_standin.SlicerApp(
            home, server_url=server_url, app_id=app_id or slicer_standin.APP_ID, **options))
        context = slicer_context(slicer)
        if app_id:
            context = context.with_changes(app_id=app_id)
        session = session_module.Session(slicer, manager=ExtensionsManager(context))
        session_module.reset_session(session)
        env = SlicerEnv(app, session, slicer)
        made.append(env)
        return env

    yield make
    import qt

    for env in made:
        env.session.close()
    qt.QCoreApplication.sendPostedEvents(None, qt.QEvent.DeferredDelete)
    session_module.reset_session(None)
    sys.modules.pop("ExtensionsRestore", None)
    slicer.selfTests.clear()
    slicer.app = None
    made.clear()
    import gc

    gc.collect()
    process_events()
