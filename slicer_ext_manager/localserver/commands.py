"""Command-line faces of the local server: ``serve``, ``mirror pull`` and ``demo``.

Each command is an ``add_<x>_arguments(parser)`` + ``cmd_<x>(args) -> int`` pair in
the style of :mod:`slicer_ext_manager.cli` (exit codes 0 success, 1 failure, 2 usage
error; ``--json`` prints machine-readable output on stdout). :func:`register` wires all
three into ``cli.build_parser`` through its ``add(name, func, help, skip=())`` helper.
The module also runs on its own: ``python -m slicer_ext_manager.localserver.commands serve DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from ..conventions import (
    DEFAULT_APP_ID,
    DEFAULT_APP_NAME,
    DEFAULT_SERVER_URL,
    OS_NAMES,
    SERVER_URL_ENV,
)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

SERVE_HELP = "serve a folder of extension packages as a read-only Slicer extensions server"
MIRROR_HELP = "copy a server's extension packages for one Slicer build into a folder (to serve it offline)"
DEMO_HELP = "open the extensions manager on a generated demo catalog and Slicer profile"


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _usage_error(message: str) -> int:
    sys.stderr.write(f"slicer-ext-manager: error: {message}\n")
    return EXIT_USAGE


def _add_json(parser: argparse.ArgumentParser) -> None:
    if "--json" not in parser._option_string_actions:  # cli's add() gives every command one already
        parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                            help="print machine-readable JSON on stdout")


# ------------------------------------------------------------------------------------------------
# serve


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """``serve DIR [--host H] [--port N] [--app-id ID] [--app-name NAME] [--state-dir DIR] [--strict-arch]``.

    ``--app-id``/``--app-name`` default to SUPPRESS so that the global options of
    ``cli.py`` given before the command count as well."""
    parser.add_argument("directory", metavar="DIR", help="folder of packages (searched recursively); "
                        "e.g. one made by 'slicer-ext-manager mirror pull'")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8080,
                        help="port to listen on (default: 8080; 0 picks a free port, printed at start)")
    parser.add_argument("--app-id", default=argparse.SUPPRESS,
                        help=f"application id to serve the packages under (default: {DEFAULT_APP_ID}, "
                             "the production Slicer id that unmodified Slicer builds use)")
    parser.add_argument("--app-name", default=argparse.SUPPRESS, metavar="NAME",
                        help="name of the served application, answered by GET /app (default: Slicer)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="where to keep the hash cache and download statistics "
                             "(default: DIR/.slicer-ext-manager-server)")
    parser.add_argument("--strict-arch", action="store_true",
                        help="reject arch=arm64 like the production server does")


def cmd_serve(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        return _usage_error(f"--port must be between 0 and 65535, not {args.port}.")
    app_id = getattr(args, "app_id", None) or DEFAULT_APP_ID
    return serve_command(args.directory, host=args.host, port=args.port, app_id=app_id,
                         app_name=getattr(args, "app_name", None) or DEFAULT_APP_NAME, state_dir=args.state_dir,
                         strict_arch=args.strict_arch)


def serve_command(
    directory: str | Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    app_id: str = DEFAULT_APP_ID,
    app_name: str = DEFAULT_APP_NAME,
    state_dir: str | Path | None = None,
    *,
    strict_arch: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``slicer-ext-manager serve DIR``: index, print a summary and how to point Slicer at it,
    then serve until Ctrl+C. Returns the process exit code."""
    from .server import PackageServer, startup_lines

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        server = PackageServer(directory, host=host, port=port, app_id=app_id, app_name=app_name,
                               state_dir=state_dir, strict_arch=strict_arch)
    except NotADirectoryError:
        err.write(f"slicer-ext-manager: cannot serve {directory}: it is not a folder; give the folder that holds "
                  "the packages (e.g. one made by 'slicer-ext-manager mirror pull').\n")
        return EXIT_USAGE
    except ValueError as exc:
        err.write(f"slicer-ext-manager: cannot serve {directory}: {exc}.\n")
        return EXIT_USAGE
    try:
        server.bind()
    except OSError as exc:
        err.write(f"slicer-ext-manager: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                  "choose another --port (0 picks a free one) or --host.\n")
        return EXIT_FAILURE
    for warning in server.index.warnings:
        err.write(f"slicer-ext-manager: warning: {warning}\n")
    out.write("".join(line + "\n" for line in startup_lines(server)))
    out.flush()
    server.serve_forever()
    out.write("Stopped.\n")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# mirror


def add_mirror_arguments(parser: argparse.ArgumentParser) -> None:
    """``mirror pull DEST --revision R --os O --arch A [--from URL] [--app-id ID | --app-name NAME]
    [--names N ...] [--json]``."""
    sub = parser.add_subparsers(dest="mirror_action", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    pull = sub.add_parser("pull", help="download the packages of one Slicer build into DEST (resumable)",
                          description="Download every extension package the server has for one Slicer build "
                                      "(or only --names and their dependencies) into DEST, with a sidecar "
                                      "<package>.json holding the server's metadata and a mirror.json manifest. "
                                      "A re-run only fetches what is missing or changed. "
                                      "Serve the result with 'slicer-ext-manager serve DEST'.")
    pull.add_argument("dest", metavar="DEST", help="destination folder (created if needed)")
    # default=SUPPRESS: the global --revision/--os/--arch/--app-id/--app-name of cli.py count too.
    pull.add_argument("--revision", default=argparse.SUPPRESS, help="Slicer revision, e.g. 33241 (required)")
    pull.add_argument("--os", dest="os_name", choices=OS_NAMES, default=argparse.SUPPRESS,
                      help="operating system of the Slicer build (required)")
    pull.add_argument("--arch", default=argparse.SUPPRESS, help="architecture: amd64, arm64… (required)")
    pull.add_argument("--from", dest="source_url", metavar="URL",
                      help=f"server to copy from (default: --server, ${SERVER_URL_ENV}, else {DEFAULT_SERVER_URL})")
    app = pull.add_mutually_exclusive_group()
    app.add_argument("--app-id", default=argparse.SUPPRESS, help="application id on that server "
                     f"(default: {DEFAULT_APP_ID}, production Slicer)")
    app.add_argument("--app-name", default=argparse.SUPPRESS,
                     help="application name on that server, looked up with GET /app?name=")
    pull.add_argument("--names", nargs="+", metavar="NAME",
                      help="only these extensions (their dependencies are pulled too)")
    pull.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    _add_json(pull)


class _MirrorProgressPrinter:
    """One line per package on stderr (and a byte count for big downloads on a TTY)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._open = False

    def __call__(self, event) -> None:
        from ..progress import human_size

        out = self.stream
        if event.phase == "listing":
            out.write("Listing the server's packages…\n")
        elif event.phase == "downloading" and self.tty:
            total = f"/{human_size(event.total)}" if event.total else ""
            out.write(f"\r[{event.index}/{event.count}] {event.name}: {human_size(event.done)}{total}\033[K")
            self._open = True
        elif event.phase == "done":
            if self._open:
                out.write("\r\033[K")
                self._open = False
            width = len(str(event.count))
            size = f" ({human_size(event.total)})" if event.status in ("downloaded", "present") else ""
            out.write(f"[{event.index:>{width}}/{event.count}] {event.status:<10} {event.name}{size}\n")
        out.flush()


def cmd_mirror(args: argparse.Namespace) -> int:
    from ..server import DEFAULT_TIMEOUT, SlicerPackagesClient
    from .mirror import pull_mirror
    from .mirrorreport import serve_hint

    if getattr(args, "mirror_action", "pull") != "pull":
        return _usage_error(f"unknown mirror action {args.mirror_action!r}; use 'mirror pull'.")
    missing = [opt for opt, dest in (("--revision", "revision"), ("--os", "os_name"), ("--arch", "arch"))
               if not getattr(args, dest, None)]
    if missing:
        return _usage_error(f"mirror pull needs {', '.join(missing)} (which Slicer build to copy).")
    source = (getattr(args, "source_url", None) or getattr(args, "server", None)
              or os.environ.get(SERVER_URL_ENV) or DEFAULT_SERVER_URL)
    timeout = getattr(args, "timeout", None)
    client = SlicerPackagesClient(
        source, getattr(args, "app_id", None) or DEFAULT_APP_ID,
        verify=not getattr(args, "insecure", None),
        token=getattr(args, "token", None) or os.environ.get("SLICER_EXT_MANAGER_TOKEN") or None,
        api_key=getattr(args, "api_key", None) or os.environ.get("SLICER_EXT_MANAGER_API_KEY") or None,
        timeout=(min(timeout, 10.0), timeout) if timeout else DEFAULT_TIMEOUT,
    )
    app_name = getattr(args, "app_name", None)
    if app_name and not getattr(args, "app_id", None):
        client.app_id = client.find_app_id(app_name)
    as_json = bool(getattr(args, "json", False))
    printer = None if (as_json or getattr(args, "quiet", False)) else _MirrorProgressPrinter()
    try:
        report = pull_mirror(client, args.dest, str(args.revision), args.os_name, args.arch,
                             names=args.names or None, progress=printer)
    except OSError as exc:
        sys.stderr.write(f"slicer-ext-manager: cannot write to {args.dest}: {exc.strerror or exc}.\n")
        return EXIT_FAILURE
    hint = serve_hint(report)
    if as_json:
        data = report.to_json()
        data["serve_command"] = hint[0].split(":  ", 1)[1]
        _print_json(data)
    else:
        for warning in report.warnings:
            sys.stderr.write(f"slicer-ext-manager: warning: {warning}\n")
        for item in report.failed:
            sys.stderr.write(f"slicer-ext-manager: {item.name}: {item.error}\n")
        n_ok = len(report.downloaded) + len(report.present)
        print(f"{report.dest}: {n_ok} package{'s' if n_ok != 1 else ''} for Slicer revision {report.revision} "
              f"({report.os}/{report.arch}) from {report.source_url}: {len(report.downloaded)} downloaded, "
              f"{len(report.present)} already present, {len(report.failed)} failed"
              + (" (cancelled)." if report.cancelled else "."))
        for line in hint:
            print(line)
    return EXIT_OK if report.ok else EXIT_FAILURE


# ------------------------------------------------------------------------------------------------
# demo


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """``demo [--screenshot FILE] [--workdir DIR] [--port N]``."""
    parser.add_argument("--screenshot", metavar="FILE",
                        help="render the dialog (Restore tab) to this PNG and exit, instead of opening it; "
                             "works without a display")
    parser.add_argument("--workdir", metavar="DIR",
                        help="where the generated demo catalog is cached (default: the user cache folder)")
    parser.add_argument("--port", type=int, default=0,
                        help="port of the demo's local server (default: 0 = a free port)")


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import has_display, prepare_demo

    screenshot = getattr(args, "screenshot", None)
    if not 0 <= args.port <= 65535:
        return _usage_error(f"--port must be between 0 and 65535, not {args.port}.")
    if screenshot:
        if not has_display():
            os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    elif not has_display():
        sys.stderr.write(
            "slicer-ext-manager: no display found (DISPLAY/WAYLAND_DISPLAY are not set), so the demo window "
            "cannot open. Render it to an image instead:\n"
            "  QT_QPA_PLATFORM=offscreen slicer-ext-manager demo --screenshot demo.png\n")
        return EXIT_FAILURE
    try:
        from ..ui import app as ui_app
    except ImportError as exc:
        sys.stderr.write(f"slicer-ext-manager: the dialog is not available in this installation ({exc}).\n")
        return EXIT_FAILURE
    as_json = bool(getattr(args, "json", False))
    try:
        env = prepare_demo(args.workdir, port=args.port)
    except OSError as exc:
        where = f" on port {args.port}" if args.port else ""
        sys.stderr.write(f"slicer-ext-manager: cannot prepare the demo{where}: {exc.strerror or exc}.\n")
        return EXIT_FAILURE
    with env:
        if screenshot:
            path = Path(ui_app.render_screenshot(env.manager, screenshot, tab="restore"))
            if as_json:
                _print_json({"screenshot": str(path), **env.describe()})
            else:
                print(path)
            return EXIT_OK
        if not as_json:
            print(f"Demo server: {env.server.url} ({env.extension_count} extensions, catalog in {env.catalog_dir})")
            print(f"Demo Slicer profile: {env.profile_dir} (Slicer revision {env.context.revision}, "
                  f"previous {env.previous_revision}); close the window to end the demo.")
        else:
            _print_json(env.describe())
        sys.stdout.flush()
        return int(ui_app.run_gui(env.manager, tab="restore") or 0)


# ------------------------------------------------------------------------------------------------
# wiring


Command = Callable[[argparse.Namespace], int]


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Wire ``serve``, ``mirror`` and ``demo`` into ``cli.build_parser`` with its
    ``add(name, func, help_text, skip=())`` helper."""
    add_serve_arguments(add("serve", cmd_serve, SERVE_HELP, skip=("--app-id", "--app-name")))
    add_mirror_arguments(add("mirror", cmd_mirror, MIRROR_HELP))
    add_demo_arguments(add("demo", cmd_demo, DEMO_HELP))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m slicer_ext_manager.localserver.commands``: the full ``slicer-ext-manager`` CLI."""
    from ..cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
