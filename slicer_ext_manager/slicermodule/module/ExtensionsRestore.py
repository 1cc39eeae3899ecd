"""Extensions Restore: a 3D Slicer scripted module (PythonQt) on the slicer-ext-manager core.

* Restore: the extensions of previous Slicer versions and the bookmarks, preselected, installed
  with their dependencies (sha512-verified, one at a time, cancellable);
* Profiles: export what is installed and bookmarked to a file, import one;
* Slicer updates: a newer Slicer, installed beside this one with these extensions;
* at startup: offers to restore the previous version's extensions, and keeps the extensions
  history current for what Slicer's own Extensions Manager installs.

This file is what Slicer loads from ``lib/Slicer-X.Y/qt-scripted-modules/``; the core it uses is
vendored next to it in ``ExtensionsRestoreLib/`` (``slicer-ext-manager slicer-extension build``).
"""

import logging
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_LIB = os.path.join(_HERE, "ExtensionsRestoreLib")
_VENDOR = os.path.join(_LIB, "vendor")
if os.path.isdir(_LIB) and _LIB not in sys.path:
    sys.path.insert(0, _LIB)  # the core shipped with this module comes first
if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
    sys.path.append(_VENDOR)  # platformdirs/packaging only where Slicer has none

import qt  # noqa: E402
import slicer  # noqa: E402
from slicer.ScriptedLoadableModule import (  # noqa: E402
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)

log = logging.getLogger("ExtensionsRestore")


class ExtensionsRestore(ScriptedLoadableModule):
    """Slicer creates it while loading modules, before the main window shows: the history sync
    and the startup check are connected here, so they work whether or not the panel is opened."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        parent.title = "Extensions Restore"
        parent.categories = ["Utilities"]
        parent.dependencies = []
        parent.contributors = ["slicer-ext-manager developers"]
        parent.helpText = (
            "Get the extensions of your previous Slicer version back after an upgrade (Restore), "
            "save and load sets of extensions (Profiles), and install a newer Slicer with your "
            "extensions (Slicer updates). Options: check for them at startup, install without asking.")
        parent.acknowledgementText = "Built on slicer-ext-manager, an extensions manager for 3D Slicer."
        try:
            ExtensionsRestoreLogic().start()
        except Exception as exc:  # never break Slicer's start
            log.warning("Extensions Restore could not start its startup check and history sync: %s. "
                        "Open the Extensions Restore module to see what is wrong.", exc)


class ExtensionsRestoreWidget(ScriptedLoadableModuleWidget):
    def __init__(self, parent=None):
        self.panel = None  # before the base class, which calls setup() when there is no parent
        self.logic = None
        ScriptedLoadableModuleWidget.__init__(self, parent)

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        from slicer_ext_manager.slicermodule.panel import ExtensionsRestorePanel

        self.logic = ExtensionsRestoreLogic()
        self.panel = ExtensionsRestorePanel(self.logic.session)
        self.layout.addWidget(self.panel.widget)
        self.panel.load()

    def cleanup(self):
        if self.panel is not None:
            self.panel.close()


class ExtensionsRestoreLogic(ScriptedLoadableModuleLogic):
    """The session of this Slicer process (one core manager, one background runner)."""

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)

    @property
    def session(self):
        from slicer_ext_manager.slicermodule.session import get_session

        return get_session(slicer)

    def start(self):
        self.session.start()

    def restorePlan(self):
        """The restore plan (blocking: for scripts and tests, not for the GUI thread)."""
        return self.session.manager.restore_plan()


class ExtensionsRestoreTest(ScriptedLoadableModuleTest):
    """Slicer's self-test (Developer Tools > Self Tests): the module knows this Slicer, its
    panel sets up, and nothing pops up in testing mode."""

    def setUp(self):
        pass

    def runTest(self):
        self.setUp()
        self.test_context_is_this_slicer()
        self.test_panel_sets_up()

    def test_context_is_this_slicer(self):
        context = ExtensionsRestoreLogic().session.manager.context
        self.assertEqual(context.revision, str(slicer.app.revision))
        self.assertEqual(context.os, str(slicer.app.os))

    def test_panel_sets_up(self):
        parent = qt.QWidget()
        parent.setLayout(qt.QVBoxLayout())
        widget = ExtensionsRestoreWidget(parent)
        widget.setup()
        panel = widget.panel
        assert panel is not None
        self.assertEqual(panel.tabs.count, 3)
        widget.cleanup()
        parent.deleteLater()
