"""Shift-and-scale weight codes: decode == scalar reference, encoder properties, packing, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from golden_model import reference as ref
from golden_model.codec import (decode, encode_layer, int8_baseline, layer_report, levels,
                                pack_codes, unpack_codes)
from golden_model.config import CodecConfig


@pytest.mark.parametrize("code_bits", [2, 3, 4])
def test_decode_exhaustive(code_bits):
    cfg = CodecConfig(code_bits, 7)
    codes, scales = np.meshgrid(np.arange(1 << code_bits), np.arange(1, 128), indexing="ij")
    got = decode(codes, scales, cfg)
    want = np.vectorize(lambda c, s: ref.decode(int(c), int(s), code_bits))(codes, scales)
    np.testing.assert_array_equal(got, want)
    # Decoded weights fit a signed (scale_bits + 1)-bit integer.
    assert got.min() >= -127 and got.max() <= 127


def test_levels_n3():
    np.testing.assert_array_equal(levels(100), [0, 25, 50, 100])
    np.testing.assert_array_equal(levels(100, CodecConfig(2, 7)), [0, 100])
    np.testing.assert_array_equal(levels(127, CodecConfig(4, 7)), [0, 1, 3, 7, 15, 31, 63, 127])


def test_reserved_code_decodes_to_zero():
    cfg = CodecConfig()
    assert decode(cfg.reserved_code, 77, cfg) == 0


def _gaussian_layer(shape, seed, scale=0.1):
    return np.random.default_rng(seed).normal(0.0, scale, shape)


@pytest.mark.parametrize("code_bits", [2, 3, 4])
@pytest.mark.parametrize("shape", [(6, 1, 5, 5), (16, 6, 5, 5), (10, 84)])
def test_encoder_properties(code_bits, shape):
    cfg = CodecConfig(code_bits, 7)
    w = _gaussian_layer(shape, sum(shape) + code_bits)
    enc = encode_layer(w, cfg)
    assert enc.codes.shape == w.shape and enc.scales.shape == (shape[0],)
    assert not np.any(enc.codes == cfg.reserved_code)                     # never emitted
    assert enc.scales.min() >= 1 and enc.scales.max() <= cfg.scale_max
    dq = enc.dequantized()
    # Sign agrees with the float weight wherever the decoded weight is nonzero.
    nz = dq != 0
    assert np.all(np.sign(dq[nz]) == np.sign(w[nz]))
    # Every weight maps to its nearest level of its filter's scale.
    for f in range(shape[0]):
        lv = np.ldexp(levels(int(enc.scales[f]), cfg).astype(float), enc.exponent)
        dist = np.abs(np.abs(w[f]).reshape(-1, 1) - lv[None, :])
        np.testing.assert_allclose(np.abs(dq[f]).reshape(-1), lv[np.argmin(dist, axis=1)])


def test_encoder_scale_is_optimal():
    """The chosen scale minimises the filter's squared error over every admissible scale."""
    cfg = CodecConfig()
    w = _gaussian_layer((4, 3, 3, 3), 7)
    enc = encode_layer(w, cfg)
    for f in range(4):
        errs = []
        for s in range(1, cfg.scale_max + 1):
            lv = np.ldexp(levels(s, cfg).astype(float), enc.exponent)
            dist = np.abs(np.abs(w[f]).reshape(-1, 1) - lv[None, :])
            errs.append(np.sum(dist.min(axis=1) ** 2))
        assert errs[enc.scales[f] - 1] == pytest.approx(min(errs), rel=1e-12)


def test_encoder_exponent_fits_largest_weight():
    w = np.array([[0.5, -1.0], [0.25, 0.0]])
    enc = encode_layer(w)
    assert 127 * 2.0 ** enc.exponent >= 1.0 > 127 * 2.0 ** (enc.exponent - 1)


def test_encoder_tiny_weights_clamp_exponent():
    enc = encode_layer(np.array([[1e-60, -1e-39], [0.0, 1e-40]]))
    assert enc.exponent == -128
    np.testing.assert_array_equal(enc.decoded(), [[0, 0], [0, 0]])  # below half the finest level
    enc = encode_layer(np.array([[1e-37, -1e-37]]))
    assert enc.exponent == -128 and np.all(enc.decoded() != 0)


def test_encoder_zero_layer():
    enc = encode_layer(np.zeros((3, 4)))
    assert not enc.codes.any() and enc.exponent == 0
    assert not enc.dequantized().any()


def test_round_trip_exact_levels():
    """Weights already on the grid are reproduced exactly."""
    cfg = CodecConfig()
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 8, (5, 40))
    codes[codes == cfg.reserved_code] = 0
    codes[:, 0] = 3                    # every filter uses its top level, so the scale is identified
    scales = rng.integers(64, 128, 5)  # scales whose levels are distinct
    w = np.ldexp(decode(codes, scales[:, None], cfg).astype(float), -9)
    enc = encode_layer(w, cfg)
    np.testing.assert_array_equal(enc.dequantized(), w)


@settings(max_examples=60, deadline=None)
@given(w=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, max_side=5),
                    elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)),
       code_bits=st.sampled_from([2, 3, 4]))
def test_encoder_hypothesis(w, code_bits):
    cfg = CodecConfig(code_bits, 7)
    enc = encode_layer(w, cfg)
    assert not np.any(enc.codes == cfg.reserved_code)
    # Reconstruction is never worse than all zeros (level 0 is always available).
    assert np.sum((w - enc.dequantized()) ** 2) <= np.sum(w ** 2) * (1 + 1e-12) + 1e-300


@pytest.mark.parametrize("code_bits", [2, 3, 4])
def test_encoder_subnormal_weights(code_bits):
    """A layer whose largest weight is subnormal (found by hypothesis: log2(wmax / smax) of 0)
    encodes at the smallest exponent, every weight decoding to 0."""
    cfg = CodecConfig(code_bits, 7)
    enc = encode_layer(np.array([[5e-324, -1e-310]]), cfg)
    assert enc.exponent == -128 and not np.any(enc.codes == cfg.reserved_code)
    assert not np.any(enc.dequantized())


def test_layer_report_counts():
    cfg = CodecConfig()
    w = _gaussian_layer((16, 6, 5, 5), 1)
    r = layer_report(w, encode_layer(w, cfg))
    assert r.weights == 2400 and r.filters == 16
    assert r.bits_total == 3 * 2400 + 7 * 16 + 8
    assert r.saving_vs_fp32 == pytest.approx(1 - r.bits_total / (32 * 2400))
    assert r.bits_int8 == 8 * 2400 + 32
    assert 0 <= r.zero_frac_int8 <= r.zero_frac_codes <= 1
    assert r.rel_l2_error < 0.5


def test_int8_baseline():
    np.testing.assert_array_equal(int8_baseline(np.array([[1.0, -0.5, 0.001]])), [[127, -64, 0]])


@pytest.mark.parametrize("code_bits,lanes", [(3, 1), (3, 4), (2, 8), (4, 3), (3, 21)])
def test_pack_round_trip(code_bits, lanes):
    cfg = CodecConfig(code_bits)
    codes = np.random.default_rng(lanes).integers(0, 1 << code_bits, 101)
    words = pack_codes(codes, cfg, lanes)
    assert words.size == -(-101 // lanes)
    np.testing.assert_array_equal(unpack_codes(words, cfg, lanes, 101), codes)
    # First code in the least significant bits.
    assert int(words[0]) & ((1 << code_bits) - 1) == codes[0]


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(code_bits=5), ValueError, r"^code_bits must be one of \(2, 3, 4\), not 5$"),
    (dict(code_bits=1), ValueError, r"^code_bits must be one of \(2, 3, 4\), not 1$"),
    (dict(code_bits="3"), TypeError, r"^code_bits must be one of \(2, 3, 4\), not '3'$"),
    (dict(scale_bits=0), ValueError, r"^scale_bits must be an integer in \[1, 15\], not 0$"),
    (dict(scale_bits=16), ValueError, r"^scale_bits must be an integer in \[1, 15\], not 16$"),
])
def test_bad_codec_config(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        CodecConfig(**kwargs)


def test_bad_decode_inputs():
    cfg = CodecConfig()
    with pytest.raises(ValueError, match=r"^codes must lie in \[0, 7\] \(unsigned 3-bit\), not 8$"):
        decode([1, 8], 5, cfg)
    with pytest.raises(ValueError, match=r"^scale must lie in \[1, 127\], not 0$"):
        decode(1, 0, cfg)
    with pytest.raises(ValueError, match=r"^scale must lie in \[0, 127\] \(unsigned 7-bit\), not 128$"):
        decode(1, 128, cfg)


@pytest.mark.parametrize("w,exc,msg", [
    (np.array([[1.0, np.nan]]), ValueError, r"^weights must be finite, not containing NaN or Inf$"),
    (np.array([[np.inf]]), ValueError, r"^weights must be finite, not containing NaN or Inf$"),
    (np.zeros((0, 3)), ValueError, r"^weights must not be empty, not shape \(0, 3\)$"),
    (np.ones(5), ValueError, r"^weights must have at least 2 dimensions \(output channel first\), "
                             r"not shape \(5,\)$"),
    (np.array([["a"]]), TypeError, r"^weights must be a real-valued array, not an array of <U1$"),
    (np.array([[1e300]]), ValueError, r"^weights need exponent 990, outside the 8-bit range "
                                      r"\[-128, 127\] \(largest magnitude 1e\+300\)$"),
])
def test_bad_weights(w, exc, msg):
    with pytest.raises(exc, match=msg):
        encode_layer(w)


def test_bad_lanes():
    with pytest.raises(ValueError, match=r"^lanes must be an integer in \[1, 21\], not 0$"):
        pack_codes([1], CodecConfig(), 0)
