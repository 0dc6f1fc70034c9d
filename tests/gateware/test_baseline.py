# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""The multiplier baseline: bit-exact with the reference on its own integer model (tables
``a * w_k``), same folding, and it really multiplies (Yosys sees multipliers). Dense and
convolution (1-D, 2-D, padded, strided) networks, folded and unrolled."""

from dataclasses import replace
from functools import cache

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.strategies import integer_models, random_raw
from nomul.design import BuildOptions, LayerOptions, baseline_model, lower
from nomul.design.tables import slope_weights
from nomul.errors import OptionsError
from nomul.gateware.network import NetworkTop, component
from nomul.models.spec import Activation, Conv, InputSpec, IntegerModel
from nomul.models.synthetic import random_model
from nomul.sim.streams import run_stream
from nomul.sim.vectors import decode_outputs, expected_outputs, input_words


def _build(model, options, baseline=None):
    """The design of ``model`` (a multiplier baseline with ``baseline="integer"`` or
    ``"codebook"``) and its network top."""
    design = lower(model, options, baseline=baseline)
    return design, NetworkTop(design)


def _words(design, raw):
    return input_words(raw, bits=design.raw.width, lanes=design.lanes)


def _model(output="argmax"):
    return random_model("12-6-4", InputSpec(shape=(12,), raw_min=-4, raw_max=11), act_levels=4,
                        weight_levels=5, output=output, seed=7)


def test_slope_weights_recover_integer_products():
    table = [[0, 0, 0], [3, -2, 7], [6, -4, 14], [9, -6, 21]]
    assert slope_weights(table) == (3, -2, 7)
    assert slope_weights([[1, -1], [4, 3], [8, 6]]) == (4, 4)       # rounded slope


@pytest.mark.parametrize("baseline", ["integer", "codebook"])
@pytest.mark.parametrize("output", ["argmax", "raw"])
@pytest.mark.parametrize("options", [
    BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=3)),
    BuildOptions(default=LayerOptions(arch="folded", pe=1, simd=1)),
    BuildOptions(),                                          # unrolled: fully parallel MACs
], ids=["pe2-simd3", "pe1-simd1", "unrolled"])
def test_baseline_matches_the_reference_on_its_model(output, options, baseline):
    model = _model(output)
    reference_model = baseline_model(model)
    design, top = _build(model, options, baseline=baseline)
    layers = design.describe()["layers"]
    assert all("multiplier baseline" in lay["arch"] for lay in layers if "arch" in lay)
    raw = random_raw(model, np.random.default_rng(1), 10)
    run = run_stream(top, _words(design, raw), count=len(raw), idle=0.2, stall=0.2, seed=3)
    assert decode_outputs(design.ports(), run.outputs) == expected_outputs(reference_model,
                                                                           raw)


@pytest.mark.parametrize("options", [
    BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=3)),
    BuildOptions(),
], ids=["pe2-simd3", "unrolled"])
def test_baseline_keeps_the_folding_and_timing_of_the_table_design(options):
    """Folded: the same schedule (the codebook baseline's codebook and multiply take the
    table's two lookup cycles, the integer baseline's multiply one: a cycle less per layer).
    Unrolled: both one inference per clock (the table design's adder graph is shallower
    or deeper than the baseline's per-output trees)."""
    model = _model()
    _, table_top = _build(model, options)
    _, mac_top = _build(model, options, baseline="integer")
    codebook_design, codebook_top = _build(model, options, baseline="codebook")
    assert mac_top.ii == table_top.ii == codebook_top.ii
    if options.default.arch == "folded":
        layers = sum("arch" in layer for layer in codebook_design.describe()["layers"])
        assert mac_top.latency == table_top.latency - layers
        assert codebook_top.latency == table_top.latency
        Fragment.get(codebook_top, None)
    for top in (table_top, mac_top):      # elaborated, so no UnusedElaboratable warnings
        Fragment.get(top, None)


def test_grouped_layers_have_no_baseline():
    model = random_model("12-6-4", InputSpec(shape=(12,), raw_min=0, raw_max=7), act_levels=3,
                         weight_levels=4, group=2, seed=1)
    with pytest.raises(OptionsError, match="scalar codebooks"):
        lower(model, BuildOptions(), baseline="integer")


def test_codebook_baseline_stores_codeword_indices_and_a_codebook():
    """The codebook baseline's weight ROM holds the table design's words (codeword indices);
    the integer baseline's holds the weights."""
    model = _model()
    options = BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=3))
    plans = {name: [plan for _, plan in lower(model, options, baseline=name).named_stages
                    if hasattr(plan, "weight_words")] for name in ("integer", "codebook")}
    table_plans = [plan for _, plan in lower(model, options).named_stages
                   if hasattr(plan, "weight_words")]
    for table, codebook, integer in zip(table_plans, plans["codebook"], plans["integer"],
                                        strict=True):
        assert codebook.weight_words() == table.weight_words()
        assert codebook.weight_width == table.weight_width < integer.weight_width
        assert codebook.codebook_rom and not integer.codebook_rom


@pytest.mark.slow
def test_yosys_finds_multipliers_in_the_baseline_and_none_in_nomul(tmp_path):
    from nomul.hw.synth import synthesize_design

    model = _model()
    options = BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=3))
    nomul_design = lower(model, options)
    mac_design = lower(model, options, baseline="integer")
    assert synthesize_design(nomul_design, "ice40", tmp_path / "nomul")["total"][
        "multipliers"] == 0
    mac = synthesize_design(mac_design, "ice40", tmp_path / "mac")["total"]
    assert mac["multipliers"] >= 2 * 3 * 2          # pe x simd lanes in each of two layers


# -- convolutions ----------------------------------------------------------------------------

FOLDED = BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=3))


@cache
def _conv_models():
    """Padded, strided 2-D and 1-D conv networks (every weighted layer: pe 2 and simd 3 fit),
    and each one's conv layer alone with raw output, so every accumulator, the padded border
    positions among them, is compared."""
    conv2d = random_model("2x5x5-c4k3s2p1-4", InputSpec(shape=(2, 5, 5), raw_min=-2,
                                                         raw_max=5),
                          act_levels=4, weight_levels=5, seed=3)
    conv1d = random_model("3x12-c4k3s2p1-m2-6", InputSpec(shape=(3, 12), raw_min=0, raw_max=6),
                          act_levels=3, weight_levels=4, output="raw", seed=4)
    models = {"conv2d": conv2d, "conv1d": conv1d}
    for name, model in list(models.items()):
        conv = replace(model.layers[0], activation=Activation("raw"))
        models[f"{name}-raw"] = IntegerModel(input=model.input, layers=(conv,))
    return models


def _check_against_reference(model, options, samples=8, seed=1, baseline="integer"):
    design, top = _build(model, options, baseline=baseline)
    layers = design.describe()["layers"]
    assert all("multiplier baseline" in lay["arch"] for lay in layers if "arch" in lay)
    raw = random_raw(model, np.random.default_rng(seed), samples)
    run = run_stream(top, _words(design, raw), count=len(raw), idle=0.2, stall=0.2, seed=3,
                     max_cycles=4 * (len(raw) + 1) * top.ii + 1000)
    assert decode_outputs(design.ports(), run.outputs) == expected_outputs(
        baseline_model(model), raw)
    return top


def test_conv_baseline_model_has_integer_product_tables():
    model = _conv_models()["conv2d"]
    base = baseline_model(model)
    for layer, original in zip(base.layers, model.layers, strict=True):
        if hasattr(layer, "table"):
            assert type(layer) is type(original)
            weights = slope_weights(original.table)
            assert layer.table.tolist() == [[a * w for w in weights]
                                            for a in range(original.in_levels)]
            assert layer.table.shape == original.table.shape
    conv = base.layers[0]
    assert isinstance(conv, Conv) and (conv.padding, conv.stride) == ((1, 1), (2, 2))


@pytest.mark.parametrize("name", ["conv2d", "conv2d-raw", "conv1d", "conv1d-raw"])
@pytest.mark.parametrize("options", [FOLDED, BuildOptions()], ids=["pe2-simd3", "unrolled"])
def test_conv_baseline_matches_the_reference_on_its_model(name, options):
    _check_against_reference(_conv_models()[name], options)


@pytest.mark.parametrize("name", ["conv2d", "conv1d-raw"])
def test_conv_codebook_baseline_matches_the_reference_on_its_model(name):
    _check_against_reference(_conv_models()[name], FOLDED, baseline="codebook")


def test_padded_taps_contribute_zero_in_the_baseline():
    """All-minimum inputs (index 0 everywhere): a padded tap must add what index 0 adds (0),
    so every position, border or not, equals the bias; a padded tap as index A would not."""
    model = _conv_models()["conv2d-raw"]
    raw = np.full((2, *model.input.shape), model.input.raw_min)
    expected = expected_outputs(baseline_model(model), raw)
    bias = model.layers[0].bias
    assert np.array_equal(np.reshape(expected[0], (4, 3, 3)),
                          np.broadcast_to(bias[:, None, None], (4, 3, 3)))
    for options in (FOLDED, BuildOptions()):
        design, top = _build(model, options, baseline="integer")
        run = run_stream(top, _words(design, raw), count=len(raw))
        assert decode_outputs(design.ports(), run.outputs) == expected


@pytest.mark.parametrize("options", [FOLDED, BuildOptions()], ids=["pe2-simd3", "unrolled"])
def test_conv_baseline_has_the_latency_and_ii_of_the_table_design(options):
    model = _conv_models()["conv2d"]
    _, table_top = _build(model, options)
    mac_design, mac_top = _build(model, options, baseline="integer")
    assert mac_top.ii == table_top.ii
    if options.default.arch == "folded":      # a multiply is one cycle, a lookup two
        layers = sum("arch" in layer for layer in mac_design.describe()["layers"])
        assert mac_top.latency == table_top.latency - layers
    Fragment.get(table_top, None)         # elaborated, so no UnusedElaboratable warnings
    raw = random_raw(model, np.random.default_rng(2), 4)
    budget = 4 * (len(raw) + 1) * mac_top.ii + 1000
    steady = run_stream(mac_top, _words(mac_design, raw), count=len(raw), max_cycles=budget)
    assert set(np.diff(steady.output_cycles)) == {mac_top.ii}     # measured, not copied
    first = run_stream(mac_top, _words(mac_design, raw[:1]), count=1, max_cycles=budget)
    assert first.output_cycles[0] - first.input_cycles[-1] == mac_top.latency


def _scalar_codebooks(model):
    return all(getattr(layer, "group", 1) == 1 for layer in model.layers)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.filter_too_much])
@given(model=integer_models(kinds=("conv1d", "conv2d")).filter(_scalar_codebooks),
       folded=st.booleans(), seed=st.integers(0, 1000))
def test_random_conv_baselines_match_the_reference(model, folded, seed):
    """Random kernels, strides, paddings, pools and tables; folded as PE 1 x SIMD 1 (always
    fits) or unrolled."""
    options = BuildOptions(default=LayerOptions(arch="folded")) if folded else BuildOptions()
    _check_against_reference(model, options, samples=4, seed=seed)


def test_grouped_conv_layers_have_no_baseline():
    model = random_model("2x6x6-c2k3p1-3", InputSpec(shape=(2, 6, 6), raw_min=0, raw_max=3),
                         act_levels=3, weight_levels=4, group=2, seed=2)
    assert isinstance(model.layers[0], Conv) and model.layers[0].group == 2
    for options in (BuildOptions(default=LayerOptions(arch="folded")), BuildOptions()):
        with pytest.raises(OptionsError, match=r"layer 0 \(conv2d\).*scalar codebooks"):
            lower(model, options, baseline="integer")


@pytest.mark.slow
@pytest.mark.parametrize("options", [FOLDED, BuildOptions()], ids=["pe2-simd3", "unrolled"])
def test_yosys_finds_multipliers_in_the_conv_baseline_and_none_in_nomul(tmp_path, options):
    """The conv stage alone (a small padded, strided conv, ~10 s): the baseline has one
    multiplier per PE x SIMD lane (folded) or per distinct (input, codeword) product of its
    lookup (unrolled); the table design has none."""
    from nomul.gateware.emit import emit_verilog
    from nomul.hw.synth import synthesize

    small = random_model("1x4x4-c2k3s2p1-2", InputSpec(shape=(1, 4, 4), raw_min=0, raw_max=5),
                         act_levels=3, weight_levels=4, seed=5)
    model = IntegerModel(input=small.input,
                         layers=(replace(small.layers[0], activation=Activation("raw")),))
    counts, stages = {}, {}
    for name, baseline in (("nomul", None), ("mac", "integer")):
        design = lower(model, options, baseline=baseline)
        stages[name] = component(dict(design.named_stages)["layer_0_conv2d"])
        source = tmp_path / f"{name}.v"
        source.write_text(emit_verilog(stages[name], "conv"))
        counts[name] = synthesize(source, "conv", "gates", tmp_path / name)["multipliers"]
    assert counts["nomul"] == 0
    if options is FOLDED:
        assert counts["mac"] == 2 * 3
    else:
        assert counts["mac"] == len(stages["mac"].lookup.plan.pairs) > 0
