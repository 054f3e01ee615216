"""Stimulus sets of the activity flow."""

import numpy as np
import pytest

from golden_model.config import MultiplierConfig
from hw.flow.stimuli import WS_HOLD, load_traces, make_stimulus, traces_fit

CFG = MultiplierConfig(8, True, 8, True)


def test_sets_are_seeded_and_in_range():
    for name in ("uniform", "stream", "ws"):
        a, b = make_stimulus(name, CFG, 500, seed=3)
        a2, b2 = make_stimulus(name, CFG, 500, seed=3)
        assert np.array_equal(a, a2) and np.array_equal(b, b2)
        assert a.size == b.size == 500
        CFG.a.check(a)
        CFG.b.check(b)


def test_stream_and_ws_shapes():
    a, b = make_stimulus("stream", CFG, 4000)
    assert 0.4 < np.mean(a == 0) < 0.6 and a.min() == 0          # ReLU-like: half zeros, >= 0
    assert (b < 0).any() and (b > 0).any() and (b == 0).any()    # signed codebook weights
    _, bw = make_stimulus("ws", CFG, 4 * WS_HOLD)
    runs = bw.reshape(4, WS_HOLD)
    assert (runs == runs[:, :1]).all()                           # each weight held WS_HOLD cycles
    au, _ = make_stimulus("uniform", MultiplierConfig(8, False, 8, True), 4000)
    assert au.min() >= 0 and au.max() > 200


def test_traces(tmp_path):
    assert load_traces(tmp_path / "missing.npz") is None
    p = tmp_path / "traces.npz"
    arr = {"layers": np.array(["conv1", "fc"]),
           "conv1/stream/a": np.arange(10), "conv1/stream/b": -np.arange(10),
           "conv1/ws/a": np.arange(10), "conv1/ws/b": np.full(10, 3),
           "fc/stream/a": np.arange(5), "fc/stream/b": np.arange(5),
           "fc/ws/a": np.arange(5), "fc/ws/b": np.full(5, -2)}
    np.savez(p, **arr)
    tr = load_traces(p)
    assert set(tr) == {"trace-stream", "trace-ws"}
    assert [x[0].size for x in tr["trace-stream"]] == [10, 5]
    a, b = make_stimulus("trace-ws", CFG, 40, traces=tr)
    assert a.size == 40 and b.tolist() == [3] * 20 + [-2] * 20   # an equal share per layer
    assert traces_fit(tr, CFG) and not traces_fit(tr, MultiplierConfig(3, True, 8, True))
    del arr["fc/ws/b"]
    np.savez(p, **arr)
    with pytest.raises(ValueError, match="is not a qsq trace archive"):
        load_traces(p)
    with pytest.raises(ValueError, match=r"^stimulus 'trace-ws' needs the network traces"):
        make_stimulus("trace-ws", CFG, 10)
    with pytest.raises(ValueError, match=r"^stimulus must be one of .*, not 'noise'$"):
        make_stimulus("noise", CFG, 10)
    np.savez(p, **{**arr, "fc/ws/b": np.full(5, 300)})
    with pytest.raises(ValueError, match=r"^trace b must lie in \[-128, 127\] \(signed 8-bit\), not 300$"):
        make_stimulus("trace-ws", CFG, 200, traces=load_traces(p))
