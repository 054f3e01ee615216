"""Board tops: the UART-bridged engine (:class:`BoardCore`) and its platform wrapper (:class:`BoardTop`).

:class:`BoardCore` is everything but the pins: UART receiver and transmitter
(:mod:`hw.boards.uart`), protocol bridge (:mod:`hw.boards.bridge`) and the inference engine
(:class:`hw.engine.top.QSQEngine`) with its memories initialised from the compiled program. Its
ports are plain wires (``rx``, ``tx``, status), so the simulation bench runs it as Verilog without
a platform. :class:`BoardTop` requests the board's resources from an ``amaranth-boards`` platform
-- its clock, UART, LEDs and a button -- and puts a :class:`BoardCore` between them; the platform
definition is the pin constraint (the files in ``constraints/`` are what it writes).

The boards and their pins' roles are in :mod:`hw.boards.spec` (re-exported here).
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, ResetInserter, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from golden_model.config import check_int

from .._component import checking_parameters
from . import protocol as P
from .bridge import UARTBridge
from .model import MAX_CHUNK_WORDS
from .spec import BOARDS, MAX_BAUD_ERROR, BoardSpec, board_spec, check_divisor, uart_divisor
from .uart import UARTRx, UARTTx

__all__ = ["BoardSpec", "BOARDS", "board_spec", "BoardCore", "BoardTop", "uart_divisor",
           "MAX_BAUD_ERROR", "CORE_NAME", "TOP_NAME", "board_led_map"]

#: Verilog name of :class:`BoardCore` (simulation) and of the platform top.
CORE_NAME = "qsq_board_core"
TOP_NAME = "qsq_board"
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
    max_chunk : int
        ``spram`` engines: most weight words per LOAD chunk (default
        :data:`hw.boards.model.MAX_CHUNK_WORDS`).

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

    def __init__(self, program, divisor: int, timeout_bits: int = P.DEFAULT_TIMEOUT_BITS,
                 max_chunk: int = MAX_CHUNK_WORDS):
        from hw.engine.top import QSQEngine

        with checking_parameters(self):
            self.divisor = check_divisor(divisor)
            self.timeout_bits = check_int("timeout_bits", timeout_bits, 20, 1 << 24)
            self.engine = QSQEngine(program)
            self.bridge = UARTBridge(program, self.timeout_bits * self.divisor, max_chunk)
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
        m.submodules.bridge = bridge = self.bridge
        m.submodules.engine = engine = self.engine
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]
        wiring.connect(m, rx.data, bridge.rx)
        wiring.connect(m, bridge.tx, tx.data)
        wiring.connect(m, bridge.pixels, engine.pixels)
        wiring.connect(m, engine.logits, bridge.logits)
        if hasattr(bridge, "config"):
            wiring.connect(m, bridge.config, engine.config)
        if hasattr(bridge, "weights"):
            wiring.connect(m, bridge.weights, engine.weights)
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
    pll : PLLSettings, optional
        Clock the design from the board's PLL with these settings
        (:func:`hw.boards.pll.pll_settings`); default: the board oscillator, no PLL.

    Notes
    -----
    Without ``pll`` the design runs in the platform's default clock domain at the board
    oscillator's frequency, and the platform's power-on reset resets it at configuration. With
    ``pll`` it runs at ``pll.f_out`` in a domain of :class:`hw.boards.pll.PLLClock`, held in reset
    until the PLL locks. Either way the reset button resets it (after a two-stage synchroniser).
    """

    def __init__(self, spec: BoardSpec, program, baud: int = P.DEFAULT_BAUD, pll=None):
        from .pll import PLLSettings

        if not isinstance(spec, BoardSpec):
            raise TypeError(f"spec must be a BoardSpec, not {spec!r}")
        if pll is not None and not isinstance(pll, PLLSettings):
            raise TypeError(f"pll must be a PLLSettings or None, not {pll!r}")
        self.spec, self.program, self.baud, self.pll = spec, program, baud, pll

    def clock_hz(self, platform) -> float:
        """The design's clock frequency on ``platform``."""
        return platform.default_clk_frequency if self.pll is None else self.pll.f_out

    def divisor(self, platform) -> int:
        return uart_divisor(self.clock_hz(platform), self.baud)

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        if self.pll is not None:
            from amaranth.hdl import ClockDomain

            from .pll import PLLClock

            m.domains.sync = ClockDomain("sync")
            m.submodules.clock = PLLClock(self.pll)
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

        leds = board_led_map(spec, len(core.cls))
        for bit, n in enumerate(leds["cls"]):
            led(n, core.cls[bit])
        led(leds["active"], core.active | core.engine_busy)
        led(leds["failed"], core.failed)
        return m


def board_led_map(spec: BoardSpec, class_width: int) -> dict:
    """Which ``led`` resource shows what on a :class:`BoardTop`: ``{"cls": [led of class bit 0,
    bit 1, ...], "active": led, "failed": led}`` (``active`` is the bridge's ``active`` or the
    engine's ``busy``; only the class bits the board has LEDs for are shown)."""
    return {"cls": list(spec.class_leds[:class_width]), "active": spec.active_led,
            "failed": spec.failed_led}
