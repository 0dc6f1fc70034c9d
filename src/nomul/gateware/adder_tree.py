# SPDX-License-Identifier: MIT
"""Pipelined binary adder tree: a vector of bounded terms in, ``bias + sum(terms)`` out.

Built from a :class:`~nomul.design.trees.TreePlan`: every node exactly as wide as the proven
bounds of its subtree, so no node can overflow and none is wider than it needs to be.
"""

from amaranth.hdl import Module, Signal

from ..design.trees import TreePlan
from .pipeline import PlanComponent, reduce_trees, shape_of, tree_inputs

__all__ = ["AdderTree"]


class AdderTree(PlanComponent):
    """Pipelined binary adder tree with bound-sized nodes (see :class:`TreePlan`).

    Computes ``bias + sum(terms)`` exactly; integer addition is associative and no node can
    overflow, so the result equals Python's ``bias + sum(terms)`` for every input within the
    plan's ``term_bounds`` (the sum that :func:`nomul.models.reference.weighted` forms).
    ``latency`` = ``plan.latency`` (a register every ``register_every`` levels and at the
    root); ``ii`` = 1.

    Members
    -------
    i : ``In(stream.Signature(data.ArrayLayout(term_shape, n_terms)))``
        Term ``k`` in element ``k`` (element 0 in the least significant bits); ``term_shape``
        holds the union of the terms' bounds.
    o : ``Out(stream.Signature(out_shape))``, the smallest shape holding ``plan.out_bounds``.
    """

    plan_type = TreePlan

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        enable, nodes, valid = tree_inputs(self, m, plan.term_bounds, "term")
        if plan.bias_level == -1:                       # no free slot: add to term 0
            biased = Signal(shape_of(plan.level_bounds[0][0]), name="term_0_bias")
            m.d.comb += biased.eq(nodes[0] + plan.bias)
            nodes[0] = biased

        def register(value, name):
            reg = Signal(value.shape(), name=name, reset_less=True)
            with m.If(enable):
                m.d.sync += reg.eq(value)
            return reg

        def node(level, j):
            return Signal(shape_of(plan.level_bounds[level][j]), name=f"sum_l{level}_{j}")

        def combine(left, right, level, j, _):
            total = node(level, j)
            m.d.comb += total.eq(left + right)
            return total

        def carry(value, level, j, _):
            if level - 1 != plan.bias_level:            # odd last node passes through
                return value
            biased = node(level, j)                     # the free slot takes the bias
            m.d.comb += biased.eq(value + plan.bias)
            return biased

        (root,) = reduce_trees(
            [nodes], plan.depth, combine=combine, carry=carry,
            register=lambda value, level, j, _: register(value, f"sum_l{level}_{j}_q"),
            registered=plan.registered, after=valid.advance)
        if plan.depth == 0:                             # a single term: the output register
            root = register(root, "sum_l0_0_q")
            valid.advance()
        m.d.comb += self.o.payload.eq(root)
        return m
