"""cocotb testbench of ``csd_multiplier_core`` (:class:`hw.csd_multiplier.CSDMultiplierCore`),
the combinational truncated-CSD multiplier.

Drives one operation per nanosecond (operands and, for runtime truncation, the level), samples
``p`` 1 ns later and compares every product with :func:`golden_model.csd.csd_product` in bulk.
Vector sets as in :mod:`sim.tb_csd_multiplier` (``exhaustive``, ``pairs``, ``random``).

Run on its own: ``python -m sim.tb_csd_multiplier_core --help``.
"""

from __future__ import annotations

import time

import numpy as np

try:
    import cocotb
    from cocotb.triggers import Timer
except ImportError:
    cocotb = None

from golden_model.config import MultiplierConfig
from golden_model.csd import csd_product

from .tb_csd_multiplier import _signed, check_run, describe_vectors, fast_reader, make_vectors

MODULE = "csd_multiplier_core"


if cocotb is not None:
    @cocotb.test()
    async def core_matches_golden(dut):
        """Every product equals the golden truncated-CSD product."""
        from pathlib import Path

        from sim.common import bench_config, write_json

        cfgd = bench_config()
        cfg = MultiplierConfig(cfgd["a_width"], cfgd["a_signed"], cfgd["b_width"], cfgd["b_signed"])
        truncation = cfgd["truncation"]
        a, b, t, _ = make_vectors(cfg, truncation, cfgd["mode"], cfgd["count"], cfgd["seed"], 0.0,
                                  cfgd.get("corners", True))
        n = a.size
        a_drive = (a & ((1 << cfg.a_width) - 1)).tolist()
        b_drive = (b & ((1 << cfg.b_width) - 1)).tolist()
        t_drive = t.tolist()
        a_h, b_h = dut.a, dut.b
        t_h = dut.trunc if truncation == "runtime" else None
        read_p = fast_reader(dut.p)
        got = [0] * n
        step = Timer(1, unit="ns")
        start = time.perf_counter()
        for k in range(n):
            a_h.value = a_drive[k]
            b_h.value = b_drive[k]
            if t_h is not None:
                t_h.value = t_drive[k]
            await step
            got[k] = read_p()
        seconds = time.perf_counter() - start
        write_json(Path(cfgd["out_dir"]) / "bench.json",
                   {"vectors": n, "seconds": round(seconds, 3),
                    "vectors_per_s": round(n / seconds, 1)})
        p = _signed(np.array(got), cfg.p_width) if cfg.p_signed else np.array(got)
        exp = csd_product(a, b, cfg, t)
        bad = np.flatnonzero(p != exp)
        if bad.size:
            k = bad[0]
            raise AssertionError(f"{bad.size} of {n} products differ; first: a={a[k]} b={b[k]} "
                                 f"t={t[k]}: got {p[k]}, expected {exp[k]}")
        dut._log.info("%d operations in %.3f s (%.0f vectors/s)", n, seconds, n / seconds)


def run(a_width: int = 8, a_signed: bool = True, b_width: int = 8, b_signed: bool = True,
        truncation="runtime", mode: str = "pairs", count: int = 2000, seed: int = 1,
        sim: str | None = None, waves: bool | None = None, corners: bool = True) -> dict:
    """Build ``csd_multiplier_core`` with these parameters and run the bench; return its summary."""
    from hw.csd_multiplier import CSDMultiplierCore

    from hw._component import not_elaborated

    from .common import run_bench

    params = dict(a_width=a_width, a_signed=a_signed, b_width=b_width, b_signed=b_signed,
                  truncation=truncation)
    dut = CSDMultiplierCore(**params)
    not_elaborated(dut)
    check_run(dut.config, truncation, mode, count, seed, 0.0, corners)
    tt = "rt" if truncation == "runtime" else f"t{truncation}"
    n = f"{count}{'' if corners else 'nc'}" if mode == "random" else ""
    return run_bench(module_name=MODULE, params=params,
                     tag=f"{MODULE}_{dut.config.tag()}_{tt}_{mode}{n}_s{seed}",
                     test_module="sim.tb_csd_multiplier_core",
                     bench=dict(params, mode=mode, count=count, seed=seed, corners=corners),
                     sim=sim, waves=waves)


def main(argv=None) -> int:
    from hw._component import not_elaborated
    from hw.csd_multiplier import CSDMultiplierCore

    from .common import (add_operand_args, add_truncation_arg, add_vector_args, checked,
                         main_args, run_main)
    p = main_args(__doc__)
    add_operand_args(p)
    add_truncation_arg(p)
    add_vector_args(p, corners=True)
    args = p.parse_args(argv)
    params = dict(a_width=args.a_width, a_signed=args.a_signed, b_width=args.b_width,
                  b_signed=args.b_signed, truncation=args.truncation)
    dut = checked(p, CSDMultiplierCore, **params)
    not_elaborated(dut)
    checked(p, check_run, dut.config, args.truncation, args.mode, args.count, args.seed, 0.0,
            args.corners)
    print(describe_vectors(dut.config, args.truncation, args.mode, args.count, args.corners),
          flush=True)
    return run_main(p, run, **params, mode=args.mode, count=args.count, seed=args.seed,
                    sim=args.sim, waves=args.waves or None, corners=args.corners)


if __name__ == "__main__":
    raise SystemExit(main())
