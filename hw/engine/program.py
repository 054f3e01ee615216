"""The engine compiler: a quantized network -> layer descriptors and memory images.

The engine is one layer-sequenced datapath; what it runs is data. :func:`compile_program` turns a
:class:`~golden_model.nn.quant.QuantizedModel` (3-bit codes; ``pe="bucket"`` or ``"multiplier"``)
or an :class:`~golden_model.nn.int8.Int8Model` (``pe="int8"``) into an :class:`EngineProgram`:

* one :class:`LayerPlan` per compute layer (conv k x k with padding, or fc -- run as a 1 x 1
  convolution over a 1 x 1 image whose channels are the flattened input), with the ReLU /
  requantization, the 2x2 max pooling that follows it and its memory addresses;
* the memory images: weight words (``lanes`` codes of one fan-in position, lane ``j`` = filter
  ``g * lanes + j`` at bits ``[j * bits, (j + 1) * bits)``, the layout of
  :func:`golden_model.codec.pack_codes`), per-filter scales and biases (filters padded to whole
  groups of ``lanes``), and the activation memory map;
* the widths every register needs, derived from the model, never fixed for one network.

Memory map
----------
``act``: two regions of ``region`` bytes; compute layer ``l`` reads region ``l % 2`` and writes
region ``(l + 1) % 2``; the image arrives in region 0 in C x H x W order. A layer's output channel
``f`` occupies ``out_plane`` consecutive bytes (row-major pooled positions), so the flatten before
an fc layer costs nothing. ``weights``: layer after layer, group after group, fan-in position after
fan-in position (im2col order: channel, ky, kx). ``scales``/``biases``: filter ``f`` of layer ``l``
at ``f_base[l] + f``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from golden_model.config import CodecConfig, check_int
from golden_model.nn.bucket import bucket_width, bucket_widths
from golden_model.nn.int8 import Int8Model
from golden_model.nn.quant import ACT_BITS, QuantizedModel, check_truncations

from .config import EngineConfig

__all__ = ["LayerPlan", "EngineProgram", "compile_program", "parse_ops", "tap_ranges", "positions",
           "issues", "LOGIT_BITS"]

#: Width of a logit (the last layer's int32 accumulator).
LOGIT_BITS = 32
_ACT_MAX = (1 << ACT_BITS) - 1


@dataclass(frozen=True)
class LayerPlan:
    """One compute layer as the engine runs it (all integers; see the module notes).

    ``C, H, W``: input channels and size (fc: ``C`` = fan-in, ``H = W = 1``); ``k``, ``pad``;
    ``Ho, Wo``: convolution output size; ``win``: 2 when a 2x2 max pool follows, else 1;
    ``PH, PW``: stored output size (``Ho // win``, ``Wo // win``); ``F`` filters in ``G`` groups
    of ``lanes`` (``lanes_last`` valid lanes in the last group); ``K = C * k * k`` fan-in;
    ``w_base``: first weight word; ``f_base``: first scale/bias entry; ``in_base``, ``out_base``:
    activation regions; ``out_plane = PH * PW``; ``shift``: requantization shift of the coded
    engines; ``req_mult``, ``req_shift``: fixed-point requantization of the INT8 engine.
    """

    index: int
    name: str
    kind: str
    last: bool
    C: int
    H: int
    W: int
    k: int
    pad: int
    Ho: int
    Wo: int
    win: int
    PH: int
    PW: int
    F: int
    G: int
    lanes_last: int
    K: int
    w_base: int
    f_base: int
    in_base: int
    out_base: int
    out_plane: int
    shift: int
    req_mult: int
    req_shift: int
    lanes: int
    pair: bool = False

    @property
    def pool(self) -> bool:
        return self.win == 2

    @property
    def outputs(self) -> int:
        """Output positions computed per group (pooled windows x 4 when pooling)."""
        return self.PH * self.PW * self.win * self.win

    def group_lanes(self, g: int) -> int:
        """Valid lanes of group ``g``."""
        return self.lanes_last if g == self.G - 1 else self.lanes


def parse_ops(ops) -> list[dict]:
    """Group an op list into compute layers: ``[{kind, relu, pool}]``.

    The engine runs ``conv -> relu [-> pool]`` and ``fc -> relu`` stages, ``flatten`` between
    convolutions and the first fc, and a final ``fc`` whose accumulators are the logits.

    Raises
    ------
    ValueError
        For any other sequence, naming the op and its position.
    """
    ops = list(ops)
    layers: list[dict] = []
    flat = False
    for i, op in enumerate(ops):
        cur = layers[-1] if layers else None
        if op in ("conv", "fc"):
            if cur is not None and not cur["relu"]:
                raise ValueError(f"op {i} ({op}): the engine needs relu after every compute layer "
                                 f"but the last, not {ops!r}")
            if op == "conv" and flat:
                raise ValueError(f"op {i} (conv): the engine cannot run a convolution after "
                                 f"flatten, not {ops!r}")
            if op == "fc" and cur is not None and cur["kind"] == "conv" and not flat:
                raise ValueError(f"op {i} (fc): the engine needs flatten between conv and fc, "
                                 f"not {ops!r}")
            layers.append({"kind": op, "relu": False, "pool": False})
        elif op == "relu":
            if cur is None or cur["relu"]:
                raise ValueError(f"op {i} (relu) must follow a conv or fc layer, not {ops!r}")
            cur["relu"] = True
        elif op == "pool":
            if cur is None or cur["kind"] != "conv" or not cur["relu"] or cur["pool"] or flat:
                raise ValueError(f"op {i} (pool): the engine pools once after conv + relu, "
                                 f"not {ops!r}")
            cur["pool"] = True
        elif op == "flatten":
            if cur is None or flat:
                raise ValueError(f"op {i} (flatten) must follow the convolution stages, not {ops!r}")
            flat = True
        else:
            raise ValueError(f"op {i}: the engine cannot run {op!r}")
    if not layers or layers[-1]["kind"] != "fc" or layers[-1]["relu"]:
        raise ValueError(f"the engine needs a final fc layer without relu (the logits), not {ops!r}")
    return layers


def tap_ranges(p: LayerPlan, y: int, x: int) -> tuple[int, int, int, int]:
    """Kernel rows ``ky_lo..ky_hi`` and columns ``kx_lo..kx_hi`` inside the image at output (y, x).

    Taps that fall on the zero padding are skipped: they multiply 0.
    """
    ky_lo = max(0, p.pad - y)
    ky_hi = min(p.k - 1, p.H - 1 + p.pad - y)
    kx_lo = max(0, p.pad - x)
    kx_hi = min(p.k - 1, p.W - 1 + p.pad - x)
    return ky_lo, ky_hi, kx_lo, kx_hi


def positions(p: LayerPlan):
    """Output positions in the engine's order: ``(y, x, pos, first, last)``.

    Pooled windows row-major, the four positions of a window in a row (``first``/``last`` mark
    them); without pooling plain row-major with ``first = last = True``. ``pos`` is the stored
    (pooled) position index.
    """
    for py in range(p.PH):
        for px in range(p.PW):
            for dy in range(p.win):
                for dx in range(p.win):
                    first = dy == 0 and dx == 0
                    last = dy == p.win - 1 and dx == p.win - 1
                    yield py * p.win + dy, px * p.win + dx, py * p.PW + px, first, last


def issues(p: LayerPlan):
    """The layer's outputs grouped as the engine issues them (one weight word read per tap serves
    every output of a group): ``(y, x, taps, outputs)``, ``outputs`` a list of ``(pos, first,
    last)`` as in :func:`positions`.

    Without ``p.pair`` every position alone. With it two neighbouring positions ``(y, x)`` and
    ``(y, x + 1)``: in a pooled layer the two of each window row, else ``x`` even (the last
    position of a row of odd width alone). A pair's taps are the union of both positions' kernel
    columns (the taps of one that fall on the padding are not used for it).
    """
    if not p.pair:
        for y, x, pos, first, last in positions(p):
            yield y, x, taps(p, y, x), [(pos, first, last)]
        return
    if p.pool:
        for py in range(p.PH):
            for px in range(p.PW):
                for dy in range(2):
                    y, x, pos = 2 * py + dy, 2 * px, py * p.PW + px
                    yield y, x, _union_taps(p, y, x), [(pos, dy == 0, False), (pos, False, dy == 1)]
        return
    for y in range(p.Ho):
        for x in range(0, p.Wo, 2):
            pos = y * p.PW + x
            if x + 1 < p.Wo:
                yield y, x, _union_taps(p, y, x), [(pos, True, True), (pos + 1, True, True)]
            else:
                yield y, x, taps(p, y, x), [(pos, True, True)]


def _union_taps(p: LayerPlan, y: int, x: int) -> int:
    ky_lo, ky_hi, _, kx_hi = tap_ranges(p, y, x)
    kx_lo = tap_ranges(p, y, x + 1)[2]
    return p.C * (ky_hi - ky_lo + 1) * (kx_hi - kx_lo + 1)


def taps(p: LayerPlan, y: int, x: int) -> int:
    """Number of issued taps (fan-in positions inside the image) of output (y, x)."""
    ky_lo, ky_hi, kx_lo, kx_hi = tap_ranges(p, y, x)
    return p.C * (ky_hi - ky_lo + 1) * (kx_hi - kx_lo + 1)


@dataclass
class EngineProgram:
    """Everything an engine instance needs: plans, memory images, widths.

    Attributes
    ----------
    config : EngineConfig
    model : QuantizedModel or Int8Model
    layers : list of LayerPlan
    weight_words : list of int
        The weight memory, ``weight_bits`` (``lanes * code_bits``, or ``lanes * 8`` for INT8) per word.
    scales, biases : list of int
        Per padded filter (scales: 0 for padding filters and for INT8).
    region : int
        Bytes per activation region (two regions).
    default_trunc : list of int
        Truncation level of every compute layer after reset (coded engines).
    widths : dict
        Register widths derived from the model (addresses, bias, bucket, accumulator, post-processing
        ``total``) and the requantization shift ranges (``shift_lo``/``shift_hi``, INT8
        ``req_lo``/``req_hi``) the post-processing shifters cover.
    """

    config: EngineConfig
    model: object
    layers: list
    weight_words: list
    weight_bits: int
    scales: list
    biases: list
    region: int
    default_trunc: list
    widths: dict = field(default_factory=dict)

    @property
    def codec(self) -> CodecConfig | None:
        return getattr(self.model, "codec", None)

    @property
    def input_shape(self) -> tuple:
        return tuple(self.model.input_shape)

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def classes(self) -> int:
        return self.layers[-1].F

    def bucket_widths(self) -> list[int]:
        """Width of each bucket ``m = 1 .. M`` the compiled network needs (coded models;
        :func:`golden_model.nn.bucket.bucket_widths`): the FPGA builds' buckets. ``widths["bucket"]``
        is the fan-in bound every bucket of the ASIC engines has."""
        return bucket_widths([q.encoded for q in self.model.layers], _ACT_MAX)

    @property
    def ndigits(self) -> int:
        """CSD digit positions of a decoded weight (truncation levels are 0 .. ndigits)."""
        return self.codec.weight_width if self.codec is not None else 0

    @property
    def filters(self) -> int:
        """Entries of the scale and bias memories (filters padded to whole groups)."""
        return len(self.biases)

    @property
    def act_depth(self) -> int:
        return 2 * self.region

    def memory_bits(self) -> dict:
        """Bits of every on-chip memory, as built (padding included)."""
        w = self.widths
        out = {"weights": len(self.weight_words) * self.weight_bits,
               "biases": self.filters * w["bias"],
               "activations": self.act_depth * ACT_BITS,
               "logits": self.classes * LOGIT_BITS}
        if self.config.pe != "int8":
            out["scales"] = self.filters * self.codec.scale_bits
        return out

    def macs(self) -> int:
        """Multiply-accumulates of one inference as the model defines them (im2col fan-in x outputs,
        padding taps included, pooled-away positions included)."""
        total = 0
        for p in self.layers:
            total += p.F * p.K * p.Ho * p.Wo
        return total

    def issued_macs(self) -> int:
        """Fan-in positions the engine issues (padding taps and pooled-away rows skipped) x filters."""
        total = 0
        for p in self.layers:
            total += p.F * sum(taps(p, y, x) for y, x, *_ in positions(p))
        return total


def _words(values: np.ndarray, bits: int, lanes: int, groups: int) -> list[int]:
    """Pack ``(F, K)`` lane values (``bits`` each, two's complement) into ``G * K`` words."""
    f, k = values.shape
    padded = np.zeros((groups * lanes, k), np.int64)
    padded[:f] = values
    mask = (1 << bits) - 1
    out = []
    for g in range(groups):
        block = padded[g * lanes:(g + 1) * lanes] & mask            # (lanes, K)
        for col in range(k):
            word = 0
            for j in range(lanes):
                word |= int(block[j, col]) << (j * bits)
            out.append(word)
    return out


def _bits_signed(values) -> int:
    """Bits of a two's-complement field holding every value."""
    lo, hi = int(min(values)), int(max(values))
    return max(2, max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + 1)


def _bits(value: int) -> int:
    return max(1, int(value).bit_length())


def compile_program(model, config: EngineConfig = EngineConfig(), trunc=0) -> EngineProgram:
    """Compile ``model`` for an engine built with ``config``.

    Parameters
    ----------
    model : QuantizedModel or Int8Model
        3-bit coded network (``pe="bucket"``/``"multiplier"``) or INT8 network (``pe="int8"``).
    config : EngineConfig
    trunc : int or sequence of int
        Truncation level(s) the engine's per-layer registers take after reset (coded engines).

    Raises
    ------
    TypeError
        If ``model`` does not fit ``config.pe``.
    ValueError
        If the op sequence is not one the engine runs, or a value does not fit its field.
    """
    if not isinstance(config, EngineConfig):
        raise TypeError(f"config must be an EngineConfig, not {config!r}")
    int8 = config.pe == "int8"
    want = Int8Model if int8 else QuantizedModel
    if not isinstance(model, want):
        raise TypeError(f"pe={config.pe!r} runs a {want.__name__}, not {type(model).__name__}")
    stages = parse_ops(model.ops)
    if len(stages) != len(model.layers):
        raise ValueError(f"the op list names {len(stages)} compute layers but the model has "
                         f"{len(model.layers)}")
    lanes = config.lanes
    c, h, w = (list(model.input_shape) + [1, 1])[:3]
    shapes = []
    for st, q in zip(stages, model.layers):
        wshape = (q.weights if int8 else q.encoded.codes).shape
        if st["kind"] != q.kind:
            raise ValueError(f"layer {q.name}: op {st['kind']!r} but layer kind {q.kind!r}")
        if q.kind == "conv":
            f_n, c_in, k, _ = wshape
            if c_in != c:
                raise ValueError(f"layer {q.name}: {c_in} input channels, the data has {c}")
            ho, wo = h + 2 * q.pad - k + 1, w + 2 * q.pad - k + 1
            win = 2 if st["pool"] else 1
            shapes.append((c, h, w, k, q.pad, ho, wo, win, f_n))
            c, h, w = f_n, ho // win, wo // win
        else:
            f_n, k_in = wshape
            if k_in != c * h * w:
                raise ValueError(f"layer {q.name}: fan-in {k_in}, the data has {c * h * w}")
            shapes.append((c * h * w, 1, 1, 1, 0, 1, 1, 1, f_n))
            c, h, w = f_n, 1, 1
    region = max(max(s[0] * s[1] * s[2] for s in shapes),
                 max(s[8] * (s[5] // s[7]) * (s[6] // s[7]) for s in shapes[:-1]) if len(shapes) > 1 else 1)
    plans, words, scales, biases = [], [], [], []
    for i, (s, q) in enumerate(zip(shapes, model.layers)):
        c_in, h_in, w_in, k, pad, ho, wo, win, f_n = s
        groups = -(-f_n // lanes)
        k_fan = c_in * k * k
        vals = (q.weights if int8 else q.encoded.codes.astype(np.int64)).reshape(f_n, k_fan)
        bits = 8 if int8 else model.codec.code_bits
        last = i == len(shapes) - 1
        plan = LayerPlan(
            index=i, name=q.name, kind=q.kind, last=last, C=c_in, H=h_in, W=w_in, k=k, pad=pad,
            Ho=ho, Wo=wo, win=win, PH=ho // win, PW=wo // win, F=f_n, G=groups,
            lanes_last=f_n - (groups - 1) * lanes, K=k_fan, w_base=len(words),
            f_base=len(biases), in_base=(i % 2) * region, out_base=((i + 1) % 2) * region,
            out_plane=(ho // win) * (wo // win),
            shift=0 if (int8 or last) else int(q.shift),
            req_mult=int(q.req_mult) if int8 else 0, req_shift=int(q.req_shift) if int8 else 0,
            lanes=lanes, pair=config.reuse == 2 and q.kind == "conv" and wo >= 2)
        plans.append(plan)
        words += _words(vals, bits, lanes, groups)
        pad_f = groups * lanes - f_n
        biases += [int(b) for b in q.bias_q] + [0] * pad_f
        scales += ([0] * (groups * lanes)) if int8 else [int(v) for v in q.encoded.scales] + [0] * pad_f
    wbits = lanes * (8 if int8 else model.codec.code_bits)
    fan = max(p.K for p in plans)
    if int8:
        bmax = 127
        trunc_list = []
    else:
        # A truncated CSD weight can exceed the decoded one (127 -> 128): bound by the next power of 2.
        bmax = max(int(np.abs(q.weights_int).max()) for q in model.layers) or 1
        bmax = 1 << bmax.bit_length() if bmax & (bmax - 1) else bmax
        trunc_list = check_truncations(trunc, model)
    bound = max(max(abs(b) for b in biases[p.f_base:p.f_base + p.G * lanes]) + p.K * _ACT_MAX * bmax
                for p in plans)
    shifts = [p.shift for p in plans if not p.last] or [1]
    req = [p.req_shift for p in plans if not p.last] or [1]
    widths = {
        "act_addr": _bits(2 * region - 1),
        "w_addr": _bits(max(1, len(words)) - 1),
        "f_addr": _bits(max(1, len(biases)) - 1),
        "bias": _bits_signed(biases + [0]),
        "bucket": bucket_width(fan, _ACT_MAX),
        "acc": (fan * _ACT_MAX * bmax).bit_length() + 1,
        "layer": _bits(max(1, len(plans)) - 1),
        "class": _bits(max(1, plans[-1].F) - 1),
        "total": min(LOGIT_BITS, bound.bit_length() + 1),
    }
    for name, value in widths.items():
        check_int(f"{name} width", value, 1, 64)
    widths.update(shift_lo=min(shifts), shift_hi=max(shifts), req_lo=min(req), req_hi=max(req))
    return EngineProgram(config, model, plans, words, wbits, scales, biases, region,
                         list(trunc_list), widths)
