"""Yosys and nextpnr steps of the engine report: generic gates with memories kept, iCE40 and ECP5.

``generic_engine_synth``
    Generic gates like the multiplier flow (:func:`hw.flow.yosys.generic_synth`), with three
    differences that an energy figure needs. (1) Memories stay one ``$mem_v2`` cell each (read by
    :mod:`hw.flow.memnet`), except the *register files* named by the caller (the tiny descriptor
    and logit stores): those are moved into a module of their own (``rf_<memory>``) and built from
    flip-flops and gates, so they are measured as the gates they are, not charged like an SRAM.
    (2) Clock enables are kept (``$_DFFE_PP_``; a synchronous reset becomes gates in front of D
    and joins the enable), so :func:`hw.flow.memnet.load_mem_netlist` can put clock gates in front
    of the registers that load rarely, as an ASIC flow's clock-gating insertion does. (3) The
    hierarchy is kept through ``abc`` and flattened afterwards, so every cell's name says which
    unit it belongs to (``$flatten\\lanes.…``) and the energy is broken down per unit.
    ``proc -norom`` keeps Yosys from turning case statements into small ROMs (they stay logic).
``fpga_synth``
    ``synth_ice40`` (``-dsp``: SB_MAC16 blocks allowed) or ``synth_ecp5`` (``-nodsp`` for the
    LUT-only build) of the engine inside the flow's timing harness (:func:`hw.flow.yosys.harness_verilog`:
    inputs from a shift register, outputs captured and shifted out -- the engine has ~60 ports, the
    UP5K's SG48 package 39 I/Os), with the engine kept as its own module so ``stat`` counts the
    engine alone; which memory went to which RAM primitive, from ``memory_libmap``'s log lines;
    then ``nextpnr --pack-only`` on the harness: the packed utilisation decides whether the design
    fits the device (:func:`fits`).
``fpga_pnr``
    nextpnr (one placement seed) on the harness: fmax of the engine's register-to-register paths.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .netlist import NetlistError
from .tools import ToolError, run_tool
from .yosys import CONSTRAINTS_DIR, GENERIC_GATES, HARNESS_TOP, harness_verilog, read_stat

__all__ = ["generic_engine_synth", "fpga_synth", "fpga_modules", "fpga_pnr", "fits",
           "REGFILE_PREFIX", "memory_map_lines", "ICE40_CELLS", "ECP5_CELLS", "SPRAM_UNINIT"]

_HIDE = "rename -hide w:*[[]*; "
#: Yosys command deleting the all-zero initialiser Amaranth gives every memory, for the memories
#: named ``*_spram`` (an ``spram`` engine's weights, :class:`hw.engine.top.QSQEngine`): an SPRAM
#: cannot be initialised, so Yosys maps no initialised memory to it. No other memory matches.
SPRAM_UNINIT = "delete t:$meminit_v2 r:MEMID=*_spram %i; "

#: iCE40 resource columns: label -> cell types counted.
ICE40_CELLS = {"LUT4": ("SB_LUT4",), "carry": ("SB_CARRY",), "FF": ("SB_DFF",),
               "EBR": ("SB_RAM40_4K",), "SPRAM": ("SB_SPRAM256KA",), "DSP": ("SB_MAC16",)}
#: ECP5 resource columns.
ECP5_CELLS = {"LUT4": ("LUT4",), "carry": ("CCU2C",), "FF": ("TRELLIS_FF",),
              "DP16KD": ("DP16KD",), "LUTRAM": ("TRELLIS_DPR16X4",),
              "MULT18X18D": ("MULT18X18D",)}


def _nextpnr(arch: str, args: list[str], cwd: Path, log: str, timeout: float = 3600) -> None:
    run_tool(f"nextpnr-{arch}", args, cwd, log, timeout=timeout)


# ---------------------------------------------------------------- generic gates, memories kept
#: Techmap rules that turn a synchronous reset into gates in front of D while keeping the clock
#: enable (Yosys's ``dffunmap -srst-only`` drops the enable as well when the reset overrides it).
_SRST_MAP = """\
(* techmap_celltype = "$_SDFFE_PP0P_" *)
module _qsq_sdffe_pp0p (input C, R, E, D, output Q);
  \\$_DFFE_PP_ _TECHMAP_REPLACE_ (.C(C), .E(E | R), .D(D & ~R), .Q(Q));
endmodule
(* techmap_celltype = "$_SDFFE_PP1P_" *)
module _qsq_sdffe_pp1p (input C, R, E, D, output Q);
  \\$_DFFE_PP_ _TECHMAP_REPLACE_ (.C(C), .E(E | R), .D(D | R), .Q(Q));
endmodule
(* techmap_celltype = "$_SDFFCE_PP0P_" *)
module _qsq_sdffce_pp0p (input C, R, E, D, output Q);
  \\$_DFFE_PP_ _TECHMAP_REPLACE_ (.C(C), .E(E), .D(D & ~R), .Q(Q));
endmodule
(* techmap_celltype = "$_SDFFCE_PP1P_" *)
module _qsq_sdffce_pp1p (input C, R, E, D, output Q);
  \\$_DFFE_PP_ _TECHMAP_REPLACE_ (.C(C), .E(E), .D(D | R), .Q(Q));
endmodule
"""

#: Prefix of the module a register-file memory is moved into.
REGFILE_PREFIX = "rf_"


def generic_engine_synth(verilog: str, top: str, workdir: Path, regfiles=()) -> dict:
    """Generic gate-level synthesis with memories kept (``regfiles``: memories built from
    flip-flops instead); return area figures.

    Writes ``workdir/netlist.json`` (read with :func:`hw.flow.memnet.load_mem_netlist`).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.v").write_text(verilog)
    (workdir / "srst_map.v").write_text(_SRST_MAP)
    rf = "".join(f"submod -name {REGFILE_PREFIX}{name} {top}/{name}; " for name in regfiles)
    if regfiles:
        rf += "memory_map " + " ".join(f"{REGFILE_PREFIX}{name}" for name in regfiles) + "; "
    script = (f"read_verilog design.v; {_HIDE}hierarchy -top {top}; proc -norom; "
              f"synth -top {top} -run begin:fine; {rf}opt -fast -full; opt -full; "
              "techmap; opt -fast; techmap -map srst_map.v; techmap; opt -fast; "
              "dfflegalize -cell $_DFFE_PP_ 01 -cell $_DFF_P_ 01; "
              f"abc -g {GENERIC_GATES}; opt_clean -purge; flatten; opt_clean -purge; "
              "tee -q -o stat.json stat -json -tech cmos; write_json netlist.json")
    run_tool("yosys", ["-q", "-l", "yosys_generic.log", "-p", script], workdir,
             "yosys_generic.out", timeout=3600)
    area = read_stat(workdir / "stat.json", top)
    by = area["by_type"]
    area["flip_flops"] = by.get("$_DFF_P_", 0) + by.get("$_DFF_N_", 0) + by.get("$_DFFE_PP_", 0)
    area["memories"] = by.get("$mem_v2", 0)
    area["gates"] = area["cells"] - area["flip_flops"] - area["memories"]
    return area


# ---------------------------------------------------------------- FPGA synthesis
_MAP_VIA = re.compile(r"^mapping memory (\S+) via (\S+)")
_MAP_LOGIC = re.compile(r"^Mapping memory \\?(\S+) in module")


def memory_map_lines(log_text: str, top: str) -> dict[str, str]:
    """Memory name -> where ``memory_libmap``/``memory_map`` put it (a RAM cell, or ``logic``)."""
    out = {}
    for ln in log_text.splitlines():
        m = _MAP_VIA.match(ln.strip())
        if m:
            name = m[1].split(".", 1)[1] if m[1].startswith(top + ".") else m[1]
            out[name] = m[2].strip("$_")
            continue
        m = _MAP_LOGIC.match(ln.strip())
        if m and not m[1].startswith("$"):
            out.setdefault(m[1], "logic")
    return dict(sorted(out.items()))


def _count(by_type: dict, cells: dict) -> dict:
    out = {}
    for label, prefixes in cells.items():
        out[label] = sum(v for k, v in by_type.items() if any(k.startswith(p) for p in prefixes))
    return out


def _synth_command(arch: str, top: str, dsp: bool, options: str = "") -> tuple[str, dict]:
    """Yosys's synthesis command for ``arch`` (``ice40``: SB_MAC16 blocks with ``dsp``; ``ecp5``:
    ``-nodsp`` without) and the resource columns its cells count into."""
    if arch == "ice40":
        return f"synth_ice40 {options}-top {top}" + (" -dsp" if dsp else ""), ICE40_CELLS
    if arch == "ecp5":
        return f"synth_ecp5 {options}-top {top}" + ("" if dsp else " -nodsp"), ECP5_CELLS
    raise ValueError(f"arch must be 'ice40' or 'ecp5', not {arch!r}")


def fpga_synth(verilog: str, top: str, ports: dict, arch: str, workdir: Path, *,
               dsp: bool = True, device: str = "85k") -> dict:
    """Synthesize the engine in its timing harness for ``arch`` (``ice40``/``ecp5``); pack it.

    Returns
    -------
    dict
        ``cells`` (engine alone, by resource label), ``memories`` (memory -> primitive or logic),
        ``packed`` (nextpnr's utilisation of the whole harness: resource -> used/available),
        ``fits`` (bool) and ``why`` (the resources over capacity). Writes ``workdir/harness.json``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.v").write_text(verilog + "\n" + harness_verilog(ports, top))
    synth, cells = _synth_command(arch, HARNESS_TOP, dsp)
    script = (f"read_verilog design.v; {_HIDE}hierarchy -top {HARNESS_TOP}; {SPRAM_UNINIT}"
              f"setattr -mod -set keep_hierarchy 1 {top}; {synth}; "
              "tee -q -o stat.json stat -json; write_json harness.json")
    run_tool("yosys", ["-l", "yosys_fpga.log", "-p", script], workdir, "yosys_fpga.out",
             timeout=7200)
    st = read_stat(workdir / "stat.json", top)["by_type"]
    log_text = (workdir / "yosys_fpga.log").read_text()
    res = {"cells": _count(st, cells), "memories": memory_map_lines(log_text, top)}
    # the design as placed: pack it and read the utilisation
    args = _device_args(arch, device) + ["--json", "harness.json", "--pack-only",
                                         "--report", "pack.json", "-q"]
    try:
        _nextpnr(arch, args, workdir, "nextpnr_pack.log")
        rep = json.loads((workdir / "pack.json").read_text())
        util = {k: [int(v["used"]), int(v["available"])] for k, v in rep["utilization"].items()}
        over = sorted(k for k, (u, a) in util.items() if u > a)
        res.update(packed=util, fits=not over, why=", ".join(
            f"{k} {util[k][0]} > {util[k][1]}" for k in over))
    except ToolError as exc:
        # nextpnr refuses a design that needs more cells of a kind than the device has
        text = str(exc)
        res.update(packed={}, fits=False, why=_pack_reason(text, workdir / "nextpnr_pack.log"))
    return res


def fpga_modules(verilog: str, top: str, arch: str, workdir: Path, *, dsp: bool = True) -> dict:
    """Resources of each of the engine's modules: hierarchical synthesis for ``arch``.

    ``synth_ice40 -noflatten`` / ``synth_ecp5 -noflatten`` of the engine alone keeps Amaranth's
    module boundaries, so each module's cells can be counted -- at the price of no optimisation
    across them (the flat build of :func:`fpga_synth` is the design's real size; the sum here is
    usually a little larger). Returns ``{module: {resource: count}}`` with the engine's top as
    ``"(top)"`` (control, memories) and submodules by their path below it (``lanes``,
    ``post.bucket_mul1``, ...), each counting its own cells without its submodules'.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "engine.v").write_text(verilog)
    synth, cells = _synth_command(arch, top, dsp, "-noflatten ")
    script = (f"read_verilog engine.v; {_HIDE}hierarchy -top {top}; {SPRAM_UNINIT}{synth}; "
              "tee -q -o modules.json stat -json")
    run_tool("yosys", ["-l", "yosys_modules.log", "-p", script], workdir, "yosys_modules.out",
             timeout=7200)
    stat = json.loads((workdir / "modules.json").read_text())
    out = {}
    for name, mod in stat.get("modules", {}).items():
        name = name.lstrip("\\")
        if name != top and not name.startswith(top + "__"):
            continue
        label = "(top)" if name == top else name[len(top) + 2:].replace("__", ".")
        out[label] = _count(mod.get("num_cells_by_type", {}), cells)
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != "(top)", kv[0])))


def _pack_reason(text: str, log: Path) -> str:
    body = log.read_text() if log.exists() else text
    for ln in body.splitlines():
        if "ERROR" in ln:
            return ln.split("ERROR:", 1)[-1].strip()
    return text.splitlines()[0]


def _device_args(arch: str, device: str) -> list[str]:
    if arch == "ice40":
        return ["--up5k", "--package", "sg48"]
    from .engine_designs import ECP5_DEVICES

    return [ECP5_DEVICES[device], "--package", "CABGA381"]


def fits(res: dict) -> bool:
    """Whether a :func:`fpga_synth` result fits its device."""
    return bool(res.get("fits"))


def fpga_pnr(arch: str, workdir: Path, *, seed: int = 1, device: str = "85k",
             target_mhz: float = 100.0, timeout: float = 3600) -> dict:
    """Place and route ``workdir/harness.json`` with placement seed ``seed``: fmax and utilisation.

    ``timeout``: seconds after which nextpnr is stopped (:class:`hw.flow.tools.ToolTimeout`).

    The UP5K harness uses the iCEBreaker pins of ``constraints/icebreaker.pcf``; the ECP5 one
    those of ``constraints/ulx3s.lpf``.

    Raises
    ------
    NetlistError
        If nextpnr's report has no fmax.
    ToolTimeout
        If nextpnr runs longer than ``timeout``.
    ToolError
        If nextpnr fails (e.g. the design does not fit).
    """
    workdir = Path(workdir)
    if arch == "ice40":
        cons = ["--pcf", os.path.relpath(CONSTRAINTS_DIR / "icebreaker.pcf", workdir)]
    else:
        cons = ["--lpf", os.path.relpath(CONSTRAINTS_DIR / "ulx3s.lpf", workdir)]
    args = _device_args(arch, device) + ["--json", "harness.json", *cons,
                                         "--freq", f"{target_mhz:g}", "--seed", str(seed),
                                         "--report", "pnr.json", "--timing-allow-fail", "-q"]
    _nextpnr(arch, args, workdir, "nextpnr.log", timeout=timeout)
    try:
        rep = json.loads((workdir / "pnr.json").read_text())
        fmax = min(float(v["achieved"]) for v in rep["fmax"].values())
        util = {k: [int(v["used"]), int(v["available"])] for k, v in rep["utilization"].items()}
    except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
        raise NetlistError(f"{workdir / 'pnr.json'} is not a nextpnr report with fmax: {exc}") \
            from None
    return {"fmax_mhz": fmax, "utilization": util}
