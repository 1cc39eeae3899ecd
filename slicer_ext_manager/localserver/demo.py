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
(a rounded square in its category's colour, with a motif and its initials) and some have
a screenshot, both PNG files drawn by :mod:`.demoart` (pure Python, no Qt) next to the
packages, referenced by ``file://`` URLs.

The Slicer update flow: two small stand-in Slicer application packages for linux/amd64
(:mod:`.slicer_packages`: a tarball with a ``Slicer`` launcher script), release
:data:`CURRENT_VERSION` (the demo profile's revision) and the newer release
:data:`NEW_VERSION` (:data:`NEW_REVISION`), for which the extensions of :data:`CARRIED`
are built too, so ``slicer-versions`` and ``install-slicer`` (extensions carried into the
new Slicer) work on a fresh machine (:meth:`DemoEnvironment.update_hint` prints how).

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

from ..conventions import DEFAULT_APP_ID, archive_suffix
from . import demoart, pngart
from .builder import PackageSpec, build_from_spec
from .files import atomic_write_json
from .slicer_packages import build_slicer_package

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
DEMO_VERSION = "3"
OLD_REVISION = "33000"
CURRENT_REVISION = "33241"
CURRENT_VERSION = "5.8.1"
#: The newer Slicer release the demo offers to update to.
NEW_REVISION, NEW_VERSION, NEW_SLICER_VERSION = "34045", "5.10.0", "5.10"
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
#: Built for :data:`NEW_REVISION` too (what ``install-slicer`` carries into the new Slicer).
CARRIED: tuple[str, ...] = ("ColorCrafter", "VoxelLasso", "SeedSprout", "NeedleNavigator", "TrackerTether",
                            "ProbePilot", "PivotPal", "ReportRanger", "LesionLedger", "VolumeVault",
                            "SceneSnapshotter", "WarpWeaver", "LandmarkLoom", "TensorTrails", "FiberFerry")
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
# icons and screenshots (drawn by pngart: no Qt, so the catalog builds anywhere)


def _accent(ext: DemoExtension) -> pngart.Color:
    return pngart.hex_color(_CATEGORY_COLORS.get(ext.category, "#475569"))


def render_icon(ext: DemoExtension, path: Path, size: int = 128, *, motif: int | None = None) -> Path:
    """A rounded tile in the category's colour with a motif and the extension's initials (PNG)."""
    digest = hashlib.sha1(ext.name.encode()).digest()
    picture = demoart.icon(size, _accent(ext), ext.initials, motif=digest[1] % 10 if motif is None else motif,
                          tint=digest[0] / 255)
    return picture.save(path)


def render_screenshot_image(ext: DemoExtension, path: Path, width: int = 480, height: int = 300) -> Path:
    """A made-up 'screenshot' (a module panel and four views showing shapes in the category colour)."""
    seed = hashlib.sha1(ext.name.encode()).digest()
    return demoart.screenshot(width, height, _accent(ext), seed, ext.initials).save(path, alpha=False)


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
        for revision in _revisions(ext):
            old, new = revision == OLD_REVISION, revision == NEW_REVISION
            spec = PackageSpec(
                name=ext.name, app_revision=revision, os=ext.os, arch=DEMO_ARCH,
                slicer_version=NEW_SLICER_VERSION if new else SLICER_VERSION,
                scm_revision=ext.scm_revision(revision),
                date="2025-02-03" if old else ("2025-11-10" if new else "2025-06-16"),
                depends=ext.depends, category=ext.category, description=ext.description, homepage=ext.homepage,
                iconurl=icon_url, contributors=ext.contributors, screenshots=screenshots, keywords=ext.keywords,
                scm_url=ext.scm_url, extra_s4ext={"tier": str(ext.tier)},
            )
            # plausible, distinct upload dates (the index would otherwise use the file times)
            day = 0 if old else (300 if new else 150)
            sidecar: dict[str, Any] = {"created": _iso(day + number % 9, number * 37),
                                       "updated": _iso(day + number % 9 + number % 4, number * 37)}
            if new:
                sidecar["release"] = NEW_VERSION
            out.append((ext, spec, sidecar))
    return out


def _revisions(ext: DemoExtension) -> tuple[str, ...]:
    return ext.revisions + ((NEW_REVISION,) if ext.name in CARRIED else ())


#: The stand-in Slicer application packages: (version, revision, release date).
SLICER_RELEASES: tuple[tuple[str, str, str], ...] = ((CURRENT_VERSION, CURRENT_REVISION, "2025-06-02"),
                                                      (NEW_VERSION, NEW_REVISION, "2025-11-03"))


def package_count() -> int:
    """Packages in the demo catalog (extensions and Slicer application packages)."""
    return sum(len(_revisions(e)) for e in DEMO_EXTENSIONS) + len(SLICER_RELEASES)


def _build_slicer_packages(folder: Path) -> None:
    """The stand-in Slicer releases, each in its release folder (a sidecar names it)."""
    for version, revision, day in SLICER_RELEASES:
        package = build_slicer_package(folder, version, revision, padding=64 * 1024)
        sidecar = {"release": version, "build_date": f"{day}T06:00:00+00:00", "created": f"{day}T07:00:00+00:00",
                   "repository_url": "https://github.com/Slicer/Slicer", "repository_type": "git"}
        atomic_write_json(Path(str(package) + ".json"), sidecar)


def _stamp() -> dict[str, Any]:
    return {"version": DEMO_VERSION, "extensions": len(DEMO_EXTENSIONS), "packages": package_count()}


def _catalog_ok(catalog_dir: Path) -> bool:
    try:
        stamp = json.loads((catalog_dir / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if stamp != _stamp():
        return False
    packages = [p for p in catalog_dir.iterdir() if archive_suffix(p.name)]
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
        for _, spec, sidecar in _specs(catalog_dir):
            archive = build_from_spec(tmp, spec)
            (tmp / (archive.name + ".json")).write_text(json.dumps(sidecar, sort_keys=True), encoding="utf-8")
        _build_slicer_packages(tmp)
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

    def update_hint(self) -> list[str]:
        """How to try the Slicer update flow on the demo (printed by ``demo``)."""
        base = (f"slicer-ext-manager --settings-dir {self.context.user_settings_path.parent} "
                f"--revision {self.context.revision} --server {self.server.url}")
        return [f"Slicer {NEW_VERSION} (r{NEW_REVISION}) is available on the demo server; while the window is open:",
                f"  {base} slicer-versions",
                f"  {base} install-slicer latest --dest {self.profile_dir / ('Slicer-' + NEW_VERSION)} --yes"]

    def close(self) -> None:
        self.server.stop()
        if not self.keep_profile:
            shutil.rmtree(self.profile_dir, ignore_errors=True)

    def __enter__(self) -> DemoEnvironment:
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
    from ..slicermodule.package import add_to_demo_catalog  # the Extensions Restore Slicer extension, too

    add_to_demo_catalog(catalog_dir, revision=CURRENT_REVISION, os_name=DEMO_OS, arch=DEMO_ARCH,
                        slicer_version=SLICER_VERSION)
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
