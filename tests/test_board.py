"""The board package without a simulator: the protocol (frames, CRC, decoder), the reply model
against the golden model, parameter checks, and ``qsq run`` against a board model on a
pseudo-terminal (no board is attached here)."""

import gc
import os
import select
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest

from golden_model.cli import main
from hw.boards import protocol as P
from hw.boards.model import BoardModel, board_info, program_id
from hw.engine.config import EngineConfig
from hw.engine.program import compile_program
from hw.engine.workloads import golden_logits, workload


@pytest.fixture(scope="module")
def synthetic():
    wl = workload("synthetic")
    return wl, compile_program(wl.model("bucket"), EngineConfig(lanes=3))


# ----------------------------------------------------------------------------- protocol
def test_crc8_is_the_catalogue_crc8():
    assert P.crc8(b"123456789") == 0xF4     # CRC-8 (poly 0x07) check value
    assert P.crc8(b"") == 0


def test_frame_layout():
    f = P.encode_frame(0x03, b"\x01\x02\x03")
    assert f[:4] == bytes([0xA5, 0x03, 3, 0]) and f[4:7] == b"\x01\x02\x03"
    assert f[-1] == P.crc8(f[1:-1]) and len(f) == P.frame_bytes(3)
    assert P.encode_info() == bytes([0xA5, 0x01, 0, 0, P.crc8(b"\x01\x00\x00")])


def test_decoder_skips_noise_and_takes_bytes_one_at_a_time():
    frames = P.encode_frame(0x83, bytes(range(41))) + P.encode_frame(0xFF, b"\x05\x03")
    dec = P.FrameDecoder()
    got = []
    for b in b"\x00\x11" + frames:
        got += dec.feed(bytes([b]))
    assert [(f.cmd, len(f.payload)) for f in got] == [(0x83, 41), (0xFF, 2)]
    assert dec.skipped == 2 and dec.pending == 0


def test_decoder_rejects_a_bad_crc():
    f = bytearray(P.encode_frame(0x81, b"abc"))
    f[-1] ^= 1
    with pytest.raises(P.ProtocolError, match="bad CRC"):
        P.FrameDecoder().feed(bytes(f))


def test_replies_decode():
    frame = P.FrameDecoder().feed(P.encode_frame(0x83, struct.pack("<3i", -5, 7, 2) + b"\x01"))[0]
    assert P.decode_infer(frame, 3) == ([-5, 7, 2], 1)
    with pytest.raises(P.ProtocolError, match="not 17"):
        P.decode_infer(frame, 4)
    err = P.FrameDecoder().feed(P.encode_frame(P.CMD_ERROR, bytes([5, 3])))[0]
    with pytest.raises(P.BoardError, match="rejected request 0x03: BAD_CRC"):
        P.decode_infer(err, 3)
    with pytest.raises(P.ProtocolError, match="reply 0x81 to request 0x03"):
        P.decode_infer(P.Frame(0x81, b""), 3)


def test_encoders_check_values():
    with pytest.raises(ValueError, match=r"^truncation level must be an integer in \[0, 8\], not 9$"):
        P.encode_trunc([1, 9], ndigits=8)
    with pytest.raises(ValueError, match=r"^truncation level must be an integer in \[0, 255\], "
                                         r"not True$"):
        P.encode_trunc([True])
    with pytest.raises(ValueError, match=r"^pixels must be integers in \[0, 255\], not 256$"):
        P.encode_infer([0, 256])
    with pytest.raises(ValueError, match=r"^cmd must be an integer in \[0, 255\], not 300$"):
        P.encode_frame(300)


def test_info_round_trip(synthetic):
    _, prog = synthetic
    info = board_info(prog)
    frame = P.FrameDecoder().feed(P.encode_frame(0x81, info.encode()))[0]
    assert P.decode_info(frame) == info
    assert info.input_size == 84 and info.classes == 4 and info.layers == 4
    assert info.program_id == program_id(prog)
    other = compile_program(workload("synthetic").model("bucket"), EngineConfig(lanes=4))
    assert program_id(other) != info.program_id


def test_protocol_imports_without_amaranth_or_numpy():
    code = ("import sys; import hw.boards.protocol; "
            "bad = [m for m in ('amaranth', 'numpy') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# ----------------------------------------------------------------------------- reply model
def test_model_logits_are_the_golden_logits(synthetic):
    wl, prog = synthetic
    board = BoardModel(prog)
    px = wl.quantized_images("bucket")
    for levels in ([0, 0, 0, 0], [2, 1, 3, 0]):
        assert board.request(P.encode_trunc(levels, prog.ndigits)) == P.encode_frame(0x82)
        for i in range(3):
            frame = P.FrameDecoder().feed(board.request(P.encode_infer(px[i])))[0]
            logits, cls = P.decode_infer(frame, 4)
            gold = golden_logits(wl, "bucket", levels, np.array([i]))[0]
            assert logits == [int(v) for v in gold] and cls == int(np.argmax(gold))


@pytest.mark.parametrize("request_bytes, error", [
    (P.encode_frame(0x42), "BAD_COMMAND"),
    (P.encode_frame(P.CMD_INFO, b"\x00"), "BAD_LENGTH"),
    (P.encode_frame(P.CMD_TRUNC, b"\x00\x00"), "BAD_LENGTH"),
    (P.encode_frame(P.CMD_TRUNC, bytes([0, 0, 0, 9])), "BAD_VALUE"),
    (P.encode_info()[:-1] + b"\x00", "BAD_CRC"),
])
def test_model_error_replies(synthetic, request_bytes, error):
    board = BoardModel(synthetic[1])
    reply = P.FrameDecoder().feed(board.request(request_bytes))[0]
    assert reply == P.Frame(P.CMD_ERROR, bytes([P.ERROR_NAMES[error], request_bytes[1]]))
    assert board.levels == list(board.info.reset_levels)


def test_model_timeout(synthetic):
    board = BoardModel(synthetic[1])
    half = P.encode_infer(bytes(84))[:40]
    assert board.request(half) == b""
    assert board.request(half, timed_out=True) == P.encode_frame(P.CMD_ERROR, bytes([4, 3]))


def test_int8_board_refuses_trunc():
    wl = workload("synthetic")
    board = BoardModel(compile_program(wl.model("int8"), EngineConfig(lanes=2, pe="int8")))
    assert board.request(P.encode_trunc([0, 0, 0, 0])) == P.encode_frame(P.CMD_ERROR,
                                                                         bytes([2, 2]))


# ----------------------------------------------------------------------------- LOAD (SPRAM)
def test_crc16_is_the_catalogue_crc16_ibm_3740():
    assert P.crc16(b"123456789") == 0x29B1
    assert P.crc16(b"6789", P.crc16(b"12345")) == 0x29B1


def test_load_encoding_checks_its_arguments():
    img = P.weight_image([1, 0x203, 0xFFFF], 2)
    assert img == bytes([1, 0, 3, 2, 0xFF, 0xFF])
    with pytest.raises(ValueError, match=r"weight word must be an integer in \[0, 2\*\*16\)"):
        P.weight_image([1 << 16], 2)
    frame = P.encode_load(0x11223344, 1, img, 2, 2)     # the last chunk, padded with a zero word
    assert frame[4:-1] == bytes([0x44, 0x33, 0x22, 0x11, 1, 0, 0xFF, 0xFF, 0, 0])
    with pytest.raises(ValueError, match=r"chunk must be an integer in \[0, 1\], not 2"):
        P.encode_load(0, 2, img, 2, 2)
    with pytest.raises(ValueError, match="the board takes no LOAD"):
        P.encode_load(0, 0, img, 2, 0)


@pytest.fixture(scope="module")
def spram_board():
    wl = workload("synthetic")
    prog = compile_program(wl.model("bucket"), EngineConfig(lanes=3, weights="spram"))
    return wl, prog


def _reply(board, request, **kw):
    return P.FrameDecoder().feed(board.request(request, **kw))[0]


def _error(name, cmd):
    return P.Frame(P.CMD_ERROR, bytes([P.ERROR_NAMES[name], cmd]))


def test_model_load_sequence(spram_board):
    wl, prog = spram_board
    board = BoardModel(prog, max_chunk=40)
    info = board.info
    assert (info.weight_words, info.word_bytes, info.chunk_words, info.chunks) == \
        (len(prog.weight_words), 2, 40, -(-len(prog.weight_words) // 40))
    assert P.decode_info(_reply(board, P.encode_info())).loaded == 0
    px = wl.quantized_images("bucket")[0]
    assert _reply(board, P.encode_infer(px)) == _error("NOT_LOADED", P.CMD_INFER)
    img = P.weight_image(prog.weight_words, 2)

    def load(chunk, pid=info.program_id, image=img):
        return _reply(board, P.encode_load(pid, chunk, image, 2, 40))

    ok = P.Frame(0x84, b"")
    assert load(0, pid=info.program_id ^ 1) == _error("WRONG_PROGRAM", P.CMD_LOAD)
    assert load(1) == _error("BAD_VALUE", P.CMD_LOAD)          # chunk 0 first
    assert load(0) == ok and load(2) == _error("BAD_VALUE", P.CMD_LOAD)
    assert load(1) == _error("BAD_VALUE", P.CMD_LOAD)          # a failure restarts the load
    bad = bytearray(img)
    bad[-1] ^= 1
    for c in range(info.chunks - 1):
        assert load(c, image=bytes(bad)) == ok
    assert load(info.chunks - 1, image=bytes(bad)) == _error("BAD_CRC", P.CMD_LOAD)
    assert not board.loaded
    for c in range(info.chunks):
        assert load(c) == ok
    assert board.loaded and P.decode_info(_reply(board, P.encode_info())).loaded == 1
    logits, _ = P.decode_infer(_reply(board, P.encode_infer(px)), 4)
    assert logits == [int(v) for v in golden_logits(wl, "bucket", [0] * 4, np.array([0]))[0]]
    # a LOAD cut short unloads; so does a reset
    cut = P.encode_load(info.program_id, 0, img, 2, 40)[:20]
    assert _reply(board, cut, timed_out=True) == _error("TIMEOUT", P.CMD_LOAD)
    assert not board.loaded
    for c in range(info.chunks):
        load(c)
    board.reset()
    assert not board.loaded


def test_rom_board_refuses_load(synthetic):
    board = BoardModel(synthetic[1])
    assert board.info.chunk_words == 0 and board.info.loaded == 1
    req = P.encode_frame(P.CMD_LOAD, bytes(8))
    assert _reply(board, req) == _error("UNSUPPORTED", P.CMD_LOAD)
    assert board.loaded


def test_engine_weights_parameter():
    with pytest.raises(ValueError, match=r"weights must be one of \('rom', 'spram'\), not 'flash'"):
        EngineConfig(weights="flash")
    assert EngineConfig(weights="spram").tag() == "bucket_l16_spram"


def test_spram_engine_refuses_pixels_until_loaded(spram_board):
    """The engine alone (Amaranth simulator): no pixel is taken before the last weight word, and
    a `first` word restarts the load."""
    from amaranth.sim import Simulator

    from hw.engine.top import QSQEngine

    prog = spram_board[1]
    dut = QSQEngine(prog)
    n = len(prog.weight_words)
    seen = {}

    async def bench(ctx):
        ctx.set(dut.pixels.valid, 1)
        assert ctx.get(dut.pixels.ready) == 0 and ctx.get(dut.loaded) == 0
        for rnd in range(2):                  # a partial load, then a whole one from `first`
            for i in range(n if rnd else n // 2):
                ctx.set(dut.weights.valid, 1)
                ctx.set(dut.weights.payload, {"word": prog.weight_words[i], "first": int(i == 0)})
                assert ctx.get(dut.weights.ready) == 1
                await ctx.tick()
                assert ctx.get(dut.loaded) == int(rnd == 1 and i == n - 1)
                assert ctx.get(dut.pixels.ready) == ctx.get(dut.loaded)
        ctx.set(dut.weights.payload, {"word": 0, "first": 0})
        seen["ready_past_end"] = ctx.get(dut.weights.ready)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen["ready_past_end"] == 0      # no word past the last until the next `first`


# ----------------------------------------------------------------------------- parameters
def test_uart_divisor():
    from hw.boards.top import uart_divisor

    assert uart_divisor(12e6, 115200) == 104 and uart_divisor(25e6, 115200) == 217
    with pytest.raises(ValueError, match=r"^baud must be within 2% of f_clk / n for an integer n "
                                         r"\(f_clk 12 MHz gives 2400000\), not 2600000$"):
        uart_divisor(12e6, 2_600_000)
    with pytest.raises(ValueError, match=r"^divisor must be an integer in \[4, 65536\], not 3$"):
        uart_divisor(12e6, 4_000_000)
    with pytest.raises(TypeError, match=r"^baud must be an integer in \[300, 10000000\], not '9600'$"):
        uart_divisor(12e6, "9600")


def test_board_names():
    from hw.boards.top import BOARDS, board_spec

    assert board_spec("ulx3s") is BOARDS["ulx3s-85f"]
    with pytest.raises(ValueError, match=r"^board must be one of \('icebreaker', 'ulx3s-12f', "
                                         r"'ulx3s-25f', 'ulx3s-45f', 'ulx3s-85f', 'ulx3s'\), "
                                         r"not 'arty'$"):
        board_spec("arty")


def test_core_and_bridge_parameters(synthetic):
    from hw.boards.bridge import MAX_TIMEOUT, UARTBridge
    from hw.boards.top import BoardCore

    _, prog = synthetic
    with pytest.raises(ValueError, match=r"^divisor must be an integer in \[4, 65536\], not 3$"):
        BoardCore(prog, 3)
    with pytest.raises(ValueError, match=r"^timeout_bits must be an integer in \[20, 16777216\], "
                                         r"not 10$"):
        BoardCore(prog, 8, 10)
    with pytest.raises(ValueError, match=rf"^timeout must be an integer in \[1, {MAX_TIMEOUT}\], "
                                         r"not 0$"):
        UARTBridge(prog, 0)
    with pytest.raises(TypeError, match=r"^program must be an EngineProgram, not 'x'$"):
        UARTBridge("x", 100)


def test_bitstream_rejects_bad_parameters(capsys, tmp_path):
    out = tmp_path / "out"
    assert main(["bitstream", "--board", "icebreaker", "--baud", "2600000", "--top-only",
                 "-o", str(out)]) == 2
    assert "baud must be within 2%" in capsys.readouterr().err
    gc.collect()    # nothing half-built is left behind (Amaranth warns of unused elaboratables)
    assert main(["bitstream", "--lanes", "0", "--top-only", "-o", str(out)]) == 2
    assert "lanes must be an integer in [1, 64], not 0" in capsys.readouterr().err
    assert not out.exists()


def test_bitstream_rejects_bad_weight_store_and_model(capsys, tmp_path):
    out = tmp_path / "out"
    assert main(["bitstream", "--board", "ulx3s", "--weight-store", "spram", "--top-only",
                 "-o", str(out)]) == 2
    assert ("weights='spram' needs a board with SPRAM (the iCE40 UltraPlus); ulx3s-85f has none: "
            "use weights='rom'") in capsys.readouterr().err
    assert main(["bitstream", "--model", "nope", "--top-only", "-o", str(out)]) == 2
    assert ("--model nope: no such model file (or one of the committed networks digits, mnist)"
            in capsys.readouterr().err)
    with pytest.raises(SystemExit):
        main(["bitstream", "--weight-store", "flash", "--top-only", "-o", str(out)])
    assert "argument --weight-store: invalid choice: 'flash'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("value,message", [
    ("1,x", "argument --seed: --seed must be an integer or a comma-separated list of integers, "
            "not '1,x'"),
    ("-1", "argument --seed: --seed values must be 0 to 1073741824, not '-1'"),
    ("2,1073741825", "argument --seed: --seed values must be 0 to 1073741824, not '2,1073741825'"),
])
def test_bitstream_rejects_bad_seeds(capsys, tmp_path, value, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        main(["bitstream", "--seed", value, "--top-only", "-o", str(out)])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)
    assert not out.exists()


def test_build_rejects_a_seed_out_of_range():
    from hw.boards.build import build_bitstream

    with pytest.raises(ValueError, match=r"^seed must be an integer in \[0, 1073741824\], not -1$"):
        build_bitstream("icebreaker", 2, seed=[1, -1], top_only=True)


def test_load_chunk_size_is_checked(spram_board):
    with pytest.raises(ValueError, match=r"max_chunk must be an integer in \[1, 1024\], not 0"):
        BoardModel(spram_board[1], max_chunk=0)


# ----------------------------------------------------------------------------- qsq run
def test_run_names_a_missing_port(capsys, tmp_path):
    port = str(tmp_path / "ttyNOPE")
    assert main(["run", "--port", port, "--images", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"qsq: error: --port {port}: cannot open the serial port") and \
        "is the board connected?" in err


class FakeBoard:
    """A :class:`BoardModel` answering on the master side of a pseudo-terminal."""

    def __init__(self, prog):
        self.model = BoardModel(prog)
        self.master, slave = os.openpty()
        self.port = os.ttyname(slave)
        self._slave = slave
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        buf = b""
        while not self._stop.is_set():
            r, _, _ = select.select([self.master], [], [], 0.05)
            if not r:
                continue
            try:
                buf += os.read(self.master, 4096)
            except OSError:
                return
            while True:
                start = buf.find(bytes([P.SYNC]))
                if start < 0 or len(buf) - start < P.HEADER_BYTES:
                    break
                n = buf[start + 2] | buf[start + 3] << 8
                end = start + P.frame_bytes(n)
                if len(buf) < end:
                    break
                os.write(self.master, self.model.request(buf[start:end]))
                buf = buf[end:]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()
        os.close(self.master)
        os.close(self._slave)


def test_run_classifies_an_image_file(synthetic, tmp_path, capsys):
    wl, prog = synthetic
    px = wl.quantized_images("bucket")[1]
    f = tmp_path / "img.npy"
    np.save(f, px.astype(np.uint8))
    gold = golden_logits(wl, "bucket", [2, 1, 3, 0], np.array([1]))[0]
    with FakeBoard(prog) as board:
        assert main(["run", "--port", board.port, "--image", str(f), "--trunc", "2,1,3,0",
                     "--logits"]) == 0
    out = capsys.readouterr().out
    assert "board: bucket PE, 3 lanes, 4 layers, 4 classes, 84 pixels per image" in out
    assert "truncation levels set to [2, 1, 3, 0]" in out
    assert f"image 0: class {int(np.argmax(gold))}" in out
    assert f"  logits {[int(v) for v in gold]}" in out


def test_run_engine_rate_needs_a_known_program(synthetic, tmp_path, capsys):
    f = tmp_path / "img.bin"
    f.write_bytes(bytes(84))
    with FakeBoard(synthetic[1]) as board:
        assert main(["run", "--port", board.port, "--image", str(f), "--clock-mhz", "24"]) == 0
        out = capsys.readouterr().out
        assert "images/s over the link, measured end to end" in out
        assert "engine-only rate: unknown (the board's program 0x" in out
        assert main(["run", "--port", board.port, "--image", str(f), "--clock-mhz", "0.5"]) == 2
        assert ("--clock-mhz must be a frequency in MHz, 1 to 400, not 0.5"
                in capsys.readouterr().err)


def test_run_reports_board_errors(synthetic, tmp_path, capsys):
    wl, prog = synthetic
    f = tmp_path / "img.bin"
    f.write_bytes(bytes(84))
    with FakeBoard(prog) as board:
        assert main(["run", "--port", board.port, "--image", str(f), "--trunc", "9"]) == 2
        assert "truncation level must be an integer in [0, 8], not 9" in capsys.readouterr().err
        f.write_bytes(bytes(80))
        assert main(["run", "--port", board.port, "--image", str(f)]) == 2
        assert "the board's network takes 84 pixels, not 80" in capsys.readouterr().err


def test_run_reports_an_error_reply(synthetic, tmp_path, capsys):
    f = tmp_path / "img.bin"
    f.write_bytes(bytes(84))
    with FakeBoard(synthetic[1]) as board:
        real = board.model.request
        board.model.request = lambda data: real(data) if data[1] == P.CMD_INFO else \
            P.encode_frame(P.CMD_ERROR, bytes([5, data[1]]))
        assert main(["run", "--port", board.port, "--image", str(f)]) == 2
    assert capsys.readouterr().err == "qsq: error: the board rejected request 0x03: BAD_CRC\n"


def test_log_parsers():
    from hw.boards.build import parse_nextpnr_log, parse_yosys_log

    yosys = """2.25. Executing MEMORY_LIBMAP pass (mapping memories to cells).
using FF mapping for memory top.core.engine.scale_mem
mapping memory top.core.engine.weight_mem via $__ICE40_RAM4K_
Printing statistics.
=== top ===
       59 cells
     3819   SB_LUT4
=== design hierarchy ===
        +----------Count including submodules.
       59 qsq_board
     4466 wires
       16   SB_RAM40_4K
     1227   SB_CARRY
     3819   SB_LUT4
"""
    got = parse_yosys_log(yosys)
    assert got["cells"] == {"SB_RAM40_4K": 16, "SB_CARRY": 1227, "SB_LUT4": 3819}
    assert got["memories"] == {"top.core.engine.scale_mem": "logic",
                               "top.core.engine.weight_mem": "$__ICE40_RAM4K_"}
    nextpnr = """Info: Device utilisation:
Info: \t         ICESTORM_LC:    5334/   5280   101%
Info: Max frequency for clock 'cd_sync.clk': 20.00 MHz (PASS at 12.00 MHz)
Info: Device utilisation:
Info: \t         ICESTORM_LC:    3994/   5280    75%
Info: \t        ICESTORM_RAM:      16/     30    53%
Info: Max frequency for clock 'cd_sync.clk': 31.66 MHz (PASS at 12.00 MHz)
"""
    got = parse_nextpnr_log(nextpnr)
    assert got["utilisation"] == {"ICESTORM_LC": [3994, 5280], "ICESTORM_RAM": [16, 30]}
    assert got["clocks"] == {"cd_sync.clk": {"fmax_mhz": 31.66, "target_mhz": 12.0, "pass": True}}


def test_design_clock_is_the_pll_output_not_the_oscillator_pin():
    """A PLL build's log also lists the oscillator pin's clock, and nextpnr's constraint on the PLL
    output is its own rounding of the dividers (33.03 MHz for 33 MHz): the design's clock is the
    one nearest the clock asked for."""
    from hw.boards.build import design_clock, parse_nextpnr_log

    log = """Info: Max frequency for clock '$PACKER_GND_NET_$glb_clk': 307.03 MHz (PASS at 12.00 MHz)
Warning: Max frequency for clock                      'clk': 29.03 MHz (FAIL at 33.03 MHz)
"""
    report = {"clock_mhz": 33.0, "nextpnr": parse_nextpnr_log(log)}
    assert design_clock(report) == {"fmax_mhz": 29.03, "target_mhz": 33.03, "pass": False}
    assert design_clock({"clock_mhz": 12.0, "nextpnr": {"clocks": {}}}) is None


@pytest.mark.slow
def test_run_checks_digits_images_against_the_golden_model(tmp_path, capsys):
    from hw.engine.config import FPGA_POWER

    # as `qsq bitstream` builds it (the power style is part of the program id)
    prog = compile_program(workload("digits").model("bucket"),
                           EngineConfig(lanes=8, power=FPGA_POWER))
    with FakeBoard(prog) as board:
        assert main(["run", "--port", board.port, "--images", "3", "--check",
                     "--trunc", "3,2,4,1", "--clock-mhz", "24"]) == 0
        out = capsys.readouterr().out
        assert out.count("logits match the golden model") == 3 and "3 images in" in out
        from hw.engine.schedule import compute_cycles
        from hw.engine.top import engine_timing

        cycles = compute_cycles(prog, engine_timing(prog))
        assert (f"engine-only rate: {24e6 / cycles:,.0f} images/s ({cycles} cycles per image"
                in out)
        assert main(["run", "--port", board.port, "--image", "x.npy", "--check"]) == 2
        assert "it does not apply to --image" in capsys.readouterr().err
        assert main(["run", "--port", board.port, "--images", "360"]) == 2
        assert capsys.readouterr().err.endswith(
            "qsq: error: --images must be at most 359 (the digits test split), not 360\n")
    wl = workload("digits")
    gold = golden_logits(wl, "bucket", [3, 2, 4, 1], np.arange(3))
    for i in range(3):
        assert f"image {i}: class {int(np.argmax(gold[i]))} (label {int(wl.labels[i])})" in out


@pytest.mark.slow
def test_run_loads_the_weights_of_an_spram_board(capsys):
    from hw.boards.build import build_program

    prog = build_program("bucket", 4, "digits", 0, "spram")
    with FakeBoard(prog) as board:
        assert main(["run", "--port", board.port, "--images", "2", "--check"]) == 0
        out = capsys.readouterr().out
        assert "weights NOT loaded (SPRAM)" in out
        n = len(prog.weight_words)
        assert f"weights loaded: {n} words of 2 bytes in {-(-n // 1024)} LOAD chunks" in out
        assert out.count("logits match the golden model") == 2
        assert main(["run", "--port", board.port, "--images", "1"]) == 0
        out = capsys.readouterr().out
        assert "weights loaded (SPRAM)" in out and "LOAD chunks" not in out


def test_run_refuses_an_unknown_spram_board(synthetic, tmp_path, capsys):
    wl, prog = synthetic
    spram = compile_program(wl.model("bucket"), EngineConfig(lanes=3, power="fpga", weights="spram"))
    f = tmp_path / "img.bin"
    f.write_bytes(bytes(84))
    with FakeBoard(spram) as board:
        assert main(["run", "--port", board.port, "--image", str(f)]) == 2
    err = capsys.readouterr().err
    assert "the board needs its weights (LOAD), but its program 0x" in err
    assert "is none of the committed networks' (digits, mnist)" in err


# ----------------------------------------------------------------------------- one-line errors
def test_run_checks_baud_timeout_and_image_count_first(capsys, tmp_path):
    port = str(tmp_path / "ttyNOPE")          # never opened: every check comes first
    for argv, msg in [
            (["--baud", "0"], "--baud must be an integer in [300, 10000000], not 0"),
            (["--baud", "20000000"], "--baud must be an integer in [300, 10000000], not 20000000"),
            (["--timeout", "0"], "--timeout must be seconds in (0, 3600], not 0.0"),
            (["--timeout", "nan"], "--timeout must be seconds in (0, 3600], not nan"),
            (["--images", "0"], "--images must be a positive integer, not 0")]:
        assert main(["run", "--port", port] + argv) == 2
        assert capsys.readouterr().err == f"qsq: error: {msg}\n"
    assert main(["bitstream", "--baud", "0", "--top-only", "-o", str(tmp_path / "b")]) == 2
    assert capsys.readouterr().err == ("qsq: error: --baud must be an integer in [300, 10000000], "
                                       "not 0\n")


def test_run_gives_up_after_the_timeout(synthetic, tmp_path, capsys):
    import time

    f = tmp_path / "img.bin"
    f.write_bytes(bytes(84))
    with FakeBoard(synthetic[1]) as board:
        board.model.request = lambda data: b""          # a board that never answers
        t0 = time.monotonic()
        assert main(["run", "--port", board.port, "--image", str(f), "--timeout", "0.5"]) == 2
        took = time.monotonic() - t0
    assert capsys.readouterr().err == ("qsq: error: no reply from the board within --timeout "
                                       "0.5 s (is the bitstream loaded, the baud rate 115200?)\n")
    assert 0.5 <= took < 5


def _fake_tool(path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("step", ["yosys", "nextpnr", "yosys-no-log"])
def test_a_failing_tool_is_one_line_naming_its_log(step, tmp_path, capsys, monkeypatch):
    """`qsq bitstream` whose Yosys or nextpnr fails: one line with the step and its log file."""
    out = tmp_path / "b"
    log_arg = 'while [ $# -gt 0 ]; do case "$1" in -l|--log) log="$2";; esac; shift; done\n'
    if step == "yosys":
        yosys = _fake_tool(tmp_path / "yosys", log_arg + 'echo "ERROR: no memory" > "$log"\nexit 1\n')
        nextpnr = "/bin/false"
    elif step == "yosys-no-log":
        yosys, nextpnr = "/bin/false", "/bin/false"
    else:
        yosys = _fake_tool(tmp_path / "yosys", log_arg + 'echo ok > "$log"\necho {} > qsq_board.json\n')
        nextpnr = _fake_tool(tmp_path / "nextpnr", log_arg + 'echo "ERROR: no fit" > "$log"\nexit 3\n')
    monkeypatch.setenv("YOSYS", yosys)
    monkeypatch.setenv("NEXTPNR_ICE40", nextpnr)
    monkeypatch.setenv("ICEPACK", "/bin/false")
    assert main(["bitstream", "--lanes", "2", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    expected = {
        "yosys": f"the icebreaker build failed in Yosys (exit status 1); see its log "
                 f"{out}/qsq_board.rpt",
        "yosys-no-log": f"the icebreaker build failed in Yosys (exit status 1); it wrote no log "
                        f"{out}/qsq_board.rpt (did it start? check the tool: $YOSYS)",
        "nextpnr": f"the icebreaker build failed in nextpnr-ice40 (exit status 3); see its log "
                   f"{out}/qsq_board.tim"}[step]
    assert err == f"qsq: error: {expected}\n"


def test_seed_sweep_stops_at_the_first_seed_that_meets_the_clock(monkeypatch):
    """``--seed 1,2,3``: each clock is built with the seeds in order until one meets it; with
    ``--clock-mhz auto`` a clock no seed meets is retried below the best seed's fmax."""
    from hw.boards import build as B

    fmax = {1: 35.5, 2: 37.7, 3: 34.4}
    built, written = [], []

    def fake(spec, prog, model, trunc, baud, seed, out, top_only, clock_mhz):
        built.append((seed, clock_mhz))
        f = fmax[seed] if clock_mhz >= 30 else 40.0      # below 30 MHz every seed meets it
        return {"clock_mhz": clock_mhz, "seed": seed, "nextpnr": {"clocks": {"clk": {
            "fmax_mhz": f, "target_mhz": clock_mhz, "pass": f >= clock_mhz}}}}

    monkeypatch.setattr(B, "_build_once", fake)
    monkeypatch.setattr(B, "write_report", lambda r, out=None: written.append(r))
    r = B.build_bitstream("icebreaker", 2, seed=[1, 2, 3], clock_mhz=36.0)
    assert built == [(1, 36.0), (2, 36.0)]
    assert [a["seed"] for a in r["seed_attempts"]] == [1, 2] and r["seed_attempts"][1]["pass"]
    assert written == [r] and B.held_build(r) == "the last build"
    # auto: the iCEBreaker's first guess (30 MHz) met by no seed -> again at 0.92 of the best
    fmax.update({1: 29.0, 2: 29.5, 3: 28.0})
    built.clear()
    r = B.build_bitstream("icebreaker", 2, seed=[1, 2, 3], clock_mhz="auto")
    assert built[:3] == [(1, 30.0), (2, 30.0), (3, 30.0)]
    assert built[3:] == [(1, pytest.approx(29.5 * B.AUTO_MARGIN))]
    assert r["clock_attempts"][0] == {"target_mhz": 30.0, "fmax_mhz": 29.5, "pass": False}
    assert r["clock_attempts"][-1]["pass"] and len(r["seed_attempts"]) == 4
    # a fixed clock no seed meets: the best seed is built again, and the report says so
    built.clear()
    r = B.build_bitstream("icebreaker", 2, seed=[1, 2, 3], clock_mhz=36.0)
    assert built == [(1, 36.0), (2, 36.0), (3, 36.0), (2, 36.0)] and r["seed"] == 2
    assert [a["seed"] for a in r["seed_attempts"]] == [1, 2, 3]
    assert B.held_build(r) == "the build of seed 2, the best fmax (built again)"
    fmax[3] = 29.9                                        # the last seed is the best: no rebuild
    built.clear()
    r = B.build_bitstream("icebreaker", 2, seed=[1, 2, 3], clock_mhz=36.0)
    assert built == [(1, 36.0), (2, 36.0), (3, 36.0)] and r["seed"] == 3
    assert B.held_build(r) == "the build of seed 3, the best fmax"
    with pytest.raises(ValueError, match=r"^seed must name at least one nextpnr seed$"):
        B.build_bitstream("icebreaker", 2, seed=[])
