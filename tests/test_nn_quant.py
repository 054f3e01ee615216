"""Bit-exact integer inference: vectorized engines against a slow scalar reference written from the
documented number formats; post-training quantization; the committed checkpoint's accuracy."""

import numpy as np
import pytest

from golden_model import encode_layer
from golden_model.config import CodecConfig
from golden_model.nn.checkpoint import load_checkpoint
from golden_model.nn.data import load_digits
from golden_model.nn.model import build_model
from golden_model.nn.quant import (check_truncations, encode_output_aware, integer_forward,
                                   integer_predict, quantize_model, requantize)
from golden_model.nn.train import accuracy
from golden_model.reference import naf


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def qmodel(digits):
    ck = load_checkpoint()
    return quantize_model(ck.float_model, digits.x_train)


def _round_shift(v: int, s: int) -> int:
    """Python-int requantization: round half up, then ReLU and 8-bit saturation."""
    if s > 0:
        v = (v + (1 << (s - 1))) // (1 << s)
    else:
        v = v * (1 << -s)
    return min(max(v, 0), 255)


def scalar_reference(qm, image, ts):
    """One image through the network with Python ints only, product by product."""
    nd = qm.mult.ndigits
    trunc = [{b: sum(d << i for i, d in enumerate(naf(b, nd)) if i >= t) for b in range(-128, 128)}
             for t in range(nd + 1)]
    e0 = qm.layers[0].e_in
    c, h, w = qm.input_shape
    act = [[[min(max(int(np.floor(float(image[ch, i, j]) * 2.0 ** -e0 + 0.5)), 0), 255)
             for j in range(w)] for i in range(h)] for ch in range(c)]
    li = 0
    acc = None
    for op in qm.ops:
        if op == "conv":
            q = qm.layers[li]
            wts = q.encoded.decoded()
            tab = trunc[ts[li]]
            f_n, c_n, k, _ = wts.shape
            hh, ww = len(act[0]), len(act[0][0])
            ho, wo = hh + 2 * q.pad - k + 1, ww + 2 * q.pad - k + 1
            acc = [[[0] * wo for _ in range(ho)] for _ in range(f_n)]
            for f in range(f_n):
                for i in range(ho):
                    for j in range(wo):
                        s = int(q.bias_q[f])
                        for ch in range(c_n):
                            for ky in range(k):
                                for kx in range(k):
                                    y, x = i + ky - q.pad, j + kx - q.pad
                                    a = act[ch][y][x] if 0 <= y < hh and 0 <= x < ww else 0
                                    s += a * tab[int(wts[f, ch, ky, kx])]
                        acc[f][i][j] = s
            li += 1
        elif op == "fc":
            q = qm.layers[li]
            wts = q.encoded.decoded()
            tab = trunc[ts[li]]
            acc = [int(q.bias_q[f]) + sum(a * tab[int(b)] for a, b in zip(act, wts[f]))
                   for f in range(wts.shape[0])]
            li += 1
        elif op == "relu":
            s = qm.layers[li - 1].shift
            if isinstance(acc[0], list):
                act = [[[_round_shift(v, s) for v in row] for row in ch] for ch in acc]
            else:
                act = [_round_shift(v, s) for v in acc]
        elif op == "pool":
            act = [[[max(ch[2 * i][2 * j], ch[2 * i][2 * j + 1], ch[2 * i + 1][2 * j], ch[2 * i + 1][2 * j + 1])
                     for j in range(len(ch[0]) // 2)] for i in range(len(ch) // 2)] for ch in act]
        elif op == "flatten":
            act = [v for ch in act for row in ch for v in row]
    return acc


@pytest.mark.parametrize("t", [0, 2, [1, 3, 2, 0]])
def test_integer_inference_equals_scalar_reference(qmodel, digits, t):
    ts = check_truncations(t, qmodel)
    x = digits.x_test[:2]
    for engine in ("matmul", "table"):
        out = integer_forward(qmodel, x, t, engine)
        for n in range(len(x)):
            assert out[n].tolist() == scalar_reference(qmodel, x[n], ts)


def test_engines_agree_at_every_level(qmodel, digits):
    x = digits.x_test[:20]
    for t in range(qmodel.mult.ndigits + 1):
        a = integer_forward(qmodel, x, t, "matmul")
        b = integer_forward(qmodel, x, t, "table")
        assert np.array_equal(a, b)
        assert np.abs(a).max() < 2 ** 31


def test_requantize_rounds_half_up_and_saturates():
    acc = np.array([-5, 0, 1, 2, 3, 5, 6, 7, 10_000])
    assert requantize(acc, 2).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 255]
    assert requantize(acc, 0).tolist() == [0, 0, 1, 2, 3, 5, 6, 7, 255]
    assert requantize(acc, -1).tolist() == [0, 0, 2, 4, 6, 10, 12, 14, 255]


def test_truncation_validation(qmodel, digits):
    with pytest.raises(ValueError, match=r"^truncation must be an integer in \[0, 8\], not 9$"):
        check_truncations(9, qmodel)
    with pytest.raises(ValueError, match=r"^truncation list must have one level per layer \(4\), not 2$"):
        check_truncations([1, 2], qmodel)
    with pytest.raises(ValueError, match=r"^engine must be one of \('matmul', 'table', 'bucket'\), not 'gpu'$"):
        integer_forward(qmodel, digits.x_test[:1], 0, "gpu")
    with pytest.raises(ValueError, match=r"images must have shape \(N,\) \+ \(1, 8, 8\), not \(1, 8, 8\)$"):
        integer_forward(qmodel, digits.x_test[0], 0)


def test_output_aware_encoder_with_identity_moment_is_the_codec_encoder():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((6, 3, 3, 3)) * 0.2
    a = encode_layer(w)
    b = encode_output_aware(w, np.eye(27))
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.scales, b.scales)
    assert a.exponent == b.exponent
    c = encode_output_aware(w, np.diag(rng.random(27) + 0.1))
    assert c.exponent == a.exponent and c.codes.dtype == np.uint8
    assert not np.any(c.codes == CodecConfig().reserved_code)
    with pytest.raises(ValueError, match=r"^moment must have shape \(27, 27\), not \(3, 3\)$"):
        encode_output_aware(w, np.eye(3))


def test_committed_checkpoint_meets_the_accuracy_target(qmodel, digits):
    """3-bit integer inference of the committed checkpoint stays within 1 point of float."""
    ck = load_checkpoint()
    acc_f = accuracy(ck.float_model.predict(digits.x_test), digits.y_test)
    acc_i = accuracy(integer_predict(qmodel, digits.x_test, 0), digits.y_test)
    assert acc_f > 0.95
    assert acc_f - acc_i <= 0.01


@pytest.mark.parametrize("arch", ["lenet5", "convnet-cifar"])
def test_other_architectures_quantize_and_run(arch):
    m = build_model(arch, seed=1)
    rng = np.random.default_rng(0)
    x = rng.random((3,) + m.input_shape).astype(np.float32)
    qm = quantize_model(m, x, CodecConfig(4), method="mse", bias_correction=False)
    out = integer_forward(qm, x, [0] * len(qm.layers))
    assert out.shape == (3, 10)
    assert np.array_equal(out, integer_forward(qm, x, 0, "table"))
