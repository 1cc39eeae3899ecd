"""Worker of the cross-binding tests (``tests/test_cross_binding.py``), run as a script by either
binding: ``python crossbinding_worker.py CMD ...`` (PySide6) or
``pythonqt-run --venv V crossbinding_worker.py CMD ...`` (PythonQt). Only the core's public API
and the seam; prints JSON on its last line.

Commands:
  dump PATH                         every key's value as read through the seam, and the core's reads
  edit PATH HOME                    the standard edit set (``EDITS`` below) through the core
  history PATH PREFIX N OTHER       add N bookmarks and history entries PREFIX0..PREFIX<N-1>, one edit
                                    each, never more than LEAD ahead of the other process (OTHER)
  hold-lock PATH                    take the core's settings lock on PATH, print "locked", wait for a
                                    line on stdin (or to be killed), unlock
  try-edit PATH TIMEOUT_MS VALUE    one edit with that lock timeout: {"ok": true} or {"error": "..."}
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slicer_ext_manager import qtbinding, settings  # noqa: E402
from slicer_ext_manager.errors import SettingsError  # noqa: E402
from slicer_ext_manager.history import ExtensionsHistory  # noqa: E402
from slicer_ext_manager.settings import SettingsFile  # noqa: E402

REV = "33241"
#: How far one ``history`` worker may run ahead of the other (forces interleaved edits).
LEAD = 3
DEADLINE_S = 120.0


def _jsonable(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if hasattr(value, "data") and callable(value.data):  # PythonQt's QByteArray
        return {"bytes": bytes(value.data()).hex()}
    return {type(value).__name__: str(value)}


def dump(path: str) -> dict:
    sf = SettingsFile(path, slicer_home=os.environ.get("CROSS_SLICER_HOME") or None)
    r = sf.read()
    keys = sorted(qtbinding.all_keys(r.qsettings))
    history = ExtensionsHistory(sf)
    return {
        "values": {k: _jsonable(qtbinding.read_value(r.qsettings, k)) for k in keys},
        "history": history.revisions(),
        "bookmarks": history.bookmarks(),
        "scheduled_for_uninstall": r.string_list("Extensions/ScheduledForUninstall"),
        "scheduled_for_update": r.variant_map("Extensions/ScheduledForUpdate"),
        "install_path": sf.to_absolute(r.string("Extensions/InstallPath")),
        "additional_paths": r.string_list("Modules/AdditionalPaths"),
        "python_path": r.array("PYTHONPATH"),
        "name": r.string("Some Group/Name"),
    }


def edit(path: str, home: str) -> None:
    sf = SettingsFile(path, slicer_home=home)
    history = ExtensionsHistory(sf)
    history.add(REV, "SlicerIGT")
    history.set_bookmarks(["SlicerIGT"])  # one item: written as the plain string
    with sf.edit() as e:
        e.set_string_list("Extensions/ScheduledForUninstall", [])  # none: @Invalid()
        e.set_variant_map("Extensions/ScheduledForUpdate",
                          {"SlicerRT": f"{home}/slicer.org/Extensions-{REV}/.updates/Zoë 日本.tar.gz"})
        e.set_value("Extensions/InstallPath", sf.to_relative(f"{home}/slicer.org/Extensions-{REV}"))
        e.set_value("Extensions/UpdatesAvailable", True)
        e.set_value("Some Group/Name", "Zoë 日本 😀 a1")  # escapes, a hex digit after one, a surrogate pair
        e.set_value("Grüße/日本 neu", "ü")  # a new non-ASCII key in a non-ASCII section
        e.set_string_list("Modules/AdditionalPaths", [f"{home}/José/qt-scripted-modules", "C:/path with, comma/x"])
        e.set_array("PYTHONPATH", [f"{home}/José/qt-scripted-modules", f"{home}/lib"])


def _count(names: list[str], prefix: str) -> int:
    return sum(1 for n in names if n.startswith(prefix) and n[len(prefix):].isdigit())


def history_worker(path: str, prefix: str, count: int, other: str) -> dict:
    history = ExtensionsHistory(SettingsFile(path))
    deadline = time.monotonic() + DEADLINE_S
    waited = 0
    for i in range(count):
        # Do not run more than LEAD edits ahead of the other process: the edits interleave.
        while i - _count(history.bookmarks(), other) > LEAD and time.monotonic() < deadline:
            waited += 1
            time.sleep(0.005)
        history.set_bookmarked(f"{prefix}{i}", True)
        history.add(REV, f"{prefix}{i}")
    return {"done": count, "waited": waited}


def hold_lock(path: str) -> None:
    lock = qtbinding.FileLock(path + ".slicer-ext-manager.lock", settings.STALE_LOCK_MS)
    if not lock.try_lock(10_000):
        print(json.dumps({"error": "could not lock"}), flush=True)
        sys.exit(1)
    print("locked", flush=True)
    sys.stdin.readline()
    lock.unlock()


def try_edit(path: str, timeout_ms: int, value: str) -> dict:
    settings.LOCK_TIMEOUT_MS = timeout_ms
    try:
        with SettingsFile(path).edit() as e:
            e.set_value("Cross/Value", value)
    except SettingsError as exc:
        return {"error": str(exc)}
    return {"ok": True}


def main(argv: list[str]) -> int:
    cmd, args = argv[0], argv[1:]
    if cmd == "dump":
        result: object = dump(args[0])
    elif cmd == "edit":
        edit(args[0], args[1])
        result = {"ok": True}
    elif cmd == "history":
        result = history_worker(args[0], args[1], int(args[2]), args[3])
    elif cmd == "hold-lock":
        hold_lock(args[0])
        return 0
    elif cmd == "try-edit":
        result = try_edit(args[0], int(args[1]), args[2])
    else:
        raise SystemExit(f"unknown command {cmd}")
    result = {"binding": qtbinding.binding().name, "qt": qtbinding.binding().qt_version, "result": result}
    print(json.dumps(result, ensure_ascii=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
