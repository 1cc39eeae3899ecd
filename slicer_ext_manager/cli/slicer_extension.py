"""``slicer-extension build``: the "Extensions Restore" Slicer extension package, for one Slicer build."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_OK, print_json


def cmd_slicer_extension(args: argparse.Namespace) -> int:
    from ..errors import ExtensionManagerError
    from ..slicermodule.package import build_package

    missing = [option for option, value in (("--revision", args.revision), ("--os", args.os_name),
                                            ("--arch", args.arch), ("--slicer-version", args.slicer_version))
               if not value]
    if missing:
        raise ExtensionManagerError(f"slicer-extension build needs {', '.join(missing)}: the package is built for one "
                                    "Slicer build (see Help > About in Slicer, or info-context).")
    out = Path(args.output).expanduser() if args.output else Path.cwd()
    build = build_package(out, revision=str(args.revision), os_name=args.os_name, arch=args.arch,
                          slicer_version=args.slicer_version, date=args.date)
    if args.json:
        print_json({"path": str(build.path), "file_name": build.name.file_name, "revision": build.name.app_revision,
                    "os": build.name.os, "arch": build.name.arch, "scm_revision": build.name.scm_revision,
                    "members": len(build.members)})
        return EXIT_OK
    print(build.path)
    return EXIT_OK


def register(add) -> None:
    p = add("slicer-extension", cmd_slicer_extension,
            "build the Extensions Restore Slicer extension package (install it with Slicer's Install from file)")
    p.add_argument("action", choices=("build",), help="build the package")
    p.add_argument("-o", "--output", metavar="DIR", help="folder to write the package into (default: here)")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="the package date in its name (default: today, UTC)")
    p.epilog = ("Give the Slicer build with the global options: --revision R --os linux|win|macosx --arch A "
                "--slicer-version X.Y (e.g. --revision 33241 --os win --arch amd64 --slicer-version 5.8).")
