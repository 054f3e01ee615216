"""NumPy layers: convolution against a direct loop, gradients against finite differences,
deterministic training, the architectures' shapes."""

import numpy as np
import pytest

from golden_model.nn.model import ARCHITECTURES, Conv2D, Dense, Flatten, MaxPool2, ReLU, Sequential, build_model
from golden_model.nn.train import TrainConfig, cross_entropy, train


def test_conv_matches_direct_loop():
    rng = np.random.default_rng(0)
    conv = Conv2D("c", 2, 3, 3, 1, rng)
    conv.b = rng.standard_normal(3).astype(np.float32)
    x = rng.standard_normal((2, 2, 5, 4)).astype(np.float32)
    out = conv.forward(x)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))).astype(np.float64)
    ref = np.zeros((2, 3, 5, 4))
    for n in range(2):
        for f in range(3):
            for i in range(5):
                for j in range(4):
                    ref[n, f, i, j] = np.sum(xp[n, :, i:i + 3, j:j + 3] * conv.w[f]) + conv.b[f]
    assert np.allclose(out, ref, atol=1e-5)


def _tiny(rng):
    return Sequential("tiny", [Conv2D("c1", 1, 2, 3, 1, rng), ReLU(), MaxPool2(), Flatten(),
                               Dense("d1", 8, 3, rng)], (1, 4, 4))


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    m = _tiny(rng)
    for lay in m.compute_layers:
        lay.w = lay.w.astype(np.float64)
        lay.b = rng.standard_normal(lay.b.shape)
    x = rng.standard_normal((3, 1, 4, 4))
    y = np.array([0, 2, 1])
    loss, g = cross_entropy(m.forward(x, train=True), y)
    m.backward(g.astype(np.float64))
    eps = 1e-6
    for lay in m.compute_layers:
        for p, grad in (("w", lay.dw), ("b", lay.db)):
            arr = getattr(lay, p)
            for idx in [(0,) * arr.ndim, tuple(s - 1 for s in arr.shape)]:
                old = arr[idx]
                arr[idx] = old + eps
                lp = cross_entropy(m.forward(x), y)[0]
                arr[idx] = old - eps
                lm = cross_entropy(m.forward(x), y)[0]
                arr[idx] = old
                assert abs((lp - lm) / (2 * eps) - grad[idx]) < 1e-4, (lay.name, p, idx)


def test_training_is_deterministic_for_a_seed():
    rng = np.random.default_rng(0)
    x = rng.random((64, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    cfg = TrainConfig(epochs=1, batch=16)
    a = train(x, y, "lenet-digits", cfg, quiet=True).state()
    b = train(x, y, "lenet-digits", cfg, quiet=True).state()
    c = train(x, y, "lenet-digits", TrainConfig(epochs=1, batch=16, seed=1), quiet=True).state()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_architectures_shapes(arch):
    m = build_model(arch)
    x = np.zeros((2,) + m.input_shape, np.float32)
    assert m.forward(x).shape == (2, 10)


def test_build_model_bad_arch():
    with pytest.raises(ValueError, match=r"^arch must be one of \('lenet-digits', 'lenet5', 'convnet-cifar'\), not 'vgg'$"):
        build_model("vgg")
