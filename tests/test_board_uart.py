"""The UART (:mod:`hw.boards.uart`) in Amaranth's simulator against a bit-level model of 8N1:
every byte value both ways, back-to-back characters, the receiver's latency property, a glitch
and a framing error. The bridge and the engine behind it are checked by ``sim/tb_board.py``."""

import pytest
from amaranth.sim import Simulator

from hw.boards.uart import MAX_DIVISOR, MIN_DIVISOR, UARTRx, UARTTx


def line_bits(data: bytes, stop: int = 1) -> list[int]:
    """8N1 line levels, one per bit: start 0, data LSB first, stop."""
    out = []
    for b in data:
        out += [0] + [(b >> i) & 1 for i in range(8)] + [stop]
    return out


def _run(dut, *benches):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for b in benches:
        sim.add_testbench(b)
    sim.run()


@pytest.mark.parametrize("divisor", [MIN_DIVISOR, 5, 16])
def test_rx_receives_every_byte_back_to_back(divisor):
    dut = UARTRx(divisor)
    data = bytes(range(256)) if divisor == MIN_DIVISOR else bytes([0x00, 0xFF, 0xA5, 0x5A, 0x01])
    got, errors = [], []

    async def drive(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3)
        for bit in line_bits(data):
            ctx.set(dut.rx, bit)
            await ctx.tick().repeat(divisor)
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(4 * divisor)

    async def watch(ctx):
        ctx.set(dut.data.ready, 1)
        async for _clk, _rst, valid, payload, error in ctx.tick().sample(dut.data.valid, dut.data.payload,
                                                                 dut.error):
            if valid:
                got.append(payload)
            if error:
                errors.append(1)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(drive)
    sim.add_process(watch)
    sim.run_until(1e-6 * (len(data) * 10 * divisor + 10 * divisor))
    assert bytes(got) == data and not errors


@pytest.mark.parametrize("divisor", [MIN_DIVISOR, 7, 12])
def test_rx_latency_property(divisor):
    dut = UARTRx(divisor)
    seen = []

    async def bench(ctx):
        ctx.set(dut.rx, 1)
        ctx.set(dut.data.ready, 0)
        await ctx.tick().repeat(3)
        edges = 0
        for bit in line_bits(b"\x3c"):
            ctx.set(dut.rx, bit)
            for _ in range(divisor):
                await ctx.tick()
                edges += 1
                if ctx.get(dut.data.valid) and not seen:
                    seen.append(edges)
        ctx.set(dut.rx, 1)
        for _ in range(2 * divisor):
            await ctx.tick()
            edges += 1
            if ctx.get(dut.data.valid) and not seen:
                seen.append(edges)
        assert ctx.get(dut.data.payload) == 0x3C

    _run(dut, bench)
    # The first edge that sees rx low is edge 1; `latency` edges later valid is set.
    assert seen == [1 + dut.latency]


def test_rx_ignores_a_glitch_and_flags_a_framing_error():
    d = 8
    dut = UARTRx(d)
    got, errors = [], []

    async def bench(ctx):
        ctx.set(dut.data.ready, 1)
        levels = [1] * 3 * d + [0] * (d // 2 - 2) + [1] * 3 * d            # a short low pulse
        levels += [b for b in line_bits(b"\x81", stop=0) for _ in range(d)]  # low stop bit
        levels += [0] * 3 * d + [1] * 3 * d                                 # break, then idle
        levels += [b for b in line_bits(b"\x42") for _ in range(d)] + [1] * 2 * d
        for v in levels:
            ctx.set(dut.rx, v)
            await ctx.tick()
            if ctx.get(dut.data.valid):
                got.append(ctx.get(dut.data.payload))
            if ctx.get(dut.error):
                errors.append(1)

    _run(dut, bench)
    assert got == [0x42] and errors == [1]


@pytest.mark.parametrize("divisor", [MIN_DIVISOR, 6])
def test_tx_sends_8n1_back_to_back(divisor):
    dut = UARTTx(divisor)
    data = bytes([0x00, 0xFF, 0xA5, 0x5A, 0x80, 0x01])
    line = []

    async def feed(ctx):
        for b in data:
            ctx.set(dut.data.payload, b)
            ctx.set(dut.data.valid, 1)
            await ctx.tick().until(dut.data.ready)
        ctx.set(dut.data.valid, 0)

    async def watch(ctx):
        async for _clk, _rst, tx in ctx.tick().sample(dut.tx):
            line.append(tx)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(feed)
    sim.add_process(watch)
    sim.run_until(1e-6 * (len(data) * dut.character_cycles + 3 * divisor))
    # Each character: `divisor` cycles per bit, then one idle cycle (character_cycles).
    start = line.index(0)
    expect = []
    for b in line_bits(data):
        expect += [b] * divisor
    per_char = [expect[i * 10 * divisor:(i + 1) * 10 * divisor] + [1] for i in range(len(data))]
    flat = [v for c in per_char for v in c]
    assert line[start:start + len(flat)] == flat
    assert all(v == 1 for v in line[start + len(flat):])


@pytest.mark.parametrize("cls", [UARTRx, UARTTx])
@pytest.mark.parametrize("value, exc", [(3, ValueError), (MAX_DIVISOR + 1, ValueError),
                                        (4.0, TypeError), (True, TypeError)])
def test_divisor_checked(cls, value, exc):
    with pytest.raises(exc, match=rf"^divisor must be an integer in \[{MIN_DIVISOR}, "
                                  rf"{MAX_DIVISOR}\], not {value!r}$"):
        cls(value)
