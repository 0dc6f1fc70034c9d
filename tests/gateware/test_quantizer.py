# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""InputQuantizer against :func:`nomul.models.reference.quantize_input`."""

import numpy as np
import pytest
from amaranth.hdl import Shape
from hypothesis import given, settings
from hypothesis import strategies as st

from nomul.design.plans import LOOKUP_MAX_TABLE_BITS, QuantizerPlan
from nomul.design.ports import Field
from nomul.gateware.quantizer import InputQuantizer
from nomul.models.reference import quantize_input
from nomul.models.spec import InputSpec
from nomul.sim.streams import pack, run_stream, unpack

CASES = {
    "identity-unsigned": dict(shape=(2, 3), raw_min=0, raw_max=16),
    "identity-offset": dict(shape=(4,), raw_min=3, raw_max=9),
    "identity-signed": dict(shape=(5,), raw_min=-8, raw_max=7),
    # ties, a threshold below the range (always met) and one above it (never met)
    "thresholds-signed": dict(shape=(3,), raw_min=-100, raw_max=100,
                              thresholds=np.array([-120, -20, 0, 0, 37, 101])),
    "thresholds-unsigned": dict(shape=(2, 2), raw_min=0, raw_max=255,
                                thresholds=[0, 64, 128, 192, 255]),
    # 5-bit samples (the digits pixels) read a table of raw codes; 9-bit and 12-bit ones and
    # 8-bit ones with 31 thresholds (a 256 x 5-bit table) compare (LOOKUP_MAX_TABLE_BITS)
    "thresholds-pixels": dict(shape=(6,), raw_min=0, raw_max=16, thresholds=[3, 7, 7, 10, 14]),
    "thresholds-offset": dict(shape=(3,), raw_min=5, raw_max=300, thresholds=[1, 6, 99, 300]),
    "thresholds-wide": dict(shape=(4,), raw_min=-2000, raw_max=2000,
                            thresholds=[-2001, -700, 0, 1, 1999, 2000, 2001]),
    "thresholds-many": dict(shape=(2,), raw_min=-128, raw_max=127,
                            thresholds=list(range(-120, 128, 8))[:31]),
    # one row per element (sensor channels of different ranges), lookup and compare forms;
    # two elements share a row, one row has a threshold below the range and one above it
    "per-feature-lookup": dict(shape=(2, 2), raw_min=0, raw_max=16,
                               thresholds=[[1, 2, 3], [4, 8, 12], [4, 8, 12], [-1, 15, 17]]),
    "per-feature-compare": dict(shape=(3,), raw_min=-2000, raw_max=2000,
                                thresholds=[[-1500, 0, 1500], [-3, -1, 1], [0, 0, 2001]]),
}

STALLS = [(0.0, 0.0), (0.4, 0.5)]


def _spec(case):
    quantizer = "identity" if case.get("thresholds") is None else "thresholds"
    return InputSpec(quantizer=quantizer, **case)


def _quantizer(spec):
    return InputQuantizer(QuantizerPlan(spec.elements, spec.raw_min, spec.raw_max,
                                        spec.thresholds))


def _port_shapes(dut):
    """The raw and index element shapes of the component's ports."""
    return dut.i.payload.shape().elem_shape, dut.o.payload.shape().elem_shape


@pytest.mark.parametrize("idle,stall", STALLS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference(name, idle, stall):
    spec = _spec(CASES[name])
    dut = _quantizer(spec)
    rng = np.random.default_rng(7)
    raw = rng.integers(spec.raw_min, spec.raw_max + 1, size=(24, *spec.shape))
    raw[0] = spec.raw_min                              # both ends of the range
    raw[1] = spec.raw_max
    if spec.per_feature:                               # each element at its own thresholds
        for n, row in enumerate(spec.thresholds):
            inside = [int(t) for t in row if spec.raw_min <= t <= spec.raw_max]
            for k, t in enumerate(inside[:len(raw) - 2]):
                raw[2 + k].flat[n] = t
    elif spec.thresholds is not None:                  # every threshold inside the range
        inside = [int(t) for t in spec.thresholds if spec.raw_min <= t <= spec.raw_max]
        raw[2].flat[:len(inside)] = inside[:spec.elements]
    expected = quantize_input(spec, raw).reshape(len(raw), -1)
    raw_width, index_width = (shape.width for shape in _port_shapes(dut))
    assert (raw_width, index_width) == (dut.plan.raw.width, dut.plan.index.width)
    run = run_stream(dut, [pack(r.ravel(), raw_width) for r in raw], idle=idle, stall=stall)
    got = [unpack(word, index_width, spec.elements) for word in run.outputs]
    assert got == expected.tolist()


def test_shapes():
    dut = InputQuantizer(QuantizerPlan(3, -8, 7))
    assert (dut.plan.raw, dut.plan.index) == (Field(4, signed=True), Field(4))
    assert _port_shapes(dut) == (Shape(4, signed=True), Shape(4, signed=False))
    assert dut.plan.levels == 16
    dut = InputQuantizer(QuantizerPlan(3, 0, 16))
    assert (dut.plan.raw, dut.plan.index) == (Field(5), Field(5))
    assert _port_shapes(dut) == (Shape(5, signed=False), Shape(5, signed=False))
    dut = InputQuantizer(QuantizerPlan(1, -128, 127, (np.int64(-5), 0, 5)))
    assert (dut.plan.raw, dut.plan.index) == (Field(8, signed=True), Field(2))
    assert _port_shapes(dut) == (Shape(8, signed=True), Shape(2, signed=False))
    assert dut.plan.thresholds == (-5, 0, 5) and type(dut.plan.thresholds[0]) is int
    dut = InputQuantizer(QuantizerPlan(2, 4, 4))
    assert dut.plan.index == Field(1) and _port_shapes(dut)[1] == Shape(1, signed=False)


@pytest.mark.parametrize("name,style", [
    ("identity-signed", "identity"), ("thresholds-pixels", "lookup"),
    ("thresholds-signed", "lookup"), ("thresholds-unsigned", "lookup"),
    ("thresholds-offset", "compare"), ("thresholds-wide", "compare"),
    ("per-feature-lookup", "lookup"), ("per-feature-compare", "compare"),
    ("thresholds-many", "compare"),
])
def test_style_follows_table_size(name, style):
    dut = _quantizer(_spec(CASES[name]))
    assert dut.plan.style == style
    raw_shape, index_shape = _port_shapes(dut)
    table_bits = (1 << raw_shape.width) * index_shape.width
    assert (table_bits <= LOOKUP_MAX_TABLE_BITS) == (style != "compare")


@st.composite
def _threshold_specs(draw):
    raw_min = draw(st.integers(-300, 300))
    raw_max = draw(st.integers(raw_min, raw_min + 400))
    thresholds = sorted(draw(st.lists(st.integers(raw_min - 5, raw_max + 5), min_size=1,
                                      max_size=16)))
    return InputSpec(shape=(1,), raw_min=raw_min, raw_max=raw_max, quantizer="thresholds",
                     thresholds=thresholds)


@settings(max_examples=200, deadline=None)
@given(_threshold_specs())
def test_lookup_table_equals_the_reference_on_every_raw_value(spec):
    """The table the lookup form reads, at each raw value's bit pattern, is the reference's
    index, for every value in the range (what the lookup quantizer's Verilog indexes)."""
    dut = _quantizer(spec)
    table = dut.plan.lookup_table()
    width = _port_shapes(dut)[0].width
    raw = np.arange(spec.raw_min, spec.raw_max + 1)
    expected = quantize_input(spec, raw[:, None])[:, 0]
    assert [table[int(r) & ((1 << width) - 1)] for r in raw] == expected.tolist()


def test_per_feature_lookup_tables_are_the_elements_own():
    plan = QuantizerPlan(2, 0, 3, [[1, 2, 3], [3, 3, 9]])
    assert plan.per_feature and plan.levels == 4
    assert [plan.lookup_table(0), plan.lookup_table(1)] == [[0, 1, 2, 3], [0, 0, 0, 2]]


def test_per_feature_thresholds_need_one_row_per_element():
    with pytest.raises(ValueError, match="need 2 rows, not 3"):
        QuantizerPlan(2, 0, 3, [[1], [2], [3]])


def test_lookup_table_counts_thresholds_met():
    plan = QuantizerPlan(1, -4, 2, (-3, 0, 0, 2))
    # codes 0..7 of a 3-bit signed sample: 0, 1, 2, 3 (above raw_max: reads 2's), -4 .. -1
    assert plan.lookup_table() == [3, 3, 4, 4, 0, 1, 1, 1]


def test_latency_and_ii():
    spec = _spec(CASES["thresholds-signed"])
    dut = _quantizer(spec)
    raw = np.random.default_rng(1).integers(spec.raw_min, spec.raw_max + 1, size=(8, 3))
    width = _port_shapes(dut)[0].width
    run = run_stream(dut, [pack(r, width) for r in raw])
    assert set(run.latencies) == {dut.latency} == {dut.plan.latency} == {1}
    assert set(run.intervals) == {dut.ii} == {dut.plan.ii} == {1}


@pytest.mark.parametrize("args,kwargs,error", [
    ((0,), dict(raw_min=0, raw_max=3), ValueError),
    ((True,), dict(raw_min=0, raw_max=3), TypeError),
    ((2.0,), dict(raw_min=0, raw_max=3), TypeError),
    ((2,), dict(raw_min=4, raw_max=3), ValueError),
    ((2,), dict(raw_min=0.5, raw_max=3), TypeError),
    ((2,), dict(raw_min=0, raw_max=3, thresholds=()), ValueError),
    ((2,), dict(raw_min=0, raw_max=3, thresholds=(2, 1)), ValueError),
    ((2,), dict(raw_min=0, raw_max=3, thresholds=(1, 2.5)), TypeError),
    ((2,), dict(raw_min=0, raw_max=3, thresholds=3), TypeError),
])
def test_bad_arguments(args, kwargs, error):
    with pytest.raises(error):
        QuantizerPlan(*args, **kwargs)


def test_the_component_needs_a_quantizer_plan():
    with pytest.raises(TypeError, match="QuantizerPlan"):
        InputQuantizer(3)
