# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""MaxPool against :func:`nomul.models.reference.maxpool`."""

import math

import numpy as np
import pytest

from nomul.design.kinds.maxpool import PoolPlan
from nomul.gateware.pool import MaxPool
from nomul.models import reference, spec
from nomul.sim.streams import pack, run_stream, unpack

CASES = [
    # shape, kernel, stride, index_width
    ((2, 6), (2,), (2,), 3),
    ((1, 7), (3,), (2,), 2),            # overlapping windows, floor mode drops the tail
    ((3, 5, 5), (2, 2), (2, 2), 3),     # floor mode in both dimensions
    ((2, 4, 6), (3, 2), (1, 2), 4),     # overlapping rows, non-square
    ((1, 3, 3), (3, 3), (3, 3), 1),     # one output per channel
]

STALLS = [(0.0, 0.0), (0.4, 0.5)]


def _check(dut, layer, shape, width, *, idle, stall, count=12, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << width, size=(count, *shape))
    x[0] = (1 << width) - 1                              # all at the top, all zero
    x[1] = 0
    expected = reference.maxpool(x, layer).reshape(count, -1)
    run = run_stream(dut, [pack(t.ravel(), width) for t in x], idle=idle, stall=stall)
    got = [unpack(word, width, math.prod(dut.plan.out_shape)) for word in run.outputs]
    assert got == expected.tolist()
    return run


@pytest.mark.parametrize("idle,stall", STALLS)
@pytest.mark.parametrize("shape,kernel,stride,width", CASES)
def test_matches_reference(shape, kernel, stride, width, idle, stall):
    layer = spec.MaxPool(kernel=kernel, stride=stride)
    dut = MaxPool(PoolPlan(shape, kernel, stride, width))
    assert dut.plan.out_shape == layer.output_shape(shape)
    _check(dut, layer, shape, width, idle=idle, stall=stall)


def test_default_stride_is_kernel():
    dut = MaxPool(PoolPlan((1, 4, 4), (2, 2), index_width=2))
    assert dut.plan.stride == (2, 2) and dut.plan.out_shape == (1, 2, 2)
    _check(dut, spec.MaxPool(kernel=(2, 2)), (1, 4, 4), 2, idle=0.2, stall=0.2, count=6)


def test_latency_and_ii():
    shape, kernel, stride = (2, 4, 6), (3, 2), (1, 2)
    dut = MaxPool(PoolPlan(np.array(shape), kernel, [np.int64(s) for s in stride], 4))
    run = _check(dut, spec.MaxPool(kernel=kernel, stride=stride), shape, 4, idle=0, stall=0)
    assert set(run.latencies) == {dut.latency} == {dut.plan.latency} == {1}
    assert set(run.intervals) == {dut.ii} == {dut.plan.ii} == {1}


@pytest.mark.parametrize("shape,kwargs,error", [
    ((4,), dict(kernel=(2,)), ValueError),                      # no spatial dimension
    ((1, 2, 2, 2), dict(kernel=(2, 2, 2)), ValueError),         # 3-D
    ((1, 4), dict(kernel=(2, 2)), ValueError),                  # kernel rank
    ((1, 4), dict(kernel=2), TypeError),                        # bare int
    ((1, 4), dict(kernel=(5,)), ValueError),                    # larger than the input
    ((1, 4), dict(kernel=(2,), stride=(0,)), ValueError),
    ((1, 4, 4), dict(kernel=(2, 2), stride=(2,)), ValueError),
    ((0, 4), dict(kernel=(2,)), ValueError),
    ((1, 4.0), dict(kernel=(2,)), TypeError),
    ((1, 4), dict(kernel=(2,), index_width=0), ValueError),
])
def test_bad_arguments(shape, kwargs, error):
    kwargs.setdefault("index_width", 2)
    with pytest.raises(error):
        PoolPlan(shape, **kwargs)


def test_the_component_needs_a_pool_plan():
    with pytest.raises(TypeError, match="PoolPlan"):
        MaxPool((1, 4))
