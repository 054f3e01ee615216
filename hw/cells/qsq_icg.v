// qsq_icg: behavioural model of an integrated clock-gating cell (latch-based, positive edge).
//
//   GCLK = CLK & (EN | TE), with the enable captured by a latch that is transparent while CLK is
//   low, so a change of EN while CLK is high cannot glitch GCLK.
//
//   CLK   free-running clock
//   EN    functional enable, sampled on the falling edge of CLK (latch closes on the rising edge)
//   TE    test enable (scan); tie to 0 in functional designs
//   GCLK  gated clock
//
// This is a simulation model for Icarus, Verilator and Yosys. An ASIC flow replaces it with the
// library's clock-gating cell (e.g. a *CKLNQ*/*ICG* cell): generate the Verilog without this model
// (`qsq verilog ... --no-cells`, or `hw.verilog.generate(..., include_cells=False)`) and provide a
// module named `qsq_icg` with the same four ports that instantiates the technology cell.
//
// Guarded by QSQ_ICG_V: every generated file that uses the gate carries this model, and a design
// that compiles several of them (or this file as well) defines the module once.
`ifndef QSQ_ICG_V
`define QSQ_ICG_V
module qsq_icg (
    input  wire CLK,
    input  wire EN,
    input  wire TE,
    output wire GCLK
);
    reg en_latched;
    initial en_latched = 1'b0;
    // verilator lint_off LATCH
    always @(CLK or EN or TE)
        if (!CLK)
            en_latched = EN | TE;
    // verilator lint_on LATCH
    assign GCLK = CLK & en_latched;
endmodule
`endif // QSQ_ICG_V
