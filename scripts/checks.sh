#!/usr/bin/env bash
# The static checks CI makes before the tests: ruff (style, complexity), mypy (types),
# and the Python 3.9 check of the core (scripts/check_py39.py). Needs the test extra
# (pip install -e ".[test]"); PYTHON selects the interpreter (default: .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
BIN="$(dirname "$PY")"
echo "== ruff"
"$BIN/ruff" check slicer_ext_manager tests benchmarks scripts
echo "== mypy"
"$BIN/mypy"
echo "== Python 3.9 (core)"
"$PY" scripts/check_py39.py
