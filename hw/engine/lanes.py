"""The engine's processing elements: ``lanes`` output channels, one activation per cycle.

Every cycle of a tap, one activation ``act`` is broadcast to all lanes and lane ``j`` takes its own
weight field ``j`` of the memory word ``word``. In the cycle after an output's last tap each lane's
result is copied into a *shadow* register (a plain flip-flop copy, no logic) and the accumulator is
cleared through the flip-flop's synchronous reset, so the adders see no "first tap" multiplexer;
the post-processing unit then reads the shadows lane by lane through ``sel`` while the lanes
accumulate the next output. This needs one cycle without a tap after every output's last tap --
the sequencer's set-up cycle guarantees it. ``handoff`` is 1 in the first cycle the shadows hold a
new output.

How the post-processing unit reaches the shadows (``chain``): through a ``lanes``-to-1
multiplexer on ``sel`` (default: an ASIC's choice, the shadows stay still), or as a shift chain
(``chain=True``, what the FPGA builds use): the unit always reads lane 0's shadows and ``next``
moves every shadow one lane down. On LUT fabric the shift costs nothing -- each shadow flip-flop
otherwise fills a logic cell of its own, whose LUT now does the shift -- while the multiplexer
costs about ``lanes`` LUTs per result bit (16 lanes: about 500 LUT4 for the bucket PE).

* :class:`BucketLanes` (``pe="bucket"``): per lane ``M = 2**(n-1) - 1`` bucket accumulators; a
  code with magnitude index ``m >= 1`` adds or subtracts ``act`` into bucket ``m``, a zero code
  touches nothing (no register loads: the bucket is clock-enabled only when selected). No
  multiplier: the ``M`` truncated-CSD multiplies per output happen once, in the post-processing
  unit (:mod:`golden_model.nn.bucket` is the golden model).
* :class:`MACLanes` (``pe="multiplier"``, ``pe="int8"``): per lane a multiplier and an accumulator.
  ``multiplier``: the decoded weight ``decode(code, S_f)`` enters a truncated-CSD multiplier -- with
  ``recode="operation"`` the ``csd_compact_multiplier`` (recodes every operation, the paper's
  dataflow), with ``recode="filter"`` a compact-row multiplier fed with CSD digits held per lane for
  each magnitude (recoded once per filter when the group starts). ``int8``: an exact multiplier on
  INT8 weights.

Inputs are those of the cycle in which the memories deliver the tap's data (one cycle after the
sequencer issued it). :attr:`latency` is the number of cycles from that cycle to ``handoff``.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden_model.config import CodecConfig, MultiplierConfig

from ..baselines import ExactMultiplier
from ..csd_compact import CSDCompactMultiplier
from ..csd_multiplier import _recode
from ..decoder import ShiftScaleDecoder
from .config import EngineConfig
from .digit_multiplier import CSDDigitMultiplier

__all__ = ["BucketLanes", "MACLanes", "ACT_WIDTH"]

#: Width of an activation (unsigned).
ACT_WIDTH = 8


def _lane_index_width(lanes: int) -> int:
    return max(1, (lanes - 1).bit_length())


def _pair_ports(pairs: bool) -> dict:
    """Weight reuse: the second position's activation, which of the two use the tap, and which
    position's results ``sel`` reads (``half``)."""
    if not pairs:
        return {}
    return {"act_b": In(ACT_WIDTH), "va": In(1), "vb": In(1), "half": In(1)}


def _handoff_ports(lanes: int, chain: bool) -> dict:
    """The post-processing unit's side of the hand-off: ``sel`` (multiplexer) or ``next``
    (shift chain)."""
    return {"next": In(1)} if chain else {"sel": In(_lane_index_width(lanes))}


def _hand_off(m, comp, clr, sources, names) -> list:
    """The shadows of ``sources[q][j]`` (position set ``q``, lane ``j``: a list of registers),
    loaded when ``clr``; returns the values of the lane the post-processing unit reads (one per
    register of a lane), by ``sel`` or, with ``comp.chain``, from the head of a shift chain
    (``names(q, j, k)``: a shadow's name)."""
    sets = []
    for q, lanes in enumerate(sources):
        shadows = [[Signal.like(r, name=names(q, j, k)) for k, r in enumerate(regs)]
                   for j, regs in enumerate(lanes)]
        with m.If(clr):
            m.d.sync += [sh.eq(r) for lane_sh, regs in zip(shadows, lanes)
                         for sh, r in zip(lane_sh, regs)]
        if comp.chain:
            # the unit moves to the next lane of this set: every shadow takes its neighbour's
            moving = comp.next & (comp.half == q) if comp.pairs else comp.next
            with m.Elif(moving):
                m.d.sync += [sh.eq(nxt) for lo, hi in zip(shadows, shadows[1:])
                             for sh, nxt in zip(lo, hi)]
        sets.append(shadows)
    fields = range(len(sources[0][0]))
    if comp.chain:
        heads = [sh[0] for sh in sets]
        return [Mux(comp.half, heads[1][k], heads[0][k]) if comp.pairs else heads[0][k]
                for k in fields]
    flat = [lane for sh in sets for lane in sh]
    index = Mux(comp.half, comp.sel + comp.lanes, comp.sel) if comp.pairs else comp.sel
    return [Array(lane[k] for lane in flat)[index] for k in fields]


def _position_inputs(lanes) -> list:
    """``(activation, tap used)`` per output position of an issue."""
    if not lanes.pairs:
        return [(lanes.act, lanes.valid)]
    return [(lanes.act, lanes.valid & lanes.va), (lanes.act_b, lanes.valid & lanes.vb)]


class BucketLanes(wiring.Component):
    """``lanes`` bucket accumulators sets: code-steered add/subtract, zero codes gated off.

    Parameters
    ----------
    lanes : int
    codec : CodecConfig
    width : int or sequence of int
        Bucket width (signed): enough for ``+-`` the sum of the largest fan-in's activations; or
        one width per bucket ``m = 1 .. M`` (:func:`golden_model.nn.bucket.bucket_widths` of the
        compiled network: the FPGA builds). ``result`` has the largest.
    gating : {"none", "enable"}
        ``enable``: a bucket register loads only when its code selects it (and is cleared after an
        output); ``none``: every bucket loads on every tap (adding 0 when not selected).
    lean : bool
        Operand isolation: only the selected bucket's adder sees the activation (default);
        False: every adder sees it (the engine as first built, and the FPGA builds: a LUT per
        adder bit there).
    chain : bool
        Hand the shadows to the post-processing unit through a shift chain (``next``) instead
        of a multiplexer (``sel``); see the module notes.
    negated : bool
        The caller also supplies the activations' negations (``act_neg``, ``act_b_neg``), from
        registers (the FPGA builds): no negation in front of the bucket adders.

    Members
    -------
    valid, last : In(1)
        A tap is present; it is the last of its output.
    act : In(8)
    act_neg : In(signed(9))
        With ``negated``: ``-act``, in the same cycle.
    word : In(lanes * code_bits)
        Lane ``j``'s code at bits ``[j * code_bits, (j + 1) * code_bits)``.
    sel : In(ceil(log2 lanes))
        Without ``chain``: the lane whose shadow buckets drive ``result``.
    next : In(1)
        With ``chain``: the unit is done with the lane at the head (``result``): the shadows move
        one lane down (with ``pairs``, those of the position ``half`` names).
    handoff : Out(1)
    result : Out(ArrayLayout(signed(width), M))
        ``result[m - 1]`` = bucket ``m`` of lane ``sel``'s last output.
    """

    def __init__(self, lanes: int, codec: CodecConfig, width: int, gating: str = "enable",
                 lean: bool = True, pairs: bool = False, chain: bool = False,
                 negated: bool = False):
        widths = [width] * codec.max_index if isinstance(width, int) else list(width)
        if len(widths) != codec.max_index or not all(isinstance(w, int) and w >= 1
                                                     for w in widths):
            raise ValueError(f"width must be a positive int or {codec.max_index} positive ints "
                             f"(one per bucket), not {width!r}")
        self.lanes, self.codec, self.widths, self.gating = lanes, codec, widths, gating
        self.width = max(widths)
        self.lean, self.pairs, self.chain, self.negated = lean, pairs, chain, negated
        neg_ports = {}
        if negated:
            neg_ports = {"act_neg": In(signed(ACT_WIDTH + 1))}
            if pairs:
                neg_ports["act_b_neg"] = In(signed(ACT_WIDTH + 1))
        super().__init__({
            "valid": In(1), "last": In(1),
            "act": In(ACT_WIDTH), "word": In(lanes * codec.code_bits),
            **_pair_ports(pairs), **neg_ports,
            **_handoff_ports(lanes, chain),
            "handoff": Out(1),
            "result": Out(data.ArrayLayout(signed(self.width), codec.max_index)),
        })

    @property
    def latency(self) -> int:
        """Cycles from the last tap at the inputs to ``handoff``: 2 (add, copy)."""
        return 2

    def elaborate(self, platform):
        m = Module()
        n = self.codec.code_bits
        big_m = self.codec.max_index
        clr = Signal(name="clear")   # the cycle after a last tap: copy to the shadows, clear
        m.d.sync += [clr.eq(self.valid & self.last), self.handoff.eq(clr)]
        buckets = []                 # [position set][lane][bucket]
        for q, (act, use) in enumerate(_position_inputs(self)):
            sfx = "" if q == 0 else "_b"
            a = Signal(signed(ACT_WIDTH + 1), name=f"act_s{sfx}")
            m.d.comb += a.eq(act)
            neg_a = -a
            if self.negated:
                neg_a = self.act_neg if q == 0 else self.act_b_neg
            buckets.append(self._buckets(m, a, neg_a, use, clr, sfx))
        heads = _hand_off(m, self, clr, buckets,
                          lambda q, j, k: f"lane{j}_s{k + 1}{'_b' if q else ''}")
        for idx in range(big_m):
            m.d.comb += self.result[idx].eq(heads[idx])
        return m

    def _buckets(self, m, a, neg_a, use, clr, sfx):
        """Every lane's buckets for one output position (activation ``a``, its negation
        ``neg_a``, tap used if ``use``), ``[lane][bucket]``; each is cleared when ``clr``."""
        n = self.codec.code_bits
        big_m = self.codec.max_index
        shadows = []
        for j in range(self.lanes):
            code = self.word[j * n:(j + 1) * n]
            neg = code[n - 1]
            mag = code[:n - 1]
            addend = Signal(signed(ACT_WIDTH + 2), name=f"lane{j}_addend{sfx}")
            m.d.comb += addend.eq(Mux(neg, neg_a, a))
            lane_sh = []
            for idx in range(1, big_m + 1):
                bucket = Signal(signed(self.widths[idx - 1]), name=f"lane{j}_b{idx}{sfx}")
                hit = Signal(name=f"lane{j}_hit{idx}{sfx}")
                m.d.comb += hit.eq(use & (mag == idx))
                # Operand isolation: only the selected bucket's adder sees the activation.
                isolated = Signal(signed(ACT_WIDTH + 2), name=f"lane{j}_in{idx}{sfx}")
                functional = self.gating == "none"     # every tap adds: 0 unless selected
                m.d.comb += isolated.eq(Mux(hit, addend, 0) if self.lean or functional else addend)
                with m.If(clr):
                    m.d.sync += bucket.eq(0)
                if self.gating == "enable":
                    with m.Elif(hit):
                        m.d.sync += bucket.eq(bucket + isolated)
                else:
                    with m.Elif(self.valid):
                        m.d.sync += bucket.eq(bucket + isolated)
                lane_sh.append(bucket)
            shadows.append(lane_sh)
        return shadows


class MACLanes(wiring.Component):
    """``lanes`` multiply-accumulate lanes (``pe="multiplier"`` or ``pe="int8"``).

    Parameters
    ----------
    lanes : int
    pe : {"multiplier", "int8"}
    codec : CodecConfig
        Weight codes (multiplier PE).
    width : int
        Accumulator width (signed).
    gating : {"none", "enable"}
        Multiplier gating style (multiplier PE) and accumulator clock enable (skips zero weights).
    recode : {"operation", "filter"}
        Multiplier PE: CSD digits per operation (decoder + ``csd_compact_multiplier``) or per
        filter (digits of ``S_f >> k`` held per lane, selected by the code).
    lean : bool
        Operand isolation (with ``gating="enable"``): a zero weight's multiply is not issued --
        with ``recode="filter"`` also a weight the truncation level makes zero (every CSD digit
        below ``trunc``) -- and the INT8 multipliers' registers load only with a valid operation
        (default); False: the engine as first built.

    Members
    -------
    valid, last : In(1)
        Tap flags (as :class:`BucketLanes`).
    load : In(1)
        Multiplier PE: this cycle loads lane ``lane``'s filter scale from ``scale`` (no tap).
    lane : In(ceil(log2 lanes))
    scale : In(scale_bits)
    trunc : In(4)
        Multiplier PE: truncation level of every product.
    act : In(8)
    word : In(lanes * code_bits) or In(lanes * 8)
    sel, next : In
        The hand-off (as :class:`BucketLanes`, ``chain``).
    handoff : Out(1)
    result : Out(signed(width))
        The read lane's last accumulator.
    """

    def __init__(self, lanes: int, pe: str, codec: CodecConfig, width: int, gating: str = "enable",
                 recode: str = "filter", lean: bool = True, pairs: bool = False,
                 chain: bool = False):
        self.lanes, self.pe, self.codec, self.width = lanes, pe, codec, width
        self.gating, self.recode, self.lean, self.pairs = gating, recode, lean, pairs
        self.chain = chain
        self.mult = MultiplierConfig(ACT_WIDTH, False, codec.weight_width, True)
        lw = _lane_index_width(lanes)
        ports = {"valid": In(1), "last": In(1), "act": In(ACT_WIDTH)}
        if pe == "multiplier":
            ports.update({"word": In(lanes * codec.code_bits), "load": In(1), "lane": In(lw),
                          "scale": In(codec.scale_bits),
                          "trunc": In(max(1, self.mult.ndigits.bit_length()))})
        else:
            ports["word"] = In(lanes * 8)
        ports.update(_pair_ports(pairs))
        ports.update(_handoff_ports(lanes, chain))
        ports.update({"handoff": Out(1), "result": Out(signed(width))})
        super().__init__(ports)

    @property
    def multiplier_latency(self) -> int:
        return 2

    @property
    def latency(self) -> int:
        """Cycles from the last tap at the inputs to ``handoff``: multiplier latency + 2 (add, copy)."""
        return self.multiplier_latency + 2

    def _digits(self, m: Module, j: int):
        """Per-lane CSD digit registers of ``S_f >> (M - idx)`` for every magnitude ``idx``."""
        cfg = self.codec
        big_m = cfg.max_index
        sets = []
        for idx in range(1, big_m + 1):
            pos = Signal(self.mult.ndigits, name=f"lane{j}_dp{idx}")
            neg = Signal(self.mult.ndigits, name=f"lane{j}_dn{idx}")
            sets.append((pos, neg))
        return sets

    def elaborate(self, platform):
        m = Module()
        cfg, mult = self.codec, self.mult
        lw = _lane_index_width(self.lanes)
        tap = self.valid
        hold = self.gating != "none"
        isolate = hold and self.lean
        positions = _position_inputs(self)
        results = [[] for _ in positions]
        # The last tap's flag travels beside the multipliers' pipeline (they all share it).
        last = self.valid & self.last
        for s in range(self.multiplier_latency):
            l2 = Signal(name=f"last_d{s}")
            m.d.sync += l2.eq(last)
            last = l2
        clr = Signal(name="clear")
        m.d.sync += [clr.eq(last), self.handoff.eq(clr)]
        if self.pe == "multiplier" and self.recode == "filter":
            # Digit positions the truncation level keeps (``i >= trunc``), shared by every lane.
            kept = Signal(mult.ndigits, name="kept_digits")
            m.d.comb += kept.eq(Cat(*(self.trunc <= i for i in range(mult.ndigits))))
            # One shared recoder per magnitude turns the scale being loaded into CSD digits.
            shared = []
            for idx in range(1, cfg.max_index + 1):
                sub = Module()
                shifted = Signal(signed(cfg.weight_width), name=f"ld_s{idx}")
                m.d.comb += shifted.eq(self.scale >> (cfg.max_index - idx))
                dpos, dneg = _recode(sub, shifted, mult)
                m.submodules[f"recode{idx}"] = sub
                shared.append((dpos, dneg))
        for j in range(self.lanes):
            n = cfg.code_bits if self.pe == "multiplier" else 8
            field = self.word[j * n:(j + 1) * n]
            if self.pe == "int8":
                def new_mul(field=field):
                    mul = ExactMultiplier(ACT_WIDTH, False, 8, True,
                                          latency=self.multiplier_latency, hold=isolate)
                    m.d.comb += mul.b.eq(field.as_signed())
                    return mul
                nz = field.any()
            elif self.recode == "operation":
                scale = Signal(cfg.scale_bits, name=f"lane{j}_scale")
                with m.If(self.load & (self.lane == j)):
                    m.d.sync += scale.eq(self.scale)
                dec = ShiftScaleDecoder(cfg.code_bits, cfg.scale_bits, lanes=1)
                m.submodules[f"dec{j}"] = dec
                m.d.comb += [dec.codes[0].eq(field), dec.scale.eq(scale)]
                def new_mul(dec=dec):
                    mul = CSDCompactMultiplier(ACT_WIDTH, False, cfg.weight_width, True,
                                               "runtime", self.gating, "xor")
                    m.d.comb += [mul.b.eq(dec.weights[0]), mul.trunc.eq(self.trunc)]
                    return mul
                nz = field[:n - 1].any()
            else:
                sets = self._digits(m, j)
                with m.If(self.load & (self.lane == j)):
                    for (pos, neg), (spos, sneg) in zip(sets, shared):
                        m.d.sync += [pos.eq(spos), neg.eq(sneg)]
                mag = field[:n - 1]
                sign = field[n - 1]
                dpos = Signal(mult.ndigits, name=f"lane{j}_dpos")
                dneg = Signal(mult.ndigits, name=f"lane{j}_dneg")
                with m.Switch(mag):
                    for idx, (pos, neg) in enumerate(sets, start=1):
                        with m.Case(idx):
                            m.d.comb += [dpos.eq(Mux(sign, neg, pos)), dneg.eq(Mux(sign, pos, neg))]
                def new_mul(dpos=dpos, dneg=dneg):
                    mul = CSDDigitMultiplier(mult, self.gating)
                    m.d.comb += [mul.dpos.eq(dpos), mul.dneg.eq(dneg), mul.trunc.eq(self.trunc)]
                    return mul
                if isolate:
                    # The quality knob reaches the MAC: a weight whose CSD digits all lie below
                    # the truncation level multiplies to 0 -- its multiply is not issued.
                    nz = Signal(name=f"lane{j}_live")
                    m.d.comb += nz.eq(((dpos | dneg) & kept).any())
                else:
                    nz = mag.any()
            # Zero-weight flags travel beside the multiplier's pipeline.
            keep = nz
            for s in range(self.multiplier_latency):
                k2 = Signal(name=f"lane{j}_nz{s}")
                m.d.sync += k2.eq(keep)
                keep = k2
            # One multiplier, accumulator and shadow per output position of an issue (two with
            # weight reuse: the same weight, each position's activation).
            for q, (act, use) in enumerate(positions):
                sfx = "" if q == 0 else "_b"
                mq = new_mul()
                m.submodules[f"mul{j}{sfx}"] = mq
                # Operand isolation (gating): a zero weight's multiply is not issued at all.
                m.d.comb += [mq.a.eq(act), mq.in_valid.eq(use & nz if isolate else use)]
                acc = Signal(signed(self.width), name=f"lane{j}_acc{sfx}")
                with m.If(clr):
                    m.d.sync += acc.eq(0)
                with m.Elif(mq.out_valid & (keep if hold else 1)):
                    m.d.sync += acc.eq(acc + mq.p)
                results[q].append([acc])
        head, = _hand_off(m, self, clr, results,
                          lambda q, j, k: f"lane{j}_shadow{'_b' if q else ''}")
        m.d.comb += self.result.eq(head)
        del lw
        return m

