"""``qsq metrics``: error metrics of the truncated-CSD product at every truncation level."""

from __future__ import annotations

import argparse
import time

from .metrics import EXHAUSTIVE_MAX_BITS

#: Largest ``--samples``.
MAX_SAMPLES = 100_000_000

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
    p.add_argument("--samples", type=int, metavar="N",
                   help=f"evaluate N >= 1 uniform random pairs instead of all pairs (needed when "
                        f"a_width + b_width > {EXHAUSTIVE_MAX_BITS})")
    p.add_argument("--seed", type=int, help="seed of --samples (default 1; only with --samples)")
    p.add_argument("-o", "--out", metavar="PREFIX", help="also write PREFIX.md, PREFIX.csv and PREFIX.json")
    p.set_defaults(func=run)


def rows_for(rows) -> list[list]:
    return [[r.t, r.metrics.er, r.metrics.mae, r.metrics.mred, r.metrics.nmed, r.metrics.wce,
             r.metrics.bias, r.metrics.mse, r.mean_active_rows, r.row_reduction] for r in rows]


def check_args(args) -> None:
    """Every option checked before any work; errors name the option (``--a-width``, ...)."""
    from .config import MAX_OPERAND_WIDTH, check_int
    from .fileio import check_output_path

    check_int("--a-width", args.a_width, 1, MAX_OPERAND_WIDTH)
    check_int("--b-width", args.b_width, 1, MAX_OPERAND_WIDTH)
    if args.samples is None:
        if args.seed is not None:
            raise ValueError(f"--seed only applies to --samples (random pairs); without --samples "
                             f"every pair is evaluated, so drop --seed {args.seed}")
        bits = args.a_width + args.b_width
        if bits > EXHAUSTIVE_MAX_BITS:
            raise ValueError(f"--a-width + --b-width must be at most {EXHAUSTIVE_MAX_BITS} for an "
                             f"exhaustive evaluation, not {bits}; pass --samples N to evaluate N "
                             f"random pairs instead")
    else:
        check_int("--samples", args.samples, 1, MAX_SAMPLES)
        if args.seed is not None:
            check_int("--seed", args.seed, 0, 2**32 - 1)
    if args.out:
        for suffix in (".json", ".md", ".csv"):
            check_output_path(args.out + suffix, "-o/--out")


def run(args) -> int:
    import numpy as np

    from .config import MultiplierConfig
    from .metrics import truncation_table
    from .tables import markdown_table, write_table

    check_args(args)
    cfg = MultiplierConfig(args.a_width, args.a_signed, args.b_width, args.b_signed)
    start = time.perf_counter()
    if args.samples is not None:
        n = args.samples
        seed = 1 if args.seed is None else args.seed
        rng = np.random.default_rng(seed)
        a = rng.integers(cfg.a.min, cfg.a.max + 1, n)
        b = rng.integers(cfg.b.min, cfg.b.max + 1, n)
        rows = truncation_table(cfg, a, b)
        how = f"{n} uniform random pairs (seed {seed})"
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
