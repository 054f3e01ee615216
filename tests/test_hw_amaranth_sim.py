"""Amaranth-simulator checks of the combinational modules against the golden model (exhaustive at
small widths; every truncation level). The cocotb benches in ``sim/`` check the generated Verilog."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden_model.codec import decode
from golden_model.config import CodecConfig, MultiplierConfig
from golden_model.csd import csd_product
from hw._component import not_elaborated
from hw.csd_multiplier import CSDMultiplierCore
from hw.decoder import ShiftScaleDecoder


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("a_width, a_signed, b_width, b_signed, truncation", [
    (4, True, 4, True, "runtime"),
    (4, False, 5, True, "runtime"),
    (3, True, 4, False, "runtime"),
    (4, False, 4, False, "runtime"),
    (1, True, 1, True, "runtime"),
    (5, True, 5, True, 2),
    (4, True, 4, False, 5),
])
def test_core_matches_golden_exhaustively(a_width, a_signed, b_width, b_signed, truncation):
    cfg = MultiplierConfig(a_width, a_signed, b_width, b_signed)
    dut = CSDMultiplierCore(a_width, a_signed, b_width, b_signed, truncation)
    levels = cfg.truncation_levels if truncation == "runtime" else [truncation]
    a, b, t = (x.ravel() for x in np.meshgrid(cfg.a.values(), cfg.b.values(), np.array(levels),
                                              indexing="ij"))
    got = np.zeros(a.size, np.int64)

    async def bench(ctx):
        for k in range(a.size):
            ctx.set(dut.a, int(a[k]))
            ctx.set(dut.b, int(b[k]))
            if truncation == "runtime":
                ctx.set(dut.trunc, int(t[k]))
            got[k] = ctx.get(dut.p)

    _run(dut, bench)
    np.testing.assert_array_equal(got, csd_product(a, b, cfg, t))


def test_core_trunc_above_ndigits_gives_zero():
    dut = CSDMultiplierCore(3, True, 3, True)  # ndigits 3, trunc port 2 bits: 0..3 only
    dut2 = CSDMultiplierCore(4, True, 4, False)  # ndigits 5, trunc port 3 bits: 6, 7 act as 5

    async def bench(ctx):
        for a in range(-8, 8):
            for b in range(16):
                for t in (6, 7):
                    ctx.set(dut2.a, a)
                    ctx.set(dut2.b, b)
                    ctx.set(dut2.trunc, t)
                    assert ctx.get(dut2.p) == 0

    not_elaborated(dut)
    _run(dut2, bench)


@pytest.mark.parametrize("code_bits", [2, 3, 4])
@pytest.mark.parametrize("lanes", [1, 3])
def test_decoder_matches_golden_exhaustively(code_bits, lanes):
    cfg = CodecConfig(code_bits, 5)
    dut = ShiftScaleDecoder(code_bits, 5, lanes)
    n = 1 << code_bits
    got, exp = [], []

    async def bench(ctx):
        for s in range(1, cfg.scale_max + 1):
            for c in range(n):
                codes = [(c + j) % n for j in range(lanes)]
                ctx.set(dut.codes.as_value(), sum(x << (j * code_bits) for j, x in enumerate(codes)))
                ctx.set(dut.scale, s)
                got.append([ctx.get(dut.weights[j]) for j in range(lanes)])
                exp.append(decode(np.array(codes), s, cfg))

    _run(dut, bench)
    np.testing.assert_array_equal(np.array(got), np.array(exp))
