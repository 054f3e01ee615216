"""Quality-scalable truncated-CSD multiplier with clock-gated partial-product rows.

The hardware computes exactly :func:`golden_model.csd.csd_product`: ``p = a * b_t``, where ``b_t``
keeps the canonical-signed-digit (non-adjacent form) digits of ``b`` at positions ``i >= t``.

Structure (one operation per cycle)::

    b --> CSD recoder --> digit d_i in {-1, 0, +1} per position i
    a --> row i = +a, -a or nothing (shifted left by i, by wiring)
          --> row registers (gated)  + one "contributes" bit per row
          --> adder tree (rows masked by their contributes bit)
          --> product register p

Two classes:

* :class:`CSDMultiplierCore` -- recoder, rows and adder tree, purely combinational (for area
  comparisons with other combinational multipliers).
* :class:`CSDMultiplier` -- the pipelined, gated multiplier (latency :attr:`CSDMultiplier.latency`).
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, ClockSignal, Const, Instance, Module, Mux, Shape, Signal, signed
from amaranth.lib import wiring

from golden_model.config import GATING_STYLES, MultiplierConfig

from ._component import checking_parameters, first_row, multiplier_ports, trunc_width

__all__ = ["GATING_STYLES", "CSDMultiplierCore", "CSDMultiplier", "trunc_width"]

#: Allowed values of the ``gating`` parameter.

def _check_truncation(cfg: MultiplierConfig, truncation):
    if isinstance(truncation, str):
        if truncation != "runtime":
            raise ValueError(
                f"truncation must be 'runtime' or an integer in [0, {cfg.ndigits}], not {truncation!r}")
        return truncation
    try:
        return cfg.check_truncation(truncation)
    except TypeError:
        raise TypeError(
            f"truncation must be 'runtime' or an integer in [0, {cfg.ndigits}], "
            f"not {truncation!r}") from None
    except ValueError:
        raise ValueError(
            f"truncation must be 'runtime' or an integer in [0, {cfg.ndigits}], "
            f"not {truncation!r}") from None


def _check_gating(gating):
    if not isinstance(gating, str):
        raise TypeError(f"gating must be one of {GATING_STYLES}, not {gating!r}")
    if gating not in GATING_STYLES:
        raise ValueError(f"gating must be one of {GATING_STYLES}, not {gating!r}")
    return gating


def _recode(m: Module, b, cfg: MultiplierConfig):
    """CSD (NAF) recoder of ``b`` in hardware.

    With ``x`` the value of ``b`` (sign- or zero-extended), ``h = 3x ^ x``: the digit at position
    ``i`` is +1 where bit ``i + 1`` of ``h & 3x`` is set and -1 where bit ``i + 1`` of ``h & x`` is
    set. This holds for two's-complement ``x`` too (all bits above the operand agree in ``x`` and
    ``3x``, so ``h`` is 0 there). One adder of ``ndigits + 2`` bits, then bitwise logic.

    Returns the signals ``(dpos, dneg)``, ``ndigits`` bits each.
    """
    n = cfg.ndigits
    w = n + 2
    x = Signal(w, name="rec_x")
    three = Signal(w, name="rec_3x")
    m.d.comb += [
        x.eq(b),                      # sign- or zero-extends according to b's shape
        three.eq(x + (x << 1)),
    ]
    h = three ^ x
    dpos = Signal(n, name="digit_pos")
    dneg = Signal(n, name="digit_neg")
    m.d.comb += [
        dpos.eq((h & three)[1:n + 1]),
        dneg.eq((h & x)[1:n + 1]),
    ]
    return dpos, dneg


def _active(dpos, dneg, i: int, trunc):
    """1 where digit ``i`` is nonzero and not truncated (``trunc`` None for static truncation)."""
    nz = dpos[i] | dneg[i]
    if trunc is None:
        return nz
    return nz & (trunc <= i)


def _row_shape(cfg: MultiplierConfig) -> Shape:
    """A row register holds ``+a`` or ``-a``: ``a_width + 1`` bits, signed."""
    return signed(cfg.a_width + 1)


def _row_value(a, dneg, i: int, cfg: MultiplierConfig):
    """``+a`` or ``-a`` (unshifted) selected by the sign of digit ``i``."""
    ext = Signal(_row_shape(cfg), name=f"row{i}_a")
    return ext, Mux(dneg[i], -ext, ext)


def _adder_tree(terms: list, width: int, is_signed: bool):
    """Balanced binary adder tree over ``terms``; the result is cast to the product shape."""
    if not terms:
        return Const(0, width)
    level = list(terms)
    while len(level) > 1:
        nxt = [level[k] + level[k + 1] for k in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].as_signed() if is_signed else level[0].as_unsigned()


class CSDMultiplierCore(wiring.Component):
    """Combinational truncated-CSD multiplier: recoder, partial-product rows and adder tree.

    Computes ``p = a * b_t`` (:func:`golden_model.csd.csd_product`) with no registers, so that its
    area can be compared with other combinational multipliers.

    Parameters
    ----------
    a_width : int
        Width of ``a`` (the activation), 1 to 24.
    a_signed : bool
        ``a`` is two's complement.
    b_width : int
        Width of ``b`` (the CSD-recoded weight), 1 to 24.
    b_signed : bool
        ``b`` is two's complement.
    truncation : int or ``"runtime"``
        Static level ``t`` in ``[0, ndigits]`` (rows below ``t`` are not built at all), or
        ``"runtime"`` for a ``trunc`` input port.

    Members
    -------
    a : In(a_width), signed if a_signed
    b : In(b_width), signed if b_signed
    trunc : In(trunc_width)
        Runtime truncation level (only with ``truncation="runtime"``); values above ``ndigits``
        act as ``ndigits`` (product 0).
    p : Out(a_width + b_width), signed if either operand is

    Raises
    ------
    TypeError, ValueError
        For invalid parameters (see :class:`golden_model.config.MultiplierConfig`).

    Notes
    -----
    Latency 0 (combinational); :attr:`latency` is 0.
    """

    def __init__(self, a_width: int = 8, a_signed: bool = True, b_width: int = 8,
                 b_signed: bool = True, truncation="runtime"):
        with checking_parameters(self):
            self.config = MultiplierConfig(a_width, a_signed, b_width, b_signed)
            self.truncation = _check_truncation(self.config, truncation)
        super().__init__(multiplier_ports(self.config, self.truncation, pipelined=False))

    @property
    def latency(self) -> int:
        """Cycles from input to output: 0 (combinational)."""
        return 0

    @property
    def rows(self) -> list[int]:
        """Digit positions that have a partial-product row in this build."""
        t0 = first_row(self.truncation)
        return list(range(t0, self.config.ndigits))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        trunc = self.trunc if self.truncation == "runtime" else None
        dpos, dneg = _recode(m, self.b, cfg)
        terms = []
        for i in self.rows:
            ext, val = _row_value(self.a, dneg, i, cfg)
            row = Signal(_row_shape(cfg), name=f"row{i}")
            m.d.comb += [
                ext.eq(self.a),
                row.eq(Mux(_active(dpos, dneg, i, trunc), val, 0)),
            ]
            terms.append(row << i)
        m.d.comb += self.p.eq(_adder_tree(terms, cfg.p_width, cfg.p_signed))
        return m


class CSDMultiplier(wiring.Component):
    """Pipelined truncated-CSD multiplier with clock-gated partial-product row registers.

    Computes ``p = a * b_t`` (:func:`golden_model.csd.csd_product`), one operation per cycle.

    Parameters
    ----------
    a_width, a_signed, b_width, b_signed : int, bool
        Operand formats, as :class:`golden_model.config.MultiplierConfig` (widths 1 to 24).
    truncation : int or ``"runtime"``
        Static level ``t`` in ``[0, ndigits]``: rows (and their registers) below ``t`` are not
        built at all. ``"runtime"``: a ``trunc`` input port sampled together with the operands, so
        the level may change every operation.
    gating : ``"none"``, ``"enable"`` or ``"icg"``
        ``"none"``: baseline, every row register loads every cycle (a zero or truncated digit
        loads 0). ``"enable"``: a row register loads (clock enable) only when ``in_valid`` is high
        and its digit is nonzero and not truncated; the FPGA-friendly form. ``"icg"``: the same
        condition drives a :file:`hw/cells/qsq_icg.v` clock gate per row, and the row register is
        clocked by that gated clock (no enable mux).

    Members
    -------
    a : In(a_width), signed if a_signed
    b : In(b_width), signed if b_signed
    trunc : In(trunc_width)
        Only with ``truncation="runtime"``; ``trunc_width(config)`` bits; a value above
        ``ndigits`` acts as ``ndigits`` (product 0).
    in_valid : In(1)
        The operands (and ``trunc``) are an operation.
    p : Out(a_width + b_width), signed if either operand is
        The product of the operation that entered :attr:`latency` cycles earlier; holds its value
        while ``out_valid`` is low.
    out_valid : Out(1)
        ``in_valid`` delayed by :attr:`latency` cycles. 0 after reset.

    Internal signals with stable names (visible in the generated Verilog and in simulation), for
    each built row ``i`` (digit position, ``truncation`` .. ``ndigits - 1``):

    ``row{i}``
        The row register: ``+a`` or ``-a``, signed ``a_width + 1`` bits (the shift by ``i`` is
        wiring). Not reset (its ``row{i}_contrib`` bit is).
    ``row{i}_load``
        1 in a cycle whose rising clock edge loads ``row{i}`` (constant 1 for ``gating="none"``).
        The number of row loads of a run is the sum of these over the clock edges.
    ``row{i}_contrib``
        Registered "contributes" bit: the row takes part in the sum of the operation in flight.
        A row that was not reloaded (held) is masked out by it. (Gated styles only.)
    ``row{i}_gclk``
        The gated clock of the row (``gating="icg"`` only), output of the ``qsq_icg`` instance
        ``row{i}_icg``.

    Raises
    ------
    TypeError, ValueError
        For invalid parameters, with a message naming the parameter and the allowed values.

    Notes
    -----
    Latency :attr:`latency` = 2 cycles (row registers, then the product register); throughput one
    operation per cycle; ``in_valid`` may have bubbles. A bubble loads no row register (gated
    styles) and leaves ``p`` unchanged. No back-pressure: the pipeline never stalls, and the
    consumer must take ``p`` in every cycle ``out_valid`` is high.
    """

    def __init__(self, a_width: int = 8, a_signed: bool = True, b_width: int = 8,
                 b_signed: bool = True, truncation="runtime", gating: str = "enable"):
        with checking_parameters(self):
            self.config = MultiplierConfig(a_width, a_signed, b_width, b_signed)
            self.truncation = _check_truncation(self.config, truncation)
            self.gating = _check_gating(gating)
        super().__init__(multiplier_ports(self.config, self.truncation, pipelined=True))

    @property
    def latency(self) -> int:
        """Cycles from an operation's ``in_valid`` to its ``out_valid``: 2."""
        return 2

    @property
    def rows(self) -> list[int]:
        """Digit positions that have a row register in this build."""
        t0 = first_row(self.truncation)
        return list(range(t0, self.config.ndigits))

    @property
    def uses_icg(self) -> bool:
        """True if the design instantiates ``qsq_icg`` cells."""
        return self.gating == "icg" and bool(self.rows)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        trunc = self.trunc if self.truncation == "runtime" else None
        dpos, dneg = _recode(m, self.b, cfg)

        valid1 = Signal(name="valid1")
        m.d.sync += valid1.eq(self.in_valid)

        terms = []
        for i in self.rows:
            ext, val = _row_value(self.a, dneg, i, cfg)
            m.d.comb += ext.eq(self.a)
            active = Signal(name=f"row{i}_active")
            m.d.comb += active.eq(_active(dpos, dneg, i, trunc))
            row = Signal(_row_shape(cfg), name=f"row{i}", reset_less=True)
            load = Signal(name=f"row{i}_load")
            if self.gating == "none":
                m.d.comb += load.eq(1)
                m.d.sync += row.eq(Mux(active, val, 0))
                terms.append(row << i)
                continue
            m.d.comb += load.eq(self.in_valid & active)
            contrib = Signal(name=f"row{i}_contrib")
            m.d.sync += contrib.eq(load)
            if self.gating == "enable":
                with m.If(load):
                    m.d.sync += row.eq(val)
            else:  # icg
                domain = f"row{i}"
                cd = ClockDomain(domain, reset_less=True, local=True)
                m.domains += cd
                gclk = Signal(name=f"row{i}_gclk")
                m.submodules[f"row{i}_icg"] = Instance(
                    "qsq_icg",
                    i_CLK=ClockSignal("sync"), i_EN=load, i_TE=Const(0, 1), o_GCLK=gclk)
                m.d.comb += cd.clk.eq(gclk)
                m.d[domain] += row.eq(val)
            terms.append(Mux(contrib, row, 0) << i)

        m.d.sync += self.out_valid.eq(valid1)
        with m.If(valid1):
            m.d.sync += self.p.eq(_adder_tree(terms, cfg.p_width, cfg.p_signed))
        return m
