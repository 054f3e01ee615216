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
