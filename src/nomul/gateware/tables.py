# SPDX-License-Identifier: MIT
"""Product tables: the lookups that replace every multiplication.

In an unrolled layer the weight indices are synthesis-time constants, so the contribution of
input group ``g`` to any output using codeword ``k`` is the constant column ``table[:, k]``
addressed by the group's input indices: a small constant function of a few index bits, i.e.
LUT logic rather than a memory. :class:`ProductLookup` computes every distinct
(group, codeword) contribution of a layer once (a :class:`~nomul.design.plans.LookupPlan`);
outputs sharing a pair share the lookup. The group address is the concatenation of the group's
index fields (:mod:`nomul.design.tables`).
"""

from amaranth.hdl import Array, Cat, Const, Module

from ..design.plans import LookupPlan
from .pipeline import PlanComponent, register_stage, shape_of

__all__ = ["ProductLookup"]


class ProductLookup(PlanComponent):
    """Every distinct (group, codeword) product of an unrolled layer (a :class:`LookupPlan`).

    ``i``: the layer's ``n_inputs`` indices; ``o``: one term per pair, the term of pair
    ``(g, k)`` being ``table[address of groups[g]][k]`` read from a constant column, or, in the
    multiplier baseline (``plan.weights``), the index of the group's single input times the
    constant ``weights[k]``. Matches the per-group products summed by
    :func:`nomul.models.reference.weighted`. Latency 1; one input per cycle.
    """

    plan_type = LookupPlan

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        enable = register_stage(m, self.i, self.o)
        if plan.multiplies:
            for position, (g, k) in enumerate(plan.pairs):
                index = self.i.payload[plan.groups[g][0]].as_unsigned()
                with m.If(enable):
                    m.d.sync += self.o.payload[position].eq(index * Const(plan.weights[k]))
            return m
        columns = plan.columns()
        term = shape_of(plan.term)
        for position, (g, k) in enumerate(plan.pairs):
            code = Cat(*(self.i.payload[e] for e in plan.groups[g]))
            column = Array(Const(value, term) for value in columns[k])
            with m.If(enable):
                m.d.sync += self.o.payload[position].eq(column[code])
        return m
