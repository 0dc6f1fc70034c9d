# SPDX-License-Identifier: MIT
"""Whole networks' emitted Verilog under cocotb (Verilator, Icarus) and the compiled harness.

Random and trained networks, unrolled and folded: every output equal to the reference under
random idle cycles and back-pressure, then latency (one sample into an idle pipeline) and II
(a full-rate stream) measured on the Verilog and equal to the build manifest. Vectors come from
the reference on the pytest side; the testbenches only drive the streams and record.
"""

import shutil
from functools import cache

import numpy as np
import pytest

from nomul.design import BuildOptions, LayerOptions, lower
from nomul.gateware.emit import write_verilog
from nomul.models.spec import InputSpec
from nomul.models.synthetic import random_model
from nomul.sim.hardware import simulate, simulate_build
from nomul.sim.vectors import expected_outputs

NO_ICARUS = "Icarus Verilog is not installed (CI installs it: apt-get install iverilog)"
SIMULATORS = [
    pytest.param("verilator", marks=pytest.mark.slow),
    pytest.param("icarus", marks=[pytest.mark.slow, pytest.mark.skipif(
        shutil.which("iverilog") is None, reason=NO_ICARUS)]),
]
ALL_SIMULATORS = [pytest.param("fast", marks=pytest.mark.slow), *SIMULATORS]


@cache
def _trained(arch, epochs=2):
    from nomul.models.datasets import load_dataset
    from nomul.models.training.trainer import TrainConfig, train

    digits = load_dataset("digits")
    model = train(digits.reshaped((1, 8, 8)) if arch.startswith("1x") else digits,
                  TrainConfig(arch=arch, recipe="tbnu", act_levels=4, weight_levels=4,
                              epochs=epochs)).model
    return model, digits.reshaped(model.input.shape).x_test[:12]


def _random():
    model = random_model("12-6-4", InputSpec(shape=(12,), raw_min=-4, raw_max=11), act_levels=3,
                         weight_levels=4, seed=3)
    return model, np.random.default_rng(0).integers(-4, 12, size=(24, 12))


NETWORKS = {
    "random-mlp": _random,
    "trained-digits-mlp": lambda: _trained("64-8-10"),
    "trained-digits-conv": lambda: _trained("1x8x8-c2k3s2p1-10"),
}
BUILDS = {
    "unrolled-5-lanes": BuildOptions(input_lanes=5),
    "folded": BuildOptions(default=LayerOptions(arch="folded", pe=2)),
}
# three-input adders of Xilinx primitives, simulated with Yosys's models of them; cocotb's
# Verilator build of a trained network's thousands of primitives takes over a minute, so
# Verilator under cocotb sees the random network, the fast harness (Verilator too) every one
TERNARY = BuildOptions(default=LayerOptions(adders="ternary", register_every=2))
TERNARY_RUNS = [pytest.param(network, simulator, marks=[pytest.mark.slow, *marks])
                for simulator, marks in (("fast", []), ("icarus", SIMULATORS[1].marks[1:]),
                                         ("verilator", []))
                for network in sorted(NETWORKS)
                if simulator != "verilator" or network == "random-mlp"]


@pytest.mark.parametrize("simulator", ALL_SIMULATORS)
@pytest.mark.parametrize("build_name", sorted(BUILDS))
@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_verilog_matches_the_reference_with_stated_timing(network, build_name, simulator,
                                                          tmp_path):
    _check_timed_streams(*NETWORKS[network](), BUILDS[build_name], simulator, tmp_path)


@pytest.mark.parametrize("network, simulator", TERNARY_RUNS)
def test_ternary_adders_match_the_reference_with_stated_timing(network, simulator, tmp_path):
    _check_timed_streams(*NETWORKS[network](), TERNARY, simulator, tmp_path)


def _check_timed_streams(model, raw, options, simulator, tmp_path):
    """Outputs under idle cycles and back-pressure, then latency and II, as the manifest
    states them."""
    design = lower(model, options)
    manifest = write_verilog(design, tmp_path / "rtl")
    assert (manifest["latency"], manifest["ii"]) == (design.latency, design.ii)

    def run(name, samples, **stream):
        return simulate_build(model, manifest, samples, simulator=simulator,
                              work_dir=tmp_path / name, cache_dir=tmp_path / "cache", **stream)

    stalled = run("stalled", raw, idle=0.3, stall=0.3, seed=1)
    assert stalled.outputs == expected_outputs(model, raw)
    single = run("single", raw[:1])
    assert single.latency == manifest["latency"]
    full = run("full", raw)
    assert full.outputs == expected_outputs(model, raw)
    assert set(np.diff(full.stream.output_cycles)) == {manifest["ii"]}


@pytest.mark.slow
@pytest.mark.parametrize("build_name", sorted(BUILDS) + ["unrolled-ternary"])
def test_the_whole_digits_test_split_through_the_fast_harness(build_name, tmp_path):
    """A trained MLP over all 450 test samples under back-pressure: every output is the
    reference's."""
    from nomul.models.datasets import load_dataset

    model, _ = _trained("64-16-10")
    digits = load_dataset("digits")
    options = TERNARY if build_name == "unrolled-ternary" else BUILDS[build_name]
    run = simulate(lower(model, options), digits.x_test, simulator="fast",
                   work_dir=tmp_path, cache_dir=tmp_path / "cache", stall=0.1, seed=2)
    assert len(run.outputs) == len(digits.x_test) == 450
    assert run.outputs == expected_outputs(model, digits.x_test)
