# ASIC (SDC) constraints for a generated multiplier core: `csd_multiplier`, `exact_multiplier`,
# `truncated_array_multiplier`, ... (all have the ports clk, rst, a, b, in_valid, p, out_valid).
# The clock constraint is the one to edit: 500 MHz here. With gating="icg" the row registers are
# clocked through qsq_icg instances: map qsq_icg to your library's clock-gating cell (see
# hw/cells/qsq_icg.v) so that the tool checks the gate's enable timing.
create_clock -name clk -period 2.000 [get_ports clk]
set_clock_uncertainty 0.100 [get_clocks clk]
set_input_delay  0.400 -clock clk [get_ports {a b in_valid rst}]
set_output_delay 0.400 -clock clk [get_ports {p out_valid}]
set_load 0.010 [all_outputs]
