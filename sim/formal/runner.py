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
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .harness import Design, cut_signals, harness, insert_harness
from .tools import sby_command, solver_path

__all__ = ["SPEC_DIR", "Proof", "Result", "run", "sby_text", "dut_text"]

#: Folder of the specification Verilog.
SPEC_DIR = Path(__file__).resolve().parent / "spec"

#: How the ``acc`` part lets the solver see sums as sums: Yosys merges every adder tree into one
#: multiply-accumulate cell (``alumacc``) and writes it back as a chain of full-width adders
#: (``maccmap -unmap``); Boolector's word-level rewriting then matches the two chains whatever
#: their order. Without this, a 16x16 accumulation does not finish (the bit-level solver must
#: re-associate 16 additions).
NORMALIZE = ("flatten", "alumacc", "maccmap -unmap", "techmap t:$alu", "opt")


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
    multiclock : bool
        Model every clock (SBY ``multiclock on``): needed for the ICG designs, whose gated
        registers are clocked through ``qsq_icg``'s latch.
    """

    name: str
    designs: tuple
    part: str
    mode: str = "prove"
    depth: int = 2
    multiclock: bool = False
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


def dut_text(proof: Proof, mutate: Callable[[str], str] | None = None) -> tuple[str, list[str]]:
    """Verilog of every design of ``proof`` (renamed, harness inserted) plus the top module.

    Returns the text and the renamed module names, in the order of ``proof.designs``.
    """
    from hw.verilog import cell_source

    parts, names, uses_icg = [], [], False
    for k, d in enumerate(proof.designs):
        text = generated(d)
        uses_icg |= "qsq_icg " in text
        if mutate is not None:
            text = mutate(text)
        text = insert_harness(text, d.module, harness(d, proof.part))
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
    cfg = d.config
    ports = {"clk": 1, "rst": 1, "in_valid": 1, "a": cfg.a_width, "b": cfg.b_width}
    if d.runtime:
        ports["trunc"] = max(1, cfg.ndigits.bit_length())
    return ports


def sby_text(proof: Proof, names: list[str]) -> str:
    script = ["read_verilog -sv csd_spec.v decoder_spec.v", "read_verilog -sv -formal dut.v",
              "prep -top qsq_formal_top"]
    if proof.part in ("acc", "rows"):
        cuts = [f"{name}/w:{n}" for d, name in zip(proof.designs, names)
                for n in cut_signals(d, proof.part)]
        if cuts:
            script.append("cutpoint " + " ".join(cuts))
    script += list(proof.passes)
    options = [f"mode {proof.mode}", f"depth {proof.depth}"]
    if proof.multiclock:
        options.append("multiclock on")
    return "\n".join([
        "[options]", *options, "",
        "[engines]", proof.engine, "",
        "[script]", *script, "",
        "[files]", "dut.v", "csd_spec.v", "decoder_spec.v", ""])


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
    except Exception as exc:  # generation or harness error: the proof's result, not a crash
        return Result(proof, "ERROR", time.monotonic() - start, f"{type(exc).__name__}: {exc}")
    (work / "dut.v").write_text(text)
    for f in ("csd_spec.v", "decoder_spec.v"):
        (work / f).write_text((spec_dir / f).read_text())
    (work / "proof.sby").write_text(sby_text(proof, names))
    env = {**os.environ, "PATH": solver_path(build)}
    cmd = sby_command() + ["-f", "proof.sby"]
    try:
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                              timeout=timeout)
        out = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        (work / "run.log").write_text(out)
        return Result(proof, "TIMEOUT", time.monotonic() - start,
                      f"no verdict within {timeout:.0f} s")
    seconds = time.monotonic() - start
    (work / "run.log").write_text(out)
    m = re.search(r"DONE \((PASS|FAIL|ERROR|UNKNOWN)", out)
    status = m.group(1) if m else "ERROR"
    detail = ""
    if status != "PASS":
        fails = sorted(set(re.findall(r"Assert failed in \S+: (\S+)", out)))
        errs = re.findall(r"ERROR: (.*)", out)
        last = out.strip().splitlines()[-1:] or [""]
        detail = ", ".join(fails[:6]) or "; ".join(errs[:2]) or last[0]
    (work / "result.json").write_text(json.dumps(
        {"proof": proof.name, "part": proof.part, "status": status,
         "seconds": round(seconds, 2), "detail": detail}) + "\n")
    return Result(proof, status, seconds, detail)
