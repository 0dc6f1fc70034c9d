# nomul: `make demo` and `make test` set everything up on a fresh machine (python3 >= 3.11,
# make and a C++ compiler): they create .venv here, install nomul into it, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := build/demo

.PHONY: demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "nomul needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -c 'import nomul, amaranth, numpy'
	touch $(STAMP)

demo: $(STAMP)
	@mkdir -p $(DEMO)
	$(BIN)/nomul train --dataset digits --arch 64-64-32-10 --recipe tbnu --act-levels 5 --weight-levels 8 --seed 0 -o $(DEMO)/digits.npz
	$(BIN)/nomul info $(DEMO)/digits.npz
	$(BIN)/nomul eval $(DEMO)/digits.npz
	$(BIN)/nomul build $(DEMO)/digits.npz --arch unrolled -o $(DEMO)/unrolled
	$(BIN)/nomul build $(DEMO)/digits.npz --arch folded --pe 2 --simd 8 -o $(DEMO)/folded
	$(BIN)/nomul sim $(DEMO)/digits.npz --build $(DEMO)/unrolled --simulator fast
	$(BIN)/nomul estimate $(DEMO)/digits.npz --arch unrolled --adders ternary --family xilinx
	$(BIN)/nomul train --data examples/wine.csv --recipe tbnu --act-levels 4 --weight-levels 8 -o $(DEMO)/wine.npz
	$(BIN)/nomul sim $(DEMO)/wine.npz --data examples/wine.csv --simulator fast
	$(BIN)/nomul import tests/fixtures/onnx/qonnx_mlp.onnx --data tests/fixtures/onnx/digits.npz -o $(DEMO)/qonnx_mlp.npz
	$(BIN)/nomul sim $(DEMO)/qonnx_mlp.npz --data tests/fixtures/onnx/digits.npz --simulator fast
	$(BIN)/nomul build $(DEMO)/digits.npz --target-ii 256 --device up5k -o $(DEMO)/auto
	$(BIN)/nomul report $(DEMO)/digits.npz --target-ii 256 -o $(DEMO)/report.html
	$(BIN)/nomul estimate $(DEMO)/digits.npz --arch folded --pe 1 --simd 1 --family ice40 --synth --pnr --baseline
	$(BIN)/nomul board $(DEMO)/digits.npz --board icebreaker --arch folded --pe 1 --simd 1 -o $(DEMO)/icebreaker

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench: $(STAMP)
	$(BIN)/python bench/bench_reference.py
	$(BIN)/python bench/bench_sim.py

clean:
	rm -rf build .pytest_cache
