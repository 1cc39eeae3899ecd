"""pytest plugin: the real Slicer Package Manager server as fixtures.

Register it once, in ``tests/conftest.py``::

    pytest_plugins = ["tests.girder.fixtures"]

Fixtures
--------
``girder_server`` (session)
    A :class:`GirderFixture`: ``url`` (``http://127.0.0.1:PORT``, no ``/api/v1``),
    ``api_url``, ``admin`` (:class:`~tests.girder.harness.GirderAdmin`),
    ``data_dir``, ``server`` (:class:`~tests.girder.harness.GirderServer`).
    Started once per session (~2 s), stopped at the end. The server's database is
    in memory and starts empty.
``girder_app`` (function)
    A fresh, public application with a unique name: a :class:`GirderApp`
    named tuple ``(app_id, app_name)``. Tests never see each other's data if each
    one works inside its own app.
``girder_publish`` (function)
    ``girder_publish(name, *, app_revision, os="linux", arch="amd64", depends=(), **meta)``
    = :func:`publish_extension` bound to the admin, ``girder_app`` and a tmp dir.

Venv: ``$SLICER_EXT_MANAGER_GIRDER_VENV`` or ``<repo>/.girder-venv``, created by
``python tests/girder/ensure_venv.py``. When it is missing the tests are skipped
(``pytest.fail`` instead when ``CI=true``).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import uuid
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import pytest

from slicer_ext_manager.localserver.builder import PackageSpec, build_from_spec

from . import ensure_venv
from .harness import GirderAdmin, GirderServer

__all__ = [
    "GirderApp",
    "GirderFixture",
    "girder_app",
    "girder_publish",
    "girder_server",
    "girder_venv_python",
    "publish_extension",
]

#: Keyword arguments of :func:`publish_extension` that only shape the archive.
_BUILD_ONLY = ("slicer_version", "date", "kind", "modules", "payload_size", "extra_s4ext")
#: Server-only metadata passed through to ``upload_extension``.
_SERVER_ONLY = ("tier", "recommends", "license", "development_status", "dicom_support_rule", "enabled")


@dataclasses.dataclass
class GirderFixture:
    """What ``girder_server`` yields."""

    url: str
    api_url: str
    admin: GirderAdmin
    data_dir: Path
    server: GirderServer


class GirderApp(NamedTuple):
    app_id: str
    app_name: str


def publish_extension(
    admin: GirderAdmin,
    app_id: str,
    tmp_dir: str | os.PathLike[str],
    name: str,
    *,
    app_revision: str,
    os: str = "linux",
    arch: str = "amd64",
    depends: Sequence[str] = (),
    scm_revision: str = "abc1234",
    **meta: Any,
) -> dict:
    """Build a package with the builder and upload it with matching metadata; return the item doc.

    ``meta`` may hold builder arguments (``slicer_version``, ``date``, ``kind``,
    ``modules``, ``payload_size``, ``extra_s4ext``), shared description fields
    (``description``, ``category``, ``homepage``, ``iconurl`` (or ``icon_url``),
    ``contributors``, ``screenshots``, ``keywords``, ``scm_url`` (or
    ``repository_url``)) and server-only fields (``tier``, ``recommends``,
    ``license``, ``development_status``, ``dicom_support_rule``, ``enabled``).

    The ``.s4ext`` inside the archive and the server metadata agree:
    ``meta.description`` == item ``description`` == s4ext ``description``,
    ``meta.dependency`` is ``"NA"`` without dependencies (else space-joined),
    ``meta.revision`` == ``scm_revision``, ``meta.repository_url`` == s4ext ``scmurl``.
    The archive is ``Path(tmp_dir) / <file name>``; the file name is also the
    Girder file's ``name``.
    """
    meta = dict(meta)
    if "icon_url" in meta:
        meta["iconurl"] = meta.pop("icon_url")
    if "repository_url" in meta:
        meta["scm_url"] = meta.pop("repository_url")
    server_only = {k: meta.pop(k) for k in _SERVER_ONLY if k in meta}
    spec = PackageSpec(name=name, app_revision=app_revision, os=os, arch=arch, depends=tuple(depends),
                       scm_revision=scm_revision, **meta)
    archive = build_from_spec(tmp_dir, spec)
    s4 = spec.s4ext_metadata()
    return admin.upload_extension(
        app_id, archive,
        baseName=name, os=os, arch=arch, revision=scm_revision, app_revision=str(app_revision),
        description=s4["description"], repository_type="git", repository_url=s4["scmurl"],
        category=s4["category"] or None, dependency=s4["depends"],
        homepage=s4["homepage"] or None, icon_url=s4["iconurl"] or None,
        screenshots=s4["screenshoturls"] or None, contributors=s4["contributors"] or None,
        keywords=s4["keywords"] or None, **server_only,
    )


def _venv_dir() -> Path:
    return ensure_venv.default_venv_dir()


@pytest.fixture(scope="session")
def girder_venv_python() -> Path:
    """The Girder venv's python; skips (fails when ``CI=true``) if the venv is missing."""
    venv = _venv_dir()
    python = ensure_venv.venv_python(venv)
    if not python.exists():
        message = (f"Girder test-server venv not found at {venv}: create it with "
                   f"`python tests/girder/ensure_venv.py` (or set {ensure_venv.ENV_VENV} to an existing one)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.fixture(scope="session")
def girder_server(girder_venv_python, tmp_path_factory):
    """The real Slicer Package Manager server, started once per session (see module doc)."""
    data_dir = tmp_path_factory.mktemp("girder-server")
    server = GirderServer.start(girder_venv_python, data_dir)
    try:
        try:
            admin = GirderAdmin(server.api_url, server.admin_login, server.admin_password,
                                assetstore_root=server.assetstore_path)
        except Exception as exc:
            raise RuntimeError(f"Girder server started but login failed: {exc}\n{server.log_tail()}") from exc
        yield GirderFixture(url=server.url, api_url=server.api_url, admin=admin, data_dir=data_dir, server=server)
    finally:
        server.stop()


_app_counter = itertools.count(1)


@pytest.fixture
def girder_app(girder_server) -> GirderApp:
    """A new public application with a unique name (``TestApp-<n>-<hex>``)."""
    name = f"TestApp-{next(_app_counter)}-{uuid.uuid4().hex[:8]}"
    app = girder_server.admin.create_app(name, description=f"test application {name}")
    return GirderApp(app["_id"], name)


@pytest.fixture
def girder_publish(girder_server, girder_app, tmp_path_factory) -> Callable[..., dict]:
    """``girder_publish(name, *, app_revision, **kw) -> item``: :func:`publish_extension` into ``girder_app``."""
    tmp_dir = tmp_path_factory.mktemp("packages")

    def publish(name: str, *, app_revision: str, **kwargs: Any) -> dict:
        return publish_extension(girder_server.admin, girder_app.app_id, tmp_dir, name,
                                 app_revision=app_revision, **kwargs)

    publish.tmp_dir = tmp_dir  # type: ignore[attr-defined]
    return publish


#: Revisions of the Slicer builds :func:`slicer_server` publishes: the managed Slicer (5.8.1),
#: a newer release (5.10.0) and a nightly (5.11.0).
SLICER_BUILDS = ("33241", "34045", "34100")


@pytest.fixture
def slicer_server(girder_server, girder_app, girder_publish, tmp_path):
    """Releases 5.8.1 (the managed Slicer) and 5.10.0, a nightly 5.11.0; extensions for both revisions."""
    from slicer_ext_manager.localserver.slicer_packages import build_slicer_package

    admin, app = girder_server.admin, girder_app.app_id
    admin.create_release(app, "5.8.1", SLICER_BUILDS[0])
    admin.create_release(app, "5.10.0", SLICER_BUILDS[1])
    packages = {}
    for version, revision in (("5.8.1", SLICER_BUILDS[0]), ("5.10.0", SLICER_BUILDS[1]), ("5.11.0", SLICER_BUILDS[2])):
        path = build_slicer_package(tmp_path / "apps" / revision, version, revision, padding=300_000)
        packages[revision] = admin.upload_package(app, path, baseName="Slicer", os="linux", arch="amd64",
                                                  revision=revision, version=version,
                                                  build_date=f"2026-0{len(packages) + 1}-01T00:00:00+00:00")
    for revision, xy in ((SLICER_BUILDS[0], "5.8"), (SLICER_BUILDS[1], "5.10")):
        girder_publish("Alpha", app_revision=revision, depends=("Beta",), slicer_version=xy)
        girder_publish("Beta", app_revision=revision, slicer_version=xy)
    girder_publish("Gamma", app_revision=SLICER_BUILDS[0])  # not built for the new Slicer
    return packages
