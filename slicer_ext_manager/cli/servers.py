"""The server-side commands: ``serve`` (a folder as a read-only Slicer extensions server and
catalog), ``mirror pull`` / ``mirror push`` (copy a server's packages into a folder, and a
folder into a real Slicer Package Manager server) and ``demo``.

Each is ``cmd_<x>(args) -> exit code`` on the CLI's plumbing (:mod:`.common`); the work is
done by :mod:`slicer_ext_manager.localserver`. The mirror commands' printing lives in
:mod:`.mirror_commands`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Sequence, TextIO

from ..conventions import DEFAULT_APP_ID, DEFAULT_APP_NAME
from .common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, port_number, print_json, say
from .mirror_commands import MIRROR_HELP, add_mirror_arguments, cmd_mirror

__all__ = ["add_demo_arguments", "add_serve_arguments", "cmd_demo", "cmd_mirror", "cmd_serve", "register",
           "serve_command"]

SERVE_HELP = "serve a folder of extension packages as a read-only Slicer extensions server and catalog"
DEMO_HELP = "open the extensions manager on a generated demo catalog and Slicer profile"


# ------------------------------------------------------------------------------------------------
# serve


def release_mapping(text: str) -> tuple[str, str]:
    """``NAME=REVISION`` of ``--release``."""
    name, sep, revision = text.partition("=")
    name, revision = name.strip(), revision.strip()
    if not sep or not name or not revision.isdigit() or name.lower() == "draft":
        raise argparse.ArgumentTypeError(f"{text!r}: give a release name and its Slicer revision, e.g. 5.8.1=33241")
    return name, revision


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """``serve DIR [--host H] [--port N] [--app-id ID] [--app-name NAME] [--state-dir DIR] [--strict-arch]
    [--release NAME=REV]... [--users FILE | --any-login] [--allow-hardlinks] [--threads N] [--watch-interval S]``.

    ``--app-id``/``--app-name`` default to SUPPRESS so that the global options given before
    the command count as well."""
    parser.add_argument("directory", metavar="DIR", help="folder of packages (searched recursively); "
                        "e.g. one made by 'slicer-ext-manager mirror pull'")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1; 0.0.0.0 serves the network)")
    parser.add_argument("--port", type=port_number, default=8080,
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
    parser.add_argument("--release", dest="releases", action="append", type=release_mapping, default=[],
                        metavar="NAME=REVISION",
                        help="serve the packages of Slicer REVISION in the release NAME, as the real server "
                             "does (repeatable), e.g. --release 5.8.1=33241; also gives application packages "
                             "of version NAME their revision")
    logins = parser.add_mutually_exclusive_group()
    logins.add_argument("--users", metavar="FILE",
                        help="let clients log in (slicer_package_manager_client --username/--password or "
                             "--api-key) with the 'login:password' (or 'apikey:KEY') lines of FILE; "
                             "tokens are read-only")
    logins.add_argument("--any-login", action="store_true",
                        help="accept every login and API key, with read-only tokens")
    parser.add_argument("--allow-hardlinks", action="store_true",
                        help="also serve files that have several hard links (refused by default: a hard link "
                             "can be a file outside DIR)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="connections served at once (default: 128; more wait in the listen queue)")
    parser.add_argument("--watch-interval", type=float, default=2.0, metavar="SECONDS",
                        help="look for added or changed packages this often (default: 2; 0: only on SIGHUP)")


def cmd_serve(args: argparse.Namespace) -> int:
    if args.threads is not None and args.threads < 1:
        return _usage(f"--threads must be at least 1, not {args.threads}.")
    if args.watch_interval < 0:
        return _usage(f"--watch-interval must be 0 or more seconds, not {args.watch_interval:g}.")
    return serve_command(args.directory, host=args.host, port=args.port,
                         app_id=getattr(args, "app_id", None) or DEFAULT_APP_ID,
                         app_name=getattr(args, "app_name", None) or DEFAULT_APP_NAME, state_dir=args.state_dir,
                         strict_arch=args.strict_arch, releases=dict(args.releases), users_file=args.users,
                         any_login=args.any_login, allow_hardlinks=args.allow_hardlinks,
                         threads=args.threads, watch_interval=args.watch_interval)


def _usage(message: str) -> int:
    say(f"error: {message}")
    return EXIT_USAGE


def _logins(users_file: str | None, any_login: bool, err: TextIO):
    from ..localserver.auth import Logins

    if any_login:
        return Logins(any_login=True)
    if not users_file:
        return Logins()
    logins = Logins.from_file(users_file)
    if os.name == "posix" and os.stat(users_file).st_mode & 0o077:
        err.write(f"slicer-ext-manager: warning: {users_file} can be read by other users; "
                  f"make it private (chmod 600 {users_file}).\n")
    return logins


def serve_command(
    directory: str | Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    app_id: str = DEFAULT_APP_ID,
    app_name: str = DEFAULT_APP_NAME,
    state_dir: str | Path | None = None,
    *,
    strict_arch: bool = False,
    releases: dict[str, str] | None = None,
    users_file: str | None = None,
    any_login: bool = False,
    allow_hardlinks: bool = False,
    threads: int | None = None,
    watch_interval: float = 2.0,
    out: TextIO | None = None,
    err: TextIO | None = None,
    ready: Callable[[object], None] | None = None,
) -> int:
    """``slicer-ext-manager serve DIR``: index, print a summary and how to point Slicer at it,
    then serve until Ctrl+C (SIGHUP rescans). ``ready(server)`` is called once listening
    (tests stop it from there). Returns the process exit code."""
    from ..localserver.handler import DEFAULT_WORKERS
    from ..localserver.server import PackageServer, network_warning, startup_lines

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        logins = _logins(users_file, any_login, err)
    except (OSError, ValueError) as exc:
        err.write(f"slicer-ext-manager: cannot read the users file {users_file}: "
                  f"{getattr(exc, 'strerror', None) or exc}; give a file of 'login:password' lines.\n")
        return EXIT_USAGE
    output = _ServeOutput(out, err)
    try:
        server = PackageServer(directory, host=host, port=port, app_id=app_id, app_name=app_name,
                               state_dir=state_dir, strict_arch=strict_arch, releases=releases, logins=logins,
                               allow_hardlinks=allow_hardlinks, workers=threads or DEFAULT_WORKERS,
                               watch_interval=watch_interval, on_rescan=output.rescanned)
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
    output.warnings(server.index)
    warning = network_warning(server)
    if warning:
        err.write(f"slicer-ext-manager: warning: {warning}\n")
    out.write("".join(line + "\n" for line in startup_lines(server)))
    out.flush()
    previous = _install_sighup(server.request_rescan)
    try:
        if ready is not None:
            ready(server)
        server.serve_forever()
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGHUP, previous)
    out.write("Stopped.\n")
    return EXIT_OK


class _ServeOutput:
    """What ``serve`` prints while running: each index warning once, a line per rescan."""

    def __init__(self, out: TextIO, err: TextIO):
        self.out, self.err = out, err
        self.shown: set[str] = set()

    def warnings(self, index) -> None:
        for warning in index.warnings:
            if warning not in self.shown:
                self.shown.add(warning)
                self.err.write(f"slicer-ext-manager: warning: {warning}\n")

    def rescanned(self, index) -> None:
        from ..localserver.server import summary_lines

        self.warnings(index)
        self.out.write("Rescanned: " + summary_lines(index)[0] + "\n")
        self.out.flush()


def _install_sighup(callback: Callable[[], None]):
    """``callback`` on SIGHUP (POSIX, main thread); returns the previous handler (None if not installed)."""
    import signal

    if not hasattr(signal, "SIGHUP"):
        return None
    try:
        return signal.signal(signal.SIGHUP, lambda signum, frame: callback())
    except ValueError:  # not the main thread
        return None


# ------------------------------------------------------------------------------------------------
# demo


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """``demo [--screenshot FILE] [--workdir DIR] [--port N]``."""
    parser.add_argument("--screenshot", metavar="FILE",
                        help="render the dialog (Restore tab) to this PNG and exit, instead of opening it; "
                             "works without a display")
    parser.add_argument("--workdir", metavar="DIR",
                        help="where the generated demo catalog is cached (default: the user cache folder)")
    parser.add_argument("--port", type=port_number, default=0,
                        help="port of the demo's local server (default: 0 = a free port)")


def cmd_demo(args: argparse.Namespace) -> int:
    from ..localserver.demo import has_display, prepare_demo

    screenshot = getattr(args, "screenshot", None)
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
        say(f"the dialog is not available in this installation ({exc}).")
        return EXIT_FAILURE
    as_json = bool(getattr(args, "json", False))
    try:
        env = prepare_demo(args.workdir, port=args.port)
    except OSError as exc:
        where = f" on port {args.port}" if args.port else ""
        say(f"cannot prepare the demo{where}: {exc.strerror or exc}.")
        return EXIT_FAILURE
    with env:
        if screenshot:
            path = Path(ui_app.render_screenshot(env.manager, screenshot, tab="restore"))
            if as_json:
                print_json({"screenshot": str(path), **env.describe()})
            else:
                print(path)
            return EXIT_OK
        if not as_json:
            print(f"Demo server: {env.server.url} ({env.extension_count} extensions, catalog in {env.catalog_dir})")
            print(f"Demo Slicer profile: {env.profile_dir} (Slicer revision {env.context.revision}, "
                  f"previous {env.previous_revision}); close the window to end the demo.")
            for line in env.update_hint():
                print(line)
        else:
            print_json(env.describe())
        sys.stdout.flush()
        return int(ui_app.run_gui(env.manager, tab="restore") or 0)


# ------------------------------------------------------------------------------------------------
# wiring


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Wire ``serve``, ``mirror`` and ``demo`` into the parser with its ``add(name, func, help, skip=())``."""
    add_serve_arguments(add("serve", cmd_serve, SERVE_HELP, skip=("--app-id", "--app-name")))
    add_mirror_arguments(add("mirror", cmd_mirror, MIRROR_HELP))
    add_demo_arguments(add("demo", cmd_demo, DEMO_HELP))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m slicer_ext_manager.cli.servers``: the full ``slicer-ext-manager`` CLI."""
    from . import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

