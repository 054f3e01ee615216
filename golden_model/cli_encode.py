"""``qsq encode``: compress float weight arrays from a ``.npy``/``.npz`` file and report per layer."""

from __future__ import annotations

import argparse

HEADERS = ["layer", "shape", "weights", "bits", "vs FP32", "vs INT8", "zeros float", "zeros INT8",
           "zeros codes", "rel. L2 error", "SQNR dB"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode", help="encode float weights (.npy/.npz) to shift-and-scale codes; per-layer report",
        description="Encode every array of at least 2 dimensions (output channel first) in a .npy or "
                    ".npz file and print memory, sparsity and error per layer.")
    p.add_argument("weights", help=".npy file (one layer) or .npz file (one layer per array)")
    p.add_argument("--code-bits", type=int, default=3, help="2, 3 or 4 (default 3)")
    p.add_argument("--scale-bits", type=int, default=7, help="per-filter scale width (default 7)")
    p.add_argument("--out", metavar="PREFIX", help="also write PREFIX.md, PREFIX.csv and PREFIX.json")
    p.set_defaults(func=run)


def load_layers(path: str) -> dict:
    """Arrays of a ``.npy`` or ``.npz`` file by name; 1-D arrays (biases) are skipped."""
    import zipfile

    import numpy as np

    with open(path, "rb") as fh:
        try:
            data = np.load(fh, allow_pickle=False)
            if isinstance(data, np.ndarray):
                layers = {"weights": data}
            else:
                with data:
                    layers = {k: data[k] for k in data.files if data[k].ndim >= 2}
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
            raise ValueError(f"{path}: not a readable .npy/.npz file ({exc})") from None
    if not layers:
        raise ValueError(f"{path}: holds no array of at least 2 dimensions")
    return layers


def run(args) -> int:
    from .codec import encode_layer, layer_report
    from .config import CodecConfig
    from .tables import markdown_table, write_table

    cfg = CodecConfig(args.code_bits, args.scale_bits)
    rows, tot = [], dict(n=0, bits=0, fp=0, i8=0)
    for name, w in load_layers(args.weights).items():
        r = layer_report(w, encode_layer(w, cfg))
        rows.append([name, "x".join(map(str, w.shape)), r.weights, r.bits_total, r.saving_vs_fp32,
                     r.saving_vs_int8, r.zero_frac_float, r.zero_frac_int8, r.zero_frac_codes,
                     r.rel_l2_error, r.sqnr_db])
        tot["n"] += r.weights
        tot["bits"] += r.bits_total
        tot["fp"] += r.bits_fp32
        tot["i8"] += r.bits_int8
    rows.append(["total", "", tot["n"], tot["bits"], 1 - tot["bits"] / tot["fp"],
                 1 - tot["bits"] / tot["i8"], "", "", "", "", ""])
    title = f"{args.weights}: {cfg.code_bits}-bit codes, {cfg.scale_bits}-bit scales"
    print(title + "\n")
    print(markdown_table(HEADERS, rows))
    if args.out:
        for path in write_table(args.out, HEADERS, rows, title):
            print(f"wrote {path}")
    return 0
