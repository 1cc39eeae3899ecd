"""Stand-in for the ``slicer.util`` functions the module uses (after ``Base/Python/slicer/util.py``)."""

import logging

import qt

#: (level, title, text) of every message a real Slicer would have shown in a popup.
displayed = []


def _app():
    import slicer

    return slicer.app


def mainWindow():
    """The main window, or None (``--no-main-window``)."""
    return _app().mainWindowWidget


def restart():
    """Restart the application, without asking (Slicer: ``app.restart()``)."""
    _app().restart()


def toBool(value):
    try:
        return bool(int(value))
    except (ValueError, TypeError):
        return value.lower() in ["true"] if isinstance(value, str) else bool(value)


def settingsValue(key, default, converter=lambda v: v, settings=None):
    settings = _app().userSettings() if settings is None else settings
    return converter(settings.value(key)) if settings.contains(key) else default


def _messageDisplay(logLevel, text, testingReturnValue, mainWindowNeeded=False, windowTitle=None, **kwargs):
    logging.log(logLevel, text)
    if _app().testingEnabled():
        return testingReturnValue
    if mainWindowNeeded and mainWindow() is None:
        return None
    displayed.append((logging.getLevelName(logLevel), windowTitle or "", text))
    return qt.QMessageBox.Ok


def infoDisplay(text, windowTitle=None, parent=None, standardButtons=None, **kwargs):
    _messageDisplay(logging.INFO, text, None, mainWindowNeeded=True, windowTitle=windowTitle)


def warningDisplay(text, windowTitle=None, parent=None, standardButtons=None, **kwargs):
    _messageDisplay(logging.WARNING, text, None, mainWindowNeeded=True, windowTitle=windowTitle)


def errorDisplay(text, windowTitle=None, parent=None, standardButtons=None, **kwargs):
    _messageDisplay(logging.ERROR, text, None, mainWindowNeeded=True, windowTitle=windowTitle)


def delayDisplay(message, autoCloseMsec=1000, parent=None, **kwargs):
    logging.info(message)
    _app().processEvents()
