# SPDX-License-Identifier: MIT
"""Unrolled layers (dense and conv, every activation) against the reference, with stalls."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.strategies import integer_models, random_raw
from nomul.design import LayerOptions
from nomul.design.cost import features
from nomul.design.lower import weighted_plan
from nomul.gateware.emit import emit_verilog
from nomul.gateware.network import component
from nomul.gateware.unrolled import UnrolledLayer
from nomul.models import reference
from nomul.models.spec import Activation, Conv, Dense, InputSpec, IntegerModel
from nomul.numeric import index_width
from nomul.sim.streams import pack, run_stream, unpack


def _check_layers(model, seed, options, *, idle=0.2, stall=0.2):
    """Every weighted layer of ``model``, fed the reference's own input indices."""
    raw = random_raw(model, np.random.default_rng(seed), 8)
    _, inputs, traces = reference.run(model, raw, trace=True)
    for position, (layer, trace) in enumerate(zip(model.layers, traces, strict=True)):
        if isinstance(layer, (Dense, Conv)):
            dut = component(weighted_plan(layer, model.shapes[position], options))
            assert isinstance(dut, UnrolledLayer)
            words = [pack(v.ravel(), index_width(model.levels[position])) for v in inputs]
            run = run_stream(dut, words, idle=idle, stall=stall, seed=seed)
            expected = trace.out.reshape(len(raw), -1) if trace.out.ndim > 1 else trace.out
            if layer.activation.kind == "argmax":
                got = run.outputs
            elif layer.activation.kind == "raw":
                got = [unpack(word, dut.plan.acc.width, expected.shape[1],
                              signed=dut.plan.acc.signed) for word in run.outputs]
            else:
                got = [unpack(word, index_width(layer.out_levels), expected.shape[1])
                       for word in run.outputs]
            assert got == expected.tolist()
            if idle == stall == 0:
                assert set(run.latencies) == {dut.latency} and set(run.intervals) == {1}
        inputs = trace.out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models(), seed=st.integers(0, 1000), sums=st.sampled_from(["on", "off"]))
def test_unrolled_layers_match_the_reference_under_stalls(model, seed, sums):
    _check_layers(model, seed, LayerOptions(sum_register=sums))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models(), register_every=st.integers(0, 3),
       method=st.sampled_from(["parallel", "search"]), sums=st.sampled_from(["on", "off"]))
def test_unrolled_latency_is_as_stated_for_every_pipelining(model, register_every, method,
                                                             sums):
    options = LayerOptions(register_every=register_every, threshold_method=method,
                           sum_register=sums)
    _check_layers(model, 0, options, idle=0.0, stall=0.0)


@pytest.mark.parametrize("method", ["parallel", "search", "clamp"])
@pytest.mark.parametrize("register_every", [0, 1])
def test_sum_register_off_drops_one_register_stage(method, register_every):
    """Without the sum register the activation reads the adder graph directly: one cycle
    less latency, no register named ``value_*`` (the sums), the same results."""
    model = _clamp_model()
    plans = {sums: weighted_plan(model.layers[0], model.shapes[0],
                                 LayerOptions(sum_register=sums, threshold_method=method,
                                              register_every=register_every).resolved())
             for sums in ("on", "off")}
    assert plans["off"].latency == plans["on"].latency - 1
    # the estimator follows: the sums' registers and one valid bit fewer
    on, off = (features(plans[sums], 6)[0]["ff"] for sums in ("on", "off"))
    assert on - off == sum(field.width for field in plans["on"].value_fields) + 1
    verilog = {sums: emit_verilog(component(plan), "layer") for sums, plan in plans.items()}
    assert "value_0" in verilog["on"] and "value_0" not in verilog["off"]
    _check_layers(model, 3, LayerOptions(sum_register="off", threshold_method=method,
                                         register_every=register_every))
    _check_layers(model, 4, LayerOptions(sum_register="off", threshold_method=method,
                                         register_every=register_every), idle=0.0, stall=0.0)


def _clamp_model():
    """A dense layer whose thresholds are evenly spaced by 4 (a clamp applies), 6 inputs."""
    rng = np.random.default_rng(5)
    table = rng.integers(-20, 21, size=(4, 3))
    thresholds = np.tile(np.arange(-12, 13, 4), (3, 1))
    layer = Dense(in_levels=4, group=1, table=table,
                  weight_index=rng.integers(0, 3, size=(3, 6)),
                  bias=rng.integers(-5, 6, size=3), activation=Activation("thresholds",
                                                                          thresholds))
    return IntegerModel(input=InputSpec(shape=(6,), raw_min=0, raw_max=3), layers=(layer,))


def test_lookups_of_one_table_share_one_rom():
    """An unrolled layer builds one logic ROM per distinct lookup table, a read port per
    lookup (1 326 ROMs were 125 on the demo MLP: Amaranth's netlist and Yosys's files shrink
    with them), and stays exact (the tests above)."""
    from amaranth.back import rtlil

    from nomul.design.graph import LookupLeaf
    from nomul.hw.cost import reference_layer

    layer = reference_layer(4, 4, 6, 16, 8, seed=3)
    plan = weighted_plan(layer, (16,), LayerOptions(group_inputs=2))
    lookups = [leaf for leaf in plan.leaves if isinstance(leaf, LookupLeaf)]
    tables = {tuple(leaf.values) for leaf in lookups}
    assert len(tables) < len(lookups)                  # the case this test is about
    text = rtlil.convert(component(plan), name="layer")
    assert text.count("cell $meminit_v2 ") == len(tables)
    assert text.count("cell $memrd_v2 ") == len(lookups)
