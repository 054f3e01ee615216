"""The baseline multipliers' RTL against the golden model, through the cocotb bench."""

import pytest

from sim.test_baselines import run

FAST = [("exact", ()), ("tam", (("k", 6),)), ("bam", (("vbl", 0), ("hbl", 2)))]


@pytest.mark.parametrize("kind,params", FAST, ids=["exact", "tam-k6", "bam-h2"])
def test_baseline_exhaustive_s8xs8(kind, params):
    out = run(kind, params, mode="exhaustive")
    assert out["vectors"] == 65536


def test_bench_detects_a_wrong_model():
    with pytest.raises(AssertionError, match="simulation failed"):
        run("tam", (("k", 6),), mode="random", count=500, golden_params=(("k", 5),))


@pytest.mark.slow
@pytest.mark.parametrize("a_signed", [True, False])
@pytest.mark.parametrize("kind,params", [("exact", ())]
                         + [("tam", (("k", k),)) for k in (2, 4, 8, 10, 12)]
                         + [("bam", (("vbl", v), ("hbl", h))) for v, h in ((0, 1), (0, 4), (6, 2))])
def test_baseline_exhaustive_levels(kind, params, a_signed):
    assert run(kind, params, a_signed=a_signed, mode="exhaustive")["vectors"] == 65536


@pytest.mark.slow
@pytest.mark.parametrize("latency", [1, 3])
def test_baseline_other_latency_and_width(latency):
    run("tam", (("k", 9),), a_width=12, b_width=12, latency=latency, mode="random", count=5000)
    run("exact", (), a_width=16, a_signed=False, b_width=16, latency=latency, mode="random",
        count=5000)


@pytest.mark.slow
def test_baseline_verilator():
    run("tam", (("k", 6),), mode="exhaustive", sim="verilator")


# ---------------------------------------------------------------- compact CSD variant
def test_compact_csd_runtime_icg_exhaustive():
    """Every 8x8 pair, the truncation level changing every cycle, clock-gated operand register."""
    out = run("csdc", (("t", "runtime"), ("gating", "icg"), ("sign", "xor")), mode="exhaustive")
    assert out["vectors"] == 65536


@pytest.mark.slow
@pytest.mark.parametrize("a_signed", [True, False])
@pytest.mark.parametrize("sign", ["xor", "split"])
@pytest.mark.parametrize("gating", ["none", "enable", "icg"])
@pytest.mark.parametrize("t", ["runtime", 0, 3, 7])
def test_compact_csd_exhaustive(t, gating, sign, a_signed):
    out = run("csdc", (("t", t), ("gating", gating), ("sign", sign)), a_signed=a_signed,
              mode="exhaustive")
    assert out["vectors"] == 65536


@pytest.mark.slow
@pytest.mark.parametrize("width", [4, 12, 16])
def test_compact_csd_other_widths(width):
    run("csdc", (("t", "runtime"), ("gating", "icg"), ("sign", "xor")), a_width=width,
        b_width=width, mode="exhaustive" if width == 4 else "random", count=20000)
    run("csdc", (("t", "runtime"), ("gating", "enable"), ("sign", "split")), a_width=width,
        a_signed=False, b_width=width, mode="exhaustive" if width == 4 else "random", count=20000)


@pytest.mark.slow
def test_compact_csd_verilator():
    run("csdc", (("t", "runtime"), ("gating", "enable"), ("sign", "xor")), mode="exhaustive",
        sim="verilator")
