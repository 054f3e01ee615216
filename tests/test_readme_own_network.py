"""The README's "Your own network" commands, run verbatim (the folder ``build/mynet`` moved to a
temporary one) on the ONNX file its first command writes; the bitstream command (minutes of
synthesis) is only parsed.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Your own network\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_own_network_commands(tmp_path):
    from golden_model.cli import build_parser

    cmds = readme_commands()
    assert cmds[0].startswith("python -m golden_model.nn.onnx_example ")
    assert any(c.startswith("python -m sim.tb_engine --model ") for c in cmds)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    outputs = {}
    for line in cmds:
        argv = shlex.split(line.replace("build/mynet", str(tmp_path)))
        if argv[:2] == ["qsq", "bitstream"]:
            args = build_parser().parse_args(argv[1:])          # too long to build in a test
            assert args.model.endswith("net.qsq") and args.board == "ulx3s"
            continue
        if argv[0] == "qsq":
            argv = [sys.executable, "-m", "golden_model.cli"] + argv[1:]
        else:
            assert argv[0] == "python", line
            argv[0] = sys.executable
        r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{line}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        outputs[argv[2] if argv[1] == "-m" and argv[2] != "golden_model.cli" else argv[3]] = r.stdout
    assert ": PASS" in outputs["import"]
    assert "weights: " in outputs["pack"]
    assert re.search(r"engine_net-[0-9a-f]{8}_bucket_l16_t0000_n8_\S+: pass, 8 vectors", outputs["sim.tb_engine"])
    with np.load(tmp_path / "digits.npz") as z:
        assert len(z["y_test"]) == 359
