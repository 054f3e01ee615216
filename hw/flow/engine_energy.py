"""Energy per inference: the synthesized engine simulated at gate level over real images.

The generic-gate netlist with its memories kept (:func:`hw.flow.engine_synth.generic_engine_synth`)
is written back as Verilog with the activity counters of :mod:`hw.flow.memnet` and driven by a
testbench that, for every truncation setting, writes each layer's level through the ``config``
stream (coded engines), then streams every image's pixels and takes its logits. Inputs change
only just after rising clock edges (non-blocking assignments), so the counters count settled
transitions exactly as a value change dump would.

The window of one inference runs from the clock edge that takes its first pixel to the edge after
the one that takes its last logit (``done``; the engine is idle again), both included: ``cycles``
edges, which is :func:`hw.engine.schedule.inference_cycles` (checked). Per inference:

``net_toggles``, ``weighted_toggles``
    Data-net transitions, plain and fanout-weighted (the power proxy of the multiplier report,
    :data:`hw.flow.text.POWER_PROXY_DOC`).
``clock_pin_events``
    ``cycles`` x clock pins (flip-flops and memory ports; one free-running clock).
``mem_read_bits`` / ``mem_write_bits``
    Per memory: bits read by enabled read ports, bits written by enabled write bits.

Every logit the netlist produced is compared with the golden model; a mismatch raises
:class:`EngineEnergyError` (no figure is reported from a wrong netlist).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .activity import port_wiring
from .memnet import MemNetlist
from .tools import run_tool

__all__ = ["EngineEnergyError", "simulate_engine", "PERIOD"]

#: Clock period of the testbench (ns); only the order of events matters.
PERIOD = 10


class EngineEnergyError(RuntimeError):
    """The gate-level engine did not compute the golden-model logits (or not in the predicted
    number of cycles)."""


def _testbench(nl: MemNetlist, module: str, n_img: int, n_pix: int, n_cls: int,
               settings: list[list[int]], layer_bits: int, coded: bool) -> str:
    decl, conn = port_wiring(nl.ports)
    snap = [f"u.{name}" for _, _, name in nl.counter_names()]
    fmt = " ".join(["%0d"] * (len(snap) + 1))
    cfg_lines = []
    if coded:
        for s, levels in enumerate(settings):
            for layer, t in enumerate(levels):
                cfg_lines.append(f"    cfg[{s * len(levels) + layer}] = "
                                 f"{layer | (int(t) << layer_bits)};")
    n_layers = len(settings[0])
    cfg_w = len(nl.ports["config__payload"][1]) if coded else 1
    config_task = f"""
  task write_config(input integer s);
    integer l;
    begin
      for (l = 0; l < {n_layers}; l = l + 1) begin
        config__valid <= 1'b1;
        config__payload <= cfg[s * {n_layers} + l];
        @(negedge clk);
        while (!config__ready) begin @(posedge clk); @(negedge clk); end
        @(posedge clk);
      end
      config__valid <= 1'b0;
    end
  endtask""" if coded else """
  task write_config(input integer s);
    begin end
  endtask"""
    return f"""`timescale 1ns/1ns
module qsq_engine_energy_tb;
{chr(10).join(decl)}
  reg [7:0] pix [0:{n_img * n_pix - 1}];
  reg [{cfg_w - 1}:0] cfg [0:{max(1, len(settings) * n_layers) - 1}];
  integer s, i, k, got, f, cyc, started;
  {module} u ({', '.join(conn)});
  always #{PERIOD // 2} clk = ~clk;
  // cycle counter: edges since reset release
  always @(posedge clk) cyc <= cyc + 1;
  // monitor: a logit moves at the next edge when valid & ready at the falling edge
  always @(negedge clk) if (started && logits__valid && logits__ready) begin
    $fwrite(f, "L %0d %0d %0d %0d\\n", s, i, got, $signed(logits__payload));
    got = got + 1;
  end
{config_task}
  task snapshot(input integer tag);
    begin
      $fwrite(f, "S %0d %0d %0d {fmt}\\n", tag, s, i, cyc, {', '.join(snap)});
    end
  endtask
  initial begin
    cyc = 0; started = 0; got = 0; s = 0; i = 0;
    $readmemh("pixels.hex", pix);
{chr(10).join(cfg_lines)}
    f = $fopen("energy.txt", "w");
    logits__ready = 1'b1;
    #{3 * PERIOD} @(posedge clk);
    rst <= 1'b0;
    @(posedge clk);
    for (s = 0; s < {len(settings)}; s = s + 1) begin
      write_config(s);
      @(posedge clk);
      for (i = 0; i < {n_img}; i = i + 1) begin
        got = 0;
        pixels__valid <= 1'b1;
        pixels__payload <= pix[i * {n_pix}];
        @(negedge clk);
        snapshot(0);
        started = 1;
        for (k = 0; k < {n_pix}; k = k + 1) begin
          pixels__valid <= 1'b1;
          pixels__payload <= pix[i * {n_pix} + k];
          if (k > 0) @(negedge clk);
          while (!pixels__ready) begin @(posedge clk); @(negedge clk); end
          @(posedge clk);
        end
        pixels__valid <= 1'b0;
        @(negedge clk);
        while (!done) begin @(posedge clk); @(negedge clk); end
        @(posedge clk);
        @(posedge clk);
        @(negedge clk);
        started = 0;
        snapshot(1);
        if (got != {n_cls}) begin
          $fwrite(f, "E %0d %0d %0d\\n", s, i, got);
        end
        @(posedge clk);
      end
    end
    $fclose(f);
    $finish;
  end
endmodule
"""


def simulate_engine(nl: MemNetlist, images_q: np.ndarray, settings: list[list[int]],
                    expected: np.ndarray, workdir: Path, *, layer_bits: int,
                    cycles: int | None = None, traffic: dict | None = None) -> list[dict]:
    """Simulate the engine netlist ``nl`` over ``images_q`` at every truncation setting (Icarus
    Verilog, zero delay; Verilator 5.006 mis-sizes the counters' ``$countones`` in its DFG pass).

    Parameters
    ----------
    nl : MemNetlist
        Generic-gate netlist of ``qsq_engine`` with its memories.
    images_q : ndarray
        ``(N, pixels)`` unsigned 8-bit pixels.
    settings : list of list of int
        Per-layer truncation levels, one list per setting (ignored by an INT8 engine, which has
        no ``config`` stream; give one setting).
    expected : ndarray
        ``(len(settings), N, classes)`` golden logits.
    workdir : Path
        Work folder (testbench, netlist Verilog, counter dump).
    layer_bits : int
        Width of the layer field of the ``config`` payload.
    cycles : int, optional
        The predicted cycles per inference (:func:`hw.engine.schedule.inference_cycles`); checked
        against every simulated inference when given.
    traffic : dict, optional
        The predicted memory accesses per inference (:func:`hw.engine.schedule.memory_traffic`);
        every memory the netlist keeps as a memory is checked, in every inference, when given.

    Returns
    -------
    list of dict
        Per setting: ``trunc``, ``images``, ``cycles`` and the per-inference means of the module
        notes.

    Raises
    ------
    EngineEnergyError
        If a logit differs from the golden model, a logit is missing, an inference takes other
        than ``cycles`` cycles, or a memory is read or written other than ``traffic`` predicts.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    images_q = np.asarray(images_q)
    expected = np.asarray(expected)
    n_img, n_pix = images_q.shape
    n_cls = expected.shape[-1]
    if expected.shape != (len(settings), n_img, n_cls):
        raise ValueError(f"expected must have shape (settings, images, classes) = "
                         f"({len(settings)}, {n_img}, classes), not {expected.shape!r}")
    coded = "config__payload" in nl.ports
    (workdir / "pixels.hex").write_text("\n".join(f"{int(v) & 0xff:02x}"
                                                  for v in images_q.reshape(-1)) + "\n")
    module = "qsq_gl_engine"
    (workdir / "netlist_sim.v").write_text(nl.to_verilog(module, counters=True))
    (workdir / "tb.v").write_text(_testbench(nl, module, n_img, n_pix, n_cls,
                                             [list(map(int, s)) for s in settings], layer_bits,
                                             coded))
    run_tool("iverilog", ["-g2012", "-o", "tb.vvp", "-s", "qsq_engine_energy_tb", "tb.v",
                          "netlist_sim.v"], workdir, "iverilog.log", timeout=3600)
    run_tool("vvp", ["-n", "tb.vvp"], workdir, "vvp.log", timeout=4 * 3600)
    return parse_energy(workdir / "energy.txt", nl, settings, expected, cycles, traffic)


def _check_traffic(d: np.ndarray, counters: list, nl: MemNetlist, traffic: dict,
                   where: str) -> None:
    """Every memory of ``nl`` that ``traffic`` predicts was read and written exactly as often as
    predicted, in every inference (counted in words of the memory as synthesized)."""
    width = {m.name: m.width for m in nl.memories}
    for j, (kind, key, _) in enumerate(counters, start=1):
        if kind not in ("read", "write") or key not in traffic:
            continue
        want = traffic[key]["reads" if kind == "read" else "writes"]
        got = sorted({v / width[key] for v in d[:, j].tolist()})
        if got != [want]:
            shown = ", ".join(f"{v:g}" for v in got)
            raise EngineEnergyError(f"{where}: memory {key}: {shown} {kind}s per inference "
                                    f"({width[key]}-bit words), the compiler predicts {want}")


def parse_energy(path: Path, nl: MemNetlist, settings, expected: np.ndarray,
                 cycles: int | None = None, traffic: dict | None = None) -> list[dict]:
    """Read the testbench's dump (see :func:`simulate_engine`); check the logits (and the cycles
    and memory accesses, when predicted: ``traffic`` as :func:`hw.engine.schedule.memory_traffic`
    gives it); per-setting means."""
    n_set, n_img, n_cls = expected.shape
    logits = np.full(expected.shape, np.iinfo(np.int64).min, dtype=np.int64)
    count = np.zeros((n_set, n_img), dtype=np.int64)
    snaps: dict = {}
    for ln in Path(path).read_text().splitlines():
        f = ln.split()
        if not f:
            continue
        if f[0] == "L":
            s, i, k, v = map(int, f[1:5])
            if k < n_cls:
                logits[s, i, k] = v
            count[s, i] += 1
        elif f[0] == "S":
            tag, s, i = int(f[1]), int(f[2]), int(f[3])
            snaps[(s, i, tag)] = [int(x) for x in f[4:]]
        elif f[0] == "E":
            raise EngineEnergyError(f"{path}: setting {f[1]} image {f[2]}: {f[3]} logits, "
                                    f"not {n_cls}")
    free, _ = nl.clock_pins()
    counters = nl.counter_names()
    out = []
    for s in range(n_set):
        per = []
        for i in range(n_img):
            if count[s, i] != n_cls or (s, i, 0) not in snaps or (s, i, 1) not in snaps:
                raise EngineEnergyError(f"{path}: setting {settings[s]} image {i}: "
                                        f"{count[s, i]} logits of {n_cls}, or no counters")
            if not np.array_equal(logits[s, i], expected[s, i]):
                raise EngineEnergyError(
                    f"gate-level logits of image {i} at truncation {list(settings[s])} are "
                    f"{logits[s, i].tolist()}, golden model {expected[s, i].tolist()} ({path})")
            a, b = snaps[(s, i, 0)], snaps[(s, i, 1)]
            if len(a) != len(counters) + 1 or len(b) != len(a):
                raise EngineEnergyError(f"{path}: {len(a) - 1} counters, the netlist has "
                                        f"{len(counters)}")
            per.append([y - x for x, y in zip(a, b)])
        d = np.array(per, dtype=np.float64)
        cyc = d[:, 0]
        if cycles is not None and not np.all(cyc == cycles):
            raise EngineEnergyError(f"{path}: setting {list(settings[s])}: inferences took "
                                    f"{sorted(set(cyc.astype(int).tolist()))} cycles, predicted "
                                    f"{cycles}")
        if traffic is not None:
            _check_traffic(d, counters, nl, traffic, f"{path}: setting {list(settings[s])}")
        mean = d.mean(axis=0)
        row = {"trunc": [int(v) for v in settings[s]], "images": n_img,
               "cycles": float(mean[0]), "mem_read_bits": {}, "mem_write_bits": {}, "units": {},
               "per_image": {}}
        units = row["units"]
        for j, (kind, key, _) in enumerate(counters, start=1):
            if kind in ("read", "write"):
                row[f"mem_{kind}_bits"][key] = float(mean[j])
            elif key == "*":
                row[{"toggles": "net_toggles", "weighted": "weighted_toggles"}[kind]] = float(mean[j])
            else:
                u = units.setdefault(key, {"toggles": 0.0, "weighted": 0.0,
                                           "clock_pin_events": float(mean[0]) * free.get(key, 0)})
                if kind == "clock":
                    u["clock_pin_events"] += float(mean[j])
                else:
                    u[kind] = float(mean[j])
        for key, pins in free.items():      # memory ports: clock pins, no counters of their own
            units.setdefault(key, {"toggles": 0.0, "weighted": 0.0,
                                   "clock_pin_events": float(mean[0]) * pins})
        row["clock_pin_events"] = sum(u["clock_pin_events"] for u in units.values())
        # the per-image spread of the proxy's logic part (weighted/2 + clock events)
        logic = np.zeros(len(d))
        for j, (kind, key, _) in enumerate(counters, start=1):
            if key != "*" and kind == "weighted":
                logic += d[:, j] / 2
            elif kind == "clock":
                logic += d[:, j]
        logic += d[:, 0] * sum(free.values())
        row["per_image"] = {"logic_proxy": logic.tolist(),
                            "read_bits": {key: d[:, j].tolist() for j, (kind, key, _)
                                          in enumerate(counters, start=1) if kind == "read"}}
        out.append(row)
    return out
