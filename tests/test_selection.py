"""Every choice of the evaluation is made on the validation split: the test split is never read
before the report (golden_model.nn.selection)."""

import hashlib

import numpy as np
import pytest

import golden_model.nn.evaluate as ev
import golden_model.nn.selection as sel
from golden_model.nn.stats import Paired


def _fingerprints(x) -> set:
    return {hashlib.sha1(np.ascontiguousarray(img).tobytes()).hexdigest() for img in x}


@pytest.fixture
def guarded(monkeypatch):
    """Arm a guard on every image the selection module runs through the network: while
    :func:`select` runs, an image of the test split (by content) raises."""
    state = {"test": set(), "val": set(), "armed": False, "seen": 0}

    def check(x):
        if state["armed"]:
            fp = _fingerprints(x)
            state["seen"] += len(fp)
            if fp & state["test"]:
                raise AssertionError("the selection read an image of the test split")
            assert fp <= state["val"], "the selection read an image outside the validation split"

    real_predict, real_forward = sel.integer_predict, sel.integer_forward

    def predict(qm, x, *a, **k):
        check(x)
        return real_predict(qm, x, *a, **k)

    def forward(qm, x, *a, **k):
        check(x)
        return real_forward(qm, x, *a, **k)

    real_select = ev.select

    def select(models, x_val, y_val, *a, **k):
        state["armed"] = True
        try:
            return real_select(models, x_val, y_val, *a, **k)
        finally:
            state["armed"] = False
    monkeypatch.setattr(sel, "integer_predict", predict)
    monkeypatch.setattr(sel, "integer_forward", forward)
    monkeypatch.setattr(ev, "select", select)
    real_data_for = ev.data_for

    def data_for(*a, **k):
        data = real_data_for(*a, **k)
        state["test"] = _fingerprints(data.x_test)
        state["val"] = _fingerprints(data.x_val)
        return data
    monkeypatch.setattr(ev, "data_for", data_for)
    return state


def test_the_evaluation_chooses_on_the_validation_split_only(tmp_path, guarded):
    s = ev.evaluate(ev.EvalOptions(levels=[0, 1, 2, 3], plots=False, quiet=True,
                                   out=tmp_path, trace_images=2))
    assert guarded["seen"] > 0                     # the guard saw the selection's images
    chosen = s["selection"]
    assert chosen["search_images"] + chosen["confirm_images"] == s["validation_images"]
    assert chosen["candidates_tried"] == sum(chosen[k]["tried"] for k in
                                             ("per_layer", "uniform", "target"))
    assert s["auto_per_layer_t"] == chosen["per_layer"]["config"]
    report = (tmp_path / "report.md").read_text()
    assert f"({chosen['candidates_tried']} candidate configurations compared" in report
    assert "**Method of every choice.**" in report


def test_the_guard_fires_when_the_search_is_given_the_test_split(tmp_path, guarded, monkeypatch):
    """The planted mistake: the search handed the test split instead of the validation split."""
    real = ev.select
    monkeypatch.setattr(ev, "select", lambda models, xv, yv, *a, **k: real(
        models, data["x_test"], data["y_test"], *a, **k))
    data = {}
    real_data_for = ev.data_for

    def data_for(*a, **k):
        d = real_data_for(*a, **k)
        data.update(x_test=d.x_test, y_test=d.y_test)
        return d
    monkeypatch.setattr(ev, "data_for", data_for)
    with pytest.raises(AssertionError, match="read an image of the test split"):
        ev.evaluate(ev.EvalOptions(levels=[0, 1], plots=False, quiet=True, out=tmp_path))


def test_validation_folds_are_disjoint_stratified_and_seeded():
    y = np.repeat(np.arange(10), 7)
    s, c = sel.validation_folds(y)
    assert not set(s) & set(c) and len(s) + len(c) == len(y)
    assert all(np.sum(y[s] == k) == 4 and np.sum(y[c] == k) == 3 for k in range(10))
    s2, c2 = sel.validation_folds(y)
    assert np.array_equal(s, s2) and np.array_equal(c, c2)
    assert not np.array_equal(s, sel.validation_folds(y, seed=1)[0])


@pytest.mark.parametrize("y, exc, message", [
    (np.array([1]), ValueError, "validation labels must be a 1-D array of at least 2 labels, "
                                "not shape (1,)"),
    (np.zeros((2, 2)), ValueError, "validation labels must be a 1-D array of at least 2 labels, "
                                   "not shape (2, 2)"),
])
def test_validation_folds_bad_labels(y, exc, message):
    with pytest.raises(exc) as e:
        sel.validation_folds(y)
    assert str(e.value) == message


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), (1.5, TypeError), (2**32, ValueError)])
def test_validation_folds_bad_seed(seed, exc):
    with pytest.raises(exc, match=r"seed must be an integer in \[0, 4294967295\], not "):
        sel.validation_folds(np.arange(4), seed)


def test_loss_upper_bound_covers_the_loss():
    pr = Paired(100, 5, 1, 0.2)
    ub = sel.loss_upper_bound(pr)
    assert ub > pr.lost / pr.n - pr.gained / pr.n
    assert sel.loss_upper_bound(Paired(1000, 5, 1, 0.2)) < ub      # more images, tighter
    assert sel.loss_upper_bound(Paired(100, 0, 0, 1.0)) > 0         # no flips is no proof
