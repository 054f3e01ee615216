"""The inference engine's RTL against the golden model, through the cocotb bench (``sim/tb_engine.py``).

Verilator by default (``$QSQ_ENGINE_SIM=icarus`` switches). The unmarked cases are the ``make test``
subset: every PE style on a small network of odd shapes with back-pressure, pixel gaps and resets in
every phase, and the digits LeNet on the default 16-lane bucket engine. The ``slow`` cases (``make
sim``) run the whole digits test split for every PE style at t = 0 and at the per-layer levels the
evaluation recommends, a few images at every level, LeNet-5 (28 x 28) and other lane counts.
"""

import pytest

from golden_model.nn.data import mnist_available

from sim import tb_engine
from sim.common import setup_simulator

SIM = tb_engine.engine_sim()
RESETS = ((1, "load"), (2, "compute"), (4, "output"))


@pytest.fixture(scope="module", autouse=True)
def simulator():
    try:
        setup_simulator(SIM)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


def _id(p):
    return "-".join(str(p.get(k)) for k in ("workload", "pe", "recode", "products", "lanes",
                                            "reuse", "power") if k in p)


FAST = [
    dict(workload="synthetic", pe="bucket", lanes=3, truncs=(0, (1, 4, 2, 7)), images=3),
    # variants of a PE style run in the slow suite (make sim): make test keeps one per style
    pytest.param(dict(workload="synthetic", pe="bucket", products="serial", lanes=4,
                      truncs=((5, 2, 0, 3),), images=3), marks=pytest.mark.slow),
    dict(workload="synthetic", pe="multiplier", recode="filter", lanes=2, truncs=((3, 0, 5, 1),), images=4),
    pytest.param(dict(workload="synthetic", pe="multiplier", recode="operation", lanes=4,
                      truncs=((2, 6, 0, 3),), images=4), marks=pytest.mark.slow),
    dict(workload="synthetic", pe="int8", lanes=3, images=5),
    dict(workload="digits", pe="bucket", lanes=16, truncs=(0, (3, 2, 4, 1)), images=3),
    # weight reuse: two output positions per weight word (pairs with padding and odd widths)
    dict(workload="synthetic", pe="bucket", lanes=3, reuse=2, truncs=((2, 0, 4, 1),), images=3),
    dict(workload="synthetic", pe="int8", lanes=2, reuse=2, images=3),
    pytest.param(dict(workload="synthetic", pe="multiplier", recode="filter", lanes=3, reuse=2,
                      truncs=((3, 0, 5, 1),), images=3), marks=pytest.mark.slow),
    pytest.param(dict(workload="synthetic", pe="bucket", lanes=3, power="baseline",
                      truncs=((1, 4, 2, 7),), images=3), marks=pytest.mark.slow),
    # the FPGA builds' engine (power="fpga"): shift-chain hand-off, DSP products, buckets sized to
    # the network, pipelined pooling/requantization and a two-cycle set-up
    dict(workload="synthetic", pe="bucket", lanes=3, power="fpga", truncs=(0, (1, 4, 2, 7)),
         images=3),
    pytest.param(dict(workload="digits", pe="bucket", lanes=16, power="fpga",
                      truncs=(0, (3, 2, 4, 1), 8), images=3), marks=pytest.mark.slow),
    pytest.param(dict(workload="synthetic", pe="bucket", lanes=1, power="fpga", reuse=2,
                      truncs=((2, 0, 4, 1),), images=3), marks=pytest.mark.slow),
    pytest.param(dict(workload="synthetic", pe="bucket", products="serial", lanes=4,
                      power="fpga", truncs=((5, 2, 0, 3),), images=3), marks=pytest.mark.slow),
    pytest.param(dict(workload="synthetic", pe="multiplier", recode="filter", lanes=2,
                      power="fpga", truncs=((3, 0, 5, 1),), images=3), marks=pytest.mark.slow),
    pytest.param(dict(workload="synthetic", pe="int8", lanes=2, power="fpga", reuse=2, images=3),
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize("params", FAST, ids=_id)
def test_engine(params):
    out = tb_engine.run(**params, ready=0.5, pixel_gap=0.2, resets=RESETS, seed=2)
    assert out["result"] == "pass" and out["vectors"] >= params["images"]


@pytest.mark.parametrize("fault", ["bias", pytest.param("cycles", marks=pytest.mark.slow)])
def test_bench_detects_a_wrong_engine(fault):
    with pytest.raises(AssertionError, match="simulation failed"):
        tb_engine.run(workload="synthetic", pe="bucket", lanes=3, images=2, fault=fault)


@pytest.fixture(scope="module")
def recommended():
    from hw.engine.workloads import recommended_trunc, workload
    return tuple(recommended_trunc(workload("digits")))


@pytest.mark.slow
@pytest.mark.parametrize("pe,recode", [("bucket", "filter"), ("multiplier", "filter"),
                                       ("multiplier", "operation"), ("int8", "filter")])
def test_engine_digits_test_split(pe, recode, recommended):
    truncs = (0,) if pe == "int8" else (0, recommended)
    out = tb_engine.run(workload="digits", pe=pe, recode=recode, lanes=16, truncs=truncs,
                        images=None, ready=0.8, resets=((100, "compute"),), seed=3)
    assert out["vectors"] == 359 * len(truncs)


@pytest.mark.slow
@pytest.mark.parametrize("pe", ["bucket", "multiplier"])
def test_engine_digits_every_level(pe):
    tb_engine.run(workload="digits", pe=pe, lanes=16, truncs=tuple(range(9)), images=4)


@pytest.mark.slow
@pytest.mark.parametrize("pe", ["bucket", "multiplier", "int8"])
def test_engine_lenet5(pe):
    tb_engine.run(workload="lenet5-random", pe=pe, lanes=8, truncs=(0, (2, 1, 3, 0, 4)), images=3,
                  ready=0.7, resets=((1, "compute"),))


@pytest.mark.slow
@pytest.mark.parametrize("lanes", [1, 5, 32])
def test_engine_lane_counts(lanes):
    tb_engine.run(workload="digits", pe="bucket", lanes=lanes, truncs=(0, 3), images=3)


@pytest.mark.slow
@pytest.mark.parametrize("pe", ["bucket", "multiplier", "int8"])
def test_engine_reuse_digits_and_lenet5(pe):
    """Weight reuse on pooled, padded layers (digits) and on LeNet-5's 28 x 28 layers."""
    tb_engine.run(workload="digits", pe=pe, lanes=16, reuse=2, truncs=(0, 3), images=8,
                  ready=0.8, resets=((2, "compute"),))
    tb_engine.run(workload="lenet5-random", pe=pe, lanes=8, reuse=2, truncs=(0, (2, 1, 3, 0, 4)),
                  images=3, ready=0.7)


@pytest.mark.slow
@pytest.mark.skipif(not mnist_available(), reason="MNIST absent (run `make mnist`)")
@pytest.mark.parametrize("pe", ["bucket", "multiplier", "int8"])
def test_engine_lenet5_mnist(pe):
    """The committed LeNet-5 on real MNIST test images, 28 x 28, through the RTL."""
    tb_engine.run(workload="mnist", pe=pe, lanes=16, truncs=(0, 3), images=20, ready=0.8)


def test_engine_on_icarus():
    """The same bench on Icarus Verilog (the engine benches default to Verilator for speed)."""
    setup_simulator("icarus")
    out = tb_engine.run(workload="synthetic", pe="bucket", lanes=3, truncs=(0, (2, 0, 4, 1)), images=2,
                        ready=0.5, resets=((1, "compute"),), sim="icarus")
    assert out["result"] == "pass" and out["sim"] == "icarus"
