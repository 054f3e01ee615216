# ASIC (SDC) constraints of a multiplier mapped to the OSU 0.18 um cells (`qsq asic`, hw/flow/asic.py).
# top: qsq verilog csd_compact_multiplier -o csd_compact_multiplier.v
# `qsq asic` uses this file as the template of every design's SDC: it replaces the two port lists
# by the design's own inputs and outputs (a static-truncation build or a baseline has no `trunc`)
# and the output load by the input capacitance of the library's DFFPOSX1 D pin (pF: each output
# drives one register of the next stage), and writes the result to
# build/asic/work/<design>/design.sdc. The clock period is the Tcl variable qsq_period (ns), set
# before this file is sourced (`set qsq_period 10` in your own OpenSTA script): the flow bisects
# it for fmax, then sets the common clock of the power report. Ports are ideal register
# boundaries (zero external delay), so fmax is that of the design's own paths.
create_clock -name clk -period $qsq_period [get_ports clk]
set_input_delay  0.0 -clock clk [get_ports {a b trunc in_valid rst}]
set_output_delay 0.0 -clock clk [get_ports {p out_valid}]
set_load 0.00882947 [get_ports {p out_valid}]
