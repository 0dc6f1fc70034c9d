# SPDX-License-Identifier: MIT
"""Sliding windows for convolutions: a tensor in, one patch per output position out, and back.

:class:`PatchStreamer` turns one whole input tensor into the stream of its convolution patches
(what a dense engine consumes once per output position); :class:`PatchCollector` gathers the
per-position result vectors back into one channels-first tensor.
"""

import math

from amaranth.hdl import Cat, Module, Mux, Shape, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ._params import as_int, as_ints

__all__ = ["PatchStreamer", "PatchCollector"]


def _cases(m, selector, count, body):
    """``body(v)`` under ``m.Case(v)`` for ``v`` in ``range(count)`` (no switch when count 1)."""
    if count == 1:
        body(0)
        return
    with m.Switch(selector):
        for value in range(count):
            with m.Case(value):
                body(value)


class PatchStreamer(wiring.Component):
    """Sliding-window generator: one input tensor in, its convolution patches out, in order.

    Accepts one whole tensor ``(C, *spatial)`` (1-D or 2-D spatial) per transfer into a
    register buffer, then emits one patch per output position, positions in C order over the
    output grid. A patch holds ``taps * C`` indices ordered tap-major, channel-minor
    ``(ky, kx, c)``, one ``pad`` bit per index (1 where the tap lies in the zero padding; the
    index is then 0) and ``last`` on the final position of the tensor. Matches
    :func:`nomul.models.reference.patches` (whose padded taps are ``PADDED``). Patches are
    selected by two levels of multiplexers (a kernel row by the output row, then a tap by the
    output column) into an output register.

    Latency 2 (input transfer to the first patch); ``ii = positions`` cycles per tensor: the
    next tensor is accepted in the cycle the last patch of the current one is registered, so
    patches leave back to back (no bubble between tensors) while ``o.ready`` is high.

    Parameters
    ----------
    shape : tuple of int
        Input tensor shape ``(C, L)`` or ``(C, H, W)``.
    kernel : tuple of int
        Kernel size per spatial dimension.
    stride : tuple of int, optional
        Step per spatial dimension (default 1).
    padding : tuple of int, optional
        Zero padding on both sides per spatial dimension, smaller than the kernel (default 0).
    index_width : int
        Bits of one index.

    Attributes
    ----------
    out_spatial : tuple of int
        Output grid, ``(size + 2*padding - kernel) // stride + 1`` per spatial dimension.
    positions : int
        ``P``, the number of output positions (patches per tensor).
    taps : int
        ``prod(kernel)``.
    patch_size : int
        ``taps * C``.
    patch_layout : StructLayout
        ``{"taps": ArrayLayout(unsigned(index_width), patch_size),
        "pad": unsigned(patch_size), "last": unsigned(1)}``.
    latency, ii : int
        2 and ``positions``.

    Ports
    -----
    i : In(stream.Signature(ArrayLayout(unsigned(index_width), prod(shape))))
        The tensor in C order (element ``c*H*W + h*W + w``), element 0 in the LSBs.
    o : Out(stream.Signature(patch_layout))
    """

    latency = 2

    def __init__(self, shape, *, kernel, stride=None, padding=None, index_width):
        shape = as_ints(shape, "shape", minimum=1)
        if len(shape) not in (2, 3):
            raise ValueError(f"shape must be (C, L) or (C, H, W), not {shape!r}")
        dims = len(shape) - 1
        kernel = as_ints(kernel, "kernel", minimum=1, length=dims)
        stride = (1,) * dims if stride is None else as_ints(stride, "stride", minimum=1,
                                                           length=dims)
        padding = (0,) * dims if padding is None else as_ints(padding, "padding", minimum=0,
                                                             length=dims)
        index_width = as_int(index_width, "index_width", minimum=1)
        if any(p >= k for p, k in zip(padding, kernel)):
            raise ValueError(f"padding {padding!r} must be smaller than the kernel {kernel!r}")
        if any(n + 2 * p < k for n, k, p in zip(shape[1:], kernel, padding)):
            raise ValueError(f"kernel {kernel!r} is larger than the padded input "
                             f"{shape[1:]!r} (padding {padding!r})")
        self.shape = shape
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.index_width = index_width
        self.out_spatial = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in
                                 zip(shape[1:], kernel, stride, padding))
        self.positions = math.prod(self.out_spatial)
        self.taps = math.prod(kernel)
        self.patch_size = self.taps * shape[0]
        self.ii = self.positions
        element = unsigned(index_width)
        self.patch_layout = data.StructLayout({
            "taps": data.ArrayLayout(element, self.patch_size),
            "pad": unsigned(self.patch_size),
            "last": unsigned(1),
        })
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(element, math.prod(shape)))),
            "o": Out(stream.Signature(self.patch_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        iw = self.index_width
        channels = self.shape[0]
        # 1-D is 2-D with one row (kernel 1, stride 1, no padding along it)
        (height, width), (k_y, k_x), (s_y, s_x), (p_y, p_x), (o_h, o_w) = (
            (fill, *v) if len(v) == 1 else v for v, fill in
            ((self.shape[1:], 1), (self.kernel, 1), (self.stride, 1), (self.padding, 0),
             (self.out_spatial, 1)))

        def element(vector, n):
            return vector[n * iw:(n + 1) * iw]

        buffer = Signal(unsigned(iw * channels * height * width))
        busy = Signal()
        row = Signal(range(o_h))
        col = Signal(range(o_w))
        last = Signal()
        m.d.comb += last.eq((row == o_h - 1) & (col == o_w - 1))

        # stage 1: the k_y input rows (all channels) under the current output row
        rows = [Signal(unsigned(iw * channels * width), name=f"row_{ky}") for ky in range(k_y)]
        row_pad = [Signal(name=f"row_pad_{ky}") for ky in range(k_y)]

        def select_rows(oy):
            for ky in range(k_y):
                y = oy * s_y - p_y + ky
                if not 0 <= y < height:
                    m.d.comb += row_pad[ky].eq(1)
                    continue
                for c in range(channels):
                    start = c * height * width + y * width
                    m.d.comb += rows[ky][c * width * iw:(c + 1) * width * iw].eq(
                        buffer[start * iw:(start + width) * iw])

        _cases(m, row, o_h, select_rows)

        # stage 2: the taps (ky, kx, c) under the current output column
        taps = Signal(unsigned(iw * self.patch_size))
        pad = Signal(unsigned(self.patch_size))

        def select_taps(ox):
            for ky in range(k_y):
                for kx in range(k_x):
                    tap = ky * k_x + kx
                    x = ox * s_x - p_x + kx
                    pad_bits = pad[tap * channels:(tap + 1) * channels]
                    if not 0 <= x < width:
                        m.d.comb += pad_bits.eq((1 << channels) - 1)
                        continue
                    m.d.comb += pad_bits.eq(Cat([row_pad[ky]] * channels))
                    for c in range(channels):
                        m.d.comb += element(taps, tap * channels + c).eq(
                            element(rows[ky], c * width + x))

        _cases(m, col, o_w, select_taps)

        enable = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(enable & (~busy | last))
        with m.If(enable):
            m.d.sync += [
                self.o.valid.eq(busy),
                self.o.payload.taps.eq(taps),
                self.o.payload.pad.eq(pad),
                self.o.payload.last.eq(last),
            ]
            with m.If(busy):
                with m.If(last):
                    m.d.sync += [busy.eq(0), row.eq(0), col.eq(0)]
                with m.Elif(col == o_w - 1):
                    m.d.sync += [col.eq(0), row.eq(row + 1)]
                with m.Else():
                    m.d.sync += col.eq(col + 1)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [buffer.eq(Value.cast(self.i.payload)), busy.eq(1)]
        return m


class PatchCollector(wiring.Component):
    """Gathers one result vector per output position back into a channels-first tensor.

    Consumes ``positions`` vectors of ``channels`` elements (one per output position, in
    order) and emits one tensor of shape ``(channels, positions)`` in C order (element
    ``c*positions + p`` is element ``c`` of the ``p``-th input), the inverse of the position
    loop of :class:`PatchStreamer` (the layout of :func:`nomul.models.reference.weighted`'s
    conv output, flattened). The output register is a shift register per channel, so no
    second buffer is needed.

    Latency 1 (from the last input of a tensor to the tensor); one input per cycle, so
    ``ii = positions`` cycles per tensor while ``o.ready`` is high (no bubble between tensors).

    Parameters
    ----------
    positions : int
        ``P``, vectors per tensor.
    channels : int
        Elements per vector.
    element_shape : shape-castable
        Shape of one element (e.g. ``unsigned(4)`` indices or ``signed(12)`` accumulators).

    Attributes
    ----------
    out_shape : tuple of int
        ``(channels, positions)``.
    latency, ii : int
        1 and ``positions``.

    Ports
    -----
    i : In(stream.Signature(ArrayLayout(element_shape, channels)))
    o : Out(stream.Signature(ArrayLayout(element_shape, channels * positions)))
    """

    latency = 1

    def __init__(self, positions, *, channels, element_shape):
        positions = as_int(positions, "positions", minimum=1)
        channels = as_int(channels, "channels", minimum=1)
        try:
            Shape.cast(element_shape)
        except TypeError:
            raise TypeError(f"element_shape must be a shape, not {element_shape!r}") from None
        self.positions = positions
        self.channels = channels
        self.element_shape = element_shape
        self.out_shape = (channels, positions)
        self.ii = positions
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(element_shape, channels))),
            "o": Out(stream.Signature(data.ArrayLayout(element_shape, channels * positions))),
        })

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(self.positions))
        last = Signal()
        m.d.comb += last.eq(count == self.positions - 1)
        enable = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(enable)
        with m.If(enable):
            m.d.sync += self.o.valid.eq(self.i.valid & last)
            with m.If(self.i.valid):
                m.d.sync += count.eq(Mux(last, 0, count + 1))
                for c in range(self.channels):
                    base = c * self.positions
                    for p in range(self.positions - 1):
                        m.d.sync += self.o.payload[base + p].eq(self.o.payload[base + p + 1])
                    m.d.sync += self.o.payload[base + self.positions - 1].eq(self.i.payload[c])
        return m
