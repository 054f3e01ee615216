"""The host protocol against the RTL of the UART-bridged engine, through ``sim/tb_board.py``.

The unmarked case is the ``make test`` one: the small synthetic network behind the UART at 4 clock
cycles per bit, every request and every error reply once. The ``slow`` cases (``make sim``)
classify digits test images on the default 16-lane bucket engine at the reset levels and at the
evaluation's recommended levels, and run the other PE styles (INT8: TRUNC is refused).
"""

import pytest

from golden_model.nn.data import mnist_available

from sim import tb_board, tb_engine
from sim.common import setup_simulator

SIM = tb_engine.engine_sim()


@pytest.fixture(scope="module", autouse=True)
def simulator():
    try:
        setup_simulator(SIM)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


def test_board_protocol_synthetic():
    out = tb_board.run(workload="synthetic", pe="bucket", lanes=3, truncs=((2, 1, 3, 0),),
                       images=3, divisor=4, errors=True)
    assert out["result"] == "pass" and out["vectors"] >= 15


@pytest.mark.parametrize("lanes, max_chunk", [(3, 40), (2, 200)])
def test_board_protocol_spram_synthetic(lanes, max_chunk):
    """The engine whose weights are loaded over the link: INFER refused before LOAD, every LOAD
    error (wrong program, chunk out of order, a corrupted image caught by the image CRC, a short
    payload, a timeout), then the load and inferences bit-exact -- 2-byte words in 3 chunks, and
    1-byte words in one chunk."""
    from hw.boards.model import BoardModel
    from hw.engine.config import FPGA_POWER, EngineConfig
    from hw.engine.program import compile_program
    from hw.engine.workloads import workload

    prog = compile_program(workload("synthetic").model("bucket"),
                           EngineConfig(lanes=lanes, power=FPGA_POWER, weights="spram"))
    info = BoardModel(prog, max_chunk).info
    assert (info.word_bytes, info.chunks) == ((2, 3) if lanes == 3 else (1, 1))
    out = tb_board.run(workload="synthetic", pe="bucket", lanes=lanes, truncs=((2, 1, 3, 0),),
                       images=2, divisor=4, errors=True, weights="spram", max_chunk=max_chunk)
    assert out["result"] == "pass"
    assert out["vectors"] >= 18 + 2 * info.chunks + 3 * (info.chunks > 1)


@pytest.mark.slow
@pytest.mark.skipif(not mnist_available(), reason="MNIST absent (run `make mnist`)")
def test_board_lenet5_mnist_spram():
    """LeNet-5 as `make bitstream MODEL=mnist` builds it (16 lanes, weights in SPRAM): the host
    loads the weights (LOAD chunks), then real MNIST test images at two truncation settings,
    every logit bit-exact."""
    out = tb_board.run(workload="mnist", pe="bucket", lanes=16, truncs=(0, 3), images=3,
                       divisor=4, errors=False, weights="spram")
    # 16 requests: INFO, the LOAD chunks of the 16-lane image, INFO, 3 images at 2 levels
    assert out["result"] == "pass" and out["vectors"] >= 16


@pytest.mark.slow
def test_bench_detects_a_wrong_engine_reply():
    with pytest.raises(AssertionError, match="simulation failed"):
        tb_board.run(workload="synthetic", lanes=3, images=1, errors=False, fault="reply")


@pytest.mark.slow
def test_board_protocol_digits():
    from hw.engine.workloads import recommended_trunc, workload

    rec = tuple(recommended_trunc(workload("digits")))
    out = tb_board.run(workload="digits", pe="bucket", lanes=16, truncs=(0, rec),
                       images=(0, 1, 2, 3, 4, 5), divisor=8, errors=True)
    assert out["result"] == "pass"


@pytest.mark.slow
@pytest.mark.parametrize("pe", ["multiplier", "int8"])
def test_board_protocol_other_pe(pe):
    out = tb_board.run(workload="synthetic", pe=pe, lanes=2, truncs=((3, 0, 5, 1),), images=2,
                       divisor=5, errors=True)
    assert out["result"] == "pass"
