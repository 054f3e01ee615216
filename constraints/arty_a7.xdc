## Xilinx 7-series (Digilent Arty A7-35T/100T) constraints for the qsq timing harness
## `qsq_timing_top`: 100 MHz oscillator, BTN0 as reset, Pmod JA pins 1 and 2 as the serial operand
## input and the serial result output. Adapt the PACKAGE_PINs to your board. Generate it with
# top: qsq verilog csd_compact_multiplier --gating enable --timing-harness -o qsq_timing_top.v
set_property -dict { PACKAGE_PIN E3  IOSTANDARD LVCMOS33 } [get_ports clk]
create_clock -name clk -period 10.000 -waveform {0 5} [get_ports clk]
set_property -dict { PACKAGE_PIN D9  IOSTANDARD LVCMOS33 } [get_ports rst]
set_property -dict { PACKAGE_PIN G13 IOSTANDARD LVCMOS33 } [get_ports sin]
set_property -dict { PACKAGE_PIN B11 IOSTANDARD LVCMOS33 } [get_ports sout]
## The harness's pins are slow serial I/O: only register-to-register paths matter.
set_false_path -from [get_ports {rst sin}]
set_false_path -to [get_ports sout]
