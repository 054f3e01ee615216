// Behavioural specification of one lane of the shift-and-scale decoder (golden_model/codec.py,
// `decode`), for the formal proofs of sim/formal/prove.py. Written independently of
// hw/decoder.py (which uses a case statement over the constant shifts).
//
// A code has CB bits: the MSB is the sign s, the low CB-1 bits the index m. With
// M = 2**(CB-1) - 1: m = 0 decodes to 0, m >= 1 to (-1)**s * (S >> (M - m)); the weight is a
// signed SB+1-bit integer. The reserved code (s = 1, m = 0) decodes to 0.
module qsq_decode_spec #(
    parameter CB = 3,            // code bits
    parameter SB = 7             // scale bits
) (
    input  wire [CB-1:0] code,
    input  wire [SB-1:0] scale,
    output reg  [SB:0]   weight
);
    localparam integer M = (1 << (CB - 1)) - 1;
    integer m;
    reg [SB:0] mag;
    always @* begin
        m = code[CB-2:0];
        mag = (m == 0) ? {(SB+1){1'b0}} : {1'b0, scale} >> (M - m);
        weight = code[CB-1] ? -mag : mag;
    end
endmodule
