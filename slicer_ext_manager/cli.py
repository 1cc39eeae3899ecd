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


def _add_context_options(parser: argparse.ArgumentParser, *, suppress: bool = False,
                         skip: tuple[str, ...] = ()) -> None:
    """The profile/server options; on sub-commands they are optional repeats of the global ones
    (``skip`` leaves out options the sub-command uses with another meaning)."""
    if suppress:
        parser = _SuppressingGroup(parser, skip)  # type: ignore[assignment]
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
    s.add_argument("--insecure", action="store_true", default=None, help="do not verify the server's TLS certificate (prints a warning)")
    s.add_argument("--token", help="Girder token for a private server (default: $SLICER_EXT_MANAGER_TOKEN)")
    s.add_argument("--api-key", help="Girder API key for a private server (default: $SLICER_EXT_MANAGER_API_KEY)")
    s.add_argument("--timeout", type=float, help="network timeout in seconds (default: 10 to connect, 60 to read)")


class _SuppressingGroup:
    """Adds arguments with ``default=SUPPRESS`` so a sub-command does not reset global values."""

    def __init__(self, parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()):
        self._parser = parser
        self._skip = skip

    def add_argument_group(self, title: str):
        group = self._parser.add_argument_group(title)
        original = group.add_argument

        def add_argument(*names, **kwargs):
            if any(n in self._skip for n in names):
                return None
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


def manager_from_args(args: argparse.Namespace):
    """The core object every command works through."""
    import os

    from .manager import ExtensionsManager, ServerOptions
    from .server import DEFAULT_TIMEOUT

    timeout = getattr(args, "timeout", None)
    options = ServerOptions(
        verify=not getattr(args, "insecure", None),
        token=getattr(args, "token", None) or os.environ.get("SLICER_EXT_MANAGER_TOKEN") or None,
        api_key=getattr(args, "api_key", None) or os.environ.get("SLICER_EXT_MANAGER_API_KEY") or None,
        timeout=(min(timeout, 10.0), timeout) if timeout else DEFAULT_TIMEOUT,
    )
    if not options.verify:
        sys.stderr.write("slicer-ext-manager: warning: TLS certificate verification is disabled (--insecure).\n")
    return ExtensionsManager(context_from_args(args), options)


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
    manager = manager_from_args(args)
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


def _state_text(entry) -> str:
    if not entry.compatible:
        return "incompatible: " + "; ".join(entry.reasons)
    if entry.update_available:
        return f"update available ({entry.installed_revision} -> {entry.metadata.revision})"
    return "installed" if entry.installed else "not installed"


def _catalog_note(manager) -> None:
    catalog = manager.catalog_service.get()
    if catalog.offline_reason:
        sys.stderr.write(f"slicer-ext-manager: {catalog.status_text()}\n")
    elif catalog.is_empty:
        sys.stderr.write(f"slicer-ext-manager: {catalog.status_text()}\n")


def cmd_search(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    entries = manager.search(args.text or "", args.category, refresh=args.refresh)
    if args.json:
        print_json([e.to_json() for e in entries])
        _catalog_note(manager)
        return EXIT_OK
    _catalog_note(manager)
    if not entries:
        print("No extension matches." if not manager.catalog_service.get().is_empty else "")
        return EXIT_OK
    rows = [[e.name, e.metadata.revision, e.metadata.category, _state_text(e), e.metadata.short_description[:60]] for e in entries]
    print(_table(rows, ["NAME", "REVISION", "CATEGORY", "STATE", "DESCRIPTION"]))
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    entry = manager.extension_info(args.name)
    if args.json:
        print_json(entry.to_json())
        return EXIT_OK
    data = entry.to_json()
    data["state"] = _state_text(entry)
    for key in ("name", "state", "revision", "category", "description", "depends", "homepage", "contributors",
                "updated", "extension_id", "slicer_revision", "os", "arch", "scmurl", "sha512"):
        value = data.get(key)
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        print(f"{key:16} {value if value not in (None, '') else '-'}")
    return EXIT_OK


def cmd_releases(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    client = manager.client
    releases = client.releases()
    drafts = client.drafts() if args.drafts else []
    rows = [
        {"name": r.get("name"), "revision": (r.get("meta") or {}).get("revision"), "id": r.get("_id"),
         "draft": False, "created": r.get("created")}
        for r in releases
    ] + [
        {"name": d.get("name"), "revision": (d.get("meta") or {}).get("revision"), "id": d.get("_id"),
         "draft": True, "created": d.get("created")}
        for d in drafts
    ]
    if args.json:
        print_json(rows)
        return EXIT_OK
    print(_table([[r["name"], r["revision"] or "-", "draft" if r["draft"] else "release", r["id"]] for r in rows],
                 ["NAME", "REVISION", "KIND", "ID"]))
    return EXIT_OK


def _report(args: argparse.Namespace, report) -> int:
    """Print an OperationReport; exit 1 when anything failed."""
    if args.json:
        print_json(report.to_json())
    else:
        for warning in report.warnings:
            sys.stderr.write(f"slicer-ext-manager: warning: {warning}\n")
        for r in report.results:
            if not r.outcome.ok:
                sys.stderr.write(f"slicer-ext-manager: {r.message}\n")
        done = [r for r in report.results if r.outcome.ok]
        for r in done:
            print(r.message)
        if report.restart_required:
            print("Restart Slicer to use the changes.")
    return EXIT_OK if report.ok else EXIT_FAILURE


def _listener(args: argparse.Namespace):
    from .progress import ProgressPrinter

    return ProgressPrinter(sys.stderr)


def cmd_install(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    if args.file:
        if args.names:
            raise ExtensionManagerError("Give either extension names or --file archives, not both.")
        from pathlib import Path

        report = manager.install_files([Path(p) for p in args.file], force=args.force,
                                       with_dependencies=not args.no_deps, listener=_listener(args))
    else:
        if not args.names:
            raise ExtensionManagerError("Name at least one extension to install (or use --file ARCHIVE).")
        report = manager.install(args.names, with_dependencies=not args.no_deps, listener=_listener(args))
    return _report(args, report)


def cmd_uninstall(args: argparse.Namespace) -> int:
    return _report(args, manager_from_args(args).uninstall(args.names, schedule=args.schedule))


def cmd_update(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    if args.check:
        updates = manager.available_updates(refresh=True)
        wanted = [u for u in updates if not args.names or u.name in args.names]
        if args.json:
            print_json([{"name": u.name, "installed_revision": u.installed_revision,
                         "available_revision": u.metadata.revision, "extension_id": u.metadata.extension_id}
                        for u in wanted])
        elif not wanted:
            print("All installed extensions are up to date.")
        else:
            print(_table([[u.name, u.installed_revision, u.metadata.revision] for u in wanted],
                         ["NAME", "INSTALLED", "AVAILABLE"]))
        return EXIT_OK
    report = manager.update(args.names or None, schedule=args.schedule, listener=_listener(args))
    return _report(args, report)


def cmd_apply_scheduled(args: argparse.Namespace) -> int:
    return _report(args, manager_from_args(args).apply_scheduled())


def cmd_enable(args: argparse.Namespace, enabled: bool = True) -> int:
    manager = manager_from_args(args)
    changed = manager.set_enabled(args.name, enabled)
    state = "enabled" if enabled else "disabled"
    if args.json:
        print_json({"name": args.name, "enabled": enabled, "changed": changed, "restart_required": changed})
    else:
        print(f"{args.name} is {state}" + ("; restart Slicer to use the change." if changed else " already."))
    return EXIT_OK


def cmd_disable(args: argparse.Namespace) -> int:
    return cmd_enable(args, enabled=False)


def cmd_bookmark(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    history = manager.history
    if args.action == "list":
        names = history.bookmarks()
        installed = set(manager.registry.names())
        if args.json:
            print_json([{"name": n, "installed": n in installed} for n in names])
        else:
            for n in names:
                print(f"{n}{'' if n in installed else '   (not installed)'}")
        return EXIT_OK
    if not args.names:
        raise ExtensionManagerError(f"Name at least one extension to {args.action} a bookmark for.")
    changed = [n for n in args.names if history.set_bookmarked(n, args.action == "add")]
    if args.json:
        print_json({"bookmarks": history.bookmarks(), "changed": changed})
    else:
        print("Bookmarks: " + (", ".join(history.bookmarks()) or "none"))
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    if args.check or (not args.yes and not args.names):
        plan = manager.restore_plan(refresh=args.refresh)
        if args.json:
            print_json(plan.to_json())
            return EXIT_OK
        if plan.catalog_note:
            sys.stderr.write(f"slicer-ext-manager: {plan.catalog_note}\n")
        if not plan.candidates:
            print("The extensions history and bookmarks hold no extension of another Slicer revision.")
            return EXIT_OK
        rows = [["[x]" if c.selected else "[ ]", c.name, c.state_text(plan.previous_revision)] for c in plan.candidates]
        print(_table(rows, ["", "NAME", "STATE"]))
        n = len(plan.selected)
        print(f"\n{n} extension{'s' if n != 1 else ''} preselected." + (
            " Install them with: slicer-ext-manager restore --yes" if n else " Nothing left to restore."))
        if not args.check and not args.yes:
            return EXIT_OK
        return EXIT_OK
    report = manager.restore(args.names or None, listener=_listener(args))
    if not report.results and not args.json:
        print("Nothing to restore.")
        return EXIT_OK
    return _report(args, report)


def cmd_startup_check(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    install = True if args.install else (False if args.no_install else None)
    result = manager.startup_check(install=install, timeout=args.timeout or 5.0, listener=_listener(args))
    if args.json:
        print_json(result.to_json())
    else:
        print(result.message)
        for c in result.candidates:
            print(f"  {c.name}")
        if result.restart_required:
            print("Restart Slicer to use the restored extensions.")
    report = result.report
    return EXIT_OK if report is None or report.ok else EXIT_FAILURE


def cmd_history(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    history = manager.history
    if args.action == "remove":
        if not args.name:
            raise ExtensionManagerError("Name the extension to remove from the history.")
        changed = history.remove(args.name, getattr(args, "history_revision", None))
        if args.json:
            print_json({"name": args.name, "revisions": changed})
        elif changed:
            print(f"Removed {args.name} from the history of revision{'s' if len(changed) > 1 else ''} {', '.join(changed)}.")
        else:
            print(f"{args.name} was not in the history.")
        return EXIT_OK
    if args.action == "to-bookmarks":
        added = history.to_bookmarks()
        if args.json:
            print_json({"added": added, "bookmarks": history.bookmarks()})
        else:
            print(f"Bookmarked {len(added)} extension{'s' if len(added) != 1 else ''}" + (f": {', '.join(added)}." if added else "."))
        return EXIT_OK
    revisions = history.revisions()
    if args.json:
        print_json({"revisions": revisions, "scheduled_for_removal": history.scheduled_for_removal(),
                    "bookmarks": history.bookmarks(), "current_revision": manager.context.revision})
        return EXIT_OK
    if not revisions:
        print("No extensions history in " + str(manager.context.user_settings_path) + ".")
    for rev, names in revisions.items():
        mark = " (this Slicer)" if rev == manager.context.revision else ""
        print(f"{rev}{mark}: {', '.join(names) or '-'}")
    return EXIT_OK


def cmd_profile(args: argparse.Namespace) -> int:
    from pathlib import Path

    manager = manager_from_args(args)
    if args.action == "export":
        profile = manager.export_profile(Path(args.file))
        if args.json:
            print_json(profile.to_json())
        else:
            print(f"Wrote {len(profile.extensions)} extensions to {args.file}.")
        return EXIT_OK
    if not args.yes:
        _, items = manager.plan_profile_import(Path(args.file))
        if args.json:
            print_json({"items": [i.to_json() for i in items]})
        else:
            print(_table([[i.name, i.wanted_revision, i.available_revision or "-", i.status] for i in items],
                         ["NAME", "PROFILE REVISION", "AVAILABLE", "STATUS"]))
            print("Install with: slicer-ext-manager profile import FILE --yes")
        return EXIT_OK
    items, report = manager.import_profile(Path(args.file), listener=_listener(args))
    if args.json:
        data = report.to_json()
        data["items"] = [i.to_json() for i in items]
        print_json(data)
        return EXIT_OK if report.ok else EXIT_FAILURE
    for i in items:
        if i.status == "unavailable":
            sys.stderr.write(f"slicer-ext-manager: {i.name} is not available for this Slicer build.\n")
        elif i.status == "different-revision":
            sys.stderr.write(f"slicer-ext-manager: {i.name}: the profile has revision {i.wanted_revision}, "
                             f"this Slicer gets {i.available_revision}.\n")
    return _report(args, report)


def cmd_gui(args: argparse.Namespace) -> int:
    from .ui.app import cmd_gui as run

    return run(args, manager_from_args(args))


Command = Callable[[argparse.Namespace], int]


def _add_gui_arguments(parser: argparse.ArgumentParser) -> None:
    # Kept here (not imported from ui/) so --help never loads Qt widgets.
    parser.add_argument("--tab", choices=("search", "install", "restore", "installed"), default=None,
                        help="tab to show first (default: search)")
    parser.add_argument("--startup-check", action="store_true",
                        help="first offer to restore the extensions of the previous Slicer version, as at startup")
    parser.add_argument("--slicer-executable", metavar="PATH", default=None,
                        help="Slicer to start when the user chooses to restart (otherwise the dialog explains how)")


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

    def add(name: str, func: Command, help_text: str, skip: tuple[str, ...] = ()) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text,
                           epilog="The global options (see slicer-ext-manager --help) may also be given after the command.")
        _add_json(p)
        _add_context_options(p, suppress=True, skip=skip)
        p.set_defaults(func=func)
        return p

    add("info-context", cmd_info_context, "print the resolved Slicer profile, build and server")
    add("list", cmd_list, "list installed extensions (name, revision, enabled, compatible)")
    p = add("search", cmd_search, "search the server's catalog of extensions compatible with this Slicer build")
    p.add_argument("text", nargs="?", default="", help="text to find in name, description, category or keywords")
    p.add_argument("--category", help="only this category (e.g. Segmentation)")
    p.add_argument("--refresh", action="store_true", help="ask the server even if the cached catalog is fresh")
    p = add("info", cmd_info, "show one extension of the catalog (by name or extension id)")
    p.add_argument("name", help="extension name or id")
    p = add("install", cmd_install, "install extensions (and their dependencies) from the server, or archives with --file")
    p.add_argument("names", nargs="*", metavar="NAME", help="extension names")
    p.add_argument("--file", nargs="+", metavar="ARCHIVE", help="install these .tar.gz/.tgz/.zip packages instead")
    p.add_argument("--no-deps", action="store_true", help="do not install dependencies")
    p.add_argument("--force", action="store_true", help="with --file: install a package built for another Slicer revision/os/arch")
    p = add("uninstall", cmd_uninstall, "uninstall extensions")
    p.add_argument("names", nargs="+", metavar="NAME")
    p.add_argument("--schedule", action="store_true", help="uninstall at Slicer's next start (for a running Slicer): module paths are removed now")
    p = add("update", cmd_update, "update installed extensions whose server revision differs")
    p.add_argument("names", nargs="*", metavar="NAME", help="only these (default: all)")
    p.add_argument("--check", action="store_true", help="only list available updates")
    p.add_argument("--schedule", action="store_true", help="download updates into .updates/ and apply them at Slicer's next start")
    add("apply-scheduled", cmd_apply_scheduled, "carry out scheduled updates and uninstalls, as Slicer does at startup")
    p = add("enable", cmd_enable, "enable an installed extension (takes effect after restart)")
    p.add_argument("name")
    p = add("disable", cmd_disable, "disable an installed extension (takes effect after restart)")
    p.add_argument("name")
    p = add("bookmark", cmd_bookmark, "list, add or remove bookmarks (Extensions/Bookmarked, shared by all Slicer versions)")
    p.add_argument("action", choices=("add", "remove", "list"))
    p.add_argument("names", nargs="*", metavar="NAME")
    p = add("restore", cmd_restore, "restore the extensions of previous Slicer versions (history and bookmarks)")
    p.add_argument("names", nargs="*", metavar="NAME", help="restore only these")
    p.add_argument("--check", action="store_true", help="only print the plan (default without --yes or names)")
    p.add_argument("--yes", action="store_true", help="install the preselected extensions")
    p.add_argument("--refresh", action="store_true", help="ask the server even if the cached catalog is fresh")
    p = add("startup-check", cmd_startup_check, "the startup restore check (honours ExtensionCheckOnStartup/*), cheap enough for every start")
    p.add_argument("--install", action="store_true", help="install the candidates whatever the setting says")
    p.add_argument("--no-install", action="store_true", help="only report the candidates")
    p = add("history", cmd_history, "show or edit the extensions history ([ExtensionsHistory] in Slicer.ini)",
            skip=("--revision",))
    p.add_argument("action", nargs="?", choices=("show", "remove", "to-bookmarks"), default="show")
    p.add_argument("name", nargs="?", help="with remove: the extension name")
    p.add_argument("--revision", dest="history_revision", metavar="R",
                   help="with remove: only from this revision's entry (default: all); give the Slicer revision before the command")
    p = add("profile", cmd_profile, "export or import the set of installed extensions")
    p.add_argument("action", choices=("export", "import"))
    p.add_argument("file", metavar="FILE")
    p.add_argument("--yes", action="store_true", help="with import: install what the profile lists")
    p = add("gui", cmd_gui, "open the Extensions Manager dialog (Search, Install, Restore, Installed)")
    _add_gui_arguments(p)
    from .localserver import commands as localserver_commands

    localserver_commands.register(add)
    p = add("releases", cmd_releases, "list the application's releases on the server")
    p.add_argument("--drafts", action="store_true", help="also list draft (nightly) revisions")
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
