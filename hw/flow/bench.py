"""Time the report sweep serially and on a Dask LocalCluster (``python -m hw.flow.bench``).

Timing the whole sweep both ways would double ``make report``'s time, and a re-run reads the
cache; so this times a **fixed small sub-sweep**, with the cache off, once serially in one process
and once on a ``LocalCluster``: the same job mix as the full sweep (generic synthesis, activity,
iCE40 synthesis, nextpnr per seed) on a few 4x4 designs. It prints both wall times and their
ratio, checks that the two runs wrote identical result tables, and writes ``bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from golden_model.fileio import atomic_write_text

__all__ = ["bench_designs", "time_sweep", "main"]

#: The tables that must be identical between a serial and a cluster run.
TABLES = ("area.csv", "activity.csv", "error.csv", "points.csv")


def bench_designs():
    """The fixed sub-sweep: one design of each family on signed 4x4 operands."""
    from golden_model.config import MultiplierConfig

    from .designs import Design, csd_latency

    cfg = MultiplierConfig(4, True, 4, True)
    lat = csd_latency(cfg)
    return cfg, [Design("exact", cfg, (), lat), Design("tam", cfg, (("k", 2),), lat),
                 Design("csd", cfg, (("t", 1), ("gating", "enable")), lat),
                 Design("csdc", cfg, (("t", "runtime"), ("gating", "enable"), ("sign", "xor")),
                        lat)]


def time_sweep(out: Path, *, jobs: int, ops: int = 200, log=print) -> dict:
    """Run the sub-sweep serially and on a LocalCluster of ``jobs`` workers into ``out``."""
    from .options import FlowOptions
    from .report import run_report

    cfg, designs = bench_designs()
    times, folders = {}, {}
    for mode in ("serial", "cluster"):
        folder = Path(out) / mode
        shutil.rmtree(folder, ignore_errors=True)
        opts = FlowOptions(ops=ops, out=str(folder), use_cache=False, serial=mode == "serial",
                           jobs=jobs, stimuli=("uniform", "stream"), traces=None)
        t0 = time.perf_counter()
        run_report([cfg], opts, designs=designs, log=lambda s: None, progress_bar=False)
        times[mode] = time.perf_counter() - t0
        folders[mode] = folder
        log(f"  {mode:8s} {times[mode]:7.1f} s")
    same = all((folders["serial"] / t).read_bytes() == (folders["cluster"] / t).read_bytes()
               for t in TABLES)
    return {"designs": len(designs), "jobs": jobs, "ops": ops, "serial_s": times["serial"],
            "cluster_s": times["cluster"], "ratio": times["cluster"] / times["serial"],
            "identical": same}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hw.flow.bench", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="build/report-bench", help="scratch folder")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="LocalCluster worker processes (default: the number of cores)")
    args = p.parse_args(argv)
    from golden_model.config import check_int
    try:
        check_int("--jobs", args.jobs, 1, 256)
    except ValueError as exc:
        p.error(str(exc))
    cfg, designs = bench_designs()
    print(f"report sweep timing: fixed sub-sweep of {len(designs)} {cfg.tag()} designs, every "
          f"flow step, no cache; serially in one process vs a Dask LocalCluster of {args.jobs} "
          f"workers")
    res = time_sweep(Path(args.out), jobs=args.jobs)
    print(f"  LocalCluster / serial wall time: {res['ratio']:.2f} "
          f"({res['serial_s'] / res['cluster_s']:.2f}x speed-up on {os.cpu_count()} cores)")
    print(f"  result tables identical: {'yes' if res['identical'] else 'NO'}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.out) / "bench.json", json.dumps(res, indent=1) + "\n")
    return 0 if res["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
