# SPDX-License-Identifier: MIT
"""The input quantizer: a vector of raw sensor samples in, a vector of activation indices out."""

from amaranth.hdl import Array, Const, Module, Signal

from ..design.plans import QuantizerPlan
from .pipeline import PlanComponent, register_stage, shape_of

__all__ = ["InputQuantizer"]


class InputQuantizer(PlanComponent):
    """Raw integer samples to input activation indices, one whole vector per transfer, as its
    :class:`~nomul.design.plans.QuantizerPlan` says.

    ``identity``: ``index = raw - raw_min``; thresholds: ``index`` = the number of thresholds
    ``t`` with ``raw >= t`` (a sample equal to a threshold goes up), read from a constant table
    of every raw code (``style == "lookup"``) or counted from parallel comparisons
    (``"compare"``); shared thresholds or one set per sample element. Matches
    :func:`nomul.models.reference.quantize_input` (its tensor flattened in C order). Latency
    1, or 0 when the plan is not ``registered`` (the indices pass straight to the next stage's
    own input register, the handshake too); one vector per cycle (``ii = 1``) while
    ``o.ready`` is high.

    Ports
    -----
    i : In(stream.Signature(ArrayLayout(raw_shape, elements)))
    o : Out(stream.Signature(ArrayLayout(index_shape, elements)))
    """

    plan_type = QuantizerPlan

    def _index(self, n, raw):
        """The activation index of sample element ``n`` from its raw value."""
        plan = self.plan
        if plan.style == "identity":
            return raw - plan.raw_min
        if plan.style == "lookup":
            table = Array(Const(v, shape_of(plan.index)) for v in plan.lookup_table(n))
            return table[raw.as_unsigned()]
        return sum((raw >= t for t in plan.compared_thresholds(n)), plan.always_met(n))

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        if plan.registered:
            enable = register_stage(m, self.i, self.o)
        else:
            m.d.comb += [self.o.valid.eq(self.i.valid), self.i.ready.eq(self.o.ready)]
        for n in range(plan.elements):
            index = Signal(shape_of(plan.index), name=f"index_{n}")
            m.d.comb += index.eq(self._index(n, self.i.payload[n]))
            if not plan.registered:
                m.d.comb += self.o.payload[n].eq(index)
                continue
            with m.If(enable):
                m.d.sync += self.o.payload[n].eq(index)
        return m
