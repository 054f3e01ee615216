"""The ``qsq`` command line.

Subcommands live in the modules listed in :data:`COMMAND_MODULES`; each has a
``register(subparsers)`` function that adds its parser and sets ``func``. Modules import their
heavy dependencies inside ``func`` so that ``qsq --help`` stays fast.

Invalid input (``ValueError``, ``TypeError``, ``OSError``) becomes a one-line ``qsq: error: ...``
message and exit status 2; a file error names the file and says what is wrong in words
(:func:`golden_model.fileio.describe_os_error`). Set ``QSQ_DEBUG=1`` for the full traceback.
``qsq --version`` prints the package version.

Every subcommand that writes files (an ``-o``/``--out``/``--output``/``--out-dir`` option) gets
``--force``: without it a write never goes through a symbolic link nor into a device, FIFO or
socket (one-line error naming the path); with it the command runs inside
:func:`golden_model.fileio.forced_writes`. One mechanism for every command: the rules live in
:mod:`golden_model.fileio`, which every write goes through.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .fileio import describe_os_error, forced_writes

#: Options that name what a subcommand writes; such a subcommand gets ``--force``.
OUTPUT_OPTIONS = ("-o", "--out", "--output", "--out-dir")

#: Modules that contribute subcommands.
COMMAND_MODULES = [
    "golden_model.cli_metrics",
    "golden_model.cli_encode",
    "hw.cli",
    "golden_model.nn.cli",
    "hw.engine.cli_import",
    "hw.flow.cli",
    "hw.flow.cli_asic",
    "hw.engine.cli",
    "hw.boards.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qsq",
        description="Quality-scalable quantization and truncated-CSD multipliers: golden model, "
                    "RTL generation, evaluation and reports.")
    parser.add_argument("--version", action="version", version=f"qsq {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _add_force(parser)
    return parser


def _add_force(parser: argparse.ArgumentParser) -> None:
    """Give ``--force`` to every (nested) subcommand with an output option."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in set(action.choices.values()):
                _add_force(sp)
            return
    options = {s for a in parser._actions for s in a.option_strings}
    if options & set(OUTPUT_OPTIONS) and "--force" not in options:
        parser.add_argument("--force", action="store_true",
                            help="write even where an output is a symbolic link (the file it "
                                 "points to is replaced) or a device, FIFO or other non-regular "
                                 "file (written into); refused otherwise")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with forced_writes(getattr(args, "force", False)):
            return args.func(args) or 0
    except (ValueError, TypeError, OSError) as exc:
        if os.environ.get("QSQ_DEBUG"):
            raise
        text = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
        msg = text.splitlines()[0] if text else type(exc).__name__
        print(f"qsq: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
