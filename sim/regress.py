"""Full simulation regression (``make sim``): every cocotb case, then a summary table.

Runs the cocotb cases of ``tests/test_hw_sim.py`` (CSD multiplier, core, decoder) and
``tests/test_flow_baselines_sim.py`` (compact CSD multiplier, baselines) and
``tests/test_engine_sim.py`` (inference engine; on Verilator unless ``$QSQ_ENGINE_SIM`` says
otherwise), including the ``slow`` ones, on ``$SIM`` (or ``--sim``),
then prints the configuration, vectors, result, time and throughput of every case that ran and
writes ``build/sim/<SIM>/summary.md/.csv/.json``. Exit status is non-zero if any case failed.

    python -m sim.regress [--sim icarus|verilator] [--fast] [-k EXPR] [-n JOBS]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from golden_model.tables import markdown_table, write_table

from .common import REPO, build_root, setup_simulator, sim_name

HEADERS = ["configuration", "simulator", "vectors", "result", "time (s)", "sim (s)",
           "vectors/s"]


#: pytest files whose cocotb runs make up the regression (each run writes a summary.json).
BENCH_TESTS = ("test_hw_sim.py", "test_flow_baselines_sim.py", "test_engine_sim.py")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sim", default=None, help="icarus or verilator (default: $SIM or icarus)")
    p.add_argument("--fast", action="store_true", help="only the `make test` subset")
    p.add_argument("-k", default=None, help="pytest -k expression to select cases")
    p.add_argument("-n", "--jobs", type=int, default=1, help="parallel pytest workers (xdist)")
    args = p.parse_args(argv)
    sim = sim_name(args.sim)
    try:
        setup_simulator(sim)
    except RuntimeError as exc:
        print(f"sim: error: {exc}", file=sys.stderr)
        return 2
    start = time.time()
    cmd = [sys.executable, "-m", "pytest", *(str(REPO / "tests" / f) for f in BENCH_TESTS), "-v",
           "-m", "not slow" if args.fast else ""]
    # The bench self-test simulates a deliberately wrong model: its failing run is not a result.
    select = "not detects_a_wrong_model and not detects_a_wrong_engine"
    cmd += ["-k", f"({args.k}) and {select}" if args.k else select]
    if args.jobs > 1:
        cmd += ["-n", str(args.jobs)]
    print(f"sim: {' '.join(cmd)}  (SIM={sim})", flush=True)
    run_id = f"{os.getpid()}-{start:.3f}"  # tags this run's summaries (not concurrent manual runs)
    rc = subprocess.call(cmd, cwd=REPO, env={**os.environ, "SIM": sim, "QSQ_REGRESS_ID": run_id})
    wall = time.time() - start

    root = build_root(sim)
    # The engine benches run on their own simulator (Verilator unless $QSQ_ENGINE_SIM says).
    from .tb_engine import engine_sim
    roots = sorted({root, build_root(engine_sim())})
    rows, summaries = [], []
    for path in sorted(p for r in roots for p in r.glob("*/summary.json")):
        if path.stat().st_mtime < start:
            continue
        s = json.loads(path.read_text())
        if s.get("run_id") != run_id:
            continue
        summaries.append(s)
        rows.append([s["tag"], s["sim"], s["vectors"], s["result"], s["total_seconds"],
                     s["sim_seconds"], s["vectors_per_s"]])
    total_vec = sum(s["vectors"] for s in summaries)
    failed = [s["tag"] for s in summaries if s["result"] != "pass"]
    title = f"Simulation regression on {sim}: {len(rows)} configurations, {total_vec} vectors"
    print()
    print(title + "\n")
    print(markdown_table(HEADERS, rows))
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed; {total_vec} vectors in "
          f"{wall:.1f} s wall time (pytest exit status {rc})")
    if rows:
        for out in write_table(root / "summary", HEADERS, rows, title,
                               {"sim": sim, "wall_seconds": round(wall, 1), "pytest_rc": rc}):
            print(f"wrote {out}")
    if rc == 0 and not rows:
        print("sim: error: no simulation ran", file=sys.stderr)
        return 1
    return rc if rc else (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
