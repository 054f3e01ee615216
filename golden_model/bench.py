"""``make bench``: time the golden model's hot paths (prints measured wall-clock times).

Times vary with machine load; compare them only within one run.
"""

from __future__ import annotations

import time

import numpy as np

from .codec import decode, encode_layer
from .config import CodecConfig, MultiplierConfig
from .csd import csd_digits, product_table
from .metrics import truncation_table


def _best(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    s8 = MultiplierConfig(8, True, 8, True)
    u8s8 = MultiplierConfig(8, False, 8, True)
    vals = rng.integers(-(1 << 15), 1 << 15, 1_000_000)
    codes = rng.integers(0, 8, 1_000_000)
    cases = [
        ("exhaustive 8x8 signed metrics, all 9 levels (65,536 pairs each)",
         lambda: truncation_table(s8)),
        ("exhaustive 8x8 unsigned x signed metrics, all 9 levels", lambda: truncation_table(u8s8)),
        ("product tables, 8x8 signed, all 9 levels", lambda: [product_table(s8, t) for t in range(9)]),
        ("CSD recoding of 1,000,000 signed 16-bit values",
         lambda: csd_digits(vals, MultiplierConfig(8, True, 16, True).b)),
        ("decode 1,000,000 3-bit codes", lambda: decode(codes, 100, CodecConfig())),
        ("encode a 120x400 FC layer (127 scales searched per filter)",
         lambda: encode_layer(rng.normal(0, 0.1, (120, 400)))),
        ("encode a 16x6x5x5 conv layer", lambda: encode_layer(rng.normal(0, 0.1, (16, 6, 5, 5)))),
    ]
    print("golden-model benchmark (best of 5, wall clock)")
    for name, fn in cases:
        print(f"  {_best(fn) * 1e3:9.2f} ms  {name}")


if __name__ == "__main__":
    main()
