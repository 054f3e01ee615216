"""Your own data: calibration images, labelled files, the float-PTQ / QAT choice, train --init."""

import numpy as np
import pytest

from golden_model.cli import main
from golden_model.nn.checkpoint import load_checkpoint, save_checkpoint
from golden_model.nn.model import model_from_spec
from golden_model.nn.onnx_example import EXAMPLE_LAYERS
from golden_model.nn.packfile import read_model
from golden_model.nn.userdata import load_images, load_labelled


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """An 'imported' checkpoint of the example network (random weights) and labelled digits."""
    from golden_model.nn.data import load_digits

    d = tmp_path_factory.mktemp("user")
    m = model_from_spec("onnx-mine", (1, 8, 8), EXAMPLE_LAYERS, seed=2)
    save_checkpoint(d / "net.npz", {"arch": m.arch, "source": "onnx"}, m)
    ds = load_digits()
    np.savez(d / "lab.npz", x_train=ds.x_train, y_train=ds.y_train, x_val=ds.x_val, y_val=ds.y_val,
             x_test=ds.x_test, y_test=ds.y_test)
    np.save(d / "img.npy", ds.x_train[:100])
    return d


def test_pack_needs_calibration_and_checks_it(imported, capsys, tmp_path):
    d = imported
    out = str(tmp_path / "m.qsq")
    assert main(["pack", str(d / "net.npz"), "-o", out]) == 2
    assert capsys.readouterr().err == (
        "qsq: error: the checkpoint was imported and names no data set: give calibration images as "
        "--calib IMAGES.npy, a labelled FILE.npz or a data set name ('digits', 'mnist', 'cifar10')\n")
    neg = tmp_path / "neg.npy"
    np.save(neg, np.full((4, 1, 8, 8), -0.5, np.float32))
    assert main(["pack", str(d / "net.npz"), "--calib", str(neg), "-o", out]) == 2
    assert capsys.readouterr().err == (
        f"qsq: error: {neg}: images contain negative values (minimum -0.5); the engine's pixels are "
        "unsigned 8-bit, so the input must be >= 0\n")
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((4, 1, 28, 28), np.float32))
    assert main(["pack", str(d / "net.npz"), "--calib", str(wrong), "-o", out]) == 2
    assert capsys.readouterr().err == (f"qsq: error: {wrong}: images have shape (4, 1, 28, 28); the "
                                       "network takes (N, 1, 8, 8)\n")
    text = tmp_path / "text.npy"
    text.write_text("1 2 3")
    assert main(["pack", str(d / "net.npz"), "--calib", str(text), "-o", out]) == 2
    assert capsys.readouterr().err == f"qsq: error: {text}: not a NumPy .npy or .npz file\n"
    assert main(["pack", str(d / "net.npz"), "--calib", str(d / "img.npy"), "--weights", "qat",
                 "-o", out]) == 2
    assert "checkpoint has no fine-tuned (qat) weights" in capsys.readouterr().err
    assert main(["pack", str(d / "net.npz"), "--calib", str(d / "img.npy"), "-o", out]) == 0
    text = capsys.readouterr().out
    assert "calibration: 100 images of" in text
    assert "weights: float-PTQ (the checkpoint has no fine-tuned weights)" in text
    assert read_model(out).arch == "onnx-mine"


def test_train_init_then_auto_choice(imported, capsys, tmp_path):
    d = imported
    tuned = tmp_path / "tuned.npz"
    assert main(["train", "--init", str(d / "net.npz"), "--data", str(d / "lab.npz"), "--epochs", "2",
                 "--qat-epochs", "1", "--quiet", "--out", str(tuned)]) == 0
    ck = load_checkpoint(tuned)
    assert ck.meta["dataset"] == "file" and ck.meta["source"] == "onnx"
    assert ck.qat_model.spec() == ck.float_model.spec()
    val = ck.meta["validation"]
    capsys.readouterr()
    # with labels at hand the choice is measured; without, the recorded comparison decides
    assert main(["pack", str(tuned), "--calib", str(d / "lab.npz"), "-o", str(tmp_path / "a.qsq")]) == 0
    pick = "QAT" if val["qat"] > val["ptq"] else "float-PTQ"
    assert (f"weights: {pick} (integer accuracy on the 287 validation images: float-PTQ "
            f"{val['ptq']:.4f}, QAT {val['qat']:.4f})") in capsys.readouterr().out
    assert main(["pack", str(tuned), "--calib", str(d / "img.npy"), "-o", str(tmp_path / "b.qsq")]) == 0
    assert (f"weights: {pick} (integer accuracy on the validation split, as qsq train recorded it: "
            f"float-PTQ {val['ptq']:.4f}, QAT {val['qat']:.4f})") in capsys.readouterr().out
    # evaluate on the user's labelled data
    assert main(["evaluate", "--checkpoint", str(tuned), "--data", str(d / "lab.npz"), "--levels", "0,2",
                 "--no-plots", "--quiet", "--out", str(tmp_path / "ev")]) == 0
    assert (tmp_path / "ev" / "report.md").is_file()
    assert main(["evaluate", "--checkpoint", str(tuned), "--levels", "0", "--quiet",
                 "--out", str(tmp_path / "ev2")]) == 2
    assert "the checkpoint was trained on the labelled file" in capsys.readouterr().err


def test_labelled_file_forms(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((50, 1, 4, 4)).astype(np.float32)
    y = np.repeat(np.arange(5), 10)
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    ds = load_labelled(tmp_path / "xy.npz", (1, 4, 4))
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 50 and ds.classes == 5
    assert sorted(np.concatenate([ds.y_train, ds.y_val, ds.y_test])) == sorted(y)
    np.savez(tmp_path / "bad.npz", x=x, y=y[:10])
    with pytest.raises(ValueError, match=r"bad.npz: y must be 50 integer labels, not int64 of shape \(10,\)"):
        load_labelled(tmp_path / "bad.npz")
    np.savez(tmp_path / "nolab.npz", images=x)
    with pytest.raises(ValueError, match=r"needs an array 'x' or 'x_train', it has \['images'\]"):
        load_images(tmp_path / "nolab.npz")
    with pytest.raises(FileNotFoundError, match="none.npy: no such file"):
        load_images(tmp_path / "none.npy")
