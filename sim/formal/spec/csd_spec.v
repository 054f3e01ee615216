// Behavioural specification of the truncated-CSD product (golden_model/csd.py), for the formal
// proofs of sim/formal/prove.py. Written independently of the RTL in hw/: the RTL recodes with the
// 3x XOR x identity and sums rows in a balanced adder tree; this file uses the textbook
// non-adjacent-form algorithm and a plain loop.
//
//   b   -> qsq_spec_naf:   d_i in {-1, 0, +1}, i = 0 .. ND-1   (ND = BW if BS, else BW + 1)
//          repeat ND times: if x is odd, d = 2 - (x mod 4), x = x - d; else d = 0; x = x / 2
//   d,a -> qsq_spec_terms: term_i = a * d_i * 2**i if i >= t, else 0        (PW-bit words)
//   term -> qsq_spec_sum:  p = term_0 + term_1 + ... + term_{ND-1}           (mod 2**PW)
//
// qsq_csd_spec is exactly qsq_spec_sum(qsq_spec_terms(a, qsq_spec_naf(b), t)). The proofs use the
// three parts separately (see sim/formal/README in the repository docs); the composition is this
// module. PW = AW + BW; the exact product a * b_t always fits PW bits, so the sum modulo 2**PW is
// the product itself (signed if AS or BS). A runtime level t above ND keeps no digit (product 0).

// Non-adjacent form of b: dpos[i] = (d_i == +1), dneg[i] = (d_i == -1).
module qsq_spec_naf #(
    parameter BW = 8,            // width of b
    parameter BS = 1,            // b is two's complement
    parameter ND = BS ? BW : BW + 1
) (
    input  wire [BW-1:0] b,
    output reg  [ND-1:0] dpos,
    output reg  [ND-1:0] dneg
);
    localparam XW = BW + 2;      // room for x + 1 at every step
    reg signed [XW-1:0] x;
    integer i;
    always @* begin
        x = BS ? {{2{b[BW-1]}}, b} : {2'b00, b};
        for (i = 0; i < ND; i = i + 1) begin
            dpos[i] = x[0] & ~x[1];          // x mod 4 == 1: digit +1
            dneg[i] = x[0] & x[1];           // x mod 4 == 3: digit -1
            if (dpos[i]) x = x - 1;
            if (dneg[i]) x = x + 1;
            x = x >>> 1;                     // exact: x is even here
        end
    end
endmodule

// Partial products: term_i = a * d_i * 2**i for digits at i >= t, else 0; term_i at bits
// [i*PW, (i+1)*PW) of `terms`.
module qsq_spec_terms #(
    parameter AW = 8,
    parameter AS = 1,
    parameter ND = 8,
    parameter PW = 16,
    parameter TW = 4
) (
    input  wire [AW-1:0]    a,
    input  wire [ND-1:0]    dpos,
    input  wire [ND-1:0]    dneg,
    input  wire [TW-1:0]    t,
    output reg  [ND*PW-1:0] terms
);
    reg [PW-1:0] av, prod;
    integer i;
    always @* begin
        av = AS ? {{PW{a[AW-1]}}, a} : {{PW{1'b0}}, a};   // a as a PW-bit integer
        for (i = 0; i < ND; i = i + 1) begin
            // a * d_i for d_i in {+1, -1, 0}, written as a selection (a solver-friendly multiply)
            prod = dpos[i] ? av : (dneg[i] ? -av : {PW{1'b0}});
            terms[i*PW +: PW] = (i >= t) ? prod << i : {PW{1'b0}};
        end
    end
endmodule

// p = sum of the ND words of `terms`, modulo 2**PW.
module qsq_spec_sum #(
    parameter ND = 8,
    parameter PW = 16
) (
    input  wire [ND*PW-1:0] terms,
    output reg  [PW-1:0]    p
);
    integer i;
    always @* begin
        p = {PW{1'b0}};
        for (i = 0; i < ND; i = i + 1)
            p = p + terms[i*PW +: PW];
    end
endmodule

// The truncated-CSD product p = a * b_t.
module qsq_csd_spec #(
    parameter AW = 8,
    parameter AS = 1,
    parameter BW = 8,
    parameter BS = 1,
    parameter TW = 4,
    parameter ND = BS ? BW : BW + 1,
    parameter PW = AW + BW
) (
    input  wire [AW-1:0]    a,
    input  wire [BW-1:0]    b,
    input  wire [TW-1:0]    t,
    output wire [PW-1:0]    p,
    output wire [ND-1:0]    dpos,
    output wire [ND-1:0]    dneg,
    output wire [ND*PW-1:0] terms
);
    qsq_spec_naf #(.BW(BW), .BS(BS), .ND(ND)) naf (.b(b), .dpos(dpos), .dneg(dneg));
    qsq_spec_terms #(.AW(AW), .AS(AS), .ND(ND), .PW(PW), .TW(TW)) rows (
        .a(a), .dpos(dpos), .dneg(dneg), .t(t), .terms(terms));
    qsq_spec_sum #(.ND(ND), .PW(PW)) acc (.terms(terms), .p(p));
endmodule
