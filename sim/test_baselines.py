"""cocotb testbench of the baseline multipliers (:mod:`hw.baselines`) and of the compact CSD
variant (:mod:`hw.csd_compact`) against the golden model.

Driver: every operand pair of the configuration (exhaustive) or a seeded random stream, one per
clock cycle with random ``in_valid`` bubbles (and, for runtime truncation, a random ``trunc`` level
every cycle), written 1 ns after the falling edge. Monitor: ``p`` and
``out_valid`` sampled at the same instant, before driving. Checker (bulk, after the run): one
result per valid operation at exactly ``latency`` cycles, in order, equal to
:func:`golden_model.baselines.broken_array_product` (or ``a * b`` for the exact multiplier);
``out_valid`` 0 after reset and never X.

Runner: :func:`run` (used by ``tests/test_flow_baselines_sim.py``); on its own:
``python -m sim.test_baselines --kind tam --k 6`` (``--help`` for every option; the operand,
vector and simulator options are those of the other benches).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

try:
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge, Timer
except ImportError:  # the runner side does not need cocotb's simulator half
    cocotb = None

from golden_model.config import MultiplierConfig

PERIOD_NS = 10


def _design(cfgd: dict):
    from hw.flow.designs import Design
    cfg = MultiplierConfig(cfgd["a_width"], cfgd["a_signed"], cfgd["b_width"], cfgd["b_signed"])
    return Design(cfgd["kind"], cfg, tuple(tuple(x) for x in cfgd["params"]), cfgd["latency"])


def vectors(cfg: MultiplierConfig, mode: str, count: int, seed: int, bubble: float):
    """Operand stream (exhaustive or random) and the cycle stream with bubbles; a truncation
    level per cycle (used by runtime-truncation designs) changes every cycle."""
    rng = np.random.default_rng(seed)
    if mode == "exhaustive":
        a, b = np.meshgrid(cfg.a.values(), cfg.b.values(), indexing="ij")
        a, b = a.reshape(-1), b.reshape(-1)
    else:
        a = rng.integers(cfg.a.min, cfg.a.max + 1, count)
        b = rng.integers(cfg.b.min, cfg.b.max + 1, count)
    n = a.size
    nbub = int(n * bubble)
    valid = np.ones(n + nbub, bool)
    valid[rng.choice(n + nbub, nbub, replace=False)] = False
    ca = rng.integers(cfg.a.min, cfg.a.max + 1, valid.size)
    cb = rng.integers(cfg.b.min, cfg.b.max + 1, valid.size)
    ca[valid], cb[valid] = a, b
    ct = rng.integers(0, cfg.ndigits + 1, valid.size)
    return ca, cb, ct, valid


if cocotb is not None:
    @cocotb.test()
    async def baseline_matches_golden(dut):
        """Every product of the stream equals the golden model, at exactly the latency."""
        cfgd = json.loads(os.environ["QSQ_TB"])
        design = _design(cfgd)
        cfg, lat = design.cfg, design.latency
        if cfgd.get("golden_params") is not None:  # the bench's self-test: a wrong model must fail
            design = _design({**cfgd, "params": cfgd["golden_params"]})
        a, b, t, valid = vectors(cfg, cfgd["mode"], cfgd["count"], cfgd["seed"], cfgd["bubble"])
        runtime = "trunc" in cfgd.get("ports", [])
        t_drive = t.tolist()
        ncyc = a.size
        a_drive = (a & ((1 << cfg.a_width) - 1)).tolist()
        b_drive = (b & ((1 << cfg.b_width) - 1)).tolist()
        v_drive = valid.astype(int).tolist()
        Clock(dut.clk, PERIOD_NS, unit="ns").start()
        dut.rst.value = 1
        dut.in_valid.value = 0
        dut.a.value = 0
        dut.b.value = 0
        if runtime:
            dut.trunc.value = 0
        fe = FallingEdge(dut.clk)
        for _ in range(3):
            await fe
        dut.rst.value = 0
        await fe
        assert str(dut.out_valid.value) == "0", "out_valid not 0 after reset"
        await Timer(1, unit="ns")
        step = Timer(PERIOD_NS, unit="ns")
        a_h, b_h, v_h = dut.a, dut.b, dut.in_valid
        gp, gv = dut.p._handle.get_signal_val_binstr, dut.out_valid._handle.get_signal_val_binstr
        total = ncyc + lat + 1
        p_raw, ov_raw = [""] * total, [""] * total
        start = time.perf_counter()
        for j in range(total):
            p_raw[j] = gp()
            ov_raw[j] = gv()
            if j < ncyc:
                a_h.value = a_drive[j]
                b_h.value = b_drive[j]
                v_h.value = v_drive[j]
                if runtime:
                    dut.trunc.value = t_drive[j]
            elif j == ncyc:
                v_h.value = 0
            await step
        seconds = time.perf_counter() - start
        # ---- checker
        assert all(v in ("0", "1") for v in ov_raw), "out_valid is X/Z after reset"
        ov = np.array([v == "1" for v in ov_raw])
        expect_ov = np.zeros(total, bool)
        expect_ov[lat:lat + ncyc] = valid
        bad = np.flatnonzero(ov != expect_ov)
        assert bad.size == 0, f"out_valid wrong at sample {bad[0]} ({int(ov.sum())} results)"
        got_bits = [p_raw[j] for j in np.flatnonzero(ov)]
        assert all(set(s) <= {"0", "1"} for s in got_bits), "p is X/Z on a valid result"
        raw = np.array([int(s, 2) for s in got_bits], dtype=np.int64)
        got = raw - ((raw >> (cfg.p_width - 1) & 1) << cfg.p_width) if cfg.p_signed else raw
        want = design.golden(a[valid], b[valid], t[valid] if runtime else None)
        mism = np.flatnonzero(got != want)
        if mism.size:
            k = mism[0]
            raise AssertionError(f"{mism.size} of {want.size} products differ; first a="
                                 f"{a[valid][k]} b={b[valid][k]}: got {got[k]}, expected {want[k]}")
        Path(cfgd["out_dir"], "bench.json").write_text(json.dumps(
            {"vectors": int(valid.sum()), "seconds": round(seconds, 3),
             "vectors_per_s": round(valid.sum() / seconds, 1)}))
        dut._log.info("%d products match the golden model (%.0f vectors/s)", valid.sum(),
                      valid.sum() / seconds)


def run(kind: str = "tam", params: tuple = (("k", 6),), a_width: int = 8, a_signed: bool = True,
        b_width: int = 8, b_signed: bool = True, latency: int = 2, mode: str = "exhaustive",
        count: int = 20000, seed: int = 1, bubble: float = 0.05, sim: str | None = None,
        waves: bool = False, golden_params: tuple | None = None) -> dict:
    """Build one baseline configuration in its own folder and run the bench; return its summary
    (:func:`sim.common.run_bench`: vectors, result, times; collected by ``make sim``).

    ``golden_params`` (tests of the bench only) checks the RTL against another parameter set.

    Raises
    ------
    AssertionError
        If the simulation fails.
    """
    from hw.flow.designs import Design
    from sim.common import run_bench, sim_name

    sim = sim_name(sim)
    cfg = MultiplierConfig(a_width, a_signed, b_width, b_signed)
    check_run(cfg, mode, count, seed, bubble)
    design = Design(kind, cfg, tuple(params), latency)
    bench = {"a_width": a_width, "a_signed": a_signed, "b_width": b_width, "b_signed": b_signed,
             "kind": kind, "params": [list(p) for p in params], "latency": latency, "mode": mode,
             "count": count, "seed": seed, "ports": ["trunc"] if design.runtime else [],
             "bubble": bubble,
             "golden_params": None if golden_params is None else [list(p) for p in golden_params]}
    tag = (f"{design.key}_l{latency}_{mode}_s{seed}"
           + ("_selftest" if golden_params is not None else ""))
    return run_bench(module_name=design.top, params=design.registry_params(), tag=tag,
                     test_module="sim.test_baselines", bench=bench, sim=sim, waves=waves or None)


def check_run(cfg: MultiplierConfig, mode: str, count: int, seed: int, bubble: float) -> None:
    """Check the vector settings before anything is built (``ValueError`` naming the setting)."""
    from golden_model.config import check_int
    from sim.common import MAX_BUBBLE, MAX_VECTORS, check_vector_count

    if mode not in ("exhaustive", "random"):
        raise ValueError(f"mode must be 'exhaustive' or 'random', not {mode!r}")
    check_int("count", count, 1, MAX_VECTORS)
    check_int("seed", seed, 0, 2**63 - 1)
    if isinstance(bubble, bool) or not isinstance(bubble, (int, float)) or not (
            0 <= bubble <= MAX_BUBBLE):
        raise ValueError(f"bubble must be a probability in [0, {MAX_BUBBLE}], not {bubble!r}")
    n = cfg.a.count * cfg.b.count if mode == "exhaustive" else count
    check_vector_count(n, f"--mode {mode} with {cfg.tag()} operands")


#: The ``--kind`` choices: design kind of :class:`hw.flow.designs.Design`.
KINDS = ("exact", "tam", "bam", "csdc")


def main(argv=None) -> int:
    from golden_model.config import GATING_STYLES, SIGN_STYLES
    from hw._component import not_elaborated
    from hw.baselines import MAX_LATENCY
    from hw.flow.designs import Design
    from hw.verilog import build
    from sim.common import (_int_type, add_operand_args, add_truncation_arg, add_vector_args,
                            checked, main_args, run_main)

    p = main_args(__doc__)
    p.add_argument("--kind", default="tam", choices=KINDS,
                   help="exact, tam (truncated array), bam (broken array) or csdc (compact CSD) "
                        "(default: tam)")
    add_operand_args(p)
    add_truncation_arg(p)
    p.add_argument("--gating", default="enable", choices=GATING_STYLES, help="csdc gating")
    p.add_argument("--sign", default="xor", choices=SIGN_STYLES, help="csdc sign handling")
    p.add_argument("--k", type=_int_type(0), default=6, metavar="N",
                   help="tam: partial-product bits below column k are dropped (default: 6)")
    p.add_argument("--vbl", type=_int_type(0), default=0, metavar="N",
                   help="bam: vertical break level (default: 0)")
    p.add_argument("--hbl", type=_int_type(0), default=2, metavar="N",
                   help="bam: horizontal break level (default: 2)")
    p.add_argument("--latency", type=_int_type(1, MAX_LATENCY), default=2, metavar="N",
                   help=f"pipeline depth of exact/tam/bam, 1 to {MAX_LATENCY} (default: 2)")
    add_vector_args(p, modes=("exhaustive", "random"), default_mode="exhaustive",
                    count_default=20000, bubble=0.05)
    ns = p.parse_args(argv)
    prm = {"exact": (), "tam": (("k", ns.k),), "bam": (("vbl", ns.vbl), ("hbl", ns.hbl)),
           "csdc": (("t", ns.truncation), ("gating", ns.gating), ("sign", ns.sign))}[ns.kind]
    cfg = checked(p, MultiplierConfig, ns.a_width, ns.a_signed, ns.b_width, ns.b_signed)
    latency = 2 if ns.kind == "csdc" else ns.latency
    design = Design(ns.kind, cfg, prm, latency)
    dut = checked(p, build, design.top, **design.registry_params())
    not_elaborated(dut)
    checked(p, check_run, cfg, ns.mode, ns.count, ns.seed, ns.bubble)
    n = cfg.a.count * cfg.b.count if ns.mode == "exhaustive" else ns.count
    print(f"vectors: {'every operand pair' if ns.mode == 'exhaustive' else 'seeded random pairs'}"
          f" = {n:,} operations", flush=True)
    return run_main(p, run, kind=ns.kind, params=prm, a_width=ns.a_width, a_signed=ns.a_signed,
                    b_width=ns.b_width, b_signed=ns.b_signed, latency=latency, mode=ns.mode,
                    count=ns.count, seed=ns.seed, bubble=ns.bubble, sim=ns.sim, waves=ns.waves)


if __name__ == "__main__":
    raise SystemExit(main())
