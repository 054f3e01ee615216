"""``qsq verilog``: generate Verilog for a hardware module of :data:`hw.verilog.MODULES`.

Examples::

    qsq verilog csd_multiplier --a-width 8 --b-width 8 --a-signed --b-signed \\
        --truncation runtime --gating icg -o mul.v
    qsq verilog shift_scale_decoder --code-bits 3 --scale-bits 7 --lanes 4 --registered -o dec.v
    qsq verilog csd_multiplier --name mul_a -o mul_a.v --core   # top `mul_a` + mul_a.core
    qsq verilog csd_compact_multiplier --timing-harness -o top.v  # + qsq_timing_top for constraints/
    qsq verilog all -o build/verilog           # every default configuration + manifest
"""

from __future__ import annotations

import argparse

from golden_model.cliopts import add_deprecated
from golden_model.fileio import atomic_write_text, check_output_dir, check_output_path

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
                    "top-level module is named after MODULE unless --name), or every default "
                    f"configuration with `{ALL}`.")
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
        mp.add_argument("-o", "--out", metavar="FILE.v",
                        help="write the Verilog to FILE.v (default: standard output)")
        add_deprecated(mp, "--output", dest="out", new="-o/--out", metavar="FILE.v")
        mp.add_argument("--name", default=None, metavar="NAME",
                        help=f"name of the top module (default: {name}); submodules are "
                             "prefixed NAME__, so differently named cores coexist in one design")
        mp.add_argument("--no-cells", action="store_true",
                        help="leave out the qsq_icg clock-gate model (ASIC flows that provide "
                             "their own qsq_icg module)")
        mp.add_argument("--core", action="store_true",
                        help="also write a FuseSoC core FILE.core next to -o FILE.v")
        mp.add_argument("--timing-harness", action="store_true",
                        help="append the timing harness qsq_timing_top (ports clk, rst, sin, "
                             "sout) around the design: the top that constraints/icebreaker.pcf, "
                             "ulx3s.lpf and arty_a7.xdc pin out")
        mp.set_defaults(func=run, params=[q.name for q in spec.params])
    ap = mods.add_parser(ALL, help="write every default configuration and a manifest",
                         description="Write the default configurations of every module to "
                                     "OUT_DIR, with manifest.md/.csv/.json listing their "
                                     "parameters and latencies.")
    ap.add_argument("-o", "--out", default="build/verilog", metavar="DIR",
                    help="output folder (default: build/verilog)")
    add_deprecated(ap, "--out-dir", dest="out", new="-o/--out", metavar="DIR")
    ap.add_argument("--no-cells", action="store_true", help="leave out the qsq_icg model")
    ap.add_argument("--no-core", action="store_true",
                    help="do not write a FuseSoC .core next to each file")
    ap.set_defaults(func=run_all)


def harness_ports(top) -> dict:
    """Ports of a generated component in the form of :func:`hw.flow.yosys.harness_verilog`:
    ``name -> (direction, bits, signed)``, with the ``clk``/``rst`` of its sync domain."""
    from amaranth.hdl import Value
    from amaranth.lib import wiring

    ports = {"clk": ("input", [0], False), "rst": ("input", [0], False)}
    for path, member, value in top.signature.flatten(top):
        shape = Value.cast(value).shape()
        direction = "input" if member.flow == wiring.In else "output"
        ports["__".join(map(str, path))] = (direction, [0] * shape.width, shape.signed)
    return ports


def run(args) -> int:
    from pathlib import Path

    from .verilog import MODULES, build, command_line, generate, package_version

    params = {name: getattr(args, name) for name in args.params}
    name = args.name if args.name is not None else args.module
    if (args.core or args.timing_harness) and not args.out:
        raise ValueError(f"--{'core' if args.core else 'timing-harness'} needs -o FILE.v, "
                         "not standard output")
    if args.out:
        check_output_path(args.out, "-o/--out")
        if args.core:
            check_output_path(Path(args.out).with_suffix(".core"), "--core")
    text = generate(args.module, include_cells=not args.no_cells, name=args.name, **params)
    top_name = name
    if args.timing_harness:
        from ._component import not_elaborated
        from .flow.yosys import HARNESS_TOP, harness_verilog

        top = build(args.module, **params)
        not_elaborated(top)
        top_name = HARNESS_TOP
        if getattr(top, "latency", 0) == 0:
            raise ValueError(f"--timing-harness needs a clocked design; {args.module} with these "
                             "parameters is combinational, not registered")
        text += (f"\n// {HARNESS_TOP}: timing harness around {name} (hw.flow.yosys); its ports "
                 "clk, rst, sin, sout are those of constraints/*.pcf|lpf|xdc\n"
                 + harness_verilog(harness_ports(top), name))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, text)
        print(f"wrote {out} (top module {top_name}, {text.count(chr(10))} lines)")
        if args.core:
            from .fusesoc import core_text

            core = out.with_suffix(".core")
            atomic_write_text(core, core_text(
                top_name, [out.name], MODULES[args.module].description, package_version(),
                command_line(args.module, name, not args.no_cells, **params)
                + (" --timing-harness" if args.timing_harness else "")
                + f" -o {out.name} --core"))
            print(f"wrote {core} (FuseSoC core qsq:generated:{top_name})")
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
    from .fusesoc import core_text
    from .verilog import MODULES, build, command_line, generate, package_version

    out_dir = check_output_dir(args.out, "-o/--out")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, entries = [], []
    start = time.perf_counter()
    for name, spec in MODULES.items():
        for stem, params in spec.defaults:
            # Each default configuration is its own top module, named after its file, so all
            # of them can be compiled into one design.
            text = generate(name, include_cells=not args.no_cells, name=stem, **params)
            path = out_dir / f"{stem}.v"
            atomic_write_text(path, text)
            top = build(name, **params)
            not_elaborated(top)
            head = re.search(rf"^module {stem}\((.*?)\);", text, re.S | re.M)
            ports = " ".join(head.group(1).split()) if head else ""
            pstr = " ".join(f"{k}={v}" for k, v in params.items())
            rows.append([path.name, stem, pstr, top.latency, ports, text.count("\n")])
            entries.append({"file": path.name, "module": stem, "generator": name,
                            "params": params, "latency": top.latency})
            print(f"wrote {path}")
            if not args.no_core:
                cmd = command_line(name, stem, not args.no_cells, **params)
                atomic_write_text(path.with_suffix(".core"), core_text(
                    stem, [path.name], f"{spec.description}; {pstr}", package_version(),
                    f"{cmd} -o {path.name} --core"))
    title = "Generated Verilog (default configurations)"
    write_table(out_dir / "manifest", MANIFEST_HEADERS, rows, title,
                {"generator": f"qsq verilog all (qsq {package_version()})", "modules": entries})
    print(markdown_table(MANIFEST_HEADERS, rows))
    print(f"({len(rows)} files{'' if args.no_core else ' with FuseSoC .core files'} in "
          f"{time.perf_counter() - start:.1f} s; manifest: {out_dir / 'manifest.md'})")
    return 0
