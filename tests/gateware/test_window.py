# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""PatchStreamer against :func:`nomul.models.reference.patches`; PatchCollector; both chained."""

import math

import numpy as np
import pytest
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nomul.design.plans import CollectorPlan, WindowPlan
from nomul.design.ports import Field, Vector
from nomul.gateware.window import PatchCollector, PatchStreamer
from nomul.models.reference import PADDED, patches
from nomul.sim.streams import pack, run_stream, unpack

STREAMER_CASES = [
    # shape, kernel, stride, padding, index_width
    ((1, 5), (3,), (1,), (1,), 2),
    ((2, 7), (3,), (2,), (0,), 3),
    ((3, 4), (2,), (3,), (1,), 2),             # stride past the kernel
    ((1, 4, 4), (3, 3), (1, 1), (1, 1), 3),
    ((3, 5, 4), (2, 3), (2, 1), (1, 2), 2),
    ((2, 3, 3), (3, 2), (1, 2), (2, 1), 2),    # padding 2: whole rows of padding
    ((2, 2, 3), (2, 3), (1, 1), (0, 0), 2),    # one position per tensor
]

STALLS = [(0.0, 0.0), (0.3, 0.4)]


def _streamer(shape, kernel, stride=None, padding=None, index_width=2):
    return PatchStreamer(WindowPlan(shape, kernel, stride, padding, index_width))


def _decode(dut, word):
    layout, plan = dut.o.payload.shape(), dut.plan
    taps = unpack(word >> layout["taps"].offset, plan.index_width, plan.patch_size)
    pad = unpack(word >> layout["pad"].offset, 1, plan.patch_size)
    last = (word >> layout["last"].offset) & 1
    return taps, pad, last


def _stream_patches(dut, x, *, idle, stall):
    plan = dut.plan
    run = run_stream(dut, [pack(t.ravel(), plan.index_width) for t in x], idle=idle,
                     stall=stall, count=len(x) * dut.plan.positions)
    ref = patches(x, plan.kernel, plan.stride, plan.padding).reshape(-1, plan.patch_size)
    expected_pad = (ref == PADDED).astype(int)
    expected_taps = np.where(ref == PADDED, 0, ref)
    expected_last = [int(p == dut.plan.positions - 1) for _ in x for p in range(dut.plan.positions)]
    got = [_decode(dut, word) for word in run.outputs]
    assert [g[0] for g in got] == expected_taps.tolist()
    assert [g[1] for g in got] == expected_pad.tolist()
    assert [g[2] for g in got] == expected_last
    return run


@pytest.mark.parametrize("idle,stall", STALLS)
@pytest.mark.parametrize("shape,kernel,stride,padding,width", STREAMER_CASES)
def test_streamer_matches_reference(shape, kernel, stride, padding, width, idle, stall):
    dut = _streamer(shape, kernel, stride, padding, width)
    x = np.random.default_rng(5).integers(0, 1 << width, size=(3, *shape))
    _stream_patches(dut, x, idle=idle, stall=stall)


def test_streamer_attributes():
    dut = _streamer((3, 5, 4), (2, 3), (2, 1), (1, 2), 2)
    plan = dut.plan
    assert plan.out_spatial == (3, 6)
    assert dut.ii == plan.positions == plan.ii == 18
    assert plan.taps == 6 and plan.patch_size == 18
    dut = _streamer((np.int64(2), 6), np.array([3]), index_width=np.int64(2))
    plan = dut.plan
    assert plan.stride == (1,) and plan.padding == (0,) and plan.out_spatial == (4,)
    assert type(plan.shape[0]) is int and type(plan.kernel[0]) is int
    assert type(plan.index_width) is int


@pytest.mark.parametrize("shape,kernel,stride,padding", [
    ((2, 5), (3,), (2,), (1,)),
    ((1, 4, 4), (3, 3), (1, 1), (1, 1)),
    ((2, 2, 3), (2, 3), (1, 1), (0, 0)),
])
def test_streamer_latency_and_ii(shape, kernel, stride, padding):
    dut = _streamer(shape, kernel, stride, padding, 2)
    tensors = 4
    x = np.random.default_rng(9).integers(0, 4, size=(tensors, *shape))
    run = _stream_patches(dut, x, idle=0, stall=0)
    firsts = run.output_cycles[::dut.plan.positions]
    assert [f - i for i, f in zip(run.input_cycles, firsts)] == [dut.latency] * tensors
    assert dut.latency == dut.plan.latency == 2
    assert set(run.intervals) == {dut.ii}
    assert set(np.diff(run.output_cycles)) == {1}     # patches back to back across tensors


@pytest.mark.parametrize("shape,kwargs,error", [
    ((4,), dict(kernel=(1,)), ValueError),
    ((1, 2, 2, 2), dict(kernel=(1, 1, 1)), ValueError),
    ((1, 4), dict(kernel=(2, 2)), ValueError),
    ((1, 4), dict(kernel=3), TypeError),
    ((1, 4), dict(kernel=(3,), padding=(3,)), ValueError),      # padding >= kernel
    ((1, 4), dict(kernel=(3,), padding=(-1,)), ValueError),
    ((1, 4), dict(kernel=(3,), stride=(0,)), ValueError),
    ((1, 1), dict(kernel=(4,), padding=(1,)), ValueError),      # kernel > padded input
    ((1, 4, 4), dict(kernel=(2, 2), padding=(1,)), ValueError),
    ((1, 4), dict(kernel=(2.0,)), TypeError),
    ((1, 4), dict(kernel=(2,), index_width=0), ValueError),
    ((1, 4), dict(kernel=(2,), index_width=None), TypeError),
])
def test_streamer_bad_arguments(shape, kwargs, error):
    kwargs.setdefault("index_width", 2)
    with pytest.raises(error):
        WindowPlan(shape, **kwargs)


COLLECTOR_CASES = [
    # positions, channels, element_shape
    (1, 3, unsigned(2)),
    (5, 1, unsigned(3)),
    (6, 3, signed(6)),
]


def _collector(positions, channels, shape):
    """A collector of elements of the Amaranth ``shape``."""
    return PatchCollector(CollectorPlan(positions, channels, Field(shape.width, shape.signed)))


def _collect(dut, values, *, idle, stall):
    shape = dut.i.payload.shape().elem_shape
    run = run_stream(dut, [pack(v, shape.width) for v in values], idle=idle, stall=stall,
                     count=len(values) // dut.plan.positions)
    got = [unpack(word, shape.width, dut.plan.channels * dut.plan.positions, signed=shape.signed)
           for word in run.outputs]
    # (tensors, P, C) -> (tensors, C, P), C order
    expected = values.reshape(-1, dut.plan.positions, dut.plan.channels).transpose(0, 2, 1)
    assert got == expected.reshape(len(got), -1).tolist()
    return run


def _values(dut, tensors, seed):
    shape = dut.i.payload.shape().elem_shape
    lo = -(1 << (shape.width - 1)) if shape.signed else 0
    hi = lo + (1 << shape.width)
    return np.random.default_rng(seed).integers(lo, hi, size=(tensors * dut.plan.positions,
                                                              dut.plan.channels))


@pytest.mark.parametrize("idle,stall", STALLS)
@pytest.mark.parametrize("positions,channels,shape", COLLECTOR_CASES)
def test_collector(positions, channels, shape, idle, stall):
    dut = _collector(positions, channels, shape)
    element = Field(shape.width, shape.signed)
    assert dut.plan.out_port == Vector(element, channels * positions)
    assert dut.o.payload.shape().length == channels * positions
    _collect(dut, _values(dut, 4, seed=positions), idle=idle, stall=stall)


@pytest.mark.parametrize("positions", [1, 4])
def test_collector_latency_and_ii(positions):
    dut = _collector(positions, 2, signed(4))
    tensors = 4
    run = _collect(dut, _values(dut, tensors, seed=2), idle=0, stall=0)
    lasts = run.input_cycles[positions - 1::positions]
    assert [o - i for i, o in zip(lasts, run.output_cycles)] == [dut.latency] * tensors
    assert dut.latency == dut.plan.latency == 1
    assert set(run.intervals) == {1}
    assert set(np.diff(run.output_cycles)) == {dut.ii} == {dut.plan.ii} == {positions}


@pytest.mark.parametrize("positions,kwargs,error", [
    (0, dict(channels=1, element=Field(2)), ValueError),
    (2, dict(channels=0, element=Field(2)), ValueError),
    (2.5, dict(channels=1, element=Field(2)), TypeError),
    (2, dict(channels=True, element=Field(2)), TypeError),
    (2, dict(channels=1, element="u4"), TypeError),
])
def test_collector_bad_arguments(positions, kwargs, error):
    with pytest.raises(error):
        CollectorPlan(positions, **kwargs)


class _Identity(wiring.Component):
    """A 1x1 convolution window chained into the collector: returns the input tensor."""

    def __init__(self, shape, width):
        self.streamer = _streamer(shape, (1,) * (len(shape) - 1), index_width=width)
        self.collector = _collector(self.streamer.plan.positions, shape[0], unsigned(width))
        self.latency = self.streamer.latency + self.streamer.ii - 1 + self.collector.latency
        super().__init__({"i": In(self.streamer.i.signature.flip()),
                          "o": Out(self.collector.o.signature)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.streamer = streamer = self.streamer
        m.submodules.collector = collector = self.collector
        wiring.connect(m, wiring.flipped(self.i), streamer.i)
        wiring.connect(m, collector.o, wiring.flipped(self.o))
        m.d.comb += [
            collector.i.payload.eq(streamer.o.payload.taps),
            collector.i.valid.eq(streamer.o.valid),
            streamer.o.ready.eq(collector.i.ready),
        ]
        return m


@pytest.mark.parametrize("idle,stall", STALLS)
@pytest.mark.parametrize("shape", [(2, 5), (3, 2, 3)])
def test_streamer_into_collector(shape, idle, stall):
    width = 3
    dut = _Identity(shape, width)
    x = np.random.default_rng(4).integers(0, 1 << width, size=(4, *shape))
    run = run_stream(dut, [pack(t.ravel(), width) for t in x], idle=idle, stall=stall)
    assert [unpack(w, width, math.prod(shape)) for w in run.outputs] == \
        x.reshape(len(x), -1).tolist()
    if idle == stall == 0:
        assert set(run.latencies) == {dut.latency}
        assert set(run.intervals) == {dut.streamer.ii}
