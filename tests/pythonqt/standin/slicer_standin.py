"""The application half of the Slicer stand-in (``slicer.app`` and its extensions manager model);
see ``README.md`` for what it follows in Slicer's sources.

:func:`install` makes a fresh ``slicer.app`` for a Slicer profile in a folder; :func:`load_module`
loads a scripted module file the way Slicer does.
"""

import importlib.util
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile

import qt
import slicer

APP_ID = "5f4474d0e1d8c75dfc705482"


def _s4ext(path):
    data = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            parts = [p for p in line.strip().split(" ") if p]
            if parts and not parts[0].startswith("#"):
                data[parts[0]] = " ".join(parts[1:])
    return data


def _list(value):
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


class ExtensionsManagerModel(qt.QObject):
    """``qSlicerExtensionsManagerModel``: the signals and the slots the module and the tests use."""

    extensionInstalled = qt.Signal("QString")
    extensionUpdated = qt.Signal("QString")
    extensionUninstalled = qt.Signal("QString")
    extensionScheduledForUninstall = qt.Signal("QString")
    extensionCancelledScheduleForUninstall = qt.Signal("QString")
    extensionBookmarkedChanged = qt.Signal("QString", "bool")
    modelUpdated = qt.Signal()
    installDownloadProgress = qt.Signal("QString", "qlonglong", "qlonglong")

    def __init__(self, app, server_url, app_id):
        super().__init__()
        self.app = app
        self._server_url = server_url
        self.app_id = app_id
        self.slicerRevision, self.slicerOs, self.slicerArch = app.revision, app.os, app.arch
        self.interactive = False
        self.update_model_calls = 0
        self._catalog = None

    # -- queries ----------------------------------------------------------------------------------

    def serverUrl(self):
        return qt.QUrl(self._server_url)

    def extensionsInstallPath(self):
        return self.app.extensionsInstallPath

    def extensionDescriptionFile(self, name):
        return os.path.join(self.extensionsInstallPath(), name + ".s4ext")

    @property
    def installedExtensions(self):
        folder = self.extensionsInstallPath()
        names = []
        for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if entry.endswith(".s4ext") and _s4ext(os.path.join(folder, entry)).get("installed", "true") == "true":
                names.append(entry[:-len(".s4ext")])
        return tuple(names)

    def isExtensionInstalled(self, name):
        return name in self.installedExtensions

    def updateModel(self):
        """Slicer re-reads every description file; here: counted, and ``modelUpdated`` emitted."""
        self.update_model_calls += 1
        self.modelUpdated.emit()

    # -- installing the way Slicer's model does --------------------------------------------------------

    def installExtension(self, archiveFile, installDependencies=True, waitForCompletion=False):
        """From a file: the extension name from the first ``*.s4ext`` member, then the install."""
        members = _members(archiveFile)
        description = next((m for m in members if m.endswith(".s4ext")), None)
        if description is None:
            return False
        name = os.path.basename(description).split(".", 1)[0]
        return self._install(name, archiveFile, {})

    def _install(self, name, archive, metadata):
        if self.isExtensionInstalled(name):
            return False
        install_path = self.extensionsInstallPath()
        os.makedirs(install_path, exist_ok=True)
        self._extract(name, archive, install_path)
        version = f"{self.app.majorVersion}.{self.app.minorVersion}"
        described = _s4ext(os.path.join(install_path, name, "share", f"Slicer-{version}", name + ".s4ext"))
        meta = dict(metadata) or {k: v for k, v in described.items() if k in (
            "category", "contributors", "description", "homepage", "iconurl", "screenshots", "status", "updated")}
        meta.update({"scm": described.get("scm", "NA"), "scmurl": described.get("scmurl", "NA"),
                     "revision": described.get("scmrevision", "NA"), "os": self.slicerOs, "arch": self.slicerArch,
                     "slicer_revision": self.slicerRevision, "enabled": "true", "installed": "true",
                     "archivename": os.path.basename(archive)})
        self._add_settings(name, version)
        with open(self.extensionDescriptionFile(name), "w", encoding="utf-8") as fh:
            fh.writelines(f"{k} {meta[k]}\n" for k in sorted(meta))
        self.extensionInstalled.emit(name)
        return True

    def _extract(self, name, archive, install_path):
        """``extractExtensionArchive``: remove the old folder, extract into ``<Name>/<base>``, copy the
        content (macOS: the nested ``Slicer.app/Contents/Extensions-<rev>/<Name>``) to an intermediate
        folder, replace ``<Name>`` with it."""
        target = os.path.join(install_path, name)
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target)
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(target)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(target)
        base = sorted(os.listdir(target))[0]
        source = os.path.join(target, base)
        if self.slicerOs == "macosx":
            source = os.path.join(source, "Slicer.app", "Contents", f"Extensions-{self.slicerRevision}", name)
        intermediate = tempfile.mkdtemp(prefix=name + "-", dir=install_path)
        os.rmdir(intermediate)
        shutil.copytree(source, intermediate, symlinks=True)
        shutil.rmtree(target)
        os.rename(intermediate, target)

    def _add_settings(self, name, version):
        settings = self.app.revisionUserSettings()  # Slicer's own object, on the GUI thread
        paths = _list(settings.value("Modules/AdditionalPaths"))
        for kind in ("qt-scripted-modules", "qt-loadable-modules", "cli-modules"):
            folder = os.path.join(self.extensionsInstallPath(), name, "lib", f"Slicer-{version}", kind)
            if os.path.isdir(folder) and folder not in paths:
                paths.append(folder)
        settings.setValue("Modules/AdditionalPaths", paths)

    def _server_metadata(self):
        """``updateExtensionsMetadataFromServer``: the whole catalog of this build, once."""
        import requests

        if self._catalog is None:
            items = requests.get(f"{self._api()}/app/{self.app_id}/extension", timeout=60, params={
                "app_revision": self.slicerRevision, "os": self.slicerOs, "arch": self.slicerArch, "limit": 0}).json()
            self._catalog = {i["meta"]["baseName"]: i for i in items}
        return self._catalog

    def _api(self):
        return self._server_url.rstrip("/") + "/api/v1"

    def downloadAndInstallExtensionByName(self, name, installDependencies=True, waitForCompletion=False):
        """From the server as ``downloadExtensionByName``: the catalog entry, ``/item/{id}/files``,
        ``/file/{id}/download``, then the install (Slicer checks no checksum)."""
        import requests

        item = self._server_metadata().get(name)
        if item is None:
            return False
        if installDependencies:
            for dependency in str(item.get("meta", {}).get("dependency") or "").split():
                if dependency != "NA" and not self.isExtensionInstalled(dependency):
                    self.downloadAndInstallExtensionByName(dependency, True, waitForCompletion)
        files = requests.get(f"{self._api()}/item/{item['_id']}/files", timeout=60).json()
        if len(files) != 1:
            return False
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, files[0]["name"])
            with requests.get(f"{self._api()}/file/{files[0]['_id']}/download", timeout=60, stream=True) as reply:
                reply.raise_for_status()
                with open(path, "wb") as fh:
                    for chunk in reply.iter_content(1 << 16):
                        fh.write(chunk)
            return self._install(name, path, {"extension_id": item["_id"]})

    def uninstallExtension(self, name):
        shutil.rmtree(os.path.join(self.extensionsInstallPath(), name), ignore_errors=True)
        if os.path.exists(self.extensionDescriptionFile(name)):
            os.remove(self.extensionDescriptionFile(name))
        settings = self.app.revisionUserSettings()
        prefix = os.path.join(self.extensionsInstallPath(), name) + os.sep
        settings.setValue("Modules/AdditionalPaths",
                          [p for p in _list(settings.value("Modules/AdditionalPaths")) if not p.startswith(prefix)])
        self.extensionUninstalled.emit(name)
        return True

    def scheduleExtensionForUninstall(self, name):
        settings = self.app.revisionUserSettings()
        names = _list(settings.value("Extensions/ScheduledForUninstall"))
        if name not in names:
            settings.setValue("Extensions/ScheduledForUninstall", names + [name])
        self.extensionScheduledForUninstall.emit(name)
        return True

    def cancelExtensionScheduledForUninstall(self, name):
        settings = self.app.revisionUserSettings()
        settings.setValue("Extensions/ScheduledForUninstall",
                          [n for n in _list(settings.value("Extensions/ScheduledForUninstall")) if n != name])
        self.extensionCancelledScheduleForUninstall.emit(name)
        return True


def _members(archive):
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            return zf.namelist()
    with tarfile.open(archive) as tf:
        return tf.getnames()


class ModuleManager(qt.QObject):
    moduleAboutToBeUnloaded = qt.Signal("QString")


class SlicerApp(qt.QObject):
    """``qSlicerApplication`` as the module sees it."""

    startupCompleted = qt.Signal()
    aboutToQuit = qt.Signal()  # QCoreApplication's

    def __init__(self, home, *, revision="33241", os_name="linux", arch="amd64", version=(5, 8),
                 server_url="http://127.0.0.1:9", app_id=APP_ID, testing=False, main_window=True,
                 user_ini="", revision_ini="", user_settings=None, revision_settings=None, install_path=None):
        super().__init__()
        self.applicationName = "Slicer"
        self.slicerHome = str(home)
        self.revision, self.os, self.arch = revision, os_name, arch
        self.majorVersion, self.minorVersion = version
        settings_dir = os.path.join(self.slicerHome, "slicer.org")
        os.makedirs(settings_dir, exist_ok=True)
        self.slicerUserSettingsFilePath = str(user_settings or os.path.join(
            os.path.dirname(self.slicerHome), "config", "slicer.org", "Slicer.ini"))
        os.makedirs(os.path.dirname(self.slicerUserSettingsFilePath), exist_ok=True)
        self.slicerRevisionUserSettingsFilePath = str(revision_settings or os.path.join(settings_dir,
                                                                                        f"Slicer-{revision}.ini"))
        self.extensionsInstallPath = str(install_path or os.path.join(settings_dir, f"Extensions-{revision}"))
        # written before the QSettings objects exist (Qt reads a file when the object is made)
        for path, text in ((self.slicerUserSettingsFilePath, user_ini), (self.slicerRevisionUserSettingsFilePath,
                                                                          revision_ini)):
            text = text or "[Extensions]\nManagerEnabled=true\n"
            if not os.path.exists(path):
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text)
        self._user = qt.QSettings(self.slicerUserSettingsFilePath, qt.QSettings.IniFormat)
        self._revision = qt.QSettings(self.slicerRevisionUserSettingsFilePath, qt.QSettings.IniFormat)
        self._testing = testing
        self.mainWindowWidget = qt.QMainWindow() if main_window else None
        self._model = ExtensionsManagerModel(self, server_url, app_id)
        self._modules = ModuleManager()
        self.restarts = 0

    def userSettings(self):
        return self._user

    def settings(self):
        return self._user

    def revisionUserSettings(self):
        return self._revision

    def extensionsManagerModel(self):
        return self._model

    def moduleManager(self):
        return self._modules

    def testingEnabled(self):
        return self._testing

    def restart(self):
        """Slicer would restart with its startup arguments; here the request is counted."""
        self.restarts += 1

    def processEvents(self):
        qt.QApplication.processEvents()


def install(app):
    """``app`` becomes ``slicer.app``."""
    slicer.app = app
    slicer.util.displayed.clear()
    return app


class ModuleParent:
    """What ``qSlicerScriptedLoadableModule`` hands a module class: its ``path`` and the
    attributes the module sets (title, categories, …)."""

    def __init__(self, path):
        self.path = str(path)


def load_module(path):
    """Execute a scripted module file under its own name and instantiate its module class."""
    name = os.path.splitext(os.path.basename(str(path)))[0]
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent = ModuleParent(path)
    return module, getattr(module, name)(parent), parent
