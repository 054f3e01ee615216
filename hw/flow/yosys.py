"""Yosys and nextpnr steps of the report flow, read through their JSON outputs.

``generic_synth``
    ``synth -flatten``, flip-flops legalized to plain ``$_DFF_P_`` (a synchronous reset or a clock
    enable becomes gates in front of the D pin, as in a standard-cell library without those
    variants) and latches to ``$_DLATCH_P_``/``$_DLATCH_N_``, then ``abc -g`` to simple two- and
    three-input gates. Reported: cell counts by type, ``stat -tech cmos`` transistor estimate, the
    logic depth of :meth:`~hw.flow.netlist.Netlist.logic_depth`, and the netlist itself.
``ice40_synth`` / ``ice40_pnr``
    The design inside a timing harness (below), ``synth_ice40`` (no DSP blocks unless asked),
    LUT4 / carry / flip-flop counts from ``stat -json``; then nextpnr-ice40 for the UP5K (SG48
    package, iCEBreaker pinout from ``constraints/icebreaker.pcf``) with one placement seed and
    the achieved fmax of its JSON report. The report runs ``ice40_pnr`` with several seeds
    (placement noise moves fmax by several MHz) and reports their median and range.

Timing harness (``qsq_timing_top``): every input of the design is fed from one long shift
register loaded from the ``sin`` pin, and every output is captured into a register that shifts out
through ``sout``; so each design path starts and ends at a flip-flop and four pins suffice
whatever the design's width. The reported fmax is that of the design's own register-to-register
paths (plus a flip-flop on either side), not of the pads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .netlist import Netlist, NetlistError, load_netlist
from .tools import run_tool

__all__ = ["GENERIC_GATES", "generic_synth", "harness_verilog", "ice40_synth", "ice40_pnr",
           "ice40_synth_pnr", "read_stat",
           "CONSTRAINTS_DIR", "HARNESS_TOP", "HARNESS_PORTS"]

GENERIC_GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"
CONSTRAINTS_DIR = Path(__file__).resolve().parents[2] / "constraints"
HARNESS_TOP = "qsq_timing_top"
HARNESS_PORTS = ("clk", "rst", "sin", "sout")


#: Nets whose names look like bits of a vector (Amaranth names a lane ``codes[0]``) trip an
#: assertion in Yosys 0.70's ABC re-integration; hiding those names (they are aliases) avoids it.
_HIDE_BIT_NAMES = "rename -hide w:*[[]*; "


def _prep(top: str) -> str:
    # A clock-gate cell may be marked keep_hierarchy for ASIC flows; the generic flow flattens it.
    return (f"read_verilog design.v; {_HIDE_BIT_NAMES}setattr -mod -unset keep_hierarchy; "
            f"hierarchy -top {top}; ")


def read_stat(path: Path, top: str) -> dict:
    """Cell counts and transistor estimate of ``top`` from a ``stat -json`` file.

    Raises
    ------
    NetlistError
        If the file is not a ``stat -json`` report of ``top``.
    """
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise NetlistError(f"{path} is not valid JSON: {exc}") from None
    mods = data.get("modules", {}) if isinstance(data, dict) else {}
    mod = mods.get("\\" + top) or mods.get(top)
    if not isinstance(mod, dict) or "num_cells_by_type" not in mod:
        raise NetlistError(f"{path} is not a Yosys 'stat -json' report of module {top!r}")
    out = {"cells": int(mod.get("num_cells", 0)),
           "by_type": {k: int(v) for k, v in mod["num_cells_by_type"].items()}}
    tr = mod.get("estimated_num_transistors")
    if tr is not None:
        s = str(tr)
        out["transistors"] = int(s.rstrip("+"))
        out["transistors_incomplete"] = s.endswith("+")
    return out


def generic_synth(verilog: str, top: str, workdir: Path) -> tuple[dict, Netlist]:
    """Generic gate-level synthesis; return (area figures, netlist)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.v").write_text(verilog)
    script = (_prep(top) + f"synth -flatten -top {top}; "
              "dfflegalize -cell $_DFF_P_ 01 -cell $_DFF_N_ 01 -cell $_DLATCH_P_ 01 "
              "-cell $_DLATCH_N_ 01; "
              f"abc -g {GENERIC_GATES}; opt_clean -purge; "
              "tee -q -o stat.json stat -json -tech cmos; write_json netlist.json")
    run_tool("yosys", ["-q", "-l", "yosys_generic.log", "-p", script], workdir, "yosys_generic.out")
    area = read_stat(workdir / "stat.json", top)
    nl = load_netlist(workdir / "netlist.json", top)
    seq = sum(1 for c in nl.cells if c.type in ("$_DFF_P_", "$_DFF_N_"))
    area.update({"flip_flops": seq,
                 "latches": sum(1 for c in nl.cells if c.type.startswith("$_DLATCH")),
                 "gates": len(nl.cells) - seq,
                 "logic_depth": nl.logic_depth()})
    return area, nl


def harness_verilog(ports: dict, top: str) -> str:
    """Verilog of the timing harness around module ``top`` with ``ports`` as in :class:`Netlist`."""
    ins = [(n, len(b)) for n, (d, b, _) in ports.items() if d == "input" and n not in ("clk", "rst")]
    outs = [(n, len(b)) for n, (d, b, _) in ports.items() if d == "output"]
    if "clk" not in ports:
        raise ValueError(f"module {top} has no clk port; the timing harness needs a clocked design")
    n_in = sum(w for _, w in ins) + 1          # + the capture-load bit
    n_out = max(1, sum(w for _, w in outs))
    lines = [f"module {HARNESS_TOP} (input clk, input rst, input sin, output sout);",
             f"  reg [{n_in - 1}:0] sr = 0;",
             f"  reg [{n_out - 1}:0] cap = 0;",
             "  reg rst_q = 1'b1;",
             f"  always @(posedge clk) begin sr <= {{sr[{n_in - 2}:0], sin}}; rst_q <= rst; end"
             if n_in > 1 else "  always @(posedge clk) begin sr <= sin; rst_q <= rst; end"]
    conn, pos = [".clk(clk)"], 0
    if "rst" in ports:
        conn.append(".rst(rst_q)")
    for n, w in ins:
        conn.append(f".{n}(sr[{pos + w - 1}:{pos}])")
        pos += w
    load = f"sr[{pos}]"
    outs_cat = []
    for n, w in outs:
        lines.append(f"  wire [{w - 1}:0] o_{n};")
        conn.append(f".{n}(o_{n})")
        outs_cat.append(f"o_{n}")
    lines.append(f"  {top} dut ({', '.join(conn)});")
    cat = "{" + ", ".join(reversed(outs_cat)) + "}" if outs_cat else "1'b0"
    lines.append(f"  always @(posedge clk) cap <= {load} ? {cat} : (cap >> 1);")
    lines += ["  assign sout = cap[0];", "endmodule"]
    return "\n".join(lines) + "\n"


def ice40_synth(verilog: str, top: str, ports: dict, workdir: Path, *, dsp: bool = False) -> dict:
    """``synth_ice40`` of the design alone (LUT4/carry/FF/DSP counts) and of its timing harness.

    The harness netlist is written to ``workdir/harness.json`` for :func:`ice40_pnr`.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.v").write_text(verilog + "\n" + harness_verilog(ports, top))
    dsp_opt = " -dsp" if dsp else ""
    # The design alone gives the area figures; the harness is what gets placed and routed.
    script = (f"read_verilog design.v; {_HIDE_BIT_NAMES}design -save orig; "
              "setattr -mod -unset keep_hierarchy; "
              f"synth_ice40 -top {top}{dsp_opt}; tee -q -o stat.json stat -json; "
              f"design -load orig; hierarchy -top {HARNESS_TOP}; "
              f"synth_ice40 -top {HARNESS_TOP}{dsp_opt}; write_json harness.json")
    run_tool("yosys", ["-q", "-l", "yosys_ice40.log", "-p", script], workdir, "yosys_ice40.out")
    st = read_stat(workdir / "stat.json", top)["by_type"]
    return {"lut4": st.get("SB_LUT4", 0), "carry": st.get("SB_CARRY", 0),
            "ff": sum(v for k, v in st.items() if k.startswith("SB_DFF")),
            "dsp": st.get("SB_MAC16", 0)}


def ice40_pnr(workdir: Path, *, seed: int = 1, target_mhz: float = 100.0,
              harness: str = "harness.json", timeout: float = 1800) -> dict:
    """nextpnr-ice40 on the harness netlist ``workdir/harness``: fmax (MHz) and logic cells used.

    ``timeout``: seconds after which nextpnr is stopped (:class:`hw.flow.tools.ToolTimeout`).

    Raises
    ------
    NetlistError
        If nextpnr's report has no fmax.
    """
    workdir = Path(workdir)
    # Relative to the work folder: the WebAssembly nextpnr cannot open some absolute host paths
    # (seen: anything under /tmp), but always reaches the folders above its working directory.
    pcf = os.path.relpath(CONSTRAINTS_DIR / "icebreaker.pcf", workdir)
    run_tool("nextpnr-ice40", ["--up5k", "--package", "sg48", "--json", harness,
                               "--pcf", pcf, "--freq", f"{target_mhz:g}", "--seed", str(seed),
                               "--report", "pnr.json", "--timing-allow-fail", "-q"],
             workdir, "nextpnr.log", timeout=timeout)
    try:
        rep = json.loads((workdir / "pnr.json").read_text())
        fmax = rep["fmax"]
        util = rep.get("utilization", {})
        return {"fmax_mhz": min(float(v["achieved"]) for v in fmax.values()),
                "lc_used": int(util.get("ICESTORM_LC", {}).get("used", 0))}
    except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
        raise NetlistError(f"{workdir / 'pnr.json'} is not a nextpnr report with fmax: {exc}") \
            from None


def ice40_synth_pnr(verilog: str, top: str, ports: dict, workdir: Path, *, dsp: bool = False,
                    pnr: bool = True, seed: int = 1, target_mhz: float = 100.0) -> dict:
    """iCE40 UP5K flow on the timing harness: :func:`ice40_synth`, then (if ``pnr``) one
    :func:`ice40_pnr` with placement seed ``seed``."""
    out = ice40_synth(verilog, top, ports, workdir, dsp=dsp)
    if pnr:
        out.update(ice40_pnr(workdir, seed=seed, target_mhz=target_mhz))
    return out
