# SPDX-License-Identifier: MIT
"""The emitted Verilog under cocotb (Verilator and Icarus): bit-exact, latency and II as stated.

Vectors come from the reference on the pytest side; the testbench module
(``nomul.sim.cocotb_stream``) only drives the streams and records what comes out.
"""

import shutil

import numpy as np
import pytest

from gateware.test_network import expected, transfers
from nomul.gateware.options import BuildOptions, LayerOptions
from nomul.hw.verilog import build
from nomul.models.spec import InputSpec
from nomul.models.synthetic import random_model
from nomul.sim.runner import run_cocotb

SIMULATORS = [
    pytest.param("verilator", marks=pytest.mark.slow),
    pytest.param("icarus", marks=[pytest.mark.slow, pytest.mark.skipif(
        shutil.which("iverilog") is None,
        reason="Icarus Verilog is not installed (CI installs it: apt-get install iverilog)")]),
]
BUILDS = {
    "unrolled-5-lanes": BuildOptions(input_lanes=5),
    "folded": BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=3)),
}


@pytest.fixture(scope="module")
def model():
    return random_model("12-6-4", InputSpec(shape=(12,), raw_min=-4, raw_max=11), act_levels=3,
                        weight_levels=4, seed=3)


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("build_name", sorted(BUILDS))
def test_verilog_matches_the_reference_with_stated_timing(model, simulator, build_name,
                                                          tmp_path):
    options = BUILDS[build_name]
    manifest = build(model, options, tmp_path / "rtl")
    lanes = manifest["input"]["lanes"]
    raw = np.random.default_rng(0).integers(-4, 12, size=(24, 12))
    words = [str(w) for w in transfers(model, raw, lanes)]

    def run(name, **vectors):
        return run_cocotb(manifest["verilog"], manifest["top"], "nomul.sim.cocotb_stream",
                          simulator=simulator, work_dir=tmp_path / name,
                          build_dir=tmp_path / "sim", vectors=vectors)

    stalled = run("stalled", inputs=words, count=len(raw), idle=0.3, stall=0.3, seed=1)
    assert [int(o) for o in stalled["outputs"]] == expected(model, raw)
    # one sample into an idle pipeline: the manifest's latency; a full-rate stream: its II
    beats = manifest["input"]["transfers_per_sample"]
    single = run("single", inputs=words[:beats], count=1)
    assert single["output_cycles"][0] - single["input_cycles"][-1] == manifest["latency"]
    full = run("full", inputs=words, count=len(raw))
    assert set(np.diff(full["output_cycles"])) == {manifest["ii"]}
    assert [int(o) for o in full["outputs"]] == expected(model, raw)
