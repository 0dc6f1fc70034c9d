# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""The pipelined adder tree against Python's sum: exact at the bounds' extremes, under stalls,
with nodes no wider than their proven bounds."""

import math
import re

import numpy as np
import pytest
from amaranth.back import rtlil
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomul.design.trees import TreePlan
from nomul.gateware.adder_tree import AdderTree
from nomul.numeric import Bounds, sum_bounds
from nomul.sim.streams import pack, run_stream, unpack

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PATTERNS = [(0.0, 0.0), (0.3, 0.3), (0.6, 0.1), (0.1, 0.6)]     # (idle, stall)


@st.composite
def _term_bounds(draw):
    """1..40 terms; all negative, all non-negative or mixed; small or large magnitudes."""
    n = draw(st.integers(1, 40))
    kind = draw(st.sampled_from(["negative", "unsigned", "mixed"]))
    scale = draw(st.sampled_from([4, 300, 1 << 20]))
    bounds = []
    for _ in range(n):
        term_kind = draw(st.sampled_from(["negative", "unsigned", "straddle"])) \
            if kind == "mixed" else kind
        span = draw(st.integers(0, scale))
        if term_kind == "negative":
            hi = draw(st.integers(-scale, -1))
            bounds.append((hi - span, hi))
        elif term_kind == "unsigned":
            lo = draw(st.integers(0, scale))
            bounds.append((lo, lo + span))
        else:
            lo = draw(st.integers(-scale, 0))
            bounds.append((lo, max(lo + span, 1)))
    return tuple(bounds)


@st.composite
def _cases(draw):
    bounds = draw(_term_bounds())
    bias = draw(st.one_of(st.just(0), st.integers(-5000, 5000)))
    register_every = draw(st.integers(0, 3))
    extremes = st.tuples(*(st.sampled_from(b) for b in bounds))
    worst = draw(st.lists(extremes, min_size=2, max_size=8))
    pattern = draw(st.sampled_from(PATTERNS))
    seed = draw(st.integers(0, 2**32 - 1))
    return bounds, bias, register_every, worst, pattern, seed


def _vectors(bounds, worst, seed, count=40):
    """All-low and all-high vectors, the drawn extreme vectors, then random values."""
    rng = np.random.default_rng(seed)
    vectors = [tuple(lo for lo, _ in bounds), tuple(hi for _, hi in bounds), *worst]
    while len(vectors) < count:
        vectors.append(tuple(int(rng.integers(lo, hi + 1)) for lo, hi in bounds))
    return vectors


def _tree(bounds, bias=0, register_every=1):
    return AdderTree(TreePlan(bounds, bias, register_every))


def _shapes(dut):
    """The component's term and output shapes, as its ports have them."""
    return dut.i.payload.shape().elem_shape, dut.o.payload.shape()


def _run(dut, vectors, **kwargs):
    term, out_shape = _shapes(dut)
    run = run_stream(dut, [pack(v, term.width) for v in vectors], **kwargs)
    out = [unpack(word, out_shape.width, 1, signed=out_shape.signed)[0]
           for word in run.outputs]
    return out, run


@SETTINGS
@given(case=_cases())
def test_sum_equals_python_sum_at_extremes_and_under_stalls(case):
    bounds, bias, register_every, worst, (idle, stall), seed = case
    dut = _tree(bounds, bias, register_every)
    vectors = _vectors(bounds, worst, seed)
    out, run = _run(dut, vectors, idle=idle, stall=stall, seed=seed % 1000)
    assert out == [bias + sum(v) for v in vectors]
    if stall == 0:
        assert set(run.latencies) == {dut.latency}
        if idle == 0:
            assert set(run.intervals) == {1}


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 17, 40])
@pytest.mark.parametrize("register_every", [0, 1, 2, 3])
def test_latency_follows_depth_and_ii_is_one(n, register_every):
    bounds = tuple((-k - 1, k) for k in range(n))
    dut = _tree(bounds, 3, register_every)
    depth = math.ceil(math.log2(n)) if n > 1 else 0
    expected = 1 if register_every == 0 else max(1, math.ceil(depth / register_every))
    assert (dut.plan.depth, dut.latency, dut.ii) == (depth, expected, 1)
    assert (dut.plan.latency, dut.plan.ii) == (expected, 1)
    assert dut.latency == _tree(bounds, 0, register_every).latency             # bias-free
    vectors = [tuple(((j + k) % (2 * k + 2)) - k - 1 for k in range(n)) for j in range(16)]
    out, run = _run(dut, vectors)
    assert out == [3 + sum(v) for v in vectors]
    assert set(run.latencies) == {dut.latency}
    assert set(run.intervals) == {1}


def _wire_widths(dut):
    """Width and signedness of every named wire in the design's RTLIL."""
    widths = {}
    for match in re.finditer(r"wire width (\d+) (?:(?:input|output) \d+ +)?(signed )?\\(\S+)",
                             rtlil.convert(dut)):
        widths[match.group(3)] = (int(match.group(1)), bool(match.group(2)))
    return widths


@pytest.mark.parametrize("bounds, bias", [
    (((-5, 3), (0, 7), (-100, -50)), 4),
    (((0, 1),) * 8, -1),                                     # power of two: bias on term 0
    (((-1000, -999), (0, 0), (1, 1), (-3, 2), (0, 255)), 0),
    (((-(1 << 20), 1 << 20),) * 5 + ((0, 1),) * 6, 12345),
    (((7, 7),), -7),
])
def test_node_widths_are_the_bounds_widths(bounds, bias):
    dut = _tree(bounds, bias)
    plan = dut.plan
    terms = [Bounds(*b) for b in bounds]
    total = sum_bounds(terms, bias)
    assert plan.out_bounds == total and plan.level_bounds[-1] == (total,)
    term_shape, out_shape = _shapes(dut)
    assert out_shape.width == total.width and out_shape.signed == total.signed
    union = Bounds(min(b.lo for b in terms), max(b.hi for b in terms))
    assert plan.term_union == union
    assert term_shape.width == union.width and term_shape.signed == union.signed
    widths = _wire_widths(dut)
    assert widths["o__payload"] == (total.width, total.signed)
    for level, nodes in enumerate(plan.level_bounds):
        # each level partitions the terms: its bounds add up to the terms' (plus the bias once
        # it is in), so no node's bounds are looser than its subtree's
        included = plan.bias_level is not None and level > plan.bias_level
        assert sum(b.lo for b in nodes) == sum(b.lo for b in terms) + (bias if included else 0)
        assert sum(b.hi for b in nodes) == sum(b.hi for b in terms) + (bias if included else 0)
        for j, node in enumerate(nodes):
            name = f"sum_l{level}_{j}" if level else f"term_{j}"
            if level == 0 and j == 0 and plan.bias_level == -1:
                name = "term_0_bias"
            if name in widths:                               # pass-through nodes have no wire
                assert widths[name] == (node.width, node.signed), name
            if name + "_q" in widths:
                assert widths[name + "_q"] == (node.width, node.signed), name


def test_numpy_bounds_and_bias_are_accepted():
    dut = _tree(np.array([[-3, 4], [0, 9]]), np.int64(-2), np.int32(2))
    plan = dut.plan
    assert plan.term_bounds == (Bounds(-3, 4), Bounds(0, 9))
    assert type(plan.bias) is int and plan.bias == -2
    assert type(plan.register_every) is int and plan.register_every == 2
    out, _ = _run(dut, [(-3, 0), (4, 9), (1, 5)], stall=0.5)
    assert out == [-5, 11, 4]


@pytest.mark.parametrize("args, kwargs, error, message", [
    (((),), {}, ValueError, "empty"),
    ((((3, 2),),), {}, ValueError, r"term_bounds\[0\]"),
    ((((0, 1), (1.5, 2)),), {}, TypeError, r"term_bounds\[1\] lo"),
    ((((0, 1, 2),),), {}, TypeError, r"term_bounds\[0\]"),
    (("ab",), {}, TypeError, "term_bounds"),
    ((5,), {}, TypeError, "term_bounds"),
    ((((0, 1),),), {"bias": 0.5}, TypeError, "bias"),
    ((((0, 1),),), {"register_every": -1}, ValueError, "register_every"),
    ((((0, 1),),), {"register_every": 1.0}, TypeError, "register_every"),
])
def test_bad_arguments_are_refused(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        TreePlan(*args, **kwargs)


def test_the_component_needs_a_tree_plan():
    with pytest.raises(TypeError, match="TreePlan"):
        AdderTree(((0, 1),))
