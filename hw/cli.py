"""``qsq verilog``: generate Verilog for a hardware module of :data:`hw.verilog.MODULES`.

Examples::

    qsq verilog csd_multiplier --a-width 8 --b-width 8 --a-signed --b-signed \\
        --truncation runtime --gating icg -o mul.v
    qsq verilog shift_scale_decoder --code-bits 3 --scale-bits 7 --lanes 4 --registered -o dec.v
    qsq verilog all --out-dir build/verilog      # every default configuration + manifest
"""

from __future__ import annotations

import argparse

#: Pseudo-module name that writes every default configuration.
ALL = "all"


def _truncation_arg(text: str):
    """``runtime`` or an integer; anything else is passed on for the constructor to reject."""
    try:
        return int(text)
    except ValueError:
        return text


def register(sub: argparse._SubParsersAction) -> None:
    from .verilog import MODULES

    p = sub.add_parser(
        "verilog", help="generate Verilog for a hardware module",
        description="Generate plain Verilog-2005 for one configuration of a hardware module (the "
                    "top-level module is named after MODULE), or every default configuration "
                    f"with `{ALL}`.")
    mods = p.add_subparsers(dest="module", metavar="MODULE", required=True)
    for name, spec in MODULES.items():
        mp = mods.add_parser(name, help=spec.description, description=spec.description)
        for param in spec.params:
            flag = "--" + param.name.replace("_", "-")
            if param.kind is bool:
                mp.add_argument(flag, action=argparse.BooleanOptionalAction, default=param.default,
                                help=f"{param.help} (default: {param.default})")
            elif param.kind is int:
                mp.add_argument(flag, type=int, default=param.default, metavar="N",
                                help=f"{param.help} (default: {param.default})")
            elif param.kind == "int|runtime":
                mp.add_argument(flag, type=_truncation_arg, default=param.default, metavar="T",
                                help=f"{param.help} (default: {param.default})")
            else:
                mp.add_argument(flag, default=param.default, metavar="|".join(param.kind),
                                help=f"{param.help}: one of {', '.join(param.kind)} "
                                     f"(default: {param.default})")
        mp.add_argument("-o", "--output", metavar="FILE.v",
                        help="write the Verilog to FILE.v (default: standard output)")
        mp.add_argument("--no-cells", action="store_true",
                        help="leave out the qsq_icg clock-gate model (ASIC flows that provide "
                             "their own qsq_icg module)")
        mp.set_defaults(func=run, params=[q.name for q in spec.params])
    ap = mods.add_parser(ALL, help="write every default configuration and a manifest",
                         description="Write the default configurations of every module to "
                                     "OUT_DIR, with manifest.md/.csv/.json listing their "
                                     "parameters and latencies.")
    ap.add_argument("--out-dir", default="build/verilog", help="default: build/verilog")
    ap.add_argument("--no-cells", action="store_true", help="leave out the qsq_icg model")
    ap.set_defaults(func=run_all)


def run(args) -> int:
    from pathlib import Path

    from .verilog import generate

    params = {name: getattr(args, name) for name in args.params}
    text = generate(args.module, include_cells=not args.no_cells, **params)
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"wrote {out} ({args.module}, {text.count(chr(10))} lines)")
    else:
        print(text, end="")
    return 0


MANIFEST_HEADERS = ["file", "module", "parameters", "latency", "ports", "lines"]


def run_all(args) -> int:
    import re
    import time
    from pathlib import Path

    from golden_model.tables import markdown_table, write_table

    from ._component import not_elaborated
    from .verilog import MODULES, build, generate

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, entries = [], []
    start = time.perf_counter()
    for name, spec in MODULES.items():
        for stem, params in spec.defaults:
            text = generate(name, include_cells=not args.no_cells, **params)
            path = out_dir / f"{stem}.v"
            path.write_text(text)
            top = build(name, **params)
            not_elaborated(top)
            head = re.search(rf"module {name}\((.*?)\);", text, re.S)
            ports = " ".join(head.group(1).split()) if head else ""
            pstr = " ".join(f"{k}={v}" for k, v in params.items())
            rows.append([path.name, name, pstr, top.latency, ports, text.count("\n")])
            entries.append({"file": path.name, "module": name, "params": params,
                            "latency": top.latency})
            print(f"wrote {path}")
    title = "Generated Verilog (default configurations)"
    write_table(out_dir / "manifest", MANIFEST_HEADERS, rows, title,
                {"generator": "qsq verilog all", "modules": entries})
    print(markdown_table(MANIFEST_HEADERS, rows))
    print(f"({len(rows)} files in {time.perf_counter() - start:.1f} s; manifest: "
          f"{out_dir / 'manifest.md'})")
    return 0
