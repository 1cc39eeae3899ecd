"""The ``slicer-ext-manager`` command.

Exit codes: 0 success, 1 failure (one sentence on stderr), 2 usage error.
``--json`` is accepted before or after any command and prints machine-readable
output on stdout. Each command imports only what it needs.
"""

from __future__ import annotations

import sys
from typing import Sequence

from .common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, run_command

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


def build_parser():
    from .parser import build_parser as build

    return build()


def main(argv: Sequence[str] | None = None) -> int:
    from .parser import parse_args

    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    return run_command(args.func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
