"""ONNX import: a float CNN from an ``.onnx`` file -> a :class:`~golden_model.nn.model.Sequential`.

What it reads
-------------
A sequential NCHW network with one image input ``(N, C, H, W)`` (``N`` free or 1; ``C``, ``H``,
``W`` fixed) and one output ``(N, classes)``, built from:

=======================  ==========================================================================
ONNX op                  becomes
=======================  ==========================================================================
``Conv``                 :class:`~golden_model.nn.model.Conv2D`: square kernel of any size, equal
                         zero padding on every side (or ``auto_pad`` VALID / SAME with an odd
                         kernel), stride 1, dilation 1, one group
``Relu``                 ReLU
``MaxPool``              2x2 max pooling, stride 2, no padding
``Flatten``, ``Reshape`` the flatten before the fully connected layers (``Flatten`` axis 1, or a
                         ``Reshape`` to ``(N, C*H*W)``)
``Gemm``                 :class:`~golden_model.nn.model.Dense` (``transA = 0``; ``alpha``,
                         ``beta``, ``transB`` folded into the weights)
``MatMul`` [+ ``Add``]   Dense; the ``Add`` of a constant vector right after it is its bias
``Add`` after ``Conv``   a per-channel constant folded into the conv bias
``BatchNormalization``   folded into the conv or fully connected layer right before it
``Identity``,            dropped (inference)
``Dropout``
=======================  ==========================================================================

Anything else -- another op, a second input, a branch, a stride of 2, a non-square kernel --
raises :class:`OnnxImportError` (a :class:`ValueError`) with one line naming the node, its op and
what is supported. ``Constant`` nodes and the shape arithmetic exporters emit around a
``Reshape`` (``Shape``, ``Gather``, ``Unsqueeze``, ``Squeeze``, ``Concat``, ``Slice``, ``Cast`` and
element-wise ops on constants) are evaluated away first.

How (the shape of hls4ml's and QONNX's converters, our own code)
----------------------------------------------------------------
1. :func:`read_onnx`: bytes -> ``ModelProto``; decode errors, a missing graph and the ONNX
   checker's complaints are one-line errors naming the file (a truncated or non-ONNX file is
   detected, never converted).
2. Clean the graph (:func:`_clean`): ONNX shape inference with the batch fixed to 1, constant
   folding, ``Identity`` / ``Dropout`` removed, dead nodes pruned; then the live nodes must form
   one chain from the input to the output.
3. One small handler per op type (:data:`_HANDLERS`) turns each chain node into layers, folding
   ``BatchNormalization`` and bias ``Add`` nodes into the layer before them (in float64).
4. A ``MaxPool`` between a layer and its ``Relu`` is moved after the ``Relu`` (max pooling and
   ReLU commute), then the layer order is checked against what integer inference and the engine
   run: ``conv -> relu [-> pool]`` stages, ``flatten``, ``fc -> relu`` stages, a final ``fc``.

:func:`check_against_onnxruntime` then runs the imported network and onnxruntime on the same
random images; ``qsq import`` requires agreement within :data:`FLOAT_TOLERANCE`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .model import Conv2D, Dense, Flatten, MaxPool2, ReLU, Sequential

__all__ = ["OnnxImportError", "read_onnx", "import_onnx", "ImportResult", "SUPPORTED_OPS",
           "check_against_onnxruntime", "FLOAT_TOLERANCE", "FloatCheck"]

#: Ops a network may consist of (after constant folding).
SUPPORTED_OPS = ("Conv", "Relu", "MaxPool", "Flatten", "Reshape", "Gemm", "MatMul", "Add",
                 "BatchNormalization", "Identity", "Dropout")
#: Largest ``|ours - onnxruntime|`` accepted, relative to ``max(1, max |onnxruntime output|)``.
FLOAT_TOLERANCE = 1e-4
_MAX_DIM = 1 << 16


class OnnxImportError(ValueError):
    """The ONNX file cannot be imported; the message is one line saying why."""


# ----------------------------------------------------------------------------- reading
def read_onnx(path):
    """Read and check an ONNX file; return its ``onnx.ModelProto``.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        If ``path`` does not exist or is a folder.
    OnnxImportError
        If the bytes are not a valid ONNX model (truncated, corrupted, another format), the
        message starting with the path.
    """
    import onnx
    from google.protobuf.message import DecodeError

    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{p}: is a folder, not an ONNX file")
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such ONNX file")
    data = p.read_bytes()
    bad = f"{p}: not a valid ONNX model"
    if not data:
        raise OnnxImportError(f"{bad}: the file is empty")
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, RuntimeError, ValueError):
        raise OnnxImportError(f"{bad}: protobuf decoding failed (truncated, corrupted or another "
                              f"format)") from None
    if not model.HasField("graph") or not model.ir_version or not len(model.opset_import):
        raise OnnxImportError(f"{bad}: no graph, IR version or opset (truncated, corrupted or "
                              f"another format)")
    try:
        from onnx.external_data_helper import load_external_data_for_model, uses_external_data
        if any(uses_external_data(t) for t in model.graph.initializer):
            load_external_data_for_model(model, str(p.parent))
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, OSError, ValueError) as exc:
        raise OnnxImportError(f"{bad}: {_first_line(exc)}") from None
    return model


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ----------------------------------------------------------------------------- graph cleaning
@dataclass
class _Node:
    name: str
    op: str
    inputs: list
    outputs: list
    attrs: dict
    domain: str = ""

    @property
    def label(self) -> str:
        return f"node {self.name!r} ({self.op})"


def _attrs(node) -> dict:
    from onnx import helper, numpy_helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if hasattr(v, "raw_data") or hasattr(v, "float_data"):   # a TensorProto
            v = numpy_helper.to_array(v)
        elif isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode("utf-8", "replace") for x in v]
        out[a.name] = v
    return out


def _const_of_constant_node(node: _Node):
    a = node.attrs
    if "value" in a:
        return np.asarray(a["value"])
    for key, dt in (("value_float", np.float32), ("value_floats", np.float32),
                    ("value_int", np.int64), ("value_ints", np.int64)):
        if key in a:
            return np.asarray(a[key], dt)
    raise OnnxImportError(f"{node.label}: a Constant without a tensor, float or int value is "
                          f"not supported")


def _axes(node: _Node, consts, index: int):
    if len(node.inputs) > index and node.inputs[index]:
        return [int(v) for v in np.asarray(consts[node.inputs[index]]).reshape(-1)]
    return node.attrs.get("axes")


def _fold_value(node: _Node, consts: dict, shapes: dict):
    """The value of ``node``'s (first) output if it can be computed from constants, else None."""
    ins = [i for i in node.inputs if i]
    op = node.op
    if op == "Shape":
        shp = shapes.get(node.inputs[0])
        if shp is None or any(d is None for d in shp):
            return None
        s = np.asarray(shp, np.int64)
        start, end = node.attrs.get("start", 0), node.attrs.get("end", None)
        return s[start:end]
    if not all(i in consts for i in ins):
        return None
    v = [np.asarray(consts[i]) for i in ins]
    if op == "Identity":
        return v[0]
    if op == "Cast":
        from onnx import helper
        return v[0].astype(helper.tensor_dtype_to_np_dtype(node.attrs["to"]))
    if op == "Gather":
        return np.take(v[0], v[1], axis=node.attrs.get("axis", 0))
    if op == "Unsqueeze":
        out = v[0]
        axes = _axes(node, consts, 1)
        rank = out.ndim + len(axes)
        for ax in sorted(a % rank for a in axes):
            out = np.expand_dims(out, ax)
        return out
    if op == "Squeeze":
        axes = _axes(node, consts, 1)
        return np.squeeze(v[0], axis=None if axes is None else tuple(axes))
    if op == "Concat":
        return np.concatenate([np.atleast_1d(x) for x in v], axis=node.attrs.get("axis", 0))
    if op == "Slice":
        if len(node.inputs) == 1:                          # opset < 10: attributes
            starts, ends = node.attrs["starts"], node.attrs["ends"]
            axes, steps = node.attrs.get("axes"), None
        else:
            starts, ends = v[1].tolist(), v[2].tolist()
            axes = _axes(node, consts, 3)
            steps = np.asarray(consts[node.inputs[4]]).tolist() if len(node.inputs) > 4 and node.inputs[4] else None
        axes = list(range(len(starts))) if axes is None else axes
        steps = [1] * len(starts) if steps is None else steps
        sl = [slice(None)] * v[0].ndim
        for s, e, a, st in zip(starts, ends, axes, steps):
            sl[a] = slice(int(s), int(e), int(st))
        return v[0][tuple(sl)]
    if op in ("Add", "Sub", "Mul", "Div") and len(v) == 2:
        a, b = v
        if op == "Div" and np.issubdtype(a.dtype, np.integer):
            return a // b
        return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a, b)
    if op == "Reshape":
        return v[0].reshape([int(d) if d != 0 else v[0].shape[i] for i, d in enumerate(v[1])])
    return None


def _static_shapes(model) -> dict:
    """Every tensor's shape from ONNX shape inference with the batch dimension fixed to 1."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {t.name for t in m.graph.initializer}
    for vi in m.graph.input:
        if vi.name not in inits and vi.type.tensor_type.shape.dim:
            d0 = vi.type.tensor_type.shape.dim[0]
            d0.Clear()
            d0.dim_value = 1
    try:
        m = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True, data_prop=True)
    except Exception as exc:   # InferenceError, ValidationError: an inconsistent graph
        raise OnnxImportError(f"shape inference failed: {_first_line(exc)}") from None
    shapes = {}
    for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                    for d in t.shape.dim)
    return shapes


@dataclass
class _Graph:
    nodes: list
    consts: dict
    input: str
    output: str
    input_shape: tuple


def _clean(model) -> _Graph:
    """Constants, folding, Identity/Dropout removal, pruning (see the module notes)."""
    from onnx import TensorProto, numpy_helper

    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    inputs = [vi for vi in g.input if vi.name not in consts]
    if len(inputs) != 1:
        raise OnnxImportError(f"the graph has {len(inputs)} inputs "
                              f"({', '.join(repr(v.name) for v in inputs) or 'none'}); "
                              f"qsq import needs exactly one image input (N, C, H, W)")
    if len(g.output) != 1:
        raise OnnxImportError(f"the graph has {len(g.output)} outputs "
                              f"({', '.join(repr(v.name) for v in g.output) or 'none'}); "
                              f"qsq import needs exactly one output (the logits)")
    vin = inputs[0]
    tt = vin.type.tensor_type
    if not vin.type.HasField("tensor_type") or tt.elem_type != TensorProto.FLOAT:
        raise OnnxImportError(f"input {vin.name!r} must be a float32 tensor (N, C, H, W)")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
    if len(dims) != 4 or any(d is None or d < 1 for d in dims[1:]) or dims[0] not in (None, 1):
        shown = "x".join("?" if d is None else str(d) for d in dims) if dims else "unknown"
        raise OnnxImportError(f"input {vin.name!r} has shape {shown}; qsq import needs NCHW "
                              f"(N, C, H, W) with fixed C, H, W and a free or unit batch N")
    if any(d > _MAX_DIM for d in dims[1:]):
        raise OnnxImportError(f"input {vin.name!r}: dimensions {dims[1:]} above {_MAX_DIM}")
    nodes = []
    for i, n in enumerate(g.node):
        nodes.append(_Node(n.name or f"#{i}", n.op_type, list(n.input), list(n.output), _attrs(n),
                           n.domain))
    for n in nodes:
        if n.domain not in ("", "ai.onnx"):
            raise OnnxImportError(f"{n.label}: op domain {n.domain!r} is not supported; "
                                  f"qsq import handles standard ONNX ops: {', '.join(SUPPORTED_OPS)}")
    shapes = _static_shapes(model)
    # constant folding, to a fixed point
    live = []
    for n in nodes:
        if n.op == "Constant":
            consts[n.outputs[0]] = _const_of_constant_node(n)
        else:
            live.append(n)
    changed = True
    while changed:
        changed = False
        keep = []
        for n in live:
            val = _fold_value(n, consts, shapes) if len(n.outputs) == 1 else None
            if val is not None:
                consts[n.outputs[0]] = np.asarray(val)
                changed = True
            else:
                keep.append(n)
        live = keep
    # Identity / Dropout: rename their output to their input
    alias = {}
    keep = []
    for n in live:
        if n.op in ("Identity", "Dropout"):
            mask = n.outputs[1] if n.op == "Dropout" and len(n.outputs) > 1 else ""
            if mask and (any(mask in m.inputs for m in live) or mask == g.output[0].name):
                raise OnnxImportError(f"{n.label}: its mask output is used; only the inference "
                                      f"form (data output only) is supported")
            alias[n.outputs[0]] = n.inputs[0]
        else:
            keep.append(n)

    def real(name):
        while name in alias:
            name = alias[name]
        return name

    for n in keep:
        n.inputs = [real(i) if i else i for i in n.inputs]
    out_name = real(g.output[0].name)
    # prune nodes that do not lead to the output
    producer = {o: n for n in keep for o in n.outputs if o}
    needed, stack = set(), [out_name]
    while stack:
        t = stack.pop()
        n = producer.get(t)
        if n is not None and id(n) not in needed:
            needed.add(id(n))
            stack += [i for i in n.inputs if i and i not in consts]
    keep = [n for n in keep if id(n) in needed]
    return _Graph(keep, consts, vin.name, out_name, tuple(dims[1:]))


def _chain(g: _Graph) -> list:
    """The live nodes in order from the input to the output; each takes one computed tensor."""
    consumers: dict = {}
    for n in g.nodes:
        computed = [i for i in n.inputs if i and i not in g.consts]
        if len(computed) != 1:
            if n.op not in SUPPORTED_OPS:
                _unsupported(n)
            raise OnnxImportError(f"{n.label}: takes {len(computed)} computed tensors "
                                  f"({', '.join(map(repr, computed))}); qsq import needs a "
                                  f"sequential network (no branches, skips or extra inputs)")
        consumers.setdefault(computed[0], []).append(n)
    chain, cur, seen = [], g.input, set()
    while cur != g.output:
        nxt = consumers.get(cur, [])
        if len(nxt) != 1:
            if not nxt:
                raise OnnxImportError(f"tensor {cur!r} reaches no node and is not the output "
                                      f"{g.output!r}")
            raise OnnxImportError(f"tensor {cur!r} feeds {len(nxt)} nodes "
                                  f"({', '.join(repr(n.name) for n in nxt)}); qsq import needs a "
                                  f"sequential network (no branches)")
        n = nxt[0]
        if id(n) in seen:
            raise OnnxImportError(f"{n.label}: the graph has a cycle")
        seen.add(id(n))
        chain.append(n)
        cur = n.outputs[0]
    if len(chain) != len(g.nodes):
        extra = [n for n in g.nodes if id(n) not in seen][0]
        raise OnnxImportError(f"{extra.label}: not on the path from the input to the output; "
                              f"qsq import needs a sequential network")
    return chain


# ----------------------------------------------------------------------------- op handlers
@dataclass
class _Item:
    kind: str            # conv, fc, relu, pool, flatten
    node: str            # the ONNX node label that produced it
    w: np.ndarray | None = None
    b: np.ndarray | None = None
    k: int = 0
    pad: int = 0
    folded: list = field(default_factory=list)   # labels of the BatchNorm / Add nodes folded in


@dataclass
class _State:
    shape: tuple
    items: list = field(default_factory=list)
    foldable: bool = False   # the last node's output is a compute layer's (BN / bias may fold)

    def add(self, item: _Item, foldable: bool = False):
        self.items.append(item)
        self.foldable = foldable


_HANDLERS: dict = {}


def _handler(op):
    def reg(fn):
        _HANDLERS[op] = fn
        return fn
    return reg


def _unsupported(n: _Node):
    raise OnnxImportError(f"{n.label}: op {n.op} is not supported; qsq import handles "
                          f"{', '.join(SUPPORTED_OPS)} (a sequential NCHW CNN)")


def _const(n: _Node, g: _Graph, index: int, what: str, required: bool = True):
    if len(n.inputs) <= index or not n.inputs[index]:
        if required:
            raise OnnxImportError(f"{n.label}: has no {what}")
        return None
    name = n.inputs[index]
    if name not in g.consts:
        raise OnnxImportError(f"{n.label}: its {what} {name!r} must be a constant (an initializer)")
    return np.asarray(g.consts[name], np.float64)


def _ints(n: _Node, key: str, default):
    v = n.attrs.get(key, default)
    return tuple(int(x) for x in v)


@_handler("Conv")
def _conv(n: _Node, g: _Graph, st: _State):
    if len(st.shape) != 3:
        raise OnnxImportError(f"{n.label}: a convolution after the flatten is not supported")
    w = _const(n, g, 1, "weight")
    b = _const(n, g, 2, "bias", required=False)
    if w.ndim != 4:
        raise OnnxImportError(f"{n.label}: only 2-D convolutions (weights F x C x kh x kw) are "
                              f"supported, not weights of shape {w.shape}")
    f, c, kh, kw = w.shape
    if n.attrs.get("group", 1) != 1:
        raise OnnxImportError(f"{n.label}: group {n.attrs['group']} is not supported (grouped and "
                              f"depthwise convolutions): the engine runs group 1")
    if kh != kw:
        raise OnnxImportError(f"{n.label}: kernel {kh}x{kw} is not supported: the engine runs "
                              f"square kernels")
    strides = _ints(n, "strides", (1, 1))
    if any(s != 1 for s in strides):
        raise OnnxImportError(f"{n.label}: strides {strides} are not supported: the engine runs "
                              f"stride 1 only (use a MaxPool 2x2 to downsample)")
    dil = _ints(n, "dilations", (1, 1))
    if any(d != 1 for d in dil):
        raise OnnxImportError(f"{n.label}: dilations {dil} are not supported: the engine runs "
                              f"dilation 1")
    auto = n.attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        if kh % 2 == 0:
            raise OnnxImportError(f"{n.label}: auto_pad {auto} with an even kernel pads unequally; "
                                  f"the engine pads every side equally")
        pads = ((kh - 1) // 2,) * 4
    elif auto == "VALID":
        pads = (0, 0, 0, 0)
    elif auto == "NOTSET":
        pads = _ints(n, "pads", (0, 0, 0, 0))
    else:
        raise OnnxImportError(f"{n.label}: auto_pad {auto!r} is not supported")
    if len(set(pads)) != 1:
        raise OnnxImportError(f"{n.label}: pads {pads} are not supported: the engine pads every "
                              f"side of the image equally")
    pad = pads[0]
    if pad >= kh:
        raise OnnxImportError(f"{n.label}: padding {pad} with a {kh}x{kh} kernel is not supported: "
                              f"the engine needs padding < kernel size")
    if c != st.shape[0]:
        raise OnnxImportError(f"{n.label}: weights take {c} input channels, the data has "
                              f"{st.shape[0]}")
    ho, wo = st.shape[1] + 2 * pad - kh + 1, st.shape[2] + 2 * pad - kh + 1
    if min(ho, wo) < 1:
        raise OnnxImportError(f"{n.label}: a {kh}x{kh} kernel with padding {pad} does not fit the "
                              f"{st.shape[1]}x{st.shape[2]} image")
    if b is None:
        b = np.zeros(f)
    if b.shape != (f,):
        raise OnnxImportError(f"{n.label}: bias of shape {b.shape}, not ({f},)")
    st.add(_Item("conv", n.label, w, b.copy(), kh, pad), foldable=True)
    st.shape = (f, ho, wo)


def _fc(n: _Node, st: _State, w: np.ndarray, b: np.ndarray):
    if len(st.shape) != 1:
        raise OnnxImportError(f"{n.label}: a fully connected layer needs a flattened input, the "
                              f"data has shape {st.shape} (add a Flatten)")
    if w.shape[1] != st.shape[0]:
        raise OnnxImportError(f"{n.label}: weights take {w.shape[1]} inputs, the data has "
                              f"{st.shape[0]}")
    st.add(_Item("fc", n.label, w, b), foldable=True)
    st.shape = (w.shape[0],)


@_handler("Gemm")
def _gemm(n: _Node, g: _Graph, st: _State):
    if n.attrs.get("transA", 0):
        raise OnnxImportError(f"{n.label}: transA = 1 is not supported (the data must be A)")
    bmat = _const(n, g, 1, "weight B")
    if bmat.ndim != 2:
        raise OnnxImportError(f"{n.label}: weight B of shape {bmat.shape} is not a matrix")
    w = bmat if n.attrs.get("transB", 0) else bmat.T               # (out, in)
    w = float(n.attrs.get("alpha", 1.0)) * w
    c = _const(n, g, 2, "bias C", required=False)
    bias = np.zeros(w.shape[0])
    if c is not None:
        try:
            bias = float(n.attrs.get("beta", 1.0)) * np.broadcast_to(c, (1, w.shape[0]))[0]
        except ValueError:
            raise OnnxImportError(f"{n.label}: bias C of shape {c.shape} does not broadcast to "
                                  f"(1, {w.shape[0]})") from None
    _fc(n, st, w, bias.copy())


@_handler("MatMul")
def _matmul(n: _Node, g: _Graph, st: _State):
    if n.inputs[0] in g.consts:
        raise OnnxImportError(f"{n.label}: the data must be the first operand (x @ W)")
    bmat = _const(n, g, 1, "weight")
    if bmat.ndim != 2:
        raise OnnxImportError(f"{n.label}: weight of shape {bmat.shape} is not a matrix")
    _fc(n, st, bmat.T, np.zeros(bmat.shape[1]))


@_handler("Add")
def _add(n: _Node, g: _Graph, st: _State):
    other = [i for i in n.inputs if i in g.consts]
    last = st.items[-1] if st.items else None
    if not st.foldable or last is None or len(other) != 1:
        raise OnnxImportError(f"{n.label}: only the constant bias right after a Conv, Gemm or "
                              f"MatMul is supported")
    v = np.asarray(g.consts[other[0]], np.float64)
    f = last.w.shape[0]
    want = (f, 1, 1) if last.kind == "conv" else (f,)
    try:
        full = np.broadcast_to(v, (1,) + want)                       # batch first
    except ValueError:
        raise OnnxImportError(f"{n.label}: constant of shape {v.shape} does not broadcast to "
                              f"the layer's output (N, {', '.join(map(str, want))})") from None
    per = full.reshape(f, -1)
    if not np.all(per == per[:, :1]):
        raise OnnxImportError(f"{n.label}: the constant varies within a channel; only a "
                              f"per-channel bias can be folded")
    last.b = last.b + per[:, 0]
    last.folded.append(n.label)
    st.foldable = True


@_handler("BatchNormalization")
def _batchnorm(n: _Node, g: _Graph, st: _State):
    last = st.items[-1] if st.items else None
    if not st.foldable or last is None:
        raise OnnxImportError(f"{n.label}: BatchNormalization must directly follow a Conv, Gemm "
                              f"or MatMul to be folded into it")
    if n.attrs.get("training_mode", 0) or len([o for o in n.outputs if o]) > 1:
        raise OnnxImportError(f"{n.label}: training-mode BatchNormalization (running-mean outputs) "
                              f"is not supported")
    f = last.w.shape[0]
    vals = [_const(n, g, i, what) for i, what in ((1, "scale"), (2, "bias"), (3, "mean"),
                                                  (4, "variance"))]
    for v, what in zip(vals, ("scale", "bias", "mean", "variance")):
        if v.shape != (f,):
            raise OnnxImportError(f"{n.label}: {what} of shape {v.shape}, not ({f},)")
    gamma, beta, mean, var = vals
    eps = float(n.attrs.get("epsilon", 1e-5))
    if np.any(var + eps <= 0):
        raise OnnxImportError(f"{n.label}: variance + epsilon must be positive")
    s = gamma / np.sqrt(var + eps)
    last.w = last.w * s.reshape((f,) + (1,) * (last.w.ndim - 1))
    last.b = (last.b - mean) * s + beta
    last.folded.append(n.label)
    st.foldable = True


@_handler("Relu")
def _relu(n: _Node, g: _Graph, st: _State):
    st.add(_Item("relu", n.label))


@_handler("MaxPool")
def _maxpool(n: _Node, g: _Graph, st: _State):
    if len([o for o in n.outputs if o]) > 1:
        raise OnnxImportError(f"{n.label}: the Indices output is not supported")
    ks, strides = _ints(n, "kernel_shape", ()), _ints(n, "strides", (1, 1))
    pads, dil = _ints(n, "pads", (0, 0, 0, 0)), _ints(n, "dilations", (1, 1))
    auto = n.attrs.get("auto_pad", "NOTSET")
    if ks != (2, 2) or strides != (2, 2) or any(pads) or any(d != 1 for d in dil) or \
            auto not in ("NOTSET", "VALID"):
        raise OnnxImportError(f"{n.label}: kernel {ks}, strides {strides}, pads {pads} are not "
                              f"supported: the engine runs 2x2 max pooling with stride 2 and no "
                              f"padding")
    if len(st.shape) != 3 or min(st.shape[1:]) < 2:
        raise OnnxImportError(f"{n.label}: needs a (C, H, W) input of at least 2x2, not {st.shape}")
    if n.attrs.get("ceil_mode", 0) and (st.shape[1] % 2 or st.shape[2] % 2):
        raise OnnxImportError(f"{n.label}: ceil_mode on an odd {st.shape[1]}x{st.shape[2]} input "
                              f"is not supported: the engine drops the odd row/column")
    st.add(_Item("pool", n.label))
    st.shape = (st.shape[0], st.shape[1] // 2, st.shape[2] // 2)


def _flatten_to(n: _Node, st: _State, size: int):
    if len(st.shape) == 1:
        if size != st.shape[0]:
            raise OnnxImportError(f"{n.label}: reshapes {st.shape} to {size}")
        return                                                     # already flat: no-op
    st.add(_Item("flatten", n.label))
    st.shape = (size,)


@_handler("Flatten")
def _flatten(n: _Node, g: _Graph, st: _State):
    if n.attrs.get("axis", 1) != 1:
        raise OnnxImportError(f"{n.label}: axis {n.attrs['axis']} is not supported: only axis 1 "
                              f"(keep the batch, flatten C x H x W)")
    _flatten_to(n, st, int(np.prod(st.shape)))


@_handler("Reshape")
def _reshape(n: _Node, g: _Graph, st: _State):
    target = _const(n, g, 1, "shape").astype(np.int64).tolist()
    if n.attrs.get("allowzero", 0) and 0 in target:
        raise OnnxImportError(f"{n.label}: allowzero with a 0 in the shape is not supported")
    full = (1,) + tuple(st.shape)                                 # batch 1
    dims = [full[i] if d == 0 and i < len(full) else d for i, d in enumerate(target)]
    size = int(np.prod(full))
    if dims.count(-1) == 1:
        rest = int(np.prod([d for d in dims if d != -1]))
        dims[dims.index(-1)] = size // rest if rest and size % rest == 0 else -2
    if len(dims) != 2 or dims[0] != 1 or dims[1] != size:
        raise OnnxImportError(f"{n.label}: reshape to {target} is not supported: only the "
                              f"flatten (N, C*H*W) = (N, {size})")
    _flatten_to(n, st, size)


# ----------------------------------------------------------------------------- layer order
def _order(items: list) -> list:
    """Move a pool between a compute layer and its ReLU after the ReLU; drop repeated ReLUs."""
    out = []
    for it in items:
        if it.kind == "relu" and out and out[-1].kind == "relu":
            continue
        if it.kind == "relu" and len(out) >= 2 and out[-1].kind == "pool" and \
                out[-2].kind == "conv":
            out.insert(len(out) - 1, it)
            continue
        out.append(it)
    return out


def _check_order(items: list) -> None:
    """The layer order integer inference and the engine run (module notes, step 4)."""
    if not items or items[0].kind != "conv":
        first = items[0].node if items else "nothing"
        raise OnnxImportError(f"the network must start with a Conv (the engine runs its "
                              f"convolution stages before the fully connected layers), not {first}")
    flat = False
    for i, it in enumerate(items):
        prev = items[i - 1] if i else None
        nxt = items[i + 1] if i + 1 < len(items) else None
        if it.kind in ("conv", "fc") and nxt is not None and nxt.kind != "relu":
            raise OnnxImportError(f"{it.node}: must be followed by a Relu (every layer but the "
                                  f"last requantizes through a ReLU in the engine), not by "
                                  f"{nxt.node}")
        if it.kind == "relu" and (prev is None or prev.kind not in ("conv", "fc")):
            raise OnnxImportError(f"{it.node}: a Relu must directly follow a Conv, Gemm or MatMul "
                                  f"(after folding), not {prev.node if prev else 'the input'}")
        if it.kind == "pool" and not (i >= 2 and prev.kind == "relu" and items[i - 2].kind == "conv"):
            raise OnnxImportError(f"{it.node}: the engine pools once, directly after a Conv and "
                                  f"its Relu, not after {prev.node if prev else 'the input'}")
        if it.kind == "flatten":
            flat = True
    last = items[-1]
    if last.kind != "fc":
        raise OnnxImportError(f"the network must end with a Gemm or MatMul (its outputs are the "
                              f"logits), not with {last.node}")
    if not flat and any(it.kind == "conv" for it in items):
        raise OnnxImportError("the network has no Flatten between the convolutions and the fully "
                              "connected layers")


# ----------------------------------------------------------------------------- import
@dataclass
class ImportResult:
    """What :func:`import_onnx` returns.

    Attributes
    ----------
    model : Sequential
        The float network.
    nodes : dict
        Layer name -> the labels of the ONNX nodes it was made of (``"node 'x' (Conv)"``, then
        the BatchNormalization / bias Add nodes folded into it).
    info : dict
        File facts (name, SHA-256, producer, opset, input and output names).
    """

    model: Sequential
    nodes: dict
    info: dict


def _arch_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip(".-")[:200]
    return name or "onnx"


def import_onnx(path, name: str | None = None) -> ImportResult:
    """Import the ONNX file ``path`` (see the module notes).

    Parameters
    ----------
    path : str or os.PathLike
    name : str, optional
        Architecture name stored in the checkpoint and the packed file (default ``onnx-<stem>``).

    Raises
    ------
    OnnxImportError
        With one line naming what cannot be imported.
    """
    p = Path(path)
    model = read_onnx(p)
    try:
        g = _clean(model)
        chain = _chain(g)
        st = _State(g.input_shape)
        for n in chain:
            fn = _HANDLERS.get(n.op)
            if fn is None:
                _unsupported(n)
            fn(n, g, st)
        items = _order(st.items)
        _check_order(items)
    except OnnxImportError as exc:
        raise OnnxImportError(f"{p}: {exc}") from None
    layers, nodes = [], {}
    counts = {"conv": 0, "fc": 0}
    rng = np.random.default_rng(0)
    shape = g.input_shape
    for it in items:
        if it.kind == "conv":
            counts["conv"] += 1
            lname = f"conv{counts['conv']}"
            lay = Conv2D(lname, shape[0], it.w.shape[0], it.k, it.pad, rng)
            shape = (it.w.shape[0], shape[1] + 2 * it.pad - it.k + 1, shape[2] + 2 * it.pad - it.k + 1)
        elif it.kind == "fc":
            counts["fc"] += 1
            lname = f"fc{counts['fc']}"
            lay = Dense(lname, it.w.shape[1], it.w.shape[0], rng)
        elif it.kind == "pool":
            lay = MaxPool2()
            shape = (shape[0], shape[1] // 2, shape[2] // 2)
        elif it.kind == "relu":
            lay = ReLU()
        else:
            lay = Flatten()
        if it.kind in ("conv", "fc"):
            lay.w = it.w.astype(np.float32)
            lay.b = it.b.astype(np.float32)
            nodes[lname] = [it.node] + it.folded
        layers.append(lay)
    arch = _arch_name(name if name is not None else f"onnx-{p.stem}")
    data = p.read_bytes()
    info = {"file": p.name, "sha256": hashlib.sha256(data).hexdigest(),
            "producer": f"{model.producer_name} {model.producer_version}".strip(),
            "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                         default=0),
            "input": g.input, "output": model.graph.output[0].name,
            "onnx_nodes": len(model.graph.node)}
    return ImportResult(Sequential(arch, layers, g.input_shape), nodes, info)


# ----------------------------------------------------------------------------- float check
@dataclass
class FloatCheck:
    """Imported network vs onnxruntime on the same random images."""

    images: int
    max_abs_diff: float
    max_abs_output: float
    tolerance: float
    argmax_agree: int

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def describe(self) -> str:
        return (f"float check against onnxruntime on {self.images} random images in [0, 1): max "
                f"|difference| {self.max_abs_diff:.3g} (tolerance {FLOAT_TOLERANCE:g} x max(1, "
                f"max |output| {self.max_abs_output:.3g}) = {self.tolerance:.3g}), same class on "
                f"{self.argmax_agree}/{self.images}: {'PASS' if self.ok else 'FAIL'}")


def check_against_onnxruntime(path, model: Sequential, images: int = 32, seed: int = 0) -> FloatCheck:
    """Run ``model`` and onnxruntime on ``images`` random float images in ``[0, 1)``."""
    import onnxruntime as ort

    from ..config import check_int

    images = check_int("images", images, 1, 4096)
    x = np.random.default_rng(seed).random((images,) + tuple(model.input_shape)).astype(np.float32)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    fixed_batch = isinstance(inp.shape[0], int) and inp.shape[0] == 1
    if fixed_batch:
        ref = np.concatenate([sess.run(None, {inp.name: x[i:i + 1]})[0] for i in range(images)])
    else:
        ref = sess.run(None, {inp.name: x})[0]
    ref = np.asarray(ref, np.float64).reshape(images, -1)
    ours = np.asarray(model.forward(x), np.float64).reshape(images, -1)
    if ours.shape != ref.shape:
        raise OnnxImportError(f"{path}: the imported network gives {ours.shape[1]} outputs per "
                              f"image, onnxruntime {ref.shape[1]}")
    top = float(np.abs(ref).max())
    return FloatCheck(images, float(np.abs(ours - ref).max()), top,
                      FLOAT_TOLERANCE * max(1.0, top),
                      int(np.sum(ours.argmax(axis=1) == ref.argmax(axis=1))))
