"""Training (float) and quantization-aware fine-tuning (straight-through estimator) in NumPy.

Both are deterministic for a seed: initialisation and mini-batch order come from
``numpy.random.default_rng(seed)`` and every operation is a plain NumPy/BLAS call.

Quantization-aware fine-tuning (:func:`finetune_qat`) starts from trained float weights. In every
step the forward pass uses the *fake-quantized* network of :mod:`golden_model.nn.quant`: each layer's
weights are re-encoded with the golden-model codec (by :func:`~golden_model.nn.fastcodec.encode_layer_fast`,
which returns exactly what :func:`golden_model.codec.encode_layer` returns, much faster; ``make
bench-train`` times both) and
replaced by their dequantized values, and
each compute layer's input is rounded to its unsigned 8-bit grid ``a * 2**e_in`` (exponents fixed
by calibration before fine-tuning). The backward pass treats both roundings as the identity
(straight-through estimator; the activation gradient is zeroed where the value saturated) and
updates the float "shadow" weights.

Speed: the matrices of one mini-batch are small, so BLAS runs single-threaded while training
(:func:`blas_threads`; OpenBLAS's spinning worker threads slow small products down badly on a busy
machine -- ``make bench-train`` times one gradient both ways), and the first layer's input
gradient is not computed.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..config import CodecConfig, check_int
from .fastcodec import encode_layer_fast
from .model import Sequential, build_model

__all__ = ["TrainConfig", "train", "train_model", "finetune_qat", "cross_entropy", "accuracy",
           "blas_threads"]


@contextlib.contextmanager
def blas_threads(n: int = 1):
    """Limit BLAS to ``n`` threads inside the block (``threadpoolctl``, installed with
    scikit-learn; without it the block runs unchanged)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # numpy-only installation: nothing to limit with
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters (defaults reproduce the committed digits checkpoint)."""

    epochs: int = 60
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 5e-4
    seed: int = 0
    qat_epochs: int = 8
    qat_lr: float = 2e-4
    augment: bool = False


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient w.r.t. the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = float(-np.mean(np.log(p[np.arange(n), y] + 1e-12)))
    g = p
    g[np.arange(n), y] -= 1.0
    return loss, (g / n).astype(np.float32)


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correct predictions."""
    return float(np.mean(np.asarray(pred) == np.asarray(y)))


class _Adam:
    def __init__(self, model: Sequential, lr: float, wd: float):
        self.lr, self.wd, self.t = lr, wd, 0
        self.m = {k: np.zeros_like(v) for k, v in model.state().items()}
        self.v = {k: np.zeros_like(v) for k, v in model.state().items()}

    def step(self, model: Sequential, lr: float):
        self.t += 1
        b1, b2 = 0.9, 0.999
        for lay in model.compute_layers:
            for p, g in (("w", lay.dw), ("b", lay.db)):
                key = f"{lay.name}.{p}"
                if p == "w" and self.wd:
                    g = g + self.wd * lay.w
                self.m[key] = b1 * self.m[key] + (1 - b1) * g
                self.v[key] = b2 * self.v[key] + (1 - b2) * g * g
                mh = self.m[key] / (1 - b1 ** self.t)
                vh = self.v[key] / (1 - b2 ** self.t)
                setattr(lay, p, (getattr(lay, p) - lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32))


def _progress(msg: str, quiet: bool):
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def _shift(x: np.ndarray, rng) -> np.ndarray:
    """Translate every image by a random whole pixel offset in [-1, 1]^2 (zero fill)."""
    n, c, h, w = x.shape
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    dy, dx = rng.integers(0, 3, n), rng.integers(0, 3, n)
    iy = dy[:, None] + np.arange(h)[None, :]                        # (N, H)
    ix = dx[:, None] + np.arange(w)[None, :]                        # (N, W)
    return p[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
             iy[:, None, :, None], ix[:, None, None, :]]


def _epochs(model, x, y, cfg_epochs, batch, lr, wd, seed, quiet, label, before_step=None,
            val=None, augment=False):
    with blas_threads(1):
        _run_epochs(model, x, y, cfg_epochs, batch, lr, wd, seed, quiet, label, before_step, val,
                    augment)


def _run_epochs(model, x, y, cfg_epochs, batch, lr, wd, seed, quiet, label, before_step, val,
                augment):
    rng = np.random.default_rng(seed)
    opt = _Adam(model, lr, wd)
    n = len(y)
    steps = cfg_epochs * ((n + batch - 1) // batch)
    k = 0
    t0 = time.perf_counter()
    for ep in range(cfg_epochs):
        order = rng.permutation(n)
        tot = 0.0
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            if before_step:
                before_step()
            xb = _shift(x[idx], rng) if augment else x[idx]
            logits = model.forward(xb, train=True)
            loss, g = cross_entropy(logits, y[idx])
            model.backward(g)
            cur_lr = lr * 0.5 * (1 + np.cos(np.pi * k / steps))  # cosine decay
            opt.step(model, cur_lr)
            tot += loss * len(idx)
            k += 1
        msg = f"[{label}] epoch {ep + 1}/{cfg_epochs} loss {tot / n:.4f}"
        if val is not None:
            msg += f" val acc {val():.4f}"
        _progress(msg + f" ({time.perf_counter() - t0:.1f} s)", quiet)


def train(x: np.ndarray, y: np.ndarray, arch: str, cfg: TrainConfig = TrainConfig(),
          quiet: bool = False, x_val=None, y_val=None) -> Sequential:
    """Train a float model of architecture ``arch`` from scratch (Adam, cosine learning rate)."""
    check_int("epochs", cfg.epochs, 1, 100_000)
    return train_model(build_model(arch, cfg.seed), x, y, cfg, quiet, x_val, y_val)


def train_model(model: Sequential, x: np.ndarray, y: np.ndarray, cfg: TrainConfig = TrainConfig(),
                quiet: bool = False, x_val=None, y_val=None) -> Sequential:
    """Train ``model`` in place for ``cfg.epochs`` more float epochs (any architecture, e.g. an
    imported one; ``cfg.epochs = 0`` leaves it unchanged) and return it."""
    check_int("epochs", cfg.epochs, 0, 100_000)
    check_int("batch", cfg.batch, 1, 1_000_000)
    if not cfg.epochs:
        return model
    val = None if x_val is None else (lambda: accuracy(model.predict(x_val), y_val))
    _epochs(model, x, y, cfg.epochs, cfg.batch, cfg.lr, cfg.weight_decay, cfg.seed, quiet,
            "train", val=val, augment=cfg.augment)
    return model


class _FakeQuantAct:
    """Rounds a compute layer's input to its u8 grid in the forward pass; STE backward."""

    def __init__(self, layer, e_in: int):
        self.layer, self.step_size = layer, float(np.ldexp(1.0, e_in))
        self.fwd, self.bwd = layer.forward, layer.backward

    def forward(self, x, train=False):
        q = np.clip(np.floor(x / self.step_size + 0.5), 0, 255) * self.step_size
        if train:
            self.mask = (x >= 0) & (x <= 255.5 * self.step_size)
        return self.fwd(q.astype(np.float32), train)

    def backward(self, grad, input_grad=True):
        g = self.bwd(grad, input_grad=input_grad)
        return None if g is None else g * self.mask


def finetune_qat(model: Sequential, x: np.ndarray, y: np.ndarray, exponents: list[int],
                 codec: CodecConfig = CodecConfig(), cfg: TrainConfig = TrainConfig(),
                 quiet: bool = False, x_val=None, y_val=None) -> Sequential:
    """Quantization-aware fine-tuning of a copy of ``model`` (see the module notes).

    ``exponents`` are the input-activation exponents of the compute layers
    (:func:`golden_model.nn.quant.calibrate_exponents`), kept fixed.
    """
    check_int("qat_epochs", cfg.qat_epochs, 0, 100_000)
    tuned = model.copy()
    comp = tuned.compute_layers
    if len(exponents) != len(comp):
        raise ValueError(f"exponents must have one entry per compute layer ({len(comp)}), "
                         f"not {len(exponents)}")
    wrappers = [_FakeQuantAct(lay, e) for lay, e in zip(comp, exponents)]
    for lay, wr in zip(comp, wrappers):
        lay.forward, lay.backward = wr.forward, wr.backward

    def quantize_weights():
        for lay in comp:
            lay.weight_override = encode_layer_fast(lay.w, codec).dequantized().astype(np.float32)

    def val():
        quantize_weights()
        return accuracy(tuned.predict(x_val), y_val)

    try:
        _epochs(tuned, x, y, cfg.qat_epochs, cfg.batch, cfg.qat_lr, 0.0, cfg.seed + 1, quiet, "qat",
                before_step=quantize_weights, val=None if x_val is None else val,
                augment=cfg.augment)
    finally:
        for lay in comp:
            del lay.forward, lay.backward  # back to the class methods
            lay.weight_override = None
    return tuned
