"""Engine benchmark (``make bench-engine``): cycles, utilisation, multiplies, memory -- measured.

For every PE style and lane count it compiles the committed digits LeNet, simulates the RTL on
test images (Verilator) through the checking bench of ``sim/tb_engine.py`` -- so every number below
comes from a run whose logits were bit-exact and whose cycles equalled the prediction -- and prints:

* compute cycles per inference (measured in simulation), cycles per inference with loading the
  pixels and reading the logits, and MAC utilisation ``MACs / (lanes x compute cycles)`` where MACs
  are the network's im2col multiply-accumulates (the engine skips padding taps, so it can exceed 1);
  conv-layer utilisation: the multiply-accumulates the conv layers really need (filters x
  non-padding taps) per lane-cycle of those layers, from the cycle model (at most 1);
* multiplies per inference (bucket: ``M`` per output; others: one per issued MAC) and the ratio to
  the multiplier engine's;
* weight-memory bits of the compiled engine and their ratio to the INT8 engine's, from the
  compiled memory images;
* simulation speed (inferences per wall-clock second of Verilator; machine-dependent).

The table is printed and written to ``build/engine/bench.md`` / ``.json``.

    python -m sim.bench_engine [--lanes 4,8,16,32] [--pe bucket,multiplier,int8] [--images 16]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from golden_model.tables import markdown_table

from .common import REPO
from golden_model.fileio import atomic_write_text


def _list(kind):
    def parse(text):
        try:
            vals = [kind(v) for v in text.split(",") if v]
        except ValueError:
            raise argparse.ArgumentTypeError(f"a comma-separated list, not {text!r}") from None
        if not vals:
            raise argparse.ArgumentTypeError("an empty list")
        return vals
    return parse


def measure(pe: str, lanes: int, images: int, recode: str = "filter") -> dict:
    """Compile, simulate and measure one engine configuration (see the module notes)."""
    from hw.engine.compile import manifest
    from hw.engine.config import EngineConfig
    from hw.engine.program import compile_program, positions, taps
    from hw.engine.schedule import cycle_table
    from hw.engine.top import engine_timing
    from hw.engine.workloads import workload

    from . import tb_engine

    wl = workload("digits")
    cfg = EngineConfig(lanes=lanes, pe=pe, recode=recode)
    prog = compile_program(wl.model(pe), cfg)
    timing = engine_timing(prog)
    man = manifest(prog, timing)
    start = time.perf_counter()
    summary = tb_engine.run(workload="digits", pe=pe, lanes=lanes, recode=recode, truncs=(0,),
                            images=images)
    wall = time.perf_counter() - start
    bench = json.loads((_out_dir(summary) / "bench.json").read_text())
    measured = bench["compute_cycles"]
    if len(measured) != 1:
        raise RuntimeError(f"{cfg.tag()}: compute cycles vary between images: {measured}")
    compute = measured[0]
    rows = cycle_table(prog, timing)
    conv = [(r, p) for r, p in zip(rows, prog.layers) if p.kind == "conv"]
    # lane-MACs a conv layer really needs: its filters x the non-padding taps of every output
    issued = sum(p.F * sum(taps(p, y, x) for y, x, *_ in positions(p)) for _, p in conv)
    conv_cycles = sum(r["cycles"] for r, _ in conv)
    return {
        "pe": pe if pe != "multiplier" else f"multiplier ({recode})", "lanes": lanes,
        "compute_cycles": compute, "predicted": man["cycles"]["compute"],
        "inference_cycles": prog.input_size + compute + prog.classes,
        "mac_utilisation": prog.macs() / (lanes * compute),
        "conv_issue_utilisation": issued / (lanes * conv_cycles),
        "multiplies": man["multiplies"], "accumulations": man["accumulations"],
        "weight_bits": man["memories"]["weights"]["bits"], "int8_weight_bits": man["int8_weight_bits"],
        "weight_vs_int8": man["weight_bits_vs_int8"],
        "sim_inferences_per_s": summary["vectors"] / summary["sim_seconds"] if summary["sim_seconds"] else 0,
        "wall_seconds": wall,
    }


def _out_dir(summary: dict) -> Path:
    from .common import build_root
    return build_root(summary["sim"]) / summary["tag"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lanes", type=_list(int), default=[4, 8, 16, 32])
    p.add_argument("--pe", type=_list(str), default=["bucket", "multiplier", "int8"])
    p.add_argument("--images", type=int, default=16, help="test images simulated per configuration")
    p.add_argument("--out", default=str(REPO / "build" / "engine" / "bench"))
    args = p.parse_args(argv)
    from hw.engine.config import PE_STYLES, EngineConfig
    for pe in args.pe:
        if pe not in PE_STYLES:
            p.error(f"--pe: each must be one of {PE_STYLES}, not {pe!r}")
    for lanes in args.lanes:
        try:
            EngineConfig(lanes=lanes)
        except (TypeError, ValueError) as exc:
            p.error(f"--lanes: {exc}")
    if args.images < 1:
        p.error(f"--images must be at least 1, not {args.images}")
    rows = []
    configs = [(pe, n) for pe in args.pe for n in args.lanes]
    for i, (pe, lanes) in enumerate(configs, 1):
        print(f"bench-engine: [{i}/{len(configs)}] {pe}, {lanes} lanes ...", flush=True)
        r = measure(pe, lanes, args.images)
        print(f"  {r['compute_cycles']} compute cycles (predicted {r['predicted']}), "
              f"{r['sim_inferences_per_s']:.1f} simulated inferences/s", flush=True)
        rows.append(r)
    mult = {r["lanes"]: r["multiplies"] for r in rows if r["pe"].startswith("multiplier")}
    headers = ["PE", "lanes", "compute cycles", "cycles/inference", "MAC util.", "conv issue util.",
               "multiplies", "vs multiplier PE", "weight bits", "vs INT8", "sim inferences/s"]
    table = [[r["pe"], r["lanes"], r["compute_cycles"], r["inference_cycles"],
              f"{r['mac_utilisation']:.3f}", f"{r['conv_issue_utilisation']:.3f}", r["multiplies"],
              f"{r['multiplies'] / mult[r['lanes']]:.3f}" if r["lanes"] in mult else "–",
              r["weight_bits"], f"{r['weight_vs_int8']:.3f}", f"{r['sim_inferences_per_s']:.1f}"]
             for r in rows]
    text = markdown_table(headers, table)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.with_suffix(".md"), 
        "# Engine benchmark (digits LeNet, measured in simulation)\n\n" + text + "\n")
    atomic_write_text(out.with_suffix(".json"), json.dumps(rows, indent=1) + "\n")
    print(f"bench-engine: wrote {out.with_suffix('.md')} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
