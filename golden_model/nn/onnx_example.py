"""An example ONNX network for ``qsq import`` (the README's "Your own network"), and the exporter
that writes it.

``python -m golden_model.nn.onnx_example -o net.onnx --data digits.npz`` trains a small CNN that is
none of the built-in architectures on the digits training split (this project's NumPy trainer,
deterministic for ``--seed``), and writes it as an ONNX file the way an exporter from a framework
would: batch dimension free, ``Conv`` + ``BatchNormalization`` pairs, a ``MaxPool`` before its
``Relu``, a ``Reshape`` fed by shape arithmetic (``Shape`` -> ``Gather`` -> ``Unsqueeze`` ->
``Concat``), ``Gemm`` and ``MatMul`` + ``Add`` fully connected layers, ``Dropout`` and ``Identity``.
``--data`` also writes the digits splits as a labelled ``.npz`` (``x_train``, ``y_train``,
``x_val``, ``y_val``, ``x_test``, ``y_test``, in the network's input scale ``[0, 1]``), the format
``qsq pack --calib``, ``qsq train --data`` and ``qsq evaluate --data`` read.

:func:`export_onnx` writes any :class:`~golden_model.nn.model.Sequential` this way; its
BatchNormalization nodes have random statistics and the convolution before each is rescaled so
that the pair computes exactly the original layer (so importing the file must fold them back).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .model import Conv2D, Dense, Flatten, MaxPool2, ReLU, Sequential, model_from_spec

__all__ = ["export_onnx", "EXAMPLE_LAYERS", "example_model", "main", "OPSET"]

#: ONNX opset of the exported files.
OPSET = 17
#: The example network for 1x8x8 digits: conv 3x3 1->12 pad 1 (+BN) -> pool -> relu -> conv 3x3
#: 12->24, no padding (+BN) -> relu -> flatten (96) -> fc 96->48 -> relu -> dropout -> fc 48->10.
EXAMPLE_LAYERS = [
    {"op": "conv", "name": "conv1", "in": 1, "out": 12, "k": 3, "pad": 1}, {"op": "relu"},
    {"op": "pool"},
    {"op": "conv", "name": "conv2", "in": 12, "out": 24, "k": 3, "pad": 0}, {"op": "relu"},
    {"op": "flatten"},
    {"op": "fc", "name": "fc1", "in": 96, "out": 48}, {"op": "relu"},
    {"op": "fc", "name": "fc2", "in": 48, "out": 10},
]


def export_onnx(model: Sequential, path=None, *, batchnorm: bool = True, matmul_fc: tuple = (),
                flatten: str = "shape", pool_before_relu: bool = True, dropout: bool = True,
                seed: int = 0, batch: int | None = None):
    """An ONNX ``ModelProto`` computing ``model`` (float32), written to ``path`` if given.

    Parameters
    ----------
    batchnorm : bool
        Follow every convolution by a BatchNormalization (random statistics, the convolution
        rescaled so that the pair equals the original layer).
    matmul_fc : tuple of str
        Names of fully connected layers written as ``MatMul`` + ``Add`` instead of ``Gemm``.
    flatten : {"shape", "reshape", "flatten"}
        ``Reshape`` with its target computed from ``Shape`` (as ``x.view(x.size(0), -1)``
        exports), ``Reshape`` to a constant ``(-1, n)``, or ``Flatten``.
    pool_before_relu : bool
        Write ``conv -> MaxPool -> Relu`` (the two commute) instead of ``conv -> Relu -> MaxPool``.
    dropout : bool
        A Dropout after the first fully connected ReLU and an Identity on the input.
    batch : int, optional
        A fixed batch size for the input (default: a free dimension ``N``).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if flatten not in ("shape", "reshape", "flatten"):
        raise ValueError(f"flatten must be 'shape', 'reshape' or 'flatten', not {flatten!r}")
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    counter = [0]

    def const(name, value, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def node(op, inputs, name, **attrs):
        counter[0] += 1
        out = f"{name}_out{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    cur = "input"
    if dropout:
        cur = node("Identity", [cur], "/input/Identity")
    layers = list(model.layers)
    i = 0
    first_fc_relu = True
    while i < len(layers):
        lay = layers[i]
        if isinstance(lay, Conv2D):
            w, b = lay.w.astype(np.float64), lay.b.astype(np.float64)
            if batchnorm:
                f = w.shape[0]
                gamma = rng.uniform(0.5, 2.0, f)
                beta = rng.normal(0, 0.2, f)
                mean = rng.normal(0, 0.2, f)
                var = rng.uniform(0.5, 2.0, f)
                eps = 1e-5
                s = gamma / np.sqrt(var + eps)
                w = w / s[:, None, None, None]
                b = (b - beta) / s + mean
            pads = [lay.pad] * 4
            cur = node("Conv", [cur, const(f"{lay.name}.weight", w), const(f"{lay.name}.bias", b)],
                       f"/{lay.name}/Conv", kernel_shape=[lay.k, lay.k], pads=pads,
                       strides=[1, 1])
            if batchnorm:
                cur = node("BatchNormalization",
                           [cur, const(f"{lay.name}.bn.weight", gamma), const(f"{lay.name}.bn.bias", beta),
                            const(f"{lay.name}.bn.running_mean", mean),
                            const(f"{lay.name}.bn.running_var", var)],
                           f"/{lay.name}/BatchNormalization", epsilon=eps)
            rest = layers[i + 1:i + 3]
            if pool_before_relu and len(rest) == 2 and isinstance(rest[0], ReLU) and \
                    isinstance(rest[1], MaxPool2):
                cur = node("MaxPool", [cur], f"/{lay.name}/MaxPool", kernel_shape=[2, 2],
                           strides=[2, 2])
                cur = node("Relu", [cur], f"/{lay.name}/Relu")
                i += 3
                continue
        elif isinstance(lay, Dense):
            w, b = lay.w.astype(np.float64), lay.b.astype(np.float64)
            if lay.name in matmul_fc:
                cur = node("MatMul", [cur, const(f"{lay.name}.weight_t", w.T)], f"/{lay.name}/MatMul")
                cur = node("Add", [cur, const(f"{lay.name}.bias", b)], f"/{lay.name}/Add")
            else:
                cur = node("Gemm", [cur, const(f"{lay.name}.weight", w), const(f"{lay.name}.bias", b)],
                           f"/{lay.name}/Gemm", transB=1)
        elif isinstance(lay, ReLU):
            cur = node("Relu", [cur], f"/relu{i}/Relu")
            if dropout and first_fc_relu and i > 0 and isinstance(layers[i - 1], Dense) and \
                    i + 1 < len(layers):
                first_fc_relu = False
                counter[0] += 1
                out = f"/dropout/Dropout_out{counter[0]}"
                nodes.append(helper.make_node("Dropout", [cur], [out, "dropout_mask"],
                                              name="/dropout/Dropout"))
                cur = out
        elif isinstance(lay, MaxPool2):
            cur = node("MaxPool", [cur], f"/pool{i}/MaxPool", kernel_shape=[2, 2], strides=[2, 2])
        elif isinstance(lay, Flatten):
            if flatten == "flatten":
                cur = node("Flatten", [cur], "/flatten/Flatten", axis=1)
            elif flatten == "reshape":
                cur = node("Reshape", [cur, const("flatten.shape", [-1, _flat_size(model, i)],
                                                  np.int64)], "/flatten/Reshape")
            else:
                shp = node("Shape", [cur], "/flatten/Shape")
                n0 = node("Gather", [shp, const("flatten.zero", 0, np.int64)], "/flatten/Gather",
                          axis=0)
                n0 = node("Unsqueeze", [n0, const("flatten.axes", [0], np.int64)],
                          "/flatten/Unsqueeze")
                tgt = node("Concat", [n0, const("flatten.rest", [-1], np.int64)], "/flatten/Concat",
                           axis=0)
                cur = node("Reshape", [cur, tgt], "/flatten/Reshape")
        else:  # pragma: no cover - every layer type is above
            raise TypeError(f"cannot export layer {lay!r}")
        i += 1
    nodes[-1].output[0] = "logits"
    c, h, w = model.input_shape
    n_dim = batch if batch is not None else "N"
    classes = model.compute_layers[-1].n_out
    graph = helper.make_graph(
        nodes, model.arch, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [n_dim, c, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [n_dim, classes])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="qsq onnx_example")
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    if path is not None:
        from ..fileio import atomic_write_bytes
        atomic_write_bytes(Path(path), proto.SerializeToString())
    return proto


def _flat_size(model: Sequential, index: int) -> int:
    x = np.zeros((1,) + tuple(model.input_shape), np.float32)
    for lay in model.layers[:index]:
        x = lay.forward(x)
    return int(np.prod(x.shape[1:]))


def example_model(epochs: int = 30, seed: int = 0, quiet: bool = True) -> Sequential:
    """The example network (:data:`EXAMPLE_LAYERS`) trained on the digits training split."""
    from .data import load_digits
    from .train import TrainConfig, _epochs

    data = load_digits()
    model = model_from_spec("digits-example", (1, 8, 8), EXAMPLE_LAYERS, seed=seed)
    cfg = TrainConfig(epochs=epochs, seed=seed)
    _epochs(model, data.x_train, data.y_train, cfg.epochs, cfg.batch, cfg.lr, cfg.weight_decay,
            cfg.seed, quiet, "train")
    return model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m golden_model.nn.onnx_example",
        description="Train the example CNN on the digits training split and write it as an ONNX "
                    "file (BatchNorm, MaxPool before Relu, shape-computed Reshape, Gemm, MatMul + "
                    "Add, Dropout, Identity); optionally write the digits splits as a labelled "
                    ".npz.")
    p.add_argument("-o", "--out", default="net.onnx", help="ONNX file to write (default net.onnx)")
    p.add_argument("--data", metavar="FILE.npz",
                   help="also write the digits train/validation/test splits here (labelled .npz)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed (default 0)")
    args = p.parse_args(argv)
    from ..config import check_int
    from ..fileio import atomic_open, check_output_path
    from .data import load_digits
    from .train import accuracy

    try:
        check_int("--epochs", args.epochs, 1, 10_000)
        check_int("--seed", args.seed, 0, 2**32 - 1)
        out = check_output_path(args.out, "-o/--out")
        data_out = check_output_path(args.data, "--data") if args.data else None
    except (ValueError, TypeError, OSError) as exc:
        print(f"onnx_example: error: {exc}", file=sys.stderr)
        return 2
    model = example_model(args.epochs, args.seed)
    d = load_digits()
    acc = accuracy(model.predict(d.x_test), d.y_test)
    out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, out, matmul_fc=("fc2",), seed=args.seed)
    print(f"wrote {out}: {model.arch}, input 1x8x8, float test accuracy {acc:.4f} "
          f"({args.epochs} epochs on {len(d.y_train)} digits training images)")
    if data_out is not None:
        data_out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(data_out, "wb") as f:
            np.savez_compressed(f, x_train=d.x_train, y_train=d.y_train, x_val=d.x_val,
                                y_val=d.y_val, x_test=d.x_test, y_test=d.y_test)
        print(f"wrote {data_out}: digits {len(d.y_train)} train / {len(d.y_val)} validation / "
              f"{len(d.y_test)} test images, labelled")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
