"""The ``slicer-ext-manager`` command.

Exit codes: 0 success, 1 failure (one sentence on stderr), 2 usage error.
``--json`` is accepted before or after any command and prints machine-readable
output on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Sequence

from . import __version__
from .context import AppContext
from .errors import ExtensionManagerError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage and exits 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _add_json(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="print machine-readable JSON on stdout",
    )


def _add_context_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """The profile/server options; on sub-commands they are optional repeats of the global ones."""
    if suppress:
        parser = _SuppressingGroup(parser)  # type: ignore[assignment]
    g = parser.add_argument_group("Slicer profile (defaults come from the environment and Slicer's settings)")
    g.add_argument("--settings-dir", metavar="DIR", help="folder holding Slicer.ini (default: the platform's slicer.org folder, or $SLICER_EXT_MANAGER_SETTINGS_DIR)")
    g.add_argument("--user-settings", metavar="FILE", help="exact path of Slicer.ini")
    g.add_argument("--revision-settings", metavar="FILE", help="exact path of Slicer-<revision>.ini (real installs keep it in <SlicerHome>/slicer.org/)")
    g.add_argument("--slicer-home", metavar="DIR", help="Slicer's installation folder (relative paths in the settings are relative to it)")
    g.add_argument("--revision", help="Slicer revision, e.g. 33241 (default: from the only Slicer-<revision>.ini found)")
    g.add_argument("--os", dest="os_name", choices=("linux", "win", "macosx"), help="operating system of the Slicer build (default: this one)")
    g.add_argument("--arch", help="architecture of the Slicer build: amd64 or arm64 (default: this one)")
    g.add_argument("--slicer-version", metavar="X.Y", help="Slicer version for lib/Slicer-X.Y (default: detected)")
    g.add_argument("--install-path", metavar="DIR", help="extensions install folder (default: Extensions/InstallPath)")
    s = parser.add_argument_group("extensions server")
    s.add_argument("--server", metavar="URL", help="server URL (default: $SLICER_EXTENSIONS_MANAGER_SERVER_URL, Extensions/ServerUrl, https://slicer-packages.kitware.com)")
    s.add_argument("--app-id", help="application id on the server (default: the production Slicer app)")
    s.add_argument("--app-name", help="application name on the server, looked up with GET /app?name=")


class _SuppressingGroup:
    """Adds arguments with ``default=SUPPRESS`` so a sub-command does not reset global values."""

    def __init__(self, parser: argparse.ArgumentParser):
        self._parser = parser

    def add_argument_group(self, title: str):
        group = self._parser.add_argument_group(title)
        original = group.add_argument

        def add_argument(*names, **kwargs):
            kwargs["default"] = argparse.SUPPRESS
            kwargs["help"] = argparse.SUPPRESS
            return original(*names, **kwargs)

        group.add_argument = add_argument  # type: ignore[method-assign]
        return group


def context_from_args(args: argparse.Namespace) -> AppContext:
    return AppContext.resolve(
        settings_dir=args.settings_dir,
        user_settings=args.user_settings,
        revision_settings=args.revision_settings,
        revision=args.revision,
        os_name=args.os_name,
        arch=args.arch,
        install_path=args.install_path,
        server_url=args.server,
        app_id=args.app_id,
        app_name=args.app_name,
        slicer_version=args.slicer_version,
        slicer_home=args.slicer_home,
    )


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)] if rows else [len(h) for h in headers]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


# -- commands ---------------------------------------------------------------------------------


def cmd_info_context(args: argparse.Namespace) -> int:
    ctx = context_from_args(args)
    if args.json:
        print_json(ctx.to_dict())
        return EXIT_OK
    data = ctx.to_dict()
    origins = data.pop("origins")
    for key, value in data.items():
        origin = origins.get(key)
        print(f"{key:18} {value if value is not None else '-'}" + (f"   ({origin})" if origin else ""))
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from .manager import ExtensionsManager

    manager = ExtensionsManager(context_from_args(args))
    states = manager.installed_extensions()
    if args.json:
        print_json([s.to_json() for s in states])
        return EXIT_OK
    if not states:
        print(f"No extensions installed in {manager.context.install_path}.")
        return EXIT_OK
    rows = [
        [s.name, s.revision, "yes" if s.enabled else "no", "yes" if s.compatible else "no: " + "; ".join(s.reasons)]
        for s in states
    ]
    print(_table(rows, ["NAME", "REVISION", "ENABLED", "COMPATIBLE"]))
    return EXIT_OK


Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="slicer-ext-manager",
        description="Search, install, restore and manage 3D Slicer extensions.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_json(parser, top=True)
    _add_context_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, func: Command, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _add_json(p)
        _add_context_options(p, suppress=True)
        p.set_defaults(func=func)
        return p

    add("info-context", cmd_info_context, "print the resolved Slicer profile, build and server")
    add("list", cmd_list, "list installed extensions (name, revision, enabled, compatible)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or EXIT_OK)
    except ExtensionManagerError as exc:
        sys.stderr.write(f"slicer-ext-manager: {exc}\n")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        sys.stderr.write("slicer-ext-manager: interrupted.\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
