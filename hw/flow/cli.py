"""``qsq report``: synthesis, timing and switching-activity report of the multipliers."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="synthesis, timing and switching-activity report (build/report/)",
        description="Generate every design of the sweep (CSD multiplier at every truncation level "
                    "and gating style, exact and approximate-array baselines, decoder), synthesize "
                    "it with Yosys (generic gates and iCE40), place and route on the iCE40 UP5K, "
                    "simulate the gate-level netlist for switching activity, and write tables, "
                    "plots and index.md. Results are cached per design.")
    p.add_argument("--config", action="append", metavar="TAG",
                   help="operand configuration [su]<a width>x[su]<b width>, repeatable "
                        "(default: s8xs8 and u8xs8)")
    p.add_argument("--out", default="build/report", help="output folder (default build/report)")
    p.add_argument("--jobs", type=int, default=2, help="parallel worker processes (default 2)")
    p.add_argument("--ops", type=int, default=1000,
                   help="operations per stimulus segment in the activity simulation (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="stimulus and placement seed (default 1)")
    p.add_argument("--stimuli", default="uniform,stream,ws",
                   help="comma-separated stimulus sets (default uniform,stream,ws; trace sets are "
                        "added when build/eval/traces.npz exists)")
    p.add_argument("--traces", default=None, help="network trace archive (default build/eval/traces.npz)")
    p.add_argument("--variants", default="csd,csdc-xor",
                   help="CSD multiplier variants: csd (hw/csd_multiplier.py), csdc-xor, csdc-split "
                        "(hw/csd_compact.py); default csd,csdc-xor")
    p.add_argument("--quick", action="store_true",
                   help="a few levels per family only (smoke test)")
    p.add_argument("--no-pnr", action="store_true", help="skip nextpnr (no fmax)")
    p.add_argument("--no-ice40", action="store_true", help="skip the iCE40 flow entirely")
    p.add_argument("--no-activity", action="store_true", help="skip the gate-level simulations")
    p.add_argument("--dsp", action="store_true", help="let synth_ice40 use the UP5K DSP blocks")
    p.add_argument("--no-cache", action="store_true", help="recompute every design")
    p.set_defaults(func=run)


def run(args) -> int:
    from golden_model.config import check_int

    from .report import FlowOptions, parse_config_tag, run_report
    from .stimuli import STIMULI

    from .designs import VARIANTS

    configs = [parse_config_tag(t) for t in (args.config or ["s8xs8", "u8xs8"])]
    for v in args.variants.split(","):
        if v not in VARIANTS:
            raise ValueError(f"--variants must name variants among {', '.join(VARIANTS)}, not {v!r}")
    stimuli = tuple(s for s in args.stimuli.split(",") if s)
    for s in stimuli:
        if s not in STIMULI + ("trace-stream", "trace-ws"):
            raise ValueError(f"--stimuli must name sets among {', '.join(STIMULI)}, not {s!r}")
    opts = FlowOptions(ops=check_int("--ops", args.ops, 16, 1_000_000),
                       seed=check_int("--seed", args.seed, 0, 2**31 - 1),
                       stimuli=stimuli, pnr=not (args.no_pnr or args.no_ice40),
                       ice40=not args.no_ice40, activity=not args.no_activity, dsp=args.dsp,
                       traces=args.traces, jobs=check_int("--jobs", args.jobs, 1, 64),
                       out=args.out, use_cache=not args.no_cache)
    try:
        run_report(configs, opts, quick=args.quick,
                   variants=tuple(v for v in args.variants.split(",") if v))
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None
    return 0
