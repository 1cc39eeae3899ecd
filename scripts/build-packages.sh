#!/usr/bin/env bash
# Builds the distributable forms of slicer-ext-manager and (with --smoke) runs each one offscreen.
#
#   scripts/build-packages.sh [--wheel] [--pyinstaller] [--linux] [--all] [--smoke] [--out DIR]
#
#   --wheel        sdist + wheel with `python -m build`            -> DIR/dist/
#   --pyinstaller  one-folder application (packaging/pyinstaller/) -> DIR/pyinstaller/slicer-ext-manager/
#   --linux        desktop entry, metainfo and icons, staged       -> DIR/linux/usr/share/...
#                  and validated (icons up to date; appstreamcli validate-tree when available)
#   --all          all three (the default without a form option)
#   --smoke        also run what was built: the wheel in a fresh virtualenv (DIR/venv), the bundle
#                  in place: --help, info-context, the bundle self-test and `demo --screenshot` when
#                  the demo command exists; screenshots go to DIR/screenshots/
#   --out DIR      output folder (default: build/packages)
#
# PYTHON selects the interpreter (default: python3); it needs the `package` extra
# (pip install -e ".[package]", also part of ".[test]"). Everything runs with QT_QPA_PLATFORM=offscreen.
# tests/test_packaging.py (marked slow) runs the same builds and checks their content.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PY="${PYTHON:-python3}"
OUT="build/packages"
WHEEL=0 PYI=0 LINUX=0 SMOKE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --wheel) WHEEL=1 ;;
    --pyinstaller) PYI=1 ;;
    --linux) LINUX=1 ;;
    --all) WHEEL=1 PYI=1 LINUX=1 ;;
    --smoke) SMOKE=1 ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "build-packages.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ $((WHEEL + PYI + LINUX)) -eq 0 ]; then WHEEL=1 PYI=1 LINUX=1; fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
export QT_QPA_PLATFORM=offscreen
# Keep the smoke runs away from the user's Slicer settings and caches.
SMOKE_HOME="$OUT/home"
SHOTS="$OUT/screenshots"

step() { echo "== $*"; }
elapsed() { echo "   ($(($(date +%s) - $1)) s)"; }
size_of() { du -sh "$1" | cut -f1; }

# Runs a built `slicer-ext-manager` executable ($1) offscreen in a throwaway home.
smoke() {
  local exe="$1" label="$2"
  mkdir -p "$SMOKE_HOME" "$SHOTS"
  local env=(env HOME="$SMOKE_HOME" XDG_CONFIG_HOME="$SMOKE_HOME/.config" XDG_CACHE_HOME="$SMOKE_HOME/.cache"
             XDG_DATA_HOME="$SMOKE_HOME/.local/share" SLICER_EXT_MANAGER_SETTINGS_DIR="$SMOKE_HOME/slicer.org")
  "${env[@]}" "$exe" --help >/dev/null
  "${env[@]}" "$exe" --version
  "${env[@]}" "$exe" info-context --revision 33241 --os linux --arch amd64 >/dev/null
  if "${env[@]}" "$exe" --help | grep -qE '^ +demo '; then
    rm -f "$SHOTS/$label-demo.png"
    "${env[@]}" "$exe" demo --screenshot "$SHOTS/$label-demo.png"
    test -s "$SHOTS/$label-demo.png"
    echo "   $label: demo --screenshot -> $SHOTS/$label-demo.png ($(size_of "$SHOTS/$label-demo.png"))"
  else
    echo "   $label: WARNING: no 'demo' command yet, demo --screenshot skipped"
  fi
}

if [ "$WHEEL" = 1 ]; then
  step "sdist and wheel (python -m build)"
  t=$(date +%s)
  rm -rf "$OUT/dist"
  "$PY" -m build --outdir "$OUT/dist" . >"$OUT/build-wheel.log" 2>&1 || { cat "$OUT/build-wheel.log"; exit 1; }
  elapsed "$t"
  ls -l "$OUT"/dist/
  if [ "$SMOKE" = 1 ]; then
    step "wheel in a fresh virtualenv"
    t=$(date +%s)
    rm -rf "$OUT/venv"
    "$PY" -m venv "$OUT/venv"
    "$OUT/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$OUT"/dist/*.whl
    elapsed "$t"
    test -x "$OUT/venv/bin/slicer-ext-manager-gui"
    smoke "$OUT/venv/bin/slicer-ext-manager" wheel
  fi
fi

if [ "$PYI" = 1 ]; then
  step "PyInstaller one-folder application"
  t=$(date +%s)
  rm -rf "$OUT/pyinstaller"
  "$PY" -m PyInstaller --noconfirm --log-level WARN --distpath "$OUT/pyinstaller" \
    --workpath "$OUT/pyinstaller-work" packaging/pyinstaller/slicer-ext-manager.spec \
    >"$OUT/build-pyinstaller.log" 2>&1 || { cat "$OUT/build-pyinstaller.log"; exit 1; }
  elapsed "$t"
  APP="$OUT/pyinstaller/slicer-ext-manager"
  echo "   $APP: $(size_of "$APP"), $(find "$APP" -type f | wc -l) files"
  if [ "$SMOKE" = 1 ]; then
    step "PyInstaller bundle, offscreen"
    mkdir -p "$SHOTS"
    "$APP/slicer-ext-manager" --bundle-selftest "$SHOTS/bundle-selftest.png"
    test -s "$SHOTS/bundle-selftest.png"
    smoke "$APP/slicer-ext-manager" bundle
  fi
fi

if [ "$LINUX" = 1 ]; then
  step "Linux desktop integration"
  "$PY" packaging/render_icons.py --check
  rm -rf "$OUT/linux"
  bash packaging/linux/install.sh --prefix /usr --destdir "$OUT/linux"
  if command -v appstreamcli >/dev/null; then
    appstreamcli validate-tree --no-net "$OUT/linux"
  elif [ "${CI:-}" = "true" ]; then
    echo "appstreamcli is missing (Debian/Ubuntu: apt-get install -y appstream)" >&2
    exit 1
  else
    echo "   WARNING: appstreamcli not found, AppStream validation skipped"
  fi
  if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$OUT/linux/usr/share/applications/"*.desktop
  fi
fi
echo "== done: $OUT"
