"""``slicer-versions`` and ``install-slicer``: newer Slicer builds, and installing one whose
first start already carries your extensions."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_FAILURE, EXIT_OK, manager_from_args, plural, print_json, say, table, warn

STABILITIES = ("release", "nightly", "any")


def _date(text: str) -> str:
    return text[:10] if text else "-"


def cmd_slicer_versions(args: argparse.Namespace) -> int:
    from ..fileutil import human_size
    from ..slicer_builds import Stability

    manager = manager_from_args(args)
    ctx = manager.context
    builds = manager.slicer_updates.builds(Stability(args.stability), include_all=args.all)
    if args.json:
        print_json([b.to_json() for b in builds])
        return EXIT_OK
    if not builds:
        kind = "build" if args.stability == "any" else f"{args.stability} build"
        newer = "" if args.all else f" newer than revision {ctx.revision}"
        print(f"No Slicer {kind}{newer} is available for {ctx.os}/{ctx.arch} on {ctx.server_url}.")
        return EXIT_OK
    rows = [[b.version, b.revision, b.stability.value, _date(b.build_date), human_size(b.size) if b.size else "-",
             "current" if b.current else ("newer" if b.newer else "")] for b in builds]
    print(table(rows, ["VERSION", "REVISION", "STABILITY", "DATE", "SIZE", ""]))
    return EXIT_OK


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        from ..errors import ExtensionManagerError

        raise ExtensionManagerError(f"{question} Add --yes to confirm when not running in a terminal.")
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def cmd_install_slicer(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..fileutil import human_size
    from ..progress import ProgressPrinter
    from ..slicer_builds import Stability
    from ..slicer_installer import default_destination

    manager = manager_from_args(args)
    updater = manager.slicer_updates
    build = updater.pick(args.build, Stability(args.stability))
    dest = Path(args.dest).expanduser().resolve() if args.dest else default_destination(
        build, manager.context.slicer_home)
    if not args.yes and not _confirm(f"Install {build.label}, {human_size(build.size)}, into {dest}?"):
        say("nothing was installed.")
        return EXIT_FAILURE
    report = updater.install(build, dest=dest, extensions=not args.no_extensions, launch=args.launch,
                             force=args.force, listener=ProgressPrinter(sys.stderr))
    if args.json:
        print_json(report.to_json())
        return EXIT_OK if report.ok else EXIT_FAILURE
    for warning in report.warnings:
        warn(warning)
    if report.error:
        say(report.error)
        return EXIT_FAILURE
    assert report.layout is not None
    print(f"Installed {build.label} into {report.layout.root}.")
    extensions = report.extensions
    if extensions is not None:
        ok = [r.name for r in extensions.results if r.outcome.ok]
        print(f"{plural(len(ok), 'extension')} installed for it" + (f": {', '.join(ok)}." if ok else "."))
        for r in extensions.results:
            if not r.outcome.ok:
                say(r.message)
    for item in report.not_available():
        print(f"Not available for the new Slicer: {item['name']} ({item['reason']}).")
    if report.launched:
        print(f"Started {report.layout.executable}.")
    else:
        print(f"Start it with: {' '.join(report.layout.launch_command())}")
    return EXIT_OK if report.ok else EXIT_FAILURE


def register(add) -> None:
    p = add("slicer-versions", cmd_slicer_versions,
            "list Slicer builds for this os/arch on the server, newest first (default: only newer releases)")
    p.add_argument("--stability", choices=STABILITIES, default="release",
                   help="release (default), nightly (preview builds) or any")
    p.add_argument("--all", action="store_true", help="also builds that are not newer than the managed Slicer")
    p = add("install-slicer", cmd_install_slicer,
            "download and install a Slicer build, with this Slicer's extensions installed for it")
    p.add_argument("build", nargs="?", default="latest", metavar="latest|VERSION|REVISION",
                   help="which build (default: latest)")
    p.add_argument("--stability", choices=STABILITIES, default="release", help="release (default), nightly or any")
    p.add_argument("--dest", metavar="DIR", help="where to install it (default: beside the current Slicer, else "
                   "%%LOCALAPPDATA%%\\slicer.org on Windows, ~/Applications on macOS, ~/slicer.org on Linux)")
    p.add_argument("--force", action="store_true", help="replace an existing DIR")
    p.add_argument("--no-extensions", action="store_true", help="do not install the extensions for it")
    p.add_argument("--launch", action="store_true", help="start the new Slicer at the end")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
