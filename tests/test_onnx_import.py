"""qsq import: ONNX graphs -> checkpoints, the float check, refusals, the engine limits.

The networks are built here with ``onnx.helper`` (and :func:`golden_model.nn.onnx_example.export_onnx`,
which writes a model's exact function with BatchNorm pairs, reordered pools and exporter-style
reshapes), so every refusal has a file that provokes it.
"""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from golden_model.cli import main
from golden_model.nn.checkpoint import load_checkpoint
from golden_model.nn.model import build_model, model_from_spec
from golden_model.nn.onnx_example import EXAMPLE_LAYERS, export_onnx
from golden_model.nn.onnx_import import (OnnxImportError, check_against_onnxruntime, import_onnx,
                                         SUPPORTED_OPS)

SUPPORTED = ", ".join(SUPPORTED_OPS)


def _random_model(spec, shape, seed=0):
    m = model_from_spec("t", shape, spec, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for lay in m.compute_layers:
        lay.b = (rng.standard_normal(lay.b.shape) * 0.1).astype(np.float32)
    return m


def _save(proto, path):
    path.write_bytes(proto.SerializeToString())
    return path


def _graph(nodes, inits, inputs=None, out_shape=("N", 3), opset=17):
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 4, 4])]
    g = helper.make_graph(nodes, "g", inputs,
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))],
                          [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _conv_net(conv_attrs=None, after=("Relu",), k=(3, 3), extra_nodes=(), inputs=None, flat=32):
    """conv (2 filters) -> [after ops] -> Flatten -> Gemm(3): a small valid net to break
    (``flat``: the flattened size; a MaxPool has a 2x2 kernel and the default stride 1)."""
    rng = np.random.default_rng(0)
    attrs = {"kernel_shape": list(k), "pads": [1, 1, 1, 1]}
    attrs.update(conv_attrs or {})
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", **attrs)]
    cur = "c"
    for i, op in enumerate(after):
        kw = {"kernel_shape": [2, 2]} if op == "MaxPool" else {}
        nodes.append(helper.make_node(op, [cur], [f"a{i}"], name=f"{op.lower()}{i}", **kw))
        cur = f"a{i}"
    nodes += list(extra_nodes)
    nodes += [helper.make_node("Flatten", [cur], ["f"], name="flat"),
              helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    return _graph(nodes, {"w": rng.standard_normal((2, 1) + tuple(k)), "b": np.zeros(2),
                          "fw": rng.standard_normal((3, flat)), "fb": np.zeros(3)}, inputs)


# ----------------------------------------------------------------------------- faithful import
@pytest.mark.parametrize("style", [
    dict(),                                                   # BN, pool before relu, Shape chain
    dict(batchnorm=False, flatten="flatten", pool_before_relu=False, dropout=False),
    dict(flatten="reshape", matmul_fc=("fc1", "fc2"), batch=1),
])
def test_export_then_import_gives_back_the_network(tmp_path, style):
    m = _random_model(EXAMPLE_LAYERS, (1, 8, 8))
    path = _save(export_onnx(m, **style), tmp_path / "n.onnx")
    res = import_onnx(path)
    assert res.model.spec() == m.spec()
    for k, v in m.state().items():
        np.testing.assert_allclose(res.model.state()[k], v, rtol=1e-5, atol=1e-6, err_msg=k)
    check = check_against_onnxruntime(path, res.model, 16)
    assert check.ok and check.argmax_agree == 16


def test_lenet5_sized_network_imports(tmp_path):
    m = build_model("lenet5")
    path = _save(export_onnx(m), tmp_path / "l5.onnx")
    res = import_onnx(path)
    assert res.model.spec() == m.spec()
    assert check_against_onnxruntime(path, res.model, 8).ok


def test_sequence_folding_and_reordering(tmp_path):
    """Conv without bias + Add, Dropout and Identity, MaxPool before Relu, MatMul + Add."""
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Identity", ["x"], ["i"], name="id"),
             helper.make_node("Conv", ["i", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                              auto_pad="SAME_UPPER"),
             helper.make_node("Add", ["c", "cb"], ["cba"], name="bias"),
             helper.make_node("MaxPool", ["cba"], ["p"], name="pool", kernel_shape=[2, 2],
                              strides=[2, 2]),
             helper.make_node("Relu", ["p"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flat"),
             helper.make_node("Dropout", ["f"], ["d"], name="drop"),
             helper.make_node("MatMul", ["d", "fw"], ["mm"], name="mm"),
             helper.make_node("Add", ["mm", "fb"], ["y"], name="fbias")]
    proto = _graph(nodes, {"w": rng.standard_normal((2, 1, 3, 3)), "cb": rng.standard_normal((1, 2, 1, 1)),
                           "fw": rng.standard_normal((8, 3)), "fb": rng.standard_normal(3)})
    path = _save(proto, tmp_path / "s.onnx")
    res = import_onnx(path)
    assert [d["op"] for d in res.model.spec()] == ["conv", "relu", "pool", "flatten", "fc"]
    assert res.nodes["conv1"] == ["node 'conv' (Conv)", "node 'bias' (Add)"]
    assert check_against_onnxruntime(path, res.model, 8).ok


# ----------------------------------------------------------------------------- refusals
def _err(path):
    with pytest.raises(OnnxImportError) as exc:
        import_onnx(path)
    return str(exc.value)


def test_unsupported_op_is_named(tmp_path):
    proto = _conv_net()
    proto.graph.node[-1].output[0] = "z"
    proto.graph.node.append(helper.make_node("Softmax", ["z"], ["y"], name="prob"))
    path = _save(proto, tmp_path / "soft.onnx")
    assert _err(path) == (f"{path}: node 'prob' (Softmax): op Softmax is not supported; qsq import "
                          f"handles {SUPPORTED} (a sequential NCHW CNN)")


def test_two_inputs(tmp_path):
    proto = _conv_net(inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 4, 4]),
                              helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 1, 4, 4])])
    path = _save(proto, tmp_path / "two.onnx")
    assert _err(path) == (f"{path}: the graph has 2 inputs ('x', 'x2'); qsq import needs exactly one "
                          f"image input (N, C, H, W)")


def test_truncated_and_foreign_files(tmp_path):
    data = _conv_net().SerializeToString()
    for i, cut in enumerate((len(data) // 2, len(data) - 3, 7)):
        path = tmp_path / f"cut{i}.onnx"
        path.write_bytes(data[:cut])
        msg = _err(path)
        assert msg.startswith(f"{path}: not a valid ONNX model: ") and "\n" not in msg
    text = tmp_path / "text.onnx"
    text.write_text("this is not a network\n" * 20)
    assert _err(text) == (f"{text}: not a valid ONNX model: protobuf decoding failed (truncated, "
                          f"corrupted or another format)")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    assert _err(empty) == f"{empty}: not a valid ONNX model: the file is empty"
    npz = tmp_path / "ck.onnx"
    npz.write_bytes(b"PK\x03\x04" + bytes(64))                     # a zip (an .npz), not ONNX
    assert _err(npz).startswith(f"{npz}: not a valid ONNX model: ")


@pytest.mark.parametrize("kwargs,msg", [
    (dict(conv_attrs={"strides": [2, 2], "pads": [0, 0, 0, 0]}, flat=2),
     "node 'conv' (Conv): strides (2, 2) are not supported: the engine runs stride 1 only (use a "
     "MaxPool 2x2 to downsample)"),
    (dict(k=(3, 1), conv_attrs={"pads": [1, 0, 1, 0]}),
     "node 'conv' (Conv): kernel 3x1 is not supported: the engine runs square kernels"),
    (dict(conv_attrs={"pads": [1, 1, 0, 0]}, flat=18),
     "node 'conv' (Conv): pads (1, 1, 0, 0) are not supported: the engine pads every side of the "
     "image equally"),
    (dict(after=()),
     "node 'conv' (Conv): must be followed by a Relu (every layer but the last requantizes through "
     "a ReLU in the engine), not by node 'flat' (Flatten)"),
    (dict(after=("Relu", "MaxPool"), flat=18),
     "node 'maxpool1' (MaxPool): kernel (2, 2), strides (1, 1), pads (0, 0, 0, 0) are not supported: "
     "the engine runs 2x2 max pooling with stride 2 and no padding"),
])
def test_what_the_engine_cannot_run_is_refused(tmp_path, kwargs, msg):
    path = _save(_conv_net(**kwargs), tmp_path / "n.onnx")
    assert _err(path) == f"{path}: {msg}"


def test_a_branch_is_refused(tmp_path):
    proto = _conv_net(after=("Relu",))
    # y = fc(flatten(relu(c))) + ... : feed the conv output twice (a skip connection)
    proto.graph.node[1].input[0] = "c"
    proto.graph.node.insert(2, helper.make_node("Add", ["a0", "c"], ["s"], name="skip"))
    proto.graph.node[3].input[0] = "s"
    path = _save(proto, tmp_path / "skip.onnx")
    assert _err(path) == (f"{path}: node 'skip' (Add): takes 2 computed tensors ('a0', 'c'); qsq "
                          f"import needs a sequential network (no branches, skips or extra inputs)")


def test_cli_one_line_errors_and_limits(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not onnx")
    assert main(["import", str(bad), "-o", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"qsq: error: {bad}: not a valid ONNX model")
    assert main(["import", str(tmp_path / "none.onnx"), "-o", str(tmp_path / "o.npz")]) == 2
    assert f"qsq: error: {tmp_path / 'none.onnx'}: no such ONNX file" in capsys.readouterr().err
    # the image-size limit: 2 x 200 x 200 = 80,000 pixels
    big = model_from_spec("big", (2, 200, 200), [
        {"op": "conv", "name": "c", "in": 2, "out": 1, "k": 1, "pad": 0}, {"op": "relu"},
        {"op": "flatten"}, {"op": "fc", "name": "f", "in": 40000, "out": 2}])
    path = _save(export_onnx(big, batchnorm=False), tmp_path / "big.onnx")
    assert main(["import", str(path), "-o", str(tmp_path / "o.npz")]) == 2
    assert capsys.readouterr().err == (
        f"qsq: error: {path}: image 2x200x200 = 80000 pixels exceeds the engine's limit of 65535 "
        "pixels per image (16-bit field of the board protocol)\n")
    # the memory limit: 1,300,000 3-bit weights > 3,833,856 bits
    wide = model_from_spec("wide", (1, 32, 32), [
        {"op": "conv", "name": "c", "in": 1, "out": 1, "k": 1, "pad": 0}, {"op": "relu"},
        {"op": "flatten"}, {"op": "fc", "name": "f", "in": 1024, "out": 1270}, {"op": "relu"},
        {"op": "fc", "name": "g", "in": 1270, "out": 10}])
    path = _save(export_onnx(wide, batchnorm=False), tmp_path / "wide.onnx")
    assert main(["import", str(path), "-o", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    # (1 + 1024 * 1270 + 1270 * 10) codes x 3 bits, 2 x 1270 x 8 activation bits, 10 logits x 32
    assert err == (f"qsq: error: {path}: the network needs at least 3960183 bits of on-chip memory "
                   "(3939543 of 3-bit weight codes, 20320 of activations), more than the engine's "
                   "limit of 3833856 bits (ULX3S-85F block RAM, 208 x 18 kbit)\n")


def test_checkpoint_describes_its_network(tmp_path, capsys):
    m = _random_model(EXAMPLE_LAYERS, (1, 8, 8))
    path = _save(export_onnx(m), tmp_path / "n.onnx")
    out = tmp_path / "n.npz"
    assert main(["import", str(path), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "float check against onnxruntime on 32 random images in [0, 1)" in text and ": PASS" in text
    ck = load_checkpoint(out)
    assert ck.float_model.spec() == m.spec() and ck.meta["source"] == "onnx"
    assert ck.qat_model is None
    # a corrupted architecture entry is refused by name
    with np.load(out) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["architecture"] = np.array('{"input_shape": [1, 8, 8], "layers": [{"op": "conv"}]}')
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"bad.npz: checkpoint 'architecture': layer 0 \(conv\): "
                                         r"needs exactly the keys"):
        load_checkpoint(tmp_path / "bad.npz")


def test_committed_checkpoints_still_load():
    from golden_model.nn.checkpoint import DEFAULT_CHECKPOINT

    for name, arch in (("lenet_digits.npz", "lenet-digits"), ("lenet5_mnist.npz", "lenet5")):
        ck = load_checkpoint(DEFAULT_CHECKPOINT.with_name(name))
        assert ck.float_model.spec() == build_model(arch).spec() and ck.qat_model is not None


def test_onnx_checker_findings_are_one_line(tmp_path):
    proto = _conv_net()
    proto.graph.node[0].input[1] = "missing_weight"
    path = _save(proto, tmp_path / "m.onnx")
    msg = _err(path)
    assert msg.startswith(f"{path}: not a valid ONNX model: ") and "\n" not in msg
    assert onnx.__version__   # the package the dev extra installs


def test_a_network_without_convolutions_or_ending_in_relu(tmp_path):
    rng = np.random.default_rng(1)
    mlp = _graph([helper.make_node("Flatten", ["x"], ["f"], name="flat"),
                  helper.make_node("Gemm", ["f", "w", "b"], ["y"], name="fc", transB=1)],
                 {"w": rng.standard_normal((3, 16)), "b": np.zeros(3)})
    path = _save(mlp, tmp_path / "mlp.onnx")
    assert _err(path) == (f"{path}: the network must start with a Conv (the engine runs its "
                          f"convolution stages before the fully connected layers), not node 'flat' "
                          f"(Flatten)")
    proto = _conv_net()
    proto.graph.node[-1].output[0] = "z"
    proto.graph.node.append(helper.make_node("Relu", ["z"], ["y"], name="last_relu"))
    path = _save(proto, tmp_path / "relu.onnx")
    assert _err(path) == (f"{path}: the network must end with a Gemm or MatMul (its outputs are the "
                          f"logits), not with node 'last_relu' (Relu)")
