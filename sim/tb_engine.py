"""cocotb testbench of the inference engine ``qsq_engine`` (:class:`hw.engine.top.QSQEngine`).

The runner compiles a workload (:mod:`hw.engine.workloads`) for one engine configuration, computes
the expected logits with the PE style's own golden path and the predicted cycles with
:mod:`hw.engine.schedule`, and passes them to the simulation in ``expected.npz``. The bench:

* **driver** -- writes each layer's truncation level through the ``config`` stream (waiting for
  ``ready``), then streams an image's pixels, with random gaps in ``valid`` when asked, counting a
  pixel as sent only on ``valid & ready`` at a rising edge;
* **monitor** -- takes logits on ``valid & ready`` at rising edges, with a random ``ready``
  (back-pressure) when asked, and records the cycle of the last pixel and of the first valid logit;
* **checker** -- every logit equal to the golden model's, as many as classes, in class order (no
  drop, no duplicate), ``cls`` equal to the first maximum, ``done`` exactly once per inference, the
  cycles from the last pixel to the first logit equal to the prediction, no X/Z on any output
  after reset, and -- when asked -- a reset in the middle of an inference (during loading, compute
  or output) that leaves the engine idle and ready for a correct next inference;
* **the README's cycle convention** -- an inference occupies manifest ``cycles.total - 1`` clock
  cycles, from the cycle whose rising edge transfers the first pixel to the cycle in which ``done``
  is 1, both counted, plus one cycle per pixel gap and per refused logit (``valid`` and not
  ``ready``); and ``cls`` changes only one cycle before an inference's first logit is offered
  (``logits.valid`` rises), to that inference's class (or at a reset, to 0).

Simulators: Verilator by default for this bench (``$QSQ_ENGINE_SIM``, or ``--sim``), Icarus works.
Run on its own: ``python -m sim.tb_engine --help``.
"""

from __future__ import annotations

import time

import numpy as np

try:
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
    from cocotb.utils import get_sim_time
except ImportError:  # the runner side only needs the pure-Python parts
    cocotb = None

MODULE = "qsq_engine"
PERIOD_NS = 10
OUTPUTS = ("pixels__ready", "logits__valid", "logits__payload", "cls", "done", "busy")


# ----------------------------------------------------------------------------- cocotb test
if cocotb is not None:
    def _resolved(dut) -> list[str]:
        bad = [n for n in OUTPUTS if not getattr(dut, n).value.is_resolvable]
        if hasattr(dut, "config__ready") and not dut.config__ready.value.is_resolvable:
            bad.append("config__ready")
        return bad

    async def _reset(dut, cycles: int = 2):
        dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.rst.value = 0

    async def _write_trunc(dut, levels, layer_bits: int):
        """Driver: one ``config`` transfer per layer."""
        for layer, t in enumerate(levels):
            await FallingEdge(dut.clk)
            dut.config__payload.value = layer | (int(t) << layer_bits)
            dut.config__valid.value = 1
            while True:
                await RisingEdge(dut.clk)
                if int(dut.config__ready.value):
                    break
        await FallingEdge(dut.clk)
        dut.config__valid.value = 0

    async def _send(dut, pixels, rng, gap: float, stop_after=None, first_out=None) -> float:
        """Driver: stream ``pixels``; return the time of the last transfer (ns). ``first_out``
        (a list) receives the time of the first transfer."""
        i = 0
        last = None
        while i < len(pixels):
            await FallingEdge(dut.clk)
            offer = not (gap and rng.random() < gap)
            dut.pixels__valid.value = int(offer)
            dut.pixels__payload.value = int(pixels[i])
            await RisingEdge(dut.clk)
            if offer and int(dut.pixels__ready.value):
                i += 1
                last = get_sim_time(unit="ns")
                if i == 1 and first_out is not None:
                    first_out.append(last)
                if stop_after is not None and i >= stop_after:
                    break
        await FallingEdge(dut.clk)
        dut.pixels__valid.value = 0
        return last

    async def _watch_cls(dut, changes: list):
        """Monitor: the time of every change of ``cls`` (ns) and whether ``rst`` was 1 then."""
        while True:
            await dut.cls.value_change
            changes.append((get_sim_time(unit="ns"), int(dut.rst.value)))

    async def _receive(dut, count: int, rng, ready_p: float, stop_after=None, timing=None):
        """Monitor: wait for the first logit, then take ``count`` logits with random ``ready``.

        Returns ``(logits, first_valid_ns, done_count, cls)``; ``timing`` (a dict) receives
        ``done`` (time of the rising edge that ends the ``done`` cycle, ns) and ``stalls``
        (rising edges with a logit offered and not taken)."""
        if not int(dut.logits__valid.value):
            await RisingEdge(dut.logits__valid)
        first = get_sim_time(unit="ns") + PERIOD_NS     # the cycle with valid = 1 ends here
        got, dones, cls, stalls = [], 0, None, 0
        while len(got) < count:
            await FallingEdge(dut.clk)
            take = ready_p >= 1.0 or rng.random() < ready_p
            dut.logits__ready.value = int(take)
            await RisingEdge(dut.clk)
            if int(dut.done.value):
                dones += 1
                cls = int(dut.cls.value)
                if timing is not None:
                    timing["done"] = get_sim_time(unit="ns")
            if int(dut.logits__valid.value) and not take:
                stalls += 1
            if take and int(dut.logits__valid.value):
                got.append(dut.logits__payload.value.to_signed())
                if stop_after is not None and len(got) >= stop_after:
                    return got, first, dones, cls
        if timing is not None:
            timing["stalls"] = stalls
        # done is 1 in the cycle of the last transfer; watch a few more cycles for a duplicate.
        for k in range(4):
            await FallingEdge(dut.clk)
            dut.logits__ready.value = 1
            if int(dut.logits__valid.value) or int(dut.done.value):
                raise AssertionError("a logit or done after the last logit (duplicate)")
        return got, first, dones, cls

    @cocotb.test()
    async def engine_matches_golden(dut):
        """Every logit, class and cycle count of every inference matches the golden model."""
        from pathlib import Path

        from sim.common import bench_config, write_json

        cfg = bench_config()
        data = np.load(Path(cfg["out_dir"]) / "expected.npz")
        images, expected, truncs = data["images"], data["logits"], data["truncs"]
        predicted = int(data["compute_cycles"])
        total = int(data["total_cycles"])               # manifest cycles.total
        classes = expected.shape[-1]
        rng = np.random.default_rng(cfg["seed"])
        coded = hasattr(dut, "config__valid")
        if coded:
            dut.config__valid.value = 0
        dut.pixels__valid.value = 0
        dut.pixels__payload.value = 0
        dut.logits__ready.value = 0
        Clock(dut.clk, PERIOD_NS, unit="ns").start()
        await _reset(dut, 3)
        await ReadOnly()
        bad = _resolved(dut)
        assert not bad, f"X/Z on outputs after reset: {bad}"
        assert int(dut.busy.value) == 0 and int(dut.pixels__ready.value) == 1
        await FallingEdge(dut.clk)

        cls_changes = []
        cocotb.start_soon(_watch_cls(dut, cls_changes))
        start = time.perf_counter()
        cycles, spans, mismatches, inferences = [], [], [], 0
        resets = list(cfg.get("resets", []))
        for s, levels in enumerate(truncs):
            levels = [int(v) for v in levels]
            if coded:
                await _write_trunc(dut, levels, int(cfg["layer_bits"]))
            for i, px in enumerate(images):
                if resets and resets[0][0] == s * len(images) + i:
                    phase = resets.pop(0)[1]
                    await _interrupted(dut, px, rng, phase, classes)
                    if coded:   # a reset restores the default levels: the host writes them again
                        await _write_trunc(dut, levels, int(cfg["layer_bits"]))
                firsts, timing = [], {}
                n_changes = len(cls_changes)
                t_pix = await _send(dut, px, rng, cfg["pixel_gap"], first_out=firsts)
                gaps = round((t_pix - firsts[0]) / PERIOD_NS) - (len(px) - 1)
                got, first, dones, cls = await _receive(dut, classes, rng, cfg["ready"],
                                                        timing=timing)
                exp = expected[s, i]
                cyc = round((first - t_pix) / PERIOD_NS)
                cycles.append(cyc)
                # README (Cycles): first pixel's cycle to done's cycle, both counted, no stalls.
                span = (round((timing["done"] - firsts[0]) / PERIOD_NS) + 1 - gaps
                        - timing["stalls"])
                spans.append(span)
                if span != total - 1:
                    mismatches.append(f"trunc {levels} image {i}: {span} cycles from the first "
                                      f"pixel to done (stalls excluded), not cycles.total - 1 = "
                                      f"{total - 1}")
                # README (Ports): cls changes one cycle before the first logit is offered.
                valid_rise = first - PERIOD_NS
                for t, in_reset in cls_changes[n_changes:]:
                    if in_reset:
                        continue
                    if not (valid_rise - PERIOD_NS <= t < valid_rise):
                        mismatches.append(f"trunc {levels} image {i}: cls changed "
                                          f"{(valid_rise - t) / PERIOD_NS:g} cycles before the "
                                          f"first logit, not 1")
                inferences += 1
                if list(got) != [int(v) for v in exp]:
                    mismatches.append(f"trunc {levels} image {i}: logits {got} != golden "
                                      f"{[int(v) for v in exp]}")
                if dones != 1:
                    mismatches.append(f"trunc {levels} image {i}: done seen {dones} times")
                if cls != int(np.argmax(exp)):
                    mismatches.append(f"trunc {levels} image {i}: cls {cls} != "
                                      f"{int(np.argmax(exp))}")
                if cyc != predicted:
                    mismatches.append(f"trunc {levels} image {i}: {cyc} compute cycles, "
                                      f"predicted {predicted}")
                if len(mismatches) > 20:
                    break
        seconds = time.perf_counter() - start
        write_json(Path(cfg["out_dir"]) / "bench.json",
                   {"vectors": inferences, "seconds": round(seconds, 3),
                    "vectors_per_s": round(inferences / seconds, 2) if seconds else 0.0,
                    "compute_cycles": sorted(set(cycles)), "predicted": predicted,
                    "inference_cycles": sorted(set(spans)), "total_cycles": total,
                    "cls_changes": len(cls_changes),
                    "mismatches": mismatches[:20]})
        assert not mismatches, "\n".join(mismatches[:20])

    async def _interrupted(dut, px, rng, phase: str, classes: int):
        """Start an inference, reset it in ``phase`` (load/compute/output), check the engine idles."""
        if phase == "load":
            await _send(dut, px, rng, 0.0, stop_after=max(1, len(px) // 2))
        else:
            await _send(dut, px, rng, 0.0)
            if phase == "compute":
                for _ in range(int(rng.integers(5, 200))):
                    await RisingEdge(dut.clk)
            else:
                await _receive(dut, classes, rng, 1.0, stop_after=max(1, classes // 2))
        await _reset(dut, 2)
        await ReadOnly()
        assert not _resolved(dut), "X/Z on outputs after a reset"
        assert int(dut.busy.value) == 0, f"busy after a reset in phase {phase}"
        assert int(dut.logits__valid.value) == 0, f"a logit offered after a reset in phase {phase}"
        assert int(dut.pixels__ready.value) == 1, f"pixels not ready after a reset in phase {phase}"


# ----------------------------------------------------------------------------- runner (pytest side)
def engine_sim(sim: str | None = None) -> str:
    """Simulator of the engine benches: ``sim``, else ``$QSQ_ENGINE_SIM``, else Verilator."""
    import os

    from .common import sim_name

    return sim_name(sim or os.environ.get("QSQ_ENGINE_SIM") or "verilator")


def run(workload: str = "synthetic", pe: str = "bucket", lanes: int = 4, recode: str = "filter",
        gating: str = "enable", truncs=(0,), images: int | None = 8, seed: int = 1,
        ready: float = 1.0, pixel_gap: float = 0.0, resets=(), sim: str | None = None,
        waves: bool | None = None, fault: str | None = None, products: str = "parallel",
        reuse: int = 1, power: str = "lean") -> dict:
    """Compile ``workload`` for one engine, simulate ``images`` test images at every truncation
    setting of ``truncs`` (an int or a per-layer list each), check everything; return the summary.

    ``workload`` is a name of :data:`hw.engine.workloads.WORKLOADS` or a
    :class:`~hw.engine.workloads.Workload` (e.g. :func:`~hw.engine.workloads.file_workload`: a
    network of your own).

    ``ready`` is the probability of ``logits.ready`` per cycle, ``pixel_gap`` that of a cycle
    without a pixel; ``resets`` lists ``(inference index, phase)`` pairs, phase ``load``,
    ``compute`` or ``output``. ``fault`` (bench self-tests only) builds a deliberately wrong
    engine -- ``"bias"``: one bias entry changed in the hardware -- or a wrong prediction --
    ``"cycles"``: one cycle too many -- so the run must fail.
    """
    from hw.engine.compile import engine_verilog, manifest
    from hw.engine.config import EngineConfig
    from hw.engine.program import compile_program
    from hw.engine.schedule import compute_cycles
    from hw.engine.top import engine_timing
    from hw.engine.workloads import Workload, golden_logits, workload as get_workload

    from .common import build_root, run_bench

    wl = workload if isinstance(workload, Workload) else get_workload(workload)
    workload = wl.name
    cfg = EngineConfig(lanes=lanes, pe=pe, recode=recode, gating=gating, products=products,
                       reuse=reuse, power=power)
    model = wl.model(pe)
    if model is None:
        raise ValueError(f"pe={pe!r}: workload {wl.name} has no network for it (an INT8 engine "
                         f"needs a checkpoint .npz, not a .qsq file)")
    n_layers = len(model.layers)
    levels = [[int(t)] * n_layers if np.ndim(t) == 0 else [int(v) for v in t] for t in truncs]
    if pe == "int8":
        levels = [[0] * n_layers]
    prog = compile_program(model, cfg)
    predicted = compute_cycles(prog, engine_timing(prog))
    total = manifest(prog, engine_timing(prog))["cycles"]["total"]
    hw_prog = prog
    if fault == "bias":
        hw_prog = compile_program(model, cfg)
        hw_prog.biases[hw_prog.layers[-1].f_base] += 1   # logit 0 off by one
    elif fault == "cycles":
        predicted += 1
    elif fault is not None:
        raise ValueError(f"fault must be None, 'bias' or 'cycles', not {fault!r}")
    count = len(wl.images) if images is None else min(images, len(wl.images))
    idx = np.arange(count)
    exp = np.stack([golden_logits(wl, pe, lv, idx) for lv in levels])
    sim = engine_sim(sim)
    tr = "-".join("".join(str(v) for v in lv) for lv in levels)
    tag = (f"engine_{workload}_{cfg.tag()}_t{tr}_n{count}_r{round(ready * 100)}"
           f"_g{round(pixel_gap * 100)}{'_rst' if resets else ''}_s{seed}"
           f"{'_fault-' + fault if fault else ''}")
    out = build_root(sim) / tag
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "expected.npz", images=wl.quantized_images(pe)[:count], logits=exp,
             truncs=np.array(levels), compute_cycles=predicted, total_cycles=total)
    bench = {"seed": seed, "ready": ready, "pixel_gap": pixel_gap,
             "resets": [list(r) for r in resets], "layer_bits": prog.widths["layer"]}
    params = {"workload": workload, "lanes": lanes, "pe": pe, "recode": recode, "gating": gating,
              "products": products, "reuse": reuse, "power": power, "truncs": levels,
              "images": count}
    return run_bench(module_name=MODULE, params=params, tag=tag, test_module="sim.tb_engine",
                     bench=bench, sim=sim, waves=waves, verilog=engine_verilog(hw_prog),
                     opt="-O2")


def main(argv=None) -> int:
    from hw.engine.config import (ENGINE_GATING, PE_STYLES, POWER_STYLES, PRODUCT_STYLES,
                                  RECODE_STYLES)
    from hw.engine.workloads import WORKLOADS

    from .common import main_args, print_summary

    p = main_args()
    p.add_argument("--workload", default="synthetic", choices=tuple(WORKLOADS))
    p.add_argument("--model", metavar="FILE",
                   help="run your own network instead of --workload: a .qsq packed model (bucket, "
                        "multiplier) or a checkpoint .npz (also int8)")
    p.add_argument("--data", metavar="FILE",
                   help="with --model: images to run, a labelled .npz (its test split) or a .npy "
                        "of float images (default: random images in [0, 1)); a checkpoint is "
                        "calibrated on it")
    p.add_argument("--pe", default="bucket", choices=PE_STYLES)
    p.add_argument("--lanes", type=int, default=4)
    p.add_argument("--recode", default="filter", choices=RECODE_STYLES)
    p.add_argument("--gating", default="enable", choices=ENGINE_GATING)
    p.add_argument("--products", default="parallel", choices=PRODUCT_STYLES)
    p.add_argument("--reuse", type=int, default=1, choices=(1, 2),
                   help="output positions per weight word in the convolutions (default 1)")
    p.add_argument("--power", default="lean", choices=POWER_STYLES)
    p.add_argument("--trunc", action="append", default=None,
                   help="truncation level, or comma-separated per-layer levels; repeatable")
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--ready", type=float, default=1.0, help="probability of logits.ready")
    p.add_argument("--pixel-gap", type=float, default=0.0, help="probability of a pixel gap")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    truncs = [[int(v) for v in t.split(",")] if "," in t else int(t) for t in (args.trunc or ["0"])]
    wl = args.workload
    if args.model is not None:
        from hw.engine.workloads import file_workload
        try:
            wl = file_workload(args.model, args.data)
        except (ValueError, OSError) as exc:
            p.error(str(exc))
        if wl.labels is not None:
            _print_accuracy(wl, args.pe, truncs, args.images)
    elif args.data is not None:
        p.error("--data needs --model")
    print_summary(run(wl, args.pe, args.lanes, args.recode, args.gating, truncs,
                      args.images, args.seed, args.ready, args.pixel_gap, (), args.sim,
                      args.waves or None, None, args.products, args.reuse, args.power))
    return 0


def _print_accuracy(wl, pe: str, truncs, images: int) -> None:
    """The golden (= the RTL's, when the bench passes) accuracy on the labelled images it runs."""
    from hw.engine.workloads import golden_logits

    n = min(images, len(wl.images))
    n_layers = len(wl.model(pe).layers)
    for t in truncs:
        lv = [int(t)] * n_layers if np.ndim(t) == 0 else [int(v) for v in t]
        pred = golden_logits(wl, pe, lv, np.arange(n)).argmax(axis=1)
        print(f"tb_engine: {wl.name}, {pe} PE, t = {','.join(map(str, lv))}: accuracy "
              f"{float(np.mean(pred == wl.labels[:n])):.4f} on the first {n} labelled test images "
              f"(the bench checks every RTL logit against these)")


if __name__ == "__main__":
    raise SystemExit(main())
