"""``qsq readme-engine``: the README's engine block comes from a finished report, never a quick one."""

import json

import pytest

from golden_model.cli import main
from hw.flow.engine_report import README_BEGIN, README_END, readme_block, update_readme


def _report(tmp_path, quick=False, command="qsq report-engine --pnr-seeds 1"):
    eng = tmp_path / "rep" / "engine"
    eng.mkdir(parents=True)
    (eng / "section.md").write_text("## Inference engine: which configuration to pick\n\n"
                                    "See [engine/engine.md](engine/engine.md).\n\n- **met**: 0.283\n")
    (eng / "engine.json").write_text(json.dumps({"info": {"quick": quick, "command": command,
                                                          "pnr_seeds": {"up5k": 1}}}))
    return tmp_path / "rep"


def test_block_names_the_command_and_points_into_the_report(tmp_path):
    block = readme_block(_report(tmp_path))
    lines = block.splitlines()
    assert lines[0] == "### Inference engine: which configuration to pick"
    assert "`qsq report-engine --pnr-seeds 1`" in lines[2] and "up5k: 1" in lines[2]
    assert f"]({(tmp_path / 'rep').as_posix()}/engine/engine.md)" in block
    assert "- **met**: 0.283" in block


def test_update_replaces_only_between_the_markers(tmp_path):
    rep = _report(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# top\n\nbefore\n\n{README_BEGIN}\nold text\n{README_END}\n\nafter\n")
    update_readme(readme, rep)
    update_readme(readme, rep)          # idempotent
    text = readme.read_text()
    assert "old text" not in text and text.count("0.283") == 1
    assert text.startswith("# top\n\nbefore\n\n" + README_BEGIN + "\n### Inference engine")
    assert text.endswith(f"{README_END}\n\nafter\n")


def test_refusals(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="no <!-- engine-readme:begin -->"):
        update_readme(readme, _report(tmp_path))
    with pytest.raises(FileNotFoundError, match="no finished engine report"):
        readme_block(tmp_path / "nothing")
    quick = _report(tmp_path / "q", quick=True)
    readme.write_text(f"{README_BEGIN}\n{README_END}\n")
    assert main(["readme-engine", "--report", str(quick), "--readme", str(readme)]) == 2
    assert "is a quick run" in capsys.readouterr().err
    assert readme.read_text() == f"{README_BEGIN}\n{README_END}\n"


def test_module_table_lists_every_module_and_the_sum():
    from hw.flow.engine_tables import module_table

    lines = module_table({"up5k bucket": {"(top)": {"LUT4": 10, "FF": 5, "DSP": 0},
                                          "lanes": {"LUT4": 30, "FF": 20, "DSP": 0}}})
    text = "\n".join(lines)
    assert "up5k bucket:" in text and "| module | LUT4 | FF |" in text   # DSP: all 0, left out
    assert "| (top) | 10 | 5 |" in text and "| lanes | 30 | 20 |" in text
    assert "| sum | 40 | 25 |" in text
    assert module_table({}) == []


def test_module_table_merges_alike_instances():
    from hw.flow.engine_tables import module_table

    mods = {"lanes": {"LUT4": 7}, **{f"lanes.mul{i}": {"LUT4": 2} for i in range(16)}}
    text = "\n".join(module_table({"up5k int8": mods}))
    assert "| lanes.mul* (16 alike, each) | 2 |" in text and "mul15" not in text
    assert "| sum | 39 |" in text
