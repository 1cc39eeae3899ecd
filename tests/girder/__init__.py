"""Test harness around the real Slicer Package Manager server (Girder 3.1 + slicer_package_manager plugin).

See fixtures.py (pytest fixtures), harness.py (process + REST client), run_server.py
(runs in the Girder venv) and ensure_venv.py (creates that venv).
"""

try:  # rewrite asserts in the plugin even when a test module imports it before pytest registers it
    import pytest as _pytest

    _pytest.register_assert_rewrite("tests.girder.fixtures")
except ImportError:  # pragma: no cover
    pass
