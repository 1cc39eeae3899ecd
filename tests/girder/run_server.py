"""Run the real Slicer Package Manager server (Girder 3.1 + plugin) on mongomock.

This script runs INSIDE the Girder virtualenv (see ``ensure_venv.py``), never in
the project's interpreter. The test harness (``harness.GirderServer``) spawns it::

    <venv>/bin/python run_server.py --port 8123 --data-dir /tmp/x --ready-file /tmp/x/ready.json

What it does:

* swaps pymongo for mongomock (no MongoDB is available), so the database lives
  in memory and is empty at every start;
* configures CherryPy/Girder (127.0.0.1:PORT, testing mode, logs in
  ``DATA_DIR/logs``), mounts Girder with the ``slicer_package_manager`` plugin;
* creates the admin user (``admin`` / ``adminadmin``) and a filesystem
  assetstore in ``DATA_DIR/assetstore``;
* starts the server, then writes the ready file (JSON, written atomically)::

    {"url": "http://127.0.0.1:PORT", "api_url": "http://127.0.0.1:PORT/api/v1",
     "admin_login": "admin", "admin_password": "adminadmin",
     "assetstore_id": "...", "assetstore_path": "...", "pid": 1234, "log_dir": "..."}

* blocks until SIGTERM/SIGINT, then stops the engine cleanly (exit code 0).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "adminadmin"
PLUGIN = "slicer_package_manager"


def _patch_pymongo() -> None:
    """Make every ``pymongo.MongoClient`` a mongomock client (before girder is imported)."""
    import mongomock
    import mongomock.collection
    import pymongo
    import pymongo.cursor

    pymongo.MongoClient = mongomock.MongoClient
    # girder.api.rest decides "is this a cursor to serialise as a list?" with
    # isinstance(val, pymongo.cursor.Cursor); mongomock cursors must qualify.
    pymongo.cursor.Cursor = mongomock.collection.Cursor


def _patch_cursor_count() -> None:
    """Replace the pymongo-internals ``Cursor.count`` Girder installs (after girder.models import)."""
    import mongomock.collection

    def count(self, with_limit_and_skip=False):
        kwargs = {}
        if with_limit_and_skip:
            if self._limit:
                kwargs["limit"] = abs(self._limit)
            if self._skip:
                kwargs["skip"] = self._skip
        return self.collection.count_documents(self._spec or {}, **kwargs)

    mongomock.collection.Cursor.count = count


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: exists
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--parent-pid", type=int, default=0,
                        help="exit when this process is gone (the test runner was killed)")
    args = parser.parse_args(argv)

    data_dir = os.path.abspath(args.data_dir)
    log_dir = os.path.join(data_dir, "logs")
    assetstore_dir = os.path.join(data_dir, "assetstore")
    os.makedirs(log_dir, exist_ok=True)
    os.makedirs(assetstore_dir, exist_ok=True)

    _patch_pymongo()

    import cherrypy
    import girder
    from girder.utility import config as girder_config

    cfg = girder_config.getConfig()  # loads girder.dist.cfg (+ /etc, ~/.girder, $GIRDER_CONFIG)
    cherrypy.config["server.socket_host"] = args.host
    cherrypy.config["server.socket_port"] = args.port
    cherrypy.config["server.thread_pool"] = 30
    # Large uploads/downloads: never time out a slow test machine.
    cherrypy.config["server.socket_timeout"] = 60
    cherrypy.config["server.max_request_body_size"] = 0
    cherrypy.config["checker.on"] = False  # warns about the (absent) web client static dir
    cfg.setdefault("database", {})
    cfg["database"]["uri"] = "mongodb://127.0.0.1:27017/girder_slicer_ext_manager_tests"
    cfg["database"]["replica_set"] = None
    cfg.setdefault("logging", {})
    cfg["logging"].update({
        "log_root": log_dir,
        "info_log_file": os.path.join(log_dir, "info.log"),
        "error_log_file": os.path.join(log_dir, "error.log"),
        "log_access": ["info"],
        "log_quiet": True,
    })
    cfg.setdefault("cache", {})["enabled"] = False
    girder._attachFileLogHandlers()

    import girder.models  # noqa: F401  (installs its own Cursor.count, replaced below)

    _patch_cursor_count()

    from girder.constants import ServerMode
    from girder.models.assetstore import Assetstore
    from girder.models.user import User
    from girder.utility import server

    # TESTING: unsanitised 500 messages with tracebacks, no autoreload.
    server.setup(mode=ServerMode.TESTING, plugins=[PLUGIN])

    User().createUser(
        login=ADMIN_LOGIN, password=ADMIN_PASSWORD, firstName="admin", lastName="admin",
        email="admin@admin.com", admin=True, public=True,
    )
    assetstore = Assetstore().createFilesystemAssetstore(name="Filesystem", root=assetstore_dir)

    stop_event = threading.Event()

    def _on_signal(signum, frame):  # noqa: ARG001
        stop_event.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    cherrypy.engine.start()  # returns once the port is bound
    try:
        url = f"http://{args.host}:{args.port}"
        ready = {
            "url": url,
            "api_url": url + "/api/v1",
            "admin_login": ADMIN_LOGIN,
            "admin_password": ADMIN_PASSWORD,
            "assetstore_id": str(assetstore["_id"]),
            "assetstore_path": assetstore_dir,
            "log_dir": log_dir,
            "pid": os.getpid(),
            "girder_version": girder.__version__,
        }
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(ready, fh, indent=2, sort_keys=True)
        os.replace(tmp, args.ready_file)

        while not stop_event.wait(0.5):
            if cherrypy.engine.state != cherrypy.engine.states.STARTED:
                break
            if args.parent_pid and not _alive(args.parent_pid):
                break
    finally:
        cherrypy.engine.exit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
