"""The engine's ``config`` stream as the README documents it (Amaranth simulation, no simulator
needed): a write to a layer that does not exist (its index fits the ``layer`` field but is not
below the number of compute layers) is accepted -- ``ready`` is 1, the transfer completes -- and
ignored: the next inference runs at the levels of the layers that exist."""

import numpy as np
from amaranth.sim import Simulator

from golden_model.nn.quant import integer_forward, quantize_input
from golden_model.nn.synthetic import random_images, random_quantized_model
from hw.engine.config import EngineConfig
from hw.engine.program import compile_program
from hw.engine.top import QSQEngine

#: Three compute layers, so the 2-bit ``layer`` field can name a fourth that does not exist.
SPEC = [("conv", 3, 3, 1, True), ("fc", 5), ("fc", 3)]
SHAPE = (1, 6, 6)


def _classify(prog, pixels, writes):
    """Write ``writes`` ((layer, level) pairs) through ``config`` while idle, then run one
    inference of ``pixels``; return the logits and how many writes ``config`` accepted."""
    dut = QSQEngine(prog)
    out = {"logits": [], "accepted": 0}

    async def bench(ctx):
        for layer, level in writes:
            ctx.set(dut.config.payload, {"layer": layer, "trunc": level})
            ctx.set(dut.config.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(dut.config.ready)
                if ready:
                    out["accepted"] += 1
                    break
        ctx.set(dut.config.valid, 0)
        for p in pixels:
            ctx.set(dut.pixels.payload, int(p))
            ctx.set(dut.pixels.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(dut.pixels.ready)
                if ready:
                    break
        ctx.set(dut.pixels.valid, 0)
        ctx.set(dut.logits.ready, 1)
        while len(out["logits"]) < prog.classes:
            _, _, valid, value = await ctx.tick().sample(dut.logits.valid, dut.logits.payload)
            if valid:
                out["logits"].append(int(value))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out["logits"], out["accepted"]


def test_config_write_to_a_layer_that_does_not_exist_is_ignored():
    qm = random_quantized_model(SPEC, SHAPE, seed=3)
    reset = [2, 1, 3]
    prog = compile_program(qm, EngineConfig(lanes=2), reset)
    assert len(prog.layers) == 3 and prog.widths["layer"] == 2     # layer 3 fits, does not exist
    x = random_images(SHAPE, 1, seed=4)
    pixels = quantize_input(x, qm.layers[0].e_in).reshape(-1)
    at = {tuple(t): [int(v) for v in integer_forward(qm, x, t=list(t), engine="bucket")[0]]
          for t in (reset, [2, 1, 8], [0, 0, 0])}
    assert len({tuple(v) for v in at.values()}) == 3                 # the levels matter here
    logits, accepted = _classify(prog, pixels, [(3, 8)])
    assert accepted == 1 and logits == at[tuple(reset)]              # accepted, ignored
    logits, accepted = _classify(prog, pixels, [(0, 0), (1, 0), (2, 0), (3, 8)])
    assert accepted == 4 and logits == at[(0, 0, 0)]                 # the real layers' writes count
    logits, _ = _classify(prog, pixels, [(2, 8)])
    assert logits == at[(2, 1, 8)]                                   # a real layer, for contrast
