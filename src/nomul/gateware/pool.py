# SPDX-License-Identifier: MIT
"""Max-pooling over activation indices: a whole tensor in, the pooled tensor out."""

import itertools
import math

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ._params import as_int, as_ints
from ._stage import register_stage

__all__ = ["MaxPool"]


def _max_tree(values):
    """Balanced tree of unsigned maxima (combinational)."""
    while len(values) > 1:
        pairs = [Mux(a >= b, a, b) for a, b in zip(values[0::2], values[1::2])]
        values = pairs + ([values[-1]] if len(values) % 2 else [])
    return values[0]


class MaxPool(wiring.Component):
    """Max of unsigned activation indices over each window (floor mode, no padding).

    One whole tensor ``(C, *spatial)`` (1-D or 2-D spatial) per transfer; a combinational
    comparator tree per output element and an output register. Matches
    :func:`nomul.models.reference.maxpool` (indices are monotone in value, so the max index is
    the index of the max value).

    Latency 1; one tensor per cycle (``ii = 1``) while ``o.ready`` is high.

    Parameters
    ----------
    shape : tuple of int
        Input tensor shape ``(C, L)`` or ``(C, H, W)``.
    kernel : tuple of int
        Window size per spatial dimension.
    stride : tuple of int, optional
        Step per spatial dimension; defaults to ``kernel`` (non-overlapping windows).
    index_width : int
        Bits of one index.

    Attributes
    ----------
    out_shape : tuple of int
        ``(C, *((size - kernel) // stride + 1))``.
    latency, ii : int
        1 and 1.

    Ports
    -----
    i : In(stream.Signature(ArrayLayout(unsigned(index_width), prod(shape))))
    o : Out(stream.Signature(ArrayLayout(unsigned(index_width), prod(out_shape))))
        Both in C order (element ``c*H*W + h*W + w``), element 0 in the least significant bits.
    """

    latency = 1
    ii = 1

    def __init__(self, shape, *, kernel, stride=None, index_width):
        shape = as_ints(shape, "shape", minimum=1)
        if len(shape) not in (2, 3):
            raise ValueError(f"shape must be (C, L) or (C, H, W), not {shape!r}")
        dims = len(shape) - 1
        kernel = as_ints(kernel, "kernel", minimum=1, length=dims)
        stride = kernel if stride is None else as_ints(stride, "stride", minimum=1, length=dims)
        index_width = as_int(index_width, "index_width", minimum=1)
        if any(k > n for k, n in zip(kernel, shape[1:])):
            raise ValueError(f"kernel {kernel!r} is larger than the input {shape[1:]!r}")
        self.shape = shape
        self.kernel = kernel
        self.stride = stride
        self.index_width = index_width
        self.out_shape = (shape[0], *((n - k) // s + 1 for n, k, s in
                                      zip(shape[1:], kernel, stride)))
        element = unsigned(index_width)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(element, math.prod(shape)))),
            "o": Out(stream.Signature(data.ArrayLayout(element, math.prod(self.out_shape)))),
        })

    def elaborate(self, platform):
        m = Module()
        enable = register_stage(m, self.i, self.o)

        in_strides = [math.prod(self.shape[d + 1:]) for d in range(len(self.shape))]
        out_grid = list(itertools.product(*(range(n) for n in self.out_shape)))
        for flat, (c, *position) in enumerate(out_grid):
            taps = []
            for offset in itertools.product(*(range(k) for k in self.kernel)):
                where = [p * s + t for p, s, t in zip(position, self.stride, offset)]
                taps.append(self.i.payload[sum(i * n for i, n in
                                               zip((c, *where), in_strides))])
            name = "_".join(str(v) for v in (c, *position))
            best = Signal(unsigned(self.index_width), name=f"max_{name}")
            m.d.comb += best.eq(_max_tree(taps))
            with m.If(enable):
                m.d.sync += self.o.payload[flat].eq(best)
        return m
