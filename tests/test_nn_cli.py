"""qsq train / evaluate / pack / unpack / inspect: outputs, the traces interface, bad input."""

import json

import numpy as np
import pytest

from golden_model.cli import main
from golden_model.nn.checkpoint import load_checkpoint, save_checkpoint
from golden_model.nn.traces import load_traces, trace_pairs


def test_pack_inspect_unpack(tmp_path, capsys):
    f = tmp_path / "m.qsq"
    assert main(["pack", "-o", str(f)]) == 0
    assert main(["inspect", str(f), "--accuracy"]) == 0
    out = capsys.readouterr().out
    assert "CRC-32 OK" in out and "integer accuracy on the digits test split" in out
    assert main(["unpack", str(f), "-o", str(tmp_path / "m.npz")]) == 0
    with np.load(tmp_path / "m.npz") as z:
        assert list(z["layers"]) == ["conv1", "conv2", "fc1", "fc2"]
        assert z["conv2/codes"].shape == (32, 16, 3, 3)
        assert np.abs(z["fc1/decoded"]).max() <= 127


def test_cli_rejects_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.qsq"
    bad.write_bytes(b"QSQM\x01" + b"\x00" * 20)
    assert main(["inspect", str(bad)]) == 2
    assert "qsq: error: " in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "missing.qsq")]) == 2
    assert "missing.qsq: no such model file" in capsys.readouterr().err
    assert main(["evaluate", "--levels", "0,9", "--out", str(tmp_path)]) == 2
    assert "qsq: error: --levels must be an integer in [0, 8], not 9" in capsys.readouterr().err
    assert main(["evaluate", "--code-bits", "5", "--out", str(tmp_path)]) == 2
    assert "code_bits must be one of (2, 3, 4), not 5" in capsys.readouterr().err
    assert main(["train", "--dataset", "svhn", "--out", str(tmp_path / "c.npz")]) == 2
    assert "dataset must be one of ('digits', 'mnist', 'cifar10'), not 'svhn'" in capsys.readouterr().err
    assert main(["train", "--dataset", "mnist", "--data", str(tmp_path / "none")]) == 2
    assert "MNIST directory does not exist" in capsys.readouterr().err
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"junk")
    assert main(["evaluate", "--checkpoint", str(junk), "--out", str(tmp_path)]) == 2
    assert "not a valid checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--per-layer-t", "1,x"])


def test_evaluate_writes_report_and_traces(tmp_path):
    out = tmp_path / "eval"
    assert main(["evaluate", "--levels", "0,3", "--no-plots", "--quiet", "--out", str(out),
                 "--per-layer-t", "0,1,2,3", "--trace-cap", "1000"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert 0.9 < summary["float_accuracy"] <= 1.0
    assert 0.88 < summary["saving_vs_fp32"] < 0.906  # 3-bit codes cap it at 90.6 %
    for name in ("report.md", "accuracy.csv", "memory.csv", "product_error.csv", "model.qsq"):
        assert (out / name).is_file()
    rows = (out / "accuracy.csv").read_text().splitlines()
    assert rows[0].startswith("mode,weights,t,accuracy,95 % CI,vs float,reference,lost,gained,McNemar p,")
    assert rows[1].startswith("float,")
    assert any(",\"0,1,2,3\"," in r for r in rows)
    # every accuracy has its interval; every comparison is paired on the same test images
    lo, hi = summary["ci95"]["float"]
    assert lo < summary["float_accuracy"] < hi
    assert summary["validation_images"] == 287 and summary["test_images"] == 359
    auto = summary["auto_per_layer_test"]
    assert auto is not None and auto["n"] == 359 and 0 <= auto["p"] <= 1
    report = (out / "report.md").read_text()
    assert "## The paper's table, side by side" in report and "up to 82.49 % (quoted)" in report
    assert "(95 % CI " in report and "McNemar" in report
    tr = load_traces(out / "traces.npz")
    assert tr["layers"] == ["conv1", "conv2", "fc1", "fc2"]
    for name in tr["layers"]:
        for order in ("stream", "ws"):
            a, b = tr[name][order]
            assert a.dtype == np.int64 and len(a) == len(b) <= 1000
            assert a.min() >= 0 and a.max() <= 255 and b.min() >= -128 and b.max() <= 127
    assert tr["meta"]["cap"] == 1000


def test_trace_orders():
    patches = np.arange(6).reshape(3, 2)          # P=3 positions, K=2
    weights = np.array([[10, 11], [20, 21]])      # F=2
    a, b = trace_pairs(patches, weights, "stream")
    assert a.tolist() == [0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5]
    assert b.tolist() == [10, 11, 20, 21] * 3
    a, b = trace_pairs(patches, weights, "ws", cap=7)
    assert a.tolist() == [0, 2, 4, 1, 3, 5, 0]
    assert b.tolist() == [10, 10, 10, 11, 11, 11, 20]
    with pytest.raises(ValueError, match=r"^order must be 'stream' or 'ws', not 'x'$"):
        trace_pairs(patches, weights, "x")


def test_checkpoint_round_trip(tmp_path):
    ck = load_checkpoint()
    p = save_checkpoint(tmp_path / "c.npz", ck.meta, ck.float_model, ck.qat_model, ck.qat_exponents)
    back = load_checkpoint(p)
    assert back.meta == ck.meta and back.qat_exponents == ck.qat_exponents
    for k, v in ck.float_model.state().items():
        assert np.array_equal(v, back.float_model.state()[k])
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "none.npz")


@pytest.mark.slow
def test_make_train_reproduces_the_committed_checkpoint(tmp_path):
    """Same seed, same machine class: bit-identical weights (BLAS-dependent across machines)."""
    out = tmp_path / "ck.npz"
    assert main(["train", "--quiet", "--out", str(out)]) == 0
    a, b = load_checkpoint(out), load_checkpoint()
    for k, v in b.float_model.state().items():
        assert np.array_equal(v, a.float_model.state()[k]), k


def test_train_and_evaluate_on_user_mnist_files(tmp_path, monkeypatch):
    """The whole flow on a tiny MNIST-format directory: train lenet5 + QAT, evaluate, pack."""
    from test_nn_data import _write_mnist

    monkeypatch.chdir(tmp_path)  # no build/mnist here: nothing but the tiny files below is used

    data = tmp_path / "mnist"
    data.mkdir()
    _write_mnist(data, n_train=12, n_test=4)
    ck = tmp_path / "ck.npz"
    assert main(["train", "--dataset", "mnist", "--data", str(data), "--epochs", "1",
                 "--qat-epochs", "1", "--quiet", "--out", str(ck)]) == 0
    assert load_checkpoint(ck).meta["arch"] == "lenet5"
    out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(ck), "--data", str(data), "--levels", "0,2", "--method", "mse",
                 "--no-plots", "--quiet", "--trace-images", "2", "--out", str(out)]) == 0
    tr = load_traces(out / "traces.npz")
    assert tr["layers"] == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert main(["pack", "--checkpoint", str(ck), "--data", str(data), "--qat",
                 "-o", str(tmp_path / "m.qsq")]) == 0
    assert main(["evaluate", "--checkpoint", str(ck), "--data", str(tmp_path / "none"),
                 "--out", str(out)]) == 2


# ------------------------------------------------------------------ values checked before any work
@pytest.fixture
def no_work(monkeypatch):
    """Replace the long work of evaluate / train with a recorder: a check must fire before it."""
    calls = []
    import golden_model.nn.evaluate as ev
    import golden_model.nn.train as tr
    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: calls.append("evaluate"))
    monkeypatch.setattr(tr, "train", lambda *a, **k: calls.append("train"))
    return calls


@pytest.mark.parametrize("levels,msg", [
    ("5-2", "range LO-HI must have LO <= HI (reversed ranges are empty), not '5-2'"),
    ("", "must list at least one level, not ''"),
    ("1-x", "must be a range LO-HI such as 0-8 or integers such as 0,2,4, not '1-x'"),
])
def test_evaluate_rejects_empty_or_reversed_level_ranges(levels, msg, capsys, no_work):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--levels", levels])
    assert exc.value.code == 2
    assert f"argument --levels: {msg}" in capsys.readouterr().err
    assert no_work == []


def test_evaluate_per_layer_list_length_checked_before_work(tmp_path, capsys, no_work):
    assert main(["evaluate", "--per-layer-t", "1,2", "--out", str(tmp_path)]) == 2
    assert ("qsq: error: --per-layer-t needs one level per compute layer (4: conv1,conv2,fc1,fc2), "
            "not '1,2'") in capsys.readouterr().err
    assert no_work == []


def test_evaluate_data_for_the_digits_checkpoint_is_an_error(tmp_path, capsys, no_work):
    assert main(["evaluate", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "qsq: error: --data: the digits checkpoint " in err
    assert f"takes no data directory, not '{tmp_path}'" in err
    assert no_work == []


def test_data_given_a_regular_file_says_so(tmp_path, capsys, no_work):
    f = tmp_path / "mnist.gz"
    f.write_bytes(b"x")
    assert main(["train", "--dataset", "mnist", "--data", str(f), "--out", str(tmp_path / "c.npz")]) == 2
    assert (f"qsq: error: {f}: is a file, not a directory (MNIST needs the directory that holds "
            "its files)") in capsys.readouterr().err
    assert no_work == []


def test_output_paths_checked_before_work(tmp_path, capsys, no_work):
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert f"qsq: error: -o/--out: {tmp_path} is a folder, not a file name" in capsys.readouterr().err
    f = tmp_path / "f"
    f.write_text("x")
    assert main(["evaluate", "--out", str(f)]) == 2
    assert f"qsq: error: -o/--out {f}: is a file, not a directory" in capsys.readouterr().err
    assert main(["train", "--epochs", "0", "--out", str(tmp_path / "c.npz")]) == 2
    assert "qsq: error: --epochs must be an integer in [1, 100000], not 0" in capsys.readouterr().err
    assert main(["pack", "-o", str(tmp_path)]) == 2
    assert f"qsq: error: -o/--out: {tmp_path} is a folder, not a file name" in capsys.readouterr().err
    assert main(["pack", "--codes-per-word", "0", "-o", str(tmp_path / "m.qsq")]) == 2
    assert "qsq: error: --codes-per-word must be an integer in [1, 21], not 0" in capsys.readouterr().err
    assert no_work == []


def test_evaluate_dataset_and_checkpoint_must_agree(tmp_path, capsys, no_work):
    from golden_model.nn.checkpoint import DEFAULT_CHECKPOINT
    assert main(["evaluate", "--dataset", "mnist", "--checkpoint", str(DEFAULT_CHECKPOINT),
                 "--out", str(tmp_path)]) == 2
    assert "does not match the checkpoint" in capsys.readouterr().err
    assert no_work == []


def test_spread_on_two_short_folds(tmp_path):
    out = tmp_path / "spread"
    assert main(["spread", "--folds", "2", "--epochs", "1", "--qat-epochs", "0", "--levels", "0,3",
                 "--quiet", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["folds"] == 2 and 700 < s["images"] < 730
    keys = [r[0] for r in s["rows"]]
    assert keys == ["float", "ptq-0", "ptq-3"]
    ptq3 = s["rows"][2]
    assert ptq3[7] == "ptq-0" and 0 <= ptq3[10] <= 1      # paired against t=0, with a p-value
    assert "5-fold" not in (out / "report.md").read_text().splitlines()[0]
