"""The ``qsq`` command line.

Subcommands live in the modules listed in :data:`COMMAND_MODULES`; each has a
``register(subparsers)`` function that adds its parser and sets ``func``. Modules import their
heavy dependencies inside ``func`` so that ``qsq --help`` stays fast.

Invalid input (``ValueError``, ``TypeError``, ``OSError``) becomes a one-line ``qsq: error: ...``
message and exit status 2; set ``QSQ_DEBUG=1`` for the full traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: Modules that contribute subcommands.
COMMAND_MODULES = [
    "golden_model.cli_metrics",
    "golden_model.cli_encode",
    "hw.cli",
    "golden_model.nn.cli",
    "hw.flow.cli",
    "hw.engine.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qsq",
        description="Quality-scalable quantization and truncated-CSD multipliers: golden model, "
                    "RTL generation, evaluation and reports.")
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
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"qsq: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
