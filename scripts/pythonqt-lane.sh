#!/usr/bin/env bash
# The PythonQt lane: the core's tests under a real PythonQt (Qt 5.15, the binding of 3D Slicer's
# embedded Python) in a virtualenv WITHOUT PySide6 (tests/pythonqt/; run-tests.sh runs it after the
# main suite).
#
#   scripts/pythonqt-lane.sh setup          set up the lane's folder (idempotent; seconds)
#   scripts/pythonqt-lane.sh run [ARGS...]  set it up if needed, then run the lane (ARGS go to pytest)
#
# PythonQt comes from the shared tools' setup.sh (Debian 12, x86_64; it installs its run-time Debian
# packages with apt-get, so the first setup needs root), looked for in $SLICER_EXT_MANAGER_PYTHONQT_TOOLS,
# ../shared/tools/pythonqt next to the repository, then /work/shared/tools/pythonqt. The lane's folder
# is $SLICER_EXT_MANAGER_PYTHONQT_DIR or .pythonqt/ (git-ignored): pythonqt-host/ and venv/ (the pip
# requirements of tests/pythonqt/requirements.txt). The real server's venv is the main suite's
# ($SLICER_EXT_MANAGER_GIRDER_VENV or .girder-venv, made by tests/girder/ensure_venv.py).
#
# When PythonQt cannot be set up, one line says why and the exit code is 3 (skipped); with CI=true it
# is 1: CI must run the lane.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DIR="${SLICER_EXT_MANAGER_PYTHONQT_DIR:-$ROOT/.pythonqt}"
REQUIREMENTS="tests/pythonqt/requirements.txt"
HOST="$DIR/pythonqt-host/bin/pythonqt-run"

unavailable() {
  if [ "${CI:-}" = "true" ]; then
    echo "PythonQt lane FAILED (CI=true needs it): $*" >&2
    exit 1
  fi
  echo "PythonQt lane skipped: $*"
  exit 3
}

# Where setup.sh is looked for after $SLICER_EXT_MANAGER_PYTHONQT_TOOLS (space-separated; tests change it).
SEARCH="${SLICER_EXT_MANAGER_PYTHONQT_TOOLS_SEARCH-$ROOT/../shared/tools/pythonqt /work/shared/tools/pythonqt}"

find_tools() {
  local candidate
  # shellcheck disable=SC2086  # $SEARCH is a list
  for candidate in "${SLICER_EXT_MANAGER_PYTHONQT_TOOLS:-}" $SEARCH; do
    if [ -n "$candidate" ] && [ -f "$candidate/setup.sh" ]; then
      (cd "$candidate" && pwd)
      return 0
    fi
  done
  return 1
}

# What the lane was last set up from: setup.sh, its tarball and the requirements.
stamp_of() {
  cat "$1/setup.sh" "$REQUIREMENTS" | sha256sum | cut -d' ' -f1
  stat -c '%s %Y' "$1/pythonqt-host.tar.gz" 2>/dev/null || true
}

ready() {
  [ -x "$HOST" ] && [ -x "$DIR/venv/bin/python" ] &&
    QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR="$DIR/runtime" "$HOST" --venv "$DIR/venv" -c "import qt" >/dev/null 2>&1
}

setup() {
  local tools stamp
  tools="$(find_tools)" || unavailable "no PythonQt tools (setup.sh) in \$SLICER_EXT_MANAGER_PYTHONQT_TOOLS" \
    "(${SLICER_EXT_MANAGER_PYTHONQT_TOOLS:-unset}) nor in: $SEARCH"
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || unavailable "PythonQt's host is built for Debian 12 x86_64, this is $(uname -s) $(uname -m)"
  command -v dpkg-query >/dev/null || unavailable "PythonQt's host needs Debian 12 (no dpkg-query here)"
  mkdir -p "$DIR"
  mkdir -p -m 700 "$DIR/runtime"
  stamp="$(stamp_of "$tools")"
  if [ -f "$DIR/.lane-stamp" ] && [ "$(cat "$DIR/.lane-stamp")" = "$stamp" ] && ready; then
    return 0
  fi
  rm -f "$DIR/.lane-stamp"
  if ! QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR="$DIR/runtime" \
      bash "$tools/setup.sh" "$DIR" -r "$REQUIREMENTS" >"$DIR/setup.log" 2>&1; then
    unavailable "$tools/setup.sh failed (see $DIR/setup.log): $(tail -n 1 "$DIR/setup.log")"
  fi
  ready || unavailable "pythonqt-run does not start (see $DIR/setup.log)"
  echo "$stamp" >"$DIR/.lane-stamp"
  echo "PythonQt lane ready in $DIR ($(tail -n 1 "$DIR/setup.log"))"
}

run() {
  setup
  export QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR="$DIR/runtime"
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  export SLICER_EXT_MANAGER_GIRDER_VENV="${SLICER_EXT_MANAGER_GIRDER_VENV:-$ROOT/.girder-venv}"
  echo "== PythonQt lane: $("$HOST" --venv "$DIR/venv" -c "import qt, sys; print('Qt', qt.qVersion(), 'Python', sys.version.split()[0])"), no PySide6"
  "$HOST" --venv "$DIR/venv" -m pytest -c tests/pythonqt/lane.ini --rootdir "$ROOT" --confcutdir "$ROOT" "$@"
}

case "${1:-}" in
  setup) setup ;;
  run) shift; run "$@" ;;
  *) sed -n '2,18p' "$0"; exit 2 ;;
esac
