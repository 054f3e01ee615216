"""The boards ``qsq bitstream`` builds for, and the UART's clock divisor (no Amaranth import).

:data:`BOARDS`: ``icebreaker`` (iCE40 UP5K, 12 MHz) and the ULX3S variants ``ulx3s-12f`` /
``-25f`` / ``-45f`` / ``-85f`` (ECP5, 25 MHz; ``ulx3s`` is the 85F). Each :class:`BoardSpec` names
its ``amaranth-boards`` platform class (imported only when a platform is made) and which of the
board's LEDs and buttons the design uses.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from golden_model.config import check_int

__all__ = ["BoardSpec", "BOARDS", "board_spec", "uart_divisor", "check_divisor", "check_baud",
           "MIN_DIVISOR", "MAX_DIVISOR", "MAX_BAUD_ERROR", "MIN_BAUD", "MAX_BAUD"]

#: Fewest clock cycles per UART bit: the receiver needs a middle to sample in.
MIN_DIVISOR = 4
#: Most clock cycles per UART bit (a 16-bit counter).
MAX_DIVISOR = 1 << 16


def check_divisor(divisor) -> int:
    """Return ``divisor`` if it is a valid clock cycles per bit count."""
    return check_int("divisor", divisor, MIN_DIVISOR, MAX_DIVISOR)


#: Largest relative error of the actual baud rate (``f_clk / divisor``) accepted.
MAX_BAUD_ERROR = 0.02
#: Line rates ``qsq bitstream`` builds for and ``qsq run`` talks at.
MIN_BAUD, MAX_BAUD = 300, 10_000_000


def check_baud(baud, name: str = "baud") -> int:
    """Return ``baud`` if it is an integer line rate in [:data:`MIN_BAUD`, :data:`MAX_BAUD`]."""
    return check_int(name, baud, MIN_BAUD, MAX_BAUD)


@dataclass(frozen=True)
class BoardSpec:
    """How the engine sits on one board.

    Attributes
    ----------
    name : str
        The ``BOARD=`` name.
    platform : str
        ``module:Class`` of the ``amaranth-boards`` platform.
    description : str
    class_leds, active_led, failed_led : tuple of int, int, int
        ``led`` resource numbers: the class (binary, least significant first), a request in
        progress, the last request failed.
    default_lanes : int
        Engine lanes of a default build: the digits bucket engine at this lane count fits the
        device (``make bitstream`` measures it).
    reset_button : int
        ``button`` resource number that resets the design (active high after the platform's
        inversion).
    extra_resources : str or None
        Attribute of the platform class with resources to add (the iCEBreaker's break-off PMOD,
        which carries its LEDs 2..6).
    programmer : str
        How to load the bitstream (documentation only; nothing here programs a board).
    pll_first_mhz : float
        ``qsq bitstream --clock-mhz auto``: the PLL clock of the first build (a later build uses
        the fmax the first measured).
    has_spram : bool
        The device has SPRAM (iCE40 UltraPlus: 4 x 256 kbit), for ``--weight-store spram``.
    """

    name: str
    platform: str
    description: str
    class_leds: tuple
    active_led: int
    failed_led: int
    default_lanes: int = 16
    reset_button: int = 0
    extra_resources: str | None = None
    programmer: str = ""
    pll_first_mhz: float = 30.0
    has_spram: bool = False

    def make_platform(self):
        """A new instance of the platform class."""
        mod, cls = self.platform.split(":")
        plat = getattr(importlib.import_module(mod), cls)()
        if self.extra_resources:
            plat.add_resources(getattr(plat, self.extra_resources))
        return plat


def _ulx3s(size: str) -> BoardSpec:
    return BoardSpec(f"ulx3s-{size.lower()}", f"amaranth_boards.ulx3s:ULX3S_{size}_Platform",
                     f"Radiona ULX3S with an ECP5 LFE5U-{size} (CABGA381, speed 6), 25 MHz "
                     "oscillator, FTDI UART (US1 port)",
                     class_leds=(0, 1, 2, 3), active_led=7, failed_led=6, reset_button=0,
                     programmer="openFPGALoader -b ulx3s qsq_board.bit", pll_first_mhz=50.0)


#: Board name -> spec; ``ulx3s`` is the ULX3S-85F.
BOARDS = {
    "icebreaker": BoardSpec(
        "icebreaker", "amaranth_boards.icebreaker:ICEBreakerPlatform",
        "1BitSquared iCEBreaker (iCE40 UP5K, SG48), 12 MHz oscillator, FTDI UART (second "
        "interface of the USB port)",
        class_leds=(2, 3, 4, 5), active_led=1, failed_led=0, default_lanes=16, reset_button=0,
        extra_resources="break_off_pmod", programmer="iceprog qsq_board.bin", has_spram=True),
    **{f"ulx3s-{s.lower()}": _ulx3s(s) for s in ("12F", "25F", "45F", "85F")},
}
BOARDS["ulx3s"] = BOARDS["ulx3s-85f"]


def board_spec(name) -> BoardSpec:
    """The :class:`BoardSpec` called ``name``."""
    if not isinstance(name, str) or name not in BOARDS:
        raise ValueError(f"board must be one of {tuple(BOARDS)}, not {name!r}")
    return BOARDS[name]


def uart_divisor(clock_hz: float, baud: int) -> int:
    """Clock cycles per bit for ``baud`` at ``clock_hz``.

    Raises
    ------
    ValueError
        If the nearest divisor misses ``baud`` by more than :data:`MAX_BAUD_ERROR`, or lies outside
        the UART's range.
    """
    baud = check_baud(baud)
    div = max(1, round(clock_hz / baud))
    err = abs(clock_hz / div - baud) / baud
    if err > MAX_BAUD_ERROR:
        raise ValueError(f"baud must be within {MAX_BAUD_ERROR:.0%} of f_clk / n for an integer n "
                         f"(f_clk {clock_hz / 1e6:g} MHz gives {clock_hz / div:.0f}), not {baud!r}")
    return check_divisor(div)
