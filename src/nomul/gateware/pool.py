# SPDX-License-Identifier: MIT
"""Max-pooling over activation indices: a whole tensor in, the pooled tensor out."""

import itertools
import math

from amaranth.hdl import Module, Mux, Signal, unsigned

from ..design.kinds.maxpool import PoolPlan
from .order import at_least
from .pipeline import PlanComponent, reduce_trees, register_stage

__all__ = ["MaxPool"]


def _max_tree(values):
    """Balanced tree of unsigned maxima (combinational, :func:`reduce_trees`)."""
    (root,) = reduce_trees([values], (len(values) - 1).bit_length(),
                           combine=lambda a, b, *_: Mux(at_least(a, b), a, b),
                           carry=lambda node, *_: node, register=None,
                           registered=lambda level: False)
    return root


class MaxPool(PlanComponent):
    """Max of unsigned activation indices over each window (floor mode, no padding).

    One whole tensor ``(C, *spatial)`` (1-D or 2-D spatial) per transfer; a combinational
    comparator tree per output element and an output register. Matches
    :func:`nomul.models.reference.maxpool` (indices are monotone in value, so the max index is
    the index of the max value).

    Latency 1; one tensor per cycle (``ii = 1``) while ``o.ready`` is high.

    The :class:`~nomul.design.kinds.maxpool.PoolPlan` gives the input tensor ``shape``
    (``(C, L)`` or ``(C, H, W)``), the window ``kernel`` and ``stride`` and the index width; its
    ``out_shape`` is ``(C, *((size - kernel) // stride + 1))``. Both tensors travel in C order
    (element ``c*H*W + h*W + w``), element 0 in the least significant bits.
    """

    plan_type = PoolPlan

    def elaborate(self, platform):
        m = Module()
        enable = register_stage(m, self.i, self.o)

        in_strides = [math.prod(self.plan.shape[d + 1:]) for d in range(len(self.plan.shape))]
        out_grid = list(itertools.product(*(range(n) for n in self.plan.out_shape)))
        for flat, (c, *position) in enumerate(out_grid):
            taps = []
            for offset in itertools.product(*(range(k) for k in self.plan.kernel)):
                where = [p * s + t for p, s, t in zip(position, self.plan.stride, offset)]
                taps.append(self.i.payload[sum(i * n for i, n in
                                               zip((c, *where), in_strides))])
            name = "_".join(str(v) for v in (c, *position))
            best = Signal(unsigned(self.plan.index_width), name=f"max_{name}")
            m.d.comb += best.eq(_max_tree(taps))
            with m.If(enable):
                m.d.sync += self.o.payload[flat].eq(best)
        return m
