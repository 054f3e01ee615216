"""The post-processing unit: turns the lanes' shadow results into stored activations or logits.

After a handoff it reads the lanes one per cycle (``sel``) and, per lane ``j`` (filter
``f = f_grp + j``), in a pipeline:

1. reads ``bias[f]`` (and, bucket PE, ``scale[f]``);
2. bucket PE only: multiplies each bucket ``B_m`` by ``trunc_t(S_f >> (M - m))`` in ``M``
   truncated-CSD multipliers (:class:`hw.csd_compact.CSDCompactMultiplier`, runtime truncation) --
   the only multiplies of the bucket engine;
3. ``total = sum + bias``; in the last layer ``total`` is a logit: it is written to the logit
   memory at ``f - f_base`` and the running arg-max (first maximum) is updated;
4. requantization + ReLU to unsigned 8 bits: coded engines ``clip((total + 2**(s-1)) >> s, 0, 255)``
   (``total << -s`` for ``s <= 0``); INT8 engine ``clip((total * M + 2**(n-1)) >> n, 0, 255)``;
5. 2x2 max pooling across the four outputs of a window (a register per lane) and the write of the
   window's maximum (or of the value, without pooling) to the activation memory.

:attr:`latency` is the number of cycles from a lane's read (``sel``) to its activation write.
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden_model.config import CodecConfig, MultiplierConfig

from ..csd_compact import CSDCompactMultiplier
from .lanes import ACT_WIDTH
from .program import LOGIT_BITS
from .sequencer import meta_layout

__all__ = ["PostProcessor"]

_ACT_MAX = (1 << ACT_WIDTH) - 1
#: Left shifts of a positive accumulator by this much or more saturate at 255.
_MAX_LEFT = ACT_WIDTH


class PostProcessor(wiring.Component):
    """Bias, (bucket products,) requantization, pooling, activation and logit writes.

    Parameters
    ----------
    pe : {"bucket", "multiplier", "int8"}
    lanes : int
    codec : CodecConfig or None
    desc_layout : StructLayout
    widths : dict
        The program's widths (``f_addr``, ``act_addr``, ``bias``, ``bucket``, ``acc``, ``class``).

    Members
    -------
    handoff : In(1)
    meta : In(meta_layout)
        The output's destination, valid with ``handoff``.
    desc : In(desc_layout)
    trunc : In(4)
        Bucket PE: truncation level of the bucket products.
    sel : Out(lane index)
    result : In
        The lanes' ``result`` for ``sel``.
    f_addr : Out(f_addr), f_en : Out(1)
        Bias (and scale) read; data on ``bias`` / ``scale`` one cycle later.
    bias : In(signed(bias))
    scale : In(scale_bits)
        Bucket PE only.
    act_we : Out(1), act_waddr : Out(act_addr), act_wdata : Out(8)
    logit_we : Out(1), logit_addr : Out(class), logit_data : Out(signed(32))
    best : Out(class)
        Index of the first maximum logit of the last layer processed.
    busy : Out(1)
    """

    def __init__(self, pe: str, lanes: int, codec: CodecConfig | None, desc_layout, widths: dict):
        self.pe, self.lanes, self.codec, self.widths = pe, lanes, codec, widths
        self.desc_layout = desc_layout
        self.lane_width = max(1, (lanes - 1).bit_length())
        if pe == "bucket":
            result = data.ArrayLayout(signed(widths["bucket"]), codec.max_index)
        else:
            result = signed(widths["acc"])
        ports = {"handoff": In(1), "meta": In(meta_layout(widths["f_addr"], widths["act_addr"])),
                 "desc": In(desc_layout), "sel": Out(self.lane_width), "result": In(result),
                 "f_addr": Out(widths["f_addr"]), "f_en": Out(1), "bias": In(signed(widths["bias"]))}
        if pe == "bucket":
            self.mult = MultiplierConfig(widths["bucket"], True, codec.weight_width, True)
            ports["scale"] = In(codec.scale_bits)
            ports["trunc"] = In(max(1, self.mult.ndigits.bit_length()))
        ports.update({"act_we": Out(1), "act_waddr": Out(widths["act_addr"]), "act_wdata": Out(ACT_WIDTH),
                      "logit_we": Out(1), "logit_addr": Out(widths["class"]),
                      "logit_data": Out(signed(LOGIT_BITS)), "best": Out(widths["class"]),
                      "busy": Out(1)})
        super().__init__(ports)

    @property
    def product_latency(self) -> int:
        """Cycles of the bucket products (the compact multiplier's latency); 0 otherwise."""
        return 2 if self.pe == "bucket" else 0

    @property
    def logit_latency(self) -> int:
        """Cycles from a lane's read (``sel``) to its logit write."""
        return 2 + self.product_latency

    @property
    def latency(self) -> int:
        """Cycles from a lane's read (``sel``) to its activation write."""
        return self.logit_latency + (2 if self.pe == "int8" else 1)

    def elaborate(self, platform):
        m = Module()
        d = self.desc
        lw = self.lane_width

        # ---- P0: walk the lanes after a handoff
        active = Signal(name="ppu_active")
        j = Signal(lw, name="ppu_j")
        count = Signal(lw + 1, name="ppu_count")
        f_grp = Signal.like(self.meta.f_grp, name="ppu_f_grp")
        o_run = Signal.like(self.meta.o_pos, name="ppu_o_run")
        wf, wl = Signal(name="ppu_win_first"), Signal(name="ppu_win_last")
        go = Signal(name="p0_valid")
        j0 = Signal(lw, name="p0_j")
        f0 = Signal.like(f_grp, name="p0_f_grp")
        o0 = Signal.like(o_run, name="p0_o")
        n0 = Signal(lw + 1, name="p0_count")
        wf0, wl0 = Signal(name="p0_wf"), Signal(name="p0_wl")
        with m.If(self.handoff):
            m.d.comb += [go.eq(1), j0.eq(0), f0.eq(self.meta.f_grp), o0.eq(self.meta.o_pos),
                         wf0.eq(self.meta.win_first), wl0.eq(self.meta.win_last),
                         n0.eq(Mux(self.meta.last_group, d.lanes_last, self.lanes))]
        with m.Else():
            m.d.comb += [go.eq(active), j0.eq(j), f0.eq(f_grp), o0.eq(o_run), wf0.eq(wf),
                         wl0.eq(wl), n0.eq(count)]
        m.d.sync += [f_grp.eq(f0), wf.eq(wf0), wl.eq(wl0), count.eq(n0),
                     j.eq(j0 + 1), o_run.eq(o0 + d.out_plane), active.eq(go & (j0 + 1 != n0))]
        m.d.comb += [self.sel.eq(j0), self.f_addr.eq(f0 + j0), self.f_en.eq(go)]

        def reg(name, value, shape=None):
            s = Signal(shape if shape is not None else value.shape(), name=name)
            m.d.sync += s.eq(value)
            return s

        # ---- P1: result and bias/scale data
        v = reg("p1_valid", go)
        res = reg("p1_result", self.result, self.result.shape())
        frel = reg("p1_frel", (f0 - d.f_base + j0)[:len(self.logit_addr)], unsigned(len(self.logit_addr)))
        oad = reg("p1_oaddr", o0, o0.shape())
        pf, pl = reg("p1_wf", wf0), reg("p1_wl", wl0)
        jj = reg("p1_j", j0)
        bias = self.bias
        if self.pe == "bucket":
            cfg = self.codec
            prods = []
            for idx in range(1, cfg.max_index + 1):
                mul = CSDCompactMultiplier(self.widths["bucket"], True, cfg.weight_width, True,
                                           "runtime", "enable", "xor")
                m.submodules[f"bucket_mul{idx}"] = mul
                m.d.comb += [mul.a.eq(res[idx - 1]),
                             mul.b.eq(self.scale >> (cfg.max_index - idx)),
                             mul.trunc.eq(self.trunc), mul.in_valid.eq(v)]
                prods.append(mul.p)
            for s in range(self.product_latency):
                v, frel, oad = reg(f"pm{s}_valid", v), reg(f"pm{s}_frel", frel), reg(f"pm{s}_oaddr", oad)
                pf, pl, jj = reg(f"pm{s}_wf", pf), reg(f"pm{s}_wl", pl), reg(f"pm{s}_j", jj)
                bias = reg(f"pm{s}_bias", bias)
            total_c = bias
            for p in prods:
                total_c = total_c + p
        else:
            total_c = res + bias
        # ---- logit stage
        total = reg("pt_total", total_c, signed(LOGIT_BITS))
        vt, ft, ot = reg("pt_valid", v), reg("pt_frel", frel), reg("pt_oaddr", oad)
        pft, plt, jt = reg("pt_wf", pf), reg("pt_wl", pl), reg("pt_j", jj)
        best_val = Signal(signed(LOGIT_BITS), name="best_value")
        m.d.comb += [self.logit_we.eq(vt & d.last), self.logit_addr.eq(ft),
                     self.logit_data.eq(total)]
        with m.If(vt & d.last & ((ft == 0) | (total > best_val))):
            m.d.sync += [best_val.eq(total), self.best.eq(ft)]

        # ---- requantization (+ ReLU, 8-bit saturation)
        if self.pe == "int8":
            prod = reg("pq_prod", total * d.req_mult,
                       signed(LOGIT_BITS + len(d.req_mult) + 1))
            vt, ot, pft, plt, jt = (reg("pq_valid", vt), reg("pq_oaddr", ot), reg("pq_wf", pft),
                                    reg("pq_wl", plt), reg("pq_j", jt))
            q = self._clip(m, _round_shift(m, prod, d.req_shift, "pq"), "pq")
        else:
            q = self._requant(m, total, d.shift)
        vq, oq, pfq, plq, jq = (reg("pw_valid", vt), reg("pw_oaddr", ot), reg("pw_wf", pft),
                                reg("pw_wl", plt), reg("pw_j", jt))
        qv = reg("pw_value", q)

        # ---- pooling and the activation write
        pool = Array(Signal(ACT_WIDTH, name=f"pool{i}") for i in range(self.lanes))
        mx = Signal(ACT_WIDTH, name="pool_max")
        m.d.comb += mx.eq(Mux(pfq, qv, Mux(pool[jq] > qv, pool[jq], qv)))
        with m.If(vq & ~d.last):
            m.d.sync += pool[jq].eq(mx)
        m.d.comb += [self.act_we.eq(vq & plq & ~d.last), self.act_waddr.eq(oq),
                     self.act_wdata.eq(mx)]
        m.d.comb += self.busy.eq(active | v | vt | vq)
        return m

    @staticmethod
    def _clip(m, v, prefix):
        q = Signal(ACT_WIDTH, name=f"{prefix}_clip")
        m.d.comb += q.eq(Mux(v < 0, 0, Mux(v > _ACT_MAX, _ACT_MAX, v[:ACT_WIDTH])))
        return q

    def _requant(self, m, total, shift):
        """``clip((total + 2**(s-1)) >> s, 0, 255)`` for ``s > 0``, ``clip(total << -s)`` else."""
        sr = Signal(range(LOGIT_BITS + 1), name="rq_right")
        sl = Signal(range(_MAX_LEFT + 1), name="rq_left")
        m.d.comb += [
            sr.eq(Mux(shift > 0, Mux(shift > LOGIT_BITS, LOGIT_BITS, shift), 0)),
            sl.eq(Mux(shift < 0, Mux(-shift > _MAX_LEFT, _MAX_LEFT, -shift), 0)),
        ]
        right = _round_shift(m, total, sr, "rq")
        left = Signal(signed(LOGIT_BITS + _MAX_LEFT + 1), name="rq_left_value")
        m.d.comb += left.eq(total << sl)
        return self._clip(m, Mux(shift > 0, right, left), "rq")


def _round_shift(m, value, amount, prefix):
    """``(value + 2**(amount-1)) >> amount`` (arithmetic, round half up) for ``amount >= 1``.

    Computed as ``((value >> (amount - 1)) + 1) >> 1``: the same integer for every ``value``
    (writing ``value = u * 2**(amount-1) + r`` with ``0 <= r < 2**(amount-1)``, both sides are
    ``floor((u + 1) / 2)``), one barrel shifter and an incrementer, no wide rounding constant.
    """
    less = Signal(len(amount), name=f"{prefix}_amount_m1")
    m.d.comb += less.eq(amount - 1)
    part = Signal(signed(len(value) + 1), name=f"{prefix}_partial")
    m.d.comb += part.eq((value >> less) + 1)
    out = Signal(signed(len(value)), name=f"{prefix}_rounded")
    m.d.comb += out.eq(part >> 1)
    return out
