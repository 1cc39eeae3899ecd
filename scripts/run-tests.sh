#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine (package registries only)
# and runs the whole test suite, including the integration tests against the real
# Slicer Package Manager server (Girder + plugin, in its own virtualenv), then the PythonQt lane.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
VENV="${SLICER_EXT_MANAGER_VENV:-.venv}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[test]"

# The real server runs from its own virtualenv (Girder 3.1 pins conflict with ours).
export SLICER_EXT_MANAGER_GIRDER_VENV="${SLICER_EXT_MANAGER_GIRDER_VENV:-$PWD/.girder-venv}"
"$VENV/bin/python" tests/girder/ensure_venv.py

# The catalog page is tested in headless Chromium (Debian's package); CI must have it.
if [ "${CI:-}" = "true" ] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2 \
      || echo "warning: could not install chromium; the catalog page tests will fail" >&2
  fi
fi

# The PythonQt lane (tests/pythonqt/: the core under 3D Slicer's binding, without PySide6) is set up
# first: the main suite's cross-binding tests start its pythonqt-run too. Unavailable: one line says
# why and it is skipped (exit 3); with CI=true that fails the run (exit 1).
lane=0
bash scripts/pythonqt-lane.sh setup || lane=$?
if [ "$lane" -eq 0 ]; then
  export SLICER_EXT_MANAGER_PYTHONQT_DIR="${SLICER_EXT_MANAGER_PYTHONQT_DIR:-$PWD/.pythonqt}"
fi

export QT_QPA_PLATFORM=offscreen
status=0
"$VENV/bin/python" -m pytest "$@" || status=$?
if [ "$lane" -eq 0 ]; then
  bash scripts/pythonqt-lane.sh run -q -p no:cacheprovider || status=$((status ? status : 1))
elif [ "$lane" -ne 3 ]; then
  status=$((status ? status : 1))
fi
exit "$status"
