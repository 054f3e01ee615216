# ASIC (SDC) constraints of a generated multiplier core with runtime truncation, the default of
# top: qsq verilog csd_multiplier --gating icg --no-cells -o csd_multiplier.v
# The same ports (clk, rst, a, b, trunc, in_valid, p, out_valid) are those of
# `qsq verilog csd_compact_multiplier`; with --name NAME the ports stay, the module is NAME. A
# static-truncation build (--truncation T) or a baseline (exact_/truncated_/broken_array_multiplier)
# has no `trunc` port: delete it from the input list below.
# The clock constraint is the one to edit: 500 MHz here. With gating="icg" the row registers are
# clocked through qsq_icg instances: map qsq_icg to your library's clock-gating cell (see
# hw/cells/qsq_icg.v) so that the tool checks the gate's enable timing.
create_clock -name clk -period 2.000 [get_ports clk]
set_clock_uncertainty 0.100 [get_clocks clk]
set_input_delay  0.400 -clock clk [get_ports {a b trunc in_valid rst}]
set_output_delay 0.400 -clock clk [get_ports {p out_valid}]
set_load 0.010 [all_outputs]
