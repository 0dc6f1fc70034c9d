# SPDX-License-Identifier: MIT
"""Whole networks in the Amaranth simulator, 100 % identical to the reference."""

import numpy as np
import pytest
from amaranth.hdl import Fragment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.strategies import integer_models, random_raw
from nomul.design import BuildOptions, LayerOptions, lower
from nomul.gateware.network import NetworkTop
from nomul.models import reference
from nomul.numeric import index_width
from nomul.sim.streams import run_stream
from nomul.sim.vectors import decode_outputs, expected_outputs, input_words


def build(model, options):
    """The lowered design of ``model`` and its network top."""
    design = lower(model, options)
    return design, NetworkTop(design)


def transfers(design, raw):
    """The input transfers of ``raw``, ``design.lanes`` elements each."""
    return input_words(raw, bits=design.raw.width, lanes=design.lanes)


def results(design, run):
    """The top's outputs as reference-shaped values."""
    return decode_outputs(design.ports(), run.outputs)


def expected(model, raw):
    return expected_outputs(model, raw)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models(), seed=st.integers(0, 1000), lanes=st.integers(1, 5),
       register_every=st.integers(0, 2), sums=st.sampled_from(["on", "off"]),
       input_register=st.booleans())
def test_random_unrolled_networks_match_the_reference(model, seed, lanes, register_every, sums,
                                                      input_register):
    raw = random_raw(model, np.random.default_rng(seed), 6)
    lanes = min(lanes, model.input.elements)
    if all(layer.activation.kind == "raw" for layer in model.layers
           if hasattr(layer, "weight_index")):
        sums = None                    # no layer it concerns: refused (tests/cli)
    options = BuildOptions(default=LayerOptions(register_every=register_every,
                                                sum_register=sums), input_lanes=lanes,
                           input_register=input_register)
    design, top = build(model, options)
    assert top.lanes == design.lanes == lanes
    run = run_stream(top, transfers(design, raw), count=len(raw), idle=0.2, stall=0.2,
                     seed=seed)
    assert results(design, run) == expected(model, raw)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models(), lanes=st.integers(1, 3), input_register=st.booleans())
def test_network_latency_and_ii_are_as_stated(model, lanes, input_register):
    raw = random_raw(model, np.random.default_rng(0), 8)
    lanes = min(lanes, model.input.elements)
    design, top = build(model, BuildOptions(input_lanes=lanes, input_register=input_register))
    assert (top.latency, top.ii) == (design.latency, design.ii)
    run = run_stream(top, transfers(design, raw), count=len(raw))
    beats = -(-model.input.elements // lanes)
    last_transfer = run.input_cycles[beats - 1::beats]
    assert [o - i for i, o in zip(last_transfer, run.output_cycles, strict=True)] == \
        [top.latency] * len(raw)
    assert set(np.diff(run.output_cycles)) == {top.ii}


TRAINED_SAMPLES = 120      # the whole split runs on the Verilog (tests/sim/test_cocotb.py)


@pytest.mark.slow
def test_trained_digits_mlp_matches_the_reference():
    from nomul.models.datasets import load_dataset
    from nomul.models.training.trainer import TrainConfig, train

    digits = load_dataset("digits")
    model = train(digits, TrainConfig(arch="64-64-32-10", recipe="tbnu", act_levels=5,
                                      weight_levels=8, epochs=3)).model
    design, top = build(model, BuildOptions())
    assert design.lanes == 64
    x = digits.x_test[:TRAINED_SAMPLES]
    run = run_stream(top, transfers(design, x), stall=0.1, seed=1)
    assert run.outputs == reference.run(model, x).tolist()


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.one_of(integer_models(), integer_models(kinds=("conv1d", "conv2d"))),
       data=st.data())
def test_random_folded_networks_match_the_reference(model, data):
    from nomul.models.spec import Conv, Dense

    per_layer = []
    for position, layer in enumerate(model.layers):
        if isinstance(layer, (Dense, Conv)):
            per_layer.append((position, LayerOptions(
                arch="folded", pe=data.draw(st.sampled_from(_divisors(layer.out_channels))),
                simd=data.draw(st.sampled_from(_divisors(layer.n_groups))),
                register_every=data.draw(st.integers(0, 2)),
                input_buffer=data.draw(st.sampled_from(["double", "single"])))))
    design, top = build(model, BuildOptions(layers=tuple(per_layer)))
    described = design.describe()["layers"]
    assert {entry["index"] for entry in described if entry.get("arch") == "folded"} == \
        {position for position, _ in per_layer}
    raw = random_raw(model, np.random.default_rng(7), 6)
    assert design.lanes == model.input.elements
    budget = 4 * (len(raw) + 1) * top.ii + 1000     # slow folded stages need many cycles
    run = run_stream(top, transfers(design, raw), count=len(raw), idle=0.2, stall=0.2,
                     seed=3, max_cycles=budget)
    assert results(design, run) == expected(model, raw)
    steady = run_stream(top, transfers(design, raw), count=len(raw), max_cycles=budget)
    assert set(np.diff(steady.output_cycles)) == {top.ii}      # no bubbles at full rate
    first = run_stream(top, transfers(design, raw[:1]), count=1, max_cycles=budget)
    assert first.output_cycles[0] - first.input_cycles[-1] == top.latency   # idle pipeline


@pytest.mark.slow
def test_trained_digits_mlp_folded_matches_the_reference():
    from nomul.models.datasets import load_dataset
    from nomul.models.training.trainer import TrainConfig, train

    digits = load_dataset("digits")
    model = train(digits, TrainConfig(arch="64-64-32-10", recipe="tbnu", act_levels=5,
                                      weight_levels=8, epochs=3)).model
    options = BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=8))
    design, top = build(model, options)
    assert top.ii == (64 // 8) * (64 // 2)
    assert design.lanes == 64
    x = digits.x_test[:TRAINED_SAMPLES]
    run = run_stream(top, transfers(design, x), stall=0.1, seed=1,
                     max_cycles=2 * len(x) * top.ii + 1000)
    assert run.outputs == reference.run(model, x).tolist()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models(kinds=("mlp",)), data=st.data())
def test_unrolled_input_grouping_matches_the_reference(model, data):
    per_layer = []
    for position, layer in enumerate(model.layers):
        if layer.group == 1:
            width = index_width(layer.in_levels)        # ragged last groups included
            choices = [g for g in range(1, layer.fan_in + 1) if 1 << (g * width) <= 4096]
            per_layer.append((position, LayerOptions(
                group_inputs=data.draw(st.sampled_from(choices)))))
    design, top = build(model, BuildOptions(layers=tuple(per_layer)))
    grouped = dict(per_layer)
    for entry in design.describe()["layers"]:
        if entry["index"] in grouped:
            assert entry["group_inputs"] == grouped[entry["index"]].group_inputs
    raw = random_raw(model, np.random.default_rng(5), 6)
    assert design.lanes == model.input.elements
    run = run_stream(top, transfers(design, raw), count=len(raw), idle=0.2, stall=0.2,
                     seed=5)
    assert results(design, run) == expected(model, raw)


def test_grouping_three_inputs_makes_ragged_group_lookups():
    """12 inputs in groups of 3 and 13 in groups of 3 + a last group of 1: every lookup leaf
    reads one group, each output sums one lookup per group, the ports are unchanged."""
    from nomul.design.graph import LookupLeaf
    from nomul.design.lower import weighted_plan
    from nomul.gateware.network import component
    from nomul.models.spec import InputSpec
    from nomul.models.synthetic import random_model

    for n, groups in ((12, [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11)]),
                      (13, [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11), (12,)])):
        model = random_model(f"{n}-4-3", InputSpec(shape=(n,), raw_min=0, raw_max=3),
                             act_levels=4, weight_levels=4, seed=1)
        plain = weighted_plan(model.layers[0], (n,), LayerOptions(group_inputs=1))
        grouped = weighted_plan(model.layers[0], (n,), LayerOptions(group_inputs=3))
        lookups = [leaf for leaf in grouped.leaves if isinstance(leaf, LookupLeaf)]
        assert sorted({leaf.members for leaf in lookups}) == groups
        assert all(len(leaf.members) == 1 for leaf in plain.leaves
                   if isinstance(leaf, LookupLeaf))
        assert grouped.in_port == plain.in_port and grouped.out_port == plain.out_port
        for layer in (component(plain), component(grouped)):  # elaborated: no unused warning
            Fragment.get(layer, None)


@pytest.mark.parametrize("per_feature", [False, True])
def test_a_sample_over_several_transfers_is_quantized_lane_by_lane(per_feature):
    """Shared thresholds: ``lanes`` quantizers, then the indices collected (narrower than the
    raw samples); thresholds per element: the raw samples collected first. Both bit-exact."""
    from helpers import digits_input_spec
    from nomul.models.spec import InputSpec, IntegerModel
    from nomul.models.synthetic import random_model

    model = random_model("64-6-10", digits_input_spec(), seed=5)
    rows = np.sort(np.random.default_rng(3).integers(0, 17, size=(64, 4)), axis=1)
    thresholds = rows if per_feature else rows[0]
    spec = InputSpec(shape=(64,), raw_min=0, raw_max=16, quantizer="thresholds",
                     thresholds=thresholds)
    layer = model.layers[0]
    table = np.resize(layer.table, (5, layer.table.shape[1]))      # 5 input levels
    first = type(layer)(in_levels=5, group=1, table=table, weight_index=layer.weight_index,
                        bias=layer.bias, activation=layer.activation)
    model = IntegerModel(input=spec, layers=(first, *model.layers[1:]))
    design, top = build(model, BuildOptions(input_lanes=8))
    names = [name for name, _ in design.named_stages]
    if per_feature:
        assert names[:2] == ["deserializer", "quantizer"]
        assert design.deserializer.element == design.raw
    else:
        assert names[:2] == ["quantizer", "deserializer"]
        quantizer, collect = design.stages[0][1], design.stages[1][1]
        assert quantizer.elements == 8 and not quantizer.registered
        assert collect.element == quantizer.index and collect.element.width == 3
    assert design.lanes == top.lanes == 8
    raw = np.random.default_rng(9).integers(0, 17, size=(5, 64))
    run = run_stream(top, transfers(design, raw), count=len(raw), idle=0.3, stall=0.3, seed=2)
    assert results(design, run) == expected(model, raw)
    assert (top.latency, top.ii) == (design.latency, design.ii)
