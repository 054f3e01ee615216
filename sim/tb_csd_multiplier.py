"""cocotb testbench of ``csd_multiplier`` (:class:`hw.csd_multiplier.CSDMultiplier`).

Driver: one vector per clock cycle (operands, truncation level, ``in_valid`` with random bubbles),
written on the falling clock edge. Monitor: on the same falling edge, before driving, it samples
``p``/``out_valid`` (registered at the previous rising edges) and every row register with its load
strobe. Model and checker: after the run, everything is compared in bulk with the golden model
(:func:`golden_model.csd.csd_product`, :func:`golden_model.csd.csd_digits`,
:func:`golden_model.csd.active_rows`):

* the products, in order, one per valid operation, at exactly ``latency`` cycles (no drop, no
  duplicate), ``p`` holding its value between results, never X/Z after reset;
* gating (``enable``/``icg``): in every cycle, each row's load strobe equals the golden "digit
  nonzero, not truncated, operation valid"; a row whose strobe is low keeps its value; a loaded row
  holds ``d_i * a``; the total number of row loads equals the sum of the golden ``active_rows``
  over the valid operations; for ``icg``, the rising edges of each row's gated clock are counted
  too and must equal its loads. ``none``: every row loads every cycle (0 for an inactive digit).

Run on its own: ``python -m sim.tb_csd_multiplier --help``.
"""

from __future__ import annotations

import time

import numpy as np

try:
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge, RisingEdge, Timer
except ImportError:  # the runner side only needs the pure-Python parts
    cocotb = None

from golden_model.config import MultiplierConfig
from golden_model.csd import active_rows, csd_digits, csd_product

MODULE = "csd_multiplier"
#: Clock period of the bench.
PERIOD_NS = 10


# ----------------------------------------------------------------------------- vectors (model side)
def corner_values(fmt) -> np.ndarray:
    """Corner cases of an operand format: extremes, 0, +-1 and CSD carry patterns."""
    w = fmt.width
    vals = {fmt.min, fmt.max, 0, 1, fmt.min + 1, fmt.max - 1}
    if fmt.signed:
        vals |= {-1, -2}
    alt = int("01" * w, 2) & ((1 << w) - 1)          # 0101..., 1010...: no adjacent ones
    for pat in (alt, alt ^ ((1 << w) - 1), (1 << (w - 1)) - 1, 0b1011 & ((1 << w) - 1),
                int("011" * w, 2) & ((1 << w) - 1)):
        v = pat - (1 << w) if fmt.signed and pat >> (w - 1) else pat
        vals.add(v)
    return np.array(sorted(v for v in vals if fmt.min <= v <= fmt.max), dtype=np.int64)


def _levels(cfg: MultiplierConfig, truncation) -> np.ndarray:
    return np.arange(cfg.ndigits + 1) if truncation == "runtime" else np.array([truncation])


def vector_count(cfg: MultiplierConfig, truncation, mode: str, count: int,
                 corners: bool = True) -> tuple[int, int]:
    """``(operations, of which corner cases)`` of a vector set of :func:`make_vectors`."""
    nlev = _levels(cfg, truncation).size
    pairs = cfg.a.count * cfg.b.count
    if mode == "exhaustive":
        return pairs * nlev, 0
    if mode == "pairs":
        return pairs, 0
    ncorner = corner_values(cfg.a).size * corner_values(cfg.b).size * nlev if corners else 0
    return count + ncorner, ncorner


def describe_vectors(cfg: MultiplierConfig, truncation, mode: str, count: int,
                     corners: bool = True) -> str:
    """One line saying what a vector set holds (printed by the command lines)."""
    n, nc = vector_count(cfg, truncation, mode, count, corners)
    levels = "every level" if truncation == "runtime" else f"level {truncation}"
    if mode == "exhaustive":
        return f"vectors: every operand pair at {levels} = {n:,} operations"
    if mode == "pairs":
        return f"vectors: every operand pair once, each at a random level = {n:,} operations"
    if not corners:
        return f"vectors: {count:,} seeded random operations (corner cases left out)"
    return (f"vectors: {count:,} seeded random operations + {nc:,} corner-case operations "
            f"(every pair of corner values at {levels}; --no-corners leaves them out) "
            f"= {n:,} operations")


def make_vectors(cfg: MultiplierConfig, truncation, mode: str, count: int, seed: int,
                 bubble: float, corners: bool = True):
    """Operation stream ``(a, b, t)`` and cycle stream with bubbles.

    ``mode``: ``exhaustive`` (every pair at every level for runtime truncation, every pair at the
    static level otherwise, shuffled so the level changes nearly every cycle), ``pairs`` (every
    pair once, each with a random level), ``random`` (``count`` seeded random operations plus,
    if ``corners``, every corner pair at every level: :func:`vector_count` says how many).

    Returns ``a, b, t, valid``: one entry per cycle; bubble cycles carry random inputs.

    Raises
    ------
    ValueError
        For a vector set larger than :data:`sim.common.MAX_VECTORS` (sample with ``random``).
    """
    from .common import check_vector_count

    check_vector_count(vector_count(cfg, truncation, mode, count, corners)[0],
                       f"--mode {mode} with {cfg.tag()} operands")
    rng = np.random.default_rng(seed)
    levels = _levels(cfg, truncation)
    if mode == "exhaustive":
        a, b, t = np.meshgrid(cfg.a.values(), cfg.b.values(), levels, indexing="ij")
        a, b, t = a.ravel(), b.ravel(), t.ravel()
    elif mode == "pairs":
        a, b = np.meshgrid(cfg.a.values(), cfg.b.values(), indexing="ij")
        a, b = a.ravel(), b.ravel()
        t = rng.choice(levels, a.size)
    elif mode == "random":
        ca, cb = corner_values(cfg.a), corner_values(cfg.b)
        if not corners:
            ca, cb = ca[:0], cb[:0]
        a0, b0, t0 = (x.ravel() for x in np.meshgrid(ca, cb, levels, indexing="ij"))
        a = np.concatenate([a0, rng.integers(cfg.a.min, cfg.a.max + 1, count)])
        b = np.concatenate([b0, rng.integers(cfg.b.min, cfg.b.max + 1, count)])
        t = np.concatenate([t0, rng.choice(levels, count)])
    else:
        raise ValueError(f"mode must be 'exhaustive', 'pairs' or 'random', not {mode!r}")
    order = rng.permutation(a.size)
    a, b, t = a[order], b[order], t[order]
    # Insert bubbles: each cycle is a bubble with probability `bubble`.
    nops = a.size
    bubbles = rng.random(int(nops / (1 - bubble)) + 16) < bubble if bubble > 0 else np.zeros(nops, bool)
    valid = ~bubbles
    valid_idx = np.flatnonzero(valid)
    if valid_idx.size < nops:  # rare: pad with valid cycles
        valid = np.concatenate([valid, np.ones(nops - valid_idx.size, bool)])
        valid_idx = np.flatnonzero(valid)
    valid[valid_idx[nops:]] = False
    ncyc = valid_idx[nops - 1] + 1 if nops else 0
    valid = valid[:ncyc]
    ca = rng.integers(cfg.a.min, cfg.a.max + 1, ncyc)
    cb = rng.integers(cfg.b.min, cfg.b.max + 1, ncyc)
    ct = rng.choice(levels, ncyc)
    ca[valid], cb[valid], ct[valid] = a, b, t
    return ca, cb, ct, valid


def fast_reader(handle):
    """A function returning ``int(handle.value)`` (``ValueError`` on X/Z), without building a
    ``LogicArray``: it reads the binary string through cocotb's GPI handle, several times faster
    in a per-cycle loop. Falls back to the public API if that handle is not available."""
    gpi = getattr(handle, "_handle", None)
    if gpi is not None and hasattr(gpi, "get_signal_val_binstr"):
        get = gpi.get_signal_val_binstr
        return lambda: int(get(), 2)
    return lambda: int(handle.value)


#: Stands for an X value of a row register (rows are not reset; they are X until first loaded).
ROW_X = -(1 << 62)


def _signed(raw: np.ndarray, width: int) -> np.ndarray:
    raw = raw.astype(np.int64)
    return np.where(raw == ROW_X, ROW_X,
                    np.where(raw >> (width - 1) & 1, raw - (1 << width), raw))


# ----------------------------------------------------------------------------- cocotb test
if cocotb is not None:
    @cocotb.test()
    async def csd_multiplier_matches_golden(dut):
        """Every product and every row load of the stream matches the golden model."""
        from sim.common import bench_config, write_json
        from pathlib import Path

        cfgd = bench_config()
        cfg = MultiplierConfig(cfgd["a_width"], cfgd["a_signed"], cfgd["b_width"], cfgd["b_signed"])
        truncation, gating, latency = cfgd["truncation"], cfgd["gating"], cfgd["latency"]
        rows = cfgd["rows"] if cfgd.get("watch_rows", True) else []
        a, b, t, valid = make_vectors(cfg, truncation, cfgd["mode"], cfgd["count"],
                                      cfgd["seed"], cfgd["bubble"], cfgd.get("corners", True))
        ncyc = a.size
        amask, bmask = (1 << cfg.a_width) - 1, (1 << cfg.b_width) - 1
        a_drive = (a & amask).tolist()
        b_drive = (b & bmask).tolist()
        t_drive = t.tolist()
        v_drive = valid.astype(int).tolist()

        Clock(dut.clk, PERIOD_NS, unit="ns").start()
        fe = FallingEdge(dut.clk)
        runtime = truncation == "runtime"
        dut.in_valid.value = 0
        dut.a.value = 0
        dut.b.value = 0
        if runtime:
            dut.trunc.value = 0
        dut.rst.value = 1
        for _ in range(3):
            await fe
        dut.rst.value = 0
        await fe
        assert int(dut.out_valid.value) == 0, "out_valid not 0 after reset"
        assert int(dut.p.value) == 0, "p not 0 after reset"

        row_h = [getattr(dut, f"row{i}") for i in rows]
        load_h = [getattr(dut, f"row{i}_load") for i in rows]
        gclk_counts = [0] * len(rows)
        if gating == "icg":
            async def count_edges(k, h):
                edge = RisingEdge(h)
                while True:
                    await edge
                    gclk_counts[k] += 1
            for k, i in enumerate(rows):
                cocotb.start_soon(count_edges(k, getattr(dut, f"row{i}_gclk")))

        # Step with a Timer of one clock period from 1 ns after a falling edge: the same instants
        # as awaiting FallingEdge (plus 1 ns, away from both edges) at a fraction of the cost.
        await Timer(1, unit="ns")
        step = Timer(PERIOD_NS, unit="ns")
        a_h, b_h, v_h, p_h, ov_h = dut.a, dut.b, dut.in_valid, dut.p, dut.out_valid
        t_h = dut.trunc if runtime else None
        read_p, read_ov = fast_reader(p_h), fast_reader(ov_h)
        read_row = [fast_reader(h) for h in row_h]
        read_load = [fast_reader(h) for h in load_h]
        total = ncyc + latency + 1
        p_raw = [0] * total
        ov_raw = [0] * total
        row_raw = [[0] * total for _ in rows]
        load_raw = [[0] * total for _ in rows]
        nrows = len(rows)
        start = time.perf_counter()
        report = max(1, total // 10)
        for j in range(total):
            # Monitor: state after the rising edge that consumed cycle j - 1's inputs.
            try:
                p_raw[j] = read_p()
                ov_raw[j] = read_ov()
            except ValueError:
                raise AssertionError(f"p or out_valid is X/Z after reset, at sample {j}: "
                                     f"p={p_h.value}, out_valid={ov_h.value}") from None
            for k in range(nrows):
                try:
                    row_raw[k][j] = read_row[k]()
                except ValueError:  # X: a row register is not reset and X until first loaded
                    row_raw[k][j] = ROW_X
                load_raw[k][j] = read_load[k]()
            # Driver: cycle j's inputs, sampled at the next rising edge.
            if j < ncyc:
                a_h.value = a_drive[j]
                b_h.value = b_drive[j]
                if runtime:
                    t_h.value = t_drive[j]
                v_h.value = v_drive[j]
            elif j == ncyc:
                v_h.value = 0
            if j and j % report == 0 and total > 100_000:
                dut._log.info("%d / %d cycles (%.0f cycles/s)", j, total,
                              j / (time.perf_counter() - start))
            await step
        seconds = time.perf_counter() - start

        # ---------------------------------------------------------------- checker (bulk)
        nops = int(valid.sum())
        write_json(Path(cfgd["out_dir"]) / "bench.json",
                   {"vectors": nops, "cycles": total, "seconds": round(seconds, 3),
                    "vectors_per_s": round(nops / seconds, 1)})
        p_got = _signed(np.array(p_raw), cfg.p_width) if cfg.p_signed else np.array(p_raw)
        ov = np.array(ov_raw, dtype=bool)
        # Sample j shows the results of cycle j - latency.
        expect_ov = np.zeros(total, bool)
        expect_ov[latency:latency + ncyc] = valid
        bad = np.flatnonzero(ov != expect_ov)
        assert bad.size == 0, (
            f"out_valid wrong at {bad.size} samples, first at sample {bad[0]} "
            f"(got {int(ov[bad[0]])}); {int(ov.sum())} results for {nops} operations")
        expect_p = csd_product(a[valid], b[valid], cfg, t[valid])
        got_p = p_got[ov]
        mism = np.flatnonzero(got_p != expect_p)
        if mism.size:
            k = mism[0]
            ops = np.flatnonzero(valid)
            raise AssertionError(
                f"{mism.size} of {nops} products differ; first: a={a[ops[k]]} b={b[ops[k]]} "
                f"t={t[ops[k]]}: got {got_p[k]}, expected {expect_p[k]}")
        # p holds between results.
        held = np.maximum.accumulate(np.where(ov, np.arange(total), -1))
        expect_hold = np.where(held >= 0, p_got[np.maximum(held, 0)], 0)
        bad = np.flatnonzero(p_got != expect_hold)
        assert bad.size == 0, f"p changed without out_valid at sample {bad[0]}"

        # Gating. Sample j (j >= 1) shows the rising edge fed by cycle j - 1.
        digits = np.zeros((ncyc, cfg.ndigits), np.int64)
        digits[:] = csd_digits(b, cfg.b)
        total_loads = 0
        rw = cfg.a_width + 1
        for k, i in enumerate(rows):
            got_load = np.array(load_raw[k][1:ncyc + 1], dtype=bool)
            row = _signed(np.array(row_raw[k]), rw)
            active = valid & (digits[:, i] != 0) & (i >= t)
            value = digits[:, i] * a  # d_i * a
            if gating == "none":
                assert got_load.all(), f"row{i}_load not 1 every cycle"
                exp_row = np.where((digits[:, i] != 0) & (i >= t), value, 0)
                bad = np.flatnonzero(row[1:ncyc + 1] != exp_row)
                assert bad.size == 0, f"row{i} wrong after cycle {bad[0]}"
                total_loads += got_load.sum()
                continue
            bad = np.flatnonzero(got_load != active)
            assert bad.size == 0, (
                f"row{i}_load is {int(got_load[bad[0]])} in cycle {bad[0]} (a={a[bad[0]]}, "
                f"b={b[bad[0]]}, t={t[bad[0]]}, in_valid={int(valid[bad[0]])})")
            # A row whose strobe is low keeps its value; a loaded row holds d_i * a.
            prev, now = row[:ncyc], row[1:ncyc + 1]
            bad = np.flatnonzero(~active & (now != prev))
            assert bad.size == 0, (
                f"row{i} changed in cycle {bad[0]} although its digit is zero or truncated or "
                f"the cycle is a bubble (b={b[bad[0]]}, t={t[bad[0]]}, valid={int(valid[bad[0]])})")
            bad = np.flatnonzero(active & (now != value))
            assert bad.size == 0, f"row{i} loaded {now[bad[0]]}, expected {value[bad[0]]}"
            # The tail after the last vector: no loads.
            tail = np.array(load_raw[k][ncyc + 1:], dtype=bool)
            assert not tail.any(), f"row{i} loaded after the stream ended"
            if gating == "icg":
                assert gclk_counts[k] == int(active.sum()), (
                    f"row{i}_gclk rose {gclk_counts[k]} times for {int(active.sum())} loads")
            total_loads += int(got_load.sum())
        golden_loads = int(active_rows(b[valid], cfg.b, t[valid]).sum())
        if gating == "none":
            assert total_loads == len(rows) * ncyc
        else:
            assert total_loads == golden_loads, (
                f"{total_loads} row loads, golden active rows {golden_loads}")
        dut._log.info("%d operations in %d cycles, %.3f s (%.0f vectors/s); row loads %d "
                      "(golden active rows %d)", nops, total, seconds, nops / seconds,
                      total_loads, golden_loads)


# ----------------------------------------------------------------------------- runner (pytest side)
def tag_for(cfg: MultiplierConfig, truncation, gating: str, mode: str, seed: int = 1,
            count: int = 0, bubble: float = 0.1, corners: bool = True) -> str:
    """Build-folder name: one per parameter combination and vector set."""
    t = "rt" if truncation == "runtime" else f"t{truncation}"
    n = f"{count}{'' if corners else 'nc'}" if mode == "random" else ""
    return f"{MODULE}_{cfg.tag()}_{t}_{gating}_{mode}{n}_b{round(bubble * 100)}_s{seed}"


def run(a_width: int = 8, a_signed: bool = True, b_width: int = 8, b_signed: bool = True,
        truncation="runtime", gating: str = "enable", mode: str = "pairs", count: int = 2000,
        seed: int = 1, bubble: float = 0.1, sim: str | None = None, waves: bool | None = None,
        corners: bool = True) -> dict:
    """Build ``csd_multiplier`` with these parameters and run the bench; return its summary.

    Raises ``AssertionError`` if any product, valid flag or row load differs from the golden
    model, ``ValueError`` for a vector set over :data:`sim.common.MAX_VECTORS` (before building).
    """
    from hw.csd_multiplier import CSDMultiplier

    from hw._component import not_elaborated

    from .common import run_bench

    params = dict(a_width=a_width, a_signed=a_signed, b_width=b_width, b_signed=b_signed,
                  truncation=truncation, gating=gating)
    dut = CSDMultiplier(**params)  # validates the parameters; the generator builds its own
    not_elaborated(dut)
    check_run(dut.config, truncation, mode, count, seed, bubble, corners)
    bench = dict(params, latency=dut.latency, rows=dut.rows, mode=mode, count=count, seed=seed,
                 bubble=bubble, corners=corners)
    return run_bench(module_name=MODULE, params=params,
                     tag=tag_for(dut.config, truncation, gating, mode, seed, count, bubble,
                                 corners),
                     test_module="sim.tb_csd_multiplier", bench=bench, sim=sim, waves=waves)


def check_run(cfg: MultiplierConfig, truncation, mode: str, count: int, seed: int,
              bubble: float = 0.0, corners: bool = True) -> None:
    """Check a bench's vector settings before anything is built (``ValueError``/``TypeError``
    naming the setting); shared by the multiplier benches."""
    from golden_model.config import check_bool, check_int

    from .common import MAX_BUBBLE, MAX_VECTORS, check_vector_count

    if mode not in ("exhaustive", "pairs", "random"):
        raise ValueError(f"mode must be 'exhaustive', 'pairs' or 'random', not {mode!r}")
    check_int("count", count, 1, MAX_VECTORS)
    check_int("seed", seed, 0, 2**63 - 1)
    check_bool("corners", corners)
    if isinstance(bubble, bool) or not isinstance(bubble, (int, float)) or not (
            0 <= bubble <= MAX_BUBBLE):
        raise ValueError(f"bubble must be a probability in [0, {MAX_BUBBLE}], not {bubble!r}")
    check_vector_count(vector_count(cfg, truncation, mode, count, corners)[0],
                       f"--mode {mode} with {cfg.tag()} operands")


def main(argv=None) -> int:
    from golden_model.config import GATING_STYLES

    from hw._component import not_elaborated
    from hw.csd_multiplier import CSDMultiplier

    from .common import (add_operand_args, add_truncation_arg, add_vector_args, checked,
                         main_args, run_main)
    p = main_args(__doc__)
    add_operand_args(p)
    add_truncation_arg(p)
    p.add_argument("--gating", default="enable", choices=GATING_STYLES,
                   help="row-register gating style (default: enable)")
    add_vector_args(p, corners=True, bubble=0.1)
    args = p.parse_args(argv)
    params = dict(a_width=args.a_width, a_signed=args.a_signed, b_width=args.b_width,
                  b_signed=args.b_signed, truncation=args.truncation, gating=args.gating)
    dut = checked(p, CSDMultiplier, **params)
    not_elaborated(dut)
    checked(p, check_run, dut.config, args.truncation, args.mode, args.count, args.seed,
            args.bubble, args.corners)
    print(describe_vectors(dut.config, args.truncation, args.mode, args.count, args.corners),
          flush=True)
    return run_main(p, run, **params, mode=args.mode, count=args.count, seed=args.seed,
                    bubble=args.bubble, sim=args.sim, waves=args.waves or None,
                    corners=args.corners)


if __name__ == "__main__":
    raise SystemExit(main())
