"""``qsq metrics``: error metrics of the truncated-CSD product at every truncation level."""

from __future__ import annotations

import argparse
import time

HEADERS = ["t", "ER", "MAE", "MRED", "NMED", "WCE", "bias", "MSE", "active rows", "row cut"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "metrics", help="error-metric table of the truncated-CSD product for every truncation level",
        description="Error metrics (ER, MAE, MRED, NMED, WCE, bias, MSE) and mean active "
                    "partial-product rows of a*b_t for every truncation level t, over all operand "
                    "pairs (or --samples random pairs).")
    p.add_argument("--a-width", type=int, default=8, help="width of a, the activation (default 8)")
    p.add_argument("--b-width", type=int, default=8, help="width of b, the CSD-recoded weight (default 8)")
    p.add_argument("--a-signed", action="store_true", help="a is two's complement (default unsigned)")
    p.add_argument("--b-signed", action="store_true", help="b is two's complement (default unsigned)")
    p.add_argument("--samples", type=int, default=0,
                   help="evaluate this many uniform random pairs instead of all pairs "
                        "(needed when a_width + b_width > 28)")
    p.add_argument("--seed", type=int, default=1, help="seed for --samples (default 1)")
    p.add_argument("--out", metavar="PREFIX", help="also write PREFIX.md, PREFIX.csv and PREFIX.json")
    p.set_defaults(func=run)


def rows_for(rows) -> list[list]:
    return [[r.t, r.metrics.er, r.metrics.mae, r.metrics.mred, r.metrics.nmed, r.metrics.wce,
             r.metrics.bias, r.metrics.mse, r.mean_active_rows, r.row_reduction] for r in rows]


def run(args) -> int:
    import numpy as np

    from .config import MultiplierConfig, check_int
    from .metrics import truncation_table
    from .tables import markdown_table, write_table

    cfg = MultiplierConfig(args.a_width, args.a_signed, args.b_width, args.b_signed)
    start = time.perf_counter()
    if args.samples:
        n = check_int("--samples", args.samples, 1, 100_000_000)
        rng = np.random.default_rng(args.seed)
        a = rng.integers(cfg.a.min, cfg.a.max + 1, n)
        b = rng.integers(cfg.b.min, cfg.b.max + 1, n)
        rows = truncation_table(cfg, a, b)
        how = f"{n} uniform random pairs (seed {args.seed})"
    else:
        rows = truncation_table(cfg)
        how = f"all {cfg.a.count * cfg.b.count} pairs"
    elapsed = time.perf_counter() - start
    title = f"Truncated-CSD product error, {cfg.describe()}, {how}"
    table = rows_for(rows)
    print(title + "\n")
    print(markdown_table(HEADERS, table))
    print(f"({len(rows)} levels in {elapsed:.3f} s)")
    if args.out:
        meta = {"config": cfg.tag(), "a_width": cfg.a_width, "a_signed": cfg.a_signed,
                "b_width": cfg.b_width, "b_signed": cfg.b_signed, "operands": how}
        for path in write_table(args.out, HEADERS, table, title, meta):
            print(f"wrote {path}")
    return 0
