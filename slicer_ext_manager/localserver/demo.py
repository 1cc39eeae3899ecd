"""The demo: a generated catalog of invented extensions, served locally, and a throw-away
Slicer profile with a history to restore.

:func:`prepare_demo` is what ``slicer-ext-manager demo`` runs before it opens the
dialog, and what tests, screenshots and benchmarks reuse::

    with prepare_demo(tmp_path) as env:
        plan = env.manager.restore_plan()

The catalog (:data:`DEMO_EXTENSIONS`): 46 extensions with names, descriptions,
contributors and homepages invented for the demo (``example.org``), in several
categories, with dependency chains (``ReportRanger → LesionLedger → VolumeVault``)
and a diamond (``NeedleNavigator → TrackerTether, ProbePilot → PivotPal``), built for
two Slicer revisions (:data:`OLD_REVISION` and :data:`CURRENT_REVISION`, linux/amd64),
plus two builds the current Slicer cannot use: ``LungLoupe`` (built for the old revision
only) and ``OrbitOptics`` (macOS only). Every extension has a generated icon
(a rounded square in its category's colour, with a motif and its first letter, drawn
with QImage/QPainter strokes: no font, so no QGuiApplication is needed) and some have a
screenshot, both PNG files next to the packages, referenced by ``file://`` URLs.

Packages are a few KB each; the catalog is generated once per :data:`DEMO_VERSION`
into ``<workdir>/catalog`` (default workdir: the user cache folder
``slicer-ext-manager/demo-<version>``) and reused afterwards.

The profile (a temporary folder, removed by :meth:`DemoEnvironment.close`):
``Slicer.ini`` with ``[ExtensionsHistory] Revisions\\<rev>`` for :data:`HISTORY`
and ``Extensions/Bookmarked`` = :data:`BOOKMARKS`, ``Slicer-<current>.ini`` with
``Extensions/ServerUrl`` = the demo server, and :data:`PREINSTALLED` installed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .builder import PackageSpec, build_from_spec
from .index import DEFAULT_APP_ID, atomic_write_json

__all__ = [
    "BOOKMARKS",
    "CURRENT_REVISION",
    "DEMO_EXTENSIONS",
    "DEMO_VERSION",
    "DemoEnvironment",
    "DemoExtension",
    "EXPECTED_PRESELECTED",
    "HISTORY",
    "OLD_REVISION",
    "PREINSTALLED",
    "default_workdir",
    "generate_catalog",
    "has_display",
    "prepare_demo",
]

#: Bump when the generated catalog changes: a cached catalog of another version is rebuilt.
DEMO_VERSION = "1"
OLD_REVISION = "33000"
CURRENT_REVISION = "33241"
#: An older revision that only appears in the history ("last used in version 32800").
OLDER_HISTORY_REVISION = "32800"
SLICER_VERSION = "5.8"
DEMO_OS, DEMO_ARCH = "linux", "amd64"
STAMP_FILE = "demo-stamp.json"

_EXAMPLE = "https://example.org/slicer-demo"


@dataclass(frozen=True)
class DemoExtension:
    """One invented extension of the demo catalog."""

    name: str
    category: str
    description: str
    contributors: str
    depends: tuple[str, ...] = ()
    keywords: str = ""
    #: Revisions it is built for (linux/amd64 unless ``os`` says otherwise).
    revisions: tuple[str, ...] = (OLD_REVISION, CURRENT_REVISION)
    os: str = DEMO_OS
    tier: int = 1
    screenshot: bool = False

    @property
    def homepage(self) -> str:
        return f"{_EXAMPLE}/{self.name}"

    @property
    def scm_url(self) -> str:
        return f"https://git.example.org/slicer-demo/{self.name}.git"

    def scm_revision(self, revision: str) -> str:
        return hashlib.sha1(f"{self.name}@{revision}".encode()).hexdigest()[:7]

    @property
    def initials(self) -> str:
        capitals = [c for c in self.name if c.isupper()]
        return "".join(capitals[:2]) if len(capitals) >= 2 else self.name[:2].upper()


def _ext(name: str, category: str, description: str, contributors: str, **kw: Any) -> DemoExtension:
    depends = kw.pop("depends", ())
    return DemoExtension(name, category, description, contributors,
                         depends=tuple(depends.split()) if isinstance(depends, str) else tuple(depends), **kw)


_NEW = (CURRENT_REVISION,)  # first built for the current revision

#: The demo catalog. Names, people and labs are invented; homepages are under example.org.
DEMO_EXTENSIONS: tuple[DemoExtension, ...] = (
    # Segmentation
    _ext("VoxelLasso", "Segmentation", "Freehand lasso selections that snap to voxel edges, in every slice view.",
         "Mara Quill (Lantern Imaging Lab)", keywords="segmentation lasso paint", tier=3, screenshot=True),
    _ext("SeedSprout", "Segmentation", "Region growing from a few seed points, with a live preview of the grown region.",
         "Oskar Brandt (Northfield Vision Group)", keywords="segmentation region growing seeds", tier=3),
    _ext("ContourComb", "Segmentation", "Smooths and untangles segment contours slice by slice, keeping topology.",
         "Mara Quill (Lantern Imaging Lab)", keywords="segmentation smoothing contour"),
    _ext("OrganOutliner", "Segmentation", "Template-based outlines of abdominal organs to start a segmentation from.",
         "Ines Varga (Harborview Anatomy Studio)", keywords="segmentation organs template", screenshot=True),
    _ext("ThresholdTuner", "Segmentation", "Interactive threshold ranges with a histogram you can drag.",
         "Oskar Brandt (Northfield Vision Group)", keywords="segmentation threshold histogram", revisions=_NEW),
    # Registration
    _ext("WarpWeaver", "Registration", "Deformable registration with an editable B-spline control grid.",
         "Theo Lindqvist (Fjordline Registration Lab)", depends="LandmarkLoom", keywords="registration deformable",
         tier=3, screenshot=True),
    _ext("LandmarkLoom", "Registration", "Pairs landmarks across volumes and computes the rigid transform between them.",
         "Theo Lindqvist (Fjordline Registration Lab)", keywords="registration landmarks rigid"),
    _ext("AffineAtelier", "Registration", "Twelve sliders and a live overlay for hand-tuned affine alignment.",
         "Priya Natarajan (Copperleaf Institute)", keywords="registration affine manual"),
    _ext("MotionMender", "Registration", "Corrects patient motion in time series by frame-to-reference alignment.",
         "Priya Natarajan (Copperleaf Institute)", keywords="registration motion 4D"),
    # Quantification
    _ext("VolumeVault", "Quantification", "Keeps segment volumes per study and compares them across time points.",
         "Lea Moreau (Saltmarsh Quantitative Imaging)", keywords="volume measurement longitudinal"),
    _ext("LesionLedger", "Quantification", "Tracks lesions across follow-up scans and tabulates their growth.",
         "Lea Moreau (Saltmarsh Quantitative Imaging)", depends="VolumeVault", keywords="lesion tracking follow-up",
         tier=3),
    _ext("TextureTally", "Quantification", "Computes first- and second-order texture features of segments.",
         "Kwame Mensah (Brightwater Analytics)", keywords="texture features statistics"),
    _ext("DensityDial", "Quantification", "Bone density scores from a calibration phantom and a region of interest.",
         "Kwame Mensah (Brightwater Analytics)", keywords="bone density phantom"),
    _ext("PerfusionPulse", "Quantification", "Fits perfusion curves voxel by voxel and maps their parameters.",
         "Sofia Ekdahl (Meadowgate Perfusion Group)", keywords="perfusion curve fitting maps"),
    # IGT
    _ext("NeedleNavigator", "IGT", "Guides a tracked needle to a planned target with distance and angle read-outs.",
         "Rafael Ortiz (Tidewater Navigation Lab)", depends="TrackerTether ProbePilot", keywords="navigation needle",
         tier=3, screenshot=True),
    _ext("TrackerTether", "IGT", "Connects (simulated) optical and electromagnetic trackers to the scene.",
         "Rafael Ortiz (Tidewater Navigation Lab)", depends="PivotPal", keywords="tracking devices"),
    _ext("ProbePilot", "IGT", "Spatial calibration of tracked ultrasound probes with a wire phantom.",
         "Hana Sato (Kestrel Ultrasound Lab)", depends="PivotPal", keywords="ultrasound calibration"),
    _ext("PivotPal", "IGT", "Pivot and spin calibration of tracked tools, with residual error plots.",
         "Hana Sato (Kestrel Ultrasound Lab)", keywords="calibration pivot tools"),
    # Informatics
    _ext("DicomDrawer", "Informatics", "A tidy browser for local DICOM folders, grouped by patient and study.",
         "Jonas Weber (Cloudberry Informatics)", keywords="dicom browser"),
    _ext("CohortCrate", "Informatics", "Builds cohort tables from loaded studies and exports them as CSV.",
         "Jonas Weber (Cloudberry Informatics)", keywords="cohort table csv"),
    _ext("TagTrove", "Informatics", "Searches and edits metadata tags across a whole study collection.",
         "Amelie Roux (Cloudberry Informatics)", keywords="metadata tags search"),
    _ext("ReportRanger", "Informatics", "Structured reports from lesion measurements, ready to sign.",
         "Amelie Roux (Cloudberry Informatics)", depends="LesionLedger", keywords="report structured lesion",
         screenshot=True),
    # Utilities
    _ext("SceneSnapshotter", "Utilities", "Saves named snapshots of the scene and flips between them.",
         "Nils Aho (Pinecone Tools)", keywords="scene snapshot"),
    _ext("BatchBarge", "Utilities", "Runs a module over every volume of a folder and collects the results.",
         "Nils Aho (Pinecone Tools)", keywords="batch processing folder"),
    _ext("UnitUnifier", "Utilities", "Converts between length, volume and intensity units in tables.",
         "Greta Holm (Pinecone Tools)", keywords="units conversion"),
    _ext("ColorCrafter", "Utilities", "Designs color lookup tables with gradient stops and previews.",
         "Greta Holm (Pinecone Tools)", keywords="color lookup table"),
    _ext("MacroMuse", "Utilities", "Records what you click and replays it as a small script.",
         "Nils Aho (Pinecone Tools)", keywords="macro record replay"),
    # Developer Tools
    _ext("ModuleMold", "Developer Tools", "Generates module skeletons with tests from a short questionnaire.",
         "Yusuf Demir (Ironbark Developer Guild)", depends="LogLantern", keywords="template generator module"),
    _ext("LogLantern", "Developer Tools", "A filterable, colour-coded view of the application log.",
         "Yusuf Demir (Ironbark Developer Guild)", keywords="log viewer debugging"),
    _ext("PerfPeek", "Developer Tools", "Samples where time goes in scripted modules and draws a flame chart.",
         "Elif Kaya (Ironbark Developer Guild)", keywords="profiling performance", revisions=_NEW),
    _ext("TestTrellis", "Developer Tools", "Runs module self-tests in a grid and keeps their history.",
         "Elif Kaya (Ironbark Developer Guild)", keywords="testing harness"),
    # Diffusion
    _ext("TensorTrails", "Diffusion", "Streamline tractography from tensor volumes with seeding by region.",
         "Maya Lindgren (Riverbend Diffusion Lab)", depends="FiberFerry", keywords="tractography tensor",
         tier=3, screenshot=True),
    _ext("FiberFerry", "Diffusion", "Converts fiber bundles between common file formats.",
         "Maya Lindgren (Riverbend Diffusion Lab)", keywords="fiber bundle conversion"),
    _ext("GradientGarden", "Diffusion", "Checks gradient tables for flipped axes and duplicate directions.",
         "Arjun Rao (Riverbend Diffusion Lab)", keywords="gradients quality control"),
    _ext("AnisoAtlas", "Diffusion", "Builds anisotropy atlases from a group of registered subjects.",
         "Arjun Rao (Riverbend Diffusion Lab)", keywords="atlas anisotropy"),
    # Visualization
    _ext("GlowRender", "Visualization", "Volume rendering presets with soft glow and depth cues.",
         "Chloe Martin (Aurora Visualization Studio)", keywords="volume rendering presets"),
    _ext("SliceStacker", "Visualization", "Lays out many slices of a volume side by side, like a light box.",
         "Chloe Martin (Aurora Visualization Studio)", keywords="layout light box slices"),
    _ext("MeshMarbler", "Visualization", "Surface shading styles for models: marble, clay, glass.",
         "Bruno Costa (Aurora Visualization Studio)", keywords="surface shading models"),
    # Filtering
    _ext("NoiseNibbler", "Filtering", "Edge-aware denoising with a before/after slider.",
         "Tomasz Nowak (Quarry Signal Lab)", keywords="denoising filter"),
    _ext("EdgeEtcher", "Filtering", "Sharpens boundaries without amplifying noise.",
         "Tomasz Nowak (Quarry Signal Lab)", keywords="edge enhancement filter"),
    _ext("BiasBuster", "Filtering", "Estimates and removes smooth intensity bias fields.",
         "Freya Olsen (Quarry Signal Lab)", keywords="bias field correction"),
    # Cardiac, Spine
    _ext("ValveVista", "Cardiac", "Models heart valve leaflets from 3D ultrasound.",
         "Diego Herrera (Lighthouse Cardiac Lab)", keywords="heart valve modeling"),
    _ext("RhythmReel", "Cardiac", "Plays cine sequences in sync with the recorded heart rhythm.",
         "Diego Herrera (Lighthouse Cardiac Lab)", keywords="cine playback", revisions=_NEW),
    _ext("SpineSketcher", "Spine", "Labels vertebrae and measures curvature angles.",
         "Noor Haddad (Granite Spine Group)", keywords="vertebra labeling curvature", revisions=_NEW),
    # The two builds the current Slicer (linux/amd64, 33241) cannot use:
    _ext("LungLoupe", "Quantification", "Airway wall measurements (no longer built after Slicer revision 33000).",
         "Sofia Ekdahl (Meadowgate Perfusion Group)", keywords="airway lung", revisions=(OLD_REVISION,)),
    _ext("OrbitOptics", "Visualization", "Orbit camera paths rendered with the macOS graphics stack (macOS only).",
         "Bruno Costa (Aurora Visualization Studio)", keywords="camera animation", revisions=_NEW, os="macosx"),
)

#: ``[ExtensionsHistory] Revisions\\<rev>`` of the demo profile.
HISTORY: dict[str, tuple[str, ...]] = {
    OLDER_HISTORY_REVISION: ("MacroMuse", "GlowRender"),
    OLD_REVISION: ("ReportRanger", "NeedleNavigator", "VoxelLasso", "WarpWeaver", "TensorTrails",
                   "ColorCrafter", "LungLoupe", "SceneSnapshotter"),
}
#: ``Extensions/Bookmarked`` of the demo profile.
BOOKMARKS: tuple[str, ...] = ("SeedSprout", "VoxelLasso", "OrbitOptics")
#: Installed in the demo profile when it is created (shows as "currently installed").
PREINSTALLED: tuple[str, ...] = ("ColorCrafter",)
#: What the Restore tab preselects on the demo profile.
EXPECTED_PRESELECTED: tuple[str, ...] = ("NeedleNavigator", "ReportRanger", "SceneSnapshotter", "TensorTrails",
                                         "VoxelLasso", "WarpWeaver", "SeedSprout")

_CATEGORY_COLORS = {
    "Segmentation": "#2e7d5b", "Registration": "#3b5bdb", "Quantification": "#c2410c", "IGT": "#0e7490",
    "Informatics": "#7c3aed", "Utilities": "#4b5563", "Developer Tools": "#334155", "Diffusion": "#be185d",
    "Visualization": "#b45309", "Filtering": "#0f766e", "Cardiac": "#b91c1c", "Spine": "#6d28d9",
}


# ------------------------------------------------------------------------------------------------
# icons (QImage + QPainter, strokes only: no font, so no QGuiApplication is needed)

#: Capital letters as polylines on a 4 x 6 grid (y down).
_GLYPHS: dict[str, tuple[tuple[tuple[int, int], ...], ...]] = {
    "A": (((0, 6), (0, 2), (2, 0), (4, 2), (4, 6)), ((0, 4), (4, 4))),
    "B": (((0, 3), (3, 3), (4, 4), (4, 5), (3, 6), (0, 6), (0, 0), (3, 0), (4, 1), (4, 2), (3, 3)),),
    "C": (((4, 1), (3, 0), (1, 0), (0, 1), (0, 5), (1, 6), (3, 6), (4, 5)),),
    "D": (((0, 0), (0, 6), (2, 6), (4, 4), (4, 2), (2, 0), (0, 0)),),
    "E": (((4, 0), (0, 0), (0, 6), (4, 6)), ((0, 3), (3, 3))),
    "F": (((4, 0), (0, 0), (0, 6)), ((0, 3), (3, 3))),
    "G": (((4, 1), (3, 0), (1, 0), (0, 1), (0, 5), (1, 6), (3, 6), (4, 5), (4, 3), (2, 3)),),
    "H": (((0, 0), (0, 6)), ((4, 0), (4, 6)), ((0, 3), (4, 3))),
    "I": (((1, 0), (3, 0)), ((2, 0), (2, 6)), ((1, 6), (3, 6))),
    "J": (((4, 0), (4, 5), (3, 6), (1, 6), (0, 5)),),
    "K": (((0, 0), (0, 6)), ((4, 0), (0, 4)), ((1, 3), (4, 6))),
    "L": (((0, 0), (0, 6), (4, 6)),),
    "M": (((0, 6), (0, 0), (2, 3), (4, 0), (4, 6)),),
    "N": (((0, 6), (0, 0), (4, 6), (4, 0)),),
    "O": (((1, 0), (3, 0), (4, 1), (4, 5), (3, 6), (1, 6), (0, 5), (0, 1), (1, 0)),),
    "P": (((0, 6), (0, 0), (3, 0), (4, 1), (4, 2), (3, 3), (0, 3)),),
    "Q": (((1, 0), (3, 0), (4, 1), (4, 5), (3, 6), (1, 6), (0, 5), (0, 1), (1, 0)), ((2, 4), (4, 6))),
    "R": (((0, 6), (0, 0), (3, 0), (4, 1), (4, 2), (3, 3), (0, 3)), ((2, 3), (4, 6))),
    "S": (((4, 1), (3, 0), (1, 0), (0, 1), (0, 2), (1, 3), (3, 3), (4, 4), (4, 5), (3, 6), (1, 6), (0, 5)),),
    "T": (((0, 0), (4, 0)), ((2, 0), (2, 6))),
    "U": (((0, 0), (0, 5), (1, 6), (3, 6), (4, 5), (4, 0)),),
    "V": (((0, 0), (2, 6), (4, 0)),),
    "W": (((0, 0), (1, 6), (2, 3), (3, 6), (4, 0)),),
    "X": (((0, 0), (4, 6)), ((4, 0), (0, 6))),
    "Y": (((0, 0), (2, 3), (4, 0)), ((2, 3), (2, 6))),
    "Z": (((0, 0), (4, 0), (0, 6), (4, 6)),),
}


def _shade(hex_color: str, factor: float):
    from PySide6.QtGui import QColor

    color = QColor(hex_color)
    return color.lighter(int(100 * factor)) if factor >= 1 else color.darker(int(100 / factor))


def _draw_letters(painter, text: str, x: float, y: float, height: float) -> None:
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QPainterPath

    painter.setBrush(Qt.BrushStyle.NoBrush)  # strokes only: closed letters (O, D) must not be filled
    unit = height / 6.0
    advance = 4 * unit + 1.6 * unit
    path = QPainterPath()
    for i, letter in enumerate(text):
        for stroke in _GLYPHS.get(letter.upper(), ()):
            ox = x + i * advance
            path.moveTo(QPointF(ox + stroke[0][0] * unit, y + stroke[0][1] * unit))
            for px, py in stroke[1:]:
                path.lineTo(QPointF(ox + px * unit, y + py * unit))
    painter.drawPath(path)


def _draw_motif(painter, motif: int, size: float, color) -> None:
    """One of ten simple background motifs (so icons of one category differ at a glance)."""
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QPainterPath, QPen, QPolygonF

    pen = QPen(color)
    pen.setWidthF(size * 0.035)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    s = size
    if motif == 0:  # ring
        painter.drawEllipse(QPointF(s * 0.74, s * 0.26), s * 0.2, s * 0.2)
    elif motif == 1:  # three dots
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        for i in range(3):
            painter.drawEllipse(QPointF(s * (0.56 + 0.13 * i), s * 0.2), s * 0.045, s * 0.045)
    elif motif == 2:  # diagonal stripes
        for i in range(4):
            painter.drawLine(QPointF(s * (0.5 + 0.12 * i), s * 0.08), QPointF(s * (0.92), s * (0.5 - 0.12 * i)))
    elif motif == 3:  # triangle
        painter.drawPolygon(QPolygonF([QPointF(s * 0.74, s * 0.1), QPointF(s * 0.9, s * 0.38),
                                       QPointF(s * 0.58, s * 0.38)]))
    elif motif == 4:  # diamond
        painter.drawPolygon(QPolygonF([QPointF(s * 0.75, s * 0.08), QPointF(s * 0.9, s * 0.24),
                                       QPointF(s * 0.75, s * 0.4), QPointF(s * 0.6, s * 0.24)]))
    elif motif == 5:  # wave
        path = QPainterPath(QPointF(s * 0.1, s * 0.86))
        for i in range(4):
            x = s * (0.1 + 0.2 * i)
            path.quadTo(QPointF(x + s * 0.05, s * (0.78 if i % 2 == 0 else 0.94)), QPointF(x + s * 0.2, s * 0.86))
        painter.drawPath(path)
    elif motif == 6:  # plus
        painter.drawLine(QPointF(s * 0.75, s * 0.1), QPointF(s * 0.75, s * 0.38))
        painter.drawLine(QPointF(s * 0.61, s * 0.24), QPointF(s * 0.89, s * 0.24))
    elif motif == 7:  # dot grid
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        for i in range(3):
            for j in range(3):
                painter.drawEllipse(QPointF(s * (0.64 + 0.1 * i), s * (0.14 + 0.1 * j)), s * 0.025, s * 0.025)
    elif motif == 8:  # two arcs
        for r in (0.16, 0.26):
            painter.drawArc(QRectF(s * (0.92 - r), s * (0.08 - r), 2 * r * s, 2 * r * s), 180 * 16, 90 * 16)
    else:  # nested squares
        for k in (0.0, 0.06):
            painter.drawRoundedRect(QRectF(s * (0.6 + k), s * (0.1 + k), s * (0.28 - 2 * k), s * (0.28 - 2 * k)),
                                    s * 0.04, s * 0.04)


def render_icon(ext: DemoExtension, path: Path, size: int = 128, *, motif: int | None = None) -> Path:
    """A rounded square in the category's colour with a motif and the extension's first letter (PNG)."""
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter, QPen

    base = _CATEGORY_COLORS.get(ext.category, "#475569")
    digest = hashlib.sha1(ext.name.encode()).digest()
    tint = digest[0] / 255.0
    if motif is None:
        motif = digest[1] % 10
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    gradient = QLinearGradient(QPointF(0, 0), QPointF(size, size))
    gradient.setColorAt(0.0, _shade(base, 1.2 + 0.3 * tint))
    gradient.setColorAt(1.0, _shade(base, 0.85 - 0.15 * tint))
    margin = size * 0.04
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(gradient)
    painter.drawRoundedRect(QRectF(margin, margin, size - 2 * margin, size - 2 * margin), size * 0.2, size * 0.2)
    _draw_motif(painter, motif, size, QColor(255, 255, 255, 120))
    pen = QPen(Qt.GlobalColor.white)
    pen.setWidthF(size * 0.085)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    height = size * 0.46
    letter = ext.name[0]
    _draw_letters(painter, letter, size * 0.16, size * 0.4, height)
    painter.end()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    return path


def render_screenshot_image(ext: DemoExtension, path: Path, width: int = 480, height: int = 300) -> Path:
    """A made-up 'screenshot': a dark viewer with a few shapes in the category colour."""
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QImage, QPainter, QPen, QRadialGradient

    base = _CATEGORY_COLORS.get(ext.category, "#475569")
    seed = hashlib.sha1(ext.name.encode()).digest()
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("#101418"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for i in range(5):
        cx, cy = width * (0.15 + 0.7 * seed[i] / 255), height * (0.2 + 0.6 * seed[i + 5] / 255)
        radius = height * (0.12 + 0.2 * seed[i + 10] / 255)
        glow = QRadialGradient(QPointF(cx, cy), radius)
        glow.setColorAt(0.0, _shade(base, 1.6))
        glow.setColorAt(1.0, QColor(0, 0, 0, 0))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(glow)
        painter.drawEllipse(QPointF(cx, cy), radius, radius)
    grid = QPen(QColor(255, 255, 255, 40))
    painter.setPen(grid)
    for x in range(0, width, 40):
        painter.drawLine(x, 0, x, height)
    for y in range(0, height, 40):
        painter.drawLine(0, y, width, y)
    frame = QPen(_shade(base, 1.4))
    frame.setWidthF(3)
    painter.setPen(frame)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(QRectF(1.5, 1.5, width - 3, height - 3))
    pen = QPen(QColor(255, 255, 255, 200))
    pen.setWidthF(6)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    _draw_letters(painter, ext.initials, 24, height - 24 - 42, 42)
    painter.end()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    return path


# ------------------------------------------------------------------------------------------------
# the catalog


def default_workdir() -> Path:
    """``<user cache dir>/slicer-ext-manager/demo-<DEMO_VERSION>``."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("slicer-ext-manager", appauthor=False)) / f"demo-{DEMO_VERSION}"


def _iso(day_offset: int, seconds: int = 0) -> str:
    start = _dt.datetime(2025, 1, 6, 8, 0, tzinfo=_dt.timezone.utc)
    return (start + _dt.timedelta(days=day_offset, seconds=seconds)).isoformat()


def _specs(catalog_dir: Path) -> list[tuple[DemoExtension, PackageSpec, dict[str, Any]]]:
    """(extension, package spec, flat sidecar) for every package of the catalog."""
    out = []
    for number, ext in enumerate(DEMO_EXTENSIONS):
        icon_url = (catalog_dir / "icons" / f"{ext.name}.png").as_uri()
        screenshots = (catalog_dir / "screenshots" / f"{ext.name}.png").as_uri() if ext.screenshot else ""
        for revision in ext.revisions:
            old = revision == OLD_REVISION
            spec = PackageSpec(
                name=ext.name, app_revision=revision, os=ext.os, arch=DEMO_ARCH, slicer_version=SLICER_VERSION,
                scm_revision=ext.scm_revision(revision), date="2025-02-03" if old else "2025-06-16",
                depends=ext.depends, category=ext.category, description=ext.description, homepage=ext.homepage,
                iconurl=icon_url, contributors=ext.contributors, screenshots=screenshots, keywords=ext.keywords,
                scm_url=ext.scm_url, extra_s4ext={"tier": str(ext.tier)},
            )
            # plausible, distinct upload dates (the index would otherwise use the file times)
            sidecar = {"created": _iso((0 if old else 150) + number % 9, number * 37),
                       "updated": _iso((0 if old else 150) + number % 9 + number % 4, number * 37)}
            out.append((ext, spec, sidecar))
    return out


def _stamp() -> dict[str, Any]:
    return {"version": DEMO_VERSION, "extensions": len(DEMO_EXTENSIONS),
            "packages": sum(len(e.revisions) for e in DEMO_EXTENSIONS)}


def _catalog_ok(catalog_dir: Path) -> bool:
    try:
        stamp = json.loads((catalog_dir / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if stamp != _stamp():
        return False
    packages = [p for p in catalog_dir.iterdir() if p.name.endswith((".tar.gz", ".zip"))]
    return len(packages) == stamp["packages"]


def generate_catalog(workdir: str | os.PathLike[str] | None = None, *, force: bool = False) -> tuple[Path, bool]:
    """Make sure ``<workdir>/catalog`` holds the demo catalog of this :data:`DEMO_VERSION`.

    Returns ``(catalog_dir, generated)``. The catalog is built in a temporary sibling
    folder and renamed into place, so an interrupted or concurrent generation never
    leaves a half catalog.
    """
    work = Path(workdir).expanduser() if workdir else default_workdir()
    work.mkdir(parents=True, exist_ok=True)
    work = work.resolve()
    catalog_dir = work / "catalog"
    if not force and _catalog_ok(catalog_dir):
        return catalog_dir, False
    tmp = work / f".catalog-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        for number, ext in enumerate(DEMO_EXTENSIONS):
            render_icon(ext, tmp / "icons" / f"{ext.name}.png", motif=number % 10)
            if ext.screenshot:
                render_screenshot_image(ext, tmp / "screenshots" / f"{ext.name}.png")
        for _ext_, spec, sidecar in _specs(catalog_dir):
            archive = build_from_spec(tmp, spec)
            (tmp / (archive.name + ".json")).write_text(json.dumps(sidecar, sort_keys=True), encoding="utf-8")
        atomic_write_json(tmp / STAMP_FILE, _stamp())
        if catalog_dir.exists():
            old = work / f".catalog-old-{uuid.uuid4().hex[:8]}"
            catalog_dir.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            tmp.rename(catalog_dir)
        except OSError:
            if not _catalog_ok(catalog_dir):  # another process won the race with a good catalog: use it
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return catalog_dir, True


# ------------------------------------------------------------------------------------------------
# the environment


def has_display() -> bool:
    """Whether a Qt window can be shown: always on Windows/macOS; on other systems when
    ``DISPLAY``/``WAYLAND_DISPLAY`` is set or ``QT_QPA_PLATFORM`` names a platform that needs
    no display server (``offscreen``, ``minimal``, ``vnc``, ``eglfs``, ``linuxfb``)."""
    if sys.platform.startswith("win") or sys.platform == "darwin":
        return True
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":", 1)[0].strip().lower()
    if platform in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@dataclass
class DemoEnvironment:
    """A running demo: the local server, the profile's context and its manager.

    A context manager; :meth:`close` stops the server and deletes the temporary profile.
    """

    server: Any  # PackageServer
    context: Any  # AppContext
    manager: Any  # ExtensionsManager
    catalog_dir: Path
    profile_dir: Path
    workdir: Path
    generated: bool = False
    warnings: list[str] = field(default_factory=list)
    keep_profile: bool = False

    @property
    def extension_count(self) -> int:
        return len({e.name for e in DEMO_EXTENSIONS})

    @property
    def previous_revision(self) -> str:
        return OLD_REVISION

    def describe(self) -> dict[str, Any]:
        return {
            "server_url": self.server.url,
            "app_id": self.server.app_id,
            "catalog_dir": str(self.catalog_dir),
            "profile_dir": str(self.profile_dir),
            "revision": self.context.revision,
            "previous_revision": self.previous_revision,
            "extensions": self.extension_count,
            "generated": self.generated,
        }

    def close(self) -> None:
        self.server.stop()
        if not self.keep_profile:
            shutil.rmtree(self.profile_dir, ignore_errors=True)

    def __enter__(self) -> "DemoEnvironment":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_profile(settings_dir: Path, server_url: str, *, history: dict[str, Iterable[str]] | None = None,
                  bookmarks: Iterable[str] | None = None) -> None:
    """``Slicer.ini`` (history, bookmarks) and ``Slicer-<current>.ini`` (server URL) of the demo."""
    from ..settings import SettingsFile

    settings_dir.mkdir(parents=True, exist_ok=True)
    with SettingsFile(settings_dir / "Slicer.ini").edit() as e:
        for revision, names in (HISTORY if history is None else history).items():
            e.set_string_list(f"ExtensionsHistory/Revisions/{revision}", list(names))
        e.set_string_list("Extensions/Bookmarked", list(BOOKMARKS if bookmarks is None else bookmarks))
        e.set_value("Extensions/AutoUpdateCheck", False)
    with SettingsFile(settings_dir / f"Slicer-{CURRENT_REVISION}.ini").edit() as e:
        e.set_value("Extensions/ServerUrl", server_url)
        e.set_value("Extensions/ManagerEnabled", True)


def prepare_demo(
    workdir: str | os.PathLike[str] | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    preinstall: bool = True,
    profile_dir: str | os.PathLike[str] | None = None,
) -> DemoEnvironment:
    """Generate (or reuse) the demo catalog, serve it on ``host:port`` (0 = a free port) in a
    background thread, create the demo Slicer profile (in ``profile_dir``, default a new
    temporary folder) and return the running :class:`DemoEnvironment`.

    ``preinstall`` installs :data:`PREINSTALLED` from the demo server, as a user would have.
    """
    from ..context import AppContext
    from ..manager import ExtensionsManager
    from .server import PackageServer

    catalog_dir, generated = generate_catalog(workdir)
    server = PackageServer(catalog_dir, host=host, port=port, app_id=DEFAULT_APP_ID).start()
    root: Path | None = None
    try:
        root = Path(profile_dir) if profile_dir else Path(tempfile.mkdtemp(prefix="slicer-ext-manager-demo-"))
        settings_dir = root / "slicer.org"
        write_profile(settings_dir, server.url)
        context = AppContext.resolve(settings_dir=settings_dir, revision=CURRENT_REVISION, os_name=DEMO_OS,
                                     arch=DEMO_ARCH, server_url=server.url, app_id=DEFAULT_APP_ID,
                                     slicer_version=SLICER_VERSION, environ={})
        manager = ExtensionsManager(context)
        env = DemoEnvironment(server, context, manager, catalog_dir, root, catalog_dir.parent, generated,
                              keep_profile=profile_dir is not None)
        env.warnings.extend(server.index.warnings)
        if preinstall and PREINSTALLED:
            # As an earlier session: the demo's Slicer loaded them (no restart is pending).
            report = ExtensionsManager(context).install(list(PREINSTALLED))
            env.warnings.extend(f"{r.name}: {r.message}" for r in report.failed)
        return env
    except BaseException:
        server.stop()
        if root is not None and profile_dir is None:  # a demo that did not start leaves no profile behind
            shutil.rmtree(root, ignore_errors=True)
        raise
