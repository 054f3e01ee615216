"""The QAT encoder returns exactly what the golden-model codec returns."""

import numpy as np
import pytest

from golden_model.codec import encode_layer
from golden_model.config import CodecConfig
from golden_model.nn.fastcodec import encode_layer_fast


def _layers(rng, count):
    for i in range(count):
        shape = (int(rng.integers(1, 12)), int(rng.integers(1, 40)))
        kind = i % 5
        if kind == 0:
            w = rng.standard_normal(shape)
        elif kind == 1:
            w = rng.integers(-8, 9, shape) * 0.125            # many exact ties between levels
        elif kind == 2:
            w = rng.laplace(size=shape) * 1e-3
        elif kind == 3:
            w = np.round(rng.standard_normal(shape) * 4) / 4
        else:
            w = rng.standard_normal(shape) * (rng.random(shape) < 0.3)   # mostly zeros
        yield w.astype(np.float32 if i % 2 else np.float64)


@pytest.mark.parametrize("code_bits,scale_bits", [(2, 7), (3, 7), (4, 7), (3, 4), (3, 8)])
def test_identical_to_the_codec(code_bits, scale_bits):
    cfg = CodecConfig(code_bits, scale_bits)
    rng = np.random.default_rng(code_bits * 10 + scale_bits)
    for w in _layers(rng, 40):
        a, b = encode_layer(w, cfg), encode_layer_fast(w, cfg)
        assert a.exponent == b.exponent
        assert np.array_equal(a.scales, b.scales)
        assert np.array_equal(a.codes, b.codes) and b.codes.dtype == np.uint8


def test_special_inputs_follow_the_codec():
    cfg = CodecConfig()
    z = np.zeros((3, 4))
    assert np.array_equal(encode_layer_fast(z, cfg).codes, encode_layer(z, cfg).codes)
    conv = np.random.default_rng(1).standard_normal((4, 2, 3, 3))
    assert np.array_equal(encode_layer_fast(conv).codes, encode_layer(conv).codes)
    with pytest.raises(ValueError, match="weights must be finite"):
        encode_layer_fast(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        encode_layer_fast(np.ones(3))
