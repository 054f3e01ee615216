"""cocotb testbench of ``shift_scale_decoder`` (:class:`hw.decoder.ShiftScaleDecoder`).

Exhaustive mode drives every code in every lane with every scale ``1 .. 2**scale_bits - 1``
(``2**code_bits`` words per scale, lane ``j`` of word ``c`` holding code ``(c + j) mod 2**code_bits``);
random mode drives seeded random words and scales. Words are packed with
:func:`golden_model.codec.pack_codes`, and every lane of every output is compared with
:func:`golden_model.codec.decode`. The combinational variant is sampled 1 ns after each input
change; the registered one is driven on falling clock edges with random ``in_valid`` bubbles and
checked for latency, ``out_valid`` (no drop, no duplicate) and holding between results.

Run on its own: ``python -m sim.tb_decoder --help``.
"""

from __future__ import annotations

import time

import numpy as np

try:
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge, Timer
except ImportError:
    cocotb = None

from golden_model.codec import decode, pack_codes
from golden_model.config import CodecConfig

MODULE = "shift_scale_decoder"


def vector_count(cfg: CodecConfig, mode: str, count: int) -> int:
    """Words of a vector set of :func:`make_vectors`."""
    return cfg.scale_max * (1 << cfg.code_bits) if mode == "exhaustive" else count


def make_vectors(cfg: CodecConfig, lanes: int, mode: str, count: int, seed: int):
    """``codes`` of shape (vectors, lanes) and ``scales`` of shape (vectors,)."""
    rng = np.random.default_rng(seed)
    ncodes = 1 << cfg.code_bits
    if mode == "exhaustive":
        scales = np.repeat(np.arange(1, cfg.scale_max + 1), ncodes)
        c = np.tile(np.arange(ncodes), cfg.scale_max)
        codes = (c[:, None] + np.arange(lanes)[None, :]) % ncodes
    elif mode == "random":
        scales = rng.integers(1, cfg.scale_max + 1, count)
        codes = rng.integers(0, ncodes, (count, lanes))
    else:
        raise ValueError(f"mode must be 'exhaustive' or 'random', not {mode!r}")
    order = rng.permutation(scales.size)
    return codes[order], scales[order]


def _lanes_signed(raw: np.ndarray, lanes: int, width: int) -> np.ndarray:
    """Split flat ``weights`` words into signed lanes (lane j at bits [j*width, (j+1)*width))."""
    out = np.empty((raw.size, lanes), np.int64)
    for j in range(lanes):
        v = np.array([(int(x) >> (j * width)) & ((1 << width) - 1) for x in raw], np.int64)
        out[:, j] = np.where(v >> (width - 1) & 1, v - (1 << width), v)
    return out


if cocotb is not None:
    @cocotb.test()
    async def decoder_matches_golden(dut):
        """Every lane of every decoded word equals the golden decode."""
        from pathlib import Path

        from sim.common import bench_config, write_json

        cfgd = bench_config()
        cfg = CodecConfig(cfgd["code_bits"], cfgd["scale_bits"])
        lanes, registered = cfgd["lanes"], cfgd["registered"]
        codes, scales = make_vectors(cfg, lanes, cfgd["mode"], cfgd["count"], cfgd["seed"])
        words = [int(w) for w in pack_codes(codes.reshape(-1), cfg, lanes)]
        sc = scales.tolist()
        n = len(words)
        codes_h, scale_h, w_h = dut.codes, dut.scale, dut.weights
        got = []
        start = time.perf_counter()
        if not registered:
            step = Timer(1, unit="ns")
            for k in range(n):
                codes_h.value = words[k]
                scale_h.value = sc[k]
                await step
                got.append(int(w_h.value))
        else:
            rng = np.random.default_rng(cfgd["seed"] + 1)
            Clock(dut.clk, 10, unit="ns").start()
            fe = FallingEdge(dut.clk)
            dut.in_valid.value = 0
            codes_h.value = 0
            scale_h.value = 1
            dut.rst.value = 1
            for _ in range(2):
                await fe
            dut.rst.value = 0
            await fe
            assert int(dut.out_valid.value) == 0 and int(w_h.value) == 0, "not cleared by reset"
            lat = cfgd["latency"]
            # Cycle stream with bubbles: each vector preceded by a bubble with probability 0.2.
            cyc_valid = []
            for _ in range(n):
                while rng.random() < 0.2:
                    cyc_valid.append(False)
                cyc_valid.append(True)
            ncyc = len(cyc_valid)
            ov_raw, w_raw = [], []
            ov_h, v_h = dut.out_valid, dut.in_valid
            k = 0
            for j in range(ncyc + lat + 1):
                ov_raw.append(int(ov_h.value))
                w_raw.append(int(w_h.value))
                if j < ncyc:
                    if cyc_valid[j]:
                        codes_h.value = words[k]
                        scale_h.value = sc[k]
                        k += 1
                    else:  # bubble with garbage inputs
                        codes_h.value = int(rng.integers(0, 1 << (lanes * cfg.code_bits)))
                        scale_h.value = int(rng.integers(0, cfg.scale_max + 1))
                    v_h.value = int(cyc_valid[j])
                else:
                    v_h.value = 0
                await fe
            ov = np.array(ov_raw, bool)
            expect_ov = np.zeros(ov.size, bool)
            expect_ov[lat:lat + ncyc] = cyc_valid
            bad = np.flatnonzero(ov != expect_ov)
            assert bad.size == 0, f"out_valid wrong at sample {bad[0] if bad.size else None}"
            w_all = np.array(w_raw, dtype=object)
            held = np.maximum.accumulate(np.where(ov, np.arange(ov.size), -1))
            hold = np.array([w_all[h] if h >= 0 else 0 for h in held], dtype=object)
            assert (w_all == hold).all(), "weights changed without out_valid"
            got = [w_raw[i] for i in np.flatnonzero(ov)]
        seconds = time.perf_counter() - start
        write_json(Path(cfgd["out_dir"]) / "bench.json",
                   {"vectors": n, "seconds": round(seconds, 3),
                    "vectors_per_s": round(n / seconds, 1)})
        assert len(got) == n, f"{len(got)} results for {n} inputs"
        got_w = _lanes_signed(np.array(got, dtype=object), lanes, cfg.weight_width)
        exp_w = decode(codes, scales[:, None], cfg)
        bad = np.argwhere(got_w != exp_w)
        if bad.size:
            i, j = bad[0]
            raise AssertionError(
                f"{len(bad)} weights differ; first: word {i} lane {j}: code {codes[i, j]} "
                f"scale {scales[i]}: got {got_w[i, j]}, expected {exp_w[i, j]}")
        dut._log.info("%d words x %d lanes in %.3f s (%.0f words/s)", n, lanes, seconds,
                      n / seconds)


def tag_for(code_bits, scale_bits, lanes, registered, mode, seed=1, count=0) -> str:
    return (f"{MODULE}_c{code_bits}_s{scale_bits}_l{lanes}{'_reg' if registered else ''}"
            f"_{mode}{count if mode == 'random' else ''}_s{seed}")


def check_run(cfg: CodecConfig, mode: str, count: int, seed: int) -> None:
    """Check the vector settings before anything is built (``ValueError`` naming the setting)."""
    from golden_model.config import check_int

    from .common import MAX_VECTORS, check_vector_count

    if mode not in ("exhaustive", "random"):
        raise ValueError(f"mode must be 'exhaustive' or 'random', not {mode!r}")
    check_int("count", count, 1, MAX_VECTORS)
    check_int("seed", seed, 0, 2**63 - 1)
    check_vector_count(vector_count(cfg, mode, count), f"--mode {mode} of this decoder")


def run(code_bits: int = 3, scale_bits: int = 7, lanes: int = 1, registered: bool = False,
        mode: str = "exhaustive", count: int = 2000, seed: int = 1, sim: str | None = None,
        waves: bool | None = None) -> dict:
    """Build ``shift_scale_decoder`` with these parameters and run the bench; return its summary."""
    from hw.decoder import ShiftScaleDecoder

    from hw._component import not_elaborated

    from .common import run_bench

    params = dict(code_bits=code_bits, scale_bits=scale_bits, lanes=lanes, registered=registered)
    dut = ShiftScaleDecoder(**params)
    not_elaborated(dut)
    check_run(dut.config, mode, count, seed)
    bench = dict(params, latency=dut.latency, mode=mode, count=count, seed=seed)
    return run_bench(module_name=MODULE, params=params,
                     tag=tag_for(code_bits, scale_bits, lanes, registered, mode, seed, count),
                     test_module="sim.tb_decoder", bench=bench, sim=sim, waves=waves)


def main(argv=None) -> int:
    import argparse

    from hw._component import not_elaborated
    from hw.decoder import ShiftScaleDecoder

    from .common import _int_type, add_vector_args, checked, main_args, run_main
    p = main_args(__doc__)
    p.add_argument("--code-bits", type=_int_type(2, 4), default=3, metavar="N",
                   help="bits per weight code, 2 to 4 (default: 3)")
    p.add_argument("--scale-bits", type=_int_type(1, 15), default=7, metavar="N",
                   help="width of the per-filter scale, 1 to 15 (default: 7)")
    p.add_argument("--lanes", type=_int_type(1), default=1, metavar="N",
                   help="codes decoded per cycle (default: 1)")
    p.add_argument("--registered", action=argparse.BooleanOptionalAction, default=False,
                   help="output register with in_valid/out_valid (default: combinational)")
    add_vector_args(p, modes=("exhaustive", "random"), default_mode="exhaustive")
    args = p.parse_args(argv)
    params = dict(code_bits=args.code_bits, scale_bits=args.scale_bits, lanes=args.lanes,
                  registered=args.registered)
    dut = checked(p, ShiftScaleDecoder, **params)
    not_elaborated(dut)
    checked(p, check_run, dut.config, args.mode, args.count, args.seed)
    n = vector_count(dut.config, args.mode, args.count)
    what = ("every code in every lane with every scale" if args.mode == "exhaustive"
            else "seeded random words and scales")
    print(f"vectors: {what} = {n:,} words", flush=True)
    return run_main(p, run, **params, mode=args.mode, count=args.count, seed=args.seed,
                    sim=args.sim, waves=args.waves or None)


if __name__ == "__main__":
    raise SystemExit(main())
