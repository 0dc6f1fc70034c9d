# SPDX-License-Identifier: MIT
"""Simulation speed of the emitted Verilog: the compiled Verilator harness (``nomul sim``).

Trains the demo's digits model (64-64-32-10, tbnu, A 5, K 8, seed 0), builds it unrolled
(default options, and ``register_every=0``) and folded (PE 2 x SIMD 8), and streams the test
split ``--repeat`` times through each top at full rate. Prints, per design, the Verilator build
time (cold unless the harness is cached in ``$NOMUL_CACHE``), the simulated cycles per second
(simulation loop only) and the agreement with the reference, which must be 100 %.

Run: ``.venv/bin/python bench/bench_sim.py [--repeat 20]``.
"""

import argparse
import os
import platform
import tempfile
import time

import numpy as np

from nomul.design import BuildOptions, LayerOptions, lower
from nomul.gateware.emit import write_verilog
from nomul.models.datasets import load_dataset
from nomul.models.training.trainer import TrainConfig, train
from nomul.sim.fast import build_harness, run_harness
from nomul.sim.vectors import decode_outputs, expected_outputs, input_words

DESIGNS = {
    "unrolled": BuildOptions(),
    "unrolled, register_every=0": BuildOptions(default=LayerOptions(register_every=0)),
    "folded PE 2 x SIMD 8": BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=8)),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the test split")
    args = parser.parse_args()
    digits = load_dataset("digits")
    model = train(digits, TrainConfig(arch="64-64-32-10", recipe="tbnu", act_levels=5,
                                      weight_levels=8, seed=0, epochs=60)).model
    raw = np.concatenate([digits.x_test] * args.repeat)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; {len(raw)} samples ({args.repeat} x the digits test "
          "split)")
    with tempfile.TemporaryDirectory() as work:
        for name, options in DESIGNS.items():
            start = time.perf_counter()
            manifest = write_verilog(lower(model, options), f"{work}/{len(name)}")
            emitted = time.perf_counter() - start
            start = time.perf_counter()
            harness = build_harness(manifest["verilog"], manifest["top"])
            built = time.perf_counter() - start
            port = manifest["input"]
            run = run_harness(harness, input_words(raw, bits=port["bits"], lanes=port["lanes"]),
                              len(raw), f"{work}/run")
            agreement = np.mean([a == b for a, b in zip(decode_outputs(manifest, run.outputs),
                                                        expected_outputs(model, raw),
                                                        strict=True)])
            print(f"{name:28s} Verilog {emitted:5.1f} s, harness build {built:6.1f} s, "
                  f"{run.cycles:8d} cycles in {run.seconds:7.3f} s = "
                  f"{run.cycles_per_second / 1e3:8.1f} k cycles/s, "
                  f"{len(raw) / run.seconds:9.0f} inferences/s, agreement "
                  f"{100 * agreement:.2f} %")


if __name__ == "__main__":
    main()
