"""Your own network, end to end: an ONNX file of odd shapes built with ``onnx.helper`` goes through
``qsq import`` -> ``qsq pack --calib`` -> ``qsq compile`` -> the cocotb engine bench, and every
logit of the RTL equals the golden model's.

The network: a 2 x 7 x 6 input, a 3 x 3 convolution without padding followed by BatchNorm, ReLU and
a 2 x 2 max pool, then three fully connected layers (a Gemm, a Gemm with transposed weights and a
BatchNorm, a MatMul + Add).
"""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from golden_model.cli import main
from golden_model.nn.packfile import read_model
from golden_model.nn.quant import integer_forward
from hw.engine.workloads import file_workload
from sim import tb_engine
from sim.common import setup_simulator


def odd_network(path, seed=0):
    """Write the module's network to ``path`` (random weights of a sensible scale)."""
    rng = np.random.default_rng(seed)

    def w(*shape):
        fan = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        return rng.standard_normal(shape) * np.sqrt(2.0 / fan)

    def bn(n):
        return {"scale": rng.uniform(0.5, 1.5, n), "bias": rng.normal(0, 0.1, n),
                "mean": rng.normal(0, 0.1, n), "var": rng.uniform(0.5, 1.5, n)}

    inits = {"cw": w(4, 2, 3, 3), "cb": rng.normal(0, 0.1, 4),
             "f1w": w(12, 16), "f1b": rng.normal(0, 0.1, 12),
             "f2w": w(8, 12).T, "f2b": rng.normal(0, 0.1, 8),
             "f3w": w(5, 8).T, "f3b": rng.normal(0, 0.1, 5)}
    for name, n in (("bn1", 4), ("bn2", 8)):
        for k, v in bn(n).items():
            inits[f"{name}_{k}"] = v

    def bn_node(name, x, y):
        return helper.make_node("BatchNormalization", [x] + [f"{name}_{k}" for k in
                                                            ("scale", "bias", "mean", "var")],
                                [y], name=name, epsilon=1e-5)

    nodes = [helper.make_node("Conv", ["x", "cw", "cb"], ["c"], name="conv", kernel_shape=[3, 3]),
             bn_node("bn1", "c", "cn"),
             helper.make_node("Relu", ["cn"], ["cr"], name="relu1"),
             helper.make_node("MaxPool", ["cr"], ["p"], name="pool", kernel_shape=[2, 2],
                              strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "f1w", "f1b"], ["g1"], name="fc1", transB=1),
             helper.make_node("Relu", ["g1"], ["r1"], name="relu2"),
             helper.make_node("Gemm", ["r1", "f2w", "f2b"], ["g2"], name="fc2"),
             bn_node("bn2", "g2", "g2n"),
             helper.make_node("Relu", ["g2n"], ["r2"], name="relu3"),
             helper.make_node("MatMul", ["r2", "f3w"], ["m3"], name="fc3"),
             helper.make_node("Add", ["m3", "f3b"], ["y"], name="fc3_bias")]
    graph = helper.make_graph(
        nodes, "odd", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 7, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    d = tmp_path_factory.mktemp("odd")
    onnx_file = odd_network(d / "odd.onnx")
    images = np.random.default_rng(5).random((48, 2, 7, 6)).astype(np.float32)
    np.save(d / "calib.npy", images[:40])
    np.save(d / "run.npy", images[40:])
    assert main(["import", str(onnx_file), "-o", str(d / "odd.npz")]) == 0
    assert main(["pack", str(d / "odd.npz"), "--calib", str(d / "calib.npy"), "-o",
                 str(d / "odd.qsq")]) == 0
    assert main(["compile", str(d / "odd.qsq"), "--lanes", "3", "--no-verilog", "-o",
                 str(d / "engine")]) == 0
    return d


def test_chain_golden_model(packed, capsys):
    qm = read_model(packed / "odd.qsq")
    assert qm.ops == ["conv", "relu", "pool", "flatten", "fc", "relu", "fc", "relu", "fc"]
    assert [q.encoded.shape for q in qm.layers] == [(4, 2, 3, 3), (12, 16), (8, 12), (5, 8)]
    x = np.load(packed / "run.npy")
    logits = integer_forward(qm, x, 0, engine="bucket")
    assert np.array_equal(logits, integer_forward(qm, x, 0, engine="table"))
    assert len(np.unique(logits.argmax(axis=1))) > 1      # calibrated: not one constant class


def test_chain_rtl_bit_exact(packed):
    try:
        setup_simulator(tb_engine.engine_sim())
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    wl = file_workload(packed / "odd.qsq", packed / "run.npy")
    out = tb_engine.run(wl, pe="bucket", lanes=3, truncs=(0, (1, 4, 2, 7)), images=4, ready=0.7,
                        pixel_gap=0.2, seed=4)
    assert out["result"] == "pass" and out["vectors"] == 8 and not out.get("mismatches")
