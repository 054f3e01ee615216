"""The compressed model file (``.qsq``): one binary file holding everything integer inference needs.

Layout (version 1; all multi-byte fields little-endian)
-------------------------------------------------------
Header::

    offset size  field
    0      4     magic b"QSQM"
    4      1     version (1)
    5      1     code_bits (2, 3 or 4)
    6      1     scale_bits (1..15)
    7      1     lanes: codes per packed word (1 .. 64 // code_bits)
    8      2     L, number of compute layers (1..255)
    10     1     number of ops P (1..255)
    11     1     length n of the architecture name (1..255)
    12     n     architecture name (ASCII)
    ..     1     input rank r (3), then r x u16 input dimensions (C, H, W)
    ..     P     ops, one byte each: 0 fc, 1 conv, 2 relu, 3 pool (2x2 max), 4 flatten

Then L layer records, in the order of the conv/fc ops::

    1      kind (0 fc, 1 conv; must match the op)
    1      length m of the name, then m bytes (ASCII)
    1      k (kernel size; 0 for fc)      1  pad (0 for fc)
    1      rank d (2 for fc, 4 for conv), then d x u32 weight dimensions, filters first
    1      E, weight exponent (int8)
    1      e_in, input-activation exponent (int8)
    1      has_out (1, or 0 for the last layer)   1  e_out (int8; 0 when has_out = 0)
    F      scales: F x u8 if scale_bits <= 8, else F x u16 (each in [1, 2**scale_bits - 1])
    4F     integer biases bias_q, F x int32
    ..     codes: ceil(N / lanes) words of ceil(lanes * code_bits / 8) bytes each

Trailer: CRC-32 (``zlib.crc32``, u32) of every preceding byte.

The code stream of a layer is its ``N`` codes in C order of the weight tensor (filter, channel, ky,
kx -- the im2col order of :mod:`golden_model.nn.model`). Word ``i`` holds codes
``i*lanes .. i*lanes + lanes - 1``, code ``j`` of the word at bits ``[j*code_bits, (j+1)*code_bits)``
(first code in the least significant bits): exactly :func:`golden_model.codec.pack_codes`, the input
of the hardware decoder's packed lanes. Words are stored little-endian in the fewest whole bytes; the
last word is padded with code 0 and every bit above ``lanes * code_bits`` is 0.

What the values may be (checked on read, and by :func:`pack_model` before writing)
-----------------------------------------------------------------------------------
A file is accepted only if :func:`~golden_model.nn.quant.integer_forward` runs it with every
integer defined, at every truncation level. The limits follow from the integer format of
:mod:`golden_model.nn.quant` (activations unsigned ``ACT_BITS`` = 8 bits, a signed 32-bit
accumulator):

* **Ops.** The input is ``(C, H, W)`` (rank 3: ``integer_forward`` takes ``(N, C, H, W)``
  images). The last op is ``fc`` (its accumulators are the logits); every other ``conv``/``fc`` is
  followed directly by ``relu`` (the requantizer, which needs that layer's shift), and a ``relu``
  appears only directly after a ``conv``/``fc`` (elsewhere there is no accumulator to requantize).
  ``pool`` and ``flatten`` may appear anywhere the shapes allow: ``pool`` on a ``(C, H, W)`` of at
  least 2x2, ``conv`` on ``(C, H, W)`` with ``C`` its input channels, ``fc`` on a vector of its fan-in.
* **Exponent chain.** ``e_out`` of a layer is the exponent of the activations it hands on, so it
  must equal ``e_in`` of the next compute layer.
* **Requantization shift** ``s = e_out - (e_in + E)`` of every inner layer lies in
  ``[SHIFT_MIN, SHIFT_MAX] = [-ACT_BITS, ACC_BITS - 1] = [-8, 31]``. For ``s > 0`` the requantizer
  computes ``(acc + 2**(s-1)) >> s``: from ``s = 32`` on, the rounding constant no longer fits the
  int32 accumulator and the result is 0 for *every* int32 ``acc`` (a dead layer), and past
  ``s = 64`` the shift itself is undefined (this is where exponents of +-127 raised
  ``OverflowError``). For ``s <= 0`` it computes ``clip(acc << -s, 0, 255)``: at ``s = -8`` every
  ``acc >= 1`` already saturates at 255 (``1 << 8 > 255``), so smaller shifts add nothing, and
  from ``-s = 33`` on the shifted int32 value leaves int64 (a shift of -70 wrapped around and
  classified at chance). The int8 exponent fields themselves may take any value (the codec's ``E``
  is a full signed 8-bit field, and the input layer's ``e_in`` only scales the float input).
* **Accumulator.** For every filter ``f``, ``|bias_q[f]| + 255 * sum_k B(w[f, k]) <= 2**31 - 1``,
  where ``B(w)`` is the largest ``|w_t|`` of the decoded weight ``w`` over every truncation level
  ``t`` (truncating a CSD weight can raise its magnitude, e.g. ``127 -> 128``). So no partial sum
  of any image at any ``t`` leaves int32, and the ``matmul`` engine's float64 sums stay exact.
  (:func:`~golden_model.nn.quant.quantize_model` guarantees the coarser
  ``K * 255 * 2**scale_bits + max|bias_q| < 2**31``, which implies this one.)
* **Names.** Layer names are 1..255 characters of ``A-Z a-z 0-9 _ . -`` (not starting with ``.``
  or ``-``), unique; they become array names in ``qsq unpack``'s ``.npz``.

Reading checks, in order: length, magic, version, CRC-32, then every field (ranges, names, shapes
against kernel sizes and ops, scales, no reserved code, zero padding, no trailing bytes), then the
values above. Any failure raises :class:`PackFormatError` (a :class:`ValueError`) naming the
problem; nothing is decoded from a file that fails a check. :func:`write_model` writes atomically
(:func:`golden_model.fileio.atomic_write_bytes`): a failed write leaves the previous file intact.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from ..codec import EncodedLayer, pack_codes, unpack_codes
from ..config import CODE_BITS_ALLOWED, MAX_SCALE_BITS, CodecConfig, check_int
from ..csd import csd_truncate
from ..fileio import atomic_write_bytes
from .quant import _ACC_MAX, ACT_BITS, multiplier_config

__all__ = ["MAGIC", "VERSION", "PackFormatError", "pack_model", "unpack_model", "write_model",
           "read_model", "code_entropy", "file_summary", "check_model", "ACC_BITS", "SHIFT_MIN",
           "SHIFT_MAX"]

MAGIC = b"QSQM"
VERSION = 1
_OPS = ("fc", "conv", "relu", "pool", "flatten")
_MAX_WEIGHTS = 1 << 26  # per layer; refuses absurd shapes before allocating
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

#: Width of the signed accumulator of :mod:`golden_model.nn.quant` (int32).
ACC_BITS = _ACC_MAX.bit_length() + 1
#: Smallest requantization shift: at ``-ACT_BITS`` every positive accumulator already saturates.
SHIFT_MIN = -ACT_BITS
#: Largest requantization shift: from ``ACC_BITS`` on the output is 0 for every int32 accumulator.
SHIFT_MAX = ACC_BITS - 1


class PackFormatError(ValueError):
    """A ``.qsq`` file is truncated, corrupted or not in the documented format."""


def _word_bytes(lanes: int, code_bits: int) -> int:
    return (lanes * code_bits + 7) // 8


def pack_model(qm, lanes: int | None = None) -> bytes:
    """Serialise a :class:`~golden_model.nn.quant.QuantizedModel` (see the module notes).

    ``lanes`` defaults to ``64 // code_bits`` (21 for 3-bit codes: 63 bits per 8-byte word).

    Raises
    ------
    ValueError
        If ``lanes`` is out of range, or ``qm`` breaks a rule of the format (see
        :func:`check_model`): a file the reader would refuse is never written.
    """
    cfg = qm.codec
    lanes = 64 // cfg.code_bits if lanes is None else check_int("lanes", lanes, 1, 64 // cfg.code_bits)
    try:
        check_model(qm)
    except PackFormatError as exc:
        raise ValueError(f"cannot pack this model: {exc}") from None
    out = bytearray()
    arch = qm.arch.encode("ascii")
    out += MAGIC + struct.pack("<BBBBHBB", VERSION, cfg.code_bits, cfg.scale_bits, lanes,
                               len(qm.layers), len(qm.ops), len(arch))
    out += arch
    out += struct.pack(f"<B{len(qm.input_shape)}H", len(qm.input_shape), *qm.input_shape)
    out += bytes(_OPS.index(op) for op in qm.ops)
    wb = _word_bytes(lanes, cfg.code_bits)
    for q in qm.layers:
        name = q.name.encode("ascii")
        shape = q.encoded.shape
        out += struct.pack("<BB", _OPS.index(q.kind), len(name)) + name
        out += struct.pack(f"<BBB{len(shape)}I", q.k, q.pad, len(shape), *shape)
        has_out = q.e_out is not None
        out += struct.pack("<bbBb", q.encoded.exponent, q.e_in, int(has_out), q.e_out if has_out else 0)
        sdt = "<u1" if cfg.scale_bits <= 8 else "<u2"
        out += np.asarray(q.encoded.scales, sdt).tobytes()
        out += np.asarray(q.bias_q, "<i4").tobytes()
        words = pack_codes(q.encoded.codes.reshape(-1), cfg, lanes)
        out += words.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :wb].tobytes()
    out += struct.pack("<I", zlib.crc32(bytes(out)))
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise PackFormatError(f"truncated file: {what} needs {n} bytes at offset {self.pos}, "
                                  f"only {len(self.data) - self.pos} left")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt: str, what: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def _ascii(b: bytes, what: str) -> str:
    try:
        s = b.decode("ascii")
    except UnicodeDecodeError:
        raise PackFormatError(f"{what} is not ASCII") from None
    if not s or not s.isprintable():
        raise PackFormatError(f"{what} must be printable ASCII, not {s!r}")
    return s


def unpack_model(data: bytes):
    """Parse a ``.qsq`` file's bytes back into a :class:`~golden_model.nn.quant.QuantizedModel`.

    Raises
    ------
    PackFormatError
        For any deviation from the documented layout (see the module notes).
    """
    from .quant import QLayer, QuantizedModel

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) < 16:
        raise PackFormatError(f"truncated file: {len(data)} bytes, a model file has at least 16")
    if data[:4] != MAGIC:
        raise PackFormatError(f"bad magic {data[:4]!r}, expected {MAGIC!r} (not a qsq model file)")
    if data[4] != VERSION:
        raise PackFormatError(f"unsupported version {data[4]}, this reader handles version {VERSION}")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != crc:
        raise PackFormatError(f"CRC-32 mismatch: stored {crc:#010x}, computed {zlib.crc32(body):#010x} "
                              "(file corrupted or truncated)")
    r = _Reader(body)
    r.take(5, "magic and version")
    code_bits, scale_bits, lanes, n_layers, n_ops, n_arch = r.unpack("<BBBHBB", "header")
    if code_bits not in CODE_BITS_ALLOWED:
        raise PackFormatError(f"code_bits must be one of {CODE_BITS_ALLOWED}, not {code_bits}")
    if not 1 <= scale_bits <= MAX_SCALE_BITS:
        raise PackFormatError(f"scale_bits must be in [1, {MAX_SCALE_BITS}], not {scale_bits}")
    if not 1 <= lanes <= 64 // code_bits:
        raise PackFormatError(f"lanes must be in [1, {64 // code_bits}], not {lanes}")
    if not 1 <= n_layers <= 255 or n_ops < 1 or n_arch < 1:
        raise PackFormatError(f"bad header counts: {n_layers} layers, {n_ops} ops, "
                              f"architecture name of {n_arch} bytes")
    cfg = CodecConfig(code_bits, scale_bits)
    arch = _ascii(r.take(n_arch, "architecture name"), "architecture name")
    (rank,) = r.unpack("<B", "input rank")
    if rank != 3:
        raise PackFormatError(f"input rank must be 3 (C, H, W), not {rank}")
    in_shape = r.unpack(f"<{rank}H", "input shape")
    if min(in_shape) < 1:
        raise PackFormatError(f"input dimensions must be positive, not {in_shape}")
    op_codes = r.take(n_ops, "ops")
    if max(op_codes) >= len(_OPS):
        raise PackFormatError(f"unknown op code {max(op_codes)} (valid 0..{len(_OPS) - 1})")
    ops = [_OPS[c] for c in op_codes]
    comp_ops = [op for op in ops if op in ("fc", "conv")]
    if len(comp_ops) != n_layers:
        raise PackFormatError(f"ops list {len(comp_ops)} conv/fc layers, header says {n_layers}")
    _check_op_order(ops)
    wb = _word_bytes(lanes, code_bits)
    valid_bits = lanes * code_bits
    layers = []
    names = set()
    for li, kind_expected in enumerate(comp_ops):
        kind_code, n_name = r.unpack("<BB", f"layer {li} header")
        if kind_code >= 2 or _OPS[kind_code] != kind_expected:
            raise PackFormatError(f"layer {li}: kind code {kind_code} does not match op {kind_expected!r}")
        name = _ascii(r.take(n_name, f"layer {li} name"), f"layer {li} name")
        if not _NAME.fullmatch(name):
            raise PackFormatError(f"layer {li}: name must be letters, digits, '_', '.' or '-' "
                                  f"(not starting with '.' or '-'), not {name!r}")
        if name in names:
            raise PackFormatError(f"layer {li}: duplicate layer name {name!r}")
        names.add(name)
        k, pad, ndim = r.unpack("<BBB", f"layer {name} geometry")
        want_ndim = 4 if kind_expected == "conv" else 2
        if ndim != want_ndim:
            raise PackFormatError(f"layer {name}: weight rank must be {want_ndim}, not {ndim}")
        shape = r.unpack(f"<{ndim}I", f"layer {name} shape")
        if min(shape) < 1:
            raise PackFormatError(f"layer {name}: weight dimensions must be positive, not {shape}")
        count = math.prod(shape)
        if count > _MAX_WEIGHTS:
            raise PackFormatError(f"layer {name}: {count} weights, more than the limit {_MAX_WEIGHTS}")
        if kind_expected == "conv":
            if not (k >= 1 and shape[2] == k and shape[3] == k and pad < k):
                raise PackFormatError(f"layer {name}: conv kernel {k} pad {pad} does not fit "
                                      f"weight shape {shape}")
        elif k or pad:
            raise PackFormatError(f"layer {name}: fc layer must have k = pad = 0, not {k}, {pad}")
        exp, e_in, has_out, e_out = r.unpack("<bbBb", f"layer {name} exponents")
        last = li == n_layers - 1
        if has_out != (0 if last else 1) or (last and e_out != 0):
            raise PackFormatError(f"layer {name}: has_out must be {0 if last else 1} "
                                  f"({'last' if last else 'inner'} layer), not {has_out}")
        f = shape[0]
        sdt = np.dtype("<u1" if scale_bits <= 8 else "<u2")
        scales = np.frombuffer(r.take(f * sdt.itemsize, f"layer {name} scales"), sdt).astype(np.int64)
        if scales.min() < 1 or scales.max() > cfg.scale_max:
            bad = scales.min() if scales.min() < 1 else scales.max()
            raise PackFormatError(f"layer {name}: scale {int(bad)} outside [1, {cfg.scale_max}]")
        bias = np.frombuffer(r.take(4 * f, f"layer {name} biases"), "<i4").astype(np.int64)
        n_words = -(-count // lanes)
        raw = np.frombuffer(r.take(n_words * wb, f"layer {name} codes"), np.uint8).reshape(n_words, wb)
        words = np.zeros((n_words, 8), np.uint8)
        words[:, :wb] = raw
        words = words.view("<u8").reshape(-1).astype(np.uint64)
        if valid_bits < 64 and np.any(words >> np.uint64(valid_bits)):
            raise PackFormatError(f"layer {name}: nonzero bits above the {lanes} code lanes")
        codes = unpack_codes(words, cfg, lanes)
        if np.any(codes[count:]):
            raise PackFormatError(f"layer {name}: nonzero padding codes after the last weight")
        codes = codes[:count]
        if np.any(codes == cfg.reserved_code):
            pos = int(np.flatnonzero(codes == cfg.reserved_code)[0])
            raise PackFormatError(f"layer {name}: reserved code {cfg.reserved_code} at weight {pos}")
        enc = EncodedLayer(codes.reshape(shape).astype(np.uint8), scales, exp, cfg)
        layers.append(QLayer(name, kind_expected, enc, bias, e_in, None if last else e_out, k, pad))
    if r.pos != len(body):
        raise PackFormatError(f"{len(body) - r.pos} unexpected bytes after the last layer")
    qm = QuantizedModel(arch, tuple(in_shape), ops, layers, cfg)
    check_model(qm)
    return qm


def _check_op_order(ops) -> None:
    """The op grammar of the module notes (shapes are checked by :func:`_check_geometry`)."""
    if not ops or ops[-1] != "fc":
        raise PackFormatError(f"ops must end with fc (the logits), not {ops[-1] if ops else None!r}")
    for i, op in enumerate(ops):
        if op in ("fc", "conv") and i + 1 < len(ops) and ops[i + 1] != "relu":
            raise PackFormatError(f"op {i} ({op}) must be followed by relu (it is not the last "
                                  f"layer), not by {ops[i + 1]!r}")
        if op == "relu" and (i == 0 or ops[i - 1] not in ("fc", "conv")):
            before = "at the start" if i == 0 else f"after {ops[i - 1]!r}"
            raise PackFormatError(f"op {i} (relu) must directly follow conv or fc, not stand {before}")


_BOUND_CACHE: dict = {}


def _max_truncated_magnitude(codec: CodecConfig) -> np.ndarray:
    """``B[w + scale_max]``: the largest ``|w_t|`` over every truncation level, per decoded weight."""
    if codec not in _BOUND_CACHE:
        mult = multiplier_config(codec)
        w = np.arange(-codec.scale_max, codec.scale_max + 1, dtype=np.int64)
        _BOUND_CACHE[codec] = np.max([np.abs(csd_truncate(w, mult.b, t))
                                      for t in mult.truncation_levels], axis=0)
    return _BOUND_CACHE[codec]


def check_model(qm) -> None:
    """Check that ``qm`` means something integer inference can run (the module notes' rules).

    Checks the op order and shapes, the exponent chain, every requantization shift against
    ``[SHIFT_MIN, SHIFT_MAX]`` and the worst-case accumulator of every filter against int32.

    Raises
    ------
    PackFormatError
        Naming the layer and the value that breaks a rule.
    """
    if len(qm.input_shape) != 3:
        raise PackFormatError(f"input rank must be 3 (C, H, W), not {len(qm.input_shape)}")
    _check_op_order(list(qm.ops))
    if sum(op in ("fc", "conv") for op in qm.ops) != len(qm.layers):
        raise PackFormatError(f"{len(qm.layers)} layers do not match the conv/fc ops {qm.ops}")
    _check_geometry(list(qm.ops), tuple(qm.input_shape), qm.layers)
    bound = _max_truncated_magnitude(qm.codec)
    for i, q in enumerate(qm.layers):
        last = i == len(qm.layers) - 1
        if last != (q.e_out is None):
            raise PackFormatError(f"layer {q.name}: only the last layer has no e_out")
        if not last:
            nxt = qm.layers[i + 1]
            if q.e_out != nxt.e_in:
                raise PackFormatError(f"layer {q.name}: e_out {q.e_out} must equal e_in {nxt.e_in} "
                                      f"of the next layer {nxt.name}")
            s = q.shift
            if not SHIFT_MIN <= s <= SHIFT_MAX:
                raise PackFormatError(
                    f"layer {q.name}: requantization shift e_out - (e_in + E) = {q.e_out} - "
                    f"({q.e_in} + {q.encoded.exponent}) must be in [{SHIFT_MIN}, {SHIFT_MAX}], "
                    f"not {s}")
        w = q.weights_int
        worst = np.abs(np.asarray(q.bias_q, np.int64)) + \
            ((1 << ACT_BITS) - 1) * bound[w + qm.codec.scale_max].sum(axis=1)
        if worst.max() > _ACC_MAX:
            f = int(worst.argmax())
            raise PackFormatError(f"layer {q.name}: filter {f} can reach an accumulator of "
                                  f"{int(worst[f])} (bias {int(q.bias_q[f])}), beyond int32 "
                                  f"[-{_ACC_MAX + 1}, {_ACC_MAX}]")


def _check_geometry(ops, in_shape, layers) -> None:
    """Propagate the input shape through the ops; every layer's fan-in must match."""
    shape = in_shape
    li = 0
    for op in ops:
        if op == "conv":
            q = layers[li]
            f, c, k, _ = q.encoded.shape
            if len(shape) != 3 or shape[0] != c or min(shape[1:]) + 2 * q.pad < k:
                raise PackFormatError(f"layer {q.name}: conv weights {q.encoded.shape} do not fit "
                                      f"input {shape}")
            shape = (f, shape[1] + 2 * q.pad - k + 1, shape[2] + 2 * q.pad - k + 1)
            li += 1
        elif op == "fc":
            q = layers[li]
            if len(shape) != 1 or shape[0] != q.encoded.shape[1]:
                raise PackFormatError(f"layer {q.name}: fc weights {q.encoded.shape} do not fit "
                                      f"input {shape}")
            shape = (q.encoded.shape[0],)
            li += 1
        elif op == "pool":
            if len(shape) != 3 or min(shape[1:]) < 2:
                raise PackFormatError(f"pool needs a (C, H, W) input of at least 2x2, not {shape}")
            shape = (shape[0], shape[1] // 2, shape[2] // 2)
        elif op == "flatten":
            shape = (math.prod(shape),)


def write_model(path, qm, lanes: int | None = None) -> int:
    """Write ``qm`` to ``path`` atomically; return the file size in bytes.

    The file is written under a temporary name in the same folder and renamed over ``path``
    (:func:`golden_model.fileio.atomic_write_bytes`), so a failed write (e.g. a full disk) leaves
    a previous ``path`` intact.
    """
    return atomic_write_bytes(path, pack_model(qm, lanes))


def read_model(path, with_bytes: bool = False):
    """Read and check a ``.qsq`` file.

    Parameters
    ----------
    path : str or os.PathLike
    with_bytes : bool
        Also return the file's bytes, read once: ``(model, data)``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (``IsADirectoryError`` if it is a folder).
    PackFormatError
        If the file is not a valid model file; the message starts with the path.
    """
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{p}: is a folder, not a model file")
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such model file")
    data = p.read_bytes()
    try:
        qm = unpack_model(data)
    except PackFormatError as exc:
        raise PackFormatError(f"{p}: {exc}") from None
    return (qm, data) if with_bytes else qm


def code_entropy(codes: np.ndarray, code_bits: int) -> float:
    """Shannon entropy of a code stream, in bits per code (zeroth order, i.i.d. model)."""
    c = np.asarray(codes).reshape(-1)
    if c.size == 0:
        return 0.0
    p = np.bincount(c.astype(np.int64), minlength=1 << code_bits) / c.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def file_summary(qm, data: bytes) -> tuple[list[str], list[list]]:
    """Per-layer table of the packed file: shapes, exponents, bytes, code-stream entropy."""
    cfg = qm.codec
    headers = ["layer", "kind", "shape", "E", "e_in", "e_out", "codes", "code bytes",
               "entropy bits/code", "entropy bytes"]
    lanes = data[7]
    wb = _word_bytes(lanes, cfg.code_bits)
    rows = []
    all_codes = []
    for q in qm.layers:
        n = q.encoded.codes.size
        h = code_entropy(q.encoded.codes, cfg.code_bits)
        all_codes.append(q.encoded.codes.reshape(-1))
        rows.append([q.name, q.kind, "x".join(map(str, q.encoded.shape)), q.encoded.exponent, q.e_in,
                     "-" if q.e_out is None else q.e_out, n, -(-n // lanes) * wb, h,
                     math.ceil(h * n / 8)])
    allc = np.concatenate(all_codes)
    h = code_entropy(allc, cfg.code_bits)
    rows.append(["total", "", "", "", "", "", int(allc.size), sum(r[7] for r in rows), h,
                 math.ceil(h * allc.size / 8)])
    return headers, rows
