"""The CLI's shared plumbing, written once: exit codes, ``--json``, the profile and
server option groups, the one place that turns options into a manager, output
helpers, and the error handling every command gets (one sentence on stderr)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from ..conventions import ARCH_NAMES, OS_NAMES

if TYPE_CHECKING:  # pragma: no cover
    from ..context import AppContext
    from ..manager import ExtensionsManager
    from ..network import ServerOptions

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
PROG = "slicer-ext-manager"

Command = Callable[[argparse.Namespace], int]


class ProbeFailed(Exception):
    """Internal: a parse by a partial parser failed (the whole parser parses again)."""


_probing = False


@contextlib.contextmanager
def probing() -> Iterator[None]:
    """While a partial parser parses: an error raises :class:`ProbeFailed` instead of exiting."""
    global _probing
    _probing = True
    try:
        yield
    finally:
        _probing = False


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` without importing ``shutil`` (and zlib, bz2, lzma
    with it), which argparse's formatter does for every option it adds."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, with the width computed as argparse computes it."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         width if width is not None else _terminal_columns() - 2)


class CliParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # argparse prints usage and exits 2
        if _probing:
            raise ProbeFailed(message)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def say(message: str) -> None:
    """One line on stderr, prefixed like every message of the command."""
    sys.stderr.write(f"{PROG}: {message}\n")


def warn(message: str) -> None:
    say(f"warning: {message}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)] if rows else [len(h) for h in headers]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- argument types ------------------------------------------------------------------------------------


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of seconds")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 or more")
    return value


def port_number(text: str) -> int:
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is between 0 and 65535")
    return value


# -- option groups ---------------------------------------------------------------------------------------


def add_json(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    if "--json" in parser._option_string_actions:
        return
    parser.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="print machine-readable JSON on stdout")


class _SuppressingGroup:
    """Adds arguments with ``default=SUPPRESS`` so a sub-command does not reset global values."""

    def __init__(self, parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()):
        self._parser = parser
        self._skip = skip

    def add_argument_group(self, title: str) -> Any:
        group = self._parser.add_argument_group(title)
        original = group.add_argument

        def add_argument(*names: str, **kwargs: Any) -> Any:
            if any(n in self._skip for n in names):
                return None
            kwargs["default"] = argparse.SUPPRESS
            kwargs["help"] = argparse.SUPPRESS
            return original(*names, **kwargs)

        group.add_argument = add_argument  # type: ignore[method-assign]
        return group


def add_context_options(parser: argparse.ArgumentParser, *, suppress: bool = False,
                        skip: tuple[str, ...] = ()) -> None:
    """The profile/server options; on sub-commands they are optional repeats of the global ones
    (``skip`` leaves out options the sub-command uses with another meaning)."""
    target: Any = _SuppressingGroup(parser, skip) if suppress else parser
    g = target.add_argument_group("Slicer profile (defaults come from the environment and Slicer's settings)")
    g.add_argument("--settings-dir", metavar="DIR", help="folder holding Slicer.ini (default: the platform's "
                   "slicer.org folder, or $SLICER_EXT_MANAGER_SETTINGS_DIR)")
    g.add_argument("--user-settings", metavar="FILE", help="exact path of Slicer.ini")
    g.add_argument("--revision-settings", metavar="FILE", help="exact path of Slicer-<revision>.ini (real installs "
                   "keep it in <SlicerHome>/slicer.org/)")
    g.add_argument("--slicer-home", metavar="DIR", help="Slicer's installation folder (relative paths in the "
                   "settings are relative to it)")
    g.add_argument("--revision", help="Slicer revision, e.g. 33241 (default: from the only Slicer-<revision>.ini found)")
    g.add_argument("--os", dest="os_name", choices=OS_NAMES, help="operating system of the Slicer build "
                   "(default: this one)")
    g.add_argument("--arch", help=f"architecture of the Slicer build: {' or '.join(ARCH_NAMES[:2])} (default: this one)")
    g.add_argument("--slicer-version", metavar="X.Y", help="Slicer version for lib/Slicer-X.Y (default: detected)")
    g.add_argument("--install-path", metavar="DIR", help="extensions install folder (default: Extensions/InstallPath)")
    s = target.add_argument_group("extensions server")
    s.add_argument("--server", metavar="URL", help="server URL (default: $SLICER_EXTENSIONS_MANAGER_SERVER_URL, "
                   "Extensions/ServerUrl, https://slicer-packages.kitware.com)")
    s.add_argument("--app-id", help="application id on the server (default: the production Slicer app)")
    s.add_argument("--app-name", help="application name on the server, looked up with GET /app?name=")
    s.add_argument("--insecure", action="store_true", default=None,
                   help="do not verify the server's TLS certificate (prints a warning)")
    s.add_argument("--token", help="Girder token for a private server (default: $SLICER_EXT_MANAGER_TOKEN)")
    s.add_argument("--api-key", help="Girder API key for a private server (default: $SLICER_EXT_MANAGER_API_KEY)")
    s.add_argument("--timeout", type=positive_seconds, help="network timeout in seconds: each read, and the whole "
                   "of a metadata request (default: 10 to connect, 60 to read, 120 per request)")
    s.add_argument("--speed-limit", type=non_negative_int, metavar="BYTES",
                   help="abandon a download slower than BYTES per second over --speed-time (default: 1024; 0: never)")
    s.add_argument("--speed-time", type=positive_seconds, metavar="SECONDS",
                   help="how long a download may stay below --speed-limit (default: 60)")
    s.add_argument("--require-checksum", action="store_true", default=None,
                   help="refuse packages the server publishes no checksum (sha512) for (default: install them "
                        "with a warning)")


# -- from options to the core ------------------------------------------------------------------------------


def context_from_args(args: argparse.Namespace) -> AppContext:
    from ..context import AppContext
    from ..manager import validate_server_url

    server = getattr(args, "server", None)
    return AppContext.resolve(
        settings_dir=args.settings_dir, user_settings=args.user_settings, revision_settings=args.revision_settings,
        revision=args.revision, os_name=args.os_name, arch=args.arch, install_path=args.install_path,
        server_url=validate_server_url(server) if server else None, app_id=args.app_id, app_name=args.app_name,
        slicer_version=args.slicer_version, slicer_home=args.slicer_home,
    )


def server_options_from_args(args: argparse.Namespace, **values: Any) -> ServerOptions:
    """The one :class:`ServerOptions` of a command (``values``: URL and app when not the profile's)."""
    from ..network import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, ServerOptions

    timeout = getattr(args, "timeout", None)
    insecure = bool(getattr(args, "insecure", None))
    if insecure:
        warn("TLS certificate verification is disabled (--insecure).")
    return ServerOptions.from_environment(
        token=getattr(args, "token", None) or None, api_key=getattr(args, "api_key", None) or None,
        timeout=(min(timeout, 10.0), timeout) if timeout else DEFAULT_TIMEOUT,
        deadline=timeout if timeout else DEFAULT_DEADLINE,
        speed_limit=getattr(args, "speed_limit", None), speed_time=getattr(args, "speed_time", None),
        require_checksum=getattr(args, "require_checksum", None) or None, verify=not insecure, **values,
    )


def manager_from_args(args: argparse.Namespace) -> ExtensionsManager:
    """The core object every extension command works through."""
    from ..manager import ExtensionsManager

    return ExtensionsManager(context_from_args(args), server_options_from_args(args))


# -- running a command --------------------------------------------------------------------------------------


def _quiet_stdout() -> None:
    """After a closed pipe (``| head``): send what is left to /dev/null, so exiting does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class _WarningPrinter(logging.Handler):
    """The core's warnings (skipped invalid entries, recovered interrupted changes) as
    ``slicer-ext-manager: warning: ...`` lines on stderr, each once per command."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must never break the command
            return
        if message not in self.seen:
            self.seen.add(message)
            warn(message)


def _core_warnings() -> logging.Handler:
    core = logging.getLogger("slicer_ext_manager")
    handler = _WarningPrinter()
    core.addHandler(handler)
    core.propagate = False
    return handler


def run_command(func: Command, args: argparse.Namespace) -> int:
    """Run one command: every failure is one sentence on stderr and exit 1."""
    from ..errors import ExtensionManagerError

    core = logging.getLogger("slicer_ext_manager")
    propagate = core.propagate
    handler = _core_warnings()
    try:
        return _run(func, args, ExtensionManagerError)
    finally:
        core.removeHandler(handler)
        core.propagate = propagate


def _run(func: Command, args: argparse.Namespace, expected: type[Exception]) -> int:
    try:
        code = int(func(args) or EXIT_OK)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_FAILURE
    except expected as exc:
        say(str(exc))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        say("interrupted.")
        return 130
    except OSError as exc:
        from ..fileutil import os_error_text

        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        say(f"a file operation failed: {os_error_text(exc)}{where}; check that the path exists, is writable and "
            "that the disk is not full, then try again.")
        return EXIT_FAILURE
    except (RecursionError, MemoryError) as exc:
        say(f"the command stopped: its input is too deeply nested or too large to process ({type(exc).__name__}).")
        return EXIT_FAILURE


def names_argument(parser: argparse.ArgumentParser, *, required: bool, help_text: str = "extension names") -> None:
    """Positional extension names (``--`` ends the options, for names starting with ``-``)."""
    parser.add_argument("names", nargs="+" if required else "*", metavar="NAME", help=help_text)


def check_names(names: Iterable[str]) -> list[str]:
    """The names, or one sentence about the first that is not an extension name."""
    from ..conventions import invalid_name_sentence, is_extension_name
    from ..errors import ExtensionManagerError

    out = []
    for name in names:
        if not is_extension_name(name):
            raise ExtensionManagerError(invalid_name_sentence(name))
        out.append(name)
    return out
