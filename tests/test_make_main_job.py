"""``make`` is the quick main job (the long runs are ``make full`` and named targets), and its
quick reports say they are quick."""

import re
import subprocess
from pathlib import Path

import pytest

from golden_model.cli import build_parser

REPO = Path(__file__).resolve().parents[1]


def _dry(target: str) -> str:
    """The commands ``make -n target`` would run (with the virtualenv stamp taken as made)."""
    return subprocess.run(["make", "-n", "--no-print-directory", "-o", ".venv/.installed", target],
                          cwd=REPO, capture_output=True, text=True, check=True).stdout


def test_make_is_the_quick_main_job():
    text = _dry("main-job")
    for cmd in ("qsq metrics", "qsq evaluate", "qsq verilog all", "qsq compile",
                "sim.regress --sim icarus --fast -k", "qsq report --quick",
                "qsq report-engine --quick"):
        assert cmd in text, cmd
    assert "sim.formal" not in text and "hw.flow.bench" not in text
    assert not re.search(r"qsq report -o", text)
    assert "main job done in" in _dry("all")


def test_make_full_is_the_old_main_job():
    text = _dry("full")
    for cmd in ("sim.regress --sim icarus\n", "sim.formal.prove", "qsq report -o build/report",
                "qsq report-engine -o build/report", "hw.flow.bench"):
        assert cmd in text, cmd


def test_report_engine_quick_options():
    from hw.flow.cli import QUICK_ENGINE, _apply_quick

    p = build_parser()
    args = p.parse_args(["report-engine", "--quick", "--images", "5"])
    _apply_quick(args.parser, args)
    assert args.images == 5                                   # given explicitly: kept
    assert (args.boards, args.pe, args.pnr_seeds, args.levels) == ("up5k", "bucket,int8", "1", "0")
    assert args.no_lane_search and args.no_lenet5 and args.no_baseline and args.no_reuse
    assert set(QUICK_ENGINE) <= set(vars(args))


def test_quick_engine_output_is_labelled(tmp_path):
    from hw.flow.engine_designs import EngineOptions
    from hw.flow.engine_report import _label_quick

    f = tmp_path / "engine.md"
    f.write_text("# Inference engine\n\nbody\n")
    _label_quick(f, EngineOptions(boards=("up5k",), styles=("bucket", "int8"), images=2,
                                  levels=(0,)), {"up5k": 1})
    lines = f.read_text().split("\n")
    assert lines[0] == "# Inference engine" and lines[1] == ""
    assert lines[2].startswith("**Quick run** (`qsq report-engine --quick`, as `make` runs it): "
                               "up5k only, PE styles bucket, int8, up5k: 1 placement seed(s) per "
                               "build, 2 test image(s) per energy run")
    assert lines[3:] == ["", "body", ""]


@pytest.mark.parametrize("quick", [False, True])
def test_quick_multiplier_report_is_labelled(quick):
    from types import SimpleNamespace

    from hw.flow.tables import section_title

    data = SimpleNamespace(results={}, designs=[], info={"elapsed": 1.0, "quick": quick})
    lines = section_title(data)
    assert lines[0].endswith(" (quick run)") is quick
    assert any(ln.startswith("**Quick run** (`qsq report --quick`") for ln in lines) is quick


def test_every_make_target_is_in_the_readme_with_a_time():
    """The README's *Make targets* table has a row for every documented target of the Makefile,
    and every row gives a measured time or says plainly that there is none."""
    targets = re.findall(r"^([a-z][a-z0-9-]*):[^#\n]*## ", (REPO / "Makefile").read_text(), re.M)
    readme = (REPO / "README.md").read_text()
    table = readme.split("## Make targets", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in table.splitlines() if r.startswith("| `make")]
    named = {t for r in rows for t in re.findall(r"`make ([a-z][a-z0-9-]*)", r.split(" | ")[0])}
    named |= {"all"} if any(r.startswith("| `make` ") for r in rows) else set()
    assert sorted(set(targets) - named) == []
    for r in rows:
        time_cell = r.rstrip(" |").rsplit(" | ", 1)[1]
        assert re.search(r"\d\s*(s|min|h)\b|not measured", time_cell), r
