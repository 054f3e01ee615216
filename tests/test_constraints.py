"""Every port the constraint files name exists in the generated top they constrain."""

import re
from pathlib import Path

import pytest

from golden_model.config import MultiplierConfig
from hw.flow.designs import Design
from hw.flow.yosys import CONSTRAINTS_DIR, HARNESS_PORTS, HARNESS_TOP, harness_verilog

PORT_PATTERNS = {
    ".pcf": r"^\s*set_io\s+(?:-\S+\s+)*(\w+)",
    ".lpf": r"(?:COMP|PORT)\s+\"(\w+)\"",
    ".xdc": r"get_ports\s+(?:\{([^}]*)\}|(\w+))",
    ".sdc": r"get_ports\s+(?:\{([^}]*)\}|(\w+))",
}


def named_ports(path: Path) -> set[str]:
    text = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())
    out = set()
    for m in re.finditer(PORT_PATTERNS[path.suffix], text, re.M):
        for g in m.groups():
            if g:
                out.update(g.split())
    return out


def module_ports(verilog: str, module: str) -> set[str]:
    m = re.search(rf"module\s+{module}\s*\(([^)]*)\)", verilog)
    assert m, f"module {module} not found"
    return {re.split(r"\s+", p.strip())[-1] for p in m.group(1).split(",")}


def test_every_constraint_file_is_checked():
    files = sorted(CONSTRAINTS_DIR.iterdir())
    assert {f.suffix for f in files} >= {".pcf", ".lpf", ".xdc", ".sdc"}
    for f in files:
        assert named_ports(f), f"{f.name} names no port"


@pytest.mark.parametrize("suffix", [".pcf", ".lpf", ".xdc"])
def test_fpga_constraints_match_the_timing_harness(suffix):
    d = Design("exact", MultiplierConfig())
    ports = {"a": ("input", [0] * 8, True), "b": ("input", [0] * 8, True),
             "in_valid": ("input", [0], False), "clk": ("input", [0], False),
             "rst": ("input", [0], False), "p": ("output", [0] * 16, True),
             "out_valid": ("output", [0], False)}
    top = module_ports(harness_verilog(ports, d.top), HARNESS_TOP)
    assert top == set(HARNESS_PORTS)
    for f in CONSTRAINTS_DIR.glob(f"*{suffix}"):
        missing = named_ports(f) - top
        assert not missing, f"{f.name} names ports {sorted(missing)} that {HARNESS_TOP} lacks"


@pytest.mark.parametrize("design", [
    Design("exact", MultiplierConfig()),
    Design("tam", MultiplierConfig(), (("k", 4),)),
    Design("csd", MultiplierConfig(), (("t", "runtime"), ("gating", "icg"))),
    Design("csd", MultiplierConfig(8, False), (("t", 3), ("gating", "enable"))),
], ids=lambda d: d.key)
def test_sdc_matches_the_multiplier_cores(design):
    top = module_ports(design.verilog(), design.top)
    for f in CONSTRAINTS_DIR.glob("*.sdc"):
        missing = named_ports(f) - top
        assert not missing, f"{f.name} names ports {sorted(missing)} that {design.top} lacks"


def test_port_parser_catches_a_wrong_name(tmp_path):
    f = tmp_path / "x.pcf"
    f.write_text("set_io -nowarn clock 35\n")
    assert named_ports(f) == {"clock"}
    assert named_ports(f) - set(HARNESS_PORTS) == {"clock"}
