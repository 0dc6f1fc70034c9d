# SPDX-License-Identifier: MIT
"""Unrolled layers: product lookups, adder trees and an activation, as one streaming block.

:class:`MacUnrolledLayer` computes every output of a dense or convolution layer in parallel, one
input tensor per clock, from an :class:`~nomul.design.plans.MacUnrolledPlan`: a
:class:`~nomul.gateware.tables.ProductLookup` forms every distinct (group, codeword) product
once, one :class:`~nomul.gateware.adder_tree.AdderTree` per output sums its products and bias
(the trees run in lockstep: same latency, same enable rule), and the activation turns the sums
into indices (:class:`~nomul.gateware.threshold.ThresholdBank`), a class
(:class:`~nomul.gateware.argmax.Argmax`) or passes them on (raw).
Matches :func:`nomul.models.reference.weighted` followed by the layer's activation.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring

from ..design.plans import MacUnrolledPlan
from ..design.trees import ArgmaxPlan, ThresholdPlan
from .adder_tree import AdderTree
from .argmax import Argmax
from .pipeline import PlanComponent
from .tables import ProductLookup
from .threshold import ThresholdBank

__all__ = ["MacUnrolledLayer"]


class MacUnrolledLayer(PlanComponent):
    """All outputs of a layer in parallel; ``latency`` = lookup + tree + activation; ii = 1."""

    plan_type = MacUnrolledPlan

    def __init__(self, plan):
        super().__init__(plan)
        self.lookup = ProductLookup(plan.lookup)
        self.trees = tuple(AdderTree(tree) for tree in plan.trees)
        if isinstance(plan.act, ThresholdPlan):
            self.activation = ThresholdBank(plan.act)
        elif isinstance(plan.act, ArgmaxPlan):
            self.activation = Argmax(plan.act)
        else:
            self.activation = None

    def elaborate(self, platform):
        m = Module()
        m.submodules.lookup = self.lookup
        wiring.connect(m, wiring.flipped(self.i), self.lookup.i)
        for n, tree in enumerate(self.trees):
            m.submodules[f"tree_{n}"] = tree
            m.d.comb += tree.i.valid.eq(self.lookup.o.valid)
            for slot, source in enumerate(self.plan.sources[n]):
                m.d.comb += tree.i.payload[slot].eq(self.lookup.o.payload[source])
        m.d.comb += self.lookup.o.ready.eq(self.trees[0].i.ready)    # lockstep: all equal
        if self.activation is not None:
            m.submodules.activation = self.activation
            sink = self.activation.i
        else:
            sink = self.o
        for n, tree in enumerate(self.trees):
            m.d.comb += [sink.payload[n].eq(tree.o.payload), tree.o.ready.eq(sink.ready)]
        m.d.comb += sink.valid.eq(self.trees[0].o.valid)
        if self.activation is not None:
            wiring.connect(m, self.activation.o, wiring.flipped(self.o))
        return m
