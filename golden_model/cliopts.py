"""The shared option vocabulary of the ``qsq`` commands, and deprecated spellings.

Every command names what it writes with ``-o``/``--out`` (a file, a folder or a prefix, as its
help says); ``--lanes`` is the engine's lane count (output channels in parallel, FINN's PE) and
nothing else; ``--jobs`` states its default in its help. An old spelling stays for one release
through :func:`add_deprecated`: it works and prints one line to standard error.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_deprecated", "add_out", "DEPRECATED"]

#: Old spelling -> new spelling, of every command (for the README and the tests).
DEPRECATED = {
    "verilog MODULE --output": "-o/--out",
    "verilog all --out-dir": "-o/--out",
    "pack --lanes": "--codes-per-word",
}


class _Deprecated(argparse.Action):
    """Stores like the new option; says once on standard error that the spelling is old."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"qsq: warning: {option_string} is deprecated and will be removed in the next "
              f"release; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_deprecated(parser: argparse.ArgumentParser, old: str, *, dest: str, new: str,
                   **kwargs) -> None:
    """Add ``old`` as a deprecated spelling of the option stored in ``dest`` (``new``: how the
    current option is spelled, for the message). ``kwargs`` (``type``, ``metavar``) as for the
    new option."""
    parser.add_argument(old, dest=dest, action=_Deprecated, new=new, default=argparse.SUPPRESS,
                        help=f"deprecated spelling of {new}", **kwargs)


def add_out(parser: argparse.ArgumentParser, help: str, **kwargs) -> None:
    """The output option of a command: ``-o``/``--out``."""
    parser.add_argument("-o", "--out", help=help, **kwargs)
