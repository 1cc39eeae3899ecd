"""``mirror pull`` and ``mirror push``: their options, progress lines and summaries
(registered by :mod:`.servers`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..conventions import DEFAULT_APP_ID, DEFAULT_APP_NAME, DEFAULT_SERVER_URL, OS_NAMES, SERVER_URL_ENV
from .common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, add_json, plural, print_json, say, server_options_from_args, warn

MIRROR_HELP = ("copy a server's extension packages for one Slicer build into a folder (to serve it offline), "
               "or push such a folder into a Slicer Package Manager server")


def add_mirror_arguments(parser: argparse.ArgumentParser) -> None:
    """``mirror pull DEST --revision R --os O --arch A [--from URL] [--app-id ID | --app-name NAME]
    [--names N ...] [--allow-empty] [--with-slicer [--stability S]] [--json]`` and
    ``mirror push DIR --server URL (--api-key K | --token T) [--app-name NAME | --app-id ID] [--release NAME]``."""
    sub = parser.add_subparsers(dest="mirror_action", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    _add_pull(sub)
    _add_push(sub)


def _add_pull(sub: Any) -> None:
    pull = sub.add_parser("pull", help="download the packages of one Slicer build into DEST (resumable)",
                          description="Download every extension package the server has for one Slicer build "
                                      "(or only --names and their dependencies) into DEST, with a sidecar "
                                      "<package>.json holding the server's metadata and a mirror.json manifest. "
                                      "A re-run only fetches what is missing or changed. "
                                      "Serve the result with 'slicer-ext-manager serve DEST'.")
    pull.add_argument("dest", metavar="DEST", help="destination folder (created if needed)")
    # default=SUPPRESS: the global --revision/--os/--arch/--app-id/--app-name count too.
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
    pull.add_argument("--allow-empty", action="store_true",
                      help="accept a server that has no extension for the build (by default an error)")
    pull.add_argument("--with-slicer", action="store_true",
                      help="also copy the newest Slicer application package for the os/arch")
    pull.add_argument("--stability", choices=("release", "nightly"), default="release",
                      help="with --with-slicer: the newest release (default) or nightly package")
    pull.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_json(pull)


def _add_push(sub: Any) -> None:
    push = sub.add_parser("push", help="upload a mirror folder into a Slicer Package Manager server (resumable)",
                          description="Upload every package of DIR (a 'mirror pull' folder, or any folder "
                                      "'serve' can serve) into a real Slicer Package Manager server with the "
                                      "metadata its own upload sets: creates the application and release "
                                      "folders if needed, skips what the server already has, resumes "
                                      "interrupted uploads. See docs/site-deployment.md.")
    push.add_argument("directory", metavar="DIR", help="the mirror folder")
    push.add_argument("--server", default=argparse.SUPPRESS, metavar="URL", help="the server (required)")
    push.add_argument("--api-key", default=argparse.SUPPRESS, help="Girder API key of an account that may upload")
    push.add_argument("--token", default=argparse.SUPPRESS, help="Girder token of an account that may upload")
    app = push.add_mutually_exclusive_group()
    app.add_argument("--app-name", default=argparse.SUPPRESS, metavar="NAME",
                     help=f"application to push into, created if missing (default: {DEFAULT_APP_NAME})")
    app.add_argument("--app-id", default=argparse.SUPPRESS, metavar="ID",
                     help=f"push into this existing application (e.g. {DEFAULT_APP_ID}, the id Slicer asks for)")
    push.add_argument("--release", metavar="NAME", help="file the mirror's revision under this release "
                      "(created if needed), e.g. 5.8.1")
    push.add_argument("--chunk-size", type=int, default=None, metavar="BYTES",
                      help="bytes per upload chunk (default: 16 MiB; at least 5 MiB, Girder's minimum)")
    push.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_json(push)


class _ProgressPrinter:
    """One line per package on stderr (and a byte count for big transfers on a TTY)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._open = False

    def __call__(self, event) -> None:
        from ..progress import human_size

        out = self.stream
        if event.phase == "listing":
            out.write("Listing the server's packages…\n")
        elif event.phase in ("downloading", "uploading") and self.tty:
            total = f"/{human_size(event.total)}" if event.total else ""
            out.write(f"\r[{event.index}/{event.count}] {event.name}: {human_size(event.done)}{total}\033[K")
            self._open = True
        elif event.phase == "done":
            if self._open:
                out.write("\r\033[K")
                self._open = False
            width = len(str(event.count))
            size = f" ({human_size(event.total)})" if event.total and event.status != "failed" else ""
            out.write(f"[{event.index:>{width}}/{event.count}] {event.status:<10} {event.name}{size}\n")
        out.flush()


def cmd_mirror(args: argparse.Namespace) -> int:
    action = getattr(args, "mirror_action", "pull")
    if action == "push":
        return cmd_mirror_push(args)
    return cmd_mirror_pull(args)


def cmd_mirror_pull(args: argparse.Namespace) -> int:
    from ..localserver.mirror import pull_mirror
    from ..localserver.mirrorreport import serve_hint
    from ..server import make_client

    missing = [opt for opt, dest in (("--revision", "revision"), ("--os", "os_name"), ("--arch", "arch"))
               if not getattr(args, dest, None)]
    if missing:
        say(f"error: mirror pull needs {', '.join(missing)} (which Slicer build to copy).")
        return EXIT_USAGE
    source = (getattr(args, "source_url", None) or getattr(args, "server", None)
              or os.environ.get(SERVER_URL_ENV) or DEFAULT_SERVER_URL)
    client = make_client(server_options_from_args(args, url=source,
                                                  app_id=getattr(args, "app_id", None) or DEFAULT_APP_ID))
    app_name = getattr(args, "app_name", None)
    if app_name and not getattr(args, "app_id", None):
        client.app_id = client.find_app_id(app_name)
    as_json = bool(getattr(args, "json", False))
    printer = None if (as_json or args.quiet) else _ProgressPrinter()
    try:
        report = pull_mirror(client, args.dest, str(args.revision), args.os_name, args.arch,
                             names=args.names or None, progress=printer, allow_empty=args.allow_empty,
                             with_slicer=args.with_slicer, stability=args.stability)
    except OSError as exc:
        say(f"cannot write to {args.dest}: {exc.strerror or exc}.")
        return EXIT_FAILURE
    hint = serve_hint(report)
    if as_json:
        data = report.to_json()
        data["serve_command"] = hint[0].split(":  ", 1)[1]
        print_json(data)
        return EXIT_OK if report.ok else EXIT_FAILURE
    for warning in report.warnings:
        warn(warning)
    for item in report.failed:
        say(f"{item.name}: {item.error}")
    if report.empty_error:
        say(report.empty_error)
        return EXIT_FAILURE
    n_ok = len(report.downloaded) + len(report.present)
    print(f"{report.dest}: {plural(n_ok, 'package')} for Slicer revision {report.revision} "
          f"({report.os}/{report.arch}) from {report.source_url}: {len(report.downloaded)} downloaded, "
          f"{len(report.present)} already present, {len(report.failed)} failed"
          + (" (cancelled)." if report.cancelled else "."))
    for line in hint:
        print(line)
    return EXIT_OK if report.ok else EXIT_FAILURE


def cmd_mirror_push(args: argparse.Namespace) -> int:
    from ..localserver.push import APP_ID_NOTE, DEFAULT_CHUNK_SIZE, push_mirror
    from ..server import make_client

    server = getattr(args, "server", None)
    if not server:
        say("error: mirror push needs --server URL (the Slicer Package Manager server to upload to).")
        return EXIT_USAGE
    if not (getattr(args, "api_key", None) or getattr(args, "token", None)
            or os.environ.get("SLICER_EXT_MANAGER_API_KEY") or os.environ.get("SLICER_EXT_MANAGER_TOKEN")):
        say("error: mirror push needs --api-key KEY or --token TOKEN of an account that may upload.")
        return EXIT_USAGE
    if not os.path.isdir(args.directory):
        say(f"error: {args.directory} is not a folder; give a folder made by 'slicer-ext-manager mirror pull'.")
        return EXIT_USAGE
    app_id = getattr(args, "app_id", None)
    client = make_client(server_options_from_args(args, url=server, app_id=app_id or DEFAULT_APP_ID))
    as_json = bool(getattr(args, "json", False))
    report = push_mirror(client, args.directory, app_name=getattr(args, "app_name", None) or DEFAULT_APP_NAME,
                         app_id=app_id, release=args.release,
                         progress=None if (as_json or args.quiet) else _ProgressPrinter(),
                         chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE)
    if as_json:
        print_json(report.to_json())
        return EXIT_OK if report.ok else EXIT_FAILURE
    for warning in report.warnings:
        warn(warning)
    for item in report.with_status("failed", "cancelled"):
        say(f"{item.name}: {item.error}")
    created = " (created)" if report.app_created else ""
    print(f"Pushed {report.source} to {report.server_url}, application {report.app_name!r} ({report.app_id}){created}: "
          f"{len(report.with_status('uploaded'))} uploaded, {len(report.with_status('replaced'))} replaced, "
          f"{len(report.with_status('present'))} already present, "
          f"{len(report.with_status('failed', 'cancelled'))} failed.")
    if report.releases_created:
        print(f"Created the release{'s' if len(report.releases_created) > 1 else ''} "
              f"{', '.join(report.releases_created)}.")
    if report.slicer_can_use:
        print(f"Slicers find it with Extensions/ServerUrl={report.server_url}.")
    else:
        print(f"Note: {APP_ID_NOTE}")
    return EXIT_OK if report.ok else EXIT_FAILURE
