# SPDX-License-Identifier: MIT
"""Pipelined argmax: a vector of bounded values in, the index of the largest out.

Ties go to the lowest index, as in :func:`nomul.models.reference.argmax`.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal

from ..design.trees import ArgmaxPlan
from .order import greater
from .pipeline import PlanComponent, reduce_trees, shape_of, tree_inputs

__all__ = ["Argmax", "compare_select", "widen_index", "argmax_tree"]


def compare_select(m, left, right, *, level, name):
    """One argmax tree node (combinational): the larger of two ``(bounds, value, index)`` nodes.

    Ties keep the left (lower-index) node. The left block is full (``2**(level-1)`` inputs), so
    the new index is the winner's index with one more bit, set when the right node wins.
    """
    (lb, lv, li), (rb, rv, ri) = left, right
    bounds = lb.union(rb)
    take_right = Signal(name=f"sel_{name}")
    value = Signal(shape_of(bounds), name=f"max_{name}")
    index = Signal(level, name=f"idx_{name}")
    m.d.comb += [take_right.eq(greater(rv, lv)),             # ties keep the lower index
                 value.eq(Mux(take_right, rv, lv)),
                 index.eq(Cat(Mux(take_right, ri, li), take_right))]
    return bounds, value, index


def widen_index(node):
    """An odd last node passing up a level: its index gets a 0 bit on top."""
    bounds, value, index = node
    return bounds, value, Cat(index, Const(0, 1))


def argmax_tree(m, nodes, depth, *, enable, registered, after):
    """The compare-select tree over ``(bounds, value, index)`` leaves (:func:`reduce_trees`):
    registered where ``registered(level)`` (value and index, under ``enable``), ``after(level)``
    then. Returns the root node."""

    def register(node, level, j, _):
        bounds, value, index = node
        name = f"l{level}_{j}"
        value_q = Signal(value.shape(), name=f"max_{name}_q", reset_less=True)
        index_q = Signal(len(index), name=f"idx_{name}_q", reset_less=True)
        with m.If(enable):
            m.d.sync += [value_q.eq(value), index_q.eq(index)]
        return bounds, value_q, index_q

    (root,) = reduce_trees(
        [nodes], depth,
        combine=lambda a, b, level, j, _: compare_select(m, a, b, level=level,
                                                         name=f"l{level}_{j}"),
        carry=lambda node, level, j, _: widen_index(node), register=register,
        registered=registered, after=after)
    return root, register


class Argmax(PlanComponent):
    """Index of the largest of n values, the lowest index on ties (an :class:`ArgmaxPlan`).

    Matches :func:`nomul.models.reference.argmax`. A binary tree of compare-select nodes: a
    node takes its right child only when the right value is strictly greater, so ties keep the
    left (lower) index. A node over an aligned block of ``2**k`` inputs carries its value, in
    the smallest shape holding its subtree's bounds, and its ``k``-bit index within the block,
    whose top bit is the node's own selection; the root's index is the answer.
    ``latency`` = ``plan.latency``; ``ii`` = 1.

    Members
    -------
    i : ``In(stream.Signature(data.ArrayLayout(in_shape, n)))``
        Value ``k`` in element ``k``; ``in_shape`` holds the union of the values' bounds.
    o : ``Out(stream.Signature(unsigned(index_width(n))))``
    """

    plan_type = ArgmaxPlan

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        # a node: (bounds, value, index within its aligned block of 2**level inputs)
        enable, values, valid = tree_inputs(self, m, plan.bounds, "value")
        nodes = [(b, value, Signal(0, name=f"index_{k}"))
                 for k, (b, value) in enumerate(zip(plan.bounds, values, strict=True))]

        root, register = argmax_tree(m, nodes, plan.depth, enable=enable,
                                     registered=plan.registered, after=valid.advance)
        if plan.depth == 0:                                      # one input: index 0
            root = register(root, 0, 0, 0)
            valid.advance()
        m.d.comb += self.o.payload.eq(root[2])
        return m
