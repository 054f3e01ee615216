"""qsq hardware: Amaranth 0.5 modules that implement the golden model bit for bit.

* :mod:`hw.csd_multiplier` -- gated truncated-CSD multiplier (:class:`~hw.csd_multiplier.CSDMultiplier`)
  and its combinational core (:class:`~hw.csd_multiplier.CSDMultiplierCore`).
* :mod:`hw.decoder` -- shift-and-scale weight decoder (:class:`~hw.decoder.ShiftScaleDecoder`).
* :mod:`hw.verilog` -- generator registry and :func:`~hw.verilog.generate`; ``qsq verilog`` in
  :mod:`hw.cli`. ``hw/cells/qsq_icg.v`` is the clock-gate cell model.
"""
