"""cocotb regressions: generated Verilog versus the golden model, bit for bit, on ``$SIM``
(``icarus`` by default, or ``verilator``).

The unmarked cases are the representative subset run by ``make test``; the ``slow`` ones (exhaustive
8x8 at every truncation level, every decoder variant, wide operands) run in ``make sim``. Each case
builds in its own folder under ``build/sim/<SIM>/``.
"""

import pytest

from golden_model.config import GATING_STYLES
from sim import tb_csd_multiplier, tb_csd_multiplier_core, tb_decoder
from sim.common import setup_simulator, sim_name

SIM = sim_name()


@pytest.fixture(scope="module", autouse=True)
def simulator():
    try:
        setup_simulator(SIM)
    except RuntimeError as exc:  # a missing simulator is an error with a clear message, not a skip
        pytest.fail(str(exc), pytrace=False)


def _mul_id(p):
    sa = "s" if p.get("a_signed", True) else "u"
    sb = "s" if p.get("b_signed", True) else "u"
    t = p.get("truncation", "runtime")
    return (f"{sa}{p.get('a_width', 8)}x{sb}{p.get('b_width', 8)}-"
            f"{'rt' if t == 'runtime' else f't{t}'}-{p.get('gating', 'enable')}-{p['mode']}")


FAST_MUL = [
    # every pair once, each at a random level changing every cycle, 10 % bubbles
    dict(mode="pairs", gating="enable"),
    dict(mode="random", count=3000, a_signed=False, gating="icg"),
    dict(mode="random", count=2000, truncation=3, gating="none"),
    dict(mode="random", count=2000, a_width=12, b_width=12, gating="icg", bubble=0.3),
]

SLOW_MUL = (
    # exhaustive: all 65,536 pairs at every level (runtime truncation), both signedness, all styles
    [dict(mode="exhaustive", a_signed=sa, gating=g)
     for sa in (True, False) for g in GATING_STYLES]
    # static truncation builds: every pair at the built level
    + [dict(mode="exhaustive", truncation=t, gating=g)
       for t, g in ((0, "icg"), (2, "enable"), (5, "icg"), (7, "none"), (8, "enable"))]
    + [dict(mode="exhaustive", a_signed=False, truncation=4, gating="icg")]
    # unsigned b (9 digit positions)
    + [dict(mode="pairs", b_signed=False, gating="icg"),
       dict(mode="pairs", a_signed=False, b_signed=False, gating="enable")]
    # wide operands: seeded random plus corners at every level
    + [dict(mode="random", count=20000, a_width=12, b_width=12, gating="icg"),
       dict(mode="random", count=20000, a_width=16, b_width=16, gating="enable"),
       dict(mode="random", count=20000, a_width=16, a_signed=False, b_width=16, gating="icg"),
       dict(mode="random", count=20000, a_width=16, b_width=16, truncation=6, gating="none"),
       dict(mode="random", count=10000, a_width=24, b_width=24, gating="icg", bubble=0.5),
       dict(mode="random", count=5000, a_width=3, b_width=13, b_signed=False, gating="enable")]
)


@pytest.mark.parametrize("params", FAST_MUL, ids=_mul_id)
def test_csd_multiplier(params):
    tb_csd_multiplier.run(**params)


@pytest.mark.slow
@pytest.mark.parametrize("params", SLOW_MUL, ids=_mul_id)
def test_csd_multiplier_full(params):
    tb_csd_multiplier.run(**params)


FAST_CORE = [dict(mode="random", count=3000, a_signed=False)]
SLOW_CORE = [dict(mode="exhaustive", a_signed=sa) for sa in (True, False)] + [
    dict(mode="exhaustive", truncation=4),
    dict(mode="random", count=20000, a_width=16, b_width=16, b_signed=False),
]


@pytest.mark.parametrize("params", FAST_CORE, ids=lambda p: _mul_id({**p, "gating": "core"}))
def test_csd_multiplier_core(params):
    tb_csd_multiplier_core.run(**params)


@pytest.mark.slow
@pytest.mark.parametrize("params", SLOW_CORE, ids=lambda p: _mul_id({**p, "gating": "core"}))
def test_csd_multiplier_core_full(params):
    tb_csd_multiplier_core.run(**params)


def _dec_id(p):
    return (f"c{p['code_bits']}-s{p.get('scale_bits', 7)}-l{p['lanes']}"
            f"{'-reg' if p.get('registered') else ''}-{p.get('mode', 'exhaustive')}")


FAST_DEC = [dict(code_bits=3, lanes=4), dict(code_bits=4, lanes=1, registered=True)]
SLOW_DEC = (
    [dict(code_bits=c, lanes=n, registered=r)
     for c in (2, 3, 4) for n in (1, 4) for r in (False, True)
     if {"registered": False, **dict(code_bits=c, lanes=n, registered=r)}
     not in [{"registered": False, **f} for f in FAST_DEC]]  # the fast cases run in make sim too
    + [dict(code_bits=3, scale_bits=15, lanes=4, mode="random", count=20000, registered=True),
       dict(code_bits=4, scale_bits=1, lanes=16),
       dict(code_bits=2, scale_bits=10, lanes=8, registered=True)]
)


@pytest.mark.parametrize("params", FAST_DEC, ids=_dec_id)
def test_shift_scale_decoder(params):
    tb_decoder.run(**params)


@pytest.mark.slow
@pytest.mark.parametrize("params", SLOW_DEC, ids=_dec_id)
def test_shift_scale_decoder_full(params):
    tb_decoder.run(**params)
