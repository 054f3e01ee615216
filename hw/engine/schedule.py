"""Cycle model of the engine: what one inference costs, cycle for cycle.

The RTL is deterministic -- no cycle depends on data -- so the compiler can predict the cycles of
every layer exactly from the program and the pipeline constants that the RTL units report as
properties (:attr:`hw.engine.top.QSQEngine.timing`). The testbench measures the same quantities
and requires equality.

Per layer (``L_g`` = valid lanes of group ``g``, ``K_n`` = issued taps of issue ``n``)::

    start  = 3                                   descriptor address, data, sequencer start
    groups = sum_g [lanes if scale loads]        multiplier PE: one scale load per lane
    issue n (one output position, or two with weight reuse; O_n outputs):
              s set-up cycles (1; the FPGA builds 2), then its taps K_n; its last tap issues at
              e_n = max(setup_n + K_n, e_{n-1} + r * O_{n-1} * L_{n-1})   (the post-processing
              unit reads one lane output every r = rate cycles and must be done with issue n-1's)
    drain  = pe + r * O_last * L_last + post     pipeline + last outputs + post-processing

and ``compute = sum of layers + 2`` (the first logit is valid two cycles after the last layer's
drain). Loading takes one cycle per pixel and the logits one cycle each when the streams never
stall.
"""

from __future__ import annotations

from .program import EngineProgram, LayerPlan, issues, positions, taps

__all__ = ["layer_cycles", "compute_cycles", "inference_cycles", "cycle_table", "memory_traffic",
           "MEMORY_NAMES"]

#: The engine's memories (RTL names) and the :meth:`~hw.engine.program.EngineProgram.memory_bits`
#: entry each holds.
MEMORY_NAMES = {"weight_mem": "weights", "act_mem": "activations", "bias_mem": "biases",
                "scale_mem": "scales", "desc_mem": "descriptors", "logit_mem": "logits"}


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
        for _, _, k_n, outs in issues(p):
            e = cur + timing["setup"] - 1 + k_n    # cur: the issue's first set-up cycle
            if prev_e is not None and e < prev_e + prev_l:
                stall += prev_e + prev_l - e
                e = prev_e + prev_l
            setup += timing["setup"]
            tap_cycles += k_n
            prev_e, prev_l = e, len(outs) * lg * timing["rate"]
            cur = e + 1
    last_outs = len(list(issues(p))[-1][3])
    drain = timing["pe"] + last_outs * p.lanes_last * timing["rate"] + timing["post"]
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


def memory_traffic(prog: EngineProgram, timing: dict) -> dict:
    """Accesses of every memory in one inference, as the RTL makes them; a read port reads only
    when its word is used.

    Per memory (RTL name, :data:`MEMORY_NAMES`): ``reads`` and ``writes`` (word accesses),
    ``width`` (bits per word, as built) and ``read_bits``/``write_bits``:

    * ``weight_mem``: one read per issued tap (:func:`~hw.engine.program.issues`: with weight
      reuse one tap serves two output positions), per group;
    * ``act_mem``: one read per tap of every output (a pair's two positions each read their own,
      through two read ports); written once per pixel and once per stored output value
      (``F x PH x PW`` of every layer but the last);
    * ``bias_mem``: one read per lane and output (valid lanes only), the post-processing unit
      holding it while it works on the lane;
    * ``scale_mem``: bucket PE as the biases; multiplier PE one read per lane of every group (the
      scale loads); no scale memory in the INT8 engine;
    * ``desc_mem``: one read per layer (held in the layer registers);
    * ``logit_mem``: one write and one read per class.
    """
    from .descriptor import descriptor_layout

    cfg = prog.config
    taps_total = outputs = loads = 0
    words = 0
    for p in prog.layers:
        per_group = sum(taps(p, y, x) for y, x, *_ in positions(p))
        taps_total += p.G * per_group
        words += p.G * sum(k for _, _, k, _ in issues(p))
        outputs += p.F * p.outputs
        loads += p.G * p.lanes
    stored = sum(p.F * p.out_plane for p in prog.layers if not p.last)
    w = prog.widths
    out = {
        "weight_mem": (words, 0, prog.weight_bits),
        "act_mem": (taps_total, prog.input_size + stored, 8),
        "bias_mem": (outputs, 0, w["bias"]),
        "desc_mem": (len(prog.layers), 0, descriptor_layout(prog).size),
        "logit_mem": (prog.classes, prog.classes, 32),
    }
    if cfg.pe == "bucket":
        out["scale_mem"] = (outputs, 0, prog.codec.scale_bits)
    elif cfg.pe == "multiplier":
        out["scale_mem"] = (loads if timing["scale_loads"] else outputs, 0, prog.codec.scale_bits)
    return {name: {"reads": r, "writes": wr, "width": width, "read_bits": r * width,
                   "write_bits": wr * width} for name, (r, wr, width) in out.items()}
