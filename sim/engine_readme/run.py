"""Documentation test of the inference engine: a plain-Verilog bench written from the README alone.

``python -m sim.engine_readme.run [--pe bucket|multiplier|int8] [--lanes 8] [--images 3]`` does what
a user of the README would do:

1. ``qsq pack`` the committed digits LeNet and ``qsq compile`` it (coded engines), or ``qsq compile``
   the checkpoint with ``--pe int8``; the port widths, the layer count and the input exponent are read
   from the compiler's ``manifest.json``;
2. writes the digits test images as quantized pixels (``quantize_input``, C x H x W order) and one
   truncation level per compute layer and image to ``$readmemh`` files;
3. builds ``tb_engine_readme.v`` + ``qsq_engine.v`` with Icarus (``iverilog -g2005``) and runs it;
4. compares every image's logits and class with the golden path the README names for the PE style:
   ``integer_forward(engine="bucket")`` / ``integer_forward(engine="table")`` on the packed model,
   ``int8_forward`` of ``quantize_int8`` (float weights, calibrated on the training images) for INT8.

One image (``--abort``) is abandoned half-way through loading by a reset and sent again without
rewriting ``config``: it must run at the compiled default truncation levels. Exit status 0 only if
every logit and class match and the bench saw no protocol error.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BENCH = HERE / "tb_engine_readme.v"

__all__ = ["run", "main"]

#: Truncation levels written before each image (cycled over the images; one per compute layer).
TRUNC_CYCLE = ([0, 0, 0, 0], [1, 1, 0, 2], [3, 2, 1, 4], [8, 8, 8, 8], [15, 0, 5, 2])


def _qsq(*args: str) -> None:
    exe = Path(sys.executable).with_name("qsq")
    cmd = [str(exe) if exe.exists() else "qsq", *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _port_width(manifest: dict, name: str) -> int | None:
    for p in manifest["ports"]:
        if p["name"] == name:
            return int(p["width"])
    return None


def compile_engine(pe: str, lanes: int, out: Path, trunc: str = "0") -> tuple[Path, object]:
    """Compile the committed digits LeNet; return the engine folder and its golden model."""
    out.mkdir(parents=True, exist_ok=True)
    if pe == "int8":
        from golden_model.nn.checkpoint import DEFAULT_CHECKPOINT
        _qsq("compile", str(DEFAULT_CHECKPOINT), "--pe", "int8", "--lanes", str(lanes),
             "-o", str(out / "engine"))
        return out / "engine", None
    packed = out / "model.qsq"
    _qsq("pack", "-o", str(packed))
    _qsq("compile", str(packed), "--pe", pe, "--lanes", str(lanes), "--trunc", trunc,
         "-o", str(out / "engine"))
    return out / "engine", packed


def golden_logits(pe: str, packed, x: np.ndarray, levels: list[list[int]], ds) -> np.ndarray:
    """Logits of every image under the README's golden path of ``pe``."""
    if pe == "int8":
        from golden_model.nn.checkpoint import load_checkpoint
        from golden_model.nn.int8 import int8_forward, quantize_int8
        qm = quantize_int8(load_checkpoint().float_model, ds.x_train)
        return int8_forward(qm, x)
    from golden_model.nn.packfile import unpack_model
    from golden_model.nn.quant import integer_forward
    qm = unpack_model(Path(packed).read_bytes())
    engine = "bucket" if pe == "bucket" else "table"
    # README: "levels above 8 act as 8"
    return np.concatenate([integer_forward(qm, x[i:i + 1], t=[min(v, 8) for v in levels[i]],
                                           engine=engine) for i in range(len(x))])


def parse_output(path: Path) -> tuple[list[dict], int]:
    rows, errors = [], None
    for line in path.read_text().splitlines():
        f = line.split()
        if f[0] == "image":
            logits = [int(v) for v in f[f.index("logits") + 1:f.index("compute")]]
            rows.append({"image": int(f[1]), "cls": int(f[3]), "logits": logits,
                         "compute": int(f[f.index("compute") + 1]),
                         "cycles": int(f[f.index("cycles") + 1])})
        elif f[0] == "end":
            errors = int(f[-1])
    if errors is None:
        raise RuntimeError(f"{path}: the bench did not finish")
    return rows, errors


def run(pe: str = "bucket", lanes: int = 8, images: int = 3, seed: int = 1, abort: int | None = 1,
        out: Path | None = None, trunc: str = "0", verbose: bool = True) -> dict:
    """Compile, simulate and compare; return a summary dict (``ok`` is the verdict)."""
    from golden_model.nn.data import load_digits
    from golden_model.nn.quant import quantize_input

    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        raise RuntimeError("needs Icarus Verilog (iverilog and vvp) on PATH")
    out = Path(out) if out is not None else REPO / "build" / "engine_readme" / f"{pe}{lanes}"
    engine, packed = compile_engine(pe, lanes, out, trunc)
    man = json.loads((engine / "manifest.json").read_text())
    c, h, w = man["model"]["input_shape"]
    classes = man["model"]["classes"]
    nlayers = len(man["layers"])
    cfg_width = _port_width(man, "config__payload")
    coded = cfg_width is not None
    layer_bits = cfg_width - 4 if coded else 1
    class_bits = _port_width(man, "cls")
    reset_levels = man["truncation"]["reset"] if coded else []

    ds = load_digits()
    x = ds.x_test[:images]
    pix = quantize_input(x, man["model"]["input_exponent"]).reshape(images, -1)
    (out / "pixels.hex").write_text("".join(f"{int(v):02x}\n" for v in pix.ravel()))
    levels = [list(TRUNC_CYCLE[i % len(TRUNC_CYCLE)])[:nlayers] for i in range(images)] if coded else \
        [[] for _ in range(images)]
    if coded:
        (out / "trunc.hex").write_text("".join(f"{v:x}\n" for lv in levels for v in lv))
    if abort is not None and coded and abort < images:
        levels[abort] = list(reset_levels)       # the reset restores the compiled defaults
    expected = golden_logits(pe, packed, x, levels, ds)

    vvp = out / "tb.vvp"
    params = {"NPIX": c * h * w, "NCLASSES": classes, "NLAYERS": nlayers, "LAYER_BITS": layer_bits,
              "CLASS_BITS": class_bits, "N_IMAGES": images}
    cmd = ["iverilog", "-g2005", "-o", str(vvp), "-s", "tb_engine_readme"]
    cmd += [f"-Ptb_engine_readme.{k}={v}" for k, v in params.items()]
    cmd += ["-DHAS_CONFIG"] if coded else []
    cmd += [str(BENCH), str(engine / "qsq_engine.v")]
    subprocess.run(cmd, check=True)
    args = ["vvp", "-n", str(vvp), f"+pixels={out / 'pixels.hex'}", f"+out={out / 'logits.txt'}",
            f"+seed={seed}"]
    args += [f"+trunc={out / 'trunc.hex'}"] if coded else []
    args += [f"+abort={abort}"] if abort is not None else []
    sim = subprocess.run(args, check=True, capture_output=True, text=True)
    rows, errors = parse_output(out / "logits.txt")

    mismatches = []
    for i in range(images):
        row = rows[i] if i < len(rows) else None
        want = [int(v) for v in expected[i]]
        want_cls = int(np.argmax(expected[i]))
        if row is None or row["logits"] != want or row["cls"] != want_cls:
            mismatches.append((i, row, want, want_cls))
    compute = sorted({r["compute"] for r in rows})
    inference = sorted({r["cycles"] for r in rows})     # README: manifest cycles.total - 1
    summary = {"pe": pe, "lanes": lanes, "images": images, "bench_errors": errors,
               "mismatches": len(mismatches), "rows": len(rows), "labels": ds.y_test[:images].tolist(),
               "classes": [r["cls"] for r in rows], "levels": levels,
               "compute_measured": compute, "compute_manifest": man["cycles"]["compute"],
               "cycles_measured": inference, "cycles_total_manifest": man["cycles"]["total"],
               "logits": [r["logits"] for r in rows], "expected": expected.tolist(),
               "reset_levels": list(reset_levels), "packed": packed,
               "ok": errors == 0 and not mismatches and len(rows) == images
               and inference == [man["cycles"]["total"] - 1]}
    if verbose:
        for line in sim.stdout.splitlines():
            if line.startswith(("FAIL", "tb_engine_readme")):
                print(line)
        for i, row, want, want_cls in mismatches:
            print(f"MISMATCH image {i}: engine {row} golden cls {want_cls} logits {want}")
        print(f"{pe} {lanes} lanes: {len(rows)}/{images} images, {len(mismatches)} mismatches, "
              f"{errors} bench errors; classes {summary['classes']} (labels {summary['labels']}); "
              f"compute cycles measured {compute}, manifest {summary['compute_manifest']}; "
              f"first pixel to done {inference} cycles, manifest total - 1 = "
              f"{man['cycles']['total'] - 1}"
              f" -> {'pass' if summary['ok'] else 'FAIL'}")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.engine_readme.run", description=__doc__.split("\n")[0])
    p.add_argument("--pe", choices=("bucket", "multiplier", "int8"), default="bucket")
    p.add_argument("--lanes", type=int, default=8)
    p.add_argument("--images", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--abort", type=int, default=1, help="image abandoned by a reset (-1: none)")
    p.add_argument("--trunc", default="0", help="qsq compile --trunc (the levels after reset)")
    p.add_argument("-o", "--out", type=Path, default=None)
    a = p.parse_args(argv)
    s = run(a.pe, a.lanes, a.images, a.seed, None if a.abort < 0 else a.abort, a.out, a.trunc)
    return 0 if s["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
