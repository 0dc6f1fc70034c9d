# SPDX-License-Identifier: MIT
"""Sliding windows for convolutions: a tensor in, one patch per output position out, and back.

:class:`PatchStreamer` turns one whole input tensor into the stream of its convolution patches
(what a dense engine consumes once per output position); :class:`PatchCollector` gathers the
per-position result vectors back into one channels-first tensor.
"""


from amaranth.hdl import Cat, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..design.plans import CollectorPlan, WindowPlan
from .pipeline import PlanComponent, layout_of

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

    The :class:`~nomul.design.plans.WindowPlan` gives the input ``shape`` (``(C, L)`` or
    ``(C, H, W)``), ``kernel``, ``stride``, ``padding`` (smaller than the kernel) and the index
    width; its ``out_spatial``, ``positions`` (``P``), ``taps`` (``prod(kernel)``) and
    ``patch_size`` (``taps * C``) follow. ``patch_layout``:
    ``{"taps": ArrayLayout(unsigned(index_width), patch_size), "pad": unsigned(patch_size),
    "last": unsigned(1)}``.

    Ports
    -----
    i : In(stream.Signature(ArrayLayout(unsigned(index_width), prod(shape))))
        The tensor in C order (element ``c*H*W + h*W + w``), element 0 in the LSBs.
    o : Out(stream.Signature(patch_layout))
    """

    latency = 2

    def __init__(self, plan):
        if not isinstance(plan, WindowPlan):
            raise TypeError(f"plan must be a WindowPlan, not {plan!r}")
        self.plan = plan
        self.positions, self.ii = plan.positions, plan.ii
        element = unsigned(plan.index_width)
        self.patch_layout = data.StructLayout({
            "taps": data.ArrayLayout(element, plan.patch_size),
            "pad": unsigned(plan.patch_size),
            "last": unsigned(1),
        })
        super().__init__({
            "i": In(stream.Signature(layout_of(plan.in_port))),
            "o": Out(stream.Signature(self.patch_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        iw = self.plan.index_width
        channels = self.plan.shape[0]
        # 1-D is 2-D with one row (kernel 1, stride 1, no padding along it)
        plan = self.plan
        (height, width), (k_y, k_x), (s_y, s_x), (p_y, p_x), (o_h, o_w) = (
            (fill, *v) if len(v) == 1 else v for v, fill in
            ((plan.shape[1:], 1), (plan.kernel, 1), (plan.stride, 1), (plan.padding, 0),
             (plan.out_spatial, 1)))

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
        taps = Signal(unsigned(iw * self.plan.patch_size))
        pad = Signal(unsigned(self.plan.patch_size))

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


class PatchCollector(PlanComponent):
    """Gathers one result vector per output position back into a channels-first tensor.

    Consumes ``positions`` vectors of ``channels`` elements (one per output position, in
    order) and emits one tensor of shape ``(channels, positions)`` in C order (element
    ``c*positions + p`` is element ``c`` of the ``p``-th input), the inverse of the position
    loop of :class:`PatchStreamer` (the layout of :func:`nomul.models.reference.weighted`'s
    conv output, flattened). The output register is a shift register per channel, so no
    second buffer is needed.

    Latency 1 (from the last input of a tensor to the tensor); one input per cycle, so
    ``ii = positions`` cycles per tensor while ``o.ready`` is high (no bubble between tensors).

    The :class:`~nomul.design.plans.CollectorPlan` gives ``positions`` (``P``, vectors per
    tensor), ``channels`` (elements per vector) and the element field (indices or
    accumulators); the output tensor is ``(channels, positions)``.

    Ports
    -----
    i : In(stream.Signature(ArrayLayout(element_shape, channels)))
    o : Out(stream.Signature(ArrayLayout(element_shape, channels * positions)))
    """

    plan_type = CollectorPlan

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(self.plan.positions))
        last = Signal()
        m.d.comb += last.eq(count == self.plan.positions - 1)
        enable = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(enable)
        with m.If(enable):
            m.d.sync += self.o.valid.eq(self.i.valid & last)
            with m.If(self.i.valid):
                m.d.sync += count.eq(Mux(last, 0, count + 1))
                for c in range(self.plan.channels):
                    base = c * self.plan.positions
                    for p in range(self.plan.positions - 1):
                        m.d.sync += self.o.payload[base + p].eq(self.o.payload[base + p + 1])
                    m.d.sync += self.o.payload[base + self.plan.positions - 1].eq(self.i.payload[c])
        return m
