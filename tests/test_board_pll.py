"""The boards' PLL settings (``hw/boards/pll.py``) and a board top clocked from the PLL."""

import pytest

from hw.boards.pll import ecp5_pll, ice40_pll, pll_settings


def test_ice40_settings_follow_the_datasheet_formula_and_ranges():
    options = ice40_pll(12e6)
    assert options
    for s in options:
        p = s.params
        f_ref = 12e6 / (p["DIVR"] + 1)
        assert 10e6 <= f_ref <= 133e6 and 533e6 <= s.vco <= 1066e6 and 16e6 <= s.f_out <= 275e6
        assert s.vco == pytest.approx(f_ref * (p["DIVF"] + 1))
        assert s.f_out == pytest.approx(s.vco / 2 ** p["DIVQ"])
        assert 1 <= p["DIVQ"] <= 6 and 0 <= p["DIVF"] < 128 and 1 <= p["FILTER_RANGE"] <= 6


def test_ecp5_settings_follow_the_datasheet_formula_and_ranges():
    for s in ecp5_pll(25e6):
        p = s.params
        assert s.f_out == pytest.approx(25e6 * p["CLKFB_DIV"] / p["CLKI_DIV"])
        assert 400e6 <= s.f_out * p["CLKOP_DIV"] <= 800e6
        assert 25e6 / p["CLKI_DIV"] >= 3.125e6
        assert p["CLKOP_CPHASE"] == p["CLKOP_DIV"] - 1


@pytest.mark.parametrize("family, f_in, f_max, baud", [
    ("ice40", 12e6, 36e6, 3_000_000), ("ice40", 12e6, 27.5e6, 3_000_000),
    ("ice40", 12e6, 42e6, None), ("ecp5", 25e6, 40e6, 3_000_000), ("ecp5", 25e6, 50e6, 115_200)])
def test_the_highest_frequency_with_a_working_uart(family, f_in, f_max, baud):
    from hw.boards.spec import MAX_BAUD_ERROR

    s = pll_settings(family, f_in, f_max, baud)
    options = ice40_pll(f_in) if family == "ice40" else ecp5_pll(f_in)

    def uart_ok(f):
        return baud is None or abs(f / round(f / baud) - baud) / baud <= MAX_BAUD_ERROR

    assert s.f_out <= f_max and uart_ok(s.f_out)
    assert not [o for o in options if s.f_out < o.f_out <= f_max and uart_ok(o.f_out)]


def test_exact_multiples_of_the_oscillator():
    assert pll_settings("ice40", 12e6, 36e6, 3_000_000).f_out == 36e6
    assert pll_settings("ecp5", 25e6, 50e6).f_out == 50e6


@pytest.mark.parametrize("args, match", [
    (("ice80", 12e6, 30e6), "family must be 'ice40' or 'ecp5', not 'ice80'"),
    (("ice40", 12e6, -1), "clock frequency must be a positive number of Hz, not -1"),
    (("ice40", 12e6, 10e6), "clock must be at least 16.125 MHz for the ice40 PLL from 12 MHz, not 10 MHz"),
    (("ice40", 12e6, 20e6, 10_000_000), "give 10000000 baud within 2%"),
])
def test_bad_requests(args, match):
    with pytest.raises(ValueError, match=match):
        pll_settings(*args)


def test_a_pll_board_top_has_the_pll_and_its_dividers(tmp_path):
    from hw.boards.build import build_bitstream

    r = build_bitstream("icebreaker", lanes=1, baud=3_000_000, out=tmp_path, top_only=True,
                        clock_mhz=36)
    assert r["clock_mhz"] == 36 and r["divisor"] == 12 and r["oscillator_mhz"] == 12
    assert r["pll"]["params"] == {"DIVR": 0, "DIVF": 47, "DIVQ": 4, "FILTER_RANGE": 1}
    text = (tmp_path / "qsq_board.debug.v").read_text()
    assert "SB_PLL40_PAD" in text and ".DIVF(7'h2f)" in text and ".DIVQ(3'h4)" in text


def test_a_board_top_without_pll_has_none(tmp_path):
    from hw.boards.build import build_bitstream

    r = build_bitstream("icebreaker", lanes=1, out=tmp_path, top_only=True)
    assert r["pll"] is None and r["clock_mhz"] == 12
    assert "SB_PLL40" not in (tmp_path / "qsq_board.debug.v").read_text()


@pytest.mark.parametrize("value, message", [
    ("fast", "--clock-mhz: must be a frequency in MHz, 1 to 400, or 'auto', not 'fast'"),
    ("0.5", "--clock-mhz: must be a frequency in MHz, 1 to 400, or 'auto', not '0.5'")])
def test_cli_checks_the_clock(value, message, capsys):
    from golden_model.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["bitstream", "--clock-mhz", value])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_build_bitstream_checks_the_clock_type(tmp_path):
    from hw.boards.build import build_bitstream

    with pytest.raises(TypeError, match="clock_mhz must be a number of MHz, 'auto' or None, "
                                        "not 'fast'"):
        build_bitstream("icebreaker", lanes=1, out=tmp_path, top_only=True, clock_mhz="fast")
