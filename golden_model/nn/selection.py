"""Choices of the evaluation made on the validation split only: per-layer truncation levels, the
recommended uniform level and the configuration that stands for the row-cut target.

The validation split is divided once, by a seeded split stratified by label, into two folds:

* the **search fold**, where every candidate is compared with ``t = 0`` and the choices are made
  (the per-layer search ranks its candidates by the active rows of the *search fold's* operand
  histograms);
* the **confirmation fold**, where each choice -- one configuration per question -- is compared
  with ``t = 0`` once. Its result is not biased by the search: however many candidates were
  compared on the search fold, the confirmation fold saw one per question.

The number of candidates compared on the search fold is counted and reported, and the
confirmation fold's result carries a one-sided 95 % upper confidence bound of the accuracy loss
(:func:`loss_upper_bound`). No function here is given the test split: :func:`select` takes the
validation images alone, and the evaluation reads the test split afterwards, for the report.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..config import check_int
from ..csd import active_rows_table
from .quant import integer_forward, integer_predict
from .stats import Paired, paired, wilson

__all__ = ["ALPHA", "FOLD_SEED", "ROW_CUT_TARGET", "TARGET_BUDGET", "operand_histograms",
           "rows_per_mac", "acceptable", "choose_per_layer_t", "per_layer_choice",
           "validation_folds", "loss_upper_bound", "Choice", "Selection", "select"]

#: Significance level of the paired comparisons.
ALPHA = 0.05
#: Seed of the split of the validation images into the search and the confirmation fold.
FOLD_SEED = 22
#: Active-row cut (against ``t = 0``) the row-cut target asks for.
ROW_CUT_TARGET = 0.30
#: Accuracy loss (fraction) the row-cut target allows against ``t = 0``.
TARGET_BUDGET = 0.005
#: One-sided 95 % standard normal quantile of each half of :func:`loss_upper_bound` (97.5 %).
_Z_HALF = 1.959963984540054


def operand_histograms(qm, x, t=0, batch: int = 250) -> list[np.ndarray]:
    """Joint ``(a, b)`` count matrix ``H[a, b - b.min]`` of every multiplication, per layer.

    Counts every product of integer inference over images ``x`` (activations of the network run
    at truncation ``t``): ``H = sum_k outer(hist of a in column k, hist of b in column k)``.
    """
    mult = qm.mult
    na, nb = mult.a.count, mult.b.count
    hists = [np.zeros((na, nb), np.float64) for _ in qm.layers]
    for i in range(0, len(x), batch):
        rec: dict = {}
        integer_forward(qm, x[i:i + batch], t, record=rec)
        for j, q in enumerate(qm.layers):
            cols, w = rec[q.name]
            k = cols.shape[1]
            ha = np.zeros((k, na))
            np.add.at(ha, (np.broadcast_to(np.arange(k), cols.shape), cols - mult.a.min), 1.0)
            hb = np.zeros((k, nb))
            np.add.at(hb, (np.broadcast_to(np.arange(k), w.shape), w - mult.b.min), 1.0)
            hists[j] += ha.T @ hb
    return hists


def rows_per_mac(qm, hists, ts) -> float:
    """Mean active partial-product rows per multiplication for per-layer levels ``ts``."""
    tot = rows = 0.0
    for h, t in zip(hists, ts):
        hb = h.sum(axis=0)
        rows += float(hb @ active_rows_table(qm.mult, t))
        tot += float(hb.sum())
    return rows / tot


def acceptable(pr, budget: float) -> bool:
    """The evidence rule for a truncation choice against ``t = 0`` on the same images: the
    accuracy loss is within ``budget`` *and* the loss is not significant (unless more images were
    gained than lost, McNemar p >= :data:`ALPHA`)."""
    return -pr.delta <= budget + 1e-12 and not (pr.lost > pr.gained and pr.p < ALPHA)


def choose_per_layer_t(qm, x, y, budget: float, levels, hists, progress=None,
                       engine: str = "matmul", counter: list | None = None) -> list[int]:
    """Per-layer truncation levels found greedily on images ``x`` (in :func:`select`: the
    search fold of the validation split), ranked by the active rows of ``hists`` (the operand
    histograms of the same images).

    Start with ``t = 0`` everywhere; in each round try raising each layer to its next level in
    ``levels`` and keep the single change that removes the most active rows per MAC while the
    result on ``x``, compared image by image with the exact network, stays :func:`acceptable`
    (within ``budget`` and not significantly worse); stop when no change fits. ``counter``: a
    one-element list the number of candidates compared is added to.
    """
    ref = integer_predict(qm, x, 0, engine) == y
    n = len(qm.layers)
    levels = sorted(levels)
    cur = [0] * n
    while True:
        best = None
        for j in range(n):
            nxt = [t for t in levels if t > cur[j]]
            if not nxt:
                continue
            ts = list(cur)
            ts[j] = nxt[0]
            t0 = time.perf_counter()
            pr = paired(ref, integer_predict(qm, x, ts, engine) == y)
            if counter is not None:
                counter[0] += 1
            if progress:
                progress.step(f"auto t: try {ts}", time.perf_counter() - t0)
            rows = rows_per_mac(qm, hists, ts)
            if acceptable(pr, budget) and (best is None or rows < best[0]):
                best = (rows, ts)
        if best is None:
            return cur
        cur = best[1]


def validation_folds(y, seed: int = FOLD_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(search, confirm)`` of a seeded split of the labels ``y`` into two halves,
    stratified by label (each class split in half, the odd image to the search fold).

    Raises
    ------
    ValueError
        If there are fewer than 2 images (each fold needs one).
    """
    y = np.asarray(y)
    if y.ndim != 1 or len(y) < 2:
        raise ValueError(f"validation labels must be a 1-D array of at least 2 labels, not "
                         f"shape {y.shape!r}")
    seed = check_int("seed", seed, 0, 2**32 - 1)
    rng = np.random.default_rng(seed)
    search, confirm = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        half = (len(idx) + 1) // 2
        search.append(idx[:half])
        confirm.append(idx[half:])
    s, c = np.sort(np.concatenate(search)), np.sort(np.concatenate(confirm))
    if not len(c):                      # one image per class: move one to the confirmation fold
        s, c = s[:-1], s[-1:]
    return s, c


def per_layer_choice(qm, x_val, y_val, budget: float, levels, engine: str = "matmul",
                     seed: int = FOLD_SEED) -> list[int]:
    """The per-layer levels :func:`select` chooses (``per_layer.config``), alone: the greedy
    search on the search fold of ``x_val``/``y_val``, ranked by that fold's active rows."""
    si, _ = validation_folds(y_val, seed)
    xs, ys = x_val[si], y_val[si]
    return choose_per_layer_t(qm, xs, ys, budget, levels, operand_histograms(qm, xs, 0),
                              engine=engine)


def loss_upper_bound(pr: Paired) -> float:
    """One-sided 95 % upper confidence bound of the accuracy loss ``(lost - gained) / n``: the
    upper end of the one-sided 97.5 % Wilson bound of ``lost / n`` minus the lower end of that
    of ``gained / n`` (the two halves by the union bound, so the bound holds with at least 95 %
    whatever the correlation)."""
    lost_hi = wilson(pr.lost, pr.n, _Z_HALF)[1]
    gained_lo = wilson(pr.gained, pr.n, _Z_HALF)[0]
    return lost_hi - gained_lo


@dataclass
class Choice:
    """One choice: what was chosen on the search fold and its confirmation.

    Attributes
    ----------
    config : list or int or None
        The chosen per-layer list, uniform level, or ``None`` when no candidate passed.
    label : str
        Which family / kind the choice belongs to (``"ptq"``, ``"qat"``, ``"same t"``, ...).
    tried : int
        Candidates compared with ``t = 0`` on the search fold to make it.
    search, confirm : dict
        Paired comparison with ``t = 0`` on the search / confirmation fold (``n``, ``lost``,
        ``gained``, ``p``); ``confirm`` also has ``loss_upper_bound``.
    confirmed : bool
        :func:`acceptable` on the confirmation fold.
    row_cut_search : float
        Active-row cut against ``t = 0``, from the search fold's operand histograms.
    """

    config: object = None
    label: str = ""
    tried: int = 0
    search: dict = field(default_factory=dict)
    confirm: dict = field(default_factory=dict)
    confirmed: bool = False
    row_cut_search: float = 0.0


@dataclass
class Selection:
    """Every choice of the evaluation (:func:`select`)."""

    n_search: int
    n_confirm: int
    per_layer: Choice
    uniform: Choice
    target: Choice
    seed: int = FOLD_SEED

    @property
    def tried(self) -> int:
        """Candidates compared on the search fold, over all choices."""
        return self.per_layer.tried + self.uniform.tried + self.target.tried

    def as_dict(self) -> dict:
        return {"search_images": self.n_search, "confirm_images": self.n_confirm,
                "seed": self.seed, "candidates_tried": self.tried,
                "per_layer": asdict(self.per_layer), "uniform": asdict(self.uniform),
                "target": asdict(self.target)}


def select(models: dict, x_val, y_val, levels, budget: float, explicit_lists=(),
           engine: str = "matmul", progress=None, seed: int = FOLD_SEED) -> Selection:
    """Make every choice of the evaluation on the validation images ``x_val``/``y_val`` alone.

    Parameters
    ----------
    models : dict
        ``{"ptq": qm}`` and, if there is one, ``"qat": qm_qat`` (integer networks).
    levels : list of int
        Truncation levels (including 0, the reference).
    budget : float
        Accuracy budget of :func:`acceptable`.
    explicit_lists : sequence of list of int
        Per-layer lists given by the user; candidates of the row-cut target too.

    Returns
    -------
    Selection
        ``per_layer``: the greedy per-layer list (:func:`choose_per_layer_t`, search fold);
        ``uniform``: the highest PTQ level such that it and every level below it are
        :func:`acceptable` on the search fold; ``target``: among the uniform levels (PTQ and
        QAT) and the per-layer lists (explicit and the automatic one), the configuration with
        the largest active-row cut of at least :data:`ROW_CUT_TARGET` that is acceptable on
        the search fold (budget 0.5 points, as the target states). Each is then compared once
        on the confirmation fold.
    """
    qm = models["ptq"]
    si, ci = validation_folds(y_val, seed)
    xs, ys, xc, yc = x_val[si], y_val[si], x_val[ci], y_val[ci]
    levels = sorted(set(int(t) for t in levels) | {0})
    n_layers = len(qm.layers)
    hists = {fam: operand_histograms(m, xs, 0) for fam, m in models.items()}
    right_s: dict = {}

    def on_search(fam, ts):
        key = (fam, tuple(ts) if isinstance(ts, list) else ts)
        if key not in right_s:
            right_s[key] = integer_predict(models[fam], xs, ts, engine) == ys
        return right_s[key]

    def confirm(choice: Choice, fam: str, ts, bud: float = budget) -> Choice:
        pr = paired(integer_predict(models[fam], xc, 0, engine) == yc,
                    integer_predict(models[fam], xc, ts, engine) == yc)
        choice.confirm = dict(asdict(pr), loss_upper_bound=loss_upper_bound(pr))
        choice.confirmed = acceptable(pr, bud)
        return choice

    def cut(fam, ts):
        ts = ts if isinstance(ts, list) else [ts] * n_layers
        return 1 - rows_per_mac(models[fam], hists[fam], ts) / \
            rows_per_mac(models[fam], hists[fam], [0] * n_layers)

    # per-layer levels, greedy
    counter = [0]
    auto = choose_per_layer_t(qm, xs, ys, budget, levels, hists["ptq"], progress, engine, counter)
    per_layer = Choice(auto, "ptq", counter[0],
                       asdict(paired(on_search("ptq", 0), on_search("ptq", auto))),
                       row_cut_search=cut("ptq", auto))
    confirm(per_layer, "ptq", auto)

    # uniform level: every level up to it passes (the first that fails ends the scan)
    uniform = Choice(None, "ptq")
    for t in levels[1:]:
        uniform.tried += 1
        pr = paired(on_search("ptq", 0), on_search("ptq", t))
        if not acceptable(pr, budget):
            break
        uniform.config, uniform.search, uniform.row_cut_search = t, asdict(pr), cut("ptq", t)
    if uniform.config is not None:
        confirm(uniform, "ptq", uniform.config)

    # the row-cut target's configuration: the largest cut >= ROW_CUT_TARGET that is acceptable
    cands = [("same t", "ptq", t) for t in levels[1:]]
    cands += [("per-layer t", "ptq", list(map(int, ts))) for ts in explicit_lists]
    cands += [("per-layer t (auto)", "ptq", auto)]
    if "qat" in models:
        cands += [("same t, QAT", "qat", t) for t in levels[1:]]
    target = Choice(None, "", len(cands))
    best = None
    for kind, fam, ts in cands:
        c = cut(fam, ts)
        pr = paired(on_search(fam, 0), on_search(fam, ts))
        if c >= ROW_CUT_TARGET and acceptable(pr, TARGET_BUDGET) and (best is None or c > best[0]):
            best = (c, kind, fam, ts, pr)
    if best is not None:
        c, kind, fam, ts, pr = best
        target = Choice(ts, f"{kind}|{fam}", len(cands), asdict(pr), row_cut_search=c)
        confirm(target, fam, ts, TARGET_BUDGET)
    return Selection(len(si), len(ci), per_layer, uniform, target, seed)
