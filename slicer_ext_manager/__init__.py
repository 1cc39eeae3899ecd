"""slicer-ext-manager: an extensions manager for 3D Slicer.

The core (everything outside :mod:`slicer_ext_manager.ui`) is Qt-widget free; it
uses QtCore's ``QSettings`` only, because that is the one exact writer of the INI
syntax Slicer reads.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
