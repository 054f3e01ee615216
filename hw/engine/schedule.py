"""Cycle model of the engine: what one inference costs, cycle for cycle.

The RTL is deterministic -- no cycle depends on data -- so the compiler can predict the cycles of
every layer exactly from the program and the pipeline constants that the RTL units report as
properties (:attr:`hw.engine.top.QSQEngine.timing`). The testbench measures the same quantities
and requires equality.

Per layer (``L_g`` = valid lanes of group ``g``, ``K_n`` = issued taps of output ``n``)::

    start  = 3                                   descriptor address, data, sequencer start
    groups = sum_g [lanes if scale loads]        multiplier PE: one scale load per lane
    output n: 1 set-up cycle, then its taps; its last tap issues at
              e_n = max(setup_n + K_n, e_{n-1} + r * L_{n-1})   (the post-processing unit reads
              one lane every r = rate cycles and must be done with output n-1's lanes)
    drain  = pe + r * L_last + post              pipeline + last lanes + post-processing

and ``compute = sum of layers + 2`` (the first logit is valid two cycles after the last layer's
drain). Loading takes one cycle per pixel and the logits one cycle each when the streams never
stall.
"""

from __future__ import annotations

from .program import EngineProgram, LayerPlan, positions, taps

__all__ = ["layer_cycles", "compute_cycles", "inference_cycles", "cycle_table"]


def layer_cycles(p: LayerPlan, timing: dict) -> dict:
    """Cycles of one layer, from its descriptor read to the end of its drain, and their parts."""
    lanes = p.lanes
    cur = timing["desc"]
    prev_e, prev_l = None, 0
    tap_cycles = stall = setup = loads = 0
    for g in range(p.G):
        if timing["scale_loads"]:
            cur += lanes
            loads += lanes
        lg = p.group_lanes(g)
        for y, x, *_ in positions(p):
            k_n = taps(p, y, x)
            e = cur + k_n
            if prev_e is not None and e < prev_e + prev_l:
                stall += prev_e + prev_l - e
                e = prev_e + prev_l
            setup += 1
            tap_cycles += k_n
            prev_e, prev_l = e, lg * timing["rate"]
            cur = e + 1
    drain = timing["pe"] + p.lanes_last * timing["rate"] + timing["post"]
    total = cur + drain
    return {"layer": p.name, "cycles": total, "taps": tap_cycles, "setup": setup, "stall": stall,
            "scale_loads": loads, "overhead": timing["desc"] + drain,
            "macs": p.F * p.K * p.Ho * p.Wo}


def compute_cycles(prog: EngineProgram, timing: dict) -> int:
    """Cycles from the last pixel's transfer to the first valid logit."""
    return sum(layer_cycles(p, timing)["cycles"] for p in prog.layers) + 2


def inference_cycles(prog: EngineProgram, timing: dict) -> int:
    """Whole inference with streams that never stall: pixels, compute, logits."""
    return prog.input_size + compute_cycles(prog, timing) + prog.classes


def cycle_table(prog: EngineProgram, timing: dict) -> list[dict]:
    """:func:`layer_cycles` for every layer, plus MAC utilisation (``macs / (lanes * cycles)``)."""
    rows = []
    for p in prog.layers:
        r = layer_cycles(p, timing)
        r["utilisation"] = r["macs"] / (prog.config.lanes * r["cycles"])
        rows.append(r)
    return rows
