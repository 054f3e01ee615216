"""The boards' PLLs: divider settings for a clock frequency, and the clock domain they drive.

``qsq bitstream --clock-mhz`` runs the engine faster than the board's oscillator:

* iCE40 (iCEBreaker, 12 MHz): ``SB_PLL40_PAD`` on the clock pin, simple feedback.
  ``f_out = f_in * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ)`` with the reference after DIVR in
  10-133 MHz, the VCO ``f_in * (DIVF + 1) / (DIVR + 1)`` in 533-1066 MHz and ``f_out`` in
  16-275 MHz (Lattice TN1251, *iCE40 sysCLOCK PLL Design and Usage Guide*; the ranges
  ``icepll`` uses); ``FILTER_RANGE`` from the reference frequency as in that guide.
* ECP5 (ULX3S, 25 MHz): ``EHXPLLL`` with ``CLKOP`` fed back.
  ``f_out = f_in * CLKFB_DIV / CLKI_DIV`` with the VCO ``f_out * CLKOP_DIV`` in 400-800 MHz and
  the phase detector ``f_in / CLKI_DIV`` at least 3.125 MHz (Lattice TN1263, *ECP5 sysCLOCK PLL/DLL
  Design and Usage Guide*; the ranges ``ecppll`` uses).

:func:`pll_settings` picks, among the frequencies a PLL can make, the highest at most the asked
one whose UART divisor hits the baud rate within :data:`hw.boards.spec.MAX_BAUD_ERROR` (the link
must still work). :class:`PLLClock` drives the ``sync`` domain of a board top built with a PLL:
the PLL's output clock, held in reset until the PLL has locked and a power-on delay has passed
(iCE40 block RAMs read as zero for about 3 us after configuration; Amaranth's own iCE40 domain
waits 15 us, and so does this one).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import (ClockDomain, ClockSignal, Const, Elaboratable, Instance, Module,
                          ResetSignal, Signal)
from amaranth.lib import io

__all__ = ["PLLSettings", "pll_settings", "ice40_pll", "ecp5_pll", "PLLClock", "POR_SECONDS"]

#: Power-on reset after the PLL locks (the iCE40 block RAMs' ~3 us, with Amaranth's margin).
POR_SECONDS = 15e-6


@dataclass(frozen=True)
class PLLSettings:
    """One PLL configuration.

    Attributes
    ----------
    family : str
        ``ice40`` or ``ecp5``.
    f_in, f_out : float
        Input and output frequency in Hz (``f_out`` exact for these dividers).
    params : dict
        The primitive's divider parameters (``DIVR``/``DIVF``/``DIVQ``/``FILTER_RANGE`` or
        ``CLKI_DIV``/``CLKFB_DIV``/``CLKOP_DIV``/``CLKOP_CPHASE``).
    vco : float
        VCO frequency in Hz.
    """

    family: str
    f_in: float
    f_out: float
    params: dict
    vco: float


def ice40_pll(f_in: float) -> list[PLLSettings]:
    """Every output frequency the iCE40 ``SB_PLL40`` makes from ``f_in`` (simple feedback), one
    setting per frequency (the lowest VCO among equals)."""
    out: dict[float, PLLSettings] = {}
    for divr in range(16):
        f_ref = f_in / (divr + 1)
        if not 10e6 <= f_ref <= 133e6:
            continue
        for divf in range(128):
            vco = f_ref * (divf + 1)
            if not 533e6 <= vco <= 1066e6:
                continue
            for divq in range(1, 7):
                f = vco / (1 << divq)
                if not 16e6 <= f <= 275e6:
                    continue
                key = round(f, 3)
                if key not in out or vco < out[key].vco:
                    out[key] = PLLSettings("ice40", f_in, f, {
                        "DIVR": divr, "DIVF": divf, "DIVQ": divq,
                        "FILTER_RANGE": _ice40_filter(f_ref)}, vco)
    return sorted(out.values(), key=lambda s: s.f_out)


def _ice40_filter(f_ref: float) -> int:
    for rng, limit in enumerate((17e6, 26e6, 44e6, 66e6, 101e6), start=1):
        if f_ref < limit:
            return rng
    return 6


def ecp5_pll(f_in: float) -> list[PLLSettings]:
    """Every output frequency the ECP5 ``EHXPLLL`` makes from ``f_in`` on ``CLKOP`` (fed back),
    one setting per frequency (the lowest input divider, then the highest VCO)."""
    out: dict[float, PLLSettings] = {}
    for clki in range(1, 129):
        f_pfd = f_in / clki
        if not 3.125e6 <= f_pfd <= 400e6:
            continue
        for clkfb in range(1, 81):
            f = f_pfd * clkfb
            if not 3.125e6 <= f <= 400e6:
                continue
            ops = [d for d in range(1, 129) if 400e6 <= f * d <= 800e6]
            if not ops:
                continue
            op = ops[-1]
            key = round(f, 3)
            if key not in out:
                out[key] = PLLSettings("ecp5", f_in, f, {
                    "CLKI_DIV": clki, "CLKFB_DIV": clkfb, "CLKOP_DIV": op,
                    "CLKOP_CPHASE": op - 1, "CLKOP_FPHASE": 0}, f * op)
    return sorted(out.values(), key=lambda s: s.f_out)


def pll_settings(family: str, f_in: float, f_max: float, baud: int | None = None) -> PLLSettings:
    """The highest PLL output frequency at most ``f_max`` (Hz) from ``f_in``; with ``baud``, only
    one the UART can divide to that rate (:func:`hw.boards.spec.uart_divisor`).

    Raises
    ------
    ValueError
        For an unknown family, a bad baud rate, or when no setting qualifies (the message names
        the range).
    """
    from .spec import MAX_BAUD_ERROR, check_baud, uart_divisor

    if family not in ("ice40", "ecp5"):
        raise ValueError(f"family must be 'ice40' or 'ecp5', not {family!r}")
    if not isinstance(f_max, (int, float)) or f_max <= 0:
        raise ValueError(f"clock frequency must be a positive number of Hz, not {f_max!r}")
    if baud is not None:
        check_baud(baud)

    def uart_ok(f: float) -> bool:
        try:
            uart_divisor(f, baud)
        except ValueError:
            return False
        return True

    options = ice40_pll(f_in) if family == "ice40" else ecp5_pll(f_in)
    ok = [s for s in options
          if s.f_out <= f_max * (1 + 1e-9) and (baud is None or uart_ok(s.f_out))]
    if not ok:
        lo = options[0].f_out / 1e6
        raise ValueError(f"clock must be at least {lo:g} MHz for the {family} PLL from "
                         f"{f_in / 1e6:g} MHz" + (f" and give {baud} baud within "
                                                  f"{MAX_BAUD_ERROR:.0%}"
                                                  if baud is not None else "")
                         + f", not {f_max / 1e6:g} MHz")
    return ok[-1]


class PLLClock(Elaboratable):
    """Drives the clock and reset of the ``sync`` domain, which the parent defines, from a PLL on
    the board's clock pin.

    Parameters
    ----------
    settings : PLLSettings
        From :func:`pll_settings`.

    Members
    -------
    locked : Signal
        The PLL's LOCK output.

    Notes
    -----
    ``sync`` is in reset until the PLL has locked and :data:`POR_SECONDS` of its clock have
    passed (the reset is a register, one cycle behind the counter); a loss of lock resets it
    again. The counter runs in a reset-less domain ``por`` on the
    same clock (it starts from 0 at configuration).
    """

    def __init__(self, settings: PLLSettings):
        if not isinstance(settings, PLLSettings):
            raise TypeError(f"settings must be a PLLSettings, not {settings!r}")
        self.settings = settings
        self.locked = Signal()

    def elaborate(self, platform):
        m = Module()
        s = self.settings
        clk_in = platform.request(platform.default_clk, dir="-")
        # (no clock constraint on the output: nextpnr derives it from the input pin's and the
        # PLL's dividers, and the net takes the domain's name)
        clk = Signal(name="pll_clk")
        if s.family == "ice40":
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=Const(s.params["DIVR"], 4), p_DIVF=Const(s.params["DIVF"], 7),
                p_DIVQ=Const(s.params["DIVQ"], 3),
                p_FILTER_RANGE=Const(s.params["FILTER_RANGE"], 3),
                i_PACKAGEPIN=clk_in.io, o_PLLOUTGLOBAL=clk, o_LOCK=self.locked,
                i_RESETB=Const(1), i_BYPASS=Const(0))
        else:
            m.submodules.clk_buf = buf = io.Buffer("i", clk_in)
            m.submodules.pll = Instance(
                "EHXPLLL", a_FREQUENCY_PIN_CLKI=f"{s.f_in / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{s.f_out / 1e6:g}",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
                p_FEEDBK_PATH="CLKOP", **{f"p_{k}": v for k, v in s.params.items()},
                i_CLKI=buf.i, o_CLKOP=clk, i_CLKFB=clk, i_RST=Const(0), i_STDBY=Const(0),
                i_PHASESEL0=Const(0), i_PHASESEL1=Const(0), i_PHASEDIR=Const(0),
                i_PHASESTEP=Const(0), i_PHASELOADREG=Const(0), i_PLLWAKESYNC=Const(0),
                i_ENCLKOP=Const(0), o_LOCK=self.locked)
        m.domains.por = ClockDomain("por", reset_less=True)
        m.d.comb += [ClockSignal("sync").eq(clk), ClockSignal("por").eq(clk)]
        n = max(2, int(POR_SECONDS * s.f_out))
        count = Signal(range(n + 1))
        with m.If(~self.locked):
            m.d.por += count.eq(0)
        with m.Elif(count != n):
            m.d.por += count.eq(count + 1)
        # the reset comes from a register: a comparator in front of every flip-flop's reset
        # would be the design's longest path
        held = Signal(init=1, name="por_reset")
        m.d.por += held.eq(count != n)
        m.d.comb += ResetSignal("sync").eq(held)
        return m
