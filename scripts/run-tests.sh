#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine (package registries only)
# and runs the whole test suite, including the integration tests against the real
# Slicer Package Manager server (Girder + plugin, in its own virtualenv).
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

export QT_QPA_PLATFORM=offscreen
exec "$VENV/bin/python" -m pytest "$@"
