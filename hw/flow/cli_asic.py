"""``qsq asic``: the multipliers of the report sweep on the OSU 0.18 um standard cells."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "asic", help="area, timing and power in real units on the OSU 0.18 um cells "
                            "(build/report/asic/)",
        description="Map every multiplier of the report sweep to the OSU 0.18 um standard cells "
                    "(Debian qflow-tech-osu018) with Yosys, time it with OpenSTA (Debian "
                    "opensta: fmax, critical path), simulate the mapped netlist with the cell "
                    "models on the report's stimulus sets (products checked against the golden "
                    "model; zero delay and with the cells' delays, for glitches), and write "
                    "area (um^2), fmax (MHz), power (mW) and energy per operation (pJ) from the "
                    "liberty tables to index.md, area.csv and power.csv (build/report/asic/). "
                    "Results are cached per "
                    "design.")
    p.add_argument("--config", action="append", metavar="TAG",
                   help="operand configuration [su]<a width>x[su]<b width>, repeatable "
                        "(default: s8xs8 and u8xs8)")
    p.add_argument("-o", "--out", default="build/report/asic",
                   help="output folder (default build/report/asic)")
    p.add_argument("--variants", default="csd,csdc-xor",
                   help="CSD multiplier variants, as in qsq report (default csd,csdc-xor)")
    p.add_argument("--quick", action="store_true",
                   help="a few levels per family only, as qsq report --quick")
    p.add_argument("--designs", default=None, metavar="KEY,...",
                   help="only these designs of the sweep (keys as in the report, e.g. "
                        "s8xs8-exact,s8xs8-csdcx-t0-icg; 'none': the engines of --engine only)")
    p.add_argument("--ops", type=int, default=1000,
                   help="operations per stimulus segment (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="stimulus seed (default 1)")
    p.add_argument("--stimuli", default="uniform,stream,ws",
                   help="comma-separated stimulus sets (default uniform,stream,ws; trace-stream, "
                        "trace-ws need --traces)")
    p.add_argument("--traces", default=None, help="network trace archive for the trace sets")
    p.add_argument("--clock-mhz", type=float, default=100.0,
                   help="common clock of the power table, MHz (default 100)")
    p.add_argument("--no-glitch", action="store_true",
                   help="skip the timed (glitch) simulations")
    p.add_argument("--jobs", type=int, default=1,
                   help="designs measured in parallel (default 1)")
    p.add_argument("--proxy", default=None, metavar="ACTIVITY_JSON",
                   help="activity.json of qsq report, for the rank cross-check of its power "
                        "proxy against the liberty power (default build/report/activity.json "
                        "when it exists; a file named here must exist)")
    p.add_argument("--engine", default="", metavar="STYLE,...",
                   help="also the inference engine of the digits LeNet in these PE styles "
                        "(bucket, bucket-serial, multiplier-filter, multiplier-operation, int8; "
                        "default none)")
    p.add_argument("--engine-lanes", type=int, default=4, help="engine lanes (default 4)")
    p.add_argument("--engine-images", type=int, default=1,
                   help="test images per engine run (default 1)")
    p.add_argument("--engine-levels", default="0",
                   help="uniform truncation levels of the coded engines, comma-separated "
                        "(default 0)")
    p.add_argument("--engine-glitch", default="", metavar="STYLE,...",
                   help="engines of --engine also simulated with the cells' delays (glitches; "
                        "slow: several times the zero-delay run)")
    p.add_argument("--sram-table", default=None, metavar="CSV",
                   help="your SRAM macro figures for the engine's memories: CSV "
                        "memory,read_pj_per_bit,write_pj_per_bit,um2_per_bit (a row per memory "
                        "name or '*'); default: the GF180MCU gf180mcu_fd_ip_sram macros")
    p.add_argument("--no-cache", action="store_true", help="recompute every design")
    p.set_defaults(func=run)


def select_designs(configs, variants, quick: bool, keys: str | None):
    """The multipliers of the report sweep for ``configs``, optionally only ``keys``.

    Raises
    ------
    ValueError
        For a variant or design key that is not in the sweep.
    """
    from .designs import VARIANTS
    from .report import sweep_designs

    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"--variants must name variants among {', '.join(VARIANTS)}, "
                             f"not {v!r}")
    designs = [d for d in sweep_designs(configs, quick=quick, variants=variants)
               if d.is_multiplier]
    if keys == "none":              # the engines only
        return []
    if keys is not None:
        wanted = [k for k in keys.split(",") if k]
        known = {d.key: d for d in designs}
        unknown = [k for k in wanted if k not in known]
        if unknown or not wanted:
            raise ValueError(f"--designs must name designs of the sweep (e.g. "
                             f"{', '.join(list(known)[:3])}), not {keys!r}")
        designs = [known[k] for k in wanted]
    return designs


def _levels(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"--engine-levels must be comma-separated integers, not {text!r}") \
            from None


def run(args) -> int:
    from golden_model.fileio import check_output_dir

    from .asic_report import AsicOptions, run_asic
    from .options import parse_config_tag

    check_output_dir(args.out, "-o/--out")
    configs = [parse_config_tag(t) for t in (args.config or ["s8xs8", "u8xs8"])]
    variants = tuple(v for v in args.variants.split(",") if v)
    designs = select_designs(configs, variants, args.quick, args.designs)
    opts = AsicOptions(ops=args.ops, seed=args.seed,
                       stimuli=tuple(s for s in args.stimuli.split(",") if s),
                       clock_mhz=args.clock_mhz, glitch=not args.no_glitch, traces=args.traces)
    from pathlib import Path

    proxy = args.proxy
    if proxy is not None and not Path(proxy).is_file():
        raise ValueError(f"--proxy must be an existing activity.json of qsq report, not {proxy!r}")
    if proxy is None and Path("build/report/activity.json").is_file():
        proxy = "build/report/activity.json"
    try:
        run_asic(designs, opts, args.out, use_cache=not args.no_cache, jobs=args.jobs,
                 proxy=proxy, engines=tuple(e for e in args.engine.split(",") if e),
                 engine_lanes=args.engine_lanes, engine_images=args.engine_images,
                 engine_levels=_levels(args.engine_levels),
                 engine_glitch=tuple(e for e in args.engine_glitch.split(",") if e),
                 sram_table=args.sram_table)
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None
    return 0
