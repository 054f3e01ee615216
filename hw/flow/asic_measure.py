"""One multiplier through the ASIC flow: every figure of ``qsq asic`` for one design.

:func:`measure_design` maps it (:func:`hw.flow.asic.asic_synth`), writes its SDC, runs OpenSTA
(fmax, critical path, pin slews), simulates the mapped netlist on the report's stimulus sets
(zero delay, and timed for the glitch comparison; products checked against the golden model),
and evaluates the liberty power (:class:`hw.flow.asic.PowerModel`) at the STA fmax and at the
common clock, with OpenSTA's own vectorless estimate beside it. This module and the ones it calls
decide the numbers: their source enters the cache key (:func:`flow_digest`).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

from golden_model.config import check_int

from .designs import Design

__all__ = ["AsicOptions", "measure_design", "flow_digest", "ASIC_VERSION"]

#: Bumped whenever a change to the flow changes its numbers (invalidates the cache).
ASIC_VERSION = 1


@dataclass(frozen=True)
class AsicOptions:
    """Parameters of an ASIC run.

    Parameters
    ----------
    ops : int
        Operations per stimulus segment (one per clock cycle) in the gate-level simulations.
    seed : int
        Stimulus seed (the report's stimulus sets, :func:`hw.flow.stimuli.make_stimulus`).
    stimuli : tuple of str
        Stimulus sets.
    clock_mhz : float
        The common clock of the power table (every design at the same frequency).
    glitch : bool
        Also simulate with the cells' delays (``-gspecify``) and report timed toggles and power.
    traces : str or None
        Network trace archive, needed only for the ``trace-*`` stimulus sets.
    """

    ops: int = 1000
    seed: int = 1
    stimuli: tuple = ("uniform", "stream", "ws")
    clock_mhz: float = 100.0
    glitch: bool = True
    traces: str | None = None

    def check(self) -> "AsicOptions":
        from .stimuli import STIMULI

        check_int("--ops", self.ops, 16, 1_000_000)
        check_int("--seed", self.seed, 0, 2**31 - 1)
        if not isinstance(self.clock_mhz, (int, float)) or not 0.1 <= self.clock_mhz <= 5000:
            raise ValueError(f"--clock-mhz must be a frequency in [0.1, 5000] MHz, "
                             f"not {self.clock_mhz!r}")
        known = STIMULI + ("trace-stream", "trace-ws")
        if not self.stimuli:
            raise ValueError("--stimuli must name at least one stimulus set, not ''")
        for s in self.stimuli:
            if s not in known:
                raise ValueError(f"--stimuli must name sets among {', '.join(known)}, not {s!r}")
        if any(s.startswith("trace-") for s in self.stimuli) and not (
                self.traces and Path(self.traces).is_file()):
            raise ValueError(f"--stimuli with trace sets needs --traces FILE (an existing trace "
                             f"archive, from `qsq evaluate`), not {self.traces!r}")
        return self


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def flow_digest() -> str:
    """Hash of the source that decides the numbers (this module, the flow steps, the liberty
    reader, the stimuli, the VCD reader) and of the SDC template."""
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in ("asic.py", "asic_measure.py", "liberty.py", "stimuli.py", "vcd.py",
                 "activity.py"):
        h.update((here / name).read_bytes())
    from .asic import SDC_TEMPLATE
    h.update(SDC_TEMPLATE.read_bytes())
    return h.hexdigest()


def _segments(d: Design, opts: AsicOptions) -> list:
    from .stimuli import design_segments

    return design_segments(d, opts.stimuli, opts.ops, opts.seed, opts.traces)


def _sim_period(min_period_ns: float) -> int:
    """Clock period of the gate-level simulations (ns, even): 10 ns, or longer for a design whose
    paths need it (the timed simulation must meet timing to compute the right products)."""
    return max(10, 2 * math.ceil(0.75 * min_period_ns))


def _power_rows(pm, sim: dict, segs: list, sta: dict, clock_ns: float, nets_clock: set) -> list:
    rows = []
    for k, seg in enumerate(segs):
        ops = sim["ops"][k]
        tog = sim["toggles"]

        def act(key, net, k=k, ops=ops):
            if not isinstance(net, int):
                return 0.0
            return tog[net][k] / ops

        at_fmax = pm.power(act, sta["min_period_ns"])
        at_clk = pm.power(act, clock_ns)
        data = sum(c[k] for n, c in tog.items() if n not in nets_clock) / ops
        clk = sum(c[k] for n, c in tog.items() if n in nets_clock) / ops
        rows.append({"stimulus": seg.stimulus, "t": seg.t, "ops": ops,
                     "data_toggles": data, "clock_toggles": clk,
                     "power_fmax_mw": at_fmax["total_w"] * 1e3,
                     "power_clock_mw": at_clk["total_w"] * 1e3,
                     "clock_tree_mw": at_clk["clock_w"] * 1e3,
                     "leakage_uw": at_clk["leakage_w"] * 1e6,
                     "energy_pj": at_clk["energy_per_cycle_pj"],
                     "energy_fmax_pj": at_fmax["energy_per_cycle_pj"]})
    return rows


def measure_design(d: Design, opts: AsicOptions, workdir: Path) -> dict:
    """Every ASIC figure of one multiplier design (JSON-able). See the module docstring.

    Raises
    ------
    AsicError
        If the mapped netlist's products differ from the golden model.
    ToolError
        If a tool is missing or fails.
    """
    from .asic import (PowerModel, asic_synth, find_liberty, run_sta, simulate_mapped,
                       sta_vectorless_power, write_sdc)
    from .liberty import read_liberty

    if not d.is_multiplier:
        raise ValueError(f"design must be a multiplier, not {d.key!r}")
    t0 = time.perf_counter()
    lib_path, cells_v = find_liberty()
    lib = read_liberty(lib_path)
    work = Path(workdir)
    area, nl = asic_synth(d.verilog(), d.top, work, lib_path, lib)
    (work / "netlist.v").write_text(nl.to_verilog())
    ins = [n for n, (di, _, _) in nl.ports.items() if di == "input"]
    outs = [n for n, (di, _, _) in nl.ports.items() if di != "input"]
    write_sdc(work / "design.sdc", lib, ins, outs)
    clock_ns = 1e3 / opts.clock_mhz
    sta = run_sta(work, d.top, lib_path, check_period=clock_ns)
    out_load = lib.cells["DFFPOSX1"].pins["D"].load
    pm = PowerModel(lib, nl, sta["pins"], out_load)
    check = PowerModel(lib, nl, sta["pins"], out_load, "sta-2.0.17").uniform(
        sta["uniform_activity"], clock_ns)["total_w"]
    clock_nets = {pm.net_of[k] for k in pm.clock if isinstance(pm.net_of[k], int)}
    t_sta = time.perf_counter()
    segs = _segments(d, opts)
    period = _sim_period(sta["min_period_ns"])
    zero = simulate_mapped(nl, segs, work / "sim-zero", d.latency, cells_v, period=period)
    rows = _power_rows(pm, zero, segs, sta, clock_ns, clock_nets)
    vectorless = sta_vectorless_power(work, d.top, lib_path, nl, zero,
                                      {"fmax": sta["min_period_ns"], "clock": clock_ns})
    for r, v in zip(rows, vectorless):
        r["sta_vectorless_fmax_mw"] = v["fmax"] * 1e3
        r["sta_vectorless_clock_mw"] = v["clock"] * 1e3
    t_zero = time.perf_counter()
    if opts.glitch:
        timed = simulate_mapped(nl, segs, work / "sim-timed", d.latency, cells_v, timed=True,
                                period=period)
        for r, rt in zip(rows, _power_rows(pm, timed, segs, sta, clock_ns, clock_nets)):
            r.update({f"{k}_timed": rt[k] for k in ("data_toggles", "clock_toggles",
                                                    "power_fmax_mw", "power_clock_mw",
                                                    "energy_pj")})
    t_end = time.perf_counter()
    return {"key": d.key, "area": area,
            "sta": {k: v for k, v in sta.items() if k != "pins"},
            "sta_check": {"sta_w": sta["sta_power_w"], "liberty_w": check,
                          "rel": check / sta["sta_power_w"] - 1.0},
            "sim_period_ns": period, "power": rows,
            "seconds": {"map_sta": t_sta - t0, "sim_zero": t_zero - t_sta,
                        "sim_timed": t_end - t_zero, "total": t_end - t0}}
