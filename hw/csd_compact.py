"""Compact truncated-CSD multiplier: ceil(ndigits/2) operand-isolated rows, registered controls.

Computes exactly :func:`golden_model.csd.csd_product` (``p = a * b_t``), like
:class:`hw.csd_multiplier.CSDMultiplier`, with the same ports and latency, but built from the two
levers the report's measurements pointed at:

* **Compact rows.** In the CSD (non-adjacent) form no two neighbouring digits are nonzero, so the
  digit pair at positions ``(2k, 2k+1)`` holds at most one nonzero digit. Row ``k`` is therefore
  ``0``, ``+-a << 2k`` or ``+-a << (2k+1)``: ``ceil(ndigits / 2)`` rows (4 for an 8-bit signed
  weight instead of 8), each a 2:1 shift select, like radix-4 Booth but with CSD digits, so
  truncation and row gating keep their meaning (a row is active when its pair holds a nonzero
  digit at a position ``>= t``).
* **Registered controls, not registered rows.** Stage 1 registers the operand ``a`` once and
  three control bits per row (active, shift select, sign) instead of one ``a_width + 1``-bit
  register per row. Stage 2 forms the rows from the shared ``a`` register.
* **Operand isolation and sign handling.** ``sign="xor"`` negates a row by inverting it and adding
  the sign as a carry-in (Booth style: XOR gates, no incrementer); ``sign="split"`` adds positive
  rows and negative rows in two trees and subtracts once, so no row is ever inverted.

Gating (``gating``):

* ``"none"``: the ``a`` register and the row controls load every cycle; a row that does not
  contribute (zero or truncated digits, ``a == 0`` or a bubble) is forced to constant 0.
* ``"enable"`` / ``"icg"``: an operation *loads* (``a`` register and row controls, through a clock
  enable, or clocked through one ``qsq_icg`` clock gate so the flip-flops see no clock edge
  otherwise) only when it is valid, ``a != 0`` and at least one row is active; otherwise every
  datapath register holds and a registered ``zero`` flag forces the product to 0. Holding beats
  forcing rows to 0: with sparse activations and stationary weights nothing in the datapath
  switches for a zero operation (``make report`` measures both: ``build/report/index.md``).
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, ClockSignal, Const, Instance, Module, Mux, Signal, signed
from amaranth.lib import wiring

from golden_model.config import GATING_STYLES, SIGN_STYLES, MultiplierConfig

from ._component import checking_parameters, first_row, multiplier_ports
from .csd_multiplier import _active, _check_gating, _check_truncation, _recode

__all__ = ["CSDCompactMultiplier", "SIGN_STYLES", "GATING_STYLES"]


class CSDCompactMultiplier(wiring.Component):
    """Pipelined truncated-CSD multiplier with ``ceil(ndigits/2)`` operand-isolated rows.

    Parameters
    ----------
    a_width, a_signed, b_width, b_signed : int, bool
        Operand formats, as :class:`golden_model.config.MultiplierConfig`.
    truncation : int or ``"runtime"``
        Static level ``t`` in ``[0, ndigits]`` (digit positions below ``t`` are not built), or
        ``"runtime"`` for a ``trunc`` input port sampled with the operands.
    gating : ``"none"``, ``"enable"`` or ``"icg"``
        How the shared operand register is gated (see the module docstring).
    sign : ``"xor"`` or ``"split"``
        How negative digits are formed (see the module docstring).

    Members
    -------
    a : In(a_width), signed if a_signed
    b : In(b_width), signed if b_signed
    trunc : In(bit_length(ndigits))
        Runtime truncation level (``truncation="runtime"`` only); values above ``ndigits`` act
        as ``ndigits``.
    in_valid : In(1)
    p : Out(a_width + b_width), signed if either operand is; holds between results
    out_valid : Out(1)

    Latency and throughput
    ----------------------
    :attr:`latency` = 2 (operand/control registers, product register); one operation per cycle,
    bubbles allowed.

    Raises
    ------
    TypeError, ValueError
        For invalid parameters, with a message naming the parameter and the allowed values.
    """

    def __init__(self, a_width=8, a_signed=True, b_width=8, b_signed=True, truncation="runtime",
                 gating="enable", sign="xor"):
        with checking_parameters(self):
            self._check(a_width, a_signed, b_width, b_signed, truncation, gating, sign)
        super().__init__(multiplier_ports(self.config, self.truncation, pipelined=True))

    def _check(self, a_width, a_signed, b_width, b_signed, truncation, gating, sign):
        self.config = cfg = MultiplierConfig(a_width, a_signed, b_width, b_signed)
        self.truncation = _check_truncation(cfg, truncation)
        self.gating = _check_gating(gating)
        if not isinstance(sign, str):
            raise TypeError(f"sign must be one of {SIGN_STYLES}, not {sign!r}")
        if sign not in SIGN_STYLES:
            raise ValueError(f"sign must be one of {SIGN_STYLES}, not {sign!r}")
        self.sign = sign

    @property
    def latency(self) -> int:
        """Cycles from an operation's ``in_valid`` to its ``out_valid``: 2."""
        return 2

    @property
    def rows(self) -> list[tuple[int, ...]]:
        """Digit positions of each built row (one or two; truncated positions left out)."""
        nd = self.config.ndigits
        t0 = first_row(self.truncation)
        out = []
        for k in range((nd + 1) // 2):
            pos = tuple(q for q in (2 * k, 2 * k + 1) if t0 <= q < nd)
            if pos:
                out.append(pos)
        return out

    @property
    def uses_icg(self) -> bool:
        return self.gating == "icg" and bool(self.rows)

    def _digits(self, m: Module):
        """CSD digits ``(dpos, dneg)`` of the weight: the same recoder as CSDMultiplier's.

        Subclasses that receive digits instead of ``b`` override this
        (:class:`hw.engine.digit_multiplier.CSDDigitMultiplier`)."""
        return _recode(m, self.b, self.config)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        dpos, dneg = self._digits(m)
        trunc = self.trunc if self.truncation == "runtime" else None

        def act(q):
            return _active(dpos, dneg, q, trunc)

        a_nz = self.a.any()
        go = Signal(name="op_active")   # this operation has at least one contributing row
        hold = self.gating != "none"
        rows = []
        any_terms = []
        if hold and self.rows and self.gating == "icg":
            cd = ClockDomain("aop", reset_less=True, local=True)
            m.domains += cd
            gclk = Signal(name="a_gclk")
            m.submodules.a_icg = Instance("qsq_icg", i_CLK=ClockSignal("sync"), i_EN=go,
                                          i_TE=Const(0, 1), o_GCLK=gclk)
            m.d.comb += cd.clk.eq(gclk)
            dom = m.d.aop
        else:
            dom = m.d.sync
        loads = []
        for k, pos in enumerate(self.rows):
            active_c = Signal(name=f"row{k}_active_c")
            if hold:
                m.d.comb += active_c.eq(_or([act(q) for q in pos]))
            else:
                m.d.comb += active_c.eq(self.in_valid & a_nz & _or([act(q) for q in pos]))
            any_terms.append(active_c)
            active = Signal(name=f"row{k}_active", reset_less=hold)
            neg = Signal(name=f"row{k}_neg", reset_less=hold)
            loads += [active.eq(active_c), neg.eq(active_c & _or([dneg[q] & act(q) for q in pos]))]
            sel = None
            if len(pos) == 2:
                sel = Signal(name=f"row{k}_sel", reset_less=hold)
                loads.append(sel.eq(active_c & act(pos[1])))
            rows.append((pos, active, neg, sel))
        if hold:
            m.d.comb += go.eq(self.in_valid & a_nz & _or(any_terms) if any_terms else 0)
        else:
            m.d.comb += go.eq(_or(any_terms) if any_terms else 0)

        a_q = Signal.like(self.a, name="a_q", reset_less=True)
        zero_q = Signal(name="zero_q", init=1)
        if not hold:
            m.d.sync += [a_q.eq(self.a)] + loads
        else:
            m.d.sync += zero_q.eq(~go)
            if self.gating == "enable":
                with m.If(go):
                    m.d.sync += [a_q.eq(self.a)] + loads
            elif rows:
                dom += [a_q.eq(self.a)] + loads
        valid1 = Signal(name="valid1")
        m.d.sync += valid1.eq(self.in_valid)

        # ---- stage 2: rows from the shared register, isolated, summed
        # Everything modulo 2**p_width: the true product fits p, so the wrapped sum is exact.
        width = cfg.p_width
        a_ext = Signal(signed(width), name="a_ext")
        m.d.comb += a_ext.eq(a_q)
        terms, carries, pos_terms, neg_terms = [], [], [], []
        for k, (pos, active, neg, sel) in enumerate(rows):
            mag = Signal(signed(width), name=f"row{k}_mag")
            lo = (a_ext << pos[0])[:width].as_signed()
            if sel is not None:
                hi = (a_ext << pos[1])[:width].as_signed()
                m.d.comb += mag.eq(Mux(active, Mux(sel, hi, lo), 0))
            else:
                m.d.comb += mag.eq(Mux(active, lo, 0))
            if self.sign == "xor":
                row = Signal(signed(width), name=f"row{k}")
                m.d.comb += row.eq(mag ^ neg.replicate(width))
                terms.append(row)
                carries.append(neg)
            else:
                prow = Signal(signed(width), name=f"row{k}_p")
                nrow = Signal(signed(width), name=f"row{k}_n")
                m.d.comb += [prow.eq(Mux(neg, 0, mag)), nrow.eq(Mux(neg, mag, 0))]
                pos_terms.append(prow)
                neg_terms.append(nrow)
        if self.sign == "xor":
            total = _tree(terms + [_count(carries)] if carries else terms)
        else:
            total = _tree(pos_terms) - _tree(neg_terms)
        if hold:
            total = Mux(zero_q, 0, total)   # an operation that loaded nothing has product 0
        m.d.sync += self.out_valid.eq(valid1)
        with m.If(valid1):
            m.d.sync += self.p.eq(total)
        return m


def _or(bits):
    out = bits[0]
    for b in bits[1:]:
        out = out | b
    return out


def _tree(terms):
    if not terms:
        return Const(0, 1)
    level = list(terms)
    while len(level) > 1:
        nxt = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _count(bits):
    """Sum of single-bit carry-ins as an unsigned value (their count)."""
    total = bits[0].as_unsigned()
    for b in bits[1:]:
        total = total + b
    return total
