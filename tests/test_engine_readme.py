"""Documentation test: a plain-Verilog bench written from the README classifies digits images.

``sim/engine_readme/`` knows the engine only through the README and the compiler's manifest; this test
runs it on three test images with Icarus and requires every logit and class to equal the golden path
the README names.
"""

import shutil

import numpy as np
import pytest

from sim.engine_readme.run import run

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")


def test_readme_bench_bucket(tmp_path):
    # compiled defaults differ from every level the bench writes, so the abandoned image (1) shows
    # that a reset restores them
    s = run("bucket", lanes=8, images=3, seed=3, abort=1, out=tmp_path, trunc="2,0,1,3", verbose=False)
    assert s["bench_errors"] == 0
    assert s["rows"] == 3
    assert s["logits"] == s["expected"]
    assert s["classes"] == [int(np.argmax(e)) for e in s["expected"]]
    assert s["compute_measured"] == [s["compute_manifest"]]
    # README (Cycles): first pixel's cycle to done's cycle, both counted, stalls excluded
    assert s["cycles_measured"] == [s["cycles_total_manifest"] - 1]
    assert s["ok"]
    # the levels written through `config` matter: image 2 ([3, 2, 1, 4]) differs from exact products
    from golden_model.nn.packfile import unpack_model
    from golden_model.nn.quant import integer_forward
    from golden_model.nn.data import load_digits
    qm = unpack_model(s["packed"].read_bytes())
    x = load_digits().x_test[:3]
    assert s["levels"][2] == [3, 2, 1, 4]
    assert s["logits"][2] != integer_forward(qm, x[2:3], t=0, engine="bucket")[0].tolist()
    # image 1 ran at the compiled defaults after the reset, not at the [1, 1, 0, 2] written before it
    assert s["levels"][1] == [2, 0, 1, 3]
    assert s["logits"][1] != integer_forward(qm, x[1:2], t=[1, 1, 0, 2], engine="bucket")[0].tolist()


@pytest.mark.slow
@pytest.mark.parametrize("pe", ["int8", "multiplier"])
def test_readme_bench_other_pe(tmp_path, pe):
    s = run(pe, lanes=8, images=5, seed=5, abort=3, out=tmp_path, trunc="2,0,1,3", verbose=False)
    assert s["logits"] == s["expected"]
    assert s["cycles_measured"] == [s["cycles_total_manifest"] - 1]
    assert s["ok"]
