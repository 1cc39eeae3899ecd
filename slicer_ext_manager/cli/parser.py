"""The ``slicer-ext-manager`` command line: every command and its options."""

from __future__ import annotations

import argparse
from typing import Any, Optional

from .. import __version__
from . import extensions as ext
from .common import CliParser, Command, ProbeFailed, add_context_options, add_json, names_argument, probing

EPILOG = "The global options (see slicer-ext-manager --help) may also be given after the command."


def _add_gui_arguments(parser: argparse.ArgumentParser) -> None:
    # Kept here (not in ui/) so --help never loads Qt widgets.
    parser.add_argument("--tab", choices=("search", "install", "restore", "installed"), default=None,
                        help="tab to show first (default: search)")
    parser.add_argument("--startup-check", action="store_true",
                        help="first offer to restore the extensions of the previous Slicer version, as at startup")
    parser.add_argument("--slicer-executable", metavar="PATH", default=None,
                        help="Slicer to start when the user chooses to restart (otherwise the dialog explains how)")


def _extension_commands(add) -> None:
    add("info-context", ext.cmd_info_context, "print the resolved Slicer profile, build and server")
    add("list", ext.cmd_list, "list installed extensions (name, revision, enabled, compatible)")
    p = add("search", ext.cmd_search, "search the server's catalog of extensions compatible with this Slicer build")
    p.add_argument("text", nargs="?", default="", help="words to find in name, description, category or keywords")
    p.add_argument("--category", help="only this category (e.g. Segmentation)")
    p.add_argument("--refresh", action="store_true", help="ask the server even if the cached catalog is fresh")
    p = add("info", ext.cmd_info, "show one extension of the catalog (by name or extension id)")
    p.add_argument("name", help="extension name or id")
    p = add("install", ext.cmd_install,
            "install extensions (and their dependencies) from the server, or archives with --file")
    names_argument(p, required=False)
    p.add_argument("--file", nargs="+", metavar="ARCHIVE", help="install these package files instead")
    p.add_argument("--no-deps", action="store_true", help="do not install dependencies")
    p.add_argument("--force", action="store_true",
                   help="with --file: install a package built for another Slicer revision/os/arch")
    p = add("uninstall", ext.cmd_uninstall, "uninstall extensions")
    names_argument(p, required=True)
    p.add_argument("--schedule", action="store_true",
                   help="uninstall at Slicer's next start (for a running Slicer): module paths are removed now")
    p = add("update", ext.cmd_update, "update installed extensions whose server revision differs")
    names_argument(p, required=False, help_text="only these (default: all)")
    p.add_argument("--check", action="store_true", help="only list available updates")
    p.add_argument("--schedule", action="store_true",
                   help="download updates into .updates/ and apply them at Slicer's next start")
    add("apply-scheduled", ext.cmd_apply_scheduled,
        "carry out scheduled updates and uninstalls, as Slicer does at startup")
    for name, func, verb in (("enable", ext.cmd_enable, "enable"), ("disable", ext.cmd_disable, "disable")):
        add(name, func, f"{verb} an installed extension (takes effect after restart)").add_argument("name")
    p = add("bookmark", ext.cmd_bookmark,
            "list, add or remove bookmarks (Extensions/Bookmarked, shared by all Slicer versions)")
    p.add_argument("action", choices=("add", "remove", "list"))
    names_argument(p, required=False)


def _restore_commands(add) -> None:
    p = add("restore", ext.cmd_restore, "restore the extensions of previous Slicer versions (history and bookmarks)")
    names_argument(p, required=False, help_text="restore only these")
    p.add_argument("--check", action="store_true", help="only print the plan (default without --yes or names)")
    p.add_argument("--yes", action="store_true", help="install the preselected extensions")
    p.add_argument("--refresh", action="store_true", help="ask the server even if the cached catalog is fresh")
    p = add("startup-check", ext.cmd_startup_check,
            "the startup restore check (honours ExtensionCheckOnStartup/*), cheap enough for every start")
    p.add_argument("--install", action="store_true", help="install the candidates whatever the setting says")
    p.add_argument("--no-install", action="store_true", help="only report the candidates")
    p = add("history", ext.cmd_history, "show or edit the extensions history ([ExtensionsHistory] in Slicer.ini)",
            skip=("--revision",))
    p.add_argument("action", nargs="?", choices=("show", "remove", "to-bookmarks"), default="show")
    p.add_argument("name", nargs="?", help="with remove: the extension name")
    p.add_argument("--revision", dest="history_revision", metavar="R",
                   help="with remove: only from this revision's entry (default: all); "
                        "give the Slicer revision before the command")
    p = add("profile", ext.cmd_profile, "export or import the installed and bookmarked extensions")
    p.add_argument("action", choices=("export", "import"))
    p.add_argument("file", metavar="FILE")
    p.add_argument("--yes", action="store_true", help="with import: install what the profile lists")


class _Unbuilt:
    """The parser of a command this run does not invoke: whatever is added to it goes nowhere.
    Building all ~30 sub-parsers costs ~20 ms, a fifth of a ``list`` run."""

    def __getattr__(self, name: str) -> Any:
        return self  # a method, a group, an attribute: all the same nothing

    def __call__(self, *args: Any, **kwargs: Any) -> _Unbuilt:
        return self

    def __contains__(self, item: object) -> bool:
        return False

    def __iter__(self) -> Any:
        return iter(())


def build_parser(only: Optional[str] = None, names: Optional[list[str]] = None) -> argparse.ArgumentParser:
    """The whole command line, or (``only``) the global options and that one command; every
    command's name is appended to ``names``."""
    parser = CliParser(prog="slicer-ext-manager", description="Search, install, restore and manage 3D Slicer extensions.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_json(parser, top=True)
    add_context_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CliParser)
    sub.required = True

    def add(name: str, func: Command, help_text: str, skip: tuple[str, ...] = ()) -> argparse.ArgumentParser:
        if names is not None:
            names.append(name)
        if only is not None and name != only:
            return _Unbuilt()  # type: ignore[return-value]
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
        add_json(p)
        add_context_options(p, suppress=True, skip=skip)
        p.set_defaults(func=func)
        return p

    _extension_commands(add)
    _restore_commands(add)
    _add_gui_arguments(add("gui", ext.cmd_gui, "open the Extensions Manager dialog (Search, Install, Restore, Installed)"))
    from . import servers, slicer_commands, slicer_extension

    slicer_commands.register(add)
    slicer_extension.register(add)

    servers.register(add)
    p = add("releases", ext.cmd_releases, "list the application's releases on the server")
    p.add_argument("--drafts", action="store_true", help="also list draft (nightly) revisions")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed by a parser of the invoked command only (the first word that names a
    command, unless help is asked before it); when that parse fails, by the whole parser, so
    that every error and help text is exactly the whole parser's."""
    names: list[str] = []
    build_parser(only="", names=names)
    known = set(names)
    command = next((i for i, word in enumerate(argv) if word in known), None)
    if command is None or any(word in ("-h", "--help") for word in argv[:command]):
        return build_parser().parse_args(argv)
    try:
        with probing():
            return build_parser(only=argv[command]).parse_args(argv)
    except ProbeFailed:
        return build_parser().parse_args(argv)
