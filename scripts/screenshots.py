#!/usr/bin/env python3
"""Render the Extensions Manager's tabs to PNG files (offscreen), against a small demo
catalog served by the local PackageServer.

    python scripts/screenshots.py [--out docs/screenshots] [--keep]

Self-contained: builds ~15 demo packages (categories, descriptions, dependencies, icons)
into a temporary folder, serves them, makes a temporary Slicer profile (with the history
of an older Slicer, bookmarks, a few installed extensions, one update available and one
extension left over from an older Slicer, hence incompatible) and writes ``search.png``,
``install.png`` (a download paused partway), ``restore.png`` and ``installed.png``.
"""

from __future__ import annotations

import argparse
import colorsys
import hashlib
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from slicer_ext_manager import s4ext  # noqa: E402
from slicer_ext_manager.context import AppContext  # noqa: E402
from slicer_ext_manager.localserver.builder import build_extension_package  # noqa: E402
from slicer_ext_manager.localserver.server import PackageServer  # noqa: E402
from slicer_ext_manager.manager import ExtensionsManager  # noqa: E402
from slicer_ext_manager.server import SlicerPackagesClient  # noqa: E402
from tests.faultserver import Faults, FaultyPackageServer  # noqa: E402 (fault injection is test code)

REVISION = "33241"
OLD_REVISION = "32448"
SIZE = (1100, 720)

# name, category, description, depends, extra
DEMO = [
    ("SlicerIGT", "IGT", "Tools for image-guided therapy research: tracking, calibration, navigation and "
     "real-time visualization with OpenIGTLink devices.", ("SlicerOpenIGTLink",), {"keywords": "tracking navigation"}),
    ("SlicerOpenIGTLink", "IGT", "OpenIGTLink interface: exchange images, transforms and models with "
     "tracking devices, imaging systems and robots.", (), {}),
    ("SegmentEditorExtraEffects", "Segmentation", "Extra effects for the Segment Editor: watershed, fast "
     "marching, surface cut, mask volume, local thresholding.", (), {}),
    ("TotalSegmentator", "Segmentation", "Fully automatic segmentation of more than 100 structures in CT "
     "and MR images with a deep-learning model.", ("PyTorch",), {"keywords": "AI deep learning"}),
    ("PyTorch", "Utilities", "Installs PyTorch in Slicer's Python environment so that AI extensions can "
     "use it (CPU or CUDA).", (), {}),
    ("SlicerRT", "Radiotherapy", "Radiation therapy toolkit: DICOM-RT import/export, dose volume histograms, "
     "dose comparison, isodose lines and plastimatch registration.", (), {}),
    ("MarkupsToModel", "Surface Models", "Create surface models (tubes, closed surfaces) from markup points "
     "and curves, and update them as the markups change.", (), {}),
    ("SlicerMorph", "Quantification", "Geometric morphometrics: landmarking, GPA and PCA of shapes, "
     "auto-landmarking and import of microCT stacks.", ("SegmentEditorExtraEffects",), {}),
    ("SlicerElastix", "Registration", "Image registration with the Elastix toolbox, with presets for common "
     "rigid, affine and deformable problems.", (), {}),
    ("SurfaceWrapSolidify", "Segmentation", "Fill holes and wrap segments with a smooth surface, e.g. for "
     "3D printing shells from incomplete segmentations.", (), {}),
    ("SlicerDMRI", "Diffusion", "Diffusion MRI analysis: tractography, fiber bundle selection and "
     "quantitative diffusion measures.", (), {}),
    ("DICOMwebBrowser", "Informatics", "Browse, query and retrieve studies from DICOMweb servers such as "
     "Google Healthcare, Kheops or Orthanc.", (), {}),
    ("SlicerHeart", "Cardiac", "Cardiac imaging and modeling: valve segmentation, leaflet analysis and "
     "import of 3D echo from ultrasound vendors.", ("SlicerIGT",), {}),
    ("LegacyTools", "Utilities", "Miscellaneous tools kept for old scenes (this profile still has the build "
     "of an older Slicer installed).", (), {}),
    ("Sandbox", "Examples", "Experimental modules that may graduate to their own extensions.", (), {}),
]
BIG = {"SlicerRT": 24 * 1024 * 1024}  # paused partway in install.png


def icon_svg(name: str) -> str:
    digest = hashlib.sha1(name.encode()).digest()
    hue = digest[0] / 255.0
    r, g, b = colorsys.hls_to_rgb(hue, 0.45, 0.55)
    r2, g2, b2 = colorsys.hls_to_rgb(hue, 0.32, 0.6)
    c1 = f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
    c2 = f"#{int(r2 * 255):02x}{int(g2 * 255):02x}{int(b2 * 255):02x}"
    letters = "".join(ch for ch in name.replace("Slicer", "") if ch.isupper())[:2] or name[:2]
    return textwrap.dedent(f"""\
        <svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">
          <defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">
            <stop offset="0" stop-color="{c1}"/><stop offset="1" stop-color="{c2}"/></linearGradient></defs>
          <rect x="6" y="6" width="116" height="116" rx="26" fill="url(#g)"/>
          <circle cx="98" cy="30" r="10" fill="#ffffff" fill-opacity="0.35"/>
          <text x="64" y="84" font-family="DejaVu Sans, Arial, sans-serif" font-size="48" font-weight="bold"
                fill="#ffffff" text-anchor="middle">{letters}</text>
        </svg>
        """)


def screenshot_png(name: str, path: Path) -> str:
    """A made-up viewer screenshot (dark background, a few glowing shapes), as a file URL."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor, QImage, QPainter, QRadialGradient

    digest = hashlib.sha1(name.encode()).digest()
    image = QImage(480, 300, QImage.Format.Format_RGB32)
    image.fill(QColor("#101418"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    r, g, b = colorsys.hls_to_rgb(digest[0] / 255.0, 0.55, 0.6)
    for i in range(5):
        centre = QPointF(480 * (0.15 + 0.7 * digest[i + 1] / 255), 300 * (0.2 + 0.6 * digest[i + 6] / 255))
        glow = QRadialGradient(centre, 40 + digest[i + 11] / 4)
        glow.setColorAt(0.0, QColor(int(r * 255), int(g * 255), int(b * 255)))
        glow.setColorAt(1.0, QColor(0, 0, 0, 0))
        painter.setBrush(glow)
        painter.setPen(QColor(0, 0, 0, 0))
        painter.drawEllipse(centre, 40 + digest[i + 11] / 4, 40 + digest[i + 11] / 4)
    painter.setPen(QColor(255, 255, 255, 40))
    for x in range(0, 480, 40):
        painter.drawLine(x, 0, x, 300)
    for y in range(0, 300, 40):
        painter.drawLine(0, y, 480, y)
    painter.end()
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(str(path))
    return path.as_uri()


def build_demo(root: Path) -> Path:
    packages = root / "packages"
    icons = root / "demo-icons"
    icons.mkdir(parents=True)
    for i, (name, category, description, depends, extra) in enumerate(DEMO):
        iconurl = ""
        if name not in ("Sandbox", "DICOMwebBrowser"):  # these two keep the default icon
            path = icons / f"{name}.svg"
            path.write_text(icon_svg(name), encoding="utf-8")
            iconurl = path.as_uri()
        build_extension_package(
            packages, name, app_revision=REVISION, category=category, description=description, depends=depends,
            iconurl=iconurl, homepage=f"https://github.com/example-org/{name}",
            scm_url=f"https://github.com/example-org/{name}.git",
            contributors="Jane Doe (Example University), John Roe (Example Hospital)",
            screenshots=screenshot_png(name, root / "demo-screenshots" / f"{name}.png"),
            scm_revision=f"{hashlib.sha1(name.encode()).hexdigest()[:7]}", date=f"2025-02-{1 + i % 27:02d}",
            payload_size=BIG.get(name, 0), **extra)
    # An older build of SlicerElastix: installed first, then replaced on the server (update available).
    build_extension_package(root / "old-builds", "SlicerElastix", app_revision=REVISION, category="Registration",
                            description=DEMO[8][2], scm_revision="1111aaa", date="2024-11-02",
                            scm_url="https://github.com/example-org/SlicerElastix.git")
    return packages


def make_profile(root: Path, server: PackageServer) -> AppContext:
    sdir = root / "profile" / "slicer.org"
    sdir.mkdir(parents=True)
    (sdir / "Slicer.ini").write_text(textwrap.dedent(f"""\
        [Extensions]
        AutoUpdateCheck=true
        Bookmarked=SlicerHeart, DICOMwebBrowser, RetiredExtension

        [ExtensionsHistory]
        Revisions\\30893=SlicerRT, RetiredExtension, Sandbox
        Revisions\\{OLD_REVISION}=SlicerIGT, SlicerOpenIGTLink, SegmentEditorExtraEffects, SlicerMorph, \
TotalSegmentator, PyTorch, MarkupsToModel, RetiredExtension
        """), encoding="utf-8")
    (sdir / f"Slicer-{REVISION}.ini").write_text(f"[Extensions]\nServerUrl={server.url}\n", encoding="utf-8")
    return AppContext.resolve(settings_dir=sdir, revision=REVISION, os_name="linux", arch="amd64",
                              server_url=server.url, app_id=server.app_id, slicer_version="5.8")


def manager_for(ctx: AppContext) -> ExtensionsManager:
    return ExtensionsManager(ctx, client=SlicerPackagesClient(ctx.server_url, ctx.app_id, backoff=0.01))


def prepare_profile(root: Path, ctx: AppContext, server: PackageServer) -> None:
    manager = manager_for(ctx)
    # Installed: SlicerIGT (+ OpenIGTLink), MarkupsToModel, an old SlicerElastix, LegacyTools (older Slicer).
    report = manager.install(["SlicerIGT", "MarkupsToModel", "LegacyTools"])
    assert report.ok, report.to_json()
    assert manager.install_files([next((root / "old-builds").glob("*.tar.gz"))]).ok
    desc = s4ext.read(ctx.install_path / "LegacyTools.s4ext")
    desc["slicer_revision"] = "30893"  # left over from an older Slicer sharing the folder
    s4ext.write(ctx.install_path / "LegacyTools.s4ext", desc)
    manager.set_enabled("MarkupsToModel", False)
    manager.catalog(refresh=True)  # the cache knows the new SlicerElastix build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (prints its path)")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0], "-platform", "offscreen"])
    from slicer_ext_manager.ui.app import render_screenshot
    from slicer_ext_manager.ui.queue_model import ItemState

    root = Path(tempfile.mkdtemp(prefix="sem-screenshots-"))
    faults = Faults()
    try:
        packages = build_demo(root)
        with FaultyPackageServer(packages, faults=faults) as server:
            ctx = make_profile(root, server)
            prepare_profile(root, ctx, server)
            options = {"icon_cache_dir": root / "icon-cache"}
            out = args.out
            out.mkdir(parents=True, exist_ok=True)

            def show_igt(dialog):
                dialog.widget.search_tab.select_names(["SlicerIGT"], current="SlicerIGT")

            paths = [render_screenshot(manager_for(ctx), out / "search.png", tab="search", size=SIZE,
                                       prepare=show_igt, dialog_options=options)]
            paths.append(render_screenshot(manager_for(ctx), out / "restore.png", tab="restore", size=SIZE,
                                           dialog_options=options))

            def select_elastix(dialog):
                dialog.widget.installed_tab.select_name("SlicerElastix")

            paths.append(render_screenshot(manager_for(ctx), out / "installed.png", tab="installed", size=SIZE,
                                           prepare=select_elastix, dialog_options=options))

            # Mid-install: SlicerRT's download is slowed down and grabbed partway.
            index = server.index
            item = next(i for i in index.extension_items() if i["meta"]["baseName"] == "SlicerRT")
            file_id = index.files_of_item(item["_id"])[0]["_id"]
            faults.delay(rf"/file/{file_id}/download", 0.02, per_chunk=True, times=None)

            def start_install(dialog):
                widget = dialog.widget
                widget.install_tab.add_names(["SegmentEditorExtraEffects", "SlicerRT", "SlicerMorph",
                                              "SurfaceWrapSolidify"], start=True)

            def partway(dialog):
                item = dialog.widget.install_tab.item("SlicerRT")
                return bool(item and item.state == ItemState.RUNNING and item.size
                            and 0.45 < item.done / item.size < 0.7)

            paths.append(render_screenshot(manager_for(ctx), out / "install.png", tab="install", size=SIZE,
                                           prepare=start_install, ready=partway, timeout=120,
                                           dialog_options=options))
            faults.clear()
        for p in paths:
            print(p)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
