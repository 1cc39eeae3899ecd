"""Packaging: the sdist and wheel, the wheel in a fresh virtualenv, the PyInstaller one-folder
bundle, and the Linux desktop integration (desktop entry, AppStream metainfo, icons).

Marked ``slow`` (CI runs them). The builds go through ``scripts/build-packages.sh`` into temporary
folders; every program runs offscreen with a throwaway home. The packaging tools come from the
``test`` extra (``build``, ``pyinstaller``): locally a missing tool skips its tests, in CI
(``CI=true``) it fails them. ``appstreamcli`` likewise; in CI it is installed with apt-get when
missing and possible.

The ``demo --screenshot`` checks run when the built program lists a ``demo`` command (see
``_has_demo``), the GUI entry point checks when it lists ``gui`` (``_gui_help``); without the
command they are skipped with that reason.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from slicer_ext_manager import __version__

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "org.slicer_ext_manager.SlicerExtManager"
LINUX = ROOT / "packaging" / "linux"
IN_CI = os.environ.get("CI", "").strip().lower() == "true"
APP_ICON = "slicer_ext_manager/resources/app-icon.svg"  # where the dialog looks for it (ui/icons.py)
PYSIDE_REQUIREMENT = "PySide6-Essentials!=6.12.0,>=6.5"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- helpers ------------------------------------------------------------------------------------


def _missing(what: str, how: str) -> None:
    """Skip locally, fail in CI: CI must exercise every packaging form."""
    message = f"{what} is not available ({how})"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _require_module(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        _missing(f"the Python module {module}", "pip install -e '.[test]' or '.[package]'")


def _env(home: Path) -> dict[str, str]:
    """Offscreen, with a throwaway home so nothing touches the user's Slicer settings or caches."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "SLICER_EXTENSIONS_MANAGER_SERVER_URL"):
        env.pop(key, None)
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        SLICER_EXT_MANAGER_SETTINGS_DIR=str(home / "slicer.org"),
    )
    return env


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    started = time.monotonic()
    proc = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=timeout, **kw)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited with {proc.returncode} after {time.monotonic() - started:.0f} s\n"
                    f"--- stdout\n{proc.stdout[-5000:]}\n--- stderr\n{proc.stderr[-5000:]}")
    return proc


def _build(form: str, out: Path) -> float:
    """Runs scripts/build-packages.sh --<form> with this interpreter; returns the seconds it took."""
    started = time.monotonic()
    _run(["bash", ROOT / "scripts" / "build-packages.sh", f"--{form}", "--out", out],
         env={**os.environ, "PYTHON": sys.executable}, timeout=1200, cwd=ROOT)
    return time.monotonic() - started


def _has_demo(exe: Path, env: dict[str, str]) -> bool:
    """Whether the built program has the ``demo`` command (the check guarding the demo tests)."""
    help_text = _run([exe, "--help"], env=env).stdout
    return re.search(r"^\s+demo\s", help_text, re.MULTILINE) is not None


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _smoke(exe: Path, env: dict[str, str]) -> None:
    """--help, --version and info-context: no network, no Slicer profile needed."""
    assert "info-context" in _run([exe, "--help"], env=env).stdout
    assert __version__ in _run([exe, "--version"], env=env).stdout
    out = _run([exe, "info-context", "--json", "--revision", "33241", "--os", "linux", "--arch", "amd64"], env=env).stdout
    assert '"revision": "33241"' in out


def _demo_screenshot(exe: Path, env: dict[str, str], out: Path) -> None:
    if not _has_demo(exe, env):
        pytest.skip("the 'demo' command is not wired into slicer_ext_manager/cli.py yet")
    _run([exe, "demo", "--screenshot", out], env=env, timeout=300)
    assert out.is_file() and out.stat().st_size > 1000, f"{out} is missing or empty"
    width, height = _png_size(out)
    assert width >= 200 and height >= 200, (width, height)


def _source_modules() -> set[str]:
    package = ROOT / "slicer_ext_manager"
    return {p.relative_to(ROOT).as_posix() for p in package.rglob("*.py") if "__pycache__" not in p.parts}


# -- sdist and wheel ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> Path:
    _require_module("build")
    out = tmp_path_factory.mktemp("packages")
    seconds = _build("wheel", out)
    print(f"\nsdist + wheel built in {seconds:.0f} s")
    return out / "dist"


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}, found {found}"
    return found[0]


def test_wheel_content(dists):
    wheel = _one(dists, "slicer_ext_manager-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = f"slicer_ext_manager-{__version__}.dist-info"
        metadata = zf.read(f"{dist_info}/METADATA").decode()
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "packaging/", "scripts/"))]
    missing = _source_modules() - names
    assert not missing, f"modules missing from the wheel: {sorted(missing)}"
    assert APP_ICON in names, (
        f"{APP_ICON} is missing from the wheel: the application icon must live in the package "
        "(git mv resources slicer_ext_manager/resources)")
    assert f"{dist_info}/licenses/LICENSE" in names
    assert f"Version: {__version__}" in metadata
    assert "License-Expression: BSD-3-Clause" in metadata
    assert "Requires-Python: >=3.10" in metadata
    assert f"Requires-Dist: {PYSIDE_REQUIREMENT}" in metadata
    assert "slicer-ext-manager = slicer_ext_manager.cli:main" in entry_points
    assert re.search(r"\[gui_scripts\]\s*slicer-ext-manager-gui = slicer_ext_manager.gui_main:main", entry_points)


def test_sdist_content(dists):
    sdist = _one(dists, "slicer_ext_manager-*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert not [n for n in names if n == "tests" or n.startswith("tests/")], "the sdist must not hold tests/"
    for required in ("LICENSE", "README.md", "pyproject.toml", "slicer_ext_manager/gui_main.py",
                     f"packaging/linux/{APP_ID}.desktop", f"packaging/linux/{APP_ID}.metainfo.xml"):
        assert required in names, f"{required} is missing from the sdist"
    assert APP_ICON in names, f"{APP_ICON} is missing from the sdist"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


@pytest.fixture(scope="module")
def wheel_venv(dists, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel (and its dependencies from the package index) installed."""
    venv = tmp_path_factory.mktemp("wheel-venv")
    started = time.monotonic()
    _run([sys.executable, "-m", "venv", venv])
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    wheel = _one(dists, "*.whl")
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel], timeout=900)
    print(f"\nwheel installed into a fresh virtualenv in {time.monotonic() - started:.0f} s")
    return venv


def _venv_exe(venv: Path, name: str) -> Path:
    folder = venv / ("Scripts" if os.name == "nt" else "bin")
    return folder / (name + (".exe" if os.name == "nt" else ""))


def test_wheel_runs_in_fresh_venv(wheel_venv, tmp_path):
    env = _env(tmp_path / "home")
    _smoke(_venv_exe(wheel_venv, "slicer-ext-manager"), env)
    assert _venv_exe(wheel_venv, "slicer-ext-manager-gui").is_file()
    # The installed package is the wheel's (not this source tree), and its icon loads through Qt.
    code = (
        "import sys, slicer_ext_manager\n"
        "from importlib.resources import files\n"
        "from PySide6.QtGui import QGuiApplication, QIcon\n"
        f"assert {str(ROOT)!r} not in slicer_ext_manager.__file__, slicer_ext_manager.__file__\n"
        "icon = files('slicer_ext_manager') / 'resources' / 'app-icon.svg'\n"
        "assert icon.is_file(), f'{icon} missing'\n"
        "app = QGuiApplication([])\n"
        "assert not QIcon(str(icon)).pixmap(64, 64).isNull(), 'the SVG icon does not render'\n"
        "print('ok', slicer_ext_manager.__file__)\n"
    )
    out = _run([_venv_exe(wheel_venv, "python"), "-c", code], env=env, cwd=tmp_path).stdout
    assert out.startswith("ok ")


def _gui_help(exe: Path, cli: Path, env: dict[str, str]) -> None:
    """The GUI entry point forwards to ``slicer-ext-manager gui`` (checked once that command exists)."""
    if re.search(r"^\s+gui\s", _run([cli, "--help"], env=env).stdout, re.MULTILINE) is None:
        pytest.skip("the 'gui' command is not wired into slicer_ext_manager/cli.py yet")
    if os.name == "nt":
        _run([exe, "--help"], env=env)  # windowed: no output to check
    else:
        assert "usage:" in _run([exe, "--help"], env=env).stdout


def test_wheel_gui_entry_point(wheel_venv, tmp_path):
    _gui_help(_venv_exe(wheel_venv, "slicer-ext-manager-gui"), _venv_exe(wheel_venv, "slicer-ext-manager"),
              _env(tmp_path / "home"))


def test_wheel_demo_screenshot(wheel_venv, tmp_path):
    _demo_screenshot(_venv_exe(wheel_venv, "slicer-ext-manager"), _env(tmp_path / "home"), tmp_path / "demo.png")


# -- PyInstaller --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    _require_module("PyInstaller")
    out = tmp_path_factory.mktemp("bundle")
    seconds = _build("pyinstaller", out)
    app = out / "pyinstaller" / "slicer-ext-manager"
    size = sum(p.stat().st_size for p in app.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"\nPyInstaller bundle built in {seconds:.0f} s: {size / 2**20:.0f} MiB")
    return app


def _bundle_exe(app: Path, name: str) -> Path:
    return app / (name + (".exe" if os.name == "nt" else ""))


def test_bundle_layout(bundle):
    assert _bundle_exe(bundle, "slicer-ext-manager").is_file()
    assert _bundle_exe(bundle, "slicer-ext-manager-gui").is_file()
    internal = bundle / "_internal"
    files = [p.relative_to(internal).as_posix() for p in internal.rglob("*")]
    assert (internal / "slicer_ext_manager" / "resources" / "app-icon.svg").is_file()

    def has(pattern: str) -> bool:
        return any(re.search(pattern, f) for f in files)

    if sys.platform.startswith("linux"):
        for plugin in (r"platforms/libqoffscreen\.so$", r"platforms/libqxcb\.so$", r"imageformats/libqsvg\.so$",
                       r"imageformats/libqico\.so$", r"iconengines/libqsvgicon\.so$"):
            assert has(plugin), f"Qt plugin {plugin} missing from the bundle"
    # Unneeded Qt modules stay out.
    for unwanted in (r"Qt6Quick", r"Qt6Qml", r"Qt6Pdf", r"Qt6VirtualKeyboard", r"Qt6Designer",
                     r"plugins/sqldrivers", r"qtvirtualkeyboard", r"(^|/)tkinter(/|$)", r"cryptography/",
                     r"libqgtk3"):
        assert not has(unwanted), f"{unwanted} should not be in the bundle"


def test_bundle_runs_offscreen(bundle, tmp_path):
    env = _env(tmp_path / "home")
    exe = _bundle_exe(bundle, "slicer-ext-manager")
    _smoke(exe, env)
    out = tmp_path / "selftest.png"
    report = _run([exe, "--bundle-selftest", out], env=env).stdout
    assert "platform=offscreen" in report
    assert _png_size(out) == (160, 160)


def test_bundle_gui_entry_point(bundle, tmp_path):
    _gui_help(_bundle_exe(bundle, "slicer-ext-manager-gui"), _bundle_exe(bundle, "slicer-ext-manager"),
              _env(tmp_path / "home"))


def test_bundle_demo_screenshot(bundle, tmp_path):
    _demo_screenshot(_bundle_exe(bundle, "slicer-ext-manager"), _env(tmp_path / "home"), tmp_path / "demo.png")


# -- Linux desktop integration ------------------------------------------------------------------


def test_icons_are_rendered_from_the_app_icon(tmp_path):
    _require_module("PySide6.QtSvg")
    _run([sys.executable, ROOT / "packaging" / "render_icons.py", "--check"], env=_env(tmp_path / "home"))
    hicolor = LINUX / "icons" / "hicolor"
    for size in (48, 128, 256):
        assert _png_size(hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png") == (size, size)
    assert (hicolor / "scalable" / "apps" / f"{APP_ID}.svg").is_file()


def _gui_script_name() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = re.search(r"^\[project\.gui-scripts\]\s*\n(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    assert section, "pyproject.toml has no [project.gui-scripts]"
    match = re.search(r"^([\w.-]+)\s*=", section.group(1), re.MULTILINE)
    assert match
    return match.group(1)


def test_desktop_entry():
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(LINUX / f"{APP_ID}.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == _gui_script_name() == "slicer-ext-manager-gui"
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    categories = [c for c in entry["Categories"].split(";") if c]
    assert "Science" in categories and "MedicalSoftware" in categories


def test_metainfo():
    root = ET.parse(LINUX / f"{APP_ID}.metainfo.xml").getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("project_license") == "BSD-3-Clause"
    assert root.find("launchable").text == f"{APP_ID}.desktop"
    releases = [r.get("version") for r in root.iter("release")]
    assert releases and releases[0] == __version__, (
        f"the newest <release> of the metainfo ({releases[:1]}) is not the package version {__version__}")


def _appstreamcli() -> str:
    found = shutil.which("appstreamcli")
    if found:
        return found
    if IN_CI and shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "appstream"]
        if subprocess.run(cmd, env=env, capture_output=True, timeout=600).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
            subprocess.run(cmd, env=env, capture_output=True, timeout=600)
        found = shutil.which("appstreamcli")
        if found:
            return found
    _missing("appstreamcli", "Debian/Ubuntu: apt-get install -y appstream")
    raise AssertionError("unreachable")


def test_desktop_files_validate(tmp_path):
    stage = tmp_path / "stage"
    _run(["bash", LINUX / "install.sh", "--prefix", "/usr", "--destdir", stage])
    share = stage / "usr" / "share"
    assert (share / "applications" / f"{APP_ID}.desktop").is_file()
    assert (share / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    assert (share / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png").is_file()
    if shutil.which("desktop-file-validate"):
        _run(["desktop-file-validate", share / "applications" / f"{APP_ID}.desktop"])
    # validate-tree checks the metainfo and that its desktop entry is installed next to it.
    _run([_appstreamcli(), "validate-tree", "--no-net", stage])
