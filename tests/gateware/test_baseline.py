# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""The multiplier baseline: bit-exact with the reference on its own integer model (tables
``a * w_k``), same folding, and it really multiplies (Yosys sees multipliers)."""

import numpy as np
import pytest

from helpers.strategies import random_raw
from nomul.errors import OptionsError
from nomul.gateware.baseline import baseline_model, slope_weights
from nomul.gateware.compile import build_network
from nomul.gateware.options import BuildOptions, LayerOptions
from nomul.hw.verilog import ports
from nomul.models.spec import InputSpec
from nomul.models.synthetic import random_model
from nomul.sim.streams import run_stream
from nomul.sim.vectors import decode_outputs, expected_outputs, input_words


def _model(output="argmax"):
    return random_model("12-6-4", InputSpec(shape=(12,), raw_min=-4, raw_max=11), act_levels=4,
                        weight_levels=5, output=output, seed=7)


def test_slope_weights_recover_integer_products():
    table = [[0, 0, 0], [3, -2, 7], [6, -4, 14], [9, -6, 21]]
    assert slope_weights(table) == (3, -2, 7)
    assert slope_weights([[1, -1], [4, 3], [8, 6]]) == (4, 4)       # rounded slope


@pytest.mark.parametrize("output", ["argmax", "raw"])
@pytest.mark.parametrize("options", [
    BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=3)),
    BuildOptions(default=LayerOptions(arch="folded", pe=1, simd=1)),
    BuildOptions(),                                          # unrolled: fully parallel MACs
], ids=["pe2-simd3", "pe1-simd1", "unrolled"])
def test_baseline_matches_the_reference_on_its_model(output, options):
    model = _model(output)
    reference_model = baseline_model(model)
    top, layers = build_network(model, options, baseline=True)
    assert all("multiplier baseline" in lay["arch"] for lay in layers if "arch" in lay)
    raw = random_raw(model, np.random.default_rng(1), 10)
    run = run_stream(top, input_words(model, raw, top.lanes), count=len(raw), idle=0.2,
                     stall=0.2, seed=3)
    assert decode_outputs(ports(model, top), run.outputs) == expected_outputs(reference_model,
                                                                              raw)


def test_baseline_keeps_the_folding_and_timing_of_the_table_design():
    model = _model()
    options = BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=3))
    table_top, _ = build_network(model, options)
    mac_top, _ = build_network(model, options, baseline=True)
    assert (mac_top.latency, mac_top.ii) == (table_top.latency, table_top.ii)


def test_grouped_layers_have_no_baseline():
    model = random_model("12-6-4", InputSpec(shape=(12,), raw_min=0, raw_max=7), act_levels=3,
                         weight_levels=4, group=2, seed=1)
    with pytest.raises(OptionsError, match="scalar codebooks"):
        build_network(model, BuildOptions(), baseline=True)


@pytest.mark.slow
def test_yosys_finds_multipliers_in_the_baseline_and_none_in_nomul(tmp_path):
    from nomul.hw.synth import synthesize_network

    model = _model()
    options = BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=3))
    nomul_top, _ = build_network(model, options)
    mac_top, _ = build_network(model, options, baseline=True)
    assert synthesize_network(nomul_top, "ice40", tmp_path / "nomul")["total"][
        "multipliers"] == 0
    mac = synthesize_network(mac_top, "ice40", tmp_path / "mac")["total"]
    assert mac["multipliers"] >= 2 * 3 * 2          # pe x simd lanes in each of two layers
