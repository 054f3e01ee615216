"""Your own data and the choice of weights: calibration images, labelled files, float-PTQ or QAT.

Files
-----
* **Images** (``qsq pack --calib FILE.npy``): a ``.npy`` array of float images ``(N, C, H, W)`` in
  the network's input scale. The engine's pixels are unsigned 8-bit (``quantize_input``), so the
  images must be non-negative; negative values are refused, not clipped silently.
* **Labelled data** (``--calib FILE.npz``, ``qsq train --data FILE.npz``, ``qsq evaluate --data
  FILE.npz``): an ``.npz`` with ``x_train``, ``y_train``, ``x_val``, ``y_val``, ``x_test``,
  ``y_test`` (the splits as given), or with ``x`` and ``y`` (split here by a seeded stratified
  shuffle: 20 % test, then 20 % of the rest validation, like the digits set). Labels are integers
  ``0 .. classes - 1``. ``python -m golden_model.nn.onnx_example --data FILE.npz`` writes one.

Any file that is missing, not NumPy, of the wrong shape or dtype, or not finite raises a one-line
error naming it.

Which weights (:func:`quantize_checkpoint`)
-------------------------------------------
A checkpoint holds float weights and, after ``qsq train`` with QAT epochs, fine-tuned ones.
``float-PTQ`` quantizes the float weights after training (output-aware scales and bias correction,
exponents calibrated on the calibration images); ``QAT`` quantizes the fine-tuned weights with the
plain codec encoder and the exponents they were tuned with. ``auto`` (the default of ``qsq pack``
and ``qsq compile``) takes the one with the better integer accuracy (t = 0) on the validation split
-- measured now when labelled data is at hand, else as ``qsq train`` recorded it -- and float-PTQ
on a tie or when the checkpoint has no fine-tuned weights for this code width.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import DATASETS, Dataset, _stratified_split, load_dataset

__all__ = ["load_images", "load_labelled", "test_images", "checkpoint_dataset", "data_for", "calibration",
           "Calibration", "quantize_checkpoint", "quantize_file", "WEIGHT_CHOICES", "check_images"]

#: ``--weights`` values.
WEIGHT_CHOICES = ("auto", "ptq", "qat")
_SPLITS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def _load_npy_or_npz(path: Path):
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not a .npy or .npz file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(6)
    if head != b"\x93NUMPY" and head[:4] != b"PK\x03\x04":
        raise ValueError(f"{path}: not a NumPy .npy or .npz file")
    try:
        obj = np.load(path, allow_pickle=False)
        if isinstance(obj, np.lib.npyio.NpzFile):
            with obj:
                return {k: obj[k] for k in obj.files}
        return obj
    except (ValueError, OSError, EOFError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path}: not a readable .npy/.npz file ({text})") from None


def check_images(x, input_shape, what: str) -> np.ndarray:
    """``x`` as float32 ``(N,) + input_shape`` (when ``input_shape`` is given), finite, >= 0."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" or x.ndim != 4 or len(x) == 0:
        raise ValueError(f"{what} must be a non-empty float array (N, C, H, W), not "
                         f"{x.dtype} of shape {x.shape}")
    if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape):
        raise ValueError(f"{what} have shape {tuple(x.shape)}; the network takes (N, "
                         f"{', '.join(map(str, input_shape))})")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contain NaN or infinite values")
    if x.min() < 0:
        raise ValueError(f"{what} contain negative values (minimum {float(x.min()):.4g}); the "
                         f"engine's pixels are unsigned 8-bit, so the input must be >= 0")
    return x


def _labels(y, n: int, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype.kind not in "iu" or y.shape != (n,):
        raise ValueError(f"{what} must be {n} integer labels, not {y.dtype} of shape {y.shape}")
    if n and y.min() < 0:
        raise ValueError(f"{what} must be >= 0, not {int(y.min())}")
    return y.astype(np.int64)


def load_images(path, input_shape=None) -> np.ndarray:
    """Calibration images from a ``.npy`` array, or the training images of a labelled ``.npz``."""
    path = Path(path)
    obj = _load_npy_or_npz(path)
    if isinstance(obj, dict):
        key = "x_train" if "x_train" in obj else "x" if "x" in obj else None
        if key is None:
            raise ValueError(f"{path}: an .npz of images needs an array 'x' or 'x_train', it has "
                             f"{sorted(obj)}")
        obj = obj[key]
    return check_images(obj, input_shape, f"{path}: images")


def load_labelled(path, input_shape=None, seed: int = 0) -> Dataset:
    """A labelled ``.npz`` (module notes) as a :class:`~golden_model.nn.data.Dataset`."""
    path = Path(path)
    obj = _load_npy_or_npz(path)
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: labelled data must be an .npz with x and y (or the six splits "
                         f"{', '.join(_SPLITS)}), not a single .npy array")
    if all(k in obj for k in _SPLITS):
        parts = {}
        for s in ("train", "val", "test"):
            x = check_images(obj[f"x_{s}"], input_shape, f"{path}: x_{s}")
            parts[s] = (x, _labels(obj[f"y_{s}"], len(x), f"{path}: y_{s}"))
    elif "x" in obj and "y" in obj:
        x = check_images(obj["x"], input_shape, f"{path}: x")
        y = _labels(obj["y"], len(x), f"{path}: y")
        tr, va, te = _stratified_split(y, np.random.default_rng(seed), 0.2, 0.2)
        parts = {"train": (x[tr], y[tr]), "val": (x[va], y[va]), "test": (x[te], y[te])}
    else:
        raise ValueError(f"{path}: labelled data needs arrays x and y, or {', '.join(_SPLITS)}; "
                         f"it has {sorted(obj)}")
    if not len(parts["train"][1]):
        raise ValueError(f"{path}: the training split is empty")
    classes = int(max(int(p[1].max()) for p in parts.values() if len(p[1]))) + 1
    return Dataset("file", parts["train"][0], parts["train"][1], parts["test"][0], parts["test"][1],
                   classes, parts["val"][0], parts["val"][1], source=str(path))


def test_images(path, input_shape=None):
    """Images to run and their labels: the test split of a labelled ``.npz``, or the images of
    a ``.npy`` (labels None)."""
    path = Path(path)
    obj = _load_npy_or_npz(path)
    if isinstance(obj, dict) and any(k.startswith("y") for k in obj):
        ds = load_labelled(path, input_shape)
        return ds.x_test, ds.y_test
    return load_images(path, input_shape), None


def checkpoint_dataset(meta: dict):
    """The data set a checkpoint was trained on: a name of :data:`DATASETS`, ``"file"`` (a
    labelled file, ``meta["data_file"]``), or None (imported, never trained here)."""
    return meta.get("dataset", None if "source" in meta else "digits")


def data_for(meta: dict, data=None, dataset: str | None = None, input_shape=None) -> Dataset:
    """The data set to train or evaluate a checkpoint with ``meta`` on.

    ``data``: a labelled ``.npz`` file, or the directory of ``dataset`` (MNIST, CIFAR-10);
    ``dataset``: a data set name, default the checkpoint's own.
    """
    if data is not None and Path(data).suffix == ".npz":
        return load_labelled(data, input_shape, meta.get("split_seed", 0))
    name = dataset or checkpoint_dataset(meta)
    if name == "file":
        raise ValueError(f"the checkpoint was trained on the labelled file "
                         f"{meta.get('data_file', '?')}: give it (or another labelled .npz) as "
                         f"--data FILE.npz")
    if name is None:
        raise ValueError("the checkpoint was imported and names no data set: give labelled data as "
                         "--data FILE.npz or a data set with --dataset NAME")
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, not {name!r}")
    ds = load_dataset(name, data, meta.get("split_seed", 0) if name == checkpoint_dataset(meta) else 0)
    if input_shape is not None and ds.input_shape != tuple(input_shape):
        raise ValueError(f"data set {name} has images {ds.input_shape}; the network takes "
                         f"{tuple(input_shape)}")
    return ds


@dataclass
class Calibration:
    """Calibration images, the labelled validation split if any, and where they came from."""

    x: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    source: str


def calibration(meta: dict, input_shape, calib=None, data_dir=None) -> Calibration:
    """Calibration images for a checkpoint: from ``calib`` (a ``.npy`` of images, a labelled
    ``.npz`` or a data set name) or, without it, from the checkpoint's own data set."""
    from .quant import CALIB_IMAGES

    if calib is not None and str(calib) not in DATASETS:
        p = Path(calib)
        if p.suffix == ".npz" and p.is_file():
            obj = _load_npy_or_npz(p)
            if any(k.startswith("y") for k in obj):
                ds = load_labelled(p, input_shape)
                return Calibration(ds.x_train[:CALIB_IMAGES], ds.x_val, ds.y_val, ds.describe())
        x = load_images(p, input_shape)
        return Calibration(x[:CALIB_IMAGES], None, None, f"{p}: {len(x)} images")
    if calib is None and checkpoint_dataset(meta) is None:
        raise ValueError("the checkpoint was imported and names no data set: give calibration "
                         "images as --calib IMAGES.npy, a labelled FILE.npz or a data set name "
                         f"{DATASETS}")
    ds = data_for(meta, data_dir, None if calib is None else str(calib), input_shape)
    check_images(ds.x_train[:1], input_shape, f"data set {ds.name} images")
    return Calibration(ds.x_train[:CALIB_IMAGES], ds.x_val, ds.y_val, ds.describe())


def quantize_checkpoint(ck, calib: Calibration, codec, weights: str = "auto"):
    """Quantize a checkpoint's float-PTQ or QAT weights; return ``(model, choice, note)``.

    ``choice`` is ``"ptq"`` or ``"qat"``; ``note`` one line saying why (module notes).
    """
    from .quant import integer_predict, quantize_model

    if weights not in WEIGHT_CHOICES:
        raise ValueError(f"--weights must be one of {WEIGHT_CHOICES}, not {weights!r}")
    tuned_bits = ck.meta.get("code_bits", 3)
    has_qat = ck.qat_model is not None and tuned_bits == codec.code_bits
    if weights == "qat" and not has_qat:
        why = "no fine-tuned (QAT) weights" if ck.qat_model is None else \
            f"QAT weights tuned for {tuned_bits}-bit codes, not {codec.code_bits}"
        raise ValueError(f"--weights qat: the checkpoint has {why}")

    def ptq():
        return quantize_model(ck.float_model, calib.x, codec)

    def qat():
        return quantize_model(ck.qat_model, calib.x, codec, "mse", False, exponents=ck.qat_exponents)

    if weights == "ptq":
        return ptq(), "ptq", "float-PTQ (chosen with --weights ptq)"
    if weights == "qat":
        return qat(), "qat", "QAT (chosen with --weights qat)"
    if not has_qat:
        why = "the checkpoint has no fine-tuned weights" if ck.qat_model is None else \
            f"its QAT weights were tuned for {tuned_bits}-bit codes"
        return ptq(), "ptq", f"float-PTQ ({why})"
    if calib.y_val is not None and len(calib.y_val):
        qp, qq = ptq(), qat()
        ap = float(np.mean(integer_predict(qp, calib.x_val) == calib.y_val))
        aq = float(np.mean(integer_predict(qq, calib.x_val) == calib.y_val))
        where = f"on the {len(calib.y_val)} validation images"
    elif isinstance(ck.meta.get("validation"), dict) and {"ptq", "qat"} <= set(ck.meta["validation"]):
        ap, aq = (float(ck.meta["validation"][k]) for k in ("ptq", "qat"))
        qp = qq = None
        where = "on the validation split, as qsq train recorded it"
    else:
        return ptq(), "ptq", ("float-PTQ (no labelled validation data to compare with QAT: give "
                              "--calib FILE.npz with labels, or --weights qat)")
    pick = "qat" if aq > ap else "ptq"
    note = (f"{'QAT' if pick == 'qat' else 'float-PTQ'} (integer accuracy {where}: float-PTQ "
            f"{ap:.4f}, QAT {aq:.4f})")
    model = (qq if pick == "qat" else qp)
    if model is None:
        model = qat() if pick == "qat" else ptq()
    return model, pick, note


def quantize_file(path, calib, data_dir, codec, weights: str = "auto"):
    """Load checkpoint ``path`` and quantize it (``qsq pack``, ``qsq compile``); return
    ``(model, lines)``, ``lines`` saying which calibration images and weights were used."""
    from .checkpoint import load_checkpoint

    ck = load_checkpoint(path)
    if weights == "qat" and ck.qat_model is None:
        raise ValueError(f"{path}: checkpoint has no fine-tuned (qat) weights")
    cal = calibration(ck.meta, ck.float_model.input_shape, calib, data_dir)
    qm, _, note = quantize_checkpoint(ck, cal, codec, weights)
    return qm, [f"calibration: {len(cal.x)} images of {cal.source}", f"weights: {note}"]
