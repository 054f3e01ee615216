"""The report flow: Verilog -> Yosys (generic gates, iCE40) -> nextpnr -> gate-level activity -> tables.

Entry point: :func:`hw.flow.report.run_report` (``qsq report``, ``make report``).
"""
