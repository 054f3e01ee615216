"""cocotb testbench of the UART-bridged engine ``qsq_board_core`` (:class:`hw.boards.top.BoardCore`).

The host side is the code ``qsq run`` uses: the runner builds every request with the encoders
of :mod:`hw.boards.protocol` and, for each, the reply the board must send
(:class:`hw.boards.model.BoardModel`) and -- for an image -- the golden logits of the workload
(:func:`hw.engine.workloads.golden_logits`). The bench:

* **driver** -- a UART of its own (8N1, least significant bit first, ``divisor`` clock cycles per
  bit) puts each request's bytes on ``rx``; a request cut short is followed by silence until the
  board's timeout;
* **monitor** -- a UART receiver on ``tx`` (start bit found by its falling edge, bits sampled in
  their middle, stop bit checked) feeding :class:`hw.boards.protocol.FrameDecoder`;
* **checker** -- every reply byte equal to the model's; every INFER reply decoded with
  :func:`hw.boards.protocol.decode_infer` to the golden logits and their first maximum; ``cls``
  equal to that class; ``failed`` set exactly after error replies; ``active`` low between
  requests.

Simulator: Verilator (``$QSQ_ENGINE_SIM`` or ``--sim`` name another). Under Icarus the engine's
state-machine outputs read X until they first change (``always @*`` blocks that Icarus does not run
at time 0), so the engine does not answer a TRUNC before its first image there. Run on its own:
``python -m sim.tb_board --help``.
"""

from __future__ import annotations

import time

import numpy as np

try:
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles, FallingEdge
except ImportError:  # the runner side only needs the pure-Python parts
    cocotb = None

PERIOD_NS = 10


# ----------------------------------------------------------------------------- cocotb test
#: The ports of ``qsq_board_core`` as :func:`check_protocol` sees them. A board netlist
#: (:mod:`sim.tb_bitstream`) passes its pins instead: ``reset`` is ``[port, active level]``;
#: ``cls`` a port holding the class, or ``cls_bits`` ``[[port, inverted], ...]`` (bit 0 first) of
#: the class bits that reach a pin; ``failed`` / ``active`` / ``busy`` ``[port, inverted]``
#: (``busy``: the engine's, checked after inferences; a board ORs it into ``active``);
#: ``clock_from_design`` with ``clock_mhz``: the design makes its clock (a PLL model) at that
#: frequency, which the bench measures, instead of the bench driving ``clk``.
CORE_PINS = {"clk": "clk", "rx": "rx", "tx": "tx", "reset": ["rst", 1], "cls": "cls",
             "failed": ["failed", False], "active": ["active", False],
             "busy": ["engine_busy", False]}

if cocotb is not None:
    async def uart_send(clk, rx, data: bytes, divisor: int):
        """Driver: 8N1 characters on ``rx``, each bit ``divisor`` cycles (changed at falling edges)."""
        await FallingEdge(clk)
        for b in data:
            for bit in [0] + [(b >> i) & 1 for i in range(8)] + [1]:
                rx.value = bit
                await ClockCycles(clk, divisor, rising=False)

    async def uart_receive(clk, tx, divisor: int, out: list, errors: list):
        """Monitor: every character on ``tx`` into ``out`` (framing errors into ``errors``)."""
        while True:
            await FallingEdge(tx)
            await ClockCycles(clk, divisor // 2)
            if int(tx.value) != 0:
                errors.append("a glitch on tx (start bit not low in its middle)")
                continue
            b = 0
            for i in range(8):
                await ClockCycles(clk, divisor)
                b |= int(tx.value) << i
            await ClockCycles(clk, divisor)
            if int(tx.value) != 1:
                errors.append(f"framing error on tx after byte 0x{b:02x}")
            out.append(b)

    def _level(dut, name: str, inverted) -> int:
        """Port ``name``'s value after the pin's inversion."""
        return int(getattr(dut, name).value) ^ int(bool(inverted))

    def _flag(dut, pins, key):
        """The value of the status ``key`` (0/1, after the pin's inversion), ``None`` if absent."""
        return None if pins.get(key) is None else _level(dut, *pins[key])

    def _class_errors(dut, pins, cls: int) -> list[str]:
        if pins.get("cls"):
            got = int(getattr(dut, pins["cls"]).value)
            return [] if got == cls else [f"cls port {got} != {cls}"]
        out = []
        for bit, (name, inverted) in enumerate(pins.get("cls_bits", [])):
            got = _level(dut, name, inverted)
            if got != (cls >> bit) & 1:
                out.append(f"class bit {bit} on {name} is {got}, class {cls}")
        return out

    async def check_protocol(dut, cfg: dict, pins: dict, settle_cycles: int = 0):
        """Drive ``steps.json`` through the UART pins and check every reply (the bench's test).

        The reset is held for 3 clock cycles, then ``settle_cycles`` more pass before the first
        request: a board netlist needs its power-on reset to run out.
        """
        import json
        from pathlib import Path

        from hw.boards import protocol as P
        from sim.common import write_json

        steps = json.loads((Path(cfg["out_dir"]) / "steps.json").read_text())
        d = int(cfg["divisor"])
        clk, rx, tx = (getattr(dut, pins[k]) for k in ("clk", "rx", "tx"))
        reset, level = getattr(dut, pins["reset"][0]), int(pins["reset"][1])
        rx.value = 1
        reset.value = level
        if pins.get("clock_from_design"):      # a PLL model drives it: check its frequency
            from cocotb.triggers import RisingEdge
            from cocotb.utils import get_sim_time

            await ClockCycles(clk, 40)
            t0 = get_sim_time("ps")
            await ClockCycles(clk, 100)
            mhz = 100 / ((get_sim_time("ps") - t0) * 1e-6)
            assert abs(mhz - pins["clock_mhz"]) < 1e-3 * pins["clock_mhz"], (
                f"the PLL runs at {mhz:.4f} MHz, the build asked for {pins['clock_mhz']} MHz")
            await RisingEdge(clk)
        else:
            Clock(clk, PERIOD_NS, unit="ns").start()
        await ClockCycles(clk, 3)
        await FallingEdge(clk)
        reset.value = 1 - level
        await ClockCycles(clk, settle_cycles)
        got, line_errors = [], []
        cocotb.start_soon(uart_receive(clk, tx, d, got, line_errors))

        mismatches, inferences = [], 0
        start = time.perf_counter()
        for k, st in enumerate(steps):
            request, expect = bytes.fromhex(st["send"]), bytes.fromhex(st["expect"])
            got.clear()
            await uart_send(clk, rx, request, d)
            # Wait for the whole reply (checking once a character time) or the step's budget,
            # then two more character times for any byte too many.
            waited = 0
            while len(got) < len(expect) and waited < int(st["budget_cycles"]):
                await ClockCycles(clk, 10 * d)
                waited += 10 * d
            await ClockCycles(clk, 20 * d)
            what = f"step {k} ({st['what']})"
            if cfg.get("progress"):
                print(f"  {what}: {len(got)} reply bytes after {time.perf_counter() - start:.0f} s",
                      flush=True)
            if bytes(got) != expect:
                mismatches.append(f"{what}: reply {bytes(got).hex()} != model {expect.hex()}")
                continue
            dec = P.FrameDecoder()
            frames = dec.feed(bytes(got))
            if len(frames) != 1 or dec.pending:
                mismatches.append(f"{what}: {len(frames)} frames decoded, {dec.pending} bytes left")
                continue
            if st["golden"] is not None:
                logits, cls = P.decode_infer(frames[0], len(st["golden"]))
                inferences += 1
                if logits != st["golden"] or cls != int(np.argmax(st["golden"])):
                    mismatches.append(f"{what}: logits {logits} class {cls} != golden "
                                      f"{st['golden']}")
                mismatches += [f"{what}: {e}" for e in _class_errors(dut, pins, cls)]
            failed = frames[0].cmd == P.CMD_ERROR
            if _flag(dut, pins, "failed") not in (None, int(failed)):
                mismatches.append(f"{what}: failed = {_flag(dut, pins, 'failed')} after a "
                                  f"{'n error' if failed else ' good'} reply")
            # (the engine's busy is checked once it has run: before its first image Icarus shows
            # the core's FSM outputs as X, not having changed since time 0)
            if _flag(dut, pins, "active"):
                mismatches.append(f"{what}: still active after its reply")
            if st["golden"] is not None and _flag(dut, pins, "busy"):
                mismatches.append(f"{what}: the engine is still busy after the reply")
        seconds = time.perf_counter() - start
        mismatches += line_errors
        write_json(Path(cfg["out_dir"]) / "bench.json",
                   {"vectors": len(steps), "inferences": inferences, "seconds": round(seconds, 3),
                    "vectors_per_s": round(len(steps) / seconds, 2) if seconds else 0.0,
                    "mismatches": mismatches[:20]})
        assert not mismatches, "\n".join(mismatches[:20])

    @cocotb.test()
    async def board_protocol(dut):
        """Every reply of the board matches the protocol model and the golden logits."""
        from sim.common import bench_config

        cfg = bench_config()
        await check_protocol(dut, cfg, cfg.get("pins") or CORE_PINS)


# ----------------------------------------------------------------------------- runner (pytest side)
def request_script(prog, wl, pe: str, images, truncs, errors: bool, timeout_cycles: int,
                   divisor: int, max_chunk: int | None = None) -> list[dict]:
    """The requests of one run with the model's replies and the golden logits.

    ``images`` are indices into the workload; each is classified at every truncation setting of
    ``truncs`` (per-layer lists). With ``errors``, every error reply is provoked once, each followed
    by a good request that shows the board recovered. A board whose weights are loaded over the
    link (``spram`` engines, LOAD chunks of ``max_chunk`` words) is loaded first -- with
    ``errors``, after every LOAD error has been provoked and INFER refused.
    """
    from hw.boards import protocol as P
    from hw.boards.model import BoardModel
    from hw.engine.schedule import compute_cycles
    from hw.engine.top import engine_timing
    from hw.engine.workloads import golden_logits

    from hw.boards.model import MAX_CHUNK_WORDS

    board = BoardModel(prog, max_chunk or MAX_CHUNK_WORDS)
    pixels = wl.quantized_images(pe)
    compute = compute_cycles(prog, engine_timing(prog))
    steps: list[dict] = []
    levels = list(board.levels)

    def add(what, request, golden=None, timed_out=False):
        reply = board.request(request, timed_out=timed_out)
        cycles = (len(request) + len(reply) + 2) * 10 * divisor + compute + timeout_cycles
        steps.append({"what": what, "send": request.hex(), "expect": reply.hex(),
                      "golden": None if golden is None else [int(v) for v in golden],
                      "budget_cycles": 2 * cycles + 1000})

    def infer(i, what="INFER"):
        gold = golden_logits(wl, pe, levels if pe != "int8" else 0, np.array([i]))[0]
        add(f"{what} image {i} at {levels}", P.encode_infer(pixels[i]), gold)

    add("INFO", P.encode_info())
    if board.info.chunk_words:
        load_script(add, board.info, prog, pixels[int(images[0])], errors)
    infer(int(images[0]), "INFER at the reset levels")
    for t in truncs:
        if pe != "int8":
            levels = [int(v) for v in t]
            add(f"TRUNC {levels}", P.encode_trunc(levels, prog.ndigits))
        for i in images:
            infer(int(i))
    if not errors:
        return steps
    i0 = int(images[0])
    req = bytearray(P.encode_infer(pixels[i0]))
    req[-1] ^= 0x5A
    add("INFER with a bad CRC", bytes(req))
    infer(i0, "INFER after a bad CRC")
    add("INFO with a payload", P.encode_frame(P.CMD_INFO, b"\x00"))
    add("unknown command", P.encode_frame(0x42, b"\x01\x02"))
    add("noise, then INFO", b"\x00\x13\xff" + P.encode_info())
    if pe == "int8":
        add("TRUNC on an INT8 engine", P.encode_frame(P.CMD_TRUNC, bytes(len(prog.layers))))
    else:
        add("TRUNC of too few layers", P.encode_frame(P.CMD_TRUNC, bytes(len(prog.layers) - 1)))
        bad = [0] * len(prog.layers)
        bad[-1] = prog.ndigits + 1
        add("TRUNC above ndigits", P.encode_frame(P.CMD_TRUNC, bytes(bad)))
    infer(i0, "INFER after bad requests (levels unchanged)")
    half = P.encode_infer(pixels[i0])
    add("INFER cut short (timeout)", half[:len(half) // 2], timed_out=True)
    add("header cut short (timeout)", half[:3], timed_out=True)
    infer(i0, "INFER after timeouts")
    if not board.info.chunk_words:
        add("LOAD on a board whose weights are in its bitstream",
            P.encode_load(board.info.program_id, 0, b"\0" * board.info.word_bytes,
                          board.info.word_bytes, 1))
    return steps


def load_script(add, info, prog, pixels, errors: bool) -> None:
    """The LOAD requests of a board that starts without weights: with ``errors``, INFER before
    any weights, each LOAD error and a LOAD cut short (each leaving the board unloaded); then the
    whole image, chunk by chunk, and INFO (now ``loaded``)."""
    from hw.boards import protocol as P

    from hw.boards.model import load_image

    image = load_image(prog)
    pid, nb, cw = info.program_id, info.word_bytes, info.chunk_words

    def load(chunk, what, pid=pid, image=image, **kw):
        add(f"LOAD chunk {chunk}{what}", P.encode_load(pid, chunk, image, nb, cw), **kw)

    if errors:
        add("INFER before LOAD", P.encode_infer(pixels))
        load(0, " of another program", pid=pid ^ 1)
        if info.chunks > 1:
            load(0, "")
            load(2 % info.chunks, " out of order")
            load(1, " after a failed LOAD (restart needed)")
        bad = bytearray(image)
        bad[0] ^= 0x10
        for c in range(info.chunks):
            load(c, " of a corrupted image" if c == info.chunks - 1 else " (corrupted image)",
                 image=bytes(bad))
        add("INFER after a failed LOAD", P.encode_infer(pixels))
        add("LOAD with a short payload", P.encode_frame(P.CMD_LOAD, b"\0" * 7))
        cut = P.encode_load(pid, 0, image, nb, cw)
        add("LOAD cut short (timeout)", cut[:len(cut) // 2], timed_out=True)
    for c in range(info.chunks):
        load(c, "")
    add("INFO after LOAD", P.encode_info())


def script_settings(truncs, images, n_layers: int) -> tuple[list[list[int]], list[int]]:
    """A run's truncation settings as per-layer lists (each of ``truncs`` an int for every layer,
    or a list) and its image indices (``images`` a count or indices)."""
    levels = [[int(t)] * n_layers if np.ndim(t) == 0 else [int(v) for v in t] for t in truncs]
    idx = list(range(images)) if np.ndim(images) == 0 else [int(i) for i in images]
    return levels, idx


def levels_tag(levels) -> str:
    """The settings in a build folder's name: ``0000-2103``."""
    return "-".join("".join(str(v) for v in lv) for lv in levels)


def inject_fault(steps: list[dict], fault: str | None) -> list[dict]:
    """Bench self-test: ``fault="reply"`` flips a bit of the first expected reply, so a run must
    fail; ``None`` leaves ``steps`` as they are."""
    if fault == "reply":
        b = bytearray.fromhex(steps[0]["expect"])
        b[-1] ^= 1
        steps[0]["expect"] = b.hex()
    elif fault is not None:
        raise ValueError(f"fault must be None or 'reply', not {fault!r}")
    return steps


def run(workload: str = "synthetic", pe: str = "bucket", lanes: int = 3, truncs=((2, 1, 3, 0),),
        images=3, divisor: int = 4, timeout_bits: int = 40, errors: bool = True,
        sim: str | None = None, waves: bool | None = None, fault: str | None = None,
        weights: str = "rom", max_chunk: int | None = None) -> dict:
    """Build the UART-bridged engine for ``workload`` and run the request script through it.

    ``truncs`` lists per-layer truncation settings (each an int or a list), ``images`` a count or
    indices. ``fault`` (bench self-test) changes one expected reply byte (``"reply"``) so the run
    must fail. ``weights="spram"`` builds the engine that loads its weights over the link (LOAD
    chunks of at most ``max_chunk`` words).
    """
    import json

    from hw.boards.model import MAX_CHUNK_WORDS
    from hw.boards.top import CORE_NAME, BoardCore
    from hw.engine.config import FPGA_POWER, EngineConfig
    from hw.engine.program import compile_program
    from hw.engine.workloads import workload as get_workload
    from hw.verilog import convert

    from .common import build_root, run_bench
    from .tb_engine import engine_sim

    wl = get_workload(workload)
    model = wl.model(pe)
    # as `qsq bitstream` builds it
    cfg = EngineConfig(lanes=lanes, pe=pe, power=FPGA_POWER, weights=weights)
    prog = compile_program(model, cfg)
    levels, idx = script_settings(truncs, images, len(model.layers))
    chunk = max_chunk or MAX_CHUNK_WORDS
    core = BoardCore(prog, divisor, timeout_bits, chunk)
    steps = inject_fault(request_script(prog, wl, pe, idx, levels, errors, core.timeout, divisor,
                                        chunk), fault)
    sim = engine_sim(sim)
    tag = (f"board_{workload}_{cfg.tag()}_d{divisor}_t{levels_tag(levels)}_n{len(idx)}{'_err' if errors else ''}"
           f"{f'_c{chunk}' if weights != 'rom' else ''}"
           f"{'_fault-' + fault if fault else ''}")
    out = build_root(sim) / tag
    out.mkdir(parents=True, exist_ok=True)
    (out / "steps.json").write_text(json.dumps(steps) + "\n")
    verilog = convert(core, CORE_NAME, description="qsq board core (UART bridge + engine)",
                      parameters={"workload": workload, "pe": pe, "lanes": lanes,
                                  "divisor": divisor, "timeout_bits": timeout_bits,
                                  "weights": weights, "max_chunk": chunk},
                      origin="sim.tb_board")
    params = {"workload": workload, "pe": pe, "lanes": lanes, "divisor": divisor,
              "truncs": levels, "images": len(idx), "errors": errors, "weights": weights,
              "max_chunk": chunk}
    return run_bench(module_name=CORE_NAME, params=params, tag=tag, test_module="sim.tb_board",
                     bench={"divisor": divisor}, sim=sim, waves=waves, verilog=verilog)


def main(argv=None) -> int:
    from hw.engine.config import PE_STYLES
    from hw.engine.workloads import WORKLOADS

    from .common import _int_type, main_args, run_main

    p = main_args()
    p.add_argument("--workload", default="synthetic", choices=tuple(WORKLOADS))
    p.add_argument("--pe", default="bucket", choices=PE_STYLES)
    p.add_argument("--lanes", type=_int_type(1, 64), default=3)
    p.add_argument("--trunc", action="append", default=None,
                   help="truncation level, or comma-separated per-layer levels; repeatable")
    p.add_argument("--images", type=_int_type(1), default=3)
    p.add_argument("--divisor", type=_int_type(4, 1 << 16), default=4,
                   help="clock cycles per UART bit (default 4)")
    p.add_argument("--no-errors", action="store_true", help="only good requests")
    args = p.parse_args(argv)
    truncs = [[int(v) for v in t.split(",")] if "," in t else int(t) for t in (args.trunc or ["0"])]
    return run_main(p, run, workload=args.workload, pe=args.pe, lanes=args.lanes, truncs=truncs,
                    images=args.images, divisor=args.divisor, errors=not args.no_errors,
                    sim=args.sim, waves=args.waves or None)


if __name__ == "__main__":
    raise SystemExit(main())
