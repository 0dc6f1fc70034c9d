# SPDX-License-Identifier: MIT
"""Pipelined argmax: a vector of bounded values in, the index of the largest out.

Ties go to the lowest index, as in :func:`nomul.models.reference.argmax`.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..numeric import Bounds, index_width
from .adder_tree import _bounds_tuple, _is_register_level, _latency, _register_every, _shape

__all__ = ["Argmax", "compare_select"]


def compare_select(m, left, right, *, level, name):
    """One argmax tree node (combinational): the larger of two ``(bounds, value, index)`` nodes.

    Ties keep the left (lower-index) node. The left block is full (``2**(level-1)`` inputs), so
    the new index is the winner's index with one more bit, set when the right node wins.
    """
    (lb, lv, li), (rb, rv, ri) = left, right
    bounds = lb.union(rb)
    take_right = Signal(name=f"sel_{name}")
    value = Signal(_shape(bounds), name=f"max_{name}")
    index = Signal(level, name=f"idx_{name}")
    m.d.comb += [take_right.eq(rv > lv),                     # ties keep the lower index
                 value.eq(Mux(take_right, rv, lv)),
                 index.eq(Cat(Mux(take_right, ri, li), take_right))]
    return bounds, value, index


class Argmax(wiring.Component):
    """Index of the largest of n values, the lowest index on ties.

    Matches :func:`nomul.models.reference.argmax`. A binary tree of compare-select nodes: the
    values are paired left to right level by level (an odd last node passes through); a node
    takes its right child only when the right value is strictly greater, so ties keep the left
    (lower) index. A node over an aligned block of ``2**k`` inputs carries its value, in the
    smallest shape holding the union of its subtree's bounds, and its ``k``-bit index within
    the block, whose top bit is the node's own selection; the root's index is the answer.
    ``depth = ceil(log2(n))``.

    Parameters
    ----------
    bounds : sequence of Bounds or (lo, hi) pairs
        The proven range of every value, one per input (at least one).
    register_every : int
        A pipeline register follows every ``register_every`` tree levels; the output is always
        registered. ``0`` means only the output register.

    Attributes
    ----------
    bounds : tuple of Bounds
    in_shape : Shape
        The common element shape of the input vector: the smallest shape holding the union of
        all ``bounds`` (signed when any ``lo < 0``).
    out_shape : Shape
        ``unsigned(index_width(n))``.
    depth : int
    latency : int
        ``max(1, ceil(depth / register_every))``, or 1 when ``register_every == 0``: cycles
        from an input transfer to its result becoming valid without back-pressure.
    ii : int
        1: one vector accepted per cycle while ``o.ready`` is high.

    Members
    -------
    i : ``In(stream.Signature(data.ArrayLayout(in_shape, n)))``
        Value ``k`` in element ``k`` (element 0 in the least significant bits).
    o : ``Out(stream.Signature(out_shape))``
    """

    ii = 1

    def __init__(self, bounds, *, register_every=1):
        self.bounds = _bounds_tuple(bounds, "bounds")
        self.register_every = _register_every(register_every)
        self.in_shape = _shape(Bounds(min(b.lo for b in self.bounds),
                                      max(b.hi for b in self.bounds)))
        self.out_shape = unsigned(index_width(len(self.bounds)))
        self.depth = (len(self.bounds) - 1).bit_length()         # ceil(log2(n))
        self.latency = _latency(self.depth, self.register_every)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(self.in_shape, len(self.bounds)))),
            "o": Out(stream.Signature(self.out_shape)),
        })

    def elaborate(self, platform):
        m = Module()
        enable = Signal()
        m.d.comb += [enable.eq(~self.o.valid | self.o.ready), self.i.ready.eq(enable)]

        # a node: (bounds, value, index within its aligned block of 2**level inputs)
        nodes = []
        for k, b in enumerate(self.bounds):
            value = Signal(_shape(b), name=f"value_{k}")
            m.d.comb += value.eq(self.i.payload[k])       # in bounds, so narrowing is exact
            nodes.append((b, value, Signal(0, name=f"index_{k}")))

        valid, stage = self.i.valid, 0

        def register(node, name):
            b, value, index = node
            value_q = Signal(value.shape(), name=f"max_{name}_q", reset_less=True)
            index_q = Signal(len(index), name=f"idx_{name}_q", reset_less=True)
            with m.If(enable):
                m.d.sync += [value_q.eq(value), index_q.eq(index)]
            return b, value_q, index_q

        def advance_valid():
            nonlocal valid, stage
            stage += 1
            reg = self.o.valid if stage == self.latency else Signal(name=f"valid_{stage}")
            with m.If(enable):
                m.d.sync += reg.eq(valid)
            valid = reg

        for level in range(1, self.depth + 1):
            registered = _is_register_level(level, self.depth, self.register_every)
            upper = []
            for j in range(0, len(nodes), 2):
                name = f"l{level}_{j // 2}"
                if j + 1 < len(nodes):
                    node = compare_select(m, nodes[j], nodes[j + 1], level=level, name=name)
                else:                                            # odd last node: index bit 0
                    b, value, index = nodes[j]
                    node = (b, value, Cat(index, Const(0, 1)))
                upper.append(register(node, name) if registered else node)
            nodes = upper
            if registered:
                advance_valid()

        if self.depth == 0:                                      # one input: index 0
            nodes = [register(nodes[0], "l0_0")]
            advance_valid()
        m.d.comb += self.o.payload.eq(nodes[0][2])
        return m
