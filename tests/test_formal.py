"""Formal flow (sim/formal): the specification against the golden model, a small proof, and
mutations of the RTL and of the specification that the proofs must reject.

The full proof matrix runs in ``make formal`` (part of ``make sim``).
"""

import json
import re
import shutil

import pytest

from golden_model.config import MultiplierConfig
from sim.formal import prove, spec_check
from sim.formal.harness import Design
from sim.formal.runner import SPEC_DIR, run


def _mul(w=4, **kw):
    params = dict(a_width=w, a_signed=True, b_width=w, b_signed=True, truncation="runtime",
                  gating="enable")
    params.update(kw)
    return Design("csd_multiplier", params)


def _proof(name, design, part):
    return prove.make_proof(name, (design,), part)


@pytest.fixture(scope="module")
def iverilog():
    if not shutil.which("iverilog"):
        pytest.fail("the specification check needs Icarus Verilog (iverilog)", pytrace=False)


# ------------------------------------------------------------------ specification vs golden model

@pytest.mark.parametrize("fmt", spec_check.FORMATS)
def test_spec_equals_golden_model_exhaustively_4x4(iverilog, fmt):
    cfg = MultiplierConfig(4, fmt[0] == "s", 4, fmt[1] == "s")
    assert spec_check.check_product(cfg) == 16 * 16 * (cfg.ndigits + 2)


@pytest.mark.parametrize("code_bits", [2, 3, 4])
def test_decoder_spec_equals_golden_model(iverilog, code_bits):
    assert spec_check.check_decoder(code_bits, 5) == 31 * 2 ** code_bits


def test_a_wrong_spec_is_caught_by_the_golden_model(iverilog, tmp_path):
    text = (SPEC_DIR / "csd_spec.v").read_text()
    bad = text.replace("(i >= t) ? prod << i", "(i > t) ? prod << i")
    assert bad != text
    (tmp_path / "csd_spec.v").write_text(bad)
    with pytest.raises(AssertionError, match="specification .* != golden model"):
        spec_check.check_product(MultiplierConfig(4, True, 4, True), spec_dir=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", spec_check.FORMATS)
def test_spec_equals_golden_model_exhaustively_8x8(iverilog, fmt):
    cfg = MultiplierConfig(8, fmt[0] == "s", 8, fmt[1] == "s")
    assert spec_check.check_product(cfg) == 256 * 256 * (cfg.ndigits + 2)


# ------------------------------------------------------------------ proofs

@pytest.mark.parametrize("part", ["rows", "acc"])
def test_csd_multiplier_8x8_is_proven(tmp_path, part):
    r = run(_proof(f"s8-{part}", _mul(8), part), tmp_path)
    assert r.status == "PASS", r.detail


def test_recoder_and_decoder_are_proven(tmp_path):
    r = run(_proof("rec", _mul(6), "recoder"), tmp_path)
    assert r.status == "PASS", r.detail
    dec = Design("shift_scale_decoder", dict(code_bits=3, scale_bits=4, lanes=2, registered=True))
    r = run(_proof("dec", dec, "dec"), tmp_path)
    assert r.status == "PASS", r.detail


def test_harness_names_a_bad_lemma_selection():
    from sim.formal.harness import harness
    with pytest.raises(ValueError, match="lemmas must be 'all', 'terms' or 'others', not 'some'"):
        harness(_mul(4), "rows", lemmas="some")


def _flip_first_row_sign(text: str) -> str:
    """Swap the -a / +a branches of the first row's sign select (digit 0 gets the wrong sign)."""
    new, n = re.subn(r"(= \\\$\d+ \[\d+\] \? )(\\\$\d+ ) : (\{[^}]*\});", r"\1\3 : \2;", text,
                     count=1)
    assert n == 1, "mutation pattern not found in the generated Verilog"
    return new


def test_a_wrong_row_sign_in_the_rtl_fails_the_proof(tmp_path):
    r = run(_proof("mut", _mul(4), "rows"), tmp_path, mutate=_flip_first_row_sign)
    assert r.status == "FAIL"
    assert "f_term0" in r.detail


def test_a_wrong_row_shift_in_the_rtl_fails_the_accumulation(tmp_path):
    def shift(text):
        new, n = re.subn(r"\{ (\\\$\d+) , 1'h0 \}", r"{ \1 , 2'h0 }", text, count=1)
        assert n == 1
        return new
    r = run(_proof("mut", _mul(4), "acc"), tmp_path, mutate=shift)
    assert r.status == "FAIL"
    assert "f_acc_eq" in r.detail


def test_an_ungated_icg_fails_the_hold_property(tmp_path):
    from hw.verilog import cell_source

    cell = cell_source("qsq_icg")
    assert "assign GCLK = CLK & en_latched;" in cell
    d = _mul(4, gating="icg")
    p = _proof("icg", d, "rows")
    import sim.formal.runner as runner
    real = runner.dut_text

    def broken(proof, mutate=None, split=False):
        text, names = real(proof, mutate, split)
        return text.replace("assign GCLK = CLK & en_latched;", "assign GCLK = CLK;"), names
    runner.dut_text = broken
    try:
        r = run(p, tmp_path)
    finally:
        runner.dut_text = real
    assert r.status == "FAIL"
    assert "f_hold" in r.detail


def _bad_spec(tmp_path, old, new):
    spec = tmp_path / "spec"
    spec.mkdir()
    shutil.copy(SPEC_DIR / "decoder_spec.v", spec)
    text = (SPEC_DIR / "csd_spec.v").read_text()
    bad = text.replace(old, new)
    assert bad != text
    (spec / "csd_spec.v").write_text(bad)
    return spec


def test_a_wrong_spec_recoding_fails_the_recoder_lemma(tmp_path):
    spec = _bad_spec(tmp_path, "dneg[i] = x[0] & x[1];", "dneg[i] = x[0] & x[1] & x[2];")
    r = run(_proof("spec", _mul(4), "acc"), tmp_path, spec_dir=spec)
    assert r.status == "FAIL"
    assert "f_recoder" in r.detail


def test_a_wrong_spec_term_fails_the_row_lemmas(tmp_path):
    spec = _bad_spec(tmp_path, "(dneg[i] ? -av :", "(dneg[i] ? av :")
    r = run(_proof("spec", _mul(4), "rows"), tmp_path, spec_dir=spec)
    assert r.status == "FAIL"
    assert "f_term" in r.detail


def test_a_lost_carry_in_of_a_compact_row_fails_the_accumulation(tmp_path):
    """An XOR-negated compact row without its carry-in adds -a - 1, not -a."""
    d = Design("csd_compact_multiplier", dict(a_width=4, a_signed=True, b_width=4, b_signed=True,
                                              truncation=0, gating="enable", sign="xor"))

    def drop_carry(text):
        new, n = re.subn(r"= row0_neg \+ row1_neg;", "= row1_neg;", text)
        assert n == 1, "mutation pattern not found in the generated Verilog"
        return new
    r = run(_proof("carry", d, "acc"), tmp_path, mutate=drop_carry)
    assert r.status == "FAIL"
    assert "f_acc_eq" in r.detail


def test_summary_table_from_results(tmp_path, capsys):
    assert prove.main(["--out", str(tmp_path), "--summary"]) == 2
    assert f"no results in {tmp_path}" in capsys.readouterr().err
    recs = [{"proof": f"csd-none-s8xs8-{part}", "part": part, "engine": "smtbmc yices",
             "status": "PASS", "seconds": 2.5, "module": "csd_multiplier", "width": 8,
             "gating": "none", "sign": None, "operands": "s8xs8",
             "levels": list(range(9)) + ["runtime"]} for part in ("rows", "acc")]
    recs.append(dict(recs[0], status="FAIL", operands="u8xu8", levels=[0, 1]))
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert prove.main(["--out", str(tmp_path), "--summary"]) == 0
    out = capsys.readouterr().out
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
             if line.startswith("|")]
    assert cells[0] == ["width", "design", "operands", "levels (t)", "proofs passed",
                        "end-to-end", "solver", "proof time [s]"]
    assert cells[2] == ["8x8", "csd-none", "sxs uxu", "all (0..8), runtime", "2/3", "not stated",
                        "yices", "7.5"]
    assert "2/3 SBY runs passed; proof time summed over runs 8 s; unfinished run" in out


@pytest.mark.parametrize("argv, message", [
    (["--widths", "9"], "argument --widths: widths must be a comma-separated list of "
                        "(8, 12, 16), not '9'"),
    (["-j", "0"], "argument -j/--jobs: jobs must be an integer in [1, 64], not '0'"),
    (["--timeout", "-1"], "argument --timeout: timeout must be a positive number of seconds, "
                          "not '-1'"),
    (["--levels", "some"], "argument --levels: invalid choice: 'some'"),
    (["--no-shapes", "-k", "nothing-like-this"],
     "-k ['nothing-like-this'] selects no proof (see --list)"),
])
def test_bad_arguments(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        prove.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


# ------------------------------------------------------------------ a shared wrong parameter

@pytest.fixture
def one_digit_short(monkeypatch):
    """Plant the wrong digit count in the shared configuration (golden_model.config), which the
    RTL generator reads: an unsigned b gets ``width`` CSD digits instead of ``width + 1`` (so
    ``1 * 15`` at 4x4 loses its top digit). The proofs' expectation comes from the spec alone
    and must not follow it."""
    import golden_model.config as config
    import sim.formal.runner as runner

    real = config.OperandFormat.ndigits
    monkeypatch.setattr(config.OperandFormat, "ndigits", property(
        lambda self: self.width if not self.signed else real.fget(self)))
    monkeypatch.setattr(runner, "_CACHE", {})       # generate the design again, planted
    yield
    assert config.OperandFormat.ndigits is not real    # undone by monkeypatch afterwards


def _u4():
    return _mul(4, a_signed=False, b_signed=False)


def test_a_wrong_shared_digit_count_fails_the_end_to_end_proof(tmp_path, one_digit_short):
    from sim.formal.harness import SpecShape

    assert SpecShape(4, False, 4, False).ndigits == 5          # the spec's count, not the plant's
    r = run(_proof("plant-e2e", _u4(), "e2e"), tmp_path)
    assert r.status == "FAIL", r.detail


@pytest.mark.slow
@pytest.mark.parametrize("part", ["rows", "acc"])
def test_a_wrong_shared_digit_count_fails_the_decomposed_proofs(tmp_path, one_digit_short, part):
    r = run(_proof(f"plant-{part}", _u4(), part), tmp_path)
    assert r.status == "FAIL", r.detail


def test_the_end_to_end_proof_passes_unplanted(tmp_path):
    r = run(_proof("e2e", _u4(), "e2e"), tmp_path)
    assert r.status == "PASS", r.detail


def test_a_port_resize_is_an_error_in_proof_builds(tmp_path):
    """A spec instance connected to a wire of another width (what let the planted digit count
    through before): Yosys's resize warning is fatal in every proof build."""
    import sim.formal.runner as runner

    d = _mul(4)
    real = runner.dut_text

    def narrow(proof, mutate=None, split=False):
        text, names = real(proof, mutate, split)
        bad = text.replace(".dpos(f_naf_pos)", ".dpos(f_naf_pos[2:0])", 1)
        assert bad != text
        return bad, names
    runner.dut_text = narrow
    try:
        r = run(_proof("resize", d, "acc"), tmp_path)
    finally:
        runner.dut_text = real
    assert r.status == "ERROR"
    assert "Resizing cell port" in r.detail


# ------------------------------------------------------------------ the matrix

_ENGINE = ([("csd_compact_multiplier", "enable", "xor", 17, True, 8, True, "digits (bucket PE)")],
           [(3, 9, "digits (multiplier PE)")])


def test_the_matrix_has_the_engine_shapes_unequal_widths_and_every_level_there():
    names = {x.name: x for x in prove.proofs((8,), {8: "all"}, True, _ENGINE)}
    eng = [x for x in names.values() if x.name.startswith("engine-csdc-enable-xor-s17xs8-")
           and x.part == "acc"]
    assert [x.designs[0].params["truncation"] for x in eng] == list(range(9)) + ["runtime"]
    assert "engine-csdc-enable-xor-s17xs8-rt-rows" in names
    # unequal widths: one run per level (wider than 8 bits), every level
    for shape, n in (("s12xs8", 9 + 1), ("s16xs8", 9 + 1), ("s8xs16", 17 + 1)):
        runs = [x for x in names if x.startswith(f"csdc-enable-xor-{shape}-") and
                x.endswith("-acc")]
        assert len(runs) == n, shape
    # the end-to-end part: by default every 8x8 runtime-level design with row enables (the
    # engines' gating), nothing wider (no verdict there)
    e2e = [x for x in names.values() if x.part == "e2e"]
    enable = [v for v in prove.VARIANTS if v[1] == "enable"]
    assert len(e2e) == len(enable) * len(prove.OPERANDS)
    assert all(x.designs[0].runtime and x.designs[0].params["a_width"] == 8 for x in e2e)
    rt = prove.proofs((8,), {8: "all"}, False, None, "runtime")
    assert sum(x.part == "e2e" for x in rt) == len(prove.VARIANTS) * len(prove.OPERANDS)
    # the engine's decoder shape joins the decoder proof
    dec = names["decoder"]
    assert {(d.params["code_bits"], d.params["scale_bits"]) for d in dec.designs} >= {(3, 9)}
    every = prove.proofs((8,), {8: "all"}, False, None, "all")
    assert sum(x.part == "e2e" for x in every) == len(prove.VARIANTS) * (10 + 10 + 11)  # u8xu8: 9 digits
    with pytest.raises(ValueError, match=r"e2e must be one of \('enable', 'runtime', 'all', "
                                         r"'none'\), not 'some'"):
        prove.proofs((8,), e2e="some")


@pytest.mark.slow
def test_engine_shapes_come_from_the_compiled_engines():
    mults, decs = prove.engine_shapes()
    shapes = {(m[3], m[5]) for m in mults}
    assert {(17, 8), (18, 8)} <= shapes        # the bucket engines' products (digits, LeNet-5)
    assert (3, 7) in {(c, s) for c, s, _ in decs}
