"""Full simulation regression (``make sim``): every cocotb case, then a summary table.

Runs the cocotb cases of ``tests/test_hw_sim.py`` (CSD multiplier, core, decoder) and
``tests/test_flow_baselines_sim.py`` (compact CSD multiplier, baselines) and
``tests/test_engine_sim.py`` (inference engine) and ``tests/test_board_sim.py`` (the host protocol
against the UART-bridged engine) -- these two on Verilator unless ``$QSQ_ENGINE_SIM`` says
otherwise --, including the ``slow`` ones, on ``$SIM`` (or ``--sim``), and
``tests/test_bitstream_sim.py`` (a packed iCEBreaker bitstream read back and simulated in Icarus),
then prints the configuration, vectors, result, time and throughput of every case that ran and
writes ``build/sim/<SIM>/summary.md/.csv/.json``. Exit status is non-zero if any case failed.

    python -m sim.regress [--sim icarus|verilator] [--waves] [--fast] [-k EXPR] [-n JOBS]

The last line names the summary files, the per-configuration folders and the waveforms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from golden_model.tables import markdown_table, write_table

from .common import REPO, _int_type, _short, build_root, main_args, setup_simulator, sim_name

HEADERS = ["configuration", "simulator", "vectors", "result", "time (s)", "sim (s)",
           "vectors/s"]


#: pytest files whose cocotb runs make up the regression (each run writes a summary.json).
BENCH_TESTS = ("test_hw_sim.py", "test_flow_baselines_sim.py", "test_engine_sim.py",
               "test_board_sim.py", "test_bitstream_sim.py")


def main(argv=None) -> int:
    p = main_args(__doc__)
    p.add_argument("--fast", action="store_true", help="only the `make test` subset")
    p.add_argument("-k", default=None, metavar="EXPR",
                   help="pytest -k expression to select cases")
    p.add_argument("-n", "--jobs", type=_int_type(1, os.cpu_count() or 1), default=1,
                   metavar="N", help="parallel pytest workers (xdist), 1 to the CPU count")
    args = p.parse_args(argv)
    waves = args.waves or os.environ.get("WAVES", "0") not in ("", "0")
    try:
        sim = sim_name(args.sim)
        setup_simulator(sim)
    except (RuntimeError, ValueError) as exc:
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
    env = {**os.environ, "SIM": sim, "QSQ_REGRESS_ID": run_id, "WAVES": "1" if waves else "0"}
    rc = subprocess.call(cmd, cwd=REPO, env=env)
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
    if rc == 0 and not rows:
        print("sim: error: no simulation ran", file=sys.stderr)
        return 1
    if rows:
        outs = write_table(root / "summary", HEADERS, rows, title,
                           {"sim": sim, "wall_seconds": round(wall, 1), "pytest_rc": rc})
        wave_files = [s["waves"] for s in summaries if s.get("waves") and Path(s["waves"]).exists()]
        print(f"results: {', '.join(_short(str(o)) for o in outs)}; per configuration: "
              f"{_short(str(root))}/<configuration>/ (results.xml, sim.log, summary.json); "
              + (f"waves: {len(wave_files)} files, {_short(str(root))}/<configuration>/"
                 f"{'<module>.fst' if sim == 'icarus' else 'dump.vcd'}" if wave_files
                 else "waves: none (add --waves or WAVES=1)"))
    return rc if rc else (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
