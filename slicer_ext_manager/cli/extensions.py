"""The extension commands: list, search, info, install, uninstall, update, enable/disable,
bookmarks, restore, the startup check, history, profiles, releases and the dialog.

Each is ``cmd_<name>(args) -> exit code``; they print what the manager returns and
compute nothing themselves."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import EXIT_FAILURE, EXIT_OK, check_names, manager_from_args, plural, print_json, say, table, warn

if TYPE_CHECKING:  # pragma: no cover
    from ..manager import ExtensionsManager
    from ..report import OperationReport
    from ..state import ExtensionState


def cmd_info_context(args: argparse.Namespace) -> int:
    from .common import context_from_args

    data = context_from_args(args).to_dict()
    if args.json:
        print_json(data)
        return EXIT_OK
    origins = data.pop("origins")
    assert isinstance(origins, dict)
    for key, value in data.items():
        origin = origins.get(key)
        print(f"{key:18} {value if value is not None else '-'}" + (f"   ({origin})" if origin else ""))
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    states = manager.installed_extensions()
    if args.json:
        print_json([s.to_installed_json() for s in states])
        return EXIT_OK
    if not states:
        print(f"No extensions installed in {manager.context.install_path}.")
        return EXIT_OK
    rows = [[s.name, s.installed_revision, "yes" if s.enabled else "no",
             "yes" if s.compatible else "no: " + "; ".join(s.reasons)] for s in states]
    print(table(rows, ["NAME", "REVISION", "ENABLED", "COMPATIBLE"]))
    return EXIT_OK


def state_text(entry: ExtensionState) -> str:
    if not entry.compatible:
        return "incompatible: " + "; ".join(entry.reasons)
    if entry.update_available:
        return f"update available ({entry.installed_revision} -> {entry.available_revision})"
    return "installed" if entry.installed else "not installed"


def _catalog_note(manager: ExtensionsManager) -> None:
    catalog = manager.catalog()
    if catalog.offline_reason or catalog.is_empty:
        say(catalog.status_text())


def cmd_search(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    entries = manager.search(args.text or "", args.category, refresh=args.refresh)
    if args.json:
        print_json([e.to_catalog_json() for e in entries])
        _catalog_note(manager)
        return EXIT_OK
    _catalog_note(manager)
    if not entries:
        if not manager.catalog().is_empty:
            print("No extension matches.")
        return EXIT_OK
    rows = [[e.name, e.available_revision, e.metadata.category, state_text(e), e.metadata.short_description[:60]]
            for e in entries]
    print(table(rows, ["NAME", "REVISION", "CATEGORY", "STATE", "DESCRIPTION"]))
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    entry = manager.extension_info(args.name)
    data = entry.to_catalog_json()
    if args.json:
        print_json(data)
        return EXIT_OK
    data["state"] = state_text(entry)
    for key in ("name", "state", "revision", "category", "description", "depends", "homepage", "contributors",
                "updated", "extension_id", "slicer_revision", "os", "arch", "scmurl", "sha512"):
        value = data.get(key)
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        print(f"{key:16} {value if value not in (None, '') else '-'}")
    return EXIT_OK


def cmd_releases(args: argparse.Namespace) -> int:
    client = manager_from_args(args).client
    drafts = client.drafts() if args.drafts else []
    rows = [{"name": r.get("name"), "revision": (r.get("meta") or {}).get("revision"), "id": r.get("_id"),
             "draft": draft, "created": r.get("created")}
            for draft, folders in ((False, client.releases()), (True, drafts)) for r in folders]
    if args.json:
        print_json(rows)
        return EXIT_OK
    print(table([[r["name"], r["revision"] or "-", "draft" if r["draft"] else "release", r["id"]] for r in rows],
                ["NAME", "REVISION", "KIND", "ID"]))
    return EXIT_OK


def report(args: argparse.Namespace, result: OperationReport) -> int:
    """Print an OperationReport; exit 1 when anything failed."""
    if args.json:
        print_json(result.to_json())
    else:
        for warning in result.warnings:
            warn(warning)
        for r in result.results:
            if not r.outcome.ok:
                say(r.message)
        for r in result.results:
            if r.outcome.ok:
                print(r.message)
        if result.restart_required:
            print("Restart Slicer to use the changes.")
    return EXIT_OK if result.ok else EXIT_FAILURE


def _listener(args: argparse.Namespace):
    from ..progress import ProgressPrinter

    return ProgressPrinter(sys.stderr)


def cmd_install(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    if args.file:
        if args.names:
            raise _usage("Give either extension names or --file archives, not both.")
        result = manager.install_files([Path(p) for p in args.file], force=args.force,
                                       with_dependencies=not args.no_deps, listener=_listener(args))
    else:
        if not args.names:
            raise _usage("Name at least one extension to install (or use --file ARCHIVE).")
        result = manager.install(check_names(args.names), with_dependencies=not args.no_deps,
                                 listener=_listener(args))
    return report(args, result)


def _usage(message: str) -> Exception:
    from ..errors import ExtensionManagerError

    return ExtensionManagerError(message)


def cmd_uninstall(args: argparse.Namespace) -> int:
    return report(args, manager_from_args(args).uninstall(check_names(args.names), schedule=args.schedule))


def cmd_update(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    names = check_names(args.names)
    if args.check:
        wanted = [u for u in manager.available_updates(refresh=True) if not names or u.name in names]
        if args.json:
            print_json([{"name": u.name, "installed_revision": u.installed_revision,
                         "available_revision": u.available_revision, "extension_id": u.metadata.extension_id}
                        for u in wanted])
        elif not wanted:
            print("All installed extensions are up to date.")
        else:
            print(table([[u.name, u.installed_revision, u.available_revision] for u in wanted],
                        ["NAME", "INSTALLED", "AVAILABLE"]))
        return EXIT_OK
    return report(args, manager.update(names or None, schedule=args.schedule, listener=_listener(args)))


def cmd_apply_scheduled(args: argparse.Namespace) -> int:
    return report(args, manager_from_args(args).apply_scheduled())


def cmd_enable(args: argparse.Namespace, enabled: bool = True) -> int:
    (name,) = check_names([args.name])
    changed = manager_from_args(args).set_enabled(name, enabled)
    if args.json:
        print_json({"name": name, "enabled": enabled, "changed": changed, "restart_required": changed})
    else:
        state = "enabled" if enabled else "disabled"
        print(f"{name} is {state}" + ("; restart Slicer to use the change." if changed else " already."))
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
        raise _usage(f"Name at least one extension to {args.action} a bookmark for.")
    changed = history.set_bookmarks_state(check_names(args.names), args.action == "add")
    if args.json:
        print_json({"bookmarks": history.bookmarks(), "changed": changed})
    else:
        print("Bookmarks: " + (", ".join(history.bookmarks()) or "none"))
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    names = check_names(args.names)
    if args.check or (not args.yes and not names):
        plan = manager.restore_plan(refresh=args.refresh)
        if args.json:
            print_json(plan.to_json())
            return EXIT_OK
        if plan.catalog_note:
            say(plan.catalog_note)
        if not plan.candidates:
            print("The extensions history and bookmarks hold no extension of another Slicer revision.")
            return EXIT_OK
        rows = [["[x]" if c.selected else "[ ]", c.name, c.state_text(plan.previous_revision)] for c in plan.candidates]
        print(table(rows, ["", "NAME", "STATE"]))
        n = len(plan.selected)
        print(f"\n{plural(n, 'extension')} preselected." + (
            " Install them with: slicer-ext-manager restore --yes" if n else " Nothing left to restore."))
        return EXIT_OK
    result = manager.restore(names or None, listener=_listener(args))
    if not result.results and not args.json:
        print("Nothing to restore.")
        return EXIT_OK
    return report(args, result)


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
    return EXIT_OK if result.report is None or result.report.ok else EXIT_FAILURE


def cmd_history(args: argparse.Namespace) -> int:
    manager = manager_from_args(args)
    history = manager.history
    if args.action == "remove":
        if not args.name:
            raise _usage("Name the extension to remove from the history.")
        (name,) = check_names([args.name])
        changed = history.remove(name, getattr(args, "history_revision", None))
        if args.json:
            print_json({"name": name, "revisions": changed})
        elif changed:
            print(f"Removed {name} from the history of revision{'s' if len(changed) > 1 else ''} "
                  f"{', '.join(changed)}.")
        else:
            print(f"{name} was not in the history.")
        return EXIT_OK
    if args.action == "to-bookmarks":
        added = history.to_bookmarks()
        if args.json:
            print_json({"added": added, "bookmarks": history.bookmarks()})
        else:
            print(f"Bookmarked {plural(len(added), 'extension')}" + (f": {', '.join(added)}." if added else "."))
        return EXIT_OK
    revisions = history.revisions()
    if args.json:
        print_json({"revisions": revisions, "scheduled_for_removal": history.scheduled_for_removal(),
                    "bookmarks": history.bookmarks(), "current_revision": manager.context.revision})
        return EXIT_OK
    if not revisions:
        print(f"No extensions history in {manager.context.user_settings_path}.")
    for rev, rev_names in revisions.items():
        mark = " (this Slicer)" if rev == manager.context.revision else ""
        print(f"{rev}{mark}: {', '.join(rev_names) or '-'}")
    return EXIT_OK


def cmd_profile(args: argparse.Namespace) -> int:
    from ..profiles import ImportStatus

    manager = manager_from_args(args)
    if args.action == "export":
        profile = manager.export_profile(Path(args.file))
        if args.json:
            print_json(profile.to_json())
        else:
            print(f"Wrote {plural(len(profile.extensions), 'extension')} and "
                  f"{plural(len(profile.bookmarks), 'bookmark')} to {args.file}.")
        return EXIT_OK
    if not args.yes:
        _, items = manager.plan_profile_import(Path(args.file))
        if args.json:
            print_json({"items": [i.to_json() for i in items]})
        else:
            print(table([[i.name, i.wanted_revision, i.available_revision or "-", i.status.value] for i in items],
                        ["NAME", "PROFILE REVISION", "AVAILABLE", "STATUS"]))
            print("Install with: slicer-ext-manager profile import FILE --yes")
        return EXIT_OK
    items, result = manager.import_profile(Path(args.file), listener=_listener(args))
    if args.json:
        data = result.to_json()
        data["items"] = [i.to_json() for i in items]
        print_json(data)
        return EXIT_OK if result.ok else EXIT_FAILURE
    for i in items:
        if i.status == ImportStatus.UNAVAILABLE:
            say(f"{i.name} is not available for this Slicer build.")
        elif i.status == ImportStatus.DIFFERENT_REVISION:
            say(f"{i.name}: the profile has revision {i.wanted_revision}, this Slicer gets {i.available_revision}.")
    return report(args, result)


def cmd_gui(args: argparse.Namespace) -> int:
    from ..ui.app import cmd_gui as run

    return run(args, manager_from_args(args))
