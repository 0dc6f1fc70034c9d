# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""PatchStreamer against :func:`nomul.models.reference.patches`; PatchCollector; both chained."""

import math

import numpy as np
import pytest
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

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


def _decode(dut, word):
    layout = dut.patch_layout
    taps = unpack(word >> layout["taps"].offset, dut.index_width, dut.patch_size)
    pad = unpack(word >> layout["pad"].offset, 1, dut.patch_size)
    last = (word >> layout["last"].offset) & 1
    return taps, pad, last


def _stream_patches(dut, x, *, idle, stall):
    run = run_stream(dut, [pack(t.ravel(), dut.index_width) for t in x], idle=idle,
                     stall=stall, count=len(x) * dut.positions)
    ref = patches(x, dut.kernel, dut.stride, dut.padding).reshape(-1, dut.patch_size)
    expected_pad = (ref == PADDED).astype(int)
    expected_taps = np.where(ref == PADDED, 0, ref)
    expected_last = [int(p == dut.positions - 1) for _ in x for p in range(dut.positions)]
    got = [_decode(dut, word) for word in run.outputs]
    assert [g[0] for g in got] == expected_taps.tolist()
    assert [g[1] for g in got] == expected_pad.tolist()
    assert [g[2] for g in got] == expected_last
    return run


@pytest.mark.parametrize("idle,stall", STALLS)
@pytest.mark.parametrize("shape,kernel,stride,padding,width", STREAMER_CASES)
def test_streamer_matches_reference(shape, kernel, stride, padding, width, idle, stall):
    dut = PatchStreamer(shape, kernel=kernel, stride=stride, padding=padding, index_width=width)
    x = np.random.default_rng(5).integers(0, 1 << width, size=(3, *shape))
    _stream_patches(dut, x, idle=idle, stall=stall)


def test_streamer_attributes():
    dut = PatchStreamer((3, 5, 4), kernel=(2, 3), stride=(2, 1), padding=(1, 2), index_width=2)
    assert dut.out_spatial == (3, 6)
    assert dut.positions == dut.ii == 18
    assert dut.taps == 6 and dut.patch_size == 18
    dut = PatchStreamer((np.int64(2), 6), kernel=np.array([3]), index_width=np.int64(2))
    assert dut.stride == (1,) and dut.padding == (0,) and dut.out_spatial == (4,)
    assert type(dut.shape[0]) is int and type(dut.kernel[0]) is int


@pytest.mark.parametrize("shape,kernel,stride,padding", [
    ((2, 5), (3,), (2,), (1,)),
    ((1, 4, 4), (3, 3), (1, 1), (1, 1)),
    ((2, 2, 3), (2, 3), (1, 1), (0, 0)),
])
def test_streamer_latency_and_ii(shape, kernel, stride, padding):
    dut = PatchStreamer(shape, kernel=kernel, stride=stride, padding=padding, index_width=2)
    tensors = 4
    x = np.random.default_rng(9).integers(0, 4, size=(tensors, *shape))
    run = _stream_patches(dut, x, idle=0, stall=0)
    firsts = run.output_cycles[::dut.positions]
    assert [f - i for i, f in zip(run.input_cycles, firsts)] == [dut.latency] * tensors
    assert dut.latency == 2
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
        PatchStreamer(shape, **kwargs)


COLLECTOR_CASES = [
    # positions, channels, element_shape
    (1, 3, unsigned(2)),
    (5, 1, unsigned(3)),
    (6, 3, signed(6)),
]


def _collect(dut, values, *, idle, stall):
    shape = dut.element_shape
    run = run_stream(dut, [pack(v, shape.width) for v in values], idle=idle, stall=stall,
                     count=len(values) // dut.positions)
    got = [unpack(word, shape.width, dut.channels * dut.positions, signed=shape.signed)
           for word in run.outputs]
    # (tensors, P, C) -> (tensors, C, P), C order
    expected = values.reshape(-1, dut.positions, dut.channels).transpose(0, 2, 1)
    assert got == expected.reshape(len(got), -1).tolist()
    return run


def _values(dut, tensors, seed):
    shape = dut.element_shape
    lo = -(1 << (shape.width - 1)) if shape.signed else 0
    hi = lo + (1 << shape.width)
    return np.random.default_rng(seed).integers(lo, hi, size=(tensors * dut.positions,
                                                              dut.channels))


@pytest.mark.parametrize("idle,stall", STALLS)
@pytest.mark.parametrize("positions,channels,shape", COLLECTOR_CASES)
def test_collector(positions, channels, shape, idle, stall):
    dut = PatchCollector(positions, channels=channels, element_shape=shape)
    assert dut.out_shape == (channels, positions)
    _collect(dut, _values(dut, 4, seed=positions), idle=idle, stall=stall)


@pytest.mark.parametrize("positions", [1, 4])
def test_collector_latency_and_ii(positions):
    dut = PatchCollector(positions, channels=2, element_shape=signed(4))
    tensors = 4
    run = _collect(dut, _values(dut, tensors, seed=2), idle=0, stall=0)
    lasts = run.input_cycles[positions - 1::positions]
    assert [o - i for i, o in zip(lasts, run.output_cycles)] == [dut.latency] * tensors
    assert dut.latency == 1
    assert set(run.intervals) == {1}
    assert set(np.diff(run.output_cycles)) == {dut.ii} == {positions}


@pytest.mark.parametrize("positions,kwargs,error", [
    (0, dict(channels=1, element_shape=unsigned(2)), ValueError),
    (2, dict(channels=0, element_shape=unsigned(2)), ValueError),
    (2.5, dict(channels=1, element_shape=unsigned(2)), TypeError),
    (2, dict(channels=True, element_shape=unsigned(2)), TypeError),
    (2, dict(channels=1, element_shape="u4"), TypeError),
])
def test_collector_bad_arguments(positions, kwargs, error):
    with pytest.raises(error):
        PatchCollector(positions, **kwargs)


class _Identity(wiring.Component):
    """A 1x1 convolution window chained into the collector: returns the input tensor."""

    def __init__(self, shape, width):
        self.streamer = PatchStreamer(shape, kernel=(1,) * (len(shape) - 1), index_width=width)
        self.collector = PatchCollector(self.streamer.positions, channels=shape[0],
                                        element_shape=unsigned(width))
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
