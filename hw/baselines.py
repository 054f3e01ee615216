"""Baseline multipliers for the synthesis and activity reports.

Both have the ports and pipeline of the CSD multiplier (``a``, ``b``, ``in_valid`` in;
``p``, ``out_valid`` out; Amaranth's ``clk`` and ``rst``) so a report compares like with like:

* :class:`ExactMultiplier` — Amaranth ``a * b``, which Yosys maps with its own multiplier
  architecture (Booth-recoded when it pays): the alternative a user would actually pick.
* :class:`BrokenArrayMultiplier` / :class:`TruncatedArrayMultiplier` — the classic approximate
  array multipliers, partial-product bits below column ``vbl`` (and rows below ``hbl``) dropped,
  bit-exact with :mod:`golden_model.baselines`.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import wiring

from golden_model.baselines import _check_levels
from golden_model.config import MultiplierConfig, check_int

from ._component import checking_parameters, multiplier_ports

__all__ = ["ExactMultiplier", "BrokenArrayMultiplier", "TruncatedArrayMultiplier", "MAX_LATENCY"]

#: Deepest pipeline the baselines build (input register, product register, output delays).
MAX_LATENCY = 8


class _PipelinedMultiplier(wiring.Component):
    """Shared pipeline: optional operand register, product, product register, delay registers.

    Subclasses implement :meth:`product` (a combinational function of the operand values).
    """

    def __init__(self, a_width, a_signed, b_width, b_signed, latency, hold=False):
        with checking_parameters(self):
            self._config = MultiplierConfig(a_width, a_signed, b_width, b_signed)
            self._latency = check_int("latency", latency, 1, MAX_LATENCY)
            if not isinstance(hold, bool):
                raise TypeError(f"hold must be a bool, not {hold!r}")
            self._hold = hold
        super().__init__(multiplier_ports(self._config, pipelined=True))

    @property
    def config(self) -> MultiplierConfig:
        return self._config

    @property
    def latency(self) -> int:
        """Cycles from operands (``a``, ``b``, ``in_valid``) to ``p`` / ``out_valid``."""
        return self._latency

    def product(self, m: Module, a, b):
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        a, b, v = self.a, self.b, self.in_valid
        if self._latency >= 2:
            ra = Signal.like(self.a, name="a_q")
            rb = Signal.like(self.b, name="b_q")
            rv = Signal(name="valid_q")
            with m.If(v if self._hold else 1):
                m.d.sync += [ra.eq(a), rb.eq(b)]
            m.d.sync += rv.eq(v)
            a, b, v = ra, rb, rv
        prod = Signal.like(self.p, name="product")
        m.d.comb += prod.eq(self.product(m, a, b))
        stage_p, stage_v = prod, v
        for i in range(max(1, self._latency - 1)):
            rp = Signal.like(self.p, name=f"p_q{i}")
            rv = Signal(name=f"out_valid_q{i}")
            with m.If(stage_v if self._hold else 1):
                m.d.sync += rp.eq(stage_p)
            m.d.sync += rv.eq(stage_v)
            stage_p, stage_v = rp, rv
        m.d.comb += [self.p.eq(stage_p), self.out_valid.eq(stage_v)]
        return m


class ExactMultiplier(_PipelinedMultiplier):
    """Exact ``p = a * b`` with Amaranth's ``*`` (Yosys chooses the multiplier architecture).

    Parameters
    ----------
    a_width, b_width : int
        Operand widths, 1 to 24.
    a_signed, b_signed : bool
        Two's-complement operands if true.
    latency : int
        Pipeline depth, 1 to :data:`MAX_LATENCY` (default 2, like the CSD multiplier: an operand
        register and a product register; 1 leaves the operands unregistered; more adds output
        delay registers).
    hold : bool
        Registers load only with a valid operation (clock enables: idle cycles do not switch the
        multiplier; ``p`` then holds the last valid product). Default False, every cycle.

    Members
    -------
    a, b : In(signed/unsigned)
    in_valid : In(1)
    p : Out(a_width + b_width), signed if either operand is
    out_valid : Out(1)

    Latency and throughput
    ----------------------
    :attr:`latency` cycles from ``a``/``b``/``in_valid`` to ``p``/``out_valid``; one operation per
    cycle. ``p`` is only meaningful when ``out_valid`` is set.

    Raises
    ------
    TypeError, ValueError
        For a parameter of the wrong type or out of range.
    """

    def __init__(self, a_width=8, a_signed=True, b_width=8, b_signed=True, latency=2, hold=False):
        super().__init__(a_width, a_signed, b_width, b_signed, latency, hold)

    def product(self, m, a, b):
        return a * b


class BrokenArrayMultiplier(_PipelinedMultiplier):
    """Broken-array multiplier ``BAM(vbl, hbl)``: array rows with low partial-product bits removed.

    Computes :func:`golden_model.baselines.broken_array_product`: the partial-product bits in
    columns below ``vbl`` and the rows of the ``hbl`` low bits of ``b`` are not built. Each kept
    row ``j`` is ``b[j] ? (a with its low max(0, vbl - j) bits cleared) << j : 0`` (negated for the
    sign bit of a signed ``b``), and the rows are summed.

    Parameters
    ----------
    a_width, a_signed, b_width, b_signed, latency
        As for :class:`ExactMultiplier`.
    vbl : int
        Vertical break level, 0 to ``a_width + b_width``.
    hbl : int
        Horizontal break level, 0 to ``b_width``.

    Latency and throughput
    ----------------------
    As for :class:`ExactMultiplier`.
    """

    def __init__(self, vbl=0, hbl=0, a_width=8, a_signed=True, b_width=8, b_signed=True, latency=2):
        with checking_parameters(self):
            cfg = MultiplierConfig(a_width, a_signed, b_width, b_signed)
            self.vbl, self.hbl = _check_levels(cfg, vbl, hbl)
        super().__init__(a_width, a_signed, b_width, b_signed, latency)

    def product(self, m, a, b):
        cfg = self.config
        rows = []
        for j in range(self.hbl, cfg.b_width):
            s = max(0, self.vbl - j)
            if s >= cfg.a_width:
                continue
            kept = Signal.like(self.a, name=f"row{j}_a")
            m.d.comb += kept.eq((a >> s) << s)
            row = Signal(signed(cfg.p_width + 1), name=f"row{j}")
            m.d.comb += row.eq(Mux(b[j], kept << j, 0))
            neg = cfg.b_signed and j == cfg.b_width - 1
            rows.append((neg, row))
        total = 0
        for neg, row in rows:
            total = total - row if neg else total + row
        return total


class TruncatedArrayMultiplier(BrokenArrayMultiplier):
    """Truncated-array multiplier: partial-product bits below column ``k`` dropped (``BAM(k, 0)``).

    Parameters
    ----------
    k : int
        Truncation column, 0 (exact) to ``a_width + b_width``.
    a_width, a_signed, b_width, b_signed, latency
        As for :class:`ExactMultiplier`.

    Latency and throughput
    ----------------------
    As for :class:`ExactMultiplier`.
    """

    def __init__(self, k=4, a_width=8, a_signed=True, b_width=8, b_signed=True, latency=2):
        with checking_parameters(self):
            cfg = MultiplierConfig(a_width, a_signed, b_width, b_signed)
            k = check_int("k", k, 0, cfg.p_width)
        self.k = k
        super().__init__(k, 0, a_width, a_signed, b_width, b_signed, latency)
