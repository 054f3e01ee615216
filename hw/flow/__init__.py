"""The report flow: Verilog -> Yosys (generic gates, iCE40) -> nextpnr -> gate-level activity -> tables.

Entry point: :func:`hw.flow.report.run_report` (``qsq report``, ``make report``). Modules, in the
order data flows: :mod:`~hw.flow.options` (parameters), :mod:`~hw.flow.designs` (the sweep),
:mod:`~hw.flow.jobs` (one flow step of one design, cached), :mod:`~hw.flow.runner` (serial or
Dask), :mod:`~hw.flow.yosys`, :mod:`~hw.flow.netlist`, :mod:`~hw.flow.activity`,
:mod:`~hw.flow.vcd`, :mod:`~hw.flow.stimuli` (the steps), :mod:`~hw.flow.tables`,
:mod:`~hw.flow.plots`, :mod:`~hw.flow.text` (the report), :mod:`~hw.flow.bench` (timing).
"""
