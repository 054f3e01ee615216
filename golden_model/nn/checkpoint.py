"""Checkpoints: trained float (and fine-tuned) weights of one architecture in a small ``.npz``.

Keys: ``meta`` (a JSON string: architecture name, data set, split seed, training configuration,
measured accuracies), ``architecture`` (a JSON string: ``{"input_shape": [C, H, W], "layers":
[...]}``, the layer list of :meth:`~golden_model.nn.model.Sequential.spec`) and
``<group>/<layer>.<w|b>`` arrays (``float32``) for each group: ``float`` (trained float weights)
and, when fine-tuning ran, ``qat`` (quantization-aware fine-tuned weights, plus ``qat/exponents``:
the fixed activation exponents it was tuned with).

A checkpoint therefore describes its own network, so every command runs any network the engine
supports (``qsq import`` writes such checkpoints from ONNX files). Checkpoints written before the
``architecture`` key existed (the committed ``lenet_digits.npz`` and ``lenet5_mnist.npz``) name a
built-in architecture in ``meta["arch"]`` (:data:`~golden_model.nn.model.ARCHITECTURES`) and
still load unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .model import ARCHITECTURES, Sequential, build_model, model_from_spec
from ..fileio import atomic_open, load_arrays

__all__ = ["DEFAULT_CHECKPOINT", "save_checkpoint", "load_checkpoint", "Checkpoint"]

#: The committed digits LeNet (``make train`` reproduces it).
DEFAULT_CHECKPOINT = Path(__file__).with_name("lenet_digits.npz")


class Checkpoint:
    """A loaded checkpoint: ``meta`` (dict), ``float_model``, ``qat_model`` (or None), ``qat_exponents``."""

    def __init__(self, meta, float_model, qat_model=None, qat_exponents=None):
        self.meta, self.float_model = meta, float_model
        self.qat_model, self.qat_exponents = qat_model, qat_exponents


def save_checkpoint(path, meta: dict, float_model: Sequential, qat_model: Sequential | None = None,
                    qat_exponents: list[int] | None = None) -> Path:
    arrays = {"meta": np.array(json.dumps(meta, sort_keys=True)),
              "architecture": np.array(json.dumps({"input_shape": list(float_model.input_shape),
                                                   "layers": float_model.spec()}))}
    arrays.update({f"float/{k}": v for k, v in float_model.state().items()})
    if qat_model is not None:
        arrays.update({f"qat/{k}": v for k, v in qat_model.state().items()})
        arrays["qat/exponents"] = np.asarray(qat_exponents, np.int64)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def load_checkpoint(path=DEFAULT_CHECKPOINT) -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a valid checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        data = load_arrays(path)
    except ValueError as exc:       # one line naming the file: damaged, truncated, pickled
        raise ValueError(f"{path}: not a valid checkpoint: {str(exc).removeprefix(f'{path}: ')}") \
            from None
    if "meta" not in data:
        raise ValueError(f"{path}: not a valid checkpoint (no 'meta' entry)")
    try:
        meta = json.loads(str(data["meta"]))
        arch = meta["arch"]
        if not isinstance(meta, dict) or not isinstance(arch, str) or not arch:
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path}: checkpoint 'meta' is not valid JSON with an 'arch' key") from None
    build = _builder(path, arch, data.get("architecture"))
    models = {}
    for group in ("float", "qat"):
        state = {k.split("/", 1)[1]: v for k, v in data.items() if k.startswith(group + "/")
                 and k != "qat/exponents"}
        if state:
            m = build()
            try:
                m.load_state(state)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
            models[group] = m
    if "float" not in models:
        raise ValueError(f"{path}: checkpoint has no float weights")
    exps = [int(v) for v in data["qat/exponents"]] if "qat/exponents" in data else None
    return Checkpoint(meta, models["float"], models.get("qat"), exps)


def _builder(path, arch: str, architecture):
    """A function returning a fresh model of the checkpoint's network: from its ``architecture``
    entry, or (older checkpoints) from the built-in architecture ``arch``."""
    if architecture is None:
        if arch not in ARCHITECTURES:
            raise ValueError(f"{path}: checkpoint has no 'architecture' entry and its arch {arch!r} "
                             f"is not a built-in one {tuple(ARCHITECTURES)}")
        return lambda: build_model(arch)
    try:
        spec = json.loads(str(architecture))
        shape, layers = spec["input_shape"], spec["layers"]
        model_from_spec(arch, shape, layers)          # checked once here
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: checkpoint 'architecture' is not an input shape and a layer "
                         f"list ({type(exc).__name__}: {exc})") from None
    except ValueError as exc:
        raise ValueError(f"{path}: checkpoint 'architecture': {exc}") from None
    return lambda: model_from_spec(arch, shape, layers)
