# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""The pipelined argmax against the reference's argmax: ties to the lowest index, stalls."""

import math

import numpy as np
import pytest
from amaranth.hdl import unsigned

from nomul.design.ports import Field
from nomul.design.trees import ArgmaxPlan
from nomul.gateware.argmax import Argmax
from nomul.models import reference
from nomul.numeric import Bounds, index_width
from nomul.sim.streams import pack, run_stream


def _argmax(bounds, register_every=1):
    return Argmax(ArgmaxPlan(bounds, register_every))


def _run(dut, vectors, **kwargs):
    width = dut.i.payload.shape().elem_shape.width
    return run_stream(dut, [pack(v, width) for v in vectors], **kwargs)


def _vectors(rng, bounds, count):
    return [[int(rng.integers(lo, hi + 1)) for lo, hi in bounds] for _ in range(count)]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17])
def test_argmax_matches_reference_with_many_ties_under_stalls(n):
    rng = np.random.default_rng(n)
    register_every = n % 4                                      # 0..3
    # a tiny shared range: ties everywhere; plus one input with its own, offset range
    bounds = [(-2, 1)] * n
    bounds[n // 2] = (-1, 2)
    dut = _argmax(bounds, register_every)
    vectors = _vectors(rng, bounds, 40)
    vectors += [[lo for lo, _ in bounds], [min(hi, 1) for _, hi in bounds]]   # all tied
    run = _run(dut, vectors, idle=0.3, stall=0.4, seed=n)
    assert run.outputs == reference.argmax(np.array(vectors)).tolist()


@pytest.mark.parametrize("bounds", [
    ((-1000, -990), (-995, -900), (-2000, -1990), (-999, -950)),      # all negative
    ((0, 3), (100, 100), (0, 255), (5, 9), (0, 0)),                    # unsigned, a constant
    ((-(1 << 20), 1 << 20), (0, 1), (-3, -3), (7, 1 << 19), (-5, 5), (0, 0)),
])
def test_argmax_with_per_input_bounds(bounds):
    rng = np.random.default_rng(len(bounds))
    dut = _argmax(bounds, 2)
    union = Bounds(min(lo for lo, _ in bounds), max(hi for _, hi in bounds))
    assert dut.plan.in_union == union
    in_shape = dut.i.payload.shape().elem_shape
    assert (in_shape.width, in_shape.signed) == (union.width, union.signed)
    vectors = _vectors(rng, bounds, 30)
    vectors += [[lo for lo, _ in bounds], [hi for _, hi in bounds]]
    run = _run(dut, vectors, stall=0.3, seed=1)
    assert run.outputs == reference.argmax(np.array(vectors)).tolist()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 17])
@pytest.mark.parametrize("register_every", [0, 1, 2, 3])
def test_argmax_latency_and_throughput(n, register_every):
    dut = _argmax(((-8, 7),) * n, register_every)
    depth = math.ceil(math.log2(n)) if n > 1 else 0
    expected = 1 if register_every == 0 else max(1, math.ceil(depth / register_every))
    assert (dut.plan.depth, dut.latency, dut.ii) == (depth, expected, 1)
    assert dut.plan.out == Field(index_width(n))
    assert dut.o.payload.shape() == unsigned(index_width(n))
    vectors = _vectors(np.random.default_rng(n), ((-8, 7),) * n, 16)
    run = _run(dut, vectors)
    assert run.outputs == reference.argmax(np.array(vectors)).tolist()
    assert set(run.latencies) == {dut.latency}
    assert set(run.intervals) == {1}


def test_numpy_bounds_are_accepted():
    dut = _argmax(np.array([[0, 3], [-2, 2]]), np.int64(1))
    assert dut.plan.bounds == (Bounds(0, 3), Bounds(-2, 2))
    assert type(dut.plan.register_every) is int and dut.plan.register_every == 1
    run = _run(dut, [[0, 0], [1, 2], [3, 2]])
    assert run.outputs == [0, 1, 0]


@pytest.mark.parametrize("args, kwargs, error, message", [
    (((),), {}, ValueError, "empty"),
    ((((1, 0),),), {}, ValueError, r"bounds\[0\]"),
    ((((0, 1), ("a", 2)),), {}, TypeError, r"bounds\[1\] lo"),
    ((3,), {}, TypeError, "bounds"),
    ((((0, 1),),), {"register_every": -2}, ValueError, "register_every"),
    ((((0, 1),),), {"register_every": None}, TypeError, "register_every"),
])
def test_bad_arguments_are_refused(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        ArgmaxPlan(*args, **kwargs)


def test_the_component_needs_an_argmax_plan():
    with pytest.raises(TypeError, match="ArgmaxPlan"):
        Argmax(((0, 1),))
