"""``qsq report``: synthesis, timing and switching-activity report of the multipliers."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="synthesis, timing and switching-activity report (build/report/)",
        description="Generate every design of the sweep (CSD multiplier at every truncation level "
                    "and gating style, exact and approximate-array baselines, decoder), synthesize "
                    "it with Yosys (generic gates and iCE40), place and route on the iCE40 UP5K "
                    "with several seeds, simulate the gate-level netlist for switching activity, "
                    "and write tables, plots and index.md, which opens with which multiplier to "
                    "pick. The independent jobs run on a Dask LocalCluster (or the cluster of "
                    "--scheduler); results are cached per job.")
    p.add_argument("--config", action="append", metavar="TAG",
                   help="operand configuration [su]<a width>x[su]<b width>, repeatable "
                        "(default: s8xs8 and u8xs8)")
    p.add_argument("-o", "--out", default="build/report", help="output folder (default build/report)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="worker processes of the Dask LocalCluster (default: the number of "
                        "cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run the jobs on the Dask cluster of this scheduler (e.g. "
                        "tcp://host:8786) instead of a LocalCluster; its workers need qsq "
                        "installed and the output folder on a shared file system")
    p.add_argument("--serial", action="store_true",
                   help="run the jobs one after another in this process (no Dask)")
    p.add_argument("--ops", type=int, default=1000,
                   help="operations per stimulus segment in the activity simulation (default 1000)")
    p.add_argument("--seed", type=int, default=1,
                   help="stimulus seed and first placement seed (default 1)")
    p.add_argument("--pnr-seeds", type=int, default=3,
                   help="nextpnr placement seeds per design, fmax is their median (default 3, "
                        "at least 3)")
    p.add_argument("--pnr-timeout", type=float, default=180.0, metavar="SECONDS",
                   help="cap of one nextpnr run (default 180 s); a run is stopped at "
                        "min(cap, max(60 s, 5x the median time of the finished seeds of the same "
                        "design)) and replaced by the next seed, and the report says so")
    p.add_argument("--stimuli", default="uniform,stream,ws",
                   help="comma-separated stimulus sets (default uniform,stream,ws; trace sets are "
                        "added when the trace archive exists)")
    p.add_argument("--traces", default=None,
                   help="network trace archive (default build/eval/traces.npz, used when it "
                        "exists; a file named here must exist)")
    p.add_argument("--variants", default="csd,csdc-xor",
                   help="CSD multiplier variants: csd (hw/csd_multiplier.py), csdc-xor, csdc-split "
                        "(hw/csd_compact.py); default csd,csdc-xor")
    p.add_argument("--budgets", default="0,0.05",
                   help="MRED budgets of the headline, comma-separated (default 0,0.05; 0 = exact "
                        "products)")
    p.add_argument("--quick", action="store_true",
                   help="a few levels per family only (smoke test)")
    p.add_argument("--no-pnr", action="store_true", help="skip nextpnr (no fmax)")
    p.add_argument("--no-ice40", action="store_true", help="skip the iCE40 flow entirely")
    p.add_argument("--no-activity", action="store_true", help="skip the gate-level simulations")
    p.add_argument("--dsp", action="store_true", help="let synth_ice40 use the UP5K DSP blocks")
    p.add_argument("--no-cache", action="store_true", help="recompute every design")
    p.set_defaults(func=run)
    _register_engine(sub)


def _register_engine(sub: argparse._SubParsersAction) -> None:
    from .engine_designs import BOARDS, ECP5_DEVICES

    p = sub.add_parser(
        "report-engine", help="inference engine on the FPGAs and energy per inference "
                              "(build/report/engine/)",
        description="Synthesize the inference engine for the iCE40 UP5K and the ULX3S ECP5 in "
                    "every PE style (INT8 with hard multipliers and LUT-only), place and route "
                    "it with several seeds, search the largest lane count that fits each board, "
                    "simulate the generic-gate netlist over test images at several truncation "
                    "levels for the energy per inference, and write build/report/engine/ plus "
                    "the headline section of build/report/index.md. Results are cached per job.")
    p.add_argument("-o", "--out", default="build/report", help="report folder (default build/report)")
    p.add_argument("--workload", default="digits", help="network and images (default digits)")
    p.add_argument("--lanes", type=int, default=16, help="engine lanes (default 16)")
    p.add_argument("--images", type=int, default=16,
                   help="test images per truncation setting in the energy runs (default 16)")
    p.add_argument("--pe", default="bucket,multiplier-filter,int8",
                   help="PE styles to build and measure, comma-separated, among bucket, "
                        "bucket-serial, multiplier-filter, multiplier-operation, int8 (default "
                        "bucket,multiplier-filter,int8)")
    p.add_argument("--mem-model", default="sqrt", choices=("sqrt", "flat"),
                   help="SRAM energy per bit: growing as the square root of the memory's size "
                        "(default), or the 8 KB figure for every memory")
    p.add_argument("--levels", default="0,2,4",
                   help="uniform truncation levels of the energy runs, comma-separated "
                        "(default 0,2,4; the recommended per-layer levels are added)")
    p.add_argument("--boards", default=",".join(BOARDS),
                   help=f"boards, comma-separated (default {','.join(BOARDS)})")
    p.add_argument("--ecp5-device", default="85k", choices=sorted(ECP5_DEVICES),
                   help="ULX3S ECP5 part (default 85k)")
    p.add_argument("--pnr-seeds", default="3",
                   help="nextpnr placement seeds per build, fmax is their median: N, or per "
                        "board BOARD=N,... (default 3)")
    p.add_argument("--seed", type=int, default=1, help="first placement seed (default 1)")
    p.add_argument("--pnr-timeout", type=float, default=1800.0, metavar="SECONDS",
                   help="cap of one nextpnr run (default 1800 s, the first seed of a build); "
                        "later seeds are stopped at max(60 s, 5x the median time of the finished "
                        "seeds of the same build); a stopped run is replaced by the next seed")
    p.add_argument("--jobs", type=int, default=1,
                   help="Dask LocalCluster worker processes (default 1: serially in this "
                        "process)")
    p.add_argument("--no-energy", action="store_true", help="skip the gate-level energy runs")
    p.add_argument("--no-lane-search", action="store_true", help="skip the lane searches")
    p.add_argument("--no-lenet5", action="store_true", help="skip the LeNet-5 fit check")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the energy runs of the engines as first built (before/after table)")
    p.add_argument("--no-reuse", action="store_true",
                   help="skip the energy runs of the engines with weight reuse")
    p.add_argument("--no-cache", action="store_true", help="recompute every job")
    p.add_argument("--quick", action="store_true",
                   help=f"a quick run, labelled so in its output (what `make` runs): "
                        f"{QUICK_TEXT}; options given explicitly win")
    p.set_defaults(func=run_engine, parser=p)

    p = sub.add_parser(
        "readme-engine", help="copy the engine report's headline and targets into the README",
        description="Replace the block between <!-- engine-readme:begin --> and "
                    "<!-- engine-readme:end --> of the README with the headline and design "
                    "targets of a finished (not --quick) `qsq report-engine` run, naming the "
                    "command that measured them.")
    p.add_argument("--report", default="build/report",
                   help="the report folder of qsq report-engine -o (default build/report)")
    p.add_argument("--readme", default="README.md", help="file to update (default README.md)")
    p.set_defaults(func=run_readme_engine)


#: ``report-engine --quick``: option -> value, applied where the option keeps its default.
QUICK_ENGINE = {"boards": "up5k", "pe": "bucket,int8", "pnr_seeds": "1", "images": 2,
                "levels": "0", "no_lane_search": True, "no_lenet5": True, "no_baseline": True,
                "no_reuse": True}
QUICK_TEXT = ("--boards up5k --pe bucket,int8 --pnr-seeds 1 --images 2 --levels 0 "
              "--no-lane-search --no-lenet5 --no-baseline --no-reuse")


def _apply_quick(p: argparse.ArgumentParser, args) -> None:
    for dest, value in QUICK_ENGINE.items():
        if getattr(args, dest) == p.get_default(dest):
            setattr(args, dest, value)


def _int_list(name: str, text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{name} must be comma-separated integers, not {text!r}") from None


def _seeds(text: str, boards: tuple) -> dict:
    """``3`` -> every board 3 seeds; ``up5k=3,ecp5=1`` -> per board (each named board)."""
    from golden_model.config import check_int

    if "=" not in text:
        n = _int_list("--pnr-seeds", text)
        if len(n) != 1:
            raise ValueError(f"--pnr-seeds must be N or BOARD=N,..., not {text!r}")
        check_int("--pnr-seeds", n[0], 1, 64)
        return {b: n[0] for b in boards}
    out = {}
    for part in text.split(","):
        b, _, n = part.partition("=")
        if b not in boards:
            raise ValueError(f"--pnr-seeds must name boards among {', '.join(boards)}, "
                             f"not {b!r}")
        out[b] = _int_list("--pnr-seeds", n)[0] if n.strip() else None
        check_int("--pnr-seeds", out[b], 1, 64)
    missing = [b for b in boards if b not in out]
    if missing:
        raise ValueError(f"--pnr-seeds must give every board a count, not {text!r} "
                         f"(missing {', '.join(missing)})")
    return out


def run_engine(args) -> int:
    from golden_model.config import check_int

    from .engine_designs import EngineOptions
    from .engine_report import run_engine_report

    from golden_model.fileio import check_output_dir

    check_output_dir(args.out, "-o/--out")
    if args.quick:
        _apply_quick(args.parser, args)
    boards = tuple(b for b in args.boards.split(",") if b)
    seeds = _seeds(args.pnr_seeds, boards)
    check_int("--jobs", args.jobs, 1, 256)
    check_int("--seed", args.seed, 0, 2**31 - 1)
    opts = EngineOptions(workload=args.workload, lanes=args.lanes, images=args.images,
                         levels=_int_list("--levels", args.levels),
                         boards=boards,
                         ecp5_device=args.ecp5_device, energy=not args.no_energy,
                         lenet5=not args.no_lenet5, mem_model=args.mem_model,
                         styles=tuple(v for v in args.pe.split(",") if v),
                         baseline=not args.no_baseline, reuse=not args.no_reuse)
    run_engine_report(opts, args.out, pnr_seeds=seeds, seed=args.seed, jobs=args.jobs,
                      use_cache=not args.no_cache, lane_search=not args.no_lane_search,
                      pnr_timeout=args.pnr_timeout, quick=args.quick,
                      command=" ".join(["qsq", *map(shlex.quote, sys.argv[1:])]))
    return 0


def run_readme_engine(args) -> int:
    from .engine_report import update_readme

    update_readme(Path(args.readme), Path(args.report))
    print(f"qsq readme-engine: {args.readme}: engine results from {args.report}/engine/")
    return 0


def _budgets(text: str) -> tuple[float, ...]:
    out = []
    for part in text.split(","):
        try:
            b = float(part)
        except ValueError:
            raise ValueError(f"--budgets must be comma-separated MRED values in [0, 1], "
                             f"not {text!r}") from None
        if not 0 <= b <= 1:
            raise ValueError(f"--budgets must be MRED values in [0, 1], not {part!r}")
        out.append(b)
    return tuple(out)


def run(args) -> int:
    from golden_model.fileio import check_output_dir

    from .designs import VARIANTS
    from .options import FlowOptions, parse_config_tag
    from .report import run_report

    check_output_dir(args.out, "-o/--out")
    configs = [parse_config_tag(t) for t in (args.config or ["s8xs8", "u8xs8"])]
    variants = tuple(v for v in args.variants.split(",") if v)
    if not variants:
        raise ValueError(f"--variants must name variants among {', '.join(VARIANTS)}, "
                         f"not {args.variants!r}")
    stimuli = tuple(s for s in args.stimuli.split(",") if s)
    if not stimuli:
        raise ValueError(f"--stimuli must name at least one stimulus set, not {args.stimuli!r}")
    opts = FlowOptions(ops=args.ops, seed=args.seed, pnr_seeds=args.pnr_seeds, stimuli=stimuli,
                       pnr=not (args.no_pnr or args.no_ice40), ice40=not args.no_ice40,
                       activity=not args.no_activity, dsp=args.dsp, traces=args.traces,
                       out=args.out, use_cache=not args.no_cache, serial=args.serial,
                       jobs=args.jobs, scheduler=args.scheduler, pnr_timeout=args.pnr_timeout)
    try:
        run_report(configs, opts, quick=args.quick, variants=variants,
                   budgets=_budgets(args.budgets))
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None
    return 0
