#!/usr/bin/env python3
"""Create (idempotently) the virtualenv that runs the real Girder test server.

Usage::

    python tests/girder/ensure_venv.py            # prints the venv's python path

The venv lives at ``$SLICER_EXT_MANAGER_GIRDER_VENV``, or ``<repo>/.girder-venv``
when that variable is unset. It gets the packages of ``requirements.txt`` next to
this file (Girder 3.1, the slicer_package_manager plugin, mongomock and the
pins that keep them working on current Python).

Idempotence: after a successful install a marker file
(``<venv>/.slicer-ext-manager-requirements.sha256``) stores the SHA-256 of
``requirements.txt``. When the marker matches and the venv's python exists,
nothing is installed. When the requirements change, ``pip install -r`` runs again
in the existing venv.

Only the venv's python path goes to stdout (so ``PY=$(python ensure_venv.py)``
works); progress and pip's output go to stderr. If venv creation, pip or the
import check fails, the script exits non-zero with an explanation on stderr.

The base interpreter is the one running this script; override it with
``--python PATH`` or ``$SLICER_EXT_MANAGER_GIRDER_PYTHON``. Only PyPI (or
whatever index pip is configured with) needs to be reachable.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
REQUIREMENTS = HERE / "requirements.txt"
ENV_VENV = "SLICER_EXT_MANAGER_GIRDER_VENV"
ENV_PYTHON = "SLICER_EXT_MANAGER_GIRDER_PYTHON"
MARKER_NAME = ".slicer-ext-manager-requirements.sha256"
#: Imported by the check that closes a (re)install.
CHECK_IMPORTS = "import girder, girder.utility.server, slicer_package_manager, mongomock, pymongo, bcrypt"


def default_venv_dir() -> Path:
    """The venv directory: ``$SLICER_EXT_MANAGER_GIRDER_VENV`` or ``<repo>/.girder-venv``."""
    env = os.environ.get(ENV_VENV, "").strip()
    return Path(env).expanduser().resolve() if env else REPO_ROOT / ".girder-venv"


def venv_python(venv_dir: Path) -> Path:
    """Path of the interpreter inside ``venv_dir`` (whether or not it exists)."""
    if os.name == "nt":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


def requirements_hash(path: Path = REQUIREMENTS) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_ready(venv_dir: Path) -> bool:
    """True when the venv exists and was completed for the current requirements.txt."""
    marker = venv_dir / MARKER_NAME
    try:
        return venv_python(venv_dir).exists() and marker.read_text().strip() == requirements_hash()
    except OSError:
        return False


class EnsureVenvError(RuntimeError):
    pass


def _log(msg: str) -> None:
    print(f"[ensure_venv] {msg}", file=sys.stderr, flush=True)


def _run(cmd: list[str], what: str) -> None:
    _log("running: " + " ".join(cmd))
    try:
        proc = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise EnsureVenvError(f"{what} could not be started: {exc}") from exc
    if proc.returncode != 0:
        raise EnsureVenvError(f"{what} failed with exit code {proc.returncode} (command: {' '.join(cmd)})")


@contextlib.contextmanager
def _lock(venv_dir: Path):
    """Serialise concurrent runs (e.g. several pytest workers) on a lock file in the temp dir."""
    key = hashlib.sha256(str(venv_dir.resolve()).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"slicer-ext-manager-girder-venv-{key}.lock"
    with open(lock_path, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: no locking, concurrent first runs are unlikely
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def ensure_venv(venv_dir: Path | None = None, base_python: str | None = None, *, force: bool = False) -> Path:
    """Make sure the Girder venv exists and is complete; return its python path."""
    venv_dir = Path(venv_dir) if venv_dir is not None else default_venv_dir()
    base_python = base_python or os.environ.get(ENV_PYTHON) or sys.executable
    if not force and is_ready(venv_dir):
        return venv_python(venv_dir)
    with _lock(venv_dir):
        if not force and is_ready(venv_dir):  # another process finished it meanwhile
            return venv_python(venv_dir)
        marker = venv_dir / MARKER_NAME
        with contextlib.suppress(FileNotFoundError):
            marker.unlink()
        py = venv_python(venv_dir)
        if not py.exists():
            if venv_dir.exists() and any(venv_dir.iterdir()):
                # A half-created venv (interrupted run): start over.
                if (venv_dir / "pyvenv.cfg").exists():
                    shutil.rmtree(venv_dir)
                else:
                    raise EnsureVenvError(
                        f"{venv_dir} exists, is not empty and is not a virtualenv; "
                        f"remove it or point {ENV_VENV} elsewhere")
            _log(f"creating virtualenv {venv_dir} with {base_python}")
            _run([base_python, "-m", "venv", str(venv_dir)], "virtualenv creation")
            if not py.exists():
                raise EnsureVenvError(f"virtualenv created but {py} does not exist")
        _log(f"installing {REQUIREMENTS} into {venv_dir}")
        _run([str(py), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
              "-r", str(REQUIREMENTS)], "pip install")
        _run([str(py), "-c", CHECK_IMPORTS], "import check of the Girder venv")
        tmp = marker.with_name(marker.name + ".tmp")
        tmp.write_text(requirements_hash() + "\n")
        os.replace(tmp, marker)
        _log("ready")
        return py


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the Girder test-server virtualenv and print its python.")
    parser.add_argument("--venv", help=f"venv directory (default: ${ENV_VENV} or <repo>/.girder-venv)")
    parser.add_argument("--python", help=f"base interpreter (default: ${ENV_PYTHON} or this python)")
    parser.add_argument("--force", action="store_true", help="reinstall even if the marker is up to date")
    args = parser.parse_args(argv)
    venv_dir = Path(args.venv).expanduser().resolve() if args.venv else None
    try:
        py = ensure_venv(venv_dir, args.python, force=args.force)
    except EnsureVenvError as exc:
        print(f"ERROR: could not prepare the Girder test-server virtualenv: {exc}\n"
              f"       requirements: {REQUIREMENTS}\n"
              f"       (see pip's output above; PyPI must be reachable)", file=sys.stderr)
        return 1
    print(py)
    return 0


if __name__ == "__main__":
    sys.exit(main())
