"""An 8N1 UART: receiver and transmitter with byte streams.

The line idles high; a character is a start bit (0), eight data bits, least significant first, and
one stop bit (1), each ``divisor`` clock cycles long (``divisor = round(f_clk / baud)``).

* :class:`UARTRx` synchronises the line through two flip-flops, waits for a falling edge, checks
  the start bit half a bit later (a shorter low pulse is a glitch, ignored), samples each data bit in
  its middle and checks the stop bit. A character with a low stop bit (a framing error, or a break)
  is dropped, strobes ``error`` and the receiver waits for the line to go high again.
* :class:`UARTTx` sends each byte it takes from its stream.
"""


from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from .._component import checking_parameters
from .spec import MAX_DIVISOR, MIN_DIVISOR, check_divisor

__all__ = ["UARTRx", "UARTTx", "MIN_DIVISOR", "MAX_DIVISOR"]

class UARTRx(wiring.Component):
    """8N1 receiver.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, :data:`MIN_DIVISOR` .. :data:`MAX_DIVISOR`.

    Members
    -------
    rx : In(1)
        The serial line (asynchronous; idles high).
    data : Out(stream.Signature(unsigned(8)))
        Received bytes. ``valid`` is held until ``ready``; a byte not taken before the next one is
        complete is overwritten (the consumer must take a byte within one character time).
    error : Out(1)
        1 for one cycle when a character's stop bit is low (framing error or break).

    Notes
    -----
    :attr:`latency`: rising edges from the first one that sees the start bit's low level on ``rx``
    to the one that sets ``data.valid``.
    """

    data: Out(stream.Signature(unsigned(8)))
    rx: In(1, init=1)
    error: Out(1)

    def __init__(self, divisor: int):
        with checking_parameters(self):
            self.divisor = check_divisor(divisor)
        super().__init__()

    @property
    def latency(self) -> int:
        """Two synchroniser stages, half a bit to the start bit's middle, nine bits to the stop
        bit's middle."""
        return 2 + self.divisor // 2 + 9 * self.divisor

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(d))
        bits = Signal(range(9))
        shreg = Signal(8)

        with m.If(self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        with m.FSM(name="uart_rx"):
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(d // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    m.next = "IDLE"                  # a glitch, not a start bit
                with m.Else():
                    m.d.sync += [timer.eq(d - 1), bits.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [timer.eq(d - 1), shreg.eq(shreg >> 1 | line << 7),
                                 bits.eq(bits + 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    m.d.sync += [self.data.payload.eq(shreg), self.data.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += self.error.eq(1)
                    m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """8N1 transmitter.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, :data:`MIN_DIVISOR` .. :data:`MAX_DIVISOR`.

    Members
    -------
    data : In(stream.Signature(unsigned(8)))
        Bytes to send; ``ready`` while the transmitter is idle.
    tx : Out(1)
        The serial line (registered; idles high).

    Notes
    -----
    A byte taken at a rising edge starts its start bit at that edge; the next byte can be taken
    :attr:`character_cycles` edges later (the stop bit lasts one cycle longer than a bit).
    """

    data: In(stream.Signature(unsigned(8)))
    tx: Out(1, init=1)

    def __init__(self, divisor: int):
        with checking_parameters(self):
            self.divisor = check_divisor(divisor)
        super().__init__()

    @property
    def character_cycles(self) -> int:
        """Clock cycles from taking one byte to taking the next (start, 8 data, stop, 1 idle)."""
        return 10 * self.divisor + 1

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        timer = Signal(range(d))
        bits = Signal(range(10))
        shreg = Signal(9)                      # 8 data bits then the stop bit, sent LSB first
        busy = Signal()
        # `ready` is a plain function of a register (a continuous assignment in Verilog), so it is
        # defined from time 0 in every simulator.
        m.d.comb += self.data.ready.eq(~busy)

        with m.If(~busy):
            with m.If(self.data.valid):
                m.d.sync += [busy.eq(1), self.tx.eq(0), shreg.eq(self.data.payload | (1 << 8)),
                             timer.eq(d - 1), bits.eq(0)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Elif(bits == 9):
            m.d.sync += busy.eq(0)                  # the stop bit has lasted a whole bit
        with m.Else():
            m.d.sync += [self.tx.eq(shreg[0]), shreg.eq(shreg >> 1), timer.eq(d - 1),
                         bits.eq(bits + 1)]
        return m
