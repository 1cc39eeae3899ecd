"""Helpers shared by the benchmark scripts (standard library + the project only).

* :class:`Report` — figures next to their targets and baselines; prints a table and one
  ``BENCHMARK-RESULT {json}`` line (read by ``run_all`` and the smoke test).
* :func:`bench_args` / :func:`workdir` / :func:`isolated_env` — the common command line
  (``--quick``, ``--workdir``, ``--keep``) and a throw-away HOME so no real Slicer profile
  is ever touched.
* :func:`make_profile` — a Slicer profile (``Slicer.ini`` with an ``[ExtensionsHistory]``,
  ``Slicer-<rev>.ini``) pointing at a server.
* :func:`build_packages` — extension packages made with the project's builder.
* :class:`LocalServer` — the project's :class:`PackageServer` in its **own process** (so
  the server never competes with the measured code for the GIL), with a request counter.
* :func:`start_girder` — the real Slicer Package Manager server (``tests/girder``) when its
  virtualenv exists.
* :func:`run_timed` / :func:`run_peak_rss` — subprocess wall time and peak RSS.
* :func:`synthetic_catalog` / :func:`write_catalog_cache` — a big catalog as Slicer's
  metadata cache, without building thousands of archives.
* :func:`qt_app` / :func:`process_until` / :func:`paint_spy` — offscreen Qt: the
  application, waiting while events are processed, and timestamps of paint events.

Run as a script only to host the local server: ``python benchmarks/common.py serve DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import operator
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: The Slicer revision every benchmark profile runs as, and older ones for the history.
REVISION = "33241"
OLD_REVISIONS = ("30893", "31382", "31938", "32448")
OS_NAME, ARCH = "linux", "amd64"
MB = 1_000_000
RESULT_PREFIX = "BENCHMARK-RESULT "

# ------------------------------------------------------------------------------------------------
# statistics


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (``pct`` in 0..100) of a non-empty sequence."""
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * pct / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


# ------------------------------------------------------------------------------------------------
# reporting

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}


@dataclass
class Figure:
    """One measured number. ``target`` is the target as text (``"< 0.500 s"``); ``status`` is
    pass/miss (checked against it), info (no target) or not-run (a prerequisite is missing)."""

    key: str
    label: str
    value: float | None
    unit: str
    target: str = ""
    status: str = "info"
    note: str = ""


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("req", "count", "items"):
        return f"{value:.0f}"
    if unit == "x":
        return f"{value:.2f}×"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    if unit in ("MB", "MB/s"):
        return f"{value:.1f} {unit}"
    return f"{value:g} {unit}".strip()


class Report:
    """Collects figures and prints them; ``finish()`` prints the machine-readable line."""

    def __init__(self, bench: str, title: str, quick: bool):
        self.bench = bench
        self.title = title
        self.quick = quick
        self.figures: list[Figure] = []
        self.notes: list[str] = []
        self.started = time.monotonic()
        print(f"== {bench}: {title}{' (quick mode)' if quick else ''}", flush=True)

    def add(self, key: str, label: str, value: float | None, unit: str, *,
            target: tuple[str, float] | None = None, note: str = "", status: str | None = None) -> Figure:
        """Record (and print at once) one figure; with ``target`` it is checked (pass/miss)."""
        text = ""
        if target is not None:
            op, limit = target
            text = f"{op} {format_value(limit, unit)}"
            if status is None:
                status = "not-run" if value is None else ("pass" if _OPS[op](value, limit) else "miss")
        fig = Figure(key, label, None if value is None else float(value), unit, text,
                     status or ("not-run" if value is None else "info"), note)
        self.figures.append(fig)
        shown = format_value(fig.value, unit)
        tail = f"   target {text}: {fig.status.upper()}" if text else ""
        extra = f"   ({note})" if note else ""
        print(f"  {label:<64} {shown:>12}{tail}{extra}", flush=True)
        return fig

    def ratio(self, key: str, label: str, ours: float | None, baseline: float | None, *,
              target: tuple[str, float] | None = None, note: str = "") -> Figure:
        """``ours / baseline`` as a figure (None when either is missing or the baseline is 0)."""
        value = ours / baseline if ours is not None and baseline else None
        return self.add(key, label, value, "x", target=target, note=note)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def finish(self) -> int:
        elapsed = time.monotonic() - self.started
        data = {
            "bench": self.bench, "title": self.title, "quick": self.quick, "elapsed_s": round(elapsed, 2),
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine_info(), "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "figures": [asdict(f) for f in self.figures], "notes": self.notes,
        }
        print(f"  ({elapsed:.1f} s)")
        print(RESULT_PREFIX + json.dumps(data), flush=True)
        return 0


def machine_info() -> dict[str, Any]:
    """nproc, CPU model (``/proc/cpuinfo``), memory, OS, Python and the 1-minute load average
    (other work on the machine skews wall times; it is recorded with every result)."""
    model = platform.processor() or platform.machine()
    mem = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    return {"nproc": nproc, "cpu": model, "mem_gib": mem, "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "load1": load}


# ------------------------------------------------------------------------------------------------
# command line, work folders, environment


def bench_args(description: str, argv: Sequence[str] | None = None,
               extra: Any = None) -> argparse.Namespace:
    """The options every script has; ``extra(parser)`` adds the script's own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition (smoke test)")
    parser.add_argument("--workdir", help="where to create the temporary folder (default: $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


def compile_package() -> None:
    """Byte-code for every module of the package, as ``pip install`` writes it for users. The
    measured processes are then started as a user's are: an editable checkout under
    ``PYTHONDONTWRITEBYTECODE`` (set on this machine) would compile each module from source
    at every start (≈ 0.2 s for an install)."""
    import compileall

    import slicer_ext_manager

    compileall.compile_dir(str(Path(slicer_ext_manager.__file__).parent), quiet=1)


@contextlib.contextmanager
def workdir(args: argparse.Namespace, name: str) -> Iterator[Path]:
    """A fresh temporary folder with an isolated HOME (the package's byte-code compiled first);
    removed afterwards unless ``--keep``."""
    compile_package()
    base = Path(args.workdir).resolve() if args.workdir else None
    if base:
        base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"sem-bench-{name}-", dir=base))
    previous = dict(os.environ)
    os.environ.update(isolated_env(path))
    for var in _CLEARED_ENV:
        os.environ.pop(var, None)
    try:
        yield path
    finally:
        os.environ.clear()
        os.environ.update(previous)
        if args.keep:
            print(f"  (kept {path})")
        else:
            shutil.rmtree(path, ignore_errors=True)


_CLEARED_ENV = ("SLICER_EXT_MANAGER_SETTINGS_DIR", "SLICER_EXTENSIONS_MANAGER_SERVER_URL", "SLICER_HOME",
                "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy")


def isolated_env(root: Path) -> dict[str, str]:
    """Variables that keep children away from the user's profile and any proxy."""
    home = root / "home"
    (home / ".config").mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost", "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}


def child_env() -> dict[str, str]:
    """The environment for measured subprocesses (the isolated one set by :func:`workdir`)."""
    env = dict(os.environ)
    for var in _CLEARED_ENV:
        env.pop(var, None)
    return env


# ------------------------------------------------------------------------------------------------
# Slicer profiles


@dataclass
class SlicerProfile:
    """Settings files of one Slicer build pointing at ``server_url``."""

    settings_dir: Path
    server_url: str
    app_id: str
    revision: str = REVISION

    @property
    def install_path(self) -> Path:
        return self.settings_dir / f"Extensions-{self.revision}"

    @property
    def cache_file(self) -> Path:
        return self.install_path / "ExtensionsMetadataFromServer.json"

    def cli_args(self) -> list[str]:
        """Global options selecting this profile (put them before the command)."""
        return ["--settings-dir", str(self.settings_dir), "--revision", self.revision, "--os", OS_NAME,
                "--arch", ARCH, "--server", self.server_url, "--app-id", self.app_id]

    def context(self):
        from slicer_ext_manager.context import AppContext

        return AppContext.resolve(settings_dir=self.settings_dir, revision=self.revision, os_name=OS_NAME,
                                  arch=ARCH, server_url=self.server_url, app_id=self.app_id, slicer_version="5.8")

    def manager(self):
        from slicer_ext_manager.manager import ExtensionsManager

        return ExtensionsManager(self.context())

    def reset_install(self) -> None:
        """Remove installed extensions, cache and revision settings (a fresh Slicer build)."""
        shutil.rmtree(self.install_path, ignore_errors=True)
        _write_text(self.settings_dir / f"Slicer-{self.revision}.ini", f"[Extensions]\nServerUrl={self.server_url}\n")


def _write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_profile(root: Path, server_url: str, app_id: str, *, history: dict[str, list[str]] | None = None,
                 bookmarks: Sequence[str] = (), revision: str = REVISION) -> SlicerProfile:
    """Write ``root/slicer.org/Slicer.ini`` (history, bookmarks) and ``Slicer-<rev>.ini``
    literally, as a user upgrading from older Slicer versions has them."""
    sdir = root / "slicer.org"
    lines = ["[Extensions]", "AutoUpdateCheck=false"]
    if bookmarks:
        lines.append("Bookmarked=" + ", ".join(bookmarks))
    if history:
        lines += ["", "[ExtensionsHistory]"]
        lines += [f"Revisions\\{rev}={', '.join(names)}" for rev, names in history.items()]
    _write_text(sdir / "Slicer.ini", "\n".join(lines) + "\n")
    profile = SlicerProfile(sdir, server_url.rstrip("/"), app_id, revision)
    profile.reset_install()
    return profile


# ------------------------------------------------------------------------------------------------
# subprocesses


def cli_command() -> list[str]:
    """The installed ``slicer-ext-manager`` console script next to this interpreter
    (not a pyenv shim), else ``python -m slicer_ext_manager``."""
    script = Path(sys.executable).parent / "slicer-ext-manager"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "slicer_ext_manager"]


class CommandFailed(RuntimeError):
    pass


def run_timed(cmd: Sequence[str], *, env: dict[str, str] | None = None, check: bool = True,
              timeout: float = 600) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``cmd``; return (wall seconds from spawn to exit, completed process)."""
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), env=env or child_env(), capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        raise CommandFailed(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return elapsed, proc


def run_peak_rss(cmd: Sequence[str], *, env: dict[str, str] | None = None, check: bool = True) -> tuple[float, int, str]:
    """Run ``cmd`` and return (wall seconds, peak RSS in bytes, stdout).

    The peak is the child's own ``ru_maxrss`` as the kernel reports it when the child is
    reaped (``os.wait4`` = ``getrusage(RUSAGE_CHILDREN)`` restricted to that one child,
    so earlier measurements never leak into this one).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=env or child_env(), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if check and proc.returncode != 0:
        raise CommandFailed(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{stderr[-3000:]}")
    scale = 1 if sys.platform == "darwin" else 1024  # Linux reports KiB
    return elapsed, usage.ru_maxrss * scale, stdout


# ------------------------------------------------------------------------------------------------
# packages and servers


def build_packages(dest: Path, names: Sequence[str], *, revision: str = REVISION, payload_size: int = 0,
                   **spec: Any) -> list[Path]:
    """One package per name with the project's builder (``payload_size``: incompressible bytes)."""
    from slicer_ext_manager.localserver.builder import build_extension_package

    return [build_extension_package(dest, name, app_revision=revision, os=OS_NAME, arch=ARCH,
                                    payload_size=payload_size, **spec) for name in names]


class LocalServer:
    """The project's local package server over ``directory``, in a child process.

    ``count()`` is the number of HTTP requests it received since the last ``reset()``.
    ``nodelay=True`` patches the server's handler with ``disable_nagle_algorithm = True``
    (TCP_NODELAY) in that child process only, to measure what that one-line change buys.
    ``latency``: seconds the child waits before answering each item-files lookup and each
    download (a server far away: one round trip per request), a benchmark-side patch.
    """

    def __init__(self, directory: Path, *, nodelay: bool = False, latency: float = 0.0):
        command = "serve-nodelay" if nodelay else "serve"
        extra = [f"--latency={latency}"] if latency else []
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), command, str(directory), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env(), bufsize=1,
        )
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            self.process.wait(10)
            raise RuntimeError(f"the local server for {directory} did not start (exit {self.process.returncode})")
        info = json.loads(line)
        self.url: str = info["url"]
        self.app_id: str = info["app_id"]
        self.packages: int = info["packages"]

    def _ask(self, command: str) -> str:
        self.process.stdin.write(command + "\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        return self.process.stdout.readline().strip()  # type: ignore[union-attr]

    def count(self) -> int:
        return int(self._ask("count"))

    def requests(self) -> list[str]:
        return json.loads(self._ask("requests"))

    def reset(self) -> None:
        self._ask("reset")

    def file_url(self, name: str) -> str:
        """``/api/v1/file/{id}/download`` of the package called ``name`` (what the client fetches)."""
        return self._ask(f"url {name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.process.stdin.close()  # type: ignore[union-attr]
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _add_latency(handler: Any, seconds: float) -> None:
    """What-if: a round trip of ``seconds`` before each item-files lookup and download."""
    respond = handler.respond

    def delayed(self, method: str, path: str, query: str, uid: str) -> None:
        if path.endswith(("/files", "/download")):
            time.sleep(seconds)
        respond(self, method, path, query, uid)

    handler.respond = delayed


def _serve_main(directory: str, nodelay: bool = False, latency: float = 0.0) -> int:
    """Child side of :class:`LocalServer`: one JSON line when ready, then answer commands on stdin."""
    from slicer_ext_manager.localserver.handler import RequestHandler
    from slicer_ext_manager.localserver.server import PackageServer

    if nodelay:
        RequestHandler.disable_nagle_algorithm = True  # what-if experiment, this process only
    if latency:
        _add_latency(RequestHandler, latency)

    server = PackageServer(directory, port=0).start()
    index = server.index
    print(json.dumps({"url": server.url, "app_id": server.app_id, "packages": len(index.extension_items())}),
          flush=True)
    by_name = {}
    for item in index.extension_items(copy_docs=False):
        files = index.files_of_item(item["_id"])
        if files:
            by_name[item["meta"]["baseName"]] = f"{server.api_url}/file/{files[0]['_id']}/download"
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "count":
            answer = str(len(server.requests))
        elif command == "requests":
            answer = json.dumps([f"{m} {p}{'?' + q if q else ''}" for m, p, q in list(server.requests)])
        elif command == "reset":
            server.requests.clear()
            answer = "ok"
        elif command == "url":
            answer = by_name.get(arg, "")
        else:
            answer = "?"
        print(answer, flush=True)
    server.stop()
    return 0


CATEGORIES = ("Segmentation", "Registration", "IGT", "Quantification", "Diffusion", "Filtering", "Informatics",
              "Utilities", "Examples", "Cardiac", "Radiotherapy", "Neuroimaging", "Sequences", "Virtual Reality",
              "Training", "DICOM", "Surface Models", "Converters", "Wizards", "Developer Tools")
_WORDS = ("lung", "liver", "vessel", "brain", "tumor", "bone", "spine", "heart", "airway", "dental", "skin", "muscle",
          "ultrasound", "mri", "ct", "pet", "dose", "needle", "catheter", "tracker", "landmark", "mesh", "volume",
          "label", "atlas", "texture", "radiomics", "sequence", "stereo", "navigation", "planning", "printing",
          "curve", "markup", "model", "fiducial", "transform", "filter", "threshold", "grow", "watershed", "deep",
          "learning", "monai", "nnunet", "totalseg", "slice", "render", "camera", "export")


def synthetic_catalog(count: int, template_dir: Path, *, revision: str = REVISION, seed: int = 1) -> list[dict]:
    """``count`` extension items as the server lists them (distinct ids and names, varied
    categories, descriptions and keywords), cloned from the item the local server makes for
    one real package built in ``template_dir``. No archive is built for the clones."""
    import copy
    import hashlib
    import random

    from slicer_ext_manager.localserver.index import PackageIndex

    build_packages(template_dir, ["Template"], revision=revision)
    template = PackageIndex.scan(template_dir).extension_items()[0]
    rng = random.Random(seed)
    items = []
    for i in range(count):
        words = rng.sample(_WORDS, 4)
        name = "".join(w.capitalize() for w in words[:2]) + f"{i:04d}"
        item = copy.deepcopy(template)
        item["_id"] = hashlib.sha256(f"item{i}".encode()).hexdigest()[:24]
        item["name"] = item["name"].replace("Template", name)
        meta = item["meta"]
        meta["baseName"] = name
        meta["category"] = rng.choice(CATEGORIES)
        meta["description"] = item["description"] = (
            f"{name}: {' '.join(words)} tools for {rng.choice(_WORDS)} {rng.choice(_WORDS)} analysis.")
        meta["keywords"] = " ".join(rng.sample(_WORDS, 3))
        meta["revision"] = hashlib.sha1(name.encode()).hexdigest()[:7]
        items.append(item)
    return items


def write_catalog_cache(profile: SlicerProfile, items: list[dict]) -> int:
    """Write Slicer's metadata cache (JSON + the two settings) for ``items``, fresh as of now,
    so a manager on ``profile`` loads its catalog without any request. Returns the count."""
    from slicer_ext_manager.cache import MetadataCache
    from slicer_ext_manager.catalog import catalog_from_items

    context = profile.context()
    extensions = catalog_from_items(items)
    MetadataCache(context).save(extensions)
    return len(extensions)


# ------------------------------------------------------------------------------------------------
# Qt (offscreen)


def qt_app():
    """The QApplication (created offscreen when there is none)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        qInstallMessageHandler(_quiet_qt_messages)
        app = QApplication([sys.argv[0] or "benchmark"])
    return app


def _quiet_qt_messages(mode, context, message: str) -> None:
    """Drop the offscreen platform's harmless chatter; print anything else on stderr."""
    if "propagateSizeHints" not in message:
        sys.stderr.write(message + "\n")


def process_until(predicate, timeout: float) -> bool:
    """Process Qt events until ``predicate()`` is true (True) or ``timeout`` seconds pass (False)."""
    app = qt_app()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.0005)
    return True


def paint_spy(widget, condition=None, callback=None):
    """Record ``time.perf_counter()`` at every Paint event ``widget`` receives while
    ``condition()`` holds, and call ``callback(time)`` if given. Returns the spy (its
    ``times`` list fills up); it is parented to ``widget``."""
    from PySide6.QtCore import QEvent, QObject

    class PaintSpy(QObject):
        def __init__(self) -> None:
            super().__init__(widget)
            self.times: list[float] = []

        def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
            if event.type() == QEvent.Type.Paint and (condition is None or condition()):
                now = time.perf_counter()
                self.times.append(now)
                if callback is not None:
                    callback(now)
            return False

    spy = PaintSpy()
    widget.installEventFilter(spy)
    return spy


def ui_available() -> str:
    """Why ``slicer_ext_manager.ui`` (dialog and widget) cannot be imported; empty when it can."""
    import importlib

    try:
        for module in ("slicer_ext_manager.ui.dialog", "slicer_ext_manager.ui.widget"):
            importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
        return f"{type(exc).__name__}: {exc}"
    return ""


def girder_venv_python() -> Path | None:
    """The real server's virtualenv python (``$SLICER_EXT_MANAGER_GIRDER_VENV`` or
    ``<repo>/.girder-venv``), or None when it does not exist."""
    from tests.girder import ensure_venv

    python = ensure_venv.venv_python(ensure_venv.default_venv_dir())
    return python if python.exists() else None


@contextlib.contextmanager
def start_girder(data_dir: Path) -> Iterator[tuple[Any, Any]]:
    """Start the real Slicer Package Manager server; yield ``(GirderServer, GirderAdmin)``."""
    from tests.girder.harness import GirderAdmin, GirderServer

    python = girder_venv_python()
    if python is None:
        raise RuntimeError("no Girder venv")
    server = GirderServer.start(python, data_dir)
    try:
        admin = GirderAdmin(server.api_url, server.admin_login, server.admin_password,
                            assetstore_root=server.assetstore_path)
        yield server, admin
    finally:
        server.stop()


_ACCESS_LINE = re.compile(r'^\S+ - \S+ \[[^]]*\] "[A-Z]+ /api/v1/')


def girder_access_count(server: Any) -> int:
    """API requests the real server has answered so far, from its access log (CherryPy
    logs one line per request at INFO; count differences around a measurement)."""
    log = Path(server.info.get("log_dir") or server.data_dir / "logs") / "info.log"
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    return sum(1 for line in text.splitlines() if _ACCESS_LINE.match(line))


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] in ("serve", "serve-nodelay"):
        delay = float(sys.argv[3].split("=", 1)[1]) if len(sys.argv) == 4 else 0.0
        sys.exit(_serve_main(sys.argv[2], nodelay=sys.argv[1] == "serve-nodelay", latency=delay))
    sys.exit("usage: python benchmarks/common.py serve DIRECTORY")
