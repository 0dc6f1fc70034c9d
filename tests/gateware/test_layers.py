# SPDX-License-Identifier: MIT
"""Unrolled layers (dense and conv, every activation) against the reference, with stalls."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.strategies import integer_models, random_raw
from nomul.design import LayerOptions
from nomul.design.lower import weighted_plan
from nomul.gateware.network import component
from nomul.gateware.unrolled import UnrolledLayer
from nomul.models import reference
from nomul.models.spec import Conv, Dense
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
@given(model=integer_models(), seed=st.integers(0, 1000))
def test_unrolled_layers_match_the_reference_under_stalls(model, seed):
    _check_layers(model, seed, LayerOptions())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models(), register_every=st.integers(0, 3),
       method=st.sampled_from(["parallel", "search"]))
def test_unrolled_latency_is_as_stated_for_every_pipelining(model, register_every, method):
    options = LayerOptions(register_every=register_every, threshold_method=method)
    _check_layers(model, 0, options, idle=0.0, stall=0.0)


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
