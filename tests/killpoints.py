"""Kill (or fill the disk) at every file operation of a command, then check the next run.

Test-only: ``test_kill_points.py`` runs this file as a script in a subprocess, with the
source tree on ``PYTHONPATH``; nothing here is imported by the shipped code.

The script is a small fork server. It imports the CLI (and QtCore) once, then for each
point N forks a child that installs :class:`Hook` — wrappers around every file
operation the process can make from Python (``os.replace/rename/unlink/remove/link/
symlink/mkdir/rmdir/open(for writing)/write/sendfile``, file objects opened for writing
and their ``write``/``truncate``, and Qt's save: a fault point right before and right
after ``QSettings.sync()``) — and runs the command; the N-th operation ends the process
with ``os._exit`` (a write is cut in half first: a torn write). Then a fresh child runs
the next command — ``list`` after odd points, the same command again after even ones —
and the state is compared with the complete old state and the complete new state (the
command again must reach the new one); from the old state the command must finish.

In ``recovery`` mode the command is killed right before its commit point, and then the
recovering ``list`` is killed at each of its own operations.

In ``enospc`` mode the N-th data write and every later one fail with ``ENOSPC`` (the disk
is full from there on): a command that reports failure must leave (after the next run)
exactly the old state, one that reports success the new one.

Usage: ``python killpoints.py SPEC.json`` where the spec gives ``template`` (a profile
folder to copy before each run), ``work``, ``argv`` (the command, with ``{work}``
substituted), ``mode`` (``kill`` or ``enospc``) and ``settings_dir`` / ``install_path``
relative to ``work``. Prints one JSON document: the number of points and the problems.
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

KILLED = 199
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class Hook:
    """Counts file operations; at ``point`` ends the process (kill) or starts failing data writes (enospc)."""

    def __init__(self, point: int, mode: str, log_path: str | None):
        self.point, self.mode, self.count, self.writes = point, mode, 0, 0
        self.log: list[str] = []
        self.log_path = log_path

    # -- the decision at each operation ----------------------------------------------------------

    def op(self, what: str, tear: Callable[[], None] | None = None) -> None:
        self.count += 1
        if self.log_path is not None:
            self.log.append(what)
        if self.mode == "kill" and self.count == self.point:
            if tear is not None:
                tear()
            os._exit(KILLED)

    def data(self, what: str, size: int, tear: Callable[[], None] | None = None) -> None:
        """A write of ``size`` bytes: an operation, and in enospc mode a possible failure."""
        self.op(what, tear)
        if size:
            self.writes += 1
            if self.mode == "enospc" and self.writes >= self.point:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def save_log(self) -> None:
        if self.log_path is not None:
            Path(self.log_path).write_text(json.dumps({"ops": self.log, "writes": self.writes}))

    # -- installing the wrappers ------------------------------------------------------------------

    def install(self) -> None:
        self.real = {n: getattr(os, n) for n in ("replace", "rename", "unlink", "remove", "link", "symlink", "mkdir",
                                                 "rmdir", "open", "write", "fdopen", "sendfile") if hasattr(os, n)}
        for name in ("replace", "rename", "unlink", "remove", "link", "symlink", "mkdir", "rmdir"):
            setattr(os, name, self._simple(name))
        os.open = self._os_open
        os.write = self._os_write
        if "sendfile" in self.real:
            os.sendfile = self._sendfile
        builtins.open = io.open = self._opener(builtins.open)  # type: ignore[assignment]
        os.fdopen = self._opener(self.real["fdopen"])  # type: ignore[assignment]
        self._wrap_qt_save()

    def _simple(self, name: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.op(f"{name} {_short(args[0]) if args else ''}")
            return self.real[name](*args, **kwargs)
        return wrapper

    def _os_open(self, path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS:
            self.op(f"open-w {_short(path)}")
        return self.real["open"](path, flags, *args, **kwargs)

    def _os_write(self, fd: int, data: Any) -> int:
        n = len(data)
        self.data(f"write fd{fd} {n}", n, lambda: self.real["write"](fd, bytes(data[: n // 2])))
        return self.real["write"](fd, data)

    def _sendfile(self, out_fd: int, in_fd: int, offset: Any, count: int) -> int:
        self.data(f"sendfile {count}", count)
        return self.real["sendfile"](out_fd, in_fd, offset, count)

    def _opener(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            writing = isinstance(mode, str) and any(c in mode for c in "wax+")
            if writing and not isinstance(file, int):
                self.op(f"open-{mode} {_short(file)}")
            fh = original(file, mode, *args, **kwargs)
            return _Writer(fh, self, str(file)) if writing else fh
        return wrapped

    def _wrap_qt_save(self) -> None:
        """Fault points right before and right after Qt saves a settings file."""
        try:
            from PySide6 import QtCore
        except ImportError:  # pragma: no cover
            return
        real_sync = QtCore.QSettings.sync

        def sync(qs: Any) -> None:
            self.op(f"before QSettings.sync {_short(qs.fileName())}")
            real_sync(qs)
            self.op(f"after QSettings.sync {_short(qs.fileName())}")

        QtCore.QSettings.sync = sync  # type: ignore[method-assign]


class _Writer:
    """A file opened for writing: each ``write``/``truncate`` is an operation."""

    def __init__(self, fh: Any, hook: Hook, name: str):
        self._fh, self._hook, self._name = fh, hook, name

    def write(self, data: Any) -> int:
        n = len(data)

        def tear() -> None:
            self._fh.write(data[: n // 2])
            self._fh.flush()

        self._hook.data(f"write {_short(self._name)} {n}", n, tear)
        return self._fh.write(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def truncate(self, *args: Any) -> int:
        self._hook.op(f"truncate {_short(self._name)}")
        return self._fh.truncate(*args)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._fh.close()

    def __iter__(self) -> Any:
        return iter(self._fh)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def _short(path: Any) -> str:
    text = os.fspath(path) if not isinstance(path, int) else f"fd{path}"
    return re.sub(r"^.*?/(work|slicer\.org)/", r"\1/", str(text))


# -- the fork server ---------------------------------------------------------------------------------------


class Runner:
    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.template = Path(spec["template"])
        self.work = Path(spec["work"])
        self.argv = [a.replace("{work}", str(self.work)) for a in spec["argv"]]
        self.base = [a.replace("{work}", str(self.work)) for a in spec["base"]]
        self.install_path = self.work / spec["install_path"]
        self.tmp = Path(tempfile.mkdtemp(prefix="killpoints-"))
        self.timings: dict[str, float] = {}

    def reset(self) -> None:
        started = time.monotonic()
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.copytree(self.template, self.work, copy_function=shutil.copyfile, symlinks=True)
        self.timings["reset"] = self.timings.get("reset", 0.0) + time.monotonic() - started

    def child(self, body: Callable[[], int], label: str = "child") -> int:
        """Run ``body`` in a forked child; its exit code (``KILLED`` when the hook ended it)."""
        started = time.monotonic()
        try:
            return self._child(body)
        finally:
            self.timings[label] = self.timings.get(label, 0.0) + time.monotonic() - started

    def _child(self, body: Callable[[], int]) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(os.open(str(self.tmp / "stderr"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
                code = body()
            except BaseException:  # noqa: BLE001 - reported through the exit code and stderr
                import traceback

                traceback.print_exc()
                code = 3
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    def command(self, argv: list[str], hook: Hook | None = None) -> int:
        def body() -> int:
            from slicer_ext_manager.cli import main

            if hook is not None:
                hook.install()
            try:
                return main([*self.base, *argv])
            finally:
                if hook is not None:
                    hook.save_log()
        return self.child(body, argv[0])

    def stderr(self) -> str:  # of the last child
        try:
            return (self.tmp / "stderr").read_text()[-2000:]
        except OSError:
            return ""

    def snapshot(self) -> dict[str, Any]:
        return take_snapshot(self.work, self.install_path, self.spec)

    def points(self) -> dict[str, Any]:
        self.reset()
        if self.command(["list"]) != 0:
            raise RuntimeError(f"list failed on the template: {self.stderr()}")
        old = self.snapshot()
        self.reset()
        log = str(self.tmp / "ops.json")
        code = self.command(self.argv, Hook(0, "count", log))
        if code != 0:
            raise RuntimeError(f"the command failed without faults ({code}): {self.stderr()}")
        new = self.snapshot()
        counted = json.loads(Path(log).read_text())
        if new == old:
            raise RuntimeError("the command changed nothing")
        if self.spec["mode"] == "recovery":
            return self.recovery_points(counted["ops"], old, new)
        total = len(counted["ops"]) if self.spec["mode"] == "kill" else counted["writes"]
        problems = [p for n in range(1, total + 1) for p in self.point(n, counted["ops"], old, new)]
        return {"points": total, "ops": counted["ops"], "problems": problems,
                "timings": {k: round(v, 2) for k, v in self.timings.items()}}

    def point(self, n: int, ops: list[str], old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
        """Fault at point ``n``; the next command is ``list`` (odd points) or the command itself (even)."""
        self.reset()
        mode = self.spec["mode"]
        code = self.command(self.argv, Hook(n, mode, None))
        what = ops[n - 1] if mode == "kill" and n <= len(ops) else f"data write {n}"
        report = {"point": n, "op": what, "exit": code, "stderr": self.stderr()}
        if mode == "kill" and code != KILLED:
            return [dict(report, problem="not killed")]
        if mode == "enospc" and code not in (0, 1):
            return [dict(report, problem="no sentence (exit code)")]
        expected = [old, new] if mode == "kill" else [new] if code == 0 else [old]
        again = n % 2 == 0
        next_code = self.command(self.argv if again else ["list"])
        state = self.snapshot()
        if not again and next_code != 0:
            return [dict(report, problem="list failed after the fault", next=self.stderr())]
        if state not in (expected if not again else [new]):
            return [dict(report, problem=f"half state after {'the command again' if again else 'list'}",
                         diff=diff(state, expected), next=self.stderr())]
        if state != new and (self.command(self.argv) != 0 or self.snapshot() != new):
            return [dict(report, problem="running the command again did not finish it", next=self.stderr())]
        return []


    def recovery_points(self, ops: list[str], old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """Kill the command at the first operation matching ``spec["first"]`` (where recovery has
        the most to undo), then kill the recovering ``list`` at each of its operations."""
        first = next(i for i, op in enumerate(ops, 1) if re.search(self.spec["first"], op))
        self.reset()
        if self.command(self.argv, Hook(first, "kill", None)) != KILLED:
            raise RuntimeError(f"not killed at {ops[first - 1]}")
        log = str(self.tmp / "recovery.json")
        self.command(["list"], Hook(0, "count", log))
        recovery_ops = json.loads(Path(log).read_text())["ops"]
        problems = []
        for m in range(1, len(recovery_ops) + 1):
            self.reset()
            self.command(self.argv, Hook(first, "kill", None))
            code = self.command(["list"], Hook(m, "kill", None))
            report = {"point": m, "op": f"{ops[first - 1]} then, recovering, {recovery_ops[m - 1]}", "exit": code}
            if code != KILLED or self.command(["list"]) != 0:
                problems.append(dict(report, problem="not killed, or list failed after", stderr=self.stderr()))
                continue
            state = self.snapshot()
            if state not in (old, new):
                problems.append(dict(report, problem="half state", diff=diff(state, [old, new])))
            elif state != new and (self.command(self.argv) != 0 or self.snapshot() != new):
                problems.append(dict(report, problem="running the command again did not finish it",
                                     stderr=self.stderr()))
        return {"points": len(recovery_ops), "ops": recovery_ops, "problems": problems,
                "timings": {k: round(v, 2) for k, v in self.timings.items()}}


# -- the state compared ------------------------------------------------------------------------------------

#: Keys that change on every catalog refresh, whatever else happens.
_VOLATILE_KEYS = {"Extensions/MetadataFromServerUpdateTime", "Extensions/MetadataFromServerUrl",
                  "Extensions/UpdatesAvailable"}
_LEFTOVER = re.compile(r"\.tmp$|\.part$|\.sem-|slicer-ext-manager-probe|^\.staging$|transaction\.json$")


def take_snapshot(work: Path, install_path: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Files of the install folder (with hashes), the settings files' text (Qt writes them
    deterministically) without the keys every catalog refresh changes, and leftovers anywhere."""
    files = {}
    for path in sorted(install_path.rglob("*")) if install_path.exists() else []:
        rel = path.relative_to(install_path).as_posix()
        if rel in ("ExtensionsMetadataFromServer.json", ".slicer-ext-manager.lock"):
            continue
        files[rel] = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "dir"
    settings = {}
    for ini in sorted((work / spec["settings_dir"]).glob("*.ini")):
        section, lines = "", {}
        for line in ini.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("["):
                section = line.strip("[]")
            elif line.strip() and f"{section}/{line.split('=', 1)[0]}" not in _VOLATILE_KEYS:
                key, _, value = line.partition("=")
                lines[f"{section}/{key}"] = value
        settings[ini.name] = lines
    leftovers = sorted(p.relative_to(work).as_posix() for p in work.rglob("*")
                       if _LEFTOVER.search(p.name) and not p.name.endswith(".lock"))
    return {"files": files, "settings": settings, "leftovers": leftovers}


def diff(state: dict[str, Any], expected: list[dict[str, Any]]) -> str:
    """What differs from the nearest expected state (short, for the report)."""
    lines = []
    for label, other in zip(("old", "new"), expected):
        parts = []
        for key in ("files", "leftovers"):
            a, b = state[key], other[key]
            if isinstance(a, dict):
                changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            else:
                changed = sorted(set(a) ^ set(b))
            if changed:
                parts.append(f"{key}: {changed[:6]}")
        for ini in sorted(set(state["settings"]) | set(other["settings"])):
            a, b = state["settings"].get(ini, {}), other["settings"].get(ini, {})
            changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            if changed:
                parts.append(f"{ini}: " + "; ".join(f"{k}={a.get(k)!r} (vs {b.get(k)!r})" for k in changed[:4]))
        lines.append(f"vs {label}: " + (" | ".join(parts) or "same"))
    return "\n".join(lines)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    import importlib

    import PySide6.QtCore  # noqa: F401 - loaded once, before the forks (no Qt object is made here)

    for module in ("cli.extensions", "cli.parser", "manager", "installer", "installs", "recovery", "scheduled",
                   "archive", "server", "download", "network", "catalog", "cache", "progress", "state", "restore",
                   "profiles", "cli.servers"):
        importlib.import_module(f"slicer_ext_manager.{module}")
    from slicer_ext_manager.cli import build_parser

    build_parser()  # what the first call imports lazily

    print(json.dumps(Runner(spec).points()))


if __name__ == "__main__":
    main()
