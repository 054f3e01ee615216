"""Check the formal specification itself against the golden model, by exhaustive simulation.

The proofs show RTL == specification; this shows specification == golden model, so that the chain
reaches the contract. Icarus Verilog simulates ``qsq_csd_spec`` (``sim/formal/spec/csd_spec.v``)
for every ``(a, b, t)`` of an operand format (8x8: 65,536 pairs at every level ``t`` in
``0 .. ndigits + 1``, the last one a runtime level above ``ndigits``) and ``qsq_decode_spec`` for
every code and scale; each output is compared with :func:`golden_model.csd.csd_product` and
:func:`golden_model.codec.decode`.

    python -m sim.formal.spec_check [--width 8] [--formats ss,us,su,uu]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from golden_model.codec import decode
from golden_model.config import CODE_BITS_ALLOWED, CodecConfig, MultiplierConfig
from golden_model.csd import csd_product

from .runner import SPEC_DIR

__all__ = ["check_product", "check_decoder", "main", "FORMATS"]

#: Operand formats: a then b, ``s`` signed, ``u`` unsigned.
FORMATS = ("ss", "us", "su", "uu")


def _iverilog() -> tuple[str, str]:
    iv, vvp = shutil.which("iverilog"), shutil.which("vvp")
    if not (iv and vvp):
        raise RuntimeError("the specification check needs Icarus Verilog (iverilog and vvp) on "
                           "PATH; install it (e.g. `apt-get install iverilog`)")
    return iv, vvp


def _simulate(tb: str, top: str, spec: Path, work: Path) -> np.ndarray:
    """Compile and run ``tb``; return the integers it printed, one per line (hex)."""
    iv, vvp = _iverilog()
    (work / "tb.v").write_text(tb)
    subprocess.run([iv, "-g2005", "-o", str(work / "tb.vvp"), "-s", top, str(work / "tb.v"),
                    str(spec)], check=True, capture_output=True, text=True)
    subprocess.run([vvp, "-n", str(work / "tb.vvp")], check=True, capture_output=True, text=True,
                   cwd=work)
    raw = (work / "out.hex").read_text().split()
    return np.array([int(x, 16) for x in raw], dtype=np.int64)


def check_product(cfg: MultiplierConfig, spec_dir: Path | None = None) -> int:
    """Simulate ``qsq_csd_spec`` for every ``(t, a, b)`` of ``cfg``; return the number checked.

    Raises
    ------
    AssertionError
        On the first mismatch with :func:`golden_model.csd.csd_product`, naming the operands.
    """
    aw, bw, nd, pw = cfg.a_width, cfg.b_width, cfg.ndigits, cfg.p_width
    tw = max(1, nd.bit_length())
    tmax = min(nd + 1, (1 << tw) - 1)            # one runtime level above ndigits too
    # one specification instance per level, so each (a, b) is one simulation step
    tb = f"""module tb;
  reg [{aw - 1}:0] a; reg [{bw - 1}:0] b;
  wire [{(tmax + 1) * pw - 1}:0] p;
  integer f, ia, ib, it;
  genvar g;
  generate for (g = 0; g <= {tmax}; g = g + 1) begin : lv
    qsq_csd_spec #(.AW({aw}), .AS({int(cfg.a_signed)}), .BW({bw}), .BS({int(cfg.b_signed)}),
                   .TW({tw})) dut (.a(a), .b(b), .t(g[{tw - 1}:0]), .p(p[g*{pw} +: {pw}]));
  end endgenerate
  initial begin
    f = $fopen("out.hex", "w");
    for (ia = 0; ia < {1 << aw}; ia = ia + 1)
      for (ib = 0; ib < {1 << bw}; ib = ib + 1) begin
        a = ia; b = ib; #1;
        for (it = 0; it <= {tmax}; it = it + 1) $fwrite(f, "%h ", p[it*{pw} +: {pw}]);
        $fwrite(f, "\\n");
      end
    $fclose(f);
    $finish;
  end
endmodule
"""
    spec = Path(spec_dir or SPEC_DIR) / "csd_spec.v"
    with tempfile.TemporaryDirectory() as tmp:
        got = _simulate(tb, "tb", spec, Path(tmp))
    if cfg.p_signed:
        got = np.where(got >> (pw - 1) & 1, got - (1 << pw), got)
    a, b, t = np.meshgrid(np.arange(1 << aw), np.arange(1 << bw), np.arange(tmax + 1),
                          indexing="ij")
    av = np.where(cfg.a_signed & (a >> (aw - 1) & 1).astype(bool), a - (1 << aw), a)
    bv = np.where(cfg.b_signed & (b >> (bw - 1) & 1).astype(bool), b - (1 << bw), b)
    want = csd_product(av.ravel(), bv.ravel(), cfg, np.minimum(t.ravel(), nd))
    if got.shape != want.shape:
        raise AssertionError(f"{cfg.tag()}: the simulation printed {got.size} results, "
                             f"expected {want.size}")
    bad = np.flatnonzero(got != want)
    if bad.size:
        i = bad[0]
        raise AssertionError(
            f"{cfg.tag()}: specification {got[i]} != golden model {want[i]} for a={av.ravel()[i]},"
            f" b={bv.ravel()[i]}, t={t.ravel()[i]} ({bad.size} mismatches)")
    return int(want.size)


def check_decoder(code_bits: int, scale_bits: int, spec_dir: Path | None = None) -> int:
    """Simulate ``qsq_decode_spec`` for every code and scale ``1 .. 2**scale_bits - 1``."""
    cfg = CodecConfig(code_bits, scale_bits)
    tb = f"""module tb;
  reg [{code_bits - 1}:0] c; reg [{scale_bits - 1}:0] s; wire [{scale_bits}:0] w;
  integer f, ic, is;
  qsq_decode_spec #(.CB({code_bits}), .SB({scale_bits})) dut (.code(c), .scale(s), .weight(w));
  initial begin
    f = $fopen("out.hex", "w");
    for (is = 1; is < {1 << scale_bits}; is = is + 1)
      for (ic = 0; ic < {1 << code_bits}; ic = ic + 1) begin
        c = ic; s = is; #1;
        $fwrite(f, "%h\\n", w);
      end
    $fclose(f);
    $finish;
  end
endmodule
"""
    spec = Path(spec_dir or SPEC_DIR) / "decoder_spec.v"
    with tempfile.TemporaryDirectory() as tmp:
        got = _simulate(tb, "tb", spec, Path(tmp))
    ww = cfg.weight_width
    got = np.where(got >> (ww - 1) & 1, got - (1 << ww), got)
    s, c = np.meshgrid(np.arange(1, 1 << scale_bits), np.arange(1 << code_bits), indexing="ij")
    want = decode(c.ravel(), s.ravel(), cfg)
    bad = np.flatnonzero(got != want)
    if got.shape != want.shape or bad.size:
        i = bad[0] if bad.size else 0
        raise AssertionError(f"decoder c{code_bits} s{scale_bits}: specification != golden model "
                             f"for code={c.ravel()[i]}, scale={s.ravel()[i]}")
    return int(want.size)


def _formats(text: str) -> tuple[str, ...]:
    fs = tuple(text.split(","))
    if not fs or any(f not in FORMATS for f in fs):
        raise argparse.ArgumentTypeError(
            f"formats must be a comma-separated list of {FORMATS}, not {text!r}")
    return fs


def _width(text: str) -> int:
    if text not in ("2", "3", "4", "5", "6", "7", "8"):
        raise argparse.ArgumentTypeError(f"width must be an integer in [2, 8], not {text!r}")
    return int(text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.formal.spec_check",
                                description=__doc__.splitlines()[0])
    p.add_argument("--width", type=_width, default=8, help="operand width, 2 to 8 (default 8)")
    p.add_argument("--formats", type=_formats, default=FORMATS,
                   help="operand formats a,b: ss,us,su,uu (default all)")
    args = p.parse_args(argv)
    try:
        _iverilog()
    except RuntimeError as exc:
        print(f"spec_check: error: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for f in args.formats:
        cfg = MultiplierConfig(args.width, f[0] == "s", args.width, f[1] == "s")
        start = time.monotonic()
        try:
            n = check_product(cfg)
            print(f"  PASS {time.monotonic() - start:6.1f} s  qsq_csd_spec {cfg.tag()}: "
                  f"{n} (a, b, t) equal golden_model.csd.csd_product", flush=True)
        except AssertionError as exc:
            failed += 1
            print(f"  FAIL qsq_csd_spec {cfg.tag()}: {exc}", flush=True)
    for cb in CODE_BITS_ALLOWED:
        start = time.monotonic()
        try:
            n = check_decoder(cb, 7)
            print(f"  PASS {time.monotonic() - start:6.1f} s  qsq_decode_spec c{cb} s7: {n} "
                  f"(code, scale) equal golden_model.codec.decode", flush=True)
        except AssertionError as exc:
            failed += 1
            print(f"  FAIL qsq_decode_spec c{cb}: {exc}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
