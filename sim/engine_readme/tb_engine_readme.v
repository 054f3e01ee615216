// tb_engine_readme: a plain Verilog-2005 testbench of the qsq inference engine, written from the
// README's "Inference engine" section and the compiler's manifest only (a documentation test).
//
// Inputs (plusargs):
//   +pixels=FILE  $readmemh image: N_IMAGES * NPIX unsigned 8-bit pixels, image after image,
//                 each image in C x H x W order (quantize_input of the golden model)
//   +trunc=FILE   (coded engines, define HAS_CONFIG) $readmemh image: N_IMAGES * NLAYERS levels, the
//                 truncation level of every compute layer written through `config` before each image
//   +out=FILE     output: one line per image, "image I cls C logits L0 L1 ... compute K cycles N"
//                 (N: README "Cycles": the cycles from the first pixel's transfer to done, both
//                 counted, less the pixel gaps and the refused logits; the runner compares it
//                 with the manifest's cycles.total - 1)
//   +seed=S       seed of the random gaps in pixels.valid and the random logits.ready
//   +abort=I      optional: image I is abandoned by a reset half-way through loading and sent again
//                 without rewriting `config` (so it runs at the compiled default levels)
// Parameters (set with iverilog -P from the manifest): NPIX, NCLASSES, NLAYERS, LAYER_BITS,
// CLASS_BITS, N_IMAGES.
// The bench fails ($display "FAIL ..." and a nonzero count in the last line) on a protocol
// violation: X on an output after reset, `done` not in the cycle of the last logit, too many or
// too few logits, `cls` changing other than one cycle before an inference's first logit is
// offered (README, Ports), a timeout.
`timescale 1ns/1ps
module tb_engine_readme;
    parameter NPIX = 64;
    parameter NCLASSES = 10;
    parameter NLAYERS = 4;
    parameter LAYER_BITS = 2;
    parameter CLASS_BITS = 4;
    parameter N_IMAGES = 1;
    parameter TIMEOUT = 200000;      // cycles allowed per image

    reg clk = 0;
    reg rst = 1;
    reg [7:0] pixels__payload = 0;
    reg pixels__valid = 0;
    wire pixels__ready;
    reg [LAYER_BITS+3:0] config__payload = 0;
    reg config__valid = 0;
    wire config__ready;
    wire signed [31:0] logits__payload;
    wire logits__valid;
    reg logits__ready = 0;
    wire [CLASS_BITS-1:0] cls;
    wire done;
    wire busy;

    qsq_engine dut (
        .clk(clk), .rst(rst),
        .pixels__payload(pixels__payload), .pixels__valid(pixels__valid), .pixels__ready(pixels__ready),
`ifdef HAS_CONFIG
        .config__payload(config__payload), .config__valid(config__valid), .config__ready(config__ready),
`endif
        .logits__payload(logits__payload), .logits__valid(logits__valid), .logits__ready(logits__ready),
        .cls(cls), .done(done), .busy(busy)
    );
`ifndef HAS_CONFIG
    assign config__ready = 1'b0;
`endif

    always #5 clk = ~clk;

    reg [7:0] pix_mem [0:N_IMAGES*NPIX-1];
    reg [3:0] trunc_mem [0:N_IMAGES*NLAYERS-1];
    reg signed [31:0] lg [0:NCLASSES-1];
    reg [1023:0] fname;
    integer fout, seed, abort_img, use_trunc;
    integer errors = 0;
    integer cyc = 0;
    integer state_cyc = 0;
    integer img = 0, pix_i = 0, lay_i = 0, k = 0, c = 0, rst_left = 0;
    integer t_lastpix = 0, t_firstlogit = -1;
    integer t_firstpix = -1, gaps = 0, stalls = 0, t_cls = -1;
    integer aborted = 0, skip_cfg = 0, have_cls = 0;
    reg [CLASS_BITS-1:0] last_cls = 0;
    reg xfer;

    localparam S_RST = 0, S_IDLE = 1, S_CFG = 2, S_PIX = 3, S_OUT = 4, S_FIN = 5;
    integer state = S_RST;

    initial begin
        if (!$value$plusargs("seed=%d", seed)) seed = 1;
        if (!$value$plusargs("abort=%d", abort_img)) abort_img = -1;
        if (!$value$plusargs("pixels=%s", fname)) begin
            $display("FAIL no +pixels=FILE");
            $finish;
        end
        $readmemh(fname, pix_mem);
        use_trunc = 0;
`ifdef HAS_CONFIG
        if ($value$plusargs("trunc=%s", fname)) begin
            $readmemh(fname, trunc_mem);
            use_trunc = 1;
        end
`endif
        if (!$value$plusargs("out=%s", fname)) begin
            $display("FAIL no +out=FILE");
            $finish;
        end
        fout = $fopen(fname, "w");
        rst_left = 3;
    end

    task fail(input [8*80-1:0] what);
        begin
            $display("FAIL image %0d cycle %0d: %0s", img, cyc, what);
            errors = errors + 1;
        end
    endtask

    // The stimulus and the monitor: one synchronous process. It reads the engine's outputs as they
    // were before the rising edge and drives its inputs with nonblocking assignments, so a transfer is
    // exactly "valid and ready both 1 at a rising edge" (README, Ports).
    always @(posedge clk) begin
        cyc = cyc + 1;
        state_cyc = state_cyc + 1;
        if (state_cyc > TIMEOUT) begin
            fail("timeout");
            state = S_FIN;
        end
        // README: cls takes an inference's class one cycle before its first logit is offered and
        // holds it until the same point of the next inference. Here: a change seen at this edge
        // must be followed by logits.valid at the next edge.
        if (have_cls && state != S_OUT && state != S_RST && cls !== last_cls)
            fail("cls changed between inferences");
        if (state == S_OUT && cls !== last_cls) begin
            if (t_firstlogit >= 0 || t_cls >= 0) fail("cls changed after the first logit");
            t_cls = cyc;
            last_cls = cls;
        end
        if (t_cls >= 0 && t_firstlogit < 0 && cyc > t_cls && logits__valid !== 1'b1)
            fail("cls changed earlier than one cycle before the first logit");
        if (state != S_OUT && done === 1'b1)
            fail("done outside the logit phase");
        case (state)
        S_RST: begin
            if (rst_left > 0) begin
                rst <= 1;
                rst_left = rst_left - 1;
            end else begin
                rst <= 0;
                state = S_IDLE;
                state_cyc = 0;
            end
        end
        S_IDLE: begin  // the cycle after reset: no X/Z, idle
            if ((^{busy, pixels__ready, config__ready, logits__valid, done, cls}) === 1'bx)
                fail("X or Z on an output after reset (compiled as Verilog-2005? iverilog -g2005)");
            if (cls !== 0) fail("cls not 0 after reset");
            last_cls = 0;
            if (busy !== 1'b0) begin
                fail("busy after reset");
                state = S_FIN;
            end else begin
                lay_i = 0;
                state = (use_trunc && !skip_cfg) ? S_CFG : S_PIX;
                skip_cfg = 0;
                pix_i = 0;
                state_cyc = 0;
            end
        end
        S_CFG: begin  // README: while busy is 0, write each layer's level through config
            xfer = config__valid && config__ready;
            if (xfer) lay_i = lay_i + 1;
            if (lay_i == NLAYERS) begin
                config__valid <= 0;
                state = S_PIX;
                pix_i = 0;
                state_cyc = 0;
            end else if ((!config__valid || xfer) && busy === 1'b0) begin
                config__valid <= 1;
                config__payload <= {trunc_mem[img*NLAYERS + lay_i], lay_i[LAYER_BITS-1:0]};
            end
        end
        S_PIX: begin
            xfer = pixels__valid && pixels__ready;
            if (xfer) pix_i = pix_i + 1;
            if (xfer && t_firstpix < 0) t_firstpix = cyc;
            else if (!xfer && t_firstpix >= 0) gaps = gaps + 1;
            if (img == abort_img && !aborted && pix_i == NPIX / 2) begin
                // abandon the image: reset, then send it again at the compiled default levels
                pixels__valid <= 0;
                aborted = 1;
                skip_cfg = 1;
                have_cls = 0;
                t_firstpix = -1;
                gaps = 0;
                rst_left = 2;
                state = S_RST;
            end else if (pix_i == NPIX) begin
                pixels__valid <= 0;
                t_lastpix = cyc;
                t_firstlogit = -1;
                t_cls = -1;
                stalls = 0;
                k = 0;
                state = S_OUT;
                state_cyc = 0;
            end else if (!pixels__valid || xfer) begin
                if (($random(seed) & 3) == 0) begin
                    pixels__valid <= 0;                       // a gap
                end else begin
                    pixels__valid <= 1;
                    pixels__payload <= pix_mem[img*NPIX + pix_i];
                end
            end
        end
        S_OUT: begin
            if (logits__valid === 1'b1 && t_firstlogit < 0) t_firstlogit = cyc;
            xfer = logits__valid && logits__ready;
            if (logits__valid === 1'b1 && !logits__ready) stalls = stalls + 1;
            if (xfer) begin
                if (k < NCLASSES) lg[k] = logits__payload;
                k = k + 1;
            end
            if (done === 1'b1) begin
                if (!xfer) fail("done without a logit transfer");
                if (k != NCLASSES) fail("done before the last logit");
                last_cls = cls;
                have_cls = 1;
                $fwrite(fout, "image %0d cls %0d logits", img, cls);
                for (c = 0; c < NCLASSES; c = c + 1) $fwrite(fout, " %0d", lg[c]);
                // compute: cycles from the last pixel's transfer to the first logit offered
                $fwrite(fout, " compute %0d cycles %0d\n", t_firstlogit - t_lastpix,
                        cyc - t_firstpix + 1 - gaps - stalls);
                t_firstpix = -1;
                gaps = 0;
                logits__ready <= 0;
                img = img + 1;
                state_cyc = 0;
                if (img == N_IMAGES) state = S_FIN;
                else begin
                    lay_i = 0;
                    pix_i = 0;
                    state = use_trunc ? S_CFG : S_PIX;
                end
            end else begin
                if (k >= NCLASSES && xfer) fail("last logit without done");
                logits__ready <= ($random(seed) & 3) != 0;      // back-pressure 1 cycle in 4
            end
        end
        S_FIN: begin
            $fwrite(fout, "end images %0d errors %0d\n", img, errors);
            $fclose(fout);
            $display("tb_engine_readme: %0d images, %0d errors, %0d cycles", img, errors, cyc);
            $finish;
        end
        endcase
    end
endmodule
