"""``qsq compile``: compile a network into an inference engine (Verilog, memory images, manifest).

Examples::

    qsq compile                                   # committed digits LeNet, bucket PE, 16 lanes
    qsq compile build/eval/model.qsq --lanes 8 --pe multiplier -o build/engine/mul8
    qsq compile golden_model/nn/lenet_digits.npz --pe int8 -o build/engine/int8
"""

from __future__ import annotations

import argparse


def parse_levels(text: str):
    """argparse type of a ``--trunc`` option: ``T`` (every layer) or ``T1,T2,...`` (one per compute
    layer)."""
    try:
        vals = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"an integer level or a comma-separated list of levels, not {text!r}") from None
    return vals[0] if len(vals) == 1 else vals


def register(sub: argparse._SubParsersAction) -> None:
    from .config import (ENGINE_GATING, PE_STYLES, POWER_STYLES, PRODUCT_STYLES, RECODE_STYLES,
                         WEIGHT_STORES, EngineConfig)

    d = EngineConfig()
    p = sub.add_parser(
        "compile", help="compile a network into an inference engine (Verilog + memory images)",
        description="Compile a network into the qsq inference engine: writes qsq_engine.v (top "
                    "module qsq_engine, memories initialised with the model), the memory images "
                    "(.hex) and manifest.md/.json (ports, layers, memory bits, MACs, predicted "
                    "cycles per inference).")
    p.add_argument("model", nargs="?", default=None,
                   help="a .qsq packed model (bucket/multiplier PE) or a checkpoint .npz "
                        "(default: the committed digits LeNet)")
    p.add_argument("--lanes", type=int, default=d.lanes,
                   help=f"output channels computed in parallel (default {d.lanes})")
    p.add_argument("--pe", default=d.pe, choices=PE_STYLES, help=f"processing element (default {d.pe})")
    p.add_argument("--recode", default=d.recode, choices=RECODE_STYLES,
                   help=f"multiplier PE: CSD digits per filter or per operation (default {d.recode})")
    p.add_argument("--gating", default=d.gating, choices=ENGINE_GATING,
                   help=f"PE register gating (default {d.gating})")
    p.add_argument("--products", default=d.products, choices=PRODUCT_STYLES,
                   help=f"bucket PE: the M bucket products per output in parallel multipliers or "
                        f"in one multiplier, M cycles per lane (default {d.products})")
    p.add_argument("--reuse", type=int, default=d.reuse, choices=(1, 2),
                   help=f"output positions each weight word serves in the convolutions: 2 reads "
                        f"each weight once for two neighbouring positions (two accumulator sets "
                        f"per lane, a second activation read port) (default {d.reuse})")
    p.add_argument("--power", default=d.power, choices=POWER_STYLES,
                   help=f"lean: read ports and registers switch only when their data is used; "
                        f"fpga: lean without the bucket adders' operand isolation (a LUT per "
                        f"adder bit on an FPGA); baseline: the engine as first built, for "
                        f"comparison (default {d.power})")
    p.add_argument("--weight-store", dest="store", default=d.weights, choices=WEIGHT_STORES,
                   help=f"rom: the weight memory is initialised with the model; spram: it starts "
                        f"empty and is written through the engine's weights stream (the iCE40 "
                        f"UltraPlus's SPRAM) (default {d.weights})")
    p.add_argument("--trunc", type=parse_levels, default=0,
                   help="truncation level(s) the engine starts with after reset: T or T1,T2,... "
                        "(default 0, exact; the host can change them at run time)")
    p.add_argument("--data", default=None,
                   help="data folder for a checkpoint trained on MNIST/CIFAR-10 (calibration)")
    from golden_model.nn.cli import add_weight_arguments
    add_weight_arguments(p)
    p.add_argument("--no-verilog", action="store_true", help="write only the images and manifest")
    p.add_argument("-o", "--out", default="build/engine", help="output folder (default build/engine)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from golden_model.fileio import atomic_folder, check_output_dir

    from .compile import load_model, write_engine
    from .config import EngineConfig
    from .program import compile_program

    cfg = EngineConfig(lanes=args.lanes, pe=args.pe, recode=args.recode, gating=args.gating,
                       products=args.products, power=args.power, reuse=args.reuse,
                       weights=args.store)
    check_output_dir(args.out, "-o/--out")          # before any work
    if args.model is not None and not Path(args.model).is_file():
        raise ValueError(f"{args.model}: no such model file")
    if args.model is not None and Path(args.model).suffix == ".qsq" and args.calib is not None:
        raise ValueError(f"--calib: {args.model} is already quantized (a .qsq file); calibration "
                         f"applies to a checkpoint .npz")
    notes = []
    model = load_model(args.model, cfg.pe, args.data, args.calib, args.weights, notes)
    prog = compile_program(model, cfg, args.trunc if cfg.pe != "int8" else 0)
    # All files or none: a failed compile leaves a previous folder as it was.
    with atomic_folder(args.out, "-o/--out") as tmp:
        man = write_engine(prog, tmp, verilog=not args.no_verilog)
    cyc = man["cycles"]
    print(f"qsq compile: {cfg.pe} PE, {cfg.lanes} lanes, model {man['model']['arch']} -> {args.out}/")
    for line in notes:
        print(f"  {line}")
    print(f"  cycles per inference: {cyc['total']} (load {cyc['load']}, compute {cyc['compute']}, "
          f"output {cyc['output']}); MACs {man['macs']}, multiplies {man['multiplies']}")
    bits = ", ".join(f"{k} {v['bits']}" for k, v in man["memories"].items())
    print(f"  memory bits: {bits}; weights {man['weight_bits_vs_int8']:.3f} of the INT8 engine's")
    print(f"  see {args.out}/manifest.md")
    return 0
