"""One option vocabulary across the qsq commands: ``-o/--out`` for every output, ``--lanes`` only
for the engine's lanes, ``--jobs`` with its default in its help; the old spellings still work for
one release and say once on standard error that they are deprecated."""

import argparse

import pytest

from golden_model.cli import build_parser, main
from golden_model.cliopts import DEPRECATED


def _commands(parser=None, prefix=()):
    """(command words, parser) of every leaf subcommand."""
    parser = parser or build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, sp in subs[0].choices.items():
        yield from _commands(sp, prefix + (name,))


def _options(parser):
    return {s: a for a in parser._actions for s in a.option_strings}


COMMANDS = list(_commands())


def test_every_output_option_is_o_out():
    writers = []
    for words, p in COMMANDS:
        opts = _options(p)
        old = {s for s in ("--output", "--out-dir") if s in opts}
        for s in old:
            assert opts[s].help.startswith("deprecated spelling of "), (words, s)
        if "--out" in opts or old:
            assert opts.get("-o") is opts.get("--out") is not None, words
            writers.append(" ".join(words))
    assert {"verilog csd_multiplier", "verilog all", "metrics", "encode", "train", "evaluate",
            "spread", "pack", "unpack", "import", "compile", "bitstream", "report",
            "report-engine", "fetch-mnist"} <= set(writers)


#: Commands whose --lanes is the engine's lane count (output channels in parallel), and the
#: decoder's codes decoded per cycle (one per lane of the engine it feeds).
LANES_COMMANDS = {"compile", "bitstream", "report-engine", "verilog shift_scale_decoder"}


def test_lanes_only_for_parallel_lanes():
    have = {" ".join(w) for w, p in COMMANDS
            if "--lanes" in _options(p) and not _options(p)["--lanes"].help.startswith(
                "deprecated")}
    assert have == LANES_COMMANDS


def test_jobs_help_states_its_default():
    found = 0
    for words, p in COMMANDS:
        a = _options(p).get("--jobs")
        if a is not None:
            found += 1
            assert "(default" in a.help, words
    assert found >= 2


def test_deprecated_table_names_real_options():
    assert DEPRECATED == {"verilog MODULE --output": "-o/--out", "verilog all --out-dir": "-o/--out",
                          "pack --lanes": "--codes-per-word"}


def test_verilog_output_alias(tmp_path, capsys):
    new, old = tmp_path / "new.v", tmp_path / "old.v"
    assert main(["verilog", "csd_multiplier", "--out", str(new)]) == 0
    assert capsys.readouterr().err == ""
    assert main(["verilog", "csd_multiplier", "--output", str(old)]) == 0
    assert capsys.readouterr().err == ("qsq: warning: --output is deprecated and will be removed "
                                       "in the next release; use -o/--out\n")
    assert old.read_text() == new.read_text()


def test_verilog_all_out_dir_alias(tmp_path, capsys, monkeypatch):
    from hw import verilog

    monkeypatch.setattr(verilog, "MODULES", {"csd_multiplier": verilog.MODULES["csd_multiplier"]})
    assert main(["verilog", "all", "--out-dir", str(tmp_path / "old")]) == 0
    assert capsys.readouterr().err == ("qsq: warning: --out-dir is deprecated and will be removed "
                                       "in the next release; use -o/--out\n")
    assert main(["verilog", "all", "-o", str(tmp_path / "new")]) == 0
    assert capsys.readouterr().err == ""
    old = sorted(p.name for p in (tmp_path / "old").iterdir())
    assert old == sorted(p.name for p in (tmp_path / "new").iterdir()) and old


def test_pack_lanes_alias(tmp_path, capsys):
    new, old = tmp_path / "new.qsq", tmp_path / "old.qsq"
    assert main(["pack", "--codes-per-word", "7", "-o", str(new)]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main(["pack", "--lanes", "7", "-o", str(old)]) == 0
    err = capsys.readouterr().err
    assert err.count("deprecated") == 1
    assert ("qsq: warning: --lanes is deprecated and will be removed in the next release; use "
            "--codes-per-word\n") in err
    assert old.read_bytes() == new.read_bytes()


@pytest.mark.parametrize("argv", [["metrics", "--a-width", "3", "--b-width", "3"],
                                  ["report", "--quick"], ["report-engine"], ["fetch-mnist"],
                                  ["evaluate"], ["spread"], ["train"]])
def test_short_o_is_out(argv):
    args = build_parser().parse_args(argv + ["-o", "x/y"])
    assert args.out == "x/y"


@pytest.mark.parametrize("words", [w for w, _ in COMMANDS], ids=" ".join)
def test_every_command_prints_its_help(words, capsys):
    """``qsq ... --help`` renders (argparse %-formats every help string: a bare ``%`` breaks it)."""
    with pytest.raises(SystemExit) as e:
        main(list(words) + ["--help"])
    assert e.value.code == 0
    assert "usage: qsq" in capsys.readouterr().out
