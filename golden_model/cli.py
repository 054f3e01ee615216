"""The ``qsq`` command line.

Subcommands live in the modules listed in :data:`COMMAND_MODULES`; each has a
``register(subparsers)`` function that adds its parser and sets ``func``. Modules import their
heavy dependencies inside ``func`` so that ``qsq --help`` stays fast.

Invalid input (``ValueError``, ``TypeError``, ``OSError``) becomes a one-line ``qsq: error: ...``
message and exit status 2; a file error names the file and says what is wrong in words
(:func:`golden_model.fileio.describe_os_error`). Set ``QSQ_DEBUG=1`` for the full traceback.
``qsq --version`` prints the package version.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .fileio import describe_os_error

#: Modules that contribute subcommands.
COMMAND_MODULES = [
    "golden_model.cli_metrics",
    "golden_model.cli_encode",
    "hw.cli",
    "golden_model.nn.cli",
    "golden_model.nn.cli_import",
    "hw.flow.cli",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
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
