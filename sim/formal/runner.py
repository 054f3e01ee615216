"""Build and run one formal proof with SBY: generated Verilog + harness + specification -> verdict.

A :class:`Proof` is one SBY run: a design configuration, a proof part (``rows``, ``acc`` or
``dec``, see :mod:`sim.formal.harness`) and how SBY runs it. :func:`run` writes the work folder
``<build>/<proof name>/`` (the Verilog with its harness, the ``.sby`` file, SBY's own logs) and
returns a :class:`Result`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .harness import Design, cut_signals, harness, insert_harness
from .tools import sby_command, solver_path

__all__ = ["SPEC_DIR", "RESIZE_FATAL", "Proof", "Result", "run", "sby_text", "dut_text"]

#: Folder of the specification Verilog.
SPEC_DIR = Path(__file__).resolve().parent / "spec"

#: How the ``acc`` part lets the solver see sums as sums: Yosys merges every adder tree into one
#: multiply-accumulate cell (``alumacc``) and writes it back as a chain of full-width adders
#: (``maccmap -unmap``); Boolector's word-level rewriting then matches the two chains whatever
#: their order. Without this, a 16x16 accumulation does not finish (the bit-level solver must
#: re-associate 16 additions).
NORMALIZE = ("flatten", "alumacc", "maccmap -unmap", "techmap t:$alu", "opt")


#: First command of every proof script: Yosys's "Resizing cell port" warning (a port connected to
#: a signal of another width, silently truncated or extended) is an error in proof builds. A
#: digit count that disagreed between the spec and the harness once passed the proofs that way.
RESIZE_FATAL = 'logger -werror "Resizing cell port"'


@dataclass(frozen=True)
class Proof:
    """One SBY run over one or more designs of the same operand widths (a *batch*).

    Attributes
    ----------
    name : str
        Unique name (also the work folder).
    designs : tuple of Design
        Configurations proven together: each keeps its own module (renamed ``<module>__<k>``)
        and its own harness; a generated top ``qsq_formal_top`` drives them all from the same
        inputs. Batching only saves the per-run start-up time; every assertion is per design.
    part : str
        ``recoder``, ``rows``, ``acc`` or ``dec`` (:mod:`sim.formal.harness`).
    mode, depth : str, int
        SBY ``mode`` and ``depth``. ``prove`` is k-induction: the base case checks ``depth``
        cycles from the initial state, the induction step ``depth`` consecutive cycles from any
        state.
    cex_depth : int
        If a ``prove`` run does not pass, a second SBY run in ``bmc`` mode over this many steps
        from the initial state looks for a reachable counterexample (``cex.sby`` on
        ``dut_cex.v``, whose harness states each lemma as its own assertion so that the failing
        one is named; trace under ``cex/engine_0/``): the result is ``FAIL`` with the failing
        assertions if it finds one, ``UNKNOWN`` (the lemmas are not ``depth``-inductive, but
        nothing fails within ``cex_depth`` steps) if not. 0: no second run.
    multiclock : bool
        Model every clock (SBY ``multiclock on``): needed for the ICG designs, whose gated
        registers are clocked through ``qsq_icg``'s latch.
    lemmas : str
        Part ``rows``: ``all``, ``terms`` or ``others`` (:func:`~sim.formal.harness.harness`).
    """

    name: str
    designs: tuple
    part: str
    mode: str = "prove"
    depth: int = 1
    cex_depth: int = 0
    multiclock: bool = False
    lemmas: str = "all"
    solver: str = "yices"
    passes: tuple = ()

    @property
    def engine(self) -> str:
        return f"smtbmc {self.solver}"


@dataclass
class Result:
    proof: Proof
    status: str          # PASS, FAIL, ERROR, TIMEOUT
    seconds: float
    detail: str = ""

    def row(self) -> list:
        return [self.proof.name, self.proof.part, self.proof.engine, self.status,
                round(self.seconds, 1)]


_PORTS_IN = ("clk", "rst", "in_valid", "a", "b", "trunc", "codes", "scale")


def dut_text(proof: Proof, mutate: Callable[[str], str] | None = None,
             split: bool = False) -> tuple[str, list[str]]:
    """Verilog of every design of ``proof`` (renamed, harness inserted) plus the top module.
    ``split``: the harness with one assertion per lemma (:func:`~sim.formal.harness.harness`).

    Returns the text and the renamed module names, in the order of ``proof.designs``.
    """
    from hw.verilog import cell_source

    parts, names, uses_icg = [], [], False
    for k, d in enumerate(proof.designs):
        text = generated(d)
        uses_icg |= "qsq_icg " in text
        if mutate is not None:
            text = mutate(text)
        text = insert_harness(text, d.module, harness(d, proof.part, split, proof.lemmas))
        name = f"{d.module}__{k}"
        text = text.replace(f"module {d.module}(", f"module {name}(", 1)
        parts.append(text)
        names.append(name)
    if uses_icg:
        parts.append(cell_source("qsq_icg"))
    parts.append(_top(proof, names))
    return "\n".join(parts), names


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()


def generated(d: Design) -> str:
    """``hw.verilog.generate`` of ``d`` (without the ``qsq_icg`` model), generated once per
    process: the parts of one design prove the same text."""
    from hw.verilog import generate

    with _CACHE_LOCK:
        entry = _CACHE.setdefault(d.key, [threading.Lock(), None])
    with entry[0]:
        if entry[1] is None:
            entry[1] = generate(d.module, include_cells=False, **d.params)
        return entry[1]


def _top(proof: Proof, names: list[str]) -> str:
    widths = {}
    insts = []
    for d, name in zip(proof.designs, names):
        ports = _input_ports(d)
        widths.update({p: max(w, widths.get(p, 0)) for p, w in ports.items()})
        conns = ", ".join(f".{p}({p}[{w - 1}:0])" if w > 1 else f".{p}({p})"
                          for p, w in ports.items())
        insts.append(f"  {name} u_{name} ({conns});")
    decl = ", ".join(f"input wire [{w - 1}:0] {p}" for p, w in widths.items())
    return f"module qsq_formal_top({decl});\n" + "\n".join(insts) + "\nendmodule\n"


def _input_ports(d: Design) -> dict:
    if d.module == "shift_scale_decoder":
        p = d.params
        ports = {"codes": p["code_bits"] * p["lanes"], "scale": p["scale_bits"]}
        if p["registered"]:
            ports.update(clk=1, rst=1, in_valid=1)
        return ports
    cfg = d.shape
    ports = {"clk": 1, "rst": 1, "in_valid": 1, "a": cfg.a_width, "b": cfg.b_width}
    if d.runtime:
        ports["trunc"] = cfg.t_width
    return ports


def sby_text(proof: Proof, names: list[str], *, mode: str | None = None,
             depth: int | None = None, dut: str = "dut.v") -> str:
    """The ``.sby`` file of ``proof`` (``mode``/``depth`` override the proof's own; ``dut``:
    the file with the designs and harnesses, read as ``dut.v``)."""
    # a port connected to a wire of another width is a wrong width on one side (the spec's or
    # the design's): an error, not Yosys's silent resize (RESIZE_FATAL)
    script = [RESIZE_FATAL, "read_verilog -sv csd_spec.v decoder_spec.v",
              "read_verilog -sv -formal dut.v",
              "prep -top qsq_formal_top"]
    if proof.part in ("acc", "rows"):
        cuts = [f"{name}/w:{n}" for d, name in zip(proof.designs, names)
                for n in cut_signals(d, proof.part)]
        if cuts:
            script.append("cutpoint " + " ".join(cuts))
    script += list(proof.passes)
    options = [f"mode {mode or proof.mode}", f"depth {depth or proof.depth}"]
    if proof.multiclock:
        options.append("multiclock on")
    return "\n".join([
        "[options]", *options, "",
        "[engines]", proof.engine, "",
        "[script]", *script, "",
        "[files]", "dut.v" if dut == "dut.v" else f"dut.v {dut}", "csd_spec.v", "decoder_spec.v",
        ""])


def run(proof: Proof, build: Path, *, timeout: float | None = None,
        mutate: Callable[[str], str] | None = None,
        spec_dir: Path | None = None) -> Result:
    """Write ``build/<proof.name>/`` and run SBY there.

    Parameters
    ----------
    mutate : callable, optional
        Applied to each design's generated Verilog before its harness is inserted (mutation
        tests).
    spec_dir : Path, optional
        Folder with ``csd_spec.v`` and ``decoder_spec.v`` (default :data:`SPEC_DIR`).
    """
    work = Path(build) / proof.name
    work.mkdir(parents=True, exist_ok=True)
    spec_dir = Path(spec_dir or SPEC_DIR)
    start = time.monotonic()
    try:
        text, names = dut_text(proof, mutate)
        cex_text = dut_text(proof, mutate, split=True)[0] if proof.cex_depth else ""
    except Exception as exc:  # generation or harness error: the proof's result, not a crash
        return Result(proof, "ERROR", time.monotonic() - start, f"{type(exc).__name__}: {exc}")
    (work / "dut.v").write_text(text)
    for f in ("csd_spec.v", "decoder_spec.v"):
        (work / f).write_text((spec_dir / f).read_text())
    (work / "proof.sby").write_text(sby_text(proof, names))
    if proof.cex_depth:
        (work / "dut_cex.v").write_text(cex_text)
        (work / "cex.sby").write_text(sby_text(proof, names, mode="bmc", depth=proof.cex_depth,
                                               dut="dut_cex.v"))
    status, out = _sby(work, "proof.sby", "run.log", timeout)
    detail = ""
    if status == "TIMEOUT":
        detail = f"no verdict within {timeout:.0f} s"
    elif status != "PASS":
        detail = _detail(out)
        if proof.mode == "prove" and proof.cex_depth and status in ("FAIL", "UNKNOWN"):
            left = None if timeout is None else max(1.0, timeout - (time.monotonic() - start))
            cex_status, cex_out = _sby(work, "cex.sby", "cex.log", left)
            if cex_status == "FAIL":
                status, detail = "FAIL", _detail(cex_out)
            else:
                status = "UNKNOWN"
                detail = (f"induction step fails at depth {proof.depth} ({detail}); bmc over "
                          f"{proof.cex_depth} steps from reset: {cex_status}")
    seconds = time.monotonic() - start
    (work / "result.json").write_text(json.dumps(
        {"proof": proof.name, "part": proof.part, "status": status,
         "seconds": round(seconds, 2), "detail": detail}) + "\n")
    return Result(proof, status, seconds, detail)


def _sby(work: Path, sby: str, log: str, timeout: float | None) -> tuple[str, str]:
    """Run SBY on ``work/sby``, its output saved as ``work/log``; its status and output."""
    env = {**os.environ, "PATH": solver_path(work.parent)}
    cmd = sby_command() + ["-f", sby]
    log = work / log
    # on a timeout SBY's solvers are ended too (they outlive SBY otherwise, as orphans spinning
    # on a shared machine)
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # SBY starts its engines in process groups of their own: end every descendant
        for pid in [proc.pid] + _descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out, _ = proc.communicate()
        log.write_text(out or "")
        return "TIMEOUT", out or ""
    log.write_text(out)
    m = re.search(r"DONE \((PASS|FAIL|ERROR|UNKNOWN)", out)
    return (m.group(1) if m else "ERROR"), out


def _descendants(pid: int) -> list[int]:
    """Process ids of every descendant of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _detail(out: str) -> str:
    """The failing assertions (or the error) of an SBY run's output."""
    fails = sorted(set(re.findall(r"Assert failed in \S+: (\S+)", out)))
    errs = re.findall(r"ERROR: (.*)", out)
    last = out.strip().splitlines()[-1:] or [""]
    return ", ".join(fails[:6]) or "; ".join(errs[:2]) or last[0]
