"""``qsq bitstream`` (build a board) and ``qsq run`` (classify images on it over its UART).

Examples::

    qsq bitstream --board icebreaker                    # build/boards/icebreaker/qsq_board.bin
    qsq bitstream --board ulx3s-25f --lanes 8 --pe multiplier -o build/boards/ulx3s25
    qsq run --port /dev/ttyUSB1 --images 20 --logits    # digits test images, classes + logits
    qsq run --port /dev/ttyUSB1 --image img.npy --trunc 3,2,4,1
"""

from __future__ import annotations

import argparse
import sys
import time

from hw.engine.cli import parse_levels

from . import protocol as P
from .build import COMMITTED_MODELS, MAX_SEED
from .spec import MAX_BAUD, MAX_BAUD_ERROR, MIN_BAUD, check_baud

#: Default of ``qsq run --timeout``: seconds to wait for a reply to start once the request is on
#: the line, and between the bytes of a reply (USB latency and the engine's compute are far less).
DEFAULT_TIMEOUT_S = 10.0
#: Largest ``--timeout``.
MAX_TIMEOUT_S = 3600.0


def parse_seeds(text: str) -> list[int]:
    """``--seed``: ``N`` or ``N1,N2,...`` (each 0 to :data:`hw.boards.build.MAX_SEED`)."""
    try:
        seeds = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seed must be an integer or a comma-separated list of integers, not {text!r}") \
            from None
    if any(not 0 <= v <= MAX_SEED for v in seeds):
        raise argparse.ArgumentTypeError(f"--seed values must be 0 to {MAX_SEED}, not {text!r}")
    return seeds


def check_timeout(seconds, name: str = "timeout") -> float:
    """Return ``seconds`` if it is a number of seconds in (0, :data:`MAX_TIMEOUT_S`]."""
    import numbers

    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        raise TypeError(f"{name} must be seconds in (0, {MAX_TIMEOUT_S:g}], not {seconds!r}")
    if not 0 < seconds <= MAX_TIMEOUT_S:
        raise ValueError(f"{name} must be seconds in (0, {MAX_TIMEOUT_S:g}], not {seconds!r}")
    return float(seconds)


def add_bitstream_args(p) -> None:
    from hw.engine.config import PE_STYLES, WEIGHT_STORES

    from .spec import BOARDS

    p.add_argument("--board", default="icebreaker", choices=tuple(BOARDS),
                   help="target board (default icebreaker; ulx3s = ulx3s-85f)")
    p.add_argument("--lanes", type=int, default=None,
                   help="engine lanes (default: the board's, " + ", ".join(
                       f"{k} {v.default_lanes}" for k, v in BOARDS.items()) + ")")
    p.add_argument("--pe", default="bucket", choices=PE_STYLES, help="processing element (default bucket)")
    p.add_argument("--model", default=None,
                   help="a .qsq or checkpoint .npz, or a committed network: 'digits' (the "
                        "default LeNet) or 'mnist' (LeNet-5, 28x28; needs `make mnist`)")
    p.add_argument("--weight-store", dest="weights", default="rom", choices=WEIGHT_STORES,
                   help="where the weights live: 'rom' (block RAM, in the bitstream; default) or "
                        "'spram' (the UP5K's SPRAM, sent by the host with LOAD after "
                        "configuration: `qsq run` does it)")
    p.add_argument("--trunc", type=parse_levels, default=0,
                   help="truncation level(s) after reset: T or T1,T2,... (default 0)")
    p.add_argument("--baud", type=int, default=P.DEFAULT_BAUD,
                   help=f"UART line rate, {MIN_BAUD} to {MAX_BAUD} and within "
                        f"{MAX_BAUD_ERROR * 100:.0f}%% of the clock / an integer (default {P.DEFAULT_BAUD})")
    p.add_argument("--seed", type=parse_seeds, default=[1], metavar="SEED[,SEED...]",
                   help="nextpnr placement seed (default 1); several: a seed sweep, each clock "
                        "built with the seeds in order until one meets it")
    p.add_argument("--top-only", action="store_true",
                   help="write the platform's files (RTLIL, Verilog, constraints) without "
                        "running Yosys and nextpnr")
    p.add_argument("--clock-mhz", type=_clock_arg, default=None, metavar="MHZ|auto",
                   help="clock the design from the board's PLL at the highest frequency at most "
                        "MHZ whose UART divisor still hits --baud; 'auto': build at the board's "
                        "first guess, and again at 92%% of the measured fmax if it misses it "
                        "(default: the board oscillator, no PLL)")
    p.add_argument("-o", "--out", default=None, help="output folder (default build/boards/BOARD)")


#: Clock frequencies ``--clock-mhz`` takes (``bitstream``: the PLL's goal; ``run``: the board's).
MIN_CLOCK_MHZ, MAX_CLOCK_MHZ = 1.0, 400.0


def _clock_arg(text: str):
    import argparse

    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not MIN_CLOCK_MHZ <= value <= MAX_CLOCK_MHZ:
        raise argparse.ArgumentTypeError(f"must be a frequency in MHz, {MIN_CLOCK_MHZ:g} to "
                                         f"{MAX_CLOCK_MHZ:g}, or 'auto', not {text!r}")
    return value


def run_bitstream(args) -> int:
    from pathlib import Path

    from golden_model.fileio import check_output_dir

    from .build import build_bitstream

    check_baud(args.baud, "--baud")
    check_output_dir(args.out or Path("build") / "boards" / args.board, "-o/--out")
    try:
        r = build_bitstream(args.board, args.lanes, args.pe, args.model, args.trunc, args.baud,
                            args.seed, args.out, args.top_only, clock_mhz=args.clock_mhz,
                            weights=args.weights)
    except RuntimeError as exc:      # a tool is missing or failed: one line naming its log
        raise ValueError(str(exc)) from None
    if args.top_only:
        print(f"qsq bitstream: {r['board']} platform files -> {r['out']}/")
        return 0
    util = r["nextpnr"]["utilisation"]
    from .build import design_clock

    clk = design_clock(r)
    print(f"qsq bitstream: {r['board']} ({r['device']}), {r['engine']['pe']} PE, "
          f"{r['engine']['lanes']} lanes -> {r['bitstream']['file']}")
    print("  seconds: " + ", ".join(f"{k} {v}" for k, v in r["seconds"].items()))
    print("  utilisation: " + ", ".join(f"{k} {u}/{a}" for k, (u, a) in util.items() if u))
    if clk:
        print(f"  fmax {clk['fmax_mhz']} MHz at a {clk['target_mhz']} MHz clock "
              f"({'PASS' if clk['pass'] else 'FAIL'})"
              + (f", PLL {r['pll']['params']}" if r.get("pll") else ", no PLL"))
    print("  memories: " + ", ".join(f"{k.split('.')[-1]} -> {v}"
                                      for k, v in sorted(r["yosys"]["memories"].items())))
    print(f"  see {r['out']}/report.md; program with `{r['programmer']}` (not run here)")
    if clk and not clk["pass"]:
        print(f"qsq bitstream: error: the design misses its {clk['target_mhz']} MHz clock (fmax "
              f"{clk['fmax_mhz']} MHz): build with a lower --clock-mhz, or --clock-mhz auto",
              file=sys.stderr)
        return 1
    return 0


def register(sub) -> None:
    b = sub.add_parser("bitstream", help="build the engine with a UART host interface for a board",
                       description="Build a bitstream of the inference engine with its UART host "
                                   "interface for an FPGA board (amaranth-boards platform, YoWASP "
                                   "Yosys/nextpnr), and a report of times, utilisation and fmax.")
    add_bitstream_args(b)
    b.set_defaults(func=run_bitstream)

    r = sub.add_parser("run", help="classify images on a board over its serial port",
                       description="Send images to a board running `qsq bitstream`'s design and "
                                   "print the classes (and logits). Protocol: hw/boards/protocol.py.")
    r.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB1 or COM4")
    r.add_argument("--baud", type=int, default=P.DEFAULT_BAUD,
                   help=f"line rate the bitstream was built with, {MIN_BAUD} to {MAX_BAUD} "
                        f"(default {P.DEFAULT_BAUD})")
    r.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help="give up when a reply has not started this long after the request went "
                        "out, or stops for this long (default "
                        f"{DEFAULT_TIMEOUT_S:g}; at most {MAX_TIMEOUT_S:g})")
    src = r.add_mutually_exclusive_group()
    src.add_argument("--images", type=int, default=None, metavar="N",
                     help="the first N images of the test split of the board's network (default "
                          "10; the digits split has 359 images, MNIST's 10,000)")
    src.add_argument("--image", default=None, metavar="FILE",
                     help="one image: .npy of C*H*W pixels 0..255, or a raw file of C*H*W bytes")
    r.add_argument("--trunc", type=parse_levels, default=None,
                   help="set the truncation level(s) first: T or T1,T2,... per compute layer")
    r.add_argument("--clock-mhz", type=float, default=None, metavar="MHZ",
                   help="the board's clock (report.md of its build says it): also print the "
                        "engine-only rate, MHZ / the engine's cycles per image (known for the "
                        "committed digits model, from the board's program id)")
    r.add_argument("--logits", action="store_true", help="print the logits too")
    r.add_argument("--check", action="store_true",
                   help="compare every logit with the golden model (the board must run the "
                        "committed digits model)")
    r.set_defaults(func=run_run)


# ----------------------------------------------------------------------------- the host client
class Client:
    """Request/response over a serial-like object (``write(bytes)``, ``read(n)`` with a timeout).

    Parameters
    ----------
    port : serial.Serial or similar
    baud : int
        Line rate, for the request's time on the line.
    timeout : float
        Seconds a reply may take to start once the request is on the line, and the longest
        silence between its bytes; then :class:`TimeoutError`.
    """

    def __init__(self, port, baud: int, timeout: float = DEFAULT_TIMEOUT_S):
        self.port, self.baud = port, check_baud(baud)
        self.timeout = check_timeout(timeout)
        self.decoder = P.FrameDecoder()

    def exchange(self, request: bytes, reply_payload: int) -> P.Frame:
        """Send ``request``, return the reply frame (error replies included)."""
        self.port.write(request)
        deadline = time.monotonic() + len(request) * 10 / self.baud + self.timeout
        while time.monotonic() < deadline:
            data = self.port.read(max(1, P.frame_bytes(reply_payload) - self.decoder.pending))
            if data:
                frames = self.decoder.feed(data)
                if frames:
                    return frames[0]
                deadline = max(deadline, time.monotonic() + self.timeout)
        raise TimeoutError(f"no reply from the board within --timeout {self.timeout:g} s (is "
                           f"the bitstream loaded, the baud rate {self.baud}?)")

    def info(self) -> P.BoardInfo:
        return P.decode_info(self.exchange(P.encode_info(), 64))

    def set_trunc(self, levels, ndigits: int) -> None:
        P.decode_reply(self.exchange(P.encode_trunc(levels, ndigits), 0), P.CMD_TRUNC)

    def load(self, prog, info: P.BoardInfo) -> None:
        """Send the weight image of ``prog`` with LOAD, chunk by chunk (error replies raise
        :class:`hw.boards.protocol.BoardError`)."""
        from .model import load_image

        image = load_image(prog)
        for c in range(info.chunks):
            req = P.encode_load(info.program_id, c, image, info.word_bytes, info.chunk_words)
            P.decode_reply(self.exchange(req, 0), P.CMD_LOAD)

    def infer(self, pixels, classes: int):
        return P.decode_infer(self.exchange(P.encode_infer(pixels), 4 * classes + 1), classes)


def open_port(port: str, baud: int):
    """The serial port ``port`` opened at ``baud`` (8N1), or a ``ValueError`` saying why not."""
    import serial

    try:
        return serial.Serial(port, baud, timeout=0.05)
    except (serial.SerialException, OSError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(f"--port {port}: cannot open the serial port ({reason}); is the board "
                         f"connected? (`python -m serial.tools.list_ports` lists the ports)") from None


def _load_image(path: str, size: int):
    import numpy as np

    if str(path).endswith(".npy"):
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"--image {path}: not a NumPy array file ({exc})") from None
    else:
        with open(path, "rb") as f:
            arr = np.frombuffer(f.read(), np.uint8)
    arr = np.asarray(arr).reshape(-1)
    if arr.size != size:
        raise ValueError(f"--image {path}: the board's network takes {size} pixels, not {arr.size}")
    if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > 255:
        raise ValueError(f"--image {path}: pixels must be integers in [0, 255]")
    return arr.astype(np.int64)


def run_run(args) -> int:
    try:
        return _run(args)
    except P.BoardError as exc:          # an error reply: one line, like every other error
        raise ValueError(str(exc)) from None


def _run(args) -> int:
    check_baud(args.baud, "--baud")
    check_timeout(args.timeout, "--timeout")
    if args.check and args.image is not None:
        raise ValueError("--check compares the test images (--images) with the golden model; it "
                         "does not apply to --image")
    if args.images is not None and args.images < 1:
        raise ValueError(f"--images must be a positive integer, not {args.images}")
    ser = open_port(args.port, args.baud)
    with ser:
        client = Client(ser, args.baud, args.timeout)
        info = client.info()
        print(f"board: {info.pe} PE, {info.lanes} lanes, {info.layers} layers, {info.classes} "
              f"classes, {info.input_size} pixels per image, program 0x{info.program_id:08x}, "
              f"levels after reset {list(info.reset_levels)}"
              + (f", weights {'loaded' if info.loaded else 'NOT loaded'} (SPRAM)"
                 if info.chunk_words else ""))
        known = known_program(info)
        if info.chunk_words and not info.loaded:
            if known is None:
                raise ValueError(f"the board needs its weights (LOAD), but its program "
                                 f"0x{info.program_id:08x} is none of the committed networks' "
                                 f"({', '.join(COMMITTED_MODELS)}) this host can send")
            t0 = time.perf_counter()
            client.load(known[1], info)
            secs = time.perf_counter() - t0
            print(f"weights loaded: {info.weight_words} words of {info.word_bytes} bytes in "
                  f"{info.chunks} LOAD chunks, {secs:.2f} s ({known[0]} network)")
        levels = list(info.reset_levels)
        if args.trunc is not None:
            if info.pe == "int8":
                raise ValueError("--trunc: the board runs the INT8 engine, which has no truncation")
            levels = [args.trunc] * info.layers if isinstance(args.trunc, int) else list(args.trunc)
            if len(levels) != info.layers:
                raise ValueError(f"--trunc must give 1 or {info.layers} levels, not {len(levels)}")
            client.set_trunc(levels, info.ndigits)
            print(f"truncation levels set to {levels}")
        labels, golden = None, None
        if args.image is not None:
            images = _load_image(args.image, info.input_size)[None, :]
        else:
            wl = _test_images(info, known)
            n = 10 if args.images is None else args.images
            if n > len(wl.labels):
                raise ValueError(f"--images must be at most {len(wl.labels)} (the {wl.name} test "
                                 f"split), not {n}")
            images, labels = wl.quantized_images(info.pe)[:n], wl.labels[:n]
            if args.check:
                golden = _golden(info, known, wl, levels, len(images))
        correct, start = 0, time.perf_counter()
        mismatches = 0
        for i, px in enumerate(images):
            logits, cls = client.infer(px, info.classes)
            line = f"image {i}: class {cls}"
            if labels is not None:
                line += f" (label {int(labels[i])})"
                correct += int(cls == int(labels[i]))
            if golden is not None:
                same = logits == [int(v) for v in golden[i]]
                mismatches += not same
                line += ", logits match the golden model" if same else \
                    f", MISMATCH: golden {[int(v) for v in golden[i]]}"
            print(line)
            if args.logits:
                print(f"  logits {logits}")
        secs = time.perf_counter() - start
        tail = f"; {correct}/{len(images)} correct" if labels is not None else ""
        print(f"{len(images)} images in {secs:.2f} s ({len(images) / secs:.1f} images/s over the "
              f"link, measured end to end){tail}")
        if args.clock_mhz is not None:
            print(_engine_rate(info, known, args.clock_mhz))
        if mismatches:
            print(f"{mismatches} images differ from the golden model")
            return 1
    return 0


def known_program(info: P.BoardInfo):
    """``(name, program)`` of the committed network (:data:`hw.boards.build.COMMITTED_MODELS`)
    compiled as ``qsq bitstream`` compiles it for the board's engine, whose program id is the
    board's; ``None`` if none is."""
    from .build import build_program
    from .model import program_id

    weights = "spram" if info.chunk_words else "rom"
    trunc = list(info.reset_levels) if info.pe != "int8" else 0
    for name in COMMITTED_MODELS:
        try:
            prog = build_program(info.pe, info.lanes, name, trunc, weights)
        except (OSError, ValueError):      # e.g. the MNIST files are not here
            continue
        if prog.input_size == info.input_size and program_id(prog) == info.program_id:
            return name, prog
    return None


def _test_images(info: P.BoardInfo, known):
    """The workload whose test images the board classifies: its network's, else by input size."""
    from hw.engine.workloads import workload

    if known is not None:
        return workload(known[0])
    for name in COMMITTED_MODELS:
        try:
            wl = workload(name)
        except (OSError, ValueError):
            continue
        if wl.quantized_images(info.pe).shape[1] == info.input_size:
            return wl
    raise ValueError(f"the board's network takes {info.input_size} pixels, which no committed "
                     f"test split has: use --image")


def _engine_rate(info: P.BoardInfo, known, clock_mhz: float) -> str:
    """The engine-only images/s line of ``qsq run --clock-mhz``."""
    from hw.engine.schedule import compute_cycles
    from hw.engine.top import engine_timing

    if not MIN_CLOCK_MHZ <= clock_mhz <= MAX_CLOCK_MHZ:
        raise ValueError(f"--clock-mhz must be a frequency in MHz, {MIN_CLOCK_MHZ:g} to "
                         f"{MAX_CLOCK_MHZ:g}, not {clock_mhz!r}")
    if known is None:
        return (f"engine-only rate: unknown (the board's program 0x{info.program_id:08x} is none "
                "of the committed networks', whose cycles this host knows)")
    prog = known[1]
    cycles = compute_cycles(prog, engine_timing(prog))
    return (f"engine-only rate: {clock_mhz * 1e6 / cycles:,.0f} images/s ({cycles} cycles per "
            f"image, last pixel to first logit, at {clock_mhz:g} MHz; computed, not measured)")


def _golden(info: P.BoardInfo, known, wl, levels, n: int):
    """Golden logits of the first ``n`` test images at ``levels``, if the board runs a committed
    network (its program id says so); ``ValueError`` otherwise."""
    import numpy as np

    from hw.engine.workloads import golden_logits

    if known is None:
        raise ValueError(f"--check: the board's program 0x{info.program_id:08x} is none of the "
                         f"committed networks'")
    return golden_logits(wl, info.pe, levels if info.pe != "int8" else 0, np.arange(n))
