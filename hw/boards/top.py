"""Board tops: the UART-bridged engine (:class:`BoardCore`) and its platform wrapper (:class:`BoardTop`).

:class:`BoardCore` is everything but the pins: UART receiver and transmitter
(:mod:`hw.boards.uart`), protocol bridge (:mod:`hw.boards.bridge`) and the inference engine
(:class:`hw.engine.top.QSQEngine`) with its memories initialised from the compiled program. Its
ports are plain wires (``rx``, ``tx``, status), so the simulation bench runs it as Verilog without
a platform. :class:`BoardTop` requests the board's resources from an ``amaranth-boards`` platform
-- its clock, UART, LEDs and a button -- and puts a :class:`BoardCore` between them; the platform
definition is the pin constraint (the files in ``constraints/`` are what it writes).

Boards (:data:`BOARDS`): ``icebreaker`` (iCE40 UP5K, 12 MHz) and the ULX3S variants
``ulx3s-12f`` / ``-25f`` / ``-45f`` / ``-85f`` (ECP5, 25 MHz; ``ulx3s`` is the 85F).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from amaranth.hdl import Elaboratable, Module, ResetInserter, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from golden_model.config import check_int

from .._component import checking_parameters
from . import protocol as P
from .bridge import UARTBridge
from .uart import UARTRx, UARTTx, check_divisor

__all__ = ["BoardSpec", "BOARDS", "board_spec", "BoardCore", "BoardTop", "uart_divisor",
           "MAX_BAUD_ERROR", "CORE_NAME", "TOP_NAME"]

#: Verilog name of :class:`BoardCore` (simulation) and of the platform top.
CORE_NAME = "qsq_board_core"
TOP_NAME = "qsq_board"
#: Largest relative error of the actual baud rate (``f_clk / divisor``) accepted.
MAX_BAUD_ERROR = 0.02


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
                     programmer="openFPGALoader -b ulx3s qsq_board.bit")


#: Board name -> spec; ``ulx3s`` is the ULX3S-85F.
BOARDS = {
    "icebreaker": BoardSpec(
        "icebreaker", "amaranth_boards.icebreaker:ICEBreakerPlatform",
        "1BitSquared iCEBreaker (iCE40 UP5K, SG48), 12 MHz oscillator, FTDI UART (second "
        "interface of the USB port)",
        class_leds=(2, 3, 4, 5), active_led=1, failed_led=0, default_lanes=8, reset_button=0,
        extra_resources="break_off_pmod", programmer="iceprog qsq_board.bin"),
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
    baud = check_int("baud", baud, 300, 10_000_000)
    div = max(1, round(clock_hz / baud))
    err = abs(clock_hz / div - baud) / baud
    if err > MAX_BAUD_ERROR:
        raise ValueError(f"baud must be within {MAX_BAUD_ERROR:.0%} of f_clk / n for an integer n "
                         f"(f_clk {clock_hz / 1e6:g} MHz gives {clock_hz / div:.0f}), not {baud!r}")
    return check_divisor(div)


class BoardCore(wiring.Component):
    """UART receiver -> protocol bridge -> engine -> bridge -> UART transmitter.

    Parameters
    ----------
    program : EngineProgram
        The compiled network.
    divisor : int
        Clock cycles per UART bit (:func:`uart_divisor`).
    timeout_bits : int
        The bridge's inter-byte timeout in bit periods (default
        :data:`hw.boards.protocol.DEFAULT_TIMEOUT_BITS`).

    Members
    -------
    rx : In(1)
        Serial input (host to board), idles high.
    tx : Out(1)
        Serial output (board to host), idles high.
    cls : Out(class width)
        The engine's class of the last inference.
    active : Out(1)
        A request is being received, executed or answered.
    failed : Out(1)
        The last request got an error reply.
    engine_busy : Out(1)
        The engine's ``busy``.
    """

    def __init__(self, program, divisor: int, timeout_bits: int = P.DEFAULT_TIMEOUT_BITS):
        from hw.engine.top import QSQEngine

        with checking_parameters(self):
            self.divisor = check_divisor(divisor)
            self.timeout_bits = check_int("timeout_bits", timeout_bits, 20, 1 << 24)
            self.engine = QSQEngine(program)
        self.program = program
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1),
                          "cls": Out(program.widths["class"]), "active": Out(1),
                          "failed": Out(1), "engine_busy": Out(1)})

    @property
    def timeout(self) -> int:
        """The bridge's inter-byte timeout in clock cycles."""
        return self.timeout_bits * self.divisor

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = rx = UARTRx(self.divisor)
        m.submodules.uart_tx = tx = UARTTx(self.divisor)
        m.submodules.bridge = bridge = UARTBridge(self.program, self.timeout)
        m.submodules.engine = engine = self.engine
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]
        wiring.connect(m, rx.data, bridge.rx)
        wiring.connect(m, bridge.tx, tx.data)
        wiring.connect(m, bridge.pixels, engine.pixels)
        wiring.connect(m, engine.logits, bridge.logits)
        if hasattr(bridge, "config"):
            wiring.connect(m, bridge.config, engine.config)
        m.d.comb += [bridge.cls.eq(engine.cls), self.cls.eq(engine.cls),
                     self.active.eq(bridge.active), self.failed.eq(bridge.failed),
                     self.engine_busy.eq(engine.busy)]
        return m


class BoardTop(Elaboratable):
    """The board's top: platform clock and pins around a :class:`BoardCore`.

    Parameters
    ----------
    spec : BoardSpec
        The board (:func:`board_spec`).
    program : EngineProgram
        The compiled network.
    baud : int
        UART line rate (default :data:`hw.boards.protocol.DEFAULT_BAUD`).

    Notes
    -----
    The design runs in the platform's default clock domain at the board oscillator's frequency
    (no PLL). The reset button resets it (after a two-stage synchroniser); the platform's
    power-on reset does so at configuration.
    """

    def __init__(self, spec: BoardSpec, program, baud: int = P.DEFAULT_BAUD):
        if not isinstance(spec, BoardSpec):
            raise TypeError(f"spec must be a BoardSpec, not {spec!r}")
        self.spec, self.program, self.baud = spec, program, baud

    def divisor(self, platform) -> int:
        return uart_divisor(platform.default_clk_frequency, self.baud)

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        core = BoardCore(self.program, self.divisor(platform))
        m.submodules.button = btn = io.Buffer("i", platform.request("button", spec.reset_button,
                                                                    dir="-"))
        reset = Signal(name="button_reset")
        m.submodules.reset_sync = FFSynchronizer(btn.i, reset)
        m.submodules.core = ResetInserter(reset)(core)

        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx)]

        def led(n, value):
            m.submodules[f"led{n}"] = buf = io.Buffer("o", platform.request("led", n, dir="-"))
            m.d.comb += buf.o.eq(value)

        for bit, n in enumerate(spec.class_leds):
            if bit < len(core.cls):
                led(n, core.cls[bit])
        led(spec.active_led, core.active | core.engine_busy)
        led(spec.failed_led, core.failed)
        return m
