#!/usr/bin/env bash
# Installs the desktop integration (desktop entry, AppStream metainfo, icons) of slicer-ext-manager
# into a prefix, in the freedesktop layout. The programs themselves come from the wheel
# (pip install slicer-ext-manager) or the PyInstaller bundle; the desktop entry runs
# `slicer-ext-manager-gui`, which must be on PATH.
#
#   packaging/linux/install.sh                      # ~/.local (current user)
#   packaging/linux/install.sh --prefix /usr/local  # system-wide (as root)
#   packaging/linux/install.sh --prefix /usr --destdir "$pkgdir"   # distribution packages
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ID=org.slicer_ext_manager.SlicerExtManager
PREFIX="${HOME}/.local"
DESTDIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --destdir) DESTDIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
SHARE="${DESTDIR}${PREFIX}/share"
install -Dm644 "$HERE/$ID.desktop" "$SHARE/applications/$ID.desktop"
install -Dm644 "$HERE/$ID.metainfo.xml" "$SHARE/metainfo/$ID.metainfo.xml"
for dir in "$HERE"/icons/hicolor/*/apps; do
  size="$(basename "$(dirname "$dir")")"
  for icon in "$dir"/*; do
    install -Dm644 "$icon" "$SHARE/icons/hicolor/$size/apps/$(basename "$icon")"
  done
done
# Refresh the caches of a live system (not when staging into a DESTDIR).
if [ -z "$DESTDIR" ]; then
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$SHARE/applications" || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" || true
fi
echo "installed the desktop entry, metainfo and icons of $ID under ${DESTDIR}${PREFIX}/share"
