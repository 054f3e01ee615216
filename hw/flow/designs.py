"""The designs a report measures: one parameter set each, shared by RTL generation and golden model.

A :class:`Design` knows how to generate its Verilog, which golden-model function it computes, and
its error metrics, so a report row never re-types a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from golden_model.config import GATING_STYLES, MultiplierConfig

__all__ = ["Design", "GATING_STYLES", "KINDS", "VARIANTS", "DEFAULT_VARIANTS",
           "default_designs", "csd_latency", "variant_of", "variants"]

#: Design kinds: the CSD multiplier, its compact variant, the baselines, the decoder.
KINDS = ("csd", "csdc", "exact", "tam", "bam", "decoder")


def csd_latency(cfg: MultiplierConfig) -> int:
    """Pipeline depth of the CSD multiplier for ``cfg`` (the baselines copy it)."""
    from amaranth.hdl import Fragment

    from hw.csd_multiplier import CSDMultiplier
    m = CSDMultiplier(cfg.a_width, cfg.a_signed, cfg.b_width, cfg.b_signed,
                      truncation="runtime", gating="none")
    Fragment.get(m, None)  # elaborated, so Amaranth does not warn about an unused component
    return m.latency


@dataclass(frozen=True)
class Design:
    """One design point.

    Parameters
    ----------
    kind : str
        ``"csd"`` (CSD multiplier), ``"csdc"`` (compact CSD variant), ``"exact"``, ``"tam"`` (truncated array), ``"bam"`` (broken
        array) or ``"decoder"``.
    cfg : MultiplierConfig or None
        Operand formats (multipliers only).
    params : tuple
        ``("t", t_or_"runtime"), ("gating", g)`` for csd, ``("k", k)`` for tam,
        ``("vbl", v), ("hbl", h)`` for bam, decoder parameters for the decoder.
    latency : int
        Pipeline depth of the baselines (copied from the CSD multiplier).
    """

    kind: str
    cfg: MultiplierConfig | None = None
    params: tuple = ()
    latency: int = 2
    _cache: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"design kind must be one of {', '.join(map(repr, KINDS))}, "
                             f"not {self.kind!r}")

    @property
    def p(self) -> dict:
        return dict(self.params)

    # ---------------------------------------------------------------- naming
    @property
    def family(self) -> str:
        if self.kind == "csd":
            return f"CSD {'runtime' if self.p['t'] == 'runtime' else 'static'} / {self.p['gating']}"
        if self.kind == "csdc":
            return (f"CSD compact-{self.p['sign']} {'runtime' if self.p['t'] == 'runtime' else 'static'}"
                    f" / {self.p['gating']}")
        return {"exact": "exact", "tam": "truncated array", "bam": "broken array",
                "decoder": "decoder"}[self.kind]

    @property
    def key(self) -> str:
        """Unique, file-name-safe identifier, e.g. ``s8xs8-csd-t3-icg``."""
        tag = self.cfg.tag() if self.cfg else "dec"
        p = self.p
        if self.kind in ("csd", "csdc"):
            t = "rt" if p["t"] == "runtime" else f"t{p['t']}"
            kind = "csd" if self.kind == "csd" else f"csdc{p['sign'][0]}"
            return f"{tag}-{kind}-{t}-{p['gating']}"
        if self.kind == "tam":
            return f"{tag}-tam-k{p['k']}"
        if self.kind == "bam":
            return f"{tag}-bam-v{p['vbl']}-h{p['hbl']}"
        if self.kind == "decoder":
            return (f"dec-c{p['code_bits']}-s{p['scale_bits']}-l{p['lanes']}"
                    f"{'-reg' if p['registered'] else ''}")
        return f"{tag}-exact"

    @property
    def level(self):
        """The quality knob: t for csd, k for tam, (vbl, hbl) for bam, 0 for exact."""
        p = self.p
        return {"csd": p.get("t"), "csdc": p.get("t"), "tam": p.get("k"), "exact": 0}.get(
            self.kind, (p.get("vbl"), p.get("hbl")) if self.kind == "bam" else None)

    @property
    def top(self) -> str:
        return {"csd": "csd_multiplier", "csdc": "csd_compact_multiplier", "exact": "exact_multiplier",
                "tam": "truncated_array_multiplier", "bam": "broken_array_multiplier",
                "decoder": "shift_scale_decoder"}[self.kind]

    @property
    def is_multiplier(self) -> bool:
        return self.kind != "decoder"

    @property
    def runtime(self) -> bool:
        return self.kind in ("csd", "csdc") and self.p["t"] == "runtime"

    # ---------------------------------------------------------------- RTL
    def registry_params(self) -> dict:
        """Parameters of the design for :func:`hw.verilog.generate` (module :attr:`top`)."""
        c, p = self.cfg, self.p
        if self.kind == "decoder":
            return dict(p)
        ops = dict(a_width=c.a_width, a_signed=c.a_signed, b_width=c.b_width, b_signed=c.b_signed)
        if self.kind == "csd":
            return {**ops, "truncation": p["t"], "gating": p["gating"]}
        if self.kind == "csdc":
            return {**ops, "truncation": p["t"], "gating": p["gating"], "sign": p["sign"]}
        return {**ops, **p, "latency": self.latency}

    def verilog(self) -> str:
        """Self-contained Verilog of the design (an ICG design carries its cell model)."""
        from hw.verilog import generate

        return generate(self.top, include_cells=True, **self.registry_params())

    # ---------------------------------------------------------------- golden model
    def golden(self, a, b, t=None) -> np.ndarray:
        """The product the design computes (``t``: truncation level of a runtime CSD design)."""
        from golden_model import baselines
        from golden_model.csd import csd_product

        c, p = self.cfg, self.p
        if self.kind in ("csd", "csdc"):
            level = p["t"] if p["t"] != "runtime" else (0 if t is None else t)
            return csd_product(a, b, c, level)
        if self.kind == "tam":
            return baselines.truncated_array_product(a, b, c, p["k"])
        if self.kind == "bam":
            return baselines.broken_array_product(a, b, c, p["vbl"], p["hbl"])
        if self.kind == "exact":
            return c.a.check(a) * c.b.check(b)
        raise ValueError("the decoder has no product")

    def levels_measured(self) -> list:
        """Truncation levels an activity run visits (every level for a runtime CSD design)."""
        if self.runtime:
            return list(self.cfg.truncation_levels)
        return [None]

    def _pairs(self, samples: int):
        from golden_model.metrics import all_pairs

        c = self.cfg
        if c.a_width + c.b_width <= 20:
            return all_pairs(c)
        rng = np.random.default_rng(1)
        return (rng.integers(c.a.min, c.a.max + 1, samples),
                rng.integers(c.b.min, c.b.max + 1, samples))

    def error_metrics(self, t=None, samples: int = 200_000):
        """Golden-model error metrics: exhaustive when ``a_width + b_width <= 20``, else sampled."""
        from golden_model.metrics import error_metrics

        a, b = self._pairs(samples)
        return error_metrics(self.golden(a, b, t), a * b)

    def always_zero(self, t=None, samples: int = 200_000) -> bool:
        """True if the design's product is 0 for every operand pair (a degenerate level).

        Checked on the operand pairs of :meth:`error_metrics`, which include every pair when
        ``a_width + b_width <= 20``.
        """
        a, b = self._pairs(samples)
        return not np.any(self.golden(a, b, t))


#: CSD multiplier variants a sweep can include: the RTL of hw/csd_multiplier.py (one registered
#: row per digit position) and the compact variant of hw/csd_compact.py with either sign style.
VARIANTS = ("csd", "csdc-xor", "csdc-split")
DEFAULT_VARIANTS = ("csd", "csdc-xor")


def default_designs(cfg: MultiplierConfig, *, variants=DEFAULT_VARIANTS, gating=GATING_STYLES,
                    static_levels=None, tam_levels=None, bam_levels=None) -> list[Design]:
    """The default sweep for one operand configuration.

    For each CSD variant (when its RTL is available): every static truncation level below
    ``ndigits`` and the runtime design, in every gating style. Baselines: the exact multiplier,
    truncated-array levels ``k`` in steps of 2 up to ``a_width + b_width - 4``, and broken-array
    points cutting the low ``hbl`` rows of ``b``.

    Raises
    ------
    ValueError
        For an unknown variant.
    """
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {v!r}")
    lat = csd_latency(cfg)
    out = [Design("exact", cfg, (), lat)]
    if static_levels is None:
        static_levels = list(cfg.truncation_levels)[:-1]  # t = ndigits builds nothing
    if tam_levels is None:
        tam_levels = list(range(2, cfg.p_width - 3, 2))
    if bam_levels is None:
        bam_levels = [(0, h) for h in range(1, cfg.b_width // 2 + 1)]
    out += [Design("tam", cfg, (("k", k),), lat) for k in tam_levels]
    out += [Design("bam", cfg, (("vbl", v), ("hbl", h)), lat) for v, h in bam_levels]
    for v in variants:
        for g in gating:
            for t in list(static_levels) + ["runtime"]:
                if v == "csd":
                    out.append(Design("csd", cfg, (("t", t), ("gating", g)), lat))
                else:
                    out.append(Design("csdc", cfg, (("t", t), ("gating", g),
                                                     ("sign", v.split("-")[1])), lat))
    return out


_COLOURS = {"CSD": "tab:blue", "CSD compact-xor": "tab:orange", "CSD compact-split": "tab:green"}


def variant_of(d: Design) -> str | None:
    """The CSD variant of ``d`` as shown in plots and tables (None for other kinds)."""
    if d.kind == "csd":
        return "CSD"
    if d.kind == "csdc":
        return f"CSD compact-{d.p['sign']}"
    return None


def variants(designs) -> list[tuple[str, str]]:
    """The CSD variants among ``designs`` with their plot colours."""
    found = sorted({variant_of(d) for d in designs if variant_of(d)})
    return [(v, _COLOURS.get(v, "tab:gray")) for v in found]
