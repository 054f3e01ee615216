"""Small CNNs in NumPy: layers with forward and backward passes, architectures, checkpoints.

A model is a :class:`Sequential` list of layers. The *compute* layers (:class:`Conv2D`,
:class:`Dense`) hold the weights that get compressed; :class:`ReLU`, :class:`MaxPool2` and
:class:`Flatten` have no parameters. Convolutions are stride 1 with zero padding and run as one
matrix product over im2col patches (:func:`im2col`), so a whole batch is a handful of BLAS calls.

Architectures (:data:`ARCHITECTURES`):

``lenet-digits``  (input 1x8x8, the default)
    conv 3x3 1->16, pad 1 -> ReLU -> maxpool 2 -> conv 3x3 16->32, pad 1 -> ReLU -> maxpool 2
    -> flatten (128) -> fc 128->64 -> ReLU -> fc 64->10.  LeNet-5's shape (two conv+pool stages,
    then fully connected layers) scaled to 8x8 digits.
``lenet5``  (input 1x28x28, MNIST)
    conv 5x5 1->6, pad 2 -> ReLU -> pool -> conv 5x5 6->16 -> ReLU -> pool -> fc 400->120 -> ReLU
    -> fc 120->84 -> ReLU -> fc 84->10 (LeNet-5 with ReLU and max pooling).
``convnet-cifar``  (input 3x32x32, CIFAR-10)
    three conv 3x3 (pad 1) + ReLU + pool stages 3->16->32->64, then fc 1024->64 -> ReLU -> fc 64->10.
"""

from __future__ import annotations

import numpy as np

from ..config import check_int

__all__ = ["im2col", "Conv2D", "Dense", "ReLU", "MaxPool2", "Flatten", "Sequential",
           "ARCHITECTURES", "build_model", "default_architecture", "model_from_spec",
           "check_layer_spec", "LAYER_OPS"]


def im2col(x: np.ndarray, k: int, pad: int) -> tuple[np.ndarray, int, int]:
    """Patches of a stride-1 ``k x k`` convolution with zero padding ``pad``.

    Returns ``(cols, Ho, Wo)`` where ``cols`` has shape ``(N*Ho*Wo, C*k*k)``: row
    ``(n*Ho + i)*Wo + j`` is the patch under output pixel ``(i, j)`` of image ``n``, flattened in
    ``(channel, ky, kx)`` order -- the order of a flattened ``(F, C, k, k)`` weight tensor.
    """
    n, c, h, w = x.shape
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # N,C,Ho,Wo,k,k
    ho, wo = win.shape[2], win.shape[3]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * k * k)
    return cols, ho, wo


class Layer:
    """Base class: ``forward(x, train)`` caches what ``backward(grad)`` needs."""

    params: tuple[str, ...] = ()

    def forward(self, x, train=False):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__


class Conv2D(Layer):
    """Stride-1 2-D convolution, weights ``(out_ch, in_ch, k, k)`` and bias ``(out_ch,)``."""

    params = ("w", "b")

    def __init__(self, name, in_ch, out_ch, k, pad, rng):
        self.name, self.in_ch, self.out_ch, self.k, self.pad = name, in_ch, out_ch, k, pad
        fan_in = in_ch * k * k
        self.w = (rng.standard_normal((out_ch, in_ch, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        self.b = np.zeros(out_ch, np.float32)
        self.weight_override = None  # set by quantization-aware training (fake-quantized weights)

    def weight(self):
        return self.w if self.weight_override is None else self.weight_override

    def forward(self, x, train=False):
        cols, ho, wo = im2col(x, self.k, self.pad)
        w = self.weight().reshape(self.out_ch, -1)
        out = cols @ w.T + self.b
        if train:
            self._cache = (x.shape, cols, ho, wo)
        n = x.shape[0]
        return out.reshape(n, ho, wo, self.out_ch).transpose(0, 3, 1, 2)

    def backward(self, grad, input_grad=True):
        """Weight and bias gradients; the input gradient unless ``input_grad`` is False (the
        first layer of a network needs none)."""
        xshape, cols, ho, wo = self._cache
        n, c, h, wd = xshape
        g = grad.transpose(0, 2, 3, 1).reshape(-1, self.out_ch)      # (N*Ho*Wo, F)
        self.dw = (g.T @ cols).reshape(self.w.shape)
        self.db = g.sum(axis=0)
        if not input_grad:
            return None
        dcols = (g @ self.weight().reshape(self.out_ch, -1)).reshape(n, ho, wo, c, self.k, self.k)
        p = self.pad
        # col2im, channels last so every slice added is contiguous in its last axis
        dx = np.zeros((n, h + 2 * p, wd + 2 * p, c), grad.dtype)
        for i in range(self.k):
            for j in range(self.k):
                dx[:, i:i + ho, j:j + wo, :] += dcols[:, :, :, :, i, j]
        dx = dx.transpose(0, 3, 1, 2)
        return dx[:, :, p:p + h, p:p + wd] if p else dx

    def describe(self):
        return f"conv {self.k}x{self.k} {self.in_ch}->{self.out_ch} pad {self.pad}"


class Dense(Layer):
    """Fully connected layer, weights ``(out, in)`` and bias ``(out,)``."""

    params = ("w", "b")

    def __init__(self, name, n_in, n_out, rng):
        self.name, self.n_in, self.n_out = name, n_in, n_out
        self.w = (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(np.float32)
        self.b = np.zeros(n_out, np.float32)
        self.weight_override = None

    def weight(self):
        return self.w if self.weight_override is None else self.weight_override

    def forward(self, x, train=False):
        if train:
            self._x = x
        return x @ self.weight().T + self.b

    def backward(self, grad, input_grad=True):
        self.dw = grad.T @ self._x
        self.db = grad.sum(axis=0)
        return grad @ self.weight() if input_grad else None

    def describe(self):
        return f"fc {self.n_in}->{self.n_out}"


class ReLU(Layer):
    def forward(self, x, train=False):
        if train:
            self._mask = x > 0
        return np.maximum(x, 0)

    def backward(self, grad):
        return grad * self._mask


class MaxPool2(Layer):
    """2x2 max pooling, stride 2 (odd trailing rows/columns are dropped)."""

    def forward(self, x, train=False):
        n, c, h, w = x.shape
        h2, w2 = h // 2, w // 2
        v = x[:, :, :2 * h2, :2 * w2].reshape(n, c, h2, 2, w2, 2).transpose(0, 1, 2, 4, 3, 5)
        v = v.reshape(n, c, h2, w2, 4)
        if train:
            self._cache = (x.shape, np.argmax(v, axis=-1))
        return v.max(axis=-1)

    def backward(self, grad):
        shape, arg = self._cache
        n, c, h, w = shape
        h2, w2 = h // 2, w // 2
        g = np.zeros((n, c, h2, w2, 4), grad.dtype)
        np.put_along_axis(g, arg[..., None], grad[..., None], axis=-1)
        g = g.reshape(n, c, h2, w2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, 2 * h2, 2 * w2)
        out = np.zeros(shape, grad.dtype)
        out[:, :, :2 * h2, :2 * w2] = g
        return out

    def describe(self):
        return "maxpool 2x2"


class Flatten(Layer):
    def forward(self, x, train=False):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad):
        return grad.reshape(self._shape)

    def describe(self):
        return "flatten"


class Sequential:
    """A list of layers applied in order.

    Attributes
    ----------
    arch : str
        Architecture name (a key of :data:`ARCHITECTURES`).
    layers : list of Layer
    input_shape : tuple of int
    """

    def __init__(self, arch, layers, input_shape):
        self.arch, self.layers, self.input_shape = arch, layers, tuple(input_shape)

    @property
    def compute_layers(self) -> list:
        """The :class:`Conv2D` and :class:`Dense` layers, in order (the ones with weights)."""
        return [lay for lay in self.layers if isinstance(lay, (Conv2D, Dense))]

    def forward(self, x, train=False):
        for lay in self.layers:
            x = lay.forward(x, train)
        return x

    def backward(self, grad, input_grad=False):
        """Back-propagate ``grad`` (of the output); every compute layer gets ``dw``/``db``.

        The gradient with respect to the network input is only computed (and returned) when
        ``input_grad`` is True; training never needs it, and for the first convolution it is
        the most expensive part of the backward pass.
        """
        last = len(self.layers) - 1
        for i, lay in enumerate(reversed(self.layers)):
            if i == last and not input_grad and isinstance(lay, (Conv2D, Dense)):
                lay.backward(grad, input_grad=False)
                return None
            grad = lay.backward(grad)
        return grad

    def predict(self, x, batch=512) -> np.ndarray:
        return np.concatenate([self.forward(x[i:i + batch]).argmax(axis=1)
                               for i in range(0, len(x), batch)])

    def state(self) -> dict[str, np.ndarray]:
        """Parameters as ``{"<layer>.w": ..., "<layer>.b": ...}``."""
        return {f"{lay.name}.{p}": getattr(lay, p) for lay in self.compute_layers for p in lay.params}

    def load_state(self, state: dict) -> None:
        for lay in self.compute_layers:
            for p in lay.params:
                key = f"{lay.name}.{p}"
                if key not in state:
                    raise ValueError(f"checkpoint has no parameter {key!r} for architecture {self.arch!r}")
                v = np.asarray(state[key])
                ref = getattr(lay, p)
                if v.shape != ref.shape:
                    raise ValueError(f"checkpoint parameter {key!r} has shape {v.shape!r}, "
                                     f"architecture {self.arch!r} needs {ref.shape!r}")
                setattr(lay, p, v.astype(np.float32))

    def summary(self) -> str:
        return "\n".join(f"  {getattr(lay, 'name', '-'):6s} {lay.describe()}" for lay in self.layers)

    def spec(self) -> list[dict]:
        """The layer list as plain data (JSON-ready), what :func:`model_from_spec` rebuilds.

        One dict per layer: ``{"op": "conv", "name", "in", "out", "k", "pad"}``,
        ``{"op": "fc", "name", "in", "out"}``, ``{"op": "relu"}``, ``{"op": "pool"}`` (2x2 max,
        stride 2) or ``{"op": "flatten"}``.
        """
        out = []
        for lay in self.layers:
            if isinstance(lay, Conv2D):
                out.append({"op": "conv", "name": lay.name, "in": lay.in_ch, "out": lay.out_ch,
                            "k": lay.k, "pad": lay.pad})
            elif isinstance(lay, Dense):
                out.append({"op": "fc", "name": lay.name, "in": lay.n_in, "out": lay.n_out})
            else:
                out.append({"op": _OP_OF[type(lay)]})
        return out

    def copy(self) -> "Sequential":
        """A new model of the same architecture with copies of the weights."""
        m = model_from_spec(self.arch, self.input_shape, self.spec())
        m.load_state({k: v.copy() for k, v in self.state().items()})
        return m


_OP_OF = {ReLU: "relu", MaxPool2: "pool", Flatten: "flatten"}
#: Layer ops of a layer spec (:meth:`Sequential.spec`).
LAYER_OPS = ("conv", "fc", "relu", "pool", "flatten")
_NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
#: Largest dimension (channels, size, kernel) a layer spec may name: refuses absurd shapes
#: before any allocation.
_MAX_DIM = 1 << 20


def _spec_int(where: str, key: str, value, lo: int, hi: int = _MAX_DIM) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where}: {key!r} must be an integer in [{lo}, {hi}], not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{where}: {key!r} must be an integer in [{lo}, {hi}], not {value!r}")
    return value


def check_layer_spec(input_shape, spec) -> None:
    """Check a layer spec (:meth:`Sequential.spec`) against ``input_shape`` ``(C, H, W)``.

    Propagates the shape through the layers: every conv's input channels and every fc's fan-in
    must match what arrives, a kernel must fit the padded image, a pool needs at least 2x2, names
    are unique ``[A-Za-z0-9_.-]`` (not starting with ``.`` or ``-``), at most 255 characters.

    Raises
    ------
    TypeError, ValueError
        Naming the layer (by position) and the value.
    """
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), not {input_shape!r}")
    shape = tuple(_spec_int("input_shape", "CHW"[i], v, 1) for i, v in enumerate(input_shape))
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ValueError(f"layers must be a non-empty list of layer dicts, not {spec!r}")
    names = set()
    for i, d in enumerate(spec):
        where = f"layer {i}"
        if not isinstance(d, dict) or d.get("op") not in LAYER_OPS:
            raise ValueError(f"{where}: must be a dict whose 'op' is one of {LAYER_OPS}, not {d!r}")
        op = d["op"]
        want = {"conv": {"op", "name", "in", "out", "k", "pad"}, "fc": {"op", "name", "in", "out"}}
        keys = want.get(op, {"op"})
        if set(d) != keys:
            raise ValueError(f"{where} ({op}): needs exactly the keys {sorted(keys)}, not {sorted(d)}")
        if op in ("conv", "fc"):
            name = d["name"]
            if (not isinstance(name, str) or not 1 <= len(name) <= 255 or not set(name) <= _NAME_CHARS
                    or name[0] in ".-"):
                raise ValueError(f"{where} ({op}): name must be 1..255 characters of A-Z a-z 0-9 _ . - "
                                 f"(not starting with '.' or '-'), not {name!r}")
            if name in names:
                raise ValueError(f"{where} ({op}): duplicate name {name!r}")
            names.add(name)
            n_in, n_out = _spec_int(where, "in", d["in"], 1), _spec_int(where, "out", d["out"], 1)
        if op == "conv":
            k = _spec_int(where, "k", d["k"], 1, 255)
            pad = _spec_int(where, "pad", d["pad"], 0, k - 1)
            if len(shape) != 3 or shape[0] != n_in:
                raise ValueError(f"{where} (conv {name}): takes {n_in} input channels, "
                                 f"the data arriving has shape {shape}")
            if min(shape[1:]) + 2 * pad < k:
                raise ValueError(f"{where} (conv {name}): kernel {k} with padding {pad} does not fit "
                                 f"a {shape[1]}x{shape[2]} image")
            shape = (n_out, shape[1] + 2 * pad - k + 1, shape[2] + 2 * pad - k + 1)
        elif op == "fc":
            if len(shape) != 1 or shape[0] != n_in:
                raise ValueError(f"{where} (fc {name}): takes a vector of {n_in}, the data arriving "
                                 f"has shape {shape}")
            shape = (n_out,)
        elif op == "pool":
            if len(shape) != 3 or min(shape[1:]) < 2:
                raise ValueError(f"{where} (pool): needs a (C, H, W) input of at least 2x2, "
                                 f"not {shape}")
            shape = (shape[0], shape[1] // 2, shape[2] // 2)
        elif op == "flatten":
            shape = (int(np.prod(shape)),)


def model_from_spec(arch: str, input_shape, spec, seed: int = 0) -> Sequential:
    """A freshly initialised model (He-normal weights from ``seed``) of a layer spec.

    ``spec`` is what :meth:`Sequential.spec` returns; it is checked first
    (:func:`check_layer_spec`).
    """
    if not isinstance(arch, str) or not arch:
        raise TypeError(f"arch must be a non-empty string, not {arch!r}")
    check_layer_spec(input_shape, spec)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    rng = np.random.default_rng(seed)
    layers = []
    for d in spec:
        op = d["op"]
        if op == "conv":
            layers.append(Conv2D(d["name"], d["in"], d["out"], d["k"], d["pad"], rng))
        elif op == "fc":
            layers.append(Dense(d["name"], d["in"], d["out"], rng))
        else:
            layers.append({"relu": ReLU, "pool": MaxPool2, "flatten": Flatten}[op]())
    return Sequential(arch, layers, tuple(input_shape))


def _lenet_digits(rng):
    return [Conv2D("conv1", 1, 16, 3, 1, rng), ReLU(), MaxPool2(),
            Conv2D("conv2", 16, 32, 3, 1, rng), ReLU(), MaxPool2(), Flatten(),
            Dense("fc1", 128, 64, rng), ReLU(), Dense("fc2", 64, 10, rng)], (1, 8, 8)


def _lenet5(rng):
    return [Conv2D("conv1", 1, 6, 5, 2, rng), ReLU(), MaxPool2(),
            Conv2D("conv2", 6, 16, 5, 0, rng), ReLU(), MaxPool2(), Flatten(),
            Dense("fc1", 400, 120, rng), ReLU(), Dense("fc2", 120, 84, rng), ReLU(),
            Dense("fc3", 84, 10, rng)], (1, 28, 28)


def _convnet_cifar(rng):
    return [Conv2D("conv1", 3, 16, 3, 1, rng), ReLU(), MaxPool2(),
            Conv2D("conv2", 16, 32, 3, 1, rng), ReLU(), MaxPool2(),
            Conv2D("conv3", 32, 64, 3, 1, rng), ReLU(), MaxPool2(), Flatten(),
            Dense("fc1", 1024, 64, rng), ReLU(), Dense("fc2", 64, 10, rng)], (3, 32, 32)


#: Architecture name -> builder.
ARCHITECTURES = {"lenet-digits": _lenet_digits, "lenet5": _lenet5, "convnet-cifar": _convnet_cifar}

_DEFAULT_ARCH = {"digits": "lenet-digits", "mnist": "lenet5", "cifar10": "convnet-cifar"}


def default_architecture(dataset: str) -> str:
    """The architecture trained for a data set name."""
    if dataset not in _DEFAULT_ARCH:
        raise ValueError(f"dataset must be one of {tuple(_DEFAULT_ARCH)}, not {dataset!r}")
    return _DEFAULT_ARCH[dataset]


def build_model(arch: str, seed: int = 0) -> Sequential:
    """A freshly initialised model (He-normal weights from ``seed``, zero biases)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {tuple(ARCHITECTURES)}, not {arch!r}")
    seed = check_int("seed", seed, 0, 2**32 - 1)
    layers, shape = ARCHITECTURES[arch](np.random.default_rng(seed))
    return Sequential(arch, layers, shape)
