"""Data sets for the network evaluation: the bundled digits, user-supplied MNIST and CIFAR-10.

Every loader returns a :class:`Dataset` with images as ``float32`` arrays of shape
``(N, C, H, W)`` scaled to ``[0, 1]`` and labels as ``int64`` in ``[0, classes)``.

* :func:`load_digits` -- scikit-learn's bundled handwritten digits (1,797 real 8x8 images, pixel
  values 0..16, no download), split into train and test sets by a seeded, stratified shuffle.
* :func:`load_mnist` -- the four MNIST IDX files (``train-images-idx3-ubyte`` etc., optionally
  ``.gz``) from a directory.
* :func:`load_cifar10` -- the CIFAR-10 "python version" batches (``data_batch_1`` ..
  ``data_batch_5``, ``test_batch``) from a directory.

Missing, truncated or malformed files raise :class:`OSError` (missing) or :class:`ValueError`
(content), with the file name in the message.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import check_int

__all__ = ["Dataset", "load_digits", "load_mnist", "load_cifar10", "read_idx", "load_dataset",
           "DATASETS"]

#: Names accepted by :func:`load_dataset` (and ``qsq train/evaluate --dataset``).
DATASETS = ("digits", "mnist", "cifar10")


@dataclass(frozen=True)
class Dataset:
    """Train and test splits of one data set.

    Attributes
    ----------
    name : str
    x_train, x_test : numpy.ndarray of float32, shape ``(N, C, H, W)``, values in ``[0, 1]``
    y_train, y_test : numpy.ndarray of int64, shape ``(N,)``
    classes : int
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    def describe(self) -> str:
        c, h, w = self.input_shape
        return (f"{self.name}: {len(self.y_train)} train / {len(self.y_test)} test images, "
                f"{c}x{h}x{w}, {self.classes} classes")


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's handwritten digits, split by a seeded stratified shuffle.

    Parameters
    ----------
    test_fraction : float
        Fraction of each class put in the test split, in ``(0, 1)`` (default 0.2: 360 test images).
    seed : int
        Seed of the shuffle (default 0, the split of the committed checkpoint).
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)):
        raise TypeError(f"test_fraction must be a number in (0, 1), not {test_fraction!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be a number in (0, 1), not {test_fraction!r}")
    seed = check_int("seed", seed, 0, 2**32 - 1)
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for c in range(10):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test[idx[:int(round(test_fraction * idx.size))]] = True
    tr, te = np.flatnonzero(~test), np.flatnonzero(test)
    tr, te = rng.permutation(tr), rng.permutation(te)
    return Dataset("digits", x[tr], y[tr], x[te], y[te], 10)


# ---------------------------------------------------------------------------------- MNIST (IDX)
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: not a valid gzip file ({exc})") from None
    return raw


def read_idx(path) -> np.ndarray:
    """Read one IDX file (the MNIST format; ``.gz`` is decompressed).

    The header is two zero bytes, a type byte, a dimension count ``n``, then ``n`` big-endian
    ``uint32`` sizes; the data follows, big-endian, exactly ``prod(sizes)`` items.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the magic, type, dimension count or length is wrong.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, need at least 4)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic {raw[:4].hex()})")
    if not 1 <= ndim <= 4:
        raise ValueError(f"{path}: IDX dimension count must be in [1, 4], not {ndim!r}")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, need {head})")
    dims = struct.unpack(f">{ndim}I", raw[4:head])
    dt = _IDX_TYPES[dtype_code]
    need = int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    if len(raw) - head != need:
        raise ValueError(
            f"{path}: IDX data has {len(raw) - head} bytes, the header {tuple(dims)} needs {need}")
    return np.frombuffer(raw, dt, offset=head).reshape(dims)


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"{root / stem}: no such file (also tried .gz and '.idx' spellings)")


def load_mnist(path) -> Dataset:
    """MNIST from the four IDX files in directory ``path`` (28x28 grey images, 10 classes)."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: MNIST directory does not exist")
    parts = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(_find(root, f"{prefix}-images-idx3-ubyte"))
        y = read_idx(_find(root, f"{prefix}-labels-idx1-ubyte"))
        if x.ndim != 3 or x.dtype != np.dtype(">u1"):
            raise ValueError(f"{root}: {prefix} images must be a 3-D unsigned byte IDX array, "
                             f"not {x.ndim}-D {x.dtype}")
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise ValueError(f"{root}: {prefix} labels must be 1-D with one label per image "
                             f"({x.shape[0]}), not shape {y.shape!r}")
        if y.size and y.max() > 9:
            raise ValueError(f"{root}: {prefix} labels must lie in [0, 9], not {int(y.max())!r}")
        parts[split] = ((x.astype(np.float32) / 255.0)[:, None], y.astype(np.int64))
    return Dataset("mnist", *parts["train"], *parts["test"], 10)


# ---------------------------------------------------------------------------------- CIFAR-10
#: The only globals a CIFAR-10 python batch refers to: NumPy's array and scalar reconstruction
#: (as written by NumPy 1.x and 2.x). Anything else — e.g. a callable planted in a crafted file —
#: is refused before it can run, so loading an untrusted file cannot execute code.
_CIFAR_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 spell bytes
}


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _CIFAR_GLOBALS:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}")
        if module == "numpy":
            return getattr(np, name)
        if module == "_codecs":
            import codecs
            return codecs.encode
        from numpy._core import multiarray  # the current home of the (old) numpy.core names
        return getattr(multiarray, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = _read_bytes(path)
    try:
        d = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # any unpickling failure means a malformed file
        raise ValueError(f"{path}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: not a CIFAR-10 python batch (a {type(d).__name__}, not a dict)")
    data = d.get(b"data", d.get("data"))
    labels = d.get(b"labels", d.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{path}: CIFAR-10 batch needs 'data' and 'labels' entries")
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise ValueError(f"{path}: CIFAR-10 data must be uint8 of shape (N, 3072), "
                         f"not {data.dtype} {data.shape!r}")
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: CIFAR-10 labels must be {data.shape[0]} integers, "
                         f"not {labels.dtype} {labels.shape!r}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: CIFAR-10 labels must lie in [0, 9]")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def load_cifar10(path) -> Dataset:
    """CIFAR-10 from the python batches in directory ``path`` (``cifar-10-batches-py``).

    Every ``data_batch_*`` file present is used for training (at least one is required) and
    ``test_batch`` for testing. Unpickling runs only on files the user points at; do not load
    batches from an untrusted source.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: CIFAR-10 directory does not exist")
    train = sorted(root.glob("data_batch_*"))
    if not train:
        raise FileNotFoundError(f"{root / 'data_batch_1'}: no such file (no CIFAR-10 training batch)")
    xs, ys = zip(*(_read_cifar_batch(p) for p in train))
    xt, yt = _read_cifar_batch(root / "test_batch")
    return Dataset("cifar10", np.concatenate(xs).astype(np.float32) / 255.0, np.concatenate(ys),
                   xt.astype(np.float32) / 255.0, yt, 10)


def load_dataset(name: str, path=None, seed: int = 0) -> Dataset:
    """Load data set ``name`` (one of :data:`DATASETS`); ``path`` is required for MNIST and CIFAR-10."""
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, not {name!r}")
    if name == "digits":
        return load_digits(seed=seed)
    if path is None:
        raise ValueError(f"dataset {name!r} needs a data directory (--data PATH), not None")
    return load_mnist(path) if name == "mnist" else load_cifar10(path)
