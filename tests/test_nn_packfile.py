"""The .qsq model file: bit-exact round trip, the documented lane layout, and corrupted files
rejected with documented errors only (including a hypothesis fuzz test)."""

import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden_model.codec import unpack_codes
from golden_model.config import CodecConfig
from golden_model.nn.model import build_model
from golden_model.nn.packfile import (MAGIC, PackFormatError, code_entropy, pack_model, read_model,
                                      unpack_model)
from golden_model.nn.quant import integer_forward, quantize_model


def _qm(code_bits=3, seed=0):
    m = build_model("lenet-digits", seed)
    x = np.random.default_rng(seed).random((16, 1, 8, 8)).astype(np.float32)
    return quantize_model(m, x, CodecConfig(code_bits), method="mse", bias_correction=False), x


QM3, X3 = _qm()
BLOB3 = pack_model(QM3)


def _same(a, b):
    assert a.arch == b.arch and tuple(a.input_shape) == tuple(b.input_shape) and a.ops == b.ops
    assert a.codec == b.codec
    for p, q in zip(a.layers, b.layers):
        assert (p.name, p.kind, p.k, p.pad, p.e_in, p.e_out) == (q.name, q.kind, q.k, q.pad, q.e_in, q.e_out)
        assert p.encoded.exponent == q.encoded.exponent
        assert np.array_equal(p.encoded.codes, q.encoded.codes)
        assert np.array_equal(p.encoded.scales, q.encoded.scales)
        assert np.array_equal(p.bias_q, q.bias_q)


@pytest.mark.parametrize("code_bits", [2, 3, 4])
@pytest.mark.parametrize("lanes", [None, 1, 8])
def test_round_trip_is_bit_exact(code_bits, lanes):
    qm, x = _qm(code_bits, seed=code_bits)
    blob = pack_model(qm, lanes)
    back = unpack_model(blob)
    _same(qm, back)
    assert pack_model(back, lanes) == blob
    assert np.array_equal(integer_forward(qm, x, 2), integer_forward(back, x, 2))


def test_code_stream_is_the_decoder_lane_layout(tmp_path):
    """conv1's code words, read straight from the file, unpack with the golden model's lanes."""
    blob = pack_model(QM3, lanes=8)   # 8 lanes x 3 bits = 24-bit words, 3 bytes each
    q = QM3.layers[0]
    n = q.encoded.codes.size
    n_words = -(-n // 8)
    # header: 12 + len(arch) + 1 + 2*3 + ops; conv1 record: 2 + 5 + 3 + 16 + 4, scales, biases
    start = 12 + len(QM3.arch) + 1 + 6 + len(QM3.ops) + 2 + len(q.name) + 3 + 16 + 4 + 16 + 64
    raw = np.frombuffer(blob[start:start + 3 * n_words], np.uint8).reshape(-1, 3).astype(np.uint64)
    words = raw[:, 0] | (raw[:, 1] << np.uint64(8)) | (raw[:, 2] << np.uint64(16))
    assert np.array_equal(unpack_codes(words, QM3.codec, 8, n), q.encoded.codes.reshape(-1))
    p = tmp_path / "m.qsq"
    p.write_bytes(blob)
    _same(QM3, read_model(p))


def _fix_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_documented_errors():
    with pytest.raises(PackFormatError, match=r"^truncated file: 10 bytes, a model file has at least 16$"):
        unpack_model(BLOB3[:10])
    with pytest.raises(PackFormatError, match=r"^bad magic b'QSQX', expected b'QSQM' \(not a qsq model file\)$"):
        unpack_model(b"QSQX" + BLOB3[4:])
    with pytest.raises(PackFormatError, match=r"^unsupported version 2, this reader handles version 1$"):
        unpack_model(BLOB3[:4] + b"\x02" + BLOB3[5:])
    with pytest.raises(PackFormatError, match=r"^CRC-32 mismatch: stored"):
        unpack_model(BLOB3[:-20] + bytes([BLOB3[-20] ^ 1]) + BLOB3[-19:])
    with pytest.raises(PackFormatError, match=r"^CRC-32 mismatch"):
        unpack_model(BLOB3[:-5])
    body = BLOB3[:-4]
    with pytest.raises(PackFormatError, match=r"^1 unexpected bytes after the last layer$"):
        unpack_model(_fix_crc(body + b"\x00"))
    with pytest.raises(PackFormatError, match=r"^truncated file: layer fc2 codes needs"):
        unpack_model(_fix_crc(body[:-1]))
    with pytest.raises(PackFormatError, match=r"^code_bits must be one of \(2, 3, 4\), not 5$"):
        unpack_model(_fix_crc(body[:5] + b"\x05" + body[6:]))
    with pytest.raises(TypeError, match=r"^data must be bytes, not str$"):
        unpack_model("QSQM")


def _last_code_word_offset(qm, blob):
    q = qm.layers[-1]
    lanes = blob[7]
    wb = (lanes * qm.codec.code_bits + 7) // 8
    n_words = -(-q.encoded.codes.size // lanes)
    return len(blob) - 4 - n_words * wb, wb


def test_reserved_code_and_padding_are_rejected():
    off, wb = _last_code_word_offset(QM3, BLOB3)
    body = bytearray(BLOB3[:-4])
    word = int.from_bytes(body[off:off + wb], "little")
    reserved = (word & ~0b111) | QM3.codec.reserved_code  # first code of fc2 -> reserved
    body[off:off + wb] = reserved.to_bytes(wb, "little")
    with pytest.raises(PackFormatError, match=r"^layer fc2: reserved code 4 at weight 0$"):
        unpack_model(_fix_crc(bytes(body)))
    body = bytearray(BLOB3[:-4])
    body[-1] |= 0x80  # bit 63 of the last word, above the 21 lanes
    with pytest.raises(PackFormatError, match=r"^layer fc2: nonzero bits above the 21 code lanes$"):
        unpack_model(_fix_crc(bytes(body)))
    body = bytearray(BLOB3[:-4])
    body[-1] |= 0x40  # lane 20 of the last word: fc2 has 640 = 30*21 + 10 codes, so padding
    with pytest.raises(PackFormatError, match=r"^layer fc2: nonzero padding codes after the last weight$"):
        unpack_model(_fix_crc(bytes(body)))


def test_code_entropy():
    assert code_entropy(np.array([0, 1, 2, 3]), 3) == pytest.approx(2.0)
    assert code_entropy(np.zeros(10, int), 3) == 0.0


_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(BLOB3) - 1), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, len(BLOB3) - 1), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, len(BLOB3)), st.integers(0, 255)),
)


def _mutate(blob, muts):
    b = bytearray(blob)
    for kind, pos, val in muts:
        pos = min(pos, len(b) - 1) if kind != "insert" else min(pos, len(b))
        if kind == "flip" and b:
            b[pos] ^= val
        elif kind == "cut":
            del b[pos:]
        elif kind == "insert":
            b.insert(pos, val)
    return bytes(b)


def _only_documented(data):
    try:
        qm = unpack_model(data)
    except PackFormatError:
        return None
    return qm


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_mutation, min_size=1, max_size=3))
def test_fuzz_mutated_files_raise_only_documented_errors(muts):
    data = _mutate(BLOB3, muts)
    qm = _only_documented(data)
    if qm is not None:  # only possible if the mutations cancelled out
        assert data == BLOB3
    # With the CRC recomputed the parser itself must catch the damage, or decode a valid file
    # that re-packs to exactly the same bytes (never garbage).
    if len(data) > 8 and data[:4] == MAGIC:
        fixed = _fix_crc(data[:-4])
        qm = _only_documented(fixed)
        if qm is not None:
            assert pack_model(qm, fixed[7]) == fixed
            _runs_cleanly(qm)


# ---------------------------------------------------------------------------------------------
# Values: a file with a valid CRC and absurd values is refused, so an accepted file always runs.

def _layout(blob):
    """Offsets of every value field, walked independently of the reader (the module's layout)."""
    code_bits, scale_bits, lanes = blob[5], blob[6], blob[7]
    (n_layers,) = struct.unpack_from("<H", blob, 8)
    n_ops, n_arch = blob[10], blob[11]
    fields = [(o, "<B") for o in (5, 6, 7, 10, 11)] + [(8, "<H")]
    off = 12 + n_arch
    rank = blob[off]
    fields.append((off, "<B"))
    fields += [(off + 1 + 2 * i, "<H") for i in range(rank)]
    off += 1 + 2 * rank
    ops = off
    fields += [(ops + i, "<B") for i in range(n_ops)]
    off += n_ops
    layers = []
    for _ in range(n_layers):
        kind, n_name = blob[off], blob[off + 1]
        fields += [(off, "<B"), (off + 1, "<B")]
        off += 2 + n_name
        ndim = blob[off + 2]
        fields += [(off, "<B"), (off + 1, "<B"), (off + 2, "<B")]
        shape = struct.unpack_from(f"<{ndim}I", blob, off + 3)
        fields += [(off + 3 + 4 * i, "<I") for i in range(ndim)]
        off += 3 + 4 * ndim
        lay = dict(E=off, e_in=off + 1, has_out=off + 2, e_out=off + 3)
        fields += [(off, "<b"), (off + 1, "<b"), (off + 2, "<B"), (off + 3, "<b")]
        off += 4
        f = shape[0]
        sdt = 1 if scale_bits <= 8 else 2
        lay["scales"] = off
        fields += [(off, f"<{'B' if sdt == 1 else 'H'}"), (off + (f - 1) * sdt, f"<{'B' if sdt == 1 else 'H'}")]
        off += f * sdt
        lay["bias"] = off
        fields += [(off, "<i"), (off + 4 * (f - 1), "<i")]
        off += 4 * f
        off += -(-int(np.prod(shape)) // lanes) * ((lanes * code_bits + 7) // 8)
        layers.append(lay)
    assert off == len(blob) - 4
    return dict(ops=ops, rank=12 + n_arch, layers=layers, fields=fields)


LAYOUT3 = _layout(BLOB3)


def _with(blob, *changes):
    """``blob`` with ``(offset, struct format, value)`` fields replaced and the CRC recomputed."""
    body = bytearray(blob[:-4])
    for off, fmt, value in changes:
        struct.pack_into(fmt, body, off, value)
    return _fix_crc(bytes(body))


def _runs_cleanly(qm):
    """Integer inference at the extreme truncation levels, every engine: defined, equal, int32."""
    x = np.random.default_rng(1).random((3,) + tuple(qm.input_shape))
    for t in (0, qm.mult.ndigits):
        logits = integer_forward(qm, x, t, "matmul")
        assert np.array_equal(logits, integer_forward(qm, x, t, "table"))
        assert np.array_equal(logits, integer_forward(qm, x, t, "bucket"))
        assert np.abs(logits).max() < 2**31


def test_layout_walker_matches_the_model():
    conv1, conv2 = LAYOUT3["layers"][:2]
    assert struct.unpack_from("<bbBb", BLOB3, conv1["E"]) == (-6, -8, 1, -6)
    assert BLOB3[LAYOUT3["ops"]:LAYOUT3["ops"] + len(QM3.ops)] == bytes([1, 2, 3, 1, 2, 3, 4, 0, 2, 0])
    assert struct.unpack_from("<b", BLOB3, conv2["e_in"]) == (-6,)


@pytest.mark.parametrize("e", [127, -127])
def test_exponent_of_127_is_refused(e):
    """Was accepted; E = -127 then raised OverflowError in integer_forward (shift of 129)."""
    blob = _with(BLOB3, (LAYOUT3["layers"][0]["E"], "<b", e))
    s = -6 - (-8 + e)
    with pytest.raises(PackFormatError, match=rf"^layer conv1: requantization shift e_out - \(e_in \+ E\) "
                                              rf"= -6 - \(-8 \+ {e}\) must be in \[-8, 31\], not {s}$"):
        unpack_model(blob)


def test_shift_of_minus_70_is_refused():
    """Was accepted and classified at chance (acc << 70 wraps around in int64)."""
    blob = _with(BLOB3, (LAYOUT3["layers"][0]["E"], "<b", 72))
    with pytest.raises(PackFormatError, match=r"^layer conv1: requantization shift .* not -70$"):
        unpack_model(blob)


def test_shift_limits_are_the_integer_format():
    """The extreme shifts the reader accepts run; one step beyond is refused."""
    lay = LAYOUT3["layers"][0]          # conv1: e_in -8, e_out -6, so s = 2 - E
    for s in (-8, 31):
        _runs_cleanly(unpack_model(_with(BLOB3, (lay["E"], "<b", 2 - s))))
    for s in (-9, 32):
        with pytest.raises(PackFormatError, match=rf"not {s}$"):
            unpack_model(_with(BLOB3, (lay["E"], "<b", 2 - s)))


def test_ops_starting_with_relu_are_refused():
    """Was accepted; integer_forward then failed with a NoneType message."""
    ops = LAYOUT3["ops"]
    body = BLOB3[:10] + bytes([BLOB3[10] + 1]) + BLOB3[11:ops] + b"\x02" + BLOB3[ops:-4]
    with pytest.raises(PackFormatError, match=r"^op 0 \(relu\) must directly follow conv or fc, "
                                              r"not stand at the start$"):
        unpack_model(_fix_crc(body))


def test_relu_after_pool_is_refused():
    ops = LAYOUT3["ops"]               # conv relu pool conv ...: put a relu after the first pool
    body = BLOB3[:10] + bytes([BLOB3[10] + 1]) + BLOB3[11:ops + 3] + b"\x02" + BLOB3[ops + 3:-4]
    with pytest.raises(PackFormatError, match=r"^op 3 \(relu\) must directly follow conv or fc, "
                                              r"not stand after 'pool'$"):
        unpack_model(_fix_crc(body))


def test_exponent_chain_is_checked():
    blob = _with(BLOB3, (LAYOUT3["layers"][1]["e_in"], "<b", -7),
                 (LAYOUT3["layers"][1]["E"], "<b", -9))   # conv2 keeps its own shift of 9
    with pytest.raises(PackFormatError, match=r"^layer conv1: e_out -6 must equal e_in -7 of the "
                                              r"next layer conv2$"):
        unpack_model(blob)


def test_accumulator_bound_is_checked():
    """A bias near int32's limit could overflow the accumulator: refused; one that cannot, runs."""
    fc2 = LAYOUT3["layers"][3]
    with pytest.raises(PackFormatError, match=r"^layer fc2: filter 0 can reach an accumulator of "
                                              r"\d+ \(bias 2147483647\), beyond int32 "
                                              r"\[-2147483648, 2147483647\]$"):
        unpack_model(_with(BLOB3, (fc2["bias"], "<i", 2**31 - 1)))
    w = QM3.layers[3].weights_int[0]
    from golden_model.nn.packfile import _max_truncated_magnitude
    room = 2**31 - 1 - 255 * int(_max_truncated_magnitude(QM3.codec)[w + 127].sum())
    qm = unpack_model(_with(BLOB3, (fc2["bias"], "<i", -room)))
    _runs_cleanly(qm)
    with pytest.raises(PackFormatError, match=r"^layer fc2: filter 0 can reach"):
        unpack_model(_with(BLOB3, (fc2["bias"], "<i", -room - 1)))


def test_input_rank_and_layer_names_are_checked():
    body = bytearray(BLOB3[:-4])
    r = LAYOUT3["rank"]
    body[r] = 2                       # (8, 8) + the old third dimension read as the next field
    with pytest.raises(PackFormatError, match=r"^input rank must be 3 \(C, H, W\), not 2$"):
        unpack_model(_fix_crc(bytes(body)))
    name_at = LAYOUT3["layers"][0]["E"] - 3 - 16 - len("conv1")
    assert BLOB3[name_at:name_at + 5] == b"conv1"
    body = bytearray(BLOB3[:-4])
    body[name_at + 4] = ord("/")
    with pytest.raises(PackFormatError, match=r"^layer 0: name must be letters, digits, '_', '\.' "
                                              r"or '-' \(not starting with '\.' or '-'\), not 'conv/'$"):
        unpack_model(_fix_crc(bytes(body)))


def test_pack_refuses_a_model_the_reader_would_refuse():
    qm = unpack_model(BLOB3)
    qm.layers[0].e_out = qm.layers[1].e_in = 100   # conv1 shift 100 - (-8 - 6) = 114
    with pytest.raises(ValueError, match=r"^cannot pack this model: layer conv1: requantization "
                                         r"shift e_out - \(e_in \+ E\) = 100 - \(-8 \+ -6\) must be "
                                         r"in \[-8, 31\], not 114$"):
        pack_model(qm)


_value_mutation = st.tuples(st.sampled_from(LAYOUT3["fields"]), st.integers(-(2**31), 2**32 - 1))


def _set_fields(blob, muts):
    body = bytearray(blob[:-4])
    for (off, fmt), v in muts:
        size = struct.calcsize(fmt)
        bits = 8 * size
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if fmt[-1].islower() else (0, (1 << bits) - 1)
        struct.pack_into(fmt, body, off, lo + (v - lo) % (hi - lo + 1))
    return _fix_crc(bytes(body))


def _accepted_files_run(muts):
    qm = _only_documented(_set_fields(BLOB3, muts))
    if qm is not None:
        _runs_cleanly(qm)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_value_mutation, min_size=1, max_size=3))
def test_fuzz_values_with_valid_crc_are_refused_or_run(muts):
    """Fields set to arbitrary values, CRC recomputed: PackFormatError, or integer inference runs."""
    _accepted_files_run(muts)


@pytest.mark.slow
@settings(max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_value_mutation, min_size=1, max_size=4))
def test_fuzz_values_with_valid_crc_are_refused_or_run_long(muts):
    _accepted_files_run(muts)
