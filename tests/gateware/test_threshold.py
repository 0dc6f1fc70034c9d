# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""Threshold banks against the reference's threshold_count: values at, just below and just
above every threshold, duplicate thresholds, signed and unsigned inputs, stalls."""

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned

from nomul.design.ports import Field
from nomul.design.trees import ClampPlan, ThresholdPlan
from nomul.gateware.threshold import Clamp, ThresholdBank
from nomul.models.reference import threshold_count
from nomul.numeric import Bounds, index_width
from nomul.sim.streams import pack, run_stream, unpack


def _limits(shape):
    if shape.signed:
        return -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
    return 0, (1 << shape.width) - 1


def _rows(rng, shape, n_out, n_thr, *, shared, spread=0):
    """Ascending rows with duplicates, within (or, with ``spread``, beyond) the shape's range."""
    lo, hi = _limits(shape)
    rows = []
    for _ in range(1 if shared else n_out):
        row = np.sort(rng.integers(lo - spread, hi + 1 + spread, size=n_thr))
        if n_thr > 2:                                         # force a run of duplicates
            row[1:3] = row[1]
        rows.append(tuple(int(t) for t in row))
    return tuple(rows * n_out) if shared else tuple(rows)


def _vectors(rng, shape, rows, extra=8):
    """Per output: every threshold and its neighbours (clipped to the shape), the shape's
    extremes, and a few random values; element j of vector k is row j's k-th value."""
    lo, hi = _limits(shape)
    columns = []
    for row in rows:
        values = sorted({min(max(t + d, lo), hi) for t in row for d in (-1, 0, 1)} | {lo, hi})
        values += [int(v) for v in rng.integers(lo, hi + 1, size=extra)]
        columns.append(list(rng.permutation(values)))
    count = max(len(c) for c in columns)
    return [[int(c[k % len(c)]) for c in columns] for k in range(count)]


def _bank(rows, shape, method="parallel"):
    """The bank of ``rows`` over inputs of the Amaranth ``shape``."""
    return ThresholdBank(ThresholdPlan(rows, Field(shape.width, shape.signed), method))


def _run(dut, vectors, **kwargs):
    width = dut.i.payload.shape().elem_shape.width
    run = run_stream(dut, [pack(v, width) for v in vectors], **kwargs)
    n_out = dut.plan.in_port.length
    out_width = dut.o.payload.shape().elem_shape.width
    return [unpack(word, out_width, n_out) for word in run.outputs], run


CASES = [  # (in_shape, outputs, thresholds per output, shared)
    (signed(8), 3, 1, False),
    (unsigned(6), 2, 2, True),
    (signed(10), 4, 7, False),
    (unsigned(9), 2, 8, False),
    (signed(12), 3, 15, True),
    (signed(7), 2, 20, False),
]


@pytest.mark.parametrize("method", ["parallel", "search"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_bank_matches_threshold_count_under_stalls(method, case):
    shape, n_out, n_thr, shared = CASES[case]
    rng = np.random.default_rng(100 + case)
    rows = _rows(rng, shape, n_out, n_thr, shared=shared)
    dut = _bank(rows, shape, method)
    vectors = _vectors(rng, shape, rows)
    out, _ = _run(dut, vectors, idle=0.3, stall=0.4, seed=case)
    assert out == threshold_count(np.array(vectors), np.array(rows)).tolist()


@pytest.mark.parametrize("method", ["parallel", "search"])
@pytest.mark.parametrize("n_thr", [1, 2, 3, 4, 7, 8, 16, 20])
def test_bank_latency_and_throughput(method, n_thr):
    rng = np.random.default_rng(n_thr)
    shape = signed(9)
    rows = _rows(rng, shape, 2, n_thr, shared=False)
    dut = _bank(rows, shape, method)
    expected = 1 if method == "parallel" else max(1, int(np.ceil(np.log2(n_thr + 1))))
    assert (dut.latency, dut.ii) == (expected, 1)
    assert (dut.plan.latency, dut.plan.ii) == (expected, 1)
    assert dut.plan.out == Field(index_width(n_thr + 1))
    assert dut.o.payload.shape().elem_shape == unsigned(index_width(n_thr + 1))
    vectors = _vectors(rng, shape, rows, extra=0)[:30]
    out, run = _run(dut, vectors)
    assert out == threshold_count(np.array(vectors), np.array(rows)).tolist()
    assert set(run.latencies) == {dut.latency}
    assert set(run.intervals) == {1}


@pytest.mark.parametrize("method", ["parallel", "search"])
def test_bank_all_equal_and_out_of_range_thresholds(method):
    shape = signed(5)                                          # -16 .. 15
    rows = ((3, 3, 3, 3, 3), (-40, -16, 15, 16, 99), (-99, -50, -17, -17, -16),
            (16, 17, 30, 100, 100))
    dut = _bank(rows, shape, method)
    vectors = [[v] * len(rows) for v in range(-16, 16)]
    out, _ = _run(dut, vectors, stall=0.3, seed=7)
    assert out == threshold_count(np.array(vectors), np.array(rows)).tolist()


def test_bank_accepts_numpy_thresholds():
    rows = np.array([[-2, 0, 5], [1, 1, 2]], dtype=np.int64)
    dut = ThresholdBank(ThresholdPlan(rows, Field(4, signed=True), "search"))
    assert dut.plan.rows == ((-2, 0, 5), (1, 1, 2))
    assert all(type(t) is int for row in dut.plan.rows for t in row)
    assert dut.i.payload.shape().elem_shape == signed(4)
    vectors = [[-3, 0], [0, 1], [5, 2], [7, -8]]
    out, _ = _run(dut, vectors)
    assert out == [[0, 0], [2, 2], [3, 3], [3, 0]]


@pytest.mark.parametrize("method", ["parallel", "search"])
@pytest.mark.parametrize("is_signed", [True, False])
def test_single_row_bank_matches_threshold_count(is_signed, method):
    # what the deleted scalar ThresholdUnit covered: one accumulator, every 6-bit value
    thresholds = (-5, 0, 0, 7, 12) if is_signed else (0, 3, 3, 9, 30)
    dut = _bank((thresholds,), signed(6) if is_signed else unsigned(6), method)
    values = list(range(-32, 32) if is_signed else range(0, 64))
    run = run_stream(dut, [v & 63 for v in values], idle=0.2, stall=0.3, seed=3)
    assert run.outputs == threshold_count(np.array(values), np.array(thresholds)).tolist()
    run = run_stream(dut, [v & 63 for v in values[:20]])
    assert set(run.latencies) == {dut.latency} and set(run.intervals) == {1}


@pytest.mark.parametrize("thresholds, kwargs, error, message", [
    (((3, 1),), {}, ValueError, "ascending"),
    (((0, 1), (2, 1)), {}, ValueError, r"thresholds\[1\] must be ascending"),
    ((), {}, ValueError, "at least one row"),
    (((),), {}, ValueError, "at least one threshold"),
    (((0, 1), (2,)), {}, ValueError, "same length"),
    (((0, 1.5),), {}, TypeError, r"thresholds\[0\]\[1\]"),
    ((1, 2), {}, TypeError, r"thresholds\[0\]"),
    (((0, 1),), {"method": "linear"}, ValueError, "method"),
    (((0, 1),), {"in_field": "eight"}, TypeError, "in_field"),
    (((0, 1),), {"in_field": Field(0)}, ValueError, "in_field"),
])
def test_bank_bad_arguments_are_refused(thresholds, kwargs, error, message):
    kwargs = {"in_field": Field(8, signed=True), **kwargs}
    with pytest.raises(error, match=message):
        ThresholdPlan(thresholds, **kwargs)


def test_the_bank_needs_a_threshold_plan():
    with pytest.raises(TypeError, match="ThresholdPlan"):
        ThresholdBank(((0, 1),))


# -- shift and clamp ------------------------------------------------------------------------

def _spaced_rows(rng, shape, n_out, n_thr):
    """Per output: ``n_thr`` thresholds evenly spaced by a power of two from a random base,
    some rows padded with thresholds always met (below the range) or never met (above)."""
    lo, hi = _limits(shape)
    rows = []
    for j in range(n_out):
        shift = int(rng.integers(0, 4))
        base = int(rng.integers(lo - 4, hi - 2))
        row = [base + i * (1 << shift) for i in range(n_thr)]
        if j % 3 == 1:
            row = [lo - 50] + row[1:]
        elif j % 3 == 2:
            row = row[:-1] + [hi + 1000]
        rows.append(tuple(row))
    return tuple(rows)


@pytest.mark.parametrize("shape, n_out, n_thr", [(signed(8), 4, 3), (unsigned(7), 3, 7),
                                                 (signed(10), 5, 15), (signed(6), 3, 2),
                                                 (unsigned(5), 2, 1), (signed(12), 3, 127)])
def test_clamp_equals_the_thresholds_it_replaces(shape, n_out, n_thr):
    rng = np.random.default_rng(n_thr)
    rows = _spaced_rows(rng, shape, n_out, n_thr)
    field = Field(shape.width, shape.signed)
    lo, hi = _limits(shape)
    plan = ClampPlan.of(rows, [Bounds(lo, hi)] * n_out, field, [False] * n_out)
    assert plan is not None and (plan.latency, plan.ii) == (1, 1)
    dut = Clamp(plan)
    vectors = _vectors(rng, shape, rows)
    out, run = _run(dut, vectors, idle=0.2, stall=0.3, seed=n_thr)
    assert out == threshold_count(np.array(vectors), np.array(rows)).tolist()
    assert dut.o.payload.shape().elem_shape == unsigned(index_width(n_thr + 1))


def test_clamp_complement_counts_down():
    """``complement``: the count is ``levels`` minus the clamp's (a negated output)."""
    rows = ((-4, 0, 4, 8), (1, 2, 3, 4))
    plan = ClampPlan.of(rows, [Bounds(-16, 15)] * 2, Field(5, True), [True, False])
    out, _ = _run(Clamp(plan), [[v, v] for v in range(-16, 16)])
    counts = threshold_count(np.array([[v, v] for v in range(-16, 16)]), np.array(rows))
    assert [o[0] for o in out] == (4 - counts[:, 0]).tolist()
    assert [o[1] for o in out] == counts[:, 1].tolist()


def test_clamp_needs_even_power_of_two_spacing():
    field, bounds = Field(8, True), [Bounds(-128, 127)]
    assert ClampPlan.of(((0, 3, 6),), bounds, field, [False]) is None      # spacing 3
    assert ClampPlan.of(((0, 4, 12),), bounds, field, [False]) is None     # uneven
    assert ClampPlan.of(((-999, 0, 4, 999),), bounds, field, [False]) is not None
    wide = ClampPlan.of((tuple(range(-64, 64)),), bounds, field, [False])
    assert wide.cheaper                  # 128 comparators against two and a subtraction
    assert not ClampPlan.of(((5,),), bounds, field, [False]).cheaper
