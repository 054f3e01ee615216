"""The post-processing unit: turns the lanes' shadow results into stored activations or logits.

After a handoff it reads the lanes one after the other (``sel``), ``rate`` cycles per lane, and per
lane ``j`` (filter ``f = f_grp + j``) runs a pipeline:

1. reads ``bias[f]`` (and, bucket PE, ``scale[f]``);
2. bucket PE only: multiplies each bucket ``B_m`` by ``trunc_t(S_f >> (M - m))`` in a truncated-CSD
   multiplier (:class:`hw.csd_compact.CSDCompactMultiplier`, runtime truncation) -- the only
   multiplies of the bucket engine. ``products="parallel"`` builds ``M`` multipliers (``rate`` 1);
   ``"serial"`` one, used ``M`` cycles per lane (``rate`` = ``M``). With ``fpga`` (the FPGA builds)
   the same product is formed as ``B_m * b_t`` by a plain multiplier, which the FPGA flows map to
   a DSP block (iCE40 ``SB_MAC16``, ECP5 ``MULT18X18D``): ``b_t = trunc_t(x)``, the value of the
   CSD digits of ``x = S_f >> (M - m)`` at positions ``>= t``, comes from :func:`truncated_csd`
   (a few LUTs, no recoder) -- the two are equal for every operand, because dropping multiplier
   digits drops whole partial-product rows; ``x`` and ``3x`` are registered first (one stage
   more). (``fpga`` also keeps the pooling values in a block RAM read one stage early, step 5);
3. ``total = sum + bias``; in the last layer ``total`` is a logit: written (sign-extended to 32 bits)
   to the logit memory at ``f - f_base``, and the running arg-max (first maximum) is updated;
4. requantization + ReLU to unsigned 8 bits: coded engines ``clip((total + 2**(s-1)) >> s, 0, 255)``
   (``total << -s`` for ``s <= 0``); INT8 engine ``clip((total * M + 2**(n-1)) >> n, 0, 255)``. The
   shifters cover exactly the shift range of the compiled program;
5. 2x2 max pooling across the four outputs of a window (a value per lane) and the write of the
   window's maximum (or of the value, without pooling) to the activation memory.

:attr:`latency` is the number of cycles from a lane's first read to its activation write.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from golden_model.config import CodecConfig

from ..csd_compact import CSDCompactMultiplier
from .lanes import ACT_WIDTH
from .program import LOGIT_BITS
from .sequencer import meta_layout

__all__ = ["PostProcessor", "truncated_csd", "csd_keep_mask"]

_ACT_MAX = (1 << ACT_WIDTH) - 1


class PostProcessor(wiring.Component):
    """Bias, (bucket products,) requantization, pooling, activation and logit writes.

    Parameters
    ----------
    pe : {"bucket", "multiplier", "int8"}
    lanes : int
    codec : CodecConfig or None
    desc_layout : StructLayout
    widths : dict
        The program's widths (``f_addr``, ``act_addr``, ``bias``, ``bucket``, ``acc``, ``class``,
        ``total``) and shift ranges (``shift_lo``/``shift_hi``: requantization shifts of the coded
        engines, ``req_lo``/``req_hi``: INT8 shifts).
    products : {"parallel", "serial"}
        Bucket PE: ``M`` multipliers, or one multiplier used ``M`` cycles per lane.
    pairs : bool
        Weight reuse: a handoff holds two output positions (``meta.has_b``), processed one after
        the other.
    lean : bool
        Pipeline registers load only with valid data, bias and scale are read once per lane
        (default); False: every register loads and the memories are read every cycle the unit
        works (the engine as first built).
    fpga : bool
        The FPGA builds. Bucket PE: each product as ``B_m * trunc_t(S_f >> (M - m))`` in a plain
        multiplier for an FPGA's DSP blocks, instead of the truncated-CSD multiplier (same
        values), with ``x = S_f >> (M - m)`` and ``3x`` registered from the scale memory's output
        before :func:`truncated_csd` (:attr:`product_latency` 3 instead of 2). Every PE: the
        lanes' pooling values are a block RAM (one lane: a register) read in the stage before
        the maximum (the value written in that same cycle forwarded), so no lane multiplexer,
        and the comparison and the write are not one path; and the requantization's rounding
        shift is registered before the 8-bit clip (one cycle more of :attr:`latency`).

    Members
    -------
    handoff : In(1)
    meta : In(meta_layout)
        The output's destination, valid with ``handoff``.
    desc : In(desc_layout)
    trunc : In(4)
        Bucket PE: truncation level of the bucket products.
    sel : Out(lane index)
        The lane read (lanes with a multiplexer hand-off).
    next : Out(1)
        1 in the last cycle of a lane's read (lanes with a shift-chain hand-off move on).
    half : Out(1)
        With ``pairs``: which position of a pair ``sel`` reads (the first's lanes, then the
        second's).
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

    def __init__(self, pe: str, lanes: int, codec: CodecConfig | None, desc_layout, widths: dict,
                 products: str = "parallel", lean: bool = True, pairs: bool = False,
                 fpga: bool = False):
        self.pe, self.lanes, self.codec, self.widths = pe, lanes, codec, widths
        self.lean, self.pairs, self.fpga = lean, pairs, fpga
        self.desc_layout, self.products = desc_layout, products
        self.lane_width = max(1, (lanes - 1).bit_length())
        if pe == "bucket":
            result = data.ArrayLayout(signed(widths["bucket"]), codec.max_index)
        else:
            result = signed(widths["acc"])
        ports = {"handoff": In(1),
                 "meta": In(meta_layout(widths["f_addr"], widths["act_addr"], pairs)),
                 "desc": In(desc_layout), "sel": Out(self.lane_width), "next": Out(1),
                 "result": In(result),
                 "f_addr": Out(widths["f_addr"]), "f_en": Out(1), "bias": In(signed(widths["bias"]))}
        if pe == "bucket":
            ports["scale"] = In(codec.scale_bits)
            ports["trunc"] = In(max(1, codec.weight_width.bit_length()))
        if pairs:
            ports["half"] = Out(1)
        ports.update({"act_we": Out(1), "act_waddr": Out(widths["act_addr"]), "act_wdata": Out(ACT_WIDTH),
                      "logit_we": Out(1), "logit_addr": Out(widths["class"]),
                      "logit_data": Out(signed(LOGIT_BITS)), "best": Out(widths["class"]),
                      "busy": Out(1)})
        super().__init__(ports)

    @property
    def rate(self) -> int:
        """Cycles spent per lane: ``M`` for serial bucket products, else 1."""
        return self.codec.max_index if self.pe == "bucket" and self.products == "serial" else 1

    @property
    def product_latency(self) -> int:
        """Cycles of the bucket products (the compact multiplier's latency; with ``fpga`` one
        more: the scale is registered before :func:`truncated_csd`); 0 otherwise."""
        if self.pe != "bucket":
            return 0
        return 3 if self.fpga else 2

    @property
    def logit_latency(self) -> int:
        """Cycles from a lane's first read (``sel``) to its logit write."""
        return 2 + self.product_latency + self.rate - 1

    @property
    def latency(self) -> int:
        """Cycles from a lane's first read (``sel``) to its activation write."""
        return self.logit_latency + (2 if self.pe == "int8" else 1) + (1 if self.fpga else 0)

    def elaborate(self, platform):
        m = Module()
        d = self.desc
        lw = self.lane_width
        rate = self.rate
        tw = self.widths["total"]

        # ---- P0: walk the lanes after a handoff, `rate` cycles each
        active = Signal(name="ppu_active")
        j = Signal(lw, name="ppu_j")
        sub = Signal(range(max(2, rate)), name="ppu_sub")
        count = Signal(lw + 1, name="ppu_count")
        f_grp = Signal.like(self.meta.f_grp, name="ppu_f_grp")
        o_run = Signal.like(self.meta.o_pos, name="ppu_o_run")
        wf, wl = Signal(name="ppu_win_first"), Signal(name="ppu_win_last")
        go = Signal(name="p0_valid")
        j0 = Signal(lw, name="p0_j")
        s0 = Signal.like(sub, name="p0_sub")
        f0 = Signal.like(f_grp, name="p0_f_grp")
        o0 = Signal.like(o_run, name="p0_o")
        n0 = Signal(lw + 1, name="p0_count")
        wf0, wl0 = Signal(name="p0_wf"), Signal(name="p0_wl")
        with m.If(self.handoff):
            m.d.comb += [go.eq(1), j0.eq(0), s0.eq(0), f0.eq(self.meta.f_grp), o0.eq(self.meta.o_pos),
                         wf0.eq(self.meta.win_first), wl0.eq(self.meta.win_last),
                         n0.eq(Mux(self.meta.last_group, d.lanes_last, self.lanes))]
        with m.Else():
            m.d.comb += [go.eq(active), j0.eq(j), s0.eq(sub), f0.eq(f_grp), o0.eq(o_run),
                         wf0.eq(wf), wl0.eq(wl), n0.eq(count)]
        lane_done = s0 == rate - 1
        out_done = lane_done & (j0 + 1 == n0)
        next_half = Signal(name="p0_next_half")  # weight reuse: on to the pair's second position
        if self.pairs:
            # the second position's destination, held from the handoff
            half, h0 = Signal(name="ppu_half"), Signal(name="p0_half")
            keep = {k: Signal.like(getattr(self.meta, k), name=f"ppu_{k}")
                    for k in ("has_b", "o_pos_b", "win_first_b", "win_last_b")}
            now = {k: Mux(self.handoff, getattr(self.meta, k), v) for k, v in keep.items()}
            with m.If(self.handoff):
                m.d.sync += [v.eq(getattr(self.meta, k)) for k, v in keep.items()]
            m.d.comb += [h0.eq(Mux(self.handoff, 0, half)), self.half.eq(h0),
                         next_half.eq(out_done & ~h0 & now["has_b"])]
        m.d.sync += active.eq(go & ~(out_done & ~next_half))
        with m.If(go if self.lean else 1):   # idle: the walk's registers hold
            m.d.sync += [f_grp.eq(f0), wf.eq(wf0), wl.eq(wl0), count.eq(n0), j.eq(j0),
                         sub.eq(s0 + 1), o_run.eq(o0)]
            if self.pairs:
                m.d.sync += half.eq(h0)
            with m.If(lane_done):
                m.d.sync += [j.eq(j0 + 1), sub.eq(0), o_run.eq(o0 + d.out_plane)]
            if self.pairs:
                with m.If(next_half):
                    m.d.sync += [j.eq(0), half.eq(1), o_run.eq(now["o_pos_b"]),
                                 wf.eq(now["win_first_b"]), wl.eq(now["win_last_b"])]
        # bias (and scale) once per lane: the read port holds its data through the lane's cycles
        m.d.comb += [self.sel.eq(j0), self.next.eq(go & lane_done), self.f_addr.eq(f0 + j0),
                     self.f_en.eq(go & (s0 == 0) if self.lean else go)]

        def reg(name, value, shape=None, en=None):
            """A pipeline register; ``en``: it loads only when its stage's input is valid."""
            s = Signal(shape if shape is not None else value.shape(), name=name)
            if en is None or not self.lean:
                m.d.sync += s.eq(value)
            else:
                with m.If(en):
                    m.d.sync += s.eq(value)
            return s

        # ---- P1: result and bias/scale data
        if self.pe == "bucket" and rate > 1:
            buckets = Array(self.result[i] for i in range(self.codec.max_index))
            res = reg("p1_bucket", buckets[s0], signed(self.widths["bucket"]), go)
        else:
            res = reg("p1_result", self.result, self.result.shape(), go)
        sb = reg("p1_sub", s0, None, go)
        frel = reg("p1_frel", (f0 - d.f_base + j0)[:len(self.logit_addr)],
                   unsigned(len(self.logit_addr)), go)
        oad = reg("p1_oaddr", o0, o0.shape(), go)
        pf, pl = reg("p1_wf", wf0, None, go), reg("p1_wl", wl0, None, go)
        jj = reg("p1_j", j0, None, go)
        v = reg("p1_valid", go)
        bias = self.bias
        if self.pe == "bucket":
            cfg = self.codec
            big_m = cfg.max_index
            n_mul = big_m if rate == 1 else 1
            prods = []
            if self.fpga:
                v_s = reg("pd_valid0", v)
                v_mid = reg("pd_valid", v_s)
                # the truncation level changes only between inferences: its mask is a register
                keep = Signal(cfg.scale_bits + 1, name="pd_keep")
                m.d.sync += keep.eq(csd_keep_mask(self.trunc, cfg.scale_bits))
            for i in range(n_mul):
                # bucket i + 1 times trunc_t(S >> (M - i - 1)); serial: bucket sb + 1
                a = res[i] if rate == 1 else res
                x = (self.scale >> (big_m - 1 - i) if rate == 1 else
                     Array(self.scale >> (big_m - 1 - k) for k in range(big_m))[sb])
                if self.fpga:
                    # x and 3x from the scale (a block RAM's output) are registered before the
                    # rest of the CSD arithmetic
                    x_q = reg(f"pd{i + 1}_x", x, None, v)
                    x3_q = reg(f"pd{i + 1}_x3", x + (x << 1), unsigned(len(x) + 2), v)
                    bt = truncated_csd(m, x_q, keep, f"pd{i + 1}_weight", three=x3_q)
                    a1 = reg(f"pd{i + 1}_a", reg(f"pd{i + 1}_a0", a, None, v), None, v_s)
                    b1 = reg(f"pd{i + 1}_b", bt, None, v_s)
                    prods.append(reg(f"pd{i + 1}_product", a1 * b1, None, v_mid))
                    continue
                mul = CSDCompactMultiplier(self.widths["bucket"], True, cfg.weight_width, True,
                                           "runtime", "enable", "xor")
                m.submodules[f"bucket_mul{i + 1}"] = mul
                m.d.comb += [mul.a.eq(a), mul.b.eq(x), mul.trunc.eq(self.trunc),
                             mul.in_valid.eq(v)]
                prods.append(mul.p)
            for s in range(self.product_latency):
                frel, oad = reg(f"pm{s}_frel", frel, None, v), reg(f"pm{s}_oaddr", oad, None, v)
                pf, pl = reg(f"pm{s}_wf", pf, None, v), reg(f"pm{s}_wl", pl, None, v)
                jj = reg(f"pm{s}_j", jj, None, v)
                bias, sb = reg(f"pm{s}_bias", bias, None, v), reg(f"pm{s}_sub", sb, None, v)
                v = reg(f"pm{s}_valid", v)
            if rate == 1:
                total_c = bias
                for p in prods:
                    total_c = total_c + p
            else:   # accumulate the M products of a lane
                part = Signal(signed(tw), name="pp_partial")
                m.d.comb += part.eq(Mux(sb == 0, bias, 0) + prods[0])
                run = Signal(signed(tw), name="pp_running")
                total_c = Signal(signed(tw), name="pp_total")
                m.d.comb += total_c.eq(part + Mux(sb == 0, 0, run))
                with m.If(v):
                    m.d.sync += run.eq(total_c)
                v = v & (sb == rate - 1)
        else:
            total_c = res + bias
        # ---- logit stage
        total = reg("pt_total", total_c, signed(tw), v)
        ft, ot = reg("pt_frel", frel, None, v), reg("pt_oaddr", oad, None, v)
        pft, plt, jt = reg("pt_wf", pf, None, v), reg("pt_wl", pl, None, v), reg("pt_j", jj, None, v)
        vt = reg("pt_valid", v)
        best_val = Signal(signed(tw), name="best_value")
        m.d.comb += [self.logit_we.eq(vt & d.last), self.logit_addr.eq(ft),
                     self.logit_data.eq(total)]
        with m.If(vt & d.last & ((ft == 0) | (total > best_val))):
            m.d.sync += [best_val.eq(total), self.best.eq(ft)]

        # ---- requantization (+ ReLU, 8-bit saturation)
        if self.pe == "int8":
            prod = reg("pq_prod", total * d.req_mult, signed(tw + len(d.req_mult) + 1), vt)
            ot, pft, plt, jt = (reg("pq_oaddr", ot, None, vt), reg("pq_wf", pft, None, vt),
                                reg("pq_wl", plt, None, vt), reg("pq_j", jt, None, vt))
            vt = reg("pq_valid", vt)
            lo, hi = self.widths["req_lo"], self.widths["req_hi"]
            q, prefix = _round_shift(m, prod, d.req_shift, lo, hi, "pq"), "pq"
        else:
            q, prefix = self._requant(m, total, d.shift), "rq"
        if self.fpga:    # the rounding shift, then the clip
            q = reg(f"{prefix}_shifted", q, None, vt)
            ot, pft, plt, jt = (reg("pr_oaddr", ot, None, vt), reg("pr_wf", pft, None, vt),
                                reg("pr_wl", plt, None, vt), reg("pr_j", jt, None, vt))
            vt = reg("pr_valid", vt)
        q = _clip(m, q, prefix)
        oq, pfq, plq, jq = (reg("pw_oaddr", ot, None, vt), reg("pw_wf", pft, None, vt),
                            reg("pw_wl", plt, None, vt), reg("pw_j", jt, None, vt))
        qv = reg("pw_value", q, None, vt)
        vq = reg("pw_valid", vt)

        # ---- pooling and the activation write
        mx = Signal(ACT_WIDTH, name="pool_max")
        pool_we = vq & ~d.last
        if self.fpga and self.lanes > 1:
            # the lanes' pooling values in a block RAM, read one stage early; the lane written
            # in that cycle takes the value written
            m.submodules.pool_mem = pool_mem = memory.Memory(
                shape=unsigned(ACT_WIDTH), depth=self.lanes, init=[], attrs={"ram_style": "block"})
            p_rd, p_wr = pool_mem.read_port(), pool_mem.write_port()
            fwd = reg("pw_forward", pool_we & (jq == jt), None, vt)
            mx_q = reg("pw_written", mx, None, vt)
            m.d.comb += [p_rd.addr.eq(jt), p_rd.en.eq(vt), p_wr.addr.eq(jq), p_wr.data.eq(mx),
                         p_wr.en.eq(pool_we)]
            early = Mux(fwd, mx_q, p_rd.data)
        elif self.fpga:
            # one lane: a register, read one stage early; weight reuse: the pair's second
            # position follows its first at once and takes the value written
            pool = Signal(ACT_WIDTH, name="pool0")
            early = reg("pw_pool", Mux(pool_we, mx, pool), unsigned(ACT_WIDTH), vt)
            with m.If(pool_we):
                m.d.sync += pool.eq(mx)
        else:
            pool = Array(Signal(ACT_WIDTH, name=f"pool{i}") for i in range(self.lanes))
            early = pool[jq]
            with m.If(pool_we):
                m.d.sync += pool[jq].eq(mx)
        m.d.comb += mx.eq(Mux(pfq, qv, Mux(early > qv, early, qv)))
        m.d.comb += [self.act_we.eq(vq & plq & ~d.last), self.act_waddr.eq(oq),
                     self.act_wdata.eq(mx)]
        m.d.comb += self.busy.eq(active | vq)
        return m

    def _requant(self, m, total, shift):
        """``(total + 2**(s-1)) >> s`` for ``s > 0``, ``total << -s`` else (before the clip to
        ``0 .. 255``), for the shifts ``widths["shift_lo"] .. widths["shift_hi"]`` the program uses."""
        lo, hi = self.widths["shift_lo"], self.widths["shift_hi"]
        outs = []
        if hi >= 1:
            outs.append((shift > 0, _round_shift(m, total, shift, max(1, lo), hi, "rq")))
        if lo <= 0:
            # A left shift by ACT_WIDTH or more saturates any positive total: cap the amount.
            top = min(-lo, ACT_WIDTH)
            amount = Signal(range(top + 1), name="rq_left")
            m.d.comb += amount.eq(Mux(-shift > top, top, -shift))
            left = Signal(signed(len(total) + top), name="rq_left_value")
            m.d.comb += left.eq(total << amount)
            outs.append((shift <= 0, left))
        return outs[0][1] if len(outs) == 1 else Mux(outs[0][0], outs[0][1], outs[1][1])


def csd_keep_mask(t, width: int):
    """The mask :func:`truncated_csd` takes for truncation level ``t`` and a ``width``-bit
    operand: bit ``i`` is ``t <= i`` (``width + 1`` bits)."""
    return Cat(*(t <= i for i in range(width + 1)))


def truncated_csd(m, x, keep, name, three=None):
    """``trunc_t(x)`` for an unsigned ``x``: the value of the CSD (non-adjacent form) digits of
    ``x`` at positions ``>= t`` (:func:`golden_model.csd.csd_truncate`), as an unsigned signal;
    ``keep`` = :func:`csd_keep_mask` of ``t`` (a constant of the layer: it may come from a
    register).

    The NAF of ``x`` has its ``+1`` digits where ``(3x ^ x) & 3x`` has bits and its ``-1``
    digits where ``(3x ^ x) & x`` has, one position up; a bit set in both ``3x`` and ``x``
    cancels, so keeping the digits ``>= t`` is ``((3x & K) - (x & K)) >> 1`` with ``K`` the
    bits ``>= t + 1``: one adder, a mask and one subtractor. The value is never negative (the
    leading NAF digit of a positive number is ``+1``) and at most ``2**len(x)``. ``three``:
    ``3x``, when the caller has it (e.g. from a register); else it is computed here.
    """
    w = len(x)
    if three is None:
        three = Signal(w + 2, name=f"{name}_x3")
        m.d.comb += three.eq(x + (x << 1))
    keep = keep[:w + 1]                          # bit i: position i + 1 is kept (t <= i)
    out = Signal(w + 1, name=name)
    # both masked values are even: drop bit 0 of each before subtracting
    m.d.comb += out.eq((three[1:] & keep) - (x[1:] & keep))
    return out


def _clip(m, v, prefix):
    q = Signal(ACT_WIDTH, name=f"{prefix}_clip")
    m.d.comb += q.eq(Mux(v < 0, 0, Mux(v > _ACT_MAX, _ACT_MAX, v[:ACT_WIDTH])))
    return q


def _round_shift(m, value, amount, lo: int, hi: int, prefix):
    """``(value + 2**(amount-1)) >> amount`` (arithmetic, round half up) for ``lo <= amount <= hi``
    (``lo >= 1``; other amounts give an unspecified value).

    Computed as ``((value >> (amount - 1)) + 1) >> 1``: the same integer for every ``value``
    (writing ``value = u * 2**(amount-1) + r`` with ``0 <= r < 2**(amount-1)``, both sides are
    ``floor((u + 1) / 2)``), one barrel shifter over ``hi - lo + 1`` positions and an incrementer.
    """
    pre = value >> (lo - 1)                           # the constant part of the shift: wiring
    span = hi - lo
    part = Signal(signed(len(value) + 1), name=f"{prefix}_partial")
    if span:
        var = Signal(range(span + 1), name=f"{prefix}_amount")
        m.d.comb += var.eq(amount - lo)
        m.d.comb += part.eq((pre >> var) + 1)
    else:   # one amount only (every layer shifts alike): no shifter, and no zero-width signal
        m.d.comb += part.eq(pre + 1)
    out = Signal(signed(len(value)), name=f"{prefix}_rounded")
    m.d.comb += out.eq(part >> 1)
    return out
