"""The inference engine through the ASIC flow on the OSU 0.18 um cells (``qsq asic --engine``).

The engine's logic is mapped to the library like a multiplier (:mod:`hw.flow.asic`), with two
differences:

* **Memories stay memories.** Yosys stops before ``memory_map`` (as the engine energy flow of
  :mod:`hw.flow.engine_synth` does): every memory stays one ``$mem_v2`` cell, simulated by a
  behavioural model (synchronous read, as :mod:`hw.flow.memnet` writes it), except the *register
  files* (descriptors, logits: at most :data:`~hw.flow.engine_designs.REGFILE_WORDS` words),
  which are built from the library's flip-flops and gates and measured as such. There is no
  memory compiler here: the report gives each memory's size and the bits it read and wrote, and
  no SRAM energy or area.
* **Activity from counters, not a dump.** One inference is thousands of cycles over thousands
  of nets: the simulation netlist counts, for every net, the clock edges at which its value
  differs from the previous edge's (inputs change only at rising edges, so in a zero-delay
  simulation each net settles once per cycle and this is the settled toggle count a dump would
  give); the testbench snapshots the counters around every inference.

For timing, every memory becomes ideal register boundaries: its read data are input ports and
its address, data and enable nets output ports of the STA netlist, constrained to the clock by
the SDC like the engine's own ports (a synchronous SRAM launches read data and captures its
inputs at the clock edge); OpenSTA then times the logic between memories and registers.

Every logit of the gate-level run is compared with the golden model (a mismatch is an error).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from .asic import (_LIB_NAME, AsicError, MappedNetlist, PowerModel, find_liberty, run_sta,
                   write_sdc)
from .liberty import Library, read_liberty
from .tools import run_tool

__all__ = ["EngineNetlist", "engine_asic_synth", "measure_engine"]


class EngineNetlist(MappedNetlist):
    """A :class:`~hw.flow.asic.MappedNetlist` plus its memories (:class:`hw.flow.memnet.Memory`)."""

    def __init__(self, top, ports, cells, memories):
        super().__init__(top, ports, cells)
        self.memories = memories

    @classmethod
    def from_engine_json(cls, data: dict, top: str, lib: Library) -> "EngineNetlist":
        from .memnet import _memory

        mod = data.get("modules", {}).get(top)
        if mod is None:
            raise AsicError(f"the mapped netlist has no module {top!r}")
        mems = [_memory(n, c, top) for n, c in sorted(mod["cells"].items())
                if c["type"] == "$mem_v2"]
        logic = {**mod, "cells": {n: c for n, c in mod["cells"].items() if c["type"] != "$mem_v2"}}
        base = MappedNetlist.from_json({"modules": {top: logic}}, top, lib)
        return cls(base.top, base.ports, base.cells, mems)

    def nets(self) -> set:
        out = super().nets()
        for m in self.memories:
            out.update(m.input_nets())
            out.update(b for b in m.output_nets() if isinstance(b, int))
        return out

    def memory_ports(self) -> dict:
        """Ports of the STA netlist that stand for the memories: ``qsq_mrd`` (read data,
        inputs) and ``qsq_min`` (address, write data, enables, outputs)."""
        rd, ins = [], []
        for m in self.memories:
            rd += [b for b in m.output_nets() if isinstance(b, int)]
            ins += list(m.input_nets())
        return {"qsq_mrd": ("input", sorted(set(rd)), False),
                "qsq_min": ("output", sorted(set(ins)), False)}

    def sta_netlist(self) -> MappedNetlist:
        """The logic with every memory replaced by ports (see the module notes)."""
        ports = dict(self.ports)
        for name, p in self.memory_ports().items():
            if p[1]:
                ports[name] = p
        return MappedNetlist(self.top, ports, self.cells)

    def sim_verilog(self, name: str, data_nets: list[int], timed: bool = False) -> str:
        """Simulation Verilog: the cells, behavioural memories and one toggle counter per net of
        ``data_nets`` (``qsq_tc_<id>``): the clock edges at which the net differs from the
        previous edge's value (zero delay), or, ``timed``, every change of its value between 0
        and 1 (glitches included; with the cells' delays no net changes twice at one time)."""
        base = MappedNetlist.to_verilog(self, name).rstrip()
        body = base[:-len("endmodule")].rstrip("\n").split("\n")

        def ref(v) -> str:
            return f"n{v}" if isinstance(v, int) else {"1": "1'b1"}.get(v, "1'b0")

        def vec(bits) -> str:
            return "{" + ", ".join(ref(b) for b in reversed(bits)) + "}"

        for k, m in enumerate(self.memories):
            mid = f"qsq_mem{k}"
            body.append(f"  // memory {m.name}: {m.size} x {m.width} bits")
            body.append(f"  reg [{m.width - 1}:0] {mid} [0:{m.size - 1}];")
            body.append(f"  integer {mid}_i;")
            body.append(f"  initial for ({mid}_i = 0; {mid}_i < {m.size}; {mid}_i = {mid}_i + 1) "
                        f"{mid}[{mid}_i] = 0;")
            if any(m.init):
                body.append("  initial begin")
                body += [f"    {mid}[{i}] = {m.width}'h{w:x};" for i, w in enumerate(m.init) if w]
                body.append("  end")
            for j, p in enumerate(m.rd):
                q = f"{mid}_rd{j}"
                body.append(f"  reg [{m.width - 1}:0] {q} = 0;")
                body.append(f"  always @(posedge {ref(p['clk'])}) if ({ref(p['en'])}) "
                            f"{q} <= {mid}[{vec(p['addr'])}];")
                body += [f"  assign n{b} = {q}[{i}];" for i, b in enumerate(p["data"])
                         if isinstance(b, int)]
            for p in m.wr:
                body.append(f"  always @(posedge {ref(p['clk'])}) begin")
                for i, (d, e) in enumerate(zip(p["data"], p["en"])):
                    if e != "0":
                        body.append(f"    if ({ref(e)}) {mid}[{vec(p['addr'])}][{i}] <= {ref(d)};")
                body.append("  end")
        clk = ref(self.ports["clk"][1][0])
        for n in data_nets:
            body.append(f"  reg [31:0] qsq_tc_{n} = 0; reg qsq_tp_{n} = 0;")
            if timed:
                body.append(f"  always @(n{n}) begin if ((n{n} === 1'b1) != qsq_tp_{n} && "
                            f"(n{n} === 1'b0 || n{n} === 1'b1)) qsq_tc_{n} = qsq_tc_{n} + 1; "
                            f"qsq_tp_{n} = (n{n} === 1'b1); end")
            else:
                body.append(f"  always @(posedge {clk}) begin qsq_tc_{n} <= qsq_tc_{n} + "
                            f"((n{n} === 1'b1) != qsq_tp_{n}); qsq_tp_{n} <= (n{n} === 1'b1); end")
        body.append("endmodule")
        return "\n".join(body) + "\n"


def engine_asic_synth(verilog: str, top: str, workdir: Path, lib_path: Path, lib: Library,
                      regfiles=()) -> tuple[dict, EngineNetlist]:
    """Map the engine's logic to the library with its memories kept (``regfiles``: memories
    built from cells instead); return (area figures of the cells, netlist)."""
    from .engine_synth import REGFILE_PREFIX

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.v").write_text(verilog)
    shutil.copyfile(lib_path, workdir / _LIB_NAME)
    rf = "".join(f"submod -name {REGFILE_PREFIX}{name} {top}/{name}; " for name in regfiles)
    if regfiles:
        rf += "memory_map " + " ".join(f"{REGFILE_PREFIX}{name}" for name in regfiles) + "; "
    script = (f"read_liberty -lib {_LIB_NAME}; read_verilog design.v; rename -hide w:*[[]*; "
              f"setattr -mod -unset keep_hierarchy; hierarchy -top {top}; proc -norom; "
              f"synth -top {top} -run begin:fine; {rf}opt -fast -full; opt -full; techmap; "
              "opt -fast; flatten; opt_clean -purge; "
              "dfflegalize -cell $_DFF_P_ 01 -cell $_DFF_N_ 01 -cell $_DLATCH_P_ 01; "
              f"dfflibmap -liberty {_LIB_NAME}; abc -liberty {_LIB_NAME}; opt_clean -purge; "
              f"setundef -zero; tee -q -o stat.txt stat -liberty {_LIB_NAME}; "
              "write_json mapped.json")
    run_tool("yosys", ["-q", "-l", "yosys_asic.log", "-p", script], workdir, "yosys_asic.out",
             timeout=3600)
    (workdir / _LIB_NAME).unlink()
    nl = EngineNetlist.from_engine_json(json.loads((workdir / "mapped.json").read_text()), top,
                                        lib)
    by_type: dict[str, int] = {}
    for _, typ, _ in nl.cells:
        by_type[typ] = by_type.get(typ, 0) + 1
    area = {"area_um2": sum(lib.cells[t].area * n for t, n in by_type.items()),
            "seq_area_um2": sum(lib.cells[t].area * n for t, n in by_type.items()
                                if lib.cells[t].sequential),
            "cells": len(nl.cells), "flip_flops": sum(n for t, n in by_type.items()
                                                     if t.startswith("DFF")),
            "by_type": dict(sorted(by_type.items())),
            "memories": {m.name: [m.size, m.width] for m in nl.memories}}
    return area, nl


class _Counters:
    """What :func:`hw.flow.engine_energy._testbench` needs of a netlist: its ports and the
    hierarchical names of the counters it snapshots."""

    def __init__(self, ports: dict, nets: list[int]):
        self.ports = ports
        self.nets = nets

    def counter_names(self):
        return [("toggles", f"n{n}", f"qsq_tc_{n}") for n in self.nets]


def simulate_engine_mapped(nl: EngineNetlist, images_q: np.ndarray, setting: list[int],
                           expected: np.ndarray, workdir: Path, cells_v: Path, *,
                           layer_bits: int, cycles: int, timed: bool = False,
                           period: int = 10) -> dict:
    """Simulation of the mapped engine over ``images_q`` at one truncation ``setting`` (zero
    delay, or ``timed`` with the cells' specify delays and a clock of ``period`` ns); logits
    checked against ``expected`` (``(images, classes)``), every inference's cycles against
    ``cycles``. Returns per-net toggles per inference (mean over the images)."""
    from .engine_energy import EngineEnergyError, _testbench

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    clk = nl.ports["clk"][1][0]
    nets = sorted(n for n in nl.nets() if n != clk)
    images_q = np.asarray(images_q)
    n_img, n_pix = images_q.shape
    n_cls = expected.shape[-1]
    coded = "config__payload" in nl.ports
    (workdir / "pixels.hex").write_text("\n".join(f"{int(v) & 0xff:02x}"
                                                  for v in images_q.reshape(-1)) + "\n")
    module = "qsq_asic_engine"
    (workdir / "netlist_sim.v").write_text(nl.sim_verilog(module, nets, timed))
    tb = _testbench(_Counters(nl.ports, nets), module, n_img, n_pix, n_cls,
                    [list(map(int, setting))], layer_bits, coded)
    # One $fwrite per counter: Icarus's scanner refuses a source line of thousands of arguments.
    start = tb.index("  task snapshot(input integer tag);")
    end = tb.index("  endtask", start) + len("  endtask")
    snap = ["  task snapshot(input integer tag);", "    begin",
            '      $fwrite(f, "S %0d %0d %0d %0d", tag, s, i, cyc);']
    snap += [f'      $fwrite(f, " %0d", u.qsq_tc_{n});' for n in nets]
    snap += ['      $fwrite(f, "\\n");', "    end", "  endtask"]
    tb = tb[:start] + "\n".join(snap) + tb[end:]
    half = period // 2
    if period % 2 or half < 5:
        raise ValueError(f"period must be an even number of ns, at least 10, not {period!r}")
    tb = tb.replace("always #5 clk = ~clk;", f"always #{half} clk = ~clk;")
    if f"always #{half} clk" not in tb:
        raise AsicError("the engine testbench's clock line was not found")
    (workdir / "tb.v").write_text(tb)
    flags = ["-gspecify", "-Ttyp"] if timed else []
    run_tool("iverilog", ["-g2012", *flags, "-o", "tb.vvp", "-s", "qsq_engine_energy_tb", "tb.v",
                          "netlist_sim.v", str(cells_v)], workdir, "iverilog.log", timeout=3600)
    run_tool("vvp", ["-n", "tb.vvp"], workdir, "vvp.log", timeout=4 * 3600)
    logits = np.full((n_img, n_cls), np.iinfo(np.int64).min, dtype=np.int64)
    count = np.zeros(n_img, dtype=np.int64)
    snaps = {}
    for ln in (workdir / "energy.txt").read_text().splitlines():
        f = ln.split()
        if not f:
            continue
        if f[0] == "L":
            _, i, k, v = map(int, f[1:5])
            if k < n_cls:
                logits[i, k] = v
            count[i] += 1
        elif f[0] == "S":
            snaps[(int(f[3]), int(f[1]))] = np.array([int(x) for x in f[4:]], dtype=np.int64)
        elif f[0] == "E":
            raise EngineEnergyError(f"image {f[2]}: {f[3]} logits, not {n_cls}")
    per = []
    for i in range(n_img):
        if count[i] != n_cls or (i, 0) not in snaps or (i, 1) not in snaps:
            raise EngineEnergyError(f"{workdir}: image {i}: {count[i]} logits of {n_cls}, or no "
                                    f"counter snapshots")
        if not np.array_equal(logits[i], expected[i]):
            raise EngineEnergyError(f"mapped-engine logits of image {i} at truncation "
                                    f"{list(setting)} are {logits[i].tolist()}, golden model "
                                    f"{expected[i].tolist()} ({workdir})")
        d = snaps[(i, 1)] - snaps[(i, 0)]
        if d[0] != cycles:
            raise EngineEnergyError(f"{workdir}: image {i} took {d[0]} cycles, predicted {cycles}")
        per.append(d[1:])
    mean = np.mean(per, axis=0)
    return {"toggles": {n: float(v) for n, v in zip(nets, mean)}, "cycles": cycles,
            "images": n_img}


def measure_engine(style: str, lanes: int, setting: list[int], images: int, workdir: Path,
                   clock_mhz: float, workload: str = "digits", glitch: bool = False) -> dict:
    """Area, fmax, and logic energy per inference of one engine on the OSU 0.18 um cells.

    Raises
    ------
    EngineEnergyError
        If the mapped engine's logits differ from the golden model.
    """
    from hw.engine.workloads import golden_logits
    from hw.engine.workloads import workload as get_workload

    from .engine_designs import EngineDesign

    t0 = time.perf_counter()
    d = EngineDesign(workload, style, lanes)
    work = Path(workdir)
    lib_path, cells_v = find_liberty()
    lib = read_liberty(lib_path)
    area, nl = engine_asic_synth(d.verilog(), "qsq_engine", work, lib_path, lib, d.regfiles())
    sta_nl = nl.sta_netlist()
    (work / "netlist.v").write_text(sta_nl.to_verilog())
    ins = [n for n, (di, _, _) in sta_nl.ports.items() if di == "input"]
    outs = [n for n, (di, _, _) in sta_nl.ports.items() if di != "input"]
    write_sdc(work / "design.sdc", lib, ins, outs)
    clock_ns = 1e3 / clock_mhz
    sta = run_sta(work, "qsq_engine", lib_path, check_period=clock_ns)
    t_sta = time.perf_counter()
    wl = get_workload(workload)
    exp = golden_logits(wl, d.pe, setting, np.arange(images))
    sim = simulate_engine_mapped(nl, wl.quantized_images(d.pe)[:images], setting, exp,
                                 work / f"sim-t{'-'.join(map(str, setting))}", cells_v,
                                 layer_bits=d.program().widths["layer"],
                                 cycles=d.inference_cycles)
    pm = PowerModel(lib, sta_nl, sta["pins"], lib.cells["DFFPOSX1"].pins["D"].load)
    cyc = sim["cycles"]
    clk_net = nl.ports["clk"][1][0]

    def act(key, net):            # transitions per cycle
        if net == clk_net:
            return 2.0
        return sim["toggles"].get(net, 0.0) / cyc if isinstance(net, int) else 0.0

    p_clk = pm.power(act, clock_ns)
    p_fmax = pm.power(act, sta["min_period_ns"])
    t_sim = time.perf_counter()
    timed = {}
    if glitch:
        import math

        # a clock every path meets (the reset's unbuffered fanout included), in even ns
        period = max(10, 2 * math.ceil(0.6 * sta["min_period_ns"]))
        tsim = simulate_engine_mapped(nl, wl.quantized_images(d.pe)[:images], setting, exp,
                                      work / f"sim-timed-t{'-'.join(map(str, setting))}",
                                      cells_v, layer_bits=d.program().widths["layer"],
                                      cycles=d.inference_cycles, timed=True, period=period)

        def act_t(key, net):
            if net == clk_net:
                return 2.0
            return tsim["toggles"].get(net, 0.0) / cyc if isinstance(net, int) else 0.0

        pt = pm.power(act_t, clock_ns)
        timed = {"energy_per_inference_nj_timed": pt["energy_per_cycle_pj"] * cyc * 1e-3,
                 "data_toggles_per_cycle": sum(sim["toggles"].values()) / cyc,
                 "data_toggles_per_cycle_timed": sum(tsim["toggles"].values()) / cyc,
                 "timed_period_ns": period}
    t_end = time.perf_counter()
    return {"key": d.key, "style": style, "lanes": lanes, "setting": list(setting),
            "images": images, "cycles": cyc, "area": area,
            "sta": {k: v for k, v in sta.items() if k != "pins"},
            "energy_per_inference_nj": p_clk["energy_per_cycle_pj"] * cyc * 1e-3,
            "power_clock_mw": p_clk["total_w"] * 1e3, "power_fmax_mw": p_fmax["total_w"] * 1e3,
            "clock_tree_mw": p_clk["clock_w"] * 1e3, "leakage_uw": p_clk["leakage_w"] * 1e6,
            "inferences_per_s_fmax": sta["fmax_mhz"] * 1e6 / cyc, **timed,
            "seconds": {"map_sta": t_sta - t0, "sim": t_sim - t_sta, "sim_timed": t_end - t_sim}}
