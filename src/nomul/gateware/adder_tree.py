# SPDX-License-Identifier: MIT
"""Pipelined binary adder tree: a vector of bounded terms in, ``bias + sum(terms)`` out.

Every node is exactly as wide as the proven bounds of its subtree (:class:`nomul.numeric.Bounds`),
so no node can overflow and none is wider than it needs to be.
"""

import math
import operator

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..numeric import Bounds, sum_bounds

__all__ = ["AdderTree"]


def _int(value, name):
    """A plain ``int`` from an int or numpy integer; TypeError naming ``name`` otherwise."""
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    return operator.index(value)


def _bounds(item, name):
    """A :class:`Bounds` from a Bounds or an ``(lo, hi)`` pair of integers."""
    if isinstance(item, Bounds):
        return item
    if isinstance(item, (str, bytes)) or not hasattr(item, "__len__") or len(item) != 2:
        raise TypeError(f"{name} must be a Bounds or an (lo, hi) pair, not {item!r}")
    lo, hi = _int(item[0], f"{name} lo"), _int(item[1], f"{name} hi")
    if lo > hi:
        raise ValueError(f"{name} is empty: lo {lo} > hi {hi}")
    return Bounds(lo, hi)


def _bounds_tuple(items, name):
    """A non-empty tuple of :class:`Bounds` from a sequence of Bounds or pairs."""
    if isinstance(items, (str, bytes, Bounds)) or not hasattr(items, "__iter__"):
        raise TypeError(f"{name} must be a sequence of (lo, hi) pairs, not {items!r}")
    result = tuple(_bounds(item, f"{name}[{k}]") for k, item in enumerate(items))
    if not result:
        raise ValueError(f"{name} must not be empty")
    return result


def _shape(bounds):
    """The smallest shape holding ``bounds``: signed when ``lo < 0``, else unsigned."""
    return signed(bounds.width) if bounds.signed else unsigned(bounds.width)


def _register_every(value):
    value = _int(value, "register_every")
    if value < 0:
        raise ValueError(f"register_every must be >= 0, not {value}")
    return value


def _latency(depth, register_every):
    """Registers in a tree of ``depth`` levels registered every ``register_every`` levels.

    One register after every ``register_every`` levels and always one at the output:
    ``max(1, ceil(depth / register_every))``, or 1 when ``register_every == 0``.
    """
    if register_every == 0:
        return 1
    return max(1, math.ceil(depth / register_every))


def _is_register_level(level, depth, register_every):
    """Whether a register follows tree level ``level`` (1-based; the last level always)."""
    return level == depth or (register_every > 0 and level % register_every == 0)


class AdderTree(wiring.Component):
    """Pipelined binary adder tree with bound-sized nodes.

    Computes ``bias + sum(terms)`` exactly; integer addition is associative and no node can
    overflow, so the result equals Python's ``bias + sum(terms)`` for every input within
    ``term_bounds`` (the sum that :func:`nomul.models.reference.weighted` forms).

    The leaves are the terms in order; adjacent nodes are paired level by level (an odd last
    node passes through), so the tree has ``depth = ceil(log2(n_terms))`` levels of two-input
    adders. A non-zero bias takes the first free slot: the odd last node of the lowest level
    with an odd node count gets ``+ bias`` instead of passing through; when there is none
    (``n_terms`` a power of two) the bias is added to term 0 before the first level (one more
    constant adder on that path, no extra level). The depth, and so the latency, therefore
    depends on the term count alone, which keeps parallel trees with different biases in
    lockstep. Each node's shape is the smallest one that holds the
    :class:`~nomul.numeric.Bounds` of its subtree (the leaves are narrowed to their own bounds
    first).

    Parameters
    ----------
    term_bounds : sequence of Bounds or (lo, hi) pairs
        The proven range of every term, one per term (at least one).
    bias : int
        A constant added to the sum (default 0).
    register_every : int
        A pipeline register follows every ``register_every`` tree levels; the output is always
        registered. ``0`` means only the output register.

    Attributes
    ----------
    term_bounds : tuple of Bounds
    term_shape : Shape
        The common element shape of the input vector: the smallest shape holding the union of
        all ``term_bounds`` (signed when any ``lo < 0``).
    out_bounds : Bounds
        ``sum_bounds(term_bounds, bias)``; the output shape is the smallest holding it.
    out_shape : Shape
    level_bounds : tuple of tuple of Bounds
        Bounds of every node, level 0 (the leaves; term 0 includes the bias when
        ``bias_level == -1``) to level ``depth`` (the root, equal to ``out_bounds``).
    depth : int
        ``ceil(log2(n_terms))``.
    bias_level : int or None
        Where the bias is added: ``None`` (bias 0), ``-1`` (to term 0) or the level whose odd
        last node takes it on the way to the next level.
    latency : int
        ``max(1, ceil(depth / register_every))``, or 1 when ``register_every == 0``: cycles
        from an input transfer to its result becoming valid without back-pressure.
    ii : int
        1: one input accepted per cycle while ``o.ready`` is high.

    Members
    -------
    i : ``In(stream.Signature(data.ArrayLayout(term_shape, n_terms)))``
        Term ``k`` in element ``k`` (element 0 in the least significant bits).
    o : ``Out(stream.Signature(out_shape))``
    """

    ii = 1

    def __init__(self, term_bounds, *, bias=0, register_every=1):
        self.term_bounds = _bounds_tuple(term_bounds, "term_bounds")
        self.bias = _int(bias, "bias")
        self.register_every = _register_every(register_every)

        self.term_shape = _shape(Bounds(min(b.lo for b in self.term_bounds),
                                        max(b.hi for b in self.term_bounds)))
        self.out_bounds = sum_bounds(self.term_bounds, self.bias)
        self.out_shape = _shape(self.out_bounds)

        # the bias takes the first free slot: the odd last node of the first level with an odd
        # node count (otherwise it would pass through unchanged); with none (a power-of-two
        # term count) it is added to term 0 before the first level. Either way the depth, and
        # so the latency, depends on the term count alone.
        counts = [len(self.term_bounds)]
        while counts[-1] > 1:
            counts.append((counts[-1] + 1) // 2)
        self.depth = len(counts) - 1
        self.bias_level = None
        if self.bias:
            odd = [level for level, count in enumerate(counts[:-1]) if count % 2]
            self.bias_level = odd[0] if odd else -1
        leaves = self.term_bounds
        if self.bias_level == -1:
            leaves = (leaves[0] + self.bias,) + leaves[1:]
        levels = [leaves]
        for level in range(self.depth):
            below = levels[-1]
            upper = [sum_bounds(below[j:j + 2]) for j in range(0, len(below), 2)]
            if level == self.bias_level:
                upper[-1] = upper[-1] + self.bias
            levels.append(tuple(upper))
        self.level_bounds = tuple(levels)
        self.latency = _latency(self.depth, self.register_every)

        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(self.term_shape, len(self.term_bounds)))),
            "o": Out(stream.Signature(self.out_shape)),
        })

    def elaborate(self, platform):
        m = Module()
        enable = Signal()
        m.d.comb += [enable.eq(~self.o.valid | self.o.ready), self.i.ready.eq(enable)]

        nodes = []
        for k, bounds in enumerate(self.term_bounds):
            leaf = Signal(_shape(bounds), name=f"term_{k}")
            m.d.comb += leaf.eq(self.i.payload[k])      # in bounds, so narrowing is exact
            nodes.append(leaf)
        if self.bias_level == -1:                       # no free slot: add to term 0
            biased = Signal(_shape(self.level_bounds[0][0]), name="term_0_bias")
            m.d.comb += biased.eq(nodes[0] + self.bias)
            nodes[0] = biased

        valid, stage = self.i.valid, 0

        def register(value, name):
            reg = Signal(value.shape(), name=name, reset_less=True)
            with m.If(enable):
                m.d.sync += reg.eq(value)
            return reg

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
                name, shape = f"sum_l{level}_{j // 2}", _shape(self.level_bounds[level][j // 2])
                if j + 1 < len(nodes):
                    node = Signal(shape, name=name)
                    m.d.comb += node.eq(nodes[j] + nodes[j + 1])
                elif level - 1 == self.bias_level:      # the free slot takes the bias
                    node = Signal(shape, name=name)
                    m.d.comb += node.eq(nodes[j] + self.bias)
                else:
                    node = nodes[j]                      # odd last node passes through
                upper.append(register(node, name + "_q") if registered else node)
            nodes = upper
            if registered:
                advance_valid()

        if self.depth == 0:                              # a single term: the output register
            nodes = [register(nodes[0], "sum_l0_0_q")]
            advance_valid()
        m.d.comb += self.o.payload.eq(nodes[0])
        return m
